/* SPDX-License-Identifier: MIT */
/*
 * core/sync.h - fiber-aware mutex, condition variable, rwlock, semaphore,
 * barrier and once: the bodies the shim puts behind pthread_mutex_*,
 * pthread_cond_*, pthread_rwlock_*, sem_*, pthread_barrier_* and
 * pthread_once (DESIGN 2 and 10).
 *
 * Who may call.  Any fiber of the runtime and any OS thread (a worker's
 * scheduler loop excepted), mixed on the same object: a fiber that has to
 * wait parks (its worker runs other fibers), a thread sleeps on a futex in
 * its wait record (core/waitq.h).  Objects live in caller memory and are
 * never registered anywhere, so they may be freed as soon as no one uses
 * them, exactly as POSIX allows for the pthread objects.
 *
 * Layout.  Every object fits in the glibc object it stands for, and
 * all-zero is a valid default object (glibc's static initializers are all
 * zero), so the shim can use the caller's pthread_*_t storage as is.  Where
 * a glibc initializer puts a non-zero value (the mutex kind at offset 16,
 * the rwlock flags at offset 48), the same field sits at the same offset
 * here.  core/sync.c checks sizes and offsets against <pthread.h>.
 *
 * Errors.  Functions return 0 or a negative errno and never touch errno;
 * the numbers are those glibc documents for the corresponding pthread_ or
 * sem_ function.  Deadlines are absolute nanoseconds on the given clock,
 * CLOCK_REALTIME or CLOCK_MONOTONIC (anything else: -EINVAL).
 *
 * Signals: only the semaphore waits end early on a signal (-EINTR), and
 * only for a fiber whose caller marked the wait interruptible (f->intr,
 * EINTR emulation in core/dt.h); a condition wait ends early (-EINTR,
 * the mutex re-acquired) only for a cancellation request when its caller
 * set f->intr = DT_INTR_CANCEL; every other wait masks f->intr, as
 * pthread_mutex_lock and friends never fail with EINTR.
 *
 * Ownership identity: dt_self_id(), distinct for fibers and threads.
 * Deferred cancellation and process-shared or robust objects are not
 * handled here (the shim decides what to do with those attributes).
 */
#ifndef DT_CORE_SYNC_H
#define DT_CORE_SYNC_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "core/dt.h"
#include "core/waitq.h"

/* ---------------------------------------------------------------- */
/* Identity                                                          */

#define DT_ID_FIBER	0x80000000u	/* set in every fiber id */

/*
 * Owner id of the caller: (fiber slot + 1) | DT_ID_FIBER for a fiber, the
 * kernel thread id (gettid, cached per thread) for an OS thread.  Never 0.
 * Any thread.  No syscall except the first call on a thread.
 */
uint32_t dt_self_id(void);

/*
 * Forget the cached thread id (the child of fork(2) has a new one).  Call
 * in the child right after fork, before any lock operation.  Async-signal-
 * safe.
 */
void dt_sync_fork_child(void);

/* ---------------------------------------------------------------- */
/* Mutex (pthread_mutex_t, 40 bytes)                                  */

/* Kinds: glibc's __kind values (PTHREAD_MUTEX_*_NP). */
#define DT_MUTEX_NORMAL		0
#define DT_MUTEX_RECURSIVE	1
#define DT_MUTEX_ERRORCHECK	2
#define DT_MUTEX_ADAPTIVE	3	/* behaves as NORMAL */
#define DT_MUTEX_KIND_MASK	3	/* PTHREAD_MUTEX_KIND_MASK_NP */

/* state values */
#define DT_MUTEX_UNLOCKED	0
#define DT_MUTEX_LOCKED		1	/* held, queue empty */
#define DT_MUTEX_CONTENDED	2	/* held, waiters may be queued */

struct dt_mutex {
	/* DT_MUTEX_*; 0 <-> 1 by CAS without the queue lock (fast paths);
	 * every change to or from 2 is made under qlock. */
	_Atomic uint32_t state;
	/* dt_self_id() of the holder, 0 if none.  Written by the holder
	 * (or, at a handoff, by the unlocker for the new holder); read
	 * relaxed: only the holder can see its own id there. */
	_Atomic uint32_t owner;
	uint32_t count;			/* depth - 1 (holder only) */
	_Atomic uint32_t qlock;		/* protects q and state == 2 */
	int kind;			/* offset 16: glibc __kind */
	uint32_t spare;			/* glibc __spins, __elision */
	struct dt_waitq q;		/* waiters, FIFO, with owner id in
					   ->data */
};

/* Initialise m as kind (DT_MUTEX_*).  0 or -EINVAL.  m must be unused. */
int dt_mutex_init(struct dt_mutex *m, int kind);
/* 0, or -EBUSY if m is held or has waiters. */
int dt_mutex_destroy(struct dt_mutex *m);
/*
 * Acquire m, waiting (FIFO) as long as it takes.  0; -EDEADLK for an
 * error-checking mutex the caller holds; -EAGAIN when a recursive mutex's
 * depth would overflow.  A NORMAL mutex locked twice by its holder
 * deadlocks, as in glibc.
 */
int dt_mutex_lock(struct dt_mutex *m);
/* As dt_mutex_lock without waiting: -EBUSY if held by someone (or, for a
 * non-recursive mutex, by the caller). */
int dt_mutex_trylock(struct dt_mutex *m);
/*
 * As dt_mutex_lock, giving up at deadline (absolute ns on clk):
 * -ETIMEDOUT.  The deadline is not looked at when the mutex is free; a
 * waiter handed the mutex as its deadline passes returns 0 (it holds it).
 * -EINVAL for a clock other than CLOCK_REALTIME / CLOCK_MONOTONIC.
 */
int dt_mutex_timedlock(struct dt_mutex *m, int64_t deadline, clockid_t clk);
/*
 * Release m.  With waiters, ownership passes straight to the oldest one
 * (no barging).  -EPERM if m is error-checking or recursive and the caller
 * does not hold it.  Never waits (spins briefly on the queue lock).
 */
int dt_mutex_unlock(struct dt_mutex *m);
/* Waiters queued on m right now (tests, debugging).  Any thread. */
uint32_t dt_mutex_nwaiters(struct dt_mutex *m);

/* true if the caller holds m (meaningful for every kind).  Any thread. */
static inline bool dt_mutex_held(struct dt_mutex *m)
{
	return atomic_load_explicit(&m->owner, memory_order_relaxed) ==
	       dt_self_id();
}

/* ---------------------------------------------------------------- */
/* Condition variable (pthread_cond_t, 48 bytes)                      */

struct dt_cond {
	_Atomic uint32_t lock;		/* protects q */
	int32_t clock;			/* clockid_t for timedwait
					   deadlines, 0 = CLOCK_REALTIME */
	struct dt_waitq q;		/* waiters, FIFO */
};

/* Initialise c; clk is the clock of dt_cond_clock() (pthread_condattr_
 * setclock): CLOCK_REALTIME or CLOCK_MONOTONIC, else -EINVAL. */
int dt_cond_init(struct dt_cond *c, clockid_t clk);
/* 0, or -EBUSY if waiters are queued. */
int dt_cond_destroy(struct dt_cond *c);
/*
 * Release m, wait for a signal or broadcast, re-acquire m.  The caller
 * must hold m (-EPERM if m is error-checking or recursive and it does
 * not; a recursive mutex is released one level, as glibc does).  No
 * spurious wake-ups: only signal/broadcast end the wait.  0.
 */
int dt_cond_wait(struct dt_cond *c, struct dt_mutex *m);
/*
 * As dt_cond_wait, giving up at deadline (absolute ns on clk; for
 * pthread_cond_timedwait pass dt_cond_clock(c)): -ETIMEDOUT, with m
 * re-acquired.  -EINVAL for a bad clock (m untouched).  Both: -EINTR,
 * with m re-acquired, when a cancellation request ended a wait its caller
 * marked as a cancellation point (f->intr == DT_INTR_CANCEL).
 */
int dt_cond_timedwait(struct dt_cond *c, struct dt_mutex *m, int64_t deadline,
		      clockid_t clk);
/* Wake the oldest waiter, if any.  0.  Any thread, m held or not. */
int dt_cond_signal(struct dt_cond *c);
/* Wake every waiter queued when the call is made.  0.  Any thread. */
int dt_cond_broadcast(struct dt_cond *c);

static inline clockid_t dt_cond_clock(const struct dt_cond *c)
{
	return (clockid_t)c->clock;
}

/* ---------------------------------------------------------------- */
/* Read-write lock (pthread_rwlock_t, 56 bytes)                       */

/* flags: glibc's __flags (PTHREAD_RWLOCK_PREFER_*_NP).  PREFER_WRITER
 * behaves as PREFER_READER, as in glibc. */
#define DT_RWLOCK_PREFER_READER			0
#define DT_RWLOCK_PREFER_WRITER			1
#define DT_RWLOCK_PREFER_WRITER_NONRECURSIVE	2

/* state bits */
#define DT_RW_READERS	0x3fffffffu	/* readers holding it */
#define DT_RW_WRITER	0x40000000u	/* a writer holds it */
#define DT_RW_WAITERS	0x80000000u	/* rq or wq not empty */

struct dt_rwlock {
	/* DT_RW_* bits.  Without DT_RW_WAITERS the fast paths change it by
	 * CAS; with DT_RW_WAITERS set only holders of `lock` change it. */
	_Atomic uint32_t state;
	_Atomic uint32_t lock;		/* protects rq, wq, WAITERS */
	_Atomic uint32_t writer;	/* dt_self_id() of the writer, or 0 */
	uint32_t spare;
	struct dt_waitq rq;		/* waiting readers */
	struct dt_waitq wq;		/* waiting writers (id in data) */
	int flags;			/* offset 48: glibc __flags */
	uint32_t spare2;
};

/* Initialise rw with preference flags (DT_RWLOCK_PREFER_*).  0/-EINVAL. */
int dt_rwlock_init(struct dt_rwlock *rw, int flags);
/* 0, or -EBUSY if held or waited on. */
int dt_rwlock_destroy(struct dt_rwlock *rw);
/*
 * Shared lock.  Reader preference (default): granted whenever no writer
 * holds rw.  Writer preference (flags 2): also waits while writers wait
 * (a reader that re-locks may then deadlock, as glibc documents).
 * -EDEADLK if the caller holds rw for writing; -EAGAIN if the reader count
 * would overflow.  try: -EBUSY instead of waiting.  timed: -ETIMEDOUT at
 * the deadline (absolute ns on clk), -EINVAL for a bad clock.
 */
int dt_rwlock_rdlock(struct dt_rwlock *rw);
int dt_rwlock_tryrdlock(struct dt_rwlock *rw);
int dt_rwlock_timedrdlock(struct dt_rwlock *rw, int64_t deadline,
			  clockid_t clk);
/*
 * Exclusive lock.  -EDEADLK if the caller already holds it for writing.
 * try: -EBUSY.  timed: -ETIMEDOUT, -EINVAL as above.
 */
int dt_rwlock_wrlock(struct dt_rwlock *rw);
int dt_rwlock_trywrlock(struct dt_rwlock *rw);
int dt_rwlock_timedwrlock(struct dt_rwlock *rw, int64_t deadline,
			  clockid_t clk);
/* Release a read or write hold (the caller's kind).  When rw becomes
 * free, it is handed to the waiters the preference picks.  -EPERM if the
 * caller holds nothing that it can release. */
int dt_rwlock_unlock(struct dt_rwlock *rw);

/* ---------------------------------------------------------------- */
/* Semaphore (sem_t, 32 bytes)                                       */

#define DT_SEM_VALUE_MAX	0x7fffffffu	/* SEM_VALUE_MAX */
#define DT_SEM_WAITERS		0x80000000u	/* q not empty */

struct dt_sem {
	/* Count (bits 0-30) | DT_SEM_WAITERS.  WAITERS implies count 0 and
	 * then only holders of `lock` change it; otherwise CAS. */
	_Atomic uint32_t value;
	_Atomic uint32_t lock;		/* protects q, the WAITERS bit */
	struct dt_waitq q;		/* waiters, FIFO */
};

/* Initialise s with value (<= DT_SEM_VALUE_MAX, else -EINVAL). */
int dt_sem_init(struct dt_sem *s, unsigned value);
/* 0 (as glibc's sem_destroy; waiters are the caller's problem). */
int dt_sem_destroy(struct dt_sem *s);
/* Add one, or hand it to the oldest waiter.  -EOVERFLOW at
 * DT_SEM_VALUE_MAX.  Any thread.  Never waits (spins briefly on the queue
 * lock when there are waiters, so it is not async-signal-safe against an
 * interrupted operation on the same s). */
int dt_sem_post(struct dt_sem *s);
/* Take one, waiting (FIFO) until there is one.  0, or -EINTR if the
 * calling fiber's wait is interruptible (f->intr) and a signal ended it. */
int dt_sem_wait(struct dt_sem *s);
/* Take one if there is one: 0, else -EAGAIN. */
int dt_sem_trywait(struct dt_sem *s);
/* As dt_sem_wait, giving up at deadline (absolute ns on clk):
 * -ETIMEDOUT; -EINTR as dt_sem_wait; -EINVAL for a bad clock. */
int dt_sem_timedwait(struct dt_sem *s, int64_t deadline, clockid_t clk);
/* Current count (0 while anyone waits, as glibc).  0. */
int dt_sem_getvalue(struct dt_sem *s, int *out);

/* ---------------------------------------------------------------- */
/* Barrier (pthread_barrier_t, 32 bytes)                              */

#define DT_BARRIER_SERIAL	(-1)	/* PTHREAD_BARRIER_SERIAL_THREAD */

struct dt_barrier {
	_Atomic uint32_t lock;		/* protects everything below */
	uint32_t count;			/* per round; 0: not usable */
	uint32_t arrived;		/* in the current round */
	uint32_t round;			/* completed rounds (wraps) */
	struct dt_waitq q;		/* this round's waiters */
};

/* Initialise b for count waiters per round.  0; -EINVAL if count is 0. */
int dt_barrier_init(struct dt_barrier *b, unsigned count);
/* 0, or -EBUSY while a round is under way. */
int dt_barrier_destroy(struct dt_barrier *b);
/*
 * Wait until count callers have arrived.  The last one to arrive gets
 * DT_BARRIER_SERIAL, the others 0; b is then ready for the next round
 * (and may be destroyed by any of them: woken waiters do not touch it).
 * -EINVAL if b was never initialised (count 0).
 */
int dt_barrier_wait(struct dt_barrier *b);

/* ---------------------------------------------------------------- */
/* Once (pthread_once_t, an int; 0 = PTHREAD_ONCE_INIT)                */

/*
 * Run fn exactly once per *once over the program; every caller returns
 * only after fn has returned (its effects are visible to it).  0.  A fn
 * that calls dt_once on the same object deadlocks.
 */
int dt_once(int *once, void (*fn)(void));

/* ---------------------------------------------------------------- */
/* Layout checks (against the glibc sizes; core/sync.c repeats them with
 * sizeof(pthread_*_t) from <pthread.h>).                              */

_Static_assert(sizeof(struct dt_mutex) <= 40, "dt_mutex > pthread_mutex_t");
_Static_assert(offsetof(struct dt_mutex, kind) == 16, "mutex kind != __kind");
_Static_assert(sizeof(struct dt_cond) <= 48, "dt_cond > pthread_cond_t");
_Static_assert(sizeof(struct dt_rwlock) <= 56, "dt_rwlock > pthread_rwlock_t");
_Static_assert(offsetof(struct dt_rwlock, flags) == 48,
	       "rwlock flags != __flags");
_Static_assert(sizeof(struct dt_sem) <= 32, "dt_sem > sem_t");
_Static_assert(sizeof(struct dt_barrier) <= 32,
	       "dt_barrier > pthread_barrier_t");

#endif
