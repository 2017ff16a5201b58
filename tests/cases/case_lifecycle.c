// SPDX-License-Identifier: GPL-2.0-only
/*
 * Lifecycle: devices torn down in every way with requests in flight. After
 * each, the module's counters must return to 0, page pins must balance and
 * a fresh device must work (vbt_finish_clean).
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vbt.h"

#define FLOOD_SECTOR	16384

static int dev_up_nq(struct vbt *t, struct vbt_dev *v)
{
	struct vblk_dev_opts o;

	vblk_dev_opts_init(&o);
	o.queues = vbt_queues(t, t->o->queues);
	return vbt_dev_up(t, v, &o, 0);
}

/*
 * Fill every ring with 64 KiB requests (indirect: one descriptor each),
 * reads and writes alternating (reads only with --readonly), all sharing
 * two buffers, and kick. The requests stay allocated: the device owns them.
 */
static int flood(struct vbt *t, struct vbt_dev *v)
{
	struct vblk_seg *seg = calloc(2, sizeof(*seg));
	unsigned int q, k, n = 0;

	if (!seg)
		return vbt_fail(t, "out of memory"), -1;
	for (k = 0; k < 2; k++) {
		seg[k].buf = vblk_mem_alloc(&v->d.mem, 65536, 4096);
		seg[k].len = 65536;
		if (!seg[k].buf)
			return vbt_fail(t, "guest memory exhausted"), -1;
	}
	vblk_pat_fill(seg[0].buf, 0, 128, t->seed, 1);
	for (q = 0; q < v->d.nvq; q++) {
		struct vblk_vq *vq = &v->d.vq[q];
		struct vblk_req *r = calloc(vq->num, sizeof(*r));

		if (!r)
			return vbt_fail(t, "out of memory"), -1;
		for (k = 0; k < vq->num; k++) {
			bool rd = t->o->readonly || (k & 1);

			r[k] = (struct vblk_req){
				.type = rd ? VIRTIO_BLK_T_IN : VIRTIO_BLK_T_OUT,
				.sector = FLOOD_SECTOR + 128 * ((k + 7 * q) % 256),
				.seg = &seg[rd], .nseg = 1, .indirect = true,
			};
			if (vblk_req_queue(vq, &r[k]))
				return vbt_fail(t, "flooding queue %u: %s", q,
						vq->err), -1;
			n++;
		}
	}
	for (q = 0; q < v->d.nvq; q++)
		if (vblk_vq_kick(&v->d.vq[q]) < 0)
			return vbt_fail(t, "%s", v->d.vq[q].err), -1;
	vbt_note(t, "%u requests of 64 KiB in flight on %u queues", n,
		 v->d.nvq);
	return 0;
}

int case_idle_close(struct vbt *t)
{
	struct vbt_dev v;
	struct vblk_dev d;

	/* Opened and closed. */
	if (vblk_dev_open(&d, NULL))
		return vbt_fail(t, "%s", d.err);
	vblk_dev_close(&d);
	/* Owned, nothing else. */
	if (vblk_dev_open(&d, NULL) || vblk_dev_set_owner(&d))
		return vbt_fail(t, "%s", d.err);
	vblk_dev_close(&d);
	/* Rings set up, no backend. */
	if (vblk_dev_start(&d, NULL))
		return vbt_fail(t, "%s", d.err);
	vblk_dev_close(&d);
	/* Backend attached, one request done. */
	if (dev_up_nq(t, &v) || vbt_read_ok(t, &v.d.vq[0], 0, 8))
		return VBT_FAIL;
	vblk_dev_close(&v.d);
	return vbt_finish_clean(t, "after closing idle devices");
}

int case_close_inflight(struct vbt *t)
{
	unsigned int round;

	for (round = 0; round < 3; round++) {
		struct vbt_dev v;

		if (dev_up_nq(t, &v) || flood(t, &v))
			return VBT_FAIL;
		if (round)
			vblk_sleep_us(round * 15000);
		/* Close the file, then unmap the memory the requests use. */
		vblk_dev_close(&v.d);
	}
	return vbt_finish_clean(t, "after closing devices with requests in flight");
}

int case_reset_owner_inflight(struct vbt *t)
{
	struct vbt_backend be;
	struct vbt_dev v;
	unsigned int q;
	int64_t t0;

	if (dev_up_nq(t, &v) || flood(t, &v))
		return VBT_FAIL;
	t0 = vblk_now_ms();
	if (vblk_dev_reset_owner(&v.d))
		return vbt_fail(t, "VHOST_RESET_OWNER with requests in flight: %s",
				v.d.err);
	vbt_note(t, "VHOST_RESET_OWNER took %lld ms",
		 (long long)(vblk_now_ms() - t0));
	/* Everything again, on the same file and memory. */
	if (vblk_dev_setup(&v.d))
		return vbt_fail(t, "setting up again after VHOST_RESET_OWNER: %s",
				v.d.err);
	if (vbt_backend_open(t, &be, t->o->readonly))
		return VBT_FAIL;
	if (vblk_dev_attach(&v.d, be.fd, t->o->readonly ?
			    VHOST_BLK_BACKEND_F_READONLY : 0, t->o->engine))
		return vbt_fail(t, "attaching after VHOST_RESET_OWNER: %s",
				v.d.err);
	close(be.fd);
	vblk_sleep_us(200000);
	for (q = 0; q < v.d.nvq; q++)
		if (vblk_vq_has_used(&v.d.vq[q]))
			return vbt_fail(t, "queue %u: a used entry appeared after VHOST_RESET_OWNER and a new setup, before any request (left over from before the reset?)",
					q);
	for (q = 0; q < v.d.nvq; q++) {
		if (t->o->readonly) {
			if (vbt_read_ok(t, &v.d.vq[q], 64 * q, 16))
				return VBT_FAIL;
			continue;
		}
		if (vbt_write_pat(t, &v.d.vq[q], 4096 + 64 * q, 16, q, NULL) ||
		    vbt_verify_pat(t, &v.d.vq[q], 4096 + 64 * q, 16, q, NULL)) {
			vbt_prefix(t, "queue %u after VHOST_RESET_OWNER", q);
			return VBT_FAIL;
		}
	}
	vblk_dev_close(&v.d);
	return vbt_finish_clean(t, "after VHOST_RESET_OWNER with requests in flight");
}

/* Reap what completes on @vq within @ms: the count, or -1 on failure. */
static int reap_some(struct vbt *t, struct vblk_vq *vq, int ms)
{
	struct vblk_req *done[64];
	int64_t end = vblk_now_ms() + ms;
	int got = 0, k, n;

	while (vq->inflight) {
		int64_t left = end - vblk_now_ms();

		n = vblk_reap(vq, left > 0 ? (int)left : 0, done, 64);
		if (n == -ETIMEDOUT)
			break;
		if (n < 0)
			return vbt_fail(t, "%s", vq->err), -1;
		for (k = 0; k < n; k++)
			if (done[k]->status != VIRTIO_BLK_S_OK)
				return vbt_fail(t, "queue %u: request at sector %" PRIu64 " completed with status %u around a detach",
						vq->index, done[k]->sector,
						done[k]->status), -1;
		got += n;
	}
	return got;
}

int case_detach_inflight(struct vbt *t)
{
	static struct vblk_req r[VHOST_BLK_MAX_QUEUES][32];
	static struct vblk_seg seg[VHOST_BLK_MAX_QUEUES][32];
	unsigned int q, before = 0, total = 0;
	bool wr = !t->o->readonly;
	struct vbt_backend be;
	struct vbt_dev v;
	int64_t t0;
	int n;

	if (dev_up_nq(t, &v))
		return VBT_FAIL;
	for (q = 0; q < v.d.nvq; q++) {
		if (vbt_queue_batch(t, &v.d.vq[q], r[q], seg[q], 32,
				    20480 + 1024 * q, wr, 100 * q, true))
			return VBT_FAIL;
		total += 32;
	}
	for (q = 0; q < v.d.nvq; q++)
		vblk_vq_kick(&v.d.vq[q]);
	t0 = vblk_now_ms();
	if (vblk_dev_detach(&v.d))
		return vbt_fail(t, "detaching with requests in flight: %s",
				v.d.err);
	vbt_note(t, "detach took %lld ms", (long long)(vblk_now_ms() - t0));
	for (q = 0; q < v.d.nvq; q++) {
		n = reap_some(t, &v.d.vq[q], q ? 0 : 1000);
		if (n < 0)
			return VBT_FAIL;
		before += (unsigned int)n;
	}
	vbt_note(t, "%u of %u requests completed by the detach", before, total);

	if (vbt_backend_open(t, &be, t->o->readonly))
		return VBT_FAIL;
	if (vblk_dev_attach(&v.d, be.fd, t->o->readonly ?
			    VHOST_BLK_BACKEND_F_READONLY : 0, t->o->engine))
		return vbt_fail(t, "attaching again after a detach: %s", v.d.err);
	close(be.fd);
	for (q = 0; q < v.d.nvq; q++) {
		vblk_vq_kick_force(&v.d.vq[q]);
		if (reap_some(t, &v.d.vq[q], v.d.vq[q].timeout_ms) < 0)
			return VBT_FAIL;
		if (v.d.vq[q].inflight)
			return vbt_fail(t, "queue %u: %u requests never completed after detaching and attaching again",
					q, v.d.vq[q].inflight);
	}
	if (wr)
		for (q = 0; q < v.d.nvq; q++) {
			/* Read back what the writes around the detach wrote. */
			if (vbt_queue_batch(t, &v.d.vq[q], r[q], seg[q], 32,
					    20480 + 1024 * q, false, 0, true) ||
			    vblk_vq_kick(&v.d.vq[q]) < 0 ||
			    vbt_reap_batch(t, &v.d.vq[q], r[q], 32, 100 * q)) {
				vbt_prefix(t, "data written around a detach");
				return VBT_FAIL;
			}
		}
	vblk_dev_close(&v.d);
	return vbt_finish_clean(t, "after detaching with requests in flight");
}

/* --- an owner killed with I/O in flight ----------------------------- */

struct owner {
	struct vbt *t;
	int fd;			/* to the parent */
	uint64_t rng;
	bool told;
};

static int owner_prep(struct vblk_pump *p, struct vblk_pump_op *op)
{
	struct owner *o = p->arg;
	bool rd = o->t->o->readonly || (vblk_rand(&o->rng) & 1);

	op->req.type = rd ? VIRTIO_BLK_T_IN : VIRTIO_BLK_T_OUT;
	op->req.sector = FLOOD_SECTOR + 128 * (vblk_rand(&o->rng) % 512);
	op->req.seg = op->seg;
	op->req.nseg = vblk_split(op->seg, p->max_segs, op->buf, 65536, 16384);
	op->req.indirect = vblk_rand(&o->rng) & 1;
	return 1;
}

static int owner_done(struct vblk_pump *p, struct vblk_pump_op *op)
{
	struct owner *o = p->arg;

	(void)op;
	if (!o->told && p->completed >= 64) {
		o->told = write(o->fd, "G", 1) == 1;
	}
	return 0;
}

/* The owner process: set up, then I/O until killed. */
static void owner_main(struct vbt *t, int fd)
{
	struct owner o = { .t = t, .fd = fd, .rng = t->seed | 1 };
	struct vbt_dev v;
	struct vblk_pump p = {
		.depth = 0, .buf_size = 65536, .max_segs = 8, .timeout_ms = 20000,
		.prep = owner_prep, .done = owner_done, .arg = &o,
	};

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (dev_up_nq(t, &v))
		goto fail;
	p.dev = &v.d;
	p.queues = v.d.nvq;
	p.depth = 32 * v.d.nvq;
	vblk_pump_run(&p);
	vbt_fail(t, "the I/O loop stopped: %s", p.err);
fail:
	if (write(fd, "E", 1) == 1 && write(fd, t->msg, strlen(t->msg)) < 0)
		_exit(2);
	_exit(1);
}

int case_kill_owner(struct vbt *t)
{
	unsigned int round;

	for (round = 0; round < 3; round++) {
		struct pollfd pfd;
		char buf[1024];
		int p[2], status;
		ssize_t n;
		pid_t pid;

		if (pipe(p))
			return vbt_fail(t, "pipe: %s", strerror(errno));
		fflush(NULL);
		pid = fork();
		if (pid < 0)
			return vbt_fail(t, "fork: %s", strerror(errno));
		if (!pid) {
			close(p[0]);
			owner_main(t, p[1]);
		}
		close(p[1]);
		pfd = (struct pollfd){ .fd = p[0], .events = POLLIN };
		if (poll(&pfd, 1, 30000) <= 0) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			return vbt_fail(t, "the owner process did not get going within 30 s");
		}
		n = read(p[0], buf, sizeof(buf) - 1);
		if (n <= 0 || buf[0] != 'G') {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			buf[n > 0 ? n : 0] = 0;
			return vbt_fail(t, "the owner process failed: %s",
					n > 1 ? buf + 1 : "(no reason)");
		}
		vblk_sleep_us(round * 20000);
		kill(pid, SIGKILL);
		if (waitpid(pid, &status, 0) != pid || !WIFSIGNALED(status))
			return vbt_fail(t, "the owner process did not die of SIGKILL");
		close(p[0]);
	}
	return vbt_finish_clean(t, "after SIGKILLing owners with I/O in flight");
}
