/* SPDX-License-Identifier: MIT */
/*
 * interpose/sleep.c - nanosleep(2), clock_nanosleep(2), usleep(3),
 * sleep(3): the fiber parks on a timer of its worker.  Argument checks and
 * error numbers are the kernel's and glibc's: EINVAL for a bad timespec
 * or clock, ENOTSUP for CLOCK_THREAD_CPUTIME_ID (clock_nanosleep returns
 * the error number, the others set errno).  A signal handler meant for
 * the sleeping fiber ends the sleep with EINTR whatever SA_RESTART says
 * (signal(7): sleeps are never restarted), and a relative sleep then
 * reports the time left in *rem, as the kernel does.
 */
#include <unistd.h>

#include "interpose/interpose.h"

/* Sleep until deadline on clk; -EINTR with *left (ns) when interrupted. */
static int sleep_until(int64_t deadline, clockid_t clk, int64_t *left)
{
	struct dt_fiber *f = dt_current();
	int r;

	f->intr = DT_INTR_ALWAYS;
	r = dt_sleep_until(deadline, clk);
	f->intr = 0;
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

DT_API int clock_nanosleep(clockid_t clk, int flags,
			   const struct timespec *req, struct timespec *rem)
{
	if (!dt_may_park())
		return DT_REAL(clock_nanosleep)(clk, flags, req, rem);
	if (clk == CLOCK_THREAD_CPUTIME_ID)
		return ENOTSUP;
	if (clk != CLOCK_REALTIME && clk != CLOCK_MONOTONIC &&
	    clk != CLOCK_BOOTTIME && clk != CLOCK_TAI &&
	    clk != CLOCK_PROCESS_CPUTIME_ID)
		return EINVAL;
	if (req->tv_nsec < 0 || req->tv_nsec >= 1000000000 ||
	    req->tv_sec < 0)
		return req->tv_sec < 0 && (flags & TIMER_ABSTIME) &&
		       req->tv_nsec >= 0 && req->tv_nsec < 1000000000 ?
		       0 : EINVAL;
	if (clk == CLOCK_PROCESS_CPUTIME_ID)	/* not a wall clock: libc */
		return DT_REAL(clock_nanosleep)(clk, flags, req, rem);
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
	if (!dt_may_park())
		return DT_REAL(usleep)(us);
	return (int)dt_ret(sleep_rel_ns((int64_t)us * 1000, NULL));
}

DT_API unsigned sleep(unsigned s)
{
	if (!dt_may_park())
		return DT_REAL(sleep)(s);
	int64_t left = 0;

	/* Interrupted: the seconds left, rounded up as glibc does. */
	if (sleep_rel_ns((int64_t)s * 1000000000, &left))
		return (unsigned)((left + 999999999) / 1000000000);
	return 0;
}
