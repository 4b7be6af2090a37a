/* SPDX-License-Identifier: MIT */
/*
 * tests/core_config.c - DTACT_* configuration (core/config.c): bad values
 * of DTACT_WORKERS, DTACT_STACK_SIZE and DTACT_MAX_FIBERS make dtact_init
 * fail with EINVAL and print exactly one line naming the variable, the
 * value and the accepted range; valid values (with size suffixes) are
 * taken; fields of dtact_config_t win over the environment; and the
 * parsers dt_parse_size / dt_parse_u64 on their own.
 *
 * stderr is captured in-process: fd 2 is pointed at a pipe around the
 * call (the runtime writes its messages with write(2) on fd 2).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "dtact.h"
#include "core/config.h"
#include "core/dt.h"

#ifdef DT_SAN
/* Criterion's runner leaks one block at exit (libcriterion 2.4.1): keep
 * LeakSanitizer's verdict to the code under test. */
__attribute__((visibility("default")))
const char *__lsan_default_suppressions(void)
{
	return "leak:libcriterion.so\n";
}
__attribute__((visibility("default")))
const char *__lsan_default_options(void)
{
	return "print_suppressions=0";
}
#endif

static const char *const vars[] = {
	"DTACT_WORKERS", "DTACT_STACK_SIZE", "DTACT_MAX_FIBERS",
};

static void clear_env(void)
{
	unsigned i;

	for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		unsetenv(vars[i]);
}

/* ---------------------------------------------------------------- */
/* stderr capture                                                    */

static int cap_pipe[2] = { -1, -1 }, saved_stderr = -1;

static void capture_begin(void)
{
	cr_assert_eq(pipe(cap_pipe), 0);
	fflush(stderr);
	saved_stderr = dup(2);
	cr_assert_geq(saved_stderr, 0);
	cr_assert_eq(dup2(cap_pipe[1], 2), 2);
}

/* Restore fd 2 and return what was written meanwhile. */
static void capture_end(char *buf, size_t cap)
{
	size_t n = 0;
	ssize_t r;

	fflush(stderr);
	dup2(saved_stderr, 2);
	close(saved_stderr);
	close(cap_pipe[1]);
	while (n < cap - 1 && (r = read(cap_pipe[0], buf + n,
					cap - 1 - n)) > 0)
		n += (size_t)r;
	buf[n] = 0;
	close(cap_pipe[0]);
}

/* dtact_init(all fields 0) with var=val; errno and stderr of the call. */
static void *init_with(const char *var, const char *val, int *err,
		       char *msg, size_t cap)
{
	dtact_config_t c = dtact_default_config();
	void *rt;

	clear_env();
	if (var)
		setenv(var, val, 1);
	capture_begin();
	errno = 0;
	rt = dtact_init(&c);
	*err = errno;
	capture_end(msg, cap);
	return rt;
}

static void shutdown_fn(void *arg)
{
	(void)arg;
	dtact_shutdown();
}

/* Run a started runtime to its end (so that another can start). */
static void finish(void *rt)
{
	cr_assert_neq(dtact_fiber_launch(shutdown_fn, NULL), 0,
		      "launch: %s", strerror(errno));
	cr_assert_eq(dtact_run(rt), 0);
}

/* ---------------------------------------------------------------- */
/* Bad values                                                        */

struct bad {
	const char *var;
	const char *val;
	const char *range[2];	/* what the message must mention */
};

static const char *const garbage[] = {
	"abc", "12x", "0", "-1", "99999999999999999999", "+4", " 4", "4 ",
	"0x10", "1e3",
};

#define WORKERS_RANGE	{ "1", "1024" }
#define STACK_RANGE	{ "16K", "1G" }
#define FIBERS_RANGE	{ "1", "4194304" }

static const struct bad bad_extra[] = {
	{ "DTACT_WORKERS", "2000", WORKERS_RANGE },
	{ "DTACT_WORKERS", "1025", WORKERS_RANGE },
	{ "DTACT_WORKERS", "2K", WORKERS_RANGE },
	{ "DTACT_STACK_SIZE", "2G", STACK_RANGE },
	{ "DTACT_STACK_SIZE", "1025M", STACK_RANGE },
	{ "DTACT_STACK_SIZE", "1073741825", STACK_RANGE },
	{ "DTACT_STACK_SIZE", "16383", STACK_RANGE },
	{ "DTACT_STACK_SIZE", "15K", STACK_RANGE },
	{ "DTACT_STACK_SIZE", "1.5M", STACK_RANGE },
	{ "DTACT_STACK_SIZE", "64KX", STACK_RANGE },
	{ "DTACT_STACK_SIZE", "1T", STACK_RANGE },
	{ "DTACT_STACK_SIZE", "K", STACK_RANGE },
	{ "DTACT_STACK_SIZE", "17179869184G", STACK_RANGE },
	{ "DTACT_MAX_FIBERS", "4194305", FIBERS_RANGE },
	{ "DTACT_MAX_FIBERS", "5000000", FIBERS_RANGE },
	{ "DTACT_MAX_FIBERS", "64K", FIBERS_RANGE },
};

static void expect_rejected(const struct bad *b)
{
	char msg[1024], *nl, want[128];
	int err;
	void *rt;

	rt = init_with(b->var, b->val, &err, msg, sizeof(msg));
	cr_assert_null(rt, "%s=\"%s\" was accepted", b->var, b->val);
	cr_assert_eq(err, EINVAL, "%s=\"%s\": errno %d", b->var, b->val,
		     err);
	nl = strchr(msg, '\n');
	cr_assert(nl && nl[1] == 0, "%s=\"%s\": not exactly one line on "
		  "stderr: \"%s\"", b->var, b->val, msg);
	cr_assert(strncmp(msg, "dtact: ", 7) == 0, "%s=\"%s\": \"%s\"",
		  b->var, b->val, msg);
	snprintf(want, sizeof(want), "%s=%s ", b->var, b->val);
	cr_assert(strstr(msg, want), "%s=\"%s\": the message does not name "
		  "the variable and the value: \"%s\"", b->var, b->val, msg);
	cr_assert(strstr(msg, b->range[0]) && strstr(msg, b->range[1]),
		  "%s=\"%s\": the message does not give the range %s..%s: "
		  "\"%s\"", b->var, b->val, b->range[0], b->range[1], msg);
	cr_assert_eq(dtact_workers(), 0, "a runtime was left running");
}

static void reject_all(const char *var, const char *lo, const char *hi)
{
	unsigned i;

	for (i = 0; i < sizeof(garbage) / sizeof(garbage[0]); i++) {
		struct bad b = { var, garbage[i], { lo, hi } };

		expect_rejected(&b);
	}
	for (i = 0; i < sizeof(bad_extra) / sizeof(bad_extra[0]); i++)
		if (!strcmp(bad_extra[i].var, var))
			expect_rejected(&bad_extra[i]);
}

/* Description: DTACT_WORKERS with garbage, zero, negative, huge or out of
 * range values: dtact_init returns NULL/EINVAL and prints one line naming
 * the variable, the value and the range 1..1024. */
Test(core_config, workers_bad_values, .timeout = 30)
{
	reject_all("DTACT_WORKERS", "1", "1024");
}

/* Description: DTACT_STACK_SIZE with garbage, zero, negative, huge, out
 * of range ("2G", "15K") or badly suffixed values: NULL/EINVAL and one
 * line naming the variable, the value and the range 16K..1G. */
Test(core_config, stack_size_bad_values, .timeout = 30)
{
	reject_all("DTACT_STACK_SIZE", "16K", "1G");
}

/* Description: DTACT_MAX_FIBERS with garbage, zero, negative, huge or out
 * of range values: NULL/EINVAL and one line naming the variable, the
 * value and the range 1..4194304. */
Test(core_config, max_fibers_bad_values, .timeout = 30)
{
	reject_all("DTACT_MAX_FIBERS", "1", "4194304");
}

/* ---------------------------------------------------------------- */
/* Good values                                                       */

struct good {
	const char *workers, *stack, *fibers;
	int n;
	size_t stack_bytes;
	uint32_t max_fibers;
};

static const struct good goods[] = {
	{ "1", "64K", "1", 1, 64u << 10, 1 },
	{ "2", "65536", "100", 2, 65536, 100 },
	{ "2", "1M", "1000", 2, 1u << 20, 1000 },
	{ "2", "16k", "65536", 2, 16u << 10, 65536 },
	{ "3", "1G", "16", 3, 1u << 30, 16 },
	{ "2", "2MiB", "8", 2, 2u << 20, 8 },
	{ "2", "512KB", "8", 2, 512u << 10, 8 },
};

/* Description: valid values, sizes with K/M/G suffixes ("64K", "1M",
 * "1G", "65536", "16k", "2MiB", "512KB"), start a runtime with exactly
 * that configuration and print nothing. */
Test(core_config, good_values_accepted, .timeout = 60)
{
	unsigned i;

	for (i = 0; i < sizeof(goods) / sizeof(goods[0]); i++) {
		const struct good *g = &goods[i];
		dtact_config_t c = dtact_default_config();
		char msg[1024];
		void *rt;

		clear_env();
		setenv("DTACT_WORKERS", g->workers, 1);
		setenv("DTACT_STACK_SIZE", g->stack, 1);
		setenv("DTACT_MAX_FIBERS", g->fibers, 1);
		capture_begin();
		rt = dtact_init(&c);
		capture_end(msg, sizeof(msg));
		cr_assert_not_null(rt, "workers %s, stack %s, fibers %s: %s",
				   g->workers, g->stack, g->fibers,
				   strerror(errno));
		cr_assert_str_eq(msg, "", "stderr: %s", msg);
		cr_assert_eq(dt_rt.nworkers, g->n);
		cr_assert_eq(dtact_workers(), g->n);
		cr_assert_eq(dt_rt.stack_size, g->stack_bytes, "stack %s: %zu",
			     g->stack, dt_rt.stack_size);
		cr_assert_eq(dt_rt.max_fibers, g->max_fibers);
		finish(rt);
	}
	clear_env();
}

/* Description: the range edges are accepted (workers 1 and 1024, stacks
 * 16K and 1G, fibers 1 and 4194304), and an empty variable means the
 * default. */
Test(core_config, range_edges_and_defaults, .timeout = 10)
{
	static const struct { const char *var, *val; } edge[] = {
		{ "DTACT_WORKERS", "1" }, { "DTACT_WORKERS", "1024" },
		{ "DTACT_STACK_SIZE", "16K" }, { "DTACT_STACK_SIZE", "16384" },
		{ "DTACT_STACK_SIZE", "1G" },
		{ "DTACT_STACK_SIZE", "1073741824" },
		{ "DTACT_MAX_FIBERS", "1" }, { "DTACT_MAX_FIBERS", "4194304" },
	};
	struct dt_cfg d, o;
	struct rlimit rl;
	size_t want_stack = 8u << 20;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned i;

	clear_env();
	cr_assert_eq(dt_config_resolve(NULL, &d), 0);
	cr_assert_eq(d.workers, ncpu > DT_MAX_WORKERS ? DT_MAX_WORKERS :
		     (int)ncpu);
	if (!getrlimit(RLIMIT_STACK, &rl) && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur < want_stack && rl.rlim_cur >= DT_MIN_STACK)
		want_stack = rl.rlim_cur;
	cr_assert_eq(d.stack_size, want_stack);
	cr_assert_eq(d.max_fibers, DT_DEFAULT_MAX_FIBERS);
	for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
		setenv(vars[i], "", 1);
		cr_assert_eq(dt_config_resolve(NULL, &o), 0, "%s empty",
			     vars[i]);
		cr_assert(o.workers == d.workers &&
			  o.stack_size == d.stack_size &&
			  o.max_fibers == d.max_fibers, "%s empty", vars[i]);
		unsetenv(vars[i]);
	}
	for (i = 0; i < sizeof(edge) / sizeof(edge[0]); i++) {
		clear_env();
		setenv(edge[i].var, edge[i].val, 1);
		cr_assert_eq(dt_config_resolve(NULL, &o), 0, "%s=%s refused",
			     edge[i].var, edge[i].val);
	}
	clear_env();
}

/* Description: a non-zero dtact_config_t field wins over its variable:
 * with DTACT_WORKERS=abc, DTACT_STACK_SIZE=2G and DTACT_MAX_FIBERS=0 in
 * the environment, a fully set config starts silently. */
Test(core_config, fields_override_environment, .timeout = 30)
{
	dtact_config_t c = dtact_default_config();
	char msg[1024];
	void *rt;

	clear_env();
	setenv("DTACT_WORKERS", "abc", 1);
	setenv("DTACT_STACK_SIZE", "2G", 1);
	setenv("DTACT_MAX_FIBERS", "0", 1);
	c.mWorkers = 2;
	c.mStackSize = 128u << 10;
	c.mFiberCapacity = 64;
	capture_begin();
	rt = dtact_init(&c);
	capture_end(msg, sizeof(msg));
	cr_assert_not_null(rt, "dtact_init: %s", strerror(errno));
	cr_assert_str_eq(msg, "");
	cr_assert(dt_rt.nworkers == 2 && dt_rt.stack_size == (128u << 10) &&
		  dt_rt.max_fibers == 64);
	finish(rt);
	clear_env();
}

/* ---------------------------------------------------------------- */
/* Parsers                                                           */

/* Description: dt_parse_size accepts decimal bytes with an optional
 * K/M/G (binary) suffix, optionally followed by "i" and/or "B", up to
 * UINT64_MAX; it refuses everything else, and overflow. */
Test(core_config, parse_size_cases, .timeout = 10)
{
	static const struct { const char *s; uint64_t v; } ok[] = {
		{ "0", 0 }, { "1", 1 }, { "65536", 65536 },
		{ "64K", 64ull << 10 }, { "64k", 64ull << 10 },
		{ "1M", 1ull << 20 }, { "1m", 1ull << 20 },
		{ "1G", 1ull << 30 }, { "1g", 1ull << 30 },
		{ "2KiB", 2048 }, { "2KB", 2048 }, { "2kb", 2048 },
		{ "2Ki", 2048 }, { "3MiB", 3ull << 20 }, { "5GB", 5ull << 30 },
		{ "007", 7 }, { "0K", 0 },
		{ "18446744073709551615", UINT64_MAX },
		{ "17179869183G", (17179869183ull) << 30 },
		{ "18014398509481983K", 18014398509481983ull << 10 },
	};
	static const char *const bad[] = {
		"", "K", "-1", "+1", " 1", "1 ", "1.5K", "1T", "1KK", "1Ki B",
		"1B", "1iB", "1b", "0x10", "1e3", "abc", "12x",
		"18446744073709551616", "99999999999999999999",
		"17179869184G", "18014398509481984K",
	};
	unsigned i;
	uint64_t v;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		v = 12345;
		cr_assert_eq(dt_parse_size(ok[i].s, &v), 0, "\"%s\" refused",
			     ok[i].s);
		cr_assert_eq(v, ok[i].v, "\"%s\" parsed as %llu", ok[i].s,
			     (unsigned long long)v);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = 12345;
		cr_assert_eq(dt_parse_size(bad[i], &v), -EINVAL,
			     "\"%s\" accepted as %llu", bad[i],
			     (unsigned long long)v);
		cr_assert_eq(v, 12345, "\"%s\": output written on error",
			     bad[i]);
	}
	cr_assert_eq(dt_parse_size(NULL, &v), -EINVAL);
}

/* Description: dt_parse_u64 accepts plain decimal integers up to
 * UINT64_MAX and refuses signs, spaces, suffixes and overflow. */
Test(core_config, parse_u64_cases, .timeout = 10)
{
	static const struct { const char *s; uint64_t v; } ok[] = {
		{ "0", 0 }, { "1", 1 }, { "1024", 1024 }, { "0042", 42 },
		{ "4294967296", 4294967296ull },
		{ "18446744073709551615", UINT64_MAX },
		{ "18446744073709551609", UINT64_MAX - 6 },
	};
	static const char *const bad[] = {
		"", "-1", "+1", " 1", "1 ", "1K", "0x1", "abc", "12x", "1.0",
		"18446744073709551616", "18446744073709551620",
		"99999999999999999999", "184467440737095516150",
	};
	unsigned i;
	uint64_t v;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		v = 12345;
		cr_assert_eq(dt_parse_u64(ok[i].s, &v), 0, "\"%s\" refused",
			     ok[i].s);
		cr_assert_eq(v, ok[i].v, "\"%s\" parsed as %llu", ok[i].s,
			     (unsigned long long)v);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = 12345;
		cr_assert_eq(dt_parse_u64(bad[i], &v), -EINVAL,
			     "\"%s\" accepted as %llu", bad[i],
			     (unsigned long long)v);
		cr_assert_eq(v, 12345, "\"%s\": output written on error",
			     bad[i]);
	}
	cr_assert_eq(dt_parse_u64(NULL, &v), -EINVAL);
}
