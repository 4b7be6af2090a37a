/* SPDX-License-Identifier: MIT */
/*
 * core/offload.h - the offload pool (DESIGN 9): a few plain OS threads
 * that run calls which block where readiness cannot reach them (DNS,
 * waiting for any child, system(3)) while the calling fiber is parked.
 *
 * Contract:
 *  - A job is a closure fn(arg).  It runs on a pool thread: a plain
 *    thread that is not a fiber (interposed calls go straight to libc
 *    there), with every asynchronous signal blocked (SIGSEGV, SIGBUS,
 *    SIGFPE, SIGILL, SIGTRAP, SIGSYS and glibc's internal signals stay
 *    open), and with its own errno and other thread-locals: a job that
 *    must report errno or h_errno captures them into arg itself.
 *  - Bounded jobs (they end on their own: a DNS lookup) share at most
 *    DT_OFFLOAD_MAX threads; more of them queue, first in first out.
 *  - Unbounded jobs (they may wait for an outside event forever: a child
 *    process) never queue behind anything: each gets a thread of its own,
 *    started if none is idle.  So a program that waits for eight children
 *    from eight threads does not stop another one's DNS lookup.
 *  - Threads start lazily on the first job and grow on demand; a thread
 *    that finds no work while DT_OFFLOAD_MAX others are idle ends.
 *
 * Threads: every function may be called from any thread or fiber.  The
 * pool's queues are protected by one spin lock (held for a few loads and
 * stores); idle pool threads sleep on a futex.  After fork() the child
 * has no pool threads: the first submit in the child (which must then be
 * single-threaded) starts the pool afresh.
 */
#ifndef DT_CORE_OFFLOAD_H
#define DT_CORE_OFFLOAD_H

#include <stdint.h>

#include "core/dt.h"

/* Pool threads running bounded jobs, or idle, at most. */
#define DT_OFFLOAD_MAX	4

/*
 * Caller storage for dt_offload_submit.  The pool owns it from submit
 * until it calls done(); it is never touched by the pool after that.
 */
struct dt_offload_job {
	void (*fn)(void *arg);		/* runs on a pool thread */
	void *arg;
	/* Runs on the pool thread right after fn returns; may free or
	 * reuse j (the pool has finished with it). */
	void (*done)(struct dt_offload_job *j);
	uint8_t unbounded;		/* may wait forever: see above */
	struct dt_offload_job *next;	/* internal: queue link */
};

/*
 * Queue j for a pool thread, starting one if needed.  Does not wait.
 * Returns 0, or -EAGAIN when no pool thread exists and none could be
 * started (j was not queued; the caller still owns it).
 */
int dt_offload_submit(struct dt_offload_job *j);

/*
 * Run fn(arg) on the pool while the calling fiber is parked; return when
 * fn has returned.  From a thread that is not a fiber (or when no pool
 * thread can be started) fn(arg) runs inline on the caller.  The job
 * record lives on the caller's stack: no allocation.  The wait cannot be
 * interrupted (a signal does not end it: fn still uses arg).  Always 0.
 * dt_offload: fn ends on its own.  dt_offload_unbounded: fn may wait for
 * an outside event without limit (see above).
 */
int dt_offload(void (*fn)(void *), void *arg);
int dt_offload_unbounded(void (*fn)(void *), void *arg);

/* Jobs handed to pool threads since the process started (statistics;
 * inline runs are not counted).  Any thread. */
uint64_t dt_offload_count(void);

#endif
