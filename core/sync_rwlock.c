/* SPDX-License-Identifier: MIT */
/*
 * core/sync_rwlock.c - the fiber-aware read-write lock (contract in
 * core/sync.h).
 *
 * rw->state holds the reader count, DT_RW_WRITER and DT_RW_WAITERS.
 *
 *   no WAITERS:  fast paths change it by one CAS, without rw->lock:
 *                rdlock  n -> n+1 (no WRITER), wrlock 0 -> WRITER,
 *                unlock  n -> n-1, WRITER -> 0.
 *   WAITERS:     set (under rw->lock) before anyone queues, cleared
 *                (under rw->lock) when both queues are empty.  While it is
 *                set every fast-path CAS fails, so only holders of rw->lock
 *                change state, and a lock holder may store instead of CAS.
 *
 * Handoff.  Waiters never retry: whoever makes the lock available (an
 * unlock, or a timed-out waiter whose leaving unblocks others) grants it
 * under rw->lock, in grant_locked(): it adds the granted readers to the
 * count or sets WRITER and the writer's id, claims their records, and posts
 * them after dropping rw->lock.  Who is granted follows the preference:
 *   reader preference (flags 0, 1): queued readers whenever no writer
 *     holds it; otherwise the oldest writer once it is free;
 *   writer preference (flags 2):    the oldest writer once it is free;
 *     readers only when no writer waits.
 * A new reader under reader preference is admitted while writers wait
 * (that is the preference); under writer preference it queues.
 *
 * Freed-while-unlocking: as for the mutex, a release that leaves the lock
 * free with nobody to hand it to clears WAITERS first (queues empty), drops
 * rw->lock, and releases with the fast-path CAS.
 *
 * Memory ordering.  Acquiring CAS: acquire; releasing CAS and the store of
 * a new state by a lock holder: release; they pair with each other, so a
 * writer's critical section happens before the next holder's.  Granted
 * waiters receive it through the claim (acq_rel) and dt_waiter_block's
 * acquire load.  rw->writer is written by the writer (or by the granter
 * for it) and read relaxed to answer "is it me?".
 */
#include "core/sync.h"

static inline bool valid_clock(clockid_t clk)
{
	return clk == CLOCK_REALTIME || clk == CLOCK_MONOTONIC;
}

static inline bool prefer_writer(const struct dt_rwlock *rw)
{
	return rw->flags == DT_RWLOCK_PREFER_WRITER_NONRECURSIVE;
}

static inline bool cas(_Atomic uint32_t *p, uint32_t *from, uint32_t to,
		       memory_order mo)
{
	return atomic_compare_exchange_weak_explicit(p, from, to, mo,
						     memory_order_relaxed);
}

int dt_rwlock_init(struct dt_rwlock *rw, int flags)
{
	if (flags < DT_RWLOCK_PREFER_READER ||
	    flags > DT_RWLOCK_PREFER_WRITER_NONRECURSIVE)
		return -EINVAL;
	atomic_store_explicit(&rw->state, 0, memory_order_relaxed);
	atomic_store_explicit(&rw->lock, 0, memory_order_relaxed);
	atomic_store_explicit(&rw->writer, 0, memory_order_relaxed);
	rw->spare = rw->spare2 = 0;
	rw->rq.head = rw->rq.tail = NULL;
	rw->wq.head = rw->wq.tail = NULL;
	rw->flags = flags;
	return 0;
}

int dt_rwlock_destroy(struct dt_rwlock *rw)
{
	return atomic_load_explicit(&rw->state, memory_order_relaxed) ?
	       -EBUSY : 0;
}

/*
 * rw->lock held, WAITERS set in s == rw->state (so it is stable).  Grant
 * the lock, as s describes it, to whoever the preference picks; the
 * claimed records are appended to *out (chained through ->next).  Returns
 * the new state, WAITERS recomputed; the caller stores it.
 */
static uint32_t grant_locked(struct dt_rwlock *rw, uint32_t s,
			     struct dt_waiter ***out)
{
	struct dt_waiter *w;
	bool pw = prefer_writer(rw);

	if (!(s & DT_RW_WRITER)) {
		if ((pw || dt_waitq_empty(&rw->rq)) &&
		    !(s & DT_RW_READERS) &&
		    (w = dt_waitq_wake_one(&rw->wq)) != NULL) {
			atomic_store_explicit(&rw->writer, (uint32_t)w->data,
					      memory_order_relaxed);
			s |= DT_RW_WRITER;
			**out = w;
			*out = &w->next;
		} else if (!pw || dt_waitq_empty(&rw->wq)) {
			while ((s & DT_RW_READERS) < DT_RW_READERS &&
			       (w = dt_waitq_wake_one(&rw->rq)) != NULL) {
				s++;
				**out = w;
				*out = &w->next;
			}
		}
	}
	**out = NULL;
	if (dt_waitq_empty(&rw->rq) && dt_waitq_empty(&rw->wq))
		s &= ~DT_RW_WAITERS;
	else
		s |= DT_RW_WAITERS;
	return s;
}

/*
 * A waiter timed out: rw->lock is held and its record unlinked.  Its
 * leaving may unblock others (a writer that readers queued behind).
 * Drops rw->lock.
 */
static void leave_locked(struct dt_rwlock *rw)
{
	uint32_t s = atomic_load_explicit(&rw->state, memory_order_relaxed);
	struct dt_waiter *l = NULL, **tail = &l;

	/* Without WAITERS a waker already emptied the queues: nothing is
	 * ours to fix (and state is not stable then). */
	if (s & DT_RW_WAITERS) {
		uint32_t ns = grant_locked(rw, s, &tail);

		if (ns != s)	/* release: see unlock_slow */
			atomic_store_explicit(&rw->state, ns,
					      memory_order_release);
	}
	dt_spin_unlock(&rw->lock);
	dt_waitq_post_all(l);
}

/* ---------------------------------------------------------------- */
/* Readers                                                           */

static int rdlock(struct dt_rwlock *rw, int64_t deadline, clockid_t clk,
		  bool try)
{
	uint32_t s = atomic_load_explicit(&rw->state, memory_order_relaxed);
	uint32_t self;
	struct dt_waiter w;
	int st;

	/* Fast path; acquire pairs with the releasing CAS/store of the
	 * previous writer's unlock. */
	while (dt_likely(!(s & (DT_RW_WRITER | DT_RW_WAITERS)) &&
			 (s & DT_RW_READERS) < DT_RW_READERS))
		if (cas(&rw->state, &s, s + 1, memory_order_acquire))
			return 0;
	self = dt_self_id();
	if (!(s & DT_RW_WAITERS) && (s & DT_RW_READERS) == DT_RW_READERS)
		return -EAGAIN;
	dt_spin_lock(&rw->lock);
	s = atomic_load_explicit(&rw->state, memory_order_relaxed);
	for (;;) {
		if (s & DT_RW_WRITER) {
			if (atomic_load_explicit(&rw->writer,
						 memory_order_relaxed) ==
			    self) {
				dt_spin_unlock(&rw->lock);
				return -EDEADLK;
			}
		} else if (!prefer_writer(rw) || dt_waitq_empty(&rw->wq)) {
			if ((s & DT_RW_READERS) == DT_RW_READERS) {
				dt_spin_unlock(&rw->lock);
				return -EAGAIN;
			}
			if (cas(&rw->state, &s, s + 1, memory_order_acquire)) {
				dt_spin_unlock(&rw->lock);
				return 0;
			}
			continue;
		}
		/* Must wait. */
		if (try) {
			dt_spin_unlock(&rw->lock);
			return -EBUSY;
		}
		/* relaxed: the mark publishes nothing; the queues are
		 * ordered by rw->lock, which every slow path takes. */
		if ((s & DT_RW_WAITERS) ||
		    cas(&rw->state, &s, s | DT_RW_WAITERS,
			memory_order_relaxed))
			break;
	}
	dt_waiter_init(&w);
	dt_waitq_push(&rw->rq, &w);
	st = dt_waitq_block(&rw->lock, &rw->rq, &w, deadline, clk,
			    DT_REASON_LOCK, false);
	if (st == DT_WAIT_WOKEN)
		return 0;	/* granted: counted in by the waker */
	leave_locked(rw);
	return -ETIMEDOUT;
}

int dt_rwlock_rdlock(struct dt_rwlock *rw)
{
	return rdlock(rw, DT_DEADLINE_NONE, CLOCK_MONOTONIC, false);
}

int dt_rwlock_tryrdlock(struct dt_rwlock *rw)
{
	int r = rdlock(rw, DT_DEADLINE_NONE, CLOCK_MONOTONIC, true);

	return r == -EDEADLK ? -EBUSY : r;	/* glibc: EBUSY */
}

int dt_rwlock_timedrdlock(struct dt_rwlock *rw, int64_t deadline,
			  clockid_t clk)
{
	if (!valid_clock(clk))
		return -EINVAL;
	return rdlock(rw, deadline, clk, false);
}

/* ---------------------------------------------------------------- */
/* Writers                                                           */

static int wrlock(struct dt_rwlock *rw, int64_t deadline, clockid_t clk,
		  bool try)
{
	uint32_t s = 0, self = dt_self_id();
	struct dt_waiter w;
	int st;

	/* Fast path; acquire pairs with the previous holders' release. */
	if (dt_likely(atomic_compare_exchange_strong_explicit(&rw->state, &s,
			DT_RW_WRITER, memory_order_acquire,
			memory_order_relaxed))) {
		atomic_store_explicit(&rw->writer, self, memory_order_relaxed);
		return 0;
	}
	if ((s & DT_RW_WRITER) &&
	    atomic_load_explicit(&rw->writer, memory_order_relaxed) == self)
		return -EDEADLK;
	dt_spin_lock(&rw->lock);
	s = atomic_load_explicit(&rw->state, memory_order_relaxed);
	for (;;) {
		if (!(s & (DT_RW_WRITER | DT_RW_READERS))) {
			/* Free, so nobody is queued (grants are made as soon
			 * as it becomes free). */
			if (cas(&rw->state, &s, s | DT_RW_WRITER,
				memory_order_acquire)) {
				atomic_store_explicit(&rw->writer, self,
						      memory_order_relaxed);
				dt_spin_unlock(&rw->lock);
				return 0;
			}
			continue;
		}
		if (try) {
			dt_spin_unlock(&rw->lock);
			return -EBUSY;
		}
		/* relaxed: the mark publishes nothing; the queues are
		 * ordered by rw->lock, which every slow path takes. */
		if ((s & DT_RW_WAITERS) ||
		    cas(&rw->state, &s, s | DT_RW_WAITERS,
			memory_order_relaxed))
			break;
	}
	dt_waiter_init(&w);
	w.data = self;
	dt_waitq_push(&rw->wq, &w);
	st = dt_waitq_block(&rw->lock, &rw->wq, &w, deadline, clk,
			    DT_REASON_LOCK, false);
	if (st == DT_WAIT_WOKEN)
		return 0;	/* granted: rw->writer set by the waker */
	leave_locked(rw);
	return -ETIMEDOUT;
}

int dt_rwlock_wrlock(struct dt_rwlock *rw)
{
	return wrlock(rw, DT_DEADLINE_NONE, CLOCK_MONOTONIC, false);
}

int dt_rwlock_trywrlock(struct dt_rwlock *rw)
{
	int r = wrlock(rw, DT_DEADLINE_NONE, CLOCK_MONOTONIC, true);

	return r == -EDEADLK ? -EBUSY : r;	/* glibc: EBUSY */
}

int dt_rwlock_timedwrlock(struct dt_rwlock *rw, int64_t deadline,
			  clockid_t clk)
{
	if (!valid_clock(clk))
		return -EINVAL;
	return wrlock(rw, deadline, clk, false);
}

/* ---------------------------------------------------------------- */
/* Unlock                                                            */

/*
 * Release one hold (a writer's if `writer`, else one reader's) with
 * WAITERS set.  See "Handoff" and "Freed-while-unlocking" above.
 */
static void unlock_slow(struct dt_rwlock *rw, bool writer)
{
	for (;;) {
		struct dt_waiter *l = NULL, **tail = &l;
		uint32_t s, ns;

		dt_spin_lock(&rw->lock);
		s = atomic_load_explicit(&rw->state, memory_order_relaxed);
		if (!(s & DT_RW_WAITERS)) {
			/* Emptied meanwhile (a waiter timed out): back to
			 * the fast path. */
			dt_spin_unlock(&rw->lock);
			if (writer) {
				uint32_t e = DT_RW_WRITER;

				/* release: pairs with the acquire CAS of the
				 * next holder */
				if (atomic_compare_exchange_strong_explicit(
					    &rw->state, &e, 0,
					    memory_order_release,
					    memory_order_relaxed))
					return;
				continue;
			}
			while (!(s & DT_RW_WAITERS))
				if (cas(&rw->state, &s, s - 1,
					memory_order_release))
					return;
			continue;
		}
		ns = writer ? s & ~DT_RW_WRITER : s - 1;
		ns = grant_locked(rw, ns, &tail);
		if (!l && !(ns & (DT_RW_WRITER | DT_RW_READERS))) {
			/* Free with nobody to hand it to: the queues held
			 * only timed-out records and are empty now.  Keep
			 * our hold while rw->lock is dropped. */
			atomic_store_explicit(&rw->state, s & ~DT_RW_WAITERS,
					      memory_order_relaxed);
			dt_spin_unlock(&rw->lock);
			continue;
		}
		/* release: pairs with the acquire of the next fast-path
		 * holder once WAITERS is clear. */
		atomic_store_explicit(&rw->state, ns, memory_order_release);
		dt_spin_unlock(&rw->lock);
		dt_waitq_post_all(l);
		return;
	}
}

int dt_rwlock_unlock(struct dt_rwlock *rw)
{
	uint32_t s = atomic_load_explicit(&rw->state, memory_order_relaxed);

	if (s & DT_RW_WRITER) {
		uint32_t e = DT_RW_WRITER;

		if (atomic_load_explicit(&rw->writer, memory_order_relaxed) !=
		    dt_self_id())
			return -EPERM;
		atomic_store_explicit(&rw->writer, 0, memory_order_relaxed);
		/* Fast path; release pairs with the next holder's acquire. */
		if (dt_likely(atomic_compare_exchange_strong_explicit(
				&rw->state, &e, 0, memory_order_release,
				memory_order_relaxed)))
			return 0;
		unlock_slow(rw, true);
		return 0;
	}
	if (!(s & DT_RW_READERS))
		return -EPERM;
	/* Fast path; release pairs with a writer's acquire. */
	while (dt_likely(!(s & DT_RW_WAITERS)))
		if (cas(&rw->state, &s, s - 1, memory_order_release))
			return 0;
	unlock_slow(rw, false);
	return 0;
}
