/* SPDX-License-Identifier: MIT */
/*
 * apps/pingpong.c - two threads hand a turn back and forth through one
 * mutex and two condition variables; prints the nanoseconds per round
 * trip.  Plain gcc -pthread; run natively and under the shim (bench/
 * echo.sh compares it with two goroutines on a channel, bench/go/
 * pingpong.go).
 *
 *   pingpong [N]        (default 200000 round trips)
 *
 * One untimed warm-up of N/10 round trips, then N timed, from the first
 * hand-over to the last (thread creation outside the window).  Prints one
 * line:  pingpong,condvar,<n>,<ns per round trip>
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* lock protects turn and left; ping waits for turn == 0, pong for 1. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv[2] = {
	PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER
};
static int turn;
static long left;	/* round trips still to do */

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The pong side: answer every ping until the last round trip. */
static void *pong(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&lock);
	for (;;) {
		while (turn != 1 && left > 0)
			pthread_cond_wait(&cv[1], &lock);
		if (left <= 0)
			break;
		turn = 0;
		pthread_cond_signal(&cv[0]);
	}
	pthread_mutex_unlock(&lock);
	return NULL;
}

static int64_t run(long n)
{
	pthread_t t;
	int64_t t0, t1;
	int r;

	turn = 0;
	left = n;
	r = pthread_create(&t, NULL, pong, NULL);
	if (r) {
		fprintf(stderr, "pingpong: pthread_create: error %d\n", r);
		exit(1);
	}
	t0 = now_ns();
	pthread_mutex_lock(&lock);
	while (left > 0) {
		turn = 1;
		pthread_cond_signal(&cv[1]);
		while (turn != 0)
			pthread_cond_wait(&cv[0], &lock);
		left--;
	}
	pthread_cond_signal(&cv[1]);	/* left == 0: pong leaves */
	pthread_mutex_unlock(&lock);
	t1 = now_ns();
	pthread_join(t, NULL);
	return t1 - t0;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 200000;
	int64_t ns;

	if (argc > 2 || n < 10) {
		fprintf(stderr, "usage: %s [N >= 10]\n", argv[0]);
		return 2;
	}
	run(n / 10);
	ns = run(n);
	printf("pingpong,condvar,%ld,%.1f\n", n, (double)ns / (double)n);
	return 0;
}
