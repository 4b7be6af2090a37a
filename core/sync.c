/* SPDX-License-Identifier: MIT */
/*
 * core/sync.c - what the synchronization objects share: the caller's
 * owner id, and the checks that every object fits the glibc object whose
 * storage the shim hands us.  The objects themselves are in
 * core/sync_{mutex,cond,rwlock,sem,barrier,once}.c; core/sync.h has the
 * contracts and core/waitq.h the wait protocol.
 *
 * Owner ids.  A fiber is named by its arena slot, a thread by its kernel
 * thread id; the top bit keeps the two apart (tids are below 2^22 on
 * Linux, PID_MAX_LIMIT).  The tid is read once per thread with a raw
 * gettid and cached in a thread-local; only the thread itself reads or
 * writes its cache, so no ordering is involved.
 */
#include <pthread.h>
#include <limits.h>
#include <semaphore.h>
#include <sys/syscall.h>

#include "core/sync.h"

/* Our objects live in the caller's glibc objects (see core/sync.h). */
_Static_assert(sizeof(struct dt_mutex) <= sizeof(pthread_mutex_t) &&
	       _Alignof(struct dt_mutex) <= _Alignof(pthread_mutex_t),
	       "dt_mutex does not fit pthread_mutex_t");
_Static_assert(offsetof(pthread_mutex_t, __data.__kind) ==
	       offsetof(struct dt_mutex, kind), "mutex kind offset");
_Static_assert(sizeof(struct dt_cond) <= sizeof(pthread_cond_t) &&
	       _Alignof(struct dt_cond) <= _Alignof(pthread_cond_t),
	       "dt_cond does not fit pthread_cond_t");
_Static_assert(sizeof(struct dt_rwlock) <= sizeof(pthread_rwlock_t) &&
	       _Alignof(struct dt_rwlock) <= _Alignof(pthread_rwlock_t),
	       "dt_rwlock does not fit pthread_rwlock_t");
_Static_assert(offsetof(pthread_rwlock_t, __data.__flags) ==
	       offsetof(struct dt_rwlock, flags), "rwlock flags offset");
_Static_assert(sizeof(struct dt_sem) <= sizeof(sem_t) &&
	       _Alignof(struct dt_sem) <= _Alignof(sem_t),
	       "dt_sem does not fit sem_t");
_Static_assert(sizeof(struct dt_barrier) <= sizeof(pthread_barrier_t) &&
	       _Alignof(struct dt_barrier) <= _Alignof(pthread_barrier_t),
	       "dt_barrier does not fit pthread_barrier_t");
_Static_assert(sizeof(int) == sizeof(pthread_once_t), "once is an int");
_Static_assert(DT_SEM_VALUE_MAX == SEM_VALUE_MAX, "SEM_VALUE_MAX");
_Static_assert(DT_BARRIER_SERIAL == PTHREAD_BARRIER_SERIAL_THREAD,
	       "PTHREAD_BARRIER_SERIAL_THREAD");
_Static_assert(DT_MUTEX_RECURSIVE == PTHREAD_MUTEX_RECURSIVE &&
	       DT_MUTEX_ERRORCHECK == PTHREAD_MUTEX_ERRORCHECK &&
	       DT_MUTEX_NORMAL == PTHREAD_MUTEX_NORMAL &&
	       DT_MUTEX_ADAPTIVE == PTHREAD_MUTEX_ADAPTIVE_NP,
	       "mutex kinds");
_Static_assert(DT_RWLOCK_PREFER_READER == PTHREAD_RWLOCK_PREFER_READER_NP &&
	       DT_RWLOCK_PREFER_WRITER == PTHREAD_RWLOCK_PREFER_WRITER_NP &&
	       DT_RWLOCK_PREFER_WRITER_NONRECURSIVE ==
	       PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP, "rwlock kinds");
_Static_assert(CLOCK_REALTIME == 0, "zeroed dt_cond must mean REALTIME");

static __thread uint32_t dt_tid __attribute__((tls_model("initial-exec")));

uint32_t dt_self_id(void)
{
	struct dt_fiber *f = dt_current();

	if (f)
		return (f->idx + 1) | DT_ID_FIBER;
	if (dt_unlikely(!dt_tid))
		dt_tid = (uint32_t)dt_sys(SYS_gettid, 0, 0, 0, 0, 0, 0);
	return dt_tid;
}

void dt_sync_fork_child(void)
{
	dt_tid = 0;
}
