/* SPDX-License-Identifier: MIT */
/*
 * interpose/sleep.c - nanosleep(2), clock_nanosleep(2), usleep(3),
 * sleep(3): the fiber parks on a timer of its worker.  Argument checks and
 * error numbers are the kernel's and glibc's: EINVAL for a bad timespec
 * or clock, ENOTSUP for CLOCK_THREAD_CPUTIME_ID (clock_nanosleep returns
 * the error number, the others set errno).  A fiber's sleep is not cut
 * short by signals (it is not the thread the kernel interrupts), so the
 * remaining-time out-parameter is not written.
 */
#include <unistd.h>

#include "interpose/interpose.h"

static int sleep_rel_ns(int64_t ns)
{
	int64_t now = dt_now_ns();

	return dt_sleep_until(ns > INT64_MAX - now ? DT_DEADLINE_NONE :
			      now + ns, CLOCK_MONOTONIC);
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
		if (clk == CLOCK_REALTIME || clk == CLOCK_MONOTONIC) {
			dt_sleep_until(dt_ts_to_ns(req), clk);
		} else {
			int64_t d = dt_ts_to_ns(req) - dt_clock_ns(clk);

			if (d > 0)
				sleep_rel_ns(d);
		}
		return 0;
	}
	sleep_rel_ns(dt_ts_to_ns(req));
	return 0;
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
	sleep_rel_ns((int64_t)us * 1000);
	return 0;
}

DT_API unsigned sleep(unsigned s)
{
	if (!dt_may_park())
		return DT_REAL(sleep)(s);
	sleep_rel_ns((int64_t)s * 1000000000);
	return 0;
}
