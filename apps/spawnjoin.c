/* SPDX-License-Identifier: MIT */
/*
 * apps/spawnjoin.c - pthread_create + pthread_join per second.  Plain gcc
 * -pthread; run natively and under the shim, where every pthread is a
 * fiber (bench/echo.sh compares it with goroutines, bench/go/spawn.go).
 * The thread body is empty: what is timed is the life cycle of a thread.
 *
 *   spawnjoin [serial|batch] [N]      (default serial, 20000)
 *
 * serial: create, join, one at a time.
 * batch:  create 1,000, then join them all.
 * One untimed warm-up of N/10, then N timed; prints one line:
 *   spawn,<mode>,<n>,<ns per create+join>,<per second>
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BATCH	1000

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void *nop(void *arg)
{
	return arg;
}

static void create(pthread_t *t)
{
	int r = pthread_create(t, NULL, nop, NULL);

	if (r) {
		fprintf(stderr, "spawnjoin: pthread_create: %s\n",
			strerror(r));
		exit(1);
	}
}

static int64_t serial(long n)
{
	int64_t t0 = now_ns();
	long i;

	for (i = 0; i < n; i++) {
		pthread_t t;

		create(&t);
		pthread_join(t, NULL);
	}
	return now_ns() - t0;
}

static int64_t batch(long n)
{
	static pthread_t t[BATCH];
	int64_t t0 = now_ns();
	long done, i, k;

	for (done = 0; done < n; done += k) {
		k = n - done < BATCH ? n - done : BATCH;
		for (i = 0; i < k; i++)
			create(&t[i]);
		for (i = 0; i < k; i++)
			pthread_join(t[i], NULL);
	}
	return now_ns() - t0;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "serial";
	long n = argc > 2 ? atol(argv[2]) : 20000;
	int64_t (*f)(long);
	double ns;

	if (!strcmp(mode, "serial")) {
		f = serial;
	} else if (!strcmp(mode, "batch")) {
		f = batch;
	} else {
		fprintf(stderr, "usage: %s [serial|batch] [N]\n", argv[0]);
		return 2;
	}
	if (argc > 3 || n < 10) {
		fprintf(stderr, "usage: %s [serial|batch] [N >= 10]\n",
			argv[0]);
		return 2;
	}
	f(n / 10);
	ns = (double)f(n) / (double)n;
	printf("spawn,%s,%ld,%.1f,%.0f\n", mode, n, ns, 1e9 / ns);
	return 0;
}
