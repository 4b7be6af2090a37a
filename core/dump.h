/* SPDX-License-Identifier: MIT */
/*
 * core/dump.h - the fiber dump (DTACT_DUMP_SIGNAL): every fiber with its
 * state, worker, wait reason, how long it has waited and a symbolized
 * backtrace (libunwind), written to stderr from a signal handler.
 */
#ifndef DT_CORE_DUMP_H
#define DT_CORE_DUMP_H

/* 1 while a dump signal is configured: dt_park stamps f->park_ns. */
extern int dt_dump_armed;

/* Dump every fiber to fd.  Called from the signal handler (core/stats.c)
 * with the handler's ucontext (the interrupted context of this thread) or
 * NULL.  Takes no lock the runtime holds and allocates nothing. */
void dt_dump_fibers(int fd, void *ucontext, int sig);

/* Prepare libunwind outside any handler (resolves nothing lazily in the
 * handler that can be done before). */
void dt_dump_prepare(void);

#endif
