/* SPDX-License-Identifier: MIT */
/*
 * bench/switch.c - the cost of a fiber switch and of a cross-worker wake,
 * beside what native threads pay for the same hand-off, in one run.
 *
 * Cases (each: warm-up, then median of BENCH_REPS reps, see bench.h):
 *   native   sched_yield round trip: two threads pinned to one CPU, each
 *            calling sched_yield(2) in a loop (a round trip is two thread
 *            switches through the kernel).
 *   native   mutex+cond ping-pong: two threads hand a turn back and forth
 *            under one pthread mutex with a condition variable per side.
 *   native   pipe ping-pong: one byte each way through two pipes.
 *   dtact    arch switch round trip: dt_ctx_switch[_fp] between two
 *            contexts, no scheduler (the floor under every fiber switch).
 *   dtact    yield, alone: one fiber yielding with nothing else runnable
 *            (the scheduler's pick without a switch).
 *   dtact    yield round trip A->B->A: two fibers pinned to worker 0 (both
 *            DTACT_SWITCHER_FLOAT, then both NOFLOAT), each looping on
 *            dtact_yield(); the root fiber is parked in dtact_await.
 *   dtact    cross-worker wake, park/unpark: fibers on workers 0 and 1
 *            ping-pong through a one-slot event built on the runtime's
 *            wait record (dt_waiter_*, the core under every sync
 *            primitive; linked statically, so the hidden symbols resolve).
 *   dtact    the same, with a fiber on each worker that keeps yielding,
 *            so the target worker is always awake: the mailbox path alone.
 *   dtact    dt_sem and dt_mutex + dt_cond ping-pong between workers 0
 *            and 1 (core/sync.h, when it is there): what the shim's
 *            sem_* and pthread_cond_* cost a fiber.
 *   dtact    cross-worker wake, eventfd: the same ping-pong through the
 *            public API only: write(2) to the peer's eventfd,
 *            dtact_wait_fd() on one's own.
 * A round trip is two switches (two wakes); the table reports both.
 *
 * Build: make O=... $(O)/bench/switch.  Run: $(O)/bench/switch [--quick].
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "dtact.h"
#include "arch/switch.h"
#include "core/dt.h"
#include "bench/bench.h"

#define N_SCHED_YIELD	200000L		/* native round trips per rep */
#define N_NATIVE_PP	10000L		/* mutex+cond / pipe round trips */
#define N_ARCH		4000000L	/* raw context switch round trips */
#define N_YIELD		2000000L	/* fiber yield round trips */
#define N_XWORKER	20000L		/* cross-worker park/unpark trips */
#define N_XFD		20000L		/* cross-worker eventfd trips */
#define N_XHOT		50000L		/* cross-worker trips, workers busy */

#define YIELD_BUDGET_NS	20.0		/* DESIGN "Budgets" */

static int die(const char *what)
{
	fprintf(stderr, "bench/switch: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* ---------------------------------------------------------------- */
/* Native: sched_yield round trip, two threads pinned to one CPU       */

struct sy {
	pthread_barrier_t start;
	_Atomic int stop;
	_Atomic long b_count;		/* yields made by B */
	long n;
	int cpu;
};

static void pin_self(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static void *sy_b(void *p)
{
	struct sy *s = p;

	pin_self(s->cpu);
	pthread_barrier_wait(&s->start);
	while (!atomic_load_explicit(&s->stop, memory_order_relaxed)) {
		sched_yield();
		atomic_store_explicit(&s->b_count,
			atomic_load_explicit(&s->b_count,
					     memory_order_relaxed) + 1,
			memory_order_relaxed);
	}
	return NULL;
}

/* ns for n round trips: switches counted on both sides, so a yield that
 * found nothing to switch to does not count as half a round trip. */
static int64_t native_sched_yield(void *arg, long n)
{
	struct sy s = { .n = n, .cpu = 0 };
	pthread_t b;
	int64_t t0, t1;
	long b0, b1, i;

	(void)arg;
	pthread_barrier_init(&s.start, NULL, 2);
	pin_self(s.cpu);
	if (pthread_create(&b, NULL, sy_b, &s))
		die("pthread_create");
	pthread_barrier_wait(&s.start);
	for (i = 0; i < 1000; i++)
		sched_yield();
	b0 = atomic_load(&s.b_count);
	t0 = bench_now_ns();
	for (i = 0; i < n; i++)
		sched_yield();
	t1 = bench_now_ns();
	b1 = atomic_load(&s.b_count);
	atomic_store(&s.stop, 1);
	pthread_join(b, NULL);
	pthread_barrier_destroy(&s.start);
	{
		cpu_set_t all;
		long c, ncpu = sysconf(_SC_NPROCESSORS_ONLN);

		CPU_ZERO(&all);
		for (c = 0; c < ncpu && c < CPU_SETSIZE; c++)
			CPU_SET(c, &all);
		pthread_setaffinity_np(pthread_self(), sizeof(all), &all);
	}
	/* Round trips = switches / 2, switches = yields on both sides. */
	return (int64_t)((double)(t1 - t0) * 2.0 * (double)n /
			 (double)(n + (b1 - b0)));
}

/* ---------------------------------------------------------------- */
/* Native: mutex + condition variable ping-pong                       */

struct mc {
	pthread_mutex_t m;
	pthread_cond_t to_a, to_b;
	int turn;			/* 0: A's, 1: B's */
	int stop;
};

static void *mc_b(void *p)
{
	struct mc *s = p;

	pthread_mutex_lock(&s->m);
	for (;;) {
		while (s->turn != 1 && !s->stop)
			pthread_cond_wait(&s->to_b, &s->m);
		if (s->stop)
			break;
		s->turn = 0;
		pthread_cond_signal(&s->to_a);
	}
	pthread_mutex_unlock(&s->m);
	return NULL;
}

static int64_t native_mutex_cond(void *arg, long n)
{
	struct mc s = { .m = PTHREAD_MUTEX_INITIALIZER,
			.to_a = PTHREAD_COND_INITIALIZER,
			.to_b = PTHREAD_COND_INITIALIZER };
	pthread_t b;
	int64_t t0, t1;
	long i;

	(void)arg;
	if (pthread_create(&b, NULL, mc_b, &s))
		die("pthread_create");
	pthread_mutex_lock(&s.m);
	t0 = bench_now_ns();
	for (i = 0; i < n; i++) {
		s.turn = 1;
		pthread_cond_signal(&s.to_b);
		while (s.turn != 0)
			pthread_cond_wait(&s.to_a, &s.m);
	}
	t1 = bench_now_ns();
	s.stop = 1;
	pthread_cond_signal(&s.to_b);
	pthread_mutex_unlock(&s.m);
	pthread_join(b, NULL);
	return t1 - t0;
}

/* ---------------------------------------------------------------- */
/* Native: pipe ping-pong                                             */

struct pp {
	int ab[2], ba[2];		/* A->B, B->A */
};

static void *pp_b(void *p)
{
	struct pp *s = p;
	char c;

	while (read(s->ab[0], &c, 1) == 1 && c)
		if (write(s->ba[1], &c, 1) != 1)
			break;
	return NULL;
}

static int64_t native_pipe(void *arg, long n)
{
	struct pp s;
	pthread_t b;
	int64_t t0, t1;
	char c = 1;
	long i;

	(void)arg;
	if (pipe(s.ab) || pipe(s.ba))
		die("pipe");
	if (pthread_create(&b, NULL, pp_b, &s))
		die("pthread_create");
	t0 = bench_now_ns();
	for (i = 0; i < n; i++)
		if (write(s.ab[1], &c, 1) != 1 || read(s.ba[0], &c, 1) != 1)
			die("pipe ping-pong");
	t1 = bench_now_ns();
	c = 0;
	if (write(s.ab[1], &c, 1) != 1)
		die("write");
	pthread_join(b, NULL);
	close(s.ab[0]);
	close(s.ab[1]);
	close(s.ba[0]);
	close(s.ba[1]);
	return t1 - t0;
}

/* ---------------------------------------------------------------- */
/* dtact: the bare arch switch, no scheduler                          */

struct arch_pp {
	void *a_sp, *b_sp;
	int fp;
};

static void arch_b(void *p)
{
	struct arch_pp *s = p;

	for (;;) {
		if (s->fp)
			dt_ctx_switch_fp(&s->b_sp, s->a_sp);
		else
			dt_ctx_switch(&s->b_sp, s->a_sp);
	}
}

/* Runs inside the root fiber: the scheduler never sees the second
 * context, and the loop ends with the root fiber back on its stack. */
static int64_t dtact_arch(void *arg, long n)
{
	static char stack[64 << 10] __attribute__((aligned(16)));
	struct arch_pp s = { .fp = *(int *)arg };
	int64_t t0, t1;
	long i;

	s.b_sp = dt_ctx_init(stack + sizeof(stack), arch_b, &s);
	t0 = bench_now_ns();
	if (s.fp)
		for (i = 0; i < n; i++)
			dt_ctx_switch_fp(&s.a_sp, s.b_sp);
	else
		for (i = 0; i < n; i++)
			dt_ctx_switch(&s.a_sp, s.b_sp);
	t1 = bench_now_ns();
	return t1 - t0;
}

/* ---------------------------------------------------------------- */
/* dtact: yield                                                       */

struct yp {
	long n;
	_Atomic int stop;
	int64_t t0, t1;
};

static void yield_a(void *p)
{
	struct yp *s = p;
	long i;

	for (i = 0; i < 1000; i++)
		dtact_yield();
	s->t0 = bench_now_ns();
	for (i = 0; i < s->n; i++)
		dtact_yield();
	s->t1 = bench_now_ns();
	atomic_store_explicit(&s->stop, 1, memory_order_relaxed);
}

static void yield_b(void *p)
{
	struct yp *s = p;

	while (!atomic_load_explicit(&s->stop, memory_order_relaxed))
		dtact_yield();
}

static dtact_handle_t launch_on(void (*fn)(void *), void *arg, int worker,
				uint32_t switcher)
{
	dtact_spawn_options_t o = dtact_default_spawn_options();
	dtact_handle_t h;

	o.mWorker = worker;
	o.mSwitcher = switcher;
	h = dtact_fiber_launch_ext(fn, arg, &o);
	if (!h)
		die("dtact_fiber_launch_ext");
	return h;
}

static void await_or_die(dtact_handle_t h)
{
	if (dtact_await(h))
		die("dtact_await");
}

/* Two fibers on worker 0; arg: the switcher.  n round trips. */
static int64_t dtact_yield_rt(void *arg, long n)
{
	uint32_t sw = *(uint32_t *)arg;
	struct yp s = { .n = n };
	dtact_handle_t a, b;

	a = launch_on(yield_a, &s, 0, sw);
	b = launch_on(yield_b, &s, 0, sw);
	await_or_die(a);
	await_or_die(b);
	return s.t1 - s.t0;
}

/* One fiber yielding with nothing else runnable: the root is parked in
 * dtact_await, so dt_park's pick finds the yielder itself. */
static int64_t dtact_yield_alone(void *arg, long n)
{
	struct yp s = { .n = n };

	(void)arg;
	atomic_store(&s.stop, 1);
	await_or_die(launch_on(yield_a, &s, 0, DTACT_SWITCHER_NOFLOAT));
	return s.t1 - s.t0;
}

/* ---------------------------------------------------------------- */
/* dtact: cross-worker wake through the runtime's wait record          */

/*
 * A one-slot event between one poster and one waiter fiber.  post: raise
 * the token, then take the parked waiter (if any) and wake it.  wait:
 * consume the token, else publish a wait record, re-check the token and
 * park.  The token store / waiter exchange on the post side and the waiter
 * store / token load on the wait side are all seq_cst, so at least one side
 * sees the other: no lost wake-up.
 */
struct ev {
	_Alignas(64) _Atomic uint32_t token;
	_Atomic(struct dt_waiter *) waiter;
};

static void ev_post(struct ev *e)
{
	struct dt_waiter *w;

	atomic_store(&e->token, 1);
	w = atomic_exchange(&e->waiter, NULL);
	if (w && dt_waiter_claim(w, DT_WAIT_WOKEN))
		dt_waiter_post(w);
}

static void ev_wait(struct ev *e)
{
	for (;;) {
		struct dt_waiter w;

		if (atomic_exchange(&e->token, 0))
			return;
		dt_waiter_init(&w);
		atomic_store(&e->waiter, &w);
		if (atomic_load(&e->token)) {
			struct dt_waiter *mine = &w;

			/* Withdraw the record, unless the poster took it:
			 * then its wake-up is on the way and must be taken. */
			if (atomic_compare_exchange_strong(&e->waiter, &mine,
							   NULL))
				continue;
		}
		dt_waiter_block(&w, DT_DEADLINE_NONE, CLOCK_MONOTONIC,
				DT_REASON_OTHER);
	}
}

struct xw {
	struct ev to_a, to_b;
	long n;
	_Atomic int stop;
	int64_t t0, t1;
};

static void xw_a(void *p)
{
	struct xw *s = p;
	long i;

	for (i = 0; i < 100; i++) {
		ev_post(&s->to_b);
		ev_wait(&s->to_a);
	}
	s->t0 = bench_now_ns();
	for (i = 0; i < s->n; i++) {
		ev_post(&s->to_b);
		ev_wait(&s->to_a);
	}
	s->t1 = bench_now_ns();
	atomic_store(&s->stop, 1);
	ev_post(&s->to_b);
}

static void xw_b(void *p)
{
	struct xw *s = p;

	for (;;) {
		ev_wait(&s->to_b);
		if (atomic_load(&s->stop))
			break;
		ev_post(&s->to_a);
	}
}

static int64_t dtact_xworker(void *arg, long n)
{
	struct xw *s = calloc(1, sizeof(*s));
	dtact_handle_t a, b;
	int64_t ns;

	(void)arg;
	if (!s)
		die("calloc");
	s->n = n;
	b = launch_on(xw_b, s, 1, DTACT_SWITCHER_NOFLOAT);
	a = launch_on(xw_a, s, 0, DTACT_SWITCHER_NOFLOAT);
	await_or_die(a);
	await_or_die(b);
	ns = s->t1 - s->t0;
	free(s);
	return ns;
}

/* The same ping-pong while each worker also runs a fiber that keeps
 * yielding, so neither worker ever goes idle: every wake goes through the
 * mailbox to an awake worker (no eventfd, no syscall), and the woken fiber
 * runs at the spinner's next yield. */
struct spin {
	_Atomic int stop;
};

static void spinner(void *p)
{
	struct spin *s = p;

	while (!atomic_load_explicit(&s->stop, memory_order_relaxed))
		dtact_yield();
}

static int64_t dtact_xworker_hot(void *arg, long n)
{
	struct spin sp = { 0 };
	dtact_handle_t s0, s1;
	int64_t ns;

	s0 = launch_on(spinner, &sp, 0, DTACT_SWITCHER_NOFLOAT);
	s1 = launch_on(spinner, &sp, 1, DTACT_SWITCHER_NOFLOAT);
	ns = dtact_xworker(arg, n);
	atomic_store(&sp.stop, 1);
	await_or_die(s0);
	await_or_die(s1);
	return ns;
}

/* ---------------------------------------------------------------- */
/* dtact: cross-worker wake through the fiber-aware sync objects       */

#if __has_include("core/sync.h")
#include "core/sync.h"
#define HAVE_SYNC 1

struct xs {
	struct dt_sem to_a, to_b;	/* semaphore ping-pong */
	struct dt_mutex m;		/* mutex+cond ping-pong */
	struct dt_cond ca, cb;
	int turn;			/* 0: A's, 1: B's (under m) */
	long n;
	_Atomic int stop;
	int64_t t0, t1;
};

static void xs_sem_a(void *p)
{
	struct xs *s = p;
	long i;

	for (i = 0; i < 100; i++) {
		dt_sem_post(&s->to_b);
		dt_sem_wait(&s->to_a);
	}
	s->t0 = bench_now_ns();
	for (i = 0; i < s->n; i++) {
		dt_sem_post(&s->to_b);
		dt_sem_wait(&s->to_a);
	}
	s->t1 = bench_now_ns();
	atomic_store(&s->stop, 1);
	dt_sem_post(&s->to_b);
}

static void xs_sem_b(void *p)
{
	struct xs *s = p;

	for (;;) {
		dt_sem_wait(&s->to_b);
		if (atomic_load(&s->stop))
			break;
		dt_sem_post(&s->to_a);
	}
}

static void xs_cond_a(void *p)
{
	struct xs *s = p;
	long i, k;

	dt_mutex_lock(&s->m);
	for (k = 0; k < 2; k++) {
		long n = k ? s->n : 100;

		if (k)
			s->t0 = bench_now_ns();
		for (i = 0; i < n; i++) {
			s->turn = 1;
			dt_cond_signal(&s->cb);
			while (s->turn != 0)
				dt_cond_wait(&s->ca, &s->m);
		}
	}
	s->t1 = bench_now_ns();
	atomic_store(&s->stop, 1);
	dt_cond_signal(&s->cb);
	dt_mutex_unlock(&s->m);
}

static void xs_cond_b(void *p)
{
	struct xs *s = p;

	dt_mutex_lock(&s->m);
	for (;;) {
		while (s->turn != 1 && !atomic_load(&s->stop))
			dt_cond_wait(&s->cb, &s->m);
		if (atomic_load(&s->stop))
			break;
		s->turn = 0;
		dt_cond_signal(&s->ca);
	}
	dt_mutex_unlock(&s->m);
}

/* arg: 0 semaphores, 1 mutex + condition variables. */
static int64_t dtact_xsync(void *arg, long n)
{
	int cond = *(int *)arg;
	struct xs *s = calloc(1, sizeof(*s));
	dtact_handle_t a, b;
	int64_t ns;

	if (!s)
		die("calloc");
	s->n = n;
	if (dt_sem_init(&s->to_a, 0) || dt_sem_init(&s->to_b, 0) ||
	    dt_mutex_init(&s->m, DT_MUTEX_NORMAL) ||
	    dt_cond_init(&s->ca, CLOCK_MONOTONIC) ||
	    dt_cond_init(&s->cb, CLOCK_MONOTONIC)) {
		free(s);
		return -1;
	}
	b = launch_on(cond ? xs_cond_b : xs_sem_b, s, 1,
		      DTACT_SWITCHER_NOFLOAT);
	a = launch_on(cond ? xs_cond_a : xs_sem_a, s, 0,
		      DTACT_SWITCHER_NOFLOAT);
	await_or_die(a);
	await_or_die(b);
	ns = s->t1 - s->t0;
	dt_cond_destroy(&s->ca);
	dt_cond_destroy(&s->cb);
	dt_mutex_destroy(&s->m);
	dt_sem_destroy(&s->to_a);
	dt_sem_destroy(&s->to_b);
	free(s);
	return ns;
}
#else
#define HAVE_SYNC 0
#endif

/* ---------------------------------------------------------------- */
/* dtact: cross-worker wake through eventfd + dtact_wait_fd            */

struct xf {
	int to_a, to_b;			/* eventfds, non-blocking */
	long n;
	_Atomic int stop;
	int64_t t0, t1;
};

static void xf_send(int fd)
{
	uint64_t one = 1;

	if (write(fd, &one, sizeof(one)) != sizeof(one))
		die("eventfd write");
}

static void xf_recv(int fd)
{
	uint64_t v;

	for (;;) {
		if (read(fd, &v, sizeof(v)) == sizeof(v))
			return;
		if (errno != EAGAIN)
			die("eventfd read");
		if (dtact_wait_fd(fd, DTACT_FD_READ, -1) < 0)
			die("dtact_wait_fd");
	}
}

static void xf_a(void *p)
{
	struct xf *s = p;
	long i;

	for (i = 0; i < 100; i++) {
		xf_send(s->to_b);
		xf_recv(s->to_a);
	}
	s->t0 = bench_now_ns();
	for (i = 0; i < s->n; i++) {
		xf_send(s->to_b);
		xf_recv(s->to_a);
	}
	s->t1 = bench_now_ns();
	atomic_store(&s->stop, 1);
	xf_send(s->to_b);
}

static void xf_b(void *p)
{
	struct xf *s = p;

	for (;;) {
		xf_recv(s->to_b);
		if (atomic_load(&s->stop))
			break;
		xf_send(s->to_a);
	}
}

static int64_t dtact_xfd(void *arg, long n)
{
	struct xf s = { .n = n };
	dtact_handle_t a, b;

	(void)arg;
	s.to_a = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	s.to_b = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (s.to_a < 0 || s.to_b < 0)
		die("eventfd");
	b = launch_on(xf_b, &s, 1, DTACT_SWITCHER_NOFLOAT);
	a = launch_on(xf_a, &s, 0, DTACT_SWITCHER_NOFLOAT);
	await_or_die(a);
	await_or_die(b);
	dtact_fd_close(s.to_a);
	dtact_fd_close(s.to_b);
	close(s.to_a);
	close(s.to_b);
	return s.t1 - s.t0;
}

/* ---------------------------------------------------------------- */
/* Driver and table                                                   */

enum {
	R_SCHED, R_COND, R_PIPE,
	R_ARCH_FP, R_ARCH_NOFP, R_ALONE, R_YIELD_FP, R_YIELD_NOFP,
	R_XW, R_XHOT, R_XSEM, R_XCOND, R_XFD, R_NR
};
static struct bench_res res[R_NR];

/* The runtime's own counters (struct dt_stats_worker, all workers) per
 * operation of a case, warm-up included: they say what a case really did
 * (how many switches, how many blocking epoll_waits, eventfd wake-ups). */
struct ctr {
	double switches, epoll_waits, wakeups;
	int ok;
};
static struct ctr ctrs[R_NR];

static struct ctr ctr_now(void)
{
	struct ctr c = { 0, 0, 0, 1 };
	int i;

	/* Other workers' counters are plain fields written by their owner;
	 * the cases have ended when this runs, so they are at rest. */
	for (i = 0; i < dt_rt.nworkers; i++) {
		c.switches += (double)dt_rt.workers[i].st.switches;
		c.epoll_waits += (double)dt_rt.workers[i].st.epoll_waits;
		c.wakeups += (double)dt_rt.workers[i].st.wakeups_sent;
	}
	return c;
}

static void run_dtact(int r, bench_fn fn, void *arg, long n)
{
	struct ctr a = ctr_now(), b;
	double ops;

	bench_run(&res[r], fn, arg, n, n / 10);
	b = ctr_now();
	ops = (double)(n / 10 + BENCH_REPS * res[r].n);
	ctrs[r].switches = (b.switches - a.switches) / ops;
	ctrs[r].epoll_waits = (b.epoll_waits - a.epoll_waits) / ops;
	ctrs[r].wakeups = (b.wakeups - a.wakeups) / ops;
	ctrs[r].ok = res[r].ok;
}

static void root(void *arg)
{
	static int fp1 = 1, fp0 = 0, use_sem = 0, use_cond = 1;
	static uint32_t swf = DTACT_SWITCHER_FLOAT,
			swn = DTACT_SWITCHER_NOFLOAT;
	long n;

	(void)arg;
	n = bench_iters(N_ARCH);
	bench_run(&res[R_ARCH_FP], dtact_arch, &fp1, n, n / 10);
	bench_run(&res[R_ARCH_NOFP], dtact_arch, &fp0, n, n / 10);
	n = bench_iters(N_YIELD);
	run_dtact(R_ALONE, dtact_yield_alone, NULL, n);
	run_dtact(R_YIELD_FP, dtact_yield_rt, &swf, n);
	run_dtact(R_YIELD_NOFP, dtact_yield_rt, &swn, n);
	if (dtact_workers() >= 2) {
		n = bench_iters(N_XWORKER);
		run_dtact(R_XW, dtact_xworker, NULL, n);
		n = bench_iters(N_XHOT);
		run_dtact(R_XHOT, dtact_xworker_hot, NULL, n);
#if HAVE_SYNC
		n = bench_iters(N_XWORKER);
		run_dtact(R_XSEM, dtact_xsync, &use_sem, n);
		run_dtact(R_XCOND, dtact_xsync, &use_cond, n);
#endif
		n = bench_iters(N_XFD);
		run_dtact(R_XFD, dtact_xfd, NULL, n);
	}
	dtact_shutdown();
}

static void ctr_row(const char *name, int r)
{
	if (ctrs[r].ok)
		printf("  %-44s %10.3f %12.3f %12.3f\n", name,
		       ctrs[r].switches, ctrs[r].epoll_waits, ctrs[r].wakeups);
}

/* One row: `scale` turns the measured op into the row's op (0.5: a
 * round trip into one switch or one wake). */
static void row(const char *name, const char *op, const struct bench_res *r,
		double scale, const struct bench_res *native, double nscale,
		const char *budget)
{
	char m[32], lo[32], hi[32], nat[32], ratio[32];

	if (!r->ok) {
		printf("  %-44s %-10s %9s\n", name, op, "failed");
		return;
	}
	bench_fmt_ns(m, sizeof(m), r->med * scale);
	bench_fmt_ns(lo, sizeof(lo), r->min * scale);
	bench_fmt_ns(hi, sizeof(hi), r->max * scale);
	if (native && native->ok) {
		bench_fmt_ns(nat, sizeof(nat), native->med * nscale);
		snprintf(ratio, sizeof(ratio), "%.1fx",
			 native->med * nscale / (r->med * scale));
	} else {
		snprintf(nat, sizeof(nat), "-");
		snprintf(ratio, sizeof(ratio), "-");
	}
	printf("  %-44s %-10s %9s  %7s-%-7s %9s %8s  %s\n", name, op, m, lo,
	       hi, nat, ratio, budget ? budget : "");
}

static const char *verdict(char *buf, size_t sz, const struct bench_res *r,
			   double scale)
{
	snprintf(buf, sz, "<= %.0f ns (DESIGN): %s", YIELD_BUDGET_NS,
		 r->ok && r->med * scale <= YIELD_BUDGET_NS ? "met" :
							      "MISSED");
	return buf;
}

int main(int argc, char **argv)
{
	dtact_config_t cfg = dtact_default_config();
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	char b1[64], b2[64], b3[64], b4[64];
	void *rt;
	long n;

	bench_args(argc, argv,
		   "  fiber switch and cross-worker wake vs native threads\n");
	setvbuf(stdout, NULL, _IOLBF, 0);

	/* Native baselines first, with no runtime threads around. */
	n = bench_iters(N_SCHED_YIELD);
	bench_run(&res[R_SCHED], native_sched_yield, NULL, n, n / 10);
	n = bench_iters(N_NATIVE_PP);
	bench_run(&res[R_COND], native_mutex_cond, NULL, n, n / 10);
	bench_run(&res[R_PIPE], native_pipe, NULL, n, n / 10);

	cfg.mWorkers = ncpu < 2 ? 2 : (uint32_t)ncpu;
	rt = dtact_init(&cfg);
	if (!rt)
		die("dtact_init");
	launch_on(root, NULL, 0, DTACT_SWITCHER_FLOAT);
	if (dtact_run(rt))
		die("dtact_run");

	printf("bench/switch: %ld CPUs, %u workers, median of %d reps after "
	       "a warm-up%s; ns per op\n", ncpu, cfg.mWorkers, BENCH_REPS,
	       bench_scale < 1 ? " (--quick)" : "");
	printf("  %-44s %-10s %9s  %-15s %9s %8s  %s\n", "case", "op",
	       "ns/op", "min-max", "native", "nat/this", "budget");
	printf("same worker (native: sched_yield, 2 threads pinned to CPU 0)\n");
	row("native sched_yield", "round trip", &res[R_SCHED], 1,
	    &res[R_SCHED], 1, NULL);
	row("native sched_yield", "switch", &res[R_SCHED], 0.5,
	    &res[R_SCHED], 0.5, NULL);
	row("arch dt_ctx_switch_fp, no scheduler", "round trip",
	    &res[R_ARCH_FP], 1, &res[R_SCHED], 1, NULL);
	row("arch dt_ctx_switch, no scheduler", "round trip",
	    &res[R_ARCH_NOFP], 1, &res[R_SCHED], 1, NULL);
	row("dtact_yield, nothing else runnable", "yield", &res[R_ALONE], 1,
	    NULL, 0, NULL);
	row("dtact_yield A->B->A, SWITCHER_FLOAT", "round trip",
	    &res[R_YIELD_FP], 1, &res[R_SCHED], 1,
	    verdict(b1, sizeof(b1), &res[R_YIELD_FP], 1));
	row("dtact_yield A->B->A, SWITCHER_FLOAT", "switch",
	    &res[R_YIELD_FP], 0.5, &res[R_SCHED], 0.5,
	    verdict(b2, sizeof(b2), &res[R_YIELD_FP], 0.5));
	row("dtact_yield A->B->A, SWITCHER_NOFLOAT", "round trip",
	    &res[R_YIELD_NOFP], 1, &res[R_SCHED], 1,
	    verdict(b3, sizeof(b3), &res[R_YIELD_NOFP], 1));
	row("dtact_yield A->B->A, SWITCHER_NOFLOAT", "switch",
	    &res[R_YIELD_NOFP], 0.5, &res[R_SCHED], 0.5,
	    verdict(b4, sizeof(b4), &res[R_YIELD_NOFP], 0.5));
	printf("cross worker, worker 0 <-> worker 1 (native: 2 threads, "
	       "unpinned)\n");
	row("native mutex+cond ping-pong", "round trip", &res[R_COND], 1,
	    &res[R_COND], 1, NULL);
	row("native pipe ping-pong", "round trip", &res[R_PIPE], 1,
	    &res[R_PIPE], 1, NULL);
	if (res[R_XW].ok || res[R_XFD].ok) {
		row("dtact park/unpark (dt_waiter) ping-pong", "round trip",
		    &res[R_XW], 1, &res[R_COND], 1, NULL);
		row("dtact park/unpark (dt_waiter) ping-pong", "wake",
		    &res[R_XW], 0.5, &res[R_COND], 0.5, NULL);
		row("dtact park/unpark, both workers kept busy", "round trip",
		    &res[R_XHOT], 1, &res[R_COND], 1, NULL);
		row("dtact park/unpark, both workers kept busy", "wake",
		    &res[R_XHOT], 0.5, &res[R_COND], 0.5, NULL);
		if (HAVE_SYNC) {
			row("dtact dt_sem ping-pong (core/sync.h)",
			    "round trip", &res[R_XSEM], 1, &res[R_COND], 1,
			    NULL);
			row("dtact dt_mutex+dt_cond ping-pong", "round trip",
			    &res[R_XCOND], 1, &res[R_COND], 1, NULL);
		}
		row("dtact eventfd + dtact_wait_fd ping-pong", "round trip",
		    &res[R_XFD], 1, &res[R_PIPE], 1, NULL);
		row("dtact eventfd + dtact_wait_fd ping-pong", "wake",
		    &res[R_XFD], 0.5, &res[R_PIPE], 0.5, NULL);
	} else {
		printf("  (cross-worker cases need 2 workers)\n");
	}
	printf("nat/this: native ns / dtact ns from the medians of this run "
	       "(> 1: dtact is faster).\n");
	printf("runtime counters per op (all workers, warm-up included):\n");
	printf("  %-44s %10s %12s %12s\n", "case", "switches",
	       "epoll_waits", "evfd wakes");
	ctr_row("dtact_yield, nothing else runnable", R_ALONE);
	ctr_row("dtact_yield A->B->A, SWITCHER_FLOAT", R_YIELD_FP);
	ctr_row("dtact_yield A->B->A, SWITCHER_NOFLOAT", R_YIELD_NOFP);
	ctr_row("dtact park/unpark (dt_waiter) ping-pong", R_XW);
	ctr_row("dtact park/unpark, both workers kept busy", R_XHOT);
	ctr_row("dtact dt_sem ping-pong (core/sync.h)", R_XSEM);
	ctr_row("dtact dt_mutex+dt_cond ping-pong", R_XCOND);
	ctr_row("dtact eventfd + dtact_wait_fd ping-pong", R_XFD);
	{
		int i;

		for (i = 0; i < R_NR; i++)
			if (!res[i].ok && (HAVE_SYNC ||
					   (i != R_XSEM && i != R_XCOND)))
				return 1;
	}
	return 0;
}
