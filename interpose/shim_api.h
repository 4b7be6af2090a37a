/* SPDX-License-Identifier: MIT */
/* interpose/shim_api.h - what shim/ offers interpose/. */
#ifndef DT_SHIM_API_H
#define DT_SHIM_API_H

#include <pthread.h>

/* The OS thread of worker id (pthread_kill of a fiber goes there). */
pthread_t dt_shim_worker_thread(int id);

/* The main program's fiber (fiber 0), or NULL before it exists. */
struct dt_fiber *dt_shim_main_fiber(void);

/* Whether sig has a program handler; *sa_restart its SA_RESTART flag. */
int dt_sig_wants_eintr(int sig, int *sa_restart);

#endif
