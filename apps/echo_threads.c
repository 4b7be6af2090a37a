/* SPDX-License-Identifier: MIT */
/*
 * apps/echo_threads.c - the program dtact exists for: a thread-per-
 * connection echo server written the old way (blocking accept/read/write,
 * one pthread_create per connection, a mutex-protected counter).  Plain
 * gcc -pthread; it knows nothing of dtact.
 *
 *   echo_threads PORT [BACKLOG]     (PORT 0: pick one, print it)
 * Prints "listening on PORT" when ready; exits on SIGTERM/SIGINT.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static long connections, active;

static void *serve(void *arg)
{
	int fd = (int)(long)arg;
	char buf[65536];
	ssize_t n;

	pthread_mutex_lock(&lock);
	connections++;
	active++;
	pthread_mutex_unlock(&lock);
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		ssize_t off = 0;

		while (off < n) {
			ssize_t w = write(fd, buf + off, (size_t)(n - off));

			if (w < 0) {
				if (errno == EINTR)
					continue;
				goto out;
			}
			off += w;
		}
	}
out:
	close(fd);
	pthread_mutex_lock(&lock);
	active--;
	pthread_mutex_unlock(&lock);
	return NULL;
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t al = sizeof(a);
	int one = 1, ls;
	pthread_attr_t at;

	if (argc < 2) {
		fprintf(stderr, "usage: %s PORT [BACKLOG]\n", argv[0]);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	ls = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons((unsigned short)atoi(argv[1]));
	if (bind(ls, (struct sockaddr *)&a, sizeof(a)) ||
	    listen(ls, argc > 2 ? atoi(argv[2]) : 4096)) {
		perror("bind/listen");
		return 1;
	}
	getsockname(ls, (struct sockaddr *)&a, &al);
	printf("listening on %d\n", ntohs(a.sin_port));
	fflush(stdout);
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	for (;;) {
		int fd = accept(ls, NULL, NULL);
		pthread_t t;
		int r;

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED ||
			    errno == EMFILE || errno == ENFILE)
				continue;
			perror("accept");
			return 1;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		r = pthread_create(&t, &at, serve, (void *)(long)fd);
		if (r) {
			/* Out of threads: refuse this one, keep serving. */
			fprintf(stderr, "pthread_create: %s\n", strerror(r));
			close(fd);
		}
	}
}
