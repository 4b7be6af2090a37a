/* SPDX-License-Identifier: MIT */
/*
 * tools/dtactlat/bits.bpf.h - small helpers shared by dtact's BPF programs:
 * integer log2 for power-of-two histogram slots.  BPF has no count-leading-
 * zeros instruction, so the log2 is a branch-free binary search over the
 * bits (five compare-and-shift steps for 32 bits, one more for 64).
 *
 * Slot convention (the one print_log2_hist() in trace_helpers.c reads):
 * value v lands in slot log2(v), so slot 0 holds 0 and 1, slot k >= 1
 * holds [2^k, 2^(k+1)).
 */
#ifndef DTACT_BITS_BPF_H
#define DTACT_BITS_BPF_H

/* floor(log2(v)) for v > 0; 0 for v == 0. */
static __always_inline __u64 log2_u32(__u32 v)
{
	__u32 r, step;

	r = (__u32)(v > 0xffff) << 4;
	v >>= r;
	step = (__u32)(v > 0xff) << 3;
	v >>= step;
	r |= step;
	step = (__u32)(v > 0xf) << 2;
	v >>= step;
	r |= step;
	step = (__u32)(v > 0x3) << 1;
	v >>= step;
	r |= step;
	return r | (v >> 1);
}

static __always_inline __u64 log2_u64(__u64 v)
{
	__u32 hi = v >> 32;

	return hi ? log2_u32(hi) + 32 : log2_u32((__u32)v);
}

#endif /* DTACT_BITS_BPF_H */
