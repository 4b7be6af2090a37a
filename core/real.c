/* SPDX-License-Identifier: MIT */
/* core/real.c - libc's own functions until the shim says otherwise. */
#include "core/real.h"

struct dt_real dt_real = {
	.pthread_create = pthread_create,
	.pthread_join = pthread_join,
};
