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
 * is queued (or on error/timeout, with the count so far).  Advance io by
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
	f->intr = DT_INTR_RESTARTABLE;
	r = do_io_wait(io);
	f->intr = 0;
	return r;
}

static long do_io_wait(struct io *io)
{
	struct dt_fd *e = dt_fd_classify(io->fd);
	int dir = op_dir(io->op);
	int64_t deadline = DT_DEADLINE_NONE, tmo;
	bool sock, ready_first = false;
	long r, done = 0;

	if (!e || (e->user_flags & DT_FDU_REGULAR) ||
	    !(e->user_flags & DT_FDU_POLLABLE))
		return try_op(io, false, 0);
	sock = e->user_flags & DT_FDU_SOCKET;
	if (e->user_flags & DT_FDU_USER_NB)
		return try_op(io, sock, 0);	/* the program's choice */
	if (!sock && (io->op == OP_RECVFROM || io->op == OP_RECVMSG ||
		      io->op == OP_SENDTO || io->op == OP_SENDMSG))
		return try_op(io, false, 0);	/* ENOTSOCK from the kernel */
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
	for (;;) {
		uint32_t t = dt_fd_ticket(e, dir);

		if (ready_first) {
			r = dt_fd_wait_level(io->fd, dir ? EPOLLOUT : EPOLLIN,
					     deadline);
			if (r == -ETIMEDOUT)
				return -EAGAIN;
			if (r < 0 && r != -EPERM)
				return r;
			return try_op(io, sock, 0);
		}
		r = try_op(io, sock, sock && has_dontwait(io->op));
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

DT_API ssize_t read(int fd, void *buf, size_t n)
{
	struct io io = { .op = OP_READ, .fd = fd, .buf = buf, .len = n };

	if (!dt_may_park())
		return DT_REAL(read)(fd, buf, n);
	return dt_ret(do_io(&io));
}

DT_API ssize_t write(int fd, const void *buf, size_t n)
{
	struct io io = { .op = OP_WRITE, .fd = fd, .buf = (void *)buf,
			 .len = n, .all = 1 };

	if (!dt_may_park())
		return DT_REAL(write)(fd, buf, n);
	return dt_ret(do_io(&io));
}

DT_API ssize_t readv(int fd, const struct iovec *iov, int cnt)
{
	struct io io = { .op = OP_READV, .fd = fd, .addr = (void *)iov,
			 .len = (size_t)cnt };

	if (!dt_may_park())
		return DT_REAL(readv)(fd, iov, cnt);
	return dt_ret(do_io(&io));
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

	if (!dt_may_park() || cnt < 0 || cnt > IOV_MAX)
		return DT_REAL(writev)(fd, iov, cnt);
	v = iov_copy(iov, (size_t)cnt, st);
	if (!v)
		return DT_REAL(writev)(fd, iov, cnt);
	io.addr = v;
	r = do_io(&io);
	if (v != st)
		free(v);
	return dt_ret(r);
}

DT_API ssize_t recvfrom(int fd, void *buf, size_t n, int flags,
			struct sockaddr *a, socklen_t *alen)
{
	struct io io = { .op = OP_RECVFROM, .fd = fd, .buf = buf, .len = n,
			 .flags = flags, .addr = a, .alen = alen };

	if (!dt_may_park() || (flags & MSG_DONTWAIT))
		return DT_REAL(recvfrom)(fd, buf, n, flags, a, alen);
	return dt_ret(do_io(&io));
}

DT_API ssize_t recv(int fd, void *buf, size_t n, int flags)
{
	return recvfrom(fd, buf, n, flags, NULL, NULL);
}

DT_API ssize_t recvmsg(int fd, struct msghdr *m, int flags)
{
	struct io io = { .op = OP_RECVMSG, .fd = fd, .addr = m,
			 .flags = flags };

	if (!dt_may_park() || (flags & MSG_DONTWAIT))
		return DT_REAL(recvmsg)(fd, m, flags);
	return dt_ret(do_io(&io));
}

DT_API ssize_t sendto(int fd, const void *buf, size_t n, int flags,
		      const struct sockaddr *a, socklen_t alen)
{
	struct io io = { .op = OP_SENDTO, .fd = fd, .buf = (void *)buf,
			 .len = n, .flags = flags, .addr = (void *)a,
			 .addrlen = alen, .all = 1 };

	if (!dt_may_park() || (flags & MSG_DONTWAIT))
		return DT_REAL(sendto)(fd, buf, n, flags, a, alen);
	return dt_ret(do_io(&io));
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

	if (!dt_may_park() || (flags & MSG_DONTWAIT) ||
	    m->msg_iovlen > IOV_MAX)
		return DT_REAL(sendmsg)(fd, m, flags);
	mh = *m;
	v = iov_copy(m->msg_iov, m->msg_iovlen, st);
	if (!v)
		return DT_REAL(sendmsg)(fd, m, flags);
	mh.msg_iov = v;
	r = do_io(&io);
	if (v != st)
		free(v);
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
	r = do_io(&io);
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

static long connect_wait(int fd, struct dt_fd *e, int64_t deadline);

/*
 * connect(2) on a blocking socket: start it non-blocking, wait for
 * writability, and report SO_ERROR, which is what the blocking call
 * returns.  SO_SNDTIMEO bounds the wait (EINPROGRESS on expiry, as Linux).
 */
DT_API int connect(int fd, const struct sockaddr *a, socklen_t alen)
{
	struct dt_fd *e;
	int64_t deadline = DT_DEADLINE_NONE;
	long r;

	if (!dt_may_park())
		return DT_REAL(connect)(fd, a, alen);
	e = dt_fd_classify(fd);
	if (!e || !(e->user_flags & DT_FDU_SOCKET) ||
	    (e->user_flags & DT_FDU_USER_NB) || dt_fd_make_nonblock(fd, e))
		return (int)dt_ret(dt_sys(SYS_connect, fd, a, alen, 0, 0, 0));
	if (e->sndtimeo_ns > 0)
		deadline = dt_now_ns() + e->sndtimeo_ns;
	r = dt_sys(SYS_connect, fd, a, alen, 0, 0, 0);
	if (r != -EINPROGRESS)
		return (int)dt_ret(r);
	r = connect_wait(fd, e, deadline);
	return (int)dt_ret(r);
}

static long connect_wait(int fd, struct dt_fd *e, int64_t deadline)
{
	struct dt_fiber *self = dt_current();
	long r;

	self->intr = deadline == DT_DEADLINE_NONE ? DT_INTR_RESTARTABLE :
		     DT_INTR_ALWAYS;
	int err = 0;

	for (;;) {
		socklen_t l = sizeof(err);
		uint32_t t = dt_fd_ticket(e, DT_FD_WRITE);
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		struct timespec zero = { 0, 0 };

		r = dt_sys(SYS_ppoll, &p, 1, &zero, NULL, 0, 0);
		if (r > 0) {
			r = dt_sys(SYS_getsockopt, fd, SOL_SOCKET, SO_ERROR,
				   &err, &l, 0);
			break;
		}
		r = dt_fd_wait(fd, e, DT_FD_WRITE, t, deadline);
		if (r == -ETIMEDOUT) {
			r = -EINPROGRESS;
			break;
		}
		if (r && r != -EPERM)
			break;
	}
	self->intr = 0;
	if (r >= 0)
		r = err ? -err : 0;
	return r;
}
