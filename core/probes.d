/* SPDX-License-Identifier: MIT */
/*
 * core/probes.d - the USDT probes of provider "dtact" (DESIGN 11).
 * Processed with `dtrace -h` (systemtap-sdt-dev) into a header of probe
 * macros and *_ENABLED() semaphore tests: a probe computes its arguments
 * (timestamps included) only while a tracer is attached.  Integer
 * arguments only.  The probe sites are the default 1-byte nop.
 *
 * fid: a fiber's handle (generation << 32 | slot + 1), as dtact_self().
 * worker: worker index 0..N-1.  Times: CLOCK_MONOTONIC nanoseconds.
 * reason (switch_out): 0 yield, 1 io, 2 sleep, 3 lock, 4 join, 5 exit,
 * 6 other (enum dt_reason in core/dt.h).
 */
provider dtact {
	/* A fiber was created on `worker` by fiber parent_fid (0: not a
	 * fiber). */
	probe spawn(uint64_t fid, uint32_t worker, uint64_t parent_fid);
	/* fid, living on `worker`, was made runnable by a thread of
	 * waker_worker (-1: not a worker). */
	probe wake(uint64_t fid, uint32_t worker, int32_t waker_worker);
	/* fid starts running; ready_ns: time from runnable to running, 0
	 * when unknown (it became ready before the tracer attached). */
	probe switch_in(uint64_t fid, uint32_t worker, uint64_t ready_ns);
	/* fid stops running after ran_ns on the CPU (0 when unknown). */
	probe switch_out(uint64_t fid, uint32_t worker, uint64_t ran_ns,
			 uint32_t reason);
	/* The worker found nothing to run and blocks in epoll_wait. */
	probe park(uint32_t worker);
	/* ... and is back after idle_ns. */
	probe unpark(uint32_t worker, uint64_t idle_ns);
	/* The stall watchdog saw `worker` run fid for ran_ns without a
	 * switch while work waited for it. */
	probe stall(uint32_t worker, uint64_t fid, uint64_t ran_ns);
};
