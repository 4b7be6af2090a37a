/* SPDX-License-Identifier: MIT */
/*
 * core/waitq.h - FIFO wait queue of struct dt_waiter, the one queue under
 * every fiber-aware synchronization object (core/sync*.c).
 *
 * A queue is two pointers (head, tail) in the object; the 4-byte spinlock
 * that protects it lives beside it in the object and is passed in where
 * needed (objects have to fit in glibc's pthread_*_t, and the glibc field
 * layout fixes where their lock can go).  Waiters are fibers or OS threads,
 * mixed freely; struct dt_waiter (core/dt.h) hides the difference.
 *
 * Protocol, with Q the queue's lock (see struct dt_waiter in core/dt.h):
 *
 *   waiting side                       waking side
 *   ------------                       -----------
 *   dt_waiter_init(&w)                 lock Q
 *   lock Q, decide to wait             w = dt_waitq_wake_one(q)  (claims w,
 *   dt_waitq_push(q, &w)                  unlinks it; skips and unlinks
 *   st = dt_waitq_block(Q, q, &w, ...)    records already claimed by their
 *     (unlocks Q, blocks; WOKEN:          deadline)
 *      returns without Q; otherwise    ... hand over what w waited for ...
 *      re-takes Q, unlinks w if still  unlock Q
 *      linked and returns WITH Q held  dt_waiter_post(w)         (after Q!)
 *      so the caller can fix up its
 *      object before unlocking)
 *
 * Why this is safe:
 *  - Claims are made under Q, so a record is claimed exactly once: by a
 *    waker (WOKEN), or by its deadline (TIMEDOUT) or a signal
 *    (INTERRUPTED) without Q, never both; a waker skips a record it
 *    cannot claim.
 *  - A WOKEN record was unlinked under Q and is posted only after the waker
 *    dropped Q; the poster reads nothing of it after dt_waiter_post, and the
 *    waiting side does not return before the post.  So a woken waiter need
 *    not re-take Q, and it never touches the object again: the object may
 *    be destroyed by whoever it handed it to (barrier, cond, sem patterns).
 *  - A TIMEDOUT or INTERRUPTED record may still be linked, or a waker
 *    holding Q may be looking at it (its claim fails): the waiting side
 *    re-takes Q before it unlinks and returns, so no waker can hold a
 *    pointer to it afterwards.
 *
 * Memory ordering: everything under Q is ordered by Q's acquire/release.
 * What a waker hands over (lock ownership, a semaphore token, "fn() ran")
 * reaches the woken side through the claim (acq_rel CAS of w->state) and the
 * acquire load of w->state / w->posted in dt_waiter_block.
 */
#ifndef DT_CORE_WAITQ_H
#define DT_CORE_WAITQ_H

#include "core/dt.h"

/* FIFO of waiters.  All-zero is an empty queue.  Protected by its owner's
 * spinlock: every function below requires that lock held.  head is also
 * written with relaxed atomic stores so that an owner may peek at it
 * without the lock (dt_waitq_peek). */
struct dt_waitq {
	struct dt_waiter *head;		/* oldest, woken first */
	struct dt_waiter *tail;		/* newest */
};

static inline bool dt_waitq_empty(const struct dt_waitq *q)
{
	return q->head == NULL;
}

static inline void dt_waitq_set_head(struct dt_waitq *q, struct dt_waiter *w)
{
	__atomic_store_n(&q->head, w, __ATOMIC_RELAXED);
}

/*
 * Without the lock: false if the queue may be empty.  Only as a hint: a
 * waiter that queued before something the caller has synchronised with
 * (a mutex the waiter released after queueing) is always seen.
 */
static inline bool dt_waitq_peek(struct dt_waitq *q)
{
	return __atomic_load_n(&q->head, __ATOMIC_RELAXED) != NULL;
}

/* Append w (initialised, not linked). */
static inline void dt_waitq_push(struct dt_waitq *q, struct dt_waiter *w)
{
	w->next = NULL;
	w->prev = q->tail;
	if (q->tail)
		q->tail->next = w;
	else
		dt_waitq_set_head(q, w);
	q->tail = w;
	w->linked = 1;
}

/* Unlink w, which is linked in q. */
static inline void dt_waitq_remove(struct dt_waitq *q, struct dt_waiter *w)
{
	if (w->prev)
		w->prev->next = w->next;
	else
		dt_waitq_set_head(q, w->next);
	if (w->next)
		w->next->prev = w->prev;
	else
		q->tail = w->prev;
	w->next = w->prev = NULL;
	w->linked = 0;
}

/*
 * Unlink and claim (DT_WAIT_WOKEN) the oldest waiter that is still
 * waiting; records found already claimed by their deadline are unlinked
 * and skipped.  Returns the claimed record (post it after dropping the
 * lock) or NULL if none was waiting.
 */
static inline struct dt_waiter *dt_waitq_wake_one(struct dt_waitq *q)
{
	struct dt_waiter *w;

	while ((w = q->head) != NULL) {
		dt_waitq_remove(q, w);
		if (dt_waiter_claim(w, DT_WAIT_WOKEN))
			return w;
	}
	return NULL;
}

/*
 * Unlink every waiter and claim those still waiting.  Returns them as a
 * list in FIFO order chained through ->next (the record's queue link,
 * free once unlinked), for dt_waitq_post_all after the lock is dropped.
 */
static inline struct dt_waiter *dt_waitq_wake_all(struct dt_waitq *q)
{
	struct dt_waiter *out = NULL, **tail = &out, *w;

	while ((w = q->head) != NULL) {
		dt_waitq_remove(q, w);
		if (dt_waiter_claim(w, DT_WAIT_WOKEN)) {
			*tail = w;
			tail = &w->next;
		}
	}
	return out;
}

/* Post every record of a dt_waitq_wake_all list.  No lock held. */
static inline void dt_waitq_post_all(struct dt_waiter *l)
{
	while (l) {
		/* Read before the post: the record may end with it. */
		struct dt_waiter *nx = l->next;

		dt_waiter_post(l);
		l = nx;
	}
}

/* Number of waiters linked (debugging and tests; O(n)). */
static inline uint32_t dt_waitq_len(const struct dt_waitq *q)
{
	const struct dt_waiter *w;
	uint32_t n = 0;

	for (w = q->head; w; w = w->next)
		n++;
	return n;
}

/*
 * Called with *lock held and w pushed on q.  Drops the lock and waits for
 * w to be claimed (deadline: absolute ns on clk, or DT_DEADLINE_NONE).
 * Returns DT_WAIT_WOKEN without the lock, or DT_WAIT_TIMEDOUT or
 * DT_WAIT_INTERRUPTED with the lock held again and w unlinked.
 *
 * interruptible: whether a signal may end a fiber's wait, as the caller's
 * f->intr says (EINTR emulation, dt_fiber_interrupt_async); when false,
 * f->intr is masked for the wait (f->intr belongs to the fiber's worker
 * thread, which is the one running this), so DT_WAIT_INTERRUPTED cannot
 * come back.  Threads are never interrupted here.
 */
static inline int dt_waitq_block(_Atomic uint32_t *lock, struct dt_waitq *q,
				 struct dt_waiter *w, int64_t deadline,
				 clockid_t clk, int reason, bool interruptible)
{
	struct dt_fiber *f = interruptible ? NULL : w->fiber;
	uint8_t intr = 0;
	int st;

	dt_spin_unlock(lock);
	if (f) {
		intr = f->intr;
		f->intr = 0;
	}
	if (w->fiber)		/* what it waits on, for the fiber dump */
		w->fiber->wait_obj = (uintptr_t)q;
	st = dt_waiter_block(w, deadline, clk, reason);
	if (f)
		f->intr = intr;
	if (st == DT_WAIT_WOKEN)
		return st;
	dt_spin_lock(lock);
	if (w->linked)
		dt_waitq_remove(q, w);
	return st;
}

#endif
