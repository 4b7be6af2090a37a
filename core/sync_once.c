/* SPDX-License-Identifier: MIT */
/*
 * core/sync_once.c - pthread_once for fibers and threads (contract in
 * core/sync.h), over a small global parking lot.
 *
 * A pthread_once_t is an int: no room for a queue.  Its value:
 *
 *   0 INIT --CAS by the first caller--> 1 RUNNING --exchange--> 3 DONE
 *                                          |  ^ a waiter CASes 1 -> 2
 *                                          v  | (under its bucket lock)
 *                                      2 RUNNING, waiters parked
 *
 * Waiters park in one of LOT_BUCKETS wait queues chosen by hashing the
 * object's address; several objects may share a bucket, so each record
 * carries the object's address in ->data and the runner wakes only the
 * records of its object.  A waiter sets RUNNING -> WAITERS and queues under
 * the bucket lock; the runner, after storing DONE, takes the bucket lock
 * only if it found WAITERS.  Either the waiter's CAS comes first (then the
 * runner sees 2 and, taking the same lock after the waiter released it,
 * finds its record) or the runner's exchange does (then the CAS fails, the
 * waiter sees DONE and returns).  No lost wake-up.
 *
 * Memory ordering: the runner's exchange to DONE is release (after fn);
 * callers read DONE with acquire, so fn's effects happen before their
 * return.  A woken waiter gets them through its claim (the runner's
 * acq_rel CAS after the exchange) and dt_waiter_block's acquire load.
 */
#include "core/sync.h"

#define ONCE_INIT	0
#define ONCE_RUNNING	1
#define ONCE_WAITERS	2
#define ONCE_DONE	3

#define LOT_BUCKETS	64	/* power of two */

struct lot_bucket {
	_Atomic uint32_t lock;		/* protects q */
	struct dt_waitq q;		/* records of any object hashed
					   here, object address in ->data */
} __attribute__((aligned(DT_CACHELINE)));

static struct lot_bucket lot[LOT_BUCKETS];

static struct lot_bucket *bucket_of(const void *addr)
{
	uint64_t h = (uint64_t)(uintptr_t)addr * 0x9e3779b97f4a7c15ull;

	return &lot[h >> (64 - 6)];
}
_Static_assert(LOT_BUCKETS == 1 << 6, "bucket_of takes the top 6 bits");

/* The runner: fn has returned.  Publish DONE, wake the object's waiters. */
static void finish(_Atomic int *o)
{
	struct lot_bucket *b;
	struct dt_waiter *l = NULL, **tail = &l, *w, *nx;

	/* release: pairs with the acquire loads of every caller */
	if (atomic_exchange_explicit(o, ONCE_DONE, memory_order_acq_rel) !=
	    ONCE_WAITERS)
		return;
	b = bucket_of(o);
	dt_spin_lock(&b->lock);
	for (w = b->q.head; w; w = nx) {
		nx = w->next;
		if (w->data != (uintptr_t)o)
			continue;
		dt_waitq_remove(&b->q, w);
		/* Always wins: once waits have no deadline. */
		if (dt_waiter_claim(w, DT_WAIT_WOKEN)) {
			*tail = w;
			tail = &w->next;
		}
	}
	*tail = NULL;
	dt_spin_unlock(&b->lock);
	dt_waitq_post_all(l);
}

static void wait_done(_Atomic int *o)
{
	struct lot_bucket *b = bucket_of(o);
	struct dt_waiter w;
	int v;

	dt_waiter_init(&w);
	w.data = (uintptr_t)o;
	dt_spin_lock(&b->lock);
	v = atomic_load_explicit(o, memory_order_acquire);
	for (;;) {
		if (v == ONCE_DONE) {	/* acquire above: fn's effects */
			dt_spin_unlock(&b->lock);
			return;
		}
		if (v == ONCE_WAITERS ||
		    atomic_compare_exchange_weak_explicit(o, &v, ONCE_WAITERS,
				memory_order_acquire, memory_order_acquire))
			break;
	}
	dt_waitq_push(&b->q, &w);
	dt_waitq_block(&b->lock, &b->q, &w, DT_DEADLINE_NONE, CLOCK_MONOTONIC,
		       DT_REASON_LOCK, false);
	/* Woken by finish(): DONE was stored (release) before the claim. */
}

int dt_once(int *once, void (*fn)(void))
{
	_Atomic int *o = (_Atomic int *)once;
	int v = atomic_load_explicit(o, memory_order_acquire);

	/* Fast path: acquire pairs with the release exchange in finish(). */
	if (dt_likely(v == ONCE_DONE))
		return 0;
	if (v == ONCE_INIT &&
	    atomic_compare_exchange_strong_explicit(o, &v, ONCE_RUNNING,
			memory_order_acquire, memory_order_acquire)) {
		fn();
		finish(o);
		return 0;
	}
	wait_done(o);
	return 0;
}
