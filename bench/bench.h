/* SPDX-License-Identifier: MIT */
/*
 * bench/bench.h - what every bench/ program shares (header only: each
 * bench/<name>.c is linked alone into $(O)/bench/<name>).
 *
 * Method.  A case is a function that performs n operations and returns the
 * nanoseconds they took on CLOCK_MONOTONIC (it times itself, so that set-up
 * such as spawning the fibers stays outside the window), or -1 if it could
 * not run.  bench_run() calls it once untimed (warm-up: arena slots
 * committed, stacks faulted in, caches and branch predictors trained), then
 * BENCH_REPS times, and keeps the median, minimum and maximum ns per
 * operation.  Ratios are computed from the medians of the same run.  A run
 * that the warm-up shows would last over BENCH_REP_NS is shortened.
 *
 * Command line (bench_args): --quick halves every iteration count.
 *
 * Benchmarks print; they never fail on a budget.  Exit status 0 unless a
 * case could not run at all (then 1).
 */
#ifndef DT_BENCH_BENCH_H
#define DT_BENCH_BENCH_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BENCH_REPS	5
#define BENCH_REP_NS	400000000LL	/* longest timed run: 0.4 s */

struct bench_res {
	double med;		/* ns per operation, median of the reps */
	double min;		/* fastest rep */
	double max;		/* slowest rep */
	long n;			/* operations per timed run */
	int ok;			/* 0: the case failed to run */
};

typedef int64_t (*bench_fn)(void *arg, long n);

static double bench_scale = 1.0;	/* 0.5 with --quick */

static inline int64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* An iteration count after --quick, never below 1. */
static inline long bench_iters(long n)
{
	long v = (long)((double)n * bench_scale);

	return v < 1 ? 1 : v;
}

static inline void bench_args(int argc, char **argv, const char *usage)
{
	int i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--quick")) {
			bench_scale = 0.5;
		} else {
			fprintf(stderr, "usage: %s [--quick]\n%s", argv[0],
				usage);
			exit(strcmp(argv[i], "--help") ? 2 : 0);
		}
	}
}

static int bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/*
 * Warm-up with warm operations, then BENCH_REPS timed runs of n.  When the
 * warm-up says a run of n would take longer than BENCH_REP_NS (a slow
 * machine, or one busy with other work), n is lowered to fit, so that a
 * whole program stays within its time budget; r->n says what was used.
 */
static inline void bench_run(struct bench_res *r, bench_fn fn, void *arg,
			     long n, long warm)
{
	double v[BENCH_REPS];
	int i;

	memset(r, 0, sizeof(*r));
	if (warm > 0) {
		int64_t ns = fn(arg, warm);
		double cap;

		if (ns < 0)
			return;
		cap = (double)BENCH_REP_NS * (double)warm / (double)(ns + 1);
		if ((double)n > cap)
			n = cap < (double)warm ? warm : (long)cap;
	}
	r->n = n;
	for (i = 0; i < BENCH_REPS; i++) {
		int64_t ns = fn(arg, n);

		if (ns < 0)
			return;
		v[i] = (double)ns / (double)n;
	}
	qsort(v, BENCH_REPS, sizeof(v[0]), bench_cmp_double);
	r->med = v[BENCH_REPS / 2];
	r->min = v[0];
	r->max = v[BENCH_REPS - 1];
	r->ok = 1;
}

/* The same result scaled (e.g. a round trip halved into one switch). */
static inline struct bench_res bench_scaled(const struct bench_res *r,
					    double k)
{
	struct bench_res s = *r;

	s.med *= k;
	s.min *= k;
	s.max *= k;
	return s;
}

/* "12.3" / "1234" / "-": ns with a sensible number of digits. */
static inline const char *bench_fmt_ns(char *buf, size_t sz, double ns)
{
	if (ns < 0)
		snprintf(buf, sz, "-");
	else if (ns < 100)
		snprintf(buf, sz, "%.1f", ns);
	else
		snprintf(buf, sz, "%.0f", ns);
	return buf;
}

/* "1.23M" for rates. */
static inline const char *bench_fmt_rate(char *buf, size_t sz, double per_s)
{
	if (per_s >= 1e6)
		snprintf(buf, sz, "%.2fM", per_s / 1e6);
	else if (per_s >= 1e3)
		snprintf(buf, sz, "%.1fk", per_s / 1e3);
	else
		snprintf(buf, sz, "%.0f", per_s);
	return buf;
}

#endif
