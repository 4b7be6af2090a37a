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
 *
 * Deferred cancellation.  pthread_cancel() of a fiber sets PENDING in
 * f->cancel and, unless the target disabled cancellation, asks its
 * worker to end the wait it is parked in if that wait is a cancellation
 * point (f->intr set by the interposed call: read, write, poll, sleeps,
 * sem_wait, pthread_join, pthread_cond_wait ...; dt_fiber_cancel_async).
 * Every cancellation point checks the request on entry and after its wait
 * was ended (dt_testcancel, dt_cancel_after).  Acting on it = running the
 * cleanup handlers newest first, then key destructors, then ending the
 * fiber with PTHREAD_CANCELED; pthread_exit() runs the handlers the same
 * way.  The handlers are glibc's C macros (pthread_cleanup_push/pop, no
 * -fexceptions): they call __pthread_register_cancel and friends, which
 * are interposed here to keep one chain per fiber, linked through the
 * buffer's __pad[0] (the worker thread's glibc chain is shared by every
 * fiber of the worker and never used).  Unwinding longjmps into the
 * newest buffer (set by __sigsetjmp without the signal mask); the macro
 * runs its handler and calls __pthread_unwind_next, which goes on with
 * the next older one and, after the oldest, ends the fiber.  Not done:
 * C++ destructors and __attribute__((cleanup)) of -fexceptions code are
 * not run (no forced unwind); PTHREAD_CANCEL_ASYNCHRONOUS is accepted and
 * reported but acted on as deferred, except where glibc acts at once in
 * the calling thread itself (pthread_cancel of self, enabling with a
 * request pending); cancellation points inside signal handlers do not
 * act.  Threads dtact did not create use glibc's cancellation.
 */
#include <dlfcn.h>
#include <limits.h>
#include <sched.h>
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

void dt_pthread_fork_child(void)
{
	atomic_store(&app_threads, 1);
}

/* Ends the calling fiber as pthread_exit(ret) would, once its cleanup
 * handlers have run. */
static void __attribute__((noreturn)) thread_end(void *ret)
{
	if (atomic_fetch_sub(&app_threads, 1) == 1)
		exit(0);	/* the last thread: POSIX process exit */
	dt_fiber_exit(ret);
}

/* ---- cleanup handlers and unwinding (see the file comment) ---- */

#define BUF_NEXT(b)	((b)->__pad[0])		/* older buffer */
#define BUF_TYPE(b)	((b)->__pad[1])		/* _defer: saved type */

static bool fiber_side(void)
{
	return dt_current() && !dt_shim_forked;
}

/* longjmp declared with the cancel buffer's own (smaller) type, as
 * <pthread.h> does for __sigsetjmp: nothing past the common prefix is
 * read when the mask was not saved. */
extern void cancel_longjmp(struct __cancel_jmp_buf_tag *env, int val)
	__asm__("longjmp") __attribute__((noreturn));

/* Run the newest handler (its macro then calls __pthread_unwind_next),
 * or end the fiber with f->retval when none is left. */
static void __attribute__((noreturn)) unwind(struct dt_fiber *f)
{
	__pthread_unwind_buf_t *b = f->cleanup;

	if (!b)
		thread_end(f->retval);
	/* savemask was 0: longjmp leaves the signal mask alone, and the
	 * buffer's layout is the prefix of a jmp_buf that it reads. */
	cancel_longjmp(b->__cancel_jmp_buf, 1);
}

/* Cancellation just became disabled for f (itself): a request still
 * queued for its worker must not end the next wait. */
static void drop_cancel_request(struct dt_fiber *f)
{
	atomic_fetch_and(&f->intr_req, (uint8_t)~DT_INTR_REQ_CANCEL);
}

/* Start exiting with ret: cleanup handlers, key destructors, end. */
static void __attribute__((noreturn)) exit_fiber(struct dt_fiber *f,
						 void *ret)
{
	/* Cancellation is off from here on, as in glibc: a cancellation
	 * point inside a handler does not start a second unwinding. */
	atomic_fetch_or(&f->cancel, DT_CANCEL_EXITING | DT_CANCEL_DISABLED);
	drop_cancel_request(f);
	f->retval = ret;
	unwind(f);
}

void dt_cancel_act(void)
{
	exit_fiber(dt_current(), PTHREAD_CANCELED);
}

#define REAL_CANCEL(name, ...) do {					\
	static void (*real_)(__pthread_unwind_buf_t *);			\
	if (!real_)							\
		real_ = (void (*)(__pthread_unwind_buf_t *))		\
			dlsym(RTLD_NEXT, #name);			\
	real_(__VA_ARGS__);						\
} while (0)

DT_API void __pthread_register_cancel(__pthread_unwind_buf_t *b)
{
	struct dt_fiber *f;

	if (!fiber_side()) {
		REAL_CANCEL(__pthread_register_cancel, b);
		return;
	}
	f = dt_current();
	BUF_NEXT(b) = f->cleanup;
	f->cleanup = b;
}

DT_API void __pthread_unregister_cancel(__pthread_unwind_buf_t *b)
{
	struct dt_fiber *f;
	__pthread_unwind_buf_t **pp;

	if (!fiber_side()) {
		REAL_CANCEL(__pthread_unregister_cancel, b);
		return;
	}
	f = dt_current();
	/* b is the newest (the macros nest); tolerate a stale chain left by
	 * a longjmp out of a push/pop pair by unlinking b wherever it is. */
	for (pp = (__pthread_unwind_buf_t **)&f->cleanup; *pp;
	     pp = (__pthread_unwind_buf_t **)&BUF_NEXT(*pp))
		if (*pp == b) {
			*pp = BUF_NEXT(b);
			break;
		}
}

/* pthread_cleanup_push_defer_np: also switch to deferred for the scope. */
DT_API void __pthread_register_cancel_defer(__pthread_unwind_buf_t *b)
{
	struct dt_fiber *f;

	if (!fiber_side()) {
		REAL_CANCEL(__pthread_register_cancel_defer, b);
		return;
	}
	f = dt_current();
	__pthread_register_cancel(b);
	BUF_TYPE(b) = (void *)(uintptr_t)(atomic_fetch_and(&f->cancel,
					  ~DT_CANCEL_ASYNC) & DT_CANCEL_ASYNC);
}

DT_API void __pthread_unregister_cancel_restore(__pthread_unwind_buf_t *b)
{
	struct dt_fiber *f;

	if (!fiber_side()) {
		REAL_CANCEL(__pthread_unregister_cancel_restore, b);
		return;
	}
	f = dt_current();
	__pthread_unregister_cancel(b);
	if (BUF_TYPE(b)) {
		atomic_fetch_or(&f->cancel, DT_CANCEL_ASYNC);
		/* Back to asynchronous with a request pending: glibc acts. */
		dt_testcancel();
	}
}

DT_API void __pthread_unwind_next(__pthread_unwind_buf_t *b)
{
	struct dt_fiber *f;

	if (!fiber_side()) {
		REAL_CANCEL(__pthread_unwind_next, b);
		__builtin_unreachable();
	}
	f = dt_current();
	f->cleanup = BUF_NEXT(b);	/* b's handler has run */
	unwind(f);
}

DT_API int pthread_setcancelstate(int state, int *old)
{
	static int (*real)(int, int *);
	struct dt_fiber *f;
	uint32_t o;

	if (!fiber_side()) {
		if (!real)
			real = (int (*)(int, int *))dlsym(RTLD_NEXT,
						"pthread_setcancelstate");
		return real(state, old);
	}
	if (state != PTHREAD_CANCEL_ENABLE && state != PTHREAD_CANCEL_DISABLE)
		return EINVAL;
	f = dt_current();
	if (state == PTHREAD_CANCEL_DISABLE) {
		o = atomic_fetch_or(&f->cancel, DT_CANCEL_DISABLED);
		drop_cancel_request(f);
	} else
		o = atomic_fetch_and(&f->cancel, ~DT_CANCEL_DISABLED);
	if (old)
		*old = (o & DT_CANCEL_DISABLED) ? PTHREAD_CANCEL_DISABLE :
						  PTHREAD_CANCEL_ENABLE;
	/* Enabled with a request pending: only the asynchronous type acts
	 * here (deferred waits for the next cancellation point). */
	if ((o & DT_CANCEL_ASYNC) && state == PTHREAD_CANCEL_ENABLE)
		dt_testcancel();
	return 0;
}

DT_API int pthread_setcanceltype(int type, int *old)
{
	static int (*real)(int, int *);
	struct dt_fiber *f;
	uint32_t o;

	if (!fiber_side()) {
		if (!real)
			real = (int (*)(int, int *))dlsym(RTLD_NEXT,
						"pthread_setcanceltype");
		return real(type, old);
	}
	if (type != PTHREAD_CANCEL_DEFERRED &&
	    type != PTHREAD_CANCEL_ASYNCHRONOUS)
		return EINVAL;
	f = dt_current();
	/* Asynchronous is recorded and reported, and acted on as deferred
	 * (a running fiber cannot be interrupted at any instruction). */
	if (type == PTHREAD_CANCEL_ASYNCHRONOUS)
		o = atomic_fetch_or(&f->cancel, DT_CANCEL_ASYNC);
	else
		o = atomic_fetch_and(&f->cancel, ~DT_CANCEL_ASYNC);
	if (old)
		*old = (o & DT_CANCEL_ASYNC) ? PTHREAD_CANCEL_ASYNCHRONOUS :
					       PTHREAD_CANCEL_DEFERRED;
	if (type == PTHREAD_CANCEL_ASYNCHRONOUS)
		dt_testcancel();	/* glibc acts at once */
	return 0;
}

DT_API void pthread_testcancel(void)
{
	static void (*real)(void);

	if (!fiber_side()) {
		if (!real)
			real = (void (*)(void))dlsym(RTLD_NEXT,
						     "pthread_testcancel");
		real();
		return;
	}
	dt_testcancel();
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
	struct dt_fiber *f, *self = dt_current();
	int r = lookup(t, &f);

	if (r)
		return r;
	if (busy)		/* pthread_tryjoin_np: not a cancellation point */
		return (r = -dt_fiber_join(f, ret, 0, clk)) == ETIMEDOUT ?
		       EBUSY : r;
	dt_testcancel();
	/* A cancellation point that signals do not end (glibc restarts the
	 * futex wait): only a cancellation request interrupts the wait, and
	 * the target stays joinable. */
	do {
		if (self)
			dt_intr_begin(self, DT_INTR_CANCEL);
		r = -dt_fiber_join(f, ret, deadline, clk);
		if (self)
			dt_intr_end(self);
		if (r == EINTR)
			dt_testcancel();
	} while (r == EINTR);
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
	/* glibc waits with the futex, which rejects a bad tv_nsec (EINVAL)
	 * and its join loop simply waits again: in effect no timeout.  A
	 * negative tv_sec is a time long past (ETIMEDOUT unless done). */
	if (!abs || abs->tv_nsec < 0 || abs->tv_nsec >= 1000000000)
		return join(t, ret, DT_DEADLINE_NONE, clk, 0);
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
	if (fiber_side())
		exit_fiber(dt_current(), ret);	/* POSIX: handlers run */
	DT_REAL(pthread_exit)(ret);
	__builtin_unreachable();
}

DT_API int pthread_cancel(pthread_t t)
{
	static int (*real)(pthread_t);
	struct dt_fiber *f;
	uint32_t o;
	int r;

	if (!is_fiber_pt(t)) {
		if (!real)
			real = (int (*)(pthread_t))dlsym(RTLD_NEXT,
							 "pthread_cancel");
		return real(t);
	}
	r = lookup(t, &f);
	if (r)
		return r;
	if (f->done || f->state == DT_FIBER_DONE)
		return 0;	/* glibc: its outcome is already decided */
	o = atomic_fetch_or(&f->cancel, DT_CANCEL_PENDING);
	if (o & (DT_CANCEL_PENDING | DT_CANCEL_EXITING | DT_CANCEL_DISABLED))
		return 0;	/* nothing more to do now */
	if (f == dt_current()) {
		/* glibc acts at once on itself only when asynchronous. */
		if (o & DT_CANCEL_ASYNC)
			dt_testcancel();
		return 0;
	}
	/* Parked in a cancellation point: its worker ends that wait. */
	dt_fiber_cancel_async(f);
	return 0;
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

/*
 * Names.  The main fiber always runs on the main thread: its name is the
 * main thread's (the process name /proc and ps show), as natively.  Other
 * fibers keep theirs in f->name; an unnamed one reports the main thread's
 * name, which is what a thread created by main inherits.
 */
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
	if (f == dt_shim_main_fiber())
		return DT_REAL(pthread_setname_np)(dt_shim_worker_thread(0),
						   name);
	strcpy(f->name, name);
	return 0;
}

DT_API int pthread_getname_np(pthread_t t, char *buf, size_t len)
{
	struct dt_fiber *f;
	int r;

	if (!is_fiber_pt(t))
		return DT_REAL(pthread_getname_np)(t, buf, len);
	/* glibc: ERANGE for any buffer shorter than a thread name can be
	 * (TASK_COMM_LEN), whatever the name. */
	if (len < sizeof(f->name))
		return ERANGE;
	r = lookup(t, &f);
	if (r)
		return r;
	if (f == dt_shim_main_fiber())
		return DT_REAL(pthread_getname_np)(dt_shim_worker_thread(0),
						   buf, len);
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

/*
 * A fiber signalling itself: natively the handler runs (or the default
 * action happens) before the call returns.  The signal goes to the
 * calling worker's own thread; a worker other than 0 blocks asynchronous
 * signals, so it is unblocked around the send, which delivers it on the
 * way out of the system call.  v: pthread_sigqueue's value, or NULL.
 */
static int self_signal(int sig, const union sigval *v)
{
	static int (*real_sq)(pthread_t, int, const union sigval);
	struct dt_worker *w = dt_self;
	pthread_t th = dt_shim_worker_thread(w->id);
	uint64_t one = 1ull << (sig - 1), old = 0;
	int r, unblocked = 0;

	/* Meant for this fiber, which is running: its handler must not be
	 * taken for a process signal meant for main (SI_QUEUE). */
	dt_sig_target(sig, dt_current());
	if (w->id != 0)
		unblocked = dt_sys(SYS_rt_sigprocmask, SIG_UNBLOCK, &one, &old,
				   sizeof(one), 0, 0) == 0 && (old & one);
	if (v) {
		if (!real_sq)
			real_sq = (int (*)(pthread_t, int, const union sigval))
				dlsym(RTLD_NEXT, "pthread_sigqueue");
		r = real_sq(th, sig, *v);
	} else {
		r = DT_REAL(pthread_kill)(th, sig);
	}
	if (unblocked)
		dt_sys(SYS_rt_sigprocmask, SIG_BLOCK, &one, NULL, sizeof(one),
		       0, 0);
	return r;
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
	if (f == dt_current())
		return self_signal(sig, NULL);
	/* Workers other than 0 block asynchronous signals (so that process
	 * signals reach the main thread): the handler runs on worker 0, and
	 * when it runs the fiber's call under way, if any, sees EINTR as a
	 * thread's would (interpose/signal.c). */
	dt_sig_target(sig, f);
	return DT_REAL(pthread_kill)(dt_shim_worker_thread(0), sig);
}

DT_API int raise(int sig)
{
	static int (*real)(int);
	int r;

	if (!fiber_side()) {
		if (!real)
			real = (int (*)(int))dlsym(RTLD_NEXT, "raise");
		return real(sig);
	}
	/* glibc: pthread_kill of the calling thread, errno on failure. */
	r = pthread_kill(pthread_self(), sig);
	if (r) {
		errno = r;
		return -1;
	}
	return 0;
}

/*
 * Calls that take a pthread_t and act on the OS thread: glibc would read
 * a fiber's handle as its own thread descriptor.  For a fiber they act on
 * the thread of its worker (scheduling parameters, CPU affinity and the
 * CPU-time clock are the worker's, shared by its fibers).
 */
static int worker_thread_of(pthread_t t, pthread_t *out)
{
	struct dt_fiber *f;
	int r = lookup(t, &f);

	if (r)
		return r;
	if (f->done || f->state == DT_FIBER_DONE)
		return ESRCH;
	*out = dt_shim_worker_thread(f->worker->id);
	return 0;
}

#define ON_WORKER(name, type, params, ...) do {				\
	static int (*real_) params;					\
	pthread_t w_ = 0;						\
	int r_;								\
	if (!real_)							\
		real_ = (int (*) params)dlsym(RTLD_NEXT, #name);	\
	if (!is_fiber_pt(t))						\
		return real_(t, __VA_ARGS__);				\
	r_ = worker_thread_of(t, &w_);					\
	return r_ ? r_ : real_(w_, __VA_ARGS__);			\
} while (0)

DT_API int pthread_getschedparam(pthread_t t, int *pol, struct sched_param *p)
{
	ON_WORKER(pthread_getschedparam, int,
		  (pthread_t, int *, struct sched_param *), pol, p);
}

DT_API int pthread_setschedparam(pthread_t t, int pol,
				 const struct sched_param *p)
{
	ON_WORKER(pthread_setschedparam, int,
		  (pthread_t, int, const struct sched_param *), pol, p);
}

DT_API int pthread_setschedprio(pthread_t t, int prio)
{
	ON_WORKER(pthread_setschedprio, int, (pthread_t, int), prio);
}

DT_API int pthread_getaffinity_np(pthread_t t, size_t n, cpu_set_t *set)
{
	ON_WORKER(pthread_getaffinity_np, int,
		  (pthread_t, size_t, cpu_set_t *), n, set);
}

DT_API int pthread_setaffinity_np(pthread_t t, size_t n, const cpu_set_t *set)
{
	ON_WORKER(pthread_setaffinity_np, int,
		  (pthread_t, size_t, const cpu_set_t *), n, set);
}

DT_API int pthread_getcpuclockid(pthread_t t, clockid_t *c)
{
	ON_WORKER(pthread_getcpuclockid, int, (pthread_t, clockid_t *), c);
}

DT_API int pthread_sigqueue(pthread_t t, int sig, const union sigval v)
{
	static int (*real)(pthread_t, int, const union sigval);
	struct dt_fiber *f;
	int r;

	if (!real)
		real = (int (*)(pthread_t, int, const union sigval))
			dlsym(RTLD_NEXT, "pthread_sigqueue");
	if (!is_fiber_pt(t))
		return real(t, sig, v);
	if (sig < 0 || sig >= NSIG)
		return EINVAL;
	r = lookup(t, &f);
	if (r || f->done)
		return ESRCH;
	if (!sig)
		return 0;
	if (f == dt_current())
		return self_signal(sig, &v);
	dt_sig_target(sig, f);
	return real(dt_shim_worker_thread(0), sig, v);
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
