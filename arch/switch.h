/* SPDX-License-Identifier: MIT */
/*
 * arch/switch.h - the contract every arch/ switcher provides.
 *
 * A suspended context is one saved stack pointer.  The callee-saved
 * registers, the floating-point control words and the resume address sit
 * on the context's own stack, in the frame described below, so switching
 * is: push the frame, store %sp, load the other %sp, pop its frame, return
 * into it.  No syscall, no signal-mask change (a fiber switch is not a
 * thread switch: the signal mask belongs to the worker thread).
 *
 * Two variants (the seed runtime's "float / no-float switchers"):
 *   dt_ctx_switch_fp  saves and restores the FP control state (x86-64:
 *                     MXCSR and the x87 control word) as well as the
 *                     integer callee-saved set;
 *   dt_ctx_switch     restores only the integer callee-saved set.  It still
 *                     *stores* the FP control words (two plain stores) so
 *                     that every saved frame is complete and any context
 *                     may later be resumed by either variant.  The caller
 *                     picks the variant by the context being resumed.
 *
 * x86-64 SysV frame at a saved stack pointer (offsets in bytes):
 *
 *        +--------------------------+  <- saved sp
 *      0 | MXCSR (4) | x87 CW (2) |pad  DT_CTX_OFF_FPU
 *      8 | r12                      |   DT_CTX_OFF_R12
 *     16 | r13                      |   DT_CTX_OFF_R13
 *     24 | r14                      |   DT_CTX_OFF_R14
 *     32 | r15                      |   DT_CTX_OFF_R15
 *     40 | rbx                      |   DT_CTX_OFF_RBX
 *     48 | rbp                      |   DT_CTX_OFF_RBP
 *     56 | resume address (rip)     |   DT_CTX_OFF_RIP
 *        +--------------------------+  DT_CTX_FRAME_SIZE = 64
 *
 * CET: indirect-branch tracking (endbr64) is supported; a shadow stack
 * (SHSTK) is not, since a switch returns into another stack: the object
 * carries no GNU property note, so a -fcf-protection link drops SHSTK.
 *
 * Who calls: core/sched.c only, on the worker thread that owns both
 * contexts.  Both functions are ordinary calls for the compiler (the
 * caller-saved registers are dead across them by the ABI).
 */
#ifndef DT_ARCH_SWITCH_H
#define DT_ARCH_SWITCH_H

#define DT_CTX_OFF_FPU		0	/* MXCSR, 4 bytes */
#define DT_CTX_OFF_X87CW	4	/* x87 control word, 2 bytes */
#define DT_CTX_OFF_R12		8
#define DT_CTX_OFF_R13		16
#define DT_CTX_OFF_R14		24
#define DT_CTX_OFF_R15		32
#define DT_CTX_OFF_RBX		40
#define DT_CTX_OFF_RBP		48
#define DT_CTX_OFF_RIP		56
#define DT_CTX_FRAME_SIZE	64

/* Default FP control state of a new context (SysV ABI initial values). */
#define DT_CTX_MXCSR_DEFAULT	0x1f80u
#define DT_CTX_X87CW_DEFAULT	0x037fu

#ifndef __ASSEMBLER__
/*
 * Save the current context's frame on its stack, store its stack pointer in
 * *save_sp, then resume the context whose saved stack pointer is load_sp.
 * Returns (in the saved context) when something switches back to it.
 * save_sp may point into the context being left; load_sp must come from a
 * previous save or from dt_ctx_init().
 */
void dt_ctx_switch(void **save_sp, void *load_sp);
void dt_ctx_switch_fp(void **save_sp, void *load_sp);

/*
 * Build the initial frame of a new context on the stack whose highest
 * address is one past stack_top (exclusive; any alignment; it is rounded down to 16 bytes) and
 * return its saved stack pointer.  When first resumed, the context runs
 * entry(arg) through dt_ctx_trampoline, whose frame is the outermost one
 * (unwinders, gdb and perf stop there).  entry must not return; if it does,
 * the trampoline calls dt_ctx_entry_returned(), which the core provides
 * and which aborts with a message.  The FP control words of the new frame
 * are the ABI defaults above.
 */
void *dt_ctx_init(void *stack_top, void (*entry)(void *), void *arg);

/* The trampoline (assembly); exposed only so tests can recognise it. */
void dt_ctx_trampoline(void);

/* Provided by core/: called if a context's entry function returns. */
__attribute__((noreturn)) void dt_ctx_entry_returned(void);

_Static_assert(DT_CTX_FRAME_SIZE % 16 == 0, "frame keeps 16-byte alignment");
#endif
#endif
