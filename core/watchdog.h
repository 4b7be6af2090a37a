/* SPDX-License-Identifier: MIT */
/*
 * core/watchdog.h - the stall watchdog (DESIGN 9) and the per-worker list
 * of never-started fibers it may hand to another worker.
 *
 * A stall: a worker whose switch counter has not moved for longer than
 * DTACT_STALL_MS while work waits for it (its run queue, its list of
 * never-started fibers, its mailboxes or its injection stack hold
 * fibers).  Usually a fiber inside a call dtact does not interpose that
 * blocks the whole worker thread (flock, a raw syscall, a long
 * computation).  Each episode is counted (statistics), fires the stall
 * probe, and with DTACT_STALL_WARN=1 prints one line; while it lasts,
 * spawn placement avoids the worker and the watchdog hands its
 * never-started fibers to other workers (a fiber that has run stays where
 * it is: DESIGN 3).
 *
 * Never-started fibers.  A worker's run queue belongs to its thread alone,
 * so a fiber queued there cannot be taken out by the watchdog while the
 * worker is stuck.  So while the watchdog runs, a fiber placed by spawn
 * placement (not pinned to a worker) and not yet started waits in the
 * worker's `fresh` FIFO instead (core/dt.h), which the owner and the
 * watchdog exclude each other on; the owner's pick takes from it in the order
 * the run queue alone would have given (f->fresh_due, core/watchdog.c).
 * f->fresh marks such a fiber until it first runs.
 */
#ifndef DT_CORE_WATCHDOG_H
#define DT_CORE_WATCHDOG_H

#include "core/dt.h"

/* 1 while the watchdog runs: spawn marks unpinned fibers fresh. */
extern int dt_wd_on;

/* Start the watchdog thread (stall_ms > 0).  0 or -errno. */
int dt_wd_start(uint32_t stall_ms, int warn);
/* Stop it and wait for it.  Idempotent. */
void dt_wd_stop(void);

/* In the child of fork(2), where its thread does not exist: off, and no
 * worker marked stalled or mid-handoff.  The child runs without one (it
 * has a single worker, nowhere to hand fibers to). */
void dt_wd_fork_child(void);

/* Stall counters of worker i (the watchdog writes them): episodes, and
 * never-started fibers handed from it to other workers. */
void dt_wd_counts(int i, uint64_t *stalls, uint64_t *moved);

/* The owner queues a never-started fiber (core/sched.c runq_push). */
void dt_fresh_push(struct dt_worker *w, struct dt_fiber *f);
/* The owner's pick while fresh_n != 0: the next never-started fiber, or
 * NULL when it is the run queue's turn (or the list was emptied). */
struct dt_fiber *dt_fresh_pick(struct dt_worker *w);
/* A worker for a new fiber instead of `avoid`, which is stalled: the
 * least loaded one that is not; `avoid` if there is none. */
struct dt_worker *dt_wd_spare(struct dt_worker *avoid);

#endif
