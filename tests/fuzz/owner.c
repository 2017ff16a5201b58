// SPDX-License-Identifier: GPL-2.0-only
/*
 * Owner exit: a child process becomes the owner of fresh devices and
 * fuzzes them like the parent does, on the shared shadow and counters; the
 * parent SIGKILLs it after a random number of rounds plus a random delay,
 * so it dies anywhere: building chains, in an ioctl, with requests in
 * flight, in RESET_OWNER. Its writes in flight are in the shadow as "may
 * have happened" before they are made available. The device's release then
 * has to finish every request without the owner's memory: the parent waits
 * for the child and requires the module's counters back at 0.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vfuzz.h"

#define EXIT_WAIT_MS	60000

static void child(struct fz_run *run, uint64_t seed, uint64_t rounds)
{
	uint64_t end = run->sh->progress + rounds;

	run->is_child = true;
	fz_rng_seed(&run->rng, seed);
	while (!fz_stop(run) && run->sh->progress < end)
		if (fz_session(run, end - run->sh->progress))
			break;
	fflush(stdout);
	fflush(stderr);
	_exit(run->sh->failed ? 1 : 0);
}

int fz_owner_episode(struct fz_run *run)
{
	struct fz_rng *rng = &run->rng;
	uint64_t seed = fz_next(rng), after = fz_range(rng, 0, 8);
	uint64_t delay_us = fz_below(rng, 5000), p0 = run->sh->progress;
	int64_t t0;
	int status = 0;
	pid_t pid, w = 0;

	run->sh->c.events[FZ_EV_OWNER_KILL]++;
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0)
		return fz_fail(run, "fork: %s", strerror(errno));
	if (!pid)
		child(run, seed, after + 40);
	t0 = vblk_now_ms();
	while (run->sh->progress < p0 + after &&
	       (w = waitpid(pid, &status, WNOHANG)) == 0 &&
	       vblk_now_ms() - t0 < EXIT_WAIT_MS)
		vblk_sleep_us(1000);
	if (!w) {
		struct timespec ts = { 0, (long)delay_us * 1000 };

		nanosleep(&ts, NULL);
		kill(pid, SIGKILL);
		t0 = vblk_now_ms();
		while ((w = waitpid(pid, &status, WNOHANG)) == 0 &&
		       vblk_now_ms() - t0 < EXIT_WAIT_MS)
			vblk_sleep_us(5000);
		if (!w)
			return fz_fail(run, "the owner (pid %d) was SIGKILLed but has not exited after %d s: does releasing its devices hang?",
				       (int)pid, EXIT_WAIT_MS / 1000);
	}
	if (w < 0)
		return fz_fail(run, "waitpid: %s", strerror(errno));
	fz_unclaim_all(&run->sw);
	if (WIFEXITED(status) && WEXITSTATUS(status) && !run->sh->failed)
		return fz_fail(run, "the owner child exited with status %d",
			       WEXITSTATUS(status));
	if (run->sh->failed)
		return -1;
	return fz_check_clean(run, "after the owner was SIGKILLed", 10) < 0 ? -1 : 0;
}
