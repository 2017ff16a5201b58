// SPDX-License-Identifier: GPL-2.0-only
/*
 * pin-budget: every queue full of requests whose 128 segments all point at
 * one guest page, on a backend slowed down by dm-delay so that they stay in
 * flight. Each pin of a small page adds 1024 to its refcount; unbounded,
 * such requests would take that page towards the refcount's limit. The
 * device must keep at most VHOST_BLK_PIN_BUDGET pages pinned a queue
 * (src/blk.h; the module's pinned_pages counter shows it), and still
 * complete every request, right.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vbt.h"

#define PIN_BUDGET	8192u		/* src/blk.h: pages a queue */
#define PIN_RING	256u
#define PIN_SEGS	128u
#define PIN_SEG_LEN	512u
#define PIN_DELAY_MS	200u
#define PIN_SAMPLES	20

struct pins {
	struct vblk_dev d;
	struct vblk_req *r;
	struct vblk_seg *seg;	/* PIN_SEGS, all the same page */
	unsigned int nq, nreq;
	char dm[64];
	bool dm_made;
};

static int pins_dm(struct vbt *t, struct pins *p, uint64_t sectors)
{
	char cmd[512];

	snprintf(p->dm, sizeof(p->dm), "vbt-delay-%d", (int)getpid());
	snprintf(cmd, sizeof(cmd),
		 "dmsetup create %s --table '0 %" PRIu64 " delay %s 0 %u' >/dev/null 2>&1",
		 p->dm, sectors, t->o->backend, PIN_DELAY_MS);
	if (system(cmd))
		return vbt_fail(t, "%s failed: needs dm-delay (modprobe dm-delay)",
				cmd), -1;
	p->dm_made = true;
	return 0;
}

static void pins_dm_remove(struct pins *p)
{
	char cmd[128];

	if (!p->dm_made)
		return;
	snprintf(cmd, sizeof(cmd), "dmsetup remove %s >/dev/null 2>&1", p->dm);
	if (system(cmd))
		fprintf(stderr, "# pin-budget: %s failed\n", cmd);
}

static int pins_setup(struct vbt *t, struct pins *p, uint64_t sectors)
{
	struct vblk_dev_opts o;
	char path[128];
	uint8_t *page;
	unsigned int i;
	int fd, ret;

	vblk_dev_opts_init(&o);
	o.queues = p->nq;
	o.ring_size = PIN_RING;
	if (vblk_dev_start(&p->d, &o))
		return vbt_fail(t, "setting up the device: %s", p->d.err), -1;
	snprintf(path, sizeof(path), "/dev/mapper/%s", p->dm);
	fd = open(path, O_RDWR | O_CLOEXEC | (t->o->direct ? O_DIRECT : 0));
	if (fd < 0)
		return vbt_fail(t, "open %s: %s", path, strerror(errno)), -1;
	ret = vblk_dev_attach(&p->d, fd, 0, t->o->engine);
	close(fd);
	if (ret || vblk_dev_get_config(&p->d, &p->d.cfg))
		return vbt_fail(t, "attaching %s: %s", path, p->d.err), -1;
	if (p->d.cfg.capacity < sectors)
		return vbt_fail(t, "capacity %llu", (unsigned long long)p->d.cfg.capacity), -1;
	page = vblk_mem_alloc(&p->d.mem, 4096, 4096);
	p->nreq = p->nq * PIN_RING;
	p->r = calloc(p->nreq, sizeof(*p->r));
	p->seg = calloc(PIN_SEGS, sizeof(*p->seg));
	if (!page || !p->r || !p->seg)
		return vbt_fail(t, "memory"), -1;
	vblk_pat_fill(page, 0, 1, t->seed, 1);
	for (i = 0; i < PIN_SEGS; i++)
		p->seg[i] = (struct vblk_seg){ page, PIN_SEG_LEN };
	return 0;
}

/* Fill every ring with 64 KiB writes made of the one page. */
static int pins_queue(struct vbt *t, struct pins *p)
{
	unsigned int i;

	for (i = 0; i < p->nreq; i++) {
		struct vblk_vq *vq = &p->d.vq[i % p->nq];

		p->r[i] = (struct vblk_req){
			.type = VIRTIO_BLK_T_OUT,
			.sector = (uint64_t)i * (PIN_SEGS * PIN_SEG_LEN / VBLK_SECTOR),
			.seg = p->seg, .nseg = PIN_SEGS, .indirect = true,
		};
		if (vblk_req_queue(vq, &p->r[i]))
			return vbt_fail(t, "queueing request %u: %s", i, vq->err), -1;
	}
	for (i = 0; i < p->nq; i++)
		if (vblk_vq_kick(&p->d.vq[i]) < 0)
			return vbt_fail(t, "kick: %s", p->d.vq[i].err), -1;
	return 0;
}

/* Reap all; every write OK; then read a few back: 128 copies of a block. */
static int pins_reap(struct vbt *t, struct pins *p)
{
	struct vblk_req *done[64];
	unsigned int q, got = 0, i;
	char msg[300];
	uint8_t *buf;

	for (q = 0; q < p->nq; q++) {
		struct vblk_vq *vq = &p->d.vq[q];
		unsigned int n = 0;

		vq->timeout_ms = 120000;
		while (n < PIN_RING) {
			int m = vblk_reap(vq, vq->timeout_ms, done, 64);

			if (m < 0)
				return vbt_fail(t, "queue %u after %u of %u completions: %s",
						q, n, PIN_RING, vq->err), -1;
			n += (unsigned int)m;
		}
		got += n;
	}
	for (i = 0; i < p->nreq; i++)
		if (p->r[i].status != VIRTIO_BLK_S_OK)
			return vbt_fail(t, "request %u of %u: status %u", i, got,
					p->r[i].status), -1;
	buf = vblk_mem_alloc(&p->d.mem, PIN_SEGS * PIN_SEG_LEN, 4096);
	if (!buf)
		return vbt_fail(t, "memory"), -1;
	for (i = 0; i < p->nreq; i += p->nreq / 7 + 1) {
		unsigned int k;
		int ret = vblk_read(&p->d.vq[0], p->r[i].sector, buf,
				    PIN_SEGS * PIN_SEG_LEN);

		if (ret != VIRTIO_BLK_S_OK)
			return vbt_fail(t, "reading request %u's blocks back: %d %s",
					i, ret, ret < 0 ? p->d.vq[0].err : ""), -1;
		for (k = 0; k < PIN_SEGS; k++)
			if (vblk_pat_verify(buf + k * PIN_SEG_LEN, 0, 1, t->seed,
					    1, msg, sizeof(msg)) >= 0)
				return vbt_fail(t, "request %u, block %u: %s", i,
						k, msg), -1;
	}
	return 0;
}

int case_pin_budget(struct vbt *t)
{
	struct vblk_stats s;
	struct stat st;
	struct pins p;
	uint64_t sectors, size;
	long peak = 0;
	int fd, i, res = VBT_FAIL;

	memset(&p, 0, sizeof(p));
	if (stat("/sys/module/vhost_blk", &st) < 0)
		return vbt_skip(t, "needs the vhost_blk module: its pinned_pages counter is what is checked");
	if (stat(t->o->backend, &st) < 0 || !S_ISBLK(st.st_mode))
		return vbt_skip(t, "needs a block device to slow down with dm-delay");
	p.nq = vbt_queues(t, VHOST_BLK_MAX_QUEUES);
	sectors = (uint64_t)p.nq * PIN_RING * (PIN_SEGS * PIN_SEG_LEN / VBLK_SECTOR);
	fd = open(t->o->backend, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return vbt_fail(t, "open %s: %s", t->o->backend, strerror(errno));
	size = vbt_fd_size(fd, NULL);
	close(fd);
	if (size < sectors * VBLK_SECTOR)
		return vbt_skip(t, "needs %" PRIu64 " MiB of backend", sectors >> 11);
	if (pins_dm(t, &p, sectors) || pins_setup(t, &p, sectors) ||
	    pins_queue(t, &p))
		goto out;
	/* The highest count while the rings drain through the delay. */
	for (i = 0; i < PIN_SAMPLES; i++) {
		vblk_sleep_us(50000);
		if (vblk_read_stats(&s)) {
			vbt_fail(t, "reading %s", VBLK_STATS_PATH);
			goto out;
		}
		if (s.pinned_pages > peak)
			peak = s.pinned_pages;
	}
	if (pins_reap(t, &p))
		goto out;
	if (!peak) {
		vbt_fail(t, "no page pinned while %u requests were in flight: nothing checked",
			 p.nreq);
		goto out;
	}
	if (peak > (long)(p.nq * PIN_BUDGET)) {
		vbt_fail(t, "%ld pages pinned at once by %u queues of %u requests of %u segments on one page; the budget is %u a queue",
			 peak, p.nq, PIN_RING, PIN_SEGS, PIN_BUDGET);
		goto out;
	}
	vbt_note(t, "%u requests of %u segments on one page: at most %ld pages pinned (budget %u)",
		 p.nreq, PIN_SEGS, peak, p.nq * PIN_BUDGET);
	res = VBT_PASS;
out:
	vblk_dev_close(&p.d);
	pins_dm_remove(&p);
	free(p.r);
	free(p.seg);
	return res;
}
