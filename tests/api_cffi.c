/* SPDX-License-Identifier: MIT */
/*
 * tests/api_cffi.c - the public C API (include/dtact.h, core/api.c): the
 * example program examples/cffi_master end to end (its output is
 * deterministic), and the API's error contract: one runtime per process
 * (EBUSY), dtact_run on a wrong pointer or from a worker (EINVAL), bad
 * configuration and spawn options (EINVAL), bad handles (ESRCH, EINVAL,
 * EDEADLK), calls with no runtime.
 *
 * The example is found next to this binary's build tree
 * (<dir of this binary>/../examples/cffi_master); build it with
 * `make O=... $O/examples/cffi_master` (`make all` does).
 * Checks made in fibers are recorded with CHECK() and asserted after
 * dtact_run returns: Criterion asserts may only be called from the thread
 * that runs the test.
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "dtact.h"
#include "core/dt.h"
#include "harness.h"

/* ---------------------------------------------------------------- */
/* The example program                                               */

static const char cffi_expected[] =
	"master: launching 5 workers\n"
	"worker 0 (compute, float): 500500\n"
	"worker 1 (io, nofloat): 1001000\n"
	"worker 2 (compute, float): 1501500\n"
	"worker 3 (io, nofloat): 2002000\n"
	"worker 4 (compute, float): 2502500\n"
	"master: all done\n"
	"runtime stopped\n";

/* Read all of fd into buf (NUL-terminated); returns the length. */
static size_t slurp(int fd, char *buf, size_t cap)
{
	size_t n = 0;

	for (;;) {
		ssize_t r = read(fd, buf + n, cap - 1 - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
		if (n == cap - 1)
			break;
	}
	buf[n] = 0;
	return n;
}

/* Description: examples/cffi_master, run with no DTACT_* variables set,
 * prints exactly the expected lines (the sums are deterministic), nothing
 * on stderr, and exits 0. */
Test(api_cffi, example_cffi_master_output, .timeout = 60)
{
	char self[PATH_MAX], path[PATH_MAX + 64], out[4096], err[4096];
	int po[2], pe[2], status;
	ssize_t n;
	pid_t pid;

	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	cr_assert_gt(n, 0, "readlink /proc/self/exe: %s", strerror(errno));
	self[n] = 0;
	snprintf(path, sizeof(path), "%s/../examples/cffi_master",
		 dirname(self));
	cr_assert_eq(access(path, X_OK), 0, "%s: %s (build it with make "
		     "O=<build dir> <build dir>/examples/cffi_master)", path,
		     strerror(errno));
	cr_assert_eq(pipe(po), 0);
	cr_assert_eq(pipe(pe), 0);
	pid = fork();
	cr_assert_geq(pid, 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		dup2(po[1], 1);
		dup2(pe[1], 2);
		close(po[0]);
		close(po[1]);
		close(pe[0]);
		close(pe[1]);
		unsetenv("DTACT_WORKERS");
		unsetenv("DTACT_STACK_SIZE");
		unsetenv("DTACT_MAX_FIBERS");
		execl(path, path, (char *)NULL);
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	/* The outputs are small: reading one pipe to its end first cannot
	 * block the child on the other. */
	slurp(po[0], out, sizeof(out));
	slurp(pe[0], err, sizeof(err));
	close(po[0]);
	close(pe[0]);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status), "cffi_master died (status %#x); stdout:"
		  "\n%s\nstderr:\n%s", status, out, err);
	cr_assert_eq(WEXITSTATUS(status), 0, "cffi_master exited %d; "
		     "stderr:\n%s", WEXITSTATUS(status), err);
	cr_assert_str_eq(out, cffi_expected, "stdout differs");
	cr_assert_str_eq(err, "", "cffi_master wrote on stderr");
}

/* ---------------------------------------------------------------- */
/* Error contract                                                    */

static void noop(void *arg)
{
	(void)arg;
}

static void shutdown_fn(void *arg)
{
	(void)arg;
	dtact_shutdown();
}

/* Description: a second dtact_init while a runtime is running returns
 * NULL with EBUSY and leaves the first one working. */
Test(api_cffi, init_twice_ebusy, .timeout = 30)
{
	dtact_config_t c = two_workers();
	void *rt, *rt2;

	rt = dtact_init(&c);
	cr_assert_not_null(rt, "dtact_init: %s", strerror(errno));
	errno = 0;
	rt2 = dtact_init(&c);
	cr_assert_null(rt2, "a second runtime was started");
	cr_assert_eq(errno, EBUSY, "errno %d", errno);
	cr_assert_eq(dtact_workers(), 2, "the first runtime was disturbed");
	cr_assert_neq(dtact_fiber_launch(shutdown_fn, NULL), 0);
	cr_assert_eq(dtact_run(rt), 0, "dtact_run: %s", strerror(errno));
	/* Released: a new runtime can start. */
	rt = dtact_init(&c);
	cr_assert_not_null(rt, "dtact_init after dtact_run returned: %s",
			   strerror(errno));
	cr_assert_neq(dtact_fiber_launch(shutdown_fn, NULL), 0);
	cr_assert_eq(dtact_run(rt), 0);
}

static void run_from_fiber(void *rt)
{
	errno = 0;
	CHECK(dtact_run(rt) == -1 && errno == EINVAL, "dtact_run inside a "
	      "fiber: errno %d", errno);
	dtact_shutdown();
}

/* Description: dtact_run(NULL), dtact_run on a pointer that is not the
 * runtime, and dtact_run with no runtime fail with EINVAL; so does
 * dtact_run from a fiber (a thread that is already a worker). */
Test(api_cffi, run_bad_runtime_einval, .timeout = 30)
{
	dtact_config_t c = two_workers();
	int dummy;
	void *rt;

	errno = 0;
	cr_assert_eq(dtact_run(NULL), -1);
	cr_assert_eq(errno, EINVAL, "dtact_run(NULL), no runtime: errno %d",
		     errno);
	rt = dtact_init(&c);
	cr_assert_not_null(rt, "dtact_init: %s", strerror(errno));
	errno = 0;
	cr_assert_eq(dtact_run(NULL), -1);
	cr_assert_eq(errno, EINVAL, "dtact_run(NULL): errno %d", errno);
	errno = 0;
	cr_assert_eq(dtact_run(&dummy), -1);
	cr_assert_eq(errno, EINVAL, "dtact_run(&dummy): errno %d", errno);
	cr_assert_neq(dtact_fiber_launch(run_from_fiber, rt), 0);
	cr_assert_eq(dtact_run(rt), 0);
	assert_no_failed_checks();
}

/* Description: configuration fields out of range (mWorkers 1025,
 * mStackSize under 16 KiB or over 1 GiB, mFiberCapacity over 4194304)
 * make dtact_init return NULL with EINVAL, and start nothing. */
Test(api_cffi, init_bad_config_einval, .timeout = 30)
{
	dtact_config_t bad[4];
	void *rt;
	int i;

	for (i = 0; i < 4; i++)
		bad[i] = two_workers();
	bad[0].mWorkers = DT_MAX_WORKERS + 1;
	bad[1].mStackSize = DT_MIN_STACK - 1;
	bad[2].mStackSize = (size_t)DT_MAX_STACK + 1;
	bad[3].mFiberCapacity = DT_MAX_MAX_FIBERS + 1;
	for (i = 0; i < 4; i++) {
		errno = 0;
		cr_assert_null(dtact_init(&bad[i]), "bad config %d accepted",
			       i);
		cr_assert_eq(errno, EINVAL, "bad config %d: errno %d", i,
			     errno);
		cr_assert_eq(dtact_workers(), 0);
	}
	/* Nothing was left behind: a good one starts. */
	bad[0] = two_workers();
	rt = dtact_init(&bad[0]);
	cr_assert_not_null(rt, "dtact_init: %s", strerror(errno));
	cr_assert_neq(dtact_fiber_launch(shutdown_fn, NULL), 0);
	cr_assert_eq(dtact_run(rt), 0);
}

static void bad_options_root(void *arg)
{
	dtact_spawn_options_t o;
	char stack[64];
	int k;

	(void)arg;
	for (k = 0; k < 5; k++) {
		o = dtact_default_spawn_options();
		switch (k) {
		case 0:
			o.mKind = 2;		/* between IO and SYSTEM */
			break;
		case 1:
			o.mKind = 4;
			break;
		case 2:
			o.mSwitcher = 2;
			break;
		case 3:
			o.mStack = stack;	/* under 16 KiB */
			o.mStackSize = sizeof(stack);
			break;
		case 4:
			o.mStack = stack;
			o.mStackSize = 0;
			break;
		}
		errno = 0;
		CHECK(dtact_fiber_launch_ext(noop, NULL, &o) == 0 &&
		      errno == EINVAL, "bad options %d: errno %d", k, errno);
	}
	errno = 0;
	CHECK(dtact_fiber_launch_ext(NULL, NULL, NULL) == 0 &&
	      errno == EINVAL, "NULL function: errno %d", errno);
	o = dtact_default_spawn_options();
	o.mKind = DTACT_KIND_SYSTEM;
	o.mSwitcher = DTACT_SWITCHER_NOFLOAT;
	{
		dtact_handle_t h = dtact_fiber_launch_ext(noop, NULL, &o);

		CHECK(h && dtact_await(h) == 0, "good options: %s",
		      strerror(errno));
	}
}

/* Description: dtact_fiber_launch_ext refuses an unknown kind or
 * switcher, an mStack under 16 KiB and a NULL function with EINVAL, and
 * accepts the valid ones. */
Test(api_cffi, launch_bad_options_einval, .timeout = 30)
{
	run_root(bad_options_root, NULL);
}

static _Atomic int gate;

static void gated(void *arg)
{
	(void)arg;
	while (!atomic_load(&gate))
		dtact_sleep_ns(100000);
}

struct second {
	dtact_handle_t target;	/* the fiber the root awaits */
	dtact_handle_t root;
};

static void other_awaiter(void *arg)
{
	struct second *x = arg;
	struct dt_fiber *r;
	int i;

	/* Only once the root is parked in its await of the target. */
	for (i = 0; i < 100000; i++) {
		if (dt_fiber_lookup(x->root, &r) == 0 &&
		    __atomic_load_n(&r->state, __ATOMIC_ACQUIRE) ==
		    DT_FIBER_PARKED &&
		    __atomic_load_n(&r->reason, __ATOMIC_RELAXED) ==
		    DT_REASON_JOIN)
			break;
		dtact_sleep_ns(100000);
	}
	errno = 0;
	CHECK(dtact_await(x->target) == -1 && errno == EINVAL,
	      "a second awaiter: errno %d", errno);
	atomic_store(&gate, 1);
}

static void handles_root(void *arg)
{
	dtact_handle_t me = dtact_self(), o;
	struct second x = { 0, me };

	(void)arg;
	CHECK(me != 0, "dtact_self in a fiber is 0");
	CHECK(dtact_worker_id() >= 0 && dtact_worker_id() < 2,
	      "worker id %d", dtact_worker_id());
	CHECK(dtact_workers() == 2, "dtact_workers %d", dtact_workers());
	errno = 0;
	CHECK(dtact_await(me) == -1 && errno == EDEADLK,
	      "awaiting itself: errno %d", errno);
	errno = 0;
	CHECK(dtact_await(0) == -1 && errno == ESRCH, "handle 0: errno %d",
	      errno);
	errno = 0;
	CHECK(dtact_await((uint64_t)0xfffffff0u << 32 | (uint32_t)me) ==
	      -1 && errno == ESRCH, "a generation never issued: errno %d",
	      errno);
	errno = 0;
	CHECK(dtact_detach(0) == -1 && errno == ESRCH, "detach 0: errno %d",
	      errno);

	atomic_store(&gate, 0);
	x.target = dtact_fiber_launch(gated, NULL);
	o = dtact_fiber_launch(other_awaiter, &x);
	CHECK(x.target && o, "launch: %s", strerror(errno));
	CHECK(dtact_await(x.target) == 0, "await: %s", strerror(errno));
	CHECK(dtact_await(o) == 0, "await: %s", strerror(errno));
}

/* Description: dtact_await of itself fails with EDEADLK, of handle 0 or
 * a never-issued handle with ESRCH, of a fiber someone already awaits
 * with EINVAL; dtact_self, dtact_worker_id and dtact_workers describe the
 * caller. */
Test(api_cffi, await_bad_handles, .timeout = 30)
{
	run_root(handles_root, NULL);
}

/* Description: with no runtime, dtact_fiber_launch fails with EINVAL,
 * dtact_workers is 0, dtact_self 0, dtact_worker_id -1, dtact_shutdown
 * does nothing, and dtact_sleep_ns and dtact_yield work as plain calls. */
Test(api_cffi, no_runtime, .timeout = 30)
{
	dtact_config_t d = dtact_default_config();
	dtact_spawn_options_t o = dtact_default_spawn_options();

	cr_assert(d.mWorkers == 0 && d.mFiberCapacity == 0 &&
		  d.mStackSize == 0);
	cr_assert(o.mKind == DTACT_KIND_COMPUTE &&
		  o.mSwitcher == DTACT_SWITCHER_FLOAT && o.mStack == NULL &&
		  o.mStackSize == 0 && o.mWorker == -1 && o.mDetached == 0);
	errno = 0;
	cr_assert_eq(dtact_fiber_launch(noop, NULL), 0);
	cr_assert_eq(errno, EINVAL, "errno %d", errno);
	cr_assert_eq(dtact_workers(), 0);
	cr_assert_eq(dtact_self(), 0);
	cr_assert_eq(dtact_worker_id(), -1);
	errno = 0;
	cr_assert_eq(dtact_await(1), -1);
	cr_assert_eq(errno, ESRCH, "errno %d", errno);
	dtact_shutdown();
	dtact_yield();
	cr_assert_eq(dtact_sleep_ns(1000), 0);
	dtact_free_arg(malloc(16));
	dtact_free_arg(NULL);
}
