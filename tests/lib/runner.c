// SPDX-License-Identifier: GPL-2.0-only
/* One test in its own process, with a time limit (see runner.h). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runner.h"

static void child(const struct vblk_test_run *r, int wfd)
{
	char msg[VBLK_VERDICT_LEN] = "";
	char res;

	setpgid(0, 0);
	alarm(r->timeout_s);
	res = (char)r->fn(r->arg, msg, sizeof(msg));
	if (write(wfd, &res, 1) != 1 || write(wfd, msg, strlen(msg)) < 0)
		_exit(3);
	_exit(0);
}

static int pidfd_open_(pid_t pid)
{
#ifdef SYS_pidfd_open
	return (int)syscall(SYS_pidfd_open, pid, 0);
#else
	(void)pid;
	errno = ENOSYS;
	return -1;
#endif
}

/* Wait for @pid up to @ms (< 0: forever): true if it ended. */
static bool wait_child(pid_t pid, int pidfd, int ms, int *status)
{
	if (pidfd >= 0 && ms >= 0) {
		struct pollfd p = { .fd = pidfd, .events = POLLIN };

		while (poll(&p, 1, ms) < 0 && errno == EINTR)
			;
		if (!(p.revents & POLLIN))
			return false;
	}
	while (waitpid(pid, status, 0) < 0)
		if (errno != EINTR)
			return false;
	return true;
}

/* The verdict the child sent, if it sent one. */
static void read_verdict(int fd, struct vblk_verdict *v)
{
	ssize_t got = 0, r;
	char res;

	if (read(fd, &res, 1) == 1)
		while (got < (ssize_t)sizeof(v->msg) - 1 &&
		       (r = read(fd, v->msg + got,
				 sizeof(v->msg) - 1 - got)) > 0)
			got += r;
	else
		res = -1;
	v->msg[got] = 0;
	v->res = res >= VBLK_PASS && res <= VBLK_SKIP ? res : -1;
}

bool vblk_test_run(const struct vblk_test_run *r, struct vblk_verdict *v)
{
	int pfd[2], pidfd, grace_ms = (int)r->grace_s * 1000;
	pid_t pid;

	memset(v, 0, sizeof(*v));
	v->res = -1;
	if (pipe2(pfd, O_CLOEXEC)) {
		v->setup_failed = true;
		snprintf(v->msg, sizeof(v->msg), "pipe: %s", strerror(errno));
		return true;
	}
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		v->setup_failed = true;
		snprintf(v->msg, sizeof(v->msg), "fork: %s", strerror(errno));
		close(pfd[0]);
		close(pfd[1]);
		return true;
	}
	if (!pid) {
		close(pfd[0]);
		child(r, pfd[1]);
	}
	close(pfd[1]);
	setpgid(pid, pid);
	pidfd = pidfd_open_(pid);
	if (!wait_child(pid, pidfd, (int)r->timeout_s * 1000 + grace_ms,
			&v->status)) {
		/* Its alarm did not end it: stuck in the kernel? */
		kill(-pid, SIGKILL);
		kill(pid, SIGKILL);
		if (!wait_child(pid, pidfd, grace_ms, &v->status)) {
			v->stuck = true;
			close(pfd[0]);
			return false;
		}
	}
	if (pidfd >= 0)
		close(pidfd);
	/* Whatever the test started in its process group goes too. */
	kill(-pid, SIGKILL);
	read_verdict(pfd[0], v);
	close(pfd[0]);
	return true;
}
