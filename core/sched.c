/* SPDX-License-Identifier: MIT */
/*
 * core/sched.c - the mesh scheduler: workers, run queues, spawn placement,
 * park/unpark, the idle path and fiber exit (DESIGN 3 and 5).
 *
 * Switching.  A fiber that parks picks the next runnable fiber of its own
 * worker and switches to it directly; only when nothing is runnable does it
 * switch to the worker's scheduler loop ("idle context", running on the
 * worker thread's own stack), which polls timers and epoll and sleeps.
 * The switcher variant is chosen by the context being resumed (the idle
 * context always restores FP state).  errno belongs to the worker thread,
 * so it is saved in the fiber on every switch out and restored on every
 * switch in.
 *
 * Wake-ups.  A fiber is made runnable on its own worker only:
 *   - by that worker itself: pushed on the local FIFO, no atomics;
 *   - by another worker:     through the SPSC ring from that worker, plus a
 *                            bit in the target's mail_bits word;
 *   - by any other thread (or when the ring is full): the injection stack.
 * Then the waker reads the target's `sleeping` flag and writes its eventfd
 * only if the target announced that it is about to block in epoll_wait.
 * The waker's publish (a seq_cst RMW) and its load of `sleeping` are
 * ordered against the sleeper's store of `sleeping` and its re-check of
 * mail_bits/inject (both seq_cst), so one of the two always sees the
 * other: no lost wake-up, no syscall when the target is awake.
 *
 * Park/unpark race.  A fiber registers a wait record, releases the lock of
 * what it waits on, and parks.  A waker can claim the record and make the
 * fiber runnable in between; the fiber then finds itself in its own run
 * queue when it picks the next fiber, and simply goes on running.  Because
 * only the owner worker runs a fiber, a fiber in its run queue before it
 * has switched out is never resumed twice.
 */
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/futex.h>

#include "core/dt.h"
#include "core/dump.h"
#include "core/probes.h"
#include "core/reactor.h"
#include "core/real.h"
#include "core/stats.h"
#include "core/watchdog.h"

#ifdef DT_SAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

struct dt_runtime dt_rt;
uint32_t dt_fork_epoch;
__thread struct dt_worker *dt_self
	__attribute__((tls_model("initial-exec")));

#define IDLE_SPIN_NS	20000	/* spin this long before parking in epoll */
#define TRIM_BATCH	16	/* stacks an idle pass returns (~19 us each) */
#define TRIM_GAP_NS	1000000	/* idle passes while stacks are to return */
#define POLL_EVERY	64	/* picks between two looks at the clock */
#define POLL_GAP_NS	50000	/* a busy worker polls epoll this often */

/* ---------------------------------------------------------------- */
/* Local run queue (owner only)                                      */

static inline void runq_push(struct dt_worker *w, struct dt_fiber *f)
{
	dt_probe_ready(f);		/* switch_in's ready_ns, traced only */
	if (dt_unlikely(f->fresh)) {	/* never ran: may still move */
		dt_fresh_push(w, f);	/* core/watchdog.c */
		return;
	}
	f->next = NULL;
	f->state = DT_FIBER_READY;
	if (w->runq_tail)
		w->runq_tail->next = f;
	else
		w->runq_head = f;
	w->runq_tail = f;
	w->runq_len++;
}

static inline struct dt_fiber *runq_pop(struct dt_worker *w)
{
	struct dt_fiber *f = w->runq_head;

	if (f) {
		w->runq_head = f->next;
		if (!w->runq_head)
			w->runq_tail = NULL;
		w->runq_len--;
	}
	return f;
}

/* A fiber whose deadline passed runs next (its lateness is the point):
 * at the head of the queue. */
static inline void runq_push_front(struct dt_worker *w, struct dt_fiber *f)
{
	dt_probe_ready(f);		/* switch_in's ready_ns, traced only */
	f->state = DT_FIBER_READY;
	f->next = w->runq_head;
	w->runq_head = f;
	if (!w->runq_tail)
		w->runq_tail = f;
	w->runq_len++;
}

/* ---------------------------------------------------------------- */
/* Mailboxes and the injection stack                                  */

static unsigned mail_words(void)
{
	return (unsigned)(dt_rt.nworkers + 63) / 64;
}

static inline bool has_mail(struct dt_worker *w, memory_order mo)
{
	unsigned i, n;

	if (dt_likely(dt_rt.nworkers <= 64))	/* one word: two loads */
		return atomic_load_explicit(&w->inject, mo) ||
		       atomic_load_explicit(&w->mail_bits[0], mo);
	n = mail_words();
	if (atomic_load_explicit(&w->inject, mo))
		return true;
	for (i = 0; i < n; i++)
		if (atomic_load_explicit(&w->mail_bits[i], mo))
			return true;
	return false;
}

static void take_from_mailbox(void *ctx, uint32_t idx)
{
	struct dt_worker *w = ctx;

	runq_push(w, &dt_rt.arena.fibers[idx]);
	w->st.mailbox_in++;
}

static void drain_mail(struct dt_worker *w)
{
	unsigned i, n = mail_words();
	struct dt_fiber *l, *rev = NULL;

	for (i = 0; i < n; i++) {
		uint64_t bits;

		if (!atomic_load_explicit(&w->mail_bits[i],
					  memory_order_relaxed))
			continue;
		/* Pairs with the producer's fetch_or after its push: seeing
		 * the bit makes the ring's slots visible. */
		bits = atomic_exchange_explicit(&w->mail_bits[i], 0,
						memory_order_acq_rel);
		while (bits) {
			unsigned s = i * 64 + (unsigned)__builtin_ctzll(bits);
			struct dt_mailbox *m;

			bits &= bits - 1;
			/* Published before the bit (release in the store
			 * below plus the seq_cst RMW on the bit). */
			m = __atomic_load_n(&w->mbox[s], __ATOMIC_ACQUIRE);
			if (m)
				dt_mailbox_drain(m, take_from_mailbox, w);
		}
	}
	if (!atomic_load_explicit(&w->inject, memory_order_relaxed))
		return;
	/* Pairs with the release CAS in inject_push. */
	l = atomic_exchange_explicit(&w->inject, NULL, memory_order_acquire);
	while (l) {			/* reverse into push order */
		struct dt_fiber *nx = l->next;

		l->next = rev;
		rev = l;
		l = nx;
	}
	while (rev) {
		struct dt_fiber *nx = rev->next;

		runq_push(w, rev);
		w->st.inject_in++;
		rev = nx;
	}
}

static void inject_push(struct dt_worker *t, struct dt_fiber *f)
{
	struct dt_fiber *h = atomic_load_explicit(&t->inject,
						  memory_order_relaxed);
	do
		f->next = h;
	while (!atomic_compare_exchange_weak_explicit(&t->inject, &h, f,
			memory_order_seq_cst, memory_order_relaxed));
}

static void notify(struct dt_worker *t)
{
	/* seq_cst: ordered after the publish above (see file comment). */
	if (atomic_load_explicit(&t->sleeping, memory_order_seq_cst) &&
	    atomic_exchange_explicit(&t->sleeping, 0, memory_order_seq_cst)) {
		uint64_t one = 1;

		dt_sys(SYS_write, t->evfd, &one, sizeof(one), 0, 0, 0);
		if (dt_self)
			dt_self->st.wakeups_sent++;
	}
}

void dt_fiber_unpark(struct dt_fiber *f)
{
	struct dt_worker *t = f->worker, *me = dt_self;

	/* Probes: stamp before the publish below hands f to t. */
	dt_probe_ready(f);
	if (DTACT_WAKE_ENABLED())
		DTACT_WAKE(dt_fiber_handle(f), (uint32_t)t->id,
			   me ? me->id : -1);
	if (me == t) {
		runq_push(t, f);
		return;
	}
	if (me) {
		struct dt_mailbox *m = t->mbox[me->id];

		if (dt_unlikely(!m)) {
			/* Only this worker produces into t->mbox[me->id]. */
			m = aligned_alloc(DT_CACHELINE, sizeof(*m));
			if (m) {
				memset(m, 0, sizeof(*m));
				__atomic_store_n(&t->mbox[me->id], m,
						 __ATOMIC_RELEASE);
			}
		}
		if (m && dt_mailbox_push(m, f->idx)) {
			atomic_fetch_or_explicit(&t->mail_bits[me->id / 64],
						 1ull << (me->id % 64),
						 memory_order_seq_cst);
			notify(t);
			return;
		}
	}
	inject_push(t, f);
	notify(t);
}

/* ---------------------------------------------------------------- */
/* Switching                                                         */

static void reap(struct dt_worker *w, struct dt_fiber *f);
static void after_switch(struct dt_worker *w);

#ifdef DT_SAN
static inline void san_start(void **fake, const void *lo, size_t size)
{
	__sanitizer_start_switch_fiber(fake, lo, size);
}
static inline void san_finish(void *fake)
{
	__sanitizer_finish_switch_fiber(fake, NULL, NULL);
}
#define SAN_FAKE(f) (&(f)->asan_fake_stack)
#else
#define san_start(fake, lo, size) ((void)0)
#define san_finish(fake) ((void)0)
#endif

/*
 * The switch probes, with a tracer attached (core/probes.h).  Called
 * after the switch counter moved.  If it moved more than once since the
 * last switch seen here with the probes on, switches were made with them
 * off: this worker's "switched in at" stamp is stale, and so may be
 * ready stamps of its fibers (dt_probe_epoch).
 */
static __attribute__((noinline, cold)) void probe_switch(struct dt_worker *w,
		struct dt_fiber *from, struct dt_fiber *to)
{
	int64_t now = dt_now_ns();
	int gap = w->st.switches != w->pr_sw + 1;
	uint32_t e;

	if (gap)
		atomic_fetch_add_explicit(&dt_probe_epoch, 1,
					  memory_order_relaxed);
	e = atomic_load_explicit(&dt_probe_epoch, memory_order_relaxed);
	w->pr_sw = w->st.switches;
	if (from && DTACT_SWITCH_OUT_ENABLED())
		DTACT_SWITCH_OUT(dt_fiber_handle(from), (uint32_t)w->id,
				 (uint64_t)(gap || !w->pr_in_ns ? 0 :
					    now - w->pr_in_ns),
				 (uint32_t)from->reason);
	if (to && DTACT_SWITCH_IN_ENABLED()) {
		int64_t r = to->ready_ns;

		to->ready_ns = 0;	/* consumed */
		DTACT_SWITCH_IN(dt_fiber_handle(to), (uint32_t)w->id,
				(uint64_t)(r && to->ready_epoch == e &&
					   now >= r ? now - r : 0));
	}
	w->pr_in_ns = to ? now : 0;
}

/* Switch from the running fiber (or the loop, from == NULL) to `to`
 * (or the loop, to == NULL). */
static inline void switch_to(struct dt_worker *w, struct dt_fiber *from,
			     struct dt_fiber *to)
{
	void **save = from ? &from->sp : &w->idle_sp;
	void *load = to ? to->sp : w->idle_sp;

	w->cur = to;
	w->st.switches++;
	if (to)
		to->state = DT_FIBER_RUNNING;
	/* Two loads and a branch not taken unless a tracer is attached. */
	if (dt_unlikely(DTACT_SWITCH_OUT_ENABLED() |
			DTACT_SWITCH_IN_ENABLED()))
		probe_switch(w, from, to);
#ifdef DT_SAN
	{
		void **fake = from ? SAN_FAKE(from) : NULL;
		void *dead_fake;

		if (from && from->state == DT_FIBER_DONE)
			fake = NULL;	/* the stack dies: no fake stack */
		if (to)
			san_start(fake ? fake : &dead_fake, to->stack_lo,
				  to->stack_size);
		else
			san_start(fake ? fake : &dead_fake, w->loop_stack_lo,
				  w->loop_stack_size);
		if (!fake)
			(void)dead_fake;
	}
#endif
	if (!to || to->fp)
		dt_ctx_switch_fp(save, load);
	else
		dt_ctx_switch(save, load);
	san_finish(from ? from->asan_fake_stack : NULL);
}

static void poll_io(struct dt_worker *w, int64_t timeout_ns);

static void run_timers(struct dt_worker *w)
{
	if (w->timers.len) {
		int64_t now = dt_now_ns();

		if (dt_timer_next(&w->timers) <= now)
			dt_timer_run(&w->timers, now);
	}
}

/* Queue an interrupt request (bits) for f on its worker. */
static void interrupt_request(struct dt_fiber *f, uint8_t bits)
{
	struct dt_worker *w = f->worker;
	int i;

	/* Atomic RMWs, loads and an eventfd write: async-signal-safe.  A
	 * fiber with a request already queued is in a slot: only its bits
	 * change (the handler reads them after emptying the slot). */
	if (!atomic_fetch_or_explicit(&f->intr_req, bits,
				      memory_order_seq_cst)) {
		for (i = 0; i < DT_INTR_SLOTS; i++) {
			struct dt_fiber *exp = NULL;

			if (atomic_compare_exchange_strong_explicit(
				    &w->intr_fibers[i], &exp, f,
				    memory_order_seq_cst,
				    memory_order_relaxed))
				break;
		}
		/* Every slot taken: the request is dropped (dt.h), and f
		 * must not look queued to the next one. */
		if (i == DT_INTR_SLOTS)
			atomic_store_explicit(&f->intr_req, 0,
					      memory_order_relaxed);
	}
	atomic_store_explicit(&w->intr_pending, 1, memory_order_seq_cst);
	if (dt_self != w)
		notify(w);
}

void dt_fiber_interrupt_async(struct dt_fiber *f, int sa_restart)
{
	interrupt_request(f, DT_INTR_REQ_SIGNAL |
			  (sa_restart ? DT_INTR_REQ_RESTART : 0));
}

void dt_fiber_cancel_async(struct dt_fiber *f)
{
	interrupt_request(f, DT_INTR_REQ_CANCEL);
}

/* At a safe point of the owner worker: end interruptible waits. */
static void handle_interrupt(struct dt_worker *w)
{
	int i;

	atomic_store_explicit(&w->intr_pending, 0, memory_order_seq_cst);
	for (i = 0; i < DT_INTR_SLOTS; i++) {
		struct dt_fiber *f;
		uint8_t req;

		if (!atomic_load_explicit(&w->intr_fibers[i],
					  memory_order_relaxed))
			continue;
		f = atomic_exchange_explicit(&w->intr_fibers[i], NULL,
					     memory_order_seq_cst);
		/* A slot may name a fiber slot reused since: only this
		 * worker's fibers are looked at. */
		if (!f || f->worker != w)
			continue;
		req = atomic_exchange_explicit(&f->intr_req, 0,
					       memory_order_seq_cst);
		if (!req || f->state != DT_FIBER_PARKED || !f->wait ||
		    !f->intr)
			continue;
		if (!(req & DT_INTR_REQ_CANCEL)) {
			if (f->intr == DT_INTR_CANCEL)
				continue;	/* signals do not end it */
			if (f->intr == DT_INTR_RESTARTABLE &&
			    (req & DT_INTR_REQ_RESTART))
				continue;	/* SA_RESTART: goes on */
		}
		if (dt_waiter_claim(f->wait, DT_WAIT_INTERRUPTED)) {
			if (DTACT_WAKE_ENABLED())	/* woken by a signal */
				DTACT_WAKE(dt_fiber_handle(f),
					   (uint32_t)w->id, w->id);
			runq_push(w, f);
		}
	}
}

/* Pop the next runnable fiber.  Never-started fibers wait apart while
 * the stall watchdog runs (core/watchdog.h), taken in the run queue's
 * FIFO order (dt_fresh_pick).  One load when there are none. */
static inline struct dt_fiber *next_runnable(struct dt_worker *w)
{
	if (dt_unlikely(atomic_load_explicit(&w->fresh_n,
					     memory_order_relaxed))) {
		struct dt_fiber *f = dt_fresh_pick(w);

		if (f)
			return f;
	}
	return runq_pop(w);
}

/* Next fiber to run on w, from the fiber side (never blocks). */
static inline struct dt_fiber *pick(struct dt_worker *w)
{
	if (dt_unlikely(++w->tick >= POLL_EVERY)) {
		int64_t now = dt_now_ns();

		w->tick = 0;
		if (w->timers.len && dt_timer_next(&w->timers) <= now)
			dt_timer_run(&w->timers, now);
		/* A busy worker still looks at readiness, but by time and
		 * only when it has fds registered: no syscall on the switch
		 * path of fibers that only compute and yield. */
		if (atomic_load_explicit(&w->nregs, memory_order_relaxed) &&
		    now - w->last_poll >= POLL_GAP_NS) {
			w->last_poll = now;
			poll_io(w, 0);
		}
	}
	if (has_mail(w, memory_order_relaxed))
		drain_mail(w);
	if (dt_unlikely(atomic_load_explicit(&w->intr_pending,
					     memory_order_relaxed)))
		handle_interrupt(w);
	return next_runnable(w);
}

void dt_park(int reason)
{
	struct dt_worker *w = dt_self;
	struct dt_fiber *f = w->cur, *n;

	f->reason = (uint8_t)reason;
	w->st.parks[reason]++;
	f->state = DT_FIBER_PARKED;
	if (dt_unlikely(dt_dump_armed))	/* "for how long" in the dump */
		f->park_ns = dt_now_ns();
	n = pick(w);
	if (n == f) {		/* woken before it got out */
		f->state = DT_FIBER_RUNNING;
		return;
	}
	f->saved_errno = errno;
	switch_to(w, f, n);
	/* Resumed (on the same worker: fibers never move), possibly by a
	 * context that left a dead fiber behind. */
	after_switch(w);
	errno = f->saved_errno;
}

void dt_yield(void)
{
	struct dt_worker *w = dt_self;
	struct dt_fiber *f, *n;

	if (!w || !(f = w->cur)) {
		dt_sys(SYS_sched_yield, 0, 0, 0, 0, 0, 0);
		return;
	}
	n = pick(w);
	if (!n)			/* nothing else to run: go on */
		return;
	runq_push(w, f);
	f->reason = DT_REASON_YIELD;
	w->st.parks[DT_REASON_YIELD]++;
	f->saved_errno = errno;
	switch_to(w, f, n);
	after_switch(w);
	errno = f->saved_errno;
}

/* Runs first on every new fiber's stack (from dt_ctx_trampoline). */
static void fiber_entry(void *arg)
{
	struct dt_fiber *f = arg;

	san_finish(NULL);
	after_switch(f->worker);
	f->fresh = 0;		/* it ran: it stays on this worker (DESIGN 3) */
	errno = 0;
	f->fn(f->arg);
	dt_fiber_exit(NULL);
}

void dt_ctx_entry_returned(void)
{
	dt_msg("dtact: a fiber's entry function returned into the "
	       "trampoline; aborting\n");
	abort();
}

void dt_fiber_exit(void *retval)
{
	struct dt_worker *w = dt_self;
	struct dt_fiber *f = w->cur;
	struct dt_fiber *n;

	f->retval = retval;
	dt_keys_run_destructors(f);
	dt_keys_free(f);
	atomic_fetch_sub_explicit(&w->resident, 1, memory_order_relaxed);
	f->state = DT_FIBER_DONE;
	f->reason = DT_REASON_EXIT;
	w->st.parks[DT_REASON_EXIT]++;
	/* Joiner wake and slot release wait until we are off this stack. */
	w->dead = f;
	n = pick(w);
	switch_to(w, f, n);
	__builtin_unreachable();
}

static void after_switch(struct dt_worker *w)
{
	struct dt_fiber *d = w->dead;
	struct dt_waiter *j;
	int det;

	if (dt_likely(!d))
		return;
	w->dead = NULL;
	dt_spin_lock(&d->join_lock);
	d->done = 1;
	det = d->detached;
	j = d->joiner;
	d->joiner = NULL;
	/* Claim under the lock: a joiner whose deadline passed (or whose
	 * wait was interrupted) takes this lock before dt_fiber_join
	 * returns, so its record is valid here and may be gone after the
	 * unlock.  Once claimed, it stays valid until posted. */
	if (j && !dt_waiter_claim(j, DT_WAIT_WOKEN))
		j = NULL;
	dt_spin_unlock(&d->join_lock);
	if (det)
		reap(w, d);
	else if (j)
		dt_waiter_post(j);
}

static void reap(struct dt_worker *w, struct dt_fiber *f)
{
#ifdef DT_SAN
	{
		char *sp = f->sp, *top = (char *)f->stack_lo + f->stack_size;

		/* The frames f ended in (above its last saved sp) never
		 * returned, so their ASan redzones stay poisoned.  Clear
		 * them: the memory may leave the runtime (munmap below, a
		 * caller's mStack), and ASan does not see a raw munmap, so
		 * whatever is mapped there next would inherit false
		 * stack-buffer-overflow reports. */
		if (sp >= (char *)f->stack_lo && sp < top)
			__asan_unpoison_memory_region(sp, (size_t)(top - sp));
	}
#endif
	if (f->stack_kind == DT_STACK_MMAP)
		dt_sys(SYS_munmap, (char *)f->stack_lo - dt_rt.arena.page,
		       f->stack_size + dt_rt.arena.page, 0, 0, 0, 0);
	f->stack_kind = DT_STACK_ARENA;
	dt_arena_free(&dt_rt.arena, w, f);
}

/* ---------------------------------------------------------------- */
/* Spawn                                                             */

static struct dt_worker *place(int hint)
{
	struct dt_worker *me = dt_self, *best, *ws = dt_rt.workers;
	int n = dt_rt.nworkers, i;
	uint32_t mine, slack;

	if (hint >= 0)
		return &ws[hint % n];
	if (n == 1)
		return &ws[0];
	if (!me) {
		uint32_t r = atomic_fetch_add_explicit(&dt_rt.rr, 1,
						       memory_order_relaxed);
		struct dt_worker *a = &ws[r % n], *b = &ws[(r + 1) % n];

		return atomic_load_explicit(&b->resident,
					    memory_order_relaxed) <
		       atomic_load_explicit(&a->resident,
					    memory_order_relaxed) ? b : a;
	}
	/*
	 * Deflection: stay local (cheapest: no mailbox, warm cache) unless
	 * this worker holds clearly more fibers than the least loaded peer.
	 * Up to 8 workers every peer is looked at, beyond that two chosen
	 * by the tick (power of two choices).
	 */
	mine = atomic_load_explicit(&me->resident, memory_order_relaxed);
	slack = 2 + mine / 8;
	best = me;
	if (n <= 8) {
		for (i = 0; i < n; i++) {
			uint32_t r = atomic_load_explicit(&ws[i].resident,
							  memory_order_relaxed);
			if (r + slack < mine && r < atomic_load_explicit(
				    &best->resident, memory_order_relaxed))
				best = &ws[i];
		}
	} else {
		uint32_t x = (uint32_t)me->st.spawns * 2654435761u;

		for (i = 0; i < 2; i++) {
			struct dt_worker *c = &ws[(x >> (i * 16)) % n];
			uint32_t r = atomic_load_explicit(&c->resident,
							  memory_order_relaxed);
			if (r + slack < mine)
				best = c;
		}
	}
	return best;
}

static int setup_stack(struct dt_fiber *f, const struct dt_spawn *s)
{
	struct dt_arena *a = &dt_rt.arena;

	if (s->stack) {
		f->stack_lo = s->stack;
		f->stack_size = s->stack_size;
		f->stack_kind = DT_STACK_USER;
		return 0;
	}
	if (s->stack_size > a->stack_bytes) {
		size_t sz = (s->stack_size + a->page - 1) & ~(a->page - 1);
		long r = dt_sys(SYS_mmap, 0, sz + a->page,
				PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE |
				MAP_STACK, -1, 0);
		if (r < 0 && r > -4096)
			return -EAGAIN;
		/* Guard page below the stack. */
		dt_sys(SYS_mprotect, r, a->page, PROT_NONE, 0, 0, 0);
		f->stack_lo = (char *)r + a->page;
		f->stack_size = sz;
		f->stack_kind = DT_STACK_MMAP;
		return 0;
	}
	return dt_arena_commit_stack(a, f);
}

int dt_spawn(const struct dt_spawn *s, struct dt_fiber **out)
{
	return dt_spawn_handle(s, out, NULL);
}

int dt_spawn_handle(const struct dt_spawn *s, struct dt_fiber **out,
		    uint64_t *handle)
{
	struct dt_worker *me = dt_self, *t;
	struct dt_fiber *f;
	int r;

	if (atomic_load_explicit(&dt_rt.state, memory_order_acquire) != 1)
		return -EINVAL;
	f = dt_arena_alloc(&dt_rt.arena, me);
	if (!f)
		return -EAGAIN;
	r = setup_stack(f, s);
	if (r) {
		dt_arena_free(&dt_rt.arena, me, f);
		return r == -ENOMEM ? -EAGAIN : r;
	}
	f->next = NULL;
	f->fn = s->fn;
	f->arg = s->arg;
	f->retval = NULL;
	f->fp = s->fp;
	f->kind = s->kind;
	f->reason = 0;
	f->saved_errno = 0;
	f->detached = s->detached;
	f->done = 0;
	f->joiner = NULL;
	atomic_store_explicit(&f->join_lock, 0, memory_order_relaxed);
	f->wait = NULL;
	f->intr = 0;
	atomic_store_explicit(&f->intr_req, 0, memory_order_relaxed);
	atomic_store_explicit(&f->cancel, 0, memory_order_relaxed);
	f->cleanup = NULL;
	f->keys = NULL;
	f->user = s->user;
	f->name[0] = 0;
	f->wait_obj = 0;
	f->park_ns = 0;
	f->ready_ns = 0;
	/* Unpinned and never run: the stall watchdog may move it. */
	f->fresh = s->worker < 0 && dt_wd_on;
	dt_timer_init(&f->timer, NULL);
	f->sp = dt_ctx_init((char *)f->stack_lo + f->stack_size, fiber_entry,
			    f);
	t = place(s->worker);
	if (s->worker < 0 && dt_unlikely(atomic_load_explicit(&t->stalled,
						memory_order_relaxed)))
		t = dt_wd_spare(t);	/* not behind a stalled fiber */
	f->worker = t;
	f->state = DT_FIBER_READY;	/* not FREE: its handle is valid now */
	atomic_fetch_add_explicit(&t->resident, 1, memory_order_relaxed);
	if (me)
		me->st.spawns++;
	else
		atomic_fetch_add_explicit(&dt_stats_spawns_ext, 1,
					  memory_order_relaxed);
	if (out)
		*out = f;
	if (handle)
		*handle = dt_fiber_handle(f);
	if (DTACT_SPAWN_ENABLED())
		DTACT_SPAWN(dt_fiber_handle(f), (uint32_t)t->id,
			    me && me->cur ? dt_fiber_handle(me->cur) : 0);
	dt_fiber_unpark(f);
	return 0;
}

/* ---------------------------------------------------------------- */
/* Join and detach                                                    */

int dt_fiber_lookup(uint64_t h, struct dt_fiber **out)
{
	uint32_t lo = (uint32_t)h;
	struct dt_fiber *f;

	if (!lo || lo > dt_rt.arena.cap || !dt_rt.arena.fibers)
		return -ESRCH;
	f = &dt_rt.arena.fibers[lo - 1];
	if (atomic_load_explicit(&f->gen, memory_order_acquire) !=
	    (uint32_t)(h >> 32) || f->state == DT_FIBER_FREE)
		return -ESRCH;
	*out = f;
	return 0;
}

int dt_fiber_join(struct dt_fiber *f, void **retval, int64_t deadline,
		  clockid_t clk)
{
	struct dt_waiter w;
	int st;

	if (f == dt_current())
		return -EDEADLK;
	dt_spin_lock(&f->join_lock);
	if (f->detached || f->joiner) {
		dt_spin_unlock(&f->join_lock);
		return -EINVAL;
	}
	if (!f->done) {
		dt_waiter_init(&w);
		f->joiner = &w;
		dt_spin_unlock(&f->join_lock);
		st = dt_waiter_block(&w, deadline, clk, DT_REASON_JOIN);
		if (st != DT_WAIT_WOKEN) {
			dt_spin_lock(&f->join_lock);
			if (f->joiner == &w)
				f->joiner = NULL;
			dt_spin_unlock(&f->join_lock);
			return st == DT_WAIT_INTERRUPTED ? -EINTR : -ETIMEDOUT;
		}
	} else {
		dt_spin_unlock(&f->join_lock);
	}
	if (retval)
		*retval = f->retval;
	reap(dt_self, f);
	return 0;
}

int dt_fiber_detach(struct dt_fiber *f)
{
	int done;

	dt_spin_lock(&f->join_lock);
	if (f->detached) {
		dt_spin_unlock(&f->join_lock);
		return -EINVAL;
	}
	f->detached = 1;
	done = f->done;
	dt_spin_unlock(&f->join_lock);
	if (done)
		reap(dt_self, f);
	return 0;
}

/* ---------------------------------------------------------------- */
/* Waiters                                                           */

void dt_waiter_init(struct dt_waiter *w)
{
	w->next = w->prev = NULL;
	w->group = w;
	w->fiber = dt_current();
	atomic_store_explicit(&w->state, DT_WAIT_WAITING,
			      memory_order_relaxed);
	atomic_store_explicit(&w->posted, 0, memory_order_relaxed);
	w->data = 0;
	w->linked = 0;
	w->epoch = dt_fork_epoch;
}

void dt_waiter_init_member(struct dt_waiter *w, struct dt_waiter *g)
{
	w->next = w->prev = NULL;
	w->group = g;
	w->fiber = g->fiber;
	w->data = 0;
	w->linked = 0;
}

static void waiter_timeout(struct dt_timer *t)
{
	struct dt_fiber *f = (struct dt_fiber *)((char *)t -
					offsetof(struct dt_fiber, timer));
	struct dt_waiter *w = f->wait;

	if (w && dt_waiter_claim(w, DT_WAIT_TIMEDOUT)) {
		if (DTACT_WAKE_ENABLED())	/* woken by its deadline */
			DTACT_WAKE(dt_fiber_handle(f),
				   (uint32_t)f->worker->id, f->worker->id);
		runq_push_front(f->worker, f);
	}
}

int dt_waiter_block(struct dt_waiter *w, int64_t deadline, clockid_t clk,
		    int reason)
{
	struct dt_fiber *f = w->fiber;

	if (f) {
		int armed = 0;

		if (deadline != DT_DEADLINE_NONE) {
			int64_t mono = dt_deadline_to_mono(deadline, clk);

			if (mono <= dt_now_ns()) {
				if (dt_waiter_claim(w, DT_WAIT_TIMEDOUT))
					return DT_WAIT_TIMEDOUT;
			} else {
				f->timer.fire = waiter_timeout;
				armed = dt_timer_add(&f->worker->timers,
						     &f->timer, mono) == 0;
			}
		}
		f->wait = w;
		dt_park(reason);
		if (armed)
			dt_timer_cancel(&f->worker->timers, &f->timer);
		f->wait = NULL;
		return (int)atomic_load_explicit(&w->state,
						 memory_order_acquire);
	}
	for (;;) {
		long r;

		/* Pairs with the release store in dt_waiter_post. */
		if (atomic_load_explicit(&w->posted, memory_order_acquire))
			return (int)atomic_load_explicit(&w->state,
						memory_order_acquire);
		r = dt_futex_wait(&w->posted, 0, deadline, clk);
		if (r == -ETIMEDOUT) {
			if (dt_waiter_claim(w, DT_WAIT_TIMEDOUT))
				return DT_WAIT_TIMEDOUT;
			/* A waker claimed first: wait for its post. */
			deadline = DT_DEADLINE_NONE;
		}
	}
}

void dt_waiter_post(struct dt_waiter *w)
{
	struct dt_fiber *f;

	w = w->group;
	f = w->fiber;
	if (f) {
		dt_fiber_unpark(f);
		return;
	}
	/* After this store the waiter may return: touch nothing of it but
	 * the futex word's address, which the kernel only hashes. */
	atomic_store_explicit(&w->posted, 1, memory_order_release);
	dt_futex_wake(&w->posted, 1);
}

int dt_sleep_until(int64_t deadline, clockid_t clk)
{
	struct dt_waiter w;

	if (!dt_current()) {
		struct timespec ts = { deadline / 1000000000,
				       deadline % 1000000000 };
		long r;

		do
			r = dt_sys(SYS_clock_nanosleep, clk, TIMER_ABSTIME,
				   &ts, NULL, 0, 0);
		while (r == -EINTR);
		return 0;
	}
	if (deadline != DT_DEADLINE_NONE &&
	    dt_deadline_to_mono(deadline, clk) <= dt_now_ns()) {
		/* Already due: still a turn for the worker's other fibers,
		 * as a thread's zero sleep passes through the kernel's
		 * scheduler.  Without it a fiber polling a flag with
		 * usleep(0) would starve the fiber that is to set it. */
		dt_yield();
		return 0;
	}
	dt_waiter_init(&w);
	if (dt_waiter_block(&w, deadline, clk, DT_REASON_SLEEP) ==
	    DT_WAIT_INTERRUPTED)
		return -EINTR;
	return 0;
}

/* ---------------------------------------------------------------- */
/* Time, futex, messages                                              */

int64_t dt_clock_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return dt_ts_to_ns(&ts);
}

int64_t dt_deadline_to_mono(int64_t deadline, clockid_t clk)
{
	int64_t d;

	if (clk == CLOCK_MONOTONIC || deadline == DT_DEADLINE_NONE)
		return deadline;
	d = deadline - dt_clock_ns(clk);
	if (d > INT64_MAX / 2)
		return DT_DEADLINE_NONE;
	return dt_now_ns() + d;
}

long dt_futex_wait(_Atomic uint32_t *addr, uint32_t val, int64_t deadline,
		   clockid_t clk)
{
	struct timespec ts, *tp = NULL;
	int op = FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG;

	if (deadline != DT_DEADLINE_NONE) {
		if (deadline < 0)
			deadline = 0;
		ts.tv_sec = deadline / 1000000000;
		ts.tv_nsec = deadline % 1000000000;
		tp = &ts;
		if (clk == CLOCK_REALTIME)
			op |= FUTEX_CLOCK_REALTIME;
	}
	return dt_sys(SYS_futex, addr, op, val, tp, NULL,
		      FUTEX_BITSET_MATCH_ANY);
}

long dt_futex_wake(_Atomic uint32_t *addr, int n)
{
	return dt_sys(SYS_futex, addr, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, n,
		      NULL, NULL, 0);
}

void dt_msg(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 1)
		n = sizeof(buf) - 1;
	if (n > 0)
		dt_sys(SYS_write, 2, buf, n, 0, 0, 0);
}

/* ---------------------------------------------------------------- */
/* Workers: init, loop, shutdown                                      */

/* The worker's eventfd.  Reactor entries carry gen << 32 | fd with fd a
 * non-negative int, so their low half is never all ones (0 would be fd 0,
 * stdin, at generation 0: its readiness was taken for a mailbox signal). */
#define EV_TAG_EVENTFD	(~0ull)

static void poll_io(struct dt_worker *w, int64_t timeout_ns)
{
	struct epoll_event ev[128];
	struct timespec ts, *tp = NULL;
	long n, i;

	if (timeout_ns >= 0) {
		ts.tv_sec = timeout_ns / 1000000000;
		ts.tv_nsec = timeout_ns % 1000000000;
		tp = &ts;
	}
	if (timeout_ns)
		w->st.epoll_waits++;
	n = dt_sys(SYS_epoll_pwait2, w->epfd, ev, 128, tp, NULL, 8);
	if (n == -ENOSYS) {
		int ms = timeout_ns < 0 ? -1 :
			 (int)((timeout_ns + 999999) / 1000000);
		n = dt_sys(SYS_epoll_wait, w->epfd, ev, 128, ms, 0, 0);
	}
	for (i = 0; i < n; i++) {
		if (ev[i].data.u64 == EV_TAG_EVENTFD) {
			uint64_t v;

			dt_sys(SYS_read, w->evfd, &v, sizeof(v), 0, 0, 0);
			continue;
		}
		dt_reactor_event(w, ev[i].data.u64, ev[i].events);
	}
}

void dt_worker_loop(struct dt_worker *w)
{
	dt_self = w;
	/* Entered by a first switch to the loop's context (the shim's worker
	 * 0): the fiber that switched here may be exiting (w->dead), and its
	 * joiner is woken only by after_switch. */
	after_switch(w);
	{
		pthread_attr_t at;
		/* For the sanitizers' stack bookkeeping only. */
		if (!pthread_getattr_np(pthread_self(), &at)) {
			pthread_attr_getstack(&at, &w->loop_stack_lo,
					      &w->loop_stack_size);
			pthread_attr_destroy(&at);
		}
	}
	for (;;) {
		struct dt_fiber *f;
		int i;

		if (has_mail(w, memory_order_relaxed))
			drain_mail(w);
		if (atomic_load_explicit(&w->intr_pending,
					 memory_order_relaxed))
			handle_interrupt(w);
		run_timers(w);
		f = next_runnable(w);
		if (f) {
			switch_to(w, NULL, f);
			after_switch(w);
			w->cur = NULL;
			continue;
		}
		if (atomic_load_explicit(&dt_rt.state,
					 memory_order_acquire) != 1)
			break;
		poll_io(w, 0);
		if (w->runq_head || atomic_load_explicit(&w->fresh_n,
						memory_order_relaxed))
			continue;
		/* Spin for a while (by time: a pause costs 10 to 140
		 * cycles depending on the CPU) before the epoll syscalls. */
		{
			int64_t until = dt_now_ns() + IDLE_SPIN_NS;

			for (i = 0; !has_mail(w, memory_order_relaxed); i++) {
				__builtin_ia32_pause();
				if ((i & 63) == 63 && dt_now_ns() >= until)
					break;
			}
		}
		if (has_mail(w, memory_order_relaxed))
			continue;
		/* Announce, then re-check: see the file comment. */
		atomic_store_explicit(&w->sleeping, 1, memory_order_seq_cst);
		if (has_mail(w, memory_order_seq_cst) ||
		    atomic_load_explicit(&w->intr_pending,
					 memory_order_seq_cst) ||
		    atomic_load_explicit(&dt_rt.state,
					 memory_order_seq_cst) != 1) {
			atomic_store_explicit(&w->sleeping, 0,
					      memory_order_relaxed);
			continue;
		}
		{
			int64_t next = dt_timer_next(&w->timers), to = -1;

			if (next != DT_DEADLINE_NONE) {
				to = next - dt_now_ns();
				if (to < 0)
					to = 0;
			}
			/* Idle: return spare warm stacks, a batch per pass,
			 * coming back soon while some remain. */
			if ((to < 0 || to > 2 * TRIM_GAP_NS) &&
			    dt_arena_trim(&dt_rt.arena, TRIM_BATCH))
				to = TRIM_GAP_NS;
			{	/* park/unpark probes: idle time, traced only */
				int64_t t0 = DTACT_UNPARK_ENABLED() ?
					     dt_now_ns() : 0;

				if (DTACT_PARK_ENABLED())
					DTACT_PARK((uint32_t)w->id);
				poll_io(w, to);
				if (DTACT_UNPARK_ENABLED())
					DTACT_UNPARK((uint32_t)w->id,
						(uint64_t)(t0 ? dt_now_ns() -
							   t0 : 0));
			}
		}
		atomic_store_explicit(&w->sleeping, 0, memory_order_relaxed);
	}
	dt_self = NULL;
}

static void *worker_main(void *arg)
{
	struct dt_worker *w = arg;
	sigset_t all;

	/* Workers take no asynchronous signals meant for the application:
	 * the kernel delivers them to a thread that has them unblocked. */
	sigfillset(&all);
	sigdelset(&all, SIGSEGV);
	sigdelset(&all, SIGBUS);
	sigdelset(&all, SIGFPE);
	sigdelset(&all, SIGILL);
	sigdelset(&all, SIGABRT);
	sigdelset(&all, SIGTRAP);
	/* Raised by the kernel for the thread making the call (a write to
	 * a broken pipe, past RLIMIT_FSIZE, a filtered system call): the
	 * fiber making it runs here, and the signal must reach it now. */
	sigdelset(&all, SIGPIPE);
	sigdelset(&all, SIGXFSZ);
	sigdelset(&all, SIGSYS);
	pthread_sigmask(SIG_SETMASK, &all, NULL);
	dt_worker_loop(w);
	return NULL;
}

int dt_rt_init(int nworkers, size_t stack_size, uint32_t max_fibers)
{
	int i, r, expect = 0;
	unsigned words = (unsigned)(nworkers + 63) / 64;

	if (!atomic_compare_exchange_strong(&dt_rt.state, &expect, 3))
		return -EBUSY;
	dt_rt.nworkers = nworkers;
	dt_rt.stack_size = stack_size;
	dt_rt.max_fibers = max_fibers;
	r = dt_arena_init(&dt_rt.arena, max_fibers, stack_size);
	if (r)
		goto out_state;
	r = -ENOMEM;
	dt_rt.workers = aligned_alloc(DT_CACHELINE,
			((sizeof(struct dt_worker) * nworkers + DT_CACHELINE -
			  1) / DT_CACHELINE) * DT_CACHELINE);
	if (!dt_rt.workers)
		goto out_arena;
	memset(dt_rt.workers, 0, sizeof(struct dt_worker) * nworkers);
	dt_rt.threads = calloc(nworkers, sizeof(pthread_t));
	if (!dt_rt.threads)
		goto out_workers;
	r = dt_reactor_init(max_fibers);
	if (r)
		goto out_threads;
	for (i = 0; i < nworkers; i++) {
		struct dt_worker *w = &dt_rt.workers[i];
		struct epoll_event ev = { .events = EPOLLIN,
					  .data.u64 = EV_TAG_EVENTFD };
		long fd;

		w->id = i;
		w->epfd = w->evfd = -1;
		w->mail_bits = calloc(words, sizeof(uint64_t));
		w->mbox = calloc(nworkers, sizeof(*w->mbox));
		r = -ENOMEM;
		if (!w->mail_bits || !w->mbox ||
		    dt_timer_heap_init(&w->timers, 1024))
			goto out_workers_fds;
		fd = dt_sys(SYS_epoll_create1, EPOLL_CLOEXEC, 0, 0, 0, 0, 0);
		if (fd < 0) {
			r = (int)fd;
			goto out_workers_fds;
		}
		w->epfd = (int)fd;
		fd = dt_sys(SYS_eventfd2, 0, EFD_CLOEXEC | EFD_NONBLOCK, 0, 0,
			    0, 0);
		if (fd < 0) {
			r = (int)fd;
			goto out_workers_fds;
		}
		w->evfd = (int)fd;
		r = (int)dt_sys(SYS_epoll_ctl, w->epfd, EPOLL_CTL_ADD,
				w->evfd, &ev, 0, 0);
		if (r)
			goto out_workers_fds;
	}
	atomic_store_explicit(&dt_rt.state, 1, memory_order_release);
	return 0;

out_workers_fds:
	for (i = 0; i < nworkers; i++) {
		struct dt_worker *w = &dt_rt.workers[i];

		if (w->epfd >= 0 && w->id == i)
			dt_sys(SYS_close, w->epfd, 0, 0, 0, 0, 0);
		if (w->evfd >= 0 && w->id == i)
			dt_sys(SYS_close, w->evfd, 0, 0, 0, 0, 0);
		free(w->mail_bits);
		free(w->mbox);
		dt_timer_heap_fini(&w->timers);
	}
	dt_reactor_fini();
out_threads:
	free(dt_rt.threads);
out_workers:
	free(dt_rt.workers);
	dt_rt.workers = NULL;
out_arena:
	dt_arena_fini(&dt_rt.arena);
out_state:
	atomic_store(&dt_rt.state, 0);
	return r;
}

int dt_rt_start_workers(int first)
{
	pthread_t *th = dt_rt.threads;
	pthread_attr_t at;
	int i, r = 0;

	pthread_attr_init(&at);
	pthread_attr_setstacksize(&at, 256 << 10);
	for (i = first; i < dt_rt.nworkers; i++) {
		r = dt_real.pthread_create(&th[i], &at, worker_main,
					   &dt_rt.workers[i]);
		if (r) {
			r = -r;
			break;
		}
	}
	pthread_attr_destroy(&at);
	return r;
}

/* The child's worker 0 (see dt_rt_fork_child): owned by keep, nothing
 * queued, parked or pending. */
static void fork_reset_worker(struct dt_worker *w, struct dt_fiber *keep,
			      int epfd, int evfd, unsigned mail_words_old)
{
	unsigned i;

	w->cur = keep;
	w->idle_sp = NULL;
	w->runq_head = w->runq_tail = NULL;
	w->runq_len = 0;
	w->tick = 0;
	atomic_store_explicit(&w->fresh_n, 0, memory_order_relaxed);
	w->fresh_head = w->fresh_tail = NULL;
	w->last_poll = 0;
	w->dead = NULL;
	w->timers.len = 0;	/* every armed timer was another fiber's */
	w->epfd = epfd;
	w->evfd = evfd;
	w->pr_sw = 0;
	w->pr_in_ns = 0;
	atomic_store_explicit(&w->resident, 1, memory_order_relaxed);
	atomic_store_explicit(&w->sleeping, 0, memory_order_relaxed);
	atomic_store_explicit(&w->inject, NULL, memory_order_relaxed);
	atomic_store_explicit(&w->nregs, 0, memory_order_relaxed);
	atomic_store_explicit(&w->intr_pending, 0, memory_order_relaxed);
	for (i = 0; i < DT_INTR_SLOTS; i++)
		atomic_store_explicit(&w->intr_fibers[i], NULL,
				      memory_order_relaxed);
	for (i = 0; i < mail_words_old; i++)
		atomic_store_explicit(&w->mail_bits[i], 0,
				      memory_order_relaxed);
}

int dt_rt_fork_child(struct dt_fiber *keep)
{
	struct dt_worker *w0 = &dt_rt.workers[0];
	struct epoll_event ev = { .events = EPOLLIN,
				  .data.u64 = EV_TAG_EVENTFD };
	struct dt_arena *a = &dt_rt.arena;
	uint32_t i, top;
	long epfd, evfd, r;
	int k;

	dt_fork_epoch++;
	epfd = dt_sys(SYS_epoll_create1, EPOLL_CLOEXEC, 0, 0, 0, 0, 0);
	if (epfd < 0)
		return (int)epfd;
	evfd = dt_sys(SYS_eventfd2, 0, EFD_CLOEXEC | EFD_NONBLOCK, 0, 0, 0, 0);
	if (evfd < 0) {
		dt_sys(SYS_close, epfd, 0, 0, 0, 0, 0);
		return (int)evfd;
	}
	r = dt_sys(SYS_epoll_ctl, epfd, EPOLL_CTL_ADD, evfd, &ev, 0, 0);
	if (r) {
		dt_sys(SYS_close, epfd, 0, 0, 0, 0, 0);
		dt_sys(SYS_close, evfd, 0, 0, 0, 0, 0);
		return (int)r;
	}
	/* The parent's: closing the child's descriptors of them leaves the
	 * instances and their registrations to the parent. */
	for (k = 0; k < dt_rt.nworkers; k++) {
		dt_sys(SYS_close, dt_rt.workers[k].epfd, 0, 0, 0, 0, 0);
		dt_sys(SYS_close, dt_rt.workers[k].evfd, 0, 0, 0, 0, 0);
	}
	dt_arena_fork_child(a);
	dt_wd_fork_child();
	/* The other fibers vanished with the other threads. */
	top = atomic_load_explicit(&a->top, memory_order_relaxed);
	for (i = 0; i < top && i < a->cap; i++) {
		struct dt_fiber *f = &a->fibers[i];

		if (f == keep || f->state == DT_FIBER_FREE)
			continue;
		if (f->state == DT_FIBER_DONE && !f->detached) {
			/* A zombie: joinable, its exit complete. */
			f->worker = w0;
			f->next = NULL;
			f->done = 1;
			f->joiner = NULL;
			atomic_store_explicit(&f->join_lock, 0,
					      memory_order_relaxed);
			continue;
		}
		/* As reap(); key values are lost as a vanished thread's
		 * are (no destructor runs). */
		if (f->stack_kind == DT_STACK_MMAP)
			dt_sys(SYS_munmap, (char *)f->stack_lo - a->page,
			       f->stack_size + a->page, 0, 0, 0, 0);
		f->stack_kind = DT_STACK_ARENA;
		f->keys = NULL;
		dt_arena_free(a, NULL, f);
	}
	fork_reset_worker(w0, keep, (int)epfd, (int)evfd, mail_words());
	keep->worker = w0;
	keep->next = NULL;
	keep->fresh = 0;
	keep->wait = NULL;
	keep->joiner = NULL;	/* a joiner of the parent's is gone */
	/* No signal is pending in a new process; a cancellation request,
	 * state of the thread, stays. */
	atomic_fetch_and_explicit(&keep->intr_req, DT_INTR_REQ_CANCEL,
				  memory_order_relaxed);
	atomic_store_explicit(&keep->join_lock, 0, memory_order_relaxed);
	dt_rt.nworkers = 1;
	atomic_store_explicit(&dt_rt.rr, 0, memory_order_relaxed);
	dt_reactor_fork_child();
	dt_self = w0;
	return 0;
}

void dt_rt_shutdown(void)
{
	int i, one = 1;

	if (!atomic_compare_exchange_strong(&dt_rt.state, &one, 2))
		return;
	for (i = 0; i < dt_rt.nworkers; i++) {
		uint64_t v = 1;

		dt_sys(SYS_write, dt_rt.workers[i].evfd, &v, sizeof(v), 0, 0,
		       0);
	}
}

/* Called after dt_rt_shutdown by the thread that ran worker `self_id`
 * (or -1): joins the worker threads and frees everything. */
void dt_rt_fini(void)
{
	pthread_t *th = dt_rt.threads;
	int i;

	for (i = 0; i < dt_rt.nworkers; i++) {
		struct dt_worker *w = &dt_rt.workers[i];
		unsigned s;

		if (th[i])
			dt_real.pthread_join(th[i], NULL);
		dt_sys(SYS_close, w->epfd, 0, 0, 0, 0, 0);
		dt_sys(SYS_close, w->evfd, 0, 0, 0, 0, 0);
		for (s = 0; s < (unsigned)dt_rt.nworkers; s++)
			free(w->mbox[s]);
		free(w->mbox);
		free(w->mail_bits);
		dt_timer_heap_fini(&w->timers);
	}
	dt_reactor_fini();
	free(dt_rt.threads);
	free(dt_rt.workers);
	dt_rt.workers = NULL;
	dt_arena_fini(&dt_rt.arena);
	atomic_store(&dt_rt.state, 0);
}
