/* SPDX-License-Identifier: MIT */
/*
 * tests/core_sched.c - the mesh scheduler (core/sched.c) through the
 * running runtime: a spawn storm without leaks, fair yields, cross-worker
 * wakes, errno and FP control state per fiber, timer accuracy, await from
 * a plain thread, detached fibers, large and caller-supplied stacks.
 *
 * Every test starts a two-worker runtime from the test thread (which
 * becomes worker 0 in dtact_run) with a root fiber that ends with
 * dtact_shutdown().  Checks made in fibers or helper threads are recorded
 * with CHECK() and asserted on the test thread after dtact_run returns:
 * Criterion asserts may only be called from the thread that runs the test.
 *
 * Criterion runs tests in parallel (--jobs), but the timer test's lateness
 * bound assumes an idle machine and the spawn storm loads both CPUs: every
 * test of this suite first takes an exclusive flock on the test binary
 * (TestSuite .init), so they run one at a time.
 */
#include <errno.h>
#include <fcntl.h>
#include <fenv.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "dtact.h"
#include "core/dt.h"
#include "harness.h"

/* Keep the CPUs to this test: an exclusive lock on the test binary,
 * held until the test process exits (see the file comment). */
static void cpu_exclusive(void)
{
	int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);

	cr_assert_geq(fd, 0, "open /proc/self/exe: %s", strerror(errno));
	cr_assert_eq(flock(fd, LOCK_EX), 0, "flock: %s", strerror(errno));
}

TestSuite(core_sched, .init = cpu_exclusive);

/* ---------------------------------------------------------------- */
/* Spawn storm                                                       */

#define STORM_TOTAL	1000000u
#define STORM_ALIVE	10000u
#define STORM_TOUCH	(16u << 10)	/* stack bytes each fiber touches */
#define MIB		(1u << 20)
/* After the storm RSS must be back within this of the baseline.  A leak
 * of the stacks alive at once would be 10,000 x 16 KiB = 160 MiB; what
 * may legitimately stay is the workers' warm caches (2 x 64 stacks). */
#define STORM_RSS_SLACK	(64u * MIB)

static _Atomic unsigned long storm_ran;

static void storm_fn(void *arg)
{
	volatile char buf[STORM_TOUCH];
	size_t i;

	for (i = 0; i < sizeof(buf); i += 4096)
		buf[i] = (char)i;
	buf[sizeof(buf) - 1] = 1;
	(void)arg;
	atomic_fetch_add_explicit(&storm_ran, 1, memory_order_relaxed);
}

static void storm_root(void *arg)
{
	static dtact_handle_t ring[STORM_ALIVE];
	uint32_t live0 = atomic_load(&dt_rt.arena.live);
	size_t rss0 = rss_bytes(), peak = rss0, rss1;
	uint32_t i, live1;

	(void)arg;
	for (i = 0; i < STORM_TOTAL; i++) {
		dtact_handle_t *slot = &ring[i % STORM_ALIVE];

		if (i >= STORM_ALIVE) {
			if (dtact_await(*slot)) {
				CHECK(0, "await of fiber %u: %s",
				      i - STORM_ALIVE, strerror(errno));
				return;
			}
			if (i % STORM_ALIVE == 0) {
				size_t r = rss_bytes();

				if (r > peak)
					peak = r;
			}
		}
		*slot = dtact_fiber_launch(storm_fn, NULL);
		if (!*slot) {
			CHECK(0, "launch %u with %u alive: %s", i,
			      STORM_ALIVE, strerror(errno));
			return;
		}
	}
	for (i = 0; i < STORM_ALIVE; i++)
		CHECK(dtact_await(ring[i]) == 0, "await: %s",
		      strerror(errno));
	live1 = atomic_load(&dt_rt.arena.live);
	/* Dead fibers' stacks go back to the kernel in idle time, a batch
	 * per idle pass of a worker (arena.c): sleep (this worker idles
	 * too) until RSS is back, for at most 10 s. */
	for (i = 0; i < 200; i++) {
		rss1 = rss_bytes();
		if (rss1 <= rss0 + STORM_RSS_SLACK)
			break;
		dtact_sleep_ns(50 * 1000 * 1000);
	}
	CHECK(atomic_load(&storm_ran) == STORM_TOTAL, "%lu of %u fibers ran",
	      atomic_load(&storm_ran), STORM_TOTAL);
	CHECK(live1 == live0, "arena live %u after the storm, %u before",
	      live1, live0);
	/* The instrument must see what it is meant to catch. */
	CHECK(peak >= rss0 + 100 * MIB, "RSS peaked only %zu MiB above the "
	      "baseline with %u fibers of %u KiB alive", (peak - rss0) / MIB,
	      STORM_ALIVE, STORM_TOUCH >> 10);
	CHECK(rss1 <= rss0 + STORM_RSS_SLACK, "RSS %zu MiB 10 s after the "
	      "storm, %zu MiB before (peak %zu MiB): stacks not returned",
	      rss1 / MIB, rss0 / MIB, peak / MIB);
	snprintf(info, sizeof(info), "storm: RSS %zu MiB before, peak %zu, "
		 "after %zu", rss0 / MIB, peak / MIB, rss1 / MIB);
}

/* Description: a spawn storm of 1,000,000 fibers, at most 10,000 alive at
 * once, each touching 16 KiB of its stack, completes; afterwards the arena
 * holds as many live slots as before and RSS is back within 64 MiB of the
 * baseline (it peaks 100+ MiB higher meanwhile). */
Test(core_sched, spawn_storm_no_leak, .timeout = 60)
{
	run_root(storm_root, NULL);
}

/* ---------------------------------------------------------------- */
/* Fair yields                                                       */

#define YIELD_ROUNDS 100

static char yield_log[3 * YIELD_ROUNDS + 1];
static _Atomic unsigned yield_n;

static void yielder(void *arg)
{
	char me = (char)(uintptr_t)arg;
	int i;

	CHECK(dtact_worker_id() == 0, "fiber %c on worker %d", me,
	      dtact_worker_id());
	for (i = 0; i < YIELD_ROUNDS; i++) {
		yield_log[atomic_fetch_add(&yield_n, 1)] = me;
		dtact_yield();
	}
}

static void yield_root(void *arg)
{
	int n = (int)(uintptr_t)arg, i;
	dtact_handle_t h[3];
	char want[sizeof(yield_log)];

	/* The root is pinned to worker 0 as well: the fibers enter the run
	 * queue in launch order, and the root then parks in the awaits. */
	for (i = 0; i < n; i++)
		h[i] = launch_on(yielder, (void *)(uintptr_t)('A' + i), 0);
	for (i = 0; i < n; i++)
		CHECK(dtact_await(h[i]) == 0, "await: %s", strerror(errno));
	for (i = 0; i < n * YIELD_ROUNDS; i++)
		want[i] = (char)('A' + i % n);
	want[i] = 0;
	yield_log[atomic_load(&yield_n)] = 0;
	CHECK(strcmp(yield_log, want) == 0, "run order %s", yield_log);
}

/* Description: two fibers yielding on one worker take turns: A B A B ...
 * (100 rounds). */
Test(core_sched, yield_alternates_two, .timeout = 30)
{
	run_root_on(0, yield_root, (void *)2);
}

/* Description: three fibers yielding on one worker run round robin:
 * A B C A B C ... */
Test(core_sched, yield_round_robin_three, .timeout = 30)
{
	run_root_on(0, yield_root, (void *)3);
}

static _Atomic int zs_flag;

static void zs_poller(void *arg)
{
	long *spins = arg;

	/* The legacy "wait for a flag" loop: without a turn for the
	 * others, the setter (same worker, queued behind) never runs. */
	while (!atomic_load(&zs_flag) && *spins < 1000000) {
		++*spins;
		dtact_sleep_ns(0);
	}
}

static void zs_setter(void *arg)
{
	(void)arg;
	atomic_store(&zs_flag, 1);
}

static void zero_sleep_root(void *arg)
{
	long spins = 0;
	dtact_handle_t p, s;

	(void)arg;
	p = launch_on(zs_poller, &spins, 0);
	s = launch_on(zs_setter, NULL, 0);
	CHECK(dtact_await(p) == 0 && dtact_await(s) == 0, "await: %s",
	      strerror(errno));
	CHECK(atomic_load(&zs_flag) && spins == 1,
	      "flag %d after %ld zero sleeps (want 1: the first one lets the "
	      "setter run)", atomic_load(&zs_flag), spins);
}

/* Description: a zero sleep yields: a fiber polling a flag with
 * dtact_sleep_ns(0) lets the fiber queued behind it on its worker set
 * the flag (a thread's zero sleep goes through the kernel's scheduler). */
Test(core_sched, zero_sleep_yields, .timeout = 30)
{
	run_root_on(0, zero_sleep_root, NULL);
}

/* ---------------------------------------------------------------- */
/* Cross-worker wake                                                 */

#define XWAKE_ROUNDS 1000

struct xwake {
	dtact_handle_t waiter;
	int value;
};

static void xwake_target(void *arg)
{
	struct xwake *x = arg;

	CHECK(dtact_worker_id() == 1, "pinned fiber on worker %d",
	      dtact_worker_id());
	/* End only once the waiter is really parked in its await, so that
	 * the wake has to cross from worker 1 to worker 0. */
	CHECK(wait_parked(x->waiter, DT_REASON_JOIN),
	      "the waiter never parked in dtact_await");
	x->value++;
}

static void xwake_root(void *arg)
{
	struct xwake x = { dtact_self(), 0 };
	int i;

	(void)arg;
	for (i = 0; i < XWAKE_ROUNDS; i++) {
		dtact_handle_t h = launch_on(xwake_target, &x, 1);

		CHECK(dtact_await(h) == 0, "await: %s", strerror(errno));
		CHECK(dtact_worker_id() == 0, "the waiter woke on worker %d",
		      dtact_worker_id());
		CHECK(x.value == i + 1, "round %d: await returned before "
		      "the fiber ended", i);
	}
}

/* Description: a fiber on worker 0 awaiting a fiber pinned to worker 1
 * parks and is woken across workers when it ends (1,000 rounds), and
 * resumes on worker 0. */
Test(core_sched, cross_worker_await, .timeout = 60)
{
	run_root_on(0, xwake_root, NULL);
}

/* ---------------------------------------------------------------- */
/* errno and FP control state are per fiber                          */

static _Atomic int step;

/* Yield until step reaches n (both fibers share worker 0). */
static void step_to(int n)
{
	int i;

	for (i = 0; atomic_load(&step) < n && i < 1000000; i++)
		dtact_yield();
	CHECK(atomic_load(&step) >= n, "never reached step %d", n);
}

static void errno_a(void *arg)
{
	(void)arg;
	errno = 11;
	atomic_store(&step, 1);
	step_to(2);			/* B runs, sets errno 22, yields */
	CHECK(errno == 11, "fiber A sees errno %d after B set 22", errno);
	atomic_store(&step, 3);
	dtact_sleep_ns(1000000);	/* a park through the timers, too */
	CHECK(errno == 11, "fiber A sees errno %d after a sleep", errno);
}

static void errno_b(void *arg)
{
	(void)arg;
	step_to(1);
	CHECK(errno == 0, "a new fiber starts with errno %d", errno);
	errno = 22;
	atomic_store(&step, 2);
	step_to(3);
	CHECK(errno == 22, "fiber B sees errno %d after A ran", errno);
}

static void errno_root(void *arg)
{
	dtact_handle_t a, b;

	(void)arg;
	errno = 33;
	a = launch_on(errno_a, NULL, 0);
	b = launch_on(errno_b, NULL, 0);
	CHECK(dtact_await(a) == 0, "await: %s", strerror(errno));
	CHECK(dtact_await(b) == 0, "await: %s", strerror(errno));
	CHECK(errno == 33, "the root sees errno %d", errno);
}

/* Description: errno is per fiber: A sets 11 and yields to B, which sets
 * 22 and yields back; A still sees 11, B 22, the root its own. */
Test(core_sched, errno_per_fiber, .timeout = 30)
{
	run_root_on(0, errno_root, NULL);
}

/*
 * The rounding mode, as fesetround(3) sets it on x86-64: the RC field of
 * the x87 control word and of MXCSR.  (Test binaries do not link libm;
 * this is what glibc's fesetround/fegetround do.)
 */
static void set_round(int mode)
{
	uint16_t cw;
	uint32_t csr;

	__asm__ volatile("fnstcw %0" : "=m"(cw));
	cw = (uint16_t)((cw & ~0xc00) | mode);
	__asm__ volatile("fldcw %0" : : "m"(cw));
	__asm__ volatile("stmxcsr %0" : "=m"(csr));
	csr = (csr & ~0x6000u) | ((uint32_t)mode << 3);
	__asm__ volatile("ldmxcsr %0" : : "m"(csr));
}

/* The mode if x87 and SSE agree, else -1. */
static int get_round(void)
{
	uint16_t cw;
	uint32_t csr;

	__asm__ volatile("fnstcw %0" : "=m"(cw));
	__asm__ volatile("stmxcsr %0" : "=m"(csr));
	if ((cw & 0xc00) != ((csr >> 3) & 0xc00))
		return -1;
	return cw & 0xc00;
}

static void fp_a(void *arg)
{
	(void)arg;
	CHECK(get_round() == FE_TONEAREST, "a new fiber starts in mode %#x",
	      get_round());
	set_round(FE_UPWARD);
	atomic_store(&step, 1);
	step_to(2);
	CHECK(get_round() == FE_UPWARD, "fiber A's mode is %#x after B set "
	      "FE_DOWNWARD", get_round());
	atomic_store(&step, 3);
}

static void fp_b(void *arg)
{
	(void)arg;
	step_to(1);
	CHECK(get_round() == FE_TONEAREST, "fiber B starts in mode %#x "
	      "after A set FE_UPWARD", get_round());
	set_round(FE_DOWNWARD);
	atomic_store(&step, 2);
	step_to(3);
	CHECK(get_round() == FE_DOWNWARD, "fiber B's mode is %#x after A ran",
	      get_round());
}

static void fp_root(void *arg)
{
	dtact_spawn_options_t o = dtact_default_spawn_options();
	dtact_handle_t a, b;

	(void)arg;
	set_round(FE_TOWARDZERO);
	o.mSwitcher = DTACT_SWITCHER_FLOAT;
	o.mWorker = 0;
	a = dtact_fiber_launch_ext(fp_a, NULL, &o);
	b = dtact_fiber_launch_ext(fp_b, NULL, &o);
	CHECK(a && b, "launch: %s", strerror(errno));
	CHECK(dtact_await(a) == 0, "await: %s", strerror(errno));
	CHECK(dtact_await(b) == 0, "await: %s", strerror(errno));
	CHECK(get_round() == FE_TOWARDZERO, "the root's mode is %#x",
	      get_round());
	set_round(FE_TONEAREST);
}

/* Description: under DTACT_SWITCHER_FLOAT the rounding mode is per fiber:
 * A sets FE_UPWARD and yields to B, which starts in FE_TONEAREST, sets
 * FE_DOWNWARD and yields back; A sees FE_UPWARD, B FE_DOWNWARD, and the
 * root keeps FE_TOWARDZERO. */
Test(core_sched, fp_mode_per_fiber, .timeout = 30)
{
	run_root_on(0, fp_root, NULL);
}

/* ---------------------------------------------------------------- */
/* Timers                                                            */

#define TIMER_FIBERS	10000u
#define TIMER_MAX_NS	200000000ull	/* sleeps of 0 .. 200 ms */
#define TIMER_LATE_NS	2000000		/* the bound: 2 ms */

struct sleeper {
	uint64_t ns;		/* asked for */
	int64_t t0, t1;		/* before the call, after it */
};

static struct sleeper sleepers[TIMER_FIBERS];

static void sleeper_fn(void *arg)
{
	struct sleeper *s = arg;

	s->t0 = dt_now_ns();
	CHECK(dtact_sleep_ns(s->ns) == 0, "dtact_sleep_ns returned non-0");
	s->t1 = dt_now_ns();
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* Sleepers by the duration they asked for. */
static int cmp_sleep(const void *a, const void *b)
{
	uint64_t x = sleepers[*(const uint32_t *)a].ns;
	uint64_t y = sleepers[*(const uint32_t *)b].ns;

	return (x > y) - (x < y);
}

static unsigned timer_over;		/* fibers over 2 ms late */
static int64_t timer_p999;		/* 99.9th percentile lateness, ns */
static char timer_why[512];

static void timers_root(void *arg)
{
	static dtact_handle_t h[TIMER_FIBERS];
	static int64_t late[TIMER_FIBERS];
	static uint32_t order[TIMER_FIBERS];
	uint64_t seed = 0x71e3e5;
	uint32_t i, early = 0, over = 0, worst = 0;

	(void)arg;
	for (i = 0; i < TIMER_FIBERS; i++) {
		sleepers[i].ns = rng_next(&seed) % (TIMER_MAX_NS + 1);
		order[i] = i;
	}
	qsort(order, TIMER_FIBERS, sizeof(order[0]), cmp_sleep);
	for (i = 0; i < TIMER_FIBERS; i++) {
		h[i] = dtact_fiber_launch(sleeper_fn, &sleepers[i]);
		if (!h[i]) {
			CHECK(0, "launch %u: %s", i, strerror(errno));
			return;
		}
		/* Let it start: 10,000 launches in a row would queue
		 * thousands of new fibers ahead of every timer that fires
		 * meanwhile (the run queue is FIFO). */
		dtact_yield();
	}
	/* In the order they wake, so that the root reaps each as it ends:
	 * awaiting in launch order would have it reap thousands in a row
	 * without a switch, delaying the timers of its own worker. */
	for (i = 0; i < TIMER_FIBERS; i++)
		CHECK(dtact_await(h[order[i]]) == 0, "await: %s",
		      strerror(errno));
	for (i = 0; i < TIMER_FIBERS; i++) {
		struct sleeper *s = &sleepers[i];

		late[i] = s->t1 - (s->t0 + (int64_t)s->ns);
		if (late[i] < 0)
			early++;
		if (late[i] > TIMER_LATE_NS)
			over++;
		if (late[i] > late[worst])
			worst = i;
	}
	qsort(late, TIMER_FIBERS, sizeof(late[0]), cmp_i64);
	snprintf(info, sizeof(info), "timer lateness over %u fibers: min "
		 "%lld us, median %lld us, p99 %lld us, p99.9 %lld us, max "
		 "%lld us", TIMER_FIBERS, (long long)late[0] / 1000,
		 (long long)late[TIMER_FIBERS / 2] / 1000,
		 (long long)late[TIMER_FIBERS * 99 / 100] / 1000,
		 (long long)late[TIMER_FIBERS * 999 / 1000] / 1000,
		 (long long)late[TIMER_FIBERS - 1] / 1000);
	CHECK(early == 0, "%u of %u fibers woke before their deadline "
	      "(earliest by %lld ns)", early, TIMER_FIBERS,
	      (long long)-late[0]);
	/* Judged on the test thread, beside the native control. */
	timer_over = over;
	timer_p999 = late[TIMER_FIBERS * 999 / 1000];
	snprintf(timer_why, sizeof(timer_why), "%u of %u fibers woke more "
		 "than 2 ms late: max %lld us (sleep of %llu ns), p99.9 %lld "
		 "us, p99 %lld us, median %lld us", over, TIMER_FIBERS,
		 (long long)late[TIMER_FIBERS - 1] / 1000,
		 (unsigned long long)sleepers[worst].ns,
		 (long long)late[TIMER_FIBERS * 999 / 1000] / 1000,
		 (long long)late[TIMER_FIBERS * 99 / 100] / 1000,
		 (long long)late[TIMER_FIBERS / 2] / 1000);
}

/*
 * The native control: plain OS threads sleeping random short times with
 * clock_nanosleep while the fibers sleep, recording how late the kernel
 * wakes *them*.  If plain threads are more than 2 ms late too, the machine
 * is not idle (other processes hold the CPUs) and the 2 ms claim cannot be
 * judged: the test says so and is skipped, never passed.
 */
static _Atomic int control_stop;
static _Atomic int64_t control_max_late;

static void *control_fn(void *arg)
{
	uint64_t x = 0x9e3779b97f4a7c15ull * (uintptr_t)(arg ? 3 : 7);

	while (!atomic_load(&control_stop)) {
		struct timespec t0, t1, d;
		int64_t ns, late;

		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		ns = (int64_t)(x % 5000000);		/* 0..5 ms */
		d.tv_sec = 0;
		d.tv_nsec = ns;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		clock_nanosleep(CLOCK_MONOTONIC, 0, &d, NULL);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		late = (t1.tv_sec - t0.tv_sec) * 1000000000ll +
		       (t1.tv_nsec - t0.tv_nsec) - ns;
		if (late > atomic_load(&control_max_late))
			atomic_store(&control_max_late, late);
	}
	return NULL;
}

/* Description: 10,000 fibers each sleep a random 0..200 ms (fixed seed)
 * with dtact_sleep_ns: none wakes before its deadline, and 99.9% of them
 * wake within 2 ms after it, beyond the lateness plain threads sleeping
 * meanwhile see (release builds; best of three independent attempts). */
Test(core_sched, sleep_wakes_on_time, .timeout = 120)
{
	char seen[3][700];
	int attempt, i, busy = 0;

	/*
	 * Each attempt is a complete, independent measurement (a fresh
	 * runtime, a fresh control).  A kernel hiccup of a few ms happens
	 * even on an idle machine now and then (the control shows it), so
	 * the bound is met if one of three attempts meets it; three misses
	 * fail, unless every miss coincided with plain threads that were
	 * late as well (the machine is busy: skipped, not passed).
	 */
	for (attempt = 0; attempt < 3; attempt++) {
		pthread_t ctl[2];
		int64_t cmax;

		atomic_store(&control_stop, 0);
		atomic_store(&control_max_late, 0);
		timer_over = 0;
		timer_why[0] = 0;
		for (i = 0; i < 2; i++)
			cr_assert_eq(pthread_create(&ctl[i], NULL, control_fn,
						    (void *)(intptr_t)i), 0);
		run_root(timers_root, NULL);
		atomic_store(&control_stop, 1);
		for (i = 0; i < 2; i++)
			pthread_join(ctl[i], NULL);
		cmax = atomic_load(&control_max_late);
#ifdef DT_SAN
		/* Under ASan every switch and wake costs several times
		 * more: the sanitizer build checks that nobody wakes early
		 * (in timers_root) and logs the distribution. */
		cr_log_info("%s; native control max %lld us", timer_why,
			    (long long)cmax / 1000);
		return;
#else
		/* The bound, held by 99.9% of the fibers, beyond
		 * what the machine itself adds to plain threads meanwhile
		 * (a VM's steal time delays a worker as it delays them). */
		if (timer_over <= TIMER_FIBERS / 1000 ||
		    timer_p999 <= TIMER_LATE_NS + cmax)
			return;
		if (cmax > TIMER_LATE_NS)
			busy++;
		snprintf(seen[attempt], sizeof(seen[attempt]), "attempt %d: "
			 "%s (native control max %lld us)", attempt + 1,
			 timer_why, (long long)cmax / 1000);
		/* info, not warn: Criterion exits 1 after any warning,
		 * which made a passing run fail. */
		cr_log_info("%s", seen[attempt]);
#endif
	}
	if (busy == 3)
		cr_skip_test("machine not idle (plain threads were late too "
			     "in every attempt); last: %s", seen[2]);
	cr_assert_fail("the 2 ms bound was missed in 3 attempts:\n%s\n%s"
		       "\n%s", seen[0], seen[1], seen[2]);
}

/* ---------------------------------------------------------------- */
/* dtact_await from a plain thread                                   */

static _Atomic int slow_done;

static void slow_fn(void *arg)
{
	(void)arg;
	dtact_sleep_ns(50000000);	/* 50 ms: the thread gets to block */
	atomic_store(&slow_done, 1);
}

static void *await_thread(void *arg)
{
	int i;

	(void)arg;
	for (i = 0; i < 3; i++) {
		dtact_handle_t h = dtact_fiber_launch(slow_fn, NULL);

		CHECK(h != 0, "launch: %s", strerror(errno));
		atomic_store(&slow_done, 0);
		CHECK(dtact_await(h) == 0, "await from a thread: %s",
		      strerror(errno));
		CHECK(atomic_load(&slow_done) == 1, "dtact_await returned "
		      "to a plain thread before the fiber ended");
		errno = 0;
		CHECK(dtact_await(h) == -1 && errno == ESRCH,
		      "second await: errno %d", errno);
	}
	CHECK(dtact_self() == 0 && dtact_worker_id() == -1,
	      "a plain thread looks like a fiber or a worker");
	dtact_shutdown();
	return NULL;
}

/* Description: dtact_await called from a plain (non-worker) thread blocks
 * until the fiber has ended, then the handle is stale. */
Test(core_sched, await_from_plain_thread, .timeout = 30)
{
	dtact_config_t c = two_workers();

	run_threads(&c, 1, await_thread);
}

/* ---------------------------------------------------------------- */
/* Detached fibers                                                   */

#define DETACHED 1000

static _Atomic int gate;

static void short_fn(void *arg)
{
	int i, n = (int)(uintptr_t)arg;

	for (i = 0; i < n; i++)
		dtact_yield();
}

static void gated_fn(void *arg)
{
	(void)arg;
	while (!atomic_load(&gate))
		dtact_sleep_ns(100000);
}

static bool live_back_to(uint32_t live0)
{
	int i;

	for (i = 0; i < 20000; i++) {
		if (atomic_load(&dt_rt.arena.live) == live0)
			return true;
		dtact_sleep_ns(500000);
	}
	return false;
}

static void detach_root(void *arg)
{
	dtact_spawn_options_t o = dtact_default_spawn_options();
	uint32_t live0 = atomic_load(&dt_rt.arena.live);
	struct dt_fiber *f;
	dtact_handle_t h;
	int i;

	(void)arg;
	/* Launched detached. */
	o.mDetached = 1;
	for (i = 0; i < DETACHED; i++) {
		h = dtact_fiber_launch_ext(short_fn, (void *)(uintptr_t)(i % 4),
					   &o);
		CHECK(h != 0, "launch: %s", strerror(errno));
	}
	CHECK(live_back_to(live0), "live %u, %u before %d detached fibers",
	      atomic_load(&dt_rt.arena.live), live0, DETACHED);

	/* A detached fiber cannot be awaited. */
	atomic_store(&gate, 0);
	h = dtact_fiber_launch_ext(gated_fn, NULL, &o);
	CHECK(h != 0, "launch: %s", strerror(errno));
	errno = 0;
	CHECK(dtact_await(h) == -1 && errno == EINVAL,
	      "await of a detached fiber: errno %d", errno);
	errno = 0;
	CHECK(dtact_detach(h) == -1 && errno == EINVAL,
	      "second detach: errno %d", errno);
	atomic_store(&gate, 1);
	CHECK(live_back_to(live0), "live %u, %u before",
	      atomic_load(&dt_rt.arena.live), live0);

	/* Detached while running: freed when it ends. */
	atomic_store(&gate, 0);
	h = dtact_fiber_launch(gated_fn, NULL);
	CHECK(h != 0 && dtact_detach(h) == 0, "detach: %s", strerror(errno));
	atomic_store(&gate, 1);
	CHECK(live_back_to(live0), "live %u, %u before",
	      atomic_load(&dt_rt.arena.live), live0);

	/* Detached after it ended (a zombie): freed at once. */
	h = launch_on(short_fn, NULL, dtact_worker_id());
	for (i = 0; i < 1000; i++) {
		CHECK(dt_fiber_lookup(h, &f) == 0, "lookup of a zombie");
		if (__atomic_load_n(&f->done, __ATOMIC_ACQUIRE))
			break;
		dtact_yield();
	}
	CHECK(atomic_load(&dt_rt.arena.live) == live0 + 1, "the zombie "
	      "holds no slot");
	CHECK(dtact_detach(h) == 0, "detach of a zombie: %s",
	      strerror(errno));
	CHECK(atomic_load(&dt_rt.arena.live) == live0, "live %u after "
	      "detaching a zombie, %u before", atomic_load(&dt_rt.arena.live),
	      live0);
	errno = 0;
	CHECK(dtact_await(h) == -1 && errno == ESRCH,
	      "await after detach: errno %d", errno);
}

/* Description: detached fibers are freed when they end (arena live count
 * returns to its value before), whether launched detached, detached while
 * running or detached as a zombie; they cannot be awaited. */
Test(core_sched, detached_fibers_freed, .timeout = 60)
{
	run_root_on(0, detach_root, NULL);
}

/* ---------------------------------------------------------------- */
/* Stacks                                                            */

#define SMALL_DEFAULT	(64u << 10)
#define BIG_STACK	(1u << 20)
#define USER_STACK	(256u << 10)

struct stack_probe {
	void *lo;		/* expected stack bounds, or NULL */
	size_t size;
	size_t use;		/* bytes of stack to touch */
	int kind;		/* expected enum dt_stack_kind */
	int ok;
};

static void stack_fn(void *arg)
{
	struct stack_probe *p = arg;
	struct dt_fiber *f = dt_current();
	volatile char *buf = __builtin_alloca(p->use);
	char local = 0;
	uintptr_t a = (uintptr_t)&local;
	size_t i;

	CHECK(f->stack_kind == p->kind, "stack kind %d, not %d",
	      f->stack_kind, p->kind);
	CHECK(f->stack_size >= p->size, "stack of %zu bytes, asked %zu",
	      f->stack_size, p->size);
	if (p->lo) {
		CHECK(f->stack_lo == p->lo, "stack at %p, not the caller's %p",
		      f->stack_lo, p->lo);
		CHECK(a >= (uintptr_t)p->lo && a < (uintptr_t)p->lo + p->size,
		      "a local at %p, outside the supplied stack %p + %zu",
		      (void *)a, p->lo, p->size);
	}
	CHECK(a >= (uintptr_t)f->stack_lo &&
	      a < (uintptr_t)f->stack_lo + f->stack_size,
	      "a local at %p, outside the fiber's stack", (void *)a);
	for (i = 0; i < p->use; i += 4096)
		buf[i] = 1;
	buf[p->use - 1] = 1;
	p->ok = 1;
}

static void stacks_root(void *arg)
{
	dtact_spawn_options_t o = dtact_default_spawn_options();
	struct stack_probe dflt = { NULL, SMALL_DEFAULT, 16u << 10,
				    DT_STACK_ARENA, 0 };
	struct stack_probe big = { NULL, BIG_STACK, 768u << 10,
				   DT_STACK_MMAP, 0 };
	struct stack_probe user = { NULL, USER_STACK, 128u << 10,
				    DT_STACK_USER, 0 };
	dtact_handle_t h;
	void *mem;

	(void)arg;
	CHECK(dt_rt.stack_size == SMALL_DEFAULT, "default stack %zu",
	      dt_rt.stack_size);
	h = dtact_fiber_launch(stack_fn, &dflt);
	CHECK(h && dtact_await(h) == 0 && dflt.ok, "default stack fiber");

	/* 16 times the default, used beyond the default. */
	o.mStackSize = BIG_STACK;
	h = dtact_fiber_launch_ext(stack_fn, &big, &o);
	CHECK(h != 0, "launch with mStackSize %u: %s", BIG_STACK,
	      strerror(errno));
	CHECK(h && dtact_await(h) == 0 && big.ok, "large stack fiber");

	mem = aligned_alloc(4096, USER_STACK);
	CHECK(mem != NULL, "aligned_alloc");
	if (!mem)
		return;
	user.lo = mem;
	o.mStackSize = USER_STACK;
	o.mStack = mem;
	h = dtact_fiber_launch_ext(stack_fn, &user, &o);
	CHECK(h != 0, "launch with mStack: %s", strerror(errno));
	CHECK(h && dtact_await(h) == 0 && user.ok, "caller-stack fiber");
	free(mem);
}

/* Description: with a 64 KiB default stack, a fiber launched with
 * mStackSize 1 MiB gets a stack of its own and can use 768 KiB of it; a
 * fiber given a caller-supplied mStack runs on it (its locals lie inside
 * the supplied memory). */
Test(core_sched, large_and_user_stacks, .timeout = 30)
{
	dtact_config_t c = two_workers();

	c.mStackSize = SMALL_DEFAULT;
	run_root_cfg(&c, -1, stacks_root, NULL);
}
