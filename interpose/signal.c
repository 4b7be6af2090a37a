/* SPDX-License-Identifier: MIT */
/*
 * interpose/signal.c - sigaction(2) and signal(2): the program's handlers
 * run through a trampoline that (1) marks the thread as inside a handler,
 * so interposed calls made from the handler go straight to libc and never
 * park (a handler can interrupt the scheduler itself), and (2) emulates the
 * EINTR a blocking call would have returned: a fiber is not the thread the
 * kernel interrupts, so after a handler runs, the fiber the signal was
 * meant for has its interruptible wait ended (dt_fiber_interrupt_async),
 * honouring SA_RESTART as signal(7) describes.
 *
 * Which fiber: a signal sent with pthread_kill() to a fiber is meant for
 * that fiber (see interpose/pthread.c); a signal the kernel raises for the
 * thread making a call (SIGPIPE from a write, SIGXFSZ, faults) is meant
 * for the fiber that made it, which is running and so has no wait to end;
 * a process-directed signal is delivered by the kernel to worker 0's
 * thread, the main thread, and is taken as meant for the main fiber, as
 * it would be for a program whose main thread waits in a blocking call.
 * A fiber interrupted while running its own code (not inside an
 * interposed call) has no call to fail: no request is made, so that no
 * later call fails with EINTR either.
 *
 * What the program sees through sigaction(old) is its own handler and
 * flags, never the trampoline.
 *
 * Waiting for signals: pause, sigsuspend and the sigwait family park the
 * fiber instead of blocking its worker (a worker blocked there would
 * starve the fibers that are to send the signal); see below.
 */
#include <dlfcn.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "interpose/interpose.h"
#include "interpose/shim_api.h"

struct sigent {
	void *handler;		/* the program's sa_handler/sa_sigaction */
	int flags;		/* the program's sa_flags */
};

static struct sigent sigtab[_NSIG];

/* The fiber a pthread_kill/pthread_sigqueue on its way to worker 0's
 * thread is meant for (one per signal number: the kernel merges pending
 * instances of a standard signal anyway). */
static struct dt_fiber *_Atomic target[_NSIG];

void dt_sig_target(int sig, struct dt_fiber *f)
{
	if (sig > 0 && sig < _NSIG)
		atomic_store(&target[sig], f);
}

void dt_sig_fork_child(void)
{
	int i;

	for (i = 0; i < _NSIG; i++)
		atomic_store_explicit(&target[i], NULL, memory_order_relaxed);
}

/* Is this delivery a process signal, meant for the main fiber? */
static bool for_main(int sig, const siginfo_t *info)
{
	if (info->si_code == SI_TKILL)	/* a thread's own (tgkill, raise) */
		return false;
	/* A fault of the running fiber (si_code > 0 names the fault;
	 * SI_KERNEL, also > 0, is a process signal from the kernel such as
	 * the SIGALRM of setitimer). */
	if (info->si_code > 0 && info->si_code != SI_KERNEL &&
	    (sig == SIGSEGV || sig == SIGBUS || sig == SIGFPE ||
	     sig == SIGILL || sig == SIGTRAP || sig == SIGSYS))
		return false;
	/* send_sig() of the kernel for the calling thread: SI_USER from
	 * this process (a write to a broken pipe, past RLIMIT_FSIZE). */
	if ((sig == SIGPIPE || sig == SIGXFSZ) && info->si_code == SI_USER &&
	    info->si_pid == getpid())
		return false;
	return true;
}

static void trampoline(int sig, siginfo_t *info, void *uc)
{
	struct sigent e = sigtab[sig];
	int saved = errno;

	dt_sig_depth++;
	errno = saved;
	if (e.flags & SA_SIGINFO)
		((void (*)(int, siginfo_t *, void *))e.handler)(sig, info, uc);
	else
		((void (*)(int))e.handler)(sig);
	saved = errno;
	dt_sig_depth--;
	if (dt_shim_up && !dt_shim_forked) {
		struct dt_fiber *t = NULL;

		/* A signal is acted on when its handler runs, which for a
		 * signal the program had blocked is when it unblocks it. */
		if (info->si_code == SI_TKILL || info->si_code == SI_QUEUE)
			t = atomic_exchange(&target[sig], NULL);
		if (!t && for_main(sig, info))
			t = dt_shim_main_fiber();
		/* Only a call under way: parked, or inside the interposed
		 * call (f->intr); a fiber running its own code has none. */
		if (t && (t->state != DT_FIBER_RUNNING || t->intr))
			dt_fiber_interrupt_async(t, e.flags & SA_RESTART);
	}
	errno = saved;
}

/* pthread_kill of a fiber: the handler's restart flag for sig. */
int dt_sig_wants_eintr(int sig, int *sa_restart)
{
	if (sig <= 0 || sig >= _NSIG || !sigtab[sig].handler)
		return 0;
	*sa_restart = sigtab[sig].flags & SA_RESTART;
	return 1;
}

static bool is_handler(void *h)
{
	return h != (void *)SIG_IGN && h != (void *)SIG_DFL &&
	       h != (void *)SIG_ERR;
}

DT_API int sigaction(int sig, const struct sigaction *act,
		     struct sigaction *old)
{
	struct sigaction ours, prev;
	struct sigent before;
	int r;

	if (sig <= 0 || sig >= _NSIG || sig == SIGKILL || sig == SIGSTOP)
		return DT_REAL(sigaction)(sig, act, old);
	before = sigtab[sig];
	if (act && is_handler((void *)act->sa_handler)) {
		ours = *act;
		sigtab[sig].handler = (act->sa_flags & SA_SIGINFO) ?
				      (void *)act->sa_sigaction :
				      (void *)act->sa_handler;
		sigtab[sig].flags = act->sa_flags;
		ours.sa_flags |= SA_SIGINFO;
		ours.sa_sigaction = trampoline;
		r = DT_REAL(sigaction)(sig, &ours, &prev);
		if (r)
			sigtab[sig] = before;
	} else {
		r = DT_REAL(sigaction)(sig, act, &prev);
		if (!r && act)
			sigtab[sig].handler = NULL;
	}
	if (!r && old) {
		*old = prev;
		if (prev.sa_sigaction == trampoline) {
			old->sa_flags = before.flags;
			if (before.flags & SA_SIGINFO)
				old->sa_sigaction = before.handler;
			else
				old->sa_handler = before.handler;
		}
	}
	return r;
}

/* ---- waiting for signals ---- */

/*
 * The main fiber always runs on the main thread, where process signals
 * are delivered: a call that takes a signal mask for the time it waits
 * (ppoll, pselect, epoll_pwait, sigsuspend) installs it on the main
 * thread while the main fiber waits, as the kernel would on the thread.
 * Other fibers share their worker's mask and receive no process signals:
 * their mask argument only applies to the kernel probes.  Call with
 * f->intr already set, so that a signal the new mask lets through at
 * once ends the wait (the trampoline sees a call under way).
 */
bool dt_sig_mask_begin(const sigset_t *mask, uint64_t *old)
{
	struct dt_fiber *f = dt_current();

	if (!mask || !f || f != dt_shim_main_fiber())
		return false;
	return dt_sys(SYS_rt_sigprocmask, SIG_SETMASK, mask, old, _NSIG / 8,
		      0, 0) == 0;
}

void dt_sig_mask_end(bool swapped, const uint64_t *old)
{
	if (swapped)
		dt_sys(SYS_rt_sigprocmask, SIG_SETMASK, old, NULL, _NSIG / 8,
		       0, 0);
}

/* Park until a handler meant for this fiber ran (then -EINTR). */
static long wait_handler(const sigset_t *mask)
{
	struct dt_fiber *f = dt_current();
	uint64_t old[_NSIG / 64];
	bool swapped;
	long r;

	dt_testcancel();
	dt_intr_begin(f, DT_INTR_ALWAYS);
	swapped = dt_sig_mask_begin(mask, old);
	r = dt_sleep_until(DT_DEADLINE_NONE, CLOCK_MONOTONIC);
	dt_sig_mask_end(swapped, old);
	dt_intr_end(f);
	dt_cancel_after(r);
	return r ? r : -EINTR;
}

#define REAL_FN(name, type) ({						\
	static __typeof__(type) real_;					\
	if (!real_)							\
		real_ = (type)dlsym(RTLD_NEXT, #name);			\
	real_;								\
})

DT_API int pause(void)
{
	if (!dt_may_park())
		return REAL_FN(pause, int (*)(void))();
	return (int)dt_ret(wait_handler(NULL));
}

DT_API int sigsuspend(const sigset_t *mask)
{
	if (!dt_may_park())
		return REAL_FN(sigsuspend, int (*)(const sigset_t *))(mask);
	return (int)dt_ret(wait_handler(mask));
}

/*
 * sigwait family: a signal waited for is blocked (POSIX), so it stays
 * pending until taken.  No readiness tells a fiber that one is pending:
 * look with a zero timeout, then sleep a little (1 ms, doubling up to
 * 20 ms) and look again.  A handler for another signal ends the wait
 * (EINTR), which sigwait() itself hides as glibc does.  Process signals
 * and those sent to the main thread are seen; a pthread_kill of another
 * fiber goes to the main thread and is seen only there.
 */
static long sigwait_fiber(const sigset_t *set, siginfo_t *info,
			  int64_t deadline)
{
	struct dt_fiber *f = dt_current();
	int64_t step = 1000000;
	long r;

	dt_testcancel();
	dt_intr_begin(f, DT_INTR_ALWAYS);
	for (;;) {
		struct timespec z = { 0, 0 };
		int64_t now, until;

		r = dt_sys(SYS_rt_sigtimedwait, set, info, &z, _NSIG / 8, 0,
			   0);
		if (r != -EAGAIN)
			break;
		now = dt_now_ns();
		if (deadline != DT_DEADLINE_NONE && now >= deadline)
			break;			/* -EAGAIN, as the kernel */
		until = now + step;
		if (deadline != DT_DEADLINE_NONE && until > deadline)
			until = deadline;
		if (dt_sleep_until(until, CLOCK_MONOTONIC)) {
			r = -EINTR;
			break;
		}
		if (step < 20000000)
			step *= 2;
	}
	dt_intr_end(f);
	dt_cancel_after(r);
	return r;
}

DT_API int sigtimedwait(const sigset_t *set, siginfo_t *info,
			const struct timespec *ts)
{
	int64_t d = DT_DEADLINE_NONE;

	if (!dt_may_park())
		return REAL_FN(sigtimedwait, int (*)(const sigset_t *,
			       siginfo_t *, const struct timespec *))(set,
			       info, ts);
	if (ts) {
		if (ts->tv_sec < 0 || ts->tv_nsec < 0 ||
		    ts->tv_nsec >= 1000000000)
			return (int)dt_ret(-EINVAL);
		d = dt_now_ns() + dt_ts_to_ns(ts);
	}
	return (int)dt_ret(sigwait_fiber(set, info, d));
}

DT_API int sigwaitinfo(const sigset_t *set, siginfo_t *info)
{
	if (!dt_may_park())
		return REAL_FN(sigwaitinfo, int (*)(const sigset_t *,
			       siginfo_t *))(set, info);
	return (int)dt_ret(sigwait_fiber(set, info, DT_DEADLINE_NONE));
}

DT_API int sigwait(const sigset_t *set, int *sig)
{
	long r;

	if (!dt_may_park())
		return REAL_FN(sigwait, int (*)(const sigset_t *, int *))(set,
									   sig);
	do	/* glibc: sigwait is not interrupted by handlers */
		r = sigwait_fiber(set, NULL, DT_DEADLINE_NONE);
	while (r == -EINTR);
	if (r < 0)
		return (int)-r;
	*sig = (int)r;
	return 0;
}

/* glibc's signal(): BSD semantics (SA_RESTART, the signal blocked while
 * its handler runs). */
DT_API sighandler_t signal(int sig, sighandler_t h)
{
	struct sigaction a, o;

	if (sig <= 0 || sig >= _NSIG || h == SIG_ERR) {
		errno = EINVAL;
		return SIG_ERR;
	}
	memset(&a, 0, sizeof(a));
	a.sa_handler = h;
	sigemptyset(&a.sa_mask);
	sigaddset(&a.sa_mask, sig);
	a.sa_flags = SA_RESTART;
	if (sigaction(sig, &a, &o) < 0)
		return SIG_ERR;
	return o.sa_handler;
}
