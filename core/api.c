/* SPDX-License-Identifier: MIT */
/*
 * core/api.c - the public C API (include/dtact.h) over the core.
 * Converts the core's -E... returns to the libc convention, once.
 */
#include <stdlib.h>
#include <sys/epoll.h>

#include "dtact.h"
#include "core/config.h"
#include "core/dt.h"
#include "core/reactor.h"
#include "core/stats.h"

static int fail(int e)
{
	errno = e;
	return -1;
}

DT_API dtact_config_t dtact_default_config(void)
{
	dtact_config_t c = { 0, 0, 0 };

	return c;
}

DT_API void *dtact_init(const dtact_config_t *cfg)
{
	struct dt_cfg c;
	int r;

	r = dt_config_resolve(cfg, &c);
	if (!r)
		r = dt_rt_init(c.workers, c.stack_size, c.max_fibers);
	if (!r) {
		r = dt_rt_start_workers(1);
		if (r) {
			dt_rt_shutdown();
			dt_rt_fini();
			r = -EAGAIN;
		}
	}
	if (r) {
		errno = -r;
		return NULL;
	}
	/* Statistics, dump signal, stall watchdog (core/stats.h). */
	dt_obs_start(&c.obs, 0);
	return &dt_rt;
}

DT_API int dtact_run(void *rt)
{
	if (rt != &dt_rt || dt_self ||
	    atomic_load(&dt_rt.state) == 0)
		return fail(EINVAL);
	dt_worker_loop(&dt_rt.workers[0]);
	dt_obs_stop();		/* DTACT_STATS printed here for C users */
	dt_rt_fini();
	return 0;
}

DT_API void dtact_shutdown(void)
{
	dt_rt_shutdown();
}

DT_API dtact_spawn_options_t dtact_default_spawn_options(void)
{
	dtact_spawn_options_t o = {
		.mKind = DTACT_KIND_COMPUTE,
		.mSwitcher = DTACT_SWITCHER_FLOAT,
		.mWorker = -1,
	};

	return o;
}

DT_API dtact_handle_t dtact_fiber_launch_ext(void (*fn)(void *), void *arg,
					     const dtact_spawn_options_t *o)
{
	dtact_spawn_options_t d = dtact_default_spawn_options();
	struct dt_spawn s = { 0 };
	struct dt_fiber *f;
	uint64_t h;
	int r;

	if (!o)
		o = &d;
	if (!fn || (o->mKind != DTACT_KIND_COMPUTE &&
		    o->mKind != DTACT_KIND_IO &&
		    o->mKind != DTACT_KIND_SYSTEM) ||
	    o->mSwitcher > DTACT_SWITCHER_NOFLOAT ||
	    (o->mStack && o->mStackSize < DT_MIN_STACK)) {
		errno = EINVAL;
		return 0;
	}
	s.fn = fn;
	s.arg = arg;
	s.stack_size = o->mStackSize;
	s.stack = o->mStack;
	s.fp = o->mSwitcher == DTACT_SWITCHER_FLOAT;
	s.kind = (uint8_t)o->mKind;
	s.detached = !!o->mDetached;
	s.worker = o->mWorker;
	/* The handle is taken before the fiber can run (and maybe end). */
	r = dt_spawn_handle(&s, &f, &h);
	if (r) {
		errno = -r;
		return 0;
	}
	return h;
}

DT_API dtact_handle_t dtact_fiber_launch(void (*fn)(void *), void *arg)
{
	return dtact_fiber_launch_ext(fn, arg, NULL);
}

DT_API int dtact_await(dtact_handle_t h)
{
	struct dt_fiber *f;
	int r = dt_fiber_lookup(h, &f);

	if (!r)
		r = dt_fiber_join(f, NULL, DT_DEADLINE_NONE, CLOCK_MONOTONIC);
	return r ? fail(-r) : 0;
}

DT_API void dtact_yield(void)
{
	dt_yield();
}

DT_API void dtact_free_arg(void *arg)
{
	free(arg);
}

DT_API int dtact_sleep_ns(uint64_t ns)
{
	int64_t now = dt_now_ns();
	int64_t d = ns > (uint64_t)(INT64_MAX - now) ? DT_DEADLINE_NONE :
		    now + (int64_t)ns;

	return dt_sleep_until(d, CLOCK_MONOTONIC);
}

DT_API int dtact_wait_fd(int fd, uint32_t events, int64_t timeout_ns)
{
	int64_t d = DT_DEADLINE_NONE;
	int r;

	if (timeout_ns >= 0)
		d = dt_now_ns() + timeout_ns;
	r = dt_fd_wait_level(fd, events & (EPOLLIN | EPOLLOUT), d);
	return r < 0 ? fail(-r) : r;
}

DT_API void dtact_fd_close(int fd)
{
	dt_fd_close(fd);
}

DT_API dtact_handle_t dtact_self(void)
{
	struct dt_fiber *f = dt_current();

	return f ? dt_fiber_handle(f) : 0;
}

DT_API int dtact_detach(dtact_handle_t h)
{
	struct dt_fiber *f;
	int r = dt_fiber_lookup(h, &f);

	if (!r)
		r = dt_fiber_detach(f);
	return r ? fail(-r) : 0;
}

DT_API int dtact_worker_id(void)
{
	return dt_self ? dt_self->id : -1;
}

DT_API int dtact_workers(void)
{
	return atomic_load(&dt_rt.state) == 1 ? dt_rt.nworkers : 0;
}
