/* SPDX-License-Identifier: MIT */
/*
 * interpose/process.c - waiting for children and starting programs:
 * wait(2), waitpid, wait3, wait4, waitid, system(3), popen(3), pclose(3),
 * fclose(3) (a popen stream's is its pclose),
 * posix_spawn(3), posix_spawnp.  (fork, vfork and the exec family are in
 * fd.c.)
 *
 * Waiting, from a fiber (DESIGN 9).  A wait that may block is first tried
 * with WNOHANG; when nothing is ready yet the fiber parks until something
 * may have changed, then tries again:
 *   - one child, only its exit wanted (waitpid(pid > 0), waitid(P_PID)
 *     with WEXITED alone): a pidfd (pidfd_open(2)) becomes readable when
 *     the child exits; the fiber waits for that readiness in the reactor
 *     (and looks now and then whether the child became its tracee).
 *   - anything else (any child, a process group, stops and continues,
 *     P_PIDFD, a child ptrace-attached by this process, whose ptrace stops
 *     a pidfd does not signal): a *probe* on the offload pool blocks in
 *     waitid(..., WNOWAIT), which reports that a child is waitable without
 *     reaping it, then wakes every fiber parked on the same question.
 *     The status is always collected by the caller's own WNOHANG retry, so
 *     no child is ever reaped on behalf of a fiber that stopped waiting.
 * Either way the wait is interruptible: a signal handler installed without
 * SA_RESTART ends it with EINTR, as signal(7) says for wait calls.  WNOHANG
 * calls, __WNOTHREAD calls (the pool cannot see the caller's own
 * children), threads that are not fibers and a forked child call libc
 * straight through.  Results, status words, rusage and errno are the
 * kernel's, from the caller's final call.
 *
 * system(3) and pclose(3) wait inside libc: from a fiber they run on the
 * offload pool.  system() runs the real system() on a pool thread that
 * takes the program's signal mask for the duration of the call (so the
 * shell and the command start with the mask the program has, not the
 * pool's): glibc's own mask changes (SIGCHLD blocked) then happen on the
 * pool thread, and while it runs a process-directed signal may be handled
 * on that thread, as POSIX allows for any thread that does not block it.
 *
 * Starting programs.  A child must see the program's own file status
 * flags, not dtact's O_NONBLOCK (DESIGN 7): system, popen, posix_spawn
 * and posix_spawnp put them back (dt_fd_restore_all) first, as execve
 * does in fd.c; glibc runs them on its internal posix_spawn and execve,
 * which interposition does not see.  A child must also start with the
 * program's signal mask, not the worker's (child_sigmask): posix_spawn
 * gets it through its attributes unless the caller chose one; popen,
 * which does not wait and otherwise runs on the caller, runs on the pool
 * with it when the caller's worker mask is not the program's.
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/offload.h"
#include "interpose/interpose.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

/* ---------------------------------------------------------------- */
/* The real functions, resolved once on first use                     */


static void *_Atomic slot_wait, *_Atomic slot_waitpid, *_Atomic slot_wait3,
	*_Atomic slot_wait4, *_Atomic slot_waitid, *_Atomic slot_system,
	*_Atomic slot_popen, *_Atomic slot_pclose, *_Atomic slot_posix_spawn,
	*_Atomic slot_posix_spawnp, *_Atomic slot_fclose;

#define PROC_REAL(name) ((__typeof__(&name))dt_real_sym(&slot_##name, #name))

static inline bool tracking(void)
{
	return dt_shim_up && !dt_shim_forked;
}

/* ---------------------------------------------------------------- */
/* Raw calls (-errno, never the application's errno)                  */

static long sys_wait4(pid_t pid, int *status, int options,
		      struct rusage *ru)
{
	return dt_sys(SYS_wait4, pid, status, options, ru, 0, 0);
}

static long sys_waitid(idtype_t t, id_t id, siginfo_t *si, int options)
{
	return dt_sys(SYS_waitid, t, id, si, options, NULL, 0);
}

/*
 * The text after "key" in the /proc file at path (e.g. "TracerPid:" in
 * /proc/<pid>/status), read into buf; NULL if the file or the line is not
 * there.
 */
static const char *proc_field(const char *path, const char *key, char *buf,
			      size_t size)
{
	const char *p;
	long fd, n;

	fd = dt_sys(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC, 0, 0,
		    0);
	if (fd < 0)
		return NULL;
	n = dt_sys(SYS_read, fd, buf, size - 1, 0, 0, 0);
	dt_sys(SYS_close, fd, 0, 0, 0, 0, 0);
	if (n <= 0)
		return NULL;
	buf[n] = '\0';
	p = strstr(buf, key);
	return p ? p + strlen(key) : NULL;
}

/* Is pid ptrace-attached by a thread of this process?  Its ptrace stops
 * are then reported by wait without WUNTRACED, and a pidfd does not
 * signal them. */
static bool traced_by_us(pid_t pid)
{
	char path[64], buf[1024];
	const char *v;
	long tracer;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	v = proc_field(path, "TracerPid:", buf, sizeof(buf));
	tracer = v ? strtol(v, NULL, 10) : 0;
	if (tracer <= 0)
		return false;
	if (tracer == dt_sys(SYS_getpid, 0, 0, 0, 0, 0, 0))
		return true;
	snprintf(path, sizeof(path), "/proc/self/task/%ld", tracer);
	return dt_sys(SYS_faccessat, AT_FDCWD, path, F_OK, 0, 0, 0) == 0;
}

/* A mask with every signal blocked (the kernel never shows SIGKILL and
 * SIGSTOP; glibc's internal SIGCANCEL and SIGSETXID, 32 and 33, may or
 * may not be in it): what libc sets for a moment inside pthread_create,
 * posix_spawn and the like.  Bit n - 1 is signal n. */
#define MASK_IGNORED	((1ull << (SIGKILL - 1)) | \
			 (1ull << (SIGSTOP - 1)) | (1ull << 31) | (1ull << 32))
#define MASK_ALL_BLOCKED(bits)	(((bits) | MASK_IGNORED) == ~0ull)

/*
 * The signal mask a child started by the caller must begin with: the
 * program's, never a worker's.  Workers other than worker 0 block every
 * asynchronous signal (core/sched.c) and a child inherits the mask of
 * the thread that starts it.  A fiber has no mask of its own: the
 * program's is the main thread's, which is worker 0's thread, read from
 * /proc when the caller runs elsewhere, waiting out (up to 10 ms) a
 * moment in which libc or the pool has blocked everything there.  So a
 * thread that changed its own mask and starts a child from another worker
 * gives the child the main thread's mask (per-fiber masks would fix it).
 * A thread that is not a worker, and a forked child, have their own.
 * !may_wait (fork's prepare handler, which must not park): such a moment
 * gives the empty mask.
 */
void dt_program_sigmask(sigset_t *m, bool may_wait)
{
	struct dt_worker *w = dt_self;
	char path[64], buf[4096];
	unsigned long long bits;
	const char *v;
	int tries;

	sigemptyset(m);
	if (w && w->id != 0 && !dt_shim_forked) {
		snprintf(path, sizeof(path), "/proc/self/task/%ld/status",
			 dt_sys(SYS_getpid, 0, 0, 0, 0, 0, 0));
		for (tries = 0;; tries++) {
			v = proc_field(path, "SigBlk:", buf, sizeof(buf));
			if (!v)
				break;
			bits = strtoull(v, NULL, 16);
			if (MASK_ALL_BLOCKED(bits)) {
				if (may_wait && tries < 50 && dt_current()) {
					dt_sleep_until(dt_now_ns() + 200000,
						       CLOCK_MONOTONIC);
					continue;
				}
				if (!may_wait)
					return;	/* the empty mask */
			}
			/* The kernel's word: bit n - 1 is signal n, as in
			 * the first word of glibc's sigset_t. */
			bits &= ~((1ull << 31) | (1ull << 32));
			memcpy(m, &bits, sizeof(bits));
			return;
		}
	}
	dt_sys(SYS_rt_sigprocmask, SIG_BLOCK, NULL, m, _NSIG / 8, 0, 0);
}

static void child_sigmask(sigset_t *m)
{
	dt_program_sigmask(m, true);
}

/* Does a child started on this thread get another mask than the
 * program's (a fiber on a worker other than worker 0)? */
static bool needs_child_mask(void)
{
	return dt_may_park() && dt_self->id != 0;
}

/* ---------------------------------------------------------------- */
/* Probes: "is some child in this set waitable?" on the offload pool  */

/*
 * One blocking waitid(WNOWAIT) in flight on the pool, shared by every
 * fiber that asks the same question (same idtype, id and flags), so that
 * fibers that were interrupted and ask again, or many fibers waiting for
 * any child, occupy one pool thread, not one each.  Heap-allocated: a
 * probe outlives the fibers that stopped waiting for it, and frees itself
 * when its waitid returns.
 */
struct probe {
	struct dt_offload_job job;
	idtype_t idtype;
	id_t id;
	int wflags;			/* WEXITED etc.; WNOWAIT is added */
	long result;			/* the waitid: 0 or -errno */
	struct dt_waiter *waiters;	/* parked fibers (next/prev) */
	struct probe *next;		/* in `probes` */
};

/* Protects `probes`, every probe's `waiters` list and the `linked`,
 * `next`, `prev` and `data` fields of the waiters in those lists. */
static _Atomic uint32_t probes_lock;
static struct probe *probes;		/* probes whose waitid runs */

static void probe_run(void *arg)
{
	struct probe *p = arg;
	siginfo_t si;
	long r;

	do
		r = sys_waitid(p->idtype, p->id, &si, p->wflags | WNOWAIT);
	while (r == -EINTR);
	p->result = r;
}

/* On the pool thread once the waitid returned (or at submit failure):
 * wake every waiter, with the result in its `data`, and free p. */
static void probe_done(struct dt_offload_job *j)
{
	struct probe *p = (struct probe *)((char *)j -
				offsetof(struct probe, job));
	struct dt_waiter *w, *n, *wake = NULL;
	struct probe **pp;

	dt_spin_lock(&probes_lock);
	for (pp = &probes; *pp; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	}
	for (w = p->waiters; w; w = n) {
		n = w->next;
		w->linked = 0;
		w->data = (uintptr_t)p->result;
		/* A waiter we claim stays parked until we post it; one that
		 * a signal claimed takes probes_lock before it returns, so
		 * it is not touched after the unlock. */
		if (dt_waiter_claim(w, DT_WAIT_WOKEN)) {
			w->next = wake;
			wake = w;
		}
	}
	dt_spin_unlock(&probes_lock);
	for (w = wake; w; w = n) {
		n = w->next;	/* before the post: w may be gone after */
		dt_waiter_post(w);
	}
	free(p);
}

static struct probe *probe_find(idtype_t t, id_t id, int wflags)
{
	struct probe *p;

	for (p = probes; p; p = p->next)
		if (p->idtype == t && p->id == id && p->wflags == wflags)
			return p;
	return NULL;
}

/*
 * Park the calling fiber until a probe for (t, id, wflags) returns.
 * Returns 0 with *res the probe's waitid result (0: some child is
 * waitable, or -errno), -EINTR (a signal ended the wait; the probe runs
 * on without this fiber), -ENOMEM.  Fibers only.
 */
static int probe_wait(idtype_t t, id_t id, int wflags, long *res)
{
	struct dt_fiber *f = dt_current();
	struct probe *p, *fresh = NULL;
	struct dt_waiter w;
	bool start = false;
	uint8_t intr;
	int st;

	dt_waiter_init(&w);
	dt_spin_lock(&probes_lock);
	p = probe_find(t, id, wflags);
	if (!p) {
		dt_spin_unlock(&probes_lock);
		fresh = calloc(1, sizeof(*fresh));
		if (!fresh)
			return -ENOMEM;
		fresh->idtype = t;
		fresh->id = id;
		fresh->wflags = wflags;
		fresh->job.fn = probe_run;
		fresh->job.arg = fresh;
		fresh->job.done = probe_done;
		fresh->job.unbounded = 1;
		dt_spin_lock(&probes_lock);
		/* Another fiber may have started one meanwhile. */
		p = probe_find(t, id, wflags);
		if (!p) {
			p = fresh;
			p->next = probes;
			probes = p;
			start = true;
		}
	}
	w.prev = NULL;
	w.next = p->waiters;
	if (w.next)
		w.next->prev = &w;
	p->waiters = &w;
	w.linked = 1;
	dt_spin_unlock(&probes_lock);
	if (fresh && !start)
		free(fresh);
	if (start && dt_offload_submit(&p->job)) {
		/* No pool thread: wake whoever joined with -EAGAIN (the
		 * caller then blocks in the call itself).  This fiber's own
		 * post makes the block below return at once. */
		p->result = -EAGAIN;
		probe_done(&p->job);
	}

	intr = f->intr;
	f->intr = DT_INTR_RESTARTABLE;
	st = dt_waiter_block(&w, DT_DEADLINE_NONE, CLOCK_MONOTONIC,
			     DT_REASON_OTHER);
	f->intr = intr;

	dt_spin_lock(&probes_lock);
	/* Interrupted: p is alive while w is linked. */
	if (w.linked) {
		if (w.prev)
			w.prev->next = w.next;
		else
			p->waiters = w.next;
		if (w.next)
			w.next->prev = w.prev;
		w.linked = 0;
	}
	*res = (long)(intptr_t)w.data;
	dt_spin_unlock(&probes_lock);
	return st == DT_WAIT_INTERRUPTED ? -EINTR : 0;
}

/* ---------------------------------------------------------------- */
/* Parking until a child may have changed state                       */

/*
 * A child may become this process's tracee while we wait for it on its
 * pidfd (PTRACE_TRACEME in the child right after fork, the classic
 * debugger start); its ptrace stops would then be due to the waiter but
 * never make the pidfd readable.  So the pidfd wait looks for a tracer
 * now and then, soon at first (the handshake follows fork at once), then
 * every 100 ms, and hands the wait to a probe when it finds one.
 */
#define RECHECK_MIN_NS	1000000ll
#define RECHECK_MAX_NS	100000000ll

/* Caller storage for one blocking wait call. */
struct childwait {
	idtype_t idtype;
	id_t id;
	int wflags;		/* waitid flags of the question */
	int pidfd;		/* >= 0: wait for its readiness; -1: probe */
	int busy;		/* readiness seen but nothing to collect */
	int64_t recheck_ns;	/* pidfd: next look for a tracer, after */
	bool probe_failed;	/* the last probe returned an error */
};

static void cw_init(struct childwait *cw, idtype_t t, id_t id, int wflags)
{
	long fd;

	cw->idtype = t;
	cw->id = id;
	cw->wflags = wflags;
	cw->pidfd = -1;
	cw->busy = 0;
	cw->recheck_ns = RECHECK_MIN_NS;
	cw->probe_failed = false;
	if (t != P_PID || (wflags & (WSTOPPED | WCONTINUED)) ||
	    traced_by_us((pid_t)id))
		return;
	fd = dt_sys(SYS_pidfd_open, id, 0, 0, 0, 0, 0);
	if (fd < 0)
		return;		/* ESRCH, ENOSYS, EMFILE...: probe */
	dt_fd_reset((int)fd);	/* a new description has this number */
	cw->pidfd = (int)fd;
}

static void cw_fini(struct childwait *cw)
{
	if (cw->pidfd >= 0) {
		dt_fd_close(cw->pidfd);
		dt_sys(SYS_close, cw->pidfd, 0, 0, 0, 0, 0);
		cw->pidfd = -1;
	}
}

/*
 * Park after a WNOHANG try found nothing to collect, until trying again
 * may find something.  0: try again; -EINTR: a signal ended the wait;
 * -EAGAIN: no way to wait here (the caller makes the blocking call on
 * this thread).  Fibers only.
 */
static int cw_park(struct childwait *cw)
{
	struct dt_fiber *f = dt_current();
	long res;
	int r;

	if (cw->pidfd >= 0) {
		uint8_t intr = f->intr;

		/* Readable more than once with nothing to collect: the exit
		 * is still being reported; let it finish, do not spin. */
		if (cw->busy >= 2) {
			f->intr = DT_INTR_RESTARTABLE;
			r = dt_sleep_until(dt_now_ns() + 1000000,
					   CLOCK_MONOTONIC);
			f->intr = intr;
			if (r == -EINTR)
				return -EINTR;
		}
		f->intr = DT_INTR_RESTARTABLE;
		r = dt_fd_wait_level(cw->pidfd, EPOLLIN,
				     dt_now_ns() + cw->recheck_ns);
		f->intr = intr;
		if (r > 0) {
			cw->busy++;
			return 0;
		}
		if (r == -EINTR)
			return -EINTR;
		if (r == -ETIMEDOUT) {
			cw->recheck_ns = cw->recheck_ns * 2 > RECHECK_MAX_NS ?
					 RECHECK_MAX_NS : cw->recheck_ns * 2;
			if (!traced_by_us((pid_t)cw->id))
				return 0;
		}
		cw_fini(cw);	/* traced, or cannot wait on it: probe */
	}
	/* A probe that failed while the caller still has a child to wait
	 * for sees other children than the caller: block in the call. */
	if (cw->probe_failed)
		return -EAGAIN;
	r = probe_wait(cw->idtype, cw->id, cw->wflags, &res);
	if (r == -ENOMEM)
		return -EAGAIN;
	if (r)
		return r;
	if (res == -EAGAIN)
		return -EAGAIN;
	cw->probe_failed = res < 0;
	return 0;
}

/* ---------------------------------------------------------------- */
/* wait, waitpid, wait3, wait4, waitid                                */

/* The waitid flags that ask what wait4 options ask. */
static int wait4_wflags(int options)
{
	return WEXITED | ((options & WUNTRACED) ? WSTOPPED : 0) |
	       (options & (WCONTINUED | __WALL | __WCLONE));
}

static bool wait_straight(int options)
{
	return !dt_may_park() || (options & (WNOHANG | __WNOTHREAD));
}

/* wait4 from a fiber: -errno or the pid collected. */
static long wait4_park(pid_t pid, int *status, int options,
		       struct rusage *ru)
{
	struct childwait cw;
	idtype_t t;
	id_t id;
	long r;

	r = sys_wait4(pid, status, options | WNOHANG, ru);
	if (r)
		return r;	/* collected, or ECHILD, EINVAL, ESRCH... */
	if (pid > 0) {
		t = P_PID;
		id = (id_t)pid;
	} else if (pid == -1) {
		t = P_ALL;
		id = 0;
	} else if (pid == 0) {
		t = P_PGID;
		id = (id_t)dt_sys(SYS_getpgid, 0, 0, 0, 0, 0, 0);
	} else {
		t = P_PGID;
		id = (id_t)-pid;
	}
	cw_init(&cw, t, id, wait4_wflags(options));
	for (;;) {
		r = cw_park(&cw);
		if (r == -EINTR)
			break;
		if (r) {
			r = sys_wait4(pid, status, options, ru);
			break;
		}
		r = sys_wait4(pid, status, options | WNOHANG, ru);
		if (r)
			break;
	}
	cw_fini(&cw);
	return r;
}

DT_API pid_t wait4(pid_t pid, int *status, int options, struct rusage *ru)
{
	if (wait_straight(options))
		return PROC_REAL(wait4)(pid, status, options, ru);
	return (pid_t)dt_ret(wait4_park(pid, status, options, ru));
}

DT_API pid_t wait3(int *status, int options, struct rusage *ru)
{
	if (wait_straight(options))
		return PROC_REAL(wait3)(status, options, ru);
	return (pid_t)dt_ret(wait4_park(-1, status, options, ru));
}

DT_API pid_t waitpid(pid_t pid, int *status, int options)
{
	if (wait_straight(options))
		return PROC_REAL(waitpid)(pid, status, options);
	return (pid_t)dt_ret(wait4_park(pid, status, options, NULL));
}

DT_API pid_t wait(int *status)
{
	if (wait_straight(0))
		return PROC_REAL(wait)(status);
	return (pid_t)dt_ret(wait4_park(-1, status, 0, NULL));
}

/*
 * waitid from a fiber: 0 or -errno.  Each round first asks with WNOWAIT
 * into a local record, so that the caller's infop is written only by the
 * call that collects (or by a collecting call that lost a race to
 * another waiter, which the kernel reports as an empty record).
 */
static long waitid_park(idtype_t t, id_t id, siginfo_t *infop, int options)
{
	struct childwait cw;
	bool init = false;
	siginfo_t si, *out;
	long r;

	for (;;) {
		memset(&si, 0, sizeof(si));
		r = sys_waitid(t, id, &si, options | WNOHANG | WNOWAIT);
		if (r < 0 || si.si_pid) {
			memset(&si, 0, sizeof(si));
			out = infop ? infop : &si;
			r = sys_waitid(t, id, out, options | WNOHANG);
			if (r < 0 || out->si_pid)
				break;
		}
		if (!init) {
			cw_init(&cw, t, id, options & (WEXITED | WSTOPPED |
				WCONTINUED | __WALL | __WCLONE));
			init = true;
		}
		r = cw_park(&cw);
		if (r == -EINTR)
			break;
		if (r) {
			r = sys_waitid(t, id, infop, options);
			break;
		}
	}
	if (init)
		cw_fini(&cw);
	return r;
}

DT_API int waitid(idtype_t t, id_t id, siginfo_t *infop, int options)
{
	if (wait_straight(options))
		return PROC_REAL(waitid)(t, id, infop, options);
	return (int)dt_ret(waitid_park(t, id, infop, options));
}

/* ---------------------------------------------------------------- */
/* system, popen, pclose                                              */

struct proc_call {
	const char *cmd;
	const char *mode;	/* popen */
	FILE *fp;		/* popen's result, pclose's argument */
	int ret;
	int err;		/* errno: caller's in, libc's out */
	sigset_t mask;		/* system, popen: the child's mask */
};

/* On a pool thread: give the thread the child's mask for the call (the
 * child inherits it), and take the pool's back after. */
static void mask_enter(struct proc_call *c, sigset_t *pool_mask)
{
	dt_sys(SYS_rt_sigprocmask, SIG_SETMASK, &c->mask, pool_mask,
	       _NSIG / 8, 0, 0);
}

static void mask_leave(const sigset_t *pool_mask)
{
	dt_sys(SYS_rt_sigprocmask, SIG_SETMASK, pool_mask, NULL, _NSIG / 8,
	       0, 0);
}

static void system_run(void *arg)
{
	struct proc_call *c = arg;
	sigset_t pool_mask;

	mask_enter(c, &pool_mask);
	errno = c->err;
	c->ret = PROC_REAL(system)(c->cmd);
	c->err = errno;
	mask_leave(&pool_mask);
}

DT_API int system(const char *cmd)
{
	struct proc_call c = { .cmd = cmd };

	if (dt_shim_up)
		dt_fd_restore_all();
	if (!dt_may_park())
		return PROC_REAL(system)(cmd);
	c.err = errno;
	child_sigmask(&c.mask);
	dt_offload_unbounded(system_run, &c);
	errno = c.err;
	return c.ret;
}

/*
 * The streams popen returned and nobody closed yet: in glibc, fclose of
 * one is pclose (it waits for the child inside libc), so fclose must
 * know them.  A short list under a spinlock; popen_n lets every other
 * fclose pass with one load.
 */
static struct {
	_Atomic uint32_t lock;
	_Atomic uint32_t n;
	uint32_t cap;
	FILE **v;
} popens;

static void popen_remember(FILE *fp)
{
	dt_spin_lock(&popens.lock);
	if (popens.n == popens.cap) {
		uint32_t cap = popens.cap ? popens.cap * 2 : 16;
		FILE **v = realloc(popens.v, cap * sizeof(*v));

		if (!v) {	/* fclose of it will wait on the worker */
			dt_spin_unlock(&popens.lock);
			return;
		}
		popens.v = v;
		popens.cap = cap;
	}
	popens.v[atomic_load_explicit(&popens.n, memory_order_relaxed)] = fp;
	atomic_fetch_add_explicit(&popens.n, 1, memory_order_relaxed);
	dt_spin_unlock(&popens.lock);
}

void dt_process_fork_child(void)
{
	/* Held by a thread that vanished in fork: the child's own. */
	atomic_store_explicit(&popens.lock, 0, memory_order_relaxed);
}

/* Take fp off the list; whether it was on it. */
static bool popen_forget(FILE *fp)
{
	uint32_t i, n;
	bool found = false;

	if (!atomic_load_explicit(&popens.n, memory_order_relaxed))
		return false;
	dt_spin_lock(&popens.lock);
	n = atomic_load_explicit(&popens.n, memory_order_relaxed);
	for (i = 0; i < n; i++)
		if (popens.v[i] == fp) {
			popens.v[i] = popens.v[n - 1];
			atomic_store_explicit(&popens.n, n - 1,
					      memory_order_relaxed);
			found = true;
			break;
		}
	dt_spin_unlock(&popens.lock);
	return found;
}

static void popen_run(void *arg)
{
	struct proc_call *c = arg;
	sigset_t pool_mask;

	mask_enter(c, &pool_mask);
	errno = c->err;
	c->fp = PROC_REAL(popen)(c->cmd, c->mode);
	c->err = errno;
	mask_leave(&pool_mask);
}

/*
 * popen does not wait: it runs on the caller, except on a worker whose
 * mask is not the program's, where it runs on the pool with the
 * program's mask (its child inherits the mask of the thread that calls
 * it, and glibc gives no way to say otherwise).
 */
DT_API FILE *popen(const char *cmd, const char *mode)
{
	struct proc_call c = { .cmd = cmd, .mode = mode };
	FILE *fp;
	int e;

	if (dt_shim_up)
		dt_fd_restore_all();
	if (needs_child_mask()) {
		c.err = errno;
		child_sigmask(&c.mask);
		dt_offload(popen_run, &c);
		errno = c.err;
		fp = c.fp;
	} else {
		fp = PROC_REAL(popen)(cmd, mode);
	}
	if (fp) {
		e = errno;
		popen_remember(fp);
		/* libc made the pipe out of sight: a new description has
		 * this number. */
		if (tracking())
			dt_fd_reset(fileno(fp));
		errno = e;
	}
	return fp;
}

static void pclose_run(void *arg)
{
	struct proc_call *c = arg;

	errno = c->err;
	c->ret = PROC_REAL(pclose)(c->fp);
	c->err = errno;
}

static int do_pclose(FILE *fp);

DT_API int pclose(FILE *fp)
{
	popen_forget(fp);
	return do_pclose(fp);
}

/*
 * fclose(3) closes the descriptor inside libc, out of sight: first do
 * what close() does (wake the fd's waiters with EBADF, forget what was
 * known of the number, which the next open() may reuse).  A popen
 * stream's fclose is its pclose in glibc, which waits: the pclose way.
 */
DT_API int fclose(FILE *fp)
{
	if (fp && popen_forget(fp))
		return do_pclose(fp);
	if (fp && tracking()) {
		int e = errno, fd = fileno_unlocked(fp);

		if (fd >= 0)
			dt_fd_close(fd);
		errno = e;
	}
	return PROC_REAL(fclose)(fp);
}

static int do_pclose(FILE *fp)
{
	struct proc_call c = { .fp = fp };

	if (tracking()) {
		/* libc closes the descriptor out of sight: wake its waiters
		 * and drop its registration first, as close() does. */
		int e = errno, fd = fileno(fp);

		if (fd >= 0)
			dt_fd_close(fd);
		errno = e;
	}
	if (!dt_may_park())
		return PROC_REAL(pclose)(fp);
	c.err = errno;
	dt_offload_unbounded(pclose_run, &c);
	errno = c.err;
	return c.ret;
}

/* ---------------------------------------------------------------- */
/* posix_spawn, posix_spawnp                                          */

/*
 * The attributes to spawn with: the caller's, plus the program's signal
 * mask when the caller's thread has another one and the caller did not
 * choose the child's mask itself (POSIX_SPAWN_SETSIGMASK).  *local is
 * storage for the amended copy.
 */
static const posix_spawnattr_t *spawn_attr(const posix_spawnattr_t *attr,
					   posix_spawnattr_t *local)
{
	sigset_t m;
	short fl = 0;

	if (!needs_child_mask())
		return attr;
	if (attr) {
		posix_spawnattr_getflags(attr, &fl);
		if (fl & POSIX_SPAWN_SETSIGMASK)
			return attr;
		*local = *attr;	/* glibc's: plain data, no pointers */
	} else if (posix_spawnattr_init(local)) {
		return attr;
	}
	child_sigmask(&m);
	posix_spawnattr_setsigmask(local, &m);
	posix_spawnattr_setflags(local, fl | POSIX_SPAWN_SETSIGMASK);
	return local;
}

DT_API int posix_spawn(pid_t *pid, const char *path,
		       const posix_spawn_file_actions_t *fa,
		       const posix_spawnattr_t *attr, char *const argv[],
		       char *const envp[])
{
	posix_spawnattr_t local;

	if (dt_shim_up)
		dt_fd_restore_all();
	return PROC_REAL(posix_spawn)(pid, path, fa, spawn_attr(attr, &local),
				      argv, envp);
}

DT_API int posix_spawnp(pid_t *pid, const char *file,
			const posix_spawn_file_actions_t *fa,
			const posix_spawnattr_t *attr, char *const argv[],
			char *const envp[])
{
	posix_spawnattr_t local;

	if (dt_shim_up)
		dt_fd_restore_all();
	return PROC_REAL(posix_spawnp)(pid, file, fa,
				       spawn_attr(attr, &local), argv, envp);
}
