/* SPDX-License-Identifier: MIT */
/*
 * tests/apps/dump_me.c - a plain pthread program for the fiber dump
 * (tests/core_probes.c, tests/shim_observe.sh).  Nothing here knows dtact.
 *
 * Four threads with known names block in known calls:
 *   "reader"      read(2) on an empty pipe
 *   "sleeper"     nanosleep(2), ten minutes
 *   "condwaiter"  pthread_cond_wait, never signalled
 *   "joiner"      pthread_join of "reader"
 * Once all four are about to block (plus a moment to get there), main
 * prints "ready <read fd>" on stdout and spins in spin_main() until
 * killed, so a dump signal finds main running on the thread that takes it.
 *
 * DUMP_ME_OWN_HANDLER=SIG (a number): a constructor installs a handler for
 * that signal before the runtime starts, as a program that handles it
 * itself would; the handler prints "own handler ran" on stdout.
 * DUMP_ME_EXIT=1: main ends after "ready" instead of spinning.
 * DUMP_ME_CHURN=1: main sleeps 1 ms at a time after "ready" instead of
 * spinning (a steady stream of switches for a tracer).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int pfd[2];
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static pthread_t reader_th;
static atomic_int blocking;
static volatile long sink;
static volatile int stop;

static void own_handler(int sig)
{
	static const char m[] = "own handler ran\n";

	(void)sig;
	if (write(1, m, sizeof(m) - 1) < 0)
		_exit(3);
}

__attribute__((constructor)) static void maybe_own_handler(void)
{
	const char *s = getenv("DUMP_ME_OWN_HANDLER");
	struct sigaction a;

	if (!s || !*s)
		return;
	memset(&a, 0, sizeof(a));
	a.sa_handler = own_handler;
	sigaction(atoi(s), &a, NULL);
}

__attribute__((noinline)) static void *reader_thread(void *arg)
{
	char c;
	ssize_t n;

	(void)arg;
	pthread_setname_np(pthread_self(), "reader");
	atomic_fetch_add(&blocking, 1);
	n = read(pfd[0], &c, 1);
	sink += n;
	return NULL;
}

__attribute__((noinline)) static void *sleeper_thread(void *arg)
{
	struct timespec ts = { 600, 0 };
	int r;

	(void)arg;
	pthread_setname_np(pthread_self(), "sleeper");
	atomic_fetch_add(&blocking, 1);
	r = nanosleep(&ts, NULL);
	sink += r;
	return NULL;
}

__attribute__((noinline)) static void *cond_thread(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "condwaiter");
	pthread_mutex_lock(&mu);
	atomic_fetch_add(&blocking, 1);
	while (!stop)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
	sink++;
	return NULL;
}

__attribute__((noinline)) static void *joiner_thread(void *arg)
{
	int r;

	(void)arg;
	pthread_setname_np(pthread_self(), "joiner");
	atomic_fetch_add(&blocking, 1);
	r = pthread_join(reader_th, NULL);
	sink += r;
	return NULL;
}

__attribute__((noinline)) static void spin_main(void)
{
	while (!stop)
		sink++;
}

int main(void)
{
	struct timespec tick = { 0, 10 * 1000 * 1000 };
	pthread_t t;
	int i;

	if (pipe(pfd))
		return 1;
	if (pthread_create(&reader_th, NULL, reader_thread, NULL) ||
	    pthread_create(&t, NULL, sleeper_thread, NULL) ||
	    pthread_create(&t, NULL, cond_thread, NULL) ||
	    pthread_create(&t, NULL, joiner_thread, NULL))
		return 1;
	for (i = 0; i < 1000 && atomic_load(&blocking) < 4; i++)
		nanosleep(&tick, NULL);
	/* From "about to block" to blocked. */
	for (i = 0; i < 20; i++)
		nanosleep(&tick, NULL);
	printf("ready %d\n", pfd[0]);
	fflush(stdout);
	if (getenv("DUMP_ME_EXIT"))
		return 0;
	if (getenv("DUMP_ME_CHURN")) {
		struct timespec ms = { 0, 1000 * 1000 };

		for (;;)
			nanosleep(&ms, NULL);
	}
	spin_main();
	return 0;
}
