/* SPDX-License-Identifier: MIT */
/*
 * interpose/pthread.c - thread lifecycle: every pthread_create() made once
 * the runtime is up starts a fiber; the pthread_t it returns is the fiber
 * handle with the top bit set (never a user-space address, so a real
 * pthread_t and a fiber's can be told apart everywhere).  Error numbers are
 * returned, errno is left alone (POSIX pthread convention).
 *
 * Process end follows POSIX: the process exits with status 0 when the
 * last thread ends, including after main() called pthread_exit().
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "interpose/interpose.h"
#include "interpose/shim_api.h"

#define DT_PT_TAG (1ull << 63)

static _Atomic int app_threads = 1;	/* main */

static inline bool is_fiber_pt(pthread_t t)
{
	return ((uint64_t)t & DT_PT_TAG) != 0;
}

static inline pthread_t fiber_pt(struct dt_fiber *f)
{
	return (pthread_t)(DT_PT_TAG | dt_fiber_handle(f));
}

static int lookup(pthread_t t, struct dt_fiber **f)
{
	return -dt_fiber_lookup((uint64_t)t & ~DT_PT_TAG, f);
}

/* Ends the calling fiber as pthread_exit(ret) would. */
static void __attribute__((noreturn)) thread_end(void *ret)
{
	if (atomic_fetch_sub(&app_threads, 1) == 1)
		exit(0);	/* the last thread: POSIX process exit */
	dt_fiber_exit(ret);
}

static void thread_entry(void *arg)
{
	struct dt_fiber *f = dt_current();
	void *(*fn)(void *) = (void *(*)(void *))f->user;

	thread_end(fn(arg));
}

DT_API int pthread_create(pthread_t *t, const pthread_attr_t *attr,
			  void *(*fn)(void *), void *arg)
{
	struct dt_spawn s = { 0 };
	struct dt_fiber *f;
	uint64_t h;
	int r;

	if (!dt_shim_up || dt_shim_forked)
		return DT_REAL(pthread_create)(t, attr, fn, arg);
	s.fn = thread_entry;
	s.arg = arg;
	s.user = (void *)fn;
	s.fp = 1;
	s.kind = 1;
	s.worker = -1;
	if (attr) {
		size_t sz = 0;
		void *top = NULL;
		int det = 0;

		pthread_attr_getdetachstate(attr, &det);
		s.detached = det == PTHREAD_CREATE_DETACHED;
		void *lo = NULL;

		pthread_attr_getstacksize(attr, &sz);
		/* glibc reports stackaddr - stacksize; stackaddr (the top) is
		 * NULL unless pthread_attr_setstack gave one. */
		pthread_attr_getstack(attr, &lo, &sz);
		top = (char *)lo + sz;
		if (top) {		/* pthread_attr_setstack: the caller's */
			s.stack = lo;
			s.stack_size = sz;
		} else if (sz > dt_rt.stack_size) {
			s.stack_size = sz;
		}
	}
	atomic_fetch_add(&app_threads, 1);
	r = dt_spawn_handle(&s, &f, &h);
	if (r) {
		atomic_fetch_sub(&app_threads, 1);
		return -r == EINVAL ? EAGAIN : -r;
	}
	*t = (pthread_t)(DT_PT_TAG | h);
	return 0;
}

static int join(pthread_t t, void **ret, int64_t deadline, clockid_t clk,
		int busy)
{
	struct dt_fiber *f;
	int r = lookup(t, &f);

	if (r)
		return r;
	r = -dt_fiber_join(f, ret, deadline, clk);
	if (r == ETIMEDOUT && busy)
		return EBUSY;
	return r;
}

DT_API int pthread_join(pthread_t t, void **ret)
{
	if (!is_fiber_pt(t))
		return DT_REAL(pthread_join)(t, ret);
	return join(t, ret, DT_DEADLINE_NONE, CLOCK_MONOTONIC, 0);
}

DT_API int pthread_tryjoin_np(pthread_t t, void **ret)
{
	if (!is_fiber_pt(t))
		return DT_REAL(pthread_tryjoin_np)(t, ret);
	return join(t, ret, 0, CLOCK_MONOTONIC, 1);
}

DT_API int pthread_clockjoin_np(pthread_t t, void **ret, clockid_t clk,
				const struct timespec *abs)
{
	if (!is_fiber_pt(t))
		return DT_REAL(pthread_clockjoin_np)(t, ret, clk, abs);
	if (clk != CLOCK_REALTIME && clk != CLOCK_MONOTONIC)
		return EINVAL;
	if (!abs)
		return join(t, ret, DT_DEADLINE_NONE, clk, 0);
	if (abs->tv_nsec < 0 || abs->tv_nsec >= 1000000000)
		return EINVAL;
	return join(t, ret, abs->tv_sec < 0 ? 0 : dt_ts_to_ns(abs), clk, 0);
}

DT_API int pthread_timedjoin_np(pthread_t t, void **ret,
				const struct timespec *abs)
{
	if (!is_fiber_pt(t))
		return DT_REAL(pthread_timedjoin_np)(t, ret, abs);
	return pthread_clockjoin_np(t, ret, CLOCK_REALTIME, abs);
}

DT_API int pthread_detach(pthread_t t)
{
	struct dt_fiber *f;
	int r;

	if (!is_fiber_pt(t))
		return DT_REAL(pthread_detach)(t);
	r = lookup(t, &f);
	return r ? r : -dt_fiber_detach(f);
}

DT_API void pthread_exit(void *ret)
{
	if (dt_current() && !dt_shim_forked)
		thread_end(ret);
	DT_REAL(pthread_exit)(ret);
	__builtin_unreachable();
}

DT_API pthread_t pthread_self(void)
{
	struct dt_fiber *f = dt_current();

	if (f && !dt_shim_forked)
		return fiber_pt(f);
	return DT_REAL(pthread_self)();
}

DT_API int pthread_getattr_np(pthread_t t, pthread_attr_t *attr)
{
	struct dt_fiber *f;
	int r;

	if (!is_fiber_pt(t))
		return DT_REAL(pthread_getattr_np)(t, attr);
	r = lookup(t, &f);
	if (r)
		return r;
	r = pthread_attr_init(attr);
	if (r)
		return r;
	pthread_attr_setstack(attr, f->stack_lo, f->stack_size);
	pthread_attr_setguardsize(attr, f->stack_kind == DT_STACK_USER ?
				  0 : dt_rt.arena.page);
	pthread_attr_setdetachstate(attr, f->detached ?
				    PTHREAD_CREATE_DETACHED :
				    PTHREAD_CREATE_JOINABLE);
	return 0;
}

DT_API int pthread_setname_np(pthread_t t, const char *name)
{
	struct dt_fiber *f;
	int r;

	if (!is_fiber_pt(t))
		return DT_REAL(pthread_setname_np)(t, name);
	if (strlen(name) >= sizeof(f->name))
		return ERANGE;
	r = lookup(t, &f);
	if (r)
		return r;
	strcpy(f->name, name);
	return 0;
}

DT_API int pthread_getname_np(pthread_t t, char *buf, size_t len)
{
	struct dt_fiber *f;
	int r;

	if (!is_fiber_pt(t))
		return DT_REAL(pthread_getname_np)(t, buf, len);
	r = lookup(t, &f);
	if (r)
		return r;
	if (!f->name[0]) {
		/* glibc reports the thread's comm: the program's name. */
		char comm[16] = "";
		long fd = dt_sys(SYS_open, "/proc/self/comm", 0, 0, 0, 0, 0);

		if (fd >= 0) {
			long n = dt_sys(SYS_read, fd, comm, 15, 0, 0, 0);

			if (n > 0 && comm[n - 1] == '\n')
				n--;
			comm[n > 0 ? n : 0] = 0;
			dt_sys(SYS_close, fd, 0, 0, 0, 0, 0);
		}
		if (strlen(comm) >= len)
			return ERANGE;
		strcpy(buf, comm);
		return 0;
	}
	if (strlen(f->name) >= len)
		return ERANGE;
	strcpy(buf, f->name);
	return 0;
}

DT_API int pthread_kill(pthread_t t, int sig)
{
	struct dt_fiber *f;
	int r;

	if (!is_fiber_pt(t))
		return DT_REAL(pthread_kill)(t, sig);
	if (sig < 0 || sig >= NSIG)
		return EINVAL;
	r = lookup(t, &f);
	if (r || f->done)
		return ESRCH;
	if (!sig)
		return 0;
	/* The fiber's blocking call, if any, sees EINTR as a thread's
	 * would. */
	{
		int restart;

		if (dt_sig_wants_eintr(sig, &restart))
			dt_fiber_interrupt_async(f, restart);
	}
	/* Workers other than 0 block asynchronous signals (so that process
	 * signals reach the main thread): the handler runs on worker 0. */
	return DT_REAL(pthread_kill)(dt_shim_worker_thread(0), sig);
}

DT_API int sched_yield(void)
{
	if (!dt_may_park())
		return DT_REAL(sched_yield)();
	dt_yield();
	return 0;
}

/* <pthread.h> redirects pthread_yield to sched_yield since glibc 2.34;
 * binaries built earlier still call pthread_yield by name. */
DT_API int dt_pthread_yield(void) __asm__("pthread_yield");
DT_API int dt_pthread_yield(void)
{
	return sched_yield();
}

/* ---- keys: one key space for fibers and plain threads ---- */

static __thread struct dt_fiber thread_keys
	__attribute__((tls_model("initial-exec")));
static pthread_key_t thread_dtor_key;
static _Atomic int thread_dtor_state;	/* 0 none, 1 creating, 2 ready */

static void thread_keys_dtor(void *p)
{
	(void)p;
	dt_keys_run_destructors(&thread_keys);
	dt_keys_free(&thread_keys);
}

static void thread_dtor_init(void)
{
	int exp = 0;

	if (atomic_load(&thread_dtor_state) == 2)
		return;
	if (atomic_compare_exchange_strong(&thread_dtor_state, &exp, 1)) {
		DT_REAL(pthread_key_create)(&thread_dtor_key,
					    thread_keys_dtor);
		atomic_store(&thread_dtor_state, 2);
		return;
	}
	while (atomic_load(&thread_dtor_state) != 2)
		__builtin_ia32_pause();
}

static struct dt_fiber *key_owner(void)
{
	struct dt_fiber *f = dt_shim_forked ? NULL : dt_current();

	return f ? f : &thread_keys;
}

DT_API int pthread_key_create(pthread_key_t *k, void (*dtor)(void *))
{
	uint32_t key;
	int r = -dt_key_create(&key, dtor);

	if (!r)
		*k = key;
	return r;
}

DT_API int pthread_key_delete(pthread_key_t k)
{
	return -dt_key_delete(k);
}

DT_API void *pthread_getspecific(pthread_key_t k)
{
	return dt_key_get(key_owner(), k);
}

DT_API int pthread_setspecific(pthread_key_t k, const void *v)
{
	struct dt_fiber *f = key_owner();

	if (f == &thread_keys && v) {
		/* A plain thread: have libc call us back at its exit. */
		thread_dtor_init();
		DT_REAL(pthread_setspecific)(thread_dtor_key, &thread_keys);
	}
	return -dt_key_set(f, k, v);
}
