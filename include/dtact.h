/* SPDX-License-Identifier: MIT */
/*
 * dtact.h - stackful fibers on the dtact mesh scheduler.
 *
 * The same runtime that libdtact_shim.so puts under unmodified pthread
 * programs, offered directly.  Source-compatible with the original dtact
 * C-FFI (dtact_config_t, dtact_init, dtact_run, dtact_fiber_launch[_ext],
 * dtact_await, dtact_yield, dtact_shutdown, dtact_free_arg), plus a few
 * snake_case additions a C user needs (sleep, fd waits, self, detach).
 *
 * Model.  dtact_init() starts mWorkers - 1 worker threads; dtact_run()
 * makes the calling thread worker 0 until dtact_shutdown().  A fiber is
 * placed on a worker when launched (spread by load) and stays there.
 * Blocking inside a fiber parks only the fiber: use the dtact_* waits here
 * (or, under the shim, the ordinary libc calls).
 *
 * Errors follow the libc convention: -1 (or 0 for handles, NULL for
 * pointers) with errno set; the errno values are listed per function.
 * Times are nanoseconds; sizes are bytes.
 *
 * Thread safety: every function may be called from any thread once
 * dtact_init() has returned, unless its comment says otherwise.
 */
#ifndef DTACT_H
#define DTACT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DTACT_VERSION_MAJOR 0
#define DTACT_VERSION_MINOR 1

/* Runtime configuration.  A field left 0 takes the environment variable
 * named beside it, else the built-in default. */
typedef struct dtact_config {
	uint32_t mWorkers;	 /* DTACT_WORKERS, 1..1024; default: online CPUs */
	uint32_t mFiberCapacity; /* DTACT_MAX_FIBERS, 1..4194304; default 65536:
				    most fibers alive at once */
	size_t mStackSize;	 /* DTACT_STACK_SIZE, 16 KiB..1 GiB; default:
				    RLIMIT_STACK capped at 8 MiB, as glibc
				    sizes thread stacks.  Virtual: pages are
				    committed as the fiber touches them. */
} dtact_config_t;

/* A fiber: (generation << 32 | slot + 1).  0 is never a valid handle. */
typedef uint64_t dtact_handle_t;
#define DTACT_INVALID_HANDLE ((dtact_handle_t)0)

enum {
	DTACT_KIND_COMPUTE = 0,
	DTACT_KIND_IO = 1,
	DTACT_KIND_SYSTEM = 3,
};

enum {
	/* Cross-thread switcher that saves and restores the floating-point
	 * control state (x86-64: MXCSR and the x87 control word). */
	DTACT_SWITCHER_FLOAT = 0,
	/* Cross-thread switcher without it: a fiber that never changes the
	 * rounding mode or exception masks can skip the reload. */
	DTACT_SWITCHER_NOFLOAT = 1,
};

typedef struct dtact_spawn_options {
	uint32_t mKind;		/* DTACT_KIND_*: recorded for probes/stats */
	uint32_t mSwitcher;	/* DTACT_SWITCHER_* */
	size_t mStackSize;	/* bytes; 0: the runtime's default.  Larger
				   than the default: a stack of its own */
	void *mStack;		/* caller-owned stack (lowest address) of
				   mStackSize bytes, or NULL */
	int32_t mWorker;	/* pin to this worker, or -1: placement */
	uint32_t mDetached;	/* 1: freed when it ends; cannot be awaited */
} dtact_spawn_options_t;

/* Defaults: all fields 0 (environment or built-in defaults). */
dtact_config_t dtact_default_config(void);

/*
 * Start the runtime (one per process).  Reads and validates the DTACT_*
 * variables for fields left 0; a bad value prints one line on stderr
 * naming the variable, the value and the accepted range.  Starts
 * mWorkers - 1 worker threads at once; worker 0 runs in dtact_run().
 * Returns an opaque runtime pointer, or NULL with errno:
 *   EINVAL  a bad configuration value or DTACT_* variable (message printed)
 *   EBUSY   a runtime is already running in this process
 *   ENOMEM  the arena or worker structures could not be reserved
 *   EAGAIN  a worker thread could not be created
 */
void *dtact_init(const dtact_config_t *cfg);

/*
 * Run worker 0 on the calling thread until dtact_shutdown(), then wait for
 * the other workers, release the runtime and return 0 (the pointer is
 * then dead; dtact_init may be called again).  -1/EINVAL if rt is not
 * the running runtime or this thread is already a worker.
 */
int dtact_run(void *rt);

/*
 * Stop the runtime: workers finish the fibers that are runnable, then
 * leave their loops; fibers still parked are abandoned.  Any thread or
 * fiber.  Idempotent.
 */
void dtact_shutdown(void);

/* Launch fn(arg) as a new fiber with the default options.  Returns its
 * handle, or 0 with errno EAGAIN (fiber capacity or memory exhausted)
 * or EINVAL (no runtime running). */
dtact_handle_t dtact_fiber_launch(void (*fn)(void *), void *arg);

dtact_spawn_options_t dtact_default_spawn_options(void);

/* Launch with options (NULL: defaults).  Errors as dtact_fiber_launch,
 * and EINVAL for an unknown kind or switcher, or mStack with a
 * mStackSize under 16 KiB. */
dtact_handle_t dtact_fiber_launch_ext(void (*fn)(void *), void *arg,
				      const dtact_spawn_options_t *opts);

/*
 * Wait until fiber h has ended, then release it (its handle becomes
 * stale).  A fiber parks; any other thread blocks.  0, or -1 with errno:
 * ESRCH (stale or unknown handle), EINVAL (detached, or already being
 * awaited), EDEADLK (a fiber awaiting itself).
 */
int dtact_await(dtact_handle_t h);

/* Let the other runnable fibers of this worker run first.  Outside a
 * fiber: sched_yield(2). */
void dtact_yield(void);

/* Free an argument that was allocated with malloc(3) for a fiber. */
void dtact_free_arg(void *arg);

/* --- additions ------------------------------------------------------ */

/* Sleep the calling fiber (or thread) for ns nanoseconds, measured on
 * CLOCK_MONOTONIC.  0.  A fiber's sleep of 0 is a dtact_yield(): the other
 * runnable fibers of its worker run first. */
int dtact_sleep_ns(uint64_t ns);

/*
 * Wait until fd is readable (events & DTACT_FD_READ) and/or writable
 * (DTACT_FD_WRITE), level-triggered as poll(2): returns the ready set
 * (DTACT_FD_* bits, plus DTACT_FD_ERR/DTACT_FD_HUP) at once if it is ready
 * now.  timeout_ns < 0: no timeout.  Returns the ready set (> 0), or -1
 * with errno ETIMEDOUT, EBADF (fd closed, by any thread, while waiting),
 * ENOMEM.  Regular files are always ready.
 */
#define DTACT_FD_READ	0x001	/* == EPOLLIN */
#define DTACT_FD_WRITE	0x004	/* == EPOLLOUT */
#define DTACT_FD_ERR	0x008	/* == EPOLLERR */
#define DTACT_FD_HUP	0x010	/* == EPOLLHUP */
int dtact_wait_fd(int fd, uint32_t events, int64_t timeout_ns);

/* Tell the runtime that fd is about to be closed: fibers waiting on it
 * wake with EBADF.  Call before close(2) when fibers may be waiting on fd
 * (the shim does this inside close). */
void dtact_fd_close(int fd);

/* Handle of the calling fiber, or 0 outside a fiber. */
dtact_handle_t dtact_self(void);

/* Release h when it ends, without an await.  0, or -1 with errno ESRCH or
 * EINVAL (already detached). */
int dtact_detach(dtact_handle_t h);

/* The calling thread's worker index (0..workers-1), or -1. */
int dtact_worker_id(void);

/* Number of workers of the running runtime, or 0. */
int dtact_workers(void);

#ifdef __cplusplus
}
#endif
#endif
