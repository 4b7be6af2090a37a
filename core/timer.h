/* SPDX-License-Identifier: MIT */
/*
 * core/timer.h - per-worker timers: a 4-ary min-heap of absolute
 * CLOCK_MONOTONIC deadlines (int64_t nanoseconds).
 *
 * Ownership: one heap per worker, touched only by that worker's thread (a
 * fiber never leaves its worker, so the fiber that arms a timer and the
 * scheduler that fires it are the same thread).  No locks, no atomics.
 * Timer nodes are caller storage (embedded in a fiber or a wait record);
 * the heap stores pointers to them and keeps each node's index up to date so
 * cancellation is O(log n).  Ties fire in insertion order (FIFO), so that
 * timers armed with equal deadlines fire in the order they were armed.
 */
#ifndef DT_CORE_TIMER_H
#define DT_CORE_TIMER_H

#include <stdbool.h>
#include <stdint.h>

#define DT_TIMER_IDLE	UINT32_MAX	/* heap_idx of a timer not armed */
#define DT_DEADLINE_NONE INT64_MAX	/* "no deadline" */

struct dt_timer;
typedef void (*dt_timer_fn)(struct dt_timer *t);

struct dt_timer {
	int64_t deadline;	/* absolute CLOCK_MONOTONIC ns */
	uint64_t seq;		/* insertion number: FIFO among equal deadlines */
	uint32_t heap_idx;	/* slot in the heap, DT_TIMER_IDLE when not armed */
	dt_timer_fn fire;	/* called by dt_timer_run(), after removal */
};

struct dt_timer_heap {
	struct dt_timer **v;	/* v[0] is the earliest deadline */
	uint32_t len;		/* armed timers */
	uint32_t cap;		/* slots allocated in v */
	uint64_t next_seq;	/* next insertion number */
};

/* Current CLOCK_MONOTONIC time in ns (vDSO, no syscall). */
int64_t dt_now_ns(void);

/* Initialise t as not armed, with its callback.  */
void dt_timer_init(struct dt_timer *t, dt_timer_fn fire);

/* Prepare an empty heap with room for cap_hint timers; 0 or -ENOMEM. */
int dt_timer_heap_init(struct dt_timer_heap *h, uint32_t cap_hint);
void dt_timer_heap_fini(struct dt_timer_heap *h);

/*
 * Arm t to fire at deadline (absolute ns).  t must not be armed.  Grows the
 * heap if needed (amortised; never when within cap_hint).  0 or -ENOMEM.
 */
int dt_timer_add(struct dt_timer_heap *h, struct dt_timer *t, int64_t deadline);

/* Disarm t.  Returns true if it was armed (and so will not fire). */
bool dt_timer_cancel(struct dt_timer_heap *h, struct dt_timer *t);

/* Earliest armed deadline, or DT_DEADLINE_NONE when the heap is empty. */
int64_t dt_timer_next(const struct dt_timer_heap *h);

/*
 * Remove every timer with deadline <= now that was armed when the call
 * began, in deadline order (FIFO among equal deadlines), calling each one's
 * fire() after it is removed (so fire may re-arm it).  A timer armed from
 * inside fire() waits for the next call even if already due, so a fire()
 * that re-arms in the past cannot keep one call looping.  Returns how many
 * fired.
 */
unsigned dt_timer_run(struct dt_timer_heap *h, int64_t now);

static inline bool dt_timer_armed(const struct dt_timer *t)
{
	return t->heap_idx != DT_TIMER_IDLE;
}

#endif
