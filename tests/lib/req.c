// SPDX-License-Identifier: GPL-2.0-only
/*
 * virtio-blk requests (virtio 1.x, "Block Device"): a 16-byte header the
 * device reads, data segments, and a status byte the device writes, which
 * is the last writable byte of the chain.
 *
 * Each request owns one 64-byte block of guest memory: the header at 0,
 * the status byte at 16 and, when the header is split over two
 * descriptors, its second part at 32, so the parts are not adjacent.
 */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vblk.h"

#define REQ_BLOCK	64
#define REQ_STATUS	16
#define REQ_HDR2	32

unsigned int vblk_split(struct vblk_seg *seg, unsigned int max, void *buf,
			size_t len, size_t seg_size)
{
	unsigned int n = 0;
	size_t off = 0;

	if (!seg_size)
		return 0;
	while (off < len) {
		size_t l = len - off < seg_size ? len - off : seg_size;

		if (n == max)
			return 0;
		seg[n].buf = (uint8_t *)buf + off;
		seg[n].len = (uint32_t)l;
		n++;
		off += l;
	}
	return n;
}

static bool data_writable(const struct vblk_req *r)
{
	if (r->dir == VBLK_DIR_AUTO)
		return r->type == VIRTIO_BLK_T_IN ||
		       r->type == VIRTIO_BLK_T_GET_ID;
	return r->dir == VBLK_DIR_IN;
}

int vblk_req_queue(struct vblk_vq *vq, struct vblk_req *r)
{
	struct virtio_blk_outhdr h = {
		.type = htole32(r->type),
		.ioprio = htole32(r->ioprio),
		.sector = htole64(r->sector),
	};
	unsigned int n = 0, k;
	struct vblk_buf *b;
	uint8_t *blk;
	bool w = data_writable(r);
	int head;

	if (r->hdr_split >= sizeof(h)) {
		snprintf(vq->err, sizeof(vq->err),
			 "queue %u: header split at %u of %zu bytes", vq->index,
			 r->hdr_split, sizeof(h));
		return -EINVAL;
	}
	b = calloc(r->nseg + 3, sizeof(*b));
	blk = vblk_mem_alloc(vq->mem, REQ_BLOCK, REQ_BLOCK);
	if (!b || !blk) {
		snprintf(vq->err, sizeof(vq->err),
			 "queue %u: out of %s memory for a request", vq->index,
			 b ? "guest" : "host");
		free(b);
		vblk_mem_free(vq->mem, blk);
		return -ENOMEM;
	}
	memcpy(blk, &h, sizeof(h));
	blk[REQ_STATUS] = VBLK_STATUS_UNSET;
	if (r->hdr_split) {
		memcpy(blk + REQ_HDR2, (uint8_t *)&h + r->hdr_split,
		       sizeof(h) - r->hdr_split);
		b[n++] = (struct vblk_buf){ blk, r->hdr_split, false };
		b[n++] = (struct vblk_buf){ blk + REQ_HDR2,
					    sizeof(h) - r->hdr_split, false };
	} else {
		b[n++] = (struct vblk_buf){ blk, sizeof(h), false };
	}
	for (k = 0; k < r->nseg; k++)
		b[n++] = (struct vblk_buf){ r->seg[k].buf, r->seg[k].len, w };
	b[n++] = (struct vblk_buf){ blk + REQ_STATUS, 1, true };

	r->done = false;
	r->raw = false;
	r->status = VBLK_STATUS_UNSET;
	r->used_len = 0;
	r->status_ptr = blk + REQ_STATUS;
	head = vblk_vq_add(vq, b, n, r->indirect, r, blk);
	free(b);
	if (head < 0) {
		vblk_mem_free(vq->mem, blk);
		return head;
	}
	r->head = head;
	return 0;
}

int vblk_req_submit(struct vblk_vq *vq, struct vblk_req *r)
{
	int ret = vblk_req_queue(vq, r);

	if (ret)
		return ret;
	ret = vblk_vq_kick(vq);
	return ret < 0 ? ret : 0;
}

int vblk_raw_submit(struct vblk_vq *vq, struct vblk_req *r,
		    const struct vblk_raw_desc *d, unsigned int n,
		    bool indirect)
{
	int head;

	r->done = false;
	r->raw = true;
	r->status = VBLK_STATUS_UNSET;
	r->used_len = 0;
	r->status_ptr = NULL;
	head = vblk_vq_add_raw(vq, d, n, indirect, r, NULL);
	if (head < 0)
		return head;
	r->head = head;
	head = vblk_vq_kick(vq);
	return head < 0 ? head : 0;
}

static void timeout_msg(struct vblk_vq *vq, const char *what, int ms)
{
	snprintf(vq->err, sizeof(vq->err),
		 "queue %u: %s completed within %d ms (%u in flight, avail idx %u, used idx %u, %llu kicks, %llu calls)",
		 vq->index, what, ms, vq->inflight, vq->avail_idx,
		 le16toh(__atomic_load_n(&vq->used->idx, __ATOMIC_ACQUIRE)),
		 (unsigned long long)vq->kicks, (unsigned long long)vq->calls);
}

int vblk_reap(struct vblk_vq *vq, int timeout_ms, struct vblk_req **done,
	      unsigned int max)
{
	unsigned int n = 0;
	int ret;

	for (;;) {
		while (n < max) {
			struct vblk_used u;
			struct vblk_req *r;

			ret = vblk_vq_get_used(vq, &u);
			if (ret < 0)
				return ret;
			if (!ret)
				break;
			if (!u.known)
				return -EPROTO;
			if (!u.token) {
				snprintf(vq->err, sizeof(vq->err),
					 "queue %u: used id %u is a chain built without a request to complete",
					 vq->index, u.id);
				return -EPROTO;
			}
			r = u.token;
			r->used_len = u.len;
			if (!r->raw)
				r->status = *r->status_ptr;
			r->done = true;
			vblk_mem_free(vq->mem, u.owned);
			done[n++] = r;
		}
		if (n || !max)
			return (int)n;
		ret = vblk_vq_wait(vq, timeout_ms);
		if (ret == -ETIMEDOUT) {
			timeout_msg(vq, "nothing", timeout_ms);
			return ret;
		}
		if (ret)
			return ret;
	}
}

int vblk_req_wait(struct vblk_vq *vq, struct vblk_req *r, int timeout_ms)
{
	int64_t deadline = vblk_now_ms() + timeout_ms;
	struct vblk_req *done[16];

	while (!r->done) {
		int64_t left = deadline - vblk_now_ms();
		int ret;

		ret = vblk_reap(vq, left > 0 ? (int)left : 0, done, 16);
		if (ret == -ETIMEDOUT) {
			char t[32], what[96];

			snprintf(what, sizeof(what),
				 "request %s at sector %llu (head %d) not",
				 vblk_type_str(r->type, t, sizeof(t)),
				 (unsigned long long)r->sector, r->head);
			timeout_msg(vq, what, timeout_ms);
		}
		if (ret < 0)
			return ret;
	}
	return 0;
}

int vblk_req_run(struct vblk_vq *vq, struct vblk_req *r)
{
	int ret = vblk_req_submit(vq, r);

	return ret ? ret : vblk_req_wait(vq, r, vq->timeout_ms);
}

int vblk_rw(struct vblk_vq *vq, uint32_t type, uint64_t sector, void *buf,
	    size_t len, const struct vblk_layout *lo, uint32_t *used_len)
{
	static const struct vblk_layout plain;
	struct vblk_req r = { .type = type, .sector = sector };
	size_t seg_size;
	unsigned int max;
	int ret;

	if (!lo)
		lo = &plain;
	seg_size = lo->seg_size ? lo->seg_size : vq->seg_size;
	max = len ? (unsigned int)((len + seg_size - 1) / seg_size) : 0;
	r.seg = calloc(max ? max : 1, sizeof(*r.seg));
	if (!r.seg) {
		snprintf(vq->err, sizeof(vq->err), "out of memory");
		return -ENOMEM;
	}
	r.nseg = vblk_split(r.seg, max, buf, len, seg_size);
	r.hdr_split = lo->hdr_split;
	r.indirect = lo->indirect;
	ret = vblk_req_run(vq, &r);
	free(r.seg);
	if (ret)
		return ret;
	if (used_len)
		*used_len = r.used_len;
	return r.status;
}

int vblk_read(struct vblk_vq *vq, uint64_t sector, void *buf, size_t len)
{
	return vblk_rw(vq, VIRTIO_BLK_T_IN, sector, buf, len, NULL, NULL);
}

int vblk_write(struct vblk_vq *vq, uint64_t sector, void *buf, size_t len)
{
	return vblk_rw(vq, VIRTIO_BLK_T_OUT, sector, buf, len, NULL, NULL);
}

int vblk_flush(struct vblk_vq *vq, uint32_t *used_len)
{
	return vblk_rw(vq, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, NULL, used_len);
}

int vblk_get_id(struct vblk_vq *vq, void *buf, size_t len, uint32_t *used_len)
{
	return vblk_rw(vq, VIRTIO_BLK_T_GET_ID, 0, buf, len, NULL, used_len);
}

int vblk_discard_type(struct vblk_vq *vq, uint32_t type,
		      const struct virtio_blk_discard_write_zeroes *segs,
		      unsigned int n, uint32_t *used_len)
{
	size_t len = n * sizeof(*segs);
	void *g = vblk_mem_alloc(vq->mem, len ? len : 1, 16);
	struct vblk_seg seg = { g, (uint32_t)len };
	struct vblk_req r = {
		.type = type, .seg = &seg, .nseg = len ? 1 : 0,
		.dir = VBLK_DIR_OUT,
	};
	int ret;

	if (!g) {
		snprintf(vq->err, sizeof(vq->err),
			 "queue %u: guest memory exhausted", vq->index);
		return -ENOMEM;
	}
	memcpy(g, segs, len);
	ret = vblk_req_run(vq, &r);
	vblk_mem_free(vq->mem, g);
	if (ret)
		return ret;
	if (used_len)
		*used_len = r.used_len;
	return r.status;
}

static int discard_one(struct vblk_vq *vq, uint32_t type, uint64_t sector,
		       uint32_t nsect, uint32_t flags)
{
	struct virtio_blk_discard_write_zeroes s = {
		.sector = htole64(sector),
		.num_sectors = htole32(nsect),
		.flags = htole32(flags),
	};

	return vblk_discard_type(vq, type, &s, 1, NULL);
}

int vblk_discard(struct vblk_vq *vq, uint64_t sector, uint32_t nsect)
{
	return discard_one(vq, VIRTIO_BLK_T_DISCARD, sector, nsect, 0);
}

int vblk_write_zeroes(struct vblk_vq *vq, uint64_t sector, uint32_t nsect,
		      bool unmap)
{
	return discard_one(vq, VIRTIO_BLK_T_WRITE_ZEROES, sector, nsect,
			   unmap ? VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP : 0);
}

const char *vblk_status_str(int status, char *buf, size_t len)
{
	switch (status) {
	case VIRTIO_BLK_S_OK:
		return "OK";
	case VIRTIO_BLK_S_IOERR:
		return "IOERR";
	case VIRTIO_BLK_S_UNSUPP:
		return "UNSUPP";
	case VBLK_STATUS_UNSET:
		return "0xee (status byte never written)";
	}
	snprintf(buf, len, "%#x", status);
	return buf;
}

const char *vblk_type_str(uint32_t type, char *buf, size_t len)
{
	switch (type) {
	case VIRTIO_BLK_T_IN:
		return "IN";
	case VIRTIO_BLK_T_OUT:
		return "OUT";
	case VIRTIO_BLK_T_FLUSH:
		return "FLUSH";
	case VIRTIO_BLK_T_GET_ID:
		return "GET_ID";
	case VIRTIO_BLK_T_DISCARD:
		return "DISCARD";
	case VIRTIO_BLK_T_WRITE_ZEROES:
		return "WRITE_ZEROES";
	}
	snprintf(buf, len, "type %#x", type);
	return buf;
}
