/* SPDX-License-Identifier: MIT */
/*
 * tests/apps/semantics.c - the semantics table: an ordinary pthread
 * program (no dtact header) that runs named scenarios over the calls the
 * shim interposes and prints one deterministic line per scenario:
 *
 *	name: ret=.. errno=.. data=..
 *
 * Never a timing: where time matters a boolean is printed ("waited:1"
 * means the call took at least what it had to).  tests/shim_semantics.sh
 * runs it natively and under the shim and diffs the outputs: every
 * difference is a place where the shim does not behave as glibc.
 *
 * Usage: semantics                 every table scenario, in order
 *        semantics NAME...         only those
 *        semantics --list          the names
 *        semantics --mode MODE     one process-level scenario (mainexit,
 *                                  threadexit, sigpipe_default, closewait,
 *                                  hello, threads N)
 *
 * errno is set to 777 before every call, so a successful call that
 * clobbers errno shows up as a difference ("errno=777" is "untouched").
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stddef.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define CANARY 777
#define MS 1000000LL

/* ---------------------------------------------------------------- */
/* helpers                                                           */

static const char *E(int e)
{
	static __thread char buf[8][16];
	static __thread int k;
	const char *n;

	if (e == CANARY)
		return "untouched";
	if (e == 0)
		return "0";
	n = strerrorname_np(e);
	if (n)
		return n;
	k = (k + 1) % 8;
	snprintf(buf[k], sizeof(buf[k]), "%d", e);
	return buf[k];
}

/* "ret:errno" of one call, errno primed with the canary first (one
 * sequenced expression, so it can sit in an argument list). */
static const char *ce_fmt(long r, int e)
{
	static __thread char buf[8][40];
	static __thread int k;

	k = (k + 1) % 8;
	snprintf(buf[k], sizeof(buf[k]), "%ld:%s", r, E(e));
	return buf[k];
}
#define CE(expr) ({ long r_; errno = CANARY; r_ = (long)(expr); \
		    ce_fmt(r_, errno); })

/* name: ret=R errno=E data=... */
static void report(const char *name, long ret, int err, const char *fmt, ...)
{
	char data[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(data, sizeof(data), fmt, ap);
	va_end(ap);
	printf("%s: ret=%ld errno=%s data=%s\n", name, ret, E(err), data);
	fflush(stdout);
}

/* pthread style: the error number is the return value. */
static void report_rc(const char *name, int rc, const char *fmt, ...)
{
	char data[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(data, sizeof(data), fmt, ap);
	va_end(ap);
	printf("%s: ret=%s errno=- data=%s\n", name, E(rc), data);
	fflush(stdout);
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t clk_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t dt_ts(const struct timespec *ts)
{
	return (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec;
}

static struct timespec ts_of(int64_t ns)
{
	struct timespec ts = { ns / 1000000000, ns % 1000000000 };

	return ts;
}

/* Absolute deadline ms from now on clock c. */
static struct timespec abs_in(clockid_t c, int ms)
{
	return ts_of(clk_ns(c) + ms * MS);
}

static void msleep(int ms)
{
	struct timespec ts = ts_of(ms * MS);

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* waited at least ms since t0 */
static int waited(int64_t t0, int ms)
{
	return now_ns() - t0 >= ms * MS;
}

/* Run fn(arg) on a new thread after ms. */
struct later {
	int ms;
	void (*fn)(void *);
	void *arg;
};

static void *later_main(void *p)
{
	struct later *l = p;

	if (l->ms)
		msleep(l->ms);
	l->fn(l->arg);
	free(l);
	return NULL;
}

static pthread_t later(int ms, void (*fn)(void *), void *arg)
{
	struct later *l = malloc(sizeof(*l));
	pthread_t t;

	l->ms = ms;
	l->fn = fn;
	l->arg = arg;
	if (pthread_create(&t, NULL, later_main, l)) {
		perror("pthread_create");
		exit(1);
	}
	return t;
}

static pthread_t spawn(void *(*fn)(void *), void *arg)
{
	pthread_t t;

	if (pthread_create(&t, NULL, fn, arg)) {
		perror("pthread_create");
		exit(1);
	}
	return t;
}

static void join(pthread_t t)
{
	pthread_join(t, NULL);
}

/* fd + bytes to write later */
struct wr {
	int fd;
	const char *s;
};

static void do_write(void *p)
{
	struct wr *w = p;

	if (write(w->fd, w->s, strlen(w->s)) < 0)
		perror("do_write");
}

static void do_close(void *p)
{
	close((int)(intptr_t)p);
}

static void do_shutdown(void *p)
{
	shutdown((int)(intptr_t)p, SHUT_RDWR);
}

static void do_sem_post(void *p)
{
	sem_post(p);
}

static int tcp_listener(int *port, int backlog, int flags)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t l = sizeof(a);
	int one = 1, s = socket(AF_INET, SOCK_STREAM | flags, 0);

	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(s, (struct sockaddr *)&a, sizeof(a)) || listen(s, backlog)) {
		perror("listener");
		exit(1);
	}
	getsockname(s, (struct sockaddr *)&a, &l);
	*port = ntohs(a.sin_port);
	return s;
}

static struct sockaddr_in lo_addr(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons(port) };

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return a;
}

static int tcp_connect(int port)
{
	struct sockaddr_in a = lo_addr(port);
	int s = socket(AF_INET, SOCK_STREAM, 0);

	if (connect(s, (struct sockaddr *)&a, sizeof(a))) {
		perror("connect");
		exit(1);
	}
	return s;
}

static void tcp_pair(int *c, int *s)
{
	int port, l = tcp_listener(&port, 8, 0);

	*c = tcp_connect(port);
	*s = accept(l, NULL, NULL);
	close(l);
}

/* A port nobody listens on. */
static int closed_port(void)
{
	int port, l = tcp_listener(&port, 1, 0);

	close(l);
	return port;
}

static void sp(int type, int v[2])
{
	if (socketpair(AF_UNIX, type, 0, v)) {
		perror("socketpair");
		exit(1);
	}
}

static void pp(int v[2])
{
	if (pipe(v)) {
		perror("pipe");
		exit(1);
	}
}

static void close2(int v[2])
{
	close(v[0]);
	close(v[1]);
}

/* Fill a socket's send path with MSG_DONTWAIT until EAGAIN. */
static long fill_sock(int fd)
{
	static char junk[65536];
	long n = 0, r;

	while ((r = send(fd, junk, sizeof(junk), MSG_DONTWAIT)) > 0)
		n += r;
	while ((r = send(fd, junk, 1, MSG_DONTWAIT)) > 0)
		n += r;
	return n;
}

/* Fill a pipe (O_NONBLOCK briefly on our own pipe). */
static long fill_pipe(int fd)
{
	static char junk[65536];
	long n = 0, r;
	int fl = fcntl(fd, F_GETFL);

	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	while ((r = write(fd, junk, sizeof(junk))) > 0)
		n += r;
	while ((r = write(fd, junk, 1)) > 0)
		n += r;
	fcntl(fd, F_SETFL, fl);
	return n;
}

static _Atomic int n_pipe, n_alrm, n_usr1;

static void on_pipe(int s)
{
	(void)s;
	n_pipe++;
}

static void on_alrm(int s)
{
	(void)s;
	n_alrm++;
}

static void on_usr1(int s)
{
	(void)s;
	n_usr1++;
}

static void handler(int sig, void (*fn)(int), int flags)
{
	struct sigaction a;

	memset(&a, 0, sizeof(a));
	a.sa_handler = fn;
	sigemptyset(&a.sa_mask);
	a.sa_flags = flags;
	sigaction(sig, &a, NULL);
}

/*
 * SIGALRM to the process in ms, then every ms until alarm_off(): on a busy
 * machine the first one may come before the call under test blocks (its
 * handler then runs, and the call must still be interrupted by a later
 * one).  So scenarios print "handled>=1", never a count.
 */
static void alarm_ms(int ms)
{
	struct itimerval it = { { ms / 1000, (ms % 1000) * 1000 },
				{ ms / 1000, (ms % 1000) * 1000 } };

	n_alrm = 0;
	setitimer(ITIMER_REAL, &it, NULL);
}

static void alarm_off(void)
{
	struct itimerval it = { { 0, 0 }, { 0, 0 } };

	setitimer(ITIMER_REAL, &it, NULL);
}

static const char *fl_str(int fd)
{
	static char b[4][48];
	static int k;
	int fl = fcntl(fd, F_GETFL), fdfl = fcntl(fd, F_GETFD);

	k = (k + 1) % 4;
	snprintf(b[k], sizeof(b[k]), "fl=%#x,cloexec=%d", fl, fdfl);
	return b[k];
}

/* ---------------------------------------------------------------- */
/* would block, then data                                             */

static void read_wait_on(const char *name, int rfd, int wfd)
{
	struct wr w = { wfd, "hello" };
	char buf[64] = "";
	int64_t t0 = now_ns();
	pthread_t t = later(50, do_write, &w);
	long r;

	errno = CANARY;
	r = read(rfd, buf, sizeof(buf) - 1);
	report(name, r, errno, "%s waited:%d", r > 0 ? buf : "", waited(t0, 50));
	join(t);
}

static void s_pipe_read_wait(const char *name)
{
	int p[2];

	pp(p);
	read_wait_on(name, p[0], p[1]);
	close2(p);
}

static void s_sock_read_wait(const char *name)
{
	int v[2];

	sp(SOCK_STREAM, v);
	read_wait_on(name, v[0], v[1]);
	close2(v);
}

static void s_tcp_read_wait(const char *name)
{
	int c, s;

	tcp_pair(&c, &s);
	read_wait_on(name, c, s);
	close(c);
	close(s);
}

static void s_dgram_recv_wait(const char *name)
{
	int v[2];
	struct wr w;
	char buf[64] = "";
	int64_t t0 = now_ns();
	pthread_t t;
	long r;

	sp(SOCK_DGRAM, v);
	w.fd = v[1];
	w.s = "datagram";
	t = later(50, do_write, &w);
	errno = CANARY;
	r = recv(v[0], buf, sizeof(buf) - 1, 0);
	report(name, r, errno, "%s waited:%d", buf, waited(t0, 50));
	join(t);
	close2(v);
}

struct drain_n {
	int fd;
	long n;
};

/* Read exactly n bytes (what fill_* queued), freeing the whole buffer. */
static void drain_some(void *p)
{
	struct drain_n *d = p;
	static char b[65536];
	long r;

	while (d->n > 0 && (r = read(d->fd, b, d->n < 65536 ? d->n : 65536)) > 0)
		d->n -= r;
}

static void s_pipe_write_full_wait(const char *name)
{
	int p[2];
	long r;
	int64_t t0;
	pthread_t t;

	struct drain_n d;

	pp(p);
	d.fd = p[0];
	d.n = fill_pipe(p[1]);
	t0 = now_ns();
	t = later(50, drain_some, &d);
	errno = CANARY;
	r = write(p[1], "xyz", 3);
	report(name, r, errno, "waited:%d", waited(t0, 50));
	join(t);
	close2(p);
}

static void s_sock_write_full_wait(const char *name)
{
	int v[2];
	long r;
	int64_t t0;
	pthread_t t;

	struct drain_n d;

	sp(SOCK_STREAM, v);
	d.fd = v[1];
	d.n = fill_sock(v[0]);
	t0 = now_ns();
	t = later(50, drain_some, &d);
	errno = CANARY;
	r = write(v[0], "xyz", 3);
	report(name, r, errno, "waited:%d", waited(t0, 50));
	join(t);
	close2(v);
}

/* ---------------------------------------------------------------- */
/* socket timeouts                                                    */

static void set_tmo(int fd, int opt, int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	setsockopt(fd, SOL_SOCKET, opt, &tv, sizeof(tv));
}

static void s_so_rcvtimeo(const char *name)
{
	int v[2];
	char b[8];
	int64_t t0;
	long r;

	sp(SOCK_STREAM, v);
	set_tmo(v[0], SO_RCVTIMEO, 100);
	t0 = now_ns();
	errno = CANARY;
	r = read(v[0], b, sizeof(b));
	report(name, r, errno, "waited:%d", waited(t0, 100));
	close2(v);
}

static void s_so_rcvtimeo_recvmsg(const char *name)
{
	int v[2];
	char b[8];
	struct iovec io = { b, sizeof(b) };
	struct msghdr mh = { .msg_iov = &io, .msg_iovlen = 1 };
	int64_t t0;
	long r;

	sp(SOCK_DGRAM, v);
	set_tmo(v[0], SO_RCVTIMEO, 100);
	t0 = now_ns();
	errno = CANARY;
	r = recvmsg(v[0], &mh, 0);
	report(name, r, errno, "waited:%d", waited(t0, 100));
	close2(v);
}

static void s_so_rcvtimeo_accept(const char *name)
{
	int port, l = tcp_listener(&port, 4, 0);
	int64_t t0;
	long r;

	set_tmo(l, SO_RCVTIMEO, 100);
	t0 = now_ns();
	errno = CANARY;
	r = accept(l, NULL, NULL);
	report(name, r, errno, "waited:%d", waited(t0, 100));
	close(l);
}

static void s_so_rcvtimeo_data(const char *name)
{
	int v[2];
	struct wr w;
	char b[16] = "";
	pthread_t t;
	long r;

	sp(SOCK_STREAM, v);
	set_tmo(v[0], SO_RCVTIMEO, 10000);
	w.fd = v[1];
	w.s = "in-time";
	t = later(50, do_write, &w);
	errno = CANARY;
	r = read(v[0], b, sizeof(b) - 1);
	report(name, r, errno, "%s", b);
	join(t);
	close2(v);
}

static void s_so_sndtimeo_full(const char *name)
{
	int v[2];
	int64_t t0;
	long r;

	sp(SOCK_STREAM, v);
	fill_sock(v[0]);
	set_tmo(v[0], SO_SNDTIMEO, 100);
	t0 = now_ns();
	errno = CANARY;
	r = write(v[0], "abc", 3);
	report(name, r, errno, "waited:%d", waited(t0, 100));
	close2(v);
}

static void s_so_sndtimeo_partial(const char *name)
{
	size_t len = 4 << 20;
	char *big = calloc(1, len);
	int v[2];
	int64_t t0;
	long r;

	sp(SOCK_STREAM, v);
	set_tmo(v[0], SO_SNDTIMEO, 100);
	t0 = now_ns();
	errno = CANARY;
	r = write(v[0], big, len);
	report(name, r > 0 && r < (long)len ? 1 : r, errno,
	       "partial=%d waited:%d", r > 0 && r < (long)len,
	       waited(t0, 100));
	close2(v);
	free(big);
}

/* ---------------------------------------------------------------- */
/* O_NONBLOCK set by the program                                      */

static void s_nonblock_fcntl_pipe(const char *name)
{
	int p[2];
	char b[8];
	long r;
	int e, fl1, fl2;
	struct wr w;
	pthread_t t;

	pp(p);
	fcntl(p[0], F_SETFL, fcntl(p[0], F_GETFL) | O_NONBLOCK);
	fl1 = fcntl(p[0], F_GETFL);
	errno = CANARY;
	r = read(p[0], b, sizeof(b));
	e = errno;
	fcntl(p[0], F_SETFL, fl1 & ~O_NONBLOCK);
	fl2 = fcntl(p[0], F_GETFL);
	w.fd = p[1];
	w.s = "later";
	t = later(50, do_write, &w);
	memset(b, 0, sizeof(b));
	errno = CANARY;
	report(name, r, e, "fl_nb=%#x fl_clear=%#x then_read=%ld:%.5s",
	       fl1, fl2, read(p[0], b, sizeof(b) - 1), b);
	join(t);
	close2(p);
}

static void s_getfl_after_wait(const char *name)
{
	int p[2], v[2];
	struct wr w;
	char b[8];
	pthread_t t;

	pp(p);
	w.fd = p[1];
	w.s = "x";
	t = later(30, do_write, &w);
	if (read(p[0], b, sizeof(b)) != 1)
		perror("read");
	join(t);
	sp(SOCK_STREAM, v);
	w.fd = v[1];
	t = later(30, do_write, &w);
	if (read(v[0], b, sizeof(b)) != 1)
		perror("read");
	join(t);
	errno = CANARY;
	report(name, 0, errno, "pipe_r=%#x pipe_w=%#x sock=%#x",
	       fcntl(p[0], F_GETFL), fcntl(p[1], F_GETFL),
	       fcntl(v[0], F_GETFL));
	close2(p);
	close2(v);
}

static void s_sock_nonblock_flag(const char *name)
{
	int v[2];
	char b[8];
	long r;
	int e;

	sp(SOCK_STREAM | SOCK_NONBLOCK, v);
	errno = CANARY;
	r = read(v[0], b, sizeof(b));
	e = errno;
	report(name, r, e, "%s recv=%s", fl_str(v[0]),
	       CE(recv(v[0], b, sizeof(b), 0)));
	close2(v);
}

static void s_fionbio(const char *name)
{
	int v[2], on = 1, off = 0;
	char b[8] = "";
	long r;
	int e, fl1, fl2;
	struct wr w;
	pthread_t t;

	sp(SOCK_STREAM, v);
	ioctl(v[0], FIONBIO, &on);
	fl1 = fcntl(v[0], F_GETFL);
	errno = CANARY;
	r = read(v[0], b, sizeof(b));
	e = errno;
	ioctl(v[0], FIONBIO, &off);
	fl2 = fcntl(v[0], F_GETFL);
	w.fd = v[1];
	w.s = "later";
	t = later(50, do_write, &w);
	errno = CANARY;
	report(name, r, e, "fl_on=%#x fl_off=%#x then_read=%ld:%.5s", fl1,
	       fl2, read(v[0], b, sizeof(b) - 1), b);
	join(t);
	close2(v);
}

static void s_nonblock_accept(const char *name)
{
	int port, l = tcp_listener(&port, 4, SOCK_NONBLOCK);
	long r;

	errno = CANARY;
	r = accept(l, NULL, NULL);
	report(name, r, errno, "%s", fl_str(l));
	close(l);
}

static void s_nonblock_connect(const char *name)
{
	int port, l = tcp_listener(&port, 4, 0);
	struct sockaddr_in a = lo_addr(port);
	int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	struct pollfd p = { s, POLLOUT, 0 };
	int err = -1;
	socklen_t el = sizeof(err);
	long r;
	int e;

	errno = CANARY;
	r = connect(s, (struct sockaddr *)&a, sizeof(a));
	e = errno;
	poll(&p, 1, 10000);
	getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &el);
	report(name, r, e, "revents=%#x so_error=%d again=%s", p.revents,
	       err, CE(connect(s, (struct sockaddr *)&a, sizeof(a))));
	close(s);
	close(l);
}

/* ---------------------------------------------------------------- */
/* peer close, EPIPE/SIGPIPE, ECONNRESET                              */

static void s_peer_close_read(const char *name)
{
	int v[2], p[2];
	char b[8];
	long r1, r2;

	sp(SOCK_STREAM, v);
	pp(p);
	close(v[1]);
	close(p[1]);
	errno = CANARY;
	r1 = read(v[0], b, sizeof(b));
	r2 = read(p[0], b, sizeof(b));
	report(name, r1, errno, "pipe=%ld", r2);
	close(v[0]);
	close(p[0]);
}

static void s_peer_close_wait(const char *name)
{
	int v[2];
	char b[8];
	long r;
	pthread_t t;

	sp(SOCK_STREAM, v);
	t = later(50, do_close, (void *)(intptr_t)v[1]);
	errno = CANARY;
	r = read(v[0], b, sizeof(b));
	report(name, r, errno, "-");
	join(t);
	close(v[0]);
}

static void s_epipe_sock(const char *name)
{
	int v[2];
	long r1, r2;
	int e1, e2, s1, s2;

	sp(SOCK_STREAM, v);
	close(v[1]);
	n_pipe = 0;
	errno = CANARY;
	r1 = write(v[0], "x", 1);
	e1 = errno;
	s1 = n_pipe;
	errno = CANARY;
	r2 = send(v[0], "x", 1, MSG_NOSIGNAL);
	e2 = errno;
	s2 = n_pipe;
	report(name, r1, e1, "sigpipe=%d nosignal=%ld:%s sigpipe=%d", s1, r2,
	       E(e2), s2);
	close(v[0]);
}

static void s_epipe_pipe(const char *name)
{
	int p[2];
	long r;

	pp(p);
	close(p[0]);
	n_pipe = 0;
	errno = CANARY;
	r = write(p[1], "x", 1);
	report(name, r, errno, "sigpipe=%d", n_pipe);
	close(p[1]);
}

struct epipe_res {
	int fd;
	long r;
	int e, sig;
	int send;
};

static void *epipe_thread(void *p)
{
	struct epipe_res *x = p;

	errno = CANARY;
	x->r = x->send ? send(x->fd, "x", 1, 0) : write(x->fd, "x", 1);
	x->e = errno;
	x->sig = n_pipe;
	return NULL;
}

/* The same from a thread (under the shim, maybe on another worker). */
static void s_epipe_thread(const char *name)
{
	struct epipe_res a = { 0 }, b = { 0 };
	int p[2], v[2];

	pp(p);
	close(p[0]);
	sp(SOCK_STREAM, v);
	close(v[1]);
	n_pipe = 0;
	a.fd = p[1];
	join(spawn(epipe_thread, &a));
	b.fd = v[0];
	b.send = 1;
	join(spawn(epipe_thread, &b));
	report(name, a.r, a.e, "sig_after_pipe=%d send=%ld:%s sig_after_send=%d",
	       a.sig, b.r, E(b.e), b.sig);
	close(p[1]);
	close(v[0]);
}

/* Many writers at once (under the shim, spread over the workers): each
 * gets EPIPE and its own SIGPIPE. */
struct epipe_many {
	sem_t go;
	int fd, sock;
	_Atomic int epipe;
};

static void *epipe_many_thread(void *p)
{
	struct epipe_many *x = p;

	sem_wait(&x->go);
	if (write(x->fd, "x", 1) < 0 && errno == EPIPE)
		x->epipe++;
	if (send(x->sock, "x", 1, 0) < 0 && errno == EPIPE)
		x->epipe++;
	return NULL;
}

static void s_epipe_many(const char *name)
{
	struct epipe_many x;
	pthread_t t[16];
	int p[2], v[2], i;

	pp(p);
	close(p[0]);
	sp(SOCK_STREAM, v);
	close(v[1]);
	sem_init(&x.go, 0, 0);
	x.fd = p[1];
	x.sock = v[0];
	x.epipe = 0;
	n_pipe = 0;
	for (i = 0; i < 16; i++)
		t[i] = spawn(epipe_many_thread, &x);
	msleep(20);
	for (i = 0; i < 16; i++)
		sem_post(&x.go);
	for (i = 0; i < 16; i++)
		join(t[i]);
	report(name, x.epipe, CANARY, "sigpipe=%d", n_pipe);
	sem_destroy(&x.go);
	close(p[1]);
	close(v[0]);
}

/* A blocked writer whose reader goes away: EPIPE, one SIGPIPE. */
static void s_epipe_while_blocked(const char *name)
{
	int v[2];
	long r;
	pthread_t t;

	sp(SOCK_STREAM, v);
	fill_sock(v[0]);
	n_pipe = 0;
	t = later(500, do_close, (void *)(intptr_t)v[1]);	/* writer blocked by then */
	errno = CANARY;
	r = write(v[0], "abc", 3);
	report(name, r, errno, "sigpipe=%d", n_pipe);
	join(t);
	close(v[0]);
}

static void s_econnreset_unread(const char *name)
{
	int c, s;
	char b[8];
	long r1, r2;
	int e1, e2;

	tcp_pair(&c, &s);
	if (write(c, "unread", 6) != 6)
		perror("write");
	msleep(30);
	close(s);		/* unread data: RST */
	msleep(30);
	n_pipe = 0;
	errno = CANARY;
	r1 = read(c, b, sizeof(b));
	e1 = errno;
	errno = CANARY;
	r2 = write(c, "x", 1);
	e2 = errno;
	report(name, r1, e1, "then_write=%ld:%s sigpipe=%d", r2, E(e2),
	       n_pipe);
	close(c);
}

static void linger0_close(void *p)
{
	struct linger lg = { 1, 0 };
	int fd = (int)(intptr_t)p;

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

static void s_econnreset_linger0_wait(const char *name)
{
	int c, s;
	char b[8];
	long r;
	pthread_t t;

	tcp_pair(&c, &s);
	t = later(50, linger0_close, (void *)(intptr_t)s);
	errno = CANARY;
	r = read(c, b, sizeof(b));
	report(name, r, errno, "-");
	join(t);
	close(c);
}

/* ---------------------------------------------------------------- */
/* vectored and message calls                                         */

static void s_stream_partial_reads(const char *name)
{
	int v[2];
	char a[8] = "", x[4] = "", y[4] = "", z[4] = "";
	struct iovec io[3] = { { x, 3 }, { y, 3 }, { z, 3 } };
	long r1, r2;

	sp(SOCK_STREAM, v);
	if (write(v[1], "abcdefghij", 10) != 10)
		perror("write");
	errno = CANARY;
	r1 = read(v[0], a, 4);
	r2 = readv(v[0], io, 3);
	report(name, r1, errno, "%s readv=%ld:%s|%s|%s", a, r2, x, y, z);
	close2(v);
}

/* A socket used through a FILE (fdopen) and closed with fclose, inside
 * libc; its number reused by open(): read and write on the new file, a
 * regular one, act on the file. */
static void s_fclose_reuse(const char *name)
{
	char path[] = "/tmp/dtact-semantics-XXXXXX", a[8] = "", b[4] = "";
	int v[2], fd, fd2;
	long r1, r2;
	FILE *f;

	sp(SOCK_STREAM, v);
	if (write(v[1], "hi", 2) != 2 || read(v[0], b, 2) != 2)
		perror("write/read");
	f = fdopen(v[0], "r+");
	if (!f)
		perror("fdopen");
	fclose(f);
	fd = mkstemp(path);
	fd2 = fd == v[0];	/* the same number, or the test proves less */
	errno = CANARY;
	r1 = write(fd, "file", 4);
	lseek(fd, 0, SEEK_SET);
	r2 = read(fd, a, sizeof(a) - 1);
	report(name, r1, errno, "reused:%d read=%ld:%s", fd2, r2, a);
	close(fd);
	unlink(path);
	close(v[1]);
}

/* The same with freopen, which closes the socket and opens the file on
 * the same number inside libc, with no close() to see. */
static void s_freopen_reuse(const char *name)
{
	char path[] = "/tmp/dtact-semantics-XXXXXX", a[8] = "", b[4] = "";
	int v[2], fd;
	long r;
	FILE *f;

	fd = mkstemp(path);
	if (fd < 0 || write(fd, "file", 4) != 4)
		perror("mkstemp");
	close(fd);
	sp(SOCK_STREAM, v);
	if (write(v[1], "hi", 2) != 2 || read(v[0], b, 2) != 2)
		perror("write/read");
	f = fdopen(v[0], "r+");
	if (!f || !freopen(path, "r", f))
		perror("fdopen/freopen");
	errno = CANARY;
	r = read(fileno(f), a, sizeof(a) - 1);
	report(name, r, errno, "same:%d %s", fileno(f) == v[0], a);
	fclose(f);
	unlink(path);
	close(v[1]);
}

static void s_writev_readv_pipe(const char *name)
{
	int p[2];
	char x[4] = "", y[8] = "";
	struct iovec w[3] = { { "ab", 2 }, { "cde", 3 }, { "f", 1 } };
	struct iovec io[2] = { { x, 3 }, { y, 7 } };
	long r1, r2;

	pp(p);
	errno = CANARY;
	r1 = writev(p[1], w, 3);
	r2 = readv(p[0], io, 2);
	report(name, r1, errno, "readv=%ld:%s|%s", r2, x, y);
	close2(p);
}

static void s_dgram_trunc(const char *name)
{
	int v[2];
	char b[8] = "", c[8] = "";
	struct iovec w[3] = { { "ab", 2 }, { "cde", 3 }, { "f", 1 } };
	struct iovec io = { b, 4 };
	struct msghdr mh = { .msg_iov = &io, .msg_iovlen = 1 };
	long r1, r2, r3;

	sp(SOCK_DGRAM, v);
	errno = CANARY;
	r1 = writev(v[1], w, 3);
	r2 = recvmsg(v[0], &mh, 0);
	sendto(v[1], "0123456789", 10, 0, NULL, 0);
	r3 = recvfrom(v[0], c, 3, MSG_TRUNC, NULL, NULL);
	report(name, r1, errno, "recvmsg=%ld:%.4s flags=%#x recvfrom_trunc=%ld:%.3s",
	       r2, b, mh.msg_flags, r3, c);
	close2(v);
}

static void s_dgram_sendmsg_wait(const char *name)
{
	int v[2];
	char b[16] = "";
	struct iovec io = { b, sizeof(b) - 1 };
	struct msghdr mh = { .msg_iov = &io, .msg_iovlen = 1 };
	struct wr w;
	pthread_t t;
	long r;

	sp(SOCK_DGRAM, v);
	w.fd = v[1];
	w.s = "msg";
	t = later(50, do_write, &w);
	errno = CANARY;
	r = recvmsg(v[0], &mh, 0);
	report(name, r, errno, "%s flags=%#x", b, mh.msg_flags);
	join(t);
	{
		struct iovec o[2] = { { "se", 2 }, { "nd", 2 } };
		struct msghdr om = { .msg_iov = o, .msg_iovlen = 2 };

		errno = CANARY;
		r = sendmsg(v[1], &om, 0);
		memset(b, 0, sizeof(b));
		report(name, r, errno, "sendmsg recv=%ld:%s", recv(v[0], b, 15, 0), b);
	}
	close2(v);
}

static void s_udp_recvfrom_wait(const char *name)
{
	struct sockaddr_in a = lo_addr(0), from;
	socklen_t l = sizeof(a), fl = sizeof(from);
	int r = socket(AF_INET, SOCK_DGRAM, 0), s = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in sa = lo_addr(0);
	char b[16] = "";
	pthread_t t;
	long n;
	struct wr w;

	bind(r, (struct sockaddr *)&a, sizeof(a));
	getsockname(r, (struct sockaddr *)&a, &l);
	bind(s, (struct sockaddr *)&sa, sizeof(sa));
	l = sizeof(sa);
	getsockname(s, (struct sockaddr *)&sa, &l);
	connect(s, (struct sockaddr *)&a, sizeof(a));
	w.fd = s;
	w.s = "udp!";
	t = later(50, do_write, &w);
	errno = CANARY;
	n = recvfrom(r, b, sizeof(b) - 1, 0, (struct sockaddr *)&from, &fl);
	report(name, n, errno, "%s fromlen=%u from_ok=%d", b, fl,
	       from.sin_port == sa.sin_port);
	join(t);
	close(r);
	close(s);
}

/* ---------------------------------------------------------------- */
/* big blocking writes: everything is transferred                     */

struct drain {
	int fd;
	long total;
	unsigned long sum;
};

static void *slow_drain(void *p)
{
	struct drain *d = p;
	static char b[65536];
	long r;
	int i = 0;

	while ((r = read(d->fd, b, sizeof(b))) > 0) {
		d->total += r;
		for (long k = 0; k < r; k++)
			d->sum = d->sum * 31 + (unsigned char)b[k];
		if (++i % 8 == 0)
			msleep(1);
	}
	return NULL;
}

static char *pattern(size_t len)
{
	char *b = malloc(len);

	for (size_t i = 0; i < len; i++)
		b[i] = (char)(i * 7 + i / 4096);
	return b;
}

static unsigned long sum_of(const char *b, size_t len)
{
	unsigned long s = 0;

	for (size_t i = 0; i < len; i++)
		s = s * 31 + (unsigned char)b[i];
	return s;
}

static void big_write_on(const char *name, int wfd, int rfd, int vec)
{
	size_t len = 4 << 20;
	char *b = pattern(len);
	struct drain d = { rfd, 0, 0 };
	pthread_t t = spawn(slow_drain, &d);
	long r;

	errno = CANARY;
	if (vec) {
		struct iovec io[4];

		for (int i = 0; i < 4; i++) {
			io[i].iov_base = b + i * (len / 4);
			io[i].iov_len = len / 4;
		}
		r = writev(wfd, io, 4);
	} else {
		r = write(wfd, b, len);
	}
	report(name, r, errno, "", 0);
	close(wfd);
	join(t);
	printf("%s: drained=%ld same=%d\n", name, d.total, d.sum == sum_of(b, len));
	close(rfd);
	free(b);
}

static void s_big_write_sock(const char *name)
{
	int v[2];

	sp(SOCK_STREAM, v);
	big_write_on(name, v[0], v[1], 0);
}

static void s_big_write_pipe(const char *name)
{
	int p[2];

	pp(p);
	big_write_on(name, p[1], p[0], 0);
}

static void s_big_writev_sock(const char *name)
{
	int v[2];

	sp(SOCK_STREAM, v);
	big_write_on(name, v[0], v[1], 1);
}

static void s_big_send_tcp(const char *name)
{
	int c, s;

	tcp_pair(&c, &s);
	big_write_on(name, c, s, 0);
}

/* ---------------------------------------------------------------- */
/* accept, connect                                                    */

static void connect_to(void *p)
{
	int port = (int)(intptr_t)p;
	int s = tcp_connect(port);

	msleep(100);
	close(s);
}

static void s_accept_wait(const char *name)
{
	int port, l = tcp_listener(&port, 4, 0);
	struct sockaddr_in a;
	socklen_t al = sizeof(a);
	int64_t t0 = now_ns();
	pthread_t t = later(50, connect_to, (void *)(intptr_t)port);
	long r;

	errno = CANARY;
	r = accept(l, (struct sockaddr *)&a, &al);
	report(name, r >= 0, errno, "%s alen=%u fam=%d waited:%d",
	       r >= 0 ? fl_str((int)r) : "-", al, a.sin_family,
	       waited(t0, 50));
	join(t);
	close((int)r);
	close(l);
}

static void s_accept4_flags(const char *name)
{
	int port, l = tcp_listener(&port, 4, 0);
	pthread_t t = later(50, connect_to, (void *)(intptr_t)port);
	char b[4];
	long r, r2;
	int e2;

	errno = CANARY;
	r = accept4(l, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	errno = CANARY;
	r2 = read((int)r, b, sizeof(b));
	e2 = errno;
	errno = CANARY;
	report(name, r >= 0, errno, "%s read=%ld:%s", fl_str((int)r), r2,
	       E(e2));
	join(t);
	close((int)r);
	close(l);
}

static void s_accept4_einval(const char *name)
{
	int port, l = tcp_listener(&port, 4, 0);
	long r;

	errno = CANARY;
	r = accept4(l, NULL, NULL, 0x40000000);
	report(name, r, errno, "-");
	close(l);
}

static void s_connect_ok(const char *name)
{
	int port, l = tcp_listener(&port, 4, 0);
	struct sockaddr_in a = lo_addr(port), pa;
	socklen_t pl = sizeof(pa);
	int s = socket(AF_INET, SOCK_STREAM, 0);
	long r;
	int e;

	errno = CANARY;
	r = connect(s, (struct sockaddr *)&a, sizeof(a));
	e = errno;
	getpeername(s, (struct sockaddr *)&pa, &pl);
	report(name, r, e, "peer_ok=%d %s again=%s",
	       pa.sin_port == a.sin_port, fl_str(s),
	       CE(connect(s, (struct sockaddr *)&a, sizeof(a))));
	close(s);
	close(l);
}

static void s_connect_refused(const char *name)
{
	struct sockaddr_in a = lo_addr(closed_port());
	int s = socket(AF_INET, SOCK_STREAM, 0);
	long r;

	errno = CANARY;
	r = connect(s, (struct sockaddr *)&a, sizeof(a));
	report(name, r, errno, "%s", fl_str(s));
	close(s);
}

static void s_connect_unix_missing(const char *name)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX,
				 .sun_path = "/nonexistent/dtact.sock" };
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	long r;

	errno = CANARY;
	r = connect(s, (struct sockaddr *)&a, sizeof(a));
	report(name, r, errno, "-");
	close(s);
}

/* Backlog full: SYNs are dropped, a blocking connect hangs until
 * SO_SNDTIMEO. */
static void s_connect_sndtimeo(const char *name)
{
	int port, l = tcp_listener(&port, 0, 0);
	struct sockaddr_in a = lo_addr(port);
	int fill[4], s, i;
	int64_t t0;
	long r;

	for (i = 0; i < 4; i++) {
		fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		connect(fill[i], (struct sockaddr *)&a, sizeof(a));
	}
	msleep(50);
	s = socket(AF_INET, SOCK_STREAM, 0);
	set_tmo(s, SO_SNDTIMEO, 200);
	t0 = now_ns();
	errno = CANARY;
	r = connect(s, (struct sockaddr *)&a, sizeof(a));
	report(name, r, errno, "waited:%d", waited(t0, 200));
	close(s);
	for (i = 0; i < 4; i++)
		close(fill[i]);
	close(l);
}

/* ---------------------------------------------------------------- */
/* poll, ppoll, select, pselect, epoll                                */

static void s_poll_ready(const char *name)
{
	int p[2];
	struct pollfd f[3];
	long r;

	pp(p);
	if (write(p[1], "x", 1) != 1)
		perror("write");
	f[0] = (struct pollfd){ p[0], POLLIN, 0 };
	f[1] = (struct pollfd){ p[1], POLLOUT, 0 };
	f[2] = (struct pollfd){ -1, POLLIN, 0 };
	errno = CANARY;
	r = poll(f, 3, 100);
	report(name, r, errno, "revents=%#x,%#x,%#x", f[0].revents,
	       f[1].revents, f[2].revents);
	close2(p);
}

static void poll_timeout_ms(const char *name, int ms)
{
	int p[2];
	struct pollfd f;
	int64_t t0;
	long r;

	pp(p);
	f = (struct pollfd){ p[0], POLLIN, 0x7f };
	t0 = now_ns();
	errno = CANARY;
	r = poll(&f, 1, ms);
	report(name, r, errno, "revents=%#x waited:%d", f.revents,
	       waited(t0, ms));
	close2(p);
}

static void s_poll_timeout0(const char *name)
{
	poll_timeout_ms(name, 0);
}

static void s_poll_timeout100(const char *name)
{
	poll_timeout_ms(name, 100);
}

static void s_poll_wait_data(const char *name)
{
	int p[2], v[2];
	struct pollfd f[2];
	struct wr w;
	pthread_t t;
	long r;

	pp(p);
	sp(SOCK_STREAM, v);
	w.fd = v[1];
	w.s = "x";
	f[0] = (struct pollfd){ p[0], POLLIN, 0 };
	f[1] = (struct pollfd){ v[0], POLLIN | POLLPRI, 0 };
	t = later(50, do_write, &w);
	errno = CANARY;
	r = poll(f, 2, -1);
	report(name, r, errno, "revents=%#x,%#x", f[0].revents, f[1].revents);
	join(t);
	close2(p);
	close2(v);
}

static void s_poll_nval_hup(const char *name)
{
	int p[2], q[2], bad;
	struct pollfd f[3];
	long r;

	pp(p);
	pp(q);
	bad = q[0];
	close(q[0]);		/* closed: POLLNVAL */
	close(p[1]);		/* writer gone: POLLHUP */
	f[0] = (struct pollfd){ bad, POLLIN, 0 };
	f[1] = (struct pollfd){ p[0], POLLIN, 0 };
	f[2] = (struct pollfd){ q[1], POLLOUT, 0 };
	errno = CANARY;
	r = poll(f, 3, 100);
	report(name, r, errno, "revents=%#x,%#x,%#x", f[0].revents,
	       f[1].revents, f[2].revents);
	close(p[0]);
	close(q[1]);
}

static void s_poll_hup_wait(const char *name)
{
	int v[2];
	struct pollfd f;
	pthread_t t;
	long r;

	sp(SOCK_STREAM, v);
	f = (struct pollfd){ v[0], POLLIN, 0 };
	t = later(50, do_close, (void *)(intptr_t)v[1]);
	errno = CANARY;
	r = poll(&f, 1, 10000);
	report(name, r, errno, "revents=%#x", f.revents);
	join(t);
	close(v[0]);
}

static void s_poll_einval(const char *name)
{
	struct pollfd f = { 0, POLLIN, 0 };
	volatile nfds_t huge = (nfds_t)-1 / 2;	/* > RLIMIT_NOFILE: EINVAL */
	long r;

	errno = CANARY;
	r = poll(&f, huge, 10);
	report(name, r, errno, "-");
}

static void s_ppoll_timeout(const char *name)
{
	int p[2];
	struct pollfd f;
	struct timespec ts = ts_of(100 * MS), z = { 0, 0 };
	int64_t t0;
	long r, r0;

	pp(p);
	f = (struct pollfd){ p[0], POLLIN, 0 };
	r0 = ppoll(&f, 1, &z, NULL);
	t0 = now_ns();
	errno = CANARY;
	r = ppoll(&f, 1, &ts, NULL);
	report(name, r, errno, "zero=%ld waited:%d ts_after=%ld.%09ld", r0,
	       waited(t0, 100), (long)ts.tv_sec, ts.tv_nsec);
	close2(p);
}

static void s_ppoll_einval(const char *name)
{
	struct pollfd f = { 0, POLLIN, 0 };
	struct timespec ts = { -1, 0 }, ts2 = { 0, 1000000000 };
	long r;
	int e;

	errno = CANARY;
	r = ppoll(&f, 1, &ts, NULL);
	e = errno;
	report(name, r, e, "nsec=%s", CE(ppoll(&f, 1, &ts2, NULL)));
}

static void s_ppoll_wait_data(const char *name)
{
	int p[2];
	struct pollfd f;
	struct timespec ts = ts_of(10000 * MS);
	struct wr w;
	pthread_t t;
	sigset_t m;
	long r;

	pp(p);
	w.fd = p[1];
	w.s = "x";
	f = (struct pollfd){ p[0], POLLIN, 0 };
	sigemptyset(&m);
	t = later(50, do_write, &w);
	errno = CANARY;
	r = ppoll(&f, 1, &ts, &m);
	report(name, r, errno, "revents=%#x ts=%ld.%09ld", f.revents,
	       (long)ts.tv_sec, ts.tv_nsec);
	join(t);
	close2(p);
}

static void s_select_ready(const char *name)
{
	int p[2];
	fd_set r, w;
	struct timeval tv = { 1, 0 };
	long n;

	pp(p);
	if (write(p[1], "x", 1) != 1)
		perror("write");
	FD_ZERO(&r);
	FD_ZERO(&w);
	FD_SET(p[0], &r);
	FD_SET(p[1], &r);
	FD_SET(p[1], &w);
	errno = CANARY;
	n = select(p[1] + 1, &r, &w, NULL, &tv);
	report(name, n, errno, "r0=%d r1=%d w1=%d tv_left_ok=%d",
	       FD_ISSET(p[0], &r), FD_ISSET(p[1], &r), FD_ISSET(p[1], &w),
	       tv.tv_sec == 0 || tv.tv_sec == 1);
	close2(p);
}

static void s_select_timeout(const char *name)
{
	int p[2];
	fd_set r;
	struct timeval tv = { 0, 100000 };
	int64_t t0;
	long n;

	pp(p);
	FD_ZERO(&r);
	FD_SET(p[0], &r);
	t0 = now_ns();
	errno = CANARY;
	n = select(p[0] + 1, &r, NULL, NULL, &tv);
	report(name, n, errno, "set=%d tv=%ld.%06ld waited:%d",
	       FD_ISSET(p[0], &r), (long)tv.tv_sec, (long)tv.tv_usec,
	       waited(t0, 100));
	close2(p);
}

static void s_select_timeout0(const char *name)
{
	int p[2];
	fd_set r;
	struct timeval tv = { 0, 0 };
	long n;

	pp(p);
	FD_ZERO(&r);
	FD_SET(p[0], &r);
	errno = CANARY;
	n = select(p[0] + 1, &r, NULL, NULL, &tv);
	report(name, n, errno, "set=%d", FD_ISSET(p[0], &r));
	close2(p);
}

static void s_select_ebadf(const char *name)
{
	int p[2], bad;
	fd_set r, r2;
	struct timeval tv = { 0, 100000 };
	long n;
	int e;

	pp(p);
	bad = p[0];
	close(p[0]);
	FD_ZERO(&r);
	FD_SET(bad, &r);
	r2 = r;
	errno = CANARY;
	n = select(bad + 1, &r, NULL, NULL, &tv);
	e = errno;
	report(name, n, e, "untimed=%s",
	       CE(select(bad + 1, &r2, NULL, NULL, NULL)));
	close(p[1]);
}

static void s_select_einval(const char *name)
{
	struct timeval tv = { 0, 1000 }, tv2 = { -1, 0 };
	long n;
	int e;

	errno = CANARY;
	n = select(-1, NULL, NULL, NULL, &tv);
	e = errno;
	report(name, n, e, "neg_tv=%s", CE(select(0, NULL, NULL, NULL, &tv2)));
}

static void s_select_wait_data(const char *name)
{
	int v[2];
	fd_set r;
	struct wr w;
	pthread_t t;
	long n;

	sp(SOCK_STREAM, v);
	w.fd = v[1];
	w.s = "x";
	FD_ZERO(&r);
	FD_SET(v[0], &r);
	t = later(50, do_write, &w);
	errno = CANARY;
	n = select(v[0] + 1, &r, NULL, NULL, NULL);
	report(name, n, errno, "set=%d", FD_ISSET(v[0], &r));
	join(t);
	close2(v);
}

static void s_pselect_timeout(const char *name)
{
	int p[2];
	fd_set r;
	struct timespec ts = ts_of(100 * MS);
	sigset_t m;
	int64_t t0;
	long n;

	pp(p);
	FD_ZERO(&r);
	FD_SET(p[0], &r);
	sigemptyset(&m);
	t0 = now_ns();
	errno = CANARY;
	n = pselect(p[0] + 1, &r, NULL, NULL, &ts, &m);
	report(name, n, errno, "set=%d ts=%ld.%09ld waited:%d",
	       FD_ISSET(p[0], &r), (long)ts.tv_sec, ts.tv_nsec,
	       waited(t0, 100));
	close2(p);
}

static void s_epoll_ready(const char *name)
{
	int p[2], ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = { .events = EPOLLIN }, out[4];
	long r;

	pp(p);
	ev.data.u32 = 42;
	epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev);
	if (write(p[1], "x", 1) != 1)
		perror("write");
	errno = CANARY;
	r = epoll_wait(ep, out, 4, 100);
	report(name, r, errno, "ev=%#x data=%u", r > 0 ? out[0].events : 0,
	       r > 0 ? out[0].data.u32 : 0);
	close2(p);
	close(ep);
}

static void epoll_timeout_ms(const char *name, int ms)
{
	int p[2], ep = epoll_create1(0);
	struct epoll_event ev = { .events = EPOLLIN }, out[4];
	int64_t t0;
	long r;

	pp(p);
	epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev);
	t0 = now_ns();
	errno = CANARY;
	r = epoll_wait(ep, out, 4, ms);
	report(name, r, errno, "waited:%d", waited(t0, ms));
	close2(p);
	close(ep);
}

static void s_epoll_timeout0(const char *name)
{
	epoll_timeout_ms(name, 0);
}

static void s_epoll_timeout100(const char *name)
{
	epoll_timeout_ms(name, 100);
}

static void s_epoll_wait_data(const char *name)
{
	int v[2], ep = epoll_create1(0);
	struct epoll_event ev = { .events = EPOLLIN | EPOLLET }, out[4];
	struct wr w;
	pthread_t t;
	sigset_t m;
	long r;

	sp(SOCK_STREAM, v);
	ev.data.fd = v[0];
	epoll_ctl(ep, EPOLL_CTL_ADD, v[0], &ev);
	w.fd = v[1];
	w.s = "x";
	sigemptyset(&m);
	t = later(50, do_write, &w);
	errno = CANARY;
	r = epoll_pwait(ep, out, 4, -1, &m);
	report(name, r, errno, "ev=%#x fd_ok=%d", r > 0 ? out[0].events : 0,
	       r > 0 && out[0].data.fd == v[0]);
	join(t);
	close2(v);
	close(ep);
}

static void s_epoll_errors(const char *name)
{
	int ep = epoll_create1(0), p[2];
	struct epoll_event out[1];
	long r;
	int e;

	pp(p);
	errno = CANARY;
	r = epoll_wait(ep, out, 0, 10);
	e = errno;
	report(name, r, e, "badfd=%s", CE(epoll_wait(p[0], out, 1, 10)));
	close(ep);
	close2(p);
}

/* ---------------------------------------------------------------- */
/* sleeps                                                             */

static void s_nanosleep(const char *name)
{
	struct timespec ts = ts_of(50 * MS), rem = { 9, 9 };
	int64_t t0 = now_ns();
	long r;

	errno = CANARY;
	r = nanosleep(&ts, &rem);
	report(name, r, errno, "slept:%d rem=%ld.%ld", waited(t0, 50),
	       (long)rem.tv_sec, rem.tv_nsec);
}

static void cns(const char *name, clockid_t c, int flags)
{
	struct timespec ts = flags ? abs_in(c, 50) : ts_of(50 * MS);
	int64_t t0 = now_ns();
	long r;

	errno = CANARY;
	r = clock_nanosleep(c, flags, &ts, NULL);
	report(name, r, errno, "slept:%d", waited(t0, 50));
}

static void s_cns_rel_mono(const char *name)
{
	cns(name, CLOCK_MONOTONIC, 0);
}

static void s_cns_rel_real(const char *name)
{
	cns(name, CLOCK_REALTIME, 0);
}

static void s_cns_abs_mono(const char *name)
{
	cns(name, CLOCK_MONOTONIC, TIMER_ABSTIME);
}

static void s_cns_abs_real(const char *name)
{
	cns(name, CLOCK_REALTIME, TIMER_ABSTIME);
}

static void s_cns_rel_boottime(const char *name)
{
	cns(name, CLOCK_BOOTTIME, 0);
}

static void s_cns_abs_past(const char *name)
{
	struct timespec ts = { 1, 0 };
	long r;

	errno = CANARY;
	r = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
	report(name, r, errno, "-");
}

static void s_usleep(const char *name)
{
	int64_t t0 = now_ns();
	long r;

	errno = CANARY;
	r = usleep(50000);
	report(name, r, errno, "slept:%d", waited(t0, 50));
}

static void s_sleep0(const char *name)
{
	long r;

	errno = CANARY;
	r = sleep(0);
	report(name, r, errno, "-");
}

static void s_nanosleep_einval(const char *name)
{
	struct timespec a = { -1, 0 }, b = { 0, 1000000000 }, c = { 0, -1 };
	long r1, r2, r3;
	int e1, e2, e3;

	errno = CANARY;
	r1 = nanosleep(&a, NULL);
	e1 = errno;
	errno = CANARY;
	r2 = nanosleep(&b, NULL);
	e2 = errno;
	errno = CANARY;
	r3 = nanosleep(&c, NULL);
	e3 = errno;
	report(name, r1, e1, "nsec_big=%ld:%s nsec_neg=%ld:%s", r2, E(e2), r3,
	       E(e3));
}

static void s_cns_errors(const char *name)
{
	struct timespec ts = ts_of(10 * MS), neg = { -1, 0 };
	static const struct {
		const char *n;
		clockid_t c;
		int fl;
		int neg;
	} cases[] = {
		{ "bad", 1234, 0, 0 },
		{ "thread_cpu", CLOCK_THREAD_CPUTIME_ID, 0, 0 },
		{ "mono_raw", CLOCK_MONOTONIC_RAW, 0, 0 },
		{ "real_coarse", CLOCK_REALTIME_COARSE, 0, 0 },
		{ "mono_coarse", CLOCK_MONOTONIC_COARSE, 0, 0 },
		{ "neg_rel", CLOCK_MONOTONIC, 0, 1 },
		{ "neg_abs", CLOCK_MONOTONIC, TIMER_ABSTIME, 1 },
		{ "neg_abs_real", CLOCK_REALTIME, TIMER_ABSTIME, 1 },
		{ "bad_flags", CLOCK_MONOTONIC, 2, 0 },
	};
	char out[512] = "";
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r;

		errno = CANARY;
		r = clock_nanosleep(cases[i].c, cases[i].fl,
				    cases[i].neg ? &neg : &ts, NULL);
		snprintf(out + strlen(out), sizeof(out) - strlen(out),
			 "%s=%s/%s ", cases[i].n, E(r), E(errno));
	}
	report(name, 0, CANARY, "%s", out);
}

/* ---------------------------------------------------------------- */
/* EINTR: process signals (the main thread waits) and pthread_kill    */

static void s_eintr_read(const char *name)
{
	int p[2];
	char b[8];
	long r;
	int e;

	pp(p);
	handler(SIGALRM, on_alrm, 0);
	alarm_ms(50);
	errno = CANARY;
	r = read(p[0], b, sizeof(b));
	e = errno;
	alarm_off();
	report(name, r, e, "handled>=1:%d", n_alrm > 0);
	close2(p);
}

static void s_eintr_read_restart(const char *name)
{
	int p[2];
	char b[8] = "";
	struct wr w;
	pthread_t t;
	long r;
	int e;

	pp(p);
	handler(SIGALRM, on_alrm, SA_RESTART);
	alarm_ms(30);		/* armed before the data source */
	w.fd = p[1];
	w.s = "after";
	t = later(300, do_write, &w);
	errno = CANARY;
	r = read(p[0], b, sizeof(b) - 1);
	e = errno;
	alarm_off();
	report(name, r, e, "%s handled>=1:%d", b, n_alrm > 0);
	join(t);
	close2(p);
}

static void s_eintr_read_rcvtimeo_restart(const char *name)
{
	int v[2];
	char b[8];
	long r;
	int e;

	/* A timeout makes a socket read one that is never restarted. */
	sp(SOCK_STREAM, v);
	set_tmo(v[0], SO_RCVTIMEO, 5000);
	handler(SIGALRM, on_alrm, SA_RESTART);
	alarm_ms(50);
	errno = CANARY;
	r = read(v[0], b, sizeof(b));
	e = errno;
	alarm_off();
	report(name, r, e, "handled>=1:%d", n_alrm > 0);
	close2(v);
}

static void s_eintr_write_partial(const char *name)
{
	int v[2];
	size_t len = 4 << 20;
	char *big = calloc(1, len);
	long r;
	int e;

	/* A blocking write interrupted after some bytes went: the count. */
	sp(SOCK_STREAM, v);
	handler(SIGALRM, on_alrm, 0);
	alarm_ms(50);
	errno = CANARY;
	r = write(v[0], big, len);
	e = errno;
	alarm_off();
	report(name, r > 0 && r < (long)len, e, "handled>=1:%d", n_alrm > 0);
	close2(v);
	free(big);
}

static void s_eintr_accept(const char *name)
{
	int port, l = tcp_listener(&port, 4, 0);
	long r;
	int e;

	handler(SIGALRM, on_alrm, 0);
	alarm_ms(50);
	errno = CANARY;
	r = accept(l, NULL, NULL);
	e = errno;
	alarm_off();
	report(name, r, e, "handled>=1:%d", n_alrm > 0);
	close(l);
}

static void s_eintr_nanosleep(const char *name)
{
	struct timespec ts = ts_of(5000 * MS), rem = { 0, 0 };
	long r;
	int e;

	handler(SIGALRM, on_alrm, SA_RESTART);	/* sleeps never restart */
	alarm_ms(50);
	errno = CANARY;
	r = nanosleep(&ts, &rem);
	e = errno;
	alarm_off();
	report(name, r, e, "handled>=1:%d rem_ok=%d", n_alrm > 0,
	       rem.tv_nsec > 0 && dt_ts(&rem) < 5000 * MS);
}

static void s_eintr_clock_nanosleep(const char *name)
{
	struct timespec ts = ts_of(5000 * MS), rem = { 0, 0 };
	struct timespec abs = abs_in(CLOCK_MONOTONIC, 5000);
	long r, r2;
	int e;

	handler(SIGALRM, on_alrm, 0);
	alarm_ms(50);
	errno = CANARY;
	r = clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &rem);
	e = errno;
	r2 = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &abs, NULL);
	alarm_off();
	report(name, r, e, "handled>=1:%d rem_ok=%d abs=%s", n_alrm > 0,
	       rem.tv_nsec > 0 && dt_ts(&rem) < 5000 * MS, E((int)r2));
}

static void s_eintr_usleep(const char *name)
{
	long r;
	int e;

	handler(SIGALRM, on_alrm, 0);
	alarm_ms(50);
	errno = CANARY;
	r = usleep(5000000);
	e = errno;
	alarm_off();
	report(name, r, e, "handled>=1:%d", n_alrm > 0);
}

static void s_eintr_sleep(const char *name)
{
	long r, r2;
	int e, e2;

	handler(SIGALRM, on_alrm, 0);
	alarm_ms(600);
	errno = CANARY;
	r = sleep(1);		/* about 0.4 s left: glibc says 0 */
	e = errno;
	alarm_ms(50);
	r2 = sleep(5);		/* about 4.95 s left: 4 */
	e2 = errno;
	alarm_off();
	report(name, r, e, "handled>=1:%d sleep2=%ld:%s", n_alrm > 0, r2,
	       E(e2));
}

static void s_eintr_poll(const char *name)
{
	int p[2];
	struct pollfd f;
	long r;
	int e;

	pp(p);
	f = (struct pollfd){ p[0], POLLIN, 0 };
	handler(SIGALRM, on_alrm, SA_RESTART);	/* never restarted */
	alarm_ms(50);
	errno = CANARY;
	r = poll(&f, 1, 5000);
	e = errno;
	alarm_off();
	report(name, r, e, "handled>=1:%d", n_alrm > 0);
	close2(p);
}

static void s_eintr_select(const char *name)
{
	int p[2];
	fd_set rs;
	long r;
	int e;

	pp(p);
	FD_ZERO(&rs);
	FD_SET(p[0], &rs);
	handler(SIGALRM, on_alrm, SA_RESTART);
	alarm_ms(50);
	errno = CANARY;
	r = select(p[0] + 1, &rs, NULL, NULL, NULL);
	e = errno;
	alarm_off();
	report(name, r, e, "handled>=1:%d", n_alrm > 0);
	close2(p);
}

static void s_eintr_epoll(const char *name)
{
	int p[2], ep = epoll_create1(0);
	struct epoll_event ev = { .events = EPOLLIN }, out[1];
	long r;
	int e;

	pp(p);
	epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev);
	handler(SIGALRM, on_alrm, SA_RESTART);
	alarm_ms(50);
	errno = CANARY;
	r = epoll_wait(ep, out, 1, 5000);
	e = errno;
	alarm_off();
	report(name, r, e, "handled>=1:%d", n_alrm > 0);
	close2(p);
	close(ep);
}

static void s_eintr_sem_wait(const char *name)
{
	sem_t s;
	long r;
	int e;

	sem_init(&s, 0, 0);
	handler(SIGALRM, on_alrm, 0);
	alarm_ms(50);
	errno = CANARY;
	r = sem_wait(&s);
	e = errno;
	alarm_off();
	report(name, r, e, "handled>=1:%d", n_alrm > 0);
	sem_destroy(&s);
}

static void s_eintr_sem_wait_restart(const char *name)
{
	sem_t s;
	pthread_t t;
	long r;
	int e;

	sem_init(&s, 0, 0);
	handler(SIGALRM, on_alrm, SA_RESTART);
	alarm_ms(30);
	t = later(300, do_sem_post, &s);
	errno = CANARY;
	r = sem_wait(&s);
	e = errno;
	alarm_off();
	report(name, r, e, "handled>=1:%d", n_alrm > 0);
	join(t);
	sem_destroy(&s);
}

static void s_eintr_sem_timedwait(const char *name)
{
	sem_t s;
	struct timespec ts = abs_in(CLOCK_REALTIME, 5000);
	long r;
	int e;

	sem_init(&s, 0, 0);
	handler(SIGALRM, on_alrm, 0);
	alarm_ms(50);
	errno = CANARY;
	r = sem_timedwait(&s, &ts);
	e = errno;
	alarm_off();
	report(name, r, e, "handled>=1:%d", n_alrm > 0);
	sem_destroy(&s);
}

static pthread_mutex_t cm = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cc = PTHREAD_COND_INITIALIZER;
static int cflag;

static void cond_set(void *p)
{
	(void)p;
	pthread_mutex_lock(&cm);
	cflag = 1;
	pthread_cond_signal(&cc);
	pthread_mutex_unlock(&cm);
}

static void s_eintr_cond_wait(const char *name)
{
	pthread_t t;
	int rc = 0;

	/* Not interrupted: the handler runs, the wait goes on. */
	handler(SIGALRM, on_alrm, 0);
	cflag = 0;
	alarm_ms(30);
	t = later(300, cond_set, NULL);
	pthread_mutex_lock(&cm);
	while (!cflag && !rc)
		rc = pthread_cond_wait(&cc, &cm);
	pthread_mutex_unlock(&cm);
	alarm_off();
	report_rc(name, rc, "flag=%d handled>=1:%d", cflag, n_alrm > 0);
	join(t);
}

static void *sleeper(void *p)
{
	msleep((int)(intptr_t)p);
	return (void *)7;
}

/* A thread that ends (returning 7) when *go is posted. */
static void *gated(void *p)
{
	sem_wait(p);
	return (void *)7;
}

static void s_eintr_join(const char *name)
{
	pthread_t t;
	void *v = NULL;
	int rc;

	handler(SIGALRM, on_alrm, 0);
	alarm_ms(30);
	t = spawn(sleeper, (void *)300);
	rc = pthread_join(t, &v);
	alarm_off();
	report_rc(name, rc, "v=%ld handled>=1:%d", (long)(intptr_t)v,
		  n_alrm > 0);
}

static pthread_t main_pt;
static _Atomic int kill_done;

/* pthread_kill(main) every 50 ms until main's call returned. */
static void kill_main(void *p)
{
	while (!kill_done) {
		msleep(50);
		if (!kill_done)
			pthread_kill(main_pt, (int)(intptr_t)p);
	}
}

static void s_eintr_kill_main(const char *name)
{
	int p[2];
	char b[8];
	pthread_t t;
	long r;
	int e;

	pp(p);
	handler(SIGUSR1, on_usr1, 0);
	n_usr1 = 0;
	kill_done = 0;
	t = later(0, kill_main, (void *)SIGUSR1);
	errno = CANARY;
	r = read(p[0], b, sizeof(b));
	e = errno;
	kill_done = 1;
	join(t);
	report(name, r, e, "handled>=1:%d", n_usr1 > 0);
	close2(p);
}

struct blocked_read {
	int fd;
	long r;
	int e;
	_Atomic int done;
};

static void *blocked_reader(void *p)
{
	struct blocked_read *x = p;
	char b[8];

	errno = CANARY;
	x->r = read(x->fd, b, sizeof(b));
	x->e = errno;
	x->done = 1;
	return NULL;
}

/* pthread_kill the reader every 50 ms until its read returned. */
static void kill_reader(const char *name, int flags)
{
	struct blocked_read x = { 0 };
	struct wr w;
	int p[2];
	pthread_t t, tw = 0;

	pp(p);
	handler(SIGUSR1, on_usr1, flags);
	n_usr1 = 0;
	x.fd = p[0];
	t = spawn(blocked_reader, &x);
	if (flags & SA_RESTART) {
		w.fd = p[1];
		w.s = "data";
		tw = later(300, do_write, &w);
	}
	while (!x.done) {
		msleep(50);
		if (!x.done)
			pthread_kill(t, SIGUSR1);
	}
	join(t);
	if (tw)
		join(tw);
	report(name, x.r, x.e, "handled>=1:%d", n_usr1 > 0);
	close2(p);
}

static void s_eintr_kill_thread(const char *name)
{
	kill_reader(name, 0);
}

static void s_eintr_kill_thread_restart(const char *name)
{
	kill_reader(name, SA_RESTART);
}

/* ---- waiting for a signal: the main thread has it blocked, a thread
 * sends it to the process every 50 ms until main's call returned ---- */

static _Atomic int sig_done;

static void kill_process(void *p)
{
	while (!sig_done) {
		msleep(50);
		if (!sig_done)
			kill(getpid(), (int)(intptr_t)p);
	}
}

/* Block SIGUSR1 in main (the sender inherits it), start the sender. */
static pthread_t sig_sender(sigset_t *old)
{
	sigset_t one;

	sigemptyset(&one);
	sigaddset(&one, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &one, old);
	handler(SIGUSR1, on_usr1, 0);
	n_usr1 = 0;
	sig_done = 0;
	return later(0, kill_process, (void *)SIGUSR1);
}

static void sig_sender_end(pthread_t t, sigset_t *old)
{
	struct timespec z = { 0, 0 };
	sigset_t one;

	sig_done = 1;
	join(t);
	sigemptyset(&one);
	sigaddset(&one, SIGUSR1);
	while (sigtimedwait(&one, NULL, &z) > 0)	/* drop leftovers */
		;
	pthread_sigmask(SIG_SETMASK, old, NULL);
}

static void s_sigmask_ppoll(const char *name)
{
	sigset_t old, empty;
	struct timespec ts = ts_of(10000 * MS);
	struct pollfd f;
	int p[2], ep, e1, e2, e3;
	fd_set rs;
	pthread_t t;
	long r1, r2, r3;
	struct epoll_event ev = { .events = EPOLLIN }, out[1];

	pp(p);
	ep = epoll_create1(0);
	epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev);
	sigemptyset(&empty);
	t = sig_sender(&old);
	f = (struct pollfd){ p[0], POLLIN, 0 };
	errno = CANARY;
	r1 = ppoll(&f, 1, &ts, &empty);	/* unblocked while it waits */
	e1 = errno;
	FD_ZERO(&rs);
	FD_SET(p[0], &rs);
	errno = CANARY;
	r2 = pselect(p[0] + 1, &rs, NULL, NULL, &ts, &empty);
	e2 = errno;
	errno = CANARY;
	r3 = epoll_pwait(ep, out, 1, 10000, &empty);
	e3 = errno;
	sig_sender_end(t, &old);
	report(name, r1, e1, "pselect=%ld:%s epoll_pwait=%ld:%s handled>=1:%d",
	       r2, E(e2), r3, E(e3), n_usr1 > 0);
	close2(p);
	close(ep);
}

static void s_sigsuspend(const char *name)
{
	sigset_t old, empty, now;
	pthread_t t;
	long r;
	int e;

	sigemptyset(&empty);
	t = sig_sender(&old);
	errno = CANARY;
	r = sigsuspend(&empty);
	e = errno;
	pthread_sigmask(SIG_SETMASK, NULL, &now);	/* restored by it */
	sig_sender_end(t, &old);
	report(name, r, e, "handled>=1:%d mask_restored=%d", n_usr1 > 0,
	       sigismember(&now, SIGUSR1));
}

static void s_pause(const char *name)
{
	pthread_t t;
	long r;
	int e;

	handler(SIGUSR1, on_usr1, SA_RESTART);	/* pause: EINTR anyway */
	n_usr1 = 0;
	sig_done = 0;
	t = later(0, kill_process, (void *)SIGUSR1);
	errno = CANARY;
	r = pause();
	e = errno;
	sig_done = 1;
	join(t);
	report(name, r, e, "handled>=1:%d", n_usr1 > 0);
}

static void s_sigwait(const char *name)
{
	sigset_t old, one;
	siginfo_t si;
	struct timespec ts = ts_of(100 * MS), big = ts_of(10000 * MS);
	int sig = 0, r;
	long r2, r3, r4;
	int e2, e3, e4;
	int64_t t0;
	pthread_t t;

	sigemptyset(&one);
	sigaddset(&one, SIGUSR1);
	t = sig_sender(&old);
	r = sigwait(&one, &sig);
	memset(&si, 0, sizeof(si));
	errno = CANARY;
	r2 = sigwaitinfo(&one, &si);
	e2 = errno;
	errno = CANARY;
	r3 = sigtimedwait(&one, &si, &big);
	e3 = errno;
	sig_sender_end(t, &old);
	pthread_sigmask(SIG_BLOCK, &one, &old);
	t0 = now_ns();
	errno = CANARY;
	r4 = sigtimedwait(&one, &si, &ts);	/* nothing comes: EAGAIN */
	e4 = errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	report_rc(name, r, "sig=%d waitinfo=%ld:%s code=%d timed=%ld:%s "
		  "timeout=%ld:%s waited:%d handled=%d", sig, r2, E(e2),
		  si.si_code, r3, E(e3), r4, E(e4), waited(t0, 100),
		  (int)n_usr1);
}

/* A thread signalling itself (raise, pthread_kill and pthread_sigqueue of
 * pthread_self) runs the handler before the call returns.  Eight threads
 * in turn, all alive at once (under the shim: spread over the workers). */
struct selfsig {
	sem_t turn[9];
	int ok;
};

static void *selfsig_thread(void *p)
{
	struct selfsig *x = p;
	int before, good = 0;
	union sigval v = { .sival_int = 1 };

	sem_wait(&x->turn[0]);		/* see s_selfsig: one at a time */
	before = n_usr1;
	good += raise(SIGUSR2) == 0 && n_usr1 == before + 1;
	good += pthread_kill(pthread_self(), SIGUSR2) == 0 &&
		n_usr1 == before + 2;
	good += pthread_sigqueue(pthread_self(), SIGUSR2, v) == 0 &&
		n_usr1 == before + 3;
	x->ok += good == 3;
	sem_post(&x->turn[1]);
	return NULL;
}

static void on_usr2(int s)
{
	(void)s;
	n_usr1++;
}

static void s_self_signal(const char *name)
{
	struct selfsig x;
	pthread_t t[8];
	int i;

	memset(&x, 0, sizeof(x));
	sem_init(&x.turn[0], 0, 0);
	sem_init(&x.turn[1], 0, 0);
	handler(SIGUSR2, on_usr2, 0);
	n_usr1 = 0;
	for (i = 0; i < 8; i++)
		t[i] = spawn(selfsig_thread, &x);
	msleep(20);
	for (i = 0; i < 8; i++) {
		sem_post(&x.turn[0]);
		sem_wait(&x.turn[1]);
	}
	for (i = 0; i < 8; i++)
		join(t[i]);
	report_rc(name, 0, "synchronous=%d/8 total=%d", x.ok, (int)n_usr1);
	sem_destroy(&x.turn[0]);
	sem_destroy(&x.turn[1]);
}

static void s_kill_errors(const char *name)
{
	sem_t go;
	pthread_t t;
	int r1, r2;

	sem_init(&go, 0, 0);
	t = spawn(gated, &go);
	r1 = pthread_kill(t, 0);
	r2 = pthread_kill(t, 12345);
	sem_post(&go);
	join(t);
	report_rc(name, r1, "bad_sig=%s", E(r2));
	sem_destroy(&go);
}

/* shutdown() from another thread ends a blocked read with EOF. */
static void s_shutdown_wakes_read(const char *name)
{
	int v[2], c, s;
	char b[8];
	long r1, r2;
	pthread_t t;

	sp(SOCK_STREAM, v);
	t = later(50, do_shutdown, (void *)(intptr_t)v[0]);
	errno = CANARY;
	r1 = read(v[0], b, sizeof(b));
	join(t);
	tcp_pair(&c, &s);
	t = later(50, do_shutdown, (void *)(intptr_t)c);
	r2 = read(c, b, sizeof(b));
	join(t);
	report(name, r1, errno, "tcp=%ld", r2);
	close2(v);
	close(c);
	close(s);
}

/* ---------------------------------------------------------------- */
/* mutexes                                                            */

static void mutex_of(pthread_mutex_t *m, int type)
{
	pthread_mutexattr_t a;

	pthread_mutexattr_init(&a);
	pthread_mutexattr_settype(&a, type);
	pthread_mutex_init(m, &a);
	pthread_mutexattr_destroy(&a);
}

struct mres {
	pthread_mutex_t *m;
	int a, b, c;
};

static void *mutex_other(void *p)
{
	struct mres *x = p;
	struct timespec ts = abs_in(CLOCK_REALTIME, 100);

	x->a = pthread_mutex_unlock(x->m);
	x->b = pthread_mutex_trylock(x->m);
	x->c = pthread_mutex_timedlock(x->m, &ts);
	return NULL;
}

static void s_mutex_errorcheck(const char *name)
{
	pthread_mutex_t m;
	struct mres x = { &m, 0, 0, 0 };
	int r1, r2, r3, r4;

	mutex_of(&m, PTHREAD_MUTEX_ERRORCHECK);
	r1 = pthread_mutex_lock(&m);
	r2 = pthread_mutex_lock(&m);
	r3 = pthread_mutex_trylock(&m);
	join(spawn(mutex_other, &x));
	r4 = pthread_mutex_unlock(&m);
	report_rc(name, r1, "relock=%s trylock=%s other_unlock=%s "
		  "other_trylock=%s other_timed=%s unlock=%s unlock_again=%s",
		  E(r2), E(r3), E(x.a), E(x.b), E(x.c), E(r4),
		  E(pthread_mutex_unlock(&m)));
	pthread_mutex_destroy(&m);
}

static void s_mutex_recursive(const char *name)
{
	pthread_mutex_t m;
	struct mres x = { &m, 0, 0, 0 };
	int r[4], u[4], i;

	mutex_of(&m, PTHREAD_MUTEX_RECURSIVE);
	r[0] = pthread_mutex_lock(&m);
	r[1] = pthread_mutex_lock(&m);
	r[2] = pthread_mutex_trylock(&m);
	join(spawn(mutex_other, &x));
	for (i = 0; i < 4; i++)
		u[i] = pthread_mutex_unlock(&m);
	report_rc(name, r[0], "lock2=%s trylock3=%s other=%s/%s/%s "
		  "unlocks=%s,%s,%s,%s", E(r[1]), E(r[2]), E(x.a), E(x.b),
		  E(x.c), E(u[0]), E(u[1]), E(u[2]), E(u[3]));
	pthread_mutex_destroy(&m);
}

static void *normal_unlock_other(void *p)
{
	return (void *)(intptr_t)pthread_mutex_unlock(p);
}

static void s_mutex_normal(const char *name)
{
	pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	struct timespec ts = abs_in(CLOCK_REALTIME, 100), bad = { 0, -5 };
	struct timespec mono = abs_in(CLOCK_MONOTONIC, 100);
	int r1, r2, r3, r4, r5, r6, r7, r8;
	void *v;
	int64_t t0;
	pthread_t t;

	r1 = pthread_mutex_trylock(&m);
	r2 = pthread_mutex_trylock(&m);
	r8 = pthread_mutex_destroy(&m);
	t0 = now_ns();
	r3 = pthread_mutex_timedlock(&m, &ts);
	r4 = pthread_mutex_clocklock(&m, CLOCK_MONOTONIC, &mono);
	r5 = pthread_mutex_timedlock(&m, &bad);
	r6 = pthread_mutex_clocklock(&m, CLOCK_PROCESS_CPUTIME_ID, &mono);
	t = spawn(normal_unlock_other, &m);	/* glibc: unlocks */
	pthread_join(t, &v);
	r7 = pthread_mutex_timedlock(&m, &bad);	/* free: not looked at */
	report_rc(name, r1, "trylock2=%s destroy_locked=%s timed=%s "
		  "clock_mono=%s waited:%d bad_ts=%s bad_clock=%s "
		  "other_unlock=%s free_bad_ts=%s", E(r2), E(r8), E(r3),
		  E(r4), waited(t0, 100), E(r5), E(r6), E((int)(intptr_t)v),
		  E(r7));
	pthread_mutex_unlock(&m);
	pthread_mutex_destroy(&m);
}

struct handoff {
	pthread_mutex_t m;
	int order[8];
	int n;
};

static void *mutex_queue(void *p)
{
	struct handoff *h = p;

	pthread_mutex_lock(&h->m);
	h->order[h->n++] = 1;
	pthread_mutex_unlock(&h->m);
	return NULL;
}

static void s_mutex_contended(const char *name)
{
	struct handoff h = { PTHREAD_MUTEX_INITIALIZER, { 0 }, 0 };
	pthread_t t[4];
	int i;

	pthread_mutex_lock(&h.m);
	for (i = 0; i < 4; i++)
		t[i] = spawn(mutex_queue, &h);
	msleep(50);
	pthread_mutex_unlock(&h.m);
	for (i = 0; i < 4; i++)
		join(t[i]);
	report_rc(name, 0, "entered=%d", h.n);
}

/* ---------------------------------------------------------------- */
/* condition variables                                                */

static void s_cond_timedwait_real(const char *name)
{
	pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t c = PTHREAD_COND_INITIALIZER;
	struct timespec ts = abs_in(CLOCK_REALTIME, 100);
	int64_t t0 = now_ns();
	int rc, held;

	pthread_mutex_lock(&m);
	rc = pthread_cond_timedwait(&c, &m, &ts);
	held = pthread_mutex_trylock(&m);
	report_rc(name, rc, "waited:%d trylock_after=%s", waited(t0, 100),
		  E(held));
	pthread_mutex_unlock(&m);
}

static void s_cond_timedwait_mono(const char *name)
{
	pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t c;
	pthread_condattr_t a;
	struct timespec ts = abs_in(CLOCK_MONOTONIC, 100);
	clockid_t got = -1;
	int64_t t0 = now_ns();
	int rc;

	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_condattr_getclock(&a, &got);
	pthread_cond_init(&c, &a);
	pthread_mutex_lock(&m);
	rc = pthread_cond_timedwait(&c, &m, &ts);
	pthread_mutex_unlock(&m);
	report_rc(name, rc, "clock=%d waited:%d", (int)got, waited(t0, 100));
	pthread_cond_destroy(&c);
	pthread_condattr_destroy(&a);
}

static void s_cond_clockwait(const char *name)
{
	pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t c = PTHREAD_COND_INITIALIZER;
	struct timespec ts = abs_in(CLOCK_MONOTONIC, 100), bad = { 0, 2000000000 };
	int64_t t0 = now_ns();
	int rc, r2, r3, r4;

	pthread_mutex_lock(&m);
	rc = pthread_cond_clockwait(&c, &m, CLOCK_MONOTONIC, &ts);
	r2 = pthread_cond_clockwait(&c, &m, CLOCK_PROCESS_CPUTIME_ID, &ts);
	r3 = pthread_cond_timedwait(&c, &m, &bad);
	ts = (struct timespec){ 1, 0 };
	r4 = pthread_cond_timedwait(&c, &m, &ts);	/* long past */
	pthread_mutex_unlock(&m);
	report_rc(name, rc, "waited:%d bad_clock=%s bad_ts=%s past=%s",
		  waited(t0, 100), E(r2), E(r3), E(r4));
}

static void s_cond_errorcheck_eperm(const char *name)
{
	pthread_mutex_t m;
	pthread_cond_t c = PTHREAD_COND_INITIALIZER;
	struct timespec ts = abs_in(CLOCK_REALTIME, 10);

	mutex_of(&m, PTHREAD_MUTEX_ERRORCHECK);
	report_rc(name, pthread_cond_wait(&c, &m), "timed=%s",
		  E(pthread_cond_timedwait(&c, &m, &ts)));
	pthread_mutex_destroy(&m);
}

struct cwait {
	pthread_mutex_t m;
	pthread_cond_t c;
	int go, woken, waiting;
};

static void *cond_waiter(void *p)
{
	struct cwait *w = p;

	pthread_mutex_lock(&w->m);
	w->waiting++;
	while (w->go == 0)
		pthread_cond_wait(&w->c, &w->m);
	w->go--;
	w->woken++;
	pthread_mutex_unlock(&w->m);
	return NULL;
}

static void s_cond_signal_broadcast(const char *name)
{
	struct cwait w = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
			   0, 0, 0 };
	pthread_t t[3];
	int i, after_signal, after_bcast, waiting;

	for (i = 0; i < 3; i++)
		t[i] = spawn(cond_waiter, &w);
	for (;;) {
		pthread_mutex_lock(&w.m);
		waiting = w.waiting;
		pthread_mutex_unlock(&w.m);
		if (waiting == 3)
			break;
		msleep(5);
	}
	pthread_mutex_lock(&w.m);
	w.go = 1;
	pthread_cond_signal(&w.c);
	pthread_mutex_unlock(&w.m);
	for (i = 0; i < 500; i++) {	/* the one woken, then a margin */
		pthread_mutex_lock(&w.m);
		after_signal = w.woken;
		pthread_mutex_unlock(&w.m);
		if (after_signal)
			break;
		msleep(10);
	}
	msleep(50);
	pthread_mutex_lock(&w.m);
	after_signal = w.woken;
	w.go = 2;
	pthread_cond_broadcast(&w.c);
	pthread_mutex_unlock(&w.m);
	for (i = 0; i < 3; i++)
		join(t[i]);
	after_bcast = w.woken;
	report_rc(name, 0, "after_signal=%d after_broadcast=%d", after_signal,
		  after_bcast);
}

/* ---------------------------------------------------------------- */
/* rwlock                                                             */

struct rwres {
	pthread_rwlock_t *rw;
	int a, b, c, d;
};

static void *rw_other(void *p)
{
	struct rwres *x = p;
	struct timespec ts = abs_in(CLOCK_REALTIME, 100);

	x->a = pthread_rwlock_trywrlock(x->rw);
	x->b = pthread_rwlock_timedwrlock(x->rw, &ts);
	x->c = pthread_rwlock_tryrdlock(x->rw);
	if (!x->c)
		pthread_rwlock_unlock(x->rw);
	return NULL;
}

static void *rw_other_w(void *p)
{
	struct rwres *x = p;
	struct timespec ts = abs_in(CLOCK_MONOTONIC, 100);

	x->a = pthread_rwlock_tryrdlock(x->rw);
	x->b = pthread_rwlock_clockrdlock(x->rw, CLOCK_MONOTONIC, &ts);
	x->c = pthread_rwlock_trywrlock(x->rw);
	return NULL;
}

static void s_rwlock(const char *name)
{
	pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
	struct rwres x = { &rw, 0, 0, 0, 0 }, y = { &rw, 0, 0, 0, 0 };
	struct timespec ts = abs_in(CLOCK_MONOTONIC, 10), bad = { 0, -1 };
	int r1, r2, r3, r4, r5, r6, r7, r8;

	r1 = pthread_rwlock_rdlock(&rw);
	r2 = pthread_rwlock_rdlock(&rw);
	join(spawn(rw_other, &x));
	pthread_rwlock_unlock(&rw);
	pthread_rwlock_unlock(&rw);
	r3 = pthread_rwlock_wrlock(&rw);
	r4 = pthread_rwlock_wrlock(&rw);
	r5 = pthread_rwlock_rdlock(&rw);
	r6 = pthread_rwlock_trywrlock(&rw);
	join(spawn(rw_other_w, &y));
	r7 = pthread_rwlock_clockwrlock(&rw, CLOCK_PROCESS_CPUTIME_ID, &ts);
	r8 = pthread_rwlock_timedwrlock(&rw, &bad);
	pthread_rwlock_unlock(&rw);
	report_rc(name, r1, "rd2=%s other:trywr=%s timedwr=%s tryrd=%s "
		  "wr=%s wr2=%s rd_own=%s trywr_own=%s other:tryrd=%s "
		  "clockrd=%s trywr=%s bad_clock=%s bad_ts_held=%s "
		  "free_bad_ts=%s", E(r2), E(x.a), E(x.b), E(x.c), E(r3),
		  E(r4), E(r5), E(r6), E(y.a), E(y.b), E(y.c), E(r7), E(r8),
		  E(pthread_rwlock_timedrdlock(&rw, &bad)));
	pthread_rwlock_unlock(&rw);
	pthread_rwlock_destroy(&rw);
}

/* ---------------------------------------------------------------- */
/* semaphores                                                         */

static void s_sem(const char *name)
{
	sem_t s;
	struct timespec ts = abs_in(CLOCK_REALTIME, 100);
	struct timespec mono = abs_in(CLOCK_MONOTONIC, 200);
	struct timespec bad = { 0, 1000000000 }, neg = { -1, 0 };
	int64_t t0;
	int v1 = -1, v2 = -1;
	const char *a, *b, *c, *d, *f, *g, *h, *i2;
	long r;
	int e, w;

	sem_init(&s, 0, 0);
	errno = CANARY;
	r = sem_trywait(&s);
	e = errno;
	t0 = now_ns();
	a = CE(sem_timedwait(&s, &ts));
	b = CE(sem_clockwait(&s, CLOCK_MONOTONIC, &mono));
	w = waited(t0, 200);
	c = CE(sem_clockwait(&s, CLOCK_PROCESS_CPUTIME_ID, &mono));
	d = CE(sem_timedwait(&s, &bad));
	i2 = CE(sem_timedwait(&s, &neg));
	sem_post(&s);
	sem_post(&s);
	sem_getvalue(&s, &v1);
	f = CE(sem_timedwait(&s, &bad));
	g = CE(sem_clockwait(&s, CLOCK_PROCESS_CPUTIME_ID, &mono));
	h = CE(sem_timedwait(&s, &neg));
	sem_getvalue(&s, &v2);
	report(name, r, e, "timed=%s clock_mono=%s waited:%d bad_clock=%s "
	       "bad_ts=%s neg_ts=%s value=%d bad_ts_avail=%s "
	       "bad_clock_avail=%s neg_ts_avail=%s value=%d", a, b, w, c, d,
	       i2, v1, f, g, h, v2);
	sem_destroy(&s);
}

static void s_sem_limits(const char *name)
{
	sem_t s;
	long r;
	int e;

	errno = CANARY;
	r = sem_init(&s, 0, (unsigned)SEM_VALUE_MAX + 1u);
	e = errno;
	sem_init(&s, 0, SEM_VALUE_MAX);
	report(name, r, e, "overflow=%s", CE(sem_post(&s)));
	sem_destroy(&s);
}

static void s_sem_wait_post(const char *name)
{
	sem_t s;
	pthread_t t;
	int64_t t0 = now_ns();
	long r;

	sem_init(&s, 0, 0);
	t = later(50, do_sem_post, &s);
	errno = CANARY;
	r = sem_wait(&s);
	report(name, r, errno, "waited:%d", waited(t0, 50));
	join(t);
	sem_destroy(&s);
}

/* ---------------------------------------------------------------- */
/* barrier, once, keys                                                */

static pthread_barrier_t bar;
static _Atomic int serials;

static void *bar_thread(void *p)
{
	(void)p;
	for (int i = 0; i < 3; i++)
		if (pthread_barrier_wait(&bar) == PTHREAD_BARRIER_SERIAL_THREAD)
			serials++;
	return NULL;
}

static void s_barrier(const char *name)
{
	pthread_barrier_t b0;
	pthread_t t[4];
	int i, r0;

	r0 = pthread_barrier_init(&b0, NULL, 0);
	pthread_barrier_init(&bar, NULL, 4);
	serials = 0;
	for (i = 0; i < 4; i++)
		t[i] = spawn(bar_thread, NULL);
	for (i = 0; i < 4; i++)
		join(t[i]);
	report_rc(name, r0, "serials=%d destroy=%s", serials,
		  E(pthread_barrier_destroy(&bar)));
}

static pthread_once_t once = PTHREAD_ONCE_INIT;
static _Atomic int once_calls;
static _Atomic int once_seen;

static void once_fn(void)
{
	msleep(20);
	once_calls++;
}

static void *once_thread(void *p)
{
	(void)p;
	pthread_once(&once, once_fn);
	if (once_calls == 1)
		once_seen++;
	return NULL;
}

static void s_once(const char *name)
{
	pthread_t t[8];
	int i;

	for (i = 0; i < 8; i++)
		t[i] = spawn(once_thread, NULL);
	for (i = 0; i < 8; i++)
		join(t[i]);
	report_rc(name, pthread_once(&once, once_fn), "calls=%d seen=%d",
		  once_calls, once_seen);
}

static pthread_key_t key1, key2;
static _Atomic int dtor_calls, dtor_resets;

static void dtor1(void *v)
{
	if (v == (void *)0x51)
		dtor_calls++;
}

static void dtor2(void *v)
{
	(void)v;
	dtor_resets++;
	pthread_setspecific(key2, (void *)0x52);	/* again and again */
}

static void *key_thread(void *p)
{
	pthread_setspecific(key1, p);
	if (pthread_getspecific(key1) != p)
		abort();
	return NULL;
}

static void *key_thread2(void *p)
{
	(void)p;
	pthread_setspecific(key2, (void *)0x52);
	return NULL;
}

static void s_keys(const char *name)
{
	pthread_t t[5];
	int i, r0, rdel, rdel2;

	r0 = pthread_key_create(&key1, dtor1);
	pthread_key_create(&key2, dtor2);
	dtor_calls = dtor_resets = 0;
	for (i = 0; i < 5; i++)
		t[i] = spawn(key_thread, i < 4 ? (void *)0x51 : NULL);
	for (i = 0; i < 5; i++)
		join(t[i]);
	join(spawn(key_thread2, NULL));
	pthread_setspecific(key1, (void *)0x99);
	rdel = pthread_key_delete(key1);
	rdel2 = pthread_key_delete(key2);
	report_rc(name, r0, "dtor_calls=%d dtor_rounds=%d delete=%s "
		  "delete_again=%s", dtor_calls, dtor_resets, E(rdel),
		  E(pthread_key_delete(key1)));
	(void)rdel2;
}

static void s_keys_limit(const char *name)
{
	static pthread_key_t k[2048];
	int n = 0, r = 0;

	while (n < 2048 && !(r = pthread_key_create(&k[n], NULL)))
		n++;
	for (int i = 0; i < n; i++)
		pthread_key_delete(k[i]);
	report_rc(name, r, "created_many=%d", n > 1000 && n <= 1024);
}

/* ---------------------------------------------------------------- */
/* join, detach, exit                                                 */

static void *ret_arg(void *p)
{
	return p;
}

static void *exit_arg(void *p)
{
	pthread_exit(p);
}

static void s_join_exit_value(const char *name)
{
	void *a = NULL, *b = NULL;
	int r1, r2;

	r1 = pthread_join(spawn(ret_arg, (void *)11), &a);
	r2 = pthread_join(spawn(exit_arg, (void *)22), &b);
	report_rc(name, r1, "ret=%ld exit=%s:%ld", (long)(intptr_t)a, E(r2),
		  (long)(intptr_t)b);
}

static void s_join_detached(const char *name)
{
	pthread_attr_t a;
	pthread_t t, t2;
	sem_t go;
	int ds = -1, r1, r2, r3;

	sem_init(&go, 0, 0);
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	pthread_attr_getdetachstate(&a, &ds);
	pthread_create(&t, &a, gated, &go);
	r1 = pthread_join(t, NULL);
	t2 = spawn(gated, &go);
	r2 = pthread_detach(t2);
	r3 = pthread_detach(t2);
	sem_post(&go);
	sem_post(&go);
	report_rc(name, r1, "detach=%s detach_again=%s attr=%d", E(r2), E(r3),
		  ds);
	pthread_attr_destroy(&a);
	msleep(50);	/* both end on their own */
	sem_destroy(&go);
}

static void s_join_twice(const char *name)
{
	pthread_t t = spawn(ret_arg, NULL);
	int r1 = pthread_join(t, NULL);

	report_rc(name, r1, "again=%s", E(pthread_join(t, NULL)));
}

static void s_join_self(const char *name)
{
	report_rc(name, pthread_join(pthread_self(), NULL), "-");
}

static void s_tryjoin(const char *name)
{
	sem_t go;
	pthread_t t, tp;
	struct timespec ts = abs_in(CLOCK_REALTIME, 50), bad = { 0, -1 };
	struct timespec mono = abs_in(CLOCK_MONOTONIC, 50), neg = { -1, 0 };
	int64_t t0 = now_ns();
	int r1, r2, r3, r4, r5, r6, r7;
	void *v = NULL;

	sem_init(&go, 0, 0);
	t = spawn(gated, &go);
	r1 = pthread_tryjoin_np(t, NULL);
	r2 = pthread_timedjoin_np(t, NULL, &ts);
	r3 = pthread_clockjoin_np(t, NULL, CLOCK_MONOTONIC, &mono);
	r4 = pthread_clockjoin_np(t, NULL, CLOCK_PROCESS_CPUTIME_ID, &mono);
	r7 = pthread_timedjoin_np(t, NULL, &neg);
	tp = later(50, do_sem_post, &go);
	r5 = pthread_timedjoin_np(t, &v, &bad);	/* glibc: waits */
	ts = abs_in(CLOCK_REALTIME, 2000);
	r6 = pthread_timedjoin_np(t, NULL, &ts);
	report_rc(name, r1, "timed=%s clock_mono=%s waited:%d bad_clock=%s "
		  "neg_ts=%s bad_ts=%s:%ld then=%s", E(r2), E(r3),
		  waited(t0, 100), E(r4), E(r7), E(r5), (long)(intptr_t)v,
		  E(r6));
	join(tp);
	sem_destroy(&go);
}

struct stk {
	size_t want, size, guard;
	int contains, detach;
};

static void *stack_thread(void *p)
{
	struct stk *s = p;
	pthread_attr_t a;
	void *lo = NULL;
	int local = 0;

	if (pthread_getattr_np(pthread_self(), &a))
		return NULL;
	pthread_attr_getstack(&a, &lo, &s->size);
	pthread_attr_getguardsize(&a, &s->guard);
	pthread_attr_getdetachstate(&a, &s->detach);
	s->contains = (char *)&local >= (char *)lo &&
		      (char *)&local < (char *)lo + s->size;
	pthread_attr_destroy(&a);
	return NULL;
}

static void s_getattr_stack(const char *name)
{
	struct stk d = { 0 }, b = { 0 }, m = { 0 }, u = { 0 };
	pthread_attr_t a;
	pthread_t t;
	size_t usz = 256 << 10;
	void *ustack = aligned_alloc(4096, usz);

	join(spawn(stack_thread, &d));
	pthread_attr_init(&a);
	b.want = (3 << 20) + 12345;
	pthread_attr_setstacksize(&a, b.want);
	pthread_create(&t, &a, stack_thread, &b);
	join(t);
	pthread_attr_destroy(&a);
	pthread_attr_init(&a);
	pthread_attr_setstack(&a, ustack, usz);
	pthread_create(&t, &a, stack_thread, &u);
	join(t);
	pthread_attr_destroy(&a);
	stack_thread(&m);
	report_rc(name, 0, "default:in=%d size_mb=%zu guard=%zu "
		  "big:in=%d ge=%d user:in=%d size=%zu guard=%zu "
		  "main:in=%d detach=%d", d.contains, d.size >> 20, d.guard,
		  b.contains, b.size >= b.want, u.contains, u.size, u.guard,
		  m.contains, d.detach);
	free(ustack);
}

static void *name_thread(void *p)
{
	char *out = p, b[32] = "", c[32] = "";
	int r0, r1, r2, r3, r4;

	r0 = pthread_getname_np(pthread_self(), c, sizeof(c));
	r1 = pthread_setname_np(pthread_self(), "worker-1");
	r2 = pthread_getname_np(pthread_self(), b, sizeof(b));
	r3 = pthread_setname_np(pthread_self(), "0123456789abcdef");
	r4 = pthread_getname_np(pthread_self(), b + 16, 8);
	snprintf(out, 200, "default=%s:%s set=%s get=%s:%s long=%s short_buf=%s",
		 E(r0), c, E(r1), E(r2), b, E(r3), E(r4));
	return NULL;
}

static void s_names(const char *name)
{
	char out[200] = "", mn[32] = "";
	pthread_t t = spawn(name_thread, out);
	int r;

	join(t);
	r = pthread_getname_np(pthread_self(), mn, sizeof(mn));
	report_rc(name, r, "main=%s %s", mn, out);
}

static void *other_name(void *p)
{
	char *b = p;

	msleep(50);
	pthread_getname_np(main_pt, b, 16);
	return NULL;
}

static void s_name_main(const char *name)
{
	char b[16] = "", orig[16] = "", seen[16] = "";
	int r;

	pthread_getname_np(pthread_self(), orig, sizeof(orig));
	r = pthread_setname_np(pthread_self(), "renamed");
	pthread_getname_np(pthread_self(), b, sizeof(b));
	join(spawn(other_name, seen));
	pthread_setname_np(pthread_self(), orig);
	report_rc(name, r, "got=%s seen_by_other=%s", b, seen);
}

/* ---------------------------------------------------------------- */
/* cancellation                                                       */

static char corder[64];
static _Atomic int cn;

static void cleanup_rec(void *p)
{
	corder[cn++] = (char)(intptr_t)p;
}

struct cancel_case {
	int kind;
	int fd;
	sem_t ready;
	pthread_mutex_t m;
	pthread_cond_t c;
	sem_t sem;
	int mutex_unlock_rc;
	pthread_t other;
};

enum { C_READ, C_SLEEP, C_COND, C_SEM, C_POLL, C_ACCEPT, C_JOIN,
       C_CONDTIMED, C_WRITE, C_SELECT, C_EPOLL, C_RECV, C_USLEEP, C_CONNECT };

static void unlock_cleanup(void *p)
{
	struct cancel_case *c = p;

	corder[cn++] = 'u';
	c->mutex_unlock_rc = pthread_mutex_unlock(&c->m);
}

static void *cancel_target(void *p)
{
	struct cancel_case *c = p;
	char b[8];

	pthread_cleanup_push(cleanup_rec, (void *)'1');
	pthread_cleanup_push(cleanup_rec, (void *)'2');
	switch (c->kind) {
	case C_READ:
		sem_post(&c->ready);
		if (read(c->fd, b, sizeof(b)) >= 0)
			corder[cn++] = 'R';
		break;
	case C_RECV:
		sem_post(&c->ready);
		recv(c->fd, b, sizeof(b), 0);
		break;
	case C_WRITE:
		sem_post(&c->ready);
		if (write(c->fd, "abc", 3) >= 0)
			corder[cn++] = 'W';
		break;
	case C_SLEEP: {
		struct timespec ts = { 10, 0 };

		sem_post(&c->ready);
		nanosleep(&ts, NULL);
		break;
	}
	case C_USLEEP:
		sem_post(&c->ready);
		usleep(5000000);
		break;
	case C_COND:
	case C_CONDTIMED:
		pthread_mutex_lock(&c->m);
		pthread_cleanup_push(unlock_cleanup, c);
		sem_post(&c->ready);
		for (;;) {
			if (c->kind == C_COND) {
				pthread_cond_wait(&c->c, &c->m);
			} else {
				struct timespec ts = abs_in(CLOCK_REALTIME,
							    10000);
				pthread_cond_timedwait(&c->c, &c->m, &ts);
			}
		}
		pthread_cleanup_pop(0);
		break;
	case C_SEM:
		sem_post(&c->ready);
		sem_wait(&c->sem);
		break;
	case C_POLL: {
		struct pollfd f = { c->fd, POLLIN, 0 };

		sem_post(&c->ready);
		poll(&f, 1, -1);
		break;
	}
	case C_SELECT: {
		fd_set r;

		FD_ZERO(&r);
		FD_SET(c->fd, &r);
		sem_post(&c->ready);
		select(c->fd + 1, &r, NULL, NULL, NULL);
		break;
	}
	case C_EPOLL: {
		int ep = epoll_create1(0);
		struct epoll_event ev = { .events = EPOLLIN }, out[1];

		epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
		pthread_cleanup_push(do_close, (void *)(intptr_t)ep);
		sem_post(&c->ready);
		epoll_wait(ep, out, 1, -1);
		pthread_cleanup_pop(1);
		break;
	}
	case C_ACCEPT:
		sem_post(&c->ready);
		accept(c->fd, NULL, NULL);
		break;
	case C_JOIN:
		sem_post(&c->ready);
		pthread_join(c->other, NULL);
		break;
	}
	corder[cn++] = 'X';	/* not reached when cancelled */
	pthread_cleanup_pop(0);
	pthread_cleanup_pop(0);
	return (void *)1;
}

static void cancel_one(const char *name, int kind)
{
	struct cancel_case c;
	int p[2], port = 0, l = -1, r;
	pthread_t t;
	void *v = NULL;

	memset(&c, 0, sizeof(c));
	memset(corder, 0, sizeof(corder));
	cn = 0;
	c.kind = kind;
	pp(p);
	c.fd = p[0];
	if (kind == C_WRITE) {
		fill_pipe(p[1]);
		c.fd = p[1];
	}
	if (kind == C_ACCEPT) {
		l = tcp_listener(&port, 4, 0);
		c.fd = l;
	}
	if (kind == C_RECV) {
		int v2[2];

		sp(SOCK_STREAM, v2);
		close(p[0]);
		close(p[1]);
		p[0] = v2[0];
		p[1] = v2[1];
		c.fd = p[0];
	}
	if (kind == C_JOIN)
		c.other = spawn(sleeper, (void *)200);
	sem_init(&c.ready, 0, 0);
	sem_init(&c.sem, 0, 0);
	mutex_of(&c.m, PTHREAD_MUTEX_ERRORCHECK);
	pthread_cond_init(&c.c, NULL);
	t = spawn(cancel_target, &c);
	sem_wait(&c.ready);
	msleep(50);
	r = pthread_cancel(t);
	pthread_join(t, &v);
	if (kind == C_COND || kind == C_CONDTIMED) {
		int lr = pthread_mutex_trylock(&c.m);

		report_rc(name, r, "canceled=%d order=%s handler_unlock=%s "
			  "trylock_after=%s", v == PTHREAD_CANCELED, corder,
			  E(c.mutex_unlock_rc), E(lr));
		if (!lr)
			pthread_mutex_unlock(&c.m);
	} else if (kind == C_JOIN) {
		void *ov = NULL;
		int jr = pthread_join(c.other, &ov);

		report_rc(name, r, "canceled=%d order=%s other_join=%s:%ld",
			  v == PTHREAD_CANCELED, corder, E(jr),
			  (long)(intptr_t)ov);
	} else {
		report_rc(name, r, "canceled=%d order=%s", v == PTHREAD_CANCELED,
			  corder);
	}
	close2(p);
	if (l >= 0)
		close(l);
	sem_destroy(&c.ready);
	sem_destroy(&c.sem);
	pthread_mutex_destroy(&c.m);
	pthread_cond_destroy(&c.c);
}

static void s_cancel_read(const char *n) { cancel_one(n, C_READ); }
static void s_cancel_recv(const char *n) { cancel_one(n, C_RECV); }
static void s_cancel_write(const char *n) { cancel_one(n, C_WRITE); }
static void s_cancel_nanosleep(const char *n) { cancel_one(n, C_SLEEP); }
static void s_cancel_usleep(const char *n) { cancel_one(n, C_USLEEP); }
static void s_cancel_cond_wait(const char *n) { cancel_one(n, C_COND); }
static void s_cancel_cond_timedwait(const char *n) { cancel_one(n, C_CONDTIMED); }
static void s_cancel_sem_wait(const char *n) { cancel_one(n, C_SEM); }
static void s_cancel_poll(const char *n) { cancel_one(n, C_POLL); }
static void s_cancel_select(const char *n) { cancel_one(n, C_SELECT); }
static void s_cancel_epoll(const char *n) { cancel_one(n, C_EPOLL); }
static void s_cancel_accept(const char *n) { cancel_one(n, C_ACCEPT); }
static void s_cancel_join(const char *n) { cancel_one(n, C_JOIN); }

/* Many targets blocked in different calls, cancelled in a row. */
static void s_cancel_many(const char *name)
{
	static const int kinds[] = { C_READ, C_SLEEP, C_SEM, C_POLL, C_READ,
				     C_SLEEP, C_USLEEP, C_SELECT };
	struct cancel_case c[8];
	pthread_t t[8];
	int i, ok = 0, p[8][2];

	memset(c, 0, sizeof(c));
	cn = 0;
	for (i = 0; i < 8; i++) {
		c[i].kind = kinds[i];
		pp(p[i]);
		c[i].fd = p[i][0];
		sem_init(&c[i].ready, 0, 0);
		sem_init(&c[i].sem, 0, 0);
		t[i] = spawn(cancel_target, &c[i]);
	}
	for (i = 0; i < 8; i++)
		sem_wait(&c[i].ready);
	msleep(50);
	for (i = 0; i < 8; i++)
		pthread_cancel(t[i]);
	for (i = 0; i < 8; i++) {
		void *v = NULL;

		pthread_join(t[i], &v);
		ok += v == PTHREAD_CANCELED;
		close2(p[i]);
		sem_destroy(&c[i].ready);
		sem_destroy(&c[i].sem);
	}
	report_rc(name, 0, "canceled=%d handlers=%d", ok, (int)cn);
}

static sem_t cs_go, cs_ready;
static char cs_log[64];

static void *cancel_disabled_thread(void *p)
{
	int old = -1, old2 = -1;
	struct timespec ts = ts_of(100 * MS);

	(void)p;
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
	sem_post(&cs_ready);
	sem_wait(&cs_go);			/* cancelled by now */
	if (nanosleep(&ts, NULL) == 0)		/* not acted on: disabled */
		strcat(cs_log, "slept,");
	pthread_testcancel();
	strcat(cs_log, "tested,");
	pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, &old2);
	strcat(cs_log, "enabled,");		/* deferred: not yet */
	snprintf(cs_log + strlen(cs_log), 16, "old=%d,%d,", old, old2);
	pthread_testcancel();
	strcat(cs_log, "NOT-REACHED");
	return NULL;
}

static void s_cancel_disabled(const char *name)
{
	pthread_t t;
	void *v = NULL;
	int r;

	sem_init(&cs_go, 0, 0);
	sem_init(&cs_ready, 0, 0);
	cs_log[0] = 0;
	t = spawn(cancel_disabled_thread, NULL);
	sem_wait(&cs_ready);
	r = pthread_cancel(t);
	sem_post(&cs_go);
	pthread_join(t, &v);
	report_rc(name, r, "canceled=%d log=%s", v == PTHREAD_CANCELED, cs_log);
	sem_destroy(&cs_go);
	sem_destroy(&cs_ready);
}

static _Atomic int spin_stop;

static void *cancel_spin_thread(void *p)
{
	long *iters = p;

	sem_post(&cs_ready);
	for (;;) {
		(*iters)++;
		pthread_testcancel();
		sched_yield();
		if (spin_stop)
			break;
	}
	return NULL;
}

static void s_cancel_testcancel(const char *name)
{
	long iters = 0;
	pthread_t t;
	void *v = NULL;
	int r;

	sem_init(&cs_ready, 0, 0);
	spin_stop = 0;
	t = spawn(cancel_spin_thread, &iters);
	sem_wait(&cs_ready);
	msleep(20);
	r = pthread_cancel(t);
	pthread_join(t, &v);
	report_rc(name, r, "canceled=%d ran=%d", v == PTHREAD_CANCELED,
		  iters > 0);
	sem_destroy(&cs_ready);
}

static void *exit_with_handlers(void *p)
{
	pthread_cleanup_push(cleanup_rec, (void *)'a');
	pthread_cleanup_push(cleanup_rec, (void *)'b');
	if (p)
		pthread_exit((void *)42);
	pthread_cleanup_pop(1);
	pthread_cleanup_pop(0);
	return (void *)7;
}

static void s_cleanup_exit_pop(const char *name)
{
	void *v1 = NULL, *v2 = NULL;
	char o1[16];

	memset(corder, 0, sizeof(corder));
	cn = 0;
	pthread_join(spawn(exit_with_handlers, (void *)1), &v1);
	strcpy(o1, corder);
	memset(corder, 0, sizeof(corder));
	cn = 0;
	pthread_join(spawn(exit_with_handlers, NULL), &v2);
	report_rc(name, 0, "exit=%ld:%s pop=%ld:%s", (long)(intptr_t)v1, o1,
		  (long)(intptr_t)v2, corder);
}

static void *cancel_self_thread(void *p)
{
	(void)p;
	pthread_cleanup_push(cleanup_rec, (void *)'s');
	pthread_cancel(pthread_self());
	corder[cn++] = 'c';	/* not acted on until a cancellation point */
	pthread_testcancel();
	corder[cn++] = 'X';
	pthread_cleanup_pop(0);
	return NULL;
}

static void s_cancel_self(const char *name)
{
	void *v = NULL;

	memset(corder, 0, sizeof(corder));
	cn = 0;
	pthread_join(spawn(cancel_self_thread, NULL), &v);
	report_rc(name, 0, "canceled=%d order=%s", v == PTHREAD_CANCELED,
		  corder);
}

static void s_cancel_state_errors(const char *name)
{
	int o1 = -1, o2 = -1, o3 = -1, r1, r2, r3, r4, r5;

	r1 = pthread_setcancelstate(7, &o1);
	r2 = pthread_setcanceltype(7, &o1);
	r3 = pthread_setcanceltype(PTHREAD_CANCEL_ASYNCHRONOUS, &o2);
	r4 = pthread_setcanceltype(PTHREAD_CANCEL_DEFERRED, &o3);
	r5 = pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL);
	report_rc(name, r1, "type_bad=%s async=%s:old=%d deferred=%s:old=%d "
		  "null_old=%s", E(r2), E(r3), o2, E(r4), o3, E(r5));
}

static void *async_then_read(void *p)
{
	struct cancel_case *c = p;
	char b[4];

	pthread_setcanceltype(PTHREAD_CANCEL_ASYNCHRONOUS, NULL);
	sem_post(&c->ready);
	if (read(c->fd, b, sizeof(b)) < 0)
		return NULL;
	return NULL;
}

static void s_cancel_async_type(const char *name)
{
	struct cancel_case c;
	int p[2], r, jr;
	pthread_t t;
	void *v = NULL;

	memset(&c, 0, sizeof(c));
	pp(p);
	c.fd = p[0];
	sem_init(&c.ready, 0, 0);
	t = spawn(async_then_read, &c);
	sem_wait(&c.ready);
	msleep(50);
	r = pthread_cancel(t);
	jr = pthread_join(t, &v);
	report_rc(name, r, "canceled=%d", !jr && v == PTHREAD_CANCELED);
	close2(p);
	sem_destroy(&c.ready);
}

static void s_cancel_exited(const char *name)
{
	pthread_t t = spawn(ret_arg, (void *)5);
	void *v = NULL;
	int r;

	msleep(50);
	r = pthread_cancel(t);
	pthread_join(t, &v);
	report_rc(name, r, "value=%ld", (long)(intptr_t)v);
}

static pthread_key_t ckey;

static void ckey_dtor(void *v)
{
	(void)v;
	corder[cn++] = 'd';
}

static void *cancel_key_thread(void *p)
{
	struct cancel_case *c = p;
	char b[4];

	pthread_setspecific(ckey, (void *)1);
	pthread_cleanup_push(cleanup_rec, (void *)'h');
	sem_post(&c->ready);
	if (read(c->fd, b, sizeof(b)) < 0)
		corder[cn++] = 'E';
	pthread_cleanup_pop(0);
	return NULL;
}

static void s_cancel_keys(const char *name)
{
	struct cancel_case c;
	int p[2];
	pthread_t t;
	void *v = NULL;

	memset(&c, 0, sizeof(c));
	memset(corder, 0, sizeof(corder));
	cn = 0;
	pthread_key_create(&ckey, ckey_dtor);
	pp(p);
	c.fd = p[0];
	sem_init(&c.ready, 0, 0);
	t = spawn(cancel_key_thread, &c);
	sem_wait(&c.ready);
	msleep(30);
	pthread_cancel(t);
	pthread_join(t, &v);
	report_rc(name, 0, "canceled=%d order=%s", v == PTHREAD_CANCELED,
		  corder);
	pthread_key_delete(ckey);
	close2(p);
	sem_destroy(&c.ready);
}

static void *cancel_early_thread(void *p)
{
	(void)p;
	pthread_testcancel();
	return (void *)3;
}

static void s_cancel_before_start(const char *name)
{
	pthread_t t = spawn(cancel_early_thread, NULL);
	void *v = NULL;
	int r = pthread_cancel(t);

	pthread_join(t, &v);
	report_rc(name, r, "canceled_or_done=%d", v == PTHREAD_CANCELED ||
		  v == (void *)3);
}

static void *nested_cleanup_thread(void *p)
{
	struct cancel_case *c = p;
	char b[4];

	pthread_cleanup_push(cleanup_rec, (void *)'o');
	{
		pthread_cleanup_push(cleanup_rec, (void *)'p');
		pthread_cleanup_pop(1);		/* runs 'p' now */
	}
	pthread_cleanup_push(cleanup_rec, (void *)'i');
	sem_post(&c->ready);
	if (read(c->fd, b, sizeof(b)) < 0)
		corder[cn++] = 'E';
	pthread_cleanup_pop(0);
	pthread_cleanup_pop(0);
	return NULL;
}

static void s_cancel_nested(const char *name)
{
	struct cancel_case c;
	int p[2];
	pthread_t t;
	void *v = NULL;

	memset(&c, 0, sizeof(c));
	memset(corder, 0, sizeof(corder));
	cn = 0;
	pp(p);
	c.fd = p[0];
	sem_init(&c.ready, 0, 0);
	t = spawn(nested_cleanup_thread, &c);
	sem_wait(&c.ready);
	msleep(30);
	pthread_cancel(t);
	pthread_join(t, &v);
	report_rc(name, 0, "canceled=%d order=%s", v == PTHREAD_CANCELED,
		  corder);
	close2(p);
	sem_destroy(&c.ready);
}

/* ---------------------------------------------------------------- */
/* more I/O edges                                                     */

static void s_read_zero_sock(const char *name)
{
	int v[2];
	char b[4];
	struct iovec z[2] = { { b, 0 }, { b, 0 } };
	volatile int neg = -1, big = IOV_MAX + 1;	/* kernel's EINVAL */
	long r;
	int e;

	sp(SOCK_STREAM, v);
	errno = CANARY;
	r = read(v[0], b, 0);		/* 0 at once, even with no data */
	e = errno;
	report(name, r, e, "readv0=%s readv_neg=%s readv_big=%s write0=%s",
	       CE(readv(v[0], z, 2)), CE(readv(v[0], z, neg)),
	       CE(readv(v[0], z, big)), CE(write(v[0], b, 0)));
	close2(v);
}

static void s_recv_waitall(const char *name)
{
	int v[2], c, s;
	char b[16] = "", b2[16] = "";
	struct wr w1, w2;
	pthread_t t1, t2;
	long r, r2;
	int e;

	sp(SOCK_STREAM, v);
	if (write(v[1], "hello", 5) != 5)
		perror("write");
	w1.fd = v[1];
	w1.s = "world";
	t1 = later(50, do_write, &w1);
	errno = CANARY;
	r = recv(v[0], b, 10, MSG_WAITALL);
	e = errno;
	join(t1);
	tcp_pair(&c, &s);
	if (write(s, "abc", 3) != 3)
		perror("write");
	w2.fd = s;
	w2.s = "defg";
	t2 = later(50, do_write, &w2);
	r2 = recvfrom(c, b2, 7, MSG_WAITALL, NULL, NULL);
	join(t2);
	close(s);	/* EOF: what came so far */
	report(name, r, e, "%s tcp=%ld:%s eof=%s", b, r2, b2,
	       CE(recv(c, b2, 8, MSG_WAITALL)));
	close2(v);
	close(c);
}

static void s_recv_peek_wait(const char *name)
{
	int v[2];
	char b[8] = "", c[8] = "";
	struct wr w;
	pthread_t t;
	long r;

	sp(SOCK_STREAM, v);
	w.fd = v[1];
	w.s = "peek";
	t = later(50, do_write, &w);
	errno = CANARY;
	r = recv(v[0], b, sizeof(b) - 1, MSG_PEEK);
	report(name, r, errno, "%s then=%ld:%s", b, (long)read(v[0], c, 7), c);
	join(t);
	close2(v);
}

static void s_socket_state_errors(const char *name)
{
	int port, l = tcp_listener(&port, 4, 0);
	int u = socket(AF_INET, SOCK_STREAM, 0);
	char b[4];
	long r;
	int e;

	errno = CANARY;
	r = read(l, b, sizeof(b));
	e = errno;
	report(name, r, e, "accept_unlistened=%s write_unconnected=%s",
	       CE(accept(u, NULL, NULL)), CE(write(u, "x", 1)));
	close(u);
	close(l);
}

static int unix_listener(struct sockaddr_un *a, socklen_t *al, int backlog)
{
	int s = socket(AF_UNIX, SOCK_STREAM, 0);

	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	/* abstract name, unique per process */
	snprintf(a->sun_path + 1, sizeof(a->sun_path) - 1, "dtact-sem-%d-%d",
		 (int)getpid(), backlog);
	*al = offsetof(struct sockaddr_un, sun_path) + 1 +
	      strlen(a->sun_path + 1);
	if (bind(s, (struct sockaddr *)a, *al) || listen(s, backlog)) {
		perror("unix listener");
		exit(1);
	}
	return s;
}

static void do_accept_close(void *p)
{
	int fd = accept((int)(intptr_t)p, NULL, NULL);

	close(fd);
}

/* AF_UNIX: a full backlog makes a blocking connect wait for room. */
static void s_connect_unix_backlog(const char *name)
{
	struct sockaddr_un a;
	socklen_t al;
	int l = unix_listener(&a, &al, 0), c1, c2, c3;
	int64_t t0;
	pthread_t t;
	long r;
	int e;
	const char *tmo;

	c1 = socket(AF_UNIX, SOCK_STREAM, 0);
	connect(c1, (struct sockaddr *)&a, al);	/* fills the backlog */
	c2 = socket(AF_UNIX, SOCK_STREAM, 0);
	set_tmo(c2, SO_SNDTIMEO, 100);
	t0 = now_ns();
	tmo = CE(connect(c2, (struct sockaddr *)&a, al));
	e = waited(t0, 100);
	c3 = socket(AF_UNIX, SOCK_STREAM, 0);
	t = later(50, do_accept_close, (void *)(intptr_t)l);
	errno = CANARY;
	r = connect(c3, (struct sockaddr *)&a, al);
	report(name, r, errno, "sndtimeo=%s waited:%d", tmo, e);
	join(t);
	close(c1);
	close(c2);
	close(c3);
	close(l);
}

static void s_poll_nofds(const char *name)
{
	int64_t t0 = now_ns();
	struct timeval tv = { 0, 100000 };
	long r, r2;
	int w1, w2;

	errno = CANARY;
	r = poll(NULL, 0, 100);
	w1 = waited(t0, 100);
	t0 = now_ns();
	r2 = select(0, NULL, NULL, NULL, &tv);
	w2 = waited(t0, 100);
	report(name, r, errno, "waited:%d select=%ld tv=%ld.%06ld waited:%d",
	       w1, r2, (long)tv.tv_sec, (long)tv.tv_usec, w2);
}

static void s_eintr_poll_nofds(const char *name)
{
	struct timeval tv = { 5, 0 };
	long r;
	int e;
	const char *sel;
	int h;

	handler(SIGALRM, on_alrm, SA_RESTART);
	alarm_ms(50);
	errno = CANARY;
	r = poll(NULL, 0, 5000);
	e = errno;
	h = n_alrm > 0;
	alarm_ms(50);
	sel = CE(select(0, NULL, NULL, NULL, &tv));
	alarm_off();
	report(name, r, e, "select=%s handled>=1:%d,%d", sel, h, n_alrm > 0);
}

static void s_select_big_nfds(const char *name)
{
	unsigned long set[2048 / (8 * sizeof(long))], set2[2048 / (8 * sizeof(long))];
	int p[2];
	struct timeval tv = { 1, 0 }, tv2 = { 0, 50000 };
	long r;
	int e;

	pp(p);
	if (write(p[1], "x", 1) != 1)
		perror("write");
	memset(set, 0, sizeof(set));
	memset(set2, 0, sizeof(set2));
	set[p[0] / (8 * sizeof(long))] |= 1ul << (p[0] % (8 * sizeof(long)));
	set2[p[1] / (8 * sizeof(long))] |= 1ul << (p[1] % (8 * sizeof(long)));
	errno = CANARY;
	r = select(2000, (fd_set *)set, NULL, NULL, &tv);
	e = errno;
	/* nothing ready: the write end is not readable */
	report(name, r, e, "set=%d idle=%s", (int)((set[p[0] / (8 * sizeof(long))]
	       >> (p[0] % (8 * sizeof(long)))) & 1),
	       CE(select(2000, (fd_set *)set2, NULL, NULL, &tv2)));
	close2(p);
}

static void s_dup_nonblock(const char *name)
{
	int p[2], d;
	char b[8];
	struct wr w;
	pthread_t t;
	long r;
	int e;

	pp(p);
	w.fd = p[1];
	w.s = "x";
	t = later(30, do_write, &w);	/* a wait on p[0] first */
	if (read(p[0], b, sizeof(b)) != 1)
		perror("read");
	join(t);
	d = dup(p[0]);
	fcntl(p[0], F_SETFL, O_NONBLOCK);	/* one description, two fds */
	errno = CANARY;
	r = read(d, b, sizeof(b));		/* EAGAIN: d is non-blocking */
	e = errno;
	report(name, r, e, "fl_dup=%#x fl_orig=%#x", fcntl(d, F_GETFL),
	       fcntl(p[0], F_GETFL));
	fcntl(d, F_SETFL, 0);
	report(name, 0, CANARY, "cleared_via_dup: fl_orig=%#x",
	       fcntl(p[0], F_GETFL));
	close(d);
	close2(p);
}

static void s_pipe2_nonblock(const char *name)
{
	int p[2];
	char b[4];
	long r;

	if (pipe2(p, O_NONBLOCK | O_CLOEXEC))
		perror("pipe2");
	errno = CANARY;
	r = read(p[0], b, sizeof(b));
	report(name, r, errno, "%s", fl_str(p[0]));
	close2(p);
}

static void *sched_thread(void *p)
{
	char *out = p;
	struct sched_param sp0 = { 0 };
	int pol = -1, r1, r2, r3, r4, r5;
	cpu_set_t cs;
	clockid_t ck;
	union sigval v = { .sival_int = 3 };

	r1 = pthread_getschedparam(pthread_self(), &pol, &sp0);
	r2 = pthread_setschedparam(pthread_self(), SCHED_OTHER, &sp0);
	CPU_ZERO(&cs);
	r3 = pthread_getaffinity_np(pthread_self(), sizeof(cs), &cs);
	r4 = pthread_getcpuclockid(pthread_self(), &ck);
	n_usr1 = 0;
	r5 = pthread_sigqueue(pthread_self(), SIGUSR1, v);
	snprintf(out, 200, "get=%s pol=%d prio=%d set=%s affinity=%s:%d "
		 "cpuclock=%s sigqueue=%s handled=%d setprio=%s", E(r1), pol,
		 sp0.sched_priority, E(r2), E(r3), CPU_COUNT(&cs) > 0, E(r4),
		 E(r5), n_usr1, E(pthread_setschedprio(pthread_self(), 0)));
	return NULL;
}

static void s_sched_calls(const char *name)
{
	char out[200] = "";

	handler(SIGUSR1, on_usr1, 0);
	join(spawn(sched_thread, out));
	report_rc(name, 0, "%s", out);
}

struct spin {
	pthread_spinlock_t l;
	int order[4], n;
	sem_t held;
};

static void *spin_holder(void *p)
{
	struct spin *x = p;

	pthread_spin_lock(&x->l);
	sem_post(&x->held);
	msleep(50);		/* parks with the lock held */
	x->order[x->n++] = 1;
	pthread_spin_unlock(&x->l);
	return NULL;
}

static void s_spin_holder_sleeps(const char *name)
{
	struct spin x;
	pthread_t t;
	int r, tr;

	memset(&x, 0, sizeof(x));
	pthread_spin_init(&x.l, PTHREAD_PROCESS_PRIVATE);
	sem_init(&x.held, 0, 0);
	t = spawn(spin_holder, &x);
	sem_wait(&x.held);
	tr = pthread_spin_trylock(&x.l);
	r = pthread_spin_lock(&x.l);
	x.order[x.n++] = 2;
	pthread_spin_unlock(&x.l);
	join(t);
	report_rc(name, r, "trylock_held=%s order=%d%d trylock_free=%s", E(tr),
		  x.order[0], x.order[1], E(pthread_spin_trylock(&x.l)));
	pthread_spin_unlock(&x.l);
	pthread_spin_destroy(&x.l);
	sem_destroy(&x.held);
}

static void *getname_short(void *p)
{
	char b[16];
	int *r = p;

	pthread_setname_np(pthread_self(), "ab");
	r[0] = pthread_getname_np(pthread_self(), b, 10);
	r[1] = pthread_getname_np(pthread_self(), b, 16);
	return NULL;
}

static void s_getname_buflen(const char *name)
{
	int r[2] = { -1, -1 };
	char b[16];

	join(spawn(getname_short, r));
	report_rc(name, r[0], "len16=%s main_len10=%s", E(r[1]),
		  E(pthread_getname_np(pthread_self(), b, 10)));
}

/* ---------------------------------------------------------------- */
/* the table                                                          */

struct scenario {
	const char *name;
	void (*fn)(const char *);
};

#define S(n) { #n, s_##n }
static const struct scenario table[] = {
	S(pipe_read_wait), S(sock_read_wait), S(tcp_read_wait),
	S(dgram_recv_wait), S(pipe_write_full_wait), S(sock_write_full_wait),
	S(so_rcvtimeo), S(so_rcvtimeo_recvmsg), S(so_rcvtimeo_accept),
	S(so_rcvtimeo_data), S(so_sndtimeo_full), S(so_sndtimeo_partial),
	S(nonblock_fcntl_pipe), S(getfl_after_wait), S(sock_nonblock_flag),
	S(fionbio), S(nonblock_accept), S(nonblock_connect),
	S(peer_close_read), S(peer_close_wait), S(epipe_sock), S(epipe_pipe),
	S(epipe_thread), S(epipe_many), S(epipe_while_blocked), S(econnreset_unread),
	S(econnreset_linger0_wait),
	S(stream_partial_reads), S(fclose_reuse), S(freopen_reuse),
	S(writev_readv_pipe),
	S(dgram_trunc),
	S(dgram_sendmsg_wait), S(udp_recvfrom_wait),
	S(big_write_sock), S(big_write_pipe), S(big_writev_sock),
	S(big_send_tcp),
	S(accept_wait), S(accept4_flags), S(accept4_einval), S(connect_ok),
	S(connect_refused), S(connect_unix_missing), S(connect_sndtimeo),
	S(poll_ready), S(poll_timeout0), S(poll_timeout100),
	S(poll_wait_data), S(poll_nval_hup), S(poll_hup_wait), S(poll_einval),
	S(ppoll_timeout), S(ppoll_einval), S(ppoll_wait_data),
	S(select_ready), S(select_timeout), S(select_timeout0),
	S(select_ebadf), S(select_einval), S(select_wait_data),
	S(pselect_timeout), S(epoll_ready), S(epoll_timeout0),
	S(epoll_timeout100), S(epoll_wait_data), S(epoll_errors),
	S(nanosleep), S(cns_rel_mono), S(cns_rel_real), S(cns_abs_mono),
	S(cns_abs_real), S(cns_rel_boottime), S(cns_abs_past), S(usleep),
	S(sleep0), S(nanosleep_einval), S(cns_errors),
	S(eintr_read), S(eintr_read_restart), S(eintr_read_rcvtimeo_restart),
	S(eintr_write_partial), S(eintr_accept), S(eintr_nanosleep),
	S(eintr_clock_nanosleep), S(eintr_usleep), S(eintr_sleep),
	S(eintr_poll), S(eintr_select), S(eintr_epoll), S(eintr_sem_wait),
	S(eintr_sem_wait_restart), S(eintr_sem_timedwait), S(eintr_cond_wait),
	S(eintr_join), S(eintr_kill_main), S(eintr_kill_thread),
	S(eintr_kill_thread_restart), S(self_signal), S(sigmask_ppoll),
	S(sigsuspend), S(pause), S(sigwait), S(kill_errors), S(shutdown_wakes_read),
	S(mutex_errorcheck), S(mutex_recursive), S(mutex_normal),
	S(mutex_contended),
	S(cond_timedwait_real), S(cond_timedwait_mono), S(cond_clockwait),
	S(cond_errorcheck_eperm), S(cond_signal_broadcast),
	S(rwlock), S(sem), S(sem_limits), S(sem_wait_post),
	S(barrier), S(once), S(keys), S(keys_limit),
	S(join_exit_value), S(join_detached), S(join_twice), S(join_self),
	S(tryjoin), S(getattr_stack), S(names), S(name_main),
	S(cancel_read), S(cancel_recv), S(cancel_write), S(cancel_nanosleep),
	S(cancel_usleep), S(cancel_cond_wait), S(cancel_cond_timedwait),
	S(cancel_sem_wait), S(cancel_poll), S(cancel_select),
	S(cancel_epoll), S(cancel_accept), S(cancel_join), S(cancel_many),
	S(cancel_disabled), S(cancel_testcancel), S(cleanup_exit_pop),
	S(cancel_self), S(cancel_state_errors), S(cancel_async_type),
	S(cancel_exited), S(cancel_keys), S(cancel_before_start),
	S(cancel_nested),
	S(read_zero_sock), S(recv_waitall), S(recv_peek_wait),
	S(socket_state_errors), S(connect_unix_backlog), S(poll_nofds),
	S(eintr_poll_nofds), S(select_big_nfds), S(dup_nonblock),
	S(pipe2_nonblock), S(sched_calls), S(spin_holder_sleeps),
	S(getname_buflen),
};
#define NSCEN (sizeof(table) / sizeof(table[0]))

/* ---------------------------------------------------------------- */
/* process-level modes                                                */

static void *late_print(void *p)
{
	msleep((int)(intptr_t)p);
	printf("mainexit: last thread ran after main's pthread_exit\n");
	fflush(stdout);
	return NULL;
}

static void atexit_print(void)
{
	printf("atexit ran\n");
	fflush(stdout);
}

static void *exit_from_thread(void *p)
{
	(void)p;
	msleep(50);
	printf("threadexit: calling exit(3)\n");
	exit(3);
}

static void *sigpipe_writer(void *p)
{
	int fd = (int)(intptr_t)p;

	if (write(fd, "x", 1) < 0)
		printf("sigpipe_default: write returned %s (not killed)\n",
		       E(errno));
	fflush(stdout);
	return NULL;
}

static void *close_waiter(void *p)
{
	int *v = p;
	char b[4];

	errno = CANARY;
	v[2] = (int)read(v[0], b, sizeof(b));
	v[3] = errno;
	return NULL;
}

static pthread_mutex_t gate_m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_c = PTHREAD_COND_INITIALIZER;
static int gate_open;

static void *blocker(void *p)
{
	(void)p;
	pthread_mutex_lock(&gate_m);
	while (!gate_open)
		pthread_cond_wait(&gate_c, &gate_m);
	pthread_mutex_unlock(&gate_m);
	return NULL;
}

static int run_mode(const char *mode, char **argv)
{
	if (!strcmp(mode, "hello")) {
		printf("main ran\n");
		return 0;
	}
	if (!strcmp(mode, "stdin")) {
		/* fd 0 as the program got it (a pipe whose writer waits a
		 * little): select, poll and read wait for it. */
		struct pollfd f = { 0, POLLIN, 0 };
		struct timeval tv = { 10, 0 };
		fd_set rs;
		char b[16] = "";
		int n1, n2;
		long n3;

		FD_ZERO(&rs);
		FD_SET(0, &rs);
		n1 = select(1, &rs, NULL, NULL, &tv);
		n2 = poll(&f, 1, 10000);
		n3 = read(0, b, sizeof(b) - 1);
		printf("stdin: select=%d set=%d poll=%d revents=%#x read=%ld:%s",
		       n1, FD_ISSET(0, &rs), n2, f.revents, n3, b);
		return 0;
	}
	if (!strcmp(mode, "mainexit")) {
		pthread_t t;

		atexit(atexit_print);
		t = spawn(late_print, (void *)100);
		pthread_detach(t);
		spawn(late_print, (void *)150);
		printf("mainexit: main calls pthread_exit\n");
		fflush(stdout);
		pthread_exit(NULL);
	}
	if (!strcmp(mode, "threadexit")) {
		atexit(atexit_print);
		spawn(exit_from_thread, NULL);
		msleep(5000);
		printf("threadexit: NOT REACHED\n");
		return 0;
	}
	if (!strcmp(mode, "sigpipe_default")) {
		int p[2];

		pp(p);
		close(p[0]);
		join(spawn(sigpipe_writer, (void *)(intptr_t)p[1]));
		printf("sigpipe_default: survived\n");
		return 0;
	}
	if (!strcmp(mode, "closewait")) {
		int v[4] = { 0, 0, 0, 0 }, s[2];
		pthread_t t;

		/* dtact-only (DESIGN 8): a read blocked on a socket that
		 * another thread closes ends with EBADF.  Natively Linux
		 * leaves it blocked. */
		sp(SOCK_STREAM, s);
		v[0] = s[0];
		t = spawn(close_waiter, v);
		msleep(50);
		close(s[0]);
		join(t);
		printf("closewait: ret=%d errno=%s\n", v[2], E(v[3]));
		close(s[1]);
		return 0;
	}
	if (!strcmp(mode, "threads")) {
		/* Create N threads that block on a condition variable until
		 * all are created; count EAGAIN. */
		int n = argv[0] ? atoi(argv[0]) : 200, made = 0, again = 0,
		    other = 0, i;
		pthread_t *t = calloc(n, sizeof(*t));

		for (i = 0; i < n; i++) {
			int r = pthread_create(&t[made], NULL, blocker, NULL);

			if (!r)
				made++;
			else if (r == EAGAIN)
				again++;
			else
				other++;
			if (i == 0 && r) {
				printf("threads: first create failed: %s\n",
				       E(r));
				return 1;
			}
		}
		msleep(20);	/* let them block */
		pthread_mutex_lock(&gate_m);
		gate_open = 1;
		pthread_cond_broadcast(&gate_c);
		pthread_mutex_unlock(&gate_m);
		for (i = 0; i < made; i++)
			pthread_join(t[i], NULL);
		printf("threads: created=%d eagain=%d other=%d\n", made, again,
		       other);
		return other ? 1 : 0;
	}
	fprintf(stderr, "semantics: unknown mode %s\n", mode);
	return 2;
}

int main(int argc, char **argv)
{
	size_t i;
	int k, ran = 0, times = getenv("SEMANTICS_TIMES") != NULL;
	int64_t t0;

	main_pt = pthread_self();
	setvbuf(stdout, NULL, _IOLBF, 0);
	handler(SIGPIPE, on_pipe, 0);
	if (argc > 1 && !strcmp(argv[1], "--list")) {
		for (i = 0; i < NSCEN; i++)
			printf("%s\n", table[i].name);
		return 0;
	}
	if (argc > 2 && !strcmp(argv[1], "--mode")) {
		if (!strcmp(argv[2], "sigpipe_default"))
			signal(SIGPIPE, SIG_DFL);
		return run_mode(argv[2], argv + 3);
	}
	for (i = 0; i < NSCEN; i++) {
		if (argc > 1) {
			for (k = 1; k < argc; k++)
				if (!strcmp(argv[k], table[i].name))
					break;
			if (k == argc)
				continue;
		}
		t0 = now_ns();
		table[i].fn(table[i].name);
		if (times)	/* to stderr: never part of the compared output */
			fprintf(stderr, "%-32s %5lld ms\n", table[i].name,
				(long long)((now_ns() - t0) / MS));
		ran++;
	}
	if (!ran) {
		fprintf(stderr, "semantics: no scenario matched\n");
		return 2;
	}
	return 0;
}
