/* SPDX-License-Identifier: MIT */
/*
 * core/key.c - fiber-local keys with POSIX thread-specific-data semantics
 * (pthread_key_create(3p)): up to DT_KEYS_MAX keys, a deleted key's slot
 * reused with a new sequence number so stale values read as NULL, and
 * destructors run at fiber exit for non-NULL values, repeated up to
 * DT_DESTRUCTOR_ITERATIONS rounds while values remain.
 *
 * Locking: the key table is written under key_lock (create/delete, rare)
 * and read without it: each slot's sequence number is odd while the key
 * is in use, and a reader compares it with the sequence stored next to the
 * value.  Per-fiber values are touched only by the fiber itself.
 */
#include <stdlib.h>
#include <string.h>

#include "core/dt.h"

struct dt_keyslot {
	_Atomic uint64_t seq;		/* odd: in use */
	void (*_Atomic dtor)(void *);
};

struct dt_keyval {
	void *v;
	uint64_t seq;			/* seq of the key when v was set */
};

struct dt_keyvals {
	uint32_t cap;
	struct dt_keyval e[];
};

static struct dt_keyslot keys[DT_KEYS_MAX];
static _Atomic uint32_t key_lock;

void dt_key_fork_child(void)
{
	/* A thread that vanished in fork may have held it mid-update of one
	 * slot; glibc's key table has no lock to lose. */
	atomic_store_explicit(&key_lock, 0, memory_order_relaxed);
}

int dt_key_create(uint32_t *key, void (*dtor)(void *))
{
	uint32_t i;

	dt_spin_lock(&key_lock);
	for (i = 0; i < DT_KEYS_MAX; i++) {
		uint64_t s = atomic_load_explicit(&keys[i].seq,
						  memory_order_relaxed);
		if (!(s & 1)) {
			atomic_store_explicit(&keys[i].dtor, dtor,
					      memory_order_relaxed);
			/* Release: dtor is set before the key is in use. */
			atomic_store_explicit(&keys[i].seq, s + 1,
					      memory_order_release);
			dt_spin_unlock(&key_lock);
			*key = i;
			return 0;
		}
	}
	dt_spin_unlock(&key_lock);
	return -EAGAIN;
}

int dt_key_delete(uint32_t key)
{
	int r = -EINVAL;

	if (key >= DT_KEYS_MAX)
		return -EINVAL;
	dt_spin_lock(&key_lock);
	if (atomic_load_explicit(&keys[key].seq, memory_order_relaxed) & 1) {
		atomic_fetch_add_explicit(&keys[key].seq, 1,
					  memory_order_release);
		r = 0;
	}
	dt_spin_unlock(&key_lock);
	return r;
}

void *dt_key_get(struct dt_fiber *f, uint32_t key)
{
	struct dt_keyvals *kv = f->keys;
	uint64_t s;

	if (!kv || key >= kv->cap)
		return NULL;
	s = atomic_load_explicit(&keys[key].seq, memory_order_acquire);
	return (kv->e[key].seq == s && (s & 1)) ? kv->e[key].v : NULL;
}

int dt_key_set(struct dt_fiber *f, uint32_t key, const void *v)
{
	struct dt_keyvals *kv = f->keys;
	uint64_t s;

	if (key >= DT_KEYS_MAX)
		return -EINVAL;
	s = atomic_load_explicit(&keys[key].seq, memory_order_acquire);
	if (!(s & 1))
		return -EINVAL;
	if (!kv || key >= kv->cap) {
		uint32_t cap = kv ? kv->cap : 0, nc = cap ? cap : 8;
		struct dt_keyvals *n;

		while (nc <= key)
			nc *= 2;
		if (nc > DT_KEYS_MAX)
			nc = DT_KEYS_MAX;
		n = realloc(kv, sizeof(*n) + nc * sizeof(n->e[0]));
		if (!n)
			return -ENOMEM;
		memset(&n->e[cap], 0, (nc - cap) * sizeof(n->e[0]));
		n->cap = nc;
		f->keys = kv = n;
	}
	kv->e[key].v = (void *)v;
	kv->e[key].seq = s;
	return 0;
}

void dt_keys_run_destructors(struct dt_fiber *f)
{
	int round;

	for (round = 0; round < DT_DESTRUCTOR_ITERATIONS; round++) {
		struct dt_keyvals *kv = f->keys;
		int again = 0;
		uint32_t i;

		if (!kv)
			return;
		for (i = 0; i < kv->cap; i++) {
			uint64_t s = atomic_load_explicit(&keys[i].seq,
							  memory_order_acquire);
			void (*d)(void *);
			void *v;

			kv = f->keys;	/* a destructor may have grown it */
			if (i >= kv->cap)
				break;
			if (!(s & 1) || kv->e[i].seq != s || !kv->e[i].v)
				continue;
			d = atomic_load_explicit(&keys[i].dtor,
						 memory_order_relaxed);
			v = kv->e[i].v;
			kv->e[i].v = NULL;
			if (d) {
				d(v);
				again = 1;
			}
		}
		if (!again)
			return;
	}
}

void dt_keys_free(struct dt_fiber *f)
{
	free(f->keys);
	f->keys = NULL;
}
