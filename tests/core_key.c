/* SPDX-License-Identifier: MIT */
/*
 * tests/core_key.c - fiber-local keys: POSIX thread-specific data
 * semantics per fiber (pthread_key_create(3p), pthread_setspecific(3p)).
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "dtact.h"
#include "core/dt.h"
#include "harness.h"

static uint32_t k1, k2;
static _Atomic int dtor_calls;

static void dtor(void *v)
{
	atomic_fetch_add(&dtor_calls, 1);
	CHECK(v == (void *)0x1234 || v == (void *)0x5678,
	      "destructor got %p", v);
}

static void each_own(void *arg)
{
	uintptr_t me = (uintptr_t)arg;
	struct dt_fiber *f = dt_current();

	CHECK(dt_key_get(f, k1) == NULL, "a new fiber sees NULL");
	CHECK(dt_key_set(f, k1, (void *)me) == 0, "set");
	dtact_yield();
	CHECK(dt_key_get(f, k1) == (void *)me, "value is per fiber: got %p "
	      "want %p", dt_key_get(f, k1), (void *)me);
}

static void per_fiber_root(void *arg)
{
	dtact_handle_t h[64];
	int i;

	(void)arg;
	CHECK(dt_key_create(&k1, NULL) == 0, "create");
	for (i = 0; i < 64; i++)
		h[i] = dtact_fiber_launch(each_own, (void *)(uintptr_t)(i + 1));
	for (i = 0; i < 64; i++)
		CHECK(dtact_await(h[i]) == 0, "await");
	CHECK(dt_key_delete(k1) == 0, "delete");
}

/* Description: each of 64 fibers sees only the value it set under one
 * key, across yields that interleave them. */
Test(core_key, values_are_per_fiber, .timeout = 20)
{
	run_root(per_fiber_root, NULL);
}

static void set_and_end(void *arg)
{
	struct dt_fiber *f = dt_current();

	(void)arg;
	CHECK(dt_key_set(f, k1, (void *)0x1234) == 0, "set k1");
	CHECK(dt_key_set(f, k2, (void *)0x5678) == 0, "set k2");
	CHECK(dt_key_set(f, k2, NULL) == 0 && dt_key_get(f, k2) == NULL,
	      "a NULL value is no value");
	CHECK(dt_key_set(f, k2, (void *)0x5678) == 0, "set k2 again");
}

static void dtor_root(void *arg)
{
	(void)arg;
	CHECK(dt_key_create(&k1, dtor) == 0, "create k1");
	CHECK(dt_key_create(&k2, dtor) == 0, "create k2");
	CHECK(dtact_await(dtact_fiber_launch(set_and_end, NULL)) == 0, "await");
	CHECK(atomic_load(&dtor_calls) == 2, "destructors ran %d times, "
	      "want 2 (one per non-NULL value)", atomic_load(&dtor_calls));
}

/* Description: at fiber exit the destructor of every key with a non-NULL
 * value runs once with that value. */
Test(core_key, destructors_at_exit, .timeout = 20)
{
	run_root(dtor_root, NULL);
}

static uint32_t kre;
static _Atomic int re_calls;

static void re_dtor(void *v)
{
	int n = atomic_fetch_add(&re_calls, 1) + 1;

	/* Sets the value again every time: POSIX bounds the rounds. */
	(void)v;
	dt_key_set(dt_current(), kre, (void *)(uintptr_t)n);
}

static void re_fiber(void *arg)
{
	(void)arg;
	dt_key_set(dt_current(), kre, (void *)1);
}

static void re_root(void *arg)
{
	(void)arg;
	CHECK(dt_key_create(&kre, re_dtor) == 0, "create");
	CHECK(dtact_await(dtact_fiber_launch(re_fiber, NULL)) == 0, "await");
	CHECK(atomic_load(&re_calls) == DT_DESTRUCTOR_ITERATIONS,
	      "a destructor that keeps setting its value ran %d times, want "
	      "PTHREAD_DESTRUCTOR_ITERATIONS (%d)", atomic_load(&re_calls),
	      DT_DESTRUCTOR_ITERATIONS);
}

/* Description: a destructor that sets a value again is called again, at
 * most PTHREAD_DESTRUCTOR_ITERATIONS rounds in all. */
Test(core_key, destructor_rounds_bounded, .timeout = 20)
{
	run_root(re_root, NULL);
}

static void stale_root(void *arg)
{
	struct dt_fiber *f = dt_current();
	uint32_t k, k_again;

	(void)arg;
	CHECK(dt_key_create(&k, NULL) == 0, "create");
	CHECK(dt_key_set(f, k, (void *)0x42) == 0, "set");
	CHECK(dt_key_delete(k) == 0, "delete");
	CHECK(dt_key_delete(k) == -EINVAL, "deleting twice: EINVAL");
	CHECK(dt_key_set(f, k, (void *)1) == -EINVAL, "set on a deleted key");
	CHECK(dt_key_create(&k_again, NULL) == 0, "create again");
	CHECK(k_again == k, "the slot is reused (%u, %u)", k_again, k);
	CHECK(dt_key_get(f, k_again) == NULL, "a reused key does not show "
	      "the value set under the deleted one");
	dt_key_delete(k_again);
}

/* Description: after pthread_key_delete a value is gone even when the key
 * number is reused by the next create; deleting twice is EINVAL. */
Test(core_key, delete_makes_values_stale, .timeout = 20)
{
	run_root(stale_root, NULL);
}

/* Description: at most PTHREAD_KEYS_MAX (1024) keys exist at once: the
 * next create fails with EAGAIN, and one delete makes room again. */
Test(core_key, keys_max_eagain, .timeout = 20)
{
	static uint32_t ks[DT_KEYS_MAX];
	uint32_t extra;
	unsigned i, n = 0;

	for (i = 0; i < DT_KEYS_MAX; i++)
		if (dt_key_create(&ks[n], NULL) == 0)
			n++;
	cr_assert_eq(n, DT_KEYS_MAX, "created %u of %u", n, DT_KEYS_MAX);
	cr_assert_eq(dt_key_create(&extra, NULL), -EAGAIN);
	cr_assert_eq(dt_key_delete(ks[7]), 0);
	cr_assert_eq(dt_key_create(&extra, NULL), 0);
	cr_assert_eq(extra, ks[7]);
}
