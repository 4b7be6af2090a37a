/* SPDX-License-Identifier: MIT */
/*
 * interpose/sync.c - pthread mutex, condition variable, rwlock, barrier,
 * once and unnamed POSIX semaphores on the fiber-aware primitives of
 * core/sync.h.  Fibers and plain threads may wait on the same object
 * (DESIGN 2).  The objects live inside the program's pthread_*_t / sem_t
 * (sizes checked in core/sync.h); glibc's static initializers are valid
 * objects (zero, and a mutex kind at glibc's __kind offset).
 *
 * Process-shared, robust, priority-inheritance and priority-protect
 * mutexes, and process-shared condition variables and semaphores (and
 * named semaphores from sem_open), are glibc's: they are initialised by
 * glibc and every operation on them goes to glibc, recognised by the bits
 * glibc itself keeps in the object (the mutex __kind flags, the cond
 * __wrefs pshared bit) or, for semaphores, by a marker in bytes of sem_t
 * that glibc leaves unused.
 *
 * pthread functions return the error number; sem_* set errno (POSIX).
 *
 * Argument checks follow glibc's order, which decides what a call on a
 * free object returns: sem_timedwait/sem_clockwait and the rwlock timed
 * locks reject a bad clock or tv_nsec before trying; pthread_mutex_
 * timedlock looks at the time only when it has to wait.
 *
 * Cancellation points: pthread_cond_wait/timedwait/clockwait (acted on
 * with the mutex re-acquired, as glibc) and sem_wait/timedwait/clockwait.
 *
 * Spin locks are interposed too: a fiber spinning on a lock whose holder
 * is parked on the same worker would spin for ever, so the spin yields.
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <sched.h>
#include <semaphore.h>
#include <stdarg.h>
#include <string.h>

#include "core/sync.h"
#include "interpose/interpose.h"

/* ---- real functions for the objects glibc keeps ---- */

#define DT_SYNC_REAL(X) \
	X(pthread_mutex_init, int, (pthread_mutex_t *, const pthread_mutexattr_t *)) \
	X(pthread_mutex_destroy, int, (pthread_mutex_t *)) \
	X(pthread_mutex_lock, int, (pthread_mutex_t *)) \
	X(pthread_mutex_trylock, int, (pthread_mutex_t *)) \
	X(pthread_mutex_timedlock, int, (pthread_mutex_t *, const struct timespec *)) \
	X(pthread_mutex_clocklock, int, (pthread_mutex_t *, clockid_t, const struct timespec *)) \
	X(pthread_mutex_unlock, int, (pthread_mutex_t *)) \
	X(pthread_cond_init, int, (pthread_cond_t *, const pthread_condattr_t *)) \
	X(pthread_cond_destroy, int, (pthread_cond_t *)) \
	X(pthread_cond_wait, int, (pthread_cond_t *, pthread_mutex_t *)) \
	X(pthread_cond_timedwait, int, (pthread_cond_t *, pthread_mutex_t *, const struct timespec *)) \
	X(pthread_cond_clockwait, int, (pthread_cond_t *, pthread_mutex_t *, clockid_t, const struct timespec *)) \
	X(pthread_cond_signal, int, (pthread_cond_t *)) \
	X(pthread_cond_broadcast, int, (pthread_cond_t *)) \
	X(sem_init, int, (sem_t *, int, unsigned)) \
	X(sem_destroy, int, (sem_t *)) \
	X(sem_post, int, (sem_t *)) \
	X(sem_wait, int, (sem_t *)) \
	X(sem_trywait, int, (sem_t *)) \
	X(sem_timedwait, int, (sem_t *, const struct timespec *)) \
	X(sem_clockwait, int, (sem_t *, clockid_t, const struct timespec *)) \
	X(sem_getvalue, int, (sem_t *, int *)) \
	X(sem_open, sem_t *, (const char *, int, ...))

#define FIELD(name, ret, args) ret (*name) args;
static struct { DT_SYNC_REAL(FIELD) } real;
#undef FIELD

static void resolve(void)
{
#define RES(name, ret, args) \
	real.name = (ret(*) args)dlsym(RTLD_NEXT, #name);
	DT_SYNC_REAL(RES)
#undef RES
	/* pthread_cond_* has two versions; RTLD_NEXT gives the default
	 * (GLIBC_2.3.2), the one current programs are linked against. */
}

#define REAL(name) \
	(dt_likely(real.name != NULL) ? real.name : (resolve(), real.name))

/* glibc __kind flags: process-shared, robust, PI, PP. */
#define GLIBC_MUTEX_FLAGS	(128 | 16 | 32 | 64)
/* glibc cond: __wrefs (offset 36) bit 0 = process-shared. */
#define GLIBC_COND_WREFS	36
/* Marker in sem_t bytes 24..31 (glibc uses bytes 0..15). */
#define GLIBC_SEM_MARK		0x676c6962u	/* "glib" */
#define GLIBC_SEM_MARK_OFF	24

static inline struct dt_mutex *M(pthread_mutex_t *m)
{
	return (struct dt_mutex *)m;
}

static inline bool glibc_mutex(pthread_mutex_t *m)
{
	return M(m)->kind & GLIBC_MUTEX_FLAGS;
}

static inline bool glibc_cond(pthread_cond_t *c)
{
	uint32_t w;

	memcpy(&w, (char *)c + GLIBC_COND_WREFS, sizeof(w));
	return w & 1;
}

static inline bool glibc_sem(sem_t *s)
{
	uint32_t v;

	memcpy(&v, (char *)s + GLIBC_SEM_MARK_OFF, sizeof(v));
	return v == GLIBC_SEM_MARK;
}

static void mark_glibc_sem(sem_t *s)
{
	uint32_t v = GLIBC_SEM_MARK;

	memcpy((char *)s + GLIBC_SEM_MARK_OFF, &v, sizeof(v));
}

/* An absolute timespec as ns, or -EINVAL (POSIX: tv_nsec out of range). */
static inline int64_t abs_ns(const struct timespec *ts)
{
	if (ts->tv_nsec < 0 || ts->tv_nsec >= 1000000000)
		return -EINVAL;
	return ts->tv_sec < 0 ? 0 : dt_ts_to_ns(ts);
}

static inline bool good_clock(clockid_t c)
{
	return c == CLOCK_REALTIME || c == CLOCK_MONOTONIC;
}

/* ---- mutex ---- */

DT_API int pthread_mutex_init(pthread_mutex_t *m, const pthread_mutexattr_t *a)
{
	int type = PTHREAD_MUTEX_NORMAL, ps = PTHREAD_PROCESS_PRIVATE;
	int robust = PTHREAD_MUTEX_STALLED, proto = PTHREAD_PRIO_NONE;

	if (a) {
		pthread_mutexattr_gettype(a, &type);
		pthread_mutexattr_getpshared(a, &ps);
		pthread_mutexattr_getrobust(a, &robust);
		pthread_mutexattr_getprotocol(a, &proto);
	}
	if (ps != PTHREAD_PROCESS_PRIVATE || robust != PTHREAD_MUTEX_STALLED ||
	    proto != PTHREAD_PRIO_NONE)
		return REAL(pthread_mutex_init)(m, a);
	memset(m, 0, sizeof(*m));
	return -dt_mutex_init(M(m), type);
}

DT_API int pthread_mutex_destroy(pthread_mutex_t *m)
{
	if (glibc_mutex(m))
		return REAL(pthread_mutex_destroy)(m);
	return -dt_mutex_destroy(M(m));
}

DT_API int pthread_mutex_lock(pthread_mutex_t *m)
{
	if (dt_unlikely(glibc_mutex(m)))
		return REAL(pthread_mutex_lock)(m);
	return -dt_mutex_lock(M(m));
}

DT_API int pthread_mutex_trylock(pthread_mutex_t *m)
{
	if (dt_unlikely(glibc_mutex(m)))
		return REAL(pthread_mutex_trylock)(m);
	return -dt_mutex_trylock(M(m));
}

DT_API int pthread_mutex_clocklock(pthread_mutex_t *m, clockid_t clk,
				   const struct timespec *ts)
{
	int64_t d;
	int r;

	if (glibc_mutex(m))
		return REAL(pthread_mutex_clocklock)(m, clk, ts);
	if (!good_clock(clk))
		return EINVAL;
	r = dt_mutex_trylock(M(m));
	if (r != -EBUSY)
		return -r;
	d = abs_ns(ts);
	if (d < 0)
		return EINVAL;
	return -dt_mutex_timedlock(M(m), d, clk);
}

DT_API int pthread_mutex_timedlock(pthread_mutex_t *m,
				   const struct timespec *ts)
{
	if (glibc_mutex(m))
		return REAL(pthread_mutex_timedlock)(m, ts);
	return pthread_mutex_clocklock(m, CLOCK_REALTIME, ts);
}

DT_API int pthread_mutex_unlock(pthread_mutex_t *m)
{
	if (dt_unlikely(glibc_mutex(m)))
		return REAL(pthread_mutex_unlock)(m);
	return -dt_mutex_unlock(M(m));
}

/* ---- condition variable ---- */

static inline struct dt_cond *C(pthread_cond_t *c)
{
	return (struct dt_cond *)c;
}

DT_API int pthread_cond_init(pthread_cond_t *c, const pthread_condattr_t *a)
{
	int ps = PTHREAD_PROCESS_PRIVATE;
	clockid_t clk = CLOCK_REALTIME;

	if (a) {
		pthread_condattr_getpshared(a, &ps);
		pthread_condattr_getclock(a, &clk);
	}
	if (ps != PTHREAD_PROCESS_PRIVATE)
		return REAL(pthread_cond_init)(c, a);
	memset(c, 0, sizeof(*c));
	return -dt_cond_init(C(c), clk);
}

DT_API int pthread_cond_destroy(pthread_cond_t *c)
{
	if (glibc_cond(c))
		return REAL(pthread_cond_destroy)(c);
	return -dt_cond_destroy(C(c));
}

/*
 * A cancellation point: a request pending at entry acts with the mutex
 * held (the caller holds it); one that comes while waiting ends the wait,
 * the mutex is re-acquired, then it acts, as glibc.  Signals do not end
 * the wait.
 */
static int cond_wait_point(pthread_cond_t *c, pthread_mutex_t *m,
			   int64_t d, clockid_t clk)
{
	struct dt_fiber *f = dt_may_park() ? dt_current() : NULL;
	int r;

	dt_testcancel();
	if (f)
		dt_intr_begin(f, DT_INTR_CANCEL);
	r = d == DT_DEADLINE_NONE ? dt_cond_wait(C(c), M(m)) :
				    dt_cond_timedwait(C(c), M(m), d, clk);
	if (f)
		dt_intr_end(f);
	if (r == -EINTR) {
		dt_testcancel();
		r = 0;		/* a spurious wake-up, which POSIX allows */
	}
	return -r;
}

DT_API int pthread_cond_wait(pthread_cond_t *c, pthread_mutex_t *m)
{
	if (glibc_cond(c) || glibc_mutex(m))
		return REAL(pthread_cond_wait)(c, m);
	return cond_wait_point(c, m, DT_DEADLINE_NONE, CLOCK_MONOTONIC);
}

DT_API int pthread_cond_clockwait(pthread_cond_t *c, pthread_mutex_t *m,
				  clockid_t clk, const struct timespec *ts)
{
	int64_t d;

	if (glibc_cond(c) || glibc_mutex(m))
		return REAL(pthread_cond_clockwait)(c, m, clk, ts);
	if (!good_clock(clk))
		return EINVAL;
	d = abs_ns(ts);
	if (d < 0)
		return EINVAL;
	return cond_wait_point(c, m, d, clk);
}

DT_API int pthread_cond_timedwait(pthread_cond_t *c, pthread_mutex_t *m,
				  const struct timespec *ts)
{
	int64_t d;

	if (glibc_cond(c) || glibc_mutex(m))
		return REAL(pthread_cond_timedwait)(c, m, ts);
	d = abs_ns(ts);
	if (d < 0)
		return EINVAL;
	return cond_wait_point(c, m, d, dt_cond_clock(C(c)));
}

DT_API int pthread_cond_signal(pthread_cond_t *c)
{
	if (glibc_cond(c))
		return REAL(pthread_cond_signal)(c);
	return -dt_cond_signal(C(c));
}

DT_API int pthread_cond_broadcast(pthread_cond_t *c)
{
	if (glibc_cond(c))
		return REAL(pthread_cond_broadcast)(c);
	return -dt_cond_broadcast(C(c));
}

/* ---- rwlock (process-private only; see docs/ARCHITECTURE.md) ---- */

static inline struct dt_rwlock *RW(pthread_rwlock_t *r)
{
	return (struct dt_rwlock *)r;
}

DT_API int pthread_rwlock_init(pthread_rwlock_t *r,
			       const pthread_rwlockattr_t *a)
{
	int kind = PTHREAD_RWLOCK_PREFER_READER_NP;

	if (a)
		pthread_rwlockattr_getkind_np(a, &kind);
	memset(r, 0, sizeof(*r));
	return -dt_rwlock_init(RW(r), kind);
}

DT_API int pthread_rwlock_destroy(pthread_rwlock_t *r)
{
	return -dt_rwlock_destroy(RW(r));
}

DT_API int pthread_rwlock_rdlock(pthread_rwlock_t *r)
{
	return -dt_rwlock_rdlock(RW(r));
}

DT_API int pthread_rwlock_tryrdlock(pthread_rwlock_t *r)
{
	return -dt_rwlock_tryrdlock(RW(r));
}

DT_API int pthread_rwlock_clockrdlock(pthread_rwlock_t *r, clockid_t clk,
				      const struct timespec *ts)
{
	int64_t d;
	int e;

	/* glibc checks clock and tv_nsec before trying. */
	if (!good_clock(clk) || (d = abs_ns(ts)) < 0)
		return EINVAL;
	e = dt_rwlock_tryrdlock(RW(r));
	if (e != -EBUSY)
		return -e;
	return -dt_rwlock_timedrdlock(RW(r), d, clk);
}

DT_API int pthread_rwlock_timedrdlock(pthread_rwlock_t *r,
				      const struct timespec *ts)
{
	return pthread_rwlock_clockrdlock(r, CLOCK_REALTIME, ts);
}

DT_API int pthread_rwlock_wrlock(pthread_rwlock_t *r)
{
	return -dt_rwlock_wrlock(RW(r));
}

DT_API int pthread_rwlock_trywrlock(pthread_rwlock_t *r)
{
	return -dt_rwlock_trywrlock(RW(r));
}

DT_API int pthread_rwlock_clockwrlock(pthread_rwlock_t *r, clockid_t clk,
				      const struct timespec *ts)
{
	int64_t d;
	int e;

	if (!good_clock(clk) || (d = abs_ns(ts)) < 0)
		return EINVAL;
	e = dt_rwlock_trywrlock(RW(r));
	if (e != -EBUSY)
		return -e;
	return -dt_rwlock_timedwrlock(RW(r), d, clk);
}

DT_API int pthread_rwlock_timedwrlock(pthread_rwlock_t *r,
				      const struct timespec *ts)
{
	return pthread_rwlock_clockwrlock(r, CLOCK_REALTIME, ts);
}

DT_API int pthread_rwlock_unlock(pthread_rwlock_t *r)
{
	return -dt_rwlock_unlock(RW(r));
}

/* ---- barrier, once ---- */

DT_API int pthread_barrier_init(pthread_barrier_t *b,
				const pthread_barrierattr_t *a, unsigned n)
{
	(void)a;
	memset(b, 0, sizeof(*b));
	return -dt_barrier_init((struct dt_barrier *)b, n);
}

DT_API int pthread_barrier_destroy(pthread_barrier_t *b)
{
	return -dt_barrier_destroy((struct dt_barrier *)b);
}

DT_API int pthread_barrier_wait(pthread_barrier_t *b)
{
	int r = dt_barrier_wait((struct dt_barrier *)b);

	return r == DT_BARRIER_SERIAL ? PTHREAD_BARRIER_SERIAL_THREAD : -r;
}

DT_API int pthread_once(pthread_once_t *o, void (*fn)(void))
{
	return -dt_once((int *)o, fn);
}

/* ---- unnamed semaphores (errno convention) ---- */

static inline struct dt_sem *S(sem_t *s)
{
	return (struct dt_sem *)s;
}

DT_API int sem_init(sem_t *s, int pshared, unsigned v)
{
	int r;

	if (pshared) {
		r = REAL(sem_init)(s, pshared, v);
		if (!r)
			mark_glibc_sem(s);
		return r;
	}
	if (v > DT_SEM_VALUE_MAX)
		return (int)dt_ret(-EINVAL);
	memset(s, 0, sizeof(*s));
	return (int)dt_ret(dt_sem_init(S(s), v));
}

DT_API sem_t *sem_open(const char *name, int oflag, ...)
{
	va_list ap;
	mode_t mode = 0;
	unsigned v = 0;
	sem_t *s;

	if (oflag & O_CREAT) {
		va_start(ap, oflag);
		mode = va_arg(ap, mode_t);
		v = va_arg(ap, unsigned);
		va_end(ap);
	}
	s = REAL(sem_open)(name, oflag, mode, v);
	if (s != SEM_FAILED)
		mark_glibc_sem(s);
	return s;
}

DT_API int sem_destroy(sem_t *s)
{
	if (glibc_sem(s))
		return REAL(sem_destroy)(s);
	return (int)dt_ret(dt_sem_destroy(S(s)));
}

DT_API int sem_post(sem_t *s)
{
	if (glibc_sem(s))
		return REAL(sem_post)(s);
	return (int)dt_ret(dt_sem_post(S(s)));
}

/* sem_wait is a point where signal handlers may end the wait (EINTR),
 * and a cancellation point. */
static int sem_wait_intr(sem_t *s, int64_t d, clockid_t clk)
{
	struct dt_fiber *f = dt_may_park() ? dt_current() : NULL;
	int r;

	if (f)
		dt_intr_begin(f, DT_INTR_RESTARTABLE);
	r = d == DT_DEADLINE_NONE ? dt_sem_wait(S(s)) :
				    dt_sem_timedwait(S(s), d, clk);
	if (f)
		dt_intr_end(f);
	dt_cancel_after(r);
	return r;
}

DT_API int sem_wait(sem_t *s)
{
	if (glibc_sem(s))
		return REAL(sem_wait)(s);
	dt_testcancel();
	return (int)dt_ret(sem_wait_intr(s, DT_DEADLINE_NONE,
					 CLOCK_MONOTONIC));
}

DT_API int sem_trywait(sem_t *s)
{
	if (glibc_sem(s))
		return REAL(sem_trywait)(s);
	return (int)dt_ret(dt_sem_trywait(S(s)));
}

DT_API int sem_clockwait(sem_t *s, clockid_t clk, const struct timespec *ts)
{
	int64_t d;
	int r;

	if (glibc_sem(s))
		return REAL(sem_clockwait)(s, clk, ts);
	/* glibc: clock and tv_nsec are checked even when a token is there
	 * (nothing is taken then). */
	if (!good_clock(clk) || (d = abs_ns(ts)) < 0)
		return (int)dt_ret(-EINVAL);
	dt_testcancel();
	r = dt_sem_trywait(S(s));
	if (r != -EAGAIN)
		return (int)dt_ret(r);
	return (int)dt_ret(sem_wait_intr(s, d, clk));
}

DT_API int sem_timedwait(sem_t *s, const struct timespec *ts)
{
	if (glibc_sem(s))
		return REAL(sem_timedwait)(s, ts);
	return sem_clockwait(s, CLOCK_REALTIME, ts);
}

DT_API int sem_getvalue(sem_t *s, int *v)
{
	if (glibc_sem(s))
		return REAL(sem_getvalue)(s, v);
	return (int)dt_ret(dt_sem_getvalue(S(s), v));
}

/* ---- spin locks ---- */

/*
 * glibc's x86-64 representation (an int: 1 free, 0 or less held; lock is
 * a locked decrement, unlock stores 1), so a process-shared lock works
 * with a process that is not under the shim.  The spin yields the fiber
 * after a while: the holder may be a fiber of the same worker, parked or
 * runnable, that cannot run while we spin.
 */
DT_API int pthread_spin_init(pthread_spinlock_t *l, int pshared)
{
	(void)pshared;
	__atomic_store_n(l, 1, __ATOMIC_RELAXED);
	return 0;
}

DT_API int pthread_spin_destroy(pthread_spinlock_t *l)
{
	(void)l;
	return 0;
}

DT_API int pthread_spin_trylock(pthread_spinlock_t *l)
{
	int one = 1;

	/* acquire: pairs with the release store in pthread_spin_unlock */
	return __atomic_compare_exchange_n(l, &one, 0, false, __ATOMIC_ACQUIRE,
					   __ATOMIC_RELAXED) ? 0 : EBUSY;
}

DT_API int pthread_spin_lock(pthread_spinlock_t *l)
{
	unsigned i = 0;

	while (__atomic_sub_fetch(l, 1, __ATOMIC_ACQUIRE) != 0) {
		while (__atomic_load_n(l, __ATOMIC_RELAXED) <= 0) {
			if (++i % 128 == 0)
				sched_yield();	/* a fiber: let others run */
			else
				__builtin_ia32_pause();
		}
	}
	return 0;
}

DT_API int pthread_spin_unlock(pthread_spinlock_t *l)
{
	__atomic_store_n(l, 1, __ATOMIC_RELEASE);
	return 0;
}
