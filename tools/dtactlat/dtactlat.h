/* SPDX-License-Identifier: MIT */
/*
 * tools/dtactlat/dtactlat.h - what dtactlat.bpf.c and dtactlat.c share: the
 * layout of the per-worker counters.
 *
 * The BPF side keeps one struct dtl_worker per dtact worker in a global
 * array (the object's .bss, memory-mapped by the skeleton).  Counters only
 * grow: user space reads them in place and prints the difference with the
 * previous read, so no event is lost between a read and a reset, and the
 * sum of the intervals is exactly what was traced.  Each worker writes only
 * its own entry, so there is no cache-line sharing between workers; the
 * adds are still atomic because worker indexes past DTL_MAX_WORKERS share
 * the last entry.
 *
 * Histogram slots are log2 of the time in the chosen unit (bits.bpf.h).
 */
#ifndef DTACT_DTACTLAT_H
#define DTACT_DTACTLAT_H

#define DTL_MAX_SLOTS	40	/* 2^40 ns: 18 minutes; larger lands in the last */
#define DTL_MAX_WORKERS	256	/* worker >= this: counted in the last entry */
#define DTL_NR_REASONS	7	/* enum dt_reason in core/dt.h */

struct dtl_hist {
	__u64 slots[DTL_MAX_SLOTS];	/* events per log2 slot */
	__u64 sum_ns;		/* total of the times counted in slots */
	__u64 unknown;		/* events whose time was 0 (not counted above) */
};

struct dtl_worker {
	struct dtl_hist ready;	/* switch_in: ready_ns, runnable -> running */
	struct dtl_hist run;	/* switch_out: ran_ns, the on-CPU slice */
	__u64 reason_count[8];	/* switch_out by reason; [7] unused */
	__u64 reason_ns[8];	/* ... and their ran_ns */
	__u64 pad[4];		/* to a multiple of 64 bytes */
};

#endif /* DTACT_DTACTLAT_H */
