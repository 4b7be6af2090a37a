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

/* dt_fiber.stack_committed */
#define STACK_COLD	1	/* read-write, no resident pages known */
#define STACK_WARM	2	/* read-write, touched by a fiber */

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
	/* Nothing is written per slot here: slots are handed out first by
	 * bumping `top` (initialised on first use), so a large capacity
	 * costs address space, not resident memory, until it is used. */
	atomic_store(&a->free_head, 0);
	atomic_store(&a->cold_head, 0);
	atomic_store(&a->top, 0);
	atomic_store(&a->warm_free, 0);
	a->warm_max = DT_WARM_MAX;
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

/* Pop one slot from a shared list (warm or cold); UINT32_MAX when empty. */
static uint32_t list_pop(struct dt_arena *a, _Atomic uint64_t *head)
{
	uint64_t h = atomic_load_explicit(head, memory_order_acquire);

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
		if (atomic_compare_exchange_weak_explicit(head, &h, nh,
				memory_order_acquire, memory_order_acquire))
			return top - 1;
	}
}

static uint32_t shared_pop(struct dt_arena *a)
{
	uint32_t i = list_pop(a, &a->free_head);

	if (i != UINT32_MAX) {
		atomic_fetch_sub_explicit(&a->warm_free, 1,
					  memory_order_relaxed);
		return i;
	}
	return list_pop(a, &a->cold_head);
}

/* A never-used slot from the untouched end of the arena, or UINT32_MAX. */
static uint32_t bump(struct dt_arena *a)
{
	uint32_t i = atomic_load_explicit(&a->top, memory_order_relaxed);

	do {
		if (i >= a->cap)
			return UINT32_MAX;
	} while (!atomic_compare_exchange_weak_explicit(&a->top, &i, i + 1,
			memory_order_relaxed, memory_order_relaxed));
	a->fibers[i].idx = i;
	atomic_store_explicit(&a->fibers[i].gen, 1, memory_order_relaxed);
	return i;
}

/* Push a chain first..last (linked through next_free) in one CAS. */
static void list_push_chain(struct dt_arena *a, _Atomic uint64_t *head,
			    uint32_t first, uint32_t last)
{
	uint64_t h = atomic_load_explicit(head, memory_order_relaxed);

	for (;;) {
		atomic_store_explicit(&a->next_free[last], (uint32_t)h,
				      memory_order_relaxed);
		/* Release: the slots' contents (gen bump, state) are visible
		 * to whoever pops them. */
		if (atomic_compare_exchange_weak_explicit(head, &h,
				((h & ~0xffffffffull) + TAG_ONE) | (first + 1),
				memory_order_release, memory_order_relaxed))
			return;
	}
}

/*
 * Free slots wait on two shared lists: warm (stack pages still resident,
 * reused first: no page faults) and cold (pages returned to the kernel).
 * A slot goes back warm while fewer warm slots wait than the high-water
 * mark, max(warm_max, the peak of live slots since the last trim); past
 * it, its pages are returned at once.  Between bursts, idle workers trim
 * the warm list down to max(warm_max, live) a batch at a time
 * (dt_arena_trim), so memory follows the load down without a burst of
 * madvise on any spawn or join path.
 */
static uint32_t warm_limit(struct dt_arena *a)
{
	uint32_t p = atomic_load_explicit(&a->peak, memory_order_relaxed);

	return p > a->warm_max ? p : a->warm_max;
}

static void release_stack(struct dt_arena *a, uint32_t i)
{
	dt_sys(SYS_madvise, a->stacks + (size_t)i * a->slot_bytes + a->page,
	       a->stack_bytes, MADV_DONTNEED, 0, 0, 0);
	a->fibers[i].stack_committed = STACK_COLD;
}

/* Push free slots first..last (chained) where they belong. */
static void to_shared(struct dt_arena *a, const uint32_t *v, uint32_t n)
{
	uint32_t k, wn = 0, cn = 0, wv[DT_CACHE_BATCH], cv[DT_CACHE_BATCH];
	uint32_t lim = warm_limit(a);

	for (k = 0; k < n; k++) {
		uint32_t i = v[k];

		if (a->fibers[i].stack_committed == STACK_WARM &&
		    atomic_fetch_add_explicit(&a->warm_free, 1,
				memory_order_relaxed) < lim) {
			wv[wn++] = i;
			continue;
		}
		if (a->fibers[i].stack_committed == STACK_WARM) {
			atomic_fetch_sub_explicit(&a->warm_free, 1,
						  memory_order_relaxed);
			release_stack(a, i);
		}
		cv[cn++] = i;
	}
	for (k = 0; k + 1 < wn; k++)
		atomic_store_explicit(&a->next_free[wv[k]], wv[k + 1] + 1,
				      memory_order_relaxed);
	if (wn)
		list_push_chain(a, &a->free_head, wv[0], wv[wn - 1]);
	for (k = 0; k + 1 < cn; k++)
		atomic_store_explicit(&a->next_free[cv[k]], cv[k + 1] + 1,
				      memory_order_relaxed);
	if (cn)
		list_push_chain(a, &a->cold_head, cv[0], cv[cn - 1]);
}

bool dt_arena_trim(struct dt_arena *a, unsigned budget)
{
	uint32_t live = atomic_load_explicit(&a->live, memory_order_relaxed);
	uint32_t lim;

	/* The burst is over: the mark follows the load down. */
	atomic_store_explicit(&a->peak, live, memory_order_relaxed);
	lim = warm_limit(a);
	while (budget-- &&
	       atomic_load_explicit(&a->warm_free, memory_order_relaxed) > lim) {
		uint32_t i = list_pop(a, &a->free_head);

		if (i == UINT32_MAX)
			break;
		atomic_fetch_sub_explicit(&a->warm_free, 1,
					  memory_order_relaxed);
		release_stack(a, i);
		list_push_chain(a, &a->cold_head, i, i);
	}
	return atomic_load_explicit(&a->warm_free, memory_order_relaxed) > lim;
}

void dt_arena_fork_child(struct dt_arena *a)
{
	int k;

	for (k = 0; k < dt_rt.nworkers; k++) {
		struct dt_worker *v = &dt_rt.workers[k];
		uint32_t n = v->cache_n, i;

		/* A cache whose lock a vanished thread held may be half
		 * updated: its slots are given up, not risked. */
		if (!atomic_load_explicit(&v->cache_lock,
					  memory_order_relaxed) &&
		    n <= DT_CACHE_SLOTS)
			for (i = 0; i < n; i += DT_CACHE_BATCH)
				to_shared(a, v->cache + i,
					  n - i < DT_CACHE_BATCH ?
					  n - i : DT_CACHE_BATCH);
		v->cache_n = 0;
		atomic_store_explicit(&v->cache_lock, 0, memory_order_relaxed);
	}
}

/* Take free slots out of other workers' caches (capacity is exhausted
 * elsewhere: slots must not be stranded in a cache).  One slot or
 * UINT32_MAX. */
static uint32_t steal(struct dt_arena *a, struct dt_worker *self)
{
	int k;

	for (k = 0; k < dt_rt.nworkers && dt_rt.workers; k++) {
		struct dt_worker *v = &dt_rt.workers[k];
		uint32_t i = UINT32_MAX;

		if (v == self || !v->cache_n)
			continue;
		dt_spin_lock(&v->cache_lock);
		if (v->cache_n)
			i = v->cache[--v->cache_n];
		dt_spin_unlock(&v->cache_lock);
		if (i != UINT32_MAX)
			return i;
	}
	return UINT32_MAX;
}

struct dt_fiber *dt_arena_alloc(struct dt_arena *a, struct dt_worker *w)
{
	uint32_t i = UINT32_MAX;

	if (w) {
		/* The lock is the owner's almost always: one uncontended
		 * exchange; other workers take it only to steal (steal()). */
		dt_spin_lock(&w->cache_lock);
		if (w->cache_n)
			i = w->cache[--w->cache_n];
		dt_spin_unlock(&w->cache_lock);
	}
	if (i == UINT32_MAX) {
		i = shared_pop(a);
		if (i == UINT32_MAX)
			i = bump(a);
		if (i == UINT32_MAX)
			i = steal(a, w);
		if (i == UINT32_MAX)
			return NULL;
	}
	{
		uint32_t l = atomic_fetch_add_explicit(&a->live, 1,
						       memory_order_relaxed) + 1;

		if (l > atomic_load_explicit(&a->peak, memory_order_relaxed))
			atomic_store_explicit(&a->peak, l,
					      memory_order_relaxed);
	}
	return &a->fibers[i];
}

void dt_arena_free(struct dt_arena *a, struct dt_worker *w,
		   struct dt_fiber *f)
{
	uint32_t i = f->idx, batch[DT_CACHE_BATCH];

	/* A new generation: every handle to the old fiber is now stale. */
	atomic_fetch_add_explicit(&f->gen, 1, memory_order_release);
	f->state = DT_FIBER_FREE;
	atomic_fetch_sub_explicit(&a->live, 1, memory_order_relaxed);

	if (!w) {
		to_shared(a, &i, 1);
		return;
	}
	dt_spin_lock(&w->cache_lock);
	if (w->cache_n < DT_CACHE_SLOTS) {
		w->cache[w->cache_n++] = i;
		dt_spin_unlock(&w->cache_lock);
		return;
	}
	/* Cache full: the oldest batch goes to the shared list. */
	memcpy(batch, w->cache, sizeof(batch));
	memmove(w->cache, w->cache + DT_CACHE_BATCH,
		(DT_CACHE_SLOTS - DT_CACHE_BATCH) * sizeof(uint32_t));
	w->cache_n -= DT_CACHE_BATCH;
	w->cache[w->cache_n++] = i;
	dt_spin_unlock(&w->cache_lock);
	to_shared(a, batch, DT_CACHE_BATCH);
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
	}
	/* It will be touched: warm from now until released. */
	f->stack_committed = STACK_WARM;
	f->stack_lo = lo;
	f->stack_size = a->stack_bytes;
	f->stack_kind = DT_STACK_ARENA;
	return 0;
}
