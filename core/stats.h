/* SPDX-License-Identifier: MIT */
/*
 * core/stats.h - statistics (DTACT_STATS), the observability settings
 * (DTACT_STATS*, DTACT_DUMP_SIGNAL, DTACT_STALL_*), their signal handler,
 * and the async-signal-safe line writer that the dump shares.
 *
 * Counters.  struct dt_stats_worker (core/dt.h) is written only by its
 * worker, with plain increments (no atomics, no shared cache line on the
 * switch path); the stall counters are written only by the watchdog
 * thread (core/watchdog.c).  Printing reads them from another thread (or
 * a signal handler) without synchronisation: each 64-bit load is whole
 * (aligned, __atomic_load_n relaxed), but the set is not a snapshot, and
 * a total may lag its parts by the switches made while printing.
 *
 * Lifecycle: dt_config_resolve (core/config.c) fills a struct dt_obs_cfg
 * from the environment (dt_obs_config); once the workers run, the shim or
 * dtact_init calls dt_obs_start; dtact_run calls dt_obs_stop before the
 * runtime is released.  Under the shim the runtime is never released:
 * the exit statistics are printed from an atexit handler.
 */
#ifndef DT_CORE_STATS_H
#define DT_CORE_STATS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define DT_STATS_OFF	0
#define DT_STATS_TABLE	1	/* DTACT_STATS=1: a human table */
#define DT_STATS_JSON	2	/* DTACT_STATS=json: one object per line */

#define DT_STALL_MS_DEFAULT	100u
#define DT_STALL_MS_MAX		3600000u

struct dt_obs_cfg {
	uint8_t stats;		/* DT_STATS_*: print at exit */
	uint8_t stall_warn;	/* DTACT_STALL_WARN=1: one stderr line */
	int stats_sig;		/* DTACT_STATS_SIGNAL, 0: none */
	int dump_sig;		/* DTACT_DUMP_SIGNAL, 0: none */
	uint32_t stall_ms;	/* DTACT_STALL_MS, 0: no watchdog */
};

/*
 * Read DTACT_STATS, DTACT_STATS_SIGNAL, DTACT_DUMP_SIGNAL, DTACT_STALL_MS
 * and DTACT_STALL_WARN into c.  A bad value prints "dtact: NAME=VALUE is
 * invalid: expected ..." and returns -EINVAL.
 */
int dt_obs_config(struct dt_obs_cfg *c);

/* Parse a signal: a name with or without SIG (any case: QUIT, SIGUSR1,
 * RTMIN+2) or a number.  The signal number, or -EINVAL for an unknown
 * one and for those dtact cannot take (KILL, STOP, SEGV, BUS, FPE, ILL,
 * and glibc's internal 32 and 33). */
int dt_parse_signal(const char *s);

/* Start what c asks for, on a running runtime: signal handlers, the
 * watchdog; at_exit: print the statistics from an atexit handler (shim).
 * Problems (a signal the program already handles, no thread for the
 * watchdog) are one-line warnings, never errors. */
void dt_obs_start(const struct dt_obs_cfg *c, int at_exit);
/* Before the runtime is released (dtact_run): print the statistics if
 * DTACT_STATS asks, stop the watchdog, put the signal actions back. */
void dt_obs_stop(void);

/* Print the statistics now in the given format (DT_STATS_TABLE or
 * DT_STATS_JSON) to fd; `when` names the occasion ("exit", "signal").
 * Async-signal-safe: no allocation, no lock, write(2) only. */
void dt_stats_print(int fd, int format, const char *when);

/* Fibers spawned by threads that are not workers (their spawn is not in
 * any worker's counters).  Any thread. */
extern _Atomic uint64_t dt_stats_spawns_ext;

/* The process id the runtime started in (a forked child differs). */
extern int dt_obs_pid;

/* ---------------------------------------------------------------- */
/* A line writer for signal handlers: formats into caller storage and
 * write(2)s whole buffers through the raw system call.                */

struct dt_out {
	int fd;
	size_t n;
	char b[1024];
};

void dt_out_init(struct dt_out *o, int fd);
void dt_out_str(struct dt_out *o, const char *s);
/* At most n bytes of s, stopping at a NUL; unprintable bytes as '?'. */
void dt_out_strn(struct dt_out *o, const char *s, size_t n);
void dt_out_u64(struct dt_out *o, uint64_t v);
void dt_out_i64(struct dt_out *o, int64_t v);
void dt_out_hex(struct dt_out *o, uint64_t v);	/* 0x... */
/* v right-aligned in width columns. */
void dt_out_col(struct dt_out *o, uint64_t v, int width);
/* s right-aligned in width columns. */
void dt_out_scol(struct dt_out *o, const char *s, int width);
void dt_out_flush(struct dt_out *o);

#endif
