// SPDX-License-Identifier: GPL-2.0-only
/*
 * The /dev/vhost-blk side: the real open/ioctl/close, the probe that learns
 * what the module says of the backend before any front-end connects, and
 * the virtio-blk configuration space made from it.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include "vub.h"

#define F(b)	(1ull << (b))

/* What a vhost-user-blk front-end may be offered, when the module does. */
#define VUB_FEATURES_KNOWN (F(VIRTIO_F_VERSION_1) | F(VIRTIO_F_ANY_LAYOUT) | \
	F(VIRTIO_RING_F_INDIRECT_DESC) | F(VIRTIO_RING_F_EVENT_IDX) |	\
	F(VIRTIO_F_NOTIFY_ON_EMPTY) | F(VIRTIO_BLK_F_SIZE_MAX) |		\
	F(VIRTIO_BLK_F_SEG_MAX) | F(VIRTIO_BLK_F_BLK_SIZE) |		\
	F(VIRTIO_BLK_F_FLUSH) | F(VIRTIO_BLK_F_CONFIG_WCE) |		\
	F(VIRTIO_BLK_F_TOPOLOGY) | F(VIRTIO_BLK_F_MQ) |			\
	F(VIRTIO_BLK_F_DISCARD) | F(VIRTIO_BLK_F_WRITE_ZEROES) |		\
	F(VIRTIO_BLK_F_RO) | F(VHOST_F_LOG_ALL))

static int real_open(void *ctx, const char *path)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);

	(void)ctx;
	return fd < 0 ? -errno : fd;
}

static int real_ioctl(void *ctx, int fd, unsigned long req, void *arg)
{
	(void)ctx;
	return ioctl(fd, req, arg) < 0 ? -errno : 0;
}

static void real_close(void *ctx, int fd)
{
	(void)ctx;
	close(fd);
}

const struct vub_kops vub_kops_real = {
	.open = real_open, .ioctl = real_ioctl, .close = real_close,
};

static const char *attach_hint(int err, uint32_t engine)
{
	switch (err) {
	case EOPNOTSUPP:
		return engine == VHOST_BLK_ENGINE_BIO ?
		       " (--engine bio needs a block device, or a file on XFS that is not reflinked: use --engine auto or kiocb)" : "";
	case EACCES:
		return " (--engine bio on a file needs its owner or CAP_LEASE)";
	case EBADF:
		return " (the backend is not open for reading)";
	case EINVAL:
		return " (not a regular file or block device?)";
	default:
		return "";
	}
}

int vub_probe(const struct vub_kops *k, void *kctx, const struct vub_opts *o,
	      int backend_fd, struct vub_probe *p, char *why, size_t len)
{
	const size_t ring_size = 4096;
	struct vhost_vring_state s = { .index = 0, .num = 1 };
	struct vhost_vring_addr a = { .index = 0 };
	struct vhost_memory mem = { .nregions = 0 };
	struct vhost_blk_backend b = {
		.fd = backend_fd, .engine = o->engine,
		.flags = o->read_only ? VHOST_BLK_BACKEND_F_READONLY : 0,
	};
	const char *step = "VHOST_SET_OWNER";
	uint64_t f = 0;
	void *ring = NULL;
	int fd, ret;

	memset(p, 0, sizeof(*p));
	fd = k->open(kctx, o->dev);
	if (fd < 0) {
		snprintf(why, len, "cannot open %s: %s%s", o->dev,
			 strerror(-fd), fd == -ENOENT ?
			 " (load the module: modprobe vhost_blk, or insmod vhost_blk.ko after modprobe vhost)" :
			 fd == -EACCES ? " (run as root, or give this user access to the device node)" : "");
		return fd;
	}
	if (posix_memalign(&ring, ring_size, ring_size)) {
		k->close(kctx, fd);
		snprintf(why, len, "out of memory");
		return -ENOMEM;
	}
	memset(ring, 0, ring_size);
	a.desc_user_addr = (uintptr_t)ring;
	a.avail_user_addr = (uintptr_t)ring + ring_size / 4;
	a.used_user_addr = (uintptr_t)ring + ring_size / 2;
	ret = k->ioctl(kctx, fd, VHOST_SET_OWNER, NULL);
	if (!ret) {
		step = "VHOST_GET_FEATURES";
		ret = k->ioctl(kctx, fd, VHOST_GET_FEATURES, &f);
	}
	if (!ret) {
		step = "a scratch ring";
		ret = k->ioctl(kctx, fd, VHOST_SET_MEM_TABLE, &mem);
	}
	if (!ret)
		ret = k->ioctl(kctx, fd, VHOST_SET_VRING_NUM, &s);
	s.num = 0;
	if (!ret)
		ret = k->ioctl(kctx, fd, VHOST_SET_VRING_BASE, &s);
	if (!ret)
		ret = k->ioctl(kctx, fd, VHOST_SET_VRING_ADDR, &a);
	if (!ret) {
		step = "VHOST_BLK_SET_BACKEND";
		ret = k->ioctl(kctx, fd, VHOST_BLK_SET_BACKEND, &b);
		if (ret) {
			snprintf(why, len, "the module refused backend %s: %s%s",
				 o->backend, strerror(-ret),
				 attach_hint(-ret, o->engine));
			goto out;
		}
		step = "VHOST_BLK_GET_CONFIG";
		ret = k->ioctl(kctx, fd, VHOST_BLK_GET_CONFIG, &p->kcfg);
		b.fd = -1;
		b.flags = b.engine = 0;
		k->ioctl(kctx, fd, VHOST_BLK_SET_BACKEND, &b);
	}
	if (ret) {
		snprintf(why, len, "%s (%s): %s", o->dev, step, strerror(-ret));
		goto out;
	}
	f &= VUB_FEATURES_KNOWN;
	if (!p->kcfg.max_discard_sectors)
		f &= ~F(VIRTIO_BLK_F_DISCARD);
	if (!p->kcfg.max_write_zeroes_sectors)
		f &= ~F(VIRTIO_BLK_F_WRITE_ZEROES);
	if (!p->kcfg.read_only)
		f &= ~F(VIRTIO_BLK_F_RO);
	if (o->num_queues < 2)
		f &= ~F(VIRTIO_BLK_F_MQ);
	p->features = f;
	if (o->num_queues > p->kcfg.num_queues && p->kcfg.num_queues) {
		snprintf(why, len, "--num-queues %u: the module serves at most %u",
			 o->num_queues, p->kcfg.num_queues);
		ret = -EINVAL;
	}
out:
	k->close(kctx, fd);
	free(ring);
	return ret;
}

void vub_blk_config(const struct vub_probe *p, unsigned int num_queues,
		    uint8_t writeback, struct virtio_blk_config *c)
{
	const struct vhost_blk_config *k = &p->kcfg;
	uint32_t lbs = k->logical_block_size ? k->logical_block_size : 512;
	uint32_t pbs = k->physical_block_size;
	uint8_t exp = 0;

	memset(c, 0, sizeof(*c));
	while (pbs > lbs && (lbs << (exp + 1)) <= pbs)
		exp++;
	c->capacity = htole64(k->capacity);
	c->size_max = htole32(k->max_segment_size);
	c->seg_max = htole32(k->max_segments);
	c->blk_size = htole32(lbs);
	c->physical_block_exp = exp;
	c->min_io_size = htole16(1);
	c->wce = writeback;
	c->num_queues = htole16((uint16_t)num_queues);
	c->max_discard_sectors = htole32(k->max_discard_sectors);
	c->max_discard_seg = htole32(k->max_discard_seg);
	c->discard_sector_alignment = htole32(k->discard_sector_alignment);
	c->max_write_zeroes_sectors = htole32(k->max_write_zeroes_sectors);
	c->max_write_zeroes_seg = htole32(k->max_write_zeroes_seg);
	c->write_zeroes_may_unmap = (uint8_t)k->write_zeroes_may_unmap;
}
