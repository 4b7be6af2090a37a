/* SPDX-License-Identifier: MIT */
/*
 * tests/apps/fork_child.c - an ordinary pthread program (no dtact header)
 * that forks while it has other threads, and checks that the child gets
 * what POSIX and glibc give it: only the thread that forked, a threads
 * library that works (hundreds of threads, blocking I/O between them,
 * mutexes, barriers, concurrent sleeps, fork + exec), a mutex and a
 * condition variable that vanished threads were waiting on and that
 * still work, the descriptor of a thread that had finished but was not
 * yet joined, process signals, and exit(0) with atexit handlers run when
 * its last thread returns (tests/shim_fork.sh).
 *
 * Usage: fork_child main|thread|mutex|zombie|busy
 *
 *   main    main forks while 4 threads block in read(); the child runs
 *           the workload (200 threads ping-ponging over socketpairs, 50
 *           concurrent sleeps) and fork + exec; the 4 threads of the
 *           parent still get their bytes.
 *   thread  a thread that is not main forks; its child runs the
 *           workload, sees a signal cut a read() short (EINTR) and ends
 *           by returning from the thread's start routine.
 *   mutex   main forks while one thread waits for a mutex main holds and
 *           another waits on a condition variable; the child unlocks and
 *           relocks the mutex, signals the condition variable and times
 *           out waiting on it.
 *   zombie  main forks after a thread returned 42 and before it is
 *           joined; parent and child both join it.
 *   busy    two threads fork 100 children each while six others lock,
 *           signal and ping-pong (so forks land while other workers are
 *           inside the runtime); every child runs 20 threads of its own
 *           and exits 0.
 *
 * Output, on stdout, from the parent and the child alike: one line per
 * check, "ok WHAT" or "FAIL WHAT: details"; informational lines
 * "threads-at-start N" and "threads-busy N" (the child's "Threads:" from
 * /proc/self/status, when it starts and while its 200 threads live); the
 * parent's last line is "done SCENARIO".  stdout is line buffered and
 * flushed before every fork, so that no line is printed twice.
 *
 * Exit status: 0 only if every check of the parent passed and the child
 * exited 0 (which it does only if all its own checks passed).
 *
 * Nothing hangs for ever: the parent arms a watchdog of PARENT_DEADLINE_S
 * seconds, the child one of CHILD_DEADLINE_S; when it fires it prints
 * "FAIL watchdog: ...", kills the child the parent is waiting for, if
 * any, and exits 2.  A child that cannot take signals is killed by its
 * parent's watchdog.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PARENT_DEADLINE_S	20
#define CHILD_DEADLINE_S	10
#define MUTEX_DEADLINE_S	5	/* the child's relock must be prompt */

#define N_PAIRS		100	/* ping-pong pairs: 2 * N_PAIRS threads */
#define N_MSGS		100	/* one-byte round trips per pair */
#define N_SLEEPERS	50
#define SLEEP_NS	100000000L	/* each sleeper's 100 ms */
#define SLEEP_BOUND_NS	2000000000L	/* all of them, concurrently */
#define THREAD_STACK	(256 * 1024)	/* 250 threads at 8 MiB is a lot */
#define N_READERS	4

static int fails;		/* checks this process failed */
static int in_child;		/* this process is the forked child */
static volatile pid_t watched;	/* child the watchdog kills, 0 if none */

/* ---------------------------------------------------------------- */
/* Checks, watchdog, fork and wait                                    */

static void check(int ok, const char *what, const char *fmt, ...)
{
	va_list ap;

	if (ok) {
		printf("ok %s\n", what);
		return;
	}
	fails++;
	printf("FAIL %s: ", what);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

/* A step that cannot fail unless the system is broken. */
static void die(const char *what)
{
	printf("FAIL setup: %s: %s\n", what, strerror(errno));
	exit(1);
}

static const char *status_str(int st)
{
	static char buf[64];

	if (WIFEXITED(st))
		snprintf(buf, sizeof(buf), "exited %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		snprintf(buf, sizeof(buf), "killed by signal %d",
			 WTERMSIG(st));
	else
		snprintf(buf, sizeof(buf), "status %#x", st);
	return buf;
}

/* Async-signal-safe: kill, write and _exit only. */
static void on_watchdog(int sig)
{
	static const char parent_msg[] =
		"FAIL watchdog: parent still running at its deadline\n";
	static const char child_msg[] =
		"FAIL watchdog: child still running at its deadline\n";
	ssize_t r;

	(void)sig;
	if (watched > 0)
		kill(watched, SIGKILL);
	if (in_child)
		r = write(1, child_msg, sizeof(child_msg) - 1);
	else
		r = write(1, parent_msg, sizeof(parent_msg) - 1);
	(void)r;
	_exit(2);
}

/* (Re)arm the watchdog: SIGALRM in @seconds runs on_watchdog. */
static void watchdog(unsigned int seconds)
{
	struct sigaction sa = { .sa_handler = on_watchdog };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	alarm(seconds);
}

/*
 * fork() with stdout flushed first.  In the child: a fresh count of
 * failed checks and its own watchdog (alarms are not inherited).  In the
 * parent: the child is the one the watchdog kills.
 */
static pid_t fork_checked(void)
{
	pid_t p;

	fflush(stdout);
	p = fork();
	if (p < 0)
		die("fork");
	if (!p) {
		in_child = 1;
		fails = 0;
		watched = 0;
		watchdog(CHILD_DEADLINE_S);
	} else {
		watched = p;
	}
	return p;
}

/* Wait for the child of fork_checked; it must have exited 0. */
static void reap(pid_t pid)
{
	pid_t r;
	int st = 0;

	do
		r = waitpid(pid, &st, 0);
	while (r < 0 && errno == EINTR);
	watched = 0;
	if (r != pid) {
		check(0, "child-exit", "waitpid %d: %s", (int)r,
		      strerror(errno));
		return;
	}
	check(WIFEXITED(st) && !WEXITSTATUS(st), "child-exit", "%s",
	      status_str(st));
}

/* The child's exit: its status says whether all its checks passed. */
static void child_exit(void)
{
	exit(fails ? 1 : 0);
}

/* "Threads:" of /proc/self/status, -1 if unreadable. */
static int threads_now(void)
{
	char line[256];
	FILE *f;
	int n = -1;

	f = fopen("/proc/self/status", "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Threads: %d", &n) == 1)
			break;
	fclose(f);
	return n;
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static void small_stack_attr(pthread_attr_t *attr)
{
	pthread_attr_init(attr);
	pthread_attr_setstacksize(attr, THREAD_STACK);
}

/* ---------------------------------------------------------------- */
/* The child's workload                                               */

/*
 * Ping-pong: side 0 of a pair writes byte i and expects ~i back, side 1
 * reads i and answers ~i, N_MSGS times, blocking read and write on a
 * socketpair.  Every byte received counts in pp_count under pp_lock.
 * All threads wait at pp_start before the first message and at pp_end
 * after the last, so that all 2 * N_PAIRS exist while main, between the
 * two barriers, reads "Threads:".
 */
struct pp_thread {
	pthread_t tid;
	int fd;			/* this side's end of the socketpair */
	int side;		/* 0 speaks first, 1 answers */
	int bad;		/* wrong bytes, failed reads and writes */
};

static pthread_barrier_t pp_start, pp_end;
static pthread_mutex_t pp_lock = PTHREAD_MUTEX_INITIALIZER;
static long pp_count;		/* bytes received; protected by pp_lock */

static int send_byte(int fd, unsigned char b)
{
	ssize_t n;

	do
		n = write(fd, &b, 1);
	while (n < 0 && errno == EINTR);
	return n == 1 ? 0 : -1;
}

static int recv_byte(int fd, unsigned char want)
{
	unsigned char b;
	ssize_t n;

	do
		n = read(fd, &b, 1);
	while (n < 0 && errno == EINTR);
	if (n != 1)
		return -1;
	pthread_mutex_lock(&pp_lock);
	pp_count++;
	pthread_mutex_unlock(&pp_lock);
	return b == want ? 0 : -1;
}

static void *pp_fn(void *arg)
{
	struct pp_thread *t = arg;
	unsigned char b;
	int i, r;

	pthread_barrier_wait(&pp_start);
	for (i = 0; i < N_MSGS; i++) {
		b = (unsigned char)i;
		if (t->side == 0)
			r = send_byte(t->fd, b) ?: recv_byte(t->fd, ~b);
		else
			r = recv_byte(t->fd, b) ?: send_byte(t->fd, ~b);
		if (r) {
			t->bad++;
			/* The partner must not block for ever on us. */
			shutdown(t->fd, SHUT_RDWR);
			break;
		}
	}
	pthread_barrier_wait(&pp_end);
	return NULL;
}

static void child_pingpong(void)
{
	static struct pp_thread t[2 * N_PAIRS];
	pthread_attr_t attr;
	int i, sv[2], bad = 0, busy;

	pthread_barrier_init(&pp_start, NULL, 2 * N_PAIRS + 1);
	pthread_barrier_init(&pp_end, NULL, 2 * N_PAIRS + 1);
	small_stack_attr(&attr);
	for (i = 0; i < N_PAIRS; i++) {
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
			die("socketpair");
		t[2 * i] = (struct pp_thread){ .fd = sv[0], .side = 0 };
		t[2 * i + 1] = (struct pp_thread){ .fd = sv[1], .side = 1 };
	}
	for (i = 0; i < 2 * N_PAIRS; i++) {
		errno = pthread_create(&t[i].tid, &attr, pp_fn, &t[i]);
		if (errno)
			die("pthread_create (ping-pong)");
	}
	pthread_attr_destroy(&attr);
	pthread_barrier_wait(&pp_start);
	busy = threads_now();
	printf("threads-busy %d\n", busy);
	pthread_barrier_wait(&pp_end);
	for (i = 0; i < 2 * N_PAIRS; i++) {
		pthread_join(t[i].tid, NULL);
		bad += t[i].bad;
		close(t[i].fd);
	}
	pthread_barrier_destroy(&pp_start);
	pthread_barrier_destroy(&pp_end);
	check(!bad && pp_count == 2L * N_PAIRS * N_MSGS, "child-pingpong",
	      "%d threads saw a wrong byte or I/O error; %ld of %ld bytes "
	      "received", bad, pp_count, 2L * N_PAIRS * N_MSGS);
}

static void *sleep_fn(void *arg)
{
	struct timespec ts = { 0, SLEEP_NS };

	(void)arg;
	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
	return NULL;
}

/* N_SLEEPERS sleeps of 100 ms must overlap: 2 s bounds the lot. */
static void child_sleep(void)
{
	pthread_t t[N_SLEEPERS];
	pthread_attr_t attr;
	int64_t start, took;
	int i;

	small_stack_attr(&attr);
	start = now_ns();
	for (i = 0; i < N_SLEEPERS; i++) {
		errno = pthread_create(&t[i], &attr, sleep_fn, NULL);
		if (errno)
			die("pthread_create (sleeper)");
	}
	for (i = 0; i < N_SLEEPERS; i++)
		pthread_join(t[i], NULL);
	took = now_ns() - start;
	pthread_attr_destroy(&attr);
	check(took < SLEEP_BOUND_NS, "child-sleep",
	      "%d concurrent sleeps of %ld ms took %lld ms", N_SLEEPERS,
	      SLEEP_NS / 1000000, (long long)(took / 1000000));
}

static void child_workload(void)
{
	child_pingpong();
	child_sleep();
}

static void child_fork_exec(void)
{
	pid_t p, r;
	int st = 0;

	fflush(stdout);
	p = fork();
	if (p < 0) {
		check(0, "child-fork-exec", "fork: %s", strerror(errno));
		return;
	}
	if (!p) {
		execl("/bin/true", "true", (char *)NULL);
		_exit(127);
	}
	do
		r = waitpid(p, &st, 0);
	while (r < 0 && errno == EINTR);
	check(r == p && WIFEXITED(st) && !WEXITSTATUS(st), "child-fork-exec",
	      "waitpid %d, %s", (int)r, status_str(st));
}

/* ---------------------------------------------------------------- */
/* main: fork while 4 threads block in read()                        */

static int rd_pipe[N_READERS][2];
static int rd_got[N_READERS];		/* reader i read its byte */
static atomic_int rd_ready;		/* readers about to read */

static void *reader_fn(void *arg)
{
	int i = (int)(intptr_t)arg;
	ssize_t n;
	char c;

	atomic_fetch_add(&rd_ready, 1);
	do
		n = read(rd_pipe[i][0], &c, 1);
	while (n < 0 && errno == EINTR);
	rd_got[i] = n == 1 && c == 'a' + i;
	return NULL;
}

static void scenario_main(void)
{
	pthread_t t[N_READERS];
	int i, ok = 1;
	pid_t p;
	char c;

	for (i = 0; i < N_READERS; i++) {
		if (pipe(rd_pipe[i]))
			die("pipe");
		errno = pthread_create(&t[i], NULL, reader_fn,
				       (void *)(intptr_t)i);
		if (errno)
			die("pthread_create (reader)");
	}
	while (atomic_load(&rd_ready) < N_READERS)
		sleep_ms(1);
	sleep_ms(50);		/* from "about to read" to blocked in it */

	p = fork_checked();
	if (!p) {
		printf("threads-at-start %d\n", threads_now());
		child_workload();
		child_fork_exec();
		child_exit();
	}
	for (i = 0; i < N_READERS; i++) {
		c = 'a' + i;
		if (write(rd_pipe[i][1], &c, 1) != 1)
			die("write");
	}
	for (i = 0; i < N_READERS; i++) {
		pthread_join(t[i], NULL);
		ok &= rd_got[i];
	}
	check(ok, "parent-threads", "a reader did not get its byte");
	reap(p);
}

/* ---------------------------------------------------------------- */
/* thread: a thread that is not main forks                            */

static int atexit_fd = -1;	/* child: tells the parent atexit ran */
static volatile sig_atomic_t eintr_alarms;

static void atexit_report(void)
{
	ssize_t r;

	printf("ok child-atexit\n");
	fflush(stdout);
	r = write(atexit_fd, "A", 1);
	(void)r;
}

static void on_eintr_alarm(int sig)
{
	(void)sig;
	eintr_alarms++;
}

/*
 * The child's only thread: workload, atexit handler, a read() that a
 * SIGALRM handler without SA_RESTART must cut short, then return from
 * the start routine, which as the last thread is exit(0).
 */
static void forker_child(void)
{
	struct sigaction sa = { .sa_handler = on_eintr_alarm };
	int empty[2], e;
	ssize_t n;
	char c;

	child_workload();
	if (atexit(atexit_report))
		die("atexit");
	if (pipe(empty))
		die("pipe");
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0;
	sigaction(SIGALRM, &sa, NULL);
	alarm(1);
	n = read(empty[0], &c, 1);
	e = errno;
	check(n < 0 && e == EINTR && eintr_alarms == 1, "child-eintr",
	      "read returned %zd (%s), handler ran %d times", n,
	      n < 0 ? strerror(e) : "-", (int)eintr_alarms);
	close(empty[0]);
	close(empty[1]);
	watchdog(CHILD_DEADLINE_S);
	if (fails)
		child_exit();
}

static void *forker_fn(void *arg)
{
	int rep[2];
	ssize_t n;
	pid_t p;
	char c;

	(void)arg;
	if (pipe(rep))
		die("pipe");
	p = fork_checked();
	if (!p) {
		close(rep[0]);
		atexit_fd = rep[1];
		forker_child();
		return NULL;	/* the child's last thread: exit(0) */
	}
	close(rep[1]);
	reap(p);
	/* The child is gone: its end is closed, the read cannot block. */
	n = read(rep[0], &c, 1);
	check(n == 1 && c == 'A', "parent-saw-child-atexit",
	      "the child's atexit handler did not report (read %zd)", n);
	close(rep[0]);
	return NULL;
}

#define N_BALLAST 6

static int ballast_pipe[2];
static atomic_int ballast_ready;

static void *ballast_fn(void *arg)
{
	char c;

	(void)arg;
	atomic_fetch_add(&ballast_ready, 1);
	return (void *)(intptr_t)(read(ballast_pipe[0], &c, 1) == 1);
}

/*
 * Threads blocked in read() before the forker starts: under dtact with
 * two workers, spawn placement spreads them over both, so that the forker
 * itself starts on worker 1, whose thread blocks the program's signals
 * (the child's SIGALRM must still arrive).
 */
static void scenario_thread(void)
{
	pthread_t t, b[N_BALLAST];
	int i, got = 0;

	if (pipe(ballast_pipe))
		die("pipe");
	for (i = 0; i < N_BALLAST; i++) {
		errno = pthread_create(&b[i], NULL, ballast_fn, NULL);
		if (errno)
			die("pthread_create (ballast)");
	}
	while (atomic_load(&ballast_ready) < N_BALLAST)
		sleep_ms(1);
	sleep_ms(50);		/* inside read() */
	errno = pthread_create(&t, NULL, forker_fn, NULL);
	if (errno)
		die("pthread_create (forker)");
	pthread_join(t, NULL);
	for (i = 0; i < N_BALLAST; i++)
		if (write(ballast_pipe[1], "b", 1) != 1)
			die("write");
	for (i = 0; i < N_BALLAST; i++) {
		void *r;

		pthread_join(b[i], &r);
		got += r != NULL;
	}
	check(got == N_BALLAST, "parent-threads", "%d of %d blocked threads "
	      "got their byte after the fork", got, N_BALLAST);
}

/* ---------------------------------------------------------------- */
/* mutex: fork while threads wait for a mutex and a condition          */

static pthread_mutex_t mx_m = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t mx_n = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t mx_cv = PTHREAD_COND_INITIALIZER;
static atomic_int w_trying;	/* W is about to lock mx_m */
static int w_got;		/* W got mx_m */
static int c_waiting, c_go;	/* protected by mx_n */
static int c_woke;		/* C woke with c_go set */

static void *w_fn(void *arg)
{
	(void)arg;
	atomic_store(&w_trying, 1);
	pthread_mutex_lock(&mx_m);
	w_got = 1;
	pthread_mutex_unlock(&mx_m);
	return NULL;
}

static void *c_fn(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&mx_n);
	c_waiting = 1;
	while (!c_go)
		pthread_cond_wait(&mx_cv, &mx_n);
	c_woke = 1;
	pthread_mutex_unlock(&mx_n);
	return NULL;
}

struct timed_wait {
	int r;			/* pthread_cond_timedwait's last result */
	int wakeups;		/* times it returned 0 */
};

/* The child's new thread: nobody signals mx_cv, 100 ms must pass. */
static void *timed_fn(void *arg)
{
	struct timed_wait *tw = arg;
	struct timespec dl;

	pthread_mutex_lock(&mx_n);
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_nsec += 100000000;
	if (dl.tv_nsec >= 1000000000) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000;
	}
	while ((tw->r = pthread_cond_timedwait(&mx_cv, &mx_n, &dl)) == 0)
		tw->wakeups++;
	pthread_mutex_unlock(&mx_n);
	return NULL;
}

static void mutex_child(void)
{
	struct timed_wait tw = { 0 };
	int u, l, s;
	pthread_t t;

	watchdog(MUTEX_DEADLINE_S);
	/* W, blocked in mx_m's lock, has vanished; main owns mx_m. */
	u = pthread_mutex_unlock(&mx_m);
	l = pthread_mutex_lock(&mx_m);
	if (!l)
		pthread_mutex_unlock(&mx_m);
	check(!u && !l, "child-mutex-relock", "unlock %d, lock %d", u, l);

	/* C, in mx_cv's wait, has vanished: the signal goes nowhere and
	 * must not wake a waiter that came after it. */
	s = pthread_cond_signal(&mx_cv);
	errno = pthread_create(&t, NULL, timed_fn, &tw);
	if (errno)
		die("pthread_create (timed waiter)");
	pthread_join(t, NULL);
	check(!s && tw.r == ETIMEDOUT && !tw.wakeups, "child-cond",
	      "signal %d, timed wait %d (%s) after %d wakeups", s, tw.r,
	      strerror(tw.r), tw.wakeups);
	child_exit();
}

static void scenario_mutex(void)
{
	pthread_t w, c;
	int waiting;
	pid_t p;

	pthread_mutex_lock(&mx_m);
	errno = pthread_create(&w, NULL, w_fn, NULL);
	if (errno)
		die("pthread_create (W)");
	while (!atomic_load(&w_trying))
		sleep_ms(1);
	sleep_ms(200);		/* W blocks in the lock */
	errno = pthread_create(&c, NULL, c_fn, NULL);
	if (errno)
		die("pthread_create (C)");
	/* c_waiting is set under mx_n, which C releases only in the wait. */
	do {
		pthread_mutex_lock(&mx_n);
		waiting = c_waiting;
		pthread_mutex_unlock(&mx_n);
		if (!waiting)
			sleep_ms(1);
	} while (!waiting);

	p = fork_checked();
	if (!p)
		mutex_child();
	pthread_mutex_unlock(&mx_m);
	pthread_mutex_lock(&mx_n);
	c_go = 1;
	pthread_cond_signal(&mx_cv);
	pthread_mutex_unlock(&mx_n);
	pthread_join(w, NULL);
	pthread_join(c, NULL);
	check(w_got && c_woke, "parent-mutex-cond",
	      "W got the mutex: %d, C woke: %d", w_got, c_woke);
	reap(p);
}

/* ---------------------------------------------------------------- */
/* zombie: fork after a thread finished, before it is joined           */

static atomic_int z_done;	/* Z's last act before returning */

static void *z_fn(void *arg)
{
	(void)arg;
	atomic_store(&z_done, 1);
	return (void *)42;
}

static void scenario_zombie(void)
{
	void *ret = NULL;
	pthread_t z;
	pid_t p;
	int r;

	errno = pthread_create(&z, NULL, z_fn, NULL);
	if (errno)
		die("pthread_create (Z)");
	while (!atomic_load(&z_done))
		sleep_ms(1);
	sleep_ms(100);		/* from its last store to gone */

	p = fork_checked();
	if (!p) {
		r = pthread_join(z, &ret);
		check(!r && ret == (void *)42, "child-join-zombie",
		      "pthread_join %d (%s), retval %p", r, strerror(r), ret);
		child_exit();
	}
	r = pthread_join(z, &ret);
	check(!r && ret == (void *)42, "parent-join-zombie",
	      "pthread_join %d (%s), retval %p", r, strerror(r), ret);
	reap(p);
}

/* ---------------------------------------------------------------- */
/* busy: forks from two threads at once while others lock and do I/O  */

#define N_BUSY		6	/* parent threads locking and ping-ponging */
#define N_FORKERS	2
#define N_BUSY_FORKS	100	/* children per forking thread */
#define N_KIDS		20	/* threads per child */

static pthread_mutex_t busy_m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t busy_cv = PTHREAD_COND_INITIALIZER;
static long busy_rounds;		/* protected by busy_m */
static atomic_int busy_stop;
static atomic_int busy_bad;		/* children that did not exit 0 */
static pthread_mutex_t kid_m = PTHREAD_MUTEX_INITIALIZER;
static long kid_count;			/* the child's; protected by kid_m */

/* A parent thread: lock, broadcast, a round trip over its own
 * socketpair, now and then a zero sleep (which lets the other threads
 * run, natively through the kernel's scheduler, under dtact as a
 * yield), until told to stop; so that forks happen while other workers
 * are inside the runtime. */
static void *busy_fn(void *arg)
{
	int sv[2];
	char b[64] = { 0 };

	(void)arg;
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		die("socketpair");
	while (!atomic_load(&busy_stop)) {
		long n;

		pthread_mutex_lock(&busy_m);
		n = ++busy_rounds;
		pthread_cond_broadcast(&busy_cv);
		pthread_mutex_unlock(&busy_m);
		if (write(sv[0], b, sizeof(b)) != sizeof(b) ||
		    read(sv[1], b, sizeof(b)) != sizeof(b))
			die("busy round trip");
		if (!(n & 63))
			sleep_ms(0);
	}
	close(sv[0]);
	close(sv[1]);
	return NULL;
}

/* A thread of a child: a round trip over a socketpair of its own and
 * the child's own mutex (the parent's may be held by a vanished thread,
 * which would deadlock natively too). */
static void *kid_fn(void *arg)
{
	int sv[2];
	char b = 1;

	(void)arg;
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) ||
	    write(sv[0], &b, 1) != 1 || read(sv[1], &b, 1) != 1)
		return NULL;
	pthread_mutex_lock(&kid_m);
	kid_count++;
	pthread_mutex_unlock(&kid_m);
	sleep_ms(1);
	close(sv[0]);
	close(sv[1]);
	return (void *)1;
}

/* The child of a forking thread: N_KIDS threads, then exit(0), or (every
 * other child) a return from the forking thread's start routine. */
static int busy_child(int i)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	pthread_t k[N_KIDS];
	pthread_attr_t at;
	int j, ok = 0;

	/* A hang ends the child by SIGALRM: a bad status for the parent. */
	sigemptyset(&dfl.sa_mask);
	sigaction(SIGALRM, &dfl, NULL);
	alarm(CHILD_DEADLINE_S);
	small_stack_attr(&at);
	for (j = 0; j < N_KIDS; j++)
		if (pthread_create(&k[j], &at, kid_fn, NULL))
			exit(3);
	for (j = 0; j < N_KIDS; j++) {
		void *r;

		pthread_join(k[j], &r);
		ok += r != NULL;
	}
	if (ok != N_KIDS || kid_count != N_KIDS)
		exit(4);
	if (i & 1)
		exit(0);
	return 1;
}

static void *busy_forker_fn(void *arg)
{
	int i;

	(void)arg;
	for (i = 0; i < N_BUSY_FORKS; i++) {
		pid_t p, r;
		int st = 0;

		fflush(stdout);
		p = fork();
		if (p < 0)
			die("fork");
		if (!p) {
			busy_child(i);
			return NULL;	/* the child's last thread: exit(0) */
		}
		do
			r = waitpid(p, &st, 0);
		while (r < 0 && errno == EINTR);
		if (r != p || !WIFEXITED(st) || WEXITSTATUS(st)) {
			if (!atomic_fetch_add(&busy_bad, 1))
				printf("busy child %d: %s\n", i,
				       status_str(st));
		}
	}
	return NULL;
}

static void scenario_busy(void)
{
	pthread_t b[N_BUSY], f[N_FORKERS];
	int i;

	for (i = 0; i < N_BUSY; i++)
		if ((errno = pthread_create(&b[i], NULL, busy_fn, NULL)))
			die("pthread_create (busy)");
	for (i = 0; i < N_FORKERS; i++)
		if ((errno = pthread_create(&f[i], NULL, busy_forker_fn,
					    NULL)))
			die("pthread_create (forker)");
	for (i = 0; i < N_FORKERS; i++)
		pthread_join(f[i], NULL);
	atomic_store(&busy_stop, 1);
	for (i = 0; i < N_BUSY; i++)
		pthread_join(b[i], NULL);
	check(atomic_load(&busy_bad) == 0, "busy-forks", "%d of %d children "
	      "did not exit 0", atomic_load(&busy_bad),
	      N_FORKERS * N_BUSY_FORKS);
	check(busy_rounds > 0, "busy-parent", "the parent's threads made "
	      "no progress");
}

/* ---------------------------------------------------------------- */

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		void (*fn)(void);
	} scenarios[] = {
		{ "main", scenario_main },
		{ "thread", scenario_thread },
		{ "mutex", scenario_mutex },
		{ "zombie", scenario_zombie },
		{ "busy", scenario_busy },
	};
	size_t i;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (i = 0; argc == 2 && i < sizeof(scenarios) / sizeof(scenarios[0]);
	     i++)
		if (!strcmp(argv[1], scenarios[i].name))
			break;
	if (argc != 2 || i == sizeof(scenarios) / sizeof(scenarios[0])) {
		fprintf(stderr,
			"usage: fork_child main|thread|mutex|zombie|busy\n");
		return 2;
	}
	watchdog(PARENT_DEADLINE_S);
	scenarios[i].fn();
	printf("done %s\n", argv[1]);
	return fails ? 1 : 0;
}
