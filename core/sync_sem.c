/* SPDX-License-Identifier: MIT */
/*
 * core/sync_sem.c - the fiber-aware counting semaphore (contract in
 * core/sync.h).
 *
 * s->value is the count, plus DT_SEM_WAITERS while the queue is not empty.
 *
 *   no WAITERS:  post and wait change the count by one CAS, no lock.
 *   WAITERS:     set under s->lock (with the count at 0) before a waiter
 *                queues; cleared under s->lock when the queue empties.
 *                While it is set the count is 0, every fast-path CAS
 *                fails, and only s->lock holders change the word.
 *
 * Handoff: a post that finds waiters gives its token straight to the
 * oldest one (claim under s->lock, post after dropping it); the count
 * stays 0, so a newcomer cannot take the token first.
 *
 * Freed-after-wait: a waiter that returns may destroy and free s (the
 * "completion" pattern); so a post never touches s after the token is
 * visible.  A post that finds the queue empty (its records had timed out)
 * clears WAITERS, drops s->lock and then adds the token with the fast-path
 * CAS; at a handoff the woken waiter cannot run before the post, which
 * touches only its record.
 *
 * Memory ordering: the adding CAS is release and the taking CAS acquire,
 * so what the poster did before sem_post happens before what the taker
 * does after sem_wait; at a handoff the claim (acq_rel) and
 * dt_waiter_block's acquire load carry it.
 */
#include "core/sync.h"

static inline bool valid_clock(clockid_t clk)
{
	return clk == CLOCK_REALTIME || clk == CLOCK_MONOTONIC;
}

int dt_sem_init(struct dt_sem *s, unsigned value)
{
	if (value > DT_SEM_VALUE_MAX)
		return -EINVAL;
	atomic_store_explicit(&s->value, value, memory_order_relaxed);
	atomic_store_explicit(&s->lock, 0, memory_order_relaxed);
	s->q.head = s->q.tail = NULL;
	return 0;
}

int dt_sem_destroy(struct dt_sem *s)
{
	(void)s;
	return 0;
}

int dt_sem_post(struct dt_sem *s)
{
	uint32_t v = atomic_load_explicit(&s->value, memory_order_relaxed);
	struct dt_waiter *w;

	for (;;) {
		if (dt_likely(!(v & DT_SEM_WAITERS))) {
			if (v == DT_SEM_VALUE_MAX)
				return -EOVERFLOW;
			/* release: pairs with the taker's acquire CAS */
			if (atomic_compare_exchange_weak_explicit(&s->value,
					&v, v + 1, memory_order_release,
					memory_order_relaxed))
				return 0;
			continue;
		}
		dt_spin_lock(&s->lock);
		v = atomic_load_explicit(&s->value, memory_order_relaxed);
		if (!(v & DT_SEM_WAITERS)) {	/* emptied meanwhile */
			dt_spin_unlock(&s->lock);
			continue;
		}
		w = dt_waitq_wake_one(&s->q);
		if (dt_waitq_empty(&s->q))	/* count is 0 under WAITERS */
			atomic_store_explicit(&s->value, 0,
					      memory_order_relaxed);
		dt_spin_unlock(&s->lock);
		if (w) {
			dt_waiter_post(w);	/* the token goes with it */
			return 0;
		}
		/* Only timed-out records were queued: add the token by
		 * the fast path, s->lock already dropped. */
		v = 0;
	}
}

/* Take one token by CAS if the count is positive.  true on success. */
static inline bool take(struct dt_sem *s, uint32_t *v)
{
	while (*v & DT_SEM_VALUE_MAX)	/* > 0, hence no WAITERS */
		/* acquire: pairs with the poster's release CAS */
		if (atomic_compare_exchange_weak_explicit(&s->value, v,
				*v - 1, memory_order_acquire,
				memory_order_relaxed))
			return true;
	return false;
}

static int take_or_wait(struct dt_sem *s, int64_t deadline, clockid_t clk)
{
	uint32_t v = atomic_load_explicit(&s->value, memory_order_relaxed);
	struct dt_waiter w;
	int st;

	if (dt_likely(take(s, &v)))
		return 0;
	dt_spin_lock(&s->lock);
	v = atomic_load_explicit(&s->value, memory_order_relaxed);
	for (;;) {
		if (take(s, &v)) {
			dt_spin_unlock(&s->lock);
			return 0;
		}
		/* v is 0 or WAITERS here.  relaxed: the mark publishes
		 * nothing; the queue is ordered by s->lock. */
		if (v || atomic_compare_exchange_weak_explicit(&s->value, &v,
				DT_SEM_WAITERS, memory_order_relaxed,
				memory_order_relaxed))
			break;
	}
	dt_waiter_init(&w);
	dt_waitq_push(&s->q, &w);
	/* The one interruptible wait here: sem_wait may fail with EINTR. */
	st = dt_waitq_block(&s->lock, &s->q, &w, deadline, clk,
			    DT_REASON_LOCK, true);
	if (st == DT_WAIT_WOKEN)
		return 0;	/* a post handed us its token */
	/* Timed out or interrupted (s->lock held, w unlinked).  With
	 * WAITERS set the word is ours to change; without it a post already
	 * emptied the queue. */
	if (dt_waitq_empty(&s->q) &&
	    atomic_load_explicit(&s->value, memory_order_relaxed) ==
	    DT_SEM_WAITERS)
		atomic_store_explicit(&s->value, 0, memory_order_relaxed);
	dt_spin_unlock(&s->lock);
	return st == DT_WAIT_INTERRUPTED ? -EINTR : -ETIMEDOUT;
}

int dt_sem_wait(struct dt_sem *s)
{
	return take_or_wait(s, DT_DEADLINE_NONE, CLOCK_MONOTONIC);
}

int dt_sem_timedwait(struct dt_sem *s, int64_t deadline, clockid_t clk)
{
	if (!valid_clock(clk))
		return -EINVAL;
	return take_or_wait(s, deadline, clk);
}

int dt_sem_trywait(struct dt_sem *s)
{
	uint32_t v = atomic_load_explicit(&s->value, memory_order_relaxed);

	return take(s, &v) ? 0 : -EAGAIN;
}

int dt_sem_getvalue(struct dt_sem *s, int *out)
{
	*out = (int)(atomic_load_explicit(&s->value, memory_order_relaxed) &
		     DT_SEM_VALUE_MAX);
	return 0;
}
