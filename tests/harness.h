/* SPDX-License-Identifier: MIT */
/*
 * tests/harness.h - what the Criterion tests of the running runtime share:
 * checks recorded off the test thread, a root fiber (or plain threads) on
 * a fresh runtime, fibers launched on a given worker, waiting for a fiber
 * to park, the resident set size, and a deterministic random sequence.
 *
 * Criterion asserts may only be called from the thread that runs the
 * test, so fibers, workers and helper threads record failed checks with
 * CHECK(); the first one's text is kept, and assert_no_failed_checks()
 * (called by run_root_cfg() and run_threads() once dtact_run has
 * returned) asserts on the test thread that there were none.
 *
 * Header only, every function static inline: each test file is a program
 * of its own and includes this once.  LeakSanitizer's suppressions for
 * SAN=1 come from tests/lsan.supp, through LSAN_OPTIONS (tests/run.sh).
 */
#ifndef DT_TESTS_HARNESS_H
#define DT_TESTS_HARNESS_H

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#ifdef DT_SAN
#include <sanitizer/asan_interface.h>
#endif

#include "dtact.h"
#include "core/dt.h"

/* ---------------------------------------------------------------- */
/* Checks off the test thread                                        */

static _Atomic unsigned nfail;
static char first_fail[1024];

static inline void note_fail(const char *where, const char *expr,
			     const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static inline void note_fail(const char *where, const char *expr,
			     const char *fmt, ...)
{
	va_list ap;
	int n;

	if (atomic_fetch_add(&nfail, 1))
		return;
	n = snprintf(first_fail, sizeof(first_fail), "%s: %s: ", where,
		     expr);
	if (n < 0 || n >= (int)sizeof(first_fail))
		return;
	va_start(ap, fmt);
	vsnprintf(first_fail + n, sizeof(first_fail) - n, fmt, ap);
	va_end(ap);
}

#define STR2(x) #x
#define STR(x) STR2(x)
/* CHECK(cond, fmt, ...): record a failure unless cond holds. */
#define CHECK(cond, ...)						\
	do {								\
		if (!(cond))						\
			note_fail(__FILE__ ":" STR(__LINE__), #cond,	\
				  __VA_ARGS__);				\
	} while (0)

/* A line for the test thread to log once the runtime has stopped. */
static char info[512];

static inline void assert_no_failed_checks(void)
{
	unsigned n = atomic_load(&nfail);

	cr_assert_eq(n, 0, "%u failed check(s), the first: %s", n,
		     first_fail);
}

/* ---------------------------------------------------------------- */
/* Running a fresh runtime                                           */

/* The default configuration but for mWorkers = 2. */
static inline dtact_config_t two_workers(void)
{
	dtact_config_t c = dtact_default_config();

	c.mWorkers = 2;
	return c;
}

struct root {
	void (*fn)(void *);
	void *arg;
};

static inline void root_main(void *p)
{
	struct root *r = p;

	r->fn(r->arg);
	dtact_shutdown();
}

/* dtact_init(c), launch fn(arg) as the root fiber (pinned to worker
 * `pin`, or placed by the runtime if -1), run worker 0 on this thread
 * until the root has returned (root_main then calls dtact_shutdown()),
 * log info if set, and assert the recorded checks. */
static inline void run_root_cfg(const dtact_config_t *c, int pin,
				void (*fn)(void *), void *arg)
{
	dtact_spawn_options_t o = dtact_default_spawn_options();
	struct root r = { fn, arg };
	void *rt;

	rt = dtact_init(c);
	cr_assert_not_null(rt, "dtact_init: %s", strerror(errno));
	o.mWorker = pin;
	cr_assert_neq(dtact_fiber_launch_ext(root_main, &r, &o), 0,
		      "dtact_fiber_launch: %s", strerror(errno));
	cr_assert_eq(dtact_run(rt), 0, "dtact_run: %s", strerror(errno));
	if (info[0])
		cr_log_info("%s", info);
	assert_no_failed_checks();
}

/* Two workers, the root placed by the runtime. */
static inline void run_root(void (*fn)(void *), void *arg)
{
	dtact_config_t c = two_workers();

	run_root_cfg(&c, -1, fn, arg);
}

/* Two workers, the root pinned to `worker`. */
static inline void run_root_on(int worker, void (*fn)(void *), void *arg)
{
	dtact_config_t c = two_workers();

	run_root_cfg(&c, worker, fn, arg);
}

#define HARNESS_MAX_THREADS 64

/* dtact_init(c), start n plain threads fn((void *)(intptr_t)i) for i in
 * 0..n-1, run worker 0 on this thread until one of them calls
 * dtact_shutdown(), join them, log info if set, and assert the recorded
 * checks. */
static inline void run_threads(const dtact_config_t *c, int n,
			       void *(*fn)(void *))
{
	pthread_t th[HARNESS_MAX_THREADS];
	void *rt;
	int i;

	cr_assert(n > 0 && n <= HARNESS_MAX_THREADS, "%d threads", n);
	rt = dtact_init(c);
	cr_assert_not_null(rt, "dtact_init: %s", strerror(errno));
	for (i = 0; i < n; i++)
		cr_assert_eq(pthread_create(&th[i], NULL, fn,
					    (void *)(intptr_t)i), 0);
	cr_assert_eq(dtact_run(rt), 0, "dtact_run: %s", strerror(errno));
	for (i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	if (info[0])
		cr_log_info("%s", info);
	assert_no_failed_checks();
}

/* ---------------------------------------------------------------- */
/* Fibers                                                            */

/* Launch fn(arg) pinned to `worker`; a failure is a failed check. */
static inline dtact_handle_t launch_on(void (*fn)(void *), void *arg,
				       int worker)
{
	dtact_spawn_options_t o = dtact_default_spawn_options();
	dtact_handle_t h;

	o.mWorker = worker;
	h = dtact_fiber_launch_ext(fn, arg, &o);
	CHECK(h != 0, "launch on worker %d: %s", worker, strerror(errno));
	return h;
}

/* Yield (napping 0.1 ms, up to 20 s) until the fiber of h has switched
 * out in dt_park for `reason`: its wait is registered by then. */
static inline bool wait_parked(dtact_handle_t h, int reason)
{
	struct dt_fiber *f;
	int i;

	for (i = 0; i < 200000; i++) {
		if (dt_fiber_lookup(h, &f))
			return false;
		if (__atomic_load_n(&f->state, __ATOMIC_ACQUIRE) ==
		    DT_FIBER_PARKED &&
		    __atomic_load_n(&f->reason, __ATOMIC_RELAXED) == reason)
			return true;
		dtact_sleep_ns(100000);
	}
	return false;
}

/* ---------------------------------------------------------------- */
/* Memory and randomness                                             */

#ifdef DT_SAN
/*
 * Resident bytes of ASan's shadow memory, from /proc/self/smaps.  Every
 * arena slot a fiber ever ran on keeps a shadow page or two resident (the
 * kernel does not know that the stack's MADV_DONTNEED makes its shadow
 * dead), so under ASan RSS is compared without the shadow.
 */
static inline size_t shadow_rss_bytes(void)
{
	size_t scale, off, kb = 0;
	uintptr_t lo, hi, start = 0, end;
	char line[512];
	FILE *f = fopen("/proc/self/smaps", "r");

	__asan_get_shadow_mapping(&scale, &off);
	lo = off;
	hi = off + ((uintptr_t)1 << 47 >> scale);
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		unsigned long v;

		if (sscanf(line, "%lx-%lx ", &start, &end) == 2)
			continue;
		if (sscanf(line, "Rss: %lu kB", &v) == 1 && start >= lo &&
		    start < hi)
			kb += v;
	}
	fclose(f);
	return kb << 10;
}
#endif

/* Resident set size in bytes, from /proc/self/statm (without ASan's
 * shadow in a sanitizer build). */
static inline size_t rss_bytes(void)
{
	unsigned long size = 0, res = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f) {
		if (fscanf(f, "%lu %lu", &size, &res) != 2)
			res = 0;
		fclose(f);
	}
#ifdef DT_SAN
	return res * (size_t)sysconf(_SC_PAGESIZE) - shadow_rss_bytes();
#else
	return res * (size_t)sysconf(_SC_PAGESIZE);
#endif
}

/* splitmix64: the same sequence everywhere. */
static inline uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

#endif
