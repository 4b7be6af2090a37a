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
 * that fiber (see interpose/pthread.c); a process-directed signal is
 * delivered by the kernel to worker 0's thread, the main thread, and is
 * taken as meant for the main fiber, as it would be for a program whose
 * main thread waits in a blocking call.
 *
 * What the program sees through sigaction(old) is its own handler and
 * flags, never the trampoline.
 */
#include <string.h>

#include "interpose/interpose.h"
#include "interpose/shim_api.h"

struct sigent {
	void *handler;		/* the program's sa_handler/sa_sigaction */
	int flags;		/* the program's sa_flags */
};

static struct sigent sigtab[_NSIG];

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
	if (dt_shim_up && !dt_shim_forked && info->si_code != SI_TKILL) {
		struct dt_fiber *m = dt_shim_main_fiber();

		if (m)
			dt_fiber_interrupt_async(m, e.flags & SA_RESTART);
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
