/* SPDX-License-Identifier: MIT */
/*
 * core/config.c - DTACT_* variables: parse, range-check, explain.
 */
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include "core/config.h"
#include "core/dt.h"

int dt_parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	if (!s || !*s)
		return -EINVAL;
	for (; *s; s++) {
		uint64_t d = (uint64_t)(*s - '0');

		if (*s < '0' || *s > '9')
			return -EINVAL;
		/* Exact: v * 10 + d <= UINT64_MAX (UINT64_MAX itself is a
		 * number, not an overflow). */
		if (v > (UINT64_MAX - d) / 10)
			return -EINVAL;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

int dt_parse_size(const char *s, uint64_t *out)
{
	uint64_t v = 0, mul = 1;
	const char *p = s;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		uint64_t d = (uint64_t)(*p - '0');

		/* Exact, as in dt_parse_u64. */
		if (v > (UINT64_MAX - d) / 10)
			return -EINVAL;
		v = v * 10 + d;
	}
	switch (*p) {
	case 0:
		break;
	case 'k': case 'K':
		mul = 1ull << 10;
		p++;
		break;
	case 'm': case 'M':
		mul = 1ull << 20;
		p++;
		break;
	case 'g': case 'G':
		mul = 1ull << 30;
		p++;
		break;
	default:
		return -EINVAL;
	}
	if (*p == 'i' && mul > 1)	/* KiB, MiB, GiB */
		p++;
	if ((*p == 'b' || *p == 'B') && mul > 1)
		p++;
	if (*p || (v && mul > UINT64_MAX / v))
		return -EINVAL;
	*out = v * mul;
	return 0;
}

static int bad(const char *name, const char *val, const char *range)
{
	dt_msg("dtact: %s=%s is invalid: expected %s\n", name, val, range);
	return -EINVAL;
}

int dt_config_resolve(const dtact_config_t *cfg, struct dt_cfg *out)
{
	const char *s;
	uint64_t v;
	struct rlimit rl;
	long ncpu;

	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	out->workers = ncpu < 1 ? 1 : ncpu > DT_MAX_WORKERS ?
		       DT_MAX_WORKERS : (int)ncpu;
	out->stack_size = 8u << 20;
	if (!getrlimit(RLIMIT_STACK, &rl) && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur < out->stack_size && rl.rlim_cur >= DT_MIN_STACK)
		out->stack_size = rl.rlim_cur;
	out->max_fibers = DT_DEFAULT_MAX_FIBERS;

	if (cfg && cfg->mWorkers) {
		if (cfg->mWorkers > DT_MAX_WORKERS)
			return -EINVAL;
		out->workers = (int)cfg->mWorkers;
	} else if ((s = getenv("DTACT_WORKERS")) && *s) {
		if (dt_parse_u64(s, &v) || v < 1 || v > DT_MAX_WORKERS)
			return bad("DTACT_WORKERS", s,
				   "an integer from 1 to 1024");
		out->workers = (int)v;
	}
	if (cfg && cfg->mStackSize) {
		if (cfg->mStackSize < DT_MIN_STACK ||
		    cfg->mStackSize > DT_MAX_STACK)
			return -EINVAL;
		out->stack_size = cfg->mStackSize;
	} else if ((s = getenv("DTACT_STACK_SIZE")) && *s) {
		if (dt_parse_size(s, &v) || v < DT_MIN_STACK ||
		    v > DT_MAX_STACK)
			return bad("DTACT_STACK_SIZE", s,
				   "a size from 16K to 1G (bytes, or with a "
				   "K, M or G suffix)");
		out->stack_size = (size_t)v;
	}
	if (cfg && cfg->mFiberCapacity) {
		if (cfg->mFiberCapacity > DT_MAX_MAX_FIBERS)
			return -EINVAL;
		out->max_fibers = cfg->mFiberCapacity;
	} else if ((s = getenv("DTACT_MAX_FIBERS")) && *s) {
		if (dt_parse_u64(s, &v) || v < 1 || v > DT_MAX_MAX_FIBERS)
			return bad("DTACT_MAX_FIBERS", s,
				   "an integer from 1 to 4194304");
		out->max_fibers = (uint32_t)v;
	}
	/* DTACT_STATS, DTACT_STATS_SIGNAL, DTACT_DUMP_SIGNAL, DTACT_STALL_MS,
	 * DTACT_STALL_WARN (core/stats.c). */
	return dt_obs_config(&out->obs);
}
