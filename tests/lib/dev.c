// SPDX-License-Identifier: GPL-2.0-only
/*
 * The /dev/vhost-blk file: the ioctl sequence a vhost frontend (like QEMU's
 * vhost-blk device) goes through, one step per function.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "vblk.h"

static void dev_err(struct vblk_dev *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void dev_err(struct vblk_dev *d, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(d->err, sizeof(d->err), fmt, ap);
	va_end(ap);
}

/* ioctl, with "NAME: error" in d->err on failure. */
static int dev_ioctl(struct vblk_dev *d, unsigned long req, void *arg,
		     const char *name)
{
	if (ioctl(d->fd, req, arg) < 0) {
		int e = errno;

		dev_err(d, "%s: %s", name, strerror(e));
		return -e;
	}
	return 0;
}

#define DEV_IOCTL(d, req, arg)	dev_ioctl(d, req, arg, #req)

void vblk_dev_opts_init(struct vblk_dev_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->path = "/dev/vhost-blk";
	o->queues = 1;
	o->ring_size = 128;
	o->mem_size = VBLK_MEM_DEFAULT_SIZE;
	o->features = VBLK_FEATURES_DEFAULT;
}

int vblk_dev_open(struct vblk_dev *d, const struct vblk_dev_opts *o)
{
	unsigned int q;
	int ret;

	memset(d, 0, sizeof(*d));
	d->fd = -1;
	if (o)
		d->opts = *o;
	else
		vblk_dev_opts_init(&d->opts);
	if (d->opts.queues < 1 || d->opts.queues > VHOST_BLK_MAX_QUEUES) {
		dev_err(d, "%u queues asked, 1..%u possible", d->opts.queues,
			VHOST_BLK_MAX_QUEUES);
		return -EINVAL;
	}
	d->fd = open(d->opts.path, O_RDWR | O_CLOEXEC);
	if (d->fd < 0) {
		ret = -errno;
		dev_err(d, "cannot open %s: %s", d->opts.path, strerror(errno));
		return ret;
	}
	ret = d->opts.shared_mem ?
	      vblk_mem_init_shared(&d->mem, d->opts.mem_size) :
	      vblk_mem_init(&d->mem, d->opts.mem_size);
	if (ret) {
		dev_err(d, "cannot map %zu bytes of guest memory: %s",
			d->opts.mem_size, strerror(-ret));
		goto fail;
	}
	for (q = 0; q < d->opts.queues; q++) {
		ret = vblk_vq_init(&d->vq[q], &d->mem, q, d->opts.ring_size);
		if (ret) {
			dev_err(d, "%s", d->vq[q].err);
			goto fail;
		}
		d->nvq = q + 1;
	}
	return 0;
fail:
	vblk_dev_close(d);
	return ret;
}

int vblk_dev_set_owner(struct vblk_dev *d)
{
	return DEV_IOCTL(d, VHOST_SET_OWNER, NULL);
}

int vblk_dev_negotiate(struct vblk_dev *d, uint64_t want)
{
	uint64_t f;
	int ret;

	ret = DEV_IOCTL(d, VHOST_GET_FEATURES, &d->offered);
	if (ret)
		return ret;
	if (want & ~d->offered) {
		dev_err(d, "features %#llx asked for, but the device offers only %#llx",
			(unsigned long long)want,
			(unsigned long long)d->offered);
		return -EOPNOTSUPP;
	}
	f = want;
	ret = DEV_IOCTL(d, VHOST_SET_FEATURES, &f);
	if (ret)
		return ret;
	d->features = want;
	return 0;
}

int vblk_dev_set_mem_table(struct vblk_dev *d)
{
	struct vhost_memory *m;
	unsigned int i;
	int ret;

	m = calloc(1, sizeof(*m) +
		   VBLK_MEM_REGIONS * sizeof(struct vhost_memory_region));
	if (!m) {
		dev_err(d, "out of memory");
		return -ENOMEM;
	}
	m->nregions = VBLK_MEM_REGIONS;
	for (i = 0; i < VBLK_MEM_REGIONS; i++) {
		m->regions[i].guest_phys_addr = d->mem.reg[i].gpa;
		m->regions[i].memory_size = d->mem.reg[i].size;
		m->regions[i].userspace_addr = (uintptr_t)d->mem.reg[i].hva;
	}
	ret = DEV_IOCTL(d, VHOST_SET_MEM_TABLE, m);
	free(m);
	return ret;
}

bool vblk_module_lacks(const char *feature)
{
	char buf[256], *tok, *save;
	bool lacks = false;
	FILE *f;

	f = fopen("/sys/module/vhost_blk/parameters/features", "r");
	if (!f)
		return false;
	if (fgets(buf, sizeof(buf), f))
		for (tok = strtok_r(buf, " \n", &save); tok;
		     tok = strtok_r(NULL, " \n", &save))
			if (tok[0] == '-' && !strcmp(tok + 1, feature))
				lacks = true;
	fclose(f);
	return lacks;
}

int vblk_dev_new_workers(struct vblk_dev *d)
{
#ifdef VHOST_NEW_WORKER
	unsigned int q;
	int ret;

	for (q = 0; q < d->nvq; q++) {
		struct vhost_worker_state w = { 0 };
		struct vhost_vring_worker vw = { 0 };

		ret = DEV_IOCTL(d, VHOST_NEW_WORKER, &w);
		if (ret)
			return ret;
		vw.index = q;
		vw.worker_id = w.worker_id;
		ret = DEV_IOCTL(d, VHOST_ATTACH_VRING_WORKER, &vw);
		if (ret)
			return ret;
	}
	return 0;
#else
	dev_err(d, "built with kernel headers without VHOST_NEW_WORKER");
	return -EOPNOTSUPP;
#endif
}

int vblk_dev_setup_vq(struct vblk_dev *d, unsigned int q)
{
	struct vblk_vq *vq = &d->vq[q];
	struct vhost_vring_state s = { .index = q };
	struct vhost_vring_addr a = { .index = q };
	struct vhost_vring_file f = { .index = q };
	int ret;

	s.num = vq->num;
	ret = DEV_IOCTL(d, VHOST_SET_VRING_NUM, &s);
	if (ret)
		return ret;
	s.num = d->opts.ring_base;
	ret = DEV_IOCTL(d, VHOST_SET_VRING_BASE, &s);
	if (ret)
		return ret;
	/* Ring addresses are userspace addresses; descriptors hold gpas. */
	a.desc_user_addr = (uintptr_t)vq->desc;
	a.avail_user_addr = (uintptr_t)vq->avail;
	a.used_user_addr = (uintptr_t)vq->used;
	ret = DEV_IOCTL(d, VHOST_SET_VRING_ADDR, &a);
	if (ret)
		return ret;
	f.fd = vq->kick_fd;
	ret = DEV_IOCTL(d, VHOST_SET_VRING_KICK, &f);
	if (ret)
		return ret;
	f.fd = vq->call_fd;
	ret = DEV_IOCTL(d, VHOST_SET_VRING_CALL, &f);
	if (ret)
		return ret;
	f.fd = vq->err_fd;
	ret = DEV_IOCTL(d, VHOST_SET_VRING_ERR, &f);
	if (ret || !d->opts.poll_us)
		return ret;
	s.num = d->opts.poll_us;
	return DEV_IOCTL(d, VHOST_SET_VRING_BUSYLOOP_TIMEOUT, &s);
}

int vblk_dev_setup(struct vblk_dev *d)
{
	unsigned int q;
	int ret;

	ret = vblk_dev_set_owner(d);
	if (!ret)
		ret = vblk_dev_negotiate(d, d->opts.features);
	if (!ret)
		ret = vblk_dev_set_mem_table(d);
	if (!ret && d->opts.worker_per_queue)
		ret = vblk_dev_new_workers(d);
	for (q = 0; !ret && q < d->nvq; q++) {
		d->vq[q].event_idx =
			!!(d->features & VBLK_F(VIRTIO_RING_F_EVENT_IDX));
		vblk_vq_reset(&d->vq[q], d->opts.ring_base);
		ret = vblk_dev_setup_vq(d, q);
	}
	return ret;
}

int vblk_dev_start(struct vblk_dev *d, const struct vblk_dev_opts *o)
{
	int ret = vblk_dev_open(d, o);

	return ret ? ret : vblk_dev_setup(d);
}

int vblk_dev_attach(struct vblk_dev *d, int fd, uint32_t flags,
		    uint32_t engine)
{
	struct vhost_blk_backend b = {
		.fd = fd, .flags = flags, .engine = engine,
	};

	if (ioctl(d->fd, VHOST_BLK_SET_BACKEND, &b) < 0) {
		int e = errno;

		dev_err(d, "VHOST_BLK_SET_BACKEND(fd %d, flags %#x, engine %u): %s",
			fd, flags, engine, strerror(e));
		return -e;
	}
	return 0;
}

int vblk_dev_detach(struct vblk_dev *d)
{
	return vblk_dev_attach(d, -1, 0, 0);
}

int vblk_dev_get_config(struct vblk_dev *d, struct vhost_blk_config *cfg)
{
	struct vhost_blk_config c;
	unsigned int q;
	int ret;

	memset(&c, 0, sizeof(c));
	ret = DEV_IOCTL(d, VHOST_BLK_GET_CONFIG, &c);
	if (ret)
		return ret;
	d->cfg = c;
	if (cfg)
		*cfg = c;
	for (q = 0; q < d->nvq; q++)
		if (c.max_segment_size)
			d->vq[q].seg_size = c.max_segment_size;
	return 0;
}

int vblk_dev_set_serial(struct vblk_dev *d, const void *id, size_t len)
{
	struct vhost_blk_serial s;

	memset(&s, 0, sizeof(s));
	memcpy(s.id, id, len < sizeof(s.id) ? len : sizeof(s.id));
	return DEV_IOCTL(d, VHOST_BLK_SET_SERIAL, &s);
}

int vblk_dev_set_writeback(struct vblk_dev *d, bool writeback)
{
	uint32_t v = writeback;

	return DEV_IOCTL(d, VHOST_BLK_SET_WRITEBACK, &v);
}

int vblk_dev_reset_owner(struct vblk_dev *d)
{
	return DEV_IOCTL(d, VHOST_RESET_OWNER, NULL);
}

void vblk_dev_close(struct vblk_dev *d)
{
	unsigned int q;

	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
	for (q = 0; q < d->nvq; q++)
		vblk_vq_destroy(&d->vq[q]);
	d->nvq = 0;
	if (d->mem.map)
		vblk_mem_destroy(&d->mem);
}
