// SPDX-License-Identifier: GPL-2.0-only
/*
 * What the device must do with a chain, worked out in userspace.
 *
 * The first half replays the vhost core of Linux 6.12 (drivers/vhost/
 * vhost.c: vhost_get_vq_desc(), get_indirect(), translate_desc(),
 * next_desc()) step by step, so its quirks are the model's too: indirect
 * tables are read in order and their next fields ignored, zero-length
 * descriptors are not translated at all, a readable descriptor after a
 * writable one is refused even when empty, at most UIO_MAXIOV iovecs.
 *
 * The second half is vhost-blk's parsing as docs/api.md and
 * docs/security.md state it (src/req.c): the status is the last writable
 * byte, the header the first 16 readable bytes, then the per-type checks.
 * Engines are assumed to succeed on valid requests: a healthy backend.
 *
 * The fakes that serve rings (unit/fakedev.c, unit/fake-vhost-blk.c) walk
 * chains their own way (no iotlb splitting or faults, no quirks), so the
 * walk stays here; the sector and segment checks are lib/blk-rules.h.
 */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blk-rules.h"
#include "vfuzz.h"

/* The map vhost_iotlb_itree_first() returns for [start, last]. */
static const struct fz_map *map_first(const struct fz_table *t,
				      uint64_t start, uint64_t last)
{
	const struct fz_map *best = NULL;
	unsigned int i;

	for (i = 0; i < t->n; i++) {
		const struct fz_map *m = &t->m[i];

		if (m->start <= last && m->last >= start &&
		    (!best || m->start < best->start))
			best = m;
	}
	return best;
}

/* translate_desc(): iovecs used, or -EFAULT / -ENOBUFS. */
static int translate(const struct fz_table *t, uint64_t addr, uint32_t len,
		     struct fz_iov *iov, int iov_size)
{
	uint64_t s = 0, last = addr + len - 1;
	int ret = 0;

	while ((uint64_t)len > s) {
		const struct fz_map *m;
		uint64_t size;

		if (ret >= iov_size)
			return -ENOBUFS;
		m = map_first(t, addr, last);
		if (!m || m->start > addr)
			return -EFAULT;
		size = m->last - m->start + 1 - addr + m->start;
		iov[ret].base = m->hva + (addr - m->start);
		iov[ret].len = (uint64_t)len - s < size ? (uint64_t)len - s : size;
		iov[ret].fault = m->fault;
		s += size;
		addr += size;
		ret++;
	}
	return ret;
}

uint64_t fz_iov_gather(const struct fz_iov *iov, unsigned int n,
		       uint64_t skip, void *buf, uint64_t len)
{
	uint64_t done = 0;
	unsigned int i;

	for (i = 0; i < n && done < len; i++) {
		uint64_t l;

		if (skip >= iov[i].len) {
			skip -= iov[i].len;
			continue;
		}
		l = iov[i].len - skip;
		if (l > len - done)
			l = len - done;
		memcpy((uint8_t *)buf + done, iov[i].base + skip, l);
		done += l;
		skip = 0;
	}
	return done;
}

/* Does [skip, skip + len) of the iovecs touch unmapped memory? */
static bool faults(const struct fz_iov *iov, unsigned int n, uint64_t skip,
		   uint64_t len)
{
	unsigned int i;

	for (i = 0; i < n && len; i++) {
		uint64_t l;

		if (skip >= iov[i].len) {
			skip -= iov[i].len;
			continue;
		}
		l = iov[i].len - skip < len ? iov[i].len - skip : len;
		if (l && iov[i].fault)
			return true;
		len -= l;
		skip = 0;
	}
	return false;
}

static void desc_le(struct vring_desc *d, const struct vring_desc *src)
{
	struct vring_desc x;

	memcpy(&x, src, sizeof(x));
	d->addr = le64toh(x.addr);
	d->len = le32toh(x.len);
	d->flags = le16toh(x.flags);
	d->next = le16toh(x.next);
}

static int refuse(struct fz_outcome *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int refuse(struct fz_outcome *o, const char *fmt, ...)
{
	va_list ap;

	o->reject = true;
	va_start(ap, fmt);
	vsnprintf(o->why, sizeof(o->why), fmt, ap);
	va_end(ap);
	return -1;
}

/* One translated descriptor into the chain's iovecs. */
static int add_desc(struct fz_model *mx, const struct fz_table *t,
		    const struct vring_desc *d, unsigned int *out,
		    unsigned int *in, struct fz_outcome *o, const char *where,
		    unsigned int idx)
{
	unsigned int cnt = *out + *in;
	bool w = d->flags & VRING_DESC_F_WRITE;
	int r;

	r = translate(t, d->addr, d->len, mx->iov + cnt, FZ_MAX_IOV - cnt);
	if (r == -ENOBUFS)
		return refuse(o, "%s descriptor %u: more than %u iovecs in the chain",
			      where, idx, FZ_MAX_IOV);
	if (r < 0)
		return refuse(o, "%s descriptor %u (gpa %#llx, %u bytes) is not in the memory table",
			      where, idx, (unsigned long long)d->addr, d->len);
	if (w) {
		*in += r;
		/* vhost_get_vq_desc()'s log: what the device must mark */
		if (d->len && mx->nwdesc < FZ_MAX_IOV) {
			mx->wdesc[mx->nwdesc].gpa = d->addr;
			mx->wdesc[mx->nwdesc].len = d->len;
			mx->nwdesc++;
		}
	} else {
		if (*in)
			return refuse(o, "%s descriptor %u is readable after a writable one",
				      where, idx);
		*out += r;
	}
	return 0;
}

/* get_indirect() */
static int indirect(struct fz_model *mx, const struct fz_table *t,
		    const struct vring_desc *ind, unsigned int *out,
		    unsigned int *in, struct fz_outcome *o, unsigned int ridx)
{
	uint32_t len = ind->len;
	unsigned int count, found = 0;
	int nt;

	if (len % sizeof(struct vring_desc))
		return refuse(o, "indirect table of %u bytes at descriptor %u (not a multiple of 16)",
			      len, ridx);
	nt = translate(t, ind->addr, len, mx->tiov, FZ_MAX_IOV);
	if (nt < 0)
		return refuse(o, "indirect table (gpa %#llx, %u bytes) at descriptor %u is not in the memory table",
			      (unsigned long long)ind->addr, len, ridx);
	count = len / sizeof(struct vring_desc);
	if (count > FZ_IND_MAX)
		return refuse(o, "indirect table of %u descriptors", count);
	for (;;) {
		struct vring_desc raw, d;

		if (++found > count)
			return refuse(o, "indirect table of %u descriptors at descriptor %u: the chain runs past its end",
				      count, ridx);
		if (faults(mx->tiov, (unsigned int)nt,
			   (uint64_t)(found - 1) * sizeof(raw), sizeof(raw)))
			return refuse(o, "indirect table entry %u is in unmapped memory",
				      found - 1);
		fz_iov_gather(mx->tiov, (unsigned int)nt,
			      (uint64_t)(found - 1) * sizeof(raw), &raw,
			      sizeof(raw));
		desc_le(&d, &raw);
		if (d.flags & VRING_DESC_F_INDIRECT)
			return refuse(o, "indirect descriptor inside an indirect table (entry %u)",
				      found - 1);
		if (add_desc(mx, t, &d, out, in, o, "indirect", found - 1))
			return -1;
		if (!(d.flags & VRING_DESC_F_NEXT))
			return 0;
	}
}

/* vhost_get_vq_desc() from @head. */
static int core(struct fz_model *mx, const struct fz_table *t,
		const struct vring_desc *ring, unsigned int num, uint32_t head,
		unsigned int *out, unsigned int *in, struct fz_outcome *o)
{
	unsigned int i = head, found = 0;

	*out = *in = 0;
	mx->nwdesc = 0;
	if (head >= num)
		return refuse(o, "the avail ring names head %u of a ring of %u",
			      head, num);
	for (;;) {
		struct vring_desc d;

		if (i >= num)
			return refuse(o, "next index %u is past the ring of %u",
				      i, num);
		if (++found > num)
			return refuse(o, "loop: more than %u descriptors from head %u",
				      num, head);
		desc_le(&d, &ring[i]);
		if (d.flags & VRING_DESC_F_INDIRECT) {
			if (indirect(mx, t, &d, out, in, o, i))
				return -1;
		} else if (add_desc(mx, t, &d, out, in, o, "ring", i)) {
			return -1;
		}
		if (!(d.flags & VRING_DESC_F_NEXT))
			return 0;
		i = d.next;
	}
}

static uint64_t iov_total(const struct fz_iov *iov, unsigned int n)
{
	uint64_t s = 0;
	unsigned int i;

	for (i = 0; i < n; i++)
		s += iov[i].len;
	return s;
}

/* Iovecs of bytes [skip, skip + len) into a malloc'd array. */
static void slice(struct fz_outcome *o, const struct fz_iov *iov,
		  unsigned int n, uint64_t skip, uint64_t len)
{
	unsigned int i, k = 0;

	o->data = calloc(n ? n : 1, sizeof(*o->data));
	if (!o->data)
		abort();
	for (i = 0; i < n && len; i++) {
		uint64_t l;

		if (skip >= iov[i].len) {
			skip -= iov[i].len;
			continue;
		}
		l = iov[i].len - skip;
		if (l > len)
			l = len;
		o->data[k].base = iov[i].base + skip;
		o->data[k].len = l;
		k++;
		len -= l;
		skip = 0;
	}
	o->ndata = k;
}

static void status(struct fz_outcome *o, uint8_t st, uint32_t used_ok)
{
	o->status = st;
	o->used_ok = used_ok;
}

/* Do the writable iovecs of the chain overlap (data unverifiable)? */
static bool overlap(const struct fz_iov *iov, unsigned int n)
{
	unsigned int i, j;

	if (n > 64)
		return true;	/* not worth the quadratic check */
	for (i = 0; i < n; i++)
		for (j = i + 1; j < n; j++)
			if (iov[i].len && iov[j].len &&
			    iov[i].base < iov[j].base + iov[j].len &&
			    iov[j].base < iov[i].base + iov[i].len)
				return true;
	return false;
}

/* vhost_blk_setup_rw(); @fault: the data touch unmapped memory (the pin
 * fails). Bytes are bounded, not segments (how many iovecs a descriptor
 * makes depends on the memory table). */
static void rw(struct fz_outcome *o, const struct fz_devmodel *m,
	       bool to_guest, uint64_t len, bool fault)
{
	o->len = len;
	status(o, VIRTIO_BLK_S_IOERR, 1);
	if (!len)
		return;
	if (!to_guest && m->ro)
		return;
	if (len > FZ_MAX_BYTES)
		return;
	if (!vblk_extent_ok(m->capacity, m->lbs, o->sector, len))
		return;
	if (fault)
		return;
	o->effect = to_guest ? FZ_EFF_READ : FZ_EFF_WRITE;
	status(o, VIRTIO_BLK_S_OK, to_guest ? (uint32_t)len + 1 : 1);
}

/* vhost_blk_setup_discard() */
static void dwz(struct fz_outcome *o, const struct fz_devmodel *m,
		const struct fz_iov *iov, unsigned int out, uint64_t bytes)
{
	bool discard = o->type == VIRTIO_BLK_T_DISCARD;
	uint32_t max = discard ? m->discard_sectors : m->zeroes_sectors;
	unsigned int i;
	uint8_t st;

	status(o, VIRTIO_BLK_S_UNSUPP, 1);
	if (!max)
		return;
	status(o, VIRTIO_BLK_S_IOERR, 1);
	if (m->ro)
		return;
	if (!bytes || bytes % sizeof(o->segs[0]) || bytes > sizeof(o->segs))
		return;
	if (faults(iov, out, 16, bytes))
		return;
	fz_iov_gather(iov, out, 16, o->segs, bytes);
	o->nsegs = (unsigned int)(bytes / sizeof(o->segs[0]));
	for (i = 0; i < o->nsegs; i++) {
		st = vblk_dwz_seg_status(discard, max, m->capacity, m->lbs,
					 &o->segs[i]);
		if (st != VIRTIO_BLK_S_OK) {
			status(o, st, 1);
			return;
		}
	}
	o->effect = discard ? FZ_EFF_DISCARD : FZ_EFF_ZERO;
	o->unsupp_ok = discard;
	status(o, VIRTIO_BLK_S_OK, 1);
}

/* vhost_blk_setup_req() */
static void blk(struct fz_outcome *o, const struct fz_devmodel *m,
		struct fz_iov *iov, unsigned int out, unsigned int in)
{
	struct virtio_blk_outhdr hdr;
	uint64_t out_len = iov_total(iov, out), in_len = iov_total(iov + out, in);
	unsigned int last = out + in;

	while (last > out && !iov[last - 1].len)
		last--;
	/*
	 * The error eventfd only when no status can reach the guest; every
	 * other error is the request's alone (IOERR, UNSUPP).
	 */
	if (last == out) {
		o->has_status = false;
		o->ring_err = true;
		return;
	}
	o->has_status = true;
	o->status_ptr = iov[last - 1].base + iov[last - 1].len - 1;
	o->status_lost = iov[last - 1].fault;
	o->ring_err = o->status_lost;
	status(o, VIRTIO_BLK_S_IOERR, 1);
	if (out_len < sizeof(hdr) || faults(iov, out, 0, sizeof(hdr)))
		return;
	fz_iov_gather(iov, out, 0, &hdr, sizeof(hdr));
	o->type = le32toh(hdr.type);
	o->sector = le64toh(hdr.sector);
	o->data_overlap = overlap(iov + out, in);

	switch (o->type) {
	case VIRTIO_BLK_T_IN:
		rw(o, m, true, in_len - 1, faults(iov + out, in, 0, in_len - 1));
		if (o->effect == FZ_EFF_READ)
			slice(o, iov + out, in, 0, in_len - 1);
		break;
	case VIRTIO_BLK_T_OUT:
		rw(o, m, false, out_len - sizeof(hdr),
		   faults(iov, out, sizeof(hdr), out_len - sizeof(hdr)));
		if (o->effect == FZ_EFF_WRITE)
			slice(o, iov, out, sizeof(hdr), out_len - sizeof(hdr));
		break;
	case VIRTIO_BLK_T_FLUSH:
		status(o, VIRTIO_BLK_S_OK, 1);
		break;
	case VIRTIO_BLK_T_GET_ID:
		o->len = in_len - 1 < FZ_SERIAL_LEN ? in_len - 1 : FZ_SERIAL_LEN;
		if (faults(iov + out, in, 0, o->len)) {
			o->len = 0;
			break;	/* copy_to_iter() falls short: IOERR */
		}
		o->effect = FZ_EFF_GETID;
		slice(o, iov + out, in, 0, o->len);
		status(o, VIRTIO_BLK_S_OK, (uint32_t)o->len + 1);
		break;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		dwz(o, m, iov, out, out_len - sizeof(hdr));
		break;
	default:
		status(o, VIRTIO_BLK_S_UNSUPP, 1);
		break;
	}
}

void fz_model_chain(struct fz_model *mx, const struct fz_table *t,
		    const struct fz_devmodel *m, const struct vring_desc *desc,
		    unsigned int num, uint32_t head, struct fz_outcome *o)
{
	unsigned int out, in;

	memset(o, 0, sizeof(*o));
	if (core(mx, t, desc, num, head, &out, &in, o))
		return;
	if (mx->nwdesc) {
		o->wdesc = malloc(mx->nwdesc * sizeof(*o->wdesc));
		if (!o->wdesc)
			abort();
		memcpy(o->wdesc, mx->wdesc, mx->nwdesc * sizeof(*o->wdesc));
		o->nwdesc = mx->nwdesc;
	}
	blk(o, m, mx->iov, out, in);
}

void fz_outcome_free_data(struct fz_outcome *o)
{
	free(o->data);
	o->data = NULL;
	o->ndata = 0;
}

void fz_outcome_free(struct fz_outcome *o)
{
	fz_outcome_free_data(o);
	free(o->wdesc);
	o->wdesc = NULL;
	o->nwdesc = 0;
}
