/* SPDX-License-Identifier: MIT */
/*
 * core/arena.c - the context arena: fiber control blocks and their stacks
 * from one pre-reserved region (DESIGN 4).
 *
 * Layout of the stack reservation, one slot per fiber:
 *
 *   stacks + i * slot_bytes
 *   +-----------+----------------------------------------------+
 *   | guard     | stack (stack_bytes), grows down from the top  |
 *   | PROT_NONE | PROT_NONE until first use, then read-write    |
 *   +-----------+----------------------------------------------+
 *
 * The whole region is one MAP_NORESERVE|PROT_NONE mapping, so the
 * reservation costs address space, not memory; a slot's stack is made
 * read-write the first time the slot is used and stays so; the kernel
 * commits its pages as the fiber touches them.
 *
 * Guards and vm.max_map_count.  A PROT_NONE guard between two read-write
 * stacks splits the mapping: two VMAs per committed slot, so the default
 * vm.max_map_count (65530) would cap the process at ~32,700 committed
 * stacks, half the default capacity.  So a slot is committed by making
 * guard and stack read-write together (adjacent committed slots merge into
 * one VMA) and then installing the guard with MADV_GUARD_INSTALL (Linux
 * 6.13), which faults on access without a VMA of its own.  Older kernels
 * refuse it (EINVAL): the guard is then mprotect(PROT_NONE)ed, as before.
 *
 * Control blocks are a separate array, also reserved up front: slots are
 * type-stable (never unmapped while the runtime lives), so a stale pointer
 * or handle to a fiber reads a valid struct whose generation tells it is
 * stale.
 *
 * Free slots: a lock-free LIFO of slot indices with an ABA tag in the high
 * half of the head word, and in front of it a per-worker cache of
 * DT_CACHE_SLOTS indices touched only by its worker, so that spawn and
 * exit on a warm worker make no syscall and no shared write.  When a cache
 * overflows, DT_CACHE_BATCH slots go back to the shared list and their
 * stacks' resident pages are returned to the kernel (MADV_DONTNEED): the
 * cache is the high-water mark of warm stacks a worker keeps.
 */
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/dt.h"

#ifdef DT_SAN
#include <sanitizer/asan_interface.h>
#endif

#define TAG_ONE (1ull << 32)

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102	/* linux/mman.h, Linux 6.13 */
#endif

static void *reserve(size_t bytes)
{
	long r = dt_sys(SYS_mmap, 0, bytes, PROT_NONE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	return (r < 0 && r > -4096) ? NULL : (void *)r;
}

int dt_arena_init(struct dt_arena *a, uint32_t cap, size_t stack_bytes)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t fib_bytes;
	uint32_t i;

	memset(a, 0, sizeof(*a));
	a->page = page;
	a->cap = cap;
	a->stack_bytes = (stack_bytes + page - 1) & ~(page - 1);
	a->slot_bytes = a->stack_bytes + page;

	fib_bytes = (size_t)cap * sizeof(struct dt_fiber) +
		    (size_t)cap * sizeof(uint32_t);
	fib_bytes = (fib_bytes + page - 1) & ~(page - 1);
	a->fibers = (struct dt_fiber *)dt_sys(SYS_mmap, 0, fib_bytes,
			PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if ((long)a->fibers < 0 && (long)a->fibers > -4096)
		return -ENOMEM;
	a->next_free = (_Atomic uint32_t *)(a->fibers + cap);

	a->stacks = reserve((size_t)cap * a->slot_bytes);
	if (!a->stacks) {
		dt_sys(SYS_munmap, a->fibers, fib_bytes, 0, 0, 0, 0);
		a->fibers = NULL;
		return -ENOMEM;
	}
	/* Free list in index order: slot 0 on top.  Links are slot + 1. */
	for (i = 0; i < cap; i++) {
		a->fibers[i].idx = i;
		a->fibers[i].gen = 1;
		a->next_free[i] = (i + 1 < cap) ? i + 2 : 0;
	}
	atomic_store(&a->free_head, cap ? 1 : 0);
	return 0;
}

void dt_arena_fini(struct dt_arena *a)
{
	size_t fib_bytes = (size_t)a->cap * sizeof(struct dt_fiber) +
			   (size_t)a->cap * sizeof(uint32_t);

	fib_bytes = (fib_bytes + a->page - 1) & ~(a->page - 1);
#ifdef DT_SAN
	/* Fibers still holding a slot (parked at shutdown, zombies) left
	 * ASan poison above their saved sp; reaped ones were cleared in
	 * reap().  Clear it before the raw munmap, which ASan does not see:
	 * a later mapping at these addresses (the next runtime's arena)
	 * would inherit false stack-buffer-overflow reports. */
	if (a->fibers) {
		uint32_t i;

		for (i = 0; i < a->cap; i++) {
			struct dt_fiber *f = &a->fibers[i];
			char *sp = f->sp, *lo = f->stack_lo;

			if (f->state != DT_FIBER_FREE && lo && sp >= lo &&
			    sp < lo + f->stack_size)
				__asan_unpoison_memory_region(sp,
					(size_t)(lo + f->stack_size - sp));
		}
	}
#endif
	if (a->stacks)
		dt_sys(SYS_munmap, a->stacks, (size_t)a->cap * a->slot_bytes,
		       0, 0, 0, 0);
	if (a->fibers)
		dt_sys(SYS_munmap, a->fibers, fib_bytes, 0, 0, 0, 0);
	memset(a, 0, sizeof(*a));
}

/* Pop one slot from the shared list; UINT32_MAX when empty. */
static uint32_t shared_pop(struct dt_arena *a)
{
	uint64_t h = atomic_load_explicit(&a->free_head, memory_order_acquire);

	for (;;) {
		uint32_t top = (uint32_t)h;
		uint64_t nh;

		if (!top)
			return UINT32_MAX;
		/* The slot's link may be rewritten by a concurrent pop+push;
		 * then the tag has moved on and the CAS below fails. */
		nh = ((h & ~0xffffffffull) + TAG_ONE) |
		     atomic_load_explicit(&a->next_free[top - 1],
					  memory_order_relaxed);
		if (atomic_compare_exchange_weak_explicit(&a->free_head, &h,
				nh, memory_order_acquire,
				memory_order_acquire))
			return top - 1;
	}
}

/* Push a chain first..last (linked through next_free) in one CAS. */
static void shared_push_chain(struct dt_arena *a, uint32_t first,
			      uint32_t last)
{
	uint64_t h = atomic_load_explicit(&a->free_head, memory_order_relaxed);

	for (;;) {
		atomic_store_explicit(&a->next_free[last], (uint32_t)h,
				      memory_order_relaxed);
		/* Release: the slots' contents (gen bump, state) are visible
		 * to whoever pops them. */
		if (atomic_compare_exchange_weak_explicit(&a->free_head, &h,
				((h & ~0xffffffffull) + TAG_ONE) | (first + 1),
				memory_order_release, memory_order_relaxed))
			return;
	}
}

static void release_stack(struct dt_arena *a, uint32_t i)
{
	struct dt_fiber *f = &a->fibers[i];

	if (f->stack_committed)
		dt_sys(SYS_madvise, a->stacks + (size_t)i * a->slot_bytes +
		       a->page, a->stack_bytes, MADV_DONTNEED, 0, 0, 0);
}

struct dt_fiber *dt_arena_alloc(struct dt_arena *a, struct dt_worker *w)
{
	uint32_t i;

	if (w && w->cache_n) {
		i = w->cache[--w->cache_n];
	} else {
		i = shared_pop(a);
		if (i == UINT32_MAX)
			return NULL;
		/* Refill the cache in the same trip, up to half full. */
		while (w && w->cache_n < DT_CACHE_BATCH) {
			uint32_t j = shared_pop(a);

			if (j == UINT32_MAX)
				break;
			w->cache[w->cache_n++] = j;
		}
	}
	atomic_fetch_add_explicit(&a->live, 1, memory_order_relaxed);
	return &a->fibers[i];
}

void dt_arena_free(struct dt_arena *a, struct dt_worker *w,
		   struct dt_fiber *f)
{
	uint32_t i = f->idx, k;

	/* A new generation: every handle to the old fiber is now stale. */
	atomic_fetch_add_explicit(&f->gen, 1, memory_order_release);
	f->state = DT_FIBER_FREE;
	atomic_fetch_sub_explicit(&a->live, 1, memory_order_relaxed);

	if (w && w->cache_n < DT_CACHE_SLOTS) {
		w->cache[w->cache_n++] = i;
		return;
	}
	if (!w) {
		release_stack(a, i);
		shared_push_chain(a, i, i);
		return;
	}
	/* Cache full: spill the oldest batch, cold stacks first to go. */
	for (k = 0; k < DT_CACHE_BATCH; k++) {
		release_stack(a, w->cache[k]);
		if (k + 1 < DT_CACHE_BATCH)
			atomic_store_explicit(&a->next_free[w->cache[k]],
					      w->cache[k + 1] + 1,
					      memory_order_relaxed);
	}
	shared_push_chain(a, w->cache[0], w->cache[DT_CACHE_BATCH - 1]);
	memmove(w->cache, w->cache + DT_CACHE_BATCH,
		(DT_CACHE_SLOTS - DT_CACHE_BATCH) * sizeof(uint32_t));
	w->cache_n -= DT_CACHE_BATCH;
	w->cache[w->cache_n++] = i;
}

int dt_arena_commit_stack(struct dt_arena *a, struct dt_fiber *f)
{
	char *lo = a->stacks + (size_t)f->idx * a->slot_bytes + a->page;

	if (!f->stack_committed) {
		char *guard = lo - a->page;
		long r;

		/* Guard and stack together: see "Guards" at the top. */
		r = dt_sys(SYS_mprotect, guard, a->page + a->stack_bytes,
			   PROT_READ | PROT_WRITE, 0, 0, 0);
		if (r < 0)
			return (int)r;
		r = dt_sys(SYS_madvise, guard, a->page, MADV_GUARD_INSTALL, 0,
			   0, 0);
		if (r < 0)
			r = dt_sys(SYS_mprotect, guard, a->page, PROT_NONE, 0,
				   0, 0);
		if (r < 0)
			return (int)r;
		f->stack_committed = 1;
	}
	f->stack_lo = lo;
	f->stack_size = a->stack_bytes;
	f->stack_kind = DT_STACK_ARENA;
	return 0;
}
