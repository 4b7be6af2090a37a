/* SPDX-License-Identifier: MIT */
/*
 * interpose/fd.c - descriptor bookkeeping (DESIGN 7, 8): creation (socket,
 * socketpair, pipe, pipe2, accept in io.c), duplication (dup, dup2, dup3,
 * F_DUPFD), close, the program's view of O_NONBLOCK (fcntl F_GETFL/F_SETFL,
 * ioctl FIONBIO), SO_RCVTIMEO/SO_SNDTIMEO, and putting file status flags
 * back before another program is exec'd.
 *
 * These run on every thread once the runtime is up (a close by a plain
 * thread must still wake the fibers waiting on that fd), but not in a
 * forked child that kept no runtime (shim/shim.c fork_child), whose fd
 * table still names the parent's epoll instances.
 */
#include <fcntl.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "interpose/interpose.h"

static inline bool tracking(void)
{
	return dt_shim_up && !dt_shim_forked;
}

DT_API int close(int fd)
{
	dt_testcancel();	/* a cancellation point in glibc */
	if (tracking())
		dt_fd_close(fd);
	return DT_REAL(close)(fd);
}

DT_API int socket(int domain, int type, int proto)
{
	int fd = DT_REAL(socket)(domain, type, proto);

	if (fd >= 0 && tracking())
		dt_fd_created(fd, true, type & SOCK_NONBLOCK);
	return fd;
}

DT_API int socketpair(int domain, int type, int proto, int sv[2])
{
	int r = DT_REAL(socketpair)(domain, type, proto, sv);

	if (!r && tracking()) {
		dt_fd_created(sv[0], true, type & SOCK_NONBLOCK);
		dt_fd_created(sv[1], true, type & SOCK_NONBLOCK);
	}
	return r;
}

DT_API int pipe2(int p[2], int flags)
{
	int r = DT_REAL(pipe2)(p, flags);

	if (!r && tracking()) {
		dt_fd_created(p[0], false, flags & O_NONBLOCK);
		dt_fd_created(p[1], false, flags & O_NONBLOCK);
	}
	return r;
}

DT_API int pipe(int p[2])
{
	return pipe2(p, 0);
}

/* ---- dup groups: descriptors sharing one description ---- */

static _Atomic uint32_t next_group;

static inline uint32_t group_of(const struct dt_fd *e)
{
	return e->user_flags >> DT_FDU_GROUP_SHIFT;
}

/*
 * Call fn on e and on every other entry of its dup group.  The walk
 * covers the table's present chunks (as dt_fd_restore_all), and only
 * runs for descriptors that were dup'ed.
 */
static void for_group(struct dt_fd *e, void (*fn)(struct dt_fd *, void *),
		      void *arg)
{
	uint32_t g = group_of(e);
	int fd;

	if (!g) {
		fn(e, arg);
		return;
	}
	for (fd = 0; fd < (1 << 20); fd++) {
		struct dt_fd *m = dt_fd_get(fd, 0);

		if (!m) {
			fd |= DT_FD_CHUNK - 1;	/* an absent chunk */
			continue;
		}
		if (group_of(m) == g)
			fn(m, arg);
	}
}

static void any_set_nb(struct dt_fd *m, void *arg)
{
	if (m->user_flags & DT_FDU_SET_NB)
		*(bool *)arg = true;
}

/* dtact made the shared description non-blocking (through any of the
 * group's descriptors). */
static bool group_set_nb(struct dt_fd *e)
{
	bool r = false;

	if (e->user_flags & DT_FDU_SET_NB)
		return true;
	if (group_of(e))
		for_group(e, any_set_nb, &r);
	return r;
}

/* newfd now shares oldfd's description: same view of it, same group. */
static void dup_track(int oldfd, int newfd)
{
	struct dt_fd *o, *n;

	dt_fd_reset(newfd);
	o = dt_fd_get(oldfd, 0);
	n = dt_fd_get(newfd, 1);
	if (o && n) {
		if (!group_of(o)) {
			uint32_t g;

			do	/* 16 bits, never 0 */
				g = (atomic_fetch_add(&next_group, 1) + 1) &
				    0xffff;
			while (!g);
			o->user_flags |= g << DT_FDU_GROUP_SHIFT;
		}
		n->user_flags = o->user_flags;
		n->rcvtimeo_ns = o->rcvtimeo_ns;
		n->sndtimeo_ns = o->sndtimeo_ns;
	}
}

DT_API int dup(int fd)
{
	int r = DT_REAL(dup)(fd);

	if (r >= 0 && tracking())
		dup_track(fd, r);
	return r;
}

DT_API int dup3(int oldfd, int newfd, int flags)
{
	int r;

	/* newfd is closed by the call: wake its waiters first. */
	if (tracking() && oldfd != newfd)
		dt_fd_close(newfd);
	r = DT_REAL(dup3)(oldfd, newfd, flags);
	if (r >= 0 && tracking())
		dup_track(oldfd, r);
	return r;
}

DT_API int dup2(int oldfd, int newfd)
{
	int r;

	if (tracking() && oldfd != newfd &&
	    dt_sys(SYS_fcntl, oldfd, F_GETFD, 0, 0, 0, 0) >= 0)
		dt_fd_close(newfd);
	r = DT_REAL(dup2)(oldfd, newfd);
	if (r >= 0 && tracking() && oldfd != newfd)
		dup_track(oldfd, r);
	return r;
}

static void set_nb_bit(struct dt_fd *m, void *arg)
{
	if (arg)
		m->user_flags |= DT_FDU_USER_NB;
	else
		m->user_flags &= ~DT_FDU_USER_NB;
}

/* The program sets or clears O_NONBLOCK: remember its choice (for every
 * descriptor of the description), and keep the flag on the description
 * while dtact relies on it. */
static long set_user_nb(int fd, long fl)
{
	struct dt_fd *e = dt_fd_classify(fd);

	if (!e)
		return dt_sys(SYS_fcntl, fd, F_SETFL, fl, 0, 0, 0);
	for_group(e, set_nb_bit, (fl & O_NONBLOCK) ? (void *)1 : NULL);
	if (group_set_nb(e))
		fl |= O_NONBLOCK;
	return dt_sys(SYS_fcntl, fd, F_SETFL, fl, 0, 0, 0);
}

DT_API int fcntl(int fd, int cmd, ...)
{
	va_list ap;
	long arg;
	long r;

	va_start(ap, cmd);
	arg = va_arg(ap, long);
	va_end(ap);
	if (!tracking())
		return DT_REAL(fcntl)(fd, cmd, arg);
	switch (cmd) {
	case F_GETFL:
		r = dt_sys(SYS_fcntl, fd, F_GETFL, 0, 0, 0, 0);
		if (r >= 0) {
			struct dt_fd *e = dt_fd_get(fd, 0);

			/* Hide only what dtact set: a description shared
			 * with another process or descriptor may have been
			 * made non-blocking by them. */
			if (e && !(e->user_flags & DT_FDU_USER_NB) &&
			    group_set_nb(e))
				r &= ~O_NONBLOCK;
		}
		return (int)dt_ret(r);
	case F_SETFL:
		return (int)dt_ret(set_user_nb(fd, (int)arg));
	case F_DUPFD:
	case F_DUPFD_CLOEXEC:
		r = dt_sys(SYS_fcntl, fd, cmd, arg, 0, 0, 0);
		if (r >= 0)
			dup_track(fd, (int)r);
		return (int)dt_ret(r);
	default:
		return DT_REAL(fcntl)(fd, cmd, arg);
	}
}

DT_API int ioctl(int fd, unsigned long req, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (tracking() && req == FIONBIO && arg) {
		long fl = dt_sys(SYS_fcntl, fd, F_GETFL, 0, 0, 0, 0);

		if (fl < 0)
			return (int)dt_ret(fl);
		fl = *(int *)arg ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK);
		return (int)dt_ret(set_user_nb(fd, fl) < 0 ? -EBADF : 0);
	}
	return DT_REAL(ioctl)(fd, req, arg);
}

struct tmo {
	int name;
	int64_t ns;
};

static void set_tmo(struct dt_fd *m, void *arg)
{
	struct tmo *t = arg;

	if (t->name == SO_RCVTIMEO)
		m->rcvtimeo_ns = t->ns;
	else
		m->sndtimeo_ns = t->ns;
}

DT_API int setsockopt(int fd, int level, int name, const void *v,
		      socklen_t len)
{
	int r = DT_REAL(setsockopt)(fd, level, name, v, len);

	if (!r && tracking() && level == SOL_SOCKET &&
	    (name == SO_RCVTIMEO || name == SO_SNDTIMEO) &&
	    len >= sizeof(struct timeval)) {
		const struct timeval *tv = v;
		struct dt_fd *e = dt_fd_classify(fd);
		struct tmo t = { name, (int64_t)tv->tv_sec * 1000000000 +
				       (int64_t)tv->tv_usec * 1000 };

		if (e)	/* a socket option: every descriptor of it */
			for_group(e, set_tmo, &t);
	}
	return r;
}

/* ---- processes: what a child and an exec'd program see ---- */

DT_API pid_t vfork(void)
{
	/* POSIX allows vfork to be fork; a vfork child would otherwise run
	 * the parent's fibers' bookkeeping on shared memory. */
	return fork();
}

DT_API pid_t fork(void)
{
	return DT_REAL(fork)();
}

DT_API int execve(const char *path, char *const argv[], char *const envp[])
{
	if (dt_shim_up)
		dt_fd_restore_all();
	return DT_REAL(execve)(path, argv, envp);
}

#define EXEC_WRAP(name, params, args)					\
DT_API int name params							\
{									\
	static int (*real) params;					\
	if (!real)							\
		real = (int (*) params)dlsym(RTLD_NEXT, #name);	\
	if (dt_shim_up)							\
		dt_fd_restore_all();					\
	return real args;						\
}

#include <dlfcn.h>
EXEC_WRAP(execv, (const char *p, char *const a[]), (p, a))
EXEC_WRAP(execvp, (const char *p, char *const a[]), (p, a))
EXEC_WRAP(execvpe, (const char *p, char *const a[], char *const e[]),
	  (p, a, e))
EXEC_WRAP(fexecve, (int fd, char *const a[], char *const e[]), (fd, a, e))

/* execl, execlp, execle: collect the list, then the v-variant. */
#define COLLECT_ARGS(first, argv, ap)					\
	do {								\
		size_t n_ = 1;						\
		va_list cp_;						\
		va_copy(cp_, ap);					\
		while (va_arg(cp_, char *))				\
			n_++;						\
		va_end(cp_);						\
		argv = alloca((n_ + 1) * sizeof(char *));		\
		argv[0] = (char *)(first);				\
		for (size_t i_ = 1; i_ <= n_; i_++)			\
			argv[i_] = va_arg(ap, char *);			\
	} while (0)

#include <alloca.h>
DT_API int execl(const char *path, const char *arg, ...)
{
	char **argv;
	va_list ap;

	va_start(ap, arg);
	COLLECT_ARGS(arg, argv, ap);
	va_end(ap);
	return execv(path, argv);
}

DT_API int execlp(const char *file, const char *arg, ...)
{
	char **argv;
	va_list ap;

	va_start(ap, arg);
	COLLECT_ARGS(arg, argv, ap);
	va_end(ap);
	return execvp(file, argv);
}

DT_API int execle(const char *path, const char *arg, ...)
{
	char **argv, **envp;
	va_list ap;

	va_start(ap, arg);
	COLLECT_ARGS(arg, argv, ap);
	envp = va_arg(ap, char **);
	va_end(ap);
	return execve(path, argv, envp);
}
