/* SPDX-License-Identifier: MIT */
/*
 * interpose/io.c - read/write/recv/send/accept/connect/sendfile families.
 *
 * How a call waits (DESIGN 6, 7):
 *   - sockets: every try carries MSG_DONTWAIT (read/write/readv/writev on a
 *     socket become the equivalent recv/send/recvmsg/sendmsg, which Linux
 *     defines identically for sockets), so no file status flag changes;
 *   - accept and connect have no per-call flag: O_NONBLOCK is set on the
 *     description when this process created it, else the call waits for
 *     readiness first and then makes the blocking call;
 *   - pipes, FIFOs, terminals, other pollable files: O_NONBLOCK on
 *     descriptions this process created (pipe, pipe2), readiness first for
 *     inherited ones;
 *   - regular files and directories: the plain blocking call;
 *   - a descriptor the program itself made non-blocking: one try, EAGAIN
 *     as libc would say it.
 * SO_RCVTIMEO/SO_SNDTIMEO set through setsockopt become deadlines; expiry
 * returns EAGAIN, as Linux does.  close() by another fiber wakes a waiter
 * with EBADF.
 *
 * Where the kernel's blocking path differs from a non-blocking try, the
 * blocking one is reproduced: a send that had to wait reports a pending
 * socket error (ECONNRESET from a peer that closed with data unread)
 * before EPIPE, as the kernel's wait loop does; read/readv of nothing on
 * a socket return 0 at once (recv of 0 bytes would wait); recv with
 * MSG_WAITALL on a stream socket waits for all of it; a blocking connect
 * is finished by a second connect() (so that a third one says EISCONN),
 * an interrupted one goes on waiting when called again, and an AF_UNIX
 * connect to a listener whose backlog is full waits for room.
 *
 * Every call here but sendfile is a cancellation point.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "interpose/interpose.h"

enum op {
	OP_READ, OP_WRITE, OP_READV, OP_WRITEV,
	OP_RECVFROM, OP_RECVMSG, OP_SENDTO, OP_SENDMSG,
	OP_ACCEPT4, OP_SENDFILE,
};

struct io {
	int op;
	int fd;
	void *buf;
	size_t len;
	int flags;
	void *addr;		/* sockaddr, msghdr or iovec */
	void *alen;		/* socklen_t *, or off_t * for sendfile */
	socklen_t addrlen;
	int in_fd;		/* sendfile */
	int all;		/* blocking semantics: transfer everything */
	struct msghdr *mh;	/* sendmsg: the caller's copy we advance */
};

static inline int op_dir(int op)
{
	switch (op) {
	case OP_WRITE: case OP_WRITEV: case OP_SENDTO: case OP_SENDMSG:
	case OP_SENDFILE:
		return DT_FD_WRITE;
	default:
		return DT_FD_READ;
	}
}

/* One try, as a raw system call (-errno).  dontwait: add MSG_DONTWAIT
 * where the call is a socket call. */
static long try_op(struct io *io, bool sock, int dontwait)
{
	int fl = io->flags | (dontwait ? MSG_DONTWAIT : 0);
	struct msghdr mh;

	switch (io->op) {
	case OP_READ:
		if (sock)
			return dt_sys(SYS_recvfrom, io->fd, io->buf, io->len,
				      fl, NULL, NULL);
		return dt_sys(SYS_read, io->fd, io->buf, io->len, 0, 0, 0);
	case OP_WRITE:
		if (sock)
			return dt_sys(SYS_sendto, io->fd, io->buf, io->len,
				      fl, NULL, 0);
		return dt_sys(SYS_write, io->fd, io->buf, io->len, 0, 0, 0);
	case OP_READV:
	case OP_WRITEV:
		if (sock) {
			memset(&mh, 0, sizeof(mh));
			mh.msg_iov = io->addr;
			mh.msg_iovlen = io->len;
			return dt_sys(io->op == OP_READV ? SYS_recvmsg :
				      SYS_sendmsg, io->fd, &mh, fl, 0, 0, 0);
		}
		return dt_sys(io->op == OP_READV ? SYS_readv : SYS_writev,
			      io->fd, io->addr, io->len, 0, 0, 0);
	case OP_RECVFROM:
		return dt_sys(SYS_recvfrom, io->fd, io->buf, io->len, fl,
			      io->addr, io->alen);
	case OP_RECVMSG:
		return dt_sys(SYS_recvmsg, io->fd, io->addr, fl, 0, 0, 0);
	case OP_SENDTO:
		return dt_sys(SYS_sendto, io->fd, io->buf, io->len, fl,
			      io->addr, io->addrlen);
	case OP_SENDMSG:
		return dt_sys(SYS_sendmsg, io->fd, io->addr, fl, 0, 0, 0);
	case OP_ACCEPT4:
		return dt_sys(SYS_accept4, io->fd, io->addr, io->alen,
			      io->flags, 0, 0);
	case OP_SENDFILE:
		return dt_sys(SYS_sendfile, io->fd, io->in_fd, io->alen,
			      io->len, 0, 0);
	}
	return -ENOSYS;
}

/*
 * A blocking send on a stream socket or pipe returns only when everything
 * is queued (or on error/timeout, with the count so far); so does a recv
 * with MSG_WAITALL on a stream socket (or at end of file).  Advance io by
 * r bytes; false when nothing is left.
 */
static bool advance(struct io *io, size_t r)
{
	struct iovec *v;
	size_t i, n;

	switch (io->op) {
	case OP_WRITE:
	case OP_SENDTO:
	case OP_SENDFILE:
	case OP_RECVFROM:	/* MSG_WAITALL */
		io->buf = (char *)io->buf + r;
		io->len -= r;
		return io->len > 0;
	case OP_WRITEV:
	case OP_SENDMSG:
		v = io->op == OP_WRITEV ? io->addr : io->mh->msg_iov;
		n = io->op == OP_WRITEV ? io->len : io->mh->msg_iovlen;
		for (i = 0; i < n && r >= v[i].iov_len; i++)
			r -= v[i].iov_len;
		if (i == n)
			return false;
		v[i].iov_base = (char *)v[i].iov_base + r;
		v[i].iov_len -= r;
		if (io->op == OP_WRITEV) {
			io->addr = &v[i];
			io->len = n - i;
		} else {
			io->mh->msg_iov = &v[i];
			io->mh->msg_iovlen = n - i;
		}
		return true;
	}
	return false;
}

static bool has_dontwait(int op)
{
	return op != OP_ACCEPT4 && op != OP_SENDFILE;
}

/*
 * The engine: returns what the syscall returns (-errno on error).
 * Called only when dt_may_park().
 */
static long do_io_wait(struct io *io);

static long do_io(struct io *io)
{
	struct dt_fiber *f = dt_current();
	long r;

	/* A signal handler may cut the wait short (EINTR) unless it was
	 * installed with SA_RESTART; a socket timeout makes the call one
	 * that is never restarted (signal(7)). */
	dt_intr_begin(f, DT_INTR_RESTARTABLE);
	r = do_io_wait(io);
	dt_intr_end(f);
	return r;
}

/* The error a socket has pending (SO_ERROR, which clears it), 0 if none:
 * what the kernel's blocking send reports when its wait ends. */
static long pending_error(int fd)
{
	int err = 0;
	socklen_t l = sizeof(err);

	if (dt_sys(SYS_getsockopt, fd, SOL_SOCKET, SO_ERROR, &err, &l, 0) < 0)
		return 0;
	return -(long)err;
}

/* Whether an iovec array asks for no bytes at all (readv of nothing). */
static bool iov_empty(const struct iovec *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (v[i].iov_len)
			return false;
	return true;
}

/*
 * read, write, readv, writev on an fd classified as a socket, and the
 * kernel says it is none: the number was closed out of sight (inside
 * libc: freopen, a FILE's close we did not see) and names another
 * description now.  Forget what was known of it; the call starts over.
 */
static bool stale_socket(const struct io *io, bool sock, long r)
{
	if (r != -ENOTSOCK || !sock || io->op > OP_WRITEV)
		return false;
	dt_fd_reset(io->fd);
	return true;
}

static long do_io_wait(struct io *io)
{
	struct dt_fd *e;
	int dir = op_dir(io->op);
	int64_t deadline;
	int64_t tmo;
	bool sock, ready_first;
	long r, done;

again:
	e = dt_fd_classify(io->fd);
	deadline = DT_DEADLINE_NONE;
	ready_first = false;
	done = 0;
	if (!e || (e->user_flags & DT_FDU_REGULAR) ||
	    !(e->user_flags & DT_FDU_POLLABLE))
		return try_op(io, false, 0);
	sock = e->user_flags & DT_FDU_SOCKET;
	if (e->user_flags & DT_FDU_USER_NB) {
		r = try_op(io, sock, 0);	/* the program's choice */
		if (stale_socket(io, sock, r))
			goto again;
		return r;
	}
	if (!sock && (io->op == OP_RECVFROM || io->op == OP_RECVMSG ||
		      io->op == OP_SENDTO || io->op == OP_SENDMSG))
		return try_op(io, false, 0);	/* ENOTSOCK from the kernel */
	/* read(2) of nothing returns 0 at once on a socket (recv would
	 * wait for data); readv with a bad count is the kernel's EINVAL. */
	if (sock && ((io->op == OP_READ && !io->len) ||
		     (io->op == OP_READV && (io->len > IOV_MAX ||
		      iov_empty(io->addr, io->len)))))
		return try_op(io, false, 0);
	if (!(sock && has_dontwait(io->op))) {
		/* No per-call flag: the description must be non-blocking,
		 * or we wait for readiness before the blocking call. */
		if (dt_fd_make_nonblock(io->fd, e))
			ready_first = true;
	}
	tmo = sock ? (dir == DT_FD_READ ? e->rcvtimeo_ns : e->sndtimeo_ns)
		   : 0;
	if (tmo > 0) {
		deadline = dt_now_ns() + tmo;
		dt_current()->intr = DT_INTR_ALWAYS;
	}
	for (bool waited = false;; waited = true) {
		uint32_t t = dt_fd_ticket(e, dir);

		if (ready_first) {
			r = dt_fd_wait_level(io->fd, dir ? EPOLLOUT : EPOLLIN,
					     deadline);
			if (r == -ETIMEDOUT)
				return -EAGAIN;
			if (r < 0 && r != -EPERM)
				return r;
			r = try_op(io, sock, 0);
			if (stale_socket(io, sock, r))
				goto again;
			return r;
		}
		if (waited && sock && dir == DT_FD_WRITE &&
		    (r = pending_error(io->fd)))
			return done ? done : r;
		r = try_op(io, sock, sock && has_dontwait(io->op));
		if (!done && stale_socket(io, sock, r))
			goto again;
		if (r > 0 && io->all) {
			done += r;
			if (!advance(io, (size_t)r))
				return done;
			continue;
		}
		if (r != -EAGAIN)
			return done && r <= 0 ? done : r;
		r = dt_fd_wait(io->fd, e, dir, t, deadline);
		if (r == -ETIMEDOUT)	/* SO_RCVTIMEO expiry, as Linux */
			return done ? done : -EAGAIN;
		if (r == -EPERM) {
			ready_first = true;
			continue;
		}
		if (r)
			return done ? done : r;
	}
}

/* do_io at a cancellation point. */
static long cancel_io(struct io *io)
{
	long r;

	dt_testcancel();
	r = do_io(io);
	dt_cancel_after(r);
	return r;
}

DT_API ssize_t read(int fd, void *buf, size_t n)
{
	struct io io = { .op = OP_READ, .fd = fd, .buf = buf, .len = n };

	if (!dt_may_park())
		return DT_REAL(read)(fd, buf, n);
	return dt_ret(cancel_io(&io));
}

DT_API ssize_t write(int fd, const void *buf, size_t n)
{
	struct io io = { .op = OP_WRITE, .fd = fd, .buf = (void *)buf,
			 .len = n, .all = 1 };

	if (!dt_may_park())
		return DT_REAL(write)(fd, buf, n);
	return dt_ret(cancel_io(&io));
}

DT_API ssize_t readv(int fd, const struct iovec *iov, int cnt)
{
	struct io io = { .op = OP_READV, .fd = fd, .addr = (void *)iov,
			 .len = (size_t)cnt };

	if (!dt_may_park())
		return DT_REAL(readv)(fd, iov, cnt);
	if (cnt < 0)
		return dt_ret(dt_sys(SYS_readv, fd, iov, cnt, 0, 0, 0));
	return dt_ret(cancel_io(&io));
}

/* A copy of the caller's iovec array that do_io may advance. */
#define IOV_ON_STACK 64
static struct iovec *iov_copy(const struct iovec *iov, size_t n,
			      struct iovec *stack)
{
	struct iovec *v = n <= IOV_ON_STACK ? stack :
			  malloc(n * sizeof(*v));

	if (v)
		memcpy(v, iov, n * sizeof(*v));
	return v;
}

DT_API ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
	struct iovec st[IOV_ON_STACK], *v;
	struct io io = { .op = OP_WRITEV, .fd = fd, .len = (size_t)cnt,
			 .all = 1 };
	long r;

	if (!dt_may_park())
		return DT_REAL(writev)(fd, iov, cnt);
	dt_testcancel();
	if (cnt < 0 || cnt > IOV_MAX)
		return DT_REAL(writev)(fd, iov, cnt);
	v = iov_copy(iov, (size_t)cnt, st);
	if (!v)
		return DT_REAL(writev)(fd, iov, cnt);
	io.addr = v;
	r = do_io(&io);
	if (v != st)
		free(v);
	dt_cancel_after(r);
	return dt_ret(r);
}

/* MSG_WAITALL means "all of it" only on a stream socket. */
static bool stream_socket(int fd)
{
	int type = 0;
	socklen_t l = sizeof(type);

	return dt_sys(SYS_getsockopt, fd, SOL_SOCKET, SO_TYPE, &type, &l,
		      0) == 0 && type == SOCK_STREAM;
}

DT_API ssize_t recvfrom(int fd, void *buf, size_t n, int flags,
			struct sockaddr *a, socklen_t *alen)
{
	struct io io = { .op = OP_RECVFROM, .fd = fd, .buf = buf, .len = n,
			 .flags = flags, .addr = a, .alen = alen };

	if (!dt_may_park())
		return DT_REAL(recvfrom)(fd, buf, n, flags, a, alen);
	dt_testcancel();
	if (flags & MSG_DONTWAIT)
		return DT_REAL(recvfrom)(fd, buf, n, flags, a, alen);
	if ((flags & MSG_WAITALL) && !(flags & MSG_PEEK) && n &&
	    stream_socket(fd))
		io.all = 1;
	return dt_ret(cancel_io(&io));
}

DT_API ssize_t recv(int fd, void *buf, size_t n, int flags)
{
	return recvfrom(fd, buf, n, flags, NULL, NULL);
}

DT_API ssize_t recvmsg(int fd, struct msghdr *m, int flags)
{
	struct io io = { .op = OP_RECVMSG, .fd = fd, .addr = m,
			 .flags = flags };

	if (!dt_may_park())
		return DT_REAL(recvmsg)(fd, m, flags);
	dt_testcancel();
	if (flags & MSG_DONTWAIT)
		return DT_REAL(recvmsg)(fd, m, flags);
	return dt_ret(cancel_io(&io));
}

DT_API ssize_t sendto(int fd, const void *buf, size_t n, int flags,
		      const struct sockaddr *a, socklen_t alen)
{
	struct io io = { .op = OP_SENDTO, .fd = fd, .buf = (void *)buf,
			 .len = n, .flags = flags, .addr = (void *)a,
			 .addrlen = alen, .all = 1 };

	if (!dt_may_park())
		return DT_REAL(sendto)(fd, buf, n, flags, a, alen);
	dt_testcancel();
	if (flags & MSG_DONTWAIT)
		return DT_REAL(sendto)(fd, buf, n, flags, a, alen);
	return dt_ret(cancel_io(&io));
}

DT_API ssize_t send(int fd, const void *buf, size_t n, int flags)
{
	return sendto(fd, buf, n, flags, NULL, 0);
}

DT_API ssize_t sendmsg(int fd, const struct msghdr *m, int flags)
{
	struct iovec st[IOV_ON_STACK], *v;
	struct msghdr mh;
	struct io io = { .op = OP_SENDMSG, .fd = fd, .addr = &mh,
			 .flags = flags, .all = 1, .mh = &mh };
	long r;

	if (!dt_may_park())
		return DT_REAL(sendmsg)(fd, m, flags);
	dt_testcancel();
	if ((flags & MSG_DONTWAIT) || m->msg_iovlen > IOV_MAX)
		return DT_REAL(sendmsg)(fd, m, flags);
	mh = *m;
	v = iov_copy(m->msg_iov, m->msg_iovlen, st);
	if (!v)
		return DT_REAL(sendmsg)(fd, m, flags);
	mh.msg_iov = v;
	r = do_io(&io);
	if (v != st)
		free(v);
	dt_cancel_after(r);
	return dt_ret(r);
}

DT_API int accept4(int fd, struct sockaddr *a, socklen_t *alen, int flags)
{
	struct io io = { .op = OP_ACCEPT4, .fd = fd, .addr = a, .alen = alen,
			 .flags = flags };
	long r;

	if (!dt_may_park()) {
		r = DT_REAL(accept4)(fd, a, alen, flags);
		if (r >= 0 && dt_shim_up && !dt_shim_forked)
			dt_fd_created((int)r, true, flags & SOCK_NONBLOCK);
		return (int)r;
	}
	r = cancel_io(&io);
	if (r >= 0)
		dt_fd_created((int)r, true, flags & SOCK_NONBLOCK);
	return (int)dt_ret(r);
}

DT_API int accept(int fd, struct sockaddr *a, socklen_t *alen)
{
	return accept4(fd, a, alen, 0);
}

DT_API ssize_t sendfile(int out, int in, off_t *off, size_t n)
{
	struct io io = { .op = OP_SENDFILE, .fd = out, .in_fd = in,
			 .alen = off, .len = n, .all = 1 };

	if (!dt_may_park())
		return DT_REAL(sendfile)(out, in, off, n);
	return dt_ret(do_io(&io));
}

static long connect_wait(int fd, struct dt_fd *e, const struct sockaddr *a,
			 socklen_t alen, int64_t deadline);
static long unix_connect_wait(int fd, const struct sockaddr *a,
			      socklen_t alen, int64_t deadline);

/*
 * connect(2) on a blocking socket: start it non-blocking, wait for
 * writability, and finish with a second connect(), which returns what the
 * blocking call would (0 or the error) and moves the socket to connected,
 * so that a later connect says EISCONN as after a blocking one.  A
 * connect still in progress (EALREADY: an earlier one was interrupted)
 * waits too, as the blocking call does.  SO_SNDTIMEO bounds the wait
 * (EINPROGRESS on expiry, as Linux).  AF_UNIX: a listener with a full
 * backlog makes the non-blocking call fail with EAGAIN where the
 * blocking one waits for room (EAGAIN after SO_SNDTIMEO).
 */
DT_API int connect(int fd, const struct sockaddr *a, socklen_t alen)
{
	struct dt_fd *e;
	int64_t deadline = DT_DEADLINE_NONE;
	long r;

	if (!dt_may_park())
		return DT_REAL(connect)(fd, a, alen);
	dt_testcancel();
	e = dt_fd_classify(fd);
	if (!e || !(e->user_flags & DT_FDU_SOCKET) ||
	    (e->user_flags & DT_FDU_USER_NB) || dt_fd_make_nonblock(fd, e))
		return (int)dt_ret(dt_sys(SYS_connect, fd, a, alen, 0, 0, 0));
	if (e->sndtimeo_ns > 0)
		deadline = dt_now_ns() + e->sndtimeo_ns;
	r = dt_sys(SYS_connect, fd, a, alen, 0, 0, 0);
	if (r == -EINPROGRESS || r == -EALREADY)
		r = connect_wait(fd, e, a, alen, deadline);
	else if (r == -EAGAIN && a && alen >= sizeof(sa_family_t) &&
		 a->sa_family == AF_UNIX)
		r = unix_connect_wait(fd, a, alen, deadline);
	dt_cancel_after(r);
	return (int)dt_ret(r);
}

static long connect_wait(int fd, struct dt_fd *e, const struct sockaddr *a,
			 socklen_t alen, int64_t deadline)
{
	struct dt_fiber *self = dt_current();
	long r;

	dt_intr_begin(self, deadline == DT_DEADLINE_NONE ?
		      DT_INTR_RESTARTABLE : DT_INTR_ALWAYS);
	for (;;) {
		uint32_t t = dt_fd_ticket(e, DT_FD_WRITE);
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		struct timespec zero = { 0, 0 };

		r = dt_sys(SYS_ppoll, &p, 1, &zero, NULL, 0, 0);
		if (r > 0) {
			r = dt_sys(SYS_connect, fd, a, alen, 0, 0, 0);
			if (r == -EISCONN)	/* ours, just finished */
				r = 0;
			if (r != -EALREADY && r != -EINPROGRESS)
				break;
			continue;	/* not finished after all */
		}
		r = dt_fd_wait(fd, e, DT_FD_WRITE, t, deadline);
		if (r == -ETIMEDOUT) {
			r = -EINPROGRESS;
			break;
		}
		if (r && r != -EPERM)
			break;
	}
	dt_intr_end(self);
	return r;
}

static long unix_connect_wait(int fd, const struct sockaddr *a,
			      socklen_t alen, int64_t deadline)
{
	struct dt_fiber *self = dt_current();
	int64_t step = 1000000;		/* 1 ms, doubling to 16 ms */
	long r;

	/* No readiness says "the listener has room": look again after a
	 * short sleep.  Interrupted as the blocking call would be. */
	dt_intr_begin(self, deadline == DT_DEADLINE_NONE ?
		      DT_INTR_RESTARTABLE : DT_INTR_ALWAYS);
	for (;;) {
		int64_t now = dt_now_ns(), until = now + step;

		if (deadline != DT_DEADLINE_NONE && now >= deadline) {
			r = -EAGAIN;
			break;
		}
		if (deadline != DT_DEADLINE_NONE && until > deadline)
			until = deadline;
		if (dt_sleep_until(until, CLOCK_MONOTONIC)) {
			r = -EINTR;
			break;
		}
		r = dt_sys(SYS_connect, fd, a, alen, 0, 0, 0);
		if (r != -EAGAIN)
			break;
		if (step < 16000000)
			step *= 2;
	}
	dt_intr_end(self);
	return r;
}
