/* SPDX-License-Identifier: MIT */
/*
 * tests/arch_switch_helpers.S - assembly probes for tests/arch_switch.c.
 *
 * The Makefile links every .S file in tests/ into every test binary, so these
 * symbols carry a dt_test_ prefix and reference nothing outside this file
 * (the switcher is passed in as a function pointer).
 *
 * void dt_test_switch_regs(void (*sw)(void **, void *), void **save_sp,
 *                          void *load_sp, const uint64_t in[6],
 *                          uint64_t out[8]);
 *	Load in[0..5] into rbx, rbp, r12, r13, r14, r15, call sw(save_sp,
 *	load_sp), and when resumed store those six registers to out[0..5],
 *	%rsp after the call to out[6] and %rsp before the call to out[7].
 *	The caller's own callee-saved registers are preserved.
 *
 * dt_test_entry_probe: a context entry function.  Records %rsp at its
 *	first instruction in dt_test_entry_rsp, then tail-jumps to
 *	dt_test_probe_target with %rdi (arg) untouched.
 */

	.text

	.globl	dt_test_switch_regs
	.hidden	dt_test_switch_regs
	.type	dt_test_switch_regs, @function
	.p2align 4
dt_test_switch_regs:
	.cfi_startproc
	endbr64
	pushq	%rbp				/* save caller's rbp */
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset rbp, 0
	pushq	%rbx				/* save caller's rbx */
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset rbx, 0
	pushq	%r12				/* save caller's r12 */
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset r12, 0
	pushq	%r13				/* save caller's r13 */
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset r13, 0
	pushq	%r14				/* save caller's r14 */
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset r14, 0
	pushq	%r15				/* save caller's r15 */
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset r15, 0
	pushq	%r8				/* out: only memory survives */
	.cfi_adjust_cfa_offset 8
	/* %rsp % 16 == 0 here: 8 (entry) + 7 pushes */

	movq	%rdi, %rax			/* sw */
	movq	%rsi, %rdi			/* save_sp */
	movq	%rdx, %rsi			/* load_sp */
	movq	0(%rcx), %rbx			/* load pattern: rbx */
	movq	8(%rcx), %rbp			/* load pattern: rbp */
	movq	16(%rcx), %r12			/* load pattern: r12 */
	movq	24(%rcx), %r13			/* load pattern: r13 */
	movq	32(%rcx), %r14			/* load pattern: r14 */
	movq	40(%rcx), %r15			/* load pattern: r15 */
	movq	%rsp, 56(%r8)			/* out[7] = %rsp before */
	call	*%rax

	movq	(%rsp), %rax			/* out */
	movq	%rbx, 0(%rax)			/* store rbx */
	movq	%rbp, 8(%rax)			/* store rbp */
	movq	%r12, 16(%rax)			/* store r12 */
	movq	%r13, 24(%rax)			/* store r13 */
	movq	%r14, 32(%rax)			/* store r14 */
	movq	%r15, 40(%rax)			/* store r15 */
	movq	%rsp, 48(%rax)			/* out[6] = %rsp after */

	addq	$8, %rsp			/* drop out */
	.cfi_adjust_cfa_offset -8
	popq	%r15				/* restore caller's r15 */
	.cfi_adjust_cfa_offset -8
	.cfi_restore r15
	popq	%r14				/* restore caller's r14 */
	.cfi_adjust_cfa_offset -8
	.cfi_restore r14
	popq	%r13				/* restore caller's r13 */
	.cfi_adjust_cfa_offset -8
	.cfi_restore r13
	popq	%r12				/* restore caller's r12 */
	.cfi_adjust_cfa_offset -8
	.cfi_restore r12
	popq	%rbx				/* restore caller's rbx */
	.cfi_adjust_cfa_offset -8
	.cfi_restore rbx
	popq	%rbp				/* restore caller's rbp */
	.cfi_adjust_cfa_offset -8
	.cfi_restore rbp
	ret
	.cfi_endproc
	.size	dt_test_switch_regs, .-dt_test_switch_regs

	.globl	dt_test_entry_probe
	.hidden	dt_test_entry_probe
	.type	dt_test_entry_probe, @function
	.p2align 4
dt_test_entry_probe:
	.cfi_startproc
	endbr64
	movq	%rsp, dt_test_entry_rsp(%rip)	/* %rsp as entry sees it */
	jmp	*dt_test_probe_target(%rip)	/* tail call, %rdi = arg */
	.cfi_endproc
	.size	dt_test_entry_probe, .-dt_test_entry_probe

	.bss
	.p2align 3
	.globl	dt_test_entry_rsp
	.hidden	dt_test_entry_rsp
	.type	dt_test_entry_rsp, @object
	.size	dt_test_entry_rsp, 8
dt_test_entry_rsp:
	.zero	8

	.globl	dt_test_probe_target
	.hidden	dt_test_probe_target
	.type	dt_test_probe_target, @object
	.size	dt_test_probe_target, 8
dt_test_probe_target:
	.zero	8

	.section .note.GNU-stack,"",@progbits
