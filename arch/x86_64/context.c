/* SPDX-License-Identifier: MIT */
/*
 * arch/x86_64/context.c - dt_ctx_init() for x86-64 SysV: lay out the first
 * frame of a new context so that the switcher (switch_x86_64_sysv_elf_gas.S)
 * pops it and returns into dt_ctx_trampoline, which calls entry(arg).
 *
 *        +--------------------------+  <- returned sp = top - 64
 *      0 | 0x1f80    | 0x037f    |0 |   default MXCSR, x87 CW
 *      8 | entry                    |   r12
 *     16 | arg                      |   r13
 *     24 | 0                        |   r14
 *     32 | 0                        |   r15
 *     40 | 0                        |   rbx
 *     48 | 0                        |   rbp: ends frame-pointer walks
 *     56 | dt_ctx_trampoline        |   rip
 *        +--------------------------+  <- top = stack_top & ~15
 *
 * After the switcher pops the frame and returns, %rsp == top (16-byte
 * aligned), so the trampoline's `call *%r12` enters entry with
 * %rsp % 16 == 8, as the SysV ABI requires.
 *
 * Called by core/ on any thread; touches only the memory below stack_top.
 */
#include <stdint.h>
#include <stddef.h>

#include "arch/switch.h"

/* The saved frame of arch/switch.h, as C sees it. */
struct dt_ctx_frame {
	uint32_t mxcsr;		/* MXCSR (control and status) */
	uint16_t x87cw;		/* x87 FPU control word */
	uint16_t pad;		/* unused, written as 0 */
	uint64_t r12;		/* trampoline: entry */
	uint64_t r13;		/* trampoline: arg */
	uint64_t r14;
	uint64_t r15;
	uint64_t rbx;
	uint64_t rbp;		/* 0 in a new context: outermost frame */
	uint64_t rip;		/* resume address, popped by the switcher's ret */
};

_Static_assert(offsetof(struct dt_ctx_frame, mxcsr) == DT_CTX_OFF_FPU,
	       "mxcsr offset");
_Static_assert(offsetof(struct dt_ctx_frame, x87cw) == DT_CTX_OFF_X87CW,
	       "x87 cw offset");
_Static_assert(offsetof(struct dt_ctx_frame, r12) == DT_CTX_OFF_R12, "r12");
_Static_assert(offsetof(struct dt_ctx_frame, r13) == DT_CTX_OFF_R13, "r13");
_Static_assert(offsetof(struct dt_ctx_frame, r14) == DT_CTX_OFF_R14, "r14");
_Static_assert(offsetof(struct dt_ctx_frame, r15) == DT_CTX_OFF_R15, "r15");
_Static_assert(offsetof(struct dt_ctx_frame, rbx) == DT_CTX_OFF_RBX, "rbx");
_Static_assert(offsetof(struct dt_ctx_frame, rbp) == DT_CTX_OFF_RBP, "rbp");
_Static_assert(offsetof(struct dt_ctx_frame, rip) == DT_CTX_OFF_RIP, "rip");
_Static_assert(sizeof(struct dt_ctx_frame) == DT_CTX_FRAME_SIZE, "size");

void *dt_ctx_init(void *stack_top, void (*entry)(void *), void *arg)
{
	uintptr_t top = (uintptr_t)stack_top & ~(uintptr_t)15;
	struct dt_ctx_frame *f = (struct dt_ctx_frame *)(top - sizeof(*f));

	*f = (struct dt_ctx_frame){
		.mxcsr = DT_CTX_MXCSR_DEFAULT,
		.x87cw = DT_CTX_X87CW_DEFAULT,
		.r12 = (uintptr_t)entry,
		.r13 = (uintptr_t)arg,
		.rbp = 0,
		.rip = (uintptr_t)dt_ctx_trampoline,
	};
	return f;
}
