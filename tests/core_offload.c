/* SPDX-License-Identifier: MIT */
/*
 * tests/core_offload.c - the offload pool (core/offload.h): jobs run on
 * plain pool threads while their fibers are parked and other fibers keep
 * running; bounded jobs share at most DT_OFFLOAD_MAX threads; unbounded
 * jobs never queue behind each other or starve bounded ones; a plain
 * thread runs its job inline; pool threads block asynchronous signals;
 * idle threads beyond DT_OFFLOAD_MAX end; the counter counts.
 *
 * Each test runs in its own process (Criterion's default), so the pool
 * starts empty and dt_offload_count() starts at 0.  Checks made in fibers
 * or pool threads are recorded with CHECK() and asserted on the test
 * thread after dtact_run returns.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "dtact.h"
#include "core/dt.h"
#include "core/offload.h"

/* ---------------------------------------------------------------- */
/* Checks off the test thread                                        */

static _Atomic unsigned nfail;
static char first_fail[1024];

static void note_fail(const char *where, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (atomic_fetch_add(&nfail, 1))
		return;
	n = snprintf(first_fail, sizeof(first_fail), "%s: ", where);
	va_start(ap, fmt);
	vsnprintf(first_fail + n, sizeof(first_fail) - n, fmt, ap);
	va_end(ap);
}

#define STR2(x) #x
#define STR(x) STR2(x)
#define CHECK(cond, ...)						\
	do {								\
		if (!(cond))						\
			note_fail(__FILE__ ":" STR(__LINE__) ": " #cond, \
				  __VA_ARGS__);				\
	} while (0)

static void assert_no_failed_checks(void)
{
	unsigned n = atomic_load(&nfail);

	cr_assert_eq(n, 0, "%u failed check(s), the first: %s", n,
		     first_fail);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---------------------------------------------------------------- */
/* A root fiber on a fresh two-worker runtime                         */

struct root {
	void (*fn)(void *);
	void *arg;
};

static void root_main(void *p)
{
	struct root *r = p;

	r->fn(r->arg);
	dtact_shutdown();
}

static void run_root(void (*fn)(void *), void *arg)
{
	dtact_config_t c = dtact_default_config();
	struct root r = { fn, arg };
	void *rt;

	c.mWorkers = 2;
	rt = dtact_init(&c);
	cr_assert_not_null(rt, "dtact_init: %s", strerror(errno));
	cr_assert_neq(dtact_fiber_launch(root_main, &r), 0,
		      "dtact_fiber_launch: %s", strerror(errno));
	cr_assert_eq(dtact_run(rt), 0, "dtact_run: %s", strerror(errno));
	assert_no_failed_checks();
}

/* ---------------------------------------------------------------- */
/* 100 fibers offload a 50 ms sleep while a counter fiber runs        */

#define N_SLEEPERS	100
#define SLEEP_MS	50

struct sleeper {
	int in;
	int out;		/* in * 2 + 1, written by the job */
	int on_fiber;		/* the job saw dt_current() != NULL */
	int pool_errno_seen;	/* the job's errno before it wrote one */
	int errno_after;	/* the fiber's errno after dt_offload */
};

static struct sleeper sleepers[N_SLEEPERS];
static atomic_int running, max_running;	/* jobs in their sleep */
static atomic_int counter_stop;
static atomic_long counter_ticks;

static void sleep_job(void *arg)
{
	struct sleeper *s = arg;

	int now, max;

	s->on_fiber = dt_current() != NULL;
	s->pool_errno_seen = errno;
	now = atomic_fetch_add(&running, 1) + 1;
	max = atomic_load(&max_running);
	while (now > max &&
	       !atomic_compare_exchange_weak(&max_running, &max, now))
		;
	usleep(SLEEP_MS * 1000);
	atomic_fetch_sub(&running, 1);
	errno = EIO;	/* the pool thread's errno, not the fiber's */
	s->out = s->in * 2 + 1;
}

static void sleeper_fiber(void *arg)
{
	struct sleeper *s = arg;

	errno = 1234;
	CHECK(dt_offload(sleep_job, s) == 0, "dt_offload failed");
	s->errno_after = errno;
}

static void counter_fiber(void *arg)
{
	(void)arg;
	while (!atomic_load(&counter_stop)) {
		atomic_fetch_add(&counter_ticks, 1);
		dtact_sleep_ns(1000000);
	}
}

static int64_t sleepers_ms;

static void sleepers_root(void *arg)
{
	dtact_handle_t h[N_SLEEPERS], ch;
	long ticks_before;
	int64_t t0;
	int i;

	(void)arg;
	ch = dtact_fiber_launch(counter_fiber, NULL);
	CHECK(ch != 0, "launch counter: %s", strerror(errno));
	dtact_sleep_ns(5000000);
	ticks_before = atomic_load(&counter_ticks);
	t0 = now_ms();
	for (i = 0; i < N_SLEEPERS; i++) {
		sleepers[i].in = i;
		h[i] = dtact_fiber_launch(sleeper_fiber, &sleepers[i]);
		CHECK(h[i] != 0, "launch sleeper %d: %s", i, strerror(errno));
	}
	for (i = 0; i < N_SLEEPERS; i++)
		if (h[i])
			dtact_await(h[i]);
	sleepers_ms = now_ms() - t0;
	/* A 1 ms ticker over >= 1.25 s: hundreds of ticks on an idle
	 * machine; a few dozen on a loaded one. */
	CHECK(atomic_load(&counter_ticks) - ticks_before >= 10,
	      "the counter fiber made %ld ticks while the jobs slept",
	      atomic_load(&counter_ticks) - ticks_before);
	atomic_store(&counter_stop, 1);
	if (ch)
		dtact_await(ch);
}

Test(core_offload, hundred_fibers_sleep_on_the_pool, .timeout = 30)
{
	int i;

	run_root(sleepers_root, NULL);
	for (i = 0; i < N_SLEEPERS; i++) {
		cr_assert_eq(sleepers[i].out, i * 2 + 1, "job %d result %d", i,
			     sleepers[i].out);
		cr_assert_eq(sleepers[i].on_fiber, 0,
			     "job %d ran on a fiber", i);
		cr_assert_eq(sleepers[i].errno_after, 1234,
			     "fiber %d errno %d after dt_offload", i,
			     sleepers[i].errno_after);
	}
	cr_assert_eq(dt_offload_count(), N_SLEEPERS, "count %llu",
		     (unsigned long long)dt_offload_count());
	/* Bounded jobs overlap, DT_OFFLOAD_MAX at a time at most: 25
	 * rounds of 50 ms at best. */
	cr_assert_geq(atomic_load(&max_running), 2,
		      "the jobs never overlapped");
	cr_assert_leq(atomic_load(&max_running), DT_OFFLOAD_MAX,
		      "%d bounded jobs ran at once",
		      atomic_load(&max_running));
	cr_assert_geq(sleepers_ms, N_SLEEPERS / DT_OFFLOAD_MAX * SLEEP_MS - 20,
		      "%lld ms: more than %d bounded jobs ran at once",
		      (long long)sleepers_ms, DT_OFFLOAD_MAX);
	cr_log_info("100 x 50 ms on the pool: %lld ms, %d at once",
		    (long long)sleepers_ms, atomic_load(&max_running));
}

/* ---------------------------------------------------------------- */
/* A plain thread runs the job inline                                */

struct inline_job {
	pthread_t ran_on;
	int ran;
};

static void inline_fn(void *arg)
{
	struct inline_job *j = arg;

	j->ran_on = pthread_self();
	j->ran++;
}

Test(core_offload, plain_thread_runs_inline, .timeout = 10)
{
	struct inline_job j = { 0 };

	cr_assert_eq(dt_offload(inline_fn, &j), 0);
	cr_assert_eq(j.ran, 1);
	cr_assert(pthread_equal(j.ran_on, pthread_self()),
		  "the job ran on another thread");
	cr_assert_eq(dt_offload_unbounded(inline_fn, &j), 0);
	cr_assert_eq(j.ran, 2);
	cr_assert_eq(dt_offload_count(), 0, "inline runs were counted");
}

/* ---------------------------------------------------------------- */
/* Unbounded jobs each get a thread; bounded ones still run           */

#define N_UNBOUNDED	(2 * DT_OFFLOAD_MAX + 2)

static atomic_int unb_started, unb_release, unb_released;

static void unbounded_job(void *arg)
{
	int64_t t0 = now_ms();

	(void)arg;
	atomic_fetch_add(&unb_started, 1);
	while (!atomic_load(&unb_release) && now_ms() - t0 < 10000)
		usleep(1000);
	if (atomic_load(&unb_release))
		atomic_fetch_add(&unb_released, 1);
}

static void unbounded_fiber(void *arg)
{
	(void)arg;
	dt_offload_unbounded(unbounded_job, NULL);
}

static void answer_job(void *arg)
{
	*(int *)arg = 42;
}

static void unbounded_root(void *arg)
{
	dtact_handle_t h[N_UNBOUNDED];
	int64_t t0 = now_ms();
	int i, answer = 0;

	(void)arg;
	for (i = 0; i < N_UNBOUNDED; i++)
		h[i] = dtact_fiber_launch(unbounded_fiber, NULL);
	/* Every one must start although each waits for the others. */
	while (atomic_load(&unb_started) < N_UNBOUNDED &&
	       now_ms() - t0 < 5000)
		dtact_sleep_ns(1000000);
	CHECK(atomic_load(&unb_started) == N_UNBOUNDED,
	      "only %d of %d unbounded jobs started",
	      atomic_load(&unb_started), N_UNBOUNDED);
	/* And a bounded job is not stuck behind them. */
	dt_offload(answer_job, &answer);
	CHECK(answer == 42, "bounded job result %d", answer);
	atomic_store(&unb_release, 1);
	for (i = 0; i < N_UNBOUNDED; i++)
		if (h[i])
			dtact_await(h[i]);
	CHECK(atomic_load(&unb_released) == N_UNBOUNDED,
	      "%d jobs timed out", N_UNBOUNDED - atomic_load(&unb_released));
}

/* Pool threads alive now (named by pool_main). */
static int pool_threads(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d))) {
		char path[300], comm[32] = "";
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm",
			 e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(comm, sizeof(comm), f) &&
		    !strncmp(comm, "dtact-offload", 13))
			n++;
		fclose(f);
	}
	closedir(d);
	return n;
}

Test(core_offload, unbounded_jobs_get_own_threads, .timeout = 30)
{
	int64_t t0;
	int n;

	run_root(unbounded_root, NULL);
	cr_assert_eq(dt_offload_count(), N_UNBOUNDED + 1);
	/* Idle threads beyond DT_OFFLOAD_MAX end. */
	t0 = now_ms();
	while ((n = pool_threads()) > DT_OFFLOAD_MAX && now_ms() - t0 < 5000)
		usleep(10000);
	cr_assert_leq(n, DT_OFFLOAD_MAX, "%d pool threads stay idle", n);
	cr_assert_geq(n, 1, "no pool thread left (%d)", n);
}

/* ---------------------------------------------------------------- */
/* Pool threads block asynchronous signals                           */

struct mask_job {
	int blocked[4];		/* SIGINT, SIGTERM, SIGUSR1, SIGCHLD */
	int segv_blocked;
};

static void mask_fn(void *arg)
{
	static const int sigs[4] = { SIGINT, SIGTERM, SIGUSR1, SIGCHLD };
	struct mask_job *j = arg;
	sigset_t m;
	int i;

	pthread_sigmask(SIG_BLOCK, NULL, &m);
	for (i = 0; i < 4; i++)
		j->blocked[i] = sigismember(&m, sigs[i]);
	j->segv_blocked = sigismember(&m, SIGSEGV);
}

static struct mask_job mask_result;

static void mask_root(void *arg)
{
	(void)arg;
	dt_offload(mask_fn, &mask_result);
}

Test(core_offload, pool_threads_block_async_signals, .timeout = 10)
{
	int i;

	run_root(mask_root, NULL);
	for (i = 0; i < 4; i++)
		cr_assert_eq(mask_result.blocked[i], 1,
			     "signal #%d not blocked on the pool thread", i);
	cr_assert_eq(mask_result.segv_blocked, 0, "SIGSEGV blocked");
}

/* ---------------------------------------------------------------- */
/* dt_offload_submit from a plain thread, completion on the pool      */

struct async_job {
	struct dt_offload_job j;
	pthread_t submitter, ran_on;
	atomic_int fn_done, done_after_fn;
	_Atomic uint32_t finished;	/* futex word */
};

static void async_fn(void *arg)
{
	struct async_job *a = arg;

	a->ran_on = pthread_self();
	atomic_store(&a->fn_done, 1);
}

static void async_done(struct dt_offload_job *j)
{
	struct async_job *a = (struct async_job *)j;

	atomic_store(&a->done_after_fn, atomic_load(&a->fn_done));
	atomic_store(&a->finished, 1);
	dt_futex_wake(&a->finished, 1);
}

Test(core_offload, submit_runs_fn_then_done_on_the_pool, .timeout = 10)
{
	struct async_job a = { .j = { .fn = async_fn, .arg = &a,
				      .done = async_done } };

	a.submitter = pthread_self();
	cr_assert_eq(dt_offload_submit(&a.j), 0);
	while (!atomic_load(&a.finished))
		dt_futex_wait(&a.finished, 0, DT_DEADLINE_NONE,
			      CLOCK_MONOTONIC);
	cr_assert_eq(atomic_load(&a.done_after_fn), 1);
	cr_assert(!pthread_equal(a.ran_on, a.submitter),
		  "the job ran on the submitting thread");
	cr_assert_eq(dt_offload_count(), 1);
}
