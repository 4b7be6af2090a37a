/* SPDX-License-Identifier: MIT */
/*
 * core/dump.c - the fiber dump (DTACT_DUMP_SIGNAL, DESIGN 11): on the
 * signal, every fiber with its id, name, state, worker, wait reason (and
 * what it waits on), how long it has waited, and a symbolized backtrace
 * from libunwind; written to stderr by the signal handler itself.
 *
 * Which stack is unwound how:
 *   - a fiber that is not running (parked, runnable again, or done) from
 *     its saved context: the frame at f->sp (arch/switch.h) holds rbx,
 *     rbp, r12-r15 and the resume address, the return address into the
 *     caller of dt_ctx_switch; rsp is f->sp + DT_CTX_FRAME_SIZE.  A
 *     unw_context_t from unw_getcontext() gets those registers
 *     overwritten and libunwind walks on from there (DWARF CFI; the
 *     fiber's outermost frame, dt_ctx_trampoline, ends the walk);
 *   - the fiber whose stack the signalled thread was on (found by the
 *     interrupted rsp, so a signal in the middle of a switch is right too)
 *     from the handler's ucontext (UNW_INIT_SIGNAL_FRAME);
 *   - a fiber running on another worker's thread: no backtrace (its
 *     registers live in another CPU; the workers block the signal).
 *
 * Safety in a signal handler.  No lock of the runtime is taken and
 * nothing is allocated: the arena's control blocks are type-stable, read
 * racily; output goes through struct dt_out (stack buffer, raw write).
 * libunwind's local unwinding is used with caching off (UNW_CACHE_NONE,
 * set once when the dump is armed), so it holds no lock of its own while
 * it reads a stack.  Fibers of other workers keep running meanwhile: a
 * stack may change under the unwinder, and a stack mapped for a large
 * fiber may even be unmapped when it is reaped.  So each fiber is dumped
 * under a fault guard: SIGSEGV and SIGBUS handlers (installed with the
 * real sigaction for the length of the dump) siglongjmp back to the dump
 * if the fault is the dumping thread's, skipping that fiber; a fault of
 * any other thread puts the previous actions back and returns, so the
 * fault repeats and reaches them.  Interposed libc calls made by
 * libunwind (read(2) of /proc/self/maps) must not park: dt_self is
 * cleared on this thread for the length of the dump, so they go straight
 * to libc.
 *
 * Limits: at most DUMP_BT_FIBERS backtraces of DUMP_FRAMES frames (every
 * fiber is listed); a program that installs its own SIGSEGV handler
 * while a dump runs has it replaced by the previous one at the end.
 */
#define UNW_LOCAL_ONLY
#include <dlfcn.h>
#include <libunwind.h>
#include <setjmp.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>

#include "core/dt.h"
#include "core/dump.h"
#include "core/stats.h"

#define DUMP_FRAMES	32	/* frames per backtrace */
#define DUMP_BT_FIBERS	1024	/* backtraces per dump; fibers are all listed */
#define DUMP_JOIN_SCAN	(4u << 20) /* slots looked at for join targets */

int dt_dump_armed;

typedef int (*sigaction_fn)(int, const struct sigaction *,
			    struct sigaction *);
static sigaction_fn real_sigaction;

static sigjmp_buf guard_jb;
static volatile long guard_tid;		/* the dumping thread, 0: none */
static struct sigaction guard_old_segv, guard_old_bus;

static const char *const reason_names[DT_REASON_NR] = {
	"yield", "io", "sleep", "lock", "join", "exit", "other",
};

void dt_dump_prepare(void)
{
	unw_context_t uc;
	unw_cursor_t c;

	if (!real_sigaction)
		real_sigaction = (sigaction_fn)dlsym(RTLD_NEXT, "sigaction");
	if (!real_sigaction)
		real_sigaction = sigaction;
	/* No cache: no lock held by libunwind while it reads a stack that
	 * may fault (see the top of the file). */
	unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_NONE);
	/* libunwind initialises itself on first use: do it here, not in
	 * the handler. */
	unw_getcontext(&uc);
	if (!unw_init_local(&c, &uc))
		unw_step(&c);
}

static void guard_handler(int sig, siginfo_t *si, void *uc)
{
	(void)si;
	(void)uc;
	if (dt_sys(SYS_gettid, 0, 0, 0, 0, 0, 0) == guard_tid)
		siglongjmp(guard_jb, 1);
	/* Not the dump's fault: the program's actions back, and the
	 * faulting instruction runs again into them. */
	real_sigaction(SIGSEGV, &guard_old_segv, NULL);
	real_sigaction(SIGBUS, &guard_old_bus, NULL);
	(void)sig;
}

static void guard_on(void)
{
	struct sigaction a;

	memset(&a, 0, sizeof(a));
	a.sa_sigaction = guard_handler;
	a.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigemptyset(&a.sa_mask);
	guard_tid = dt_sys(SYS_gettid, 0, 0, 0, 0, 0, 0);
	real_sigaction(SIGSEGV, &a, &guard_old_segv);
	real_sigaction(SIGBUS, &a, &guard_old_bus);
}

static void guard_off(void)
{
	real_sigaction(SIGSEGV, &guard_old_segv, NULL);
	real_sigaction(SIGBUS, &guard_old_bus, NULL);
	guard_tid = 0;
}

/* ---------------------------------------------------------------- */
/* Backtraces                                                          */

static void sym(struct dt_out *o, unw_cursor_t *c)
{
	char name[160];
	unw_word_t off = 0;
	int r = unw_get_proc_name(c, name, sizeof(name), &off);

	if (r == 0 || r == -UNW_ENOMEM) {
		name[sizeof(name) - 1] = 0;
		dt_out_str(o, name);
		dt_out_str(o, "+");
		dt_out_hex(o, off);
	} else {
		dt_out_str(o, "??");
	}
}

static void walk(struct dt_out *o, unw_cursor_t *c)
{
	int i;

	for (i = 0; i < DUMP_FRAMES; i++) {
		unw_word_t ip = 0;

		if (unw_get_reg(c, UNW_REG_IP, &ip) < 0 || !ip)
			break;
		dt_out_str(o, "    #");
		dt_out_u64(o, (uint64_t)i);
		dt_out_str(o, i < 10 ? "  " : " ");
		dt_out_hex(o, ip);
		dt_out_str(o, " ");
		sym(o, c);
		dt_out_str(o, "\n");
		dt_out_flush(o);
		if (unw_step(c) <= 0)
			break;
	}
}

/* The context saved by dt_ctx_switch at sp (arch/switch.h). */
static void bt_saved(struct dt_out *o, void *sp)
{
	const uint64_t *fr = sp;
	unw_context_t uc;
	unw_cursor_t c;
	greg_t *g;

	unw_getcontext(&uc);
	g = uc.uc_mcontext.gregs;
	g[REG_RIP] = (greg_t)fr[DT_CTX_OFF_RIP / 8];
	g[REG_RSP] = (greg_t)((uintptr_t)sp + DT_CTX_FRAME_SIZE);
	g[REG_RBP] = (greg_t)fr[DT_CTX_OFF_RBP / 8];
	g[REG_RBX] = (greg_t)fr[DT_CTX_OFF_RBX / 8];
	g[REG_R12] = (greg_t)fr[DT_CTX_OFF_R12 / 8];
	g[REG_R13] = (greg_t)fr[DT_CTX_OFF_R13 / 8];
	g[REG_R14] = (greg_t)fr[DT_CTX_OFF_R14 / 8];
	g[REG_R15] = (greg_t)fr[DT_CTX_OFF_R15 / 8];
	/* A return address: libunwind looks up ip - 1 (the call). */
	if (unw_init_local(&c, &uc) < 0) {
		dt_out_str(o, "    (cannot unwind)\n");
		return;
	}
	walk(o, &c);
}

/* The interrupted context of this thread (the signal's ucontext). */
static void bt_here(struct dt_out *o, void *ucv)
{
	unw_cursor_t c;

	if (unw_init_local2(&c, (unw_context_t *)ucv,
			    UNW_INIT_SIGNAL_FRAME) < 0) {
		dt_out_str(o, "    (cannot unwind)\n");
		return;
	}
	walk(o, &c);
}

/* ---------------------------------------------------------------- */
/* The listing                                                         */

static const char *state_name(uint8_t st)
{
	switch (st) {
	case DT_FIBER_READY:	return "ready";
	case DT_FIBER_RUNNING:	return "running";
	case DT_FIBER_PARKED:	return "parked";
	case DT_FIBER_DONE:	return "done";
	default:		return "free";
	}
}

static bool on_stack(const struct dt_fiber *f, uintptr_t a)
{
	uintptr_t lo = (uintptr_t)f->stack_lo;

	return lo && a >= lo && a - lo < f->stack_size;
}

static void ms(struct dt_out *o, int64_t ns)
{
	dt_out_i64(o, ns / 1000000);
	dt_out_str(o, " ms");
}

/* Slots join_target may still look at in this dump: a scan per joining
 * fiber, bounded so that a dump of many joiners stays linear. */
static uint32_t join_budget;

/* The fiber f is waiting to join, if any (racy: f is parked, so the
 * record its joiner field points to, on f's stack, stays put). */
static uint64_t join_target(struct dt_fiber *f, uint32_t top)
{
	struct dt_fiber *fs = dt_rt.arena.fibers;
	uint32_t i;

	if (join_budget < top)
		return 0;
	join_budget -= top;
	for (i = 0; i < top; i++) {
		struct dt_waiter *j = fs[i].joiner;

		if (fs[i].state != DT_FIBER_FREE && j && j->fiber == f)
			return dt_fiber_handle(&fs[i]);
	}
	return 0;
}

static void header(struct dt_out *o, struct dt_fiber *f, uint32_t top,
		   int64_t now, int here)
{
	uint8_t st = f->state, r = f->reason;
	void *sp = f->sp;
	uint64_t *fr = sp;
	struct dt_worker *w = f->worker;

	dt_out_str(o, "fiber ");
	dt_out_hex(o, dt_fiber_handle(f));
	dt_out_str(o, " \"");
	dt_out_strn(o, f->name, sizeof(f->name));
	dt_out_str(o, "\" worker ");
	dt_out_i64(o, w ? w->id : -1);
	dt_out_str(o, ": ");
	if (here) {
		dt_out_str(o, "running (this thread, interrupted by the "
			   "signal)\n");
		return;
	}
	dt_out_str(o, state_name(st));
	if (st == DT_FIBER_READY && on_stack(f, (uintptr_t)sp) &&
	    on_stack(f, (uintptr_t)sp + DT_CTX_FRAME_SIZE - 1) &&
	    fr[DT_CTX_OFF_RIP / 8] == (uintptr_t)dt_ctx_trampoline)
		dt_out_str(o, ", never started");
	else if (st == DT_FIBER_READY && r == DT_REASON_YIELD)
		dt_out_str(o, ", yielded");
	if (st == DT_FIBER_PARKED && r < DT_REASON_NR) {
		dt_out_str(o, ", ");
		dt_out_str(o, reason_names[r]);
		if (r == DT_REASON_IO) {
			dt_out_str(o, " fd ");
			dt_out_i64(o, (int64_t)(int)f->wait_obj);
		} else if (r == DT_REASON_LOCK && f->wait_obj) {
			dt_out_str(o, " on ");
			dt_out_hex(o, f->wait_obj);
		} else if (r == DT_REASON_JOIN) {
			uint64_t t = join_target(f, top);

			if (t) {
				dt_out_str(o, " fiber ");
				dt_out_hex(o, t);
			}
		}
		if (f->timer.heap_idx != DT_TIMER_IDLE) {
			dt_out_str(o, ", deadline in ");
			ms(o, f->timer.deadline - now);
		}
		if (dt_dump_armed && f->park_ns && f->park_ns <= now) {
			dt_out_str(o, ", for ");
			ms(o, now - f->park_ns);
		}
	}
	if (st == DT_FIBER_DONE)
		dt_out_str(o, ", not joined yet");
	if (st == DT_FIBER_RUNNING)
		dt_out_str(o, " on another thread (no backtrace)");
	dt_out_str(o, "\n");
}

static void one(struct dt_out *o, struct dt_fiber *f, uint32_t top,
		int64_t now, void *ucv, uintptr_t here_sp,
		volatile unsigned *nbt)
{
	uint8_t st = f->state;
	void *sp = f->sp;
	int here = ucv && on_stack(f, here_sp);

	header(o, f, top, now, here);
	dt_out_flush(o);
	if (st == DT_FIBER_DONE || (st == DT_FIBER_RUNNING && !here))
		return;
	if (*nbt >= DUMP_BT_FIBERS)
		return;
	++*nbt;
	if (here) {
		bt_here(o, ucv);
		return;
	}
	if (!on_stack(f, (uintptr_t)sp) ||
	    !on_stack(f, (uintptr_t)sp + DT_CTX_FRAME_SIZE - 1)) {
		dt_out_str(o, "    (no saved context)\n");
		return;
	}
	if (((uint64_t *)sp)[DT_CTX_OFF_RIP / 8] ==
	    (uintptr_t)dt_ctx_trampoline)
		return;		/* never started: nothing to walk */
	bt_saved(o, sp);
}

static void workers_line(struct dt_out *o, int i)
{
	struct dt_worker *w = &dt_rt.workers[i];
	struct dt_fiber *cur = __atomic_load_n(&w->cur, __ATOMIC_RELAXED);

	dt_out_str(o, "worker ");
	dt_out_u64(o, (uint64_t)i);
	dt_out_str(o, ": ");
	if (cur) {
		dt_out_str(o, "running fiber ");
		dt_out_hex(o, dt_fiber_handle(cur));
	} else if (atomic_load_explicit(&w->sleeping, memory_order_relaxed)) {
		dt_out_str(o, "idle in epoll_wait");
	} else {
		dt_out_str(o, "in its scheduler loop");
	}
	dt_out_str(o, ", ");
	dt_out_u64(o, __atomic_load_n(&w->runq_len, __ATOMIC_RELAXED));
	dt_out_str(o, " runnable, ");
	dt_out_u64(o, atomic_load_explicit(&w->fresh_n,
					   memory_order_relaxed));
	dt_out_str(o, " never started, ");
	dt_out_u64(o, atomic_load_explicit(&w->resident,
					   memory_order_relaxed));
	dt_out_str(o, " resident, ");
	dt_out_u64(o, __atomic_load_n(&w->st.switches, __ATOMIC_RELAXED));
	dt_out_str(o, " switches");
	if (atomic_load_explicit(&w->stalled, memory_order_relaxed))
		dt_out_str(o, ", STALLED");
	dt_out_str(o, "\n");
}

void dt_dump_fibers(int fd, void *ucv, int sig)
{
	struct dt_worker *me = dt_self;
	struct dt_out o;
	struct dt_fiber *fs = dt_rt.arena.fibers;
	uint32_t top, n = 0;
	/* Live across the guard's siglongjmp: */
	volatile uint32_t i;
	volatile unsigned nbt = 0;
	volatile uintptr_t here_sp = 0;
	int64_t now = dt_now_ns();
	int k;

	dt_out_init(&o, fd);
	if (atomic_load_explicit(&dt_rt.state, memory_order_acquire) == 0 ||
	    !fs || !dt_rt.workers || !real_sigaction) {
		dt_out_str(&o, "dtact: fiber dump: no runtime running\n");
		dt_out_flush(&o);
		return;
	}
	if (ucv)
		here_sp = (uintptr_t)((ucontext_t *)ucv)->
				uc_mcontext.gregs[REG_RSP];
	top = atomic_load_explicit(&dt_rt.arena.top, memory_order_acquire);
	for (i = 0; i < top; i++)
		n += fs[i].state != DT_FIBER_FREE;
	/* Interposed calls libunwind makes go to libc (see the top). */
	dt_self = NULL;
	dt_out_str(&o, "dtact: fiber dump (signal ");
	dt_out_u64(&o, (uint64_t)sig);
	dt_out_str(&o, "), pid ");
	dt_out_u64(&o, (uint64_t)dt_sys(SYS_getpid, 0, 0, 0, 0, 0, 0));
	dt_out_str(&o, ": ");
	dt_out_u64(&o, (uint64_t)dt_rt.nworkers);
	dt_out_str(&o, " workers, ");
	dt_out_u64(&o, n);
	dt_out_str(&o, " fibers; signalled thread: ");
	if (me) {
		dt_out_str(&o, "worker ");
		dt_out_u64(&o, (uint64_t)me->id);
	} else {
		dt_out_str(&o, "not a worker");
	}
	dt_out_str(&o, "\n");
	for (k = 0; k < dt_rt.nworkers; k++)
		workers_line(&o, k);
	dt_out_flush(&o);
	join_budget = DUMP_JOIN_SCAN;
	guard_on();
	for (i = 0; i < top; i++) {
		struct dt_fiber *f = &fs[i];

		if (f->state == DT_FIBER_FREE)
			continue;
		if (sigsetjmp(guard_jb, 1)) {
			dt_out_str(&o, "    (fault while reading this "
				   "fiber: it changed under the dump)\n");
			dt_out_flush(&o);
			continue;
		}
		one(&o, f, top, now, ucv, here_sp, &nbt);
	}
	guard_off();
	dt_out_str(&o, "dtact: end of fiber dump\n");
	dt_out_flush(&o);
	dt_self = me;
}
