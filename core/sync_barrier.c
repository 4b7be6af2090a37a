/* SPDX-License-Identifier: MIT */
/*
 * core/sync_barrier.c - the fiber-aware barrier (contract in core/sync.h).
 *
 * Everything is under b->lock.  Arrivals of a round queue their records;
 * the count-th arrival empties the queue (claiming every record), resets
 * the arrival count for the next round, drops the lock, posts the records
 * and returns DT_BARRIER_SERIAL.  Waits have no deadline, so every queued
 * record is claimed by that last arrival; a woken waiter returns 0 without
 * touching b again, so b is reusable at once (a fast waiter may already be
 * queued for the next round while the last posts are under way) and may be
 * destroyed by any one of the returning callers.
 *
 * Memory ordering: b->lock orders the arrivals; what each waiter did
 * before arriving happens before the serial caller's return (it took the
 * lock after them), and the serial caller's claims (acq_rel) pass all of it
 * on to the woken waiters.
 */
#include "core/sync.h"

int dt_barrier_init(struct dt_barrier *b, unsigned count)
{
	if (!count)
		return -EINVAL;
	atomic_store_explicit(&b->lock, 0, memory_order_relaxed);
	b->count = count;
	b->arrived = 0;
	b->round = 0;
	b->q.head = b->q.tail = NULL;
	return 0;
}

int dt_barrier_destroy(struct dt_barrier *b)
{
	int busy;

	dt_spin_lock(&b->lock);
	busy = b->arrived != 0;
	dt_spin_unlock(&b->lock);
	return busy ? -EBUSY : 0;
}

int dt_barrier_wait(struct dt_barrier *b)
{
	struct dt_waiter w, *l;

	dt_spin_lock(&b->lock);
	if (dt_unlikely(!b->count)) {
		dt_spin_unlock(&b->lock);
		return -EINVAL;
	}
	if (++b->arrived == b->count) {
		b->arrived = 0;
		b->round++;
		l = dt_waitq_wake_all(&b->q);
		dt_spin_unlock(&b->lock);
		dt_waitq_post_all(l);
		return DT_BARRIER_SERIAL;
	}
	dt_waiter_init(&w);
	dt_waitq_push(&b->q, &w);
	/* No deadline: only the round's last arrival claims w (WOKEN). */
	dt_waitq_block(&b->lock, &b->q, &w, DT_DEADLINE_NONE, CLOCK_MONOTONIC,
		       DT_REASON_LOCK, false);
	return 0;
}
