/* SPDX-License-Identifier: MIT */
/*
 * apps/loadgen.c - the bundled load generator for echo servers: T threads,
 * each with its own edge-triggered epoll set and a share of the
 * connections.  Plain gcc -pthread; it knows nothing of dtact.  Loopback
 * addresses only; every mode is bounded in time and stops by itself.
 *
 *   bench (default)   loadgen -p PORT [-H 127.0.0.1] -c CONNS -s SIZE
 *                             -d SECONDS [-w WARMUP_S] [-t THREADS] [--csv]
 *	Every connection does request/response ping-pong of SIZE bytes.
 *	Requests that complete inside the window (after the warm-up) count:
 *	requests/s, latency percentiles (log-bucket histogram, 32 linear
 *	sub-buckets per power of two, ns resolution: <= 3.2% error),
 *	"starved" connections (no request completed in the window), errors,
 *	and loadgen's own CPU use (getrusage over the window).
 *
 *   verify            loadgen -p PORT --verify -c CONNS -n ROUNDS
 *                             [--min-size 1] [--max-size 65536] [--seed N]
 *                             [--hold] [--hold-file PATH] [--hold-secs S]
 *	Opens ALL connections first and keeps them open; each then does one
 *	round trip (all of them: at that point CONNS connections are open and
 *	each has been answered), then the remaining ROUNDS-1.  Each payload
 *	has a random size in [min, max] and random content; every echoed
 *	byte is checked, and after the last round no byte more may arrive.
 *	A mismatch, short read, error, or no progress at all for
 *	--stall-secs (default 20): a description on stderr, exit status 1
 *	(after keeping every connection open --fail-hold seconds, default
 *	0, so that the server can be inspected in that state).
 *
 *   idle              loadgen -p PORT --idle -c CONNS --hold-secs S
 *	Opens CONNS connections, one 16-byte round trip on each, holds them
 *	all open for S seconds (memory-per-connection measurements).
 *
 * Hold (verify --hold, idle): after every connection is open and has done
 * one round trip, loadgen prints "holding: N connections open" on stdout
 * (flushed) and waits until the first of: --hold-secs elapsed (default 60
 * with --hold-file, else 5), the file --hold-file exists, SIGUSR1.
 *
 * Exit status: 0 success, 1 failure (connect, verify, bench errors),
 * 2 usage.
 *
 * Threads: the main thread connects, then watches (stall, hold, window);
 * the T event-loop threads own disjoint sets of connections, so struct
 * conn needs no lock.  Shared counters are atomics.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_SIZE	(64u << 20)	/* largest payload accepted */
#define POOL_SPAN	(1u << 20)	/* random payload offsets in the pool */
#define SCRATCH		(64u << 10)	/* per-thread receive buffer */
#define IDLE_SIZE	16u
#define CONNECT_TMO_MS	10000
#define MAX_EVENTS	256

enum mode { MODE_BENCH, MODE_VERIFY, MODE_IDLE };

static struct {
	enum mode mode;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	int port;
	int conns;
	int threads;
	uint32_t size;		/* bench */
	double secs, warmup;	/* bench */
	bool csv, csv_header;
	uint32_t rounds;	/* verify */
	uint32_t min_size, max_size;
	uint64_t seed;
	bool hold;
	const char *hold_file;
	double hold_secs;	/* < 0: not given */
	double stall_secs;
	double fail_hold;	/* verify: keep conns open after a failure */
} opt = {
	.conns = 100, .threads = 2, .size = 64, .secs = 5, .warmup = 1,
	.rounds = 10, .min_size = 1, .max_size = 65536, .seed = 1,
	.hold_secs = -1, .stall_secs = 20,
};

/* Histogram: values < 32 ns exactly; above, 32 linear sub-buckets per
 * power of two. */
#define SUB_BITS	5
#define SUB		(1u << SUB_BITS)
#define NBUCKETS	(SUB + (64 - SUB_BITS) * SUB)

struct hist {
	uint64_t n[NBUCKETS];
	uint64_t count, max;
};

struct conn {
	int fd;
	int idx;
	int thread;
	uint16_t lport;		/* local port, to find it in ss(8) */
	bool busy;		/* a round is in flight */
	bool dead;		/* failed (bench) */
	uint32_t round;		/* rounds completed */
	uint32_t target;	/* rounds to complete in this phase */
	uint32_t size, sent, rcvd;
	uint32_t off;		/* payload = pool[off, off + size) */
	uint64_t t0;		/* ns, when the round started */
	uint64_t in_window;	/* bench: completions inside the window */
	uint64_t rng;
};

struct thread {
	pthread_t tid;
	int id;
	int epfd;
	struct conn **c;	/* the connections it owns */
	int n;
	int pending;		/* conns that still owe rounds this phase */
	unsigned char *scratch;
	struct hist h;
	uint64_t errors;
};

static unsigned char *pool;	/* random bytes, max_size + POOL_SPAN */
static struct conn *conns;
static struct thread *threads;

static _Atomic uint64_t progress;	/* rounds completed, all threads */
static _Atomic int stop;		/* 1: leave the event loops */
static _Atomic int failed;		/* verify: a check failed */
static _Atomic int phase;		/* bumped by main to start a phase */
static _Atomic int phase_done;		/* threads done with this phase */
static _Atomic int hold_released;	/* SIGUSR1 */
static _Atomic uint64_t win_start, win_end;	/* bench, ns */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("loadgen: ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	exit(1);
}

/* Report a verify failure once; the other threads stop. */
static void fail(const char *fmt, ...)
{
	va_list ap;
	int exp = 0;

	if (!atomic_compare_exchange_strong(&failed, &exp, 1))
		return;
	va_start(ap, fmt);
	flockfile(stderr);
	fputs("loadgen: FAIL: ", stderr);
	vfprintf(stderr, fmt, ap);
	funlockfile(stderr);
	va_end(ap);
	atomic_store(&stop, 1);
}

static void hist_add(struct hist *h, uint64_t v)
{
	unsigned idx;

	if (v < SUB) {
		idx = (unsigned)v;
	} else {
		unsigned k = 63u - (unsigned)__builtin_clzll(v);

		idx = SUB + (k - SUB_BITS) * SUB +
		      (unsigned)((v >> (k - SUB_BITS)) - SUB);
	}
	h->n[idx]++;
	h->count++;
	if (v > h->max)
		h->max = v;
}

/* Middle of bucket idx, in ns. */
static uint64_t hist_value(unsigned idx)
{
	unsigned k, sub;
	uint64_t lo, width;

	if (idx < SUB)
		return idx;
	k = (idx - SUB) / SUB + SUB_BITS;
	sub = (idx - SUB) % SUB;
	width = 1ull << (k - SUB_BITS);
	lo = (uint64_t)(SUB + sub) * width;
	return lo + width / 2;
}

static uint64_t hist_pct(const struct hist *h, double p)
{
	uint64_t want, acc = 0;
	unsigned i;

	if (!h->count)
		return 0;
	want = (uint64_t)(p / 100.0 * (double)h->count + 0.999999);
	if (want < 1)
		want = 1;
	for (i = 0; i < NBUCKETS; i++) {
		acc += h->n[i];
		if (acc >= want) {
			uint64_t v = hist_value(i);

			return v > h->max ? h->max : v;
		}
	}
	return h->max;
}

static void fmt_ns(char *b, size_t n, uint64_t ns)
{
	if (ns < 1000)
		snprintf(b, n, "%" PRIu64 " ns", ns);
	else if (ns < 1000000)
		snprintf(b, n, "%.1f us", (double)ns / 1e3);
	else if (ns < 1000000000)
		snprintf(b, n, "%.2f ms", (double)ns / 1e6);
	else
		snprintf(b, n, "%.2f s", (double)ns / 1e9);
}

/* ---- rounds ------------------------------------------------------ */

/* Start the next round of c, if this phase wants one. */
static bool start_round(struct conn *c)
{
	if (atomic_load_explicit(&stop, memory_order_relaxed))
		return false;
	if (opt.mode == MODE_BENCH) {
		if (now_ns() >= atomic_load_explicit(&win_end,
						     memory_order_relaxed))
			return false;
		c->size = opt.size;
		c->off = 0;
	} else {
		uint64_t r;

		if (c->round >= c->target)
			return false;
		r = splitmix64(&c->rng);
		c->size = opt.min_size +
			  (uint32_t)(r % ((uint64_t)opt.max_size -
					  opt.min_size + 1));
		c->off = (uint32_t)((r >> 32) % POOL_SPAN);
	}
	c->sent = c->rcvd = 0;
	c->busy = true;
	c->t0 = now_ns();
	return true;
}

static void conn_dead(struct thread *t, struct conn *c, const char *what,
		      int err)
{
	if (opt.mode != MODE_BENCH) {
		fail("conn %d (local port %u) round %u of %u, size %u, "
		     "sent %u, received %u: %s%s%s\n", c->idx, c->lport,
		     c->round + 1, opt.rounds, c->size, c->sent, c->rcvd,
		     what, err ? ": " : "", err ? strerror(err) : "");
		return;
	}
	t->errors++;
	c->dead = true;
	c->busy = false;
	epoll_ctl(t->epfd, EPOLL_CTL_DEL, c->fd, NULL);
}

static void check_bytes(struct conn *c, const unsigned char *got, size_t n)
{
	const unsigned char *exp = pool + c->off + c->rcvd;
	size_t i, j;
	char eh[3 * 16 + 1], gh[3 * 16 + 1];

	if (!memcmp(got, exp, n))
		return;
	for (i = 0; got[i] == exp[i]; i++)
		;
	for (j = 0; j < 16 && i + j < n; j++) {
		sprintf(eh + 3 * j, " %02x", exp[i + j]);
		sprintf(gh + 3 * j, " %02x", got[i + j]);
	}
	eh[3 * j] = gh[3 * j] = 0;
	fail("conn %d (local port %u) round %u of %u, size %u: byte %zu "
	     "of the echo differs\n  expected%s\n  got     %s\n",
	     c->idx, c->lport, c->round + 1, opt.rounds, c->size,
	     c->rcvd + i, eh, gh);
}

static void round_done(struct thread *t, struct conn *c)
{
	uint64_t t1 = now_ns();

	c->busy = false;
	c->round++;
	atomic_fetch_add_explicit(&progress, 1, memory_order_relaxed);
	if (opt.mode == MODE_BENCH) {
		if (t1 >= atomic_load_explicit(&win_start,
					       memory_order_relaxed) &&
		    t1 < atomic_load_explicit(&win_end,
					      memory_order_relaxed)) {
			hist_add(&t->h, t1 - c->t0);
			c->in_window++;
		}
	} else if (c->round == c->target) {
		t->pending--;
	}
}

/*
 * Move c forward until both directions it needs would block (edge-
 * triggered: an edge will come) or it has nothing more to do.
 */
static void conn_run(struct thread *t, struct conn *c)
{
	if (c->dead)
		return;
	if (!c->busy && !start_round(c))
		return;
	for (;;) {
		bool wblock = true, rblock = true;
		ssize_t n;

		if (c->sent < c->size) {
			n = send(c->fd, pool + c->off + c->sent,
				 c->size - c->sent, MSG_DONTWAIT | MSG_NOSIGNAL);
			if (n > 0) {
				c->sent += (uint32_t)n;
				wblock = false;
			} else if (n < 0 && errno == EINTR) {
				wblock = false;
			} else if (n < 0 && errno != EAGAIN) {
				conn_dead(t, c, "send", errno);
				return;
			}
		}
		if (c->rcvd < c->size) {
			size_t want = c->size - c->rcvd;

			if (want > SCRATCH)
				want = SCRATCH;
			n = recv(c->fd, t->scratch, want, MSG_DONTWAIT);
			if (n > 0) {
				if (opt.mode != MODE_BENCH) {
					check_bytes(c, t->scratch, (size_t)n);
					if (atomic_load(&failed))
						return;
				}
				c->rcvd += (uint32_t)n;
				rblock = false;
			} else if (n == 0) {
				conn_dead(t, c, "connection closed by the "
					  "server (short read)", 0);
				return;
			} else if (errno == EINTR) {
				rblock = false;
			} else if (errno != EAGAIN) {
				conn_dead(t, c, "recv", errno);
				return;
			}
		}
		if (c->rcvd == c->size) {
			round_done(t, c);
			if (!start_round(c))
				return;
			continue;
		}
		if (wblock && rblock)
			return;
	}
}

/* Verify: after the last round nothing more may arrive. */
static void check_no_extra(struct thread *t, struct conn *c)
{
	ssize_t n = recv(c->fd, t->scratch, SCRATCH, MSG_DONTWAIT);

	if (n > 0)
		fail("conn %d (local port %u): %zd unexpected byte(s) after "
		     "the last round\n", c->idx, c->lport, n);
	else if (n == 0)
		fail("conn %d (local port %u): closed by the server after "
		     "the last round\n", c->idx, c->lport);
	else if (errno != EAGAIN)
		fail("conn %d (local port %u): recv after the last round: "
		     "%s\n", c->idx, c->lport, strerror(errno));
}

/* Run the event loop until this phase is done (or stop). */
static void loop(struct thread *t)
{
	struct epoll_event ev[MAX_EVENTS];

	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		int i, n;

		if (opt.mode != MODE_BENCH && t->pending == 0)
			return;
		if (opt.mode == MODE_BENCH &&
		    now_ns() >= atomic_load(&win_end))
			return;
		n = epoll_wait(t->epfd, ev, MAX_EVENTS, 100);
		if (n < 0 && errno != EINTR) {
			fail("epoll_wait: %s\n", strerror(errno));
			t->errors++;
			return;
		}
		for (i = 0; i < n; i++) {
			struct conn *c = ev[i].data.ptr;

			conn_run(t, c);
			if (atomic_load_explicit(&failed,
						 memory_order_relaxed))
				return;
		}
	}
}

static void *thread_main(void *arg)
{
	struct thread *t = arg;
	int seen = 0, i;

	for (;;) {
		int ph;

		/* Wait for main to open the next phase (poll: phases are
		 * few and the wait is short). */
		while ((ph = atomic_load(&phase)) == seen &&
		       !atomic_load(&stop))
			usleep(1000);
		if (atomic_load(&stop) || ph < 0)
			break;
		seen = ph;
		t->pending = 0;
		for (i = 0; i < t->n; i++) {
			struct conn *c = t->c[i];

			c->target = opt.mode == MODE_VERIFY && ph == 1 ?
				    1 : opt.rounds;
			if (opt.mode != MODE_BENCH && c->round < c->target)
				t->pending++;
		}
		for (i = 0; i < t->n && !atomic_load(&failed); i++)
			conn_run(t, t->c[i]);
		loop(t);
		atomic_fetch_add(&phase_done, 1);
	}
	return NULL;
}

/* ---- setup ------------------------------------------------------- */

static int open_conn(struct conn *c)
{
	struct sockaddr_storage la;
	socklen_t ll = sizeof(la);
	int one = 1, err = 0, fd, r;
	socklen_t el = sizeof(err);
	struct pollfd p;

	fd = socket(opt.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	r = connect(fd, (struct sockaddr *)&opt.addr, opt.addrlen);
	if (r && errno != EINPROGRESS) {
		err = errno;
		goto out_close;
	}
	if (r) {
		p = (struct pollfd){ .fd = fd, .events = POLLOUT };
		do
			r = poll(&p, 1, CONNECT_TMO_MS);
		while (r < 0 && errno == EINTR);
		if (r == 0) {
			err = ETIMEDOUT;
			goto out_close;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
			err = errno;
		if (err)
			goto out_close;
	}
	getsockname(fd, (struct sockaddr *)&la, &ll);
	c->lport = ntohs(la.ss_family == AF_INET ?
			 ((struct sockaddr_in *)&la)->sin_port :
			 ((struct sockaddr_in6 *)&la)->sin6_port);
	c->fd = fd;
	return 0;
out_close:
	close(fd);
	return -err;
}

static void parse_host(const char *h)
{
	struct sockaddr_in *a4 = (struct sockaddr_in *)&opt.addr;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&opt.addr;

	memset(&opt.addr, 0, sizeof(opt.addr));
	if (!strcmp(h, "localhost"))
		h = "127.0.0.1";
	if (inet_pton(AF_INET, h, &a4->sin_addr) == 1) {
		if ((ntohl(a4->sin_addr.s_addr) >> 24) != 127)
			goto not_loopback;
		a4->sin_family = AF_INET;
		opt.addrlen = sizeof(*a4);
		return;
	}
	if (inet_pton(AF_INET6, h, &a6->sin6_addr) == 1) {
		if (!IN6_IS_ADDR_LOOPBACK(&a6->sin6_addr))
			goto not_loopback;
		a6->sin6_family = AF_INET6;
		opt.addrlen = sizeof(*a6);
		return;
	}
	fprintf(stderr, "loadgen: bad address '%s'\n", h);
	exit(2);
not_loopback:
	fprintf(stderr, "loadgen: %s is not a loopback address (loadgen "
		"only talks to this machine)\n", h);
	exit(2);
}

static void set_port(int port)
{
	if (opt.addr.ss_family == AF_INET)
		((struct sockaddr_in *)&opt.addr)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)&opt.addr)->sin6_port = htons(port);
}

static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static void on_usr1(int sig)
{
	(void)sig;
	atomic_store(&hold_released, 1);
}

static void usage(FILE *f)
{
	fputs(
"usage: loadgen -p PORT [-H ADDR] [mode] [options]\n"
"  bench (default): -c CONNS -s SIZE -d SECONDS [-w WARMUP_S] [-t THREADS]\n"
"                   [--csv] [--csv-header]\n"
"  --verify:        -c CONNS -n ROUNDS [--min-size N] [--max-size N]\n"
"                   [--seed N] [--hold] [--hold-file PATH] [--hold-secs S]\n"
"                   [--stall-secs S] [--fail-hold S]\n"
"  --idle:          -c CONNS --hold-secs S [--hold-file PATH]\n"
"ADDR must be a loopback address (default 127.0.0.1).  --csv prints one line:\n"
"  conns,size,threads,seconds,requests,rps,p50_ns,p99_ns,p999_ns,max_ns,\n"
"  starved,errors,cpu_pct\n", f);
}

static double num(const char *name, const char *s, double lo, double hi)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || v < lo || v > hi) {
		fprintf(stderr, "loadgen: bad %s '%s' (%g..%g)\n", name, s,
			lo, hi);
		exit(2);
	}
	return v;
}

enum {
	O_CSV = 256, O_CSV_HEADER, O_VERIFY, O_IDLE, O_MIN, O_MAX, O_SEED,
	O_HOLD, O_HOLD_FILE, O_HOLD_SECS, O_STALL, O_FAIL_HOLD,
};

static void parse(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "port", 1, NULL, 'p' }, { "host", 1, NULL, 'H' },
		{ "conns", 1, NULL, 'c' }, { "size", 1, NULL, 's' },
		{ "duration", 1, NULL, 'd' }, { "warmup", 1, NULL, 'w' },
		{ "threads", 1, NULL, 't' }, { "rounds", 1, NULL, 'n' },
		{ "csv", 0, NULL, O_CSV }, { "csv-header", 0, NULL, O_CSV_HEADER },
		{ "verify", 0, NULL, O_VERIFY }, { "idle", 0, NULL, O_IDLE },
		{ "min-size", 1, NULL, O_MIN }, { "max-size", 1, NULL, O_MAX },
		{ "seed", 1, NULL, O_SEED }, { "hold", 0, NULL, O_HOLD },
		{ "hold-file", 1, NULL, O_HOLD_FILE },
		{ "hold-secs", 1, NULL, O_HOLD_SECS },
		{ "stall-secs", 1, NULL, O_STALL },
		{ "fail-hold", 1, NULL, O_FAIL_HOLD },
		{ "help", 0, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	const char *host = "127.0.0.1";
	int ch;

	opt.port = -1;
	while ((ch = getopt_long(argc, argv, "p:H:c:s:d:w:t:n:h", lo,
				 NULL)) != -1) {
		switch (ch) {
		case 'p': opt.port = (int)num("port", optarg, 1, 65535); break;
		case 'H': host = optarg; break;
		case 'c': opt.conns = (int)num("conns", optarg, 1, 1 << 20); break;
		case 's': opt.size = (uint32_t)num("size", optarg, 1, MAX_SIZE); break;
		case 'd': opt.secs = num("seconds", optarg, 0.01, 3600); break;
		case 'w': opt.warmup = num("warm-up", optarg, 0, 3600); break;
		case 't': opt.threads = (int)num("threads", optarg, 1, 256); break;
		case 'n': opt.rounds = (uint32_t)num("rounds", optarg, 1, 1e9); break;
		case O_CSV: opt.csv = true; break;
		case O_CSV_HEADER: opt.csv_header = true; break;
		case O_VERIFY: opt.mode = MODE_VERIFY; break;
		case O_IDLE: opt.mode = MODE_IDLE; break;
		case O_MIN: opt.min_size = (uint32_t)num("min-size", optarg, 1, MAX_SIZE); break;
		case O_MAX: opt.max_size = (uint32_t)num("max-size", optarg, 1, MAX_SIZE); break;
		case O_SEED: opt.seed = (uint64_t)num("seed", optarg, 0, 1e18); break;
		case O_HOLD: opt.hold = true; break;
		case O_HOLD_FILE: opt.hold_file = optarg; opt.hold = true; break;
		case O_HOLD_SECS: opt.hold_secs = num("hold-secs", optarg, 0, 86400); break;
		case O_STALL: opt.stall_secs = num("stall-secs", optarg, 0.1, 86400); break;
		case O_FAIL_HOLD: opt.fail_hold = num("fail-hold", optarg, 0, 3600); break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); exit(2);
		}
	}
	if (optind != argc || opt.port < 0) {
		usage(stderr);
		exit(2);
	}
	if (opt.min_size > opt.max_size) {
		fprintf(stderr, "loadgen: --min-size > --max-size\n");
		exit(2);
	}
	parse_host(host);
	set_port(opt.port);
	if (opt.mode == MODE_IDLE) {
		opt.rounds = 1;
		opt.min_size = opt.max_size = IDLE_SIZE;
		opt.hold = true;
	}
	if (opt.mode == MODE_VERIFY && opt.hold_secs >= 0)
		opt.hold = true;
	if (opt.hold_secs < 0)
		opt.hold_secs = opt.hold_file ? 60 : 5;
	if (opt.threads > opt.conns)
		opt.threads = opt.conns;
}

/*
 * Wait until all threads have finished the current phase, or a failure
 * stopped everything (a thread may then leave without finishing the
 * phase).  Verify: when nothing progresses for stall_secs, fail; the
 * stuck connections are described once the threads are joined.
 */
static bool stalled;

static void watch_phase(void)
{
	uint64_t last = atomic_load(&progress), t_last = now_ns();

	while (atomic_load(&phase_done) < opt.threads &&
	       !atomic_load(&stop)) {
		uint64_t p = atomic_load(&progress), t = now_ns();

		if (p != last) {
			last = p;
			t_last = t;
		} else if (opt.mode != MODE_BENCH &&
			   t - t_last > (uint64_t)(opt.stall_secs * 1e9)) {
			stalled = true;
			fail("no round trip completed for %.1f s\n",
			     opt.stall_secs);
		}
		usleep(20000);
	}
}

/* After the threads are joined. */
static void describe_stall(void)
{
	int i, shown = 0, stuck = 0;

	for (i = 0; i < opt.conns; i++)
		stuck += conns[i].round < conns[i].target;
	fprintf(stderr, "loadgen: %d connection(s) stuck, e.g.:\n", stuck);
	for (i = 0; i < opt.conns && shown < 10; i++) {
		struct conn *c = &conns[i];

		if (c->round >= c->target)
			continue;
		fprintf(stderr, "  conn %d local port %u: round %u, size %u, "
			"sent %u, received %u\n", c->idx, c->lport,
			c->round + 1, c->size, c->sent, c->rcvd);
		shown++;
	}
}

static void do_hold(void)
{
	uint64_t end = now_ns() + (uint64_t)(opt.hold_secs * 1e9);
	struct stat st;

	printf("holding: %d connections open\n", opt.conns);
	fflush(stdout);
	while (now_ns() < end && !atomic_load(&hold_released) &&
	       !(opt.hold_file && !stat(opt.hold_file, &st)))
		usleep(10000);
}

static double tv_s(struct timeval tv)
{
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

static double cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return tv_s(ru.ru_utime) + tv_s(ru.ru_stime);
}

static void start_phase(int ph)
{
	atomic_store(&phase_done, 0);
	atomic_store(&phase, ph);
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_usr1 };
	uint64_t t_begin, t_w0, t_w1, s;
	double cpu0, cpu1;
	struct hist *h;
	int i, r;

	parse(argc, argv);
	signal(SIGPIPE, SIG_IGN);
	sigaction(SIGUSR1, &sa, NULL);
	raise_nofile();

	pool = malloc((size_t)(opt.mode == MODE_BENCH ? opt.size :
			       opt.max_size) + POOL_SPAN);
	conns = calloc((size_t)opt.conns, sizeof(*conns));
	threads = calloc((size_t)opt.threads, sizeof(*threads));
	h = calloc(1, sizeof(*h));
	if (!pool || !conns || !threads || !h)
		die("out of memory\n");
	s = opt.seed;
	for (size_t k = 0; k < (size_t)(opt.mode == MODE_BENCH ? opt.size :
			opt.max_size) + POOL_SPAN; k += 8) {
		uint64_t v = splitmix64(&s);

		memcpy(pool + k, &v, 8);	/* POOL_SPAN % 8 == 0 */
	}

	/* Every connection first, all kept open. */
	t_begin = now_ns();
	for (i = 0; i < opt.conns; i++) {
		struct conn *c = &conns[i];

		c->idx = i;
		c->thread = i % opt.threads;
		c->rng = opt.seed * 0x100000001b3ull + (uint64_t)i;
		splitmix64(&c->rng);
		r = open_conn(c);
		if (r)
			die("connect #%d of %d to port %d: %s\n", i + 1,
			    opt.conns, opt.port, strerror(-r));
	}
	for (i = 0; i < opt.threads; i++) {
		struct thread *t = &threads[i];

		t->id = i;
		t->epfd = epoll_create1(EPOLL_CLOEXEC);
		t->c = calloc((size_t)opt.conns / opt.threads + 1,
			      sizeof(*t->c));
		t->scratch = malloc(SCRATCH);
		if (t->epfd < 0 || !t->c || !t->scratch)
			die("thread setup: %s\n", strerror(errno));
	}
	for (i = 0; i < opt.conns; i++) {
		struct conn *c = &conns[i];
		struct thread *t = &threads[c->thread];
		struct epoll_event ev = {
			.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
			.data.ptr = c,
		};

		t->c[t->n++] = c;
		if (epoll_ctl(t->epfd, EPOLL_CTL_ADD, c->fd, &ev))
			die("epoll_ctl: %s\n", strerror(errno));
	}
	if (opt.mode == MODE_BENCH) {
		uint64_t t0 = now_ns();

		atomic_store(&win_start, t0 + (uint64_t)(opt.warmup * 1e9));
		atomic_store(&win_end, t0 + (uint64_t)((opt.warmup +
							 opt.secs) * 1e9));
	}
	for (i = 0; i < opt.threads; i++)
		if ((r = pthread_create(&threads[i].tid, NULL, thread_main,
					&threads[i])))
			die("pthread_create: %s\n", strerror(r));

	cpu0 = cpu_s();
	t_w0 = now_ns();
	if (opt.mode == MODE_BENCH) {
		uint64_t ws = atomic_load(&win_start), now;

		start_phase(1);
		while ((now = now_ns()) < ws)
			usleep((useconds_t)((ws - now) / 1000 + 1));
		cpu0 = cpu_s();
		t_w0 = now_ns();
		watch_phase();
		cpu1 = cpu_s();
		t_w1 = now_ns();
	} else {
		/* Phase 1: one round trip on every connection. */
		start_phase(1);
		watch_phase();
		if (!atomic_load(&failed) && opt.hold)
			do_hold();
		if (!atomic_load(&failed) && opt.rounds > 1) {
			start_phase(2);
			watch_phase();
		}
		cpu1 = cpu_s();
		t_w1 = now_ns();
		for (i = 0; i < opt.conns && !atomic_load(&failed); i++)
			check_no_extra(&threads[conns[i].thread], &conns[i]);
	}
	atomic_store(&phase, -1);
	atomic_store(&stop, 1);
	for (i = 0; i < opt.threads; i++)
		pthread_join(threads[i].tid, NULL);
	if (stalled)
		describe_stall();
	if (atomic_load(&failed) && opt.fail_hold > 0) {
		fprintf(stderr, "loadgen: keeping the connections open for "
			"%.1f s for inspection\n", opt.fail_hold);
		usleep((useconds_t)(opt.fail_hold * 1e6));
	}
	for (i = 0; i < opt.conns; i++)
		close(conns[i].fd);

	if (opt.mode != MODE_BENCH) {
		uint64_t bytes = 0;

		if (atomic_load(&failed))
			return 1;
		/* Sizes come from each connection's stream: replay them. */
		for (i = 0; i < opt.conns; i++) {
			uint64_t rs = opt.seed * 0x100000001b3ull + (uint64_t)i;
			uint32_t k;

			splitmix64(&rs);
			for (k = 0; k < opt.rounds; k++)
				bytes += opt.min_size + (splitmix64(&rs) %
					 ((uint64_t)opt.max_size -
					  opt.min_size + 1));
		}
		printf("%s ok: %d connections open at once, %u round trips "
		       "each, %" PRIu64 " bytes echoed and verified, %.2f s, "
		       "loadgen cpu %.0f%%\n",
		       opt.mode == MODE_IDLE ? "idle" : "verify", opt.conns,
		       opt.rounds, bytes, (double)(t_w1 - t_begin) / 1e9,
		       100.0 * (cpu1 - cpu0) / ((double)(t_w1 - t_w0) / 1e9));
		return 0;
	}

	{
		uint64_t errors = 0, starved = 0;
		double win = (double)(t_w1 - t_w0) / 1e9, rps, cpu;
		char p50[32], p99[32], p999[32], mx[32];

		for (i = 0; i < opt.threads; i++) {
			struct thread *t = &threads[i];
			unsigned b;

			for (b = 0; b < NBUCKETS; b++)
				h->n[b] += t->h.n[b];
			h->count += t->h.count;
			if (t->h.max > h->max)
				h->max = t->h.max;
			errors += t->errors;
		}
		for (i = 0; i < opt.conns; i++)
			starved += conns[i].in_window == 0;
		rps = (double)h->count / win;
		cpu = 100.0 * (cpu1 - cpu0) / win;
		if (opt.csv_header)
			printf("conns,size,threads,seconds,requests,rps,p50_ns,"
			       "p99_ns,p999_ns,max_ns,starved,errors,cpu_pct\n");
		if (opt.csv) {
			printf("%d,%u,%d,%.3f,%" PRIu64 ",%.0f,%" PRIu64 ",%"
			       PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%"
			       PRIu64 ",%.1f\n", opt.conns, opt.size,
			       opt.threads, win, h->count, rps,
			       hist_pct(h, 50), hist_pct(h, 99),
			       hist_pct(h, 99.9), h->max, starved, errors, cpu);
		} else {
			fmt_ns(p50, sizeof(p50), hist_pct(h, 50));
			fmt_ns(p99, sizeof(p99), hist_pct(h, 99));
			fmt_ns(p999, sizeof(p999), hist_pct(h, 99.9));
			fmt_ns(mx, sizeof(mx), h->max);
			printf("loadgen: %d connections x %u B, %d threads, "
			       "window %.2f s after %.2f s warm-up\n",
			       opt.conns, opt.size, opt.threads, win,
			       opt.warmup);
			printf("  requests/s  %.0f  (%" PRIu64 " requests)\n",
			       rps, h->count);
			printf("  latency     p50 %s  p99 %s  p99.9 %s  max %s\n",
			       p50, p99, p999, mx);
			printf("  starved     %" PRIu64 " of %d connections\n",
			       starved, opt.conns);
			printf("  errors      %" PRIu64 "\n", errors);
			printf("  loadgen cpu %.0f%% of one core\n", cpu);
		}
		return errors ? 1 : 0;
	}
}
