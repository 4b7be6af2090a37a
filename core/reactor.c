/* SPDX-License-Identifier: MIT */
/*
 * core/reactor.c - the fd table and per-worker epoll readiness (see
 * core/reactor.h for the contract).
 *
 * Locking: each entry's spinlock protects its waiter lists, generation and
 * registration.  A waker claims each waiter under the lock (so a waiter
 * that timed out and is unlinking itself is never touched after it
 * returns), unlinks it, and posts it after the lock is dropped.  Epoll
 * user data is (generation << 32 | fd): an event whose generation no longer
 * matches belongs to a closed description and is dropped.
 */
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#include "core/reactor.h"

static _Atomic(struct dt_fd *) *fd_chunks;
static uint32_t fd_nchunks;

int dt_reactor_init(uint32_t hint)
{
	struct rlimit rl;
	uint64_t max = 1u << 20;

	(void)hint;
	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_max != RLIM_INFINITY &&
	    rl.rlim_max > max)
		max = rl.rlim_max;
	if (max > (1u << 26))
		max = 1u << 26;
	fd_nchunks = (uint32_t)((max + DT_FD_CHUNK - 1) / DT_FD_CHUNK);
	fd_chunks = calloc(fd_nchunks, sizeof(*fd_chunks));
	return fd_chunks ? 0 : -ENOMEM;
}

void dt_reactor_fini(void)
{
	uint32_t i;

	if (!fd_chunks)
		return;
	for (i = 0; i < fd_nchunks; i++)
		free(atomic_load(&fd_chunks[i]));
	free(fd_chunks);
	fd_chunks = NULL;
}

void dt_reactor_fork_child(void)
{
	uint32_t c, i;

	for (c = 0; fd_chunks && c < fd_nchunks; c++) {
		struct dt_fd *ch = atomic_load_explicit(&fd_chunks[c],
							memory_order_relaxed);

		for (i = 0; ch && i < DT_FD_CHUNK; i++) {
			struct dt_fd *e = &ch[i];

			/* A lock a vanished thread held, its waiters, and a
			 * registration in an epoll instance that stays the
			 * parent's: the child starts with none of them. */
			atomic_store_explicit(&e->lock, 0,
					      memory_order_relaxed);
			e->reg_worker = -1;
			e->waiters[0] = e->waiters[1] = NULL;
		}
	}
}

struct dt_fd *dt_fd_get(int fd, int create)
{
	uint32_t c, i;
	struct dt_fd *ch, *nc, *exp = NULL;

	if (fd < 0 || !fd_chunks)
		return NULL;
	c = (uint32_t)fd / DT_FD_CHUNK;
	if (c >= fd_nchunks)
		return NULL;
	/* Pairs with the release CAS below: a seen chunk is initialised. */
	ch = atomic_load_explicit(&fd_chunks[c], memory_order_acquire);
	if (dt_likely(ch))
		return &ch[(uint32_t)fd % DT_FD_CHUNK];
	if (!create)
		return NULL;
	nc = calloc(DT_FD_CHUNK, sizeof(*nc));
	if (!nc)
		return NULL;
	for (i = 0; i < DT_FD_CHUNK; i++)
		nc[i].reg_worker = -1;
	if (!atomic_compare_exchange_strong_explicit(&fd_chunks[c], &exp, nc,
			memory_order_acq_rel, memory_order_acquire)) {
		free(nc);
		nc = exp;
	}
	return &nc[(uint32_t)fd % DT_FD_CHUNK];
}

static void list_add(struct dt_waiter **head, struct dt_waiter *w)
{
	w->prev = NULL;
	w->next = *head;
	if (*head)
		(*head)->prev = w;
	*head = w;
	w->linked = 1;
}

static void list_del(struct dt_waiter **head, struct dt_waiter *w)
{
	if (w->prev)
		w->prev->next = w->next;
	else
		*head = w->next;
	if (w->next)
		w->next->prev = w->prev;
	w->next = w->prev = NULL;
	w->linked = 0;
}

/*
 * Claim every waiter of direction dir with state st and move it to the
 * singly linked list *out (through ->next).  Entry lock held.
 */
static void claim_all(struct dt_fd *e, int dir, uint32_t st,
		      struct dt_waiter **out)
{
	struct dt_waiter *w = e->waiters[dir], *nx;

	for (; w; w = nx) {
		nx = w->next;
		list_del(&e->waiters[dir], w);
		if (dt_waiter_claim(w, st)) {
			w->next = *out;
			*out = w;
		}
	}
}

static void post_all(struct dt_waiter *l)
{
	while (l) {
		struct dt_waiter *nx = l->next;	/* before post frees it */

		dt_waiter_post(l);
		l = nx;
	}
}

/* Register e (fd) edge-triggered in the caller's worker.  Lock held. */
static int reg(int fd, struct dt_fd *e, struct dt_worker *w)
{
	struct epoll_event ev = {
		.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
		.data.u64 = ((uint64_t)e->gen << 32) | (uint32_t)fd,
	};
	long r = dt_sys(SYS_epoll_ctl, w->epfd, EPOLL_CTL_ADD, fd, &ev, 0, 0);

	if (r == -EEXIST)
		r = dt_sys(SYS_epoll_ctl, w->epfd, EPOLL_CTL_MOD, fd, &ev, 0,
			   0);
	if (r == -EPERM) {
		e->unpollable = 1;
		return -EPERM;
	}
	if (r)
		return (int)r;
	e->reg_worker = w->id;
	atomic_fetch_add_explicit(&w->nregs, 1, memory_order_relaxed);
	return 0;
}

/* Not a fiber: block the thread in ppoll(2) on the same set. */
static int wait_thread(struct dt_fd_waitspec *v, int n, int64_t deadline)
{
	struct pollfd one, *p = n == 1 ? &one : calloc(n, sizeof(*p));
	struct timespec ts, *tp = NULL;
	long r;
	int i;

	if (!p)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		p[i].fd = v[i].fd;
		p[i].events = v[i].dir ? POLLOUT : POLLIN;
	}
	for (;;) {
		if (deadline != DT_DEADLINE_NONE) {
			int64_t d = deadline - dt_now_ns();

			if (d < 0)
				d = 0;
			ts.tv_sec = d / 1000000000;
			ts.tv_nsec = d % 1000000000;
			tp = &ts;
		}
		r = dt_sys(SYS_ppoll, p, n, tp, NULL, 0, 0);
		if (r != -EINTR)
			break;
	}
	if (r == 0)
		r = -ETIMEDOUT;
	else if (r > 0) {
		r = 0;
		for (i = 0; i < n; i++)
			if (p[i].revents & POLLNVAL)
				r = -EBADF;
	}
	if (p != &one)
		free(p);
	return (int)r;
}

int dt_fd_wait_many(struct dt_fd_waitspec *v, int n, int64_t deadline)
{
	struct dt_fiber *f = dt_current();
	struct dt_waiter g;
	int i, linked = 0, st, err = 0, early = 0;

	if (!f)
		return wait_thread(v, n, deadline);
	f->wait_obj = (uintptr_t)v[0].fd;	/* for the fiber dump */
	dt_waiter_init(&g);
	for (i = 0; i < n; i++) {
		struct dt_fd *e = v[i].e;

		if (e->unpollable) {
			err = -EPERM;
			break;
		}
		dt_spin_lock(&e->lock);
		if (atomic_load_explicit(&e->seq[v[i].dir],
					 memory_order_relaxed) != v[i].ticket) {
			dt_spin_unlock(&e->lock);
			early = 1;
			break;
		}
		if (e->reg_worker < 0) {
			int r = reg(v[i].fd, e, f->worker);

			if (r) {
				dt_spin_unlock(&e->lock);
				err = r;
				break;
			}
		}
		v[i].gen = e->gen;
		dt_waiter_init_member(&v[i].w, &g);
		list_add(&e->waiters[v[i].dir], &v[i].w);
		dt_spin_unlock(&e->lock);
		linked = i + 1;
	}
	if (early || err) {
		/* Withdraw.  If a waker claimed us meanwhile it will post:
		 * take that post (park) before going on. */
		if (!dt_waiter_claim(&g, DT_WAIT_WOKEN))
			dt_waiter_block(&g, DT_DEADLINE_NONE, CLOCK_MONOTONIC,
					DT_REASON_IO);
		st = DT_WAIT_WOKEN;
	} else {
		st = dt_waiter_block(&g, deadline, CLOCK_MONOTONIC,
				     DT_REASON_IO);
	}
	/* Always under the lock: a waker holding it may still be reading
	 * the record (see struct dt_waiter). */
	for (i = 0; i < linked; i++) {
		struct dt_fd *e = v[i].e;

		dt_spin_lock(&e->lock);
		if (v[i].w.linked)
			list_del(&e->waiters[v[i].dir], &v[i].w);
		if (e->gen != v[i].gen && !err)
			err = -EBADF;
		dt_spin_unlock(&e->lock);
	}
	if (err)
		return err;
	if (st == DT_WAIT_TIMEDOUT)
		return -ETIMEDOUT;
	if (st == DT_WAIT_CANCELLED)
		return -EBADF;
	if (st == DT_WAIT_INTERRUPTED)
		return -EINTR;
	return 0;
}

int dt_fd_wait(int fd, struct dt_fd *e, int dir, uint32_t ticket,
	       int64_t deadline)
{
	struct dt_fd_waitspec v = { .fd = fd, .e = e, .dir = dir,
				    .ticket = ticket };

	return dt_fd_wait_many(&v, 1, deadline);
}

int dt_fd_wait_level(int fd, uint32_t events, int64_t deadline)
{
	struct dt_fd *e = dt_fd_get(fd, 1);
	struct pollfd p = { .fd = fd };
	struct timespec zero = { 0, 0 };

	if (!e)
		return -EBADF;
	if (events & EPOLLIN)
		p.events |= POLLIN;
	if (events & EPOLLOUT)
		p.events |= POLLOUT;
	for (;;) {
		struct dt_fd_waitspec v[2];
		int n = 0;
		long r;

		if (events & EPOLLIN)
			v[n++] = (struct dt_fd_waitspec){ .fd = fd, .e = e,
				.dir = DT_FD_READ,
				.ticket = dt_fd_ticket(e, DT_FD_READ) };
		if (events & EPOLLOUT)
			v[n++] = (struct dt_fd_waitspec){ .fd = fd, .e = e,
				.dir = DT_FD_WRITE,
				.ticket = dt_fd_ticket(e, DT_FD_WRITE) };
		r = dt_sys(SYS_ppoll, &p, 1, &zero, NULL, 0, 0);
		if (r < 0 && r != -EINTR)
			return (int)r;
		if (r > 0) {
			if (p.revents & POLLNVAL)
				return -EBADF;
			return (p.revents & POLLIN ? EPOLLIN : 0) |
			       (p.revents & POLLOUT ? EPOLLOUT : 0) |
			       (p.revents & POLLERR ? EPOLLERR : 0) |
			       (p.revents & POLLHUP ? EPOLLHUP : 0);
		}
		if (!n)
			return -EINVAL;
		r = dt_fd_wait_many(v, n, deadline);
		if (r == -EPERM)	/* regular files are always ready */
			return (int)(events & (EPOLLIN | EPOLLOUT));
		if (r)
			return (int)r;
	}
}

void dt_reactor_event(struct dt_worker *w, uint64_t data, uint32_t events)
{
	int fd = (int)(uint32_t)data;
	struct dt_fd *e = dt_fd_get(fd, 0);
	struct dt_waiter *l = NULL;

	(void)w;
	if (!e)
		return;
	dt_spin_lock(&e->lock);
	if (e->gen != (uint32_t)(data >> 32)) {	/* closed since */
		dt_spin_unlock(&e->lock);
		return;
	}
	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
		atomic_fetch_add_explicit(&e->seq[DT_FD_READ], 1,
					  memory_order_release);
		claim_all(e, DT_FD_READ, DT_WAIT_WOKEN, &l);
	}
	if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) {
		atomic_fetch_add_explicit(&e->seq[DT_FD_WRITE], 1,
					  memory_order_release);
		claim_all(e, DT_FD_WRITE, DT_WAIT_WOKEN, &l);
	}
	dt_spin_unlock(&e->lock);
	post_all(l);
}

static void forget(int fd, struct dt_fd *e, struct dt_waiter **l)
{
	e->gen++;
	atomic_fetch_add_explicit(&e->seq[0], 1, memory_order_release);
	atomic_fetch_add_explicit(&e->seq[1], 1, memory_order_release);
	if (e->reg_worker >= 0) {
		/* Before the real close, while fd still names the file. */
		dt_sys(SYS_epoll_ctl, dt_rt.workers[e->reg_worker].epfd,
		       EPOLL_CTL_DEL, fd, NULL, 0, 0);
		atomic_fetch_sub_explicit(&dt_rt.workers[e->reg_worker].nregs,
					  1, memory_order_relaxed);
		e->reg_worker = -1;
	}
	e->unpollable = 0;
	claim_all(e, DT_FD_READ, DT_WAIT_CANCELLED, l);
	claim_all(e, DT_FD_WRITE, DT_WAIT_CANCELLED, l);
}

void dt_fd_close(int fd)
{
	struct dt_fd *e = dt_fd_get(fd, 0);
	struct dt_waiter *l = NULL;

	if (!e)
		return;
	dt_spin_lock(&e->lock);
	forget(fd, e, &l);
	e->user_flags = 0;
	e->rcvtimeo_ns = e->sndtimeo_ns = 0;
	dt_spin_unlock(&e->lock);
	post_all(l);
}

void dt_fd_reset(int fd)
{
	struct dt_fd *e = dt_fd_get(fd, 0);
	struct dt_waiter *l = NULL;

	if (!e)
		return;
	dt_spin_lock(&e->lock);
	if (e->reg_worker >= 0 || e->waiters[0] || e->waiters[1] ||
	    e->unpollable || e->user_flags || e->rcvtimeo_ns ||
	    e->sndtimeo_ns) {
		/* The old description is gone (closed behind our back):
		 * its registration may already have vanished with it. */
		forget(fd, e, &l);
		e->user_flags = 0;
		e->rcvtimeo_ns = e->sndtimeo_ns = 0;
	}
	dt_spin_unlock(&e->lock);
	post_all(l);
}
