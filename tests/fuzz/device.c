// SPDX-License-Identifier: GPL-2.0-only
/*
 * A device's life: random set-up options (queues, ring sizes and bases,
 * features, a worker per queue), attaching the backend and checking what
 * GET_CONFIG reports, memory tables, ioctls that must fail.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "vfuzz.h"

#define MEM_SIZE	(64u << 20)

uint32_t fz_pick_engine(struct fz_run *run)
{
	if (run->o.engine >= 0)
		return (uint32_t)run->o.engine;
	if (run->is_blk || run->has_layout)
		return (uint32_t)fz_below(&run->rng, 3);
	return fz_pm(&run->rng, 500) ? VHOST_BLK_ENGINE_AUTO :
				       VHOST_BLK_ENGINE_KIOCB;
}

static uint32_t expected_engine(struct fz_dev *dv)
{
	if (dv->engine != VHOST_BLK_ENGINE_AUTO)
		return dv->engine;
	return dv->run->is_blk ? VHOST_BLK_ENGINE_BIO : VHOST_BLK_ENGINE_KIOCB;
}

/* The bio engine on a file offers no DISCARD (a hole would end its layout). */
static uint32_t expected_discard(struct fz_dev *dv)
{
	if (!dv->run->is_blk && dv->engine == VHOST_BLK_ENGINE_BIO)
		return 0;
	return dv->run->base.discard_sectors;
}

/* GET_CONFIG agrees with the backend and the attach; update the model. */
static int check_config(struct fz_dev *dv, bool attached)
{
	struct fz_run *run = dv->run;
	struct vhost_blk_config c;
	const struct fz_devmodel *b = &run->base;
	bool ro = dv->flags & VHOST_BLK_BACKEND_F_READONLY;
	char why[160] = "";

	if (vblk_dev_get_config(&dv->d, &c))
		return fz_fail(run, "device #%u: %s", dv->id, dv->d.err);
	if (c.max_segments != FZ_SEG_MAX || c.max_segment_size != 65536 ||
	    c.num_queues != VHOST_BLK_MAX_QUEUES)
		snprintf(why, sizeof(why), "max_segments %u, max_segment_size %u, num_queues %u",
			 c.max_segments, c.max_segment_size, c.num_queues);
	else if (!attached && (c.capacity || c.engine))
		snprintf(why, sizeof(why), "capacity %" PRIu64 " and engine %u without a backend",
			 (uint64_t)c.capacity, c.engine);
	else if (attached && b->capacity &&
		 (c.capacity != b->capacity || c.logical_block_size != b->lbs))
		snprintf(why, sizeof(why), "capacity %" PRIu64 " sectors, logical block size %u; the backend has %" PRIu64 " and %u",
			 (uint64_t)c.capacity, c.logical_block_size,
			 b->capacity, b->lbs);
	else if (attached && c.engine != expected_engine(dv))
		snprintf(why, sizeof(why), "engine %u, expected %u", c.engine,
			 expected_engine(dv));
	else if (attached && c.read_only != ro)
		snprintf(why, sizeof(why), "read_only %u after attaching with flags %#x",
			 c.read_only, dv->flags);
	else if (attached && ro && (c.max_discard_sectors || c.max_write_zeroes_sectors))
		snprintf(why, sizeof(why), "discard / write zeroes offered on a read-only device");
	else if (attached && !ro && b->capacity &&
		 (c.max_discard_sectors != expected_discard(dv) ||
		  c.max_write_zeroes_sectors != b->zeroes_sectors))
		snprintf(why, sizeof(why), "max_discard_sectors %u, max_write_zeroes_sectors %u; before %u and %u",
			 c.max_discard_sectors, c.max_write_zeroes_sectors,
			 b->discard_sectors, b->zeroes_sectors);
	if (why[0])
		return fz_fail(run, "device #%u: VHOST_BLK_GET_CONFIG %s: %s",
			       dv->id, attached ? "after attaching" : "when detached",
			       why);
	if (attached) {
		dv->m.capacity = c.capacity;
		dv->m.lbs = c.logical_block_size;
		dv->m.ro = ro;
		dv->m.discard_sectors = ro ? expected_discard(dv) :
					     c.max_discard_sectors;
		dv->m.zeroes_sectors = ro ? b->zeroes_sectors : c.max_write_zeroes_sectors;
	}
	return 0;
}

int fz_dev_attach(struct fz_dev *dv, uint32_t flags, uint32_t engine)
{
	dv->flags = flags;
	dv->engine = engine;
	if (vblk_dev_attach(&dv->d, dv->run->bfd, flags, engine))
		return fz_fail(dv->run, "device #%u: %s", dv->id, dv->d.err);
	return check_config(dv, true);
}

int fz_dev_new_serial(struct fz_dev *dv)
{
	uint8_t id[FZ_SERIAL_LEN];

	fz_fill(&dv->run->rng, id, sizeof(id));
	if (fz_pm(&dv->run->rng, 300))
		memset(id + fz_below(&dv->run->rng, sizeof(id)), 0,
		       1);
	if (vblk_dev_set_serial(&dv->d, id, sizeof(id)))
		return fz_fail(dv->run, "device #%u: %s", dv->id, dv->d.err);
	memcpy(dv->m.serial, id, sizeof(id));
	return 0;
}

static void random_opts(struct fz_run *run, struct vblk_dev_opts *o)
{
	static const unsigned int wq[] = { 40, 30, 20, 10 };
	static const unsigned int wr[] = { 2, 3, 5, 10, 30, 30, 12, 8 };
	static const unsigned int rs[] = { 8, 16, 32, 64, 128, 256, 512, 1024 };
	struct fz_rng *rng = &run->rng;
	static const unsigned int blkf[] = {
		VIRTIO_BLK_F_SIZE_MAX, VIRTIO_BLK_F_SEG_MAX, VIRTIO_BLK_F_BLK_SIZE,
		VIRTIO_BLK_F_FLUSH, VIRTIO_BLK_F_TOPOLOGY, VIRTIO_BLK_F_MQ,
		VIRTIO_BLK_F_DISCARD, VIRTIO_BLK_F_WRITE_ZEROES, VIRTIO_BLK_F_RO,
	};
	unsigned int i;

	switch (fz_pick(rng, wq, 4)) {
	case 0:
		o->queues = 1;
		break;
	case 1:
		o->queues = 2;
		break;
	case 2:
		o->queues = 4;
		break;
	default:
		o->queues = (unsigned int)fz_range(rng, 1, VHOST_BLK_MAX_QUEUES);
		break;
	}
	o->ring_size = rs[fz_pick(rng, wr, 8)];
	switch (fz_below(rng, 4)) {
	case 0:
	case 1:
		o->ring_base = 0;
		break;
	case 2:
		o->ring_base = (uint16_t)fz_next(rng);
		break;
	default:
		o->ring_base = (uint16_t)(0x10000 - fz_range(rng, 1, 2 * o->ring_size));
		break;
	}
	if (fz_pm(rng, 300))
		o->features &= ~VBLK_F(VIRTIO_RING_F_EVENT_IDX);
	if (fz_pm(rng, 200))
		o->features &= ~VBLK_F(VIRTIO_RING_F_INDIRECT_DESC);
	if (fz_pm(rng, 200))
		o->features &= ~VBLK_F(VIRTIO_F_ANY_LAYOUT);
	if (fz_pm(rng, 200))
		o->features |= VBLK_F(VIRTIO_F_NOTIFY_ON_EMPTY);
	/* FLUSH half the time: write-back, else write-through. */
	o->features &= ~VBLK_F(VIRTIO_BLK_F_FLUSH);
	for (i = 0; i < sizeof(blkf) / sizeof(blkf[0]); i++)
		if (fz_pm(rng, 500))
			o->features |= VBLK_F(blkf[i]);
	o->worker_per_queue = fz_pm(rng, 300) && !vblk_module_lacks("vq-workers");
#ifndef VHOST_NEW_WORKER
	o->worker_per_queue = false;	/* old kernel headers */
#endif
}

int fz_dev_up(struct fz_run *run, struct fz_dev *dv, bool simple)
{
	struct vblk_dev_opts o;
	unsigned int q, i;

	memset(dv, 0, sizeof(*dv));
	dv->log_efd = -1;
	dv->run = run;
	dv->id = ++run->dev_seq;
	vblk_dev_opts_init(&o);
	o.path = run->o.node;
	o.mem_size = MEM_SIZE;
	if (!simple)
		random_opts(run, &o);
	if (vblk_dev_start(&dv->d, &o)) {
		fz_fail(run, "setting up device #%u (%u queues of %u, base %u, features %#llx): %s; is vhost_blk.ko loaded and %s there?",
			dv->id, o.queues, o.ring_size, o.ring_base,
			(unsigned long long)o.features, dv->d.err, o.path);
		vblk_dev_close(&dv->d);
		return -1;
	}
	dv->open = true;
	run->sh->c.devices++;
	dv->nq = dv->d.nvq;
	for (q = 0; q < dv->nq; q++) {
		dv->q[q].by_head = calloc(o.ring_size, sizeof(*dv->q[q].by_head));
		dv->q[q].pos = calloc(o.ring_size + 1, sizeof(*dv->q[q].pos));
		if (!dv->q[q].by_head || !dv->q[q].pos)
			abort();
	}
	for (i = 0; i < VBLK_MEM_REGIONS; i++) {
		struct vblk_region *r = &dv->d.mem.reg[i];

		dv->table.m[i].start = r->gpa;
		dv->table.m[i].last = r->gpa + r->size - 1;
		dv->table.m[i].hva = r->hva;
	}
	dv->table.n = VBLK_MEM_REGIONS;
	dv->big_ok = !simple && fz_pm(&run->rng, 250);
	if (fz_dev_new_serial(dv) || fz_log_dev(dv, simple))
		return -1;
	if (fz_dev_attach(dv, 0, simple ? (run->o.engine < 0 ? 0u :
					   (uint32_t)run->o.engine) :
				    fz_pick_engine(run)))
		return -1;
	if (run->o.verbose)
		fz_note(run, "device #%u: %u queues of %u, ring base %u, features %#llx%s, engine %u%s%s",
			dv->id, dv->nq, o.ring_size, o.ring_base,
			(unsigned long long)dv->d.features,
			o.worker_per_queue ? ", worker per queue" : "",
			dv->engine, dv->big_ok ? ", big requests" : "",
			dv->log ? ", dirty log" : "");
	return 0;
}

void fz_dev_down(struct fz_dev *dv)
{
	unsigned int q;

	if (dv->reqs)
		fz_round_release(dv, false);
	vblk_dev_close(&dv->d);
	dv->open = false;
	fz_log_free(dv);
	free(dv->scratch);
	dv->scratch = NULL;
	dv->scratch_len = 0;
	for (q = 0; q < dv->nq; q++) {
		free(dv->q[q].by_head);
		free(dv->q[q].pos);
		dv->q[q].by_head = NULL;
		dv->q[q].pos = NULL;
	}
}

void fz_dev_full_table(struct fz_dev *dv, struct vhost_memory *m)
{
	unsigned int i;

	memset(m, 0, sizeof(*m) + VBLK_MEM_REGIONS * sizeof(m->regions[0]));
	m->nregions = VBLK_MEM_REGIONS;
	for (i = 0; i < VBLK_MEM_REGIONS; i++) {
		m->regions[i].guest_phys_addr = dv->d.mem.reg[i].gpa;
		m->regions[i].memory_size = dv->d.mem.reg[i].size;
		m->regions[i].userspace_addr = (uintptr_t)dv->d.mem.reg[i].hva;
	}
}

int fz_dev_set_table(struct fz_dev *dv, const struct vhost_memory *m,
		     size_t size, int want_errno, const char *what)
{
	int e = 0;

	(void)size;
	if (ioctl(dv->d.fd, VHOST_SET_MEM_TABLE, m) < 0)
		e = errno;
	if (e != want_errno)
		return fz_fail(dv->run, "device #%u: VHOST_SET_MEM_TABLE with %s: %s, expected %s",
			       dv->id, what, vblk_errno_name(e), vblk_errno_name(want_errno));
	return 0;
}

int fz_dev_last_avail(struct fz_dev *dv, unsigned int q, uint16_t *idx)
{
	struct vhost_vring_state s = { .index = q };

	if (ioctl(dv->d.fd, VHOST_GET_VRING_BASE, &s) < 0 && errno == ENOTTY)
		return 1;	/* a stand-in without it (the LD_PRELOAD fake) */
	if (ioctl(dv->d.fd, VHOST_GET_VRING_BASE, &s) < 0)
		return fz_fail(dv->run, "device #%u: VHOST_GET_VRING_BASE of queue %u: %s",
			       dv->id, q, strerror(errno));
	*idx = (uint16_t)s.num;
	return 0;
}

/* One ioctl that must fail with @want; the device must not notice. */
static int must_fail(struct fz_dev *dv, unsigned long req, void *arg,
		     int want, const char *what)
{
	int e = 0;

	if (ioctl(dv->d.fd, req, arg) < 0)
		e = errno;
	if (e != want)
		return fz_fail(dv->run, "device #%u: %s: %s, expected %s",
			       dv->id, what, vblk_errno_name(e), vblk_errno_name(want));
	return 0;
}

static int bad_backend(struct fz_dev *dv, int fd, uint32_t flags,
		       uint32_t engine, unsigned int reserved, int want,
		       const char *what)
{
	struct vhost_blk_backend b = { .fd = fd, .flags = flags,
				       .engine = engine };

	if (reserved)
		b.reserved[reserved - 1] = 1;
	return must_fail(dv, VHOST_BLK_SET_BACKEND, &b, want, what);
}

int fz_dev_bad_ioctls(struct fz_dev *dv)
{
	struct fz_run *run = dv->run;
	struct fz_rng *rng = &run->rng;
	unsigned int n = (unsigned int)fz_range(rng, 1, 4);
	int ret = 0;

	while (n-- && !ret) {
		struct vhost_vring_state s = { .index = 0, .num = 64 };
		struct vhost_blk_config c;
		struct vhost_blk_serial ser;
		uint64_t f;
		int p[2], fd;

		switch (fz_below(rng, 15)) {
		case 0:
			ret = bad_backend(dv, run->bfd, 1u << fz_range(rng, 1, 31),
					  0, 0, EINVAL, "SET_BACKEND with unknown flags");
			break;
		case 1:
			ret = bad_backend(dv, run->bfd, 0, 0,
					  (unsigned int)fz_range(rng, 1, 5), EINVAL,
					  "SET_BACKEND with a reserved field set");
			break;
		case 2:
			ret = bad_backend(dv, run->bfd, 0,
					  (uint32_t)fz_range(rng, 3, UINT32_MAX), 0,
					  EINVAL, "SET_BACKEND with an unknown engine");
			break;
		case 3:
			ret = bad_backend(dv, -(int)fz_range(rng, 2, 1000), 0, 0, 0,
					  EBADF, "SET_BACKEND with fd < -1");
			break;
		case 4:
			ret = bad_backend(dv, dv->d.fd, 0, 0, 0, EBADF,
					  "SET_BACKEND with the vhost-blk fd itself");
			break;
		case 5:
			if (pipe(p))
				break;
			ret = bad_backend(dv, p[0], 0, 0, 0, EINVAL,
					  "SET_BACKEND with a pipe");
			if (!ret)
				ret = bad_backend(dv, p[1], 0, 0, 0, EBADF,
						  "SET_BACKEND with the write end of a pipe");
			close(p[0]);
			close(p[1]);
			break;
		case 6:
			if (run->is_blk || run->has_layout)
				break;
			ret = bad_backend(dv, run->bfd, 0, VHOST_BLK_ENGINE_BIO, 0,
					  EOPNOTSUPP, "SET_BACKEND with the bio engine on a file");
			break;
		case 7:
			fd = open(run->o.backend, O_WRONLY | O_CLOEXEC);
			if (fd < 0)
				break;
			ret = bad_backend(dv, fd, 0, 0, 0, EBADF,
					  "SET_BACKEND with a backend fd open for writing only");
			close(fd);
			break;
		case 8:
			ret = must_fail(dv, VHOST_SET_VRING_NUM, &s, EBUSY,
					"SET_VRING_NUM while attached");
			break;
		case 9:
			ret = must_fail(dv, VHOST_SET_VRING_BASE, &s, EBUSY,
					"SET_VRING_BASE while attached");
			break;
		case 10:
			f = dv->d.features | (1ULL << fz_range(rng, 42, 63));
			ret = must_fail(dv, VHOST_SET_FEATURES, &f, EOPNOTSUPP,
					"SET_FEATURES with an unknown bit");
			break;
		case 11:
			memset(&c, 0, sizeof(c));
			c.flags = (uint32_t)fz_range(rng, 1, UINT32_MAX);
			ret = must_fail(dv, VHOST_BLK_GET_CONFIG, &c, EINVAL,
					"GET_CONFIG with flags");
			break;
		case 12:
			memset(&ser, 0, sizeof(ser));
			ser.flags = (uint32_t)fz_range(rng, 1, UINT32_MAX);
			ret = must_fail(dv, VHOST_BLK_SET_SERIAL, &ser, EINVAL,
					"SET_SERIAL with flags");
			break;
		case 13:
			ret = must_fail(dv, VHOST_SET_OWNER, NULL, EBUSY,
					"SET_OWNER a second time");
			break;
		default:
			s.index = (unsigned int)fz_range(rng, VHOST_BLK_MAX_QUEUES,
							 UINT32_MAX);
			ret = must_fail(dv, VHOST_GET_VRING_BASE, &s, ENOBUFS,
					"GET_VRING_BASE of a queue past the last");
			break;
		}
	}
	return ret;
}
