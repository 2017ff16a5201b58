// SPDX-License-Identifier: GPL-2.0-only
/*
 * Requests on the rings, as a virtio-blk guest driver makes them: a chain
 * of three direct descriptors (header, data, status) and nothing allocated
 * per request. Each request slot owns 64 bytes of guest memory:
 *
 *   0   struct virtio_blk_outhdr (16 bytes, device-readable)
 *   16  status byte (device-writable)
 *   32  discard range (16 bytes, device-readable)
 */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "target.h"

#define BLK_SIZE	64
#define BLK_STATUS	16
#define BLK_RANGE	32

int vbe_io_init(struct vbe_target *t, struct vbe_io *io, void *token)
{
	io->blk = vbe_target_alloc(t, BLK_SIZE, BLK_SIZE);
	io->token = token;
	io->queue = 0;
	return io->blk ? 0 : -ENOMEM;
}

void vbe_io_free(struct vbe_target *t, struct vbe_io *io)
{
	if (io->blk)
		vbe_target_free(t, io->blk);
	io->blk = NULL;
}

int vbe_queue(struct vbe_target *t, unsigned int q, struct vbe_io *io,
	      enum vbe_op op, uint64_t offset, void *buf, uint32_t len)
{
	struct virtio_blk_outhdr *h = (struct virtio_blk_outhdr *)io->blk;
	struct vblk_buf b[3];
	unsigned int n = 0;
	uint32_t type;
	int ret;

	if ((offset | len) % VBLK_SECTOR) {
		snprintf(t->vq[q].err, sizeof(t->vq[q].err),
			 "queue %u: offset %llu, length %u: not in 512-byte sectors",
			 q, (unsigned long long)offset, len);
		return -EINVAL;
	}
	switch (op) {
	case VBE_READ:
		type = VIRTIO_BLK_T_IN;
		break;
	case VBE_WRITE:
		type = VIRTIO_BLK_T_OUT;
		break;
	case VBE_FLUSH:
		type = VIRTIO_BLK_T_FLUSH;
		offset = 0;
		break;
	default:
		type = VIRTIO_BLK_T_DISCARD;
		break;
	}
	h->type = htole32(type);
	h->ioprio = 0;
	h->sector = htole64(offset / VBLK_SECTOR);
	io->blk[BLK_STATUS] = VBLK_STATUS_UNSET;
	b[n++] = (struct vblk_buf){ io->blk, sizeof(*h), false };
	if (op == VBE_READ || op == VBE_WRITE) {
		b[n++] = (struct vblk_buf){ buf, len, op == VBE_READ };
	} else if (op == VBE_DISCARD) {
		struct virtio_blk_discard_write_zeroes *r =
			(void *)(io->blk + BLK_RANGE);

		r->sector = htole64(offset / VBLK_SECTOR);
		r->num_sectors = htole32(len / VBLK_SECTOR);
		r->flags = 0;
		b[n++] = (struct vblk_buf){ r, sizeof(*r), false };
	}
	b[n++] = (struct vblk_buf){ io->blk + BLK_STATUS, 1, true };
	io->queue = q;
	ret = vblk_vq_add(&t->vq[q], b, n, false, io, NULL);
	return ret < 0 ? ret : 0;
}

int vbe_kick(struct vbe_target *t, unsigned int q)
{
	int ret = vblk_vq_kick(&t->vq[q]);

	return ret < 0 ? ret : 0;
}

int vbe_reap(struct vbe_target *t, const unsigned int *qs, unsigned int nq,
	     struct vbe_io **done, unsigned int max)
{
	unsigned int i, n = 0;

	for (i = 0; i < nq && n < max; i++) {
		struct vblk_vq *vq = &t->vq[qs[i]];

		while (n < max) {
			struct vblk_used u;
			int ret = vblk_vq_get_used(vq, &u);

			if (ret < 0)
				return ret;
			if (!ret)
				break;
			if (!u.known || !u.token) {
				snprintf(vq->err, sizeof(vq->err),
					 "queue %u: the device returned head %u, which is not a request in flight",
					 qs[i], u.id);
				return -EPROTO;
			}
			done[n++] = u.token;
		}
	}
	return (int)n;
}

int vbe_wait(struct vbe_target *t, const unsigned int *qs, unsigned int nq,
	     int timeout_ms)
{
	struct vblk_vq *vqs[VHOST_BLK_MAX_QUEUES];
	unsigned int i;

	for (i = 0; i < nq; i++)
		vqs[i] = &t->vq[qs[i]];
	return vblk_vq_wait_any(vqs, nq, timeout_ms);
}

int vbe_io_errno(const struct vbe_io *io)
{
	switch (io->blk[BLK_STATUS]) {
	case VIRTIO_BLK_S_OK:
		return 0;
	case VIRTIO_BLK_S_UNSUPP:
		return EOPNOTSUPP;
	}
	return EIO;
}

const char *vbe_queue_err(struct vbe_target *t, unsigned int q)
{
	return t->vq[q].err;
}
