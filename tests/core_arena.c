/* SPDX-License-Identifier: MIT */
/*
 * tests/core_arena.c - the context arena (core/arena.c): slots handed out
 * at most once under concurrency, with and without per-worker caches;
 * exhaustion; generation bumps that make stale handles fail; stacks
 * returned to the kernel beyond the cache; guard pages; the default
 * capacity reachable.
 *
 * The data-structure tests drive a private struct dt_arena directly, with
 * zeroed struct dt_worker records standing in for workers (the arena only
 * touches their cache).  The handle tests go through the running runtime.
 * Checks made off the test's own thread (worker threads, fibers, helper
 * threads) are recorded with CHECK() and asserted after the fact: Criterion
 * asserts may only be called from the thread that runs the test.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "dtact.h"
#include "core/dt.h"
#include "harness.h"

/* ---------------------------------------------------------------- */
/* Concurrent alloc/free against one arena                           */

#define STRESS_CAP	256u
#define STRESS_STACK	(16u << 10)
#define STRESS_OPS	500000u		/* per thread: 1,000,000 in total */
#define STRESS_HOLD	96u		/* > DT_CACHE_SLOTS: caches spill */

static struct dt_arena stress_arena;
/* owner[i]: 1 while slot i is handed out.  A second hand-out finds 1. */
static _Atomic uint8_t owner[STRESS_CAP];

struct stress_thread {
	struct dt_worker *w;		/* per-worker cache, or NULL */
	uint64_t seed;
	pthread_barrier_t *start;
	unsigned long nulls;		/* alloc returned NULL (exhausted) */
};

static void take(struct dt_fiber *f)
{
	uint32_t i;

	i = (uint32_t)(f - stress_arena.fibers);
	CHECK(i < STRESS_CAP && f->idx == i,
	      "alloc returned %p, not a slot of the arena", (void *)f);
	if (i >= STRESS_CAP)
		return;
	CHECK(atomic_exchange(&owner[i], 1) == 0,
	      "slot %u handed out while still owned", i);
}

static void give_back(struct dt_worker *w, struct dt_fiber *f)
{
	uint32_t gen = atomic_load(&f->gen);

	atomic_store(&owner[f->idx], 0);
	dt_arena_free(&stress_arena, w, f);
	CHECK(atomic_load(&f->gen) != gen, "free did not bump slot %u's "
	      "generation", f->idx);
}

static void *stress_main(void *arg)
{
	struct stress_thread *t = arg;
	struct dt_fiber *held[STRESS_HOLD];
	unsigned nheld = 0, ops = 0;

	pthread_barrier_wait(t->start);
	while (ops < STRESS_OPS) {
		/* Walk the number held to a random target: runs of allocs
		 * refill the cache, runs of frees overflow it. */
		unsigned target = (unsigned)(rng_next(&t->seed) %
					     (STRESS_HOLD + 1));

		while (nheld < target && ops < STRESS_OPS) {
			struct dt_fiber *f = dt_arena_alloc(&stress_arena,
							    t->w);
			ops++;
			if (!f) {
				t->nulls++;
				break;
			}
			take(f);
			held[nheld++] = f;
		}
		while (nheld > target && ops < STRESS_OPS) {
			unsigned k = (unsigned)(rng_next(&t->seed) % nheld);
			struct dt_fiber *f = held[k];

			held[k] = held[--nheld];
			give_back(t->w, f);
			ops++;
		}
	}
	while (nheld)
		give_back(t->w, held[--nheld]);
	return NULL;
}

/*
 * After the threads: every slot must be reachable exactly once, through
 * the caches of the workers that hold them and then the shared list.
 */
static void drain_all(struct dt_worker **ws, int nws)
{
	static struct dt_fiber *got[STRESS_CAP + 1];
	uint32_t n = 0;
	int k;

	for (k = 0; k <= nws; k++) {
		struct dt_worker *w = k < nws ? ws[k] : NULL;
		struct dt_fiber *f;

		while ((f = dt_arena_alloc(&stress_arena, w))) {
			cr_assert_lt(n, STRESS_CAP, "more than %u slots handed "
				     "out", STRESS_CAP);
			take(f);
			got[n++] = f;
		}
	}
	assert_no_failed_checks();
	cr_assert_eq(n, STRESS_CAP, "only %u of %u slots reachable", n,
		     STRESS_CAP);
	cr_assert_eq(atomic_load(&stress_arena.live), STRESS_CAP);
	while (n)
		give_back(NULL, got[--n]);
	cr_assert_eq(atomic_load(&stress_arena.live), 0);
}

static void stress(bool with_cache)
{
	static struct dt_worker wk[2];	/* zeroed: empty caches */
	struct dt_worker *ws[2] = { &wk[0], &wk[1] };
	struct stress_thread t[2];
	pthread_barrier_t start;
	pthread_t th[2];
	int i;

	cr_assert_eq(dt_arena_init(&stress_arena, STRESS_CAP, STRESS_STACK), 0);
	pthread_barrier_init(&start, NULL, 2);
	for (i = 0; i < 2; i++) {
		t[i] = (struct stress_thread){
			.w = with_cache ? ws[i] : NULL,
			.seed = 0x5eed0000u + (uint64_t)i,
			.start = &start,
		};
		cr_assert_eq(pthread_create(&th[i], NULL, stress_main, &t[i]),
			     0);
	}
	for (i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&start);
	assert_no_failed_checks();
	cr_assert_eq(atomic_load(&stress_arena.live), 0,
		     "live is %u with every slot given back",
		     atomic_load(&stress_arena.live));
	drain_all(ws, with_cache ? 2 : 0);
	cr_log_info("alloc returned NULL %lu + %lu times (capacity %u)",
		    t[0].nulls, t[1].nulls, STRESS_CAP);
	dt_arena_fini(&stress_arena);
}

/* Description: two threads allocate and free 1,000,000 times in total
 * against one 256-slot arena, each through its own worker cache (which
 * refills and spills): no slot is ever handed out twice, none is lost. */
Test(core_arena, concurrent_alloc_free_cached, .timeout = 60)
{
	stress(true);
}

/* Description: the same with no worker (the lock-free shared list
 * alone, where ABA would show): no double hand-out, no lost slot. */
Test(core_arena, concurrent_alloc_free_shared, .timeout = 60)
{
	stress(false);
}

/* ---------------------------------------------------------------- */
/* Exhaustion and generations                                        */

/* Description: a full arena returns NULL, through the shared list and
 * through a worker cache; a freed slot can be had again, with its
 * generation bumped by exactly one. */
Test(core_arena, exhaustion_returns_null, .timeout = 10)
{
	static struct dt_worker w;
	struct dt_arena a;
	struct dt_fiber *f[8], *g;
	uint32_t gen;
	int i, k;

	cr_assert_eq(dt_arena_init(&a, 8, STRESS_STACK), 0);
	for (k = 0; k < 2; k++) {
		struct dt_worker *wp = k ? &w : NULL;

		for (i = 0; i < 8; i++) {
			f[i] = dt_arena_alloc(&a, wp);
			cr_assert_not_null(f[i], "slot %d of 8 (%s)", i,
					   wp ? "cached" : "shared");
		}
		cr_assert_null(dt_arena_alloc(&a, wp), "a 9th slot of 8");
		cr_assert_null(dt_arena_alloc(&a, NULL));
		cr_assert_eq(atomic_load(&a.live), 8);
		gen = atomic_load(&f[3]->gen);
		dt_arena_free(&a, wp, f[3]);
		cr_assert_eq(atomic_load(&f[3]->gen), gen + 1);
		g = dt_arena_alloc(&a, wp);
		cr_assert_eq(g, f[3], "the one free slot was not handed out");
		cr_assert_eq(atomic_load(&g->gen), gen + 1);
		for (i = 0; i < 8; i++)
			dt_arena_free(&a, wp, f[i]);
		cr_assert_eq(atomic_load(&a.live), 0);
	}
	dt_arena_fini(&a);
}

/* ---------------------------------------------------------------- */
/* Stacks                                                            */

static bool resident(const void *p, size_t len)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	unsigned char vec[64];
	size_t i, n = len / page;

	cr_assert_leq(n, sizeof(vec));
	cr_assert_eq(mincore((void *)p, len, vec), 0, "mincore: %s",
		     strerror(errno));
	for (i = 0; i < n; i++)
		if (vec[i] & 1)
			return true;
	return false;
}

/* Description: past the high-water mark of warm free stacks (here 0), the
 * slots a full worker cache spills to the shared list have their touched
 * stack pages returned to the kernel, while the slots the cache keeps stay
 * warm. */
Test(core_arena, spilled_stacks_released, .timeout = 10)
{
	static struct dt_worker w;
	struct dt_fiber *f[96];
	struct dt_arena a;
	unsigned i, k, released = 0;

	cr_assert_eq(dt_arena_init(&a, 256, STRESS_STACK), 0);
	a.warm_max = 0;
	for (i = 0; i < 96; i++) {
		f[i] = dt_arena_alloc(&a, &w);
		cr_assert_not_null(f[i]);
		cr_assert_eq(dt_arena_commit_stack(&a, f[i]), 0);
		cr_assert_eq(f[i]->stack_size, STRESS_STACK);
		memset(f[i]->stack_lo, 0xa5, f[i]->stack_size);
		cr_assert(resident(f[i]->stack_lo, f[i]->stack_size));
	}
	atomic_store(&a.peak, 0);	/* the burst is over: mark = warm_max */
	for (i = 0; i < 96; i++)
		dt_arena_free(&a, &w, f[i]);
	cr_assert_leq(w.cache_n, DT_CACHE_SLOTS);
	for (i = 0; i < 96; i++) {
		bool cached = false;

		for (k = 0; k < w.cache_n; k++)
			cached |= w.cache[k] == f[i]->idx;
		if (cached) {
			cr_assert(resident(f[i]->stack_lo, f[i]->stack_size),
				  "cached slot %u lost its stack pages",
				  f[i]->idx);
			continue;
		}
		released++;
		cr_assert(!resident(f[i]->stack_lo, f[i]->stack_size),
			  "slot %u went back to the shared list with its "
			  "stack still resident", f[i]->idx);
	}
	cr_assert_geq(released, DT_CACHE_BATCH, "no batch was spilled");
	dt_arena_fini(&a);
}

/* Description: up to the high-water mark, spilled stacks stay warm on the
 * shared list (no madvise, no page faults when reused); exactly the ones
 * past it are returned to the kernel, and the count of warm free stacks
 * never exceeds the mark. */
Test(core_arena, warm_stacks_kept_up_to_mark, .timeout = 10)
{
	static struct dt_worker w;
	struct dt_fiber *f[96];
	struct dt_arena a;
	unsigned i, k, warm = 0, cold = 0;

	cr_assert_eq(dt_arena_init(&a, 256, STRESS_STACK), 0);
	a.warm_max = 16;
	for (i = 0; i < 96; i++) {
		f[i] = dt_arena_alloc(&a, &w);
		cr_assert_not_null(f[i]);
		cr_assert_eq(dt_arena_commit_stack(&a, f[i]), 0);
		memset(f[i]->stack_lo, 0x5a, f[i]->stack_size);
	}
	atomic_store(&a.peak, 0);	/* the burst is over: mark = warm_max */
	for (i = 0; i < 96; i++)
		dt_arena_free(&a, &w, f[i]);
	cr_assert_leq(atomic_load(&a.warm_free), a.warm_max);
	for (i = 0; i < 96; i++) {
		bool cached = false;

		for (k = 0; k < w.cache_n; k++)
			cached |= w.cache[k] == f[i]->idx;
		if (cached)
			continue;
		if (resident(f[i]->stack_lo, f[i]->stack_size))
			warm++;
		else
			cold++;
	}
	cr_assert_eq(warm, 16, "warm spilled stacks: %u, mark 16", warm);
	cr_assert_eq(warm + cold, 96 - w.cache_n);
	dt_arena_fini(&a);
}

/* Description: during a burst (peak live above the mark) spilled stacks
 * all stay warm; dt_arena_trim then returns the ones the current load does
 * not need, budget at a time, until only max(warm_max, live) are warm, and
 * those it returned are no longer resident. */
Test(core_arena, trim_returns_spare_warm_stacks, .timeout = 10)
{
	static struct dt_worker w;
	struct dt_fiber *f[96];
	struct dt_arena a;
	unsigned i, rounds = 0, res = 0;

	cr_assert_eq(dt_arena_init(&a, 256, STRESS_STACK), 0);
	a.warm_max = 8;
	for (i = 0; i < 96; i++) {
		f[i] = dt_arena_alloc(&a, &w);
		cr_assert_eq(dt_arena_commit_stack(&a, f[i]), 0);
		memset(f[i]->stack_lo, 0x77, f[i]->stack_size);
	}
	for (i = 0; i < 96; i++)
		dt_arena_free(&a, &w, f[i]);
	cr_assert_eq(atomic_load(&a.warm_free), 96 - w.cache_n,
		     "within the burst every spilled stack stays warm");
	while (dt_arena_trim(&a, 4))
		cr_assert_lt(++rounds, 100, "trim does not converge");
	cr_assert_eq(atomic_load(&a.warm_free), 8);
	for (i = 0; i < 96; i++)
		res += resident(f[i]->stack_lo, f[i]->stack_size);
	cr_assert_eq(res, 8 + w.cache_n, "resident stacks: %u", res);
	dt_arena_fini(&a);
}

/* Description: slots parked in one worker's cache are not lost to the
 * others: at capacity, an allocation on another worker (or a plain thread)
 * takes one from that cache instead of failing. */
Test(core_arena, capacity_not_stranded_in_caches, .timeout = 10)
{
	struct dt_worker *ws = calloc(2, sizeof(*ws));
	struct dt_fiber *f[8];
	struct dt_arena a;
	unsigned i;

	cr_assert_eq(dt_arena_init(&a, 8, STRESS_STACK), 0);
	dt_rt.workers = ws;
	dt_rt.nworkers = 2;
	for (i = 0; i < 8; i++)
		cr_assert_not_null(f[i] = dt_arena_alloc(&a, &ws[1]));
	cr_assert_null(dt_arena_alloc(&a, &ws[0]), "capacity is 8");
	for (i = 0; i < 7; i++)
		dt_arena_free(&a, &ws[1], f[i]);
	cr_assert_eq(ws[1].cache_n, 7);
	for (i = 0; i < 7; i++)
		cr_assert_not_null(dt_arena_alloc(&a, i % 2 ? NULL : &ws[0]),
				   "slot %u stranded in worker 1's cache", i);
	cr_assert_null(dt_arena_alloc(&a, &ws[0]));
	dt_rt.workers = NULL;
	dt_rt.nworkers = 0;
	dt_arena_fini(&a);
	free(ws);
}

#ifdef DT_SAN
/* Let the guard-page death test die of SIGSEGV: the sanitizers would
 * otherwise catch it and exit(1). */
__attribute__((visibility("default")))
const char *__asan_default_options(void)
{
	return "handle_segv=0";
}
__attribute__((visibility("default")))
const char *__ubsan_default_options(void)
{
	return "handle_segv=0";
}
#endif

/* Description: the page below a committed stack is a guard: writing to it
 * kills the process with SIGSEGV, also when both neighbouring slots are
 * committed too. */
Test(core_arena, guard_page_below_stack, .signal = SIGSEGV, .timeout = 10)
{
	struct dt_fiber *f[3];
	struct dt_arena a;
	int i;

	cr_assert_eq(dt_arena_init(&a, 8, STRESS_STACK), 0);
	for (i = 0; i < 3; i++) {
		f[i] = dt_arena_alloc(&a, NULL);
		cr_assert_not_null(f[i]);
		cr_assert_eq(dt_arena_commit_stack(&a, f[i]), 0);
		memset(f[i]->stack_lo, 1, f[i]->stack_size);
	}
	cr_assert_eq(f[1]->idx, f[0]->idx + 1);
	cr_assert_eq(f[2]->idx, f[1]->idx + 1);
	/* The middle slot: its guard sits right above slot 0's stack. */
	((volatile char *)f[1]->stack_lo)[-1] = 1;
	cr_assert_fail("wrote to the guard page below slot %u", f[1]->idx);
}

#define FULL_CAP	DT_DEFAULT_MAX_FIBERS

/* Description: every slot of an arena of the default capacity (65,536)
 * can have its stack committed at the same time: the default capacity is
 * reachable whatever vm.max_map_count (65,530 by default) allows for
 * separate mappings. */
Test(core_arena, default_capacity_all_committed, .timeout = 60)
{
	static struct dt_fiber *f[FULL_CAP];
	struct dt_arena a;
	uint32_t i;

	cr_assert_eq(dt_arena_init(&a, FULL_CAP, STRESS_STACK), 0);
	for (i = 0; i < FULL_CAP; i++) {
		int r;

		f[i] = dt_arena_alloc(&a, NULL);
		cr_assert_not_null(f[i], "slot %u of %u", i, FULL_CAP);
		r = dt_arena_commit_stack(&a, f[i]);
		cr_assert_eq(r, 0, "committing stack %u of %u: %s", i,
			     FULL_CAP, strerror(-r));
		/* Touch the top page, where a fiber's first frame goes. */
		((volatile char *)f[i]->stack_lo)[f[i]->stack_size - 1] = 1;
	}
	cr_assert_null(dt_arena_alloc(&a, NULL));
	for (i = 0; i < FULL_CAP; i++)
		dt_arena_free(&a, NULL, f[i]);
	cr_assert_eq(atomic_load(&a.live), 0);
	dt_arena_fini(&a);
}

/* ---------------------------------------------------------------- */
/* Handles through the runtime                                       */

static _Atomic int ran;

static void count_fn(void *arg)
{
	(void)arg;
	atomic_fetch_add(&ran, 1);
}

static void stale_root(void *arg)
{
	dtact_handle_t old, h;
	struct dt_fiber *f;
	int i, reused = 0;

	(void)arg;
	old = dtact_fiber_launch(count_fn, NULL);
	CHECK(old != 0, "launch: %s", strerror(errno));
	CHECK(dt_fiber_lookup(old, &f) == 0, "a live handle was rejected");
	CHECK(dtact_await(old) == 0, "await: %s", strerror(errno));
	CHECK(atomic_load(&ran) == 1, "await returned before the fiber ran");

	errno = 0;
	CHECK(dtact_await(old) == -1 && errno == ESRCH,
	      "await of a stale handle: errno %d", errno);
	errno = 0;
	CHECK(dtact_detach(old) == -1 && errno == ESRCH,
	      "detach of a stale handle: errno %d", errno);
	CHECK(dt_fiber_lookup(old, &f) == -ESRCH,
	      "dt_fiber_lookup accepted a stale handle");

	/* The slot comes back (warm cache, LIFO) with a new generation:
	 * the old handle must still be refused while the new one lives. */
	for (i = 0; i < 100 && !reused; i++) {
		h = dtact_fiber_launch(count_fn, NULL);
		CHECK(h != 0, "launch: %s", strerror(errno));
		if ((uint32_t)h == (uint32_t)old) {
			reused = 1;
			CHECK(h != old, "a reused slot kept its generation");
			CHECK(dt_fiber_lookup(old, &f) == -ESRCH,
			      "stale handle accepted for a reused slot");
			errno = 0;
			CHECK(dtact_await(old) == -1 && errno == ESRCH,
			      "await(stale) on a reused slot: errno %d",
			      errno);
		}
		CHECK(dtact_await(h) == 0, "await: %s", strerror(errno));
	}
	CHECK(reused, "the slot was not reused in 100 launches");
	CHECK(dt_fiber_lookup(0, &f) == -ESRCH, "handle 0 accepted");
	CHECK(dt_fiber_lookup((uint64_t)1 << 32 | 0xffffffffu, &f) ==
	      -ESRCH, "an out-of-range slot accepted");
}

/* Description: once a fiber is awaited its handle is stale: dtact_await
 * and dtact_detach fail with ESRCH and dt_fiber_lookup with -ESRCH, also
 * after the slot has been reused by a new fiber. */
Test(core_arena, stale_handle_rejected, .timeout = 30)
{
	dtact_config_t c = two_workers();

	run_root_cfg(&c, -1, stale_root, NULL);
}

/* Capacity 8, all taken by fibers that nap until released. */
#define SMALL_CAP 8

static _Atomic int parked_now, release_parked;

static void parked_fn(void *arg)
{
	(void)arg;
	atomic_fetch_add(&parked_now, 1);
	while (!atomic_load(&release_parked))
		dtact_sleep_ns(200000);
	atomic_fetch_sub(&parked_now, 1);
}

static void fill_and_fail(dtact_handle_t *h, int n, const char *who)
{
	int i;

	atomic_store(&release_parked, 0);
	for (i = 0; i < n; i++) {
		h[i] = dtact_fiber_launch(parked_fn, NULL);
		CHECK(h[i] != 0, "%s: launch %d of %d: %s", who, i, n,
		      strerror(errno));
	}
	while (atomic_load(&parked_now) < n)
		dtact_sleep_ns(200000);
	errno = 0;
	CHECK(dtact_fiber_launch(count_fn, NULL) == 0 && errno == EAGAIN,
	      "%s: a launch past capacity %d: errno %d", who, SMALL_CAP,
	      errno);
	CHECK(atomic_load(&dt_rt.arena.live) == SMALL_CAP,
	      "%s: live %u", who, atomic_load(&dt_rt.arena.live));
	atomic_store(&release_parked, 1);
	for (i = 0; i < n; i++)
		CHECK(dtact_await(h[i]) == 0, "%s: await: %s", who,
		      strerror(errno));
}

static void *capacity_thread(void *arg)
{
	dtact_handle_t h[SMALL_CAP];

	(void)arg;
	/* A plain thread: the capacity is all the fibers' (twice, so
	 * the slots are shown to come back). */
	fill_and_fail(h, SMALL_CAP, "thread");
	fill_and_fail(h, SMALL_CAP, "thread, again");
	dtact_shutdown();
	return NULL;
}

/* Description: with mFiberCapacity 8 and 8 fibers parked, launching
 * fails with EAGAIN (from a plain thread); once they are awaited, 8 can
 * be launched again. */
Test(core_arena, capacity_exhausted_eagain_thread, .timeout = 30)
{
	dtact_config_t c = two_workers();

	c.mFiberCapacity = SMALL_CAP;
	run_threads(&c, 1, capacity_thread);
}

static void capacity_root(void *arg)
{
	dtact_handle_t h[SMALL_CAP];

	(void)arg;
	/* The root holds one slot: 7 more fill the arena. */
	fill_and_fail(h, SMALL_CAP - 1, "root");
	fill_and_fail(h, SMALL_CAP - 1, "root, again");
}

/* Description: the same from a fiber: the root plus 7 parked fibers fill
 * capacity 8; the 8th launch fails with EAGAIN; after the awaits 7 can be
 * launched again. */
Test(core_arena, capacity_exhausted_eagain_fiber, .timeout = 30)
{
	dtact_config_t c = two_workers();

	c.mFiberCapacity = SMALL_CAP;
	run_root_cfg(&c, -1, capacity_root, NULL);
}
