/* SPDX-License-Identifier: MIT */
/*
 * tests/apps/proc_dns.c - an ordinary pthread program (no dtact header)
 * that resolves names and runs and waits for child processes, printing
 * only deterministic facts (never timings), so that its output under the
 * shim can be compared byte for byte with its output run natively
 * (tests/shim_proc.sh).
 *
 * Exercises: getaddrinfo, getnameinfo, gethostbyname[2][_r],
 * gethostbyaddr[_r] against /etc/hosts (no network), errno and h_errno
 * as libc leaves them; system, popen/pclose, posix_spawnp with pipes,
 * fork + exec + waitpid, wait/wait3/wait4/waitid, ECHILD, WNOHANG,
 * WUNTRACED, a child that becomes its parent's tracee (PTRACE_TRACEME),
 * waitpid cut short by a signal handler (EINTR without SA_RESTART, the
 * child collected with it), a waitpid and an fclose of a popen stream in
 * one thread while another thread keeps counting, the signal mask children of threads start with (the
 * program's, whichever worker the thread runs on); finally F_GETFL of
 * fds 0, 1, 2.
 *
 * Usage: proc_dns [-i]   (-i: also read stdin to its end from a thread
 * and print how many lines it had)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static void die(const char *what)
{
	fprintf(stderr, "proc_dns: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static const char *status_str(int st)
{
	static char buf[64];

	if (WIFEXITED(st))
		snprintf(buf, sizeof(buf), "exited %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		snprintf(buf, sizeof(buf), "killed by %d", WTERMSIG(st));
	else if (WIFSTOPPED(st))
		snprintf(buf, sizeof(buf), "stopped by %d", WSTOPSIG(st));
	else
		snprintf(buf, sizeof(buf), "status %#x", st);
	return buf;
}

/* ---------------------------------------------------------------- */
/* Names                                                              */

static void print_hostent(const char *what, const struct hostent *h)
{
	char *list[64], addr[INET6_ADDRSTRLEN];
	int n = 0, i;

	if (!h) {
		printf("%s: NULL h_errno=%d\n", what, h_errno);
		return;
	}
	printf("%s: name=%s type=%d len=%d\n", what, h->h_name,
	       h->h_addrtype, h->h_length);
	for (i = 0; h->h_aliases[i] && n < 64; i++)
		list[n++] = h->h_aliases[i];
	qsort(list, n, sizeof(list[0]), cmp_str);
	for (i = 0; i < n; i++)
		printf("  alias %s\n", list[i]);
	n = 0;
	for (i = 0; h->h_addr_list[i] && n < 64; i++) {
		inet_ntop(h->h_addrtype, h->h_addr_list[i], addr,
			  sizeof(addr));
		list[n++] = strdup(addr);
	}
	qsort(list, n, sizeof(list[0]), cmp_str);
	for (i = 0; i < n; i++) {
		printf("  addr %s\n", list[i]);
		free(list[i]);
	}
}

static void names(void)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC,
				  .ai_socktype = SOCK_STREAM }, *res, *ai;
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_port = htons(80) };
	struct hostent hb, *hp;
	char host[256], serv[64], buf[8192], *list[64];
	struct in_addr lo;
	int r, n = 0, i, herr;

	inet_pton(AF_INET, "127.0.0.1", &lo);
	sin.sin_addr = lo;

	errno = 4242;
	r = getaddrinfo("localhost", "80", &hints, &res);
	printf("getaddrinfo localhost 80: %d\n", r);
	if (!r) {
		for (ai = res; ai && n < 64; ai = ai->ai_next) {
			char a[INET6_ADDRSTRLEN], line[128];
			int port;

			if (ai->ai_family == AF_INET) {
				struct sockaddr_in *s = (void *)ai->ai_addr;

				inet_ntop(AF_INET, &s->sin_addr, a, sizeof(a));
				port = ntohs(s->sin_port);
			} else {
				struct sockaddr_in6 *s = (void *)ai->ai_addr;

				inet_ntop(AF_INET6, &s->sin6_addr, a,
					  sizeof(a));
				port = ntohs(s->sin6_port);
			}
			snprintf(line, sizeof(line), "family=%d %s port %d",
				 ai->ai_family, a, port);
			list[n++] = strdup(line);
		}
		qsort(list, n, sizeof(list[0]), cmp_str);
		for (i = 0; i < n; i++) {
			printf("  %s\n", list[i]);
			free(list[i]);
		}
		freeaddrinfo(res);
	}
	printf("  errno after: %d\n", errno);
	hints.ai_flags = AI_NUMERICSERV;
	r = getaddrinfo("localhost", "http", &hints, &res);
	printf("getaddrinfo numeric-serv http: %d (%s)\n", r, gai_strerror(r));
	if (!r)
		freeaddrinfo(res);

	r = getnameinfo((struct sockaddr *)&sin, sizeof(sin), host,
			sizeof(host), serv, sizeof(serv), NI_NUMERICSERV);
	printf("getnameinfo 127.0.0.1:80: %d host=%s serv=%s\n", r,
	       r ? "-" : host, r ? "-" : serv);
	r = getnameinfo((struct sockaddr *)&sin, 3, host, sizeof(host), serv,
			sizeof(serv), 0);
	printf("getnameinfo short salen: %d (%s)\n", r, gai_strerror(r));

	h_errno = 12345;
	errno = 4242;
	hp = gethostbyname("localhost");
	print_hostent("gethostbyname localhost", hp);
	printf("  h_errno after: %d errno after: %d\n", h_errno, errno);
	print_hostent("gethostbyname2 localhost AF_INET",
		      gethostbyname2("localhost", AF_INET));
	hp = gethostbyaddr(&lo, sizeof(lo), AF_INET);
	print_hostent("gethostbyaddr 127.0.0.1", hp);
	errno = 0;
	h_errno = 0;
	hp = gethostbyaddr(&lo, 3, AF_INET);
	printf("gethostbyaddr len 3: %s h_errno=%d errno=%d\n",
	       hp ? "found" : "NULL", h_errno, errno);

	herr = -7;
	r = gethostbyname_r("localhost", &hb, buf, sizeof(buf), &hp, &herr);
	printf("gethostbyname_r localhost: %d herr=%d\n", r, herr);
	print_hostent("  result", r ? NULL : hp);
	herr = -7;
	hp = (void *)1;
	r = gethostbyname_r("localhost", &hb, buf, 8, &hp, &herr);
	printf("gethostbyname_r 8-byte buffer: %d (%s) result=%s herr=%d\n",
	       r, r == ERANGE ? "ERANGE" : "?", hp ? "set" : "NULL", herr);
	herr = -7;
	r = gethostbyname2_r("localhost", AF_INET, &hb, buf, sizeof(buf),
			     &hp, &herr);
	printf("gethostbyname2_r localhost: %d herr=%d\n", r, herr);
	print_hostent("  result", r ? NULL : hp);
	herr = -7;
	r = gethostbyaddr_r(&lo, sizeof(lo), AF_INET, &hb, buf, sizeof(buf),
			    &hp, &herr);
	printf("gethostbyaddr_r 127.0.0.1: %d herr=%d\n", r, herr);
	print_hostent("  result", r ? NULL : hp);
}

/* ---------------------------------------------------------------- */
/* Processes                                                          */

static pid_t spawn_exit(int code, int delay_ms)
{
	pid_t p = fork();

	if (p < 0)
		die("fork");
	if (!p) {
		if (delay_ms)
			usleep(delay_ms * 1000);
		_exit(code);
	}
	return p;
}

/* A child that exits with code once *tell is closed (with 9 after 10 s
 * without word), so that it is still running until the caller says. */
static pid_t spawn_told(int code, int *tell)
{
	struct pollfd pfd;
	int p[2];
	pid_t c;

	if (pipe(p))
		die("pipe");
	c = fork();
	if (c < 0)
		die("fork");
	if (!c) {
		close(p[1]);
		pfd.fd = p[0];
		pfd.events = POLLIN;
		_exit(poll(&pfd, 1, 10000) == 1 ? code : 9);
	}
	close(p[0]);
	*tell = p[1];
	return c;
}

static void run_system(void)
{
	int st = system("exit 3");

	printf("system(exit 3): %s\n", status_str(st));
	printf("system(NULL): %s\n", system(NULL) ? "shell" : "none");
}

static void run_popen(void)
{
	char line[64] = "";
	FILE *f = popen("echo hi; exit 4", "r");
	int st;

	if (!f)
		die("popen");
	if (!fgets(line, sizeof(line), f))
		strcpy(line, "(nothing)\n");
	st = pclose(f);
	printf("popen: read %s", line);
	printf("pclose: %s\n", status_str(st));
	/* glibc's pclose is fclose: the same wait, the same status (the
	 * point of the check, hence no -Wmismatched-dealloc here). */
	f = popen("exit 5", "r");
	if (!f)
		die("popen");
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-dealloc"
	st = fclose(f);
#pragma GCC diagnostic pop
	printf("fclose of a popen stream: %s\n", status_str(st));
}

static void run_spawn_sort(void)
{
	static const char input[] = "pear\napple\nfig\nbanana\n";
	char *argv[] = { "sort", NULL }, out[256];
	posix_spawn_file_actions_t fa;
	int in[2], outp[2], st, r;
	size_t got = 0;
	ssize_t n;
	pid_t pid;

	if (pipe(in) || pipe(outp))
		die("pipe");
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	posix_spawn_file_actions_adddup2(&fa, outp[1], 1);
	posix_spawn_file_actions_addclose(&fa, in[1]);
	posix_spawn_file_actions_addclose(&fa, outp[0]);
	r = posix_spawnp(&pid, "sort", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (r) {
		errno = r;
		die("posix_spawnp");
	}
	close(in[0]);
	close(outp[1]);
	if (write(in[1], input, sizeof(input) - 1) != sizeof(input) - 1)
		die("write");
	close(in[1]);
	while ((n = read(outp[0], out + got, sizeof(out) - 1 - got)) > 0)
		got += n;
	close(outp[0]);
	out[got] = '\0';
	if (waitpid(pid, &st, 0) != pid)
		die("waitpid sort");
	printf("posix_spawnp sort: %s, output:\n%s", status_str(st), out);
}

static void run_fork_exec(void)
{
	pid_t p = fork(), r;
	int st;

	if (p < 0)
		die("fork");
	if (!p) {
		execl("/bin/true", "true", (char *)NULL);
		_exit(127);
	}
	r = waitpid(p, &st, 0);
	printf("fork+exec /bin/true: waitpid %s, %s\n",
	       r == p ? "pid" : "?", status_str(st));
	r = waitpid(p, &st, 0);
	printf("waitpid again: %d %s\n", (int)r,
	       r < 0 && errno == ECHILD ? "ECHILD" : "?");
	errno = 0;
	r = waitpid(-1, &st, 0);
	printf("waitpid(-1) without children: %d %s\n", (int)r,
	       r < 0 && errno == ECHILD ? "ECHILD" : "?");
}

static void run_waits(void)
{
	pid_t a, b, c, r;
	struct rusage ru;
	siginfo_t si;
	int st, got[2], i, tell;

	/* wait(): any child, two of them. */
	a = spawn_exit(5, 20);
	b = spawn_exit(6, 60);
	for (i = 0; i < 2; i++) {
		r = wait(&st);
		got[i] = (r == a || r == b) ? WEXITSTATUS(st) : -1;
	}
	if (got[0] > got[1]) {
		i = got[0];
		got[0] = got[1];
		got[1] = i;
	}
	printf("wait() x2: exit codes %d %d\n", got[0], got[1]);

	/* waitpid(0): own process group. */
	a = spawn_exit(9, 30);
	r = waitpid(0, &st, 0);
	printf("waitpid(0): %s %s\n", r == a ? "pid" : "?", status_str(st));

	/* WNOHANG on a running child, then collect it. */
	a = spawn_told(8, &tell);
	r = waitpid(a, &st, WNOHANG);
	printf("waitpid WNOHANG on a running child: %d\n", (int)r);
	close(tell);
	r = wait4(a, &st, 0, &ru);
	printf("wait4 with rusage: %s %s\n", r == a ? "pid" : "?",
	       status_str(st));

	/* waitid P_PID and P_ALL. */
	a = spawn_exit(7, 30);
	memset(&si, 0, sizeof(si));
	r = waitid(P_PID, a, &si, WEXITED);
	printf("waitid P_PID: %d code=%s status=%d pid=%s\n", (int)r,
	       si.si_code == CLD_EXITED ? "CLD_EXITED" : "?", si.si_status,
	       si.si_pid == a ? "ok" : "?");
	a = spawn_exit(11, 30);
	memset(&si, 0, sizeof(si));
	r = waitid(P_ALL, 0, &si, WEXITED | WNOWAIT);
	printf("waitid P_ALL WNOWAIT: %d status=%d\n", (int)r, si.si_status);
	r = wait3(&st, 0, NULL);
	printf("wait3 after it: %s %s\n", r == a ? "pid" : "?",
	       status_str(st));

	/* A stopped child with WUNTRACED, then killed. */
	c = fork();
	if (c < 0)
		die("fork");
	if (!c) {
		raise(SIGSTOP);
		_exit(0);
	}
	r = waitpid(c, &st, WUNTRACED);
	printf("waitpid WUNTRACED: %s %s\n", r == c ? "pid" : "?",
	       status_str(st));
	kill(c, SIGKILL);
	r = waitpid(c, &st, 0);
	printf("waitpid after SIGKILL: %s %s\n", r == c ? "pid" : "?",
	       status_str(st));

	/* A child that makes its parent its tracer right after fork, as a
	 * debugger starts its program: its ptrace stop is reported to a
	 * plain waitpid(pid, 0). */
	c = fork();
	if (c < 0)
		die("fork");
	if (!c) {
		usleep(20000);	/* the parent waits before this */
		if (ptrace(PTRACE_TRACEME, 0, NULL, NULL))
			_exit(99);
		raise(SIGSTOP);
		_exit(5);
	}
	r = waitpid(c, &st, 0);
	printf("ptrace TRACEME child: %s %s\n", r == c ? "pid" : "?",
	       status_str(st));
	if (WIFSTOPPED(st)) {
		ptrace(PTRACE_CONT, c, NULL, NULL);
		r = waitpid(c, &st, 0);
		printf("  after PTRACE_CONT: %s %s\n", r == c ? "pid" : "?",
		       status_str(st));
	}
}

/* ---- waits cut short by a signal ----
 *
 * SIGALRM every 50 ms while the wait runs, so that one lands inside it
 * however late this thread gets to the wait; the child of an
 * interrupted wait exits only once it is told to (spawn_told).
 */

static volatile sig_atomic_t alarms;

static void on_alarm(int sig)
{
	(void)sig;
	alarms++;
}

static void arm(int restart)
{
	struct sigaction sa = { .sa_handler = on_alarm };
	struct itimerval it = { .it_interval = { 0, 50000 },
				.it_value = { 0, 50000 } };

	sigemptyset(&sa.sa_mask);
	sa.sa_flags = restart ? SA_RESTART : 0;
	sigaction(SIGALRM, &sa, NULL);
	setitimer(ITIMER_REAL, &it, NULL);
}

static void disarm(void)
{
	struct itimerval off = { { 0, 0 }, { 0, 0 } };

	setitimer(ITIMER_REAL, &off, NULL);
}

static void run_eintr(void)
{
	pid_t a, r;
	int st, e, tell;

	a = spawn_told(1, &tell);
	arm(0);
	r = waitpid(a, &st, 0);
	e = errno;
	disarm();
	printf("waitpid(pid) + handler without SA_RESTART: %d %s\n", (int)r,
	       r < 0 && e == EINTR ? "EINTR" : "?");
	close(tell);
	r = waitpid(a, &st, 0);
	printf("  then: %s %s\n", r == a ? "pid" : "?", status_str(st));

	a = spawn_told(2, &tell);
	arm(0);
	r = wait(&st);
	e = errno;
	disarm();
	printf("wait() + handler without SA_RESTART: %d %s\n", (int)r,
	       r < 0 && e == EINTR ? "EINTR" : "?");
	close(tell);
	r = wait(&st);
	printf("  then: %s %s\n", r == a ? "pid" : "?", status_str(st));

	a = spawn_exit(3, 300);
	arm(1);
	r = waitpid(a, &st, 0);
	disarm();
	printf("waitpid(pid) + SA_RESTART handler: %s %s\n",
	       r == a ? "pid" : "?", status_str(st));
	printf("alarms seen: %s\n", alarms >= 3 ? "yes" : "no");
	signal(SIGALRM, SIG_IGN);
}

/* ---- a wait in one thread, a counter in another ----
 *
 * The child exits 0 only when the counting thread, after 50 ticks of
 * 1 ms, tells it to through a pipe; after 10 s without word it exits 1.
 * A waitpid that held the OS thread the counting thread shares (the shim
 * with DTACT_WORKERS=1) would keep the counter from ever telling it.
 */

static int go[2];
static atomic_long counter;

static void *count_fn(void *arg)
{
	int i;

	(void)arg;
	usleep(20000);		/* let the other thread start its wait */
	for (i = 0; i < 50; i++) {
		atomic_fetch_add(&counter, 1);
		usleep(1000);
	}
	/* EPIPE (SIGPIPE ignored) if the child gave up waiting. */
	if (write(go[1], "x", 1) != 1)
		atomic_store(&counter, -1);
	return NULL;
}

struct waiter_arg {
	pid_t pid;
	int st;
	pid_t r;
};

static void *wait_fn(void *p)
{
	struct waiter_arg *w = p;

	w->r = waitpid(w->pid, &w->st, 0);
	return NULL;
}

static void run_threads(void)
{
	struct waiter_arg w = { 0 };
	struct pollfd pfd;
	pthread_t tc, tw;

	signal(SIGPIPE, SIG_IGN);
	if (pipe(go))
		die("pipe");
	w.pid = fork();
	if (w.pid < 0)
		die("fork");
	if (!w.pid) {
		close(go[1]);
		pfd.fd = go[0];
		pfd.events = POLLIN;
		_exit(poll(&pfd, 1, 10000) == 1 ? 0 : 1);
	}
	close(go[0]);
	if (pthread_create(&tw, NULL, wait_fn, &w) ||
	    pthread_create(&tc, NULL, count_fn, NULL))
		die("pthread_create");
	pthread_join(tw, NULL);
	pthread_join(tc, NULL);
	close(go[1]);
	signal(SIGPIPE, SIG_DFL);
	printf("waitpid in a thread: %s %s; released by the counting thread: "
	       "%s\n", w.r == w.pid ? "pid" : "?", status_str(w.st),
	       WIFEXITED(w.st) && !WEXITSTATUS(w.st) ? "yes" : "no");
}

/* The same with fclose of a popen stream (which waits for its child, as
 * pclose does): the command ends when the counting thread writes into
 * the pipe it reads, or after 10 s (exit 124). */
struct fclose_arg {
	FILE *f;
	int st;
};

static void *fclose_fn(void *p)
{
	struct fclose_arg *a = p;

	a->st = fclose(a->f);
	return NULL;
}

static void run_fclose_threads(void)
{
	struct fclose_arg a = { 0 };
	char cmd[96];
	pthread_t tc, tf;

	signal(SIGPIPE, SIG_IGN);
	if (pipe(go))
		die("pipe");
	snprintf(cmd, sizeof(cmd), "exec timeout 10 head -c1 <&%d >/dev/null",
		 go[0]);
	a.f = popen(cmd, "r");
	if (!a.f)
		die("popen");
	close(go[0]);
	if (pthread_create(&tf, NULL, fclose_fn, &a) ||
	    pthread_create(&tc, NULL, count_fn, NULL))
		die("pthread_create");
	pthread_join(tf, NULL);
	pthread_join(tc, NULL);
	close(go[1]);
	signal(SIGPIPE, SIG_DFL);
	printf("fclose of a popen stream in a thread: %s; released by the "
	       "counting thread: %s\n", status_str(a.st),
	       WIFEXITED(a.st) && !WEXITSTATUS(a.st) ? "yes" : "no");
}

/* ---- the signal mask children start with ---- */

#define N_MASK_THREADS	6

struct mask_report {
	int system_ok;		/* system()'s shell saw the mask */
	char popen_line[64];	/* what grep printed through popen */
	char spawn_line[64];	/* ... through posix_spawnp */
};

static void read_line(FILE *f, char *buf, size_t size)
{
	if (!f || !fgets(buf, (int)size, f))
		snprintf(buf, size, "(nothing)\n");
}

static void *mask_fn(void *p)
{
	struct mask_report *m = p;
	char *argv[] = { "grep", "SigBlk", "/proc/self/status", NULL };
	posix_spawn_file_actions_t fa;
	int fds[2], st;
	FILE *f;
	pid_t pid;

	st = system("test \"$(grep SigBlk /proc/self/status)\" = "
		    "\"$(printf 'SigBlk:\\t0000000000000800')\"");
	m->system_ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
	f = popen("grep SigBlk /proc/self/status", "r");
	read_line(f, m->popen_line, sizeof(m->popen_line));
	if (f)
		pclose(f);
	if (pipe(fds))
		die("pipe");
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
	posix_spawn_file_actions_addclose(&fa, fds[0]);
	if (posix_spawnp(&pid, "grep", &fa, NULL, argv, environ))
		die("posix_spawnp");
	posix_spawn_file_actions_destroy(&fa);
	close(fds[1]);
	f = fdopen(fds[0], "r");
	read_line(f, m->spawn_line, sizeof(m->spawn_line));
	fclose(f);
	waitpid(pid, &st, 0);
	return NULL;
}

/* The program blocks SIGUSR2 (0x800) in main, so every thread has that
 * mask, and so must every child a thread starts. */
static void run_child_masks(void)
{
	struct mask_report m[N_MASK_THREADS + 1];
	pthread_t t[N_MASK_THREADS];
	sigset_t usr2, old;
	int i;

	memset(m, 0, sizeof(m));
	sigemptyset(&usr2);
	sigaddset(&usr2, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &usr2, &old);
	for (i = 0; i < N_MASK_THREADS; i++)
		if (pthread_create(&t[i], NULL, mask_fn, &m[i]))
			die("pthread_create");
	mask_fn(&m[N_MASK_THREADS]);
	for (i = 0; i < N_MASK_THREADS; i++)
		pthread_join(t[i], NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	for (i = 0; i <= N_MASK_THREADS; i++) {
		printf("child masks from %s %d: system %s\n",
		       i < N_MASK_THREADS ? "thread" : "main", i,
		       m[i].system_ok ? "0x800" : "other");
		printf("  popen %s  posix_spawnp %s", m[i].popen_line,
		       m[i].spawn_line);
	}
}

/* ---- stdin ---- */

struct reader {
	long lines;
};

static void *read_fn(void *p)
{
	struct reader *rd = p;
	char buf[512];
	ssize_t n, i;

	while ((n = read(0, buf, sizeof(buf))) > 0)
		for (i = 0; i < n; i++)
			rd->lines += buf[i] == '\n';
	return NULL;
}

int main(int argc, char **argv)
{
	struct reader rd = { 0 };
	pthread_t tr;
	int fd;

	setvbuf(stdout, NULL, _IOLBF, 0);
	names();
	run_system();
	run_popen();
	run_spawn_sort();
	run_fork_exec();
	run_waits();
	run_eintr();
	run_threads();
	run_fclose_threads();
	run_child_masks();
	if (argc > 1 && !strcmp(argv[1], "-i")) {
		if (pthread_create(&tr, NULL, read_fn, &rd))
			die("pthread_create");
		pthread_join(tr, NULL);
		printf("stdin: %ld lines\n", rd.lines);
	}
	for (fd = 0; fd < 3; fd++)
		printf("F_GETFL(%d) = %#o\n", fd, fcntl(fd, F_GETFL));
	return 0;
}
