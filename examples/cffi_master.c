/* SPDX-License-Identifier: MIT */
/*
 * examples/cffi_master.c - the original dtact C-FFI style: a master fiber
 * launches five workers with alternating kinds and switchers, awaits each,
 * and shuts the runtime down; dtact_run then returns.
 */
#include <stdio.h>
#include <stdlib.h>

#include <dtact.h>

struct job {
	int id;
	long result;
};

static void worker_fn(void *arg)
{
	struct job *j = arg;
	long sum = 0;
	int i;

	for (i = 1; i <= 1000; i++) {
		sum += i * (j->id + 1);
		if (i % 250 == 0)
			dtact_yield();
	}
	j->result = sum;
}

static void master(void *arg)
{
	dtact_handle_t h[5];
	struct job *jobs[5];
	int i;

	(void)arg;
	printf("master: launching 5 workers\n");
	for (i = 0; i < 5; i++) {
		dtact_spawn_options_t o = dtact_default_spawn_options();

		jobs[i] = malloc(sizeof(*jobs[i]));
		jobs[i]->id = i;
		o.mKind = i % 2 ? DTACT_KIND_IO : DTACT_KIND_COMPUTE;
		o.mSwitcher = i % 2 ? DTACT_SWITCHER_NOFLOAT :
				      DTACT_SWITCHER_FLOAT;
		h[i] = dtact_fiber_launch_ext(worker_fn, jobs[i], &o);
		if (!h[i]) {
			perror("dtact_fiber_launch_ext");
			exit(1);
		}
	}
	for (i = 0; i < 5; i++) {
		if (dtact_await(h[i])) {
			perror("dtact_await");
			exit(1);
		}
		printf("worker %d (%s, %s): %ld\n", i,
		       i % 2 ? "io" : "compute", i % 2 ? "nofloat" : "float",
		       jobs[i]->result);
		dtact_free_arg(jobs[i]);
	}
	printf("master: all done\n");
	dtact_shutdown();
}

int main(void)
{
	dtact_config_t cfg = dtact_default_config();
	void *rt;

	cfg.mWorkers = 2;
	rt = dtact_init(&cfg);
	if (!rt) {
		perror("dtact_init");
		return 1;
	}
	if (!dtact_fiber_launch(master, NULL)) {
		perror("dtact_fiber_launch");
		return 1;
	}
	if (dtact_run(rt)) {
		perror("dtact_run");
		return 1;
	}
	printf("runtime stopped\n");
	return 0;
}
