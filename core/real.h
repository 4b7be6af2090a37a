/* SPDX-License-Identifier: MIT */
/*
 * core/real.h - the few libc functions the runtime calls that the shim
 * interposes.  The runtime never calls an interposed name on itself: the
 * shim points these at the real libc symbols (dlsym RTLD_NEXT) before it
 * starts the runtime; a program linking libdtact directly gets libc's.
 * Everything else the runtime needs from the kernel goes through raw
 * system calls (dt_sys).
 */
#ifndef DT_CORE_REAL_H
#define DT_CORE_REAL_H

#include <pthread.h>

struct dt_real {
	int (*pthread_create)(pthread_t *, const pthread_attr_t *,
			      void *(*)(void *), void *);
	int (*pthread_join)(pthread_t, void **);
};

extern struct dt_real dt_real;

#endif
