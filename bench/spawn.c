/* SPDX-License-Identifier: MIT */
/*
 * bench/spawn.c - fiber spawn + join per second, beside native
 * pthread_create + pthread_join, in one run.
 *
 * Cases (each: warm-up, then median of BENCH_REPS reps, see bench.h).  The
 * fiber body is empty, so what is timed is the runtime's life cycle of a
 * fiber: arena slot, stack, first switch in, exit, join, slot release.
 *   native   serial: pthread_create + pthread_join, one thread at a time.
 *   native   batch: create NATIVE_BATCH threads, then join them all.
 *   dtact    batch: the root fiber (worker 0) launches BATCH fibers with
 *            dtact_fiber_launch (placement spreads them over the workers),
 *            then dtact_await()s them all; repeated.
 *   dtact    bounded-live: at most LIVE fibers alive; a ring of handles,
 *            the oldest awaited before its slot is reused.
 *   dtact    serial: dtact_fiber_launch + dtact_await, one at a time.
 *   dtact    batch, pinned to worker 0 (mWorker = 0): the batch case
 *            without placement or cross-worker wakes, to separate the cost
 *            of the mesh from the cost of the life cycle.
 * A spawn here always means spawn + join (or await).
 *
 * Build: make O=... $(O)/bench/spawn.  Run: $(O)/bench/spawn [--quick].
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dtact.h"
#include "core/dt.h"
#include "bench/bench.h"

#define BATCH		10000L		/* fibers per batch */
#define LIVE		1000L		/* bounded-live: most alive at once */
#define N_BATCH		(4 * BATCH)	/* fiber spawns per rep */
#define N_BOUNDED	1000000L
#define N_SERIAL	200000L
#define NATIVE_BATCH	1000L		/* threads per native batch */
#define N_NATIVE_BATCH	(2 * NATIVE_BATCH)
#define N_NATIVE_SERIAL	2000L

#define SPAWN_BUDGET	50.0		/* DESIGN: >= 50x native */

static int die(const char *what)
{
	fprintf(stderr, "bench/spawn: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* ---------------------------------------------------------------- */
/* Native                                                             */

static void *thread_nop(void *arg)
{
	return arg;
}

static int64_t native_serial(void *arg, long n)
{
	int64_t t0 = bench_now_ns();
	long i;

	(void)arg;
	for (i = 0; i < n; i++) {
		pthread_t t;
		int r = pthread_create(&t, NULL, thread_nop, NULL);

		if (r) {
			errno = r;
			die("pthread_create");
		}
		pthread_join(t, NULL);
	}
	return bench_now_ns() - t0;
}

/* n spawns in batches of NATIVE_BATCH. */
static int64_t native_batch(void *arg, long n)
{
	static pthread_t t[NATIVE_BATCH];
	int64_t t0 = bench_now_ns();
	long done, i;

	(void)arg;
	for (done = 0; done < n; done += NATIVE_BATCH) {
		long k = n - done < NATIVE_BATCH ? n - done : NATIVE_BATCH;

		for (i = 0; i < k; i++) {
			int r = pthread_create(&t[i], NULL, thread_nop, NULL);

			if (r) {
				errno = r;
				die("pthread_create");
			}
		}
		for (i = 0; i < k; i++)
			pthread_join(t[i], NULL);
	}
	return bench_now_ns() - t0;
}

/* ---------------------------------------------------------------- */
/* dtact (all run inside the root fiber, on worker 0)                  */

static void fiber_nop(void *arg)
{
	(void)arg;
}

static dtact_handle_t launch(const dtact_spawn_options_t *o)
{
	dtact_handle_t h = dtact_fiber_launch_ext(fiber_nop, NULL, o);

	if (!h)
		die("dtact_fiber_launch_ext");
	return h;
}

static void await_or_die(dtact_handle_t h)
{
	if (dtact_await(h))
		die("dtact_await");
}

static dtact_handle_t ring[BATCH];

/* n spawns in batches of BATCH; arg: options (NULL: defaults). */
static int64_t dtact_batch(void *arg, long n)
{
	const dtact_spawn_options_t *o = arg;
	int64_t t0 = bench_now_ns();
	long done, i;

	for (done = 0; done < n; done += BATCH) {
		long k = n - done < BATCH ? n - done : BATCH;

		for (i = 0; i < k; i++)
			ring[i] = launch(o);
		for (i = 0; i < k; i++)
			await_or_die(ring[i]);
	}
	return bench_now_ns() - t0;
}

static int64_t dtact_bounded(void *arg, long n)
{
	int64_t t0 = bench_now_ns();
	long i;

	(void)arg;
	for (i = 0; i < n; i++) {
		if (i >= LIVE)
			await_or_die(ring[i % LIVE]);
		ring[i % LIVE] = launch(NULL);
	}
	for (i = n > LIVE ? n - LIVE : 0; i < n; i++)
		await_or_die(ring[i % LIVE]);
	return bench_now_ns() - t0;
}

static int64_t dtact_serial(void *arg, long n)
{
	int64_t t0 = bench_now_ns();
	long i;

	(void)arg;
	for (i = 0; i < n; i++)
		await_or_die(launch(NULL));
	return bench_now_ns() - t0;
}

/* ---------------------------------------------------------------- */
/* Driver and table                                                   */

enum {
	R_NSERIAL, R_NBATCH,
	R_BATCH, R_BOUNDED, R_SERIAL, R_BATCH_PIN, R_NR
};
static struct bench_res res[R_NR];

/* Fibers per op that ran on a worker other than the root's (placement),
 * and eventfd wake-ups per op, from the runtime's own counters. */
struct ctr {
	double remote, wakeups;
	int ok;
};
static struct ctr ctrs[R_NR];

static void ctr_now(double *remote, double *wakeups)
{
	int i;

	*remote = *wakeups = 0;
	/* Plain fields written by their owner; read between cases. */
	for (i = 0; i < dt_rt.nworkers; i++) {
		*wakeups += (double)dt_rt.workers[i].st.wakeups_sent;
		if (i)
			*remote += (double)dt_rt.workers[i].st.parks[
						DT_REASON_EXIT];
	}
}

static void run_dtact(int r, bench_fn fn, void *arg, long n, long warm)
{
	double r0, w0, r1, w1, ops;

	ctr_now(&r0, &w0);
	bench_run(&res[r], fn, arg, n, warm);
	ctr_now(&r1, &w1);
	ops = (double)(warm + BENCH_REPS * res[r].n);
	ctrs[r].remote = (r1 - r0) / ops;
	ctrs[r].wakeups = (w1 - w0) / ops;
	ctrs[r].ok = res[r].ok;
}

static void root(void *arg)
{
	static dtact_spawn_options_t pin0;
	long n;

	(void)arg;
	pin0 = dtact_default_spawn_options();
	pin0.mWorker = 0;
	n = bench_iters(N_BATCH);
	run_dtact(R_BATCH, dtact_batch, NULL, n, BATCH);
	n = bench_iters(N_BOUNDED);
	run_dtact(R_BOUNDED, dtact_bounded, NULL, n, n / 10);
	n = bench_iters(N_SERIAL);
	run_dtact(R_SERIAL, dtact_serial, NULL, n, n / 10);
	n = bench_iters(N_BATCH);
	run_dtact(R_BATCH_PIN, dtact_batch, &pin0, n, BATCH);
	dtact_shutdown();
}

static void row(const char *name, int r, int native)
{
	char m[32], lo[32], hi[32], ns[32], ratio[32], budget[64] = "";
	const struct bench_res *x = &res[r], *nat = &res[native];

	if (!x->ok) {
		printf("  %-40s %10s\n", name, "failed");
		return;
	}
	/* Rates from ns per spawn: the fastest rep gives the highest rate. */
	bench_fmt_rate(m, sizeof(m), 1e9 / x->med);
	bench_fmt_rate(lo, sizeof(lo), 1e9 / x->max);
	bench_fmt_rate(hi, sizeof(hi), 1e9 / x->min);
	bench_fmt_ns(ns, sizeof(ns), x->med);
	if (nat->ok && r != native) {
		double k = nat->med / x->med;

		snprintf(ratio, sizeof(ratio), "%.1fx", k);
		snprintf(budget, sizeof(budget), ">= %.0fx (DESIGN): %s",
			 SPAWN_BUDGET, k >= SPAWN_BUDGET ? "met" : "MISSED");
	} else {
		snprintf(ratio, sizeof(ratio), r == native ? "1.0x" : "-");
	}
	printf("  %-40s %9s/s  %7s-%-7s %8s %9s  %s\n", name, m, lo, hi, ns,
	       ratio, budget);
}

static void ctr_row(const char *name, int r)
{
	if (ctrs[r].ok)
		printf("  %-40s %14.3f %14.3f\n", name, ctrs[r].remote,
		       ctrs[r].wakeups);
}

int main(int argc, char **argv)
{
	dtact_config_t cfg = dtact_default_config();
	dtact_spawn_options_t o;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	void *rt;
	long n;
	int i;

	bench_args(argc, argv,
		   "  fiber spawn+join rate vs pthread_create+join\n");
	setvbuf(stdout, NULL, _IOLBF, 0);

	/* Native baselines first, with no runtime threads around. */
	n = bench_iters(N_NATIVE_SERIAL);
	bench_run(&res[R_NSERIAL], native_serial, NULL, n, n / 10);
	n = bench_iters(N_NATIVE_BATCH);
	bench_run(&res[R_NBATCH], native_batch, NULL, n, NATIVE_BATCH);

	cfg.mWorkers = ncpu < 2 ? 2 : (uint32_t)ncpu;
	rt = dtact_init(&cfg);
	if (!rt)
		die("dtact_init");
	o = dtact_default_spawn_options();
	o.mWorker = 0;
	if (!dtact_fiber_launch_ext(root, NULL, &o))
		die("dtact_fiber_launch_ext");
	if (dtact_run(rt))
		die("dtact_run");

	printf("bench/spawn: %ld CPUs, %u workers, median of %d reps after "
	       "a warm-up%s; a spawn = create + join\n", ncpu, cfg.mWorkers,
	       BENCH_REPS, bench_scale < 1 ? " (--quick)" : "");
	printf("  %-40s %11s  %-15s %8s %9s  %s\n", "case", "spawns",
	       "min-max", "ns/spawn", "x native", "budget");
	printf("serial: one alive at a time\n");
	row("native pthread_create+join", R_NSERIAL, R_NSERIAL);
	row("dtact launch+await", R_SERIAL, R_NSERIAL);
	printf("many alive (native: batches of %ld threads)\n", NATIVE_BATCH);
	row("native pthread_create x1000, join all", R_NBATCH, R_NBATCH);
	row("dtact batch: launch x10000, await all", R_BATCH, R_NBATCH);
	row("dtact bounded-live: <= 1000 alive", R_BOUNDED, R_NBATCH);
	row("dtact batch, all on worker 0", R_BATCH_PIN, R_NBATCH);
	printf("x native: native ns/spawn / dtact ns/spawn, medians of this "
	       "run (> 1: dtact is faster).\n");
	printf("runtime counters per spawn (warm-up included):\n");
	printf("  %-40s %14s %14s\n", "case", "ran elsewhere", "evfd wakes");
	ctr_row("dtact launch+await", R_SERIAL);
	ctr_row("dtact batch: launch x10000, await all", R_BATCH);
	ctr_row("dtact bounded-live: <= 1000 alive", R_BOUNDED);
	ctr_row("dtact batch, all on worker 0", R_BATCH_PIN);
	for (i = 0; i < R_NR; i++)
		if (!res[i].ok)
			return 1;
	return 0;
}
