/* SPDX-License-Identifier: MIT */
/*
 * core/mailbox.h - the mesh's links.
 *
 * dt_mailbox: a bounded single-producer/single-consumer ring of fiber
 * indices, one per ordered pair of workers (producer = the waking or
 * spawning worker, consumer = the fiber's owner).  Head and tail live on
 * separate cache lines, and each side caches the other's index so that a
 * push or a drain touches the shared line only when its cache says the
 * ring looks full (push) or empty (drain).  The consumer takes everything
 * published so far in one batch: one acquire load and one release store
 * per batch, however many fibers it moves.
 *
 * dt_inject: an unbounded multi-producer stack of fibers linked through
 * dt_fiber.next, for threads that are not workers and for a producer
 * whose ring to the target is full.  Push is a CAS loop; the consumer
 * takes the whole stack with one exchange and reverses it, so the order
 * seen by the consumer is push order per producer.  No ABA: nodes are
 * never popped one at a time.
 */
#ifndef DT_CORE_MAILBOX_H
#define DT_CORE_MAILBOX_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define DT_CACHELINE	64
#define DT_MAILBOX_CAP	1024u		/* slots; a power of two */

struct dt_mailbox {
	/* producer's line */
	_Alignas(DT_CACHELINE) _Atomic uint32_t tail;	/* next slot to fill */
	uint32_t head_cache;	/* producer's last view of head */
	/* consumer's line */
	_Alignas(DT_CACHELINE) _Atomic uint32_t head;	/* next slot to take */
	uint32_t tail_cache;	/* consumer's last view of tail */
	_Alignas(DT_CACHELINE) uint32_t slot[DT_MAILBOX_CAP];
};

/* Producer side.  false when full (the caller falls back to dt_inject). */
static inline bool dt_mailbox_push(struct dt_mailbox *m, uint32_t v)
{
	uint32_t t = atomic_load_explicit(&m->tail, memory_order_relaxed);

	if (t - m->head_cache == DT_MAILBOX_CAP) {
		/* Pairs with the release store of head in dt_mailbox_drain:
		 * slots below head are no longer read by the consumer. */
		m->head_cache = atomic_load_explicit(&m->head,
						     memory_order_acquire);
		if (t - m->head_cache == DT_MAILBOX_CAP)
			return false;
	}
	m->slot[t & (DT_MAILBOX_CAP - 1)] = v;
	/* Publishes the slot; pairs with the acquire load in drain. */
	atomic_store_explicit(&m->tail, t + 1, memory_order_release);
	return true;
}

/*
 * Consumer side.  Calls fn(ctx, v) for every value published so far, in
 * push order, and returns how many.
 */
static inline unsigned dt_mailbox_drain(struct dt_mailbox *m,
					void (*fn)(void *ctx, uint32_t v),
					void *ctx)
{
	uint32_t h = atomic_load_explicit(&m->head, memory_order_relaxed);
	/* Pairs with the release store of tail in dt_mailbox_push. */
	uint32_t t = atomic_load_explicit(&m->tail, memory_order_acquire);
	unsigned n = t - h;

	m->tail_cache = t;
	for (; h != t; h++)
		fn(ctx, m->slot[h & (DT_MAILBOX_CAP - 1)]);
	if (n)
		/* Hands the slots back; pairs with the producer's acquire. */
		atomic_store_explicit(&m->head, t, memory_order_release);
	return n;
}

static inline bool dt_mailbox_empty(struct dt_mailbox *m)
{
	return atomic_load_explicit(&m->head, memory_order_relaxed) ==
	       atomic_load_explicit(&m->tail, memory_order_acquire);
}

#endif
