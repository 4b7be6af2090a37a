/* SPDX-License-Identifier: MIT */
/*
 * core/sync_cond.c - the fiber-aware condition variable (contract in
 * core/sync.h).
 *
 * A waiter queues its record under c->lock while it still holds the
 * mutex, then releases the mutex and blocks.  signal claims the oldest
 * record still waiting, broadcast every record queued at the time of the
 * call (the whole queue is emptied under c->lock, so a waiter that arrives
 * later is not woken); both post after dropping c->lock.
 *
 * No lost wake-up: a signaller that holds the mutex (the usual pattern)
 * cannot run between the waiter's check of its predicate and its queueing,
 * because the waiter queues before it releases the mutex.  No spurious
 * wake-up: a record is only ever claimed by signal/broadcast (WOKEN) or by
 * its deadline (TIMEDOUT), and a signal is never spent on a record its
 * deadline claimed first (the waker skips it and takes the next).
 *
 * After being woken the waiter does not touch c again (the record was
 * unlinked by the waker), so c may be destroyed as soon as the waiters
 * have been woken, as POSIX allows.  A timed-out waiter re-takes c->lock
 * to unlink itself (core/waitq.h).
 *
 * Memory ordering: queue changes are ordered by c->lock; the data the
 * predicate reads is ordered by the mutex, which every waiter re-acquires
 * before returning.
 */
#include "core/sync.h"

static inline bool valid_clock(clockid_t clk)
{
	return clk == CLOCK_REALTIME || clk == CLOCK_MONOTONIC;
}

int dt_cond_init(struct dt_cond *c, clockid_t clk)
{
	if (!valid_clock(clk))
		return -EINVAL;
	atomic_store_explicit(&c->lock, 0, memory_order_relaxed);
	c->clock = (int32_t)clk;
	c->q.head = c->q.tail = NULL;
	return 0;
}

int dt_cond_destroy(struct dt_cond *c)
{
	int busy;

	dt_spin_lock(&c->lock);
	busy = !dt_waitq_empty(&c->q);
	dt_spin_unlock(&c->lock);
	return busy ? -EBUSY : 0;
}

static int cond_wait(struct dt_cond *c, struct dt_mutex *m, int64_t deadline,
		     clockid_t clk)
{
	struct dt_waiter w;
	int kind = m->kind & DT_MUTEX_KIND_MASK, st;

	/* Check now, so that the unlock below cannot fail once queued. */
	if ((kind == DT_MUTEX_ERRORCHECK || kind == DT_MUTEX_RECURSIVE) &&
	    !dt_mutex_held(m))
		return -EPERM;
	dt_waiter_init(&w);
	dt_spin_lock(&c->lock);
	dt_waitq_push(&c->q, &w);
	dt_spin_unlock(&c->lock);
	dt_mutex_unlock(m);
	/* Only a cancellation request ends the wait early, and only when
	 * the caller made it a cancellation point (f->intr); m is
	 * re-acquired before returning, as for a timeout. */
	st = dt_waitq_block(&c->lock, &c->q, &w, deadline, clk,
			    DT_REASON_LOCK, w.fiber &&
			    w.fiber->intr == DT_INTR_CANCEL);
	if (st != DT_WAIT_WOKEN)
		dt_spin_unlock(&c->lock);	/* held again, w unlinked */
	dt_mutex_lock(m);
	if (st == DT_WAIT_INTERRUPTED)
		return -EINTR;
	return st == DT_WAIT_WOKEN ? 0 : -ETIMEDOUT;
}

int dt_cond_wait(struct dt_cond *c, struct dt_mutex *m)
{
	return cond_wait(c, m, DT_DEADLINE_NONE, CLOCK_MONOTONIC);
}

int dt_cond_timedwait(struct dt_cond *c, struct dt_mutex *m, int64_t deadline,
		      clockid_t clk)
{
	if (!valid_clock(clk))
		return -EINVAL;
	return cond_wait(c, m, deadline, clk);
}

int dt_cond_signal(struct dt_cond *c)
{
	struct dt_waiter *w;

	/* Unlocked peek: a waiter that queued before this call (it queued
	 * under c->lock before releasing the mutex the signaller then took,
	 * so happens-before holds) is seen; one racing with a signaller that
	 * does not hold the mutex may be missed, as POSIX allows. */
	if (!dt_waitq_peek(&c->q))
		return 0;
	dt_spin_lock(&c->lock);
	w = dt_waitq_wake_one(&c->q);
	dt_spin_unlock(&c->lock);
	if (w)
		dt_waiter_post(w);
	return 0;
}

int dt_cond_broadcast(struct dt_cond *c)
{
	struct dt_waiter *l;

	/* Unlocked peek: see dt_cond_signal. */
	if (!dt_waitq_peek(&c->q))
		return 0;
	dt_spin_lock(&c->lock);
	l = dt_waitq_wake_all(&c->q);
	dt_spin_unlock(&c->lock);
	dt_waitq_post_all(l);
	return 0;
}
