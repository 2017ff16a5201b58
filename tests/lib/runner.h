/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * One test in its own process: what vbt and vblk-unit share.
 *
 * The child leads a process group of its own, runs the test under
 * alarm(timeout_s), and sends its verdict (one byte of result, then text)
 * through a pipe. The parent waits up to timeout_s + grace_s, then kills the
 * group and waits grace_s more; whatever the test left in its group goes
 * too. How a verdict is printed is up to the program.
 */
#ifndef VBLK_RUNNER_H
#define VBLK_RUNNER_H

#include <stdbool.h>
#include <stddef.h>

enum vblk_result { VBLK_PASS, VBLK_FAIL, VBLK_SKIP };

#define VBLK_VERDICT_LEN	1024

struct vblk_test_run {
	/* In the child: a vblk_result, with @msg (@len bytes) saying why. */
	int (*fn)(void *arg, char *msg, size_t len);
	void *arg;
	unsigned int timeout_s;
	unsigned int grace_s;
};

struct vblk_verdict {
	int res;		/* vblk_result, or -1: none came */
	int status;		/* the child's, from waitpid() */
	bool setup_failed;	/* no child: @msg says why ("pipe: ...") */
	bool stuck;		/* could not be ended: still running */
	char msg[VBLK_VERDICT_LEN];
};

/* Run @r in a child: false if it could not be ended (v->stuck). */
bool vblk_test_run(const struct vblk_test_run *r, struct vblk_verdict *v);

#endif /* VBLK_RUNNER_H */
