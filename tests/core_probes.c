/* SPDX-License-Identifier: MIT */
/*
 * tests/core_probes.c - observability (DESIGN 11): the statistics count
 * what happened; the USDT semaphores are 0 with no tracer attached; the
 * statistics print as a table and as JSON lines; the observability
 * variables are parsed and refused as documented; the stall watchdog
 * hands a never-started fiber queued behind a stuck one to the other
 * worker; and the fiber dump of a plain pthread program under the shim
 * (tests/apps/dump_me.c, run in a child) lists every thread with its
 * name, state, wait and a backtrace through the expected functions.
 *
 * The runtime is reached through the public API; counters, semaphores and
 * parsers through the hidden symbols of libdtact.a (linked statically).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "dtact.h"
#include "core/config.h"
#include "core/dt.h"
#include "core/stats.h"
#include "core/watchdog.h"
#include "harness.h"

/* ---------------------------------------------------------------- */
/* Counters                                                          */

#define N_FIBERS	8
#define N_YIELDS	200

struct snap {
	uint64_t switches, spawns, yields, exits;
	uint64_t ext;
};

static struct snap before, after;

static void snap_take(struct snap *s)
{
	int i;

	memset(s, 0, sizeof(*s));
	for (i = 0; i < dt_rt.nworkers; i++) {
		struct dt_stats_worker *st = &dt_rt.workers[i].st;

		s->switches += __atomic_load_n(&st->switches,
					       __ATOMIC_RELAXED);
		s->spawns += __atomic_load_n(&st->spawns, __ATOMIC_RELAXED);
		s->yields += __atomic_load_n(&st->parks[DT_REASON_YIELD],
					     __ATOMIC_RELAXED);
		s->exits += __atomic_load_n(&st->parks[DT_REASON_EXIT],
					    __ATOMIC_RELAXED);
	}
	s->ext = atomic_load(&dt_stats_spawns_ext);
}

static void yielder(void *arg)
{
	int i;

	(void)arg;
	for (i = 0; i < N_YIELDS; i++)
		dtact_yield();
}

static void count_root(void *arg)
{
	dtact_handle_t h[N_FIBERS];
	int i;

	(void)arg;
	snap_take(&before);
	/* All on worker 0 with the root: every yield finds another fiber
	 * to switch to. */
	for (i = 0; i < N_FIBERS; i++)
		h[i] = launch_on(yielder, NULL, 0);
	for (i = 0; i < N_FIBERS; i++)
		CHECK(dtact_await(h[i]) == 0, "await: %s", strerror(errno));
	snap_take(&after);
}

/* Description: N fibers that yield Y times each: the switch counter moved
 * by at least N x Y, the yield parks by at least N x Y, the spawn counter
 * by exactly N, N fibers ended (exit parks and fibers_done); the root,
 * launched from the test thread, is counted as a spawn from outside the
 * workers. */
Test(core_probes, counters_count, .timeout = 30)
{
	uint64_t ext0 = atomic_load(&dt_stats_spawns_ext);

	run_root_on(0, count_root, NULL);
	cr_expect_geq(after.switches - before.switches,
		      (uint64_t)N_FIBERS * N_YIELDS, "switches %lu",
		      (unsigned long)(after.switches - before.switches));
	cr_expect_geq(after.yields - before.yields,
		      (uint64_t)N_FIBERS * N_YIELDS);
	cr_expect_eq(after.spawns - before.spawns, (uint64_t)N_FIBERS);
	cr_expect_eq(after.exits - before.exits, (uint64_t)N_FIBERS);
	cr_expect_eq(before.ext - ext0, 1, "spawns from outside: %lu",
		     (unsigned long)(before.ext - ext0));
}

/* ---------------------------------------------------------------- */
/* Printing                                                          */

static char table[16384], json[16384];

static void capture(char *buf, size_t cap, int format)
{
	int p[2];
	ssize_t n;
	size_t off = 0;

	CHECK(pipe(p) == 0, "pipe: %s", strerror(errno));
	dt_stats_print(p[1], format, "test");
	close(p[1]);
	while (off + 1 < cap && (n = read(p[0], buf + off,
					  cap - 1 - off)) > 0)
		off += (size_t)n;
	buf[off] = 0;
	close(p[0]);
}

static void print_root(void *arg)
{
	(void)arg;
	capture(table, sizeof(table), DT_STATS_TABLE);
	capture(json, sizeof(json), DT_STATS_JSON);
}

/* Description: the table names both workers and the process line; the
 * JSON output is one object per line, one per worker and one for the
 * process, each {...} with the expected keys. */
Test(core_probes, print_table_and_json, .timeout = 30)
{
	char *l, *save = NULL;
	int nworker = 0, nproc = 0;

	run_root(print_root, NULL);
	cr_expect(strstr(table, "dtact stats at test: pid "), "%s", table);
	cr_expect(strstr(table, "switches"), "%s", table);
	cr_expect(strstr(table, "\n     0 "), "%s", table);
	cr_expect(strstr(table, "\n     1 "), "%s", table);
	cr_expect(strstr(table, "\nfibers: "), "%s", table);
	cr_expect(strstr(table, "\narena: "), "%s", table);
	for (l = strtok_r(json, "\n", &save); l;
	     l = strtok_r(NULL, "\n", &save)) {
		size_t n = strlen(l);

		cr_expect(n > 2 && l[0] == '{' && l[n - 1] == '}', "%s", l);
		if (strstr(l, "{\"dtact\":\"worker\"")) {
			nworker++;
			cr_expect(strstr(l, "\"switches\":") &&
				  strstr(l, "\"parks\":{\"yield\":") &&
				  strstr(l, "\"stalls\":"), "%s", l);
		} else if (strstr(l, "{\"dtact\":\"process\"")) {
			nproc++;
			cr_expect(strstr(l, "\"fibers_created\":") &&
				  strstr(l, "\"offloaded\":"), "%s", l);
		} else {
			cr_expect(0, "unexpected line %s", l);
		}
	}
	cr_expect_eq(nworker, 2);
	cr_expect_eq(nproc, 1);
}

/* ---------------------------------------------------------------- */
/* Probes                                                            */

#ifndef DT_NO_PROBES
extern unsigned short dtact_spawn_semaphore, dtact_wake_semaphore,
	dtact_switch_in_semaphore, dtact_switch_out_semaphore,
	dtact_park_semaphore, dtact_unpark_semaphore, dtact_stall_semaphore;
#endif

/* Description: with no tracer attached every probe's semaphore is 0, so
 * no probe computes its arguments (read directly: hidden symbols of the
 * statically linked runtime). */
Test(core_probes, semaphores_zero_without_tracer, .timeout = 10)
{
#ifdef DT_NO_PROBES
	cr_skip_test("built with PROBES=0");
#else
	cr_expect_eq(dtact_spawn_semaphore, 0);
	cr_expect_eq(dtact_wake_semaphore, 0);
	cr_expect_eq(dtact_switch_in_semaphore, 0);
	cr_expect_eq(dtact_switch_out_semaphore, 0);
	cr_expect_eq(dtact_park_semaphore, 0);
	cr_expect_eq(dtact_unpark_semaphore, 0);
	cr_expect_eq(dtact_stall_semaphore, 0);
#endif
}

/* ---------------------------------------------------------------- */
/* Configuration                                                     */

/* Description: signals by name (any case, with or without SIG, RTMIN+n)
 * and number; KILL, STOP, the fault signals, glibc's internal 32/33,
 * unknown names and garbage are refused. */
Test(core_probes, parse_signal, .timeout = 10)
{
	cr_expect_eq(dt_parse_signal("QUIT"), SIGQUIT);
	cr_expect_eq(dt_parse_signal("sigusr1"), SIGUSR1);
	cr_expect_eq(dt_parse_signal("SIGUSR2"), SIGUSR2);
	cr_expect_eq(dt_parse_signal("10"), 10);
	cr_expect_eq(dt_parse_signal("RTMIN"), SIGRTMIN);
	cr_expect_eq(dt_parse_signal("RTMIN+2"), SIGRTMIN + 2);
	cr_expect_eq(dt_parse_signal("RTMAX-1"), SIGRTMAX - 1);
	cr_expect_lt(dt_parse_signal("KILL"), 0);
	cr_expect_lt(dt_parse_signal("9"), 0);
	cr_expect_lt(dt_parse_signal("STOP"), 0);
	cr_expect_lt(dt_parse_signal("SEGV"), 0);
	cr_expect_lt(dt_parse_signal("BUS"), 0);
	cr_expect_lt(dt_parse_signal("32"), 0);
	cr_expect_lt(dt_parse_signal("65"), 0);
	cr_expect_lt(dt_parse_signal("0x3"), 0);
	cr_expect_lt(dt_parse_signal("QUITE"), 0);
	cr_expect_lt(dt_parse_signal("RTMIN+99"), 0);
	cr_expect_lt(dt_parse_signal(""), 0);
}

/* Run dtact_init with name=value; its return and stderr's lines. */
static void *init_with(const char *name, const char *value, char *err,
		       size_t cap, int *lines)
{
	int p[2], saved = dup(2), i;
	void *rt;
	ssize_t n;

	cr_assert_eq(pipe(p), 0);
	setenv(name, value, 1);
	dup2(p[1], 2);
	rt = dtact_init(NULL);
	dup2(saved, 2);
	close(saved);
	close(p[1]);
	unsetenv(name);
	n = read(p[0], err, cap - 1);
	err[n > 0 ? n : 0] = 0;
	close(p[0]);
	*lines = 0;
	for (i = 0; err[i]; i++)
		*lines += err[i] == '\n';
	return rt;
}

/* Description: a bad DTACT_STATS, DTACT_STATS_SIGNAL, DTACT_DUMP_SIGNAL,
 * DTACT_STALL_MS or DTACT_STALL_WARN makes dtact_init fail with EINVAL
 * and one line naming the variable and the value; good values start the
 * runtime. */
Test(core_probes, bad_values_refused, .timeout = 30)
{
	static const char *bad[][2] = {
		{ "DTACT_STATS", "yes" }, { "DTACT_STATS", "2" },
		{ "DTACT_STATS_SIGNAL", "NOPE" },
		{ "DTACT_DUMP_SIGNAL", "KILL" },
		{ "DTACT_DUMP_SIGNAL", "-3" },
		{ "DTACT_STALL_MS", "abc" },
		{ "DTACT_STALL_MS", "3600001" },
		{ "DTACT_STALL_WARN", "2" },
	};
	static const char *good[][2] = {
		{ "DTACT_STATS", "json" }, { "DTACT_DUMP_SIGNAL", "USR2" },
		{ "DTACT_STALL_MS", "0" }, { "DTACT_STALL_WARN", "1" },
	};
	char err[1024], want[128];
	size_t i;
	int lines;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		void *rt = init_with(bad[i][0], bad[i][1], err, sizeof(err),
				     &lines);

		cr_expect_null(rt, "%s=%s accepted", bad[i][0], bad[i][1]);
		if (rt) {
			dtact_shutdown();
			dtact_run(rt);
			continue;
		}
		cr_expect_eq(errno, EINVAL);
		snprintf(want, sizeof(want), "dtact: %s=%s is invalid: "
			 "expected ", bad[i][0], bad[i][1]);
		cr_expect(strstr(err, want) == err, "stderr: %s", err);
		cr_expect_eq(lines, 1, "stderr: %s", err);
	}
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		void *rt = init_with(good[i][0], good[i][1], err, sizeof(err),
				     &lines);

		cr_expect_not_null(rt, "%s=%s refused: %s", good[i][0],
				   good[i][1], err);
		if (!rt)
			continue;
		/* DTACT_STATS=json prints at dtact_run's return: keep it
		 * out of the test's log. */
		{
			int saved = dup(2), nul = open("/dev/null", O_WRONLY);

			dup2(nul, 2);
			dtact_shutdown();
			cr_expect_eq(dtact_run(rt), 0);
			dup2(saved, 2);
			close(saved);
			close(nul);
		}
	}
}

/* ---------------------------------------------------------------- */
/* Stall watchdog                                                    */

static int stall_pipe[2];
static _Atomic int blocker_worker = -1, queued_worker = -1;
static uint64_t stalls_seen, moved_seen;

static void blocker(void *arg)
{
	char c;

	(void)arg;
	atomic_store(&blocker_worker, dtact_worker_id());
	/* A raw read: the whole worker thread blocks, as in a call dtact
	 * does not know. */
	CHECK(syscall(SYS_read, stall_pipe[0], &c, 1) == 1, "read: %s",
	      strerror(errno));
}

static void queued(void *arg)
{
	(void)arg;
	atomic_store(&queued_worker, dtact_worker_id());
	CHECK(write(stall_pipe[1], "x", 1) == 1, "write: %s",
	      strerror(errno));
}

static void stall_root(void *arg)
{
	dtact_handle_t a, b;
	int w = dtact_worker_id();

	(void)arg;
	CHECK(pipe(stall_pipe) == 0, "pipe: %s", strerror(errno));
	/* Unpinned: placed on this worker (it holds only the root), in its
	 * list of never-started fibers, blocker first. */
	a = dtact_fiber_launch(blocker, NULL);
	b = dtact_fiber_launch(queued, NULL);
	CHECK(a && b, "launch: %s", strerror(errno));
	CHECK(dtact_await(a) == 0, "await: %s", strerror(errno));
	CHECK(dtact_await(b) == 0, "await: %s", strerror(errno));
	dt_wd_counts(w, &stalls_seen, &moved_seen);
	close(stall_pipe[0]);
	close(stall_pipe[1]);
}

/* Description: with DTACT_STALL_MS=100, a fiber blocked in a raw read(2)
 * stalls its worker while another never-started fiber waits behind it;
 * the watchdog counts the stall and the waiting fiber runs on the other
 * worker (moved there; it ends the read). */
Test(core_probes, stall_moves_queued_fiber, .timeout = 30)
{
	setenv("DTACT_STALL_MS", "100", 1);
	run_root(stall_root, NULL);
	unsetenv("DTACT_STALL_MS");
	cr_expect_geq(atomic_load(&blocker_worker), 0);
	cr_expect_neq(atomic_load(&queued_worker),
		      atomic_load(&blocker_worker),
		      "the queued fiber ran on the stuck worker %d",
		      atomic_load(&blocker_worker));
	/* More than one episode, and none moved, only when the machine is
	 * so loaded that a worker thread is off its CPU for 100 ms while
	 * work waits: then spawn placement may already have avoided it. */
	cr_expect_geq(stalls_seen, 1, "stalls %lu", (unsigned long)stalls_seen);
	cr_log_info("stalls %lu, never-started fibers moved %lu",
		    (unsigned long)stalls_seen, (unsigned long)moved_seen);
}

/* ---------------------------------------------------------------- */
/* Fiber dump of a program under the shim                            */

static char out_buf[4096], dump_buf[65536];

/* The build directory: this binary is $(O)/tests/core_probes. */
static void build_dir(char *d, size_t cap)
{
	ssize_t n = readlink("/proc/self/exe", d, cap - 1);
	char *s;

	cr_assert_gt(n, 0);
	d[n] = 0;
	s = strrchr(d, '/');
	*s = 0;
	s = strrchr(d, '/');
	*s = 0;
}

/* Read fd into buf (appending) until `until` appears or ms pass. */
static void read_until(int fd, char *buf, size_t cap, const char *until,
		       int ms)
{
	size_t off = strlen(buf);
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!strstr(buf, until)) {
		struct pollfd p = { fd, POLLIN, 0 };
		long left;
		ssize_t n;

		clock_gettime(CLOCK_MONOTONIC, &t);
		left = ms - ((t.tv_sec - t0.tv_sec) * 1000 +
			     (t.tv_nsec - t0.tv_nsec) / 1000000);
		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			break;
		n = read(fd, buf + off, cap - 1 - off);
		if (n <= 0)
			break;
		off += (size_t)n;
		buf[off] = 0;
	}
}

/* The block of the dump about the fiber named name (header line and its
 * backtrace lines), copied into blk. */
static int fiber_block(const char *dump, const char *name, char *blk,
		       size_t cap)
{
	char key[64];
	const char *s, *e;

	snprintf(key, sizeof(key), "\"%s\" worker ", name);
	s = strstr(dump, key);
	if (!s)
		return 0;
	while (s > dump && s[-1] != '\n')
		s--;
	e = strstr(s + 1, "\nfiber ");
	if (!e)
		e = strstr(s + 1, "\ndtact: end of fiber dump");
	if (!e)
		e = s + strlen(s);
	if ((size_t)(e - s) >= cap)
		e = s + cap - 1;
	memcpy(blk, s, (size_t)(e - s));
	blk[e - s] = 0;
	return 1;
}

/* Does blk have a backtrace frame in function fn ("    #N 0x... fn+")? */
static int has_frame(const char *blk, const char *fn)
{
	char key[80];

	snprintf(key, sizeof(key), " %s+0x", fn);
	return strstr(blk, key) != NULL;
}

/* Description: dump_me's five threads (main spinning, and reader, sleeper,
 * condwaiter, joiner blocked) under the shim with DTACT_DUMP_SIGNAL=USR1:
 * the dump lists each by name with its state and wait (io on the pipe's
 * fd, sleep with its deadline, lock, join of the reader), main as running
 * on the signalled thread, and backtraces through the functions they
 * block in. */
Test(core_probes, dump_lists_every_fiber, .timeout = 60)
{
	char dir[4096], app[4200], shim[4200], pre[4300], blk[8192];
	char want[64];
	int o[2], e[2], status, rfd = -1;
	pid_t pid;

#ifdef DT_SAN
	/* An instrumented shim cannot be preloaded into a plain program
	 * (tests/run.sh skips the shim tests under SAN=1 for this). */
	cr_skip_test("the shim is instrumented (SAN=1)");
#endif
	build_dir(dir, sizeof(dir));
	snprintf(app, sizeof(app), "%s/tests/apps/dump_me", dir);
	snprintf(shim, sizeof(shim), "%s/libdtact_shim.so", dir);
	if (access(app, X_OK) || access(shim, R_OK))
		cr_skip_test("%s or %s not built", app, shim);
	snprintf(pre, sizeof(pre), "LD_PRELOAD=%s", shim);
	cr_assert_eq(pipe(o), 0);
	cr_assert_eq(pipe(e), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		char *argv[] = { app, NULL };
		char *envp[] = { pre, "DTACT_WORKERS=2",
				 "DTACT_DUMP_SIGNAL=USR1", NULL };

		dup2(o[1], 1);
		dup2(e[1], 2);
		close(o[0]);
		close(e[0]);
		execve(app, argv, envp);
		_exit(127);
	}
	close(o[1]);
	close(e[1]);
	read_until(o[0], out_buf, sizeof(out_buf), "\n", 20000);
	cr_assert(sscanf(out_buf, "ready %d", &rfd) == 1,
		  "dump_me did not get ready: %s", out_buf);
	/* "ready" is written just before main enters spin_main(); a signal
	 * sent at once can catch main still inside fflush (seen in CI).
	 * Leave it time to get into the loop. */
	usleep(300 * 1000);
	kill(pid, SIGUSR1);
	read_until(e[0], dump_buf, sizeof(dump_buf),
		   "dtact: end of fiber dump\n", 30000);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	close(o[0]);
	close(e[0]);
	cr_log_info("dump:\n%s", dump_buf);
	cr_assert(strstr(dump_buf, "dtact: end of fiber dump\n"),
		  "no complete dump: %s", dump_buf);
	cr_expect(strstr(dump_buf, "2 workers, 5 fibers"), "%s", dump_buf);

	cr_assert(fiber_block(dump_buf, "main", blk, sizeof(blk)), "main");
	cr_expect(strstr(blk, ": running (this thread"), "%s", blk);
	cr_expect(has_frame(blk, "spin_main") && has_frame(blk, "main"),
		  "%s", blk);

	cr_assert(fiber_block(dump_buf, "reader", blk, sizeof(blk)), "reader");
	snprintf(want, sizeof(want), ": parked, io fd %d, for ", rfd);
	cr_expect(strstr(blk, want), "want '%s': %s", want, blk);
	cr_expect(has_frame(blk, "reader_thread") && has_frame(blk, "read") &&
		  has_frame(blk, "dt_park"), "%s", blk);

	cr_assert(fiber_block(dump_buf, "sleeper", blk, sizeof(blk)),
		  "sleeper");
	cr_expect(strstr(blk, ": parked, sleep, deadline in 5"), "%s", blk);
	cr_expect(has_frame(blk, "sleeper_thread") &&
		  has_frame(blk, "nanosleep"), "%s", blk);

	cr_assert(fiber_block(dump_buf, "condwaiter", blk, sizeof(blk)),
		  "condwaiter");
	cr_expect(strstr(blk, ": parked, lock on 0x"), "%s", blk);
	cr_expect(has_frame(blk, "cond_thread"), "%s", blk);

	cr_assert(fiber_block(dump_buf, "joiner", blk, sizeof(blk)), "joiner");
	cr_expect(strstr(blk, ": parked, join fiber 0x"), "%s", blk);
	cr_expect(has_frame(blk, "joiner_thread"), "%s", blk);
}
