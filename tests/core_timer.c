/* SPDX-License-Identifier: MIT */
/*
 * tests/core_timer.c - the core/timer.h contract, as a data structure:
 * firing order, FIFO ties, cancellation, re-arming from fire(), growth,
 * dt_timer_next() and dt_now_ns().  Deterministic: every "now" is a number
 * the test chooses, deadlines come from a fixed-seed generator, and nothing
 * here waits on the clock (the scheduler tests time real firing).
 *
 * Each timer is embedded in a struct probe that counts its firings; fire()
 * appends to a log so a test can check the order afterwards.  check_heap()
 * walks v[] and verifies the heap property and every heap_idx.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* RTLD_NEXT */
#endif
#include <dlfcn.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include <criterion/criterion.h>

#include "core/timer.h"

#define N_TIMERS	10000
#define DEADLINE_SPAN	1500	/* ~6.7 timers per deadline: many ties */
#define ARITY		4	/* core/timer.c: children of i are 4i+1..4i+4 */

#define container_of(p, type, member) \
	((type *)((char *)(p) - offsetof(type, member)))

struct probe {
	struct dt_timer t;
	uint32_t id;		/* arm order in the ordering tests */
	int fires;		/* times fire() ran */
	bool cancelled;		/* the test cancelled it (cancel said true) */
	int rearm;		/* fire() re-arms this many more times */
	int64_t rearm_at;	/* ... at this deadline */
};

/* One fire() call, as recorded by on_fire(). */
struct fire_rec {
	uint32_t id;
	int64_t deadline;
	uint64_t seq;
};

static struct dt_timer_heap heap;
static struct fire_rec *fire_log;
static size_t fire_n;
static int64_t run_now;		/* the now of the dt_timer_run in progress */

/* splitmix64: the same sequence on every libc. */
static uint64_t rng_state;

static uint64_t rng(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint32_t rng_below(uint32_t n)
{
	return (uint32_t)(rng() % n);
}

static struct probe *probe_of(struct dt_timer *t)
{
	return container_of(t, struct probe, t);
}

/* fire(): must only see removed, due, uncancelled timers. */
static void on_fire(struct dt_timer *t)
{
	struct probe *p = probe_of(t);

	cr_assert_eq(t->heap_idx, DT_TIMER_IDLE,
		     "timer %u still in the heap inside fire()", p->id);
	cr_assert_leq(t->deadline, run_now, "timer %u (deadline %lld) fired "
		      "early at now %lld", p->id, (long long)t->deadline,
		      (long long)run_now);
	cr_assert(!p->cancelled, "cancelled timer %u fired", p->id);
	p->fires++;
	fire_log[fire_n++] = (struct fire_rec){ p->id, t->deadline, t->seq };
	if (p->rearm > 0) {
		p->rearm--;
		cr_assert_eq(dt_timer_add(&heap, t, p->rearm_at), 0);
	}
}

static unsigned run(int64_t now)
{
	run_now = now;
	return dt_timer_run(&heap, now);
}

/* The heap property on (deadline, seq) and v[i]->heap_idx == i, for all i. */
static void check_heap(const struct dt_timer_heap *h)
{
	uint32_t i;

	cr_assert_leq(h->len, h->cap);
	for (i = 0; i < h->len; i++) {
		const struct dt_timer *t = h->v[i];
		const struct dt_timer *p;

		cr_assert_not_null(t, "v[%u] is NULL", i);
		cr_assert_eq(t->heap_idx, i, "v[%u]->heap_idx is %u", i,
			     t->heap_idx);
		if (i == 0)
			continue;
		p = h->v[(i - 1) / ARITY];
		cr_assert(p->deadline < t->deadline ||
			  (p->deadline == t->deadline && p->seq < t->seq),
			  "heap order broken at v[%u]: parent (%lld, %llu), "
			  "child (%lld, %llu)", i, (long long)p->deadline,
			  (unsigned long long)p->seq, (long long)t->deadline,
			  (unsigned long long)t->seq);
	}
}

/* The fire log is in (deadline, seq) order, strictly: no timer twice. */
static void check_log_order(size_t from)
{
	size_t k;

	for (k = from + 1; k < fire_n; k++) {
		const struct fire_rec *a = &fire_log[k - 1];
		const struct fire_rec *b = &fire_log[k];

		cr_assert(a->deadline < b->deadline ||
			  (a->deadline == b->deadline && a->seq < b->seq),
			  "fire %zu: timer %u (%lld, seq %llu) after timer %u "
			  "(%lld, seq %llu)", k, b->id, (long long)b->deadline,
			  (unsigned long long)b->seq, a->id,
			  (long long)a->deadline, (unsigned long long)a->seq);
	}
}

static struct probe *probes_new(uint32_t n, uint32_t log_cap)
{
	struct probe *p = calloc(n, sizeof(*p));
	uint32_t i;

	cr_assert_not_null(p);
	for (i = 0; i < n; i++) {
		dt_timer_init(&p[i].t, on_fire);
		p[i].id = i;
	}
	fire_log = calloc(log_cap, sizeof(*fire_log));
	cr_assert_not_null(fire_log);
	fire_n = 0;
	return p;
}

/* Arm p[0..n) in id order (so seq order is id order) at random deadlines. */
static void arm_random(struct probe *p, uint32_t n, uint64_t seed)
{
	uint32_t i;

	rng_state = seed;
	for (i = 0; i < n; i++)
		cr_assert_eq(dt_timer_add(&heap, &p[i].t,
					  rng_below(DEADLINE_SPAN)), 0);
}

/*
 * Advance now in random steps until past the last deadline; after each
 * call, exactly the armed timers whose deadline has been reached must have
 * fired, and dt_timer_next() must be the earliest of the rest.  between()
 * runs after each step.
 */
static void run_in_steps(struct probe *p, uint32_t n,
			 void (*between)(struct probe *p))
{
	int64_t now = -1;

	cr_assert_eq(run(now), 0, "fired before any deadline");
	while (now < DEADLINE_SPAN) {
		int64_t min = DT_DEADLINE_NONE;
		size_t logged = fire_n;
		unsigned due = 0, fired;
		uint32_t i;

		now += 1 + rng_below(40);
		for (i = 0; i < n; i++) {
			if (!dt_timer_armed(&p[i].t))
				continue;
			if (p[i].t.deadline <= now)
				due++;
			else if (p[i].t.deadline < min)
				min = p[i].t.deadline;
		}
		fired = run(now);
		cr_assert_eq(fired, due, "now %lld: %u fired, %u were due",
			     (long long)now, fired, due);
		cr_assert_eq(fire_n - logged, fired);
		cr_assert_eq(dt_timer_next(&heap), min, "now %lld",
			     (long long)now);
		check_heap(&heap);
		if (between)
			between(p);
	}
	check_log_order(0);
}

/* Description: 10,000 timers with many equal deadlines fire in deadline order, FIFO on ties, once each, never early. */
Test(core_timer, fires_in_order_once_each, .timeout = 10)
{
	struct probe *p = probes_new(N_TIMERS, N_TIMERS);
	uint32_t i;

	cr_assert_eq(dt_timer_heap_init(&heap, N_TIMERS), 0);
	arm_random(p, N_TIMERS, 0x5eed0001);
	check_heap(&heap);
	run_in_steps(p, N_TIMERS, NULL);

	cr_assert_eq(fire_n, N_TIMERS);
	cr_assert_eq(heap.len, 0);
	cr_assert_eq(dt_timer_next(&heap), DT_DEADLINE_NONE);
	for (i = 0; i < N_TIMERS; i++) {
		cr_assert_eq(p[i].fires, 1, "timer %u fired %d times", i,
			     p[i].fires);
		cr_assert(!dt_timer_armed(&p[i].t));
		/* FIFO: the seq order checked above is the arm order. */
		cr_assert_eq(p[i].t.seq, i);
	}
	dt_timer_heap_fini(&heap);
	free(fire_log);
	free(p);
}

static uint32_t *victims;	/* timers to cancel, shuffled */
static uint32_t n_victims, next_victim;
static unsigned cancel_true, cancel_false;

/* Cancel one victim; cancel must say true exactly when it is still armed. */
static void cancel_one(struct probe *p, uint32_t id)
{
	struct probe *v = &p[id];
	bool armed = v->fires == 0 && !v->cancelled;
	bool r = dt_timer_cancel(&heap, &v->t);

	cr_assert_eq(r, armed, "cancel(%u) said %d, fires %d, cancelled %d",
		     id, r, v->fires, v->cancelled);
	cr_assert(!dt_timer_armed(&v->t));
	cr_assert_not(dt_timer_cancel(&heap, &v->t), "second cancel(%u)", id);
	if (r) {
		v->cancelled = true;
		cancel_true++;
	} else {
		cancel_false++;
	}
}

/* Between runs: cancel a few more victims, some of them already fired. */
static void cancel_some(struct probe *p)
{
	uint32_t k = 1 + n_victims / 120;

	while (k-- && next_victim < n_victims)
		cancel_one(p, victims[next_victim++]);
	check_heap(&heap);
}

/* Description: a random third cancelled (before and between runs) never fires; cancel is true exactly for armed timers. */
Test(core_timer, cancelled_never_fire, .timeout = 10)
{
	struct probe *p = probes_new(N_TIMERS, N_TIMERS);
	uint32_t i, fired_total = 0;

	cr_assert_eq(dt_timer_heap_init(&heap, 64), 0);
	arm_random(p, N_TIMERS, 0x5eed0002);

	n_victims = N_TIMERS / 3;
	victims = malloc(N_TIMERS * sizeof(*victims));
	cr_assert_not_null(victims);
	for (i = 0; i < N_TIMERS; i++)
		victims[i] = i;
	for (i = N_TIMERS - 1; i > 0; i--) {
		uint32_t j = rng_below(i + 1), tmp = victims[i];

		victims[i] = victims[j];
		victims[j] = tmp;
	}

	/* The root and the last slot are the edge cases of removal. */
	cancel_one(p, probe_of(heap.v[0])->id);
	cancel_one(p, probe_of(heap.v[heap.len - 1])->id);
	check_heap(&heap);

	/* Half the victims before any run, the rest between runs. */
	for (next_victim = 0; next_victim < n_victims / 2; next_victim++)
		cancel_one(p, victims[next_victim]);
	check_heap(&heap);
	run_in_steps(p, N_TIMERS, cancel_some);
	while (next_victim < n_victims)
		cancel_one(p, victims[next_victim++]);

	cr_assert_gt(cancel_false, 100, "too few cancels after firing: %u",
		     cancel_false);
	cr_assert_gt(cancel_true, N_TIMERS / 6, "too few live cancels: %u",
		     cancel_true);
	for (i = 0; i < N_TIMERS; i++) {
		cr_assert_eq(p[i].fires, p[i].cancelled ? 0 : 1,
			     "timer %u: fired %d, cancelled %d", i, p[i].fires,
			     p[i].cancelled);
		fired_total += p[i].fires;
	}
	cr_assert_eq(fired_total, fire_n);
	cr_assert_eq(fired_total + cancel_true, N_TIMERS);
	cr_assert_eq(heap.len, 0);
	cr_assert_not(dt_timer_cancel(&heap, &p[0].t));
	dt_timer_heap_fini(&heap);
	free(victims);
	free(fire_log);
	free(p);
}

/* Description: a timer that re-arms itself in the past from fire() fires once per run call, the next call fires it again. */
Test(core_timer, rearm_in_past_fires_next_run, .timeout = 10)
{
	struct probe *p = probes_new(1, 16);

	cr_assert_eq(dt_timer_heap_init(&heap, 0), 0);
	p[0].rearm = 2;
	p[0].rearm_at = 3;	/* before now: due at once */
	cr_assert_eq(dt_timer_add(&heap, &p[0].t, 5), 0);

	cr_assert_eq(run(10), 1);
	cr_assert_eq(p[0].fires, 1);
	cr_assert(dt_timer_armed(&p[0].t), "re-armed timer lost");
	cr_assert_eq(dt_timer_next(&heap), 3);
	check_heap(&heap);

	/* The same now again: the re-armed timer is due now, once. */
	cr_assert_eq(run(10), 1);
	cr_assert_eq(p[0].fires, 2);
	cr_assert_eq(run(10), 1);
	cr_assert_eq(p[0].fires, 3);
	cr_assert_not(dt_timer_armed(&p[0].t));
	cr_assert_eq(run(10), 0);
	cr_assert_eq(dt_timer_next(&heap), DT_DEADLINE_NONE);
	dt_timer_heap_fini(&heap);
	free(fire_log);
	free(p);
}

/* Description: a timer re-armed in the past from fire() does not hold back the due timers behind it in the same call. */
Test(core_timer, rearm_does_not_block_due_timers, .timeout = 10)
{
	struct probe *p = probes_new(4, 16);

	cr_assert_eq(dt_timer_heap_init(&heap, 4), 0);
	p[0].rearm = 1;
	p[0].rearm_at = 1;	/* earlier than p[1] and p[2], already due */
	cr_assert_eq(dt_timer_add(&heap, &p[0].t, 5), 0);
	cr_assert_eq(dt_timer_add(&heap, &p[1].t, 8), 0);
	cr_assert_eq(dt_timer_add(&heap, &p[2].t, 10), 0);
	cr_assert_eq(dt_timer_add(&heap, &p[3].t, 11), 0);

	cr_assert_eq(run(10), 3, "p[1] and p[2] were due and armed first");
	cr_assert_eq(fire_log[0].id, 0);
	cr_assert_eq(fire_log[1].id, 1);
	cr_assert_eq(fire_log[2].id, 2);
	cr_assert_eq(p[0].fires, 1);
	cr_assert_eq(dt_timer_next(&heap), 1);
	check_heap(&heap);

	cr_assert_eq(run(10), 1);
	cr_assert_eq(fire_log[3].id, 0);
	cr_assert_eq(dt_timer_next(&heap), 11);
	cr_assert_eq(run(11), 1);
	cr_assert_eq(fire_log[4].id, 3);
	cr_assert_eq(heap.len, 0);
	dt_timer_heap_fini(&heap);
	free(fire_log);
	free(p);
}

/* Description: many timers re-arming at random past deadlines each fire once per call, and the next call fires them in (deadline, seq) order. */
Test(core_timer, rearm_many_keeps_order, .timeout = 10)
{
	enum { N = 2000, NOW = 1000 };
	struct probe *p = probes_new(N, 3 * N);
	bool was_due[N];
	int64_t min = DT_DEADLINE_NONE;
	unsigned due = 0, fired;
	size_t logged;
	uint32_t i;

	cr_assert_eq(dt_timer_heap_init(&heap, 16), 0);
	rng_state = 0x5eed0003;
	for (i = 0; i < N; i++) {
		/* About half due at NOW; those re-arm into the past. */
		int64_t d = rng_below(2 * NOW);

		was_due[i] = d <= NOW;
		if (was_due[i]) {
			due++;
			p[i].rearm = 1;
			/* Some exactly at NOW: due, and not reordered. */
			p[i].rearm_at = NOW;
			if (rng_below(4))
				p[i].rearm_at = rng_below(NOW / 10);
			if (p[i].rearm_at < min)
				min = p[i].rearm_at;
		}
		cr_assert_eq(dt_timer_add(&heap, &p[i].t, d), 0);
	}
	fired = run(NOW);
	cr_assert_eq(fired, due, "%u fired, %u were due", fired, due);
	check_log_order(0);
	/* The deferred timers are back in true order, ahead of the rest. */
	check_heap(&heap);
	cr_assert_eq(dt_timer_next(&heap), min);
	cr_assert_eq(heap.len, N);

	logged = fire_n;
	cr_assert_eq(run(NOW), due);
	check_log_order(logged);
	for (i = 0; i < N; i++)
		cr_assert_eq(p[i].fires, was_due[i] ? 2 : 0, "timer %u", i);
	check_heap(&heap);
	cr_assert_eq(heap.len, N - due);
	cr_assert_gt(dt_timer_next(&heap), NOW);
	dt_timer_heap_fini(&heap);
	free(fire_log);
	free(p);
}

static struct probe *other;	/* what the next fire_other() acts on */
static bool other_cancel_result;

/* fire(): cancel another timer. */
static void fire_cancel_other(struct dt_timer *t)
{
	on_fire(t);
	other_cancel_result = dt_timer_cancel(&heap, &other->t);
	if (other_cancel_result)
		other->cancelled = true;
}

/* fire(): arm another timer, already due. */
static void fire_arm_other(struct dt_timer *t)
{
	on_fire(t);
	cr_assert_eq(dt_timer_add(&heap, &other->t, run_now - 100), 0);
}

/* Description: fire() cancelling a timer due in the same call stops it from firing; a timer armed from fire() already due waits for the next call. */
Test(core_timer, fire_cancels_and_arms_others, .timeout = 10)
{
	struct probe *p = probes_new(4, 16);

	cr_assert_eq(dt_timer_heap_init(&heap, 2), 0);
	p[0].t.fire = fire_cancel_other;
	other = &p[1];
	cr_assert_eq(dt_timer_add(&heap, &p[0].t, 1), 0);
	cr_assert_eq(dt_timer_add(&heap, &p[1].t, 2), 0);
	cr_assert_eq(dt_timer_add(&heap, &p[2].t, 3), 0);
	cr_assert_eq(run(5), 2);
	cr_assert(other_cancel_result, "p[1] was armed when p[0] fired");
	cr_assert_eq(p[1].fires, 0);
	cr_assert_eq(p[2].fires, 1);

	p[2].t.fire = fire_arm_other;
	p[1].cancelled = false;
	other = &p[3];
	cr_assert_eq(dt_timer_add(&heap, &p[2].t, 6), 0);
	cr_assert_eq(dt_timer_add(&heap, &p[1].t, 7), 0);
	cr_assert_eq(run(10), 2, "p[3], armed during the call, fired in it");
	cr_assert_eq(p[3].fires, 0);
	cr_assert_eq(dt_timer_next(&heap), -90);
	check_heap(&heap);
	cr_assert_eq(run(10), 1);
	cr_assert_eq(p[3].fires, 1);
	cr_assert_eq(fire_log[4].id, 3);
	dt_timer_heap_fini(&heap);
	free(fire_log);
	free(p);
}

/* Description: dt_timer_next is the earliest armed deadline through random adds and cancels, DT_DEADLINE_NONE when empty. */
Test(core_timer, next_is_minimum, .timeout = 10)
{
	enum { N = 500, OPS = 20000 };
	struct probe *p = probes_new(N, 1);
	uint32_t op, i;

	cr_assert_eq(dt_timer_heap_init(&heap, 0), 0);
	cr_assert_eq(dt_timer_next(&heap), DT_DEADLINE_NONE);
	rng_state = 0x5eed0004;
	for (op = 0; op < OPS; op++) {
		struct probe *x = &p[rng_below(N)];
		int64_t min = DT_DEADLINE_NONE;

		if (dt_timer_armed(&x->t)) {
			cr_assert(dt_timer_cancel(&heap, &x->t));
		} else {
			/* Negative and extreme deadlines are just numbers. */
			int64_t d = (int64_t)rng_below(2001) - 1000;

			if (rng_below(50) == 0)
				d = rng_below(2) ? INT64_MIN : INT64_MAX - 1;
			cr_assert_eq(dt_timer_add(&heap, &x->t, d), 0);
		}
		for (i = 0; i < N; i++)
			if (dt_timer_armed(&p[i].t) && p[i].t.deadline < min)
				min = p[i].t.deadline;
		cr_assert_eq(dt_timer_next(&heap), min, "op %u", op);
		if (op % 256 == 0)
			check_heap(&heap);
	}
	for (i = 0; i < N; i++)
		dt_timer_cancel(&heap, &p[i].t);
	cr_assert_eq(heap.len, 0);
	cr_assert_eq(dt_timer_next(&heap), DT_DEADLINE_NONE);
	dt_timer_heap_fini(&heap);
	free(fire_log);
	free(p);
}

/* Description: a heap made for one timer grows to hold 5,000, keeping order and heap_idx. */
Test(core_timer, grows_past_cap_hint, .timeout = 10)
{
	enum { N = 5000 };
	struct probe *p = probes_new(N, N);
	uint32_t i;

	cr_assert_eq(dt_timer_heap_init(&heap, 1), 0);
	cr_assert_eq(heap.cap, 1);
	arm_random(p, N, 0x5eed0005);
	cr_assert_eq(heap.len, N);
	cr_assert_geq(heap.cap, N);
	check_heap(&heap);
	cr_assert_eq(run(DEADLINE_SPAN), N);
	check_log_order(0);
	for (i = 0; i < N; i++)
		cr_assert_eq(p[i].fires, 1);
	dt_timer_heap_fini(&heap);
	cr_assert_null(heap.v);
	free(fire_log);
	free(p);
}

/*
 * realloc() for this program: fails while fail_realloc is set, so that a
 * test can see dt_timer_add() meet -ENOMEM.  Everything else passes through
 * to the next definition (libc's, or the sanitizer's).
 */
static bool fail_realloc;

void *realloc(void *ptr, size_t size)
{
	static void *(*next_realloc)(void *, size_t);

	if (fail_realloc)
		return NULL;
	if (!next_realloc)
		next_realloc = (void *(*)(void *, size_t))dlsym(RTLD_NEXT,
								"realloc");
	return next_realloc(ptr, size);
}

/* Description: dt_timer_add returns -ENOMEM when the heap cannot grow, leaving heap and timer unchanged. */
Test(core_timer, add_enomem_leaves_heap, .timeout = 10)
{
	struct probe *p = probes_new(9, 9);
	struct dt_timer **v;
	uint32_t i, cap;

	cr_assert_eq(dt_timer_heap_init(&heap, 8), 0);
	for (i = 0; i < 8; i++)
		cr_assert_eq(dt_timer_add(&heap, &p[i].t, 100 - i), 0);
	v = heap.v;
	cap = heap.cap;
	cr_assert_eq(heap.len, cap, "full: the next add must grow");

	fail_realloc = true;
	cr_assert_eq(dt_timer_add(&heap, &p[8].t, 0), -ENOMEM);
	fail_realloc = false;
	cr_assert_eq(heap.v, v);
	cr_assert_eq(heap.cap, cap);
	cr_assert_eq(heap.len, 8);
	cr_assert_not(dt_timer_armed(&p[8].t));
	cr_assert_eq(dt_timer_next(&heap), 93);
	check_heap(&heap);

	cr_assert_eq(dt_timer_add(&heap, &p[8].t, 0), 0);
	cr_assert_eq(dt_timer_next(&heap), 0);
	cr_assert_eq(run(100), 9);
	check_log_order(0);
	dt_timer_heap_fini(&heap);
	free(fire_log);
	free(p);
}

/* Description: dt_timer_init leaves a timer unarmed; dt_timer_heap_fini disarms what is still armed, without firing it. */
Test(core_timer, init_and_fini_disarm, .timeout = 10)
{
	struct probe *p = probes_new(3, 3);
	uint32_t i;

	for (i = 0; i < 3; i++)
		cr_assert_not(dt_timer_armed(&p[i].t));
	cr_assert_eq(dt_timer_heap_init(&heap, 0), 0);
	cr_assert_not(dt_timer_cancel(&heap, &p[0].t), "never armed");
	for (i = 0; i < 3; i++)
		cr_assert_eq(dt_timer_add(&heap, &p[i].t, i), 0);
	dt_timer_heap_fini(&heap);
	for (i = 0; i < 3; i++) {
		cr_assert_not(dt_timer_armed(&p[i].t));
		cr_assert_eq(p[i].fires, 0);
	}
	/* Disarmed timers can be armed again, on a new heap. */
	cr_assert_eq(dt_timer_heap_init(&heap, 0), 0);
	cr_assert_eq(dt_timer_add(&heap, &p[2].t, 7), 0);
	cr_assert_eq(run(7), 1);
	dt_timer_heap_fini(&heap);
	free(fire_log);
	free(p);
}

static int64_t timespec_ns(const struct timespec *ts)
{
	return (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec;
}

/* Description: dt_now_ns never goes backwards and lies between two clock_gettime(CLOCK_MONOTONIC) readings. */
Test(core_timer, now_ns_monotonic, .timeout = 10)
{
	int64_t prev = dt_now_ns();
	int i;

	for (i = 0; i < 100000; i++) {
		struct timespec a, b;
		int64_t now;

		clock_gettime(CLOCK_MONOTONIC, &a);
		now = dt_now_ns();
		clock_gettime(CLOCK_MONOTONIC, &b);
		cr_assert_geq(now, prev, "went back %lld ns",
			      (long long)(prev - now));
		cr_assert_geq(now, timespec_ns(&a));
		cr_assert_leq(now, timespec_ns(&b));
		prev = now;
	}
}
