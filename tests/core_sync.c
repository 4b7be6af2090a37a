/* SPDX-License-Identifier: MIT */
/*
 * tests/core_sync.c - the core/sync.h contract: mutex, condition variable,
 * rwlock, semaphore, barrier and once, with fibers and plain threads
 * waiting on the same objects.
 *
 * Each test starts the runtime through the public API (2 workers), runs
 * its body in a root fiber, and checks the results on the Criterion thread
 * after dtact_run() has returned.  Nothing asserts on a fiber stack or a
 * helper thread: CHECK() records the first failure (and prints it at once,
 * so a test that then hangs still says why) and the test asserts that none
 * was recorded.  Helper threads are plain pthread_create threads: to the
 * runtime they are foreign OS threads that wait on futexes.
 *
 * Timing: a timed wait must not return before its deadline; no upper
 * bound tighter than a few seconds is asserted (that belongs to benchmarks).
 */
#include <limits.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <criterion/criterion.h>

#include "dtact.h"
#include "core/sync.h"

#define MS	1000000ll	/* ns */

/* ---------------------------------------------------------------- */
/* Harness                                                           */

static _Atomic int nfail;
static char failmsg[512];

static void fail_at(int line, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void fail_at(int line, const char *fmt, ...)
{
	char buf[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (atomic_fetch_add(&nfail, 1) == 0) {
		snprintf(failmsg, sizeof(failmsg), "line %d: %s", line, buf);
		fprintf(stderr, "core_sync: %s\n", failmsg);
	}
}

/* Record a failure (any thread or fiber), never abort. */
#define CHECK(cond, ...) \
	do { \
		if (!(cond)) \
			fail_at(__LINE__, __VA_ARGS__); \
	} while (0)
#define CHECK_EQ(a, b) \
	do { \
		long long a_ = (long long)(a), b_ = (long long)(b); \
		if (a_ != b_) \
			fail_at(__LINE__, "%s == %lld, expected %s == %lld", \
				#a, a_, #b, b_); \
	} while (0)

/* A body stops at the first failure that would leave it waiting for
 * something that will not come (the Criterion timeout would hide the
 * message); fibers still parked are abandoned by dtact_shutdown. */
static bool failed(void)
{
	return atomic_load(&nfail) != 0;
}

static void (*test_body)(void);

static void root(void *arg)
{
	(void)arg;
	test_body();
	dtact_shutdown();
}

/* Run body in a root fiber of a fresh 2-worker runtime. */
static void run_test(void (*body)(void))
{
	dtact_config_t cfg = dtact_default_config();
	void *rt;

	cfg.mWorkers = 2;
	cfg.mStackSize = 256 << 10;
	cfg.mFiberCapacity = 4096;
	rt = dtact_init(&cfg);
	cr_assert_not_null(rt, "dtact_init");
	test_body = body;
	cr_assert_neq(dtact_fiber_launch(root, NULL), 0, "launch root");
	cr_assert_eq(dtact_run(rt), 0, "dtact_run");
	cr_assert_eq(atomic_load(&nfail), 0, "%s", failmsg);
}

static dtact_handle_t spawn_on(int worker, void (*fn)(void *), void *arg)
{
	dtact_spawn_options_t o = dtact_default_spawn_options();
	dtact_handle_t h;

	o.mWorker = worker;
	h = dtact_fiber_launch_ext(fn, arg, &o);
	CHECK(h != 0, "dtact_fiber_launch_ext failed");
	return h;
}

static void await(dtact_handle_t h)
{
	CHECK_EQ(dtact_await(h), 0);
}

/* A plain OS thread running fn(arg). */
struct thread_job {
	void (*fn)(void *);
	void *arg;
	pthread_t th;
};

static void *thread_entry(void *p)
{
	struct thread_job *j = p;

	j->fn(j->arg);
	return NULL;
}

static void thread_start(struct thread_job *j, void (*fn)(void *), void *arg)
{
	j->fn = fn;
	j->arg = arg;
	CHECK_EQ(pthread_create(&j->th, NULL, thread_entry, j), 0);
}

/* Only once the thread is known to be finishing (it would block the
 * worker otherwise). */
static void thread_join(struct thread_job *j)
{
	CHECK_EQ(pthread_join(j->th, NULL), 0);
}

static int64_t now_on(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void sleep_ms(int ms)
{
	dtact_sleep_ns((uint64_t)ms * MS);
}

/* Poll (parking, 1 ms steps) until *v >= want, at most 10 s. */
static bool wait_for(_Atomic int *v, int want)
{
	int i;

	for (i = 0; i < 10000; i++) {
		if (atomic_load(v) >= want)
			return true;
		sleep_ms(1);
	}
	return false;
}

/* Poll until m has n queued waiters, at most 10 s. */
static bool wait_mutex_waiters(struct dt_mutex *m, uint32_t n)
{
	int i;

	for (i = 0; i < 10000; i++) {
		if (dt_mutex_nwaiters(m) == n)
			return true;
		sleep_ms(1);
	}
	return false;
}

/* White-box: waiters queued in a dt_waitq guarded by lock. */
static uint32_t queued(_Atomic uint32_t *lock, struct dt_waitq *q)
{
	uint32_t n;

	dt_spin_lock(lock);
	n = dt_waitq_len(q);
	dt_spin_unlock(lock);
	return n;
}

static bool wait_queued(_Atomic uint32_t *lock, struct dt_waitq *q,
			uint32_t n)
{
	int i;

	for (i = 0; i < 10000; i++) {
		if (queued(lock, q) == n)
			return true;
		sleep_ms(1);
	}
	return false;
}

/* ---------------------------------------------------------------- */
/* Mutual exclusion                                                   */

#define MX_FIBERS_PER_WORKER	1000
#define MX_ITERS		100

static struct dt_mutex mx_lock;		/* all-zero: a default mutex */
static long mx_counter;			/* deliberately not atomic */
static _Atomic int mx_inside;
static uint32_t mx_max_waiters;		/* under mx_lock */

static void mx_fiber(void *arg)
{
	int i;

	(void)arg;
	for (i = 0; i < MX_ITERS; i++) {
		long c;

		CHECK_EQ(dt_mutex_lock(&mx_lock), 0);
		CHECK_EQ(atomic_fetch_add(&mx_inside, 1), 0);
		c = mx_counter;
		dtact_yield();		/* let the others pile up */
		mx_counter = c + 1;
		if (i == MX_ITERS / 2) {	/* O(n): once per fiber */
			uint32_t n = dt_mutex_nwaiters(&mx_lock);

			if (n > mx_max_waiters)
				mx_max_waiters = n;
		}
		atomic_fetch_sub(&mx_inside, 1);
		CHECK_EQ(dt_mutex_unlock(&mx_lock), 0);
	}
}

static void mx_body(void)
{
	static dtact_handle_t h[2 * MX_FIBERS_PER_WORKER];
	int i;

	for (i = 0; i < 2 * MX_FIBERS_PER_WORKER; i++)
		h[i] = spawn_on(i % 2, mx_fiber, NULL);
	for (i = 0; i < 2 * MX_FIBERS_PER_WORKER; i++)
		await(h[i]);
	CHECK_EQ(mx_counter, 2L * MX_FIBERS_PER_WORKER * MX_ITERS);
	/* It was contended: many fibers queued behind the holder (about
	 * 2,000 on an idle machine; fewer when the CPUs are shared). */
	CHECK(mx_max_waiters >= MX_FIBERS_PER_WORKER / 10,
	      "at most %u waiters", mx_max_waiters);
	CHECK_EQ(dt_mutex_nwaiters(&mx_lock), 0);
	CHECK_EQ(atomic_load(&mx_lock.state), 0);
}

/* Description: 2 workers x 1,000 fibers increment a plain counter under a
 * zero-initialised mutex, yielding inside the critical section; the total
 * is exact and no two are ever inside at once. */
Test(core_sync, mutex_excludes_2000_fibers, .timeout = 30)
{
	run_test(mx_body);
}

/* ---------------------------------------------------------------- */
/* FIFO handoff                                                       */

#define FIFO_N	16

static struct dt_mutex fifo_lock;
static int fifo_order[FIFO_N + 1];
static int fifo_pos;

static void fifo_locker(void *arg)
{
	int id = (int)(intptr_t)arg;

	CHECK_EQ(dt_mutex_lock(&fifo_lock), 0);
	fifo_order[fifo_pos++] = id;	/* under the lock */
	dtact_yield();
	CHECK_EQ(dt_mutex_unlock(&fifo_lock), 0);
}

static void fifo_body(void)
{
	dtact_handle_t h[FIFO_N];
	struct thread_job th[FIFO_N];
	int i, nth = 0, nh = 0;

	CHECK_EQ(dt_mutex_lock(&fifo_lock), 0);
	/* Queue them one at a time: fibers on both workers, and every
	 * fourth one a plain thread. */
	for (i = 0; i < FIFO_N; i++) {
		if (i % 4 == 3)
			thread_start(&th[nth++], fifo_locker,
				     (void *)(intptr_t)i);
		else
			h[nh++] = spawn_on(i % 2, fifo_locker,
					   (void *)(intptr_t)i);
		CHECK(wait_mutex_waiters(&fifo_lock, (uint32_t)i + 1),
		      "waiter %d did not queue", i);
		if (failed())
			return;
	}
	/* Unlock, then lock again at once: a newcomer must not barge. */
	CHECK_EQ(dt_mutex_unlock(&fifo_lock), 0);
	CHECK_EQ(dt_mutex_lock(&fifo_lock), 0);
	fifo_order[fifo_pos++] = FIFO_N;
	CHECK_EQ(dt_mutex_unlock(&fifo_lock), 0);
	for (i = 0; i < nh; i++)
		await(h[i]);
	for (i = 0; i < nth; i++)
		thread_join(&th[i]);
	CHECK_EQ(fifo_pos, FIFO_N + 1);
	for (i = 0; i <= FIFO_N; i++)
		CHECK(fifo_order[i] == i, "acquisition %d went to %d", i,
		      fifo_order[i]);
}

/* Description: with the mutex held, 16 waiters (fibers on both workers
 * and plain threads) queue in a known order; after the unlock they
 * acquire it in exactly that order, and the unlocker locking again at once
 * comes last (direct handoff, no barging). */
Test(core_sync, mutex_fifo_handoff, .timeout = 30)
{
	run_test(fifo_body);
}

/* ---------------------------------------------------------------- */
/* Condition variable: signal wakes one, broadcast wakes all           */

#define CV_FIBERS	40
#define CV_THREADS	4
#define CV_N		(CV_FIBERS + CV_THREADS)

static struct dt_mutex cv_m;
static struct dt_cond cv_c;
static _Atomic int cv_waiting, cv_woken;

static void cv_waiter(void *arg)
{
	(void)arg;
	CHECK_EQ(dt_mutex_lock(&cv_m), 0);
	atomic_fetch_add(&cv_waiting, 1);
	/* One wait, no predicate loop: wake-ups are never spurious. */
	CHECK_EQ(dt_cond_wait(&cv_c, &cv_m), 0);
	CHECK(dt_mutex_held(&cv_m), "cond_wait returned without the mutex");
	atomic_fetch_add(&cv_woken, 1);
	CHECK_EQ(dt_mutex_unlock(&cv_m), 0);
}

static void cv_body(void)
{
	dtact_handle_t h[CV_FIBERS], late;
	struct thread_job th[CV_THREADS];
	int i;

	for (i = 0; i < CV_FIBERS; i++)
		h[i] = spawn_on(i % 2, cv_waiter, NULL);
	for (i = 0; i < CV_THREADS; i++)
		thread_start(&th[i], cv_waiter, NULL);
	CHECK(wait_for(&cv_waiting, CV_N), "waiters did not arrive");
	if (failed())
		return;
	/* A waiter counts itself before it queues, under the mutex; once
	 * we hold the mutex after that, all are queued. */
	dt_mutex_lock(&cv_m);
	CHECK_EQ(queued(&cv_c.lock, &cv_c.q), CV_N);
	dt_mutex_unlock(&cv_m);

	/* signal: exactly one, twice. */
	dt_cond_signal(&cv_c);
	CHECK(wait_for(&cv_woken, 1), "signal woke nobody");
	sleep_ms(50);
	CHECK_EQ(atomic_load(&cv_woken), 1);
	dt_cond_signal(&cv_c);
	CHECK(wait_for(&cv_woken, 2), "second signal woke nobody");
	sleep_ms(50);
	CHECK_EQ(atomic_load(&cv_woken), 2);
	CHECK_EQ(queued(&cv_c.lock, &cv_c.q), CV_N - 2);
	if (failed())
		return;

	/* broadcast: every waiter queued at the call... */
	dt_cond_broadcast(&cv_c);
	CHECK(wait_for(&cv_woken, CV_N), "broadcast woke %d of %d",
	      atomic_load(&cv_woken), CV_N);
	if (failed())
		return;
	/* ...and not one that queues after it. */
	late = spawn_on(0, cv_waiter, NULL);
	CHECK(wait_for(&cv_waiting, CV_N + 1), "late waiter did not arrive");
	dt_mutex_lock(&cv_m);
	dt_mutex_unlock(&cv_m);
	sleep_ms(50);
	CHECK_EQ(atomic_load(&cv_woken), CV_N);
	CHECK_EQ(queued(&cv_c.lock, &cv_c.q), 1);
	if (failed())
		return;
	dt_cond_signal(&cv_c);
	await(late);
	CHECK_EQ(atomic_load(&cv_woken), CV_N + 1);
	for (i = 0; i < CV_FIBERS; i++)
		await(h[i]);
	for (i = 0; i < CV_THREADS; i++)
		thread_join(&th[i]);
	CHECK_EQ(dt_cond_destroy(&cv_c), 0);
}

/* Description: 40 fibers and 4 threads wait on one condvar: each signal
 * wakes exactly one of them, a broadcast wakes all that are queued, and a
 * waiter that queues after the broadcast stays asleep. */
Test(core_sync, cond_signal_one_broadcast_all, .timeout = 30)
{
	run_test(cv_body);
}

/* ---------------------------------------------------------------- */
/* Timed waits                                                        */

#define TO_NS	(60 * MS)

struct timed {
	int kind;		/* which wait, see timed_wait() */
	clockid_t clk;
	int64_t timeout;	/* ns from now */
	int rc;			/* result */
	int64_t start, end;	/* on clk */
	int64_t deadline;
	int held_after;		/* cond: mutex held on return */
};

enum {
	T_MUTEX, T_COND, T_SEM, T_RDLOCK, T_WRLOCK,
};

static struct dt_mutex to_m;		/* held by the root */
static struct dt_mutex to_cm;		/* the condvar's mutex (free) */
static struct dt_cond to_c;
static struct dt_sem to_s;		/* 0 */
static struct dt_rwlock to_rw;		/* held by the root as needed */

static void timed_wait(void *arg)
{
	struct timed *t = arg;

	t->start = now_on(t->clk);
	t->deadline = t->start + t->timeout;
	switch (t->kind) {
	case T_MUTEX:
		t->rc = dt_mutex_timedlock(&to_m, t->deadline, t->clk);
		break;
	case T_COND:
		dt_mutex_lock(&to_cm);
		t->rc = dt_cond_timedwait(&to_c, &to_cm, t->deadline, t->clk);
		t->held_after = dt_mutex_held(&to_cm);
		dt_mutex_unlock(&to_cm);
		break;
	case T_SEM:
		t->rc = dt_sem_timedwait(&to_s, t->deadline, t->clk);
		break;
	case T_RDLOCK:
		t->rc = dt_rwlock_timedrdlock(&to_rw, t->deadline, t->clk);
		break;
	case T_WRLOCK:
		t->rc = dt_rwlock_timedwrlock(&to_rw, t->deadline, t->clk);
		break;
	}
	t->end = now_on(t->clk);
}

static const char *const kind_name[] = {
	"mutex", "cond", "sem", "rdlock", "wrlock",
};

static void check_timed_out(const struct timed *t, const char *who)
{
	const char *k = kind_name[t->kind];
	const char *c = t->clk == CLOCK_REALTIME ? "REALTIME" : "MONOTONIC";

	CHECK(t->rc == -ETIMEDOUT, "%s %s %s: rc %d, expected -ETIMEDOUT",
	      who, k, c, t->rc);
	CHECK(t->end >= t->deadline, "%s %s %s: returned %lld ns before the "
	      "deadline", who, k, c, (long long)(t->deadline - t->end));
	CHECK(t->end - t->start < 5000 * MS, "%s %s %s: took %lld ms", who, k,
	      c, (long long)((t->end - t->start) / MS));
	if (t->kind == T_COND)
		CHECK(t->held_after, "%s cond %s: mutex not re-acquired", who,
		      c);
}

/* Run the timed wait described by *t in a fiber and in a thread. */
static void timed_both(int kind, clockid_t clk)
{
	struct timed f = { kind, clk, TO_NS, 0, 0, 0, 0, 0 };
	struct timed t = f;
	struct thread_job th;
	dtact_handle_t h;

	h = spawn_on(1, timed_wait, &f);
	thread_start(&th, timed_wait, &t);
	await(h);
	thread_join(&th);	/* it ends by its deadline */
	check_timed_out(&f, "fiber");
	check_timed_out(&t, "thread");
}

static void to_body(void)
{
	static const clockid_t clks[2] = { CLOCK_REALTIME, CLOCK_MONOTONIC };
	struct timed past = { T_MUTEX, CLOCK_MONOTONIC, -TO_NS, 0, 0, 0, 0, 0 };
	int c;

	dt_cond_init(&to_c, CLOCK_MONOTONIC);	/* the clock is per call */
	CHECK_EQ(dt_mutex_lock(&to_m), 0);
	for (c = 0; c < 2; c++) {
		timed_both(T_MUTEX, clks[c]);
		timed_both(T_COND, clks[c]);
		timed_both(T_SEM, clks[c]);
		CHECK_EQ(dt_rwlock_wrlock(&to_rw), 0);
		timed_both(T_RDLOCK, clks[c]);
		timed_both(T_WRLOCK, clks[c]);
		CHECK_EQ(dt_rwlock_unlock(&to_rw), 0);
		CHECK_EQ(dt_rwlock_rdlock(&to_rw), 0);
		timed_both(T_WRLOCK, clks[c]);
		CHECK_EQ(dt_rwlock_unlock(&to_rw), 0);
	}
	/* A deadline already past: -ETIMEDOUT at once. */
	timed_wait(&past);
	CHECK_EQ(past.rc, -ETIMEDOUT);
	/* ...but a free mutex is taken whatever the deadline. */
	CHECK_EQ(dt_mutex_unlock(&to_m), 0);
	timed_wait(&past);
	CHECK_EQ(past.rc, 0);
	CHECK_EQ(dt_mutex_unlock(&to_m), 0);
	/* Every object is clean after all those timeouts. */
	CHECK_EQ(atomic_load(&to_m.state), 0);
	CHECK_EQ(dt_mutex_nwaiters(&to_m), 0);
	CHECK_EQ(atomic_load(&to_s.value), 0);
	CHECK_EQ(atomic_load(&to_rw.state), 0);
	CHECK_EQ(queued(&to_c.lock, &to_c.q), 0);
	CHECK_EQ(dt_cond_destroy(&to_c), 0);
}

/* Description: mutex timedlock, cond timedwait, sem timedwait and rwlock
 * timed rd/wr locks, on CLOCK_REALTIME and CLOCK_MONOTONIC, from a fiber
 * and from a thread, return -ETIMEDOUT no earlier than the deadline; the
 * cond wait returns with the mutex held; the objects are clean after. */
Test(core_sync, timed_waits_time_out, .timeout = 30)
{
	run_test(to_body);
}

/* A timed waiter leaving the middle of a queue does not disturb the
 * others. */
static struct dt_mutex mid_m;
static struct dt_rwlock mid_rw = {
	.flags = DT_RWLOCK_PREFER_WRITER_NONRECURSIVE,
};
static _Atomic int mid_got;

static void mid_timed(void *arg)
{
	int64_t d = now_on(CLOCK_MONOTONIC) + 50 * MS;

	(void)arg;
	CHECK_EQ(dt_mutex_timedlock(&mid_m, d, CLOCK_MONOTONIC), -ETIMEDOUT);
}

static void mid_plain(void *arg)
{
	(void)arg;
	CHECK_EQ(dt_mutex_lock(&mid_m), 0);
	atomic_fetch_add(&mid_got, 1);
	CHECK_EQ(dt_mutex_unlock(&mid_m), 0);
}

static void mid_timed_writer(void *arg)
{
	int64_t d = now_on(CLOCK_REALTIME) + 50 * MS;

	(void)arg;
	CHECK_EQ(dt_rwlock_timedwrlock(&mid_rw, d, CLOCK_REALTIME),
		 -ETIMEDOUT);
}

static void mid_reader(void *arg)
{
	(void)arg;
	CHECK_EQ(dt_rwlock_rdlock(&mid_rw), 0);
	atomic_fetch_add(&mid_got, 1);
	CHECK_EQ(dt_rwlock_unlock(&mid_rw), 0);
}

static void mid_body(void)
{
	dtact_handle_t a, b, c;

	CHECK_EQ(dt_mutex_lock(&mid_m), 0);
	a = spawn_on(0, mid_plain, NULL);
	CHECK(wait_mutex_waiters(&mid_m, 1), "a did not queue");
	b = spawn_on(1, mid_timed, NULL);
	CHECK(wait_mutex_waiters(&mid_m, 2), "b did not queue");
	c = spawn_on(0, mid_plain, NULL);
	CHECK(wait_mutex_waiters(&mid_m, 3), "c did not queue");
	if (failed())
		return;
	await(b);			/* timed out */
	CHECK_EQ(dt_mutex_nwaiters(&mid_m), 2);
	CHECK_EQ(atomic_load(&mid_got), 0);
	CHECK_EQ(dt_mutex_unlock(&mid_m), 0);
	await(a);
	await(c);
	CHECK_EQ(atomic_load(&mid_got), 2);
	CHECK_EQ(atomic_load(&mid_m.state), 0);

	/* Writer preference: a reader queued behind a timed writer is let
	 * in when that writer gives up, while the lock is still read-held. */
	atomic_store(&mid_got, 0);
	CHECK_EQ(dt_rwlock_rdlock(&mid_rw), 0);
	a = spawn_on(1, mid_timed_writer, NULL);
	CHECK(wait_queued(&mid_rw.lock, &mid_rw.wq, 1), "writer not queued");
	b = spawn_on(0, mid_reader, NULL);
	CHECK(wait_queued(&mid_rw.lock, &mid_rw.rq, 1), "reader not queued");
	await(a);
	CHECK(wait_for(&mid_got, 1), "reader not admitted after the "
	      "writer timed out");
	if (failed())
		return;
	await(b);
	CHECK_EQ(dt_rwlock_unlock(&mid_rw), 0);
	CHECK_EQ(atomic_load(&mid_rw.state), 0);
}

/* Description: a timed waiter between two others in a mutex queue times
 * out and the others still get the mutex; under writer preference, a
 * reader queued behind a writer that times out is admitted at once. */
Test(core_sync, timed_waiter_leaves_queue, .timeout = 30)
{
	run_test(mid_body);
}

/* ---------------------------------------------------------------- */
/* Fibers and threads: producer/consumer                              */

#define PC_CAP		8
#define PC_ITEMS	3000	/* per producer */
#define PC_FIB_PROD	4
#define PC_THR_PROD	2
#define PC_FIB_CONS	4
#define PC_THR_CONS	2
#define PC_PROD		(PC_FIB_PROD + PC_THR_PROD)

static struct {
	struct dt_mutex m;
	struct dt_cond not_empty, not_full;
	long buf[PC_CAP];
	int head, count;
	int producers_left;
	long consumed_n, consumed_sum;
} pc;

static void producer(void *arg)
{
	long base = (long)(intptr_t)arg * PC_ITEMS;
	int i;

	for (i = 0; i < PC_ITEMS; i++) {
		CHECK_EQ(dt_mutex_lock(&pc.m), 0);
		while (pc.count == PC_CAP)
			CHECK_EQ(dt_cond_wait(&pc.not_full, &pc.m), 0);
		pc.buf[(pc.head + pc.count++) % PC_CAP] = base + i;
		dt_cond_signal(&pc.not_empty);
		CHECK_EQ(dt_mutex_unlock(&pc.m), 0);
	}
	dt_mutex_lock(&pc.m);
	if (--pc.producers_left == 0)
		dt_cond_broadcast(&pc.not_empty);
	dt_mutex_unlock(&pc.m);
}

static void consumer(void *arg)
{
	(void)arg;
	CHECK_EQ(dt_mutex_lock(&pc.m), 0);
	for (;;) {
		while (pc.count == 0 && pc.producers_left)
			CHECK_EQ(dt_cond_wait(&pc.not_empty, &pc.m), 0);
		if (pc.count == 0)
			break;
		pc.consumed_sum += pc.buf[pc.head];
		pc.head = (pc.head + 1) % PC_CAP;
		pc.count--;
		pc.consumed_n++;
		dt_cond_signal(&pc.not_full);
		if (pc.consumed_n % 7 == 0) {	/* let the others in */
			dt_mutex_unlock(&pc.m);
			dtact_yield();
			dt_mutex_lock(&pc.m);
		}
	}
	CHECK_EQ(dt_mutex_unlock(&pc.m), 0);
}

static void pc_body(void)
{
	dtact_handle_t h[PC_FIB_PROD + PC_FIB_CONS];
	struct thread_job th[PC_THR_PROD + PC_THR_CONS];
	long total = (long)PC_PROD * PC_ITEMS;
	int i, nh = 0, nt = 0;

	pc.producers_left = PC_PROD;
	for (i = 0; i < PC_FIB_CONS; i++)
		h[nh++] = spawn_on(i % 2, consumer, NULL);
	for (i = 0; i < PC_THR_CONS; i++)
		thread_start(&th[nt++], consumer, NULL);
	for (i = 0; i < PC_FIB_PROD; i++)
		h[nh++] = spawn_on(i % 2, producer, (void *)(intptr_t)i);
	for (i = 0; i < PC_THR_PROD; i++)
		thread_start(&th[nt++], producer,
			     (void *)(intptr_t)(PC_FIB_PROD + i));
	for (i = 0; i < nh; i++)
		await(h[i]);
	for (i = 0; i < nt; i++)
		thread_join(&th[i]);
	CHECK_EQ(pc.consumed_n, total);
	CHECK_EQ(pc.consumed_sum, total * (total - 1) / 2);
	CHECK_EQ(pc.count, 0);
	CHECK_EQ(atomic_load(&pc.m.state), 0);
}

/* Description: 4 producer fibers + 2 producer threads and 4 consumer
 * fibers + 2 consumer threads share one mutex and two condvars around a
 * bounded buffer; every item is consumed exactly once (count and sum). */
Test(core_sync, fibers_and_threads_producer_consumer, .timeout = 30)
{
	run_test(pc_body);
}

/* ---------------------------------------------------------------- */
/* Error numbers                                                      */

static struct dt_mutex err_m;		/* owned by the error body */

static void err_other(void *arg)
{
	(void)arg;
	/* Not the owner. */
	CHECK_EQ(dt_mutex_unlock(&err_m), -EPERM);
	CHECK_EQ(dt_mutex_trylock(&err_m), -EBUSY);
}

/* Single-entity checks, run by a fiber and by a thread. */
static void err_checks(void *arg)
{
	struct dt_mutex m;
	struct dt_sem s;
	struct dt_barrier b;
	struct dt_rwlock rw;
	struct dt_cond c;
	bool fiber = arg != NULL;
	int i, v;

	/* errorcheck */
	CHECK_EQ(dt_mutex_init(&m, DT_MUTEX_ERRORCHECK), 0);
	CHECK_EQ(dt_mutex_unlock(&m), -EPERM);		/* not locked */
	CHECK_EQ(dt_mutex_lock(&m), 0);
	CHECK_EQ(dt_mutex_lock(&m), -EDEADLK);
	CHECK_EQ(dt_mutex_timedlock(&m, 0, CLOCK_REALTIME), -EDEADLK);
	CHECK_EQ(dt_mutex_trylock(&m), -EBUSY);
	CHECK_EQ(dt_mutex_destroy(&m), -EBUSY);
	CHECK_EQ(dt_cond_init(&c, CLOCK_MONOTONIC), 0);
	CHECK_EQ(dt_mutex_unlock(&m), 0);
	CHECK_EQ(dt_mutex_unlock(&m), -EPERM);
	CHECK_EQ(dt_cond_wait(&c, &m), -EPERM);		/* not held */
	CHECK_EQ(dt_mutex_destroy(&m), 0);

	/* recursive */
	CHECK_EQ(dt_mutex_init(&m, DT_MUTEX_RECURSIVE), 0);
	for (i = 0; i < 100; i++)
		CHECK_EQ(dt_mutex_lock(&m), 0);
	CHECK_EQ(dt_mutex_trylock(&m), 0);
	CHECK_EQ(m.count, 100);
	m.count = UINT32_MAX;		/* white-box: depth 2^32 */
	CHECK_EQ(dt_mutex_lock(&m), -EAGAIN);
	CHECK_EQ(dt_mutex_trylock(&m), -EAGAIN);
	m.count = 100;
	for (i = 0; i < 101; i++)
		CHECK_EQ(dt_mutex_unlock(&m), 0);
	CHECK_EQ(dt_mutex_unlock(&m), -EPERM);
	CHECK_EQ(atomic_load(&m.state), 0);

	/* normal */
	CHECK_EQ(dt_mutex_init(&m, DT_MUTEX_NORMAL), 0);
	CHECK_EQ(dt_mutex_init(&m, 4), -EINVAL);
	CHECK_EQ(dt_mutex_lock(&m), 0);
	CHECK_EQ(dt_mutex_trylock(&m), -EBUSY);
	CHECK_EQ(dt_mutex_timedlock(&m, 0, CLOCK_PROCESS_CPUTIME_ID),
		 -EINVAL);
	CHECK_EQ(dt_mutex_timedlock(&m, 0, CLOCK_MONOTONIC), -ETIMEDOUT);
	CHECK_EQ(dt_mutex_unlock(&m), 0);

	/* cond */
	CHECK_EQ(dt_cond_init(&c, CLOCK_BOOTTIME), -EINVAL);
	CHECK_EQ(dt_cond_init(&c, CLOCK_REALTIME), 0);
	CHECK_EQ(dt_mutex_lock(&m), 0);
	CHECK_EQ(dt_cond_timedwait(&c, &m, 0, CLOCK_THREAD_CPUTIME_ID),
		 -EINVAL);
	CHECK(dt_mutex_held(&m), "bad clock released the mutex");
	CHECK_EQ(dt_cond_timedwait(&c, &m, 0, dt_cond_clock(&c)), -ETIMEDOUT);
	CHECK(dt_mutex_held(&m), "timed out cond wait without the mutex");
	CHECK_EQ(dt_mutex_unlock(&m), 0);

	/* semaphore */
	CHECK_EQ(dt_sem_init(&s, DT_SEM_VALUE_MAX + 1u), -EINVAL);
	CHECK_EQ(dt_sem_init(&s, 0), 0);
	CHECK_EQ(dt_sem_trywait(&s), -EAGAIN);
	CHECK_EQ(dt_sem_timedwait(&s, 0, CLOCK_TAI), -EINVAL);
	CHECK_EQ(dt_sem_post(&s), 0);
	CHECK_EQ(dt_sem_getvalue(&s, &v), 0);
	CHECK_EQ(v, 1);
	CHECK_EQ(dt_sem_trywait(&s), 0);
	CHECK_EQ(dt_sem_trywait(&s), -EAGAIN);
	CHECK_EQ(dt_sem_init(&s, SEM_VALUE_MAX - 1), 0);
	CHECK_EQ(dt_sem_post(&s), 0);
	CHECK_EQ(dt_sem_post(&s), -EOVERFLOW);
	CHECK_EQ(dt_sem_getvalue(&s, &v), 0);
	CHECK_EQ(v, SEM_VALUE_MAX);
	CHECK_EQ(dt_sem_wait(&s), 0);
	CHECK_EQ(dt_sem_post(&s), 0);

	/* barrier */
	CHECK_EQ(dt_barrier_init(&b, 0), -EINVAL);
	memset(&b, 0, sizeof(b));
	CHECK_EQ(dt_barrier_wait(&b), -EINVAL);	/* not initialised */
	CHECK_EQ(dt_barrier_init(&b, 1), 0);
	CHECK_EQ(dt_barrier_wait(&b), DT_BARRIER_SERIAL);
	CHECK_EQ(dt_barrier_wait(&b), DT_BARRIER_SERIAL);
	CHECK_EQ(dt_barrier_destroy(&b), 0);

	/* rwlock */
	CHECK_EQ(dt_rwlock_init(&rw, 3), -EINVAL);
	CHECK_EQ(dt_rwlock_init(&rw, DT_RWLOCK_PREFER_READER), 0);
	CHECK_EQ(dt_rwlock_unlock(&rw), -EPERM);
	CHECK_EQ(dt_rwlock_wrlock(&rw), 0);
	CHECK_EQ(dt_rwlock_wrlock(&rw), -EDEADLK);
	CHECK_EQ(dt_rwlock_rdlock(&rw), -EDEADLK);
	CHECK_EQ(dt_rwlock_timedwrlock(&rw, 0, CLOCK_MONOTONIC), -EDEADLK);
	CHECK_EQ(dt_rwlock_timedrdlock(&rw, 0, CLOCK_BOOTTIME), -EINVAL);
	CHECK_EQ(dt_rwlock_trywrlock(&rw), -EBUSY);
	CHECK_EQ(dt_rwlock_tryrdlock(&rw), -EBUSY);
	CHECK_EQ(dt_rwlock_destroy(&rw), -EBUSY);
	CHECK_EQ(dt_rwlock_unlock(&rw), 0);
	CHECK_EQ(dt_rwlock_rdlock(&rw), 0);
	CHECK_EQ(dt_rwlock_rdlock(&rw), 0);
	CHECK_EQ(dt_rwlock_tryrdlock(&rw), 0);
	CHECK_EQ(dt_rwlock_trywrlock(&rw), -EBUSY);
	CHECK_EQ(dt_rwlock_timedwrlock(&rw, 0, CLOCK_REALTIME), -ETIMEDOUT);
	for (i = 0; i < 3; i++)
		CHECK_EQ(dt_rwlock_unlock(&rw), 0);
	CHECK_EQ(dt_rwlock_unlock(&rw), -EPERM);
	CHECK_EQ(dt_rwlock_destroy(&rw), 0);

	/* identity */
	v = (int)dt_self_id();
	CHECK(v != 0, "self id 0");
	CHECK(!!((uint32_t)v & DT_ID_FIBER) == fiber,
	      "self id %#x does not say %s", (unsigned)v,
	      fiber ? "fiber" : "thread");
}

static void err_body(void)
{
	struct thread_job th;
	dtact_handle_t h;

	err_checks((void *)1);			/* as a fiber */
	thread_start(&th, err_checks, NULL);	/* as a thread */
	thread_join(&th);

	/* Unlock by a non-owner, from a fiber and from a thread. */
	CHECK_EQ(dt_mutex_init(&err_m, DT_MUTEX_ERRORCHECK), 0);
	CHECK_EQ(dt_mutex_lock(&err_m), 0);
	h = spawn_on(1, err_other, NULL);
	await(h);
	thread_start(&th, err_other, NULL);
	thread_join(&th);
	CHECK_EQ(dt_mutex_unlock(&err_m), 0);
	CHECK_EQ(dt_mutex_init(&err_m, DT_MUTEX_RECURSIVE), 0);
	CHECK_EQ(dt_mutex_lock(&err_m), 0);
	CHECK_EQ(dt_mutex_lock(&err_m), 0);
	h = spawn_on(0, err_other, NULL);
	await(h);
	thread_start(&th, err_other, NULL);
	thread_join(&th);
	CHECK_EQ(dt_mutex_unlock(&err_m), 0);
	CHECK_EQ(dt_mutex_unlock(&err_m), 0);
	CHECK_EQ(atomic_load(&err_m.state), 0);
}

/* Description: glibc's error numbers: errorcheck relock -EDEADLK and
 * non-owner/unlocked unlock -EPERM, recursive depth and -EAGAIN on
 * overflow, trylock -EBUSY, sem -EOVERFLOW/-EAGAIN, barrier count 0
 * -EINVAL, bad clocks -EINVAL, rwlock -EDEADLK/-EBUSY/-EPERM; as a fiber
 * and as a thread. */
Test(core_sync, error_numbers, .timeout = 30)
{
	run_test(err_body);
}

/* ---------------------------------------------------------------- */
/* Barrier                                                            */

#define BAR_FIBERS	6
#define BAR_THREADS	2
#define BAR_N		(BAR_FIBERS + BAR_THREADS)
#define BAR_ROUNDS	200

static struct dt_barrier bar;
static _Atomic int bar_arrived[BAR_ROUNDS];
static _Atomic int bar_serial[BAR_ROUNDS];

static void bar_party(void *arg)
{
	int r, rc;

	for (r = 0; r < BAR_ROUNDS; r++) {
		atomic_fetch_add(&bar_arrived[r], 1);
		if ((r + (int)(intptr_t)arg) % 5 == 0)
			dtact_yield();
		rc = dt_barrier_wait(&bar);
		CHECK(rc == 0 || rc == DT_BARRIER_SERIAL, "round %d: rc %d",
		      r, rc);
		if (rc == DT_BARRIER_SERIAL)
			atomic_fetch_add(&bar_serial[r], 1);
		/* Nobody leaves a round before all have arrived. */
		CHECK(atomic_load(&bar_arrived[r]) == BAR_N,
		      "round %d left with %d arrived", r,
		      atomic_load(&bar_arrived[r]));
	}
}

static void bar_body(void)
{
	dtact_handle_t h[BAR_FIBERS];
	struct thread_job th[BAR_THREADS];
	int i, r;

	CHECK_EQ(dt_barrier_init(&bar, BAR_N), 0);
	for (i = 0; i < BAR_FIBERS; i++)
		h[i] = spawn_on(i % 2, bar_party, (void *)(intptr_t)i);
	for (i = 0; i < BAR_THREADS; i++)
		thread_start(&th[i], bar_party,
			     (void *)(intptr_t)(BAR_FIBERS + i));
	for (i = 0; i < BAR_FIBERS; i++)
		await(h[i]);
	for (i = 0; i < BAR_THREADS; i++)
		thread_join(&th[i]);
	for (r = 0; r < BAR_ROUNDS; r++)
		CHECK(atomic_load(&bar_serial[r]) == 1,
		      "round %d: %d serial waiters", r,
		      atomic_load(&bar_serial[r]));
	CHECK_EQ(bar.round, BAR_ROUNDS);
	CHECK_EQ(dt_barrier_destroy(&bar), 0);
}

/* Description: 6 fibers and 2 threads go through 200 rounds of one
 * barrier: exactly one DT_BARRIER_SERIAL per round, and nobody leaves a
 * round before everyone has arrived. */
Test(core_sync, barrier_one_serial_per_round, .timeout = 30)
{
	run_test(bar_body);
}

/* ---------------------------------------------------------------- */
/* Once                                                               */

#define ONCE_FIBERS	80
#define ONCE_THREADS	20

static int once_ctl;			/* PTHREAD_ONCE_INIT */
static _Atomic int once_runs, once_finished, once_gate;

static void once_fn(void)
{
	atomic_fetch_add(&once_runs, 1);
	sleep_ms(30);			/* keep the others waiting */
	atomic_store(&once_finished, 1);
}

static void once_caller(void *arg)
{
	(void)arg;
	while (!atomic_load(&once_gate))
		dtact_yield();
	CHECK_EQ(dt_once(&once_ctl, once_fn), 0);
	CHECK(atomic_load(&once_finished) == 1,
	      "dt_once returned before fn finished");
}

static void once_body(void)
{
	dtact_handle_t h[ONCE_FIBERS];
	struct thread_job th[ONCE_THREADS];
	int i;

	for (i = 0; i < ONCE_FIBERS; i++)
		h[i] = spawn_on(i % 2, once_caller, NULL);
	for (i = 0; i < ONCE_THREADS; i++)
		thread_start(&th[i], once_caller, NULL);
	atomic_store(&once_gate, 1);
	for (i = 0; i < ONCE_FIBERS; i++)
		await(h[i]);
	for (i = 0; i < ONCE_THREADS; i++)
		thread_join(&th[i]);
	CHECK_EQ(atomic_load(&once_runs), 1);
	CHECK_EQ(dt_once(&once_ctl, once_fn), 0);	/* done: fast path */
	CHECK_EQ(atomic_load(&once_runs), 1);
}

/* Description: 80 fibers and 20 threads call dt_once on one object at
 * once: fn runs exactly once, and no caller returns before it finished. */
Test(core_sync, once_runs_once_100_callers, .timeout = 30)
{
	run_test(once_body);
}

/* ---------------------------------------------------------------- */
/* All-zero objects and glibc static initializers                     */

union u_mutex {
	pthread_mutex_t p;
	struct dt_mutex d;
};
union u_cond {
	pthread_cond_t p;
	struct dt_cond d;
};
union u_rwlock {
	pthread_rwlock_t p;
	struct dt_rwlock d;
};
union u_sem {
	sem_t p;
	struct dt_sem d;
};

static union u_mutex z_normal = { .p = PTHREAD_MUTEX_INITIALIZER };
static union u_mutex z_rec = { .p = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP };
static union u_mutex z_err = { .p = PTHREAD_ERRORCHECK_MUTEX_INITIALIZER_NP };
static union u_mutex z_adapt = { .p = PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP };
static union u_cond z_cond = { .p = PTHREAD_COND_INITIALIZER };
static union u_rwlock z_rw = { .p = PTHREAD_RWLOCK_INITIALIZER };
static union u_rwlock z_rww = {
	.p = PTHREAD_RWLOCK_WRITER_NONRECURSIVE_INITIALIZER_NP
};
static union u_sem z_sem;		/* zero: a semaphore of value 0 */
static int z_once;
static _Atomic int z_flag, z_once_runs;

static bool all_zero(const void *p, size_t n)
{
	const unsigned char *c = p;

	while (n--)
		if (*c++)
			return false;
	return true;
}

static void z_once_fn(void)
{
	atomic_fetch_add(&z_once_runs, 1);
}

static void z_signaller(void *arg)
{
	(void)arg;
	dt_mutex_lock(&z_normal.d);
	atomic_store(&z_flag, 1);
	dt_cond_signal(&z_cond.d);
	dt_mutex_unlock(&z_normal.d);
	dt_sem_post(&z_sem.d);
}

static void z_locker(void *arg)
{
	(void)arg;
	CHECK_EQ(dt_mutex_lock(&z_rec.d), 0);	/* waits for the root */
	CHECK_EQ(dt_mutex_unlock(&z_rec.d), 0);
}

static void z_try_reader(void *arg)
{
	union u_rwlock *u = arg;

	/* Reader preference admits it past the queued writer; writer
	 * preference does not. */
	if (u->d.flags == DT_RWLOCK_PREFER_WRITER_NONRECURSIVE) {
		CHECK_EQ(dt_rwlock_tryrdlock(&u->d), -EBUSY);
	} else {
		CHECK_EQ(dt_rwlock_tryrdlock(&u->d), 0);
		CHECK_EQ(dt_rwlock_unlock(&u->d), 0);
	}
}

static void z_writer(void *arg)
{
	union u_rwlock *u = arg;

	CHECK_EQ(dt_rwlock_wrlock(&u->d), 0);
	CHECK_EQ(dt_rwlock_unlock(&u->d), 0);
}

static void z_body(void)
{
	union u_rwlock *rws[2] = { &z_rw, &z_rww };
	dtact_handle_t h;
	int i;

	/* The glibc initializers are what we expect. */
	CHECK(all_zero(&z_normal, sizeof(z_normal)), "MUTEX_INITIALIZER");
	CHECK(all_zero(&z_cond, sizeof(z_cond)), "COND_INITIALIZER");
	CHECK(all_zero(&z_rw, sizeof(z_rw)), "RWLOCK_INITIALIZER");
	CHECK_EQ(z_rec.d.kind, DT_MUTEX_RECURSIVE);
	CHECK_EQ(z_err.d.kind, DT_MUTEX_ERRORCHECK);
	CHECK_EQ(z_adapt.d.kind, DT_MUTEX_ADAPTIVE);
	CHECK_EQ(z_rww.d.flags, DT_RWLOCK_PREFER_WRITER_NONRECURSIVE);
	CHECK_EQ(dt_cond_clock(&z_cond.d), CLOCK_REALTIME);

	/* Recursive from its initializer: offset 16 holds 1. */
	CHECK_EQ(dt_mutex_lock(&z_rec.d), 0);
	CHECK_EQ(dt_mutex_lock(&z_rec.d), 0);
	CHECK_EQ(dt_mutex_trylock(&z_rec.d), 0);
	h = spawn_on(1, z_locker, NULL);
	CHECK(wait_mutex_waiters(&z_rec.d, 1), "locker did not queue");
	if (failed())
		return;
	for (i = 0; i < 3; i++)
		CHECK_EQ(dt_mutex_unlock(&z_rec.d), 0);
	await(h);
	CHECK_EQ(atomic_load(&z_rec.d.state), 0);
	/* Error-checking and adaptive from theirs. */
	CHECK_EQ(dt_mutex_lock(&z_err.d), 0);
	CHECK_EQ(dt_mutex_lock(&z_err.d), -EDEADLK);
	CHECK_EQ(dt_mutex_unlock(&z_err.d), 0);
	CHECK_EQ(dt_mutex_lock(&z_adapt.d), 0);
	CHECK_EQ(dt_mutex_trylock(&z_adapt.d), -EBUSY);
	CHECK_EQ(dt_mutex_unlock(&z_adapt.d), 0);

	/* Zero mutex + zero cond (REALTIME) + zero semaphore. */
	CHECK_EQ(dt_mutex_lock(&z_normal.d), 0);
	CHECK_EQ(dt_cond_timedwait(&z_cond.d, &z_normal.d,
				   now_on(CLOCK_REALTIME) + MS,
				   dt_cond_clock(&z_cond.d)), -ETIMEDOUT);
	h = spawn_on(1, z_signaller, NULL);
	while (!atomic_load(&z_flag))
		CHECK_EQ(dt_cond_wait(&z_cond.d, &z_normal.d), 0);
	CHECK_EQ(dt_mutex_unlock(&z_normal.d), 0);
	CHECK_EQ(dt_sem_wait(&z_sem.d), 0);
	await(h);
	CHECK_EQ(dt_sem_trywait(&z_sem.d), -EAGAIN);

	/* Zero rwlock prefers readers; WRITER_NONRECURSIVE writers. */
	for (i = 0; i < 2; i++) {
		union u_rwlock *u = rws[i];
		dtact_handle_t w, r;

		CHECK_EQ(dt_rwlock_rdlock(&u->d), 0);
		w = spawn_on(1, z_writer, u);
		CHECK(wait_queued(&u->d.lock, &u->d.wq, 1), "writer %d", i);
		r = spawn_on(0, z_try_reader, u);
		await(r);
		if (failed())
			return;
		CHECK_EQ(dt_rwlock_unlock(&u->d), 0);
		await(w);
		CHECK_EQ(atomic_load(&u->d.state), 0);
	}

	/* Zero once. */
	CHECK_EQ(dt_once(&z_once, z_once_fn), 0);
	CHECK_EQ(dt_once(&z_once, z_once_fn), 0);
	CHECK_EQ(atomic_load(&z_once_runs), 1);
}

/* Description: glibc's static initializers are valid objects: zero mutex,
 * cond (CLOCK_REALTIME), rwlock, sem, once work; a mutex whose int at
 * offset 16 is 1 (PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP) is recursive,
 * 2 error-checking; rwlock __flags 2 prefers writers, 0 readers. */
Test(core_sync, static_initializers, .timeout = 30)
{
	run_test(z_body);
}

/* ---------------------------------------------------------------- */
/* rwlock under load                                                   */

#define RW_FIB_READERS	6
#define RW_FIB_WRITERS	3
#define RW_ITERS	300

static struct dt_rwlock rwl;
static _Atomic int rw_readers_in, rw_writers_in, rw_max_readers;
static long rw_value;

static void rw_reader(void *arg)
{
	int i;

	(void)arg;
	for (i = 0; i < RW_ITERS; i++) {
		int n;

		CHECK_EQ(dt_rwlock_rdlock(&rwl), 0);
		n = atomic_fetch_add(&rw_readers_in, 1) + 1;
		if (n > atomic_load(&rw_max_readers))
			atomic_store(&rw_max_readers, n);
		CHECK(atomic_load(&rw_writers_in) == 0, "reader with writer");
		if (i % 3 == 0)
			dtact_yield();
		atomic_fetch_sub(&rw_readers_in, 1);
		CHECK_EQ(dt_rwlock_unlock(&rwl), 0);
	}
}

static void rw_writer(void *arg)
{
	int i;

	(void)arg;
	for (i = 0; i < RW_ITERS; i++) {
		long v;

		CHECK_EQ(dt_rwlock_wrlock(&rwl), 0);
		CHECK(atomic_fetch_add(&rw_writers_in, 1) == 0, "two writers");
		CHECK(atomic_load(&rw_readers_in) == 0, "writer with readers");
		v = rw_value;
		if (i % 3 == 0)
			dtact_yield();
		rw_value = v + 1;
		atomic_fetch_sub(&rw_writers_in, 1);
		CHECK_EQ(dt_rwlock_unlock(&rwl), 0);
	}
}

static void rw_body(void)
{
	dtact_handle_t h[RW_FIB_READERS + RW_FIB_WRITERS];
	struct thread_job th[2];
	int pass, i, n;

	for (pass = 0; pass < 2; pass++) {
		CHECK_EQ(dt_rwlock_init(&rwl, pass ? 2 : 0), 0);
		rw_value = 0;
		n = 0;
		for (i = 0; i < RW_FIB_READERS; i++)
			h[n++] = spawn_on(i % 2, rw_reader, NULL);
		for (i = 0; i < RW_FIB_WRITERS; i++)
			h[n++] = spawn_on(i % 2, rw_writer, NULL);
		thread_start(&th[0], rw_reader, NULL);
		thread_start(&th[1], rw_writer, NULL);
		for (i = 0; i < n; i++)
			await(h[i]);
		thread_join(&th[0]);
		thread_join(&th[1]);
		CHECK_EQ(rw_value, (RW_FIB_WRITERS + 1) * RW_ITERS);
		CHECK_EQ(atomic_load(&rwl.state), 0);
		CHECK_EQ(dt_rwlock_destroy(&rwl), 0);
	}
	CHECK(atomic_load(&rw_max_readers) > 1, "readers never shared");
}

/* Description: readers and writers (fibers and threads), reader then
 * writer preference: writers exclusive, readers share, writer count exact. */
Test(core_sync, rwlock_readers_share_writers_exclude, .timeout = 30)
{
	run_test(rw_body);
}

/* ---------------------------------------------------------------- */
/* Semaphore under load                                               */

#define SEM_FIBERS	4	/* posters and as many waiters */
#define SEM_PER		2000

static struct dt_sem sm;
static _Atomic long sm_taken;

static void sm_poster(void *arg)
{
	int i;

	(void)arg;
	for (i = 0; i < SEM_PER; i++) {
		CHECK_EQ(dt_sem_post(&sm), 0);
		if (i % 16 == 0)
			dtact_yield();
	}
}

static void sm_waiter(void *arg)
{
	int i;

	(void)arg;
	for (i = 0; i < SEM_PER; i++) {
		CHECK_EQ(dt_sem_wait(&sm), 0);
		atomic_fetch_add(&sm_taken, 1);
	}
}

static void sm_body(void)
{
	dtact_handle_t h[2 * SEM_FIBERS];
	struct thread_job th[2];
	int i, n = 0, v;

	for (i = 0; i < SEM_FIBERS; i++)
		h[n++] = spawn_on(i % 2, sm_waiter, NULL);
	thread_start(&th[0], sm_waiter, NULL);
	for (i = 0; i < SEM_FIBERS; i++)
		h[n++] = spawn_on(i % 2, sm_poster, NULL);
	thread_start(&th[1], sm_poster, NULL);
	for (i = 0; i < n; i++)
		await(h[i]);
	thread_join(&th[0]);
	thread_join(&th[1]);
	CHECK_EQ(atomic_load(&sm_taken), (SEM_FIBERS + 1) * SEM_PER);
	CHECK_EQ(dt_sem_getvalue(&sm, &v), 0);
	CHECK_EQ(v, 0);
	CHECK_EQ(atomic_load(&sm.value), 0);
	CHECK_EQ(dt_sem_trywait(&sm), -EAGAIN);
}

/* Description: 5 posters and 5 waiters (4 fibers + 1 thread each) pass
 * 10,000 tokens through a zero semaphore: every post is taken exactly
 * once and the value ends at 0 with no waiter left. */
Test(core_sync, sem_tokens_exact, .timeout = 30)
{
	run_test(sm_body);
}

/* ---------------------------------------------------------------- */
/* Deadlines racing wake-ups                                          */

#define RACE_FIBERS	8
#define RACE_THREADS	2
#define RACE_ITERS	3000
#define RACE_TOKENS	6000

static struct dt_mutex race_m;
static struct dt_cond race_c;
static struct dt_rwlock race_rw;
static struct dt_sem race_s;
static long race_counter;		/* under race_m */
static _Atomic long race_ok, race_expired, race_taken;
static _Atomic int race_inside, race_writers, race_readers;

/* A deadline 0..63 us away: many expire just as the wake-up comes. */
static int64_t race_deadline(int i, clockid_t clk)
{
	return now_on(clk) + (int64_t)((i * 7) % 64) * 1000;
}

static void race_party(void *arg)
{
	int id = (int)(intptr_t)arg, i, r;
	clockid_t clk = id % 2 ? CLOCK_REALTIME : CLOCK_MONOTONIC;

	for (i = 0; i < RACE_ITERS; i++) {
		/* mutex */
		r = dt_mutex_timedlock(&race_m, race_deadline(i, clk), clk);
		if (r == 0) {
			CHECK(atomic_fetch_add(&race_inside, 1) == 0,
			      "two holders after a timed lock");
			race_counter++;
			if (i % 8 == 0)
				dtact_yield();
			atomic_fetch_sub(&race_inside, 1);
			atomic_fetch_add(&race_ok, 1);
			/* cond: a timed wait that the others' signals race */
			if (i % 4 == 0) {
				r = dt_cond_timedwait(&race_c, &race_m,
						race_deadline(i, clk), clk);
				CHECK(r == 0 || r == -ETIMEDOUT, "cond rc %d",
				      r);
				CHECK(dt_mutex_held(&race_m),
				      "cond wait returned without the mutex");
			}
			dt_cond_signal(&race_c);
			CHECK_EQ(dt_mutex_unlock(&race_m), 0);
		} else {
			CHECK(r == -ETIMEDOUT, "timedlock rc %d", r);
			atomic_fetch_add(&race_expired, 1);
		}
		/* rwlock */
		if (i % 3 == 0) {
			r = dt_rwlock_timedwrlock(&race_rw,
						  race_deadline(i, clk), clk);
			if (r == 0) {
				CHECK(atomic_fetch_add(&race_writers, 1) == 0 &&
				      atomic_load(&race_readers) == 0,
				      "writer not alone");
				if (i % 2)
					dtact_yield();
				atomic_fetch_sub(&race_writers, 1);
				CHECK_EQ(dt_rwlock_unlock(&race_rw), 0);
			} else {
				CHECK(r == -ETIMEDOUT, "wrlock rc %d", r);
			}
		} else {
			r = dt_rwlock_timedrdlock(&race_rw,
						  race_deadline(i, clk), clk);
			if (r == 0) {
				atomic_fetch_add(&race_readers, 1);
				CHECK(atomic_load(&race_writers) == 0,
				      "reader with a writer");
				if (i % 2)
					dtact_yield();
				atomic_fetch_sub(&race_readers, 1);
				CHECK_EQ(dt_rwlock_unlock(&race_rw), 0);
			} else {
				CHECK(r == -ETIMEDOUT, "rdlock rc %d", r);
			}
		}
		/* semaphore: take with a deadline, put back half */
		r = dt_sem_timedwait(&race_s, race_deadline(i, clk), clk);
		CHECK(r == 0 || r == -ETIMEDOUT, "sem rc %d", r);
		if (r == 0 && (i & 1))
			CHECK_EQ(dt_sem_post(&race_s), 0);
		else if (r == 0)
			atomic_fetch_add(&race_taken, 1);
	}
}

static void race_body(void)
{
	dtact_handle_t h[RACE_FIBERS];
	struct thread_job th[RACE_THREADS];
	int i, v;

	CHECK_EQ(dt_sem_init(&race_s, 0), 0);
	for (i = 0; i < RACE_FIBERS; i++)
		h[i] = spawn_on(i % 2, race_party, (void *)(intptr_t)i);
	for (i = 0; i < RACE_THREADS; i++)
		thread_start(&th[i], race_party,
			     (void *)(intptr_t)(RACE_FIBERS + i));
	/* Feed the semaphore while they run. */
	for (i = 0; i < RACE_TOKENS; i++) {
		CHECK_EQ(dt_sem_post(&race_s), 0);
		if (i % 32 == 0)
			dtact_yield();
	}
	for (i = 0; i < RACE_FIBERS; i++)
		await(h[i]);
	for (i = 0; i < RACE_THREADS; i++)
		thread_join(&th[i]);
	CHECK_EQ(race_counter, atomic_load(&race_ok));
	CHECK(atomic_load(&race_ok) > 0 && atomic_load(&race_expired) > 0,
	      "no race: %ld timed locks succeeded, %ld expired",
	      atomic_load(&race_ok), atomic_load(&race_expired));
	/* Tokens: taken + left == posted (put-backs cancel out). */
	CHECK_EQ(dt_sem_getvalue(&race_s, &v), 0);
	CHECK_EQ(atomic_load(&race_taken) + v, RACE_TOKENS);
	/* Nothing left behind by the expired waits. */
	CHECK_EQ(atomic_load(&race_m.state), 0);
	CHECK_EQ(dt_mutex_nwaiters(&race_m), 0);
	CHECK_EQ(queued(&race_c.lock, &race_c.q), 0);
	CHECK_EQ(atomic_load(&race_rw.state), 0);
	CHECK_EQ(atomic_load(&race_s.value), v);
}

/* Description: 8 fibers and 2 threads hammer a mutex, condvar, rwlock and
 * semaphore with deadlines 0-63 us away, so that deadlines expire as
 * wake-ups and handoffs arrive: mutual exclusion holds, every success is
 * counted once, no token is lost or duplicated, and no expired waiter is
 * left in a queue or flag. */
Test(core_sync, deadlines_race_wakeups, .timeout = 30)
{
	run_test(race_body);
}

/* ---------------------------------------------------------------- */
/* Signals: EINTR emulation                                           */

static struct dt_sem in_s;
static struct dt_mutex in_m;
static struct dt_fiber *_Atomic in_fiber;
static _Atomic int in_sem_rc = 1, in_mutex_rc = 1;

static void in_waiter(void *arg)
{
	struct dt_fiber *f = dt_current();

	(void)arg;
	f->intr = DT_INTR_ALWAYS;	/* as the shim marks sem_wait */
	atomic_store(&in_fiber, f);
	atomic_store(&in_sem_rc, dt_sem_wait(&in_s));
	/* Still marked: a mutex wait must not end on a signal. */
	atomic_store(&in_mutex_rc, dt_mutex_lock(&in_m));
	f->intr = 0;
	CHECK_EQ(dt_mutex_unlock(&in_m), 0);
}

static void in_body(void)
{
	dtact_handle_t h;
	int i, v;

	CHECK_EQ(dt_mutex_lock(&in_m), 0);
	h = spawn_on(1, in_waiter, NULL);
	CHECK(wait_queued(&in_s.lock, &in_s.q, 1), "sem waiter not queued");
	if (failed())
		return;
	dt_fiber_interrupt_async(atomic_load(&in_fiber), 0);
	for (i = 0; i < 5000 && atomic_load(&in_sem_rc) == 1; i++)
		sleep_ms(1);
	CHECK_EQ(atomic_load(&in_sem_rc), -EINTR);
	CHECK_EQ(queued(&in_s.lock, &in_s.q), 0);
	CHECK_EQ(atomic_load(&in_s.value), 0);
	CHECK(wait_mutex_waiters(&in_m, 1), "mutex waiter not queued");
	if (failed())
		return;
	dt_fiber_interrupt_async(atomic_load(&in_fiber), 0);
	sleep_ms(50);
	CHECK_EQ(atomic_load(&in_mutex_rc), 1);		/* still waiting */
	CHECK_EQ(dt_mutex_nwaiters(&in_m), 1);
	CHECK_EQ(dt_mutex_unlock(&in_m), 0);
	await(h);
	CHECK_EQ(atomic_load(&in_mutex_rc), 0);
	CHECK_EQ(dt_sem_post(&in_s), 0);	/* the sem is still sound */
	CHECK_EQ(dt_sem_getvalue(&in_s, &v), 0);
	CHECK_EQ(v, 1);
}

/* Description: a fiber whose wait is marked interruptible (f->intr) gets
 * -EINTR from dt_sem_wait when a signal interrupts it, leaving the
 * semaphore sound; the same mark does not end a mutex wait, which goes on
 * until the mutex is handed over. */
Test(core_sync, signal_ends_sem_wait_not_mutex_wait, .timeout = 30)
{
	run_test(in_body);
}
