/* SPDX-License-Identifier: MIT */
/*
 * interpose/libc.c - the real libc functions (resolved once with
 * dlsym(RTLD_NEXT)) and the per-fd classification behind every I/O call.
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "core/real.h"
#include "interpose/interpose.h"

struct dt_libc dt_libc;
int dt_shim_up;
int dt_shim_forked;
__thread int dt_sig_depth __attribute__((tls_model("initial-exec")));

void dt_libc_resolve(void)
{
	static int done;

	if (done)
		return;
#define DT_LIBC_RESOLVE(name, ret, args)				\
	dt_libc.name = (ret(*) args)dlsym(RTLD_NEXT, #name);		\
	if (!dt_libc.name) {						\
		dt_msg("dtact: cannot resolve libc's %s: %s\n", #name,	\
		       dlerror());					\
		abort();						\
	}
	DT_LIBC_FUNCS(DT_LIBC_RESOLVE)
#undef DT_LIBC_RESOLVE
	/* The core starts its worker threads through these. */
	dt_real.pthread_create = dt_libc.pthread_create;
	dt_real.pthread_join = dt_libc.pthread_join;
	done = 1;
}

void *dt_real_sym(void *_Atomic *slot, const char *name)
{
	void *p = atomic_load_explicit(slot, memory_order_acquire);

	if (dt_likely(p != NULL))
		return p;
	p = dlsym(RTLD_NEXT, name);
	if (!p) {
		dt_msg("dtact: cannot resolve libc's %s: %s\n", name,
		       dlerror());
		abort();
	}
	/* Release: racing resolvers store the same pointer. */
	atomic_store_explicit(slot, p, memory_order_release);
	return p;
}

struct dt_fd *dt_fd_classify(int fd)
{
	struct dt_fd *e = dt_fd_get(fd, 1);
	struct stat st;
	uint32_t fl;
	long r;

	if (!e)
		return NULL;
	fl = e->user_flags;
	if (dt_likely(fl & DT_FDU_KNOWN))
		return e;
	if (dt_sys(SYS_fstat, fd, &st, 0, 0, 0, 0) < 0)
		return NULL;		/* EBADF: the real call will say so */
	r = dt_sys(SYS_fcntl, fd, F_GETFL, 0, 0, 0, 0);
	if (r < 0)
		return NULL;
	fl = DT_FDU_KNOWN | ((r & O_NONBLOCK) ? DT_FDU_USER_NB : 0);
	switch (st.st_mode & S_IFMT) {
	case S_IFSOCK:
		fl |= DT_FDU_SOCKET | DT_FDU_POLLABLE;
		break;
	case S_IFREG:
	case S_IFDIR:
	case S_IFBLK:
		fl |= DT_FDU_REGULAR;
		break;
	default:	/* fifo, char device, anonymous inode (eventfd...) */
		fl |= DT_FDU_POLLABLE;
		break;
	}
	e->user_flags = fl;
	return e;
}

void dt_fd_created(int fd, bool socket, bool nonblock)
{
	struct dt_fd *e;

	dt_fd_reset(fd);
	e = dt_fd_get(fd, 1);
	if (!e)
		return;
	e->user_flags = DT_FDU_KNOWN | DT_FDU_OURS | DT_FDU_POLLABLE |
			(socket ? DT_FDU_SOCKET : 0) |
			(nonblock ? DT_FDU_USER_NB : 0);
}

int dt_fd_make_nonblock(int fd, struct dt_fd *e)
{
	long fl;

	if (e->user_flags & (DT_FDU_SET_NB | DT_FDU_USER_NB))
		return 0;
	if (!(e->user_flags & DT_FDU_OURS))
		return -EPERM;
	fl = dt_sys(SYS_fcntl, fd, F_GETFL, 0, 0, 0, 0);
	if (fl < 0)
		return (int)fl;
	if (!(fl & O_NONBLOCK)) {
		fl = dt_sys(SYS_fcntl, fd, F_SETFL, fl | O_NONBLOCK, 0, 0, 0);
		if (fl < 0)
			return (int)fl;
	}
	e->user_flags |= DT_FDU_SET_NB;
	return 0;
}

void dt_fd_fork_child(void)
{
	int fd;

	for (fd = 0; fd < (1 << 20); fd++) {
		struct dt_fd *e = dt_fd_get(fd, 0);

		if (!e) {
			fd |= DT_FD_CHUNK - 1;	/* skip an absent chunk */
			continue;
		}
		e->user_flags &= ~DT_FDU_OURS;
	}
}

void dt_fd_restore_all(void)
{
	int fd;

	/* Async-signal-safe: raw system calls only (runs after fork). */
	for (fd = 0; fd < (1 << 20); fd++) {
		struct dt_fd *e = dt_fd_get(fd, 0);
		long fl;

		if (!e) {
			fd |= DT_FD_CHUNK - 1;	/* skip an absent chunk */
			if (fd >= (1 << 20) - 1)
				break;
			continue;
		}
		if (!(e->user_flags & DT_FDU_SET_NB) ||
		    (e->user_flags & DT_FDU_USER_NB))
			continue;
		/* Close-on-exec: the new program never sees it, and the
		 * description may be one this process goes on using. */
		fl = dt_sys(SYS_fcntl, fd, F_GETFD, 0, 0, 0, 0);
		if (fl < 0 || (fl & FD_CLOEXEC))
			continue;
		fl = dt_sys(SYS_fcntl, fd, F_GETFL, 0, 0, 0, 0);
		if (fl >= 0)
			dt_sys(SYS_fcntl, fd, F_SETFL, fl & ~O_NONBLOCK, 0, 0,
			       0);
		e->user_flags &= ~DT_FDU_SET_NB;
	}
}
