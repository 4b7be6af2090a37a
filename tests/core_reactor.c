/* SPDX-License-Identifier: MIT */
/*
 * tests/core_reactor.c - fd readiness for fibers (core/reactor.c) with
 * pipes and socketpairs: parking on an empty pipe, timeouts, close while
 * waiting, stale readiness after fd reuse, the edge-triggered ticket
 * protocol under a cross-worker ping-pong, plain threads (ppoll), and
 * regular files.
 *
 * Every test starts a two-worker runtime from the test thread (worker 0 in
 * dtact_run) with a root fiber that ends with dtact_shutdown().  Checks
 * made in fibers or helper threads are recorded with CHECK() and asserted
 * on the test thread after dtact_run returns: Criterion asserts may only
 * be called from the thread that runs the test.  The tests call read(2)
 * and write(2) directly: nothing is interposed in a test binary.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "dtact.h"
#include "core/dt.h"
#include "core/reactor.h"
#include "harness.h"

/* ---------------------------------------------------------------- */
/* Helpers                                                           */

static void await_ok(dtact_handle_t h)
{
	CHECK(h && dtact_await(h) == 0, "await: %s", strerror(errno));
}

static void make_pipe(int p[2])
{
	int r = pipe2(p, O_CLOEXEC);

	CHECK(r == 0, "pipe2: %s", strerror(errno));
}

/* ---------------------------------------------------------------- */
/* Parking on an empty pipe                                          */

#define SPINS 1000

struct pipe_park {
	int p[2];
	_Atomic int spins;	/* the other fiber's progress */
	int spins_at_wake;
};

static void pipe_reader(void *arg)
{
	struct pipe_park *x = arg;
	char c;
	int r;

	r = dtact_wait_fd(x->p[0], DTACT_FD_READ, -1);
	x->spins_at_wake = atomic_load(&x->spins);
	CHECK(r > 0 && (r & DTACT_FD_READ), "dtact_wait_fd returned %d (%s)",
	      r, strerror(errno));
	CHECK(read(x->p[0], &c, 1) == 1 && c == 'x', "read after wake");
	/* Data is there now: ready at once, level-triggered. */
	CHECK(write(x->p[1], "y", 1) == 1, "write");
	r = dtact_wait_fd(x->p[0], DTACT_FD_READ, -1);
	CHECK(r == DTACT_FD_READ, "a readable pipe: %d", r);
}

static void pipe_writer(void *arg)
{
	struct pipe_park *x = arg;
	int i;

	/* Same worker as the reader: it only runs if the reader parked. */
	for (i = 0; i < SPINS; i++) {
		atomic_fetch_add(&x->spins, 1);
		dtact_yield();
	}
	CHECK(write(x->p[1], "x", 1) == 1, "write: %s", strerror(errno));
}

static void pipe_park_root(void *arg)
{
	struct pipe_park x = { .spins = 0 };
	dtact_handle_t r, w;

	(void)arg;
	make_pipe(x.p);
	r = launch_on(pipe_reader, &x, 0);
	w = launch_on(pipe_writer, &x, 0);
	await_ok(r);
	await_ok(w);
	CHECK(x.spins_at_wake == SPINS, "the reader woke after %d of %d "
	      "spins of the other fiber", x.spins_at_wake, SPINS);
	close(x.p[0]);
	close(x.p[1]);
}

/* Description: dtact_wait_fd on an empty pipe parks only the fiber: a
 * second fiber on the same worker runs 1,000 yields, then writes, and the
 * waiter returns DTACT_FD_READ; a readable pipe is reported at once. */
Test(core_reactor, empty_pipe_parks_fiber, .timeout = 30)
{
	run_root_on(0, pipe_park_root, NULL);
}

/* ---------------------------------------------------------------- */
/* Timeouts                                                          */

static void timeout_root(void *arg)
{
	int p[2], r;
	int64_t t0, t1;

	(void)arg;
	make_pipe(p);
	t0 = dt_now_ns();
	errno = 0;
	r = dtact_wait_fd(p[0], DTACT_FD_READ, 20000000);
	t1 = dt_now_ns();
	CHECK(r == -1 && errno == ETIMEDOUT, "returned %d, errno %d", r,
	      errno);
	CHECK(t1 - t0 >= 20000000, "timed out after %lld ns, before the "
	      "20 ms timeout", (long long)(t1 - t0));
	errno = 0;
	r = dtact_wait_fd(p[0], DTACT_FD_READ, 0);
	CHECK(r == -1 && errno == ETIMEDOUT, "timeout 0: %d, errno %d", r,
	      errno);
	/* The write end is writable: no wait at all. */
	r = dtact_wait_fd(p[1], DTACT_FD_READ | DTACT_FD_WRITE, 0);
	CHECK(r == DTACT_FD_WRITE, "an empty pipe's write end: %d", r);
	close(p[0]);
	close(p[1]);
}

/* Description: a wait on an empty pipe with a 20 ms timeout returns -1
 * with ETIMEDOUT, not before 20 ms; timeout 0 polls. */
Test(core_reactor, wait_times_out, .timeout = 30)
{
	run_root_on(0, timeout_root, NULL);
}

/* ---------------------------------------------------------------- */
/* Close while waiting                                               */

struct closing {
	int p[2];
	dtact_handle_t waiter;
	int r, err;
};

static void close_waiter(void *arg)
{
	struct closing *x = arg;

	errno = 0;
	x->r = dtact_wait_fd(x->p[0], DTACT_FD_READ, -1);
	x->err = errno;
}

static void close_closer(void *arg)
{
	struct closing *x = arg;

	CHECK(wait_parked(x->waiter, DT_REASON_IO),
	      "the waiter never parked");
	dtact_fd_close(x->p[0]);
	close(x->p[0]);
}

static void close_root(void *arg)
{
	struct closing x = { .r = 0 };
	dtact_handle_t c;
	int worker;

	(void)arg;
	for (worker = 0; worker < 2; worker++) {
		make_pipe(x.p);
		x.waiter = launch_on(close_waiter, &x, 0);
		c = launch_on(close_closer, &x, worker);
		await_ok(x.waiter);
		await_ok(c);
		CHECK(x.r == -1 && x.err == EBADF, "closer on worker %d: the "
		      "waiter got %d, errno %d", worker, x.r, x.err);
		close(x.p[1]);
	}
}

/* Description: a fiber waiting on a pipe wakes with -1/EBADF when another
 * fiber (same worker, then the other worker) calls dtact_fd_close on the
 * fd, then close. */
Test(core_reactor, close_wakes_waiter_ebadf, .timeout = 30)
{
	run_root_on(0, close_root, NULL);
}

/* ---------------------------------------------------------------- */
/* fd reuse                                                          */

struct reuse {
	int old_w;		/* write end of the old pipe */
	_Atomic int stop;
};

static void old_pipe_writer(void *arg)
{
	struct reuse *x = arg;
	int i;

	/* Readiness on the old description, while the waiter waits. */
	for (i = 0; i < 10 && !atomic_load(&x->stop); i++) {
		CHECK(write(x->old_w, "z", 1) == 1, "write: %s",
		      strerror(errno));
		dtact_sleep_ns(5000000);
	}
}

/*
 * Register p[0] (a wait that times out), then close it - announced with
 * dtact_fd_close, or behind the runtime's back - while a dup keeps its
 * description (and so its epoll registration, if not removed) alive.
 * A new pipe then gets the same number; a waiter on it must not be woken
 * by writes into the old pipe.
 */
static void reuse_case(bool announced)
{
	struct reuse x = { .old_w = -1 };
	int p[2], q[2], keep, r;
	struct dt_fd *e;
	uint32_t t;
	dtact_handle_t w;

	make_pipe(p);
	r = dtact_wait_fd(p[0], DTACT_FD_READ, 1000000);
	CHECK(r == -1 && errno == ETIMEDOUT, "registering wait: %d", r);
	keep = dup(p[0]);
	CHECK(keep >= 0, "dup: %s", strerror(errno));
	if (announced)
		dtact_fd_close(p[0]);
	close(p[0]);
	make_pipe(q);
	CHECK(q[0] == p[0], "the new pipe got fd %d, not %d: cannot test "
	      "reuse", q[0], p[0]);
	if (!announced)
		dt_fd_reset(q[0]);	/* what the shim does on pipe() */

	x.old_w = p[1];
	w = launch_on(old_pipe_writer, &x, 1);
	e = dt_fd_get(q[0], 1);
	CHECK(e != NULL, "dt_fd_get");
	if (!e)
		return;
	t = dt_fd_ticket(e, DT_FD_READ);
	r = dt_fd_wait(q[0], e, DT_FD_READ, t, dt_now_ns() + 100000000);
	CHECK(r == -ETIMEDOUT, "%s: the new pipe's waiter got %d (%s) from "
	      "the old pipe's readiness", announced ? "dtact_fd_close" :
	      "dt_fd_reset", r, strerror(-r));
	atomic_store(&x.stop, 1);
	await_ok(w);

	/* The new pipe's own readiness is delivered. */
	t = dt_fd_ticket(e, DT_FD_READ);
	CHECK(write(q[1], "q", 1) == 1, "write");
	r = dt_fd_wait(q[0], e, DT_FD_READ, t, dt_now_ns() + 10000000000);
	CHECK(r == 0, "the new pipe's own write: %d", r);
	r = dtact_wait_fd(q[0], DTACT_FD_READ, -1);
	CHECK(r == DTACT_FD_READ, "dtact_wait_fd on the new pipe: %d", r);

	dtact_fd_close(q[0]);
	close(q[0]);
	close(q[1]);
	close(keep);
	close(p[1]);
}

static void reuse_root(void *arg)
{
	(void)arg;
	reuse_case(true);
	reuse_case(false);
}

/* Description: readiness of a closed description is not delivered to the
 * fd number's next owner: after close (with dtact_fd_close, or behind the
 * runtime's back followed by dt_fd_reset) and reuse of the number by a new
 * pipe, writes into the old pipe (kept open by a dup) do not wake a waiter
 * on the new one; the new pipe's own readiness does. */
Test(core_reactor, reused_fd_no_stale_readiness, .timeout = 30)
{
	run_root_on(0, reuse_root, NULL);
}

/* ---------------------------------------------------------------- */
/* Edge-triggered ticket protocol: ping-pong                         */

#define PINGS 100000u
#define EDGE_DEADLINE_NS 10000000000ll	/* 10 s: an edge was lost */

struct pp_end {
	int fd;
	bool serve;		/* echo what comes in; else send first */
	int worker;
	uint32_t msgs;		/* round trips */
	uint32_t gap_ns;	/* spin up to this long between try and wait */
	uint64_t seed;
	uint32_t done;
	uint32_t early;		/* waits that returned without parking */
};

/* Read exactly n bytes with the ticket protocol. */
static int recv_all(struct pp_end *x, struct dt_fd *e, void *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		uint32_t t = dt_fd_ticket(e, DT_FD_READ);
		ssize_t r = read(x->fd, (char *)buf + got, n - got);
		uint64_t parks;

		if (r > 0) {
			got += (size_t)r;
			continue;
		}
		if (r == 0)
			return -EPIPE;
		if (errno != EAGAIN)
			return -errno;
		if (x->gap_ns) {
			/* Widen the window between the failed try and the
			 * wait: an edge landing in it must not be lost. */
			int64_t until = dt_now_ns() +
					(int64_t)(rng_next(&x->seed) %
						  x->gap_ns);
			while (dt_now_ns() < until)
				;
		}
		parks = dt_self->st.parks[DT_REASON_IO];
		r = dt_fd_wait(x->fd, e, DT_FD_READ, t,
			       dt_now_ns() + EDGE_DEADLINE_NS);
		if (r)
			return (int)r;
		if (dt_self->st.parks[DT_REASON_IO] == parks)
			x->early++;
	}
	return 0;
}

static int send_all(int fd, struct dt_fd *e, const void *buf, size_t n)
{
	size_t put = 0;

	while (put < n) {
		uint32_t t = dt_fd_ticket(e, DT_FD_WRITE);
		ssize_t r = write(fd, (const char *)buf + put, n - put);

		if (r > 0) {
			put += (size_t)r;
			continue;
		}
		if (errno != EAGAIN)
			return -errno;
		r = dt_fd_wait(fd, e, DT_FD_WRITE, t,
			       dt_now_ns() + EDGE_DEADLINE_NS);
		if (r)
			return (int)r;
	}
	return 0;
}

static void pp_fn(void *arg)
{
	struct pp_end *x = arg;
	struct dt_fd *e = dt_fd_get(x->fd, 1);
	uint32_t i, v;
	int r;

	CHECK(dtact_worker_id() == x->worker, "on worker %d, not %d",
	      dtact_worker_id(), x->worker);
	if (!e)
		return;
	for (i = 0; i < x->msgs; i++) {
		if (!x->serve) {
			r = send_all(x->fd, e, &i, sizeof(i));
			if (r) {
				CHECK(0, "ping %u: send: %s", i, strerror(-r));
				return;
			}
		}
		r = recv_all(x, e, &v, sizeof(v));
		if (r) {
			CHECK(0, "%s %u: %s", x->serve ? "ping" : "pong", i,
			      r == -ETIMEDOUT ? "no wake in 10 s: edge lost" :
			      strerror(-r));
			return;
		}
		if (v != i) {
			CHECK(0, "message %u arrived as %u", i, v);
			return;
		}
		if (x->serve) {
			r = send_all(x->fd, e, &v, sizeof(v));
			if (r) {
				CHECK(0, "pong %u: send: %s", i, strerror(-r));
				return;
			}
		}
		x->done = i + 1;
	}
}

/* Registers fd in the calling fiber's worker (a wait that times out). */
static void register_here(void *arg)
{
	int fd = (int)(intptr_t)arg;
	struct dt_fd *e = dt_fd_get(fd, 1);
	int r;

	CHECK(e != NULL, "dt_fd_get");
	if (!e)
		return;
	r = dt_fd_wait(fd, e, DT_FD_READ, dt_fd_ticket(e, DT_FD_READ),
		       dt_now_ns() + 1000000);
	CHECK(r == -ETIMEDOUT, "registering wait on fd %d: %d", fd, r);
	CHECK(e->reg_worker == dtact_worker_id(), "fd %d registered in "
	      "worker %d", fd, e->reg_worker);
}

enum pp_mode {
	PP_OWN,		/* each end registered by its own fiber's worker */
	PP_FOREIGN,	/* each end registered in the other worker */
	PP_GAP,		/* both in worker 1; the client dawdles */
};

#define GAP_PINGS	20000u
#define GAP_NS		50000u

static void ping_pong_root(void *arg)
{
	enum pp_mode mode = (enum pp_mode)(intptr_t)arg;
	struct pp_end a = { .serve = false, .worker = 0, .msgs = PINGS };
	struct pp_end b = { .serve = true, .worker = 1, .msgs = PINGS };
	int sv[2];
	dtact_handle_t ha, hb;

	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
			 0, sv) == 0, "socketpair: %s", strerror(errno));
	a.fd = sv[0];
	b.fd = sv[1];
	if (mode == PP_FOREIGN) {
		/* Each end's readiness is then handled by the other
		 * worker's epoll, which wakes the waiter through the mesh. */
		await_ok(launch_on(register_here, (void *)(intptr_t)sv[0], 1));
		await_ok(launch_on(register_here, (void *)(intptr_t)sv[1], 0));
	}
	if (mode == PP_GAP) {
		/* Worker 1 handles the client's readiness while the client
		 * (on worker 0) sits between its try and its wait. */
		await_ok(launch_on(register_here, (void *)(intptr_t)sv[0], 1));
		await_ok(launch_on(register_here, (void *)(intptr_t)sv[1], 1));
		a.msgs = b.msgs = GAP_PINGS;
		a.gap_ns = GAP_NS;
		a.seed = 0x9a9;
	}
	ha = launch_on(pp_fn, &a, 0);
	hb = launch_on(pp_fn, &b, 1);
	await_ok(ha);
	await_ok(hb);
	CHECK(a.done == a.msgs && b.done == b.msgs, "%u and %u of %u round "
	      "trips", a.done, b.done, a.msgs);
	if (mode == PP_GAP)
		snprintf(info, sizeof(info), "%u of the client's waits found "
			 "an edge that came after the ticket", a.early);
	dtact_fd_close(sv[0]);
	dtact_fd_close(sv[1]);
	close(sv[0]);
	close(sv[1]);
}

/* Description: two fibers on different workers ping-pong 100,000
 * messages over a non-blocking socketpair with the ticket protocol
 * (ticket, try, dt_fd_wait): no edge is lost (no wait runs 10 s), none is
 * reordered. */
Test(core_reactor, ticket_ping_pong_cross_worker, .timeout = 60)
{
	run_root_on(0, ping_pong_root, (void *)PP_OWN);
}

/* Description: the same with each socket registered in the other worker's
 * epoll first, so every readiness crosses the mesh to wake its waiter. */
Test(core_reactor, ticket_ping_pong_foreign_epoll, .timeout = 60)
{
	run_root_on(0, ping_pong_root, (void *)PP_FOREIGN);
}

/* Description: 20,000 round trips where the client spins 0..50 us between
 * its failed read and dt_fd_wait while another worker's epoll handles its
 * readiness: edges that land in that window are caught by the ticket. */
Test(core_reactor, ticket_catches_edge_before_wait, .timeout = 60)
{
	run_root_on(0, ping_pong_root, (void *)PP_GAP);
}

/* ---------------------------------------------------------------- */
/* Plain threads                                                     */

struct thread_wait {
	int p[2];
};

static void late_writer(void *arg)
{
	struct thread_wait *x = arg;

	dtact_sleep_ns(20000000);
	CHECK(write(x->p[1], "w", 1) == 1, "write: %s", strerror(errno));
}

static void *plain_thread(void *arg)
{
	struct thread_wait x;
	dtact_handle_t w;
	int r;

	(void)arg;
	CHECK(pipe2(x.p, O_CLOEXEC) == 0, "pipe2");
	errno = 0;
	r = dtact_wait_fd(x.p[0], DTACT_FD_READ, 10000000);
	CHECK(r == -1 && errno == ETIMEDOUT, "thread, empty pipe: %d, errno "
	      "%d", r, errno);
	r = dtact_wait_fd(x.p[1], DTACT_FD_WRITE, -1);
	CHECK(r == DTACT_FD_WRITE, "thread, write end: %d", r);
	w = dtact_fiber_launch(late_writer, &x);
	r = dtact_wait_fd(x.p[0], DTACT_FD_READ, -1);
	CHECK(r == DTACT_FD_READ, "thread, woken by a fiber's write: %d (%s)",
	      r, strerror(errno));
	await_ok(w);
	close(x.p[0]);
	close(x.p[1]);
	dtact_shutdown();
	return NULL;
}

/* Description: a plain (non-worker) thread can call dtact_wait_fd: it
 * blocks in ppoll, times out with ETIMEDOUT, and wakes when a fiber
 * writes. */
Test(core_reactor, plain_thread_waits, .timeout = 30)
{
	dtact_config_t c = two_workers();

	run_threads(&c, 1, plain_thread);
}

/* ---------------------------------------------------------------- */
/* Regular files                                                     */

static int regular_file(void)
{
	char path[] = "/tmp/dtact-core_reactor-XXXXXX";
	int fd = mkstemp(path);

	CHECK(fd >= 0, "mkstemp: %s", strerror(errno));
	if (fd >= 0)
		unlink(path);
	return fd;
}

static void regular_root(void *arg)
{
	int fd = regular_file(), r;
	struct dt_fd *e;

	(void)arg;
	if (fd < 0)
		return;
	r = dtact_wait_fd(fd, DTACT_FD_READ | DTACT_FD_WRITE, -1);
	CHECK(r == (DTACT_FD_READ | DTACT_FD_WRITE), "fiber: %d (%s)", r,
	      strerror(errno));
	r = dtact_wait_fd(fd, DTACT_FD_READ, 0);
	CHECK(r == DTACT_FD_READ, "fiber, read only: %d", r);
	/* The low-level wait cannot poll it and says so. */
	e = dt_fd_get(fd, 1);
	CHECK(e != NULL, "dt_fd_get");
	if (e) {
		r = dt_fd_wait(fd, e, DT_FD_READ, dt_fd_ticket(e, DT_FD_READ),
			       DT_DEADLINE_NONE);
		CHECK(r == -EPERM, "dt_fd_wait on a regular file: %d", r);
	}
	dtact_fd_close(fd);
	close(fd);
}

/* Description: a regular file is reported ready (read and write) at once
 * by dtact_wait_fd; dt_fd_wait reports it as unpollable (-EPERM). */
Test(core_reactor, regular_file_ready, .timeout = 30)
{
	run_root_on(0, regular_root, NULL);
}

static void *regular_thread(void *arg)
{
	int fd = regular_file(), r;

	(void)arg;
	if (fd >= 0) {
		r = dtact_wait_fd(fd, DTACT_FD_READ | DTACT_FD_WRITE, -1);
		CHECK(r == (DTACT_FD_READ | DTACT_FD_WRITE), "thread: %d (%s)",
		      r, strerror(errno));
		close(fd);
	}
	dtact_shutdown();
	return NULL;
}

/* Description: a plain thread waiting on a regular file gets read and
 * write readiness at once. */
Test(core_reactor, regular_file_ready_thread, .timeout = 30)
{
	dtact_config_t c = two_workers();

	run_threads(&c, 1, regular_thread);
}
