// SPDX-License-Identifier: MIT
/*
 * tools/dtactlat/dtactlat.bpf.c - the BPF half of dtactlat: USDT programs on
 * provider dtact (core/probes.d) that fold fiber switches into per-worker
 * log2 histograms.
 *
 *   switch_in(fid, worker, ready_ns)            -> stats[worker].ready
 *   switch_out(fid, worker, ran_ns, reason)     -> stats[worker].run and
 *                                                  .reason_count/_ns[reason]
 *
 * A time of 0 means the runtime does not know it (the fiber became ready
 * before the tracer attached): it is counted in .unknown, not in a slot.
 * The counters only grow (dtactlat.h says why).  Filters are read-only
 * data set by dtactlat.c before the load, so the verifier prunes what a
 * run does not use.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/usdt.bpf.h>
#include "bits.bpf.h"
#include "dtactlat.h"

const volatile __u64 unit_div = 1;	/* ns per histogram unit: 1, 1e3, 1e6 */
const volatile __s32 targ_worker = -1;	/* count only this worker; -1: all */

struct dtl_worker stats[DTL_MAX_WORKERS] = {};

static __always_inline struct dtl_worker *worker_stats(__u32 worker)
{
	if (targ_worker >= 0 && worker != (__u32)targ_worker)
		return NULL;
	if (worker >= DTL_MAX_WORKERS)
		worker = DTL_MAX_WORKERS - 1;
	return &stats[worker];
}

static __always_inline void hist_add(struct dtl_hist *h, __u64 ns)
{
	__u64 v = ns, slot;

	if (!ns) {
		__sync_fetch_and_add(&h->unknown, 1);
		return;
	}
	if (unit_div > 1)
		v /= unit_div;
	slot = log2_u64(v);
	if (slot >= DTL_MAX_SLOTS)
		slot = DTL_MAX_SLOTS - 1;
	__sync_fetch_and_add(&h->slots[slot], 1);
	__sync_fetch_and_add(&h->sum_ns, ns);
}

SEC("usdt")
int BPF_USDT(switch_in, __u64 fid, __u32 worker, __u64 ready_ns)
{
	struct dtl_worker *w = worker_stats(worker);

	if (w)
		hist_add(&w->ready, ready_ns);
	return 0;
}

SEC("usdt")
int BPF_USDT(switch_out, __u64 fid, __u32 worker, __u64 ran_ns, __u32 reason)
{
	struct dtl_worker *w = worker_stats(worker);

	if (!w)
		return 0;
	hist_add(&w->run, ran_ns);
	if (reason >= DTL_NR_REASONS)
		reason = DTL_NR_REASONS - 1;	/* "other" */
	__sync_fetch_and_add(&w->reason_count[reason], 1);
	__sync_fetch_and_add(&w->reason_ns[reason], ran_ns);
	return 0;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
