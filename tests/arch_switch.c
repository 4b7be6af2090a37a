/* SPDX-License-Identifier: MIT */
/*
 * tests/arch_switch.c - the arch/switch.h contract on this machine:
 * dt_ctx_switch, dt_ctx_switch_fp, dt_ctx_init, dt_ctx_trampoline.
 *
 * Two contexts per test: the test's own ("main") and one built with
 * dt_ctx_init() on an mmap'ed stack ("peer").  Nothing asserts on a peer
 * stack: the peer records what it saw, switches back, and the main context
 * asserts.  Register-level probes live in tests/arch_switch_helpers.S.
 */
#include <execinfo.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <criterion/criterion.h>

#include "arch/switch.h"

#define STACK_SIZE	(256 * 1024)	/* backtrace() may dlopen libgcc_s */

typedef void (*switch_fn)(void **save_sp, void *load_sp);

/* tests/arch_switch_helpers.S */
void dt_test_switch_regs(switch_fn sw, void **save_sp, void *load_sp,
			 const uint64_t in[6], uint64_t out[8]);
void dt_test_entry_probe(void *arg);
extern uintptr_t dt_test_entry_rsp;
extern void (*dt_test_probe_target)(void *arg);

static const char *const reg_names[6] = {
	"rbx", "rbp", "r12", "r13", "r14", "r15",
};

/* MXCSR bits 0-5 are sticky exception flags, not control state. */
#define MXCSR_FLAGS	0x003fu
#define MXCSR_MAIN	0x7f80u	/* all masked, round toward zero */
#define MXCSR_PEER	0xbfc0u	/* all masked, round down, FZ, DAZ */
#define X87CW_MAIN	0x0c7fu	/* all masked, round toward zero, 24-bit */
#define X87CW_PEER	0x067fu	/* all masked, round down, 53-bit */

static void *stack_alloc(void)
{
	void *p = mmap(NULL, STACK_SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);

	cr_assert_neq(p, MAP_FAILED, "mmap stack");
	return p;
}

static void *stack_top(void *stack)
{
	return (char *)stack + STACK_SIZE;
}

static void stack_free(void *stack)
{
	munmap(stack, STACK_SIZE);
}

static uint32_t mxcsr_get(void)
{
	uint32_t v;

	__asm__ volatile("stmxcsr %0" : "=m"(v) : : "memory");
	return v & ~MXCSR_FLAGS;
}

static void mxcsr_set(uint32_t v)
{
	__asm__ volatile("ldmxcsr %0" : : "m"(v) : "memory");
}

static uint16_t x87cw_get(void)
{
	uint16_t v;

	__asm__ volatile("fnstcw %0" : "=m"(v) : : "memory");
	return v;
}

static void x87cw_set(uint16_t v)
{
	__asm__ volatile("fldcw %0" : : "m"(v) : "memory");
}

static void fp_defaults(void)
{
	mxcsr_set(DT_CTX_MXCSR_DEFAULT);
	x87cw_set(DT_CTX_X87CW_DEFAULT);
}

/* ---- callee-saved registers and %rsp ---------------------------------- */

static const uint64_t pat_main[6] = {
	0x0b0b0b0b0b0b0b0bull, 0xb0b0b0b0b0b0b0b0ull, 0x1212121212121212ull,
	0x1313131313131313ull, 0x1414141414141414ull, 0x1515151515151515ull,
};
static const uint64_t pat_main2[6] = {
	0x2b2b2b2b2b2b2b2bull, 0xd0d0d0d0d0d0d0d0ull, 0x2212121212121221ull,
	0x2313131313131332ull, 0x2414141414141442ull, 0x2515151515151552ull,
};
static const uint64_t pat_peer[6] = {
	0xfeedfacecafe0001ull, 0xdeadbeef00000002ull, 0x8badf00d00000003ull,
	0xc0ffee0000000004ull, 0xabad1dea00000005ull, 0x0123456789abcdefull,
};

struct regs_peer {
	switch_fn sw;
	void *main_sp;
	void *peer_sp;
	uint64_t out[8];	/* peer's registers after being resumed */
	int resumed;
};

static void regs_peer_entry(void *arg)
{
	struct regs_peer *p = arg;

	/* Load pat_peer into all six, go back to main: main's are clobbered. */
	dt_test_switch_regs(p->sw, &p->peer_sp, p->main_sp, pat_peer, p->out);
	p->resumed = 1;
	p->sw(&p->peer_sp, p->main_sp);
	abort();	/* never resumed again */
}

static void check_regs(const char *who, const uint64_t want[6],
		       const uint64_t out[8])
{
	for (int i = 0; i < 6; i++)
		cr_expect_eq(out[i], want[i], "%s %s: got %#llx want %#llx",
			     who, reg_names[i], (unsigned long long)out[i],
			     (unsigned long long)want[i]);
	cr_expect_eq(out[6], out[7], "%s rsp: got %#llx want %#llx", who,
		     (unsigned long long)out[6], (unsigned long long)out[7]);
}

static void regs_survive(switch_fn sw)
{
	void *stack = stack_alloc();
	struct regs_peer p = { .sw = sw };
	uint64_t out[8], out2[8];

	p.peer_sp = dt_ctx_init(stack_top(stack), regs_peer_entry, &p);
	/* main loads pat_main; the peer runs with pat_peer, switches back. */
	dt_test_switch_regs(sw, &p.main_sp, p.peer_sp, pat_main, out);
	check_regs("main", pat_main, out);
	/* main loads pat_main2; the peer is resumed and reports. */
	dt_test_switch_regs(sw, &p.main_sp, p.peer_sp, pat_main2, out2);
	check_regs("main (2nd)", pat_main2, out2);
	cr_assert(p.resumed, "peer was not resumed");
	check_regs("peer", pat_peer, p.out);
	stack_free(stack);
}

/* Description: dt_ctx_switch keeps rbx rbp r12-r15 and rsp of both contexts although the other one loads different values. */
Test(arch_switch, callee_saved_survive_switch, .timeout = 10)
{
	regs_survive(dt_ctx_switch);
}

/* Description: dt_ctx_switch_fp keeps rbx rbp r12-r15 and rsp of both contexts although the other one loads different values. */
Test(arch_switch, callee_saved_survive_switch_fp, .timeout = 10)
{
	regs_survive(dt_ctx_switch_fp);
}

/* ---- FP control words ------------------------------------------------- */

struct fp_peer {
	switch_fn sw;
	void *main_sp;
	void *peer_sp;
	uint32_t mxcsr_entry, mxcsr_resumed;
	uint16_t x87cw_entry, x87cw_resumed;
	int resumed;
};

static void fp_peer_entry(void *arg)
{
	struct fp_peer *p = arg;

	p->mxcsr_entry = mxcsr_get();
	p->x87cw_entry = x87cw_get();
	mxcsr_set(MXCSR_PEER);
	x87cw_set(X87CW_PEER);
	p->sw(&p->peer_sp, p->main_sp);
	p->mxcsr_resumed = mxcsr_get();
	p->x87cw_resumed = x87cw_get();
	p->resumed = 1;
	p->sw(&p->peer_sp, p->main_sp);
	abort();
}

/*
 * Description: under dt_ctx_switch_fp each context gets its own MXCSR and x87 CW back after the other set different ones, and a new context starts with the ABI defaults.
 */
Test(arch_switch, fp_control_restored_by_switch_fp, .timeout = 10)
{
	void *stack = stack_alloc();
	struct fp_peer p = { .sw = dt_ctx_switch_fp };
	uint32_t mx;
	uint16_t cw;

	p.peer_sp = dt_ctx_init(stack_top(stack), fp_peer_entry, &p);
	mxcsr_set(MXCSR_MAIN);
	x87cw_set(X87CW_MAIN);
	dt_ctx_switch_fp(&p.main_sp, p.peer_sp);	/* peer sets PEER */
	mx = mxcsr_get();
	cw = x87cw_get();
	mxcsr_set(MXCSR_MAIN ^ 0x6000);			/* round to nearest */
	x87cw_set(X87CW_MAIN ^ 0x0c00);
	dt_ctx_switch_fp(&p.main_sp, p.peer_sp);	/* peer reports */
	fp_defaults();

	cr_expect_eq(p.mxcsr_entry, DT_CTX_MXCSR_DEFAULT,
		     "new context MXCSR %#x", p.mxcsr_entry);
	cr_expect_eq(p.x87cw_entry, DT_CTX_X87CW_DEFAULT,
		     "new context x87 CW %#x", p.x87cw_entry);
	cr_expect_eq(mx, MXCSR_MAIN, "main MXCSR %#x", mx);
	cr_expect_eq(cw, X87CW_MAIN, "main x87 CW %#x", cw);
	cr_assert(p.resumed);
	cr_expect_eq(p.mxcsr_resumed, MXCSR_PEER, "peer MXCSR %#x",
		     p.mxcsr_resumed);
	cr_expect_eq(p.x87cw_resumed, X87CW_PEER, "peer x87 CW %#x",
		     p.x87cw_resumed);
	stack_free(stack);
}

/*
 * Description: dt_ctx_switch stores but never loads MXCSR and x87 CW: the resumed context (new or not) sees the other context's values, so the two variants differ.
 */
Test(arch_switch, fp_control_not_restored_by_switch, .timeout = 10)
{
	void *stack = stack_alloc();
	struct fp_peer p = { .sw = dt_ctx_switch };
	uint32_t mx;
	uint16_t cw;

	p.peer_sp = dt_ctx_init(stack_top(stack), fp_peer_entry, &p);
	mxcsr_set(MXCSR_MAIN);
	x87cw_set(X87CW_MAIN);
	dt_ctx_switch(&p.main_sp, p.peer_sp);		/* peer sets PEER */
	mx = mxcsr_get();
	cw = x87cw_get();
	dt_ctx_switch(&p.main_sp, p.peer_sp);		/* peer reports */
	fp_defaults();

	cr_expect_eq(p.mxcsr_entry, MXCSR_MAIN, "new context MXCSR %#x",
		     p.mxcsr_entry);
	cr_expect_eq(p.x87cw_entry, X87CW_MAIN, "new context x87 CW %#x",
		     p.x87cw_entry);
	cr_expect_eq(mx, MXCSR_PEER, "main MXCSR %#x", mx);
	cr_expect_eq(cw, X87CW_PEER, "main x87 CW %#x", cw);
	cr_assert(p.resumed);
	cr_expect_eq(p.mxcsr_resumed, MXCSR_PEER, "peer MXCSR %#x",
		     p.mxcsr_resumed);
	stack_free(stack);
}

/* ---- dt_ctx_init ------------------------------------------------------ */

struct probe {
	void *main_sp;
	void *peer_sp;
	void *arg_seen;
	uintptr_t entry_rsp;
	int ran;
};

static void probe_target(void *arg)
{
	struct probe *p = arg;

	p->entry_rsp = dt_test_entry_rsp;
	p->arg_seen = arg;
	p->ran = 1;
	dt_ctx_switch(&p->peer_sp, p->main_sp);
	abort();
}

/*
 * Description: for every alignment of stack_top, dt_ctx_init runs entry(arg) with the right arg and rsp % 16 == 8 at entry, writing nothing at or above stack_top.
 */
Test(arch_switch, init_runs_entry_aligned, .timeout = 10)
{
	void *stack = stack_alloc();
	unsigned char *end = stack_top(stack);

	dt_test_probe_target = probe_target;
	for (int mis = 0; mis < 16; mis++) {
		unsigned char *top = end - 64 - mis;
		struct probe p = { 0 };

		memset(top, 0xa5, (size_t)(end - top));
		p.peer_sp = dt_ctx_init(top, dt_test_entry_probe, &p);
		cr_assert_eq((uintptr_t)p.peer_sp % 16, 0, "saved sp %p",
			     p.peer_sp);
		cr_assert_leq((unsigned char *)p.peer_sp + DT_CTX_FRAME_SIZE,
			      top, "frame above stack_top");
		dt_ctx_switch(&p.main_sp, p.peer_sp);

		cr_assert(p.ran, "entry did not run (top %p)", (void *)top);
		cr_expect_eq(p.arg_seen, &p, "arg %p want %p", p.arg_seen,
			     (void *)&p);
		cr_expect_eq(p.entry_rsp % 16, 8, "rsp %#lx at entry, top %p",
			     (unsigned long)p.entry_rsp, (void *)top);
		cr_expect(p.entry_rsp < (uintptr_t)top &&
			  p.entry_rsp >= (uintptr_t)top - 32,
			  "rsp %#lx at entry, top %p",
			  (unsigned long)p.entry_rsp, (void *)top);
		for (unsigned char *c = top; c < end; c++)
			cr_expect_eq(*c, 0xa5, "byte %td above stack_top written",
				     c - top);
	}
	stack_free(stack);
}

/* ---- ping-pong -------------------------------------------------------- */

#define PING_PONG_SWITCHES	1000000

struct ping_pong {
	switch_fn sw;
	void *main_sp;
	void *peer_sp;
	long turn;		/* even: main's turn, odd: peer's */
	long bad;		/* turns taken out of order */
};

static void ping_pong_entry(void *arg)
{
	struct ping_pong *p = arg;

	for (;;) {
		if (p->turn % 2 != 1)
			p->bad++;
		p->turn++;
		p->sw(&p->peer_sp, p->main_sp);
	}
}

static void ping_pong(switch_fn sw)
{
	void *stack = stack_alloc();
	struct ping_pong p = { .sw = sw };

	p.peer_sp = dt_ctx_init(stack_top(stack), ping_pong_entry, &p);
	for (long i = 0; i < PING_PONG_SWITCHES / 2; i++) {
		if (p.turn != 2 * i)
			p.bad++;
		p.turn++;
		sw(&p.main_sp, p.peer_sp);
	}
	cr_expect_eq(p.turn, PING_PONG_SWITCHES, "turn %ld", p.turn);
	cr_expect_eq(p.bad, 0, "%ld turns out of order", p.bad);
	stack_free(stack);
}

/* Description: a dt_ctx_init context and its creator alternate strictly over 1,000,000 dt_ctx_switch calls. */
Test(arch_switch, ping_pong_switch, .timeout = 10)
{
	ping_pong(dt_ctx_switch);
}

/* Description: a dt_ctx_init context and its creator alternate strictly over 1,000,000 dt_ctx_switch_fp calls. */
Test(arch_switch, ping_pong_switch_fp, .timeout = 10)
{
	ping_pong(dt_ctx_switch_fp);
}

/* ---- entry returning, unwinding --------------------------------------- */

static void returning_entry(void *arg)
{
	*(int *)arg = 1;
}

/* Description: an entry function that returns lands in the core's dt_ctx_entry_returned, which aborts. */
Test(arch_switch, entry_return_aborts, .signal = SIGABRT, .timeout = 10)
{
	void *stack = stack_alloc();
	void *main_sp;
	int ran = 0;

	dt_ctx_switch(&main_sp, dt_ctx_init(stack_top(stack), returning_entry,
					    &ran));
	cr_log_error("entry returned to the creator (ran=%d)", ran);
}

#define BT_MAX		64
#define BT_HANDFUL	16
#define TRAMPOLINE_WINDOW 64	/* bytes: the trampoline is ~20 */

struct bt {
	void *main_sp;
	void *peer_sp;
	void *frames[BT_MAX];
	int n;
};

static __attribute__((noinline)) void bt_take(struct bt *b)
{
	b->n = backtrace(b->frames, BT_MAX);
	__asm__ volatile("" : : : "memory");	/* not a tail call */
}

static void bt_entry(void *arg)
{
	struct bt *b = arg;

	bt_take(b);
	dt_ctx_switch(&b->peer_sp, b->main_sp);
	abort();
}

/*
 * Description: backtrace() inside a dt_ctx_init context ends within a handful of frames, the outermost one in dt_ctx_trampoline.
 */
Test(arch_switch, backtrace_stops_at_trampoline, .timeout = 10)
{
	void *stack = stack_alloc();
	static struct bt b;
	uintptr_t tramp = (uintptr_t)dt_ctx_trampoline, last;

	b.n = -1;
	b.peer_sp = dt_ctx_init(stack_top(stack), bt_entry, &b);
	dt_ctx_switch(&b.main_sp, b.peer_sp);

	cr_assert_gt(b.n, 1, "backtrace returned %d", b.n);
	if (b.n > BT_HANDFUL)
		backtrace_symbols_fd(b.frames, b.n, 2);
	cr_assert_leq(b.n, BT_HANDFUL, "backtrace did not stop: %d frames",
		      b.n);
	last = (uintptr_t)b.frames[b.n - 1];
	cr_expect(last > tramp && last < tramp + TRAMPOLINE_WINDOW,
		  "outermost frame %#lx, dt_ctx_trampoline at %#lx",
		  (unsigned long)last, (unsigned long)tramp);
	stack_free(stack);
}
