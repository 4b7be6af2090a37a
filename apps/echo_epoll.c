/* SPDX-License-Identifier: MIT */
/*
 * apps/echo_epoll.c - the hand-written limit the shim is measured against:
 * the same echo protocol as apps/echo_threads, served by edge-triggered
 * epoll event loops instead of one thread per connection.  Plain gcc
 * -pthread; it knows nothing of dtact.
 *
 *   echo_epoll PORT [THREADS]       (PORT 0: pick one, print it)
 * Prints "listening on PORT" when ready; exits on SIGTERM/SIGINT.
 *
 * THREADS (default 1) event loops, each with its own epoll set and, when
 * THREADS > 1, its own listening socket bound to the same port with
 * SO_REUSEPORT, so the kernel spreads new connections over the loops and
 * no connection ever moves: nothing is shared between threads.
 *
 * Per connection: a small struct conn; the read buffer is one per thread
 * (64 KiB, the size of echo_threads' stack buffer).  What a write could
 * not send right away is copied into a per-connection buffer, and reading
 * stops until it has drained (back-pressure, like the blocking server).
 * Edge-triggered: every handler runs until EAGAIN, or it remembers that it
 * stopped early (c->out_len != 0 means "input may still be pending").
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUF_SIZE	65536
#define MAX_EVENTS	256
#define MAX_THREADS	256

struct conn {
	int fd;
	size_t out_len;		/* bytes in out still to write */
	size_t out_off;		/* first unwritten byte of out */
	char *out;		/* malloc'ed only when a write blocked */
};

struct loop {
	pthread_t tid;
	int epfd;
	int ls;			/* this loop's listening socket */
	char buf[BUF_SIZE];
};

/* The listening socket is told apart from connections by this address. */
static struct conn listener_tag;

static int listen_on(unsigned short port, int reuseport)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	int one = 1, ls;

	ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (ls < 0)
		return -1;
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (reuseport &&
	    setsockopt(ls, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)))
		goto out_close;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons(port);
	if (bind(ls, (struct sockaddr *)&a, sizeof(a)) || listen(ls, 4096))
		goto out_close;
	return ls;
out_close:
	close(ls);
	return -1;
}

static void conn_close(struct conn *c)
{
	close(c->fd);	/* also removes it from the epoll set */
	free(c->out);
	free(c);
}

/* Write what is queued; 0 when all of it is out, 1 blocked, -1 error. */
static int flush_out(struct conn *c)
{
	while (c->out_len) {
		ssize_t w = write(c->fd, c->out + c->out_off, c->out_len);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN ? 1 : -1;
		}
		c->out_off += (size_t)w;
		c->out_len -= (size_t)w;
	}
	return 0;
}

/* Keep what write() did not take: reading stops until it is out. */
static int queue_out(struct conn *c, const char *p, size_t n)
{
	if (!c->out) {
		c->out = malloc(BUF_SIZE);
		if (!c->out)
			return -1;
	}
	memcpy(c->out, p, n);	/* n <= BUF_SIZE: one read's worth */
	c->out_off = 0;
	c->out_len = n;
	return 0;
}

/*
 * Read and echo until read() says EAGAIN (the next edge will come) or a
 * write blocks (EPOLLOUT's edge will come; then this runs again).
 * Returns -1 when the connection is finished.
 */
static int serve(struct loop *l, struct conn *c)
{
	int r = flush_out(c);

	if (r)
		return r < 0 ? -1 : 0;
	for (;;) {
		ssize_t n = read(c->fd, l->buf, sizeof(l->buf)), off = 0;

		if (n == 0)
			return -1;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN ? 0 : -1;
		}
		while (off < n) {
			ssize_t w = write(c->fd, l->buf + off,
					  (size_t)(n - off));

			if (w < 0) {
				if (errno == EINTR)
					continue;
				if (errno != EAGAIN)
					return -1;
				return queue_out(c, l->buf + off,
						 (size_t)(n - off));
			}
			off += w;
		}
	}
}

static void accept_all(struct loop *l)
{
	int one = 1;

	for (;;) {
		struct epoll_event ev = {
			.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
		};
		struct conn *c;
		int fd = accept4(l->ls, NULL, NULL,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN)
				/* EMFILE and the like: this edge is lost,
				 * the next connection brings another. */
				perror("accept4");
			return;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		c->fd = fd;
		ev.data.ptr = c;
		if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev)) {
			perror("epoll_ctl");
			conn_close(c);
			continue;
		}
		/* Data may have arrived before the ADD: no edge for it. */
		if (serve(l, c) < 0)
			conn_close(c);
	}
}

static void *loop_main(void *arg)
{
	struct loop *l = arg;
	struct epoll_event ev[MAX_EVENTS];

	for (;;) {
		int i, n = epoll_wait(l->epfd, ev, MAX_EVENTS, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			perror("epoll_wait");
			exit(1);
		}
		for (i = 0; i < n; i++) {
			struct conn *c = ev[i].data.ptr;

			if (c == &listener_tag)
				accept_all(l);
			else if (serve(l, c) < 0)
				conn_close(c);
		}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	struct sockaddr_in a;
	socklen_t al = sizeof(a);
	unsigned short port;
	struct loop *loops;
	int i, n;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: %s PORT [THREADS]\n", argv[0]);
		return 2;
	}
	n = argc > 2 ? atoi(argv[2]) : 1;
	if (n < 1 || n > MAX_THREADS) {
		fprintf(stderr, "echo_epoll: THREADS must be 1..%d\n",
			MAX_THREADS);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	loops = calloc((size_t)n, sizeof(*loops));
	if (!loops) {
		perror("calloc");
		return 1;
	}
	port = (unsigned short)atoi(argv[1]);
	for (i = 0; i < n; i++) {
		struct epoll_event ev = {
			.events = EPOLLIN | EPOLLET,
			.data.ptr = &listener_tag,
		};
		struct loop *l = &loops[i];

		/* The first socket picks the port when PORT is 0. */
		l->ls = listen_on(port, n > 1);
		if (l->ls < 0) {
			perror("bind/listen");
			return 1;
		}
		if (i == 0) {
			getsockname(l->ls, (struct sockaddr *)&a, &al);
			port = ntohs(a.sin_port);
		}
		l->epfd = epoll_create1(EPOLL_CLOEXEC);
		if (l->epfd < 0 ||
		    epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->ls, &ev)) {
			perror("epoll");
			return 1;
		}
	}
	printf("listening on %d\n", port);
	fflush(stdout);
	for (i = 1; i < n; i++) {
		int r = pthread_create(&loops[i].tid, NULL, loop_main,
				       &loops[i]);

		if (r) {
			fprintf(stderr, "pthread_create: %s\n", strerror(r));
			return 1;
		}
	}
	loop_main(&loops[0]);
	return 0;
}
