/* SPDX-License-Identifier: MIT */
/*
 * interpose/sleep.c - nanosleep(2), clock_nanosleep(2), usleep(3),
 * sleep(3): the fiber parks on a timer of its worker, for CLOCK_REALTIME,
 * CLOCK_MONOTONIC, CLOCK_BOOTTIME and CLOCK_TAI.  Every other clock goes
 * to libc, which answers what the kernel and glibc answer (EINVAL for an
 * unknown clock and for CLOCK_THREAD_CPUTIME_ID, EOPNOTSUPP for clocks
 * that cannot be slept on such as CLOCK_MONOTONIC_RAW) and sleeps the
 * worker for the CPU-time and alarm clocks.  A bad timespec is EINVAL,
 * a negative tv_sec included, absolute or not (the kernel's
 * timespec64_valid).  clock_nanosleep returns the error number, the
 * others set errno.  A signal handler meant for the sleeping fiber ends
 * the sleep with EINTR whatever SA_RESTART says (signal(7): sleeps are
 * never restarted), and a relative sleep then reports the time left in
 * *rem, as the kernel does.  A sleep that is already due (zero, or an
 * absolute time passed) yields once, so that the worker's other fibers
 * run first, as a thread's zero sleep lets the kernel run other threads.
 * All four are cancellation points.
 */
#include <unistd.h>

#include "interpose/interpose.h"

/* Sleep until deadline on clk; -EINTR with *left (ns) when interrupted. */
static int sleep_until(int64_t deadline, clockid_t clk, int64_t *left)
{
	struct dt_fiber *f = dt_current();
	int r;

	dt_intr_begin(f, DT_INTR_ALWAYS);
	r = dt_sleep_until(deadline, clk);
	dt_intr_end(f);
	if (r == -EINTR && left) {
		*left = deadline - dt_clock_ns(clk);
		if (*left < 0)
			*left = 0;
	}
	return r;
}

static int sleep_rel_ns(int64_t ns, int64_t *left)
{
	int64_t now = dt_now_ns();

	return sleep_until(ns > INT64_MAX - now ? DT_DEADLINE_NONE : now + ns,
			   CLOCK_MONOTONIC, left);
}

static int fiber_clock_nanosleep(clockid_t clk, int flags,
				 const struct timespec *req,
				 struct timespec *rem)
{
	if (clk != CLOCK_REALTIME && clk != CLOCK_MONOTONIC &&
	    clk != CLOCK_BOOTTIME && clk != CLOCK_TAI)
		return DT_REAL(clock_nanosleep)(clk, flags, req, rem);
	if (req->tv_nsec < 0 || req->tv_nsec >= 1000000000 ||
	    req->tv_sec < 0)
		return EINVAL;
	if (flags & TIMER_ABSTIME) {
		int r = 0;

		if (clk == CLOCK_REALTIME || clk == CLOCK_MONOTONIC) {
			r = sleep_until(dt_ts_to_ns(req), clk, NULL);
		} else {
			int64_t d = dt_ts_to_ns(req) - dt_clock_ns(clk);

			if (d > 0)
				r = sleep_rel_ns(d, NULL);
		}
		return -r;
	}
	{
		int64_t left = 0;
		int r = sleep_rel_ns(dt_ts_to_ns(req), &left);

		if (r && rem) {
			rem->tv_sec = left / 1000000000;
			rem->tv_nsec = left % 1000000000;
		}
		return -r;
	}
}

DT_API int clock_nanosleep(clockid_t clk, int flags,
			   const struct timespec *req, struct timespec *rem)
{
	int r;

	if (!dt_may_park())
		return DT_REAL(clock_nanosleep)(clk, flags, req, rem);
	dt_testcancel();
	r = fiber_clock_nanosleep(clk, flags, req, rem);
	dt_cancel_after(-r);
	return r;
}

DT_API int nanosleep(const struct timespec *req, struct timespec *rem)
{
	int r;

	if (!dt_may_park())
		return DT_REAL(nanosleep)(req, rem);
	r = clock_nanosleep(CLOCK_REALTIME, 0, req, rem);
	return r ? (int)dt_ret(-r) : 0;
}

DT_API int usleep(useconds_t us)
{
	long r;

	if (!dt_may_park())
		return DT_REAL(usleep)(us);
	dt_testcancel();
	r = sleep_rel_ns((int64_t)us * 1000, NULL);
	dt_cancel_after(r);
	return (int)dt_ret(r);
}

DT_API unsigned sleep(unsigned s)
{
	int64_t left = 0;
	int saved = errno, r;

	if (!dt_may_park())
		return DT_REAL(sleep)(s);
	dt_testcancel();
	r = sleep_rel_ns((int64_t)s * 1000000000, &left);
	dt_cancel_after(r);
	if (r) {
		/* glibc: the whole seconds left (truncated), errno EINTR
		 * from its nanosleep. */
		errno = EINTR;
		return (unsigned)(left / 1000000000);
	}
	errno = saved;	/* glibc restores errno after a full sleep */
	return 0;
}
