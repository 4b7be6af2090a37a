/* SPDX-License-Identifier: MIT */
/*
 * tests/core_mailbox.c - the mesh's links (core/mailbox.h): the SPSC ring
 * on its own (boundaries, index wrap-around, a 10,000,000-item concurrent
 * run), and the scheduler's use of it and of the injection stack: plain
 * threads launching fibers concurrently, and a full ring falling back to
 * the injection stack.
 *
 * Checks made off the test's own thread (producer threads, fibers) are
 * recorded with CHECK() and asserted afterwards: Criterion asserts may
 * only be called from the thread that runs the test.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "dtact.h"
#include "core/dt.h"
#include "harness.h"

static struct dt_mailbox *mailbox_new(void)
{
	struct dt_mailbox *m = aligned_alloc(DT_CACHELINE, sizeof(*m));

	cr_assert_not_null(m);
	memset(m, 0, sizeof(*m));
	return m;
}

/* ---------------------------------------------------------------- */
/* The ring on one thread                                            */

struct collect {
	uint32_t *v;
	uint32_t n;
};

static void collect_fn(void *ctx, uint32_t v)
{
	struct collect *c = ctx;

	c->v[c->n++] = v;
}

/* Fill an empty ring exactly, check it refuses one more, drain it. */
static void fill_and_drain(struct dt_mailbox *m, uint32_t base)
{
	static uint32_t got[DT_MAILBOX_CAP];
	struct collect c = { got, 0 };
	uint32_t i;

	cr_assert(dt_mailbox_empty(m));
	for (i = 0; i < DT_MAILBOX_CAP; i++)
		cr_assert(dt_mailbox_push(m, base + i), "push %u of %u into a "
			  "ring with room", i + 1, DT_MAILBOX_CAP);
	cr_assert(!dt_mailbox_empty(m));
	cr_assert(!dt_mailbox_push(m, 0xdead), "push into a full ring");
	cr_assert(!dt_mailbox_push(m, 0xdead), "push into a full ring");
	cr_assert_eq(dt_mailbox_drain(m, collect_fn, &c), DT_MAILBOX_CAP);
	cr_assert_eq(c.n, DT_MAILBOX_CAP);
	for (i = 0; i < DT_MAILBOX_CAP; i++)
		cr_assert_eq(got[i], base + i, "slot %u: %u", i, got[i]);
	cr_assert(dt_mailbox_empty(m));
	cr_assert_eq(dt_mailbox_drain(m, collect_fn, &c), 0);
}

/* Description: an empty ring takes exactly DT_MAILBOX_CAP values, then
 * push returns false; a drain returns them all in push order and frees
 * the ring for more (the producer's stale view of head is refreshed). */
Test(core_mailbox, full_ring_boundaries, .timeout = 10)
{
	struct dt_mailbox *m = mailbox_new();
	struct collect c;
	uint32_t got[4];
	int k;

	for (k = 0; k < 3; k++)
		fill_and_drain(m, (uint32_t)k * 100000);
	/* Partial: CAP - 1 in, one more fits, then full. */
	for (k = 0; k < (int)DT_MAILBOX_CAP - 1; k++)
		cr_assert(dt_mailbox_push(m, (uint32_t)k));
	cr_assert(dt_mailbox_push(m, 7));
	cr_assert(!dt_mailbox_push(m, 8));
	c = (struct collect){ malloc(DT_MAILBOX_CAP * 4), 0 };
	cr_assert_eq(dt_mailbox_drain(m, collect_fn, &c), DT_MAILBOX_CAP);
	free(c.v);
	/* A few at a time. */
	c = (struct collect){ got, 0 };
	cr_assert(dt_mailbox_push(m, 1) && dt_mailbox_push(m, 2));
	cr_assert_eq(dt_mailbox_drain(m, collect_fn, &c), 2);
	cr_assert(dt_mailbox_push(m, 3));
	cr_assert_eq(dt_mailbox_drain(m, collect_fn, &c), 1);
	cr_assert(got[0] == 1 && got[1] == 2 && got[2] == 3);
	free(m);
}

/* Description: the ring works across the wrap-around of its 32-bit head
 * and tail counters: full at exactly DT_MAILBOX_CAP, values in order. */
Test(core_mailbox, index_wraparound, .timeout = 10)
{
	struct dt_mailbox *m = mailbox_new();
	uint32_t start = UINT32_MAX - DT_MAILBOX_CAP / 2;
	int k;

	atomic_store(&m->head, start);
	atomic_store(&m->tail, start);
	m->head_cache = start;
	m->tail_cache = start;
	for (k = 0; k < 4; k++)
		fill_and_drain(m, (uint32_t)k * 7919);
	cr_assert_lt(atomic_load(&m->tail), start, "the counters did not "
		     "wrap");
	free(m);
}

/* ---------------------------------------------------------------- */
/* The ring across two threads                                       */

#define SPSC_ITEMS 10000000u

struct spsc {
	struct dt_mailbox *m;
	_Atomic uint32_t consumed;	/* published after each drain */
	uint32_t expect;		/* consumer: next value */
	uint32_t bad;			/* consumer: out-of-sequence values */
	uint32_t first_bad, first_bad_at;
	unsigned long full;		/* producer: pushes refused */
};

static void spsc_take(void *ctx, uint32_t v)
{
	struct spsc *s = ctx;

	if (v != s->expect && !s->bad++) {
		s->first_bad = v;
		s->first_bad_at = s->expect;
	}
	s->expect++;
}

static void *spsc_producer(void *arg)
{
	struct spsc *s = arg;
	uint32_t i;

	for (i = 0; i < SPSC_ITEMS; i++) {
		for (;;) {
			/* What the consumer has surely taken by now. */
			uint32_t c = atomic_load_explicit(&s->consumed,
						memory_order_acquire);

			if (dt_mailbox_push(s->m, i))
				break;
			s->full++;
			/* Refused: then the ring held DT_MAILBOX_CAP items,
			 * so at most i - CAP had been taken. */
			CHECK(i - c >= DT_MAILBOX_CAP, "push %u refused with "
			      "only %u in the ring", i, i - c);
			__builtin_ia32_pause();
		}
	}
	return NULL;
}

/* Description: a producer thread pushes 10,000,000 sequence numbers while
 * the consumer drains concurrently: none is lost, duplicated or
 * reordered, and a push is refused only when the ring is full. */
Test(core_mailbox, spsc_ten_million_in_order, .timeout = 60)
{
	struct spsc s = { .m = mailbox_new() };
	pthread_t th;

	cr_assert_eq(pthread_create(&th, NULL, spsc_producer, &s), 0);
	while (s.expect < SPSC_ITEMS && !s.bad) {
		if (!dt_mailbox_drain(s.m, spsc_take, &s))
			__builtin_ia32_pause();
		atomic_store_explicit(&s.consumed, s.expect,
				      memory_order_release);
	}
	pthread_join(th, NULL);
	cr_assert_eq(s.bad, 0, "%u values out of sequence; the first: %u "
		     "where %u was due", s.bad, s.first_bad, s.first_bad_at);
	cr_assert_eq(s.expect, SPSC_ITEMS);
	cr_assert(dt_mailbox_empty(s.m));
	cr_assert_eq(dt_mailbox_drain(s.m, spsc_take, &s), 0);
	assert_no_failed_checks();
	cr_log_info("the producer found the ring full %lu times", s.full);
	free(s.m);
}

/* ---------------------------------------------------------------- */
/* Injection: plain threads launching fibers                         */

#define INJ_THREADS	8
#define INJ_PER_THREAD	2000

static _Atomic uint8_t inj_ran[INJ_THREADS * INJ_PER_THREAD];
static int inj_last[INJ_THREADS];	/* worker 0 only */
static _Atomic int inj_threads_left;

static void inj_fn(void *arg)
{
	uintptr_t id = (uintptr_t)arg;
	int t = (int)(id / INJ_PER_THREAD), seq = (int)(id % INJ_PER_THREAD);

	CHECK(atomic_fetch_add(&inj_ran[id], 1) == 0, "fiber %d/%d ran twice",
	      t, seq);
	if (dtact_worker_id() == 0 && seq >= INJ_PER_THREAD / 2) {
		/* The pinned half: one worker, so run order = queue order,
		 * which must be each thread's launch order. */
		CHECK(seq > inj_last[t], "thread %d: fiber %d ran after %d",
		      t, seq, inj_last[t]);
		inj_last[t] = seq;
	}
}

static void *inj_thread(void *arg)
{
	static __thread dtact_handle_t h[INJ_PER_THREAD];
	int t = (int)(intptr_t)arg, i;

	for (i = 0; i < INJ_PER_THREAD; i++) {
		dtact_spawn_options_t o = dtact_default_spawn_options();

		/* First half placed by the runtime, second half pinned to
		 * worker 0. */
		if (i >= INJ_PER_THREAD / 2)
			o.mWorker = 0;
		h[i] = dtact_fiber_launch_ext(inj_fn, (void *)(uintptr_t)(t *
				INJ_PER_THREAD + i), &o);
		CHECK(h[i] != 0, "thread %d: launch %d: %s", t, i,
		      strerror(errno));
	}
	for (i = 0; i < INJ_PER_THREAD; i++)
		CHECK(h[i] && dtact_await(h[i]) == 0, "thread %d: await %d: "
		      "%s", t, i, strerror(errno));
	if (atomic_fetch_sub(&inj_threads_left, 1) == 1)
		dtact_shutdown();
	return NULL;
}

/* Description: 8 plain threads launch 2,000 fibers each concurrently
 * (through the workers' injection stacks) and await them: every fiber
 * runs exactly once, and the fibers pinned to one worker run in each
 * thread's launch order. */
Test(core_mailbox, injection_from_many_threads, .timeout = 60)
{
	dtact_config_t c = two_workers();
	int i;

	for (i = 0; i < INJ_THREADS; i++)
		inj_last[i] = INJ_PER_THREAD / 2 - 1;
	atomic_store(&inj_threads_left, INJ_THREADS);
	run_threads(&c, INJ_THREADS, inj_thread);
	for (i = 0; i < INJ_THREADS * INJ_PER_THREAD; i++)
		cr_assert_eq(atomic_load(&inj_ran[i]), 1, "fiber %d/%d ran %d "
			     "times", i / INJ_PER_THREAD, i % INJ_PER_THREAD,
			     atomic_load(&inj_ran[i]));
	for (i = 0; i < INJ_THREADS; i++)
		cr_assert_eq(inj_last[i], INJ_PER_THREAD - 1);
}

/* ---------------------------------------------------------------- */
/* A full ring falls back to the injection stack                     */

#define OVERFLOW_FIBERS (4 * DT_MAILBOX_CAP)

static _Atomic int hold_worker0;
static _Atomic uint8_t ovf_ran[OVERFLOW_FIBERS];

struct ovf_stats {
	uint64_t mailbox_in, inject_in;
};

static void ovf_fn(void *arg)
{
	uintptr_t i = (uintptr_t)arg;

	CHECK(dtact_worker_id() == 0, "fiber on worker %d", dtact_worker_id());
	CHECK(atomic_fetch_add(&ovf_ran[i], 1) == 0, "fiber %lu ran twice",
	      (unsigned long)i);
}

/* Keeps worker 0 busy (no yield) so its ring from worker 1 fills up. */
static void hog_fn(void *arg)
{
	(void)arg;
	while (atomic_load(&hold_worker0))
		__builtin_ia32_pause();
}

static void ovf_launcher(void *arg)
{
	dtact_spawn_options_t o = dtact_default_spawn_options();
	uintptr_t i;

	(void)arg;
	CHECK(dtact_worker_id() == 1, "launcher on worker %d",
	      dtact_worker_id());
	o.mWorker = 0;
	o.mDetached = 1;
	for (i = 0; i < OVERFLOW_FIBERS; i++)
		CHECK(dtact_fiber_launch_ext(ovf_fn, (void *)i, &o) != 0,
		      "launch %lu: %s", (unsigned long)i, strerror(errno));
	atomic_store(&hold_worker0, 0);
}

static void read_stats(void *arg)
{
	struct ovf_stats *s = arg;

	/* On worker 0: its own statistics. */
	s->mailbox_in = dt_self->st.mailbox_in;
	s->inject_in = dt_self->st.inject_in;
}

static void ovf_root(void *arg)
{
	dtact_spawn_options_t o = dtact_default_spawn_options();
	struct ovf_stats before, after;
	dtact_handle_t hog, l, s;
	int i;

	(void)arg;
	o.mWorker = 0;
	s = dtact_fiber_launch_ext(read_stats, &before, &o);
	CHECK(s && dtact_await(s) == 0, "stats");
	atomic_store(&hold_worker0, 1);
	hog = dtact_fiber_launch_ext(hog_fn, NULL, &o);
	o.mWorker = 1;
	l = dtact_fiber_launch_ext(ovf_launcher, NULL, &o);
	CHECK(hog && l, "launch: %s", strerror(errno));
	CHECK(dtact_await(l) == 0 && dtact_await(hog) == 0, "await: %s",
	      strerror(errno));
	for (i = 0; i < 100000; i++) {
		int k, all = 1;

		for (k = 0; k < (int)OVERFLOW_FIBERS && all; k++)
			all = atomic_load(&ovf_ran[k]);
		if (all)
			break;
		dtact_sleep_ns(100000);
	}
	o.mWorker = 0;
	s = dtact_fiber_launch_ext(read_stats, &after, &o);
	CHECK(s && dtact_await(s) == 0, "stats");
	for (i = 0; i < (int)OVERFLOW_FIBERS; i++)
		CHECK(atomic_load(&ovf_ran[i]) == 1, "fiber %d ran %d times",
		      i, atomic_load(&ovf_ran[i]));
	/* The ring took what fit; the rest went round it. */
	CHECK(after.mailbox_in - before.mailbox_in >= DT_MAILBOX_CAP,
	      "only %lu fibers came through the ring",
	      (unsigned long)(after.mailbox_in - before.mailbox_in));
	CHECK(after.inject_in - before.inject_in >= 1,
	      "nothing fell back to the injection stack");
}

/* Description: a fiber on worker 1 launches 4,096 fibers pinned to worker
 * 0 while worker 0 is kept busy: the SPSC ring fills (1,024) and the rest
 * fall back to the injection stack; every fiber runs once, on worker 0. */
Test(core_mailbox, full_ring_falls_back_to_injection, .timeout = 60)
{
	run_root_on(1, ovf_root, NULL);
}
