/* SPDX-License-Identifier: MIT */
/*
 * core/offload.c - the offload pool (contract in core/offload.h).
 *
 * Two FIFO queues, unbounded jobs first: a pool thread that becomes free
 * takes an unbounded job before a bounded one, because an unbounded job
 * only starts a wait and must not sit behind a line of lookups.
 *
 *	submit (any thread)                pool thread
 *	lock; enqueue; seq++               lock
 *	decide: wake an idle thread,       loop: pop a job?
 *	        or start a new one            yes: unlock, fn(arg), done(j)
 *	unlock; futex_wake(seq)               no: idle++, s = seq, unlock,
 *	                                          futex_wait(seq, s), lock
 *
 * An idle thread reads seq under the lock and every submit bumps it under
 * the lock before waking, so a wake is never lost between the idle
 * thread's unlock and its futex_wait (the wait fails with EAGAIN).
 *
 * Growth, decided at submit under the lock (idle threads count as able
 * to take a queued job even if they were just woken and have not yet
 * taken the lock):
 *	unbounded job:	start a thread if queued unbounded jobs > idle
 *	bounded job:	start a thread if queued jobs > idle and fewer
 *			than DT_OFFLOAD_MAX threads are not busy with
 *			unbounded jobs
 * A thread that finds both queues empty while DT_OFFLOAD_MAX threads are
 * already idle ends, so at most DT_OFFLOAD_MAX threads ever sit idle.
 */
#include <signal.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/offload.h"
#include "core/real.h"

static struct {
	_Atomic uint32_t lock;		/* guards the fields up to seq */
	struct dt_offload_job *uq_head;	/* unbounded jobs, FIFO */
	struct dt_offload_job *uq_tail;
	struct dt_offload_job *bq_head;	/* bounded jobs, FIFO */
	struct dt_offload_job *bq_tail;
	uint32_t nu, nb;		/* jobs in each queue */
	uint32_t threads;		/* live pool threads (or starting) */
	uint32_t idle;			/* threads in the futex wait part */
	uint32_t busy_unbounded;	/* threads running an unbounded job */
	/* Futex word of idle threads: bumped (under lock) by every submit. */
	_Atomic uint32_t seq;
	_Atomic uint64_t count;		/* jobs handed to the pool */
	_Atomic int pid;		/* process of the threads, 0: none */
} pool;

uint64_t dt_offload_count(void)
{
	return atomic_load_explicit(&pool.count, memory_order_relaxed);
}

/* ---------------------------------------------------------------- */
/* Queues (lock held)                                                */

static void push(struct dt_offload_job *j)
{
	struct dt_offload_job **head = j->unbounded ? &pool.uq_head :
						      &pool.bq_head;
	struct dt_offload_job **tail = j->unbounded ? &pool.uq_tail :
						      &pool.bq_tail;

	j->next = NULL;
	if (*tail)
		(*tail)->next = j;
	else
		*head = j;
	*tail = j;
	if (j->unbounded)
		pool.nu++;
	else
		pool.nb++;
}

static struct dt_offload_job *pop(void)
{
	struct dt_offload_job *j;

	if ((j = pool.uq_head)) {
		pool.uq_head = j->next;
		if (!pool.uq_head)
			pool.uq_tail = NULL;
		pool.nu--;
	} else if ((j = pool.bq_head)) {
		pool.bq_head = j->next;
		if (!pool.bq_head)
			pool.bq_tail = NULL;
		pool.nb--;
	}
	return j;
}

/* Take j back out of its queue if no thread has popped it yet. */
static bool unqueue(struct dt_offload_job *j)
{
	struct dt_offload_job **head = j->unbounded ? &pool.uq_head :
						      &pool.bq_head;
	struct dt_offload_job **tail = j->unbounded ? &pool.uq_tail :
						      &pool.bq_tail;
	struct dt_offload_job *p = NULL, *q;

	for (q = *head; q && q != j; q = q->next)
		p = q;
	if (!q)
		return false;
	if (p)
		p->next = j->next;
	else
		*head = j->next;
	if (*tail == j)
		*tail = p;
	if (j->unbounded)
		pool.nu--;
	else
		pool.nb--;
	return true;
}

/* ---------------------------------------------------------------- */
/* Pool threads                                                       */

/* Signals a pool thread takes: the synchronous ones, which the kernel
 * forces on the faulting thread whatever its mask (blocked, they kill). */
static void pool_sync_signals(sigset_t *s)
{
	sigemptyset(s);
	sigaddset(s, SIGSEGV);
	sigaddset(s, SIGBUS);
	sigaddset(s, SIGFPE);
	sigaddset(s, SIGILL);
	sigaddset(s, SIGTRAP);
	sigaddset(s, SIGSYS);
}

static void *pool_main(void *unused)
{
	static const char name[16] = "dtact-offload";
	sigset_t sync;

	(void)unused;
	pool_sync_signals(&sync);
	dt_sys(SYS_rt_sigprocmask, SIG_UNBLOCK, &sync, NULL, _NSIG / 8, 0, 0);
	dt_sys(SYS_prctl, PR_SET_NAME, name, 0, 0, 0, 0);
	dt_spin_lock(&pool.lock);
	for (;;) {
		struct dt_offload_job *j = pop();
		uint32_t s;

		if (j) {
			bool unb = j->unbounded;

			if (unb)
				pool.busy_unbounded++;
			dt_spin_unlock(&pool.lock);
			j->fn(j->arg);
			j->done(j);	/* j may be gone from here on */
			dt_spin_lock(&pool.lock);
			if (unb)
				pool.busy_unbounded--;
			continue;
		}
		if (pool.idle >= DT_OFFLOAD_MAX) {
			pool.threads--;
			dt_spin_unlock(&pool.lock);
			return NULL;
		}
		pool.idle++;
		s = atomic_load_explicit(&pool.seq, memory_order_relaxed);
		dt_spin_unlock(&pool.lock);
		dt_futex_wait(&pool.seq, s, DT_DEADLINE_NONE, CLOCK_MONOTONIC);
		dt_spin_lock(&pool.lock);
		pool.idle--;
	}
}

/*
 * Start one detached pool thread with every asynchronous signal blocked.
 * Everything is blocked on the creating thread around pthread_create, so
 * the new thread has that mask from its first instruction (no window in
 * which a process-directed signal could run a handler there); the new
 * thread then opens the synchronous signals itself (pool_main).  The
 * creator's mask is "everything" for that moment, the same pattern libc
 * shows inside its own pthread_create, which interpose/process.c, reading
 * worker 0's mask from /proc, knows to wait out.  0 or -errno.
 */
static int start_thread(void)
{
	sigset_t all, old;
	pthread_attr_t at;
	pthread_t t;
	int r;

	/* glibc's sigfillset leaves out its internal SIGCANCEL/SIGSETXID:
	 * setuid() in another thread needs every thread to take SIGSETXID. */
	sigfillset(&all);
	if (pthread_attr_init(&at))
		return -ENOMEM;
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	dt_sys(SYS_rt_sigprocmask, SIG_SETMASK, &all, &old, _NSIG / 8, 0, 0);
	r = dt_real.pthread_create(&t, &at, pool_main, NULL);
	dt_sys(SYS_rt_sigprocmask, SIG_SETMASK, &old, NULL, _NSIG / 8, 0, 0);
	pthread_attr_destroy(&at);
	return -r;
}

/* ---------------------------------------------------------------- */
/* Submit                                                             */

/* A forked child inherits the pool's bookkeeping but none of its threads
 * (and possibly a lock held by one): start over. */
static void check_fork(void)
{
	int me = (int)dt_sys(SYS_getpid, 0, 0, 0, 0, 0, 0);
	int owner = atomic_load_explicit(&pool.pid, memory_order_acquire);

	if (dt_likely(owner == me))
		return;
	if (owner) {
		atomic_store_explicit(&pool.lock, 0, memory_order_relaxed);
		pool.uq_head = pool.uq_tail = NULL;
		pool.bq_head = pool.bq_tail = NULL;
		pool.nu = pool.nb = 0;
		pool.threads = pool.idle = pool.busy_unbounded = 0;
	}
	atomic_store_explicit(&pool.pid, me, memory_order_release);
}

int dt_offload_submit(struct dt_offload_job *j)
{
	bool grow, wake;
	int r;

	check_fork();
	dt_spin_lock(&pool.lock);
	push(j);
	/* Pairs with the relaxed load before an idle thread's futex wait:
	 * both happen under the lock. */
	atomic_fetch_add_explicit(&pool.seq, 1, memory_order_relaxed);
	wake = pool.idle > 0;
	if (j->unbounded)
		grow = pool.nu > pool.idle;
	else
		grow = pool.nu + pool.nb > pool.idle &&
		       pool.threads - pool.busy_unbounded < DT_OFFLOAD_MAX;
	if (grow)
		pool.threads++;
	dt_spin_unlock(&pool.lock);
	if (wake)
		dt_futex_wake(&pool.seq, 1);
	if (grow && (r = start_thread())) {
		bool took_back = false;

		dt_spin_lock(&pool.lock);
		pool.threads--;
		/* Keep j queued if a thread will get to it; else the caller
		 * must run it some other way. */
		if (!pool.threads || (j->unbounded && !pool.idle))
			took_back = unqueue(j);
		dt_spin_unlock(&pool.lock);
		if (took_back)
			return -EAGAIN;
	}
	atomic_fetch_add_explicit(&pool.count, 1, memory_order_relaxed);
	return 0;
}

/* ---------------------------------------------------------------- */
/* Run and wait                                                       */

struct sync_job {
	struct dt_offload_job j;
	struct dt_waiter w;		/* the parked caller */
};

static void sync_done(struct dt_offload_job *j)
{
	struct sync_job *s = (struct sync_job *)((char *)j -
				offsetof(struct sync_job, j));

	/* Nobody else can claim w (no deadline, not interruptible): this
	 * always wins.  After the post, s (on the caller's stack) is gone. */
	if (dt_waiter_claim(&s->w, DT_WAIT_WOKEN))
		dt_waiter_post(&s->w);
}

static int run_parked(void (*fn)(void *), void *arg, bool unbounded)
{
	struct dt_fiber *f = dt_current();
	struct sync_job s;
	uint8_t intr;

	if (!f) {
		fn(arg);
		return 0;
	}
	s.j.fn = fn;
	s.j.arg = arg;
	s.j.done = sync_done;
	s.j.unbounded = unbounded;
	dt_waiter_init(&s.w);
	/* A signal must not end this wait: the pool thread still uses s
	 * and arg until it posts. */
	intr = f->intr;
	f->intr = 0;
	if (dt_offload_submit(&s.j))
		fn(arg);
	else
		dt_waiter_block(&s.w, DT_DEADLINE_NONE, CLOCK_MONOTONIC,
				DT_REASON_OTHER);
	f->intr = intr;
	return 0;
}

int dt_offload(void (*fn)(void *), void *arg)
{
	return run_parked(fn, arg, false);
}

int dt_offload_unbounded(void (*fn)(void *), void *arg)
{
	return run_parked(fn, arg, true);
}
