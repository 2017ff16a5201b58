// SPDX-License-Identifier: GPL-2.0-only
/*
 * Integrity: pattern writes of random sizes at random places, several
 * queues, several requests in flight, random chain layouts, reads checked
 * while writing; then everything read back through vhost-blk and, past it,
 * from the backend with O_DIRECT io_uring reads. Each sector's expected
 * write number is kept; requests in flight never overlap.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vbt.h"

#define DEPTH		16
#define MAX_REQ		(1u << 20)

struct range {
	uint64_t s, n;
	bool busy;
};

struct integ {
	struct vbt *t;
	uint64_t rng;
	uint64_t area;		/* sectors */
	uint32_t align;		/* sectors */
	uint32_t max_nsect;
	uint32_t seg_max;
	uint32_t seg_size;
	uint32_t *gen;		/* expected write per sector; 0: unknown */
	uint64_t target;	/* bytes to write */
	uint64_t issued;
	uint64_t written;
	uint32_t nextgen;
	uint64_t reads;
	uint64_t verified;	/* sectors checked */
	struct range fl[DEPTH];
	uint64_t cursor;	/* final pass */
	const char *phase;
};

static uint64_t rnd(struct integ *g, uint64_t n)
{
	return n ? vblk_rand(&g->rng) % n : 0;
}

/* Check @n blocks at @sector against the expected writes. */
static int check_blocks(struct integ *g, const uint8_t *buf, uint64_t sector,
			uint32_t n, const char *how)
{
	uint32_t k;

	for (k = 0; k < n; k++) {
		uint32_t want = g->gen[sector + k];
		struct vblk_pat_info f;
		enum vblk_pat_result r;
		char msg[300];

		if (!want)
			continue;
		r = vblk_pat_check(buf + (size_t)k * VBLK_SECTOR, sector + k,
				   g->t->seed, want, &f);
		g->verified++;
		if (r != VBLK_PAT_OK) {
			vblk_pat_explain(msg, sizeof(msg), r, sector + k, want, &f);
			return vbt_fail(g->t, "seed %#" PRIx64 ": %s: %s", g->t->seed,
					how, msg), -1;
		}
	}
	return 0;
}

static bool overlaps(const struct integ *g, uint64_t s, uint64_t n)
{
	unsigned int i;

	for (i = 0; i < DEPTH; i++)
		if (g->fl[i].busy && s < g->fl[i].s + g->fl[i].n &&
		    g->fl[i].s < s + n)
			return true;
	return false;
}

static uint32_t pick_size(struct integ *g)
{
	static const uint32_t lim[] = { 8, 64, 512 };
	unsigned int c = (unsigned int)rnd(g, 4);
	uint32_t lo = c ? lim[c - 1] : 1;
	uint32_t hi = c < 3 ? lim[c] : g->max_nsect;
	uint32_t n = lo + (uint32_t)rnd(g, hi - lo + 1);

	n = n / g->align * g->align;
	if (n < g->align)
		n = g->align;
	return n > g->max_nsect ? g->max_nsect : n;
}

/* Lay @op's request out at random: segment size, indirect, split header. */
static void random_layout(struct integ *g, struct vblk_pump *p,
			  struct vblk_pump_op *op, uint32_t len)
{
	uint32_t unit = g->align * VBLK_SECTOR;
	uint32_t min = (len + g->seg_max - 1) / g->seg_max;
	uint32_t seg;

	min = (uint32_t)vblk_align_up(min, unit);
	seg = unit * (1 + (uint32_t)rnd(g, g->seg_size / unit));
	if (seg < min)
		seg = min;
	op->req.seg = op->seg;
	op->req.nseg = vblk_split(op->seg, p->max_segs, op->buf, len, seg);
	op->req.indirect = op->req.nseg > 12 || rnd(g, 2);
	op->req.hdr_split = rnd(g, 4) ? 0 : 1 + (unsigned int)rnd(g, 15);
}

static int prep(struct vblk_pump *p, struct vblk_pump_op *op)
{
	struct integ *g = p->arg;
	bool rd = g->written && rnd(g, 100) < 30;
	uint64_t s = 0, n = 0;
	unsigned int i, tries;

	if (g->issued >= g->target)
		return 0;
	for (tries = 0; tries < 8; tries++) {
		n = pick_size(g);
		s = rnd(g, g->area - n + 1) / g->align * g->align;
		if (!overlaps(g, s, n))
			break;
	}
	if (tries == 8)
		return 0;	/* wait for something to complete */
	for (i = 0; g->fl[i].busy; i++)
		;
	g->fl[i] = (struct range){ s, n, true };
	op->user = &g->fl[i];
	op->sector = s;
	op->nsect = (uint32_t)n;
	op->req.sector = s;
	if (rd) {
		op->req.type = VIRTIO_BLK_T_IN;
		op->gen = ++g->reads;	/* only for messages */
	} else {
		op->req.type = VIRTIO_BLK_T_OUT;
		op->gen = ++g->nextgen;
		vblk_pat_fill(op->buf, s, (unsigned int)n, g->t->seed, op->gen);
		g->issued += n * VBLK_SECTOR;
	}
	random_layout(g, p, op, (uint32_t)n * VBLK_SECTOR);
	return 1;
}

static int done(struct vblk_pump *p, struct vblk_pump_op *op)
{
	struct integ *g = p->arg;
	bool rd = op->req.type == VIRTIO_BLK_T_IN;
	uint32_t want = rd ? op->nsect * VBLK_SECTOR + 1 : 1;
	struct range *r = op->user;
	char how[160], st[40];
	uint64_t k;

	snprintf(how, sizeof(how), "%s #%" PRIu64 " of %u sectors at %" PRIu64 " on queue %u (%u segments%s, header split %u)",
		 rd ? "read" : "write", op->gen, op->nsect,
		 op->sector, op->queue, op->req.nseg,
		 op->req.indirect ? ", indirect" : "", op->req.hdr_split);
	if (op->req.status != VIRTIO_BLK_S_OK || op->req.used_len != want) {
		vbt_fail(g->t, "seed %#" PRIx64 ": %s: expected status OK and used len %u, got status %s and used len %u",
			 g->t->seed, how, want,
			 vblk_status_str(op->req.status, st, sizeof(st)),
			 op->req.used_len);
		return -1;
	}
	if (rd) {
		if (check_blocks(g, op->buf, op->sector, op->nsect,
				 "read back through vhost-blk while writing"))
			return -1;
	} else {
		for (k = 0; k < op->nsect; k++)
			g->gen[op->sector + k] = (uint32_t)op->gen;
		g->written += (uint64_t)op->nsect * VBLK_SECTOR;
	}
	r->busy = false;
	return 0;
}

/* The final pass through vhost-blk: every chunk holding written sectors. */
static int prep_verify(struct vblk_pump *p, struct vblk_pump_op *op)
{
	struct integ *g = p->arg;
	uint64_t s, n;

	while (g->cursor < g->area && !g->gen[g->cursor])
		g->cursor++;
	if (g->cursor >= g->area)
		return 0;
	s = g->cursor / g->align * g->align;
	n = g->area - s < g->max_nsect ? g->area - s : g->max_nsect;
	g->cursor = s + n;
	op->sector = s;
	op->nsect = (uint32_t)n;
	op->req.type = VIRTIO_BLK_T_IN;
	op->req.sector = s;
	op->req.seg = op->seg;
	op->req.nseg = vblk_split(op->seg, p->max_segs, op->buf,
				  n * VBLK_SECTOR, g->seg_size);
	op->req.indirect = true;
	return 1;
}

static int done_verify(struct vblk_pump *p, struct vblk_pump_op *op)
{
	struct integ *g = p->arg;
	char st[40];

	if (op->req.status != VIRTIO_BLK_S_OK ||
	    op->req.used_len != op->nsect * VBLK_SECTOR + 1) {
		vbt_fail(g->t, "seed %#" PRIx64 ": final read of %u sectors at %" PRIu64 ": status %s, used len %u",
			 g->t->seed, op->nsect, op->sector,
			 vblk_status_str(op->req.status, st, sizeof(st)),
			 op->req.used_len);
		return -1;
	}
	return check_blocks(g, op->buf, op->sector, op->nsect,
			    "read back through vhost-blk after all writes");
}

static int uring_cb(void *arg, uint64_t sector, const uint8_t *buf,
		    uint32_t nsect)
{
	return check_blocks(arg, buf, sector, nsect,
			    "read from the backend with O_DIRECT io_uring");
}

int case_integrity(struct vbt *t)
{
	struct integ g = { .t = t, .rng = t->seed ^ 0x1e5e1e5eULL };
	struct vblk_dev_opts o;
	struct vblk_pump p;
	struct vbt_dev v;
	struct timespec t0;
	uint64_t want;
	uint32_t used = 0;
	int st;

	vblk_dev_opts_init(&o);
	o.queues = vbt_queues(t, t->o->queues);
	o.mem_size = 64u << 20;
	if (vbt_dev_up(t, &v, &o, 0))
		return VBT_FAIL;
	g.align = vbt_lbs_sectors(&v);
	g.seg_max = v.cfg.max_segments;
	g.seg_size = v.cfg.max_segment_size / VBLK_SECTOR / g.align * g.align *
		     VBLK_SECTOR;
	g.max_nsect = (uint32_t)((uint64_t)g.seg_max * g.seg_size / VBLK_SECTOR);
	if (g.max_nsect > MAX_REQ / VBLK_SECTOR)
		g.max_nsect = MAX_REQ / VBLK_SECTOR;
	g.target = (uint64_t)t->o->integrity_mib << 20;
	want = g.target / 2;
	if (want < (64ULL << 20))
		want = 64ULL << 20;
	if (want > (4ULL << 30))
		want = 4ULL << 30;
	g.area = want / VBLK_SECTOR;
	if (g.area > v.cfg.capacity)
		g.area = v.cfg.capacity;
	g.area = g.area / g.align * g.align;
	g.gen = calloc(g.area, sizeof(*g.gen));
	if (!g.gen || !g.seg_size || g.max_nsect < g.align)
		return vbt_fail(t, "cannot run: out of memory or odd limits (segments %u x %u)",
				g.seg_max, v.cfg.max_segment_size);
	vbt_note(t, "seed %#" PRIx64 ": %u MiB of writes over the first %" PRIu64 " MiB, %u queues, %u in flight",
		 t->seed, t->o->integrity_mib, g.area * VBLK_SECTOR >> 20,
		 v.d.nvq, DEPTH);

	memset(&p, 0, sizeof(p));
	p.dev = &v.d;
	p.queues = v.d.nvq;
	p.depth = DEPTH;
	p.buf_size = (size_t)g.max_nsect * VBLK_SECTOR;
	p.max_segs = g.seg_max + 1;
	p.prep = prep;
	p.done = done;
	p.arg = &g;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (vblk_pump_run(&p)) {
		if (!t->msg[0])
			vbt_fail(t, "seed %#" PRIx64 ": %s", t->seed, p.err);
		return VBT_FAIL;
	}
	vbt_note(t, "wrote %" PRIu64 " MiB in %u writes, %" PRIu64 " reads checked on the way, %.1f s",
		 g.written >> 20, g.nextgen, g.reads, vblk_elapsed(&t0));

	st = vblk_flush(&v.d.vq[0], &used);
	if (vbt_expect(t, &v.d.vq[0], "FLUSH after the writes", st, used,
		       VIRTIO_BLK_S_OK, 1))
		return VBT_FAIL;

	g.verified = 0;
	g.cursor = 0;
	p.prep = prep_verify;
	p.done = done_verify;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (vblk_pump_run(&p)) {
		if (!t->msg[0])
			vbt_fail(t, "seed %#" PRIx64 ": %s", t->seed, p.err);
		return VBT_FAIL;
	}
	vbt_note(t, "%" PRIu64 " sectors verified through vhost-blk in %.1f s",
		 g.verified, vblk_elapsed(&t0));
	vblk_dev_close(&v.d);

	g.verified = 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (vbt_uring_scan(t, t->o->backend, 0, g.area, uring_cb, &g))
		return VBT_FAIL;
	vbt_note(t, "%" PRIu64 " sectors verified on the backend in %.1f s",
		 g.verified, vblk_elapsed(&t0));
	free(g.gen);
	return VBT_PASS;
}
