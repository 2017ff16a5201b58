// SPDX-License-Identifier: GPL-2.0-only
/*
 * Requests' guest memory, descriptors and avail entries.
 *
 * Every buffer a request uses is its own allocation with canary bytes
 * around it; buffers the device may only read are hashed when the request
 * is sealed. When the round is over, both must be intact: the device wrote
 * guest memory only through writable descriptors of the chain.
 *
 * fz_add_chain() asks the model what the device will do with a chain and
 * turns the answer into bookkeeping: completions owed, sectors claimed for
 * the round, contents the shadow must now also allow.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vfuzz.h"

static uint64_t hash_bytes(const uint8_t *p, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ len, w;
	size_t i = 0;

	for (; i + 8 <= len; i += 8) {
		memcpy(&w, p + i, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdULL;
		h ^= h >> 29;
	}
	for (; i < len; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return h;
}

uint8_t *fz_alloc(struct fz_dev *dv, struct fz_req *r, size_t len,
		  size_t align, size_t off, bool ro)
{
	struct fz_blk *b;
	size_t front, size;
	uint8_t *base;

	if (r->nblk == FZ_REQ_BLKS)
		return NULL;
	if (align < 16)
		align = 16;
	off %= align;
	front = align + off;
	size = front + len + 16;
	base = vblk_mem_alloc(&dv->d.mem, size, align);
	if (!base)
		return NULL;
	memset(base, FZ_CANARY, front);
	memset(base + front + len, FZ_CANARY, 16);
	b = &r->blk[r->nblk++];
	b->base = base;
	b->size = size;
	b->p = base + front;
	b->len = len;
	b->ro = ro;
	return b->p;
}

uint64_t fz_gpa(struct fz_dev *dv, const void *p, size_t len)
{
	uint64_t gpa = 0;

	if (vblk_mem_gpa(&dv->d.mem, p, len ? len : 1, &gpa)) {
		fprintf(stderr, "vfuzz: internal error: %p (%zu bytes) is not guest memory\n",
			p, len);
		abort();
	}
	return gpa;
}

void fz_seal(struct fz_req *r)
{
	unsigned int i;

	for (i = 0; i < r->nblk; i++)
		if (r->blk[i].ro)
			r->blk[i].h = hash_bytes(r->blk[i].p, r->blk[i].len);
	r->sealed = true;
}

static long bad_canary(const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] != FZ_CANARY)
			return (long)i;
	return -1;
}

int fz_check_blks(struct fz_dev *dv, struct fz_req *r)
{
	unsigned int i;

	for (i = 0; i < r->nblk; i++) {
		struct fz_blk *b = &r->blk[i];
		size_t front = (size_t)(b->p - b->base);
		long at;

		at = bad_canary(b->base, front);
		if (at >= 0)
			return fz_fail(dv->run, "%s (queue %u, head %u): the device wrote guest memory %zu bytes before buffer %u (%zu bytes at gpa %#" PRIx64 "), which no writable descriptor covers",
				       r->what, r->q, r->head, front - (size_t)at,
				       i, b->len, fz_gpa(dv, b->p, b->len));
		at = bad_canary(b->p + b->len, 16);
		if (at >= 0)
			return fz_fail(dv->run, "%s (queue %u, head %u): the device wrote guest memory %ld bytes after buffer %u (%zu bytes at gpa %#" PRIx64 "), which no writable descriptor covers",
				       r->what, r->q, r->head, at, i, b->len,
				       fz_gpa(dv, b->p, b->len));
		if (b->ro && r->sealed && hash_bytes(b->p, b->len) != b->h)
			return fz_fail(dv->run, "%s (queue %u, head %u): the device changed buffer %u (%zu bytes at gpa %#" PRIx64 "), which only readable descriptors cover",
				       r->what, r->q, r->head, i, b->len,
				       fz_gpa(dv, b->p, b->len));
	}
	return 0;
}

struct fz_req *fz_req_new(struct fz_dev *dv, unsigned int q, int kind)
{
	struct fz_req *r = calloc(1, sizeof(*r));

	if (!r)
		abort();
	r->q = q;
	r->kind = (uint8_t)kind;
	r->next = dv->reqs;
	dv->reqs = r;
	return r;
}

void fz_req_free(struct fz_dev *dv, struct fz_req *r, bool mem)
{
	unsigned int i;

	if (mem)
		for (i = 0; i < r->nblk; i++)
			vblk_mem_free(&dv->d.mem, r->blk[i].base);
	fz_outcome_free(&r->out);
	free(r->wh);
	free(r->wgen);
	free(r->pended);
	free(r);
}

int fz_put_direct(struct vblk_vq *vq, const struct vblk_raw_desc *d,
		  unsigned int n, void *token)
{
	uint16_t small[64], *idx = small;
	unsigned int k;
	int head;

	if (!n || n > vq->nfree)
		return -ENOSPC;
	if (n > 64) {
		idx = calloc(n, sizeof(*idx));
		if (!idx)
			abort();
	}
	vblk_vq_reserve(vq, n, idx, token);
	for (k = 0; k < n; k++)
		vblk_vq_set_desc(vq, idx[k], d[k].addr, d[k].len,
				 (uint16_t)(d[k].flags |
					    (k + 1 < n ? VRING_DESC_F_NEXT : 0)),
				 k + 1 < n ? idx[k + 1] : 0);
	head = idx[0];
	if (idx != small)
		free(idx);
	return head;
}

int fz_put_indirect(struct fz_dev *dv, struct fz_req *r, struct vblk_vq *vq,
		    const struct vblk_raw_desc *d, unsigned int n)
{
	struct vring_desc *tb;
	uint16_t head;
	unsigned int k;

	if (!vq->nfree)
		return -ENOSPC;
	tb = (struct vring_desc *)fz_alloc(dv, r, 16 * (size_t)n, 16, 0, true);
	if (!tb)
		return -ENOMEM;
	for (k = 0; k < n; k++) {
		tb[k].addr = htole64(d[k].addr);
		tb[k].len = htole32(d[k].len);
		tb[k].flags = htole16((uint16_t)(d[k].flags |
				      (k + 1 < n ? VRING_DESC_F_NEXT : 0)));
		tb[k].next = htole16((uint16_t)(k + 1 < n ? k + 1 : 0));
	}
	vblk_vq_reserve(vq, 1, &head, r);
	vblk_vq_set_desc(vq, head, fz_gpa(dv, tb, 16 * (size_t)n),
			 16 * n, VRING_DESC_F_INDIRECT, 0);
	return head;
}

unsigned int fz_room(struct fz_dev *dv, unsigned int q)
{
	struct fz_queue *qs = &dv->q[q];
	struct vblk_vq *vq = &dv->d.vq[q];

	if (qs->closed || qs->npos >= vq->num)
		return 0;
	return vq->nfree;
}

/* Is byte @p inside one of @r's buffers? */
static bool own_byte(const struct fz_req *r, const uint8_t *p)
{
	unsigned int i;

	for (i = 0; i < r->nblk; i++)
		if (p >= r->blk[i].p && p < r->blk[i].p + r->blk[i].len)
			return true;
	return false;
}

/* The header's type bytes: where the model found them. */
static void patch_type(struct fz_dev *dv, struct fz_req *r)
{
	struct fz_model *mx = dv->run->mx;
	unsigned int k;
	uint64_t skip = 0;

	/* mx->iov still holds the chain's iovecs, readable ones first. */
	for (k = 0; skip < 4 && k < FZ_MAX_IOV; k++) {
		struct fz_iov *v = &mx->iov[k];
		uint64_t j;

		for (j = 0; j < v->len && skip < 4; j++, skip++)
			if (own_byte(r, v->base + j))
				v->base[j] = 0xff;
	}
}

static void model(struct fz_dev *dv, struct fz_req *r)
{
	struct vblk_vq *vq = &dv->d.vq[r->q];

	fz_outcome_free(&r->out);
	fz_model_chain(dv->run->mx, &dv->table, &dv->m, vq->desc, vq->num,
		       r->head, &r->out);
}

/* All data iovecs start and end at multiples of @align? */
static bool iov_aligned(const struct fz_outcome *o, unsigned int align)
{
	unsigned int i;

	for (i = 0; i < o->ndata; i++)
		if (((uintptr_t)o->data[i].base | o->data[i].len) & (align - 1))
			return false;
	return true;
}

/* Ranges a modelled request changes on the backend; false if they are not
 * all in the target windows and free this round. Reads need only be free.
 * With --align, reads and writes must also keep to the alignment. */
static bool effects_safe(struct fz_dev *dv, struct fz_req *r)
{
	struct fz_shadow *sw = &dv->run->sw;
	struct fz_outcome *o = &r->out;
	unsigned int i;

	if (o->reject || !o->has_status || o->status != VIRTIO_BLK_S_OK)
		return true;
	if ((o->effect == FZ_EFF_READ || o->effect == FZ_EFF_WRITE) &&
	    !iov_aligned(o, dv->run->o.align))
		return false;
	switch (o->effect) {
	case FZ_EFF_READ:
		return fz_claimable(sw, o->sector, o->len / VBLK_SECTOR);
	case FZ_EFF_WRITE:
		return fz_in_window(sw, o->sector, o->len / VBLK_SECTOR, true) &&
		       fz_claimable(sw, o->sector, o->len / VBLK_SECTOR);
	case FZ_EFF_ZERO:
	case FZ_EFF_DISCARD:
		for (i = 0; i < o->nsegs; i++) {
			uint64_t s = le64toh(o->segs[i].sector);
			uint32_t n = le32toh(o->segs[i].num_sectors);

			if (!fz_in_window(sw, s, n, true) ||
			    !fz_claimable(sw, s, n))
				return false;
		}
		return true;
	}
	return true;
}

int fz_defuse(struct fz_dev *dv, struct fz_req *r)
{
	if (effects_safe(dv, r))
		return 0;
	patch_type(dv, r);
	model(dv, r);
	if (effects_safe(dv, r))
		return 0;
	fprintf(stderr, "vfuzz: internal error: cannot defuse %s\n", r->what);
	abort();
}

static void pended(struct fz_req *r, uint64_t sector, uint64_t h)
{
	r->pended = realloc(r->pended, (r->npended + 1) * sizeof(*r->pended));
	if (!r->pended)
		abort();
	r->pended[r->npended].sector = sector;
	r->pended[r->npended].h = h;
	r->npended++;
}

/* Claim what the request touches and tell the shadow what it may write. */
static void account(struct fz_dev *dv, struct fz_req *r)
{
	struct fz_shadow *sw = &dv->run->sw;
	struct fz_outcome *o = &r->out;
	uint64_t n, k;
	unsigned int i;
	uint8_t *buf;

	if (o->reject || !o->has_status || o->status != VIRTIO_BLK_S_OK)
		return;
	switch (o->effect) {
	case FZ_EFF_READ:
		fz_claim(sw, o->sector, o->len / VBLK_SECTOR);
		break;
	case FZ_EFF_WRITE:
		n = o->len / VBLK_SECTOR;
		fz_claim(sw, o->sector, n);
		buf = malloc(o->len);
		r->wh = calloc(n, sizeof(*r->wh));
		r->wgen = calloc(n, sizeof(*r->wgen));
		if (!buf || !r->wh || !r->wgen)
			abort();
		fz_iov_gather(o->data, o->ndata, 0, buf, o->len);
		r->wsector = o->sector;
		r->wn = (uint32_t)n;
		for (k = 0; k < n; k++) {
			struct vblk_pat_info f;
			uint32_t gen = FZ_GEN_OTHER;

			r->wh[k] = fz_hash_sector(buf + k * VBLK_SECTOR);
			if (vblk_pat_check(buf + k * VBLK_SECTOR, o->sector + k,
					   sw->seed, 0, &f) == VBLK_PAT_STALE)
				gen = (uint32_t)f.gen;
			r->wgen[k] = gen;
			if (fz_pend(sw, o->sector + k, r->wh[k], gen))
				pended(r, o->sector + k, r->wh[k]);
		}
		free(buf);
		/* The model's copy of the data iovecs is not needed any more. */
		fz_outcome_free_data(o);
		break;
	case FZ_EFF_ZERO:
	case FZ_EFF_DISCARD:
		for (i = 0; i < o->nsegs; i++) {
			uint64_t s = le64toh(o->segs[i].sector);

			n = le32toh(o->segs[i].num_sectors);
			fz_claim(sw, s, n);
			for (k = 0; k < n; k++)
				if (fz_pend(sw, s + k, sw->zero_hash, FZ_GEN_ZERO))
					pended(r, s + k, sw->zero_hash);
		}
		break;
	}
}

static struct fz_pos *new_pos(struct fz_dev *dv, unsigned int q, int kind,
			      uint16_t head, struct fz_req *r, uint16_t jump)
{
	struct fz_queue *qs = &dv->q[q];
	struct fz_pos *p;

	if (qs->npos > dv->d.vq[q].num) {
		fprintf(stderr, "vfuzz: internal error: more avail entries than the ring holds\n");
		abort();
	}
	p = &qs->pos[qs->npos++];
	p->kind = (uint8_t)kind;
	p->head = head;
	p->req = r;
	p->jump = jump;
	p->reject = false;
	return p;
}

/* The position's consequences: owed completion or a broken ring. */
static void settle_pos(struct fz_dev *dv, unsigned int q, struct fz_pos *p,
		       bool reject)
{
	struct fz_queue *qs = &dv->q[q];
	bool behind = qs->first_reject != FZ_NONE;

	p->reject = reject;
	if (behind)
		return;
	if (reject) {
		qs->first_reject = qs->npos - 1;
		qs->closed = true;
		return;
	}
	p->req->want++;
	qs->pending++;
}

void fz_add_chain(struct fz_dev *dv, struct fz_req *r)
{
	struct fz_queue *qs = &dv->q[r->q];
	struct fz_pos *p;

	model(dv, r);
	if (r->out.reject && !dv->allow_break) {
		/* Not this round: make the head an empty chain instead. */
		size_t n = strlen(r->what);

		snprintf(r->what + n, sizeof(r->what) - n, " [defused: %s]",
			 r->out.why);
		vblk_vq_set_desc(&dv->d.vq[r->q], r->head, 0, 0, 0, 0);
		model(dv, r);
	}
	fz_defuse(dv, r);
	if (qs->first_reject == FZ_NONE)
		account(dv, r);
	fz_seal(r);
	if (dv->run->o.trace) {
		const struct fz_outcome *o = &r->out;

		fprintf(stderr, "T d%u q%u h%u %s: %s%s status %u used %u type %#x sector %" PRIu64 " len %" PRIu64 " effect %u segs %u%s\n",
			dv->id, r->q, r->head, r->what,
			o->reject ? "REFUSED " : "", o->reject ? o->why : "",
			o->has_status ? o->status : 255, o->used_ok, o->type,
			o->sector, o->len, o->effect, o->nsegs,
			qs->first_reject != FZ_NONE ? " (behind a refused chain)" : "");
		for (unsigned int i = 0; i < o->nsegs && o->effect >= FZ_EFF_ZERO; i++)
			fprintf(stderr, "T   seg %" PRIu64 "+%u flags %#x\n",
				(uint64_t)le64toh(o->segs[i].sector),
				le32toh(o->segs[i].num_sectors),
				le32toh(o->segs[i].flags));
	}
	qs->by_head[r->head] = r;
	p = new_pos(dv, r->q, FZ_POS_CHAIN, r->head, r, 0);
	settle_pos(dv, r->q, p, r->out.reject);
	if (r->kind == FZ_WF)
		dv->run->sh->c.wf_made++;
}

void fz_add_pos(struct fz_dev *dv, unsigned int q, int kind, uint16_t head,
		struct fz_req *r, uint16_t jump)
{
	struct fz_queue *qs = &dv->q[q];
	struct vblk_vq *vq = &dv->d.vq[q];
	struct fz_pos *p;

	if (kind == FZ_POS_JUMP) {
		p = new_pos(dv, q, kind, head, NULL, jump);
		settle_pos(dv, q, p, true);
		return;
	}
	if (kind == FZ_POS_STRAY && head < vq->num && qs->by_head[head]) {
		r = qs->by_head[head];
		kind = FZ_POS_DUP;
	}
	if (kind == FZ_POS_STRAY && head < vq->num) {
		/* A free, zeroed descriptor: a chain without a status byte. */
		r = fz_req_new(dv, q, FZ_STRAY);
		r->head = head;
		snprintf(r->what, sizeof(r->what),
			 "stray avail entry naming free descriptor %u", head);
		model(dv, r);
		qs->by_head[head] = r;
	}
	p = new_pos(dv, q, kind, head, r, 0);
	settle_pos(dv, q, p, r ? r->out.reject : true);
}
