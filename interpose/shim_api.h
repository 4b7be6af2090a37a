/* SPDX-License-Identifier: MIT */
/* interpose/shim_api.h - what shim/ offers interpose/. */
#ifndef DT_SHIM_API_H
#define DT_SHIM_API_H

#include <pthread.h>

/* The OS thread of worker id (pthread_kill of a fiber goes there). */
pthread_t dt_shim_worker_thread(int id);

#endif
