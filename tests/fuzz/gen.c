// SPDX-License-Identifier: GPL-2.0-only
/*
 * The generators. Each builds one request (or one ring tail) on a queue;
 * nothing is made available yet (round.c does that).
 *
 *   fz_gen_wf    requests a correct driver could send: any type, header
 *                split over up to four descriptors, data in up to
 *                max_segments pieces of any size at any memory alignment,
 *                zero-length descriptors, status alone or after the data
 *                (ANY_LAYOUT), direct or indirect; also well-formed ones
 *                the device must refuse (past the capacity, unaligned,
 *                unsupported type, bad discard ranges)
 *   fz_gen_mal   a well-formed request with one to three things broken:
 *                short or long header, no or long or readable status,
 *                data in the wrong direction, odd or zero or huge lengths,
 *                too many segments, bad discard segments, tables chained
 *                on in the ring, hundreds of empty descriptors
 *   fz_gen_junk  random descriptors: lengths 0, 1, odd, huge; any mix of
 *                NEXT / WRITE / INDIRECT; next pointers inside the chain,
 *                to free descriptors or past the ring; addresses in the
 *                request's buffers, in the gap between the regions, far
 *                away, at 0, at userspace addresses, across a region end;
 *                indirect tables empty, misaligned, of odd length, nested,
 *                of 65536 and 65537 entries
 *   fz_gen_tail  the last thing on a queue this round: junk, heads offered
 *                again while in flight, avail entries naming free or
 *                out-of-range heads, or the avail index moved past the ring
 *
 * A chain only ever points into memory of its own request (or outside
 * guest memory, or at free zeroed descriptors), so the model's answer for
 * one chain does not depend on what the device does with another.
 */
#include <endian.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vfuzz.h"

#define MAX_PIECES	1100

struct spec {
	uint32_t type, ioprio;
	uint64_t sector;
	unsigned int hdr_len;		/* header bytes given (16: exact) */
	unsigned int nhdr;		/* header descriptors */
	uint64_t data_len;
	bool data_write;		/* data descriptors device-writable */
	unsigned int nseg;		/* data descriptors */
	bool seg_aligned;		/* pieces in whole sectors */
	size_t align, misalign;
	unsigned int gap;		/* bytes between data pieces */
	unsigned int status_len;	/* 0: no status descriptor */
	bool status_merge;		/* status is the last data byte */
	bool status_readable;
	unsigned int zeros;		/* zero-length descriptors */
	bool zeros_random;		/* ... with random flags anywhere */
	bool indirect;
	unsigned int ind_split;		/* table of the first n, rest in ring */
	bool big;			/* data in an arena */
	uint64_t gen;			/* OUT pattern generation */
	unsigned int nsegs;		/* discard / write-zeroes segments */
	struct virtio_blk_discard_write_zeroes segs[20];
	unsigned int seg_bytes;		/* bytes of them given */
};

uint64_t fz_new_gen(struct fz_run *run)
{
	return __atomic_add_fetch(&run->sh->gen, 1, __ATOMIC_RELAXED);
}

static struct fz_rng *rng_of(struct fz_dev *dv)
{
	return &dv->run->rng;
}

/* Sectors per logical block. */
static uint64_t unit(struct fz_dev *dv)
{
	return dv->m.lbs / VBLK_SECTOR;
}

/* A range of @n sectors in a target window, free this round: its start,
 * or UINT64_MAX. */
static uint64_t pick_range(struct fz_dev *dv, uint64_t n, bool at_end)
{
	static const unsigned int ww[] = { 8, 84, 8 };
	struct fz_shadow *sw = &dv->run->sw;
	struct fz_rng *rng = rng_of(dv);
	unsigned int tries;

	for (tries = 0; tries < 4; tries++) {
		struct fz_win *w = &sw->w[fz_pick(rng, ww, 3)];
		uint64_t s;

		if (n > w->tn)
			continue;
		s = w->tfirst + (w->tn - n) / unit(dv) * unit(dv);
		if (!at_end)
			s = w->tfirst + fz_below(rng, (w->tn - n) / unit(dv) + 1) *
					unit(dv);
		if (fz_claimable(sw, s, n))
			return s;
	}
	return UINT64_MAX;
}

/* Blocks of a request: mostly tiny. */
static uint64_t pick_blocks(struct fz_dev *dv)
{
	static const unsigned int w[] = { 40, 38, 15, 5, 2 };
	struct fz_rng *rng = rng_of(dv);
	uint64_t max = FZ_MAX_BYTES / dv->m.lbs;

	switch (fz_pick(rng, w, 5)) {
	case 0:
		return 1;
	case 1:
		return fz_range(rng, 2, 8);
	case 2:
		return fz_range(rng, 9, 64);
	case 3:
		return fz_range(rng, 65, 256);
	}
	return dv->big_ok ? fz_range(rng, 257, max) : fz_range(rng, 65, 256);
}

static void pick_align(struct fz_dev *dv, struct spec *sp)
{
	static const unsigned int w[] = { 55, 25, 10, 10 };
	static const size_t al[] = { 4096, 512, 16, 4096 };
	struct fz_rng *rng = rng_of(dv);
	unsigned int k = fz_pick(rng, w, 4);
	size_t least = dv->run->o.align;

	sp->align = al[k];
	sp->misalign = k >= 2 ? fz_below(rng, al[k]) : 0;
	if (sp->align < least)
		sp->align = least;
	sp->misalign = sp->misalign / least * least;
	sp->seg_aligned = least >= VBLK_SECTOR || fz_pm(rng, 700);
}

static uint32_t random_type(struct fz_rng *rng)
{
	static const uint32_t t[] = {
		2, 3, 5, 6, 7, 9, 10, 12, 14, 15, 16, 0x100, 0x80000000u,
		0xffffffffu, 0x7fffffffu, 0x10001u,
	};

	if (fz_pm(rng, 200))
		return (uint32_t)fz_next(rng);
	return t[fz_below(rng, sizeof(t) / sizeof(t[0]))];
}

/* A sector the device must refuse (or one right at the edge). */
static uint64_t special_sector(struct fz_dev *dv, uint64_t n)
{
	struct fz_rng *rng = rng_of(dv);
	uint64_t cap = dv->m.capacity;
	uint64_t v[] = {
		cap, cap + unit(dv), cap - n + unit(dv), 1ULL << 63,
		UINT64_MAX, UINT64_MAX >> 9, (UINT64_MAX >> 9) + 1,
		UINT64_MAX - n + 1, cap + (1ULL << 32), fz_next(rng),
		(1ULL << 55) - 1,
	};

	return v[fz_below(rng, sizeof(v) / sizeof(v[0]))];
}

static void wf_rw(struct fz_dev *dv, struct spec *sp, bool out)
{
	struct fz_rng *rng = rng_of(dv);
	uint64_t blocks = pick_blocks(dv);

	sp->type = out ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN;
	sp->data_write = !out;
	sp->data_len = blocks * dv->m.lbs;
	sp->sector = pick_range(dv, sp->data_len / VBLK_SECTOR,
				fz_pm(rng, 50));
	if (sp->sector == UINT64_MAX) {
		sp->data_len = dv->m.lbs;
		sp->sector = pick_range(dv, unit(dv), false);
	}
	sp->big = sp->data_len > (1u << 20);
	if (sp->big)
		sp->gap = 0;
	if (out)
		sp->gen = fz_new_gen(dv->run);
}

static void pick_segs(struct fz_dev *dv, struct spec *sp)
{
	static const unsigned int w[] = { 55, 30, 10, 4, 1 };
	struct fz_rng *rng = rng_of(dv);
	uint64_t max;

	switch (fz_pick(rng, w, 5)) {
	case 0:
		sp->nseg = 1;
		break;
	case 1:
		sp->nseg = (unsigned int)fz_range(rng, 2, 4);
		break;
	case 2:
		sp->nseg = (unsigned int)fz_range(rng, 5, 16);
		break;
	case 3:
		sp->nseg = (unsigned int)fz_range(rng, 17, FZ_SEG_MAX);
		break;
	default:
		sp->nseg = FZ_SEG_MAX;
		break;
	}
	max = sp->seg_aligned ? sp->data_len / VBLK_SECTOR : sp->data_len;
	if (sp->nseg > max)
		sp->nseg = (unsigned int)(max ? max : 1);
	if (!sp->data_len)
		sp->nseg = 0;
}

/* Discard / write-zeroes segments over free target ranges. */
static bool wf_dwz(struct fz_dev *dv, struct spec *sp, bool zeroes)
{
	struct fz_rng *rng = rng_of(dv);
	unsigned int i, n = fz_pm(rng, 700) ? 1 : (unsigned int)fz_range(rng, 2, FZ_DWZ_SEG_MAX);

	sp->type = zeroes ? VIRTIO_BLK_T_WRITE_ZEROES : VIRTIO_BLK_T_DISCARD;
	for (i = 0; i < n; i++) {
		uint64_t len = fz_range(rng, 1, 64) * unit(dv);
		uint64_t s = pick_range(dv, len, false);
		uint32_t flags = 0;

		if (s == UINT64_MAX)
			return false;
		if (zeroes && fz_pm(rng, 400))
			flags = VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP;
		sp->segs[i].sector = htole64(s);
		sp->segs[i].num_sectors = htole32((uint32_t)len);
		sp->segs[i].flags = htole32(flags);
	}
	sp->nsegs = n;
	sp->seg_bytes = n * 16;
	sp->data_len = sp->seg_bytes;
	sp->nseg = 1;
	return true;
}

/* A well-formed request of a random type. false: nothing fits now. */
static bool wf_spec(struct fz_dev *dv, struct spec *sp)
{
	static const unsigned int w[] = { 38, 38, 2, 4, 4, 3, 3, 8 };
	struct fz_rng *rng = rng_of(dv);
	unsigned int k = fz_pick(rng, w, 8);

	memset(sp, 0, sizeof(*sp));
	sp->ioprio = fz_pm(rng, 900) ? 0 : (uint32_t)fz_next(rng);
	sp->hdr_len = 16;
	sp->nhdr = fz_pm(rng, 800) ? 1 : (unsigned int)fz_range(rng, 2, 4);
	sp->status_len = 1;
	sp->indirect = fz_pm(rng, 450);
	if (fz_pm(rng, 100))
		sp->gap = dv->run->o.align > 64 ? dv->run->o.align : 64;
	if (fz_pm(rng, 100))
		sp->zeros = (unsigned int)fz_range(rng, 1, 3);
	pick_align(dv, sp);
	switch (k) {
	case 0:
	case 1:
		wf_rw(dv, sp, k == 1);
		if (sp->sector == UINT64_MAX)
			return false;
		pick_segs(dv, sp);
		sp->status_merge = !sp->data_write ? false : fz_pm(rng, 200);
		break;
	case 2:
		sp->type = VIRTIO_BLK_T_FLUSH;
		break;
	case 3:
		sp->type = VIRTIO_BLK_T_GET_ID;
		sp->data_write = true;
		sp->data_len = fz_pm(rng, 500) ? FZ_SERIAL_LEN : fz_below(rng, 41);
		sp->nseg = sp->data_len ? 1 : 0;
		break;
	case 4:
	case 5:
		if (!wf_dwz(dv, sp, k == 4 || dv->run->o.no_discard))
			return false;
		break;
	case 6:
		sp->type = random_type(rng);
		sp->sector = fz_next(rng);
		if (fz_pm(rng, 500)) {
			sp->data_len = fz_range(rng, 1, 8) * VBLK_SECTOR;
			sp->data_write = fz_pm(rng, 500);
			sp->nseg = 1;
		}
		break;
	default:
		/* Well formed, but out of range / unaligned / empty. */
		sp->type = fz_pm(rng, 500) ? VIRTIO_BLK_T_IN : VIRTIO_BLK_T_OUT;
		sp->data_write = sp->type == VIRTIO_BLK_T_IN;
		sp->data_len = fz_range(rng, 1, 16) * dv->m.lbs;
		sp->sector = special_sector(dv, sp->data_len / VBLK_SECTOR);
		if (dv->m.lbs > VBLK_SECTOR && fz_pm(rng, 300))
			sp->sector = dv->run->sw.w[1].tfirst + 1;
		sp->nseg = (unsigned int)fz_range(rng, 1, 4);
		if (fz_pm(rng, 150)) {
			sp->data_len = 0;
			sp->nseg = 0;
		}
		sp->gen = fz_new_gen(dv->run);
		break;
	}
	return true;
}

/* One to three breakages. */
static void mutate(struct fz_dev *dv, struct spec *sp)
{
	static const unsigned int w[] = {
		6, 6, 5, 5, 4, 6, 8, 10, 4, 6, 5, 3, 3, 5, 3, 3, 4, 5,
	};
	struct fz_rng *rng = rng_of(dv);
	unsigned int m = (unsigned int)fz_range(rng, 1, 3), i;

	for (i = 0; i < m; i++) {
		switch (fz_pick(rng, w, sizeof(w) / sizeof(w[0]))) {
		case 0:	/* short header */
			sp->hdr_len = (unsigned int)fz_below(rng, 16);
			if (sp->nhdr > sp->hdr_len)
				sp->nhdr = sp->hdr_len ? sp->hdr_len : 0;
			break;
		case 1:	/* long header: its tail is data */
			sp->hdr_len = 16 + (unsigned int)(fz_pm(rng, 500) ?
				fz_range(rng, 1, 40) : fz_range(rng, 1, 2) * VBLK_SECTOR);
			break;
		case 2:	/* nothing writable */
			sp->status_len = 0;
			sp->status_merge = false;
			sp->data_write = false;
			break;
		case 3:	/* long status descriptor */
			sp->status_len = (unsigned int)fz_range(rng, 2, 700);
			sp->status_merge = false;
			break;
		case 4:
			sp->status_readable = true;
			break;
		case 5:
			sp->data_write = !sp->data_write;
			sp->status_merge = false;
			break;
		case 6:
			sp->type = random_type(rng);
			break;
		case 7:
			sp->sector = special_sector(dv, sp->data_len / VBLK_SECTOR + 1);
			break;
		case 8:
			sp->sector += fz_range(rng, 1, 7);
			break;
		case 9:	/* odd length */
			sp->data_len += fz_range(rng, 1, VBLK_SECTOR - 1);
			if (!sp->nseg)
				sp->nseg = 1;
			break;
		case 10:
			sp->data_len = 0;
			sp->nseg = fz_pm(rng, 500) ? 0 : (unsigned int)fz_range(rng, 1, 3);
			break;
		case 11:	/* past seg_max (served: bytes are what is bounded);
				 * 1025+: too many iovecs, the ring breaks */
			sp->nseg = (unsigned int)(fz_pm(rng, 700) ?
				fz_range(rng, FZ_SEG_MAX + 1, FZ_SEG_MAX + 8) :
				fz_range(rng, 1000, 1030));
			sp->data_len = (uint64_t)sp->nseg * VBLK_SECTOR;
			sp->seg_aligned = true;
			sp->indirect = true;
			sp->big = false;
			break;
		case 12:	/* more than 8 MiB */
			if (!dv->big_ok)
				break;
			sp->data_len = FZ_MAX_BYTES + dv->m.lbs *
				       fz_range(rng, 1, 2);
			sp->big = true;
			if (sp->nseg > 128)
				sp->nseg = 128;
			if (!sp->nseg)
				sp->nseg = 1;
			break;
		case 13:	/* bad discard / write-zeroes segments */
			if (sp->type != VIRTIO_BLK_T_DISCARD &&
			    sp->type != VIRTIO_BLK_T_WRITE_ZEROES)
				sp->type = fz_pm(rng, 500) && !dv->run->o.no_discard ?
					   VIRTIO_BLK_T_DISCARD :
					   VIRTIO_BLK_T_WRITE_ZEROES;
			switch (fz_below(rng, 6)) {
			case 0:
				sp->seg_bytes = (unsigned int)fz_below(rng, 16 * 18 + 1);
				break;
			case 1:
				sp->segs[0].flags = htole32((uint32_t)fz_next(rng));
				break;
			case 2:
				sp->segs[0].num_sectors = 0;
				break;
			case 3:
				sp->segs[0].num_sectors = htole32((uint32_t)fz_next(rng));
				break;
			case 4:
				sp->segs[0].sector = htole64(special_sector(dv, 8));
				sp->segs[0].num_sectors = htole32(8);
				break;
			default:
				sp->segs[0].sector = htole64(le64toh(sp->segs[0].sector) + 1);
				break;
			}
			if (!sp->nsegs)
				sp->nsegs = 1;
			if (!sp->seg_bytes)
				sp->seg_bytes = 16;
			sp->data_len = sp->seg_bytes;
			sp->data_write = false;
			sp->nseg = sp->data_len ? 1 : 0;
			break;
		case 14:	/* GET_ID with a big buffer */
			sp->type = VIRTIO_BLK_T_GET_ID;
			sp->data_write = true;
			sp->data_len = fz_range(rng, 21, 5000);
			sp->nseg = (unsigned int)fz_range(rng, 1, 3);
			break;
		case 15:	/* an indirect table chained on in the ring */
			sp->ind_split = (unsigned int)fz_range(rng, 1, 3);
			break;
		case 16:	/* many empty descriptors, flags at random */
			sp->zeros = (unsigned int)(fz_pm(rng, 800) ?
				fz_range(rng, 1, 20) : fz_range(rng, 100, 3000));
			sp->zeros_random = fz_pm(rng, 300);
			if (sp->zeros > 64)
				sp->indirect = true;
			break;
		default:
			sp->ioprio = (uint32_t)fz_next(rng);
			sp->nhdr = (unsigned int)fz_range(rng, 1, sp->hdr_len < 4 ? 1 : 4);
			break;
		}
	}
	if (sp->hdr_len && !sp->nhdr)
		sp->nhdr = 1;
	if (sp->nhdr > sp->hdr_len)
		sp->nhdr = sp->hdr_len;
	if (sp->nseg > sp->data_len)
		sp->nseg = (unsigned int)sp->data_len;
	if (sp->big && sp->data_len <= (1u << 20))
		sp->big = false;
	if (sp->big)
		sp->gap = 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Cut @len bytes into @n pieces (each at least 1 byte when possible),
 * at sector boundaries with @aligned; @piece has room for n + 1. */
static void cut(struct fz_rng *rng, uint64_t len, unsigned int n, bool aligned,
		uint64_t *piece)
{
	uint64_t u = aligned && !(len % VBLK_SECTOR) &&
		     len >= (uint64_t)n * VBLK_SECTOR ? VBLK_SECTOR : 1;
	uint64_t units = len / u, base = units >= n ? 1 : 0;
	uint64_t extra = units - base * n, prev = 0;
	unsigned int i;

	if (!n)
		return;
	for (i = 0; i + 1 < n; i++)
		piece[i] = fz_below(rng, extra + 1);
	qsort(piece, n - 1, sizeof(*piece), cmp_u64);
	for (i = 0; i + 1 < n; i++) {
		uint64_t at = piece[i];

		piece[i] = (at - prev + base) * u;
		prev = at;
	}
	piece[n - 1] = (extra - prev + base) * u + (len - units * u);
}

static uint8_t *arena(struct fz_dev *dv, bool write, uint64_t len)
{
	struct fz_rng *rng = rng_of(dv);
	uint8_t **a = write ? &dv->warena : &dv->rarena;
	size_t *alen = write ? &dv->warena_len : &dv->rarena_len;

	if (!*a) {
		*alen = FZ_MAX_BYTES + (1u << 20);
		*a = vblk_mem_alloc(&dv->d.mem, *alen, 4096);
		if (!*a)
			return NULL;
		if (!write) {
			size_t i;

			/* High bits set: as a header it is never a valid type. */
			fz_fill(rng, *a, *alen);
			for (i = 0; i < *alen; i++)
				(*a)[i] |= 0xa0;
		}
	}
	if (write) {
		if (dv->warena_busy)
			return NULL;
		dv->warena_busy = true;
	}
	if (len > *alen)
		return NULL;
	return *a + fz_below(rng, (*alen - len) / 512 + 1) * 512;
}

static void add_zeros(struct fz_dev *dv, const struct spec *sp,
		      struct vblk_raw_desc *d, unsigned int *nd,
		      unsigned int lo, unsigned int hi, uint16_t flags,
		      unsigned int count)
{
	struct fz_rng *rng = rng_of(dv);
	unsigned int i;

	for (i = 0; i < count; i++) {
		unsigned int at = (unsigned int)fz_range(rng, lo, hi + i);

		memmove(&d[at + 1], &d[at], (*nd - at) * sizeof(*d));
		d[at].addr = fz_pm(rng, 500) ? 0 : fz_next(rng);
		d[at].len = 0;
		d[at].flags = sp->zeros_random ?
			(uint16_t)(fz_next(rng) & VRING_DESC_F_WRITE) : flags;
		(*nd)++;
	}
}

/* Lay @sp out in guest memory and the ring. 1 built, 0 no room. */
static int build(struct fz_dev *dv, unsigned int q, const struct spec *sp,
		 int kind, const char *what)
{
	struct fz_rng *rng = rng_of(dv);
	struct vblk_vq *vq = &dv->d.vq[q];
	struct virtio_blk_outhdr h = {
		.type = htole32(sp->type), .ioprio = htole32(sp->ioprio),
		.sector = htole64(sp->sector),
	};
	unsigned int nd = 0, i, hdr_end, data_end, maxd;
	uint64_t *piece = NULL, off = 0;
	struct vblk_raw_desc *d;
	uint8_t *hb, *db = NULL, *sb = NULL, *tmp = NULL;
	struct fz_req *r;
	int head, ret = 0;

	maxd = sp->nhdr + sp->nseg + 1 + sp->zeros + 2;
	d = calloc(maxd, sizeof(*d));
	piece = calloc(sp->nseg + 1, sizeof(*piece));
	if (!d || !piece)
		abort();
	r = fz_req_new(dv, q, kind);
	snprintf(r->what, sizeof(r->what), "%s", what);

	/* Header pieces, 8 bytes apart. */
	if (sp->hdr_len) {
		uint8_t hdr[16 + 2 * VBLK_SECTOR + 64];
		uint64_t hp[4];

		memcpy(hdr, &h, sp->hdr_len < 16 ? sp->hdr_len : 16);
		if (sp->hdr_len > 16)
			fz_fill(rng, hdr + 16, sp->hdr_len - 16);
		hb = fz_alloc(dv, r, sp->hdr_len + 8 * sp->nhdr, 16,
			      fz_below(rng, 16), true);
		if (!hb)
			goto out;
		cut(rng, sp->hdr_len, sp->nhdr, false, hp);
		for (i = 0; i < sp->nhdr; i++) {
			memcpy(hb + off + 8 * i, hdr + off, hp[i]);
			d[nd].addr = fz_gpa(dv, hb + off + 8 * i, hp[i]);
			d[nd].len = (uint32_t)hp[i];
			d[nd].flags = 0;
			nd++;
			off += hp[i];
		}
	}
	hdr_end = nd;

	/* Data pieces. */
	if (sp->nseg) {
		bool merge = sp->status_merge && sp->status_len;
		uint64_t dlen = sp->data_len + (merge ? 1 : 0);

		if (sp->big) {
			db = arena(dv, sp->data_write, dlen);
			if (!db)
				goto out;
		} else {
			db = fz_alloc(dv, r, dlen + (uint64_t)sp->gap * sp->nseg,
				      sp->align, sp->misalign, !sp->data_write);
			if (!db)
				goto out;
		}
		tmp = malloc(sp->data_len + 1);
		if (!tmp)
			abort();
		if (sp->type == VIRTIO_BLK_T_DISCARD ||
		    sp->type == VIRTIO_BLK_T_WRITE_ZEROES) {
			fz_fill(rng, tmp, sp->data_len);
			memcpy(tmp, sp->segs, sp->data_len < sizeof(sp->segs) ?
			       sp->data_len : sizeof(sp->segs));
		} else if (!sp->data_write) {
			uint64_t nb = sp->data_len / VBLK_SECTOR;

			vblk_pat_fill(tmp, sp->sector, (unsigned int)nb,
				      dv->run->sw.seed, sp->gen);
			fz_fill(rng, tmp + nb * VBLK_SECTOR,
				sp->data_len - nb * VBLK_SECTOR);
		} else {
			memset(tmp, 0xa5, sp->data_len);
		}
		cut(rng, sp->data_len, sp->nseg, sp->seg_aligned, piece);
		if (merge)
			piece[sp->nseg - 1]++;
		off = 0;
		for (i = 0; i < sp->nseg; i++) {
			uint8_t *p = db + off + (uint64_t)sp->gap * i;
			uint64_t copy = piece[i];

			if (off + copy > sp->data_len)
				copy = sp->data_len - off;
			/* The read-only arena's bytes stay as they are. */
			if (!(sp->big && !sp->data_write))
				memcpy(p, tmp + off, copy);
			d[nd].addr = fz_gpa(dv, p, piece[i]);
			d[nd].len = (uint32_t)piece[i];
			d[nd].flags = sp->data_write ? VRING_DESC_F_WRITE : 0;
			nd++;
			off += piece[i];
		}
		if (merge) {
			sb = db + off - 1 + (uint64_t)sp->gap * (sp->nseg - 1);
			*sb = FZ_STATUS_FRESH;
		}
	}
	data_end = nd;

	/* Status. */
	if (sp->status_len && !(sp->status_merge && sp->nseg)) {
		sb = fz_alloc(dv, r, sp->status_len, 1, fz_below(rng, 16), false);
		if (!sb)
			goto out;
		memset(sb, FZ_STATUS_FRESH, sp->status_len);
		d[nd].addr = fz_gpa(dv, sb, sp->status_len);
		d[nd].len = sp->status_len;
		d[nd].flags = sp->status_readable ? 0 : VRING_DESC_F_WRITE;
		nd++;
	}

	/* Empty descriptors: among the readable or the writable ones. */
	if (sp->zeros) {
		unsigned int z = sp->zeros, a = z / 2;

		add_zeros(dv, sp, d, &nd, 0, hdr_end, 0, a);
		add_zeros(dv, sp, d, &nd, data_end + a, nd,
			  sp->data_write || sp->status_len ? VRING_DESC_F_WRITE : 0,
			  z - a);
	}

	/* Into the ring. */
	if (sp->ind_split && sp->ind_split < nd &&
	    vq->nfree >= 1 + nd - sp->ind_split) {
		struct vring_desc *tb;
		uint16_t *idx;
		unsigned int k, rest = nd - sp->ind_split;

		tb = (struct vring_desc *)fz_alloc(dv, r, 16 * (size_t)sp->ind_split,
						   16, 0, true);
		idx = calloc(rest + 1, sizeof(*idx));
		if (!tb || !idx)
			goto out_idx;
		for (k = 0; k < sp->ind_split; k++) {
			tb[k].addr = htole64(d[k].addr);
			tb[k].len = htole32(d[k].len);
			tb[k].flags = htole16((uint16_t)(d[k].flags |
				(k + 1 < sp->ind_split ? VRING_DESC_F_NEXT : 0)));
			tb[k].next = htole16((uint16_t)(k + 1));
		}
		vblk_vq_reserve(vq, rest + 1, idx, r);
		vblk_vq_set_desc(vq, idx[0], fz_gpa(dv, tb, 16 * (size_t)sp->ind_split),
				 16 * sp->ind_split,
				 VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT, idx[1]);
		for (k = 0; k < rest; k++)
			vblk_vq_set_desc(vq, idx[k + 1], d[sp->ind_split + k].addr,
					 d[sp->ind_split + k].len,
					 (uint16_t)(d[sp->ind_split + k].flags |
						    (k + 1 < rest ? VRING_DESC_F_NEXT : 0)),
					 k + 1 < rest ? idx[k + 2] : 0);
		head = idx[0];
		free(idx);
		goto placed;
out_idx:
		free(idx);
		goto out;
	}
	if (!nd) {
		/* Nothing at all: one empty descriptor. */
		d[nd++] = (struct vblk_raw_desc){ 0, 0, 0 };
	}
	if (sp->indirect || nd > vq->nfree || nd > vq->num) {
		if (nd > FZ_IND_MAX)
			goto out;
		head = fz_put_indirect(dv, r, vq, d, nd);
	} else {
		head = fz_put_direct(vq, d, nd, r);
	}
	if (head < 0)
		goto out;
placed:
	r->head = (uint16_t)head;
	if (sb)
		*sb = FZ_STATUS_FRESH;
	fz_add_chain(dv, r);
	ret = 1;
out:
	free(tmp);
	free(piece);
	free(d);
	return ret;
}

int fz_gen_wf(struct fz_dev *dv, unsigned int q)
{
	struct spec sp;
	char what[128];

	if (fz_room(dv, q) < 1)
		return 0;
	if (!wf_spec(dv, &sp))
		return 0;
	snprintf(what, sizeof(what),
		 "well-formed type %#x sector %" PRIu64 " with %" PRIu64 " data bytes in %u pieces%s%s",
		 sp.type, sp.sector, sp.data_len, sp.nseg,
		 sp.indirect ? ", indirect" : "",
		 sp.misalign % 512 ? ", unaligned memory" : "");
	return build(dv, q, &sp, FZ_WF, what);
}

int fz_gen_mal(struct fz_dev *dv, unsigned int q)
{
	struct spec sp;
	char what[128];

	if (fz_room(dv, q) < 1)
		return 0;
	if (!wf_spec(dv, &sp))
		return 0;
	mutate(dv, &sp);
	snprintf(what, sizeof(what),
		 "malformed type %#x sector %" PRIu64 " header %u bytes, data %" PRIu64 " bytes in %u%s, status %u%s",
		 sp.type, sp.sector, sp.hdr_len, sp.data_len, sp.nseg,
		 sp.data_write ? " writable" : " readable", sp.status_len,
		 sp.status_readable ? " readable" : "");
	return build(dv, q, &sp, FZ_MAL, what);
}

/* ------------------------------------------------------------------------
 * Junk
 */

struct junk {
	struct fz_dev *dv;
	struct fz_req *r;
	uint8_t *rb, *wb;
	size_t rlen, wlen;
	uint16_t *idx;
	unsigned int k;
	uint16_t *freeds;
	unsigned int nfree;
};

static size_t junk_size(struct fz_rng *rng)
{
	static const unsigned int w[] = { 10, 30, 30, 25, 5 };

	switch (fz_pick(rng, w, 5)) {
	case 0:
		return 16;
	case 1:
		return fz_range(rng, 1, 64);
	case 2:
		return 512 * fz_range(rng, 1, 2);
	case 3:
		return 4096;
	}
	return 65536;
}

/* A descriptor's address and length (not INDIRECT). */
static void junk_buf(struct junk *j, bool write, uint64_t *addr, uint32_t *len)
{
	static const unsigned int w[] = { 60, 12, 14, 4, 3 };
	struct fz_dev *dv = j->dv;
	struct fz_rng *rng = rng_of(dv);
	const struct vblk_region *r0 = &dv->d.mem.reg[0], *r1 = &dv->d.mem.reg[1];
	uint8_t *base = write ? j->wb : j->rb, *p;
	size_t blen = write ? j->wlen : j->rlen;
	uint64_t o, l;

	switch (fz_pick(rng, w, 5)) {
	case 0:	/* inside the request's buffer */
		o = fz_below(rng, blen);
		l = fz_pm(rng, 300) ? blen - o : fz_range(rng, 0, blen - o);
		if (fz_pm(rng, 100) && !write)
			o = 0, l = blen;
		*addr = fz_gpa(dv, base + o, l);
		*len = (uint32_t)l;
		return;
	case 1:	/* empty, anywhere */
		*addr = fz_next(rng);
		*len = 0;
		return;
	case 2:	/* outside the memory table */
		switch (fz_below(rng, 8)) {
		case 0:
			*addr = r0->gpa + r0->size + fz_below(rng, 1 << 20);
			break;
		case 1:
			*addr = 0x7f0000000000ULL + fz_below(rng, 1 << 20);
			break;
		case 2:
			*addr = 0;
			break;
		case 3:
			*addr = (uintptr_t)base;	/* the userspace address */
			break;
		case 4:
			*addr = r1->gpa - fz_range(rng, 1, 4096);
			break;
		case 5:
			*addr = UINT64_MAX - fz_below(rng, 64);
			break;
		case 6:
			*addr = r1->gpa + r1->size;
			break;
		default:
			*addr = fz_next(rng);
			break;
		}
		*len = (uint32_t)fz_range(rng, 1, 8192);
		return;
	case 3:	/* across the end of a region */
		if (fz_pm(rng, 500)) {
			*addr = r0->gpa + r0->size - fz_range(rng, 1, 4096);
			*len = (uint32_t)fz_range(rng, 4097, 8192);
		} else {
			*addr = r1->gpa + r1->size - fz_range(rng, 1, 512);
			*len = (uint32_t)fz_range(rng, 513, 1 << 20);
		}
		return;
	}
	/* huge */
	if (!write && dv->big_ok && fz_pm(rng, 500) &&
	    (p = arena(dv, false, FZ_MAX_BYTES)) != NULL) {
		*addr = fz_gpa(dv, p, FZ_MAX_BYTES);
		*len = (uint32_t)fz_range(rng, 1, FZ_MAX_BYTES);
		return;
	}
	*addr = fz_gpa(dv, base, blen);
	*len = fz_pm(rng, 500) ? 0xffffffffu : (uint32_t)fz_range(rng, 1u << 25, 0xfffffff0u);
}

static uint16_t junk_next(struct junk *j, unsigned int i)
{
	static const unsigned int w[] = { 70, 10, 8, 12 };
	struct fz_rng *rng = rng_of(j->dv);
	unsigned int num = j->dv->d.vq[j->r->q].num;

	switch (fz_pick(rng, w, 4)) {
	case 0:
		if (i + 1 < j->k)
			return j->idx[i + 1];
		/* fall through */
	case 1:
		return j->idx[fz_below(rng, j->k)];
	case 2:
		return (uint16_t)fz_range(rng, num, 0xffff);
	}
	if (!j->nfree)
		return (uint16_t)fz_range(rng, num, 0xffff);
	return j->freeds[fz_below(rng, j->nfree)];
}

/* An indirect table of junk; the ring descriptor's addr and len. */
static void junk_table(struct junk *j, uint64_t *addr, uint32_t *len)
{
	static const unsigned int w[] = { 80, 12, 4, 2, 2 };
	struct fz_dev *dv = j->dv;
	struct fz_rng *rng = rng_of(dv);
	unsigned int m, e, kind = fz_pick(rng, w, 5);
	struct vring_desc *tb;
	uint64_t l;

	m = kind == 0 ? (unsigned int)fz_range(rng, 1, 8) :
	    kind == 1 ? (unsigned int)fz_range(rng, 9, 100) :
	    kind == 2 ? (unsigned int)fz_range(rng, 1000, 1100) :
	    kind == 3 ? FZ_IND_MAX : FZ_IND_MAX + 1;
	tb = (struct vring_desc *)fz_alloc(dv, j->r, 16 * (size_t)m, 16,
					   fz_pm(rng, 200) ? fz_below(rng, 16) : 0,
					   true);
	if (!tb) {
		*addr = 0x7f0000000000ULL;
		*len = 16;
		return;
	}
	for (e = 0; e < m; e++) {
		uint64_t a = 0;
		uint32_t dl = 0;
		uint16_t fl = 0;

		if (kind < 3) {
			fl = (uint16_t)(fz_next(rng) & (VRING_DESC_F_NEXT | VRING_DESC_F_WRITE));
			if (fz_pm(rng, 30))
				fl |= VRING_DESC_F_INDIRECT;
			if (e + 1 < m && fz_pm(rng, 700))
				fl |= VRING_DESC_F_NEXT;
			junk_buf(j, fl & VRING_DESC_F_WRITE, &a, &dl);
		} else if (e + 1 < m) {
			fl = VRING_DESC_F_NEXT;
		}
		tb[e].addr = htole64(a);
		tb[e].len = htole32(dl);
		tb[e].flags = htole16(fl);
		tb[e].next = htole16((uint16_t)fz_next(rng));
	}
	*addr = fz_gpa(dv, tb, 16 * (size_t)m);
	l = 16 * (uint64_t)m;
	switch (fz_below(rng, 10)) {
	case 0:
		l -= fz_range(rng, 1, 15);
		break;
	case 1:
		l = 0;
		break;
	case 2:
		l += 16;	/* one entry of canary bytes */
		break;
	case 3:
		l = 0x80000000u;	/* runs off the region */
		break;
	}
	*len = (uint32_t)l;
}

int fz_gen_junk(struct fz_dev *dv, unsigned int q)
{
	static const unsigned int wk[] = { 80, 15, 5 };
	struct fz_rng *rng = rng_of(dv);
	struct vblk_vq *vq = &dv->d.vq[q];
	struct virtio_blk_outhdr h = { 0 };
	struct junk j = { .dv = dv };
	unsigned int i, room = fz_room(dv, q), kk = fz_pick(rng, wk, 3);
	uint16_t f;

	if (!room)
		return 0;
	j.k = kk == 0 ? (unsigned int)fz_range(rng, 1, 6) :
	      kk == 1 ? (unsigned int)fz_range(rng, 7, 40) :
	      (unsigned int)fz_range(rng, 41, vq->num);
	if (j.k > room)
		j.k = room;
	j.r = fz_req_new(dv, q, FZ_JUNK);
	j.rlen = junk_size(rng);
	j.wlen = junk_size(rng);
	j.rb = fz_alloc(dv, j.r, j.rlen, 16, fz_below(rng, 16), true);
	j.wb = fz_alloc(dv, j.r, j.wlen, 16, fz_below(rng, 16), false);
	if (!j.rb || !j.wb)
		return 0;
	fz_fill(rng, j.rb, j.rlen);
	memset(j.wb, FZ_STATUS_FRESH, j.wlen);
	if (j.rlen >= 16) {
		static const uint32_t types[] = {
			VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT, VIRTIO_BLK_T_FLUSH,
			VIRTIO_BLK_T_GET_ID, VIRTIO_BLK_T_DISCARD,
			VIRTIO_BLK_T_WRITE_ZEROES,
		};
		uint64_t s = dv->run->sw.w[fz_below(rng, 3)].tfirst +
			     fz_below(rng, 2048) / unit(dv) * unit(dv);

		h.type = htole32(fz_pm(rng, 800) ? types[fz_below(rng, 6)] :
				 random_type(rng));
		h.ioprio = 0;
		h.sector = htole64(fz_pm(rng, 700) ? s : special_sector(dv, 8));
		memcpy(j.rb, &h, sizeof(h));
	}
	j.idx = calloc(j.k, sizeof(*j.idx));
	j.freeds = calloc(vq->num, sizeof(*j.freeds));
	if (!j.idx || !j.freeds)
		abort();
	vblk_vq_reserve(vq, j.k, j.idx, j.r);
	for (f = vq->free_head, i = 0; i < vq->nfree; i++, f = vq->link[f])
		j.freeds[j.nfree++] = f;
	for (i = 0; i < j.k; i++) {
		uint64_t a;
		uint32_t l;
		uint16_t fl = 0;

		if (fz_pm(rng, 400))
			fl |= VRING_DESC_F_WRITE;
		if (fz_pm(rng, i + 1 < j.k ? 850 : 150))
			fl |= VRING_DESC_F_NEXT;
		if (fz_pm(rng, 120)) {
			fl |= VRING_DESC_F_INDIRECT;
			junk_table(&j, &a, &l);
		} else {
			junk_buf(&j, fl & VRING_DESC_F_WRITE, &a, &l);
		}
		vblk_vq_set_desc(vq, j.idx[i], a, l, fl,
				 fl & VRING_DESC_F_NEXT ? junk_next(&j, i) :
				 (uint16_t)fz_next(rng));
	}
	j.r->head = j.idx[0];
	snprintf(j.r->what, sizeof(j.r->what),
		 "junk chain of %u descriptors (header type %#x)", j.k,
		 j.rlen >= 16 ? le32toh(h.type) : 0);
	fz_add_chain(dv, j.r);
	dv->q[q].closed = true;
	free(j.idx);
	free(j.freeds);
	return 1;
}

/* ------------------------------------------------------------------------
 * Ring tails
 */

/* Heads of chains made available on @q this round and not refused. */
static unsigned int live_heads(struct fz_dev *dv, unsigned int q,
			       struct fz_req **out, unsigned int max)
{
	struct fz_queue *qs = &dv->q[q];
	unsigned int i, n = 0;

	for (i = 0; i < qs->npos && n < max; i++)
		if (qs->pos[i].kind == FZ_POS_CHAIN && !qs->pos[i].reject)
			out[n++] = qs->pos[i].req;
	return n;
}

int fz_gen_tail(struct fz_dev *dv, unsigned int q)
{
	static const unsigned int w[] = { 45, 22, 25, 3 };
	struct fz_rng *rng = rng_of(dv);
	struct fz_queue *qs = &dv->q[q];
	struct vblk_vq *vq = &dv->d.vq[q];
	struct fz_req *live[64];
	unsigned int n, i, left, kind = fz_pick(rng, w, 4);

	if (qs->closed || qs->npos >= vq->num)
		return 0;
	left = vq->num - qs->npos;
	n = live_heads(dv, q, live, 64);
	if (kind == 3 && (qs->npos || !dv->allow_break))
		kind = 2;
	switch (kind) {
	case 0:
		return fz_gen_junk(dv, q);
	case 1:		/* heads offered again while in flight */
		if (!n)
			return fz_gen_junk(dv, q);
		for (i = (unsigned int)fz_range(rng, 1, 3); i && left; i--, left--) {
			struct fz_req *r = live[fz_below(rng, n)];

			fz_add_pos(dv, q, FZ_POS_DUP, r->head, r, 0);
		}
		break;
	case 2: {	/* avail entries naming free, busy or impossible heads */
		uint16_t *freeds = calloc(vq->num, sizeof(*freeds)), f;
		unsigned int nf = 0;

		if (!freeds)
			abort();
		for (f = vq->free_head, i = 0; i < vq->nfree; i++, f = vq->link[f])
			freeds[nf++] = f;
		for (i = (unsigned int)fz_range(rng, 1, 8); i && left; i--, left--) {
			unsigned int c = (unsigned int)fz_below(rng, 100);
			uint16_t head;

			if (c < 40 && n)
				head = live[fz_below(rng, n)]->head;
			else if ((c < 88 || !dv->allow_break) && nf)
				head = freeds[fz_below(rng, nf)];
			else if (dv->allow_break)
				head = (uint16_t)fz_range(rng, vq->num, 0xffff);
			else
				continue;
			fz_add_pos(dv, q, FZ_POS_STRAY, head, NULL, 0);
		}
		free(freeds);
		break;
	}
	default:	/* avail idx moved past the ring */
		fz_add_pos(dv, q, FZ_POS_JUMP, 0, NULL,
			   (uint16_t)fz_range(rng, vq->num + 1, 0xffff));
		break;
	}
	qs->closed = true;
	return 1;
}
