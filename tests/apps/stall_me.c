/* SPDX-License-Identifier: MIT */
/*
 * tests/apps/stall_me.c - a plain pthread program that stalls a worker
 * (tests/shim_observe.sh).  Nothing here knows dtact.
 *
 * main starts two threads, "blocker" then "queued", and joins them.
 * Under the shim both are placed on main's worker and "blocker" runs
 * first: it reads an empty pipe through the raw system call, which dtact
 * does not interpose, so the whole worker thread blocks, with "queued"
 * waiting behind it.  Only "queued" writes the byte that ends the read:
 * the program finishes only if "queued" gets to run while "blocker" is
 * stuck, that is if the stall watchdog hands it to another worker.
 *
 * stdout: "queued thread ran", "blocker: read 1", "done".
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

static int pfd[2];

__attribute__((noinline)) static void *blocker(void *arg)
{
	char c;
	long n;

	(void)arg;
	pthread_setname_np(pthread_self(), "blocker");
	n = syscall(SYS_read, pfd[0], &c, 1);	/* not interposed */
	printf("blocker: read %ld\n", n);
	fflush(stdout);
	return NULL;
}

__attribute__((noinline)) static void *queued(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "queued");
	printf("queued thread ran\n");
	fflush(stdout);
	if (write(pfd[1], "x", 1) != 1)
		perror("write");
	return NULL;
}

int main(void)
{
	pthread_t a, b;

	if (pipe(pfd))
		return 1;
	if (pthread_create(&a, NULL, blocker, NULL) ||
	    pthread_create(&b, NULL, queued, NULL))
		return 1;
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	printf("done\n");
	return 0;
}
