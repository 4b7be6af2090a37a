/* SPDX-License-Identifier: MIT */
/*
 * core/dt.h - the runtime's private header: fibers, workers, the arena,
 * waiters, and the functions the layers above (the C API, the shim) use.
 *
 * Threads and ownership, in one place:
 *  - A fiber is placed on a worker when it is spawned and never leaves it
 *    (DESIGN 3).  Its saved context, its timer and its errno slot are
 *    touched only by that worker's thread.
 *  - A worker's local run queue and timer heap belong to its thread alone.
 *    Other threads reach a worker only through its mailboxes (one SPSC ring
 *    per producing worker) and its injection stack, and wake it through
 *    its eventfd when it announced that it is parking in epoll_wait.
 *  - core/ returns 0 or -E... and never writes errno, except that it saves
 *    and restores the application's errno across fiber switches.
 */
#ifndef DT_CORE_DT_H
#define DT_CORE_DT_H

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "arch/switch.h"
#include "core/mailbox.h"
#include "core/timer.h"

#define DT_HIDDEN __attribute__((visibility("hidden")))
#define DT_API __attribute__((visibility("default")))
#define dt_likely(x) __builtin_expect(!!(x), 1)
#define dt_unlikely(x) __builtin_expect(!!(x), 0)

#define DT_MAX_WORKERS		1024
#define DT_MIN_STACK		(16u << 10)
#define DT_MAX_STACK		(1ull << 30)
#define DT_DEFAULT_MAX_FIBERS	65536u
#define DT_MAX_MAX_FIBERS	(1u << 22)
#define DT_CACHE_SLOTS		64u	/* per-worker arena cache */
#define DT_CACHE_BATCH		32u	/* spill batch */
#define DT_WARM_MAX		1024u	/* warm free stacks kept (arena.c) */
#define DT_KEYS_MAX		1024u	/* PTHREAD_KEYS_MAX on glibc */
#define DT_DESTRUCTOR_ITERATIONS 4	/* PTHREAD_DESTRUCTOR_ITERATIONS */
#define DT_INTR_SLOTS		16	/* pending interrupt requests/worker */

/* ---------------------------------------------------------------- */
/* Fibers                                                            */

enum dt_fiber_state {
	DT_FIBER_FREE = 0,	/* slot on a free list */
	DT_FIBER_READY,		/* in a run queue, mailbox or injection stack */
	DT_FIBER_RUNNING,
	DT_FIBER_PARKED,	/* switched out, waiting for dt_fiber_unpark */
	DT_FIBER_DONE,		/* finished, not yet joined (zombie) */
};

/* Why a fiber switched out (USDT switch_out reason, stats). */
enum dt_reason {
	DT_REASON_YIELD = 0,
	DT_REASON_IO,
	DT_REASON_SLEEP,
	DT_REASON_LOCK,
	DT_REASON_JOIN,
	DT_REASON_EXIT,
	DT_REASON_OTHER,
	DT_REASON_NR
};

enum dt_stack_kind {
	DT_STACK_ARENA = 0,	/* the slot's own reservation */
	DT_STACK_MMAP,		/* a larger private mapping, unmapped at reap */
	DT_STACK_USER,		/* caller's memory, never touched at reap */
};

struct dt_worker;
struct dt_waiter;
struct dt_keyvals;

struct dt_fiber {
	/* --- switch path: first cache line --- */
	void *sp;			/* saved stack pointer when not running */
	struct dt_fiber *next;		/* run queue / injection stack link */
	struct dt_worker *worker;	/* owner, fixed at spawn */
	uint8_t fp;			/* resume with dt_ctx_switch_fp */
	uint8_t kind;			/* DTACT kind: 0 compute, 1 io, 3 system */
	uint8_t state;			/* enum dt_fiber_state, owner-written */
	uint8_t reason;			/* last enum dt_reason */
	int saved_errno;		/* the application's errno while out */
	uint32_t idx;			/* arena slot */
	_Atomic uint32_t gen;		/* bumped when the slot is freed */
	int64_t ready_ns;		/* when it became runnable (probes) */
	/* Observability (core/probes.h, core/watchdog.c). */
	uint32_t ready_epoch;		/* dt_probe_epoch of ready_ns */
	uint8_t fresh;			/* never ran, may still move to another
					   worker (stall handoff); cleared by
					   its worker when it first runs */
	uint64_t fresh_due;		/* while fresh and queued: its worker's
					   switch count at its FIFO turn */

	/* --- entry --- */
	void (*fn)(void *);
	void *arg;
	void *retval;			/* pthread_exit / return value */

	/* --- stack --- */
	void *stack_lo;			/* lowest usable address */
	size_t stack_size;		/* usable bytes above stack_lo */
	uint8_t stack_kind;		/* enum dt_stack_kind */
	uint8_t stack_committed;	/* arena slot stack is read-write */

	/* --- join / detach: protected by join_lock --- */
	_Atomic uint32_t join_lock;
	uint8_t detached;
	uint8_t done;
	struct dt_waiter *joiner;	/* the one waiter in dtact_await */

	/* --- waiting --- */
	struct dt_timer timer;		/* deadline of the current wait */
	struct dt_waiter *wait;		/* the current wait record, if parked */
	uintptr_t wait_obj;		/* what it waits on, for the fiber dump:
					   the fd (reactor) or the wait queue
					   (sync); a plain store, read racily */
	int64_t park_ns;		/* when it last parked; stamped only
					   while the dump is armed
					   (dt_dump_armed) */
	uint8_t intr;			/* the wait may end with EINTR: 0 no,
					   DT_INTR_RESTARTABLE, DT_INTR_ALWAYS,
					   DT_INTR_CANCEL */
	_Atomic uint8_t intr_req;	/* DT_INTR_REQ_* bits */

	/* --- owned by the layer above (shim: deferred cancellation) --- */
	_Atomic uint32_t cancel;	/* state bits, any thread; 0 at spawn */
	void *cleanup;			/* cleanup chain, the fiber's own;
					   NULL at spawn */

	/* --- fiber-local storage --- */
	struct dt_keyvals *keys;	/* NULL until the first set */
	void *user;			/* owned by the layer above (shim) */
	char name[16];			/* pthread_setname_np, NUL-terminated */

#ifdef DT_SAN
	void *asan_fake_stack;		/* __sanitizer_*_switch_fiber */
#endif
};

/* Handle = generation in the high 32 bits, slot + 1 in the low 32. */
static inline uint64_t dt_fiber_handle(struct dt_fiber *f)
{
	return ((uint64_t)atomic_load_explicit(&f->gen, memory_order_relaxed)
		<< 32) | (f->idx + 1);
}

/* ---------------------------------------------------------------- */
/* The context arena                                                 */

struct dt_arena {
	struct dt_fiber *fibers;	/* type-stable control blocks */
	_Atomic uint32_t *next_free;	/* free-list link per slot */
	char *stacks;			/* reservation: cap * slot_bytes */
	size_t slot_bytes;		/* guard page + stack */
	size_t stack_bytes;		/* usable stack per slot */
	size_t page;
	uint32_t cap;			/* slots */
	/* Tagged heads: tag (ABA counter) << 32 | (slot + 1), 0 = empty.
	 * free_head: slots with warm stacks; cold_head: pages returned. */
	_Alignas(DT_CACHELINE) _Atomic uint64_t free_head;
	_Atomic uint64_t cold_head;
	_Atomic uint32_t live;		/* slots handed out */
	_Atomic uint32_t top;		/* slots ever used: [top, cap) untouched */
	_Atomic uint32_t warm_free;	/* slots on the warm list */
	_Atomic uint32_t peak;		/* most live slots since the last trim */
	uint32_t warm_max;		/* warm slots kept however low the load */
};

/* ---------------------------------------------------------------- */
/* Workers                                                           */

struct dt_stats_worker {
	uint64_t switches;
	uint64_t spawns;
	uint64_t parks[DT_REASON_NR];
	uint64_t mailbox_in;		/* fibers received through mailboxes */
	uint64_t inject_in;		/* ... through the injection stack */
	uint64_t epoll_waits;		/* blocking epoll waits */
	uint64_t wakeups_sent;		/* eventfd writes to other workers */
};

struct dt_worker {
	/* --- owner only --- */
	struct dt_fiber *cur;		/* running fiber, NULL in the loop */
	void *idle_sp;			/* the scheduler loop's saved context */
	struct dt_fiber *runq_head;	/* local FIFO run queue */
	struct dt_fiber *runq_tail;
	uint32_t runq_len;
	uint32_t tick;			/* picks since the last clock look */
	_Atomic uint32_t fresh_n;	/* fibers in fresh_head (see below) */
	int64_t last_poll;		/* ns of the last non-blocking poll */
	struct dt_fiber *dead;		/* exited fiber to reap after switch */
	struct dt_timer_heap timers;
	_Atomic uint32_t cache_lock;	/* protects cache_n, cache[]: taken
					   by the owner, and by other threads
					   only to steal at capacity */
	uint32_t cache_n;		/* arena cache */
	uint32_t cache[DT_CACHE_SLOTS];
	int id;
	int epfd;			/* this worker's epoll instance */
	int evfd;			/* eventfd: mailbox/injection signal */
	struct dt_stats_worker st;
	/* Never-started fibers placed here wait in this FIFO, apart from
	 * the run queue, while the stall watchdog runs: it may hand them to
	 * another worker (core/watchdog.c).  fresh_head, fresh_tail and
	 * writes of fresh_n are touched by the owner while fresh_own is 1
	 * and by the watchdog while fresh_steal is 1, never both (the
	 * asymmetric exclusion in core/watchdog.c).  The owner's pick reads
	 * fresh_n (above) outside. */
	_Atomic uint32_t fresh_own;
	_Atomic uint32_t fresh_steal;
	struct dt_fiber *fresh_head, *fresh_tail;
	/* Probes (owner only; written only while a switch probe is enabled):
	 * the switch count and time of the last switch seen with probes on. */
	uint64_t pr_sw;
	int64_t pr_in_ns;
	void *loop_stack_lo;		/* for ASan annotations */
	size_t loop_stack_size;

	/* --- written by other threads --- */
	/* Fibers placed here, alive (spawn placement reads it). */
	_Alignas(DT_CACHELINE) _Atomic uint32_t resident;
	/* 1 while the stall watchdog finds this worker stalled: spawn
	 * placement goes elsewhere (core/watchdog.c writes it). */
	_Atomic uint32_t stalled;
	/* 1 while the loop is about to block or blocked in epoll_wait. */
	_Alignas(DT_CACHELINE) _Atomic uint32_t sleeping;
	/* Injection stack head (struct dt_fiber *). */
	_Alignas(DT_CACHELINE) _Atomic(struct dt_fiber *) inject;
	/* fds registered in epfd (reactor), so a busy worker knows whether
	 * it has readiness to look at. */
	_Atomic uint32_t nregs;
	/* A signal handler (or pthread_cancel) asked to interrupt the wait
	 * of the fibers in intr_fibers (free slots are NULL). */
	_Atomic uint32_t intr_pending;
	struct dt_fiber *_Atomic intr_fibers[DT_INTR_SLOTS];
	/* Bit s set: the mailbox from worker s has fibers.  */
	_Alignas(DT_CACHELINE) _Atomic uint64_t *mail_bits;
	/* mbox[s]: ring from worker s to this one, allocated at init. */
	struct dt_mailbox **mbox;
};

struct dt_runtime {
	int nworkers;
	size_t stack_size;		/* default fiber stack, bytes */
	uint32_t max_fibers;
	struct dt_worker *workers;	/* nworkers entries */
	struct dt_arena arena;
	_Atomic int state;		/* 0 off, 1 running, 2 shutting down */
	_Atomic uint32_t rr;		/* round robin for non-worker spawns */
	_Atomic uint32_t threads_exited;
	void *threads;			/* pthread_t[nworkers] */
};

extern struct dt_runtime dt_rt;
extern __thread struct dt_worker *dt_self;	/* NULL off the workers */

/* ---------------------------------------------------------------- */
/* Waiters: the one wait record under every blocking primitive.       */

enum {
	DT_WAIT_WAITING = 0,
	DT_WAIT_WOKEN,		/* claimed by a waker */
	DT_WAIT_TIMEDOUT,	/* claimed by the deadline */
	DT_WAIT_CANCELLED,	/* claimed by close() (reactor) */
	DT_WAIT_INTERRUPTED,	/* claimed by a signal (dt_fiber_interrupt) */
};

/*
 * Caller storage (usually on the waiting stack).  A waiter is either a
 * fiber (woken by making it runnable) or an OS thread (woken by a futex on
 * `posted`).  Exactly one party claims it (CAS of `state` away from
 * WAITING); only the claimant posts it, and the waiting side does not
 * return before it is posted, so the record stays valid for the poster.
 *
 * Groups: a wait on several objects at once (poll) links one record per
 * object, each with `group` pointing at the primary record; claims and
 * posts go to the primary, so the first object to fire wins.  A lone
 * record is its own group.  After waking, the waiting side takes the lock
 * of every list it was linked in before returning, so that a waker still
 * holding that lock has finished with the record.
 */
struct dt_waiter {
	struct dt_waiter *next, *prev;	/* in the owner queue's list */
	struct dt_waiter *group;	/* primary record (self if alone) */
	struct dt_fiber *fiber;		/* NULL for an OS thread */
	_Atomic uint32_t state;		/* DT_WAIT_* */
	_Atomic uint32_t posted;	/* thread waiters: 0 -> 1 */
	uintptr_t data;			/* for the queue's owner */
	int linked;			/* in a list (owner's lock protects) */
	uint32_t epoch;			/* dt_fork_epoch at dt_waiter_init */
};

/* Bumped in the child of fork(2) (dt_rt_fork_child): a waiter recorded
 * before it belongs to a thread that does not exist in the child. */
extern uint32_t dt_fork_epoch;

void dt_waiter_init(struct dt_waiter *w);
/* Initialise w as a secondary record of group g. */
void dt_waiter_init_member(struct dt_waiter *w, struct dt_waiter *g);
/*
 * Wait until claimed.  deadline: absolute ns on clock clk
 * (CLOCK_MONOTONIC or CLOCK_REALTIME), DT_DEADLINE_NONE for none.  Fibers
 * park (reason for statistics), threads sleep on a futex.  Returns the
 * final state: DT_WAIT_WOKEN, DT_WAIT_TIMEDOUT or DT_WAIT_CANCELLED.
 */
int dt_waiter_block(struct dt_waiter *w, int64_t deadline, clockid_t clk,
		    int reason);
/* Claim w for waking with final state st.  true if this caller won;
 * false for a waiter of a thread that vanished in fork(2), so that what
 * it waited for (a mutex handoff, a semaphore token) goes to the next. */
static inline bool dt_waiter_claim(struct dt_waiter *w, uint32_t st)
{
	struct dt_waiter *g = w->group;
	uint32_t exp = DT_WAIT_WAITING;

	if (dt_unlikely(g->epoch != dt_fork_epoch))
		return false;
	return atomic_compare_exchange_strong_explicit(&g->state, &exp, st,
			memory_order_acq_rel, memory_order_acquire);
}
/* Wake a waiter this caller claimed.  Any thread, no lock needed. */
void dt_waiter_post(struct dt_waiter *w);

/* ---------------------------------------------------------------- */
/* Scheduler                                                          */

static inline struct dt_fiber *dt_current(void)
{
	struct dt_worker *w = dt_self;
	return w ? w->cur : NULL;
}

struct dt_spawn {
	void (*fn)(void *);
	void *arg;
	size_t stack_size;	/* 0: the runtime's default */
	void *stack;		/* caller-supplied stack (lowest address) */
	uint8_t fp;		/* 1: preserve FP control state */
	uint8_t kind;
	uint8_t detached;
	int worker;		/* -1: placement decides */
	void *user;		/* becomes dt_fiber.user before it can run */
};

int dt_rt_init(int nworkers, size_t stack_size, uint32_t max_fibers);
int dt_rt_start_workers(int first);	/* spawn threads for workers >= first */
/*
 * In the child of fork(2), on its only thread, before anything else runs
 * there: keep, the fiber that called fork (running on dt_self), becomes
 * the running fiber of worker 0, now the only worker, with a new epoll
 * instance and eventfd and nothing queued.  The epoll instances inherited
 * from the parent are shared with it and are left alone (the child's
 * descriptors of them are closed; no registration is deleted).  Every
 * other fiber vanished with the other threads (POSIX fork): its slot goes
 * back to the arena and its handle becomes stale (ESRCH), except a zombie
 * (finished, joinable), which stays joinable as a finished thread's
 * descriptor does in glibc.  Waiters recorded before the fork are refused
 * by dt_waiter_claim.  The caller then gives worker 0 a scheduler loop
 * context (idle_sp).  0, or -errno from epoll_create1/eventfd (EMFILE,
 * ENFILE, ENOMEM) with nothing changed but dt_fork_epoch.
 */
int dt_rt_fork_child(struct dt_fiber *keep);
void dt_worker_loop(struct dt_worker *w);
void dt_rt_shutdown(void);
void dt_rt_fini(void);

/* Create a fiber and make it runnable.  *out (if not NULL) may be stale
 * by the time this returns if the fiber is detached and already ended;
 * *handle is taken before it can run.  -EAGAIN: capacity or memory. */
int dt_spawn(const struct dt_spawn *s, struct dt_fiber **out);
int dt_spawn_handle(const struct dt_spawn *s, struct dt_fiber **out,
		    uint64_t *handle);
/* Make a parked or new fiber runnable on its worker.  Any thread. */
void dt_fiber_unpark(struct dt_fiber *f);
/*
 * EINTR emulation.  A fiber is not the thread the kernel interrupts, so a
 * signal handler that would have cut a blocking call short asks for it:
 * dt_fiber_interrupt_async(f, sa_restart) is async-signal-safe; f's worker
 * ends f's current wait with DT_WAIT_INTERRUPTED at its next safe point if
 * that wait is interruptible (f->intr) and, for DT_INTR_RESTARTABLE calls,
 * the handler was installed without SA_RESTART (signal(7)).
 */
#define DT_INTR_RESTARTABLE	1	/* read, accept, connect, wait...  */
#define DT_INTR_ALWAYS		2	/* poll, select, sleeps: never restarted */
#define DT_INTR_CANCEL		3	/* join, cond wait: only a cancel ends it */
/* f->intr_req bits */
#define DT_INTR_REQ_SIGNAL	1	/* a handler ran for f */
#define DT_INTR_REQ_RESTART	2	/* ... installed with SA_RESTART */
#define DT_INTR_REQ_CANCEL	4	/* pthread_cancel: any f->intr != 0 */
void dt_fiber_interrupt_async(struct dt_fiber *f, int sa_restart);
/* The same for a cancellation request: ends f's current wait if it is
 * interruptible at all (f->intr != 0), whatever its kind.  Any thread.
 * Requests are kept per worker in DT_INTR_SLOTS slots; beyond that many
 * undelivered requests on one worker, a request is dropped. */
void dt_fiber_cancel_async(struct dt_fiber *f);

/* Switch the current fiber out until someone unparks it. */
void dt_park(int reason);
/* Put the current fiber at the back of its run queue and run others. */
void dt_yield(void);
/* End the current fiber with retval; runs key destructors. */
__attribute__((noreturn)) void dt_fiber_exit(void *retval);
/* Sleep the current fiber (or thread) until deadline on clk.  0 when the
 * deadline passed, -EINTR when interrupted (see dt_fiber_interrupt).  A
 * fiber whose deadline has already passed yields once. */
int dt_sleep_until(int64_t deadline, clockid_t clk);
/* Look up a live or zombie fiber by handle: -ESRCH if stale. */
int dt_fiber_lookup(uint64_t h, struct dt_fiber **out);
/* Wait for f to finish, then free it.  -EINVAL detached, -EDEADLK self,
 * -ETIMEDOUT, -EINTR (the caller's wait was interruptible, f->intr, and
 * was interrupted; f is still joinable).  retval may be NULL. */
int dt_fiber_join(struct dt_fiber *f, void **retval, int64_t deadline,
		  clockid_t clk);
int dt_fiber_detach(struct dt_fiber *f);

/* Arena */
int dt_arena_init(struct dt_arena *a, uint32_t cap, size_t stack_bytes);
void dt_arena_fini(struct dt_arena *a);
struct dt_fiber *dt_arena_alloc(struct dt_arena *a, struct dt_worker *w);
void dt_arena_free(struct dt_arena *a, struct dt_worker *w,
		   struct dt_fiber *f);
/* Return the pages of warm free stacks beyond what the current load needs,
 * at most budget of them; true if more remain.  Idle workers call it. */
bool dt_arena_trim(struct dt_arena *a, unsigned budget);
/* In the child of fork(2), before dt_rt.nworkers shrinks: the free slots
 * cached by every worker go back to the shared lists (their owners are
 * gone).  Single-threaded use only. */
void dt_arena_fork_child(struct dt_arena *a);
/* Prepare f's arena stack for use (commit on first use).  0 or -errno. */
int dt_arena_commit_stack(struct dt_arena *a, struct dt_fiber *f);

/* Keys (POSIX thread-specific data semantics, per fiber) */
int dt_key_create(uint32_t *key, void (*dtor)(void *));
/* In the child of fork(2): free the key table's lock. */
void dt_key_fork_child(void);
int dt_key_delete(uint32_t key);
void *dt_key_get(struct dt_fiber *f, uint32_t key);
int dt_key_set(struct dt_fiber *f, uint32_t key, const void *v);
void dt_keys_run_destructors(struct dt_fiber *f);
void dt_keys_free(struct dt_fiber *f);

/* Small spinlock (internal, short critical sections only). */
static inline void dt_spin_lock(_Atomic uint32_t *l)
{
	for (;;) {
		if (!atomic_exchange_explicit(l, 1, memory_order_acquire))
			return;
		while (atomic_load_explicit(l, memory_order_relaxed))
			__builtin_ia32_pause();
	}
}
static inline void dt_spin_unlock(_Atomic uint32_t *l)
{
	atomic_store_explicit(l, 0, memory_order_release);
}

/* futex helpers (raw syscalls; never the application's errno) */
long dt_futex_wait(_Atomic uint32_t *addr, uint32_t val, int64_t deadline,
		   clockid_t clk);
long dt_futex_wake(_Atomic uint32_t *addr, int n);

/* Raw syscalls returning -errno, never touching errno. */
long dt_syscall6(long n, long a, long b, long c, long d, long e, long f);
#define dt_sys(n, a, b, c, d, e, f) \
	dt_syscall6((n), (long)(a), (long)(b), (long)(c), (long)(d), \
		    (long)(e), (long)(f))

/* Time conversions */
static inline int64_t dt_ts_to_ns(const struct timespec *ts)
{
	return (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec;
}
int64_t dt_clock_ns(clockid_t clk);
/* Convert an absolute deadline on clk to CLOCK_MONOTONIC. */
int64_t dt_deadline_to_mono(int64_t deadline, clockid_t clk);

/* Messages (stderr, async-signal-safe write) */
void dt_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
