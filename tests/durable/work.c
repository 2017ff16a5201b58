// SPDX-License-Identifier: GPL-2.0-only
/*
 * vdurable run: the guest's side. Writes of a round never overlap each
 * other (their order on disk would be anyone's); rounds follow each other,
 * so a later round may overwrite an earlier one.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "durable.h"

#define DUR_MAX_QD	32u
#define DUR_MAX_BYTES	65536u
#define DUR_MAX_SEGS	32u

struct dur_slot {
	struct vblk_req req;
	struct vblk_seg seg[DUR_MAX_SEGS];
	void *buf;
	uint64_t sector;
	uint32_t nsect;
	uint32_t gen;
};

struct dur_work {
	const struct dur_run_opts *o;
	struct vblk_dev dev;
	struct vblk_vq *vq;
	struct dur_record rec;
	struct dur_slot slot[DUR_MAX_QD];
	uint64_t rng;
	uint64_t area;		/* sectors the writes go to */
	uint32_t lbs_sect;
	uint32_t durable;	/* writes 1..durable promised durable */
	bool write_through;
	bool zeroes;		/* the device offers write zeroes */
	unsigned int flushes, zero_ops;
};

static uint64_t dur_rand(struct dur_work *w, uint64_t n)
{
	return vblk_splitmix(&w->rng) % n;
}

static int dur_fail(const char *what, const char *why)
{
	fprintf(stderr, "vdurable run: %s: %s\n", what, why);
	return -1;
}

static int dur_setup(struct dur_work *w)
{
	const struct dur_run_opts *o = w->o;
	struct vblk_dev_opts dopts;
	unsigned int i;
	int fd, ret;

	vblk_dev_opts_init(&dopts);
	if (o->mode == DUR_WRITETHROUGH)
		dopts.features &= ~VBLK_F(VIRTIO_BLK_F_FLUSH);
	if (vblk_dev_start(&w->dev, &dopts))
		return dur_fail("setting up /dev/vhost-blk", w->dev.err);
	fd = open(o->backend, O_RDWR | O_CLOEXEC | (o->direct ? O_DIRECT : 0));
	if (fd < 0)
		return dur_fail(o->backend, strerror(errno));
	ret = vblk_dev_attach(&w->dev, fd, 0, o->engine);
	close(fd);
	if (ret)
		return dur_fail("attaching the backend", w->dev.err);
	if (vblk_dev_get_config(&w->dev, &w->dev.cfg))
		return dur_fail("GET_CONFIG", w->dev.err);
	if (!w->dev.cfg.writeback)
		return dur_fail("GET_CONFIG", "a new device is not write-back");
	w->vq = &w->dev.vq[0];
	w->rec.capacity = w->dev.cfg.capacity;
	w->rec.lbs = w->dev.cfg.logical_block_size;
	w->rec.mode = o->mode;
	w->rec.seed = o->seed;
	w->rng = o->seed;
	w->lbs_sect = w->rec.lbs / VBLK_SECTOR;
	w->zeroes = w->dev.cfg.max_write_zeroes_sectors != 0;
	w->area = (uint64_t)o->area_mib << 11;
	if (w->area > w->rec.capacity)
		w->area = w->rec.capacity;
	w->area -= w->area % w->lbs_sect;
	if (w->area < 4 * DUR_MAX_BYTES / VBLK_SECTOR)
		return dur_fail(o->backend, "smaller than 256 KiB");
	w->write_through = o->mode == DUR_WRITETHROUGH;
	for (i = 0; i < DUR_MAX_QD; i++) {
		w->slot[i].buf = vblk_mem_alloc(&w->dev.mem, DUR_MAX_BYTES,
						4096);
		if (!w->slot[i].buf)
			return dur_fail("guest memory", "exhausted");
	}
	return 0;
}

/* A range of [0, area) for slot @n, clear of slots 0..n-1. */
static bool dur_pick(struct dur_work *w, unsigned int n)
{
	unsigned int tries, i;

	for (tries = 0; tries < 16; tries++) {
		uint32_t len = w->lbs_sect *
			       (1 + dur_rand(w, DUR_MAX_BYTES / w->rec.lbs));
		uint64_t s = dur_rand(w, (w->area - len) / w->lbs_sect + 1) *
			     w->lbs_sect;

		for (i = 0; i < n; i++)
			if (s < w->slot[i].sector + w->slot[i].nsect &&
			    w->slot[i].sector < s + len)
				break;
		if (i == n) {
			w->slot[n].sector = s;
			w->slot[n].nsect = len;
			return true;
		}
	}
	return false;
}

/* One round of writes, all in flight at once, each waited for. */
static int dur_writes(struct dur_work *w)
{
	unsigned int n = 1 + dur_rand(w, w->o->qd), k, got = 0;
	struct vblk_req *done[DUR_MAX_QD];

	for (k = 0; k < n && dur_pick(w, k); k++) {
		struct dur_slot *sl = &w->slot[k];
		size_t bytes = (size_t)sl->nsect * VBLK_SECTOR;

		if (dur_add_op(&w->rec, sl->sector, sl->nsect, false))
			return dur_fail("record", strerror(ENOMEM));
		sl->gen = w->rec.nops;
		vblk_pat_fill(sl->buf, sl->sector, sl->nsect, w->rec.seed,
			      sl->gen);
		sl->req = (struct vblk_req){
			.type = VIRTIO_BLK_T_OUT, .sector = sl->sector,
			.seg = sl->seg,
			.nseg = vblk_split(sl->seg, DUR_MAX_SEGS, sl->buf, bytes,
					   w->vq->seg_size),
		};
		if (!sl->req.nseg || vblk_req_queue(w->vq, &sl->req))
			return dur_fail("queueing a write", w->vq->err);
	}
	n = k;
	if (vblk_vq_kick(w->vq) < 0)
		return dur_fail("kick", w->vq->err);
	while (got < n) {
		int m = vblk_reap(w->vq, w->vq->timeout_ms, done, DUR_MAX_QD);

		if (m < 0)
			return dur_fail("waiting for the writes", w->vq->err);
		got += (unsigned int)m;
	}
	for (k = 0; k < n; k++) {
		if (w->slot[k].req.status != VIRTIO_BLK_S_OK) {
			fprintf(stderr, "vdurable run: write %u (sector %" PRIu64 ", %u sectors): status %u\n",
				w->slot[k].gen, w->slot[k].sector,
				w->slot[k].nsect, w->slot[k].req.status);
			return -1;
		}
	}
	return 0;
}

/* Now and then, zeroes over a random range (its own step). */
static int dur_zeroes(struct dur_work *w)
{
	uint32_t max = w->dev.cfg.max_write_zeroes_sectors;
	struct dur_slot *sl = &w->slot[0];
	int ret;

	if (!w->zeroes || dur_rand(w, 4) || !dur_pick(w, 0))
		return 0;
	if (sl->nsect > max)
		sl->nsect = max - max % w->lbs_sect;
	if (dur_add_op(&w->rec, sl->sector, sl->nsect, true))
		return dur_fail("record", strerror(ENOMEM));
	ret = vblk_write_zeroes(w->vq, sl->sector, sl->nsect, dur_rand(w, 2));
	if (ret != VIRTIO_BLK_S_OK) {
		fprintf(stderr, "vdurable run: write zeroes at %" PRIu64 ": %d %s\n",
			sl->sector, ret, ret < 0 ? w->vq->err : "");
		return -1;
	}
	w->zero_ops++;
	return 0;
}

/* After round @round: a FLUSH or the switch, then the mark. */
static int dur_round_end(struct dur_work *w, unsigned int round)
{
	const struct dur_run_opts *o = w->o;
	bool flushed = false;
	char name[32], err[300];
	int ret;

	if (o->mode == DUR_SWITCH && !w->write_through &&
	    round == o->rounds / 2) {
		if (vblk_dev_set_writeback(&w->dev, false))
			return dur_fail("SET_WRITEBACK 0", w->dev.err);
		if (vblk_dev_get_config(&w->dev, &w->dev.cfg))
			return dur_fail("GET_CONFIG", w->dev.err);
		if (w->dev.cfg.writeback)
			return dur_fail("GET_CONFIG", "writeback still 1 after SET_WRITEBACK 0");
		w->write_through = true;
		flushed = true;
	} else if (!w->write_through && o->mode != DUR_NOFLUSH &&
		   !dur_rand(w, 3)) {
		ret = vblk_flush(w->vq, NULL);
		if (ret != VIRTIO_BLK_S_OK) {
			fprintf(stderr, "vdurable run: FLUSH: %d %s\n", ret,
				ret < 0 ? w->vq->err : "");
			return -1;
		}
		w->flushes++;
		flushed = true;
	}
	/* The control claims what a write-through device would. */
	if (flushed || w->write_through || o->mode == DUR_NOFLUSH)
		w->durable = w->rec.nops;
	snprintf(name, sizeof(name), "m%u", round);
	if (dur_add_mark(&w->rec, name, w->durable, flushed))
		return dur_fail("record", strerror(ENOMEM));
	if (o->dm && dur_dm_mark(o->dm, name, err, sizeof(err)))
		return dur_fail("mark", err);
	return 0;
}

int dur_run(const struct dur_run_opts *o)
{
	struct dur_work *w = calloc(1, sizeof(*w));
	char err[300];
	unsigned int round;
	int ret = -1;

	if (!w)
		return dur_fail("memory", strerror(ENOMEM));
	w->o = o;
	if (dur_setup(w))
		goto out;
	printf("vdurable run: %s, engine %s%s, mode %s, %u rounds, seed %" PRIu64 "\n",
	       o->backend, vblk_engine_name(w->dev.cfg.engine),
	       o->direct ? " O_DIRECT" : "", dur_mode_name(o->mode), o->rounds,
	       o->seed);
	for (round = 0; round < o->rounds; round++)
		if (dur_writes(w) || dur_zeroes(w) || dur_round_end(w, round))
			goto out;
	if (dur_save(&w->rec, o->record, err, sizeof(err))) {
		dur_fail("record", err);
		goto out;
	}
	printf("vdurable run: %u writes, %u write zeroes, %u flushes, %u marks\n",
	       w->rec.nops - w->zero_ops, w->zero_ops, w->flushes,
	       w->rec.nmarks);
	ret = 0;
out:
	vblk_dev_close(&w->dev);
	dur_free(&w->rec);
	free(w);
	return ret;
}
