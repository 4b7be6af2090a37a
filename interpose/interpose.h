/* SPDX-License-Identifier: MIT */
/*
 * interpose/interpose.h - what every libc-compatible entry point shares:
 * the table of real libc functions, the "may this call park?" test, and
 * the per-fd classification that decides how a call waits.
 *
 * The rule of every interposed function:
 *
 *	if (!dt_may_park())
 *		return dt_libc.name(args);	// exactly libc, unchanged
 *	... try without blocking; wait on readiness; convert errors once ...
 *
 * dt_may_park() is false before the runtime is up, on threads dtact did
 * not create, inside a signal handler, and in a forked child (which runs
 * its calls straight through: it has no workers).  The runtime itself
 * never calls an interposed name: it uses dt_libc.* or raw system calls.
 */
#ifndef DT_INTERPOSE_H
#define DT_INTERPOSE_H

#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>

#include "core/dt.h"
#include "core/reactor.h"

/* X(name, return type, parameter list) for every real function used. */
#define DT_LIBC_FUNCS(X) \
	X(pthread_create, int, (pthread_t *, const pthread_attr_t *, void *(*)(void *), void *)) \
	X(pthread_join, int, (pthread_t, void **)) \
	X(pthread_detach, int, (pthread_t)) \
	X(pthread_exit, void, (void *)) \
	X(pthread_self, pthread_t, (void)) \
	X(pthread_tryjoin_np, int, (pthread_t, void **)) \
	X(pthread_timedjoin_np, int, (pthread_t, void **, const struct timespec *)) \
	X(pthread_clockjoin_np, int, (pthread_t, void **, clockid_t, const struct timespec *)) \
	X(pthread_getattr_np, int, (pthread_t, pthread_attr_t *)) \
	X(pthread_setname_np, int, (pthread_t, const char *)) \
	X(pthread_getname_np, int, (pthread_t, char *, size_t)) \
	X(pthread_kill, int, (pthread_t, int)) \
	X(pthread_key_create, int, (pthread_key_t *, void (*)(void *))) \
	X(pthread_key_delete, int, (pthread_key_t)) \
	X(pthread_getspecific, void *, (pthread_key_t)) \
	X(pthread_setspecific, int, (pthread_key_t, const void *)) \
	X(read, ssize_t, (int, void *, size_t)) \
	X(write, ssize_t, (int, const void *, size_t)) \
	X(readv, ssize_t, (int, const struct iovec *, int)) \
	X(writev, ssize_t, (int, const struct iovec *, int)) \
	X(recv, ssize_t, (int, void *, size_t, int)) \
	X(recvfrom, ssize_t, (int, void *, size_t, int, struct sockaddr *, socklen_t *)) \
	X(recvmsg, ssize_t, (int, struct msghdr *, int)) \
	X(send, ssize_t, (int, const void *, size_t, int)) \
	X(sendto, ssize_t, (int, const void *, size_t, int, const struct sockaddr *, socklen_t)) \
	X(sendmsg, ssize_t, (int, const struct msghdr *, int)) \
	X(accept, int, (int, struct sockaddr *, socklen_t *)) \
	X(accept4, int, (int, struct sockaddr *, socklen_t *, int)) \
	X(connect, int, (int, const struct sockaddr *, socklen_t)) \
	X(poll, int, (struct pollfd *, nfds_t, int)) \
	X(ppoll, int, (struct pollfd *, nfds_t, const struct timespec *, const sigset_t *)) \
	X(select, int, (int, fd_set *, fd_set *, fd_set *, struct timeval *)) \
	X(pselect, int, (int, fd_set *, fd_set *, fd_set *, const struct timespec *, const sigset_t *)) \
	X(epoll_wait, int, (int, struct epoll_event *, int, int)) \
	X(epoll_pwait, int, (int, struct epoll_event *, int, int, const sigset_t *)) \
	X(nanosleep, int, (const struct timespec *, struct timespec *)) \
	X(clock_nanosleep, int, (clockid_t, int, const struct timespec *, struct timespec *)) \
	X(usleep, int, (useconds_t)) \
	X(sleep, unsigned, (unsigned)) \
	X(close, int, (int)) \
	X(shutdown, int, (int, int)) \
	X(fcntl, int, (int, int, ...)) \
	X(ioctl, int, (int, unsigned long, ...)) \
	X(socket, int, (int, int, int)) \
	X(socketpair, int, (int, int, int, int *)) \
	X(pipe, int, (int *)) \
	X(pipe2, int, (int *, int)) \
	X(dup, int, (int)) \
	X(dup2, int, (int, int)) \
	X(dup3, int, (int, int, int)) \
	X(setsockopt, int, (int, int, int, const void *, socklen_t)) \
	X(getsockopt, int, (int, int, int, void *, socklen_t *)) \
	X(sendfile, ssize_t, (int, int, off_t *, size_t)) \
	X(sched_yield, int, (void)) \
	X(fork, pid_t, (void)) \
	X(execve, int, (const char *, char *const[], char *const[])) \
	X(sigaction, int, (int, const struct sigaction *, struct sigaction *)) \
	X(signal, sighandler_t, (int, sighandler_t))

#define DT_LIBC_FIELD(name, ret, args) ret (*name) args;
struct dt_libc {
	DT_LIBC_FUNCS(DT_LIBC_FIELD)
};
#undef DT_LIBC_FIELD

extern struct dt_libc dt_libc;

/* 1 once the runtime runs the program (main adopted as a fiber). */
extern int dt_shim_up;
/* 1 in a child of fork(): every call goes straight to libc. */
extern int dt_shim_forked;
/* Depth of signal handlers running on this thread (see signal.c). */
extern __thread int dt_sig_depth;

/* A pthread_kill/pthread_sigqueue of fiber f, about to be sent to worker
 * 0's thread: when its handler runs, f's call under way (if any) is the
 * one that sees EINTR (interpose/signal.c). */
void dt_sig_target(int sig, struct dt_fiber *f);
/* In the child of fork(2): no signal is on its way to a fiber (a child
 * starts with none pending). */
void dt_sig_fork_child(void);
/* The program's signal mask (the main thread's) as a child started by the
 * calling fiber must inherit it; see interpose/process.c.  may_wait: the
 * caller may park while libc has every signal blocked for a moment. */
void dt_program_sigmask(sigset_t *m, bool may_wait);
/* In the child of fork(2): free the popen list's lock (process.c). */
void dt_process_fork_child(void);
/* In the child of fork(2): one thread, the calling fiber (POSIX). */
void dt_pthread_fork_child(void);
/* In the child of fork(2): every inherited descriptor is shared with the
 * parent now, so dtact never sets O_NONBLOCK on one (DESIGN 7). */
void dt_fd_fork_child(void);
/* While the main fiber waits in a call that takes a signal mask (ppoll,
 * pselect, epoll_pwait, sigsuspend): that mask on the main thread.
 * old: _NSIG / 8 bytes.  Returns whether it was installed. */
bool dt_sig_mask_begin(const sigset_t *mask, uint64_t *old);
void dt_sig_mask_end(bool swapped, const uint64_t *old);

/* Resolve the table (dlsym RTLD_NEXT); aborts with a message if a symbol
 * libc must have is missing.  Idempotent, called from the constructor. */
void dt_libc_resolve(void);

/* The real function, resolving the table first if a call comes in before
 * the shim's constructor ran (another library's constructor). */
#define DT_REAL(name) \
	(dt_likely(dt_libc.name != NULL) ? dt_libc.name : \
	 (dt_libc_resolve(), dt_libc.name))

/* A real libc function outside the table (interpose/dns.c, process.c):
 * dlsym(RTLD_NEXT, name) once, cached in *slot; aborts with a message if
 * libc lacks it.  Any thread. */
void *dt_real_sym(void *_Atomic *slot, const char *name);

static inline bool dt_may_park(void)
{
	struct dt_worker *w = dt_self;

	return w && w->cur && !dt_sig_depth && !dt_shim_forked;
}

/* ---- fds ---- */

/* dt_fd.user_flags bits (owned by interpose/) */
#define DT_FDU_KNOWN		0x01	/* classified since it was opened */
#define DT_FDU_SOCKET		0x02	/* a socket: MSG_DONTWAIT works */
#define DT_FDU_POLLABLE		0x04	/* pipe, fifo, char device, socket, ... */
#define DT_FDU_OURS		0x08	/* created by this process */
#define DT_FDU_USER_NB		0x10	/* the program asked for O_NONBLOCK */
#define DT_FDU_SET_NB		0x20	/* dtact set O_NONBLOCK on it */
#define DT_FDU_REGULAR		0x40	/* regular file, dir, block device */
/* Bits 16-31: dup group.  Descriptors made by dup/dup2/dup3/F_DUPFD from
 * one another share an open file description, hence O_NONBLOCK and the
 * socket timeouts: they carry the same non-zero group (0: never dup'ed),
 * so a change made through one is seen through all (interpose/fd.c). */
#define DT_FDU_GROUP_SHIFT	16

/*
 * Classify fd once (fstat + F_GETFL, cached in the fd table; reset on
 * close and on reuse of the number).  Returns the entry, or NULL when fd
 * is out of the table's range (the caller then behaves as libc).
 */
struct dt_fd *dt_fd_classify(int fd);
/* Record a description this process just created (socket, pipe, accept).
 * nonblock: the program asked for O_NONBLOCK (SOCK_NONBLOCK...). */
void dt_fd_created(int fd, bool socket, bool nonblock);
/* Make sure O_NONBLOCK is set on fd's description so the calls that have
 * no per-call flag (accept, connect, pipe I/O) can be tried.  Only for
 * descriptions this process created (DESIGN 7).  0 or -errno; -EPERM when
 * the description is not ours (the caller waits for readiness first). */
int dt_fd_make_nonblock(int fd, struct dt_fd *e);
/* Put back O_NONBLOCK as the program left it on every description dtact
 * changed (before exec, in a child). */
void dt_fd_restore_all(void);

/* errno convention: r >= 0 returned, r < 0 → errno = -r, return -1. */
static inline long dt_ret(long r)
{
	if (r < 0) {
		errno = (int)-r;
		return -1;
	}
	return r;
}

/* ---- interruptible calls (EINTR emulation, core/dt.h) ---- */

/*
 * Around every call that a signal handler or a cancellation request may
 * cut short: f->intr says how (DT_INTR_*).  The end also drops a request
 * that came in while the call was running but did not end a wait: a
 * handler that runs while no wait is under way does not make a later
 * call fail with EINTR (a thread's signal does not outlive its call).
 */
static inline void dt_intr_begin(struct dt_fiber *f, int kind)
{
	f->intr = (uint8_t)kind;
}

static inline void dt_intr_end(struct dt_fiber *f)
{
	f->intr = 0;
	atomic_store_explicit(&f->intr_req, 0, memory_order_relaxed);
}

/* ---- deferred cancellation (interpose/pthread.c) ---- */

/* dt_fiber.cancel bits */
#define DT_CANCEL_DISABLED	0x1	/* PTHREAD_CANCEL_DISABLE */
#define DT_CANCEL_ASYNC		0x2	/* PTHREAD_CANCEL_ASYNCHRONOUS */
#define DT_CANCEL_PENDING	0x4	/* pthread_cancel() was called */
#define DT_CANCEL_EXITING	0x8	/* cancelled or exiting: running the
					   cleanup handlers, never again */

/* Act on the pending request: run the cleanup handlers, end the fiber
 * with PTHREAD_CANCELED. */
__attribute__((noreturn)) void dt_cancel_act(void);

/* A request that a cancellation point must act on now. */
static inline bool dt_cancel_due(struct dt_fiber *f)
{
	return (atomic_load_explicit(&f->cancel, memory_order_acquire) &
		(DT_CANCEL_DISABLED | DT_CANCEL_PENDING | DT_CANCEL_EXITING)) ==
	       DT_CANCEL_PENDING;
}

/*
 * At a cancellation point (entry, and after a wait a request ended).
 * Only where the call may park: never inside a signal handler, on a
 * thread dtact did not create or in a forked child (glibc's own state
 * decides there).
 */
static inline void dt_testcancel(void)
{
	if (dt_may_park() && dt_unlikely(dt_cancel_due(dt_current())))
		dt_cancel_act();
}

/* After an interruptible call returned r (-errno): a wait ended by a
 * cancellation request (-EINTR) acts on it instead of returning. */
static inline void dt_cancel_after(long r)
{
	if (dt_unlikely(r == -EINTR))
		dt_testcancel();
}

/* Deadline from a relative timeout in ms (poll convention: <0 none). */
static inline int64_t dt_deadline_ms(int ms)
{
	return ms < 0 ? DT_DEADLINE_NONE : dt_now_ns() + (int64_t)ms * 1000000;
}

#endif
