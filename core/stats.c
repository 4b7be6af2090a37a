/* SPDX-License-Identifier: MIT */
/*
 * core/stats.c - statistics (DTACT_STATS, DTACT_STATS_SIGNAL), the
 * observability settings, the signal handler of the statistics and the
 * fiber dump, and the USDT semaphores (DESIGN 11).
 *
 * Contract: see core/stats.h.  In short: the counters are per worker and
 * written by their worker alone with plain increments; printing reads
 * them racily (whole 64-bit loads, no snapshot).  Every printing path is
 * async-signal-safe: it formats into a buffer on the stack (struct
 * dt_out) and writes it with the raw write system call; no malloc, no
 * stdio, no lock.
 *
 * Signal handlers are installed with the real sigaction (dlsym RTLD_NEXT:
 * under the shim, interpose/signal.c interposes sigaction and would wrap
 * ours), never over a handler the program set itself (a one-line warning
 * instead), with SA_RESTART so that no blocking call of the interrupted
 * thread sees EINTR because of us.
 */
#include <dlfcn.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/config.h"
#include "core/dt.h"
#include "core/dump.h"
#include "core/probes.h"
#include "core/stats.h"
#include "core/watchdog.h"

/* ---------------------------------------------------------------- */
/* USDT semaphores (core/probes.h): hidden, in section .probes, where  */
/* tracers look for them through the stapsdt notes.                     */

#ifndef DT_NO_PROBES
#define DT_SEMAPHORE(p) \
	unsigned short dtact_##p##_semaphore \
		__attribute__((section(".probes"), used)) = 0
DT_SEMAPHORE(spawn);
DT_SEMAPHORE(wake);
DT_SEMAPHORE(switch_in);
DT_SEMAPHORE(switch_out);
DT_SEMAPHORE(park);
DT_SEMAPHORE(unpark);
DT_SEMAPHORE(stall);
#endif

_Atomic uint32_t dt_probe_epoch;	/* core/probes.h */

_Atomic uint64_t dt_stats_spawns_ext;
int dt_obs_pid;

/* Provided by core/offload.c when it is linked in (see core/offload.h). */
extern uint64_t dt_offload_count(void)
	__attribute__((weak, visibility("hidden")));

/* ---------------------------------------------------------------- */
/* Line writer                                                         */

void dt_out_init(struct dt_out *o, int fd)
{
	o->fd = fd;
	o->n = 0;
}

void dt_out_flush(struct dt_out *o)
{
	size_t off = 0;

	while (off < o->n) {
		long r = dt_sys(SYS_write, o->fd, o->b + off, o->n - off, 0,
				0, 0);

		if (r == -EINTR)
			continue;
		if (r <= 0)
			break;
		off += (size_t)r;
	}
	o->n = 0;
}

static void out_ch(struct dt_out *o, char c)
{
	if (o->n == sizeof(o->b))
		dt_out_flush(o);
	o->b[o->n++] = c;
}

void dt_out_str(struct dt_out *o, const char *s)
{
	while (*s)
		out_ch(o, *s++);
}

void dt_out_strn(struct dt_out *o, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n && s[i]; i++)
		out_ch(o, s[i] >= 0x20 && s[i] < 0x7f && s[i] != '"' &&
			  s[i] != '\\' ? s[i] : '?');
}

static int fmt_u64(char *buf, uint64_t v)	/* buf: 20 bytes */
{
	char t[20];
	int n = 0, i;

	do
		t[n++] = (char)('0' + v % 10);
	while ((v /= 10));
	for (i = 0; i < n; i++)
		buf[i] = t[n - 1 - i];
	return n;
}

void dt_out_u64(struct dt_out *o, uint64_t v)
{
	char b[20];
	int i, n = fmt_u64(b, v);

	for (i = 0; i < n; i++)
		out_ch(o, b[i]);
}

void dt_out_i64(struct dt_out *o, int64_t v)
{
	if (v < 0) {
		out_ch(o, '-');
		dt_out_u64(o, (uint64_t)0 - (uint64_t)v);
	} else {
		dt_out_u64(o, (uint64_t)v);
	}
}

void dt_out_hex(struct dt_out *o, uint64_t v)
{
	int sh = 60;

	dt_out_str(o, "0x");
	while (sh > 0 && !((v >> sh) & 15))
		sh -= 4;
	for (; sh >= 0; sh -= 4)
		out_ch(o, "0123456789abcdef"[(v >> sh) & 15]);
}

void dt_out_col(struct dt_out *o, uint64_t v, int width)
{
	char b[20];
	int i, n = fmt_u64(b, v);

	for (i = n; i < width; i++)
		out_ch(o, ' ');
	for (i = 0; i < n; i++)
		out_ch(o, b[i]);
}

void dt_out_scol(struct dt_out *o, const char *s, int width)
{
	int i, n = (int)strlen(s);

	for (i = n; i < width; i++)
		out_ch(o, ' ');
	dt_out_str(o, s);
}

/* ---------------------------------------------------------------- */
/* Configuration                                                       */

static int bad(const char *name, const char *val, const char *range)
{
	dt_msg("dtact: %s=%s is invalid: expected %s\n", name, val, range);
	return -EINVAL;
}

static const struct {
	const char *name;
	int sig;
} signames[] = {
	{ "HUP", SIGHUP }, { "INT", SIGINT }, { "QUIT", SIGQUIT },
	{ "ILL", SIGILL }, { "TRAP", SIGTRAP }, { "ABRT", SIGABRT },
	{ "IOT", SIGIOT }, { "BUS", SIGBUS }, { "FPE", SIGFPE },
	{ "KILL", SIGKILL }, { "USR1", SIGUSR1 }, { "SEGV", SIGSEGV },
	{ "USR2", SIGUSR2 }, { "PIPE", SIGPIPE }, { "ALRM", SIGALRM },
	{ "TERM", SIGTERM }, { "STKFLT", SIGSTKFLT }, { "CHLD", SIGCHLD },
	{ "CONT", SIGCONT }, { "STOP", SIGSTOP }, { "TSTP", SIGTSTP },
	{ "TTIN", SIGTTIN }, { "TTOU", SIGTTOU }, { "URG", SIGURG },
	{ "XCPU", SIGXCPU }, { "XFSZ", SIGXFSZ }, { "VTALRM", SIGVTALRM },
	{ "PROF", SIGPROF }, { "WINCH", SIGWINCH }, { "IO", SIGIO },
	{ "POLL", SIGPOLL }, { "PWR", SIGPWR }, { "SYS", SIGSYS },
};

/* Short name of sig for messages ("QUIT", "RTMIN+2", "70"). */
static void signame(struct dt_out *o, int sig)
{
	size_t i;

	for (i = 0; i < sizeof(signames) / sizeof(signames[0]); i++)
		if (signames[i].sig == sig) {
			dt_out_str(o, signames[i].name);
			return;
		}
	if (sig >= SIGRTMIN && sig <= SIGRTMAX) {
		dt_out_str(o, "RTMIN+");
		dt_out_u64(o, (uint64_t)(sig - SIGRTMIN));
		return;
	}
	dt_out_u64(o, (uint64_t)sig);
}

int dt_parse_signal(const char *s)
{
	uint64_t v;
	int sig = -1;
	size_t i;

	if (!s || !*s)
		return -EINVAL;
	if (*s >= '0' && *s <= '9') {
		if (dt_parse_u64(s, &v) || v < 1 || v >= _NSIG)
			return -EINVAL;
		sig = (int)v;
	} else {
		if (!strncasecmp(s, "SIG", 3))
			s += 3;
		for (i = 0; i < sizeof(signames) / sizeof(signames[0]); i++)
			if (!strcasecmp(s, signames[i].name))
				sig = signames[i].sig;
		if (sig < 0 && !strncasecmp(s, "RTMIN", 5)) {
			v = 0;
			if (s[5] && (s[5] != '+' || dt_parse_u64(s + 6, &v)))
				return -EINVAL;
			if (v > (uint64_t)(SIGRTMAX - SIGRTMIN))
				return -EINVAL;
			sig = SIGRTMIN + (int)v;
		} else if (sig < 0 && !strncasecmp(s, "RTMAX", 5)) {
			v = 0;
			if (s[5] && (s[5] != '-' || dt_parse_u64(s + 6, &v)))
				return -EINVAL;
			if (v > (uint64_t)(SIGRTMAX - SIGRTMIN))
				return -EINVAL;
			sig = SIGRTMAX - (int)v;
		}
		if (sig < 0)
			return -EINVAL;
	}
	/* Uncatchable, synchronous faults (the dump guards itself with
	 * SEGV and BUS), and glibc's own real-time signals. */
	if (sig == SIGKILL || sig == SIGSTOP || sig == SIGSEGV ||
	    sig == SIGBUS || sig == SIGFPE || sig == SIGILL ||
	    (sig > 31 && sig < SIGRTMIN))
		return -EINVAL;
	return sig;
}

#define SIGNAL_RANGE "a signal name or number (QUIT, USR1, SIGUSR2, " \
	"RTMIN+1, 10...) or 0 for none, not KILL, STOP, SEGV, BUS, FPE " \
	"or ILL"

static int env_signal(const char *name, int *out)
{
	const char *s = getenv(name);
	int sig;

	*out = 0;
	if (!s || !*s || !strcmp(s, "0"))
		return 0;
	sig = dt_parse_signal(s);
	if (sig < 0)
		return bad(name, s, SIGNAL_RANGE);
	*out = sig;
	return 0;
}

int dt_obs_config(struct dt_obs_cfg *c)
{
	const char *s;
	uint64_t v;

	memset(c, 0, sizeof(*c));
	c->stall_ms = DT_STALL_MS_DEFAULT;
	if ((s = getenv("DTACT_STATS")) && *s) {
		if (!strcmp(s, "1"))
			c->stats = DT_STATS_TABLE;
		else if (!strcasecmp(s, "json"))
			c->stats = DT_STATS_JSON;
		else if (strcmp(s, "0"))
			return bad("DTACT_STATS", s, "0, 1 or json");
	}
	if (env_signal("DTACT_STATS_SIGNAL", &c->stats_sig) ||
	    env_signal("DTACT_DUMP_SIGNAL", &c->dump_sig))
		return -EINVAL;
	if ((s = getenv("DTACT_STALL_MS")) && *s) {
		if (dt_parse_u64(s, &v) || v > DT_STALL_MS_MAX)
			return bad("DTACT_STALL_MS", s,
				   "an integer from 0 (no watchdog) to "
				   "3600000 (milliseconds)");
		c->stall_ms = (uint32_t)v;
	}
	if ((s = getenv("DTACT_STALL_WARN")) && *s) {
		if (strcmp(s, "0") && strcmp(s, "1"))
			return bad("DTACT_STALL_WARN", s, "0 or 1");
		c->stall_warn = *s == '1';
	}
	return 0;
}

/* ---------------------------------------------------------------- */
/* Printing                                                            */

#define LD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)

static const char *const reason_names[DT_REASON_NR] = {
	"yield", "io", "sleep", "lock", "join", "exit", "other",
};

struct row {
	uint64_t sw, spawns, parks[DT_REASON_NR], mbox, inject, epoll, wake;
	uint64_t stalls, moved;
};

static void read_row(int i, struct row *r)
{
	struct dt_worker *w = &dt_rt.workers[i];
	int k;

	r->sw = LD(w->st.switches);
	r->spawns = LD(w->st.spawns);
	for (k = 0; k < DT_REASON_NR; k++)
		r->parks[k] = LD(w->st.parks[k]);
	r->mbox = LD(w->st.mailbox_in);
	r->inject = LD(w->st.inject_in);
	r->epoll = LD(w->st.epoll_waits);
	r->wake = LD(w->st.wakeups_sent);
	dt_wd_counts(i, &r->stalls, &r->moved);
}

static void add_row(struct row *t, const struct row *r)
{
	int k;

	t->sw += r->sw;
	t->spawns += r->spawns;
	for (k = 0; k < DT_REASON_NR; k++)
		t->parks[k] += r->parks[k];
	t->mbox += r->mbox;
	t->inject += r->inject;
	t->epoll += r->epoll;
	t->wake += r->wake;
	t->stalls += r->stalls;
	t->moved += r->moved;
}

struct proc {
	uint64_t created, ended, live, offloaded;
	uint64_t slots, used, alive, warm, cold;
};

static void read_proc(const struct row *tot, struct proc *p)
{
	struct dt_arena *a = &dt_rt.arena;
	uint64_t cached = 0;
	int i;

	p->created = tot->spawns + atomic_load_explicit(&dt_stats_spawns_ext,
						memory_order_relaxed);
	/* Each worker counts the exits of its fibers (parks with reason
	 * exit): no counter shared by the workers on the exit path. */
	p->ended = tot->parks[DT_REASON_EXIT];
	p->live = 0;
	for (i = 0; i < dt_rt.nworkers; i++) {
		p->live += atomic_load_explicit(&dt_rt.workers[i].resident,
						memory_order_relaxed);
		cached += LD(dt_rt.workers[i].cache_n);
	}
	p->offloaded = dt_offload_count ? dt_offload_count() : 0;
	p->slots = a->cap;
	p->used = atomic_load_explicit(&a->top, memory_order_relaxed);
	p->alive = atomic_load_explicit(&a->live, memory_order_relaxed);
	p->warm = atomic_load_explicit(&a->warm_free, memory_order_relaxed) +
		  cached;
	p->cold = p->used > p->alive + p->warm ?
		  p->used - p->alive - p->warm : 0;
}

static void table_row(struct dt_out *o, const char *label, int id,
		      const struct row *r)
{
	if (label)
		dt_out_scol(o, label, 6);
	else
		dt_out_col(o, (uint64_t)id, 6);
	dt_out_col(o, r->sw, 12);
	dt_out_col(o, r->spawns, 10);
	dt_out_col(o, r->mbox, 10);
	dt_out_col(o, r->inject, 10);
	dt_out_col(o, r->epoll, 11);
	dt_out_col(o, r->wake, 10);
	dt_out_col(o, r->stalls, 7);
	dt_out_col(o, r->moved, 6);
	dt_out_str(o, "\n");
}

static void parks_row(struct dt_out *o, const char *label, int id,
		      const struct row *r)
{
	int k;

	if (label)
		dt_out_scol(o, label, 6);
	else
		dt_out_col(o, (uint64_t)id, 6);
	for (k = 0; k < DT_REASON_NR; k++)
		dt_out_col(o, r->parks[k], 10);
	dt_out_str(o, "\n");
}

static void print_table(struct dt_out *o, const char *when)
{
	struct row r, tot;
	struct proc p;
	int i, k, n = dt_rt.nworkers;

	memset(&tot, 0, sizeof(tot));
	dt_out_str(o, "dtact stats at ");
	dt_out_str(o, when);
	dt_out_str(o, ": pid ");
	dt_out_u64(o, (uint64_t)dt_sys(SYS_getpid, 0, 0, 0, 0, 0, 0));
	dt_out_str(o, ", ");
	dt_out_u64(o, (uint64_t)n);
	dt_out_str(o, n == 1 ? " worker\n" : " workers\n");
	dt_out_str(o, "worker    switches    spawns   mbox_in inject_in "
		   "epoll_wait evfd_wake stalls moved\n");
	for (i = 0; i < n; i++) {
		read_row(i, &r);
		add_row(&tot, &r);
		table_row(o, NULL, i, &r);
	}
	if (n > 1)
		table_row(o, "all", 0, &tot);
	dt_out_str(o, "parks ");
	for (k = 0; k < DT_REASON_NR; k++)
		dt_out_scol(o, reason_names[k], 10);
	dt_out_str(o, "\n");
	memset(&tot, 0, sizeof(tot));
	for (i = 0; i < n; i++) {
		read_row(i, &r);
		add_row(&tot, &r);
		parks_row(o, NULL, i, &r);
	}
	if (n > 1)
		parks_row(o, "all", 0, &tot);
	read_proc(&tot, &p);
	dt_out_str(o, "fibers: ");
	dt_out_u64(o, p.created);
	dt_out_str(o, " created, ");
	dt_out_u64(o, p.ended);
	dt_out_str(o, " ended, ");
	dt_out_u64(o, p.live);
	dt_out_str(o, " live; offloaded calls: ");
	dt_out_u64(o, p.offloaded);
	dt_out_str(o, "\narena: ");
	dt_out_u64(o, p.slots);
	dt_out_str(o, " slots, ");
	dt_out_u64(o, p.used);
	dt_out_str(o, " used: ");
	dt_out_u64(o, p.alive);
	dt_out_str(o, " held, ");
	dt_out_u64(o, p.warm);
	dt_out_str(o, " warm free, ");
	dt_out_u64(o, p.cold);
	dt_out_str(o, " cold free\n");
	dt_out_flush(o);
}

static void jkey(struct dt_out *o, const char *k, uint64_t v)
{
	dt_out_str(o, ",\"");
	dt_out_str(o, k);
	dt_out_str(o, "\":");
	dt_out_u64(o, v);
}

static void jhead(struct dt_out *o, const char *kind, const char *when)
{
	dt_out_str(o, "{\"dtact\":\"");
	dt_out_str(o, kind);
	dt_out_str(o, "\",\"when\":\"");
	dt_out_str(o, when);
	dt_out_str(o, "\"");
	jkey(o, "pid", (uint64_t)dt_sys(SYS_getpid, 0, 0, 0, 0, 0, 0));
}

static void print_json(struct dt_out *o, const char *when)
{
	struct row r, tot;
	struct proc p;
	int i, k;

	memset(&tot, 0, sizeof(tot));
	for (i = 0; i < dt_rt.nworkers; i++) {
		read_row(i, &r);
		add_row(&tot, &r);
		jhead(o, "worker", when);
		jkey(o, "worker", (uint64_t)i);
		jkey(o, "switches", r.sw);
		jkey(o, "spawns", r.spawns);
		dt_out_str(o, ",\"parks\":{");
		for (k = 0; k < DT_REASON_NR; k++) {
			dt_out_str(o, k ? ",\"" : "\"");
			dt_out_str(o, reason_names[k]);
			dt_out_str(o, "\":");
			dt_out_u64(o, r.parks[k]);
		}
		dt_out_str(o, "}");
		jkey(o, "mailbox_in", r.mbox);
		jkey(o, "inject_in", r.inject);
		jkey(o, "epoll_waits", r.epoll);
		jkey(o, "wakeups_sent", r.wake);
		jkey(o, "stalls", r.stalls);
		jkey(o, "moved", r.moved);
		dt_out_str(o, "}\n");
		dt_out_flush(o);	/* one object per write when it fits */
	}
	read_proc(&tot, &p);
	jhead(o, "process", when);
	jkey(o, "workers", (uint64_t)dt_rt.nworkers);
	jkey(o, "switches", tot.sw);
	jkey(o, "stalls", tot.stalls);
	jkey(o, "fibers_created", p.created);
	jkey(o, "fibers_ended", p.ended);
	jkey(o, "fibers_live", p.live);
	jkey(o, "offloaded", p.offloaded);
	jkey(o, "arena_slots", p.slots);
	jkey(o, "arena_used", p.used);
	jkey(o, "arena_held", p.alive);
	jkey(o, "arena_warm", p.warm);
	jkey(o, "arena_cold", p.cold);
	dt_out_str(o, "}\n");
	dt_out_flush(o);
}

void dt_stats_print(int fd, int format, const char *when)
{
	struct dt_out o;

	if (atomic_load_explicit(&dt_rt.state, memory_order_acquire) == 0 ||
	    !dt_rt.workers)
		return;
	dt_out_init(&o, fd);
	if (format == DT_STATS_JSON)
		print_json(&o, when);
	else
		print_table(&o, when);
}

/* ---------------------------------------------------------------- */
/* Signal handlers and lifecycle                                       */

typedef int (*sigaction_fn)(int, const struct sigaction *,
			    struct sigaction *);

static struct dt_obs_cfg obs;		/* what dt_obs_start was given */
static sigaction_fn real_sigaction;
static struct {
	int sig;			/* 0: slot unused */
	struct sigaction old;		/* to put back in dt_obs_stop */
} installed[2];
static int atexit_done;

static long my_getpid(void)
{
	return dt_sys(SYS_getpid, 0, 0, 0, 0, 0, 0);
}

static void obs_handler(int sig, siginfo_t *si, void *uc)
{
	int saved = errno;

	(void)si;
	if (my_getpid() != dt_obs_pid) {
		/* A forked child: the runtime is not its own.  Behave as if
		 * no handler had been installed: default action, again
		 * (sig is blocked until we return). */
		struct sigaction dfl;

		memset(&dfl, 0, sizeof(dfl));
		dfl.sa_handler = SIG_DFL;
		real_sigaction(sig, &dfl, NULL);
		dt_sys(SYS_kill, my_getpid(), sig, 0, 0, 0, 0);
		errno = saved;
		return;
	}
	if (sig == obs.dump_sig)
		dt_dump_fibers(2, uc, sig);
	if (sig == obs.stats_sig)
		dt_stats_print(2, obs.stats ? obs.stats : DT_STATS_TABLE,
			       "signal");
	errno = saved;
}

static void warn_sig(const char *var, int sig, const char *what)
{
	struct dt_out o;

	dt_out_init(&o, 2);
	dt_out_str(&o, "dtact: ");
	dt_out_str(&o, var);
	dt_out_str(&o, "=");
	signame(&o, sig);
	dt_out_str(&o, ": ");
	dt_out_str(&o, what);
	dt_out_str(&o, "\n");
	dt_out_flush(&o);
}

static int install(int slot, int sig, const char *var)
{
	struct sigaction old, act;

	if (!real_sigaction || real_sigaction(sig, NULL, &old)) {
		warn_sig(var, sig, "cannot read the signal's action; "
			 "not installed");
		return -1;
	}
	/* SIG_DFL or SIG_IGN (an inherited "ignore", as a shell gives a
	 * background job for QUIT) are not the program's handler. */
	if (old.sa_handler != SIG_DFL && old.sa_handler != SIG_IGN) {
		warn_sig(var, sig, "the program handles this signal itself; "
			 "dtact leaves it alone");
		return -1;
	}
	memset(&act, 0, sizeof(act));
	act.sa_sigaction = obs_handler;
	act.sa_flags = SA_SIGINFO | SA_RESTART;
	/* Nothing else interleaves with a dump or a table, except the
	 * faults the dump guards itself against (core/dump.c). */
	sigfillset(&act.sa_mask);
	sigdelset(&act.sa_mask, SIGSEGV);
	sigdelset(&act.sa_mask, SIGBUS);
	sigdelset(&act.sa_mask, SIGFPE);
	sigdelset(&act.sa_mask, SIGILL);
	sigdelset(&act.sa_mask, SIGTRAP);
	if (real_sigaction(sig, &act, NULL)) {
		warn_sig(var, sig, "sigaction failed; not installed");
		return -1;
	}
	installed[slot].sig = sig;
	installed[slot].old = old;
	return 0;
}

static void obs_atexit(void)
{
	if (my_getpid() != dt_obs_pid)
		return;		/* a forked child's exit */
	/* No stall reports while exit handlers and destructors run. */
	dt_wd_stop();
	if (obs.stats)
		dt_stats_print(2, obs.stats, "exit");
}

void dt_obs_start(const struct dt_obs_cfg *c, int at_exit)
{
	int r;

	obs = *c;
	dt_obs_pid = (int)my_getpid();
	if (!real_sigaction)
		real_sigaction = (sigaction_fn)dlsym(RTLD_NEXT, "sigaction");
	if (!real_sigaction)
		real_sigaction = sigaction;
	if (c->dump_sig) {
		dt_dump_prepare();
		dt_dump_armed = 1;	/* before the handler can run */
		if (install(0, c->dump_sig, "DTACT_DUMP_SIGNAL")) {
			dt_dump_armed = 0;
			obs.dump_sig = 0;
		}
	}
	if (c->stats_sig && c->stats_sig != c->dump_sig &&
	    install(1, c->stats_sig, "DTACT_STATS_SIGNAL"))
		obs.stats_sig = 0;
	if (c->stall_ms) {
		r = dt_wd_start(c->stall_ms, c->stall_warn);
		if (r)
			dt_msg("dtact: cannot start the stall watchdog: %s\n",
			       strerror(-r));
	}
	if (at_exit && !atexit_done) {
		atexit_done = 1;
		atexit(obs_atexit);
	}
}

void dt_obs_stop(void)
{
	int i;

	if (obs.stats && my_getpid() == dt_obs_pid)
		dt_stats_print(2, obs.stats, "exit");
	dt_wd_stop();
	for (i = 0; i < 2; i++) {
		struct sigaction cur;

		if (!installed[i].sig)
			continue;
		/* Only if ours is still there (the program may have put its
		 * own handler since). */
		if (!real_sigaction(installed[i].sig, NULL, &cur) &&
		    (cur.sa_flags & SA_SIGINFO) &&
		    cur.sa_sigaction == obs_handler)
			real_sigaction(installed[i].sig, &installed[i].old,
				       NULL);
		installed[i].sig = 0;
	}
	dt_dump_armed = 0;
	memset(&obs, 0, sizeof(obs));
}
