// SPDX-License-Identifier: MIT
/*
 * tools/dtactlat/dtactlat.c - fiber scheduling latency of a running dtact
 * program, from its USDT probes (core/probes.d, DESIGN 11), the way bcc's
 * runqlat shows thread run-queue latency.
 *
 *   dtactlat -p PID [-u|-m] [--run] [-R] [-L] [-T] [-j] [-w W] [interval [count]]
 *   dtactlat -p PID --check [-j]
 *
 * Finds libdtact_shim.so or libdtact.so in /proc/PID/maps (or probes of
 * provider dtact in the executable itself, for a program linked with
 * libdtact.a), and attaches dtactlat.bpf.c's programs to the probes through
 * /proc/PID/root/<path>, so that a program in another mount namespace is
 * found too.  libbpf passes each probe's semaphore to the kernel as the
 * uprobe's reference counter: the kernel raises the semaphores while the
 * probes are attached and lowers them when the links close (also when this
 * tool is killed), so the runtime computes probe arguments only meanwhile.
 * --check reads those semaphores out of /proc/PID/mem.
 *
 * Lifecycle, libbpf-bootstrap style: open -> set read-only data (unit,
 * worker filter) -> load -> calibrate (time a probe of this program with
 * and without the BPF program attached: the per-event cost printed at
 * start) -> attach to the target -> print every interval -> destroy (the
 * uprobes closed from parallel threads: close_links_in_parallel()).
 * Counters in the BPF object only grow (dtactlat.h); each interval prints
 * the difference with the previous read, so the intervals add up to
 * exactly what was traced.  Ends after `count` intervals, at SIGINT or
 * SIGTERM (printing the interval under way), or when the target exits
 * (a pidfd; kill(pid, 0) polling where pidfd_open is missing).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/types.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sdt.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "dtactlat.h"
#include "dtactlat.skel.h"
#include "trace_helpers.h"

#ifndef CAP_PERFMON
#define CAP_PERFMON	38
#endif
#ifndef CAP_BPF
#define CAP_BPF		39
#endif

_Static_assert(sizeof(struct dtl_worker) % 64 == 0,
	       "struct dtl_worker: keep workers on separate cache lines");

#define CALIB_HITS	10000	/* probe hits per calibration loop */
#define CALIB_ROUNDS	5	/* loops with and without the program */

static const char *const reason_names[DTL_NR_REASONS] = {
	"yield", "io", "sleep", "lock", "join", "exit", "other",
};

/* core/probes.d order, for --check. */
static const char *const probe_names[] = {
	"spawn", "wake", "switch_in", "switch_out", "park", "unpark", "stall",
};

static struct env {
	pid_t pid;
	bool run;		/* --run: on-CPU slice instead of ready latency */
	bool reasons;		/* -R */
	bool per_worker;	/* -L */
	bool timestamp;		/* -T */
	bool json;		/* -j */
	bool check;		/* --check */
	bool verbose;		/* -v: libbpf's debug output */
	int worker;		/* -w: only this worker; -1 all */
	uint64_t unit_ns;	/* 1, 1000, 1000000 */
	const char *unit;	/* "nsecs", "usecs", "msecs" */
	double interval;	/* seconds */
	long count;		/* intervals; 0: until Ctrl-C or the target exits */
} env = {
	.worker = -1,
	.unit_ns = 1,
	.unit = "nsecs",
	.interval = 99999999,
};

/* The file holding the probes, as seen from here and from the target. */
struct target {
	char path[4096];	/* the target's view (maps) */
	char open_path[4200];	/* ours: /proc/PID/root/... or map_files */
	uint64_t map_start;	/* where its file offset 0 is mapped */
	struct usdt_file uf;	/* its dtact probes */
	char comm[64];
};

static volatile sig_atomic_t exiting;
static char libbpf_warn[512];	/* the last libbpf warning, for errors */

static void on_signal(int sig)
{
	exiting = 1;
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt,
			va_list ap)
{
	size_t n;

	if (env.verbose)
		return vfprintf(stderr, fmt, ap);
	if (level != LIBBPF_WARN)
		return 0;
	vsnprintf(libbpf_warn, sizeof(libbpf_warn), fmt, ap);
	n = strlen(libbpf_warn);
	while (n && libbpf_warn[n - 1] == '\n')
		libbpf_warn[--n] = 0;
	return 0;
}

static void __attribute__((format(printf, 1, 2), noreturn)) die(const char *fmt, ...)
{
	va_list ap;

	fputs("dtactlat: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static const char usage_text[] =
"usage: dtactlat -p PID [-u|-m] [--run] [-R] [-L] [-T] [-j] [-w WORKER]\n"
"                [interval [count]]\n"
"       dtactlat -p PID --check [-j]\n"
"Summarize the fiber scheduling latency of a dtact program as log2\n"
"histograms, from its USDT probes (provider dtact).\n"
"  -p, --pid PID      the process (running under libdtact_shim.so or\n"
"                     linked with libdtact)\n"
"  (default)          ready->running latency: how long a runnable fiber\n"
"                     waited for its worker (switch_in ready_ns)\n"
"      --run          the on-CPU slice instead: how long a fiber ran before\n"
"                     it switched out (switch_out ran_ns)\n"
"  -R, --reasons      also count switch-outs and their on-CPU time by\n"
"                     reason: yield io sleep lock join exit other\n"
"  -L, --workers      one histogram per worker\n"
"  -w, --worker W     trace worker W only\n"
"  -u, --usecs        histogram in microseconds (default: nanoseconds)\n"
"  -m, --msecs        histogram in milliseconds\n"
"  -T, --timestamp    print the time of each interval\n"
"  -j, --json         one JSON object per interval on stdout\n"
"      --check        print the target's dtact probe semaphores and exit\n"
"  -v, --verbose      show libbpf's debug output\n"
"  interval [count]   print every interval seconds, count times (default:\n"
"                     once, at Ctrl-C or when the target exits)\n"
"Times of 0 (the fiber became ready before the tracer attached) are counted\n"
"as \"untimed\", outside the histogram.  Needs CAP_BPF and CAP_PERFMON (or\n"
"CAP_SYS_ADMIN) and uprobes.  While attached, every traced probe hit costs\n"
"the target a trap into the kernel: dtactlat measures that cost at start.\n";

enum { OPT_RUN = 256, OPT_CHECK };

static double parse_num(const char *what, const char *s, double lo, double hi)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || v < lo || v > hi) {
		fprintf(stderr, "dtactlat: bad %s '%s'\n", what, s);
		exit(2);
	}
	return v;
}

static void parse_args(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "pid", 1, NULL, 'p' }, { "run", 0, NULL, OPT_RUN },
		{ "reasons", 0, NULL, 'R' }, { "workers", 0, NULL, 'L' },
		{ "worker", 1, NULL, 'w' }, { "usecs", 0, NULL, 'u' },
		{ "msecs", 0, NULL, 'm' }, { "timestamp", 0, NULL, 'T' },
		{ "json", 0, NULL, 'j' }, { "check", 0, NULL, OPT_CHECK },
		{ "verbose", 0, NULL, 'v' }, { "help", 0, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	while ((ch = getopt_long(argc, argv, "p:RLw:umTjvh", lo, NULL)) != -1) {
		switch (ch) {
		case 'p': env.pid = (pid_t)parse_num("PID", optarg, 1, INT_MAX); break;
		case OPT_RUN: env.run = true; break;
		case 'R': env.reasons = true; break;
		case 'L': env.per_worker = true; break;
		case 'w': env.worker = (int)parse_num("worker", optarg, 0, INT_MAX); break;
		case 'u': env.unit_ns = 1000; env.unit = "usecs"; break;
		case 'm': env.unit_ns = 1000000; env.unit = "msecs"; break;
		case 'T': env.timestamp = true; break;
		case 'j': env.json = true; break;
		case OPT_CHECK: env.check = true; break;
		case 'v': env.verbose = true; break;
		case 'h': fputs(usage_text, stdout); exit(0);
		default: fputs(usage_text, stderr); exit(2);
		}
	}
	if (optind < argc)
		env.interval = parse_num("interval", argv[optind++], 0.001, 1e8);
	if (optind < argc)
		env.count = (long)parse_num("count", argv[optind++], 1, 1e12);
	if (optind < argc || !env.pid) {
		fputs(usage_text, stderr);
		exit(2);
	}
}

static void read_comm(pid_t pid, char *buf, size_t n)
{
	char fn[64];
	FILE *f;

	snprintf(buf, n, "?");
	snprintf(fn, sizeof(fn), "/proc/%d/comm", (int)pid);
	f = fopen(fn, "re");
	if (!f)
		return;
	if (fgets(buf, (int)n, f))
		buf[strcspn(buf, "\n")] = 0;
	fclose(f);
}

static bool pid_exists(pid_t pid)
{
	char fn[64];

	snprintf(fn, sizeof(fn), "/proc/%d", (int)pid);
	return access(fn, F_OK) == 0 || (kill(pid, 0) == 0 || errno == EPERM);
}

static const char *const lib_names[] = {
	"libdtact_shim.so", "libdtact.so", NULL,
};

static void no_access(pid_t pid, const char *what, int err)
{
	die("cannot read %s of PID %d: %s (needs the same user as the target, "
	    "or CAP_SYS_PTRACE)", what, (int)pid, strerror(err));
}


/* Find the file with the dtact probes mapped by the target. */
static void find_target(pid_t pid, struct target *t)
{
	struct proc_map m;
	char fn[64];
	ssize_t n;
	int err;

	memset(t, 0, sizeof(*t));
	read_comm(pid, t->comm, sizeof(t->comm));
	err = proc_map_find(pid, lib_names, &m);
	if (err == -EACCES || err == -EPERM)
		no_access(pid, "the memory map", -err);
	if (err == -ENOENT) {
		/* A program linked with libdtact.a has the probes itself. */
		static const char *exe_only[2] = { NULL, NULL };
		char exe[4096], *base;

		snprintf(fn, sizeof(fn), "/proc/%d/exe", (int)pid);
		n = readlink(fn, exe, sizeof(exe) - 1);
		if (n > 0) {
			exe[n] = 0;
			base = strrchr(exe, '/');
			exe_only[0] = base ? base + 1 : exe;
			if (usdt_file_read(fn, "dtact", &t->uf) == 0 && t->uf.nr &&
			    proc_map_find(pid, exe_only, &m) == 0)
				err = 0;
			else
				usdt_file_free(&t->uf);
		}
	}
	if (err == -ENOENT)
		die("PID %d (%s) does not map libdtact_shim.so or libdtact.so: "
		    "not a dtact program", (int)pid, t->comm);
	if (err)
		die("cannot read /proc/%d/maps: %s", (int)pid, strerror(-err));

	snprintf(t->path, sizeof(t->path), "%s", m.path);
	t->map_start = m.start;
	if (m.deleted)	/* replaced on disk since: reach the mapped inode */
		snprintf(t->open_path, sizeof(t->open_path),
			 "/proc/%d/map_files/%" PRIx64 "-%" PRIx64, (int)pid,
			 m.start, m.end);
	else
		snprintf(t->open_path, sizeof(t->open_path), "/proc/%d/root%s",
			 (int)pid, m.path);
	if (!t->uf.nr) {
		err = usdt_file_read(t->open_path, "dtact", &t->uf);
		if (err == -EACCES || err == -EPERM)
			no_access(pid, t->open_path, -err);
		if (err)
			die("cannot read the ELF notes of %s: %s", t->open_path,
			    strerror(-err));
	}
	if (!t->uf.nr)
		die("%s has no dtact USDT probes (built with PROBES=0?)",
		    t->path);
}

static bool target_has_probe(const struct target *t, const char *name)
{
	size_t i;

	for (i = 0; i < t->uf.nr; i++)
		if (!strcmp(t->uf.notes[i].name, name))
			return true;
	return false;
}

/* --check: the semaphores' current values in the target's memory. */
static int check_semaphores(const struct target *t)
{
	uint64_t bias = t->uf.is_dyn ? t->map_start - t->uf.first_load : 0;
	size_t i, j;
	char fn[64];
	int fd, shown = 0;

	snprintf(fn, sizeof(fn), "/proc/%d/mem", (int)env.pid);
	fd = open(fn, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		no_access(env.pid, "the memory", errno);
	if (env.json)
		printf("{\"pid\":%d,\"lib\":\"%s\",\"semaphores\":{",
		       (int)env.pid, t->path);
	else
		printf("dtact probe semaphores in PID %d (%s):\n", (int)env.pid,
		       t->path);
	for (i = 0; i < sizeof(probe_names) / sizeof(*probe_names); i++) {
		const struct usdt_note *n = NULL;
		unsigned short v;

		for (j = 0; j < t->uf.nr && !n; j++)
			if (!strcmp(t->uf.notes[j].name, probe_names[i]))
				n = &t->uf.notes[j];
		if (!n)
			continue;
		if (!n->sema) {
			if (!env.json)
				printf("  %-11s (no semaphore)\n", n->name);
			continue;
		}
		if (pread(fd, &v, sizeof(v), (off_t)(bias + n->sema)) !=
		    (ssize_t)sizeof(v)) {
			if (errno == EACCES || errno == EPERM)
				no_access(env.pid, "the memory", errno);
			die("cannot read the %s semaphore at 0x%" PRIx64
			    " in PID %d: %s", n->name, bias + n->sema,
			    (int)env.pid, strerror(errno));
		}
		if (env.json)
			printf("%s\"%s\":%u", shown ? "," : "", n->name, v);
		else
			printf("  %-11s %u\n", n->name, v);
		shown++;
	}
	if (env.json)
		printf("}}\n");
	close(fd);
	return 0;
}

static bool have_cap(int cap)
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3] = { 0 };

	if (syscall(SYS_capget, &h, d))
		return false;
	return d[cap / 32].effective & (1u << (cap % 32));
}

#define NEED_CAPS "needs CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN on " \
	"kernels before 5.8 (run as root)"

static void check_environment(void)
{
	if (!have_cap(CAP_SYS_ADMIN) &&
	    !(have_cap(CAP_BPF) && have_cap(CAP_PERFMON)))
		die("not permitted to trace: " NEED_CAPS);
	if (access("/sys/bus/event_source/devices/uprobe/type", F_OK) &&
	    access("/sys/kernel/tracing/uprobe_events", F_OK) &&
	    access("/sys/kernel/debug/tracing/uprobe_events", F_OK))
		die("this kernel has no uprobes (no /sys/bus/event_source/"
		    "devices/uprobe; needs CONFIG_UPROBE_EVENTS)");
}

/* Turn an attach or load error into a one-line reason and exit. */
static void __attribute__((noreturn)) bpf_failure(const char *what, int err)
{
	if (err < 0)
		err = -err;
	switch (err) {
	case EPERM:
	case EACCES:
		die("%s: not permitted: %s", what, NEED_CAPS);
	case ENOSYS:
		die("%s: this kernel has no BPF (bpf() returns ENOSYS)", what);
	case EOPNOTSUPP:
		die("%s: not supported by this kernel (uprobes with USDT "
		    "semaphores need Linux 4.20+)%s%s", what,
		    *libbpf_warn ? ": " : "", libbpf_warn);
	default:
		die("%s: %s%s%s", what, strerror(err),
		    *libbpf_warn ? " (libbpf: " : "",
		    *libbpf_warn ? libbpf_warn : "");
	}
	exit(1);
}

/*
 * The calibration probes: the same kind of site as the runtime's (a nop
 * with a stapsdt note), four arguments like switch_out.  dtactlat:calib
 * gets the BPF program; dtactlat:calib_idle, the same code, never does.
 */
static __attribute__((noinline)) void calib_hit(uint64_t fid, uint32_t worker,
						uint64_t ns, uint32_t reason)
{
	DTRACE_PROBE4(dtactlat, calib, fid, worker, ns, reason);
	__asm__ __volatile__("" ::: "memory");
}

static __attribute__((noinline)) void calib_idle(uint64_t fid, uint32_t worker,
						 uint64_t ns, uint32_t reason)
{
	DTRACE_PROBE4(dtactlat, calib_idle, fid, worker, ns, reason);
	__asm__ __volatile__("" ::: "memory");
}

static uint64_t calib_loop(void (*hit)(uint64_t, uint32_t, uint64_t, uint32_t),
			   uint32_t worker)
{
	uint64_t t0 = mono_ns();
	int i;

	for (i = 0; i < CALIB_HITS; i++)
		hit((uint64_t)i + 1, worker, 1000 + (uint64_t)i, 1);
	return mono_ns() - t0;
}

/*
 * ns per event that prog adds to a probe hit: prog is attached to
 * dtactlat:calib, and loops over it alternate with loops over the bare
 * dtactlat:calib_idle; the best loop of each kind is kept (the one least
 * disturbed by the rest of the machine), and the cost is their difference.
 * The link stays until the end: a detach costs RCU grace periods.
 */
static double calibrate(struct bpf_program *prog, const char *self,
			struct bpf_link **link)
{
	uint32_t worker = env.worker >= 0 ? (uint32_t)env.worker : 0;
	uint64_t on = UINT64_MAX, off = UINT64_MAX, t;
	int r;

	*link = bpf_program__attach_usdt(prog, getpid(), self, "dtactlat",
					 "calib", NULL);
	if (!*link)
		bpf_failure("cannot attach a uprobe (calibration)", errno);
	for (r = 0; r < CALIB_ROUNDS; r++) {
		t = calib_loop(calib_idle, worker);
		off = t < off ? t : off;
		t = calib_loop(calib_hit, worker);
		on = t < on ? t : on;
	}
	return on > off ? (double)(on - off) / CALIB_HITS : 0;
}

static void *close_fd(void *arg)
{
	close((int)(long)arg);
	return NULL;
}

/*
 * Close this process's BPF links and perf events from one thread each.
 * libbpf 1.1 tears a USDT link down one uprobe at a time, and the kernel
 * waits for RCU grace periods (tasks-trace and normal) for every uprobe;
 * on a loaded machine one such wait has been seen to last seconds.  From
 * parallel threads the waits overlap.  Called last: libbpf's own closes
 * then get EBADF, no file having been opened meanwhile.
 */
static void close_links_in_parallel(void)
{
	pthread_t th[256];
	int fds[256], n = 0, i;
	struct dirent *de;
	DIR *d;

	d = opendir("/proc/self/fd");
	if (!d)
		return;
	while ((de = readdir(d)) && n < 256) {
		char fn[300], what[64];
		ssize_t len;

		snprintf(fn, sizeof(fn), "/proc/self/fd/%s", de->d_name);
		len = readlink(fn, what, sizeof(what) - 1);
		if (len <= 0)
			continue;
		what[len] = 0;
		if (!strcmp(what, "anon_inode:bpf_link") ||
		    !strcmp(what, "anon_inode:[perf_event]"))
			fds[n++] = atoi(de->d_name);
	}
	closedir(d);
	for (i = 0; i < n; i++)
		if (pthread_create(&th[i], NULL, close_fd, (void *)(long)fds[i])) {
			close(fds[i]);
			th[i] = 0;
		}
	for (i = 0; i < n; i++)
		if (th[i])
			pthread_join(th[i], NULL);
}

static void hist_sub(struct dtl_hist *d, const struct dtl_hist *a,
		     const struct dtl_hist *b)
{
	int i;

	for (i = 0; i < DTL_MAX_SLOTS; i++)
		d->slots[i] = a->slots[i] - b->slots[i];
	d->sum_ns = a->sum_ns - b->sum_ns;
	d->unknown = a->unknown - b->unknown;
}

static void hist_acc(struct dtl_hist *d, const struct dtl_hist *a)
{
	int i;

	for (i = 0; i < DTL_MAX_SLOTS; i++)
		d->slots[i] += a->slots[i];
	d->sum_ns += a->sum_ns;
	d->unknown += a->unknown;
}

static unsigned long long hist_count(const struct dtl_hist *h)
{
	unsigned long long n = 0;
	int i;

	for (i = 0; i < DTL_MAX_SLOTS; i++)
		n += h->slots[i];
	return n;
}

static double hist_avg(const struct dtl_hist *h)
{
	unsigned long long n = hist_count(h);

	return n ? (double)h->sum_ns / (double)n / (double)env.unit_ns : 0;
}

static void print_avg(FILE *f, double v)
{
	fprintf(f, env.unit_ns == 1 ? "%.0f" : "%.1f", v);
}

static void json_slots(const struct dtl_hist *h)
{
	uint64_t lo, hi;
	int i, n = 0;

	printf("[");
	for (i = 0; i < DTL_MAX_SLOTS; i++) {
		if (!h->slots[i])
			continue;
		log2_slot_range(i, &lo, &hi);
		printf("%s[%llu,%llu,%llu]", n++ ? "," : "",
		       (unsigned long long)lo, (unsigned long long)hi,
		       h->slots[i]);
	}
	printf("]");
}

struct interval {
	struct dtl_worker total;
	struct dtl_worker *w;	/* per worker deltas */
	double secs;
	unsigned long long events;	/* probe hits traced */
};

static void print_text(const struct interval *iv, double cost_ns)
{
	const char *what = env.run ? "on-CPU slice" : "ready->running";
	const struct dtl_hist *h;
	unsigned long long n, rc = 0;
	double rate;
	int i;

	if (env.timestamp) {
		char buf[32];
		time_t now = time(NULL);

		strftime(buf, sizeof(buf), "%H:%M:%S", localtime(&now));
		printf("%-8s\n", buf);
	}
	if (env.per_worker) {
		for (i = 0; i < DTL_MAX_WORKERS; i++) {
			h = env.run ? &iv->w[i].run : &iv->w[i].ready;
			n = hist_count(h);
			if (!n && !h->unknown)
				continue;
			printf("\nworker = %d%s\n", i,
			       i == DTL_MAX_WORKERS - 1 ? " (and above)" : "");
			print_log2_hist(stdout, h->slots, DTL_MAX_SLOTS, env.unit);
			printf("worker %d: %llu switches, avg ", i, n);
			print_avg(stdout, hist_avg(h));
			printf(" %s, untimed %llu\n", env.unit, h->unknown);
		}
		printf("\n");
	}
	h = env.run ? &iv->total.run : &iv->total.ready;
	n = hist_count(h);
	if (!env.per_worker)
		print_log2_hist(stdout, h->slots, DTL_MAX_SLOTS, env.unit);
	rate = iv->secs > 0 ? (double)iv->events / iv->secs : 0;
	printf("%s: count %llu, avg ", what, n);
	print_avg(stdout, hist_avg(h));
	printf(" %s, untimed %llu | %.0f events/s, probes cost the "
	       "target ~%.2f%% of a CPU\n", env.unit, h->unknown, rate,
	       rate * cost_ns / 1e7);
	if (env.reasons) {
		for (i = 0; i < DTL_NR_REASONS; i++)
			rc += iv->total.reason_count[i];
		char tot_h[32], avg_h[32];

		snprintf(tot_h, sizeof(tot_h), "on-CPU %s", env.unit);
		snprintf(avg_h, sizeof(avg_h), "avg %s", env.unit);
		printf("%-8s %10s %7s %17s %10s\n", "reason", "switches",
		       "share", tot_h, avg_h);
		for (i = 0; i < DTL_NR_REASONS; i++) {
			unsigned long long c = iv->total.reason_count[i];
			double tot = (double)iv->total.reason_ns[i] /
				     (double)env.unit_ns;

			printf("%-8s %10llu %6.1f%% %17.0f ", reason_names[i],
			       c, rc ? 100.0 * (double)c / (double)rc : 0.0,
			       tot);
			printf(env.unit_ns == 1 ? "%10.0f\n" : "%10.1f\n",
			       c ? tot / (double)c : 0);
		}
	}
	printf("\n");
	fflush(stdout);
}

static void print_json(const struct interval *iv, double cost_ns)
{
	const struct dtl_hist *h = env.run ? &iv->total.run : &iv->total.ready;
	char buf[32];
	time_t now = time(NULL);
	int i, n = 0;

	strftime(buf, sizeof(buf), "%H:%M:%S", localtime(&now));
	printf("{\"time\":\"%s\",\"pid\":%d,\"interval_s\":%.3f,"
	       "\"hist\":\"%s\",\"unit\":\"%s\",\"count\":%llu"
	       ",\"untimed\":%llu,\"sum_ns\":%llu,\"avg\":%.1f,"
	       "\"events\":%llu,\"cost_ns\":%.0f,\"slots\":",
	       buf, (int)env.pid, iv->secs, env.run ? "run" : "ready",
	       env.unit, hist_count(h), h->unknown, h->sum_ns, hist_avg(h),
	       iv->events, cost_ns);
	json_slots(h);
	if (env.reasons) {
		printf(",\"reasons\":{");
		for (i = 0; i < DTL_NR_REASONS; i++)
			printf("%s\"%s\":{\"count\":%llu,\"ns\":%llu"
			       "}", i ? "," : "", reason_names[i],
			       iv->total.reason_count[i],
			       iv->total.reason_ns[i]);
		printf("}");
	}
	if (env.per_worker) {
		printf(",\"workers\":[");
		for (i = 0; i < DTL_MAX_WORKERS; i++) {
			const struct dtl_hist *wh = env.run ? &iv->w[i].run :
							      &iv->w[i].ready;

			if (!hist_count(wh) && !wh->unknown)
				continue;
			printf("%s{\"worker\":%d,\"count\":%llu"
			       ",\"untimed\":%llu,\"avg\":%.1f,\"slots\":",
			       n++ ? "," : "", i, hist_count(wh), wh->unknown,
			       hist_avg(wh));
			json_slots(wh);
			printf("}");
		}
		printf("]");
	}
	printf("}\n");
	fflush(stdout);
}

/*
 * Sleep until `deadline` (mono ns), SIGINT/SIGTERM, or the target's exit.
 * The signals are blocked except inside ppoll(), so one that arrives just
 * before the call still interrupts it (with the default interval, a missed
 * signal would mean waiting forever).
 */
static bool wait_until(uint64_t deadline, int pidfd, const sigset_t *unblock)
{
	for (;;) {
		uint64_t now = mono_ns(), left;
		struct pollfd p = { .fd = pidfd, .events = POLLIN };
		struct timespec ts;

		if (exiting)
			return false;
		if (now >= deadline)
			return true;
		left = deadline - now;
		if (pidfd < 0 && left > 200000000u)
			left = 200000000u;	/* poll kill(pid, 0) */
		ts.tv_sec = (time_t)(left / 1000000000u);
		ts.tv_nsec = (long)(left % 1000000000u);
		if (ppoll(&p, pidfd >= 0 ? 1 : 0, &ts, unblock) > 0)
			return false;	/* the pidfd is readable: it exited */
		if (pidfd < 0 && kill(env.pid, 0) && errno == ESRCH)
			return false;
	}
}

int main(int argc, char **argv)
{
	struct dtl_worker *prev = NULL, *cur = NULL;
	struct dtactlat_bpf *skel = NULL;
	struct bpf_link *calib[2] = { NULL, NULL };
	struct sigaction sa = { .sa_handler = on_signal };
	sigset_t stop_sigs, unblocked;
	struct target t;
	char self[4096];
	double cost = 0;
	bool want_in, want_out, more = true;
	FILE *banner;
	uint64_t t_prev;
	long i;
	int err, pidfd, ncost = 0;

	parse_args(argc, argv);
	if (!pid_exists(env.pid))
		die("no process with PID %d", (int)env.pid);
	if (!env.check)
		check_environment();
	find_target(env.pid, &t);
	if (env.check)
		return check_semaphores(&t);

	want_in = !env.run;
	want_out = env.run || env.reasons;
	if (want_in && !target_has_probe(&t, "switch_in"))
		die("%s has no dtact:switch_in probe", t.path);
	if (want_out && !target_has_probe(&t, "switch_out"))
		die("%s has no dtact:switch_out probe", t.path);
	err = (int)readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (err < 0)
		die("cannot read /proc/self/exe: %s", strerror(errno));
	self[err] = 0;

	/* From here on, SIGINT and SIGTERM are taken only inside ppoll() (a
	 * Ctrl-C during the attach ends the run at its first wait). */
	sigemptyset(&stop_sigs);
	sigaddset(&stop_sigs, SIGINT);
	sigaddset(&stop_sigs, SIGTERM);
	sigprocmask(SIG_BLOCK, &stop_sigs, &unblocked);
	sigdelset(&unblocked, SIGINT);
	sigdelset(&unblocked, SIGTERM);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	libbpf_set_print(libbpf_print);
	skel = dtactlat_bpf__open();
	if (!skel)
		bpf_failure("cannot open the BPF object", errno);
	skel->rodata->unit_div = env.unit_ns;
	skel->rodata->targ_worker = env.worker;
	bpf_program__set_autoload(skel->progs.switch_in, want_in);
	bpf_program__set_autoload(skel->progs.switch_out, want_out);
	err = dtactlat_bpf__load(skel);
	if (err)
		bpf_failure("cannot load the BPF programs", err);

	if (want_in) {
		cost += calibrate(skel->progs.switch_in, self, &calib[0]);
		ncost++;
	}
	if (want_out) {
		cost += calibrate(skel->progs.switch_out, self, &calib[1]);
		ncost++;
	}
	cost /= ncost;
	memset(skel->bss->stats, 0, sizeof(skel->bss->stats));

	if (want_in) {
		skel->links.switch_in = bpf_program__attach_usdt(
			skel->progs.switch_in, env.pid, t.open_path, "dtact",
			"switch_in", NULL);
		if (!skel->links.switch_in)
			bpf_failure("cannot attach to dtact:switch_in", errno);
	}
	if (want_out) {
		skel->links.switch_out = bpf_program__attach_usdt(
			skel->progs.switch_out, env.pid, t.open_path, "dtact",
			"switch_out", NULL);
		if (!skel->links.switch_out)
			bpf_failure("cannot attach to dtact:switch_out", errno);
	}

	pidfd = (int)syscall(SYS_pidfd_open, env.pid, 0);
	prev = calloc(DTL_MAX_WORKERS, sizeof(*prev));
	cur = calloc(DTL_MAX_WORKERS, sizeof(*cur));
	if (!prev || !cur)
		die("out of memory");

	banner = env.json ? stderr : stdout;
	fprintf(banner, "Tracing dtact fiber %s time in PID %d (%s, %s)... "
		"Hit Ctrl-C to end.\n", env.run ? "on-CPU slice" :
		"ready->running", (int)env.pid, t.comm, t.path);
	fprintf(banner, "dtactlat: each traced event costs about %.0f ns "
		"(measured at start), paid by the target on every %s%s\n",
		cost, want_in ? "switch-in" : "switch-out",
		want_in && want_out ? " and switch-out" : "");
	fflush(banner);

	t_prev = mono_ns();
	for (i = 0; more && (!env.count || i < env.count); i++) {
		struct interval iv = { .w = cur };
		uint64_t now;
		int w;

		more = wait_until(t_prev + (uint64_t)(env.interval * 1e9),
				  pidfd, &unblocked);
		now = mono_ns();
		memcpy(cur, (const void *)skel->bss->stats,
		       DTL_MAX_WORKERS * sizeof(*cur));
		for (w = 0; w < DTL_MAX_WORKERS; w++) {
			struct dtl_worker d;
			int r;

			hist_sub(&d.ready, &cur[w].ready, &prev[w].ready);
			hist_sub(&d.run, &cur[w].run, &prev[w].run);
			for (r = 0; r < DTL_NR_REASONS; r++) {
				d.reason_count[r] = cur[w].reason_count[r] -
						    prev[w].reason_count[r];
				d.reason_ns[r] = cur[w].reason_ns[r] -
						 prev[w].reason_ns[r];
				iv.total.reason_count[r] += d.reason_count[r];
				iv.total.reason_ns[r] += d.reason_ns[r];
			}
			hist_acc(&iv.total.ready, &d.ready);
			hist_acc(&iv.total.run, &d.run);
			prev[w] = cur[w];
			cur[w] = d;	/* cur now holds this interval's deltas */
		}
		if (want_in)
			iv.events += hist_count(&iv.total.ready) +
				     iv.total.ready.unknown;
		if (want_out)
			iv.events += hist_count(&iv.total.run) +
				     iv.total.run.unknown;
		iv.secs = (double)(now - t_prev) / 1e9;
		t_prev = now;
		if (env.json)
			print_json(&iv, cost);
		else
			print_text(&iv, cost);
	}
	if (!exiting && more == false)
		fprintf(stderr, "dtactlat: PID %d exited\n", (int)env.pid);

	t_prev = mono_ns();
	close_links_in_parallel();
	if (mono_ns() - t_prev > 2000000000u)
		fprintf(stderr, "dtactlat: detaching took %.1f s (the kernel "
			"waits for RCU grace periods, slow on a busy machine)\n",
			(double)(mono_ns() - t_prev) / 1e9);
	bpf_link__destroy(calib[0]);
	bpf_link__destroy(calib[1]);
	dtactlat_bpf__destroy(skel);
	usdt_file_free(&t.uf);
	free(prev);
	free(cur);
	if (pidfd >= 0)
		close(pidfd);
	return 0;
}
