/* SPDX-License-Identifier: MIT */
/*
 * core/watchdog.c - the stall watchdog (DESIGN 9) and the lists of
 * never-started fibers it can hand to another worker.  Contract and
 * definitions: core/watchdog.h.
 *
 * The thread.  One plain thread (dt_real.pthread_create, every signal
 * blocked, named "dtact-watchdog") wakes every DTACT_STALL_MS / 2 and
 * looks at each worker from outside, without a lock and without a store
 * into the worker:
 *   - its switch counter (st.switches, written by the worker only);
 *   - whether work waits for it: run queue length, never-started fibers,
 *     injection stack, mailbox bits.
 * A worker is stalled when its counter has not moved, and work has been
 * seen waiting at every look, for at least DTACT_STALL_MS.  An idle
 * worker (nothing waiting) and a busy one (switching) never are.  The
 * episode ends when the counter moves again.  Detection takes between
 * DTACT_STALL_MS and 1.5 x DTACT_STALL_MS after the work arrived.
 *
 * What an episode does, once: count it (dt_wd_counts, statistics), fire
 * the stall probe, print one line if DTACT_STALL_WARN=1; and while it
 * lasts, at every look: flag the worker (w->stalled: spawn placement
 * avoids it) and hand its never-started fibers to the least loaded worker
 * that is not stalled.
 *
 * Which fibers can move, and why only those (DESIGN 3: a fiber that has
 * run stays on its worker, errno and __thread addresses are cached by the
 * compiler):
 *   - never-started fibers in the worker's `fresh` list: placed there by
 *     spawn (or drained into it from mailboxes and the injection stack)
 *     instead of the run queue, because the run queue is the owner's
 *     alone.  The owner and the watchdog exclude each other on it
 *     (asymmetrically, see "Never-started fibers" below): a fiber is
 *     taken by exactly one of them.
 *   - never-started fibers on the injection stack: the watchdog takes the
 *     whole stack with an exchange, as the owner does, and pushes back
 *     the fibers that have run (their order among later pushes may
 *     change; each is still run once).
 * Fibers the watchdog cannot reach: those in the SPSC mailboxes (their
 * consumer is the owner alone; the owner moves them into `fresh` when it
 * drains them, so a worker that is stuck keeps them), and every fiber
 * that has already run (woken ones wait in the run queue).
 *
 * A moved fiber: f->worker is rewritten and the resident counts follow,
 * then dt_fiber_unpark() pushes it on its new worker's injection stack
 * (a release CAS, so the new worker sees f->worker and the rest of the
 * fiber) and wakes that worker.  f->fresh stays set: the new worker
 * queues it in its own `fresh` list, and it can move again.
 */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <linux/membarrier.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "core/dt.h"
#include "core/probes.h"
#include "core/real.h"
#include "core/watchdog.h"

int dt_wd_on;

/* Per worker, the watchdog thread's own (the counters are read racily by
 * the statistics). */
struct wd_worker {
	uint64_t last_sw;	/* switch counter at the last look */
	int64_t sw_since;	/* when it was last seen to move, 0: never */
	int64_t work_since;	/* work seen waiting at every look since, 0:
				   none at the last look */
	uint8_t stalled;	/* in an episode */
	uint64_t stalls;	/* episodes */
	uint64_t moved;		/* never-started fibers handed elsewhere */
};

static struct {
	pthread_t th;
	int running;
	_Atomic uint32_t stop;	/* futex word: 1 asks the thread to end */
	int64_t stall_ns;
	int warn;
	struct wd_worker *ws;	/* nws entries, kept after a stop for the
				   statistics; replaced at the next start */
	int nws;
} wd;

/* ---------------------------------------------------------------- */
/* Never-started fibers                                               */

/*
 * The list is touched by its owner on every spawn and every pick of a new
 * fiber, and by the watchdog only while the worker is stalled.  So the
 * exclusion is asymmetric (Dekker's, with the expensive half on the rare
 * side): the owner announces itself with a plain store and checks for the
 * watchdog with a plain load, with only a compiler barrier in between;
 * the watchdog announces itself, then makes every thread of the process
 * execute a full barrier (membarrier(2), MEMBARRIER_CMD_PRIVATE_EXPEDITED)
 * and waits for the owner to be out.  The membarrier orders the owner's
 * store before its load as a fence would, so either the watchdog sees
 * fresh_own = 1 (and waits), or the owner sees fresh_steal = 1 (and steps
 * back until the watchdog is done), never neither.  Without membarrier
 * (an old kernel, a seccomp filter) the owner pays a real fence instead.
 *
 *   owner                           watchdog
 *   fresh_own = 1                   fresh_steal = 1
 *   compiler barrier                membarrier()   (pairs with the left)
 *   if fresh_steal: back off        while fresh_own: pause
 *   ... list ...                    ... list ...
 *   fresh_own = 0 (release)         fresh_steal = 0 (release)
 *
 * The releases pair with the other side's acquire loads, so each side sees
 * the list as the other left it.
 */
static int owner_fences;	/* 1: no membarrier, the owner fences */

static inline void own_begin(struct dt_worker *w)
{
	for (;;) {
		atomic_store_explicit(&w->fresh_own, 1, memory_order_relaxed);
		if (dt_unlikely(owner_fences))
			atomic_thread_fence(memory_order_seq_cst);
		else
			atomic_signal_fence(memory_order_seq_cst);
		if (dt_likely(!atomic_load_explicit(&w->fresh_steal,
						    memory_order_acquire)))
			return;
		atomic_store_explicit(&w->fresh_own, 0, memory_order_release);
		while (atomic_load_explicit(&w->fresh_steal,
					    memory_order_acquire))
			__builtin_ia32_pause();
	}
}

static inline void own_end(struct dt_worker *w)
{
	atomic_store_explicit(&w->fresh_own, 0, memory_order_release);
}

static void steal_begin(struct dt_worker *w)
{
	atomic_store_explicit(&w->fresh_steal, 1, memory_order_seq_cst);
	if (!owner_fences)
		dt_sys(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0,
		       0, 0, 0);
	while (atomic_load_explicit(&w->fresh_own, memory_order_seq_cst))
		__builtin_ia32_pause();	/* a few loads and stores */
}

static void steal_end(struct dt_worker *w)
{
	atomic_store_explicit(&w->fresh_steal, 0, memory_order_release);
}

/* Append f (its fresh_due already set); the caller is inside. */
static void fresh_append(struct dt_worker *w, struct dt_fiber *f)
{
	f->next = NULL;
	f->state = DT_FIBER_READY;
	if (w->fresh_tail)
		w->fresh_tail->next = f;
	else
		w->fresh_head = f;
	w->fresh_tail = f;
	atomic_store_explicit(&w->fresh_n,
			      atomic_load_explicit(&w->fresh_n,
						   memory_order_relaxed) + 1,
			      memory_order_relaxed);
}

/*
 * Order.  Without the watchdog a new fiber joins the tail of the run
 * queue and runs once the runq_len fibers ahead of it have had their
 * turn.  The same holds here without a store on the switch path: each of
 * those turns is a switch of this worker, so the fiber's turn comes when
 * the switch counter reaches fresh_due = switches + runq_len (at the
 * latest: a switch to the scheduler loop also counts, which only brings
 * it forward).  Until then the run queue goes first.
 */
void dt_fresh_push(struct dt_worker *w, struct dt_fiber *f)
{
	f->fresh_due = w->st.switches + w->runq_len;
	own_begin(w);
	fresh_append(w, f);
	own_end(w);
}

struct dt_fiber *dt_fresh_pick(struct dt_worker *w)
{
	struct dt_fiber *f;

	own_begin(w);
	f = w->fresh_head;
	if (f && w->runq_head &&
	    (int64_t)(w->st.switches - f->fresh_due) < 0) {
		f = NULL;	/* not its turn yet: the run queue's */
	} else if (f) {
		w->fresh_head = f->next;
		if (!w->fresh_head)
			w->fresh_tail = NULL;
		atomic_store_explicit(&w->fresh_n,
			atomic_load_explicit(&w->fresh_n,
					     memory_order_relaxed) - 1,
			memory_order_relaxed);
	}
	own_end(w);
	return f;
}

struct dt_worker *dt_wd_spare(struct dt_worker *avoid)
{
	struct dt_worker *best = NULL;
	uint32_t br = 0;
	int i;

	for (i = 0; i < dt_rt.nworkers; i++) {
		struct dt_worker *c = &dt_rt.workers[i];
		uint32_t r;

		if (c == avoid || atomic_load_explicit(&c->stalled,
						memory_order_relaxed))
			continue;
		r = atomic_load_explicit(&c->resident, memory_order_relaxed);
		if (!best || r < br) {
			best = c;
			br = r;
		}
	}
	return best ? best : avoid;
}

/* ---------------------------------------------------------------- */
/* Handoff                                                             */

/* Move never-started f from w to a spare worker.  false: none. */
static bool move(struct dt_fiber *f, struct dt_worker *w)
{
	struct dt_worker *t = dt_wd_spare(w);

	if (t == w)
		return false;
	f->worker = t;
	atomic_fetch_sub_explicit(&w->resident, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&t->resident, 1, memory_order_relaxed);
	dt_fiber_unpark(f);	/* t's injection stack, t woken */
	return true;
}

/* Push l (a chain in push order) back on w's injection stack. */
static void inject_back(struct dt_worker *w, struct dt_fiber *l)
{
	while (l) {
		struct dt_fiber *nx = l->next;
		struct dt_fiber *h = atomic_load_explicit(&w->inject,
						memory_order_relaxed);

		do
			l->next = h;
		while (!atomic_compare_exchange_weak_explicit(&w->inject, &h,
				l, memory_order_seq_cst,
				memory_order_relaxed));
		l = nx;
	}
	/* Seq_cst after the pushes, as core/sched.c's notify(). */
	if (atomic_load_explicit(&w->sleeping, memory_order_seq_cst) &&
	    atomic_exchange_explicit(&w->sleeping, 0, memory_order_seq_cst)) {
		uint64_t one = 1;

		dt_sys(SYS_write, w->evfd, &one, sizeof(one), 0, 0, 0);
	}
}

/* Hand w's never-started fibers to other workers; how many moved. */
static uint64_t handoff(struct dt_worker *w)
{
	struct dt_fiber *l, *rev = NULL, *keep = NULL, **kt = &keep;
	uint64_t n = 0;

	steal_begin(w);
	l = w->fresh_head;
	w->fresh_head = w->fresh_tail = NULL;
	atomic_store_explicit(&w->fresh_n, 0, memory_order_relaxed);
	steal_end(w);
	while (l) {
		struct dt_fiber *f = l;

		l = l->next;
		if (move(f, w)) {
			n++;
			continue;
		}
		steal_begin(w);		/* nowhere to go: back, in order */
		fresh_append(w, f);
		steal_end(w);
	}

	if (!atomic_load_explicit(&w->inject, memory_order_relaxed))
		return n;
	/* Pairs with the release CAS of the pushers, as in drain_mail. */
	l = atomic_exchange_explicit(&w->inject, NULL, memory_order_acquire);
	while (l) {			/* reverse into push order */
		struct dt_fiber *nx = l->next;

		l->next = rev;
		rev = l;
		l = nx;
	}
	while (rev) {
		struct dt_fiber *f = rev;

		rev = rev->next;
		if (f->fresh && move(f, w)) {
			n++;
			continue;
		}
		f->next = NULL;
		*kt = f;
		kt = &f->next;
	}
	if (keep)
		inject_back(w, keep);
	return n;
}

/* ---------------------------------------------------------------- */
/* The watchdog thread                                                 */

static bool work_waiting(struct dt_worker *w)
{
	unsigned i, n = (unsigned)(dt_rt.nworkers + 63) / 64;

	if (__atomic_load_n(&w->runq_len, __ATOMIC_RELAXED) ||
	    atomic_load_explicit(&w->fresh_n, memory_order_relaxed) ||
	    atomic_load_explicit(&w->inject, memory_order_relaxed))
		return true;
	for (i = 0; i < n; i++)
		if (atomic_load_explicit(&w->mail_bits[i],
					 memory_order_relaxed))
			return true;
	return false;
}

/* The fiber a stalled worker runs, taken before the handoff (which may
 * unstick it).  Racy reads: the worker may switch or rename meanwhile. */
struct culprit {
	uint64_t fid;		/* 0: the worker is in its scheduler loop */
	char name[16];
};

static void culprit(struct dt_worker *w, struct culprit *c)
{
	struct dt_fiber *cur = __atomic_load_n(&w->cur, __ATOMIC_RELAXED);

	c->fid = 0;
	c->name[0] = 0;
	if (!cur)
		return;
	c->fid = dt_fiber_handle(cur);
	memcpy(c->name, cur->name, sizeof(c->name));
	c->name[sizeof(c->name) - 1] = 0;
}

static void report(int i, struct wd_worker *s, int64_t now,
		   const struct culprit *c, uint64_t moved)
{
	int64_t ran = now - s->sw_since;

	if (DTACT_STALL_ENABLED())
		DTACT_STALL((uint32_t)i, c->fid, (uint64_t)ran);
	if (!wd.warn)
		return;
	if (c->fid)
		dt_msg("dtact: stall: worker %d has not switched for %lld ms, "
		       "running fiber 0x%llx \"%s\", with work waiting; "
		       "%llu never-started fiber(s) moved to other "
		       "workers\n", i, (long long)(ran / 1000000),
		       (unsigned long long)c->fid,
		       c->name[0] ? c->name : "?",
		       (unsigned long long)moved);
	else
		dt_msg("dtact: stall: worker %d has not switched for %lld ms, "
		       "in its scheduler loop, with work waiting; %llu "
		       "never-started fiber(s) moved to other workers\n", i,
		       (long long)(ran / 1000000),
		       (unsigned long long)moved);
}

static void look(int i, int64_t now)
{
	struct dt_worker *w = &dt_rt.workers[i];
	struct wd_worker *s = &wd.ws[i];
	uint64_t sw = __atomic_load_n(&w->st.switches, __ATOMIC_RELAXED);
	struct culprit c;
	uint64_t moved;

	if (sw != s->last_sw || !s->sw_since) {
		s->last_sw = sw;
		s->sw_since = now;
		s->work_since = 0;
		if (s->stalled) {	/* it switched: the episode is over */
			s->stalled = 0;
			atomic_store_explicit(&w->stalled, 0,
					      memory_order_relaxed);
		}
		return;
	}
	if (!work_waiting(w)) {
		s->work_since = 0;
		return;
	}
	if (!s->work_since)
		s->work_since = now;
	if (s->stalled) {	/* still stuck: move what came since */
		__atomic_store_n(&s->moved, s->moved + handoff(w),
				 __ATOMIC_RELAXED);
		return;
	}
	if (now - (s->work_since > s->sw_since ? s->work_since :
		   s->sw_since) < wd.stall_ns)
		return;
	s->stalled = 1;
	__atomic_store_n(&s->stalls, s->stalls + 1, __ATOMIC_RELAXED);
	atomic_store_explicit(&w->stalled, 1, memory_order_relaxed);
	culprit(w, &c);
	moved = handoff(w);
	__atomic_store_n(&s->moved, s->moved + moved, __ATOMIC_RELAXED);
	report(i, s, now, &c, moved);
}

static void *wd_main(void *arg)
{
	int64_t period = wd.stall_ns / 2, next;
	int i;

	(void)arg;
	if (period < 1000000)
		period = 1000000;
	dt_sys(SYS_prctl, PR_SET_NAME, "dtact-watchdog", 0, 0, 0, 0);
	next = dt_now_ns() + period;
	while (!atomic_load_explicit(&wd.stop, memory_order_acquire)) {
		int64_t now;

		dt_futex_wait(&wd.stop, 0, next, CLOCK_MONOTONIC);
		if (atomic_load_explicit(&wd.stop, memory_order_acquire))
			break;
		now = dt_now_ns();
		if (now < next)
			continue;	/* woken early */
		next = now + period;
		if (atomic_load_explicit(&dt_rt.state,
					 memory_order_acquire) != 1)
			continue;
		for (i = 0; i < wd.nws; i++)
			look(i, now);
	}
	return NULL;
}

int dt_wd_start(uint32_t stall_ms, int warn)
{
	pthread_attr_t at;
	sigset_t all, old;
	int r;

	if (wd.running || !stall_ms)
		return 0;
	free(wd.ws);
	wd.nws = 0;
	wd.ws = calloc((size_t)dt_rt.nworkers, sizeof(*wd.ws));
	if (!wd.ws)
		return -ENOMEM;
	wd.nws = dt_rt.nworkers;
	wd.stall_ns = (int64_t)stall_ms * 1000000;
	wd.warn = warn;
	/* Before any fiber can be marked fresh (dt_wd_on below). */
	owner_fences = dt_sys(SYS_membarrier,
			      MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0,
			      0, 0, 0) != 0;
	atomic_store(&wd.stop, 0);
	/* Set before any fiber can be spawned with the watchdog on. */
	dt_wd_on = 1;
	pthread_attr_init(&at);
	pthread_attr_setstacksize(&at, 128 << 10);
	/* Every signal blocked from its first instruction: the program's
	 * signals are not for this thread. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = dt_real.pthread_create(&wd.th, &at, wd_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&at);
	if (r) {
		dt_wd_on = 0;
		return -r;
	}
	wd.running = 1;
	return 0;
}

void dt_wd_stop(void)
{
	int i;

	if (!wd.running)
		return;
	dt_wd_on = 0;
	atomic_store_explicit(&wd.stop, 1, memory_order_release);
	dt_futex_wake(&wd.stop, 1);
	dt_real.pthread_join(wd.th, NULL);
	wd.running = 0;
	for (i = 0; i < wd.nws && dt_rt.workers; i++)
		atomic_store_explicit(&dt_rt.workers[i].stalled, 0,
				      memory_order_relaxed);
}

void dt_wd_fork_child(void)
{
	int i;

	dt_wd_on = 0;
	wd.running = 0;
	atomic_store_explicit(&wd.stop, 0, memory_order_relaxed);
	for (i = 0; i < dt_rt.nworkers; i++) {
		struct dt_worker *w = &dt_rt.workers[i];

		atomic_store_explicit(&w->stalled, 0, memory_order_relaxed);
		atomic_store_explicit(&w->fresh_own, 0, memory_order_relaxed);
		atomic_store_explicit(&w->fresh_steal, 0,
				      memory_order_relaxed);
	}
}

void dt_wd_counts(int i, uint64_t *stalls, uint64_t *moved)
{
	*stalls = *moved = 0;
	if (i < 0 || i >= wd.nws || !wd.ws)
		return;
	*stalls = __atomic_load_n(&wd.ws[i].stalls, __ATOMIC_RELAXED);
	*moved = __atomic_load_n(&wd.ws[i].moved, __ATOMIC_RELAXED);
}
