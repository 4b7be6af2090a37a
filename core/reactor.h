/* SPDX-License-Identifier: MIT */
/*
 * core/reactor.h - fd readiness for fibers (DESIGN 6 and 8).
 *
 * The fd table is indexed by fd, grown in chunks of DT_FD_CHUNK entries
 * that are never freed (type-stable).  An entry keeps, per direction (0 =
 * read, 1 = write), a readiness sequence number and the list of waiting
 * fibers, plus a generation bumped when the fd is closed so that readiness
 * reported for a closed fd is never delivered to whoever gets the number
 * next.  The user's view of the descriptor (O_NONBLOCK as set by the
 * program, SO_RCVTIMEO/SO_SNDTIMEO) is kept here for the shim.
 *
 * An fd is registered once, edge-triggered for both directions, in the
 * epoll instance of the worker whose fiber first waits on it, and stays
 * registered until it is closed.  Readiness is handled by that worker,
 * which wakes every waiter of the ready direction wherever it lives
 * (through the mailboxes).
 *
 * Contract of a blocking call built on it (no lost edge):
 *
 *	t = dt_fd_ticket(e, dir);		// before the try
 *	r = try the call without blocking;
 *	if (r would block)
 *		r = dt_fd_wait(fd, e, dir, t, deadline);   // 0: try again
 *
 * dt_fd_wait returns at once if an edge arrived since the ticket, so an
 * edge that lands between the try and the wait is never lost.
 */
#ifndef DT_CORE_REACTOR_H
#define DT_CORE_REACTOR_H

#include <stdint.h>

#include "core/dt.h"

#define DT_FD_CHUNK	4096u
#define DT_FD_READ	0
#define DT_FD_WRITE	1

struct dt_fd {
	_Atomic uint32_t lock;		/* protects everything below */
	uint32_t gen;			/* bumped by dt_fd_close / dt_fd_reset */
	int reg_worker;			/* epoll it is registered in, or -1 */
	uint8_t unpollable;		/* epoll refused it (regular file) */
	_Atomic uint32_t seq[2];	/* readiness edges seen, per direction */
	struct dt_waiter *waiters[2];	/* doubly linked, per direction */
	/* The shim's view of the descriptor (protected by nothing: the
	 * program's own use of the fd orders these, as it would in libc). */
	uint32_t user_flags;
	int64_t rcvtimeo_ns;		/* 0 = none */
	int64_t sndtimeo_ns;
};

int dt_reactor_init(uint32_t hint);
void dt_reactor_fini(void);
/* In the child of fork(2) (dt_rt_fork_child): forget every registration,
 * waiter and entry lock; keep what is known of each descriptor (the
 * shim's view, its generation).  Single-threaded use only. */
void dt_reactor_fork_child(void);

/* The entry for fd, allocated if create; NULL if fd is out of range (or
 * not yet allocated and !create, or out of memory). */
struct dt_fd *dt_fd_get(int fd, int create);

static inline uint32_t dt_fd_ticket(struct dt_fd *e, int dir)
{
	return atomic_load_explicit(&e->seq[dir], memory_order_acquire);
}

/* One element of a multi-fd wait (caller storage). */
struct dt_fd_waitspec {
	int fd;
	struct dt_fd *e;
	int dir;			/* DT_FD_READ or DT_FD_WRITE */
	uint32_t ticket;		/* dt_fd_ticket before the try */
	uint32_t gen;			/* internal */
	struct dt_waiter w;		/* internal */
};

/*
 * Park the calling fiber until fd is ready in direction dir (an edge after
 * `ticket`), the deadline (absolute CLOCK_MONOTONIC ns, or
 * DT_DEADLINE_NONE) passes, or the fd is closed.  Returns 0 (ready: try the
 * call again), -ETIMEDOUT, -EBADF (closed while waiting), -EINTR (a signal,
 * when the fiber's intr allows it), -EPERM (the file
 * cannot be polled: the caller must block in the call itself), -ENOMEM.
 * A caller that is not a fiber blocks in ppoll(2) instead.
 */
int dt_fd_wait(int fd, struct dt_fd *e, int dir, uint32_t ticket,
	       int64_t deadline);

/* The same for n (fd, direction) pairs at once: returns 0 when any of
 * them has an edge after its ticket; otherwise as dt_fd_wait (-EBADF if any
 * of them was closed). */
int dt_fd_wait_many(struct dt_fd_waitspec *v, int n, int64_t deadline);

/* Level-triggered convenience: wait until fd is readable/writable (events:
 * EPOLLIN and/or EPOLLOUT), checking the current state first.  Returns
 * the ready events (>0), -ETIMEDOUT, -EBADF, -EPERM, -ENOMEM. */
int dt_fd_wait_level(int fd, uint32_t events, int64_t deadline);

/* Before close(fd): wake its waiters with -EBADF, drop its registration,
 * and make pending readiness for it stale.  Safe for any fd number. */
void dt_fd_close(int fd);
/* A new description now has number fd (socket, accept, dup2...): forget
 * what was known about the previous one. */
void dt_fd_reset(int fd);

/* Called by a worker's poll loop for each epoll event. */
void dt_reactor_event(struct dt_worker *w, uint64_t data, uint32_t events);

#endif
