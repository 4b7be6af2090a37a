/* SPDX-License-Identifier: MIT */
/*
 * core/config.h - DTACT_* configuration, read and validated once.
 */
#ifndef DT_CORE_CONFIG_H
#define DT_CORE_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "dtact.h"
#include "core/stats.h"

struct dt_cfg {
	int workers;
	size_t stack_size;
	uint32_t max_fibers;
	struct dt_obs_cfg obs;	/* DTACT_STATS*, _DUMP_SIGNAL, _STALL_* */
};

/*
 * Fill out from cfg's non-zero fields, else from DTACT_WORKERS,
 * DTACT_STACK_SIZE and DTACT_MAX_FIBERS, else the defaults; out->obs from
 * the observability variables (core/stats.h, dt_obs_config).  A bad value
 * prints "dtact: NAME=VALUE is invalid: expected ..." on stderr and
 * returns -EINVAL.
 */
int dt_config_resolve(const dtact_config_t *cfg, struct dt_cfg *out);

/* Parse a size with an optional K/M/G suffix (binary units).  0 or
 * -EINVAL (not a number, trailing garbage, negative, overflow). */
int dt_parse_size(const char *s, uint64_t *out);
/* Parse a plain decimal integer.  0 or -EINVAL. */
int dt_parse_u64(const char *s, uint64_t *out);

#endif
