/* SPDX-License-Identifier: MIT */
/*
 * shim/shim.c - the preload entry (DESIGN 1).
 *
 * __libc_start_main is interposed so that, before main() runs, the
 * configuration is read (a bad DTACT_* value: one line on stderr, exit
 * status 2), the runtime is started, and the main thread is adopted as
 * fiber 0 of worker 0: main() keeps running on the main thread's own
 * (growable) stack, while worker 0's scheduler loop gets a small stack of
 * its own and runs whenever fiber 0 parks with nothing else runnable.
 * The other workers are new threads.  Calls made before this point, or
 * from threads dtact did not create, go straight to libc.
 */
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/config.h"
#include "core/sync.h"
#include "interpose/interpose.h"
#include "interpose/shim_api.h"

#define LOOP_STACK (256u << 10)

typedef int (*main_fn)(int, char **, char **);
typedef int (*lsm_fn)(main_fn, int, char **, void (*)(void), void (*)(void),
		      void (*)(void), void *);

static main_fn app_main;
static void *loop_stack;		/* worker 0's scheduler loop */
static pthread_t main_thread;
static struct dt_fiber *main_fiber;

struct dt_fiber *dt_shim_main_fiber(void)
{
	return main_fiber;
}

pthread_t dt_shim_worker_thread(int id)
{
	pthread_t *th = dt_rt.threads;

	return id == 0 ? main_thread : th[id];
}

static void loop_entry(void *arg)
{
	dt_worker_loop(arg);
	/* The shim never shuts the runtime down: exit() ends the process. */
	for (;;)
		dt_sys(SYS_pause, 0, 0, 0, 0, 0, 0);
}

/*
 * fork(2).  The child has one thread, the one that called fork, and keeps
 * the fiber that called it on a fresh runtime of one worker (worker 0, the
 * child's main thread): its threads are fibers again, its waits park.  The
 * parent's epoll instances are shared with the child and are never touched
 * from it (core/sched.c dt_rt_fork_child).  A fork made by a thread dtact
 * did not create, or inside a signal handler (which may have interrupted
 * a switch), leaves a child whose calls go straight to libc, as does one
 * whose new epoll instance cannot be made (EMFILE).
 */
static sigset_t fork_mask;	/* the program's, for a child forked ... */
static int fork_mask_set;	/* ... on a worker other than 0 */

static void fork_prepare(void)
{
	struct dt_worker *w = dt_self;

	/* Registered first, so it runs last of the prepare handlers, on the
	 * forking thread.  Workers other than 0 block the program's
	 * signals; the child, whose only thread this becomes, must have the
	 * program's mask. */
	fork_mask_set = w && w->cur && w->id != 0 && !dt_shim_forked &&
			!dt_sig_depth;
	if (fork_mask_set)
		dt_program_sigmask(&fork_mask, false);
}

static void fork_child(void)
{
	struct dt_worker *w = dt_self;
	struct dt_fiber *f = w ? w->cur : NULL;
	struct dt_worker *w0;

	dt_sync_fork_child();
	/* Locks a vanished thread may have held, whatever the child
	 * becomes. */
	dt_key_fork_child();
	dt_process_fork_child();
	if (!dt_shim_up || dt_shim_forked || !f || dt_sig_depth ||
	    dt_rt_fork_child(f)) {
		/* No runtime: straight to libc, waits as a plain thread. */
		if (!dt_shim_forked)
			dt_fork_epoch++;	/* the parent's waiters are gone */
		dt_shim_forked = 1;
		dt_self = NULL;
		return;
	}
	w0 = dt_self;
	w0->idle_sp = dt_ctx_init((char *)loop_stack + LOOP_STACK,
				  loop_entry, w0);
	w0->loop_stack_lo = loop_stack;
	w0->loop_stack_size = LOOP_STACK;
	main_thread = DT_REAL(pthread_self)();
	if (f != main_fiber && f->name[0])	/* the thread's name is f's */
		dt_sys(SYS_prctl, PR_SET_NAME, f->name, 0, 0, 0, 0);
	main_fiber = f;		/* the child's main thread */
	if (fork_mask_set)
		dt_sys(SYS_rt_sigprocmask, SIG_SETMASK, &fork_mask, NULL,
		       _NSIG / 8, 0, 0);
	dt_pthread_fork_child();
	dt_sig_fork_child();
	dt_fd_fork_child();
}

/* Adopt the calling (main) thread as fiber 0 of worker 0. */
static int adopt_main(void)
{
	struct dt_worker *w = &dt_rt.workers[0];
	struct dt_fiber *f = dt_arena_alloc(&dt_rt.arena, NULL);
	pthread_attr_t at;
	void *lo = NULL;
	size_t sz = 0;
	long stk;

	if (!f)
		return -ENOMEM;
	if (!DT_REAL(pthread_getattr_np)(pthread_self(), &at)) {
		pthread_attr_getstack(&at, &lo, &sz);
		pthread_attr_destroy(&at);
	}
	memset(&f->fn, 0, sizeof(*f) - offsetof(struct dt_fiber, fn));
	f->next = NULL;
	f->worker = w;
	f->fp = 1;
	f->kind = 1;
	f->state = DT_FIBER_RUNNING;
	f->stack_lo = lo;
	f->stack_size = sz;
	f->stack_kind = DT_STACK_USER;
	f->detached = 1;
	strcpy(f->name, "main");
	dt_timer_init(&f->timer, NULL);
	atomic_fetch_add(&w->resident, 1);

	stk = dt_sys(SYS_mmap, 0, LOOP_STACK, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (stk < 0 && stk > -4096)
		return -ENOMEM;
	loop_stack = (void *)stk;
	w->loop_stack_lo = (void *)stk;
	w->loop_stack_size = LOOP_STACK;
	w->idle_sp = dt_ctx_init((char *)stk + LOOP_STACK, loop_entry, w);
	dt_self = w;
	w->cur = f;
	main_fiber = f;
	return 0;
}

static int shim_main(int argc, char **argv, char **envp)
{
	struct dt_cfg c;
	int r;

	dt_libc_resolve();
	if (dt_config_resolve(NULL, &c))
		exit(2);
	r = dt_rt_init(c.workers, c.stack_size, c.max_fibers);
	if (!r) {
		main_thread = DT_REAL(pthread_self)();
		((pthread_t *)dt_rt.threads)[0] = 0;
		r = adopt_main();
	}
	if (!r)
		r = dt_rt_start_workers(1);
	if (r) {
		dt_msg("dtact: cannot start the runtime: %s\n",
		       strerror(-r));
		exit(2);
	}
	pthread_atfork(fork_prepare, NULL, fork_child);
	/* Statistics (printed at exit), dump signal, stall watchdog. */
	dt_obs_start(&c.obs, 1);
	dt_shim_up = 1;
	return app_main(argc, argv, envp);
}

DT_API int __libc_start_main(main_fn main, int argc, char **argv,
			     void (*init)(void), void (*fini)(void),
			     void (*rtld_fini)(void), void *stack_end)
{
	lsm_fn real = (lsm_fn)dlsym(RTLD_NEXT, "__libc_start_main");

	if (!real) {
		dt_msg("dtact: cannot find __libc_start_main\n");
		abort();
	}
	app_main = main;
	return real(shim_main, argc, argv, init, fini, rtld_fini, stack_end);
}
