// SPDX-License-Identifier: GPL-2.0-only
/* virtio-blk requests and the pump, against the fake device. */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fakedev.h"
#include "unit.h"

#define DISK_SECTORS	2048			/* 1 MiB */
#define SEED		0x5eedULL

struct env {
	struct vblk_dev dev;	/* only mem and vq used: no device file */
	struct fakedev fake[2];
	uint8_t *disk;
};

/* Two queues over one RAM disk, each served by its own fake thread. */
static int env_init(struct ut *t, struct env *e, unsigned int num,
		    bool event_idx, bool threads)
{
	unsigned int q;

	memset(e, 0, sizeof(*e));
	e->dev.fd = -1;
	e->disk = calloc(DISK_SECTORS, VBLK_SECTOR);
	CHECK(t, e->disk, "no memory for the disk");
	CHECK(t, !vblk_mem_init(&e->dev.mem, 8u << 20), "mem");
	for (q = 0; q < 2; q++) {
		CHECK(t, !vblk_vq_init(&e->dev.vq[q], &e->dev.mem, q, num),
		      "vq: %s", e->dev.vq[q].err);
		e->dev.vq[q].event_idx = event_idx;
		e->dev.vq[q].timeout_ms = 2000;
		e->dev.nvq = q + 1;
		fakedev_init(&e->fake[q], &e->dev.mem, &e->dev.vq[q], e->disk,
			     DISK_SECTORS);
		if (threads)
			CHECK(t, !fakedev_start(&e->fake[q]), "fake thread");
	}
	return 0;
}

static void env_destroy(struct env *e)
{
	fakedev_stop(&e->fake[0]);
	fakedev_stop(&e->fake[1]);
	vblk_dev_close(&e->dev);
	free(e->disk);
}

static int t_rw_layouts(struct ut *t)
{
	static const uint32_t segs[] = { 512, 4096, 65536, 1536 };
	const size_t len = 16384;
	struct env e;
	struct vblk_vq *vq;
	uint8_t *wbuf, *rbuf;
	unsigned int split, s, ind;
	uint64_t sector = 1;
	char msg[200];

	if (env_init(t, &e, 64, true, true))
		return 1;
	vq = &e.dev.vq[0];
	wbuf = vblk_mem_alloc(&e.dev.mem, len, 4096);
	rbuf = vblk_mem_alloc(&e.dev.mem, len, 4096);
	for (split = 0; split < 16; split++)
		for (s = 0; s < 4; s++)
			for (ind = 0; ind < 2; ind++) {
				struct vblk_layout lo = {
					.hdr_split = split, .seg_size = segs[s],
					.indirect = ind,
				};
				unsigned int nseg = (len + segs[s] - 1) / segs[s];
				uint32_t used = 0;
				int st;

				sector = (sector * 7 + 3) % (DISK_SECTORS - 32);
				vblk_pat_fill(wbuf, sector, len / 512, SEED, split);
				st = vblk_rw(vq, VIRTIO_BLK_T_OUT, sector, wbuf,
					     len, &lo, &used);
				CHECK(t, st == VIRTIO_BLK_S_OK && used == 1,
				      "write split %u seg %u indirect %u: status %d used %u (%s)",
				      split, segs[s], ind, st, used, vq->err);
				CHECK(t, !memcmp(e.disk + sector * 512, wbuf, len),
				      "write split %u seg %u indirect %u: disk differs",
				      split, segs[s], ind);
				CHECK(t, e.fake[0].last.hdr_descs == (split ? 2u : 1u) &&
				      e.fake[0].last.data_descs == nseg &&
				      e.fake[0].last.indirect == !!ind,
				      "write split %u seg %u: device saw %u header and %u data descriptors, indirect %d",
				      split, segs[s], e.fake[0].last.hdr_descs,
				      e.fake[0].last.data_descs,
				      e.fake[0].last.indirect);
				memset(rbuf, 0, len);
				st = vblk_rw(vq, VIRTIO_BLK_T_IN, sector, rbuf, len,
					     &lo, &used);
				CHECK(t, st == VIRTIO_BLK_S_OK && used == len + 1,
				      "read split %u seg %u indirect %u: status %d used %u",
				      split, segs[s], ind, st, used);
				CHECK(t, vblk_pat_verify(rbuf, sector, len / 512, SEED,
							 split, msg, sizeof(msg)) < 0,
				      "read back: %s", msg);
			}
	CHECK(t, vq->inflight == 0 && vq->nfree == vq->num, "descriptors leaked");
	env_destroy(&e);
	return 0;
}

static int t_types(struct ut *t)
{
	struct virtio_blk_discard_write_zeroes dz[3];
	struct env e;
	struct vblk_vq *vq;
	uint8_t *buf;
	uint32_t used = 0;
	int st, i;

	if (env_init(t, &e, 16, false, true))
		return 1;
	vq = &e.dev.vq[0];
	buf = vblk_mem_alloc(&e.dev.mem, 4096, 4096);

	st = vblk_flush(vq, &used);
	CHECK(t, st == 0 && used == 1 && e.fake[0].last.type == VIRTIO_BLK_T_FLUSH,
	      "flush: status %d used %u", st, used);
	st = vblk_get_id(vq, buf, 20, &used);
	CHECK(t, st == 0 && used == 21 && !memcmp(buf, e.fake[0].serial, 20),
	      "get_id(20): status %d used %u", st, used);
	memset(buf, 0xaa, 64);
	st = vblk_get_id(vq, buf, 8, &used);
	CHECK(t, st == 0 && used == 9 && !memcmp(buf, e.fake[0].serial, 8) &&
	      buf[8] == 0xaa, "get_id(8): status %d used %u", st, used);

	for (i = 0; i < 3; i++) {
		dz[i].sector = htole64(100 + 10 * i);
		dz[i].num_sectors = htole32(i + 1);
		dz[i].flags = htole32(i == 2 ? VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP : 0);
	}
	st = vblk_discard_type(vq, VIRTIO_BLK_T_WRITE_ZEROES, dz, 3, &used);
	CHECK(t, st == 0 && used == 1 && e.fake[0].ndwz == 3 &&
	      !memcmp(e.fake[0].dwz, dz, sizeof(dz)),
	      "write zeroes: status %d, device got %u segments", st,
	      e.fake[0].ndwz);
	st = vblk_discard(vq, 7, 9);
	CHECK(t, st == 0 && e.fake[0].ndwz == 1 &&
	      le64toh(e.fake[0].dwz[0].sector) == 7 &&
	      le32toh(e.fake[0].dwz[0].num_sectors) == 9 &&
	      e.fake[0].last.type == VIRTIO_BLK_T_DISCARD,
	      "discard: status %d", st);
	st = vblk_write_zeroes(vq, 7, 9, true);
	CHECK(t, st == 0 && le32toh(e.fake[0].dwz[0].flags) ==
	      VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP, "write zeroes unmap flag");

	st = vblk_rw(vq, 0xff, 0, buf, 512, NULL, &used);
	CHECK(t, st == VIRTIO_BLK_S_UNSUPP && used == 1,
	      "type 0xff: status %d used %u", st, used);
	st = vblk_rw(vq, VIRTIO_BLK_T_IN, DISK_SECTORS, buf, 512, NULL, &used);
	CHECK(t, st == VIRTIO_BLK_S_IOERR && used == 1,
	      "read past the end: status %d used %u", st, used);
	env_destroy(&e);
	return 0;
}

/* Requests of different sizes at once, completed in reverse order. */
static int t_out_of_order(struct ut *t)
{
	struct vblk_req r[8], *done[8];
	struct vblk_seg seg[8];
	uint8_t *buf[8];
	struct env e;
	struct vblk_vq *vq;
	unsigned int i, got = 0;
	char msg[200];

	if (env_init(t, &e, 32, true, false))
		return 1;
	vq = &e.dev.vq[0];
	e.fake[0].reverse = true;
	for (i = 0; i < 8; i++) {
		buf[i] = vblk_mem_alloc(&e.dev.mem, 512 * (i + 1), 512);
		vblk_pat_fill(e.disk + 64 * i * 512, 64 * i, i + 1, SEED, i);
		seg[i] = (struct vblk_seg){ buf[i], 512 * (i + 1) };
		memset(&r[i], 0, sizeof(r[i]));
		r[i].type = VIRTIO_BLK_T_IN;
		r[i].sector = 64 * i;
		r[i].seg = &seg[i];
		r[i].nseg = 1;
		r[i].indirect = i & 1;
		CHECK(t, !vblk_req_queue(vq, &r[i]), "queue %u: %s", i, vq->err);
	}
	CHECK(t, vblk_vq_kick(vq) == 1, "no kick for the batch");
	CHECK(t, fakedev_process(&e.fake[0]) == 8, "fake served %s",
	      e.fake[0].why);
	while (got < 8) {
		int n = vblk_reap(vq, 1000, done + got, 8 - got);

		CHECK(t, n > 0, "reap: %s", vq->err);
		got += n;
	}
	CHECK(t, done[0] == &r[7] && done[7] == &r[0],
	      "completions not in the device's order");
	for (i = 0; i < 8; i++) {
		CHECK(t, r[i].done && r[i].status == 0 &&
		      r[i].used_len == 512 * (i + 1) + 1,
		      "request %u: done %d status %u used %u", i, r[i].done,
		      r[i].status, r[i].used_len);
		CHECK(t, vblk_pat_verify(buf[i], 64 * i, i + 1, SEED, i, msg,
					 sizeof(msg)) < 0, "request %u: %s", i, msg);
	}
	env_destroy(&e);
	return 0;
}

/* Many sync requests: each one waits for an interrupt the driver must ask
 * for (used_event with EVENT_IDX). */
static int t_notify_flow(struct ut *t)
{
	unsigned int mode, i;

	for (mode = 0; mode < 2; mode++) {
		struct env e;
		uint8_t *buf;

		if (env_init(t, &e, 8, mode, true))
			return 1;
		buf = vblk_mem_alloc(&e.dev.mem, 512, 512);
		for (i = 0; i < 300; i++) {
			int st = vblk_rw(&e.dev.vq[0], i & 1 ? VIRTIO_BLK_T_IN :
					 VIRTIO_BLK_T_OUT, i % 100, buf, 512,
					 NULL, NULL);

			CHECK(t, st == 0, "event_idx %u, request %u: %d %s", mode,
			      i, st, e.dev.vq[0].err);
		}
		CHECK(t, e.fake[0].signals >= 300 || mode,
		      "only %lu interrupts for 300 requests", e.fake[0].signals);
		env_destroy(&e);
	}
	return 0;
}

/* Across the 16-bit index wrap, with EVENT_IDX. */
static int t_wrap(struct ut *t)
{
	struct env e;
	uint8_t *buf;
	unsigned int i;

	if (env_init(t, &e, 4, true, true))
		return 1;
	fakedev_stop(&e.fake[0]);
	vblk_vq_reset(&e.dev.vq[0], 65530);
	fakedev_init(&e.fake[0], &e.dev.mem, &e.dev.vq[0], e.disk, DISK_SECTORS);
	CHECK(t, !fakedev_start(&e.fake[0]), "fake thread");
	buf = vblk_mem_alloc(&e.dev.mem, 1024, 512);
	for (i = 0; i < 20; i++) {
		uint32_t used;
		int st;

		vblk_pat_fill(buf, i, 2, SEED, i);
		st = vblk_rw(&e.dev.vq[0], VIRTIO_BLK_T_OUT, i, buf, 1024, NULL,
			     &used);
		CHECK(t, st == 0, "write %u: %d %s", i, st, e.dev.vq[0].err);
		st = vblk_rw(&e.dev.vq[0], VIRTIO_BLK_T_IN, i, buf, 1024, NULL,
			     &used);
		CHECK(t, st == 0 && used == 1025, "read %u: %d %s", i, st,
		      e.dev.vq[0].err);
	}
	CHECK(t, e.dev.vq[0].avail_idx == (uint16_t)(65530 + 40),
	      "avail idx %u", e.dev.vq[0].avail_idx);
	env_destroy(&e);
	return 0;
}

struct pump_test {
	unsigned int next, nblocks;
	bool reading;
	char msg[200];
};

static int pt_prep(struct vblk_pump *p, struct vblk_pump_op *op)
{
	struct pump_test *pt = p->arg;

	if (pt->next == pt->nblocks)
		return 0;
	op->sector = 8 * pt->next++;
	op->req.type = pt->reading ? VIRTIO_BLK_T_IN : VIRTIO_BLK_T_OUT;
	op->req.sector = op->sector;
	op->req.seg = op->seg;
	op->req.nseg = vblk_split(op->seg, p->max_segs, op->buf, 4096, 1024);
	op->req.indirect = op->sector & 8;
	if (!pt->reading)
		vblk_pat_fill(op->buf, op->sector, 8, SEED, 1);
	return 1;
}

static int pt_done(struct vblk_pump *p, struct vblk_pump_op *op)
{
	struct pump_test *pt = p->arg;

	if (op->req.status) {
		snprintf(p->err, sizeof(p->err), "sector %llu: status %u",
			 (unsigned long long)op->sector, op->req.status);
		return -EIO;
	}
	if (pt->reading &&
	    vblk_pat_verify(op->buf, op->sector, 8, SEED, 1, pt->msg,
			    sizeof(pt->msg)) >= 0) {
		snprintf(p->err, sizeof(p->err), "%s", pt->msg);
		return -EIO;
	}
	return 0;
}

static int t_pump(struct ut *t)
{
	struct pump_test pt = { .nblocks = 200 };
	struct vblk_pump p = {
		.queues = 2, .depth = 12, .buf_size = 4096, .max_segs = 8,
		.timeout_ms = 2000, .prep = pt_prep, .done = pt_done, .arg = &pt,
	};
	struct env e;
	char msg[200];
	unsigned int i;

	if (env_init(t, &e, 16, true, true))
		return 1;
	p.dev = &e.dev;
	CHECK(t, !vblk_pump_run(&p), "write pump: %s", p.err);
	CHECK(t, p.submitted == 200 && p.completed == 200,
	      "%llu submitted, %llu completed", (unsigned long long)p.submitted,
	      (unsigned long long)p.completed);
	CHECK(t, e.fake[0].served && e.fake[1].served,
	      "queue 1 unused (%lu, %lu served)", e.fake[0].served,
	      e.fake[1].served);
	for (i = 0; i < 200; i++)
		CHECK(t, vblk_pat_verify(e.disk + 4096 * i, 8 * i, 8, SEED, 1, msg,
					 sizeof(msg)) < 0, "disk: %s", msg);
	pt.next = 0;
	pt.reading = true;
	CHECK(t, !vblk_pump_run(&p), "read pump: %s", p.err);
	CHECK(t, e.dev.vq[0].inflight == 0 && e.dev.vq[1].inflight == 0,
	      "requests left in flight");
	env_destroy(&e);
	return 0;
}

/* A used entry whose status byte the device never wrote shows as such. */
static int t_status_unset(struct ut *t)
{
	struct vblk_req r = { .type = VIRTIO_BLK_T_FLUSH }, *done;
	struct env e;
	struct vblk_vq *vq;
	uint16_t idx;

	if (env_init(t, &e, 8, false, false))
		return 1;
	vq = &e.dev.vq[0];
	CHECK(t, !vblk_req_queue(vq, &r), "queue: %s", vq->err);
	idx = le16toh(vq->used->idx);
	vq->used->ring[idx % vq->num].id = htole32((uint32_t)r.head);
	vq->used->ring[idx % vq->num].len = htole32(1);
	vq->used->idx = htole16(idx + 1);
	CHECK(t, vblk_reap(vq, 100, &done, 1) == 1 && done == &r, "reap: %s",
	      vq->err);
	CHECK(t, r.done && r.status == VBLK_STATUS_UNSET && r.used_len == 1,
	      "status %#x used %u, want %#x (unset) and 1", r.status, r.used_len,
	      VBLK_STATUS_UNSET);
	env_destroy(&e);
	return 0;
}

static int t_split(struct ut *t)
{
	struct vblk_seg seg[4];
	uint8_t buf[10000];

	CHECK(t, vblk_split(seg, 4, buf, 10000, 4096) == 3 &&
	      seg[0].buf == buf && seg[0].len == 4096 &&
	      seg[1].buf == buf + 4096 && seg[1].len == 4096 &&
	      seg[2].buf == buf + 8192 && seg[2].len == 1808, "10000 by 4096");
	CHECK(t, vblk_split(seg, 2, buf, 10000, 4096) == 0,
	      "split into more segments than allowed");
	CHECK(t, vblk_split(seg, 4, buf, 0, 4096) == 0, "empty split");
	return 0;
}

const struct ut_case ut_req_cases[] = {
	{ "req-rw-layouts", t_rw_layouts },
	{ "req-types", t_types },
	{ "req-out-of-order", t_out_of_order },
	{ "req-notify-flow", t_notify_flow },
	{ "req-index-wrap", t_wrap },
	{ "req-status-unset", t_status_unset },
	{ "req-split", t_split },
	{ "pump", t_pump },
	{ NULL, NULL },
};
