/* SPDX-License-Identifier: MIT */
/*
 * interpose/poll.c - poll(2), ppoll(2), select(2), pselect(2),
 * epoll_wait(2), epoll_pwait(2) on a fiber.
 *
 * Each call first asks the kernel with a zero timeout (so results,
 * revents, error numbers and argument checks are exactly the kernel's),
 * and only when nothing is ready and the timeout allows, parks the fiber
 * on the readiness of every fd in the set at once (one wait record per
 * fd and direction, grouped), then asks the kernel again.  The signal mask
 * argument of ppoll/pselect/epoll_pwait applies to the zero-timeout
 * probes, and for the main fiber (which process signals are meant for)
 * to the main thread while it waits.  A signal handler meant for the
 * fiber ends the wait with EINTR (these calls are never restarted), also
 * when there is no fd to wait on (poll(NULL, 0, ms) as a sleep).  An
 * epoll instance of the program is waited on through its own
 * readability.  All six are cancellation points.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>

#include "interpose/interpose.h"

#define ON_STACK 32

static const struct timespec zero_ts;

/*
 * Park until one of the n (fd, events) pairs may have changed, or the
 * deadline.  Returns 0 (look again), -ETIMEDOUT, or -EPERM (some fd cannot
 * be waited on: the caller falls back to a blocking call).
 */
static int wait_set(const int *fds, const short *events, const uint32_t *tk,
		    int n, int64_t deadline)
{
	struct dt_fd_waitspec st[2 * ON_STACK], *v = st;
	int i, k = 0, r;

	if (n > ON_STACK) {
		v = malloc(sizeof(*v) * 2 * (size_t)n);
		if (!v)
			return -EPERM;
	}
	for (i = 0; i < n; i++) {
		struct dt_fd *e = dt_fd_get(fds[i], 0);

		if (!e)
			continue;
		v[k].fd = fds[i];
		v[k].e = e;
		v[k].dir = (events[i] & (POLLOUT | POLLWRNORM | POLLWRBAND)) &&
			   !(events[i] & (POLLIN | POLLRDNORM | POLLPRI)) ?
			   DT_FD_WRITE : DT_FD_READ;
		v[k].ticket = tk[i * 2 + v[k].dir];
		k++;
		/* Both directions wanted: a second record for writing. */
		if (v[k - 1].dir == DT_FD_READ &&
		    (events[i] & (POLLOUT | POLLWRNORM | POLLWRBAND))) {
			v[k] = v[k - 1];
			v[k].dir = DT_FD_WRITE;
			v[k].ticket = tk[i * 2 + 1];
			k++;
		}
	}
	if (k)
		r = dt_fd_wait_many(v, k, deadline);
	else	/* nothing to wait on: a sleep, ended by a signal */
		r = dt_sleep_until(deadline, CLOCK_MONOTONIC) ? -EINTR :
		    -ETIMEDOUT;
	if (v != st)
		free(v);
	if (r == -EBADF)	/* closed meanwhile: the next probe says so */
		r = 0;
	return r;
}

/* Tickets before a probe: tk[2i] read, tk[2i+1] write. */
static void take_tickets(const int *fds, int n, uint32_t *tk)
{
	int i;

	for (i = 0; i < n; i++) {
		struct dt_fd *e = fds[i] >= 0 ? dt_fd_get(fds[i], 1) : NULL;

		tk[2 * i] = e ? dt_fd_ticket(e, DT_FD_READ) : 0;
		tk[2 * i + 1] = e ? dt_fd_ticket(e, DT_FD_WRITE) : 0;
	}
}

static long fiber_ppoll(struct pollfd *p, nfds_t n, int64_t deadline,
			const sigset_t *mask)
{
	int fst[ON_STACK], *fds = fst;
	short est[ON_STACK], *ev = est;
	uint32_t tst[2 * ON_STACK], *tk = tst;
	long r;
	nfds_t i;

	/* The kernel's answer first: argument errors (EINVAL for nfds over
	 * RLIMIT_NOFILE, EFAULT) and readiness, before any allocation. */
	r = dt_sys(SYS_ppoll, p, n, &zero_ts, mask, _NSIG / 8, 0);
	if (r != 0 || deadline <= dt_now_ns())
		return r;
	if (n > ON_STACK) {
		fds = malloc(n * sizeof(*fds));
		ev = malloc(n * sizeof(*ev));
		tk = malloc(2 * n * sizeof(*tk));
		if (!fds || !ev || !tk) {
			r = -ENOMEM;
			goto out;
		}
	}
	for (i = 0; i < n; i++) {
		fds[i] = p[i].fd;
		ev[i] = p[i].events;
	}
	for (;;) {
		take_tickets(fds, (int)n, tk);
		r = dt_sys(SYS_ppoll, p, n, &zero_ts, mask, _NSIG / 8, 0);
		if (r != 0 || deadline <= dt_now_ns())
			break;
		r = wait_set(fds, ev, tk, (int)n, deadline);
		if (r == -EINTR)
			break;
		if (r == -ETIMEDOUT) {
			r = 0;
			for (i = 0; i < n; i++)
				p[i].revents = 0;
			break;
		}
		if (r == -EPERM) {	/* cannot park on it: block */
			int64_t d = deadline - dt_now_ns();
			struct timespec ts = { d / 1000000000, d % 1000000000 };

			r = dt_sys(SYS_ppoll, p, n,
				   deadline == DT_DEADLINE_NONE ? NULL : &ts,
				   mask, _NSIG / 8, 0);
			break;
		}
	}
out:
	if (fds != fst) {
		free(fds);
		free(ev);
		free(tk);
	}
	return r;
}

/* poll, select and epoll_wait are never restarted (signal(7)); each is
 * a cancellation point, acted on at entry and when a request ended the
 * wait. */
#define INTERRUPTIBLE(mask, expr) ({					\
	struct dt_fiber *f_ = dt_current();				\
	uint64_t old_[_NSIG / 64];					\
	bool swapped_;							\
	long r_;							\
	dt_intr_begin(f_, DT_INTR_ALWAYS);				\
	swapped_ = dt_sig_mask_begin((mask), old_);			\
	r_ = (expr);							\
	dt_sig_mask_end(swapped_, old_);				\
	dt_intr_end(f_);						\
	dt_cancel_after(r_);						\
	r_;								\
})

DT_API int poll(struct pollfd *p, nfds_t n, int ms)
{
	if (!dt_may_park())
		return DT_REAL(poll)(p, n, ms);
	dt_testcancel();
	if (ms == 0)
		return DT_REAL(poll)(p, n, ms);
	return (int)dt_ret(INTERRUPTIBLE(NULL, fiber_ppoll(p, n,
					 dt_deadline_ms(ms), NULL)));
}

DT_API int ppoll(struct pollfd *p, nfds_t n, const struct timespec *ts,
		 const sigset_t *mask)
{
	int64_t d = DT_DEADLINE_NONE;

	if (!dt_may_park())
		return DT_REAL(ppoll)(p, n, ts, mask);
	dt_testcancel();
	if (ts && !ts->tv_sec && !ts->tv_nsec)
		return DT_REAL(ppoll)(p, n, ts, mask);
	if (ts) {
		if (ts->tv_sec < 0 || ts->tv_nsec < 0 ||
		    ts->tv_nsec >= 1000000000)
			return (int)dt_ret(-EINVAL);
		d = dt_now_ns() + dt_ts_to_ns(ts);
	}
	return (int)dt_ret(INTERRUPTIBLE(mask, fiber_ppoll(p, n, d, mask)));
}

/* select/pselect: the kernel's own probe, then a grouped wait.  Any
 * nfds the kernel accepts (the program may pass sets larger than an
 * fd_set). */
static inline bool bit_isset(const fd_set *s, int i)
{
	const unsigned long *w = (const unsigned long *)s;

	return (w[i / (8 * sizeof(long))] >> (i % (8 * sizeof(long)))) & 1;
}

static long fiber_select(int nfds, fd_set *r, fd_set *w, fd_set *x,
			 int64_t deadline, const sigset_t *mask)
{
	struct { const sigset_t *ss; size_t len; } sm = { mask, _NSIG / 8 };
	fd_set st[3], *sets[3] = { r, w, x };
	char *save = (char *)st;
	size_t bytes;
	int fst[ON_STACK], *fds = fst;
	short est[ON_STACK], *ev = est;
	uint32_t tst[2 * ON_STACK], *tk = tst;
	int i, k, n = 0;
	long ret;

	if (nfds < 0)
		return -EINVAL;
	bytes = ((size_t)nfds + 8 * sizeof(long) - 1) / (8 * sizeof(long)) *
		sizeof(long);
	if (bytes > sizeof(fd_set) && !(save = malloc(3 * bytes)))
		return -ENOMEM;
	/* The probe overwrites the sets: keep the caller's. */
	for (k = 0; k < 3; k++)
		if (sets[k])
			memcpy(save + k * bytes, sets[k], bytes);
	{
		struct timespec z = zero_ts;

		ret = dt_sys(SYS_pselect6, nfds, r, w, x, &z,
			     mask ? &sm : NULL);
	}
	if (ret != 0 || deadline <= dt_now_ns())
		goto out;
	for (i = 0; i < nfds; i++)
		for (k = 0; k < 3; k++)
			if (sets[k] && bit_isset((fd_set *)(save + k * bytes),
						 i)) {
				n++;
				break;
			}
	if (n > ON_STACK) {
		fds = malloc(sizeof(*fds) * (size_t)n);
		ev = malloc(sizeof(*ev) * (size_t)n);
		tk = malloc(sizeof(*tk) * 2 * (size_t)n);
		if (!fds || !ev || !tk) {
			ret = -ENOMEM;
			goto out_restore;
		}
	}
	n = 0;
	for (i = 0; i < nfds; i++) {
		short e = 0;

		if (r && bit_isset((fd_set *)save, i))
			e |= POLLIN;
		if (w && bit_isset((fd_set *)(save + bytes), i))
			e |= POLLOUT;
		if (x && bit_isset((fd_set *)(save + 2 * bytes), i))
			e |= POLLPRI;
		if (e) {
			fds[n] = i;
			ev[n++] = e;
		}
	}
	for (;;) {
		struct timespec z = zero_ts;

		for (k = 0; k < 3; k++)
			if (sets[k])
				memcpy(sets[k], save + k * bytes, bytes);
		take_tickets(fds, n, tk);
		ret = dt_sys(SYS_pselect6, nfds, r, w, x, &z,
			     mask ? &sm : NULL);
		if (ret != 0 || deadline <= dt_now_ns())
			break;
		ret = wait_set(fds, ev, tk, n, deadline);
		if (ret == -ETIMEDOUT) {
			ret = 0;	/* the probe left the sets empty */
			break;
		}
		if (ret < 0)
			goto out_restore;	/* -EINTR, -EPERM, -ENOMEM */
	}
	goto out;

out_restore:
	/* Errors leave the sets as the caller gave them (and -EPERM hands
	 * them to the blocking call). */
	for (k = 0; k < 3; k++)
		if (sets[k])
			memcpy(sets[k], save + k * bytes, bytes);
out:
	if (fds != fst) {
		free(fds);
		free(ev);
		free(tk);
	}
	if (save != (char *)st)
		free(save);
	return ret;
}

DT_API int select(int nfds, fd_set *r, fd_set *w, fd_set *x,
		  struct timeval *tv)
{
	int64_t d = DT_DEADLINE_NONE;
	long ret;

	if (!dt_may_park())
		return DT_REAL(select)(nfds, r, w, x, tv);
	dt_testcancel();
	if (tv && !tv->tv_sec && !tv->tv_usec)
		return DT_REAL(select)(nfds, r, w, x, tv);
	if (tv) {
		if (tv->tv_sec < 0 || tv->tv_usec < 0)
			return (int)dt_ret(-EINVAL);
		d = dt_now_ns() + (int64_t)tv->tv_sec * 1000000000 +
		    (int64_t)tv->tv_usec * 1000;
	}
	ret = INTERRUPTIBLE(NULL, fiber_select(nfds, r, w, x, d, NULL));
	if (ret == -EPERM)
		return DT_REAL(select)(nfds, r, w, x, tv);
	if (tv && ret >= 0) {	/* Linux reports the time not slept */
		int64_t left = d - dt_now_ns();

		if (left < 0)
			left = 0;
		tv->tv_sec = left / 1000000000;
		tv->tv_usec = (left % 1000000000) / 1000;
	}
	return (int)dt_ret(ret);
}

DT_API int pselect(int nfds, fd_set *r, fd_set *w, fd_set *x,
		   const struct timespec *ts, const sigset_t *mask)
{
	int64_t d = DT_DEADLINE_NONE;
	long ret;

	if (!dt_may_park())
		return DT_REAL(pselect)(nfds, r, w, x, ts, mask);
	dt_testcancel();
	if (ts && !ts->tv_sec && !ts->tv_nsec)
		return DT_REAL(pselect)(nfds, r, w, x, ts, mask);
	if (ts) {
		if (ts->tv_sec < 0 || ts->tv_nsec < 0 ||
		    ts->tv_nsec >= 1000000000)
			return (int)dt_ret(-EINVAL);
		d = dt_now_ns() + dt_ts_to_ns(ts);
	}
	ret = INTERRUPTIBLE(mask, fiber_select(nfds, r, w, x, d, mask));
	if (ret == -EPERM)
		return DT_REAL(pselect)(nfds, r, w, x, ts, mask);
	return (int)dt_ret(ret);
}

static long fiber_epoll(int epfd, struct epoll_event *ev, int max,
			int64_t deadline, const sigset_t *mask)
{
	struct dt_fd *e = dt_fd_get(epfd, 1);
	long r;

	for (;;) {
		uint32_t t = e ? dt_fd_ticket(e, DT_FD_READ) : 0;

		r = dt_sys(SYS_epoll_pwait, epfd, ev, max, 0, mask, _NSIG / 8);
		if (r != 0 || deadline <= dt_now_ns() || !e)
			return r;
		r = dt_fd_wait(epfd, e, DT_FD_READ, t, deadline);
		if (r == -ETIMEDOUT)
			return 0;
		if (r)
			return r;
	}
}

DT_API int epoll_pwait(int epfd, struct epoll_event *ev, int max, int ms,
		       const sigset_t *mask)
{
	if (!dt_may_park())
		return DT_REAL(epoll_pwait)(epfd, ev, max, ms, mask);
	dt_testcancel();
	if (ms == 0)
		return DT_REAL(epoll_pwait)(epfd, ev, max, ms, mask);
	return (int)dt_ret(INTERRUPTIBLE(mask, fiber_epoll(epfd, ev, max,
					dt_deadline_ms(ms), mask)));
}

DT_API int epoll_wait(int epfd, struct epoll_event *ev, int max, int ms)
{
	if (!dt_may_park())
		return DT_REAL(epoll_wait)(epfd, ev, max, ms);
	dt_testcancel();
	if (ms == 0)
		return DT_REAL(epoll_wait)(epfd, ev, max, ms);
	return (int)dt_ret(INTERRUPTIBLE(NULL, fiber_epoll(epfd, ev, max,
					dt_deadline_ms(ms), NULL)));
}
