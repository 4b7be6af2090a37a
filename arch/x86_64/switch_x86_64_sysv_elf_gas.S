/* SPDX-License-Identifier: MIT */
/*
 * arch/x86_64/switch_x86_64_sysv_elf_gas.S - context switch, x86-64 SysV,
 * ELF, GNU as.  Contract: arch/switch.h.
 *
 *   void dt_ctx_switch(void **save_sp, void *load_sp);      %rdi, %rsi
 *   void dt_ctx_switch_fp(void **save_sp, void *load_sp);   %rdi, %rsi
 *   dt_ctx_trampoline: first resume address of a dt_ctx_init() context
 *
 * Frame at a saved stack pointer (offsets from switch.h, DT_CTX_OFF_*):
 *
 *        +--------------------------+  <- saved sp (16-byte aligned)
 *      0 | MXCSR (4) | x87 CW (2) |pad  FPU
 *      8 | r12                      |   R12   trampoline: entry
 *     16 | r13                      |   R13   trampoline: arg
 *     24 | r14                      |   R14
 *     32 | r15                      |   R15
 *     40 | rbx                      |   RBX
 *     48 | rbp                      |   RBP   new context: 0
 *     56 | resume address (rip)     |   RIP   pushed by our caller's call
 *        +--------------------------+  DT_CTX_FRAME_SIZE = 64
 *
 * The caller's `call` has already put the resume address at the RIP slot,
 * so saving is one %rsp adjustment plus stores, and resuming is loads, one
 * adjustment and `ret`.  No branches, no syscalls, no signal-mask change.
 * Caller-saved registers (including all of %xmm/%st) are dead across the
 * call by the ABI; only the control words are callee-saved FP state.
 *
 * Both variants store MXCSR and the x87 control word so every frame is
 * complete; only dt_ctx_switch_fp loads them back.
 *
 * CET: every entry starts with endbr64 (IBT).  The switch returns into a
 * different stack, which a hardware shadow stack would reject, so this
 * object carries no GNU property note claiming SHSTK.
 */

#include "arch/switch.h"

/* The return address pushed by `call` ends the frame. */
#define DT_CTX_GROW	DT_CTX_OFF_RIP

.if DT_CTX_OFF_RIP + 8 != DT_CTX_FRAME_SIZE
.error "switch.h: the resume address must be the last 8 bytes of the frame"
.endif

	.text

/* void dt_ctx_switch(void **save_sp, void *load_sp) */
	.globl	dt_ctx_switch
	.hidden	dt_ctx_switch
	.type	dt_ctx_switch, @function
	.p2align 4
dt_ctx_switch:
	.cfi_startproc
	endbr64
	subq	$DT_CTX_GROW, %rsp		/* open the frame below the rip slot */
	.cfi_adjust_cfa_offset DT_CTX_GROW
	stmxcsr	DT_CTX_OFF_FPU(%rsp)		/* save MXCSR (not restored here) */
	fnstcw	DT_CTX_OFF_X87CW(%rsp)		/* save x87 CW (not restored here) */
	movq	%r12, DT_CTX_OFF_R12(%rsp)	/* save r12 */
	.cfi_rel_offset r12, DT_CTX_OFF_R12
	movq	%r13, DT_CTX_OFF_R13(%rsp)	/* save r13 */
	.cfi_rel_offset r13, DT_CTX_OFF_R13
	movq	%r14, DT_CTX_OFF_R14(%rsp)	/* save r14 */
	.cfi_rel_offset r14, DT_CTX_OFF_R14
	movq	%r15, DT_CTX_OFF_R15(%rsp)	/* save r15 */
	.cfi_rel_offset r15, DT_CTX_OFF_R15
	movq	%rbx, DT_CTX_OFF_RBX(%rsp)	/* save rbx */
	.cfi_rel_offset rbx, DT_CTX_OFF_RBX
	movq	%rbp, DT_CTX_OFF_RBP(%rsp)	/* save rbp */
	.cfi_rel_offset rbp, DT_CTX_OFF_RBP

	movq	%rsp, (%rdi)			/* save sp: *save_sp = frame */
	movq	%rsi, %rsp			/* restore sp: load_sp's frame */
	/* Same frame shape on the new stack: the CFI above still holds. */

	movq	DT_CTX_OFF_R12(%rsp), %r12	/* restore r12 */
	movq	DT_CTX_OFF_R13(%rsp), %r13	/* restore r13 */
	movq	DT_CTX_OFF_R14(%rsp), %r14	/* restore r14 */
	movq	DT_CTX_OFF_R15(%rsp), %r15	/* restore r15 */
	movq	DT_CTX_OFF_RBX(%rsp), %rbx	/* restore rbx */
	movq	DT_CTX_OFF_RBP(%rsp), %rbp	/* restore rbp */
	addq	$DT_CTX_GROW, %rsp		/* drop the frame but the rip slot */
	.cfi_adjust_cfa_offset -DT_CTX_GROW
	.cfi_same_value r12
	.cfi_same_value r13
	.cfi_same_value r14
	.cfi_same_value r15
	.cfi_same_value rbx
	.cfi_same_value rbp
	ret					/* restore rip: resume there */
	.cfi_endproc
	.size	dt_ctx_switch, .-dt_ctx_switch

/* void dt_ctx_switch_fp(void **save_sp, void *load_sp) */
	.globl	dt_ctx_switch_fp
	.hidden	dt_ctx_switch_fp
	.type	dt_ctx_switch_fp, @function
	.p2align 4
dt_ctx_switch_fp:
	.cfi_startproc
	endbr64
	subq	$DT_CTX_GROW, %rsp		/* open the frame below the rip slot */
	.cfi_adjust_cfa_offset DT_CTX_GROW
	stmxcsr	DT_CTX_OFF_FPU(%rsp)		/* save MXCSR */
	fnstcw	DT_CTX_OFF_X87CW(%rsp)		/* save x87 CW */
	movq	%r12, DT_CTX_OFF_R12(%rsp)	/* save r12 */
	.cfi_rel_offset r12, DT_CTX_OFF_R12
	movq	%r13, DT_CTX_OFF_R13(%rsp)	/* save r13 */
	.cfi_rel_offset r13, DT_CTX_OFF_R13
	movq	%r14, DT_CTX_OFF_R14(%rsp)	/* save r14 */
	.cfi_rel_offset r14, DT_CTX_OFF_R14
	movq	%r15, DT_CTX_OFF_R15(%rsp)	/* save r15 */
	.cfi_rel_offset r15, DT_CTX_OFF_R15
	movq	%rbx, DT_CTX_OFF_RBX(%rsp)	/* save rbx */
	.cfi_rel_offset rbx, DT_CTX_OFF_RBX
	movq	%rbp, DT_CTX_OFF_RBP(%rsp)	/* save rbp */
	.cfi_rel_offset rbp, DT_CTX_OFF_RBP

	movq	%rsp, (%rdi)			/* save sp: *save_sp = frame */
	movq	%rsi, %rsp			/* restore sp: load_sp's frame */
	/* Same frame shape on the new stack: the CFI above still holds. */

	ldmxcsr	DT_CTX_OFF_FPU(%rsp)		/* restore MXCSR */
	fldcw	DT_CTX_OFF_X87CW(%rsp)		/* restore x87 CW */
	movq	DT_CTX_OFF_R12(%rsp), %r12	/* restore r12 */
	movq	DT_CTX_OFF_R13(%rsp), %r13	/* restore r13 */
	movq	DT_CTX_OFF_R14(%rsp), %r14	/* restore r14 */
	movq	DT_CTX_OFF_R15(%rsp), %r15	/* restore r15 */
	movq	DT_CTX_OFF_RBX(%rsp), %rbx	/* restore rbx */
	movq	DT_CTX_OFF_RBP(%rsp), %rbp	/* restore rbp */
	addq	$DT_CTX_GROW, %rsp		/* drop the frame but the rip slot */
	.cfi_adjust_cfa_offset -DT_CTX_GROW
	.cfi_same_value r12
	.cfi_same_value r13
	.cfi_same_value r14
	.cfi_same_value r15
	.cfi_same_value rbx
	.cfi_same_value rbp
	ret					/* restore rip: resume there */
	.cfi_endproc
	.size	dt_ctx_switch_fp, .-dt_ctx_switch_fp

/*
 * dt_ctx_trampoline: entered by the switcher's `ret` from a dt_ctx_init()
 * frame, with r12 = entry, r13 = arg, rbp = 0 and %rsp = the 16-byte
 * aligned stack top (the frame was just popped), so `call` gives entry the
 * SysV entry alignment (%rsp % 16 == 8).  This is the outermost frame:
 * rip is undefined, so CFI unwinders (libgcc, gdb, libunwind, perf
 * --call-graph=dwarf) stop here, and rbp = 0 ends frame-pointer walks.
 */
	.globl	dt_ctx_trampoline
	.hidden	dt_ctx_trampoline
	.hidden	dt_ctx_entry_returned
	.type	dt_ctx_trampoline, @function
	.p2align 4
dt_ctx_trampoline:
	.cfi_startproc
	.cfi_undefined rip
	endbr64
	movq	%r13, %rdi			/* arg */
	call	*%r12				/* entry(arg); must not return */
	call	dt_ctx_entry_returned		/* noreturn: aborts */
	ud2
	.cfi_endproc
	.size	dt_ctx_trampoline, .-dt_ctx_trampoline

	.section .note.GNU-stack,"",@progbits
