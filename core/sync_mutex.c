/* SPDX-License-Identifier: MIT */
/*
 * core/sync_mutex.c - the fiber-aware mutex (contract in core/sync.h).
 *
 * State machine of m->state:
 *
 *        lock: CAS 0->1 (fast)                  lock, under qlock: 1->2,
 *   0 ---------------------------> 1 -------------------------------> 2
 *   ^  <---------------------------    <-------------------------------+
 *   |   unlock: CAS 1->0 (fast)         under qlock: no waiter left, or |
 *   |                                   a timed-out waiter was the last |
 *   +---- unlock, queue empty: 2->1 under qlock, then CAS 1->0 ---------+
 *         unlock with a waiter: stays 1 or 2, ownership handed over
 *
 * Invariants, whenever qlock is held:
 *   - the queue is non-empty only if state == 2;
 *   - state == 2 changes only under qlock (the fast paths only CAS from 0
 *     or 1), so a qlock holder that sees 2 may store instead of CAS.
 *
 * FIFO handoff.  An unlock that finds waiters claims the oldest one, makes
 * it the owner (owner field, state left non-zero) and posts it after
 * dropping qlock.  The mutex never becomes free in between, so no newcomer
 * can barge past a waiter: a newcomer fails the 0->1 CAS, takes qlock and
 * queues behind.  A waiter whose deadline claimed its record first is
 * skipped by the waker (the claim decides), so a waiter that is handed the
 * mutex always owns it, even if its deadline has passed meanwhile.
 *
 * Freed-while-unlocking.  The mutex may be destroyed and freed by the next
 * owner as soon as it is free.  So the path that frees it with the queue
 * empty drops qlock first (state 2 -> 1 under qlock, then the fast CAS
 * 1 -> 0), and the handoff path touches nothing of m after dropping qlock.
 *
 * Memory ordering.  The acquiring CAS (0 -> 1) is acquire and pairs with
 * the releasing CAS (1 -> 0, release) of the previous owner.  At a
 * handoff the critical section reaches the new owner through the claim
 * (acq_rel CAS on the waiter's state, in qlock's critical section) and
 * the waiter's acquire load of its state/posted word in dt_waiter_block.
 * owner and count are accessed only by the holder (relaxed atomics for
 * owner, which others read to answer "is it me?": only the holder can
 * find its own id there).
 */
#include "core/sync.h"

#define SPINS	64	/* pause loops on a held mutex before queueing */

static inline int kind_of(const struct dt_mutex *m)
{
	return m->kind & DT_MUTEX_KIND_MASK;
}

static inline bool valid_clock(clockid_t clk)
{
	return clk == CLOCK_REALTIME || clk == CLOCK_MONOTONIC;
}

static inline bool cas(_Atomic uint32_t *p, uint32_t from, uint32_t to,
		       memory_order mo)
{
	return atomic_compare_exchange_strong_explicit(p, &from, to, mo,
						       memory_order_relaxed);
}

int dt_mutex_init(struct dt_mutex *m, int kind)
{
	if (kind < 0 || kind > DT_MUTEX_ADAPTIVE)
		return -EINVAL;
	atomic_store_explicit(&m->state, DT_MUTEX_UNLOCKED,
			      memory_order_relaxed);
	atomic_store_explicit(&m->owner, 0, memory_order_relaxed);
	m->count = 0;
	atomic_store_explicit(&m->qlock, 0, memory_order_relaxed);
	m->kind = kind;
	m->spare = 0;
	m->q.head = m->q.tail = NULL;
	return 0;
}

int dt_mutex_destroy(struct dt_mutex *m)
{
	if (atomic_load_explicit(&m->state, memory_order_relaxed))
		return -EBUSY;
	return 0;
}

/*
 * Spinning only helps if the holder is running elsewhere: a holder that
 * is a fiber of our own worker cannot run while we spin.  (A heuristic:
 * the owner id may be stale, the arena slot is type-stable.)
 */
static bool worth_spinning(struct dt_mutex *m)
{
	uint32_t o = atomic_load_explicit(&m->owner, memory_order_relaxed);
	uint32_t idx = (o & ~DT_ID_FIBER) - 1;

	if (!(o & DT_ID_FIBER) || !dt_self || idx >= dt_rt.arena.cap)
		return true;
	return __atomic_load_n(&dt_rt.arena.fibers[idx].worker,
			       __ATOMIC_RELAXED) != dt_self;
}

static int lock_slow(struct dt_mutex *m, uint32_t self, int64_t deadline,
		     clockid_t clk)
{
	struct dt_waiter w;
	uint32_t s;
	int i, st;

	if (worth_spinning(m)) {
		for (i = 0; i < SPINS; i++) {
			s = atomic_load_explicit(&m->state,
						 memory_order_relaxed);
			/* acquire: pairs with the unlocker's release */
			if (s == DT_MUTEX_UNLOCKED &&
			    cas(&m->state, 0, DT_MUTEX_LOCKED,
				memory_order_acquire))
				goto out_owned;
			if (s == DT_MUTEX_CONTENDED)
				break;	/* handoff: queue, do not spin */
			__builtin_ia32_pause();
		}
	}
	dt_waiter_init(&w);
	w.data = self;
	dt_spin_lock(&m->qlock);
	for (;;) {
		s = atomic_load_explicit(&m->state, memory_order_relaxed);
		if (s == DT_MUTEX_UNLOCKED) {
			/* Queue empty (invariant): take it.  acquire:
			 * pairs with the unlocker's release. */
			if (cas(&m->state, 0, DT_MUTEX_LOCKED,
				memory_order_acquire)) {
				dt_spin_unlock(&m->qlock);
				goto out_owned;
			}
			continue;
		}
		/* Mark it contended so the holder's unlock comes to qlock.
		 * relaxed: nothing is published by the mark itself; the
		 * queue is ordered by qlock, which the unlock then takes. */
		if (s == DT_MUTEX_CONTENDED ||
		    cas(&m->state, DT_MUTEX_LOCKED, DT_MUTEX_CONTENDED,
			memory_order_relaxed))
			break;
	}
	dt_waitq_push(&m->q, &w);
	st = dt_waitq_block(&m->qlock, &m->q, &w, deadline, clk,
			    DT_REASON_LOCK, false);
	if (st == DT_WAIT_WOKEN)
		return 0;	/* handed over: owner already set for us */
	/* Timed out; qlock held, w unlinked.  If state is 2 it is stable
	 * under qlock and someone holds the mutex: drop the flag if we were
	 * the last waiter.  (An unlock that skipped our claimed record may
	 * have freed it meanwhile: then state is 0 or 1, left alone.) */
	if (dt_waitq_empty(&m->q) &&
	    atomic_load_explicit(&m->state, memory_order_relaxed) ==
	    DT_MUTEX_CONTENDED)
		atomic_store_explicit(&m->state, DT_MUTEX_LOCKED,
				      memory_order_relaxed);
	dt_spin_unlock(&m->qlock);
	return -ETIMEDOUT;

out_owned:
	atomic_store_explicit(&m->owner, self, memory_order_relaxed);
	return 0;
}

/*
 * The part of every lock before waiting.  Returns 0 (acquired), a
 * negative errno, or 1: must wait.
 */
static inline int lock_try(struct dt_mutex *m, uint32_t self)
{
	int kind;

	/* Fast path: acquire pairs with the release in dt_mutex_unlock. */
	if (dt_likely(cas(&m->state, 0, DT_MUTEX_LOCKED,
			  memory_order_acquire))) {
		atomic_store_explicit(&m->owner, self, memory_order_relaxed);
		return 0;
	}
	kind = kind_of(m);
	if (kind != DT_MUTEX_NORMAL && kind != DT_MUTEX_ADAPTIVE &&
	    atomic_load_explicit(&m->owner, memory_order_relaxed) == self) {
		if (kind == DT_MUTEX_ERRORCHECK)
			return -EDEADLK;
		if (m->count == UINT32_MAX)
			return -EAGAIN;
		m->count++;
		return 0;
	}
	return 1;
}

int dt_mutex_lock(struct dt_mutex *m)
{
	uint32_t self = dt_self_id();
	int r = lock_try(m, self);

	if (dt_likely(r <= 0))
		return r;
	return lock_slow(m, self, DT_DEADLINE_NONE, CLOCK_MONOTONIC);
}

int dt_mutex_timedlock(struct dt_mutex *m, int64_t deadline, clockid_t clk)
{
	uint32_t self;
	int r;

	if (!valid_clock(clk))
		return -EINVAL;
	self = dt_self_id();
	r = lock_try(m, self);
	if (dt_likely(r <= 0))
		return r;
	return lock_slow(m, self, deadline, clk);
}

int dt_mutex_trylock(struct dt_mutex *m)
{
	uint32_t self = dt_self_id();
	int r = lock_try(m, self);

	if (r == -EDEADLK)	/* glibc: trylock of an owned errorcheck */
		return -EBUSY;
	return r > 0 ? -EBUSY : r;
}

static void unlock_slow(struct dt_mutex *m)
{
	struct dt_waiter *w;

	for (;;) {
		dt_spin_lock(&m->qlock);
		w = dt_waitq_wake_one(&m->q);
		if (w) {
			/* Hand over: the mutex stays held throughout. */
			atomic_store_explicit(&m->owner, (uint32_t)w->data,
					      memory_order_relaxed);
			if (dt_waitq_empty(&m->q))
				atomic_store_explicit(&m->state,
						      DT_MUTEX_LOCKED,
						      memory_order_relaxed);
			dt_spin_unlock(&m->qlock);
			dt_waiter_post(w);
			return;
		}
		/* No one waits: back to plain "held" (state was 2, stable
		 * under qlock), then release as the fast path does, with
		 * qlock already dropped (see "Freed-while-unlocking"). */
		atomic_store_explicit(&m->state, DT_MUTEX_LOCKED,
				      memory_order_relaxed);
		dt_spin_unlock(&m->qlock);
		/* Release pairs with the acquire CAS of the next owner. */
		if (cas(&m->state, DT_MUTEX_LOCKED, DT_MUTEX_UNLOCKED,
			memory_order_release))
			return;
		/* Someone queued meanwhile (1 -> 2): hand it over. */
	}
}

int dt_mutex_unlock(struct dt_mutex *m)
{
	int kind = kind_of(m);

	if (kind == DT_MUTEX_RECURSIVE || kind == DT_MUTEX_ERRORCHECK) {
		if (atomic_load_explicit(&m->owner, memory_order_relaxed) !=
		    dt_self_id())
			return -EPERM;
		if (m->count) {
			m->count--;
			return 0;
		}
	}
	atomic_store_explicit(&m->owner, 0, memory_order_relaxed);
	/* Fast path: release pairs with the acquire CAS in lock. */
	if (dt_likely(cas(&m->state, DT_MUTEX_LOCKED, DT_MUTEX_UNLOCKED,
			  memory_order_release)))
		return 0;
	unlock_slow(m);
	return 0;
}

uint32_t dt_mutex_nwaiters(struct dt_mutex *m)
{
	uint32_t n;

	dt_spin_lock(&m->qlock);
	n = dt_waitq_len(&m->q);
	dt_spin_unlock(&m->qlock);
	return n;
}
