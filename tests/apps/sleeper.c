/* SPDX-License-Identifier: MIT */
/*
 * tests/apps/sleeper.c - a program that mostly sleeps: THREADS threads each
 * looping on usleep(1000) for SECONDS.  Under the shim every usleep parks
 * the fiber with reason "sleep", so dtactlat -R shows sleep switch-outs
 * dominating (tests/shim_dtactlat.sh).  Plain gcc -pthread.
 *
 *   sleeper [THREADS [SECONDS]]     (defaults: 4 threads, 30 s)
 * Prints "sleeping" when the threads are started, then, at the end, the
 * number of sleeps done.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static double seconds = 30;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *sleeper(void *arg)
{
	double end = now() + seconds;
	long n = 0;

	while (now() < end) {
		usleep(1000);
		n++;
	}
	return (void *)n;
}

int main(int argc, char **argv)
{
	int threads = argc > 1 ? atoi(argv[1]) : 4, i;
	pthread_t *t;
	long total = 0;

	if (argc > 2)
		seconds = atof(argv[2]);
	if (threads < 1 || threads > 1024 || seconds <= 0) {
		fprintf(stderr, "usage: %s [THREADS [SECONDS]]\n", argv[0]);
		return 2;
	}
	t = calloc((size_t)threads, sizeof(*t));
	if (!t)
		return 1;
	for (i = 0; i < threads; i++)
		if (pthread_create(&t[i], NULL, sleeper, NULL)) {
			perror("pthread_create");
			return 1;
		}
	printf("sleeping\n");
	fflush(stdout);
	for (i = 0; i < threads; i++) {
		void *r;

		pthread_join(t[i], &r);
		total += (long)r;
	}
	printf("%ld sleeps\n", total);
	free(t);
	return 0;
}
