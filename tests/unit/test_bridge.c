// SPDX-License-Identifier: GPL-2.0-only
/*
 * vhost-blk-user (qemu-frontend/bridge): its message handling, driven by a
 * front-end over a socketpair (the test library's vu-msg.c, playing QEMU
 * 10) against a fake of /dev/vhost-blk (the daemon's kernel ops table).
 * The fake checks what the real module would need: ring addresses inside
 * the memory table the daemon gave it (the daemon's own mappings, not the
 * front-end's), the rings' contents seen through them, bit 30 never
 * reaching VHOST_SET_FEATURES, and no ring change while the backend is
 * attached. Every connection must end with its device closed and as many
 * descriptors open as before it.
 */
#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "unit.h"
#include "vu.h"
#include "vub.h"

#define NQ		2
#define RING		16
#define MEM_SIZE	(2u << 20)
#define HIGH_GPA	0x100000000ull
#define MARK		0xfeedfacec0de0000ull
#define FAKE_SECTORS	4096

/* ------------------------------------------------------------------------
 * The fake device
 */

struct fake_ring {
	uint32_t num, base;
	struct vhost_vring_addr addr;
	bool kick;
	unsigned int worker;	/* VHOST_ATTACH_VRING_WORKER's; 0: the device's */
};

struct fake_k {
	int opens, closes;
	bool owner, attached;
	unsigned int attaches, detaches;
	uint64_t features;
	struct vhost_memory_region mem[VUB_MAX_SLOTS];
	unsigned int nmem;
	struct fake_ring ring[VHOST_BLK_MAX_QUEUES];
	uint32_t writeback;
	uint8_t serial[VHOST_BLK_SERIAL_LEN];
	uint64_t log_base;	/* VHOST_SET_LOG_BASE's address */
	bool log_fd;		/* VHOST_SET_LOG_FD got an open fd */
	unsigned int workers;	/* VHOST_NEW_WORKER's (ids 100, 101, ...) */
	int worker_err;		/* its answer when set by the test */
	uint64_t capacity;	/* VHOST_BLK_RESIZE's: set by the test (atomic) */
	unsigned int resizes;	/* (atomic) */
	char bad[256];		/* the first objection */
};

static void objection(struct fake_k *f, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void objection(struct fake_k *f, const char *fmt, ...)
{
	va_list ap;

	if (f->bad[0])
		return;
	va_start(ap, fmt);
	vsnprintf(f->bad, sizeof(f->bad), fmt, ap);
	va_end(ap);
}

static int fake_open(void *ctx, const char *path)
{
	struct fake_k *f = ctx;
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

	(void)path;
	f->opens++;
	f->owner = f->attached = false;
	f->nmem = 0;
	f->workers = 0;
	memset(f->ring, 0, sizeof(f->ring));
	return fd < 0 ? -errno : fd;
}

static void fake_close(void *ctx, int fd)
{
	struct fake_k *f = ctx;

	f->closes++;
	f->attached = false;
	close(fd);
}

/* Is [p, p + len) inside the memory table the daemon gave? */
static bool in_table(const struct fake_k *f, uint64_t p, uint64_t len)
{
	unsigned int i;

	for (i = 0; i < f->nmem; i++)
		if (p >= f->mem[i].userspace_addr &&
		    p + len <= f->mem[i].userspace_addr + f->mem[i].memory_size)
			return true;
	return false;
}

static void fake_attach(struct fake_k *f)
{
	unsigned int q;

	for (q = 0; q < VHOST_BLK_MAX_QUEUES; q++) {
		const struct fake_ring *r = &f->ring[q];
		uint64_t mark;

		if (!r->addr.desc_user_addr || !f->nmem)
			continue;	/* not set up; or the probe's ring */
		if (!in_table(f, r->addr.desc_user_addr, 16 * r->num) ||
		    !in_table(f, r->addr.avail_user_addr, 6 + 2 * r->num) ||
		    !in_table(f, r->addr.used_user_addr, 6 + 8 * r->num)) {
			objection(f, "ring %u: addresses outside the memory table", q);
			continue;
		}
		memcpy(&mark, (void *)(uintptr_t)r->addr.desc_user_addr,
		       sizeof(mark));
		if (mark != (MARK | q))
			objection(f, "ring %u: the descriptor table holds %#llx, not the front-end's mark",
				  q, (unsigned long long)mark);
		if (!r->kick)
			objection(f, "ring %u attached without a kick", q);
	}
}

static int fake_ioctl(void *ctx, int fd, unsigned long req, void *arg)
{
	struct fake_k *f = ctx;
	struct vhost_vring_state *s = arg;
	struct vhost_vring_file *vf = arg;
	struct vhost_blk_backend *b = arg;
	struct vhost_blk_config *c = arg;
	struct vhost_memory *m = arg;
	uint64_t *u = arg;

	(void)fd;
	if (req != VHOST_SET_OWNER && req != VHOST_GET_FEATURES && !f->owner)
		objection(f, "ioctl %#lx before VHOST_SET_OWNER", req);
	switch (req) {
	case VHOST_SET_OWNER:
		if (f->owner)
			return -EBUSY;
		f->owner = true;
		return 0;
	case VHOST_GET_FEATURES:
		*u = VBLK_F(VIRTIO_F_VERSION_1) | VBLK_F(VIRTIO_RING_F_EVENT_IDX) |
		     VBLK_F(VIRTIO_RING_F_INDIRECT_DESC) |
		     VBLK_F(VIRTIO_BLK_F_FLUSH) | VBLK_F(VIRTIO_BLK_F_BLK_SIZE) |
		     VBLK_F(VIRTIO_BLK_F_MQ) | VBLK_F(VIRTIO_BLK_F_DISCARD) |
		     VBLK_F(VIRTIO_BLK_F_WRITE_ZEROES) | VBLK_F(VIRTIO_BLK_F_RO) |
		     VBLK_F(VIRTIO_BLK_F_CONFIG_WCE) | VBLK_F(VHOST_F_LOG_ALL);
		return 0;
	case VHOST_SET_FEATURES:
		if (*u & VBLK_F(VUB_F_PROTOCOL_FEATURES))
			objection(f, "VHOST_SET_FEATURES got bit 30");
		f->features = *u;
		return 0;
	case VHOST_SET_MEM_TABLE:
		if (m->nregions > VUB_MAX_SLOTS)
			return -E2BIG;
		f->nmem = m->nregions;
		memcpy(f->mem, m->regions, m->nregions * sizeof(m->regions[0]));
		return 0;
	case VHOST_SET_VRING_NUM:
	case VHOST_SET_VRING_BASE:
	case VHOST_GET_VRING_BASE:
		if (s->index >= VHOST_BLK_MAX_QUEUES)
			return -ENOBUFS;
		if (req == VHOST_GET_VRING_BASE) {
			s->num = f->ring[s->index].base + 7;	/* it moved on */
			return 0;
		}
		if (f->attached)
			objection(f, "ring %u changed while attached", s->index);
		if (req == VHOST_SET_VRING_NUM)
			f->ring[s->index].num = s->num;
		else
			f->ring[s->index].base = s->num;
		return 0;
	case VHOST_SET_VRING_ADDR:
		if (f->attached)
			objection(f, "ring address changed while attached");
		f->ring[((struct vhost_vring_addr *)arg)->index].addr =
			*(struct vhost_vring_addr *)arg;
		return 0;
	case VHOST_SET_VRING_KICK:
	case VHOST_SET_VRING_CALL:
	case VHOST_SET_VRING_ERR:
		if (vf->fd >= 0 && fcntl(vf->fd, F_GETFD) < 0)
			objection(f, "ioctl %#lx: fd %d is not open", req, vf->fd);
		if (req == VHOST_SET_VRING_KICK) {
			if (f->attached)
				objection(f, "kick changed while attached");
			f->ring[vf->index].kick = vf->fd >= 0;
		}
		return 0;
	case VHOST_BLK_SET_BACKEND:
		if (b->fd < 0) {
			f->attached = false;
			f->detaches++;
			return 0;
		}
		fake_attach(f);
		f->attached = true;
		f->attaches++;
		return 0;
	case VHOST_BLK_GET_CONFIG:
		memset(c, 0, sizeof(*c));
		c->capacity = FAKE_SECTORS;
		c->logical_block_size = 512;
		c->physical_block_size = 4096;
		c->max_segments = 126;
		c->max_segment_size = 65536;
		c->max_discard_sectors = 8192;
		c->max_discard_seg = 1;
		c->max_write_zeroes_sectors = 0;
		c->num_queues = VHOST_BLK_MAX_QUEUES;
		c->writeback = f->writeback;
		return 0;
	case VHOST_SET_LOG_BASE:
		f->log_base = *u;
		return 0;
	case VHOST_SET_LOG_FD:
		f->log_fd = *(int *)arg >= 0 && fcntl(*(int *)arg, F_GETFD) >= 0;
		return 0;
	case VHOST_BLK_RESIZE:
		__atomic_add_fetch(&f->resizes, 1, __ATOMIC_SEQ_CST);
		if (!f->attached)
			objection(f, "VHOST_BLK_RESIZE without a backend");
		*u = f->attached ?
		     __atomic_load_n(&f->capacity, __ATOMIC_SEQ_CST) : 0;
		return 0;
	case VHOST_BLK_SET_SERIAL:
		memcpy(f->serial, ((struct vhost_blk_serial *)arg)->id,
		       sizeof(f->serial));
		return 0;
	case VHOST_BLK_SET_WRITEBACK:
		f->writeback = *(uint32_t *)arg;
		return 0;
	case VUB_NEW_WORKER:
		if (f->worker_err)
			return f->worker_err;
		((struct vub_worker_state *)arg)->worker_id = 100 + f->workers++;
		return 0;
	case VUB_ATTACH_VRING_WORKER: {
		struct vub_vring_worker *w = arg;

		if (w->index >= VHOST_BLK_MAX_QUEUES || w->worker_id < 100 ||
		    w->worker_id >= 100 + f->workers)
			return -EINVAL;
		f->ring[w->index].worker = w->worker_id;
		return 0;
	}
	default:
		return -ENOTTY;
	}
}

static const struct vub_kops fake_kops = {
	.open = fake_open, .ioctl = fake_ioctl, .close = fake_close,
};

/* ------------------------------------------------------------------------
 * The daemon in a thread, the front-end here
 */

struct env {
	struct fake_k fk;
	struct vub_opts o;
	struct vub_dev d;
	struct vub_conn c;
	int sv[2];
	int ret;
	pthread_t th;
	int fds_before;
	/* front-end memory */
	int memfd;
	uint8_t *mem;
	int kick[NQ], call[NQ];
};

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1;	/* the directory's own */
}

static void *serve(void *arg)
{
	struct env *e = arg;

	e->ret = vub_serve(&e->d, e->sv[1], &e->c);
	close(e->sv[1]);	/* as main.c does */
	return NULL;
}

static int env_init(struct ut *t, struct env *e)
{
	char why[300];
	int bfd;

	memset(e, 0, sizeof(*e));
	e->memfd = -1;
	e->o.num_queues = NQ;
	e->o.dev = "/dev/vhost-blk";
	e->o.socket = "(socketpair)";
	e->o.backend = "(memfd)";
	e->o.serial = "bridge-serial";
	e->d.opts = &e->o;
	e->d.k = &fake_kops;
	e->d.kctx = &e->fk;
	e->fk.writeback = 1;
	e->fk.capacity = FAKE_SECTORS;
	e->d.resize_ms = 20;
	bfd = memfd_create("disk", MFD_CLOEXEC);
	CHECK(t, bfd >= 0, "memfd");
	e->d.backend_fd = bfd;
	CHECK(t, !vub_probe(e->d.k, e->d.kctx, &e->o, bfd, &e->d.probe, why,
			    sizeof(why)), "probe: %s", why);
	CHECK(t, e->fk.opens == 1 && e->fk.closes == 1 && !e->fk.attached,
	      "the probe's device: %d opens, %d closes, attached %d",
	      e->fk.opens, e->fk.closes, e->fk.attached);
	return 0;
}

/* The front-end's guest memory and eventfds (outside the fd count). */
static int fe_mem(struct ut *t, struct env *e)
{
	unsigned int q;

	e->memfd = memfd_create("guest", MFD_CLOEXEC);
	CHECK(t, e->memfd >= 0 && !ftruncate(e->memfd, MEM_SIZE), "memfd");
	e->mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
		      e->memfd, 0);
	CHECK(t, e->mem != MAP_FAILED, "mmap");
	for (q = 0; q < NQ; q++) {
		uint64_t mark = MARK | q;

		e->kick[q] = eventfd(0, EFD_CLOEXEC);
		e->call[q] = eventfd(0, EFD_CLOEXEC);
		CHECK(t, e->kick[q] >= 0 && e->call[q] >= 0, "eventfd");
		/* Ring q's descriptor table: in region 1, at 64 KiB * (q + 1) */
		memcpy(e->mem + MEM_SIZE / 2 + 65536 * (q + 1), &mark,
		       sizeof(mark));
	}
	return 0;
}

static void fe_mem_free(struct env *e)
{
	unsigned int q;

	for (q = 0; q < NQ; q++) {
		close(e->kick[q]);
		close(e->call[q]);
	}
	if (e->mem)
		munmap(e->mem, MEM_SIZE);
	if (e->memfd >= 0)
		close(e->memfd);
}

static int conn_start(struct ut *t, struct env *e)
{
	e->fds_before = count_fds();
	CHECK(t, !socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, e->sv),
	      "socketpair");
	CHECK(t, !pthread_create(&e->th, NULL, serve, e), "pthread_create");
	return 0;
}

/* The front-end hangs up (if it has not); the daemon must let go of all. */
static int conn_end(struct ut *t, struct env *e, int want_ret,
		    const char *want_why)
{
	int fds;

	shutdown(e->sv[0], SHUT_RDWR);
	pthread_join(e->th, NULL);
	close(e->sv[0]);
	CHECK(t, e->ret == want_ret, "vub_serve gave %d, expected %d (%s)",
	      e->ret, want_ret, e->c.why);
	if (want_why)
		CHECK(t, strstr(e->c.why, want_why),
		      "the reason '%s' does not say '%s'", e->c.why, want_why);
	CHECK(t, !e->fk.bad[0], "the fake device objected: %s", e->fk.bad);
	CHECK(t, e->fk.opens == e->fk.closes && !e->fk.attached,
	      "device: %d opens, %d closes, attached %d", e->fk.opens,
	      e->fk.closes, e->fk.attached);
	fds = count_fds();
	CHECK(t, fds == e->fds_before, "%d descriptors open, %d before the connection",
	      fds, e->fds_before);
	return 0;
}

/* Send a message; with @r, read its answer (checked as an answer). */
static int fe_call(struct ut *t, struct env *e, uint32_t req, uint32_t flags,
		   const void *payload, uint32_t size, const int *fds,
		   unsigned int nfds, struct vu_msg *r)
{
	struct vu_msg m = { .hdr = { .request = req, .size = size,
				     .flags = VU_VERSION | flags } };
	int ret;

	if (size)
		memcpy(&m.p, payload, size);
	if (nfds)
		memcpy(m.fds, fds, nfds * sizeof(int));
	m.nfds = nfds;
	ret = vu_msg_send(e->sv[0], &m);
	CHECK(t, !ret, "sending request %u: %s (daemon: %s)", req,
	      strerror(-ret), e->c.why);
	if (!r)
		return 0;
	ret = vu_msg_recv(e->sv[0], r);
	CHECK(t, !ret, "no answer to request %u: %s (daemon: %s)", req,
	      strerror(-ret), e->c.why);
	CHECK(t, r->hdr.request == req && r->hdr.flags == (VU_VERSION | VU_FLAG_REPLY) &&
	      !r->nfds, "answer to %u: request %u flags %#x fds %u", req,
	      r->hdr.request, r->hdr.flags, r->nfds);
	return 0;
}

static int fe_u64(struct ut *t, struct env *e, uint32_t req, bool ack,
		  uint64_t v, int fd)
{
	struct vu_msg r;

	if (fe_call(t, e, req, ack ? VU_FLAG_NEED_REPLY : 0, &v, 8, &fd,
		    fd >= 0, ack ? &r : NULL))
		return 1;
	if (ack)
		CHECK(t, r.hdr.size == 8 && r.p.u64 == 0,
		      "request %u acknowledged with size %u, status %llu",
		      req, r.hdr.size, (unsigned long long)r.p.u64);
	return 0;
}

static int fe_get(struct ut *t, struct env *e, uint32_t req, uint64_t *v)
{
	struct vu_msg r;

	if (fe_call(t, e, req, 0, NULL, 0, NULL, 0, &r))
		return 1;
	CHECK(t, r.hdr.size == 8, "answer to %u: %u bytes", req, r.hdr.size);
	*v = r.p.u64;
	return 0;
}

static int fe_state(struct ut *t, struct env *e, uint32_t req, uint32_t index,
		    uint32_t num)
{
	struct vu_vring_state s = { .index = index, .num = num };
	struct vu_msg r;

	if (fe_call(t, e, req, VU_FLAG_NEED_REPLY, &s, sizeof(s), NULL, 0, &r))
		return 1;
	CHECK(t, r.hdr.size == 8 && !r.p.u64, "request %u ring %u: ack %llu",
	      req, index, (unsigned long long)r.p.u64);
	return 0;
}

#define VU_SET_CONFIG	25
#define VU_SET_STATUS	39
#define VU_GET_STATUS	40
#define PROTO_ACKED	(VBLK_F(VU_PROTO_F_MQ) | VBLK_F(VU_PROTO_F_REPLY_ACK) | \
			 VBLK_F(VU_PROTO_F_CONFIG) | VBLK_F(16))

/* The regions: the memfd's two halves, at gpa 0 and at 4 GiB. */
static void fe_table(struct env *e, struct vu_mem_table *mt)
{
	memset(mt, 0, sizeof(*mt));
	mt->nregions = 2;
	mt->r[0].gpa = 0;
	mt->r[0].size = MEM_SIZE / 2;
	mt->r[0].uva = (uintptr_t)e->mem;
	mt->r[0].mmap_offset = 0;
	mt->r[1].gpa = HIGH_GPA;
	mt->r[1].size = MEM_SIZE / 2;
	mt->r[1].uva = (uintptr_t)e->mem + MEM_SIZE / 2;
	mt->r[1].mmap_offset = MEM_SIZE / 2;
}

static struct vu_vring_addr ring_addr(struct env *e, unsigned int q)
{
	uintptr_t d = (uintptr_t)e->mem + MEM_SIZE / 2 + 65536 * (q + 1);
	struct vu_vring_addr a = {
		.index = q, .desc = d, .avail = d + 16 * RING,
		.used = d + 4096, .log = HIGH_GPA + 65536 * (q + 1) + 4096,
	};

	return a;
}

/*
 * What QEMU 10's vhost-user-blk-pci sends when it connects: at -device
 * (realize) with GET_CONFIG at the end (@config); when it reconnects
 * (vhost_user_blk_connect) without.
 */
static int fe_connect(struct ut *t, struct env *e, bool config)
{
	struct vu_msg r;
	struct vu_config cq = { .offset = 0, .size = 60 };
	uint64_t v;
	unsigned int q;

	if (fe_get(t, e, VU_GET_FEATURES, &v))
		return 1;
	CHECK(t, v & VBLK_F(VU_F_PROTOCOL_FEATURES), "features %#llx",
	      (unsigned long long)v);
	CHECK(t, (v & VBLK_F(VHOST_F_LOG_ALL)) &&
	      !(v & VBLK_F(VIRTIO_BLK_F_RO)) &&
	      !(v & VBLK_F(VIRTIO_BLK_F_WRITE_ZEROES)) &&
	      (v & VBLK_F(VIRTIO_BLK_F_DISCARD)) && (v & VBLK_F(VIRTIO_BLK_F_MQ)),
	      "offered %#llx: RO, WRITE_ZEROES must be off, LOG_ALL (the fake offers it), DISCARD and MQ on",
	      (unsigned long long)v);
	if (fe_get(t, e, VU_GET_PROTOCOL_FEATURES, &v))
		return 1;
	CHECK(t, (v & PROTO_ACKED) == PROTO_ACKED && (v & VBLK_F(1)) &&
	      !(v & VBLK_F(12)) && (v & VBLK_F(15)),
	      "protocol features %#llx", (unsigned long long)v);
	if (fe_u64(t, e, VU_SET_PROTOCOL_FEATURES, false, PROTO_ACKED, -1) ||
	    fe_get(t, e, VU_GET_QUEUE_NUM, &v))
		return 1;
	CHECK(t, v == NQ, "%llu queues", (unsigned long long)v);
	if (fe_call(t, e, VU_SET_OWNER, VU_FLAG_NEED_REPLY, NULL, 0, NULL, 0,
		    &r))
		return 1;
	CHECK(t, r.hdr.size == 8 && !r.p.u64, "SET_OWNER ack");
	if (fe_get(t, e, VU_GET_FEATURES, &v))
		return 1;
	for (q = 0; q < NQ; q++)
		if (fe_u64(t, e, VU_SET_VRING_CALL, true, q, e->call[q]))
			return 1;
	for (q = 0; q < NQ; q++)
		if (fe_u64(t, e, VU_SET_VRING_ERR, true, q | VU_VRING_NOFD, -1))
			return 1;
	if (!config)
		return 0;
	if (fe_call(t, e, VU_GET_CONFIG, 0, &cq, VU_SIZE_CONFIG(60), NULL, 0,
		    &r))
		return 1;
	{
		struct virtio_blk_config c;

		CHECK(t, r.hdr.size == VU_SIZE_CONFIG(60) && r.p.cfg.size == 60,
		      "GET_CONFIG answer: %u bytes", r.hdr.size);
		memcpy(&c, r.p.cfg.data, sizeof(c) < 60 ? sizeof(c) : 60);
		CHECK(t, le64toh(c.capacity) == FAKE_SECTORS &&
		      le32toh(c.blk_size) == 512 && c.physical_block_exp == 3 &&
		      le32toh(c.seg_max) == 126 && le32toh(c.size_max) == 65536 &&
		      le16toh(c.num_queues) == NQ && c.wce == 1 &&
		      le32toh(c.max_discard_sectors) == 8192,
		      "config: capacity %llu, blk %u, exp %u, seg_max %u, queues %u, wce %u",
		      (unsigned long long)le64toh(c.capacity),
		      le32toh(c.blk_size), c.physical_block_exp,
		      le32toh(c.seg_max), le16toh(c.num_queues), c.wce);
	}
	CHECK(t, !memcmp(e->fk.serial, "bridge-serial", 13), "serial not set");
	return 0;
}

static int fe_realize(struct ut *t, struct env *e)
{
	return fe_connect(t, e, true);
}

/* Start: features, memory, rings, enable, status. */
static int fe_start(struct ut *t, struct env *e, uint32_t base)
{
	uint64_t f = VBLK_F(VIRTIO_F_VERSION_1) | VBLK_F(VIRTIO_RING_F_EVENT_IDX) |
		     VBLK_F(VIRTIO_BLK_F_FLUSH) | VBLK_F(VIRTIO_BLK_F_MQ) |
		     VBLK_F(VU_F_PROTOCOL_FEATURES);
	struct vu_mem_table mt;
	int fds[2] = { e->memfd, e->memfd };
	struct vu_msg r;
	unsigned int q;

	fe_table(e, &mt);
	if (fe_u64(t, e, VU_SET_FEATURES, true, f, -1) ||
	    fe_u64(t, e, VU_SET_FEATURES, true, f, -1))
		return 1;
	CHECK(t, e->fk.features == (f & ~VBLK_F(VU_F_PROTOCOL_FEATURES)),
	      "kernel features %#llx", (unsigned long long)e->fk.features);
	if (fe_call(t, e, VU_SET_MEM_TABLE, VU_FLAG_NEED_REPLY, &mt,
		    VU_SIZE_MEM(2), fds, 2, &r))
		return 1;
	CHECK(t, e->fk.nmem == 2 && e->fk.mem[1].guest_phys_addr == HIGH_GPA &&
	      e->fk.mem[1].userspace_addr != (uintptr_t)e->mem + MEM_SIZE / 2,
	      "kernel memory table: %u regions, gpa %#llx", e->fk.nmem,
	      (unsigned long long)e->fk.mem[1].guest_phys_addr);
	/* Our memory, seen through the daemon's mapping of region 1. */
	e->mem[MEM_SIZE / 2 + 100] = 0x77;
	CHECK(t, ((uint8_t *)(uintptr_t)e->fk.mem[1].userspace_addr)[100] == 0x77,
	      "the daemon's mapping of region 1 shows other bytes");
	for (q = 0; q < NQ; q++) {
		struct vu_vring_addr a = ring_addr(e, q);

		if (fe_state(t, e, VU_SET_VRING_NUM, q, RING) ||
		    fe_state(t, e, VU_SET_VRING_BASE, q, base) ||
		    fe_call(t, e, VU_SET_VRING_ADDR, VU_FLAG_NEED_REPLY, &a,
			    sizeof(a), NULL, 0, &r) ||
		    fe_u64(t, e, VU_SET_VRING_KICK, true, q, e->kick[q]) ||
		    fe_u64(t, e, VU_SET_VRING_CALL, true, q, e->call[q]))
			return 1;
		CHECK(t, r.p.u64 == 0, "SET_VRING_ADDR refused");
		CHECK(t, !e->fk.attached, "attached before SET_VRING_ENABLE");
	}
	for (q = 0; q < NQ; q++)
		if (fe_state(t, e, VU_SET_VRING_ENABLE, q, 1))
			return 1;
	if (fe_u64(t, e, VU_SET_STATUS, true, 0xf, -1))
		return 1;
	CHECK(t, e->fk.attached, "not attached after the start");
	CHECK(t, !e->fk.bad[0], "the fake device objected: %s", e->fk.bad);
	for (q = 0; q < NQ; q++) {
		const struct fake_ring *fr = &e->fk.ring[q];
		struct vu_vring_addr a = ring_addr(e, q);

		CHECK(t, fr->num == RING && fr->base == base && fr->kick &&
		      fr->addr.log_guest_addr == a.log &&
		      fr->addr.avail_user_addr - fr->addr.desc_user_addr == 16 * RING &&
		      fr->addr.used_user_addr - fr->addr.desc_user_addr == 4096,
		      "ring %u in the kernel: num %u, base %u, kick %d, log %#llx",
		      q, fr->num, fr->base, fr->kick,
		      (unsigned long long)fr->addr.log_guest_addr);
	}
	return 0;
}

/* Stop: disable, status 0, GET_VRING_BASE each ring. */
static int fe_stop(struct ut *t, struct env *e, uint32_t base)
{
	struct vu_vring_state s;
	struct vu_msg r;
	unsigned int q;
	uint64_t v;

	for (q = 0; q < NQ; q++)
		if (fe_state(t, e, VU_SET_VRING_ENABLE, q, 0))
			return 1;
	if (fe_u64(t, e, VU_SET_STATUS, true, 0, -1))
		return 1;
	CHECK(t, !e->fk.attached, "still attached with every ring disabled");
	for (q = 0; q < NQ; q++) {
		s.index = q;
		s.num = 0;
		if (fe_call(t, e, VU_GET_VRING_BASE, 0, &s, sizeof(s), NULL, 0, &r))
			return 1;
		CHECK(t, r.hdr.size == 8 && r.p.state.index == q &&
		      r.p.state.num == base + 7, "GET_VRING_BASE %u: %u bytes, index %u, num %u",
		      q, r.hdr.size, r.p.state.index, r.p.state.num);
		CHECK(t, !e->fk.attached && !e->fk.ring[q].kick &&
		      !e->fk.ring[q].addr.desc_user_addr,
		      "ring %u still in the kernel after GET_VRING_BASE", q);
	}
	if (fe_get(t, e, VU_GET_STATUS, &v))
		return 1;
	CHECK(t, v == 0, "status %llu", (unsigned long long)v);
	return 0;
}

static int t_bridge_qemu_sequence(struct ut *t)
{
	struct env e;
	unsigned int detaches;
	struct {
		struct vu_config c;
	} sc = { { .offset = offsetof(struct virtio_blk_config, wce),
		   .size = 1 } };
	struct vu_msg r;

	if (env_init(t, &e) || fe_mem(t, &e) || conn_start(t, &e) ||
	    fe_realize(t, &e) || fe_start(t, &e, 0))
		return 1;
	/* A vhost worker a queue, given at SET_OWNER. */
	CHECK(t, e.fk.workers == NQ && e.fk.ring[0].worker == 100 &&
	      e.fk.ring[1].worker == 101, "%u workers, ring 0's %u, ring 1's %u",
	      e.fk.workers, e.fk.ring[0].worker, e.fk.ring[1].worker);
	/* The guest turns the write cache off. */
	sc.c.data[0] = 0;
	if (fe_call(t, &e, VU_SET_CONFIG, VU_FLAG_NEED_REPLY, &sc.c,
		    VU_SIZE_CONFIG(1), NULL, 0, &r))
		return 1;
	CHECK(t, r.hdr.size == 8 && !r.p.u64 && e.fk.writeback == 0,
	      "SET_CONFIG wce=0: ack %llu, kernel writeback %u",
	      (unsigned long long)r.p.u64, e.fk.writeback);
	detaches = e.fk.detaches;
	if (fe_stop(t, &e, 0))
		return 1;
	CHECK(t, e.fk.detaches > detaches, "no detach at stop");
	/* A reboot: the rings start again where they stopped. */
	if (fe_start(t, &e, 7) || fe_stop(t, &e, 7) || fe_start(t, &e, 14))
		return 1;
	/* Memory hotplug while the rings run: a third region; the rings move
	 * to the new mappings (the fake checks them at the attach). */
	{
		struct vu_mem_table mt;
		uint64_t old_desc = e.fk.ring[0].addr.desc_user_addr;
		int extra = memfd_create("hotplug", MFD_CLOEXEC);
		uint8_t *x;
		int fds[3];

		CHECK(t, extra >= 0 && !ftruncate(extra, 1 << 20), "memfd");
		x = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_SHARED,
			 extra, 0);
		CHECK(t, x != MAP_FAILED, "mmap");
		fe_table(&e, &mt);
		mt.nregions = 3;
		mt.r[2].gpa = 2 * HIGH_GPA;
		mt.r[2].size = 1 << 20;
		mt.r[2].uva = (uintptr_t)x;
		fds[0] = fds[1] = e.memfd;
		fds[2] = extra;
		detaches = e.fk.detaches;
		if (fe_call(t, &e, VU_SET_MEM_TABLE, VU_FLAG_NEED_REPLY, &mt,
			    VU_SIZE_MEM(3), fds, 3, &r))
			return 1;
		CHECK(t, r.hdr.size == 8 && !r.p.u64 && e.fk.nmem == 3 &&
		      e.fk.attached && e.fk.detaches == detaches + 1 &&
		      e.fk.ring[0].addr.desc_user_addr != old_desc,
		      "after the new table: ack %llu, %u regions, attached %d, %u detaches, ring 0 moved %d",
		      (unsigned long long)r.p.u64, e.fk.nmem, e.fk.attached,
		      e.fk.detaches - detaches,
		      e.fk.ring[0].addr.desc_user_addr != old_desc);
		CHECK(t, !e.fk.bad[0], "the fake device objected: %s", e.fk.bad);
		munmap(x, 1 << 20);
		close(extra);
	}
	/* One ring stopped while the other runs: drained, then the other
	 * alone attached again. */
	{
		struct vu_vring_state s = { .index = 1 };

		detaches = e.fk.detaches;
		if (fe_call(t, &e, VU_GET_VRING_BASE, 0, &s, sizeof(s), NULL, 0,
			    &r))
			return 1;
		CHECK(t, r.p.state.num == 21 && e.fk.detaches == detaches + 1 &&
		      e.fk.attached && !e.fk.ring[1].kick &&
		      !e.fk.ring[1].addr.desc_user_addr && e.fk.ring[0].kick,
		      "GET_VRING_BASE of ring 1 alone: num %u, %u detaches, attached %d, ring 1 kick %d",
		      r.p.state.num, e.fk.detaches - detaches, e.fk.attached,
		      e.fk.ring[1].kick);
	}
	if (conn_end(t, &e, 0, NULL))
		return 1;
	/* QEMU reconnects: a new connection, the whole sequence again. */
	if (conn_start(t, &e) || fe_realize(t, &e) || fe_start(t, &e, 21) ||
	    conn_end(t, &e, 0, NULL))
		return 1;
	fe_mem_free(&e);
	close(e.d.backend_fd);
	return 0;
}

/* One malformed conversation: its steps, then the reason expected. */
struct bad_case {
	const char *name;
	const char *why;
	int (*fn)(struct ut *t, struct env *e);
};

static int raw_send(struct env *e, const void *buf, size_t len, const int *fds,
		    unsigned int nfds)
{
	union {
		char b[CMSG_SPACE(16 * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { (void *)buf, len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *c;

	if (nfds) {
		memset(&ctl, 0, sizeof(ctl));
		mh.msg_control = ctl.b;
		mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
	}
	return sendmsg(e->sv[0], &mh, MSG_NOSIGNAL) == (ssize_t)len ? 0 : -1;
}

static int bad_short(struct ut *t, struct env *e)
{
	struct { struct vu_hdr h; uint32_t half; } __attribute__((packed)) m = {
		{ VU_SET_FEATURES, VU_VERSION, 8 }, 0 };

	CHECK(t, !raw_send(e, &m, sizeof(m), NULL, 0), "send");
	return 0;	/* and hang up */
}

static int bad_oversized(struct ut *t, struct env *e)
{
	struct vu_hdr h = { VU_SET_MEM_TABLE, VU_VERSION, 1u << 20 };

	CHECK(t, !raw_send(e, &h, sizeof(h), NULL, 0), "send");
	return 0;
}

static int bad_size(struct ut *t, struct env *e)
{
	uint32_t v = 1;

	return fe_call(t, e, VU_SET_FEATURES, 0, &v, 4, NULL, 0, NULL);
}

static int bad_many_fds(struct ut *t, struct env *e)
{
	struct { struct vu_hdr h; uint64_t v; } __attribute__((packed)) m = {
		{ VU_SET_VRING_CALL, VU_VERSION, 8 }, 0 };
	int fds[12], i;

	for (i = 0; i < 12; i++)
		fds[i] = e->call[0];
	CHECK(t, !raw_send(e, &m, sizeof(m), fds, 12), "send");
	return 0;
}

static int bad_fd_on_get(struct ut *t, struct env *e)
{
	return fe_call(t, e, VU_GET_FEATURES, 0, NULL, 0, &e->kick[0], 1, NULL);
}

static int bad_flags(struct ut *t, struct env *e)
{
	return fe_call(t, e, VU_GET_FEATURES, VU_FLAG_REPLY, NULL, 0, NULL, 0,
		       NULL);
}

static int owner(struct ut *t, struct env *e)
{
	return fe_u64(t, e, VU_SET_PROTOCOL_FEATURES, false, PROTO_ACKED, -1) ||
	       fe_call(t, e, VU_SET_OWNER, 0, NULL, 0, NULL, 0, NULL);
}

static int bad_overlap(struct ut *t, struct env *e)
{
	struct vu_mem_table mt;
	int fds[2] = { e->memfd, e->memfd };

	fe_table(e, &mt);
	mt.r[1].gpa = MEM_SIZE / 4;
	return owner(t, e) ||
	       fe_call(t, e, VU_SET_MEM_TABLE, 0, &mt, VU_SIZE_MEM(2), fds, 2,
		       NULL);
}

static int mem_and_num(struct ut *t, struct env *e)
{
	struct vu_mem_table mt;
	int fds[2] = { e->memfd, e->memfd };

	fe_table(e, &mt);
	return owner(t, e) ||
	       fe_call(t, e, VU_SET_MEM_TABLE, 0, &mt, VU_SIZE_MEM(2), fds, 2,
		       NULL) ||
	       fe_state(t, e, VU_SET_VRING_NUM, 0, RING);
}

static int bad_ring_outside(struct ut *t, struct env *e)
{
	struct vu_vring_addr a = ring_addr(e, 0);

	a.used = (uintptr_t)e->mem + MEM_SIZE - 8;	/* runs off the end */
	return mem_and_num(t, e) ||
	       fe_call(t, e, VU_SET_VRING_ADDR, 0, &a, sizeof(a), NULL, 0, NULL);
}

static int bad_kick_early(struct ut *t, struct env *e)
{
	return owner(t, e) ||
	       fe_u64(t, e, VU_SET_VRING_KICK, false, 0, e->kick[0]);
}

static int bad_base_unstarted(struct ut *t, struct env *e)
{
	struct vu_vring_state s = { .index = 1 };

	return mem_and_num(t, e) ||
	       fe_call(t, e, VU_GET_VRING_BASE, 0, &s, sizeof(s), NULL, 0, NULL);
}

static int bad_index(struct ut *t, struct env *e)
{
	struct vu_vring_state s = { .index = NQ, .num = RING };

	return owner(t, e) ||
	       fe_call(t, e, VU_SET_VRING_NUM, 0, &s, sizeof(s), NULL, 0, NULL);
}

static int bad_unknown(struct ut *t, struct env *e)
{
	return fe_call(t, e, 31 /* GET_INFLIGHT_FD */, 0, NULL, 0, NULL, 0,
		       NULL);
}

static int bad_owner_twice(struct ut *t, struct env *e)
{
	return owner(t, e) ||
	       fe_call(t, e, VU_SET_OWNER, 0, NULL, 0, NULL, 0, NULL);
}

/* Started rings, then a new table that leaves them outside. */
static int bad_table_moves(struct ut *t, struct env *e)
{
	struct vu_mem_table mt;
	int fds[1] = { e->memfd };

	if (fe_realize(t, e) || fe_start(t, e, 0))
		return 1;
	fe_table(e, &mt);
	mt.nregions = 1;
	return fe_call(t, e, VU_SET_MEM_TABLE, 0, &mt, VU_SIZE_MEM(1), fds, 1,
		       NULL);
}

#define VU_SET_LOG_BASE		6
#define VU_SET_LOG_FD		7
#define VU_PROTO_F_LOG_SHMFD	1
#define LOG_OFF			4096u
/* One bit a 4 KiB page up to HIGH_GPA + MEM_SIZE / 2, and some. */
#define LOG_SIZE		((HIGH_GPA + MEM_SIZE) / 4096 / 8)

struct vu_log {
	uint64_t size;
	uint64_t offset;
};

/* A log memfd of LOG_OFF + @size bytes named @name, or -1. */
static int log_memfd(const char *name, uint64_t size)
{
	int fd = memfd_create(name, MFD_CLOEXEC);

	if (fd >= 0 && ftruncate(fd, (off_t)(LOG_OFF + size))) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* SET_LOG_BASE of [LOG_OFF, LOG_OFF + @size) of a new memfd; @r: the answer. */
static int fe_log_base(struct ut *t, struct env *e, const char *name,
		       uint64_t size, uint64_t file_size, struct vu_msg *r)
{
	struct vu_log l = { .size = size, .offset = LOG_OFF };
	int fd = log_memfd(name, file_size), ret;

	CHECK(t, fd >= 0, "log memfd");
	ret = fe_call(t, e, VU_SET_LOG_BASE, 0, &l, sizeof(l), &fd, 1, r);
	close(fd);
	return ret;
}

/* Mappings of memfd @name in this process. */
static int maps_of(const char *name)
{
	char line[512], pat[64];
	FILE *f = fopen("/proc/self/maps", "r");
	int n = 0;

	if (!f)
		return -1;
	snprintf(pat, sizeof(pat), "/memfd:%s ", name);
	while (fgets(line, sizeof(line), f))
		n += !!strstr(line, pat);
	fclose(f);
	return n;
}

static int bad_log_size(struct ut *t, struct env *e)
{
	uint64_t v = 4096;
	int fd = log_memfd("badlog", 4096);

	CHECK(t, fd >= 0, "memfd");
	if (owner(t, e) ||
	    fe_u64(t, e, VU_SET_PROTOCOL_FEATURES, false,
		   PROTO_ACKED | VBLK_F(VU_PROTO_F_LOG_SHMFD), -1) ||
	    fe_call(t, e, VU_SET_LOG_BASE, 0, &v, 8, &fd, 1, NULL))
		return close(fd), 1;
	close(fd);
	return 0;
}

static int bad_log_unacked(struct ut *t, struct env *e)
{
	return owner(t, e) || fe_log_base(t, e, "badlog", 4096, 4096, NULL);
}

static int bad_log_past_end(struct ut *t, struct env *e)
{
	return owner(t, e) ||
	       fe_u64(t, e, VU_SET_PROTOCOL_FEATURES, false,
		      PROTO_ACKED | VBLK_F(VU_PROTO_F_LOG_SHMFD), -1) ||
	       fe_log_base(t, e, "badlog", 8192, 4096, NULL);
}

/* VHOST_F_LOG_ALL on without a log. */
static int bad_log_all_early(struct ut *t, struct env *e)
{
	return fe_realize(t, e) || fe_start(t, e, 0) ||
	       fe_u64(t, e, VU_SET_FEATURES, false,
		      e->fk.features | VBLK_F(VHOST_F_LOG_ALL) |
		      VBLK_F(VU_F_PROTOCOL_FEATURES), -1);
}

#define VU_GET_MAX_MEM_SLOTS	36
#define VU_ADD_MEM_REG		37
#define VU_REM_MEM_REG		38
#define VU_PROTO_F_MEM_SLOTS	15

struct vu_mem_reg {
	uint64_t padding;
	struct vu_region r;
};

/* ADD_MEM_REG (with @fd) or REM_MEM_REG of @r, acknowledged (@ack). */
static int fe_mem_reg(struct ut *t, struct env *e, uint32_t req,
		      const struct vu_region *r, int fd, bool ack)
{
	struct vu_mem_reg mr = { .r = *r };
	struct vu_msg a;

	if (fe_call(t, e, req, ack ? VU_FLAG_NEED_REPLY : 0, &mr, sizeof(mr),
		    &fd, fd >= 0, ack ? &a : NULL))
		return 1;
	if (ack)
		CHECK(t, a.hdr.size == 8 && !a.p.u64, "request %u: ack %llu",
		      req, (unsigned long long)a.p.u64);
	return 0;
}

static int slots_owner(struct ut *t, struct env *e)
{
	return owner(t, e) ||
	       fe_u64(t, e, VU_SET_PROTOCOL_FEATURES, false,
		      PROTO_ACKED | VBLK_F(VU_PROTO_F_MEM_SLOTS), -1);
}

/* A region that overlaps one already there. */
static int bad_slot_overlap(struct ut *t, struct env *e)
{
	struct vu_region r = { .gpa = 0, .size = 65536, .uva = (uintptr_t)e->mem };

	return slots_owner(t, e) ||
	       fe_mem_reg(t, e, VU_ADD_MEM_REG, &r, e->memfd, true) ||
	       (r.gpa = 4096, r.uva += 1 << 20,
		fe_mem_reg(t, e, VU_ADD_MEM_REG, &r, e->memfd, false));
}

static int bad_slot_rem(struct ut *t, struct env *e)
{
	struct vu_region r = { .gpa = 0, .size = 65536, .uva = (uintptr_t)e->mem };

	return slots_owner(t, e) ||
	       fe_mem_reg(t, e, VU_REM_MEM_REG, &r, -1, false);
}

static int bad_slot_unacked(struct ut *t, struct env *e)
{
	struct vu_region r = { .gpa = 0, .size = 65536, .uva = (uintptr_t)e->mem };

	return owner(t, e) ||
	       fe_mem_reg(t, e, VU_ADD_MEM_REG, &r, e->memfd, false);
}

static const struct bad_case bad_cases[] = {
	{ "short", "short or oversized", bad_short },
	{ "oversized", "short or oversized", bad_oversized },
	{ "size", "SET_FEATURES: 4 bytes of payload, 8 expected", bad_size },
	{ "many-fds", "more than 8 file descriptors", bad_many_fds },
	{ "fd-on-get", "GET_FEATURES: 1 file descriptors, 0 expected", bad_fd_on_get },
	{ "flags", "GET_FEATURES: flags", bad_flags },
	{ "overlap", "SET_MEM_TABLE: region 1 overlaps region 0", bad_overlap },
	{ "ring-outside", "SET_VRING_ADDR: ring 0 (16 entries)", bad_ring_outside },
	{ "kick-early", "SET_VRING_KICK: ring 0: before SET_MEM_TABLE", bad_kick_early },
	{ "base-unstarted", "GET_VRING_BASE: ring 1 was never started", bad_base_unstarted },
	{ "index", "SET_VRING_NUM: ring 2, but this back-end serves 2", bad_index },
	{ "unknown", "request 31: not implemented", bad_unknown },
	{ "owner-twice", "SET_OWNER: a second time", bad_owner_twice },
	{ "table-moves", "not inside the guest memory regions", bad_table_moves },
	{ "log-size", "SET_LOG_BASE: 8 bytes of payload, 16 expected", bad_log_size },
	{ "log-unacked", "SET_LOG_BASE: protocol feature LOG_SHMFD not acked", bad_log_unacked },
	{ "log-past-end", "SET_LOG_BASE: a log of 8192 bytes at 4096, past the end", bad_log_past_end },
	{ "log-all-early", "SET_FEATURES: VHOST_F_LOG_ALL before SET_LOG_BASE", bad_log_all_early },
	{ "slot-overlap", "ADD_MEM_REG: gpa 0x1000+0x10000", bad_slot_overlap },
	{ "slot-rem", "REM_MEM_REG: no region at gpa 0", bad_slot_rem },
	{ "slot-unacked", "ADD_MEM_REG: protocol feature CONFIGURE_MEM_SLOTS not acked", bad_slot_unacked },
	{ NULL, NULL, NULL },
};

static int t_bridge_malformed(struct ut *t)
{
	const struct bad_case *b;
	struct env e;
	uint64_t v;

	if (env_init(t, &e) || fe_mem(t, &e))
		return 1;
	for (b = bad_cases; b->name; b++) {
		if (conn_start(t, &e))
			return 1;
		CHECK(t, !b->fn(t, &e), "%s: the steps before the mistake failed: %s",
		      b->name, t->why);
		/*
		 * The daemon hangs up by itself: we read the end of file
		 * (the short message ends only when we stop writing).
		 */
		if (!strcmp(b->name, "short"))
			shutdown(e.sv[0], SHUT_WR);
		{
			char c;
			ssize_t n;

			do
				n = recv(e.sv[0], &c, 1, 0);
			while (n > 0);
		}
		if (conn_end(t, &e, -1, b->why)) {
			char w[sizeof(t->why)];

			memcpy(w, t->why, sizeof(w));
			snprintf(t->why, sizeof(t->why), "%s: %.480s", b->name, w);
			return 1;
		}
		/* The next front-end is served. */
		if (conn_start(t, &e) || fe_get(t, &e, VU_GET_FEATURES, &v) ||
		    owner(t, &e) || conn_end(t, &e, 0, NULL))
			return 1;
	}
	fe_mem_free(&e);
	close(e.d.backend_fd);
	return 0;
}

/* ------------------------------------------------------------------------
 * Online resize: CONFIG_CHANGE_MSG on the back-end channel
 */

#define VU_SET_BACKEND_REQ_FD	21
#define VU_PROTO_F_BACKEND_REQ	5
#define VU_CONFIG_CHANGE_MSG	2

static void fake_grow(struct env *e, uint64_t sectors)
{
	__atomic_store_n(&e->fk.capacity, sectors, __ATOMIC_SEQ_CST);
}

/* GET_CONFIG's capacity. */
static int fe_capacity(struct ut *t, struct env *e, uint64_t *cap)
{
	struct vu_config cq = { .offset = 0, .size = 8 };
	struct vu_msg r;

	if (fe_call(t, e, VU_GET_CONFIG, 0, &cq, VU_SIZE_CONFIG(8), NULL, 0, &r))
		return 1;
	CHECK(t, r.hdr.size == VU_SIZE_CONFIG(8), "GET_CONFIG: %u bytes",
	      r.hdr.size);
	memcpy(cap, r.p.cfg.data, 8);
	*cap = le64toh(*cap);
	return 0;
}

/* A message on the back-end channel within @ms: 1; none: 0; EOF: -1. */
static int be_recv(int fd, int ms, struct vu_msg *m)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	if (poll(&p, 1, ms) <= 0)
		return 0;
	return vu_msg_recv(fd, m) ? -1 : 1;
}

/*
 * A connection with a back-end channel, opened as QEMU opens it (the
 * channel before SET_OWNER; *be: our end), then QEMU's realize (@config:
 * with GET_CONFIG) or a reconnect's setup (without).
 */
static int be_connect(struct ut *t, struct env *e, int *be, bool config)
{
	struct vu_msg m;
	int sv[2];

	if (conn_start(t, e) ||
	    fe_u64(t, e, VU_SET_PROTOCOL_FEATURES, false,
		   PROTO_ACKED | VBLK_F(VU_PROTO_F_BACKEND_REQ), -1))
		return 1;
	CHECK(t, !socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
	      "socketpair");
	if (fe_call(t, e, VU_SET_BACKEND_REQ_FD, VU_FLAG_NEED_REPLY, NULL, 0,
		    &sv[1], 1, &m))
		return 1;
	close(sv[1]);
	*be = sv[0];
	CHECK(t, m.hdr.size == 8 && !m.p.u64, "SET_BACKEND_REQ_FD: ack %llu",
	      (unsigned long long)m.p.u64);
	return fe_connect(t, e, config) ||
	       fe_u64(t, e, VU_SET_PROTOCOL_FEATURES, false,
		      PROTO_ACKED | VBLK_F(VU_PROTO_F_BACKEND_REQ), -1);
}

/*
 * A CONFIG_CHANGE_MSG on back-end channel @be within 2 s, answered as
 * QEMU answers: GET_CONFIG on the main socket first (@cap sectors), then
 * the acknowledgement; no second message for the same capacity.
 */
static int announced(struct ut *t, struct env *e, int be, uint64_t cap)
{
	struct vu_msg m, ack = { .hdr = { .request = VU_CONFIG_CHANGE_MSG,
					  .flags = VU_VERSION | VU_FLAG_REPLY,
					  .size = 8 } };
	uint64_t got_cap;
	int got;

	got = be_recv(be, 2000, &m);
	CHECK(t, got > 0, "no CONFIG_CHANGE_MSG within 2 s (%d)", got);
	CHECK(t, m.hdr.request == VU_CONFIG_CHANGE_MSG &&
	      m.hdr.flags == (VU_VERSION | VU_FLAG_NEED_REPLY) && !m.hdr.size &&
	      !m.nfds, "back-end message %u flags %#x size %u fds %u",
	      m.hdr.request, m.hdr.flags, m.hdr.size, m.nfds);
	if (fe_capacity(t, e, &got_cap))
		return 1;
	CHECK(t, got_cap == cap, "GET_CONFIG after the announcement: %llu, expected %llu",
	      (unsigned long long)got_cap, (unsigned long long)cap);
	CHECK(t, !vu_msg_send(be, &ack), "answer");
	got = be_recv(be, 200, &m);
	CHECK(t, got == 0, "a second message for the same capacity (%d)", got);
	return 0;
}

static int t_bridge_resize(struct ut *t)
{
	struct env e;
	struct vu_msg m;
	uint64_t cap;
	unsigned int resizes;
	int be, got;

	if (env_init(t, &e) || fe_mem(t, &e))
		return 1;
	e.d.ack_ms = 300;
	if (be_connect(t, &e, &be, true) || fe_start(t, &e, 0))
		return 1;
	/* Unchanged: the timer runs, nothing is sent. */
	got = be_recv(be, 200, &m);
	CHECK(t, got == 0, "unchanged capacity, yet %s on the back-end channel",
	      got > 0 ? "a message" : "end of file");
	resizes = __atomic_load_n(&e.fk.resizes, __ATOMIC_SEQ_CST);
	CHECK(t, resizes >= 3, "%u VHOST_BLK_RESIZE in 200 ms at 20 ms", resizes);
	/* The backend grows. */
	fake_grow(&e, 2 * FAKE_SECTORS);
	if (announced(t, &e, be, 2 * FAKE_SECTORS))
		return 1;
	/* Again, and this time no answer: the channel is dropped, the
	 * connection goes on. */
	fake_grow(&e, 3 * FAKE_SECTORS);
	got = be_recv(be, 2000, &m);
	CHECK(t, got > 0 && m.hdr.request == VU_CONFIG_CHANGE_MSG,
	      "no second CONFIG_CHANGE_MSG (%d)", got);
	got = be_recv(be, 3000, &m);
	CHECK(t, got < 0, "the unanswered channel was not closed (%d)", got);
	close(be);
	if (fe_capacity(t, &e, &cap))
		return 1;
	CHECK(t, cap == 3 * FAKE_SECTORS, "GET_CONFIG: %llu",
	      (unsigned long long)cap);
	if (conn_end(t, &e, 0, NULL))
		return 1;
	/* A front-end without a back-end channel: the timer runs, nothing
	 * is sent, nothing breaks. (The disk back at its size, probed again
	 * at the accept as main.c does.) */
	fake_grow(&e, FAKE_SECTORS);
	CHECK(t, !vub_probe(e.d.k, e.d.kctx, &e.o, e.d.backend_fd, &e.d.probe,
			    e.c.why, sizeof(e.c.why)), "probe");
	if (conn_start(t, &e) || fe_realize(t, &e) || fe_start(t, &e, 0))
		return 1;
	fake_grow(&e, 4 * FAKE_SECTORS);
	usleep(200000);
	if (fe_capacity(t, &e, &cap))
		return 1;
	CHECK(t, cap == 4 * FAKE_SECTORS, "GET_CONFIG without a channel: %llu",
	      (unsigned long long)cap);
	if (fe_stop(t, &e, 0) || conn_end(t, &e, 0, NULL))
		return 1;
	/* A daemon restarted under a running QEMU: QEMU reconnects without
	 * GET_CONFIG, its capacity whatever the old daemon last gave, so the
	 * new one (which gave none yet) announces the disk once its rings
	 * run; QEMU's GET_CONFIG then tells it what QEMU knows, and nothing
	 * more is sent. */
	e.d.cap_reported = 0;
	if (be_connect(t, &e, &be, false))
		return 1;
	got = be_recv(be, 200, &m);
	CHECK(t, got == 0, "a message on the back-end channel before the rings run (%d)",
	      got);
	if (fe_start(t, &e, 0))
		return 1;
	if (announced(t, &e, be, 4 * FAKE_SECTORS))
		return 1;
	close(be);
	if (fe_stop(t, &e, 0) || conn_end(t, &e, 0, NULL))
		return 1;
	fe_mem_free(&e);
	close(e.d.backend_fd);
	return 0;
}

/*
 * Dirty logging as QEMU turns it on for a migration: SET_LOG_BASE (a
 * memfd, answered), SET_LOG_FD, SET_FEATURES with VHOST_F_LOG_ALL and
 * SET_VRING_ADDR with VHOST_VRING_F_LOG while the rings run; the kernel
 * gets the daemon's mapping of the log; a new log replaces the old one,
 * which is unmapped; a log too short for the memory is refused.
 */
static int t_bridge_log(struct ut *t)
{
	const uint64_t f = VBLK_F(VIRTIO_F_VERSION_1) |
			   VBLK_F(VIRTIO_RING_F_EVENT_IDX) |
			   VBLK_F(VIRTIO_BLK_F_FLUSH) | VBLK_F(VIRTIO_BLK_F_MQ) |
			   VBLK_F(VU_F_PROTOCOL_FEATURES);
	struct env e;
	struct vu_msg r;
	struct vu_vring_addr a;
	struct vu_log l = { .size = LOG_SIZE, .offset = LOG_OFF };
	uint64_t base1;
	uint8_t *mine;
	int fd, efd;

	if (env_init(t, &e) || fe_mem(t, &e) || conn_start(t, &e) ||
	    fe_realize(t, &e) ||
	    fe_u64(t, &e, VU_SET_PROTOCOL_FEATURES, false,
		   PROTO_ACKED | VBLK_F(VU_PROTO_F_LOG_SHMFD), -1) ||
	    fe_start(t, &e, 0))
		return 1;
	/* The log, and a mark in it seen through the kernel's address. */
	fd = log_memfd("vublog1", LOG_SIZE);
	CHECK(t, fd >= 0, "memfd");
	mine = mmap(NULL, LOG_OFF + LOG_SIZE, PROT_READ | PROT_WRITE,
		    MAP_SHARED, fd, 0);
	CHECK(t, mine != MAP_FAILED, "mmap");
	mine[LOG_OFF + 5] = 0xa5;
	if (fe_call(t, &e, VU_SET_LOG_BASE, 0, &l, sizeof(l), &fd, 1, &r))
		return 1;
	close(fd);
	CHECK(t, r.hdr.size == 8 && !r.p.u64, "SET_LOG_BASE answer: %u bytes, %llu",
	      r.hdr.size, (unsigned long long)r.p.u64);
	base1 = e.fk.log_base;
	CHECK(t, base1 && ((uint8_t *)(uintptr_t)base1)[5] == 0xa5,
	      "the kernel's log address %#llx does not show the front-end's log",
	      (unsigned long long)base1);
	munmap(mine, LOG_OFF + LOG_SIZE);
	CHECK(t, maps_of("vublog1") == 1, "%d mappings of the log",
	      maps_of("vublog1"));
	CHECK(t, e.fk.attached, "detached after SET_LOG_BASE");
	efd = eventfd(0, EFD_CLOEXEC);
	if (fe_u64(t, &e, VU_SET_FEATURES, true, f | VBLK_F(VHOST_F_LOG_ALL), -1))
		return 1;
	CHECK(t, e.fk.features & VBLK_F(VHOST_F_LOG_ALL),
	      "VHOST_F_LOG_ALL did not reach the kernel");
	if (fe_call(t, &e, VU_SET_LOG_FD, VU_FLAG_NEED_REPLY, NULL, 0, &efd, 1,
		    &r))
		return 1;
	close(efd);
	CHECK(t, !r.p.u64 && e.fk.log_fd, "SET_LOG_FD: ack %llu, kernel fd %d",
	      (unsigned long long)r.p.u64, e.fk.log_fd);
	a = ring_addr(&e, 0);
	a.flags = 1u << VHOST_VRING_F_LOG;
	if (fe_call(t, &e, VU_SET_VRING_ADDR, VU_FLAG_NEED_REPLY, &a, sizeof(a),
		    NULL, 0, &r))
		return 1;
	CHECK(t, !r.p.u64 && e.fk.attached &&
	      (e.fk.ring[0].addr.flags & (1u << VHOST_VRING_F_LOG)) &&
	      e.fk.ring[0].addr.log_guest_addr == a.log,
	      "ring 0 in the kernel: flags %#x, log %#llx, attached %d",
	      e.fk.ring[0].addr.flags,
	      (unsigned long long)e.fk.ring[0].addr.log_guest_addr,
	      e.fk.attached);
	CHECK(t, !e.fk.bad[0], "the fake device objected: %s", e.fk.bad);
	/* A bigger log (guest memory grows): the old one is unmapped. */
	if (fe_log_base(t, &e, "vublog2", 2 * LOG_SIZE, 2 * LOG_SIZE, &r))
		return 1;
	CHECK(t, e.fk.log_base && e.fk.log_base != base1 && e.fk.attached,
	      "the new log: kernel address %#llx (old %#llx), attached %d",
	      (unsigned long long)e.fk.log_base, (unsigned long long)base1,
	      e.fk.attached);
	CHECK(t, maps_of("vublog1") == 0 && maps_of("vublog2") == 1,
	      "after the new log: %d mappings of the old, %d of the new",
	      maps_of("vublog1"), maps_of("vublog2"));
	/* Logging off again: the rings go on. */
	if (fe_u64(t, &e, VU_SET_FEATURES, true, f, -1))
		return 1;
	CHECK(t, !(e.fk.features & VBLK_F(VHOST_F_LOG_ALL)) && e.fk.attached,
	      "logging off: kernel features %#llx, attached %d",
	      (unsigned long long)e.fk.features, e.fk.attached);
	if (fe_stop(t, &e, 0) || conn_end(t, &e, 0, NULL))
		return 1;
	CHECK(t, maps_of("vublog2") == 0, "the log is still mapped after the connection");
	/* With logging on, a log too short for the guest memory. */
	if (conn_start(t, &e) || fe_realize(t, &e) ||
	    fe_u64(t, &e, VU_SET_PROTOCOL_FEATURES, false,
		   PROTO_ACKED | VBLK_F(VU_PROTO_F_LOG_SHMFD), -1) ||
	    fe_start(t, &e, 0) ||
	    fe_log_base(t, &e, "vublog3", LOG_SIZE, LOG_SIZE, &r) ||
	    fe_u64(t, &e, VU_SET_FEATURES, true, f | VBLK_F(VHOST_F_LOG_ALL), -1) ||
	    fe_log_base(t, &e, "vublog4", 64, 64, NULL))
		return 1;
	if (conn_end(t, &e, -1, "SET_LOG_BASE: a log of 64 bytes while logging"))
		return 1;
	CHECK(t, maps_of("vublog3") == 0 && maps_of("vublog4") == 0,
	      "logs still mapped after the connection");
	fe_mem_free(&e);
	close(e.d.backend_fd);
	return 0;
}

/*
 * CONFIGURE_MEM_SLOTS: GET_MAX_MEM_SLOTS, then regions added and removed
 * one at a time while the rings run; the kernel gets the whole table each
 * time, the other regions keep their mappings, the 65th region is refused,
 * and no mapping outlives its region or the connection.
 */
static int t_bridge_mem_slots(struct ut *t)
{
	struct env e;
	struct vu_msg r;
	struct vu_region reg;
	uint64_t desc0, map0, v;
	unsigned int i, n;
	int fd;

	if (env_init(t, &e) || fe_mem(t, &e) || conn_start(t, &e) ||
	    fe_realize(t, &e) ||
	    fe_u64(t, &e, VU_SET_PROTOCOL_FEATURES, false,
		   PROTO_ACKED | VBLK_F(VU_PROTO_F_MEM_SLOTS), -1))
		return 1;
	if (fe_call(t, &e, VU_GET_MAX_MEM_SLOTS, 0, NULL, 0, NULL, 0, &r))
		return 1;
	v = r.p.u64;
	CHECK(t, r.hdr.size == 8 && v >= 8 && v <= 64, "GET_MAX_MEM_SLOTS: %llu",
	      (unsigned long long)v);
	if (fe_start(t, &e, 0))
		return 1;
	desc0 = e.fk.ring[0].addr.desc_user_addr;
	map0 = e.fk.mem[0].userspace_addr;
	fd = memfd_create("vubslot", MFD_CLOEXEC);
	CHECK(t, fd >= 0 && !ftruncate(fd, 1 << 20), "memfd");
	/* Up to the limit: 4 KiB regions far above the others. */
	for (i = 0, n = 2; n < v; i++, n++) {
		reg.gpa = 4 * HIGH_GPA + i * 65536ull;
		reg.size = 4096;
		reg.uva = 0x700000000000ull + i * 65536ull;
		reg.mmap_offset = (i % 256) * 4096ull;
		if (fe_mem_reg(t, &e, VU_ADD_MEM_REG, &reg, fd, true))
			return close(fd), 1;
	}
	CHECK(t, e.fk.nmem == v && e.fk.attached &&
	      e.fk.ring[0].addr.desc_user_addr == desc0 &&
	      e.fk.mem[0].userspace_addr == map0,
	      "after the adds: %u regions in the kernel, attached %d, ring 0 moved %d, region 0 moved %d",
	      e.fk.nmem, e.fk.attached,
	      e.fk.ring[0].addr.desc_user_addr != desc0,
	      e.fk.mem[0].userspace_addr != map0);
	CHECK(t, maps_of("vubslot") == (int)v - 2, "%d mappings of the added regions",
	      maps_of("vubslot"));
	CHECK(t, !e.fk.bad[0], "the fake device objected: %s", e.fk.bad);
	/* One removed (the first added), then added again. */
	reg.gpa = 4 * HIGH_GPA;
	reg.size = 4096;
	reg.uva = 0x700000000000ull;
	reg.mmap_offset = 0;
	if (fe_mem_reg(t, &e, VU_REM_MEM_REG, &reg, -1, true))
		return close(fd), 1;
	CHECK(t, e.fk.nmem == v - 1 && maps_of("vubslot") == (int)v - 3 &&
	      e.fk.attached, "after the removal: %u regions, %d mappings, attached %d",
	      e.fk.nmem, maps_of("vubslot"), e.fk.attached);
	for (i = 0; i < e.fk.nmem; i++)
		CHECK(t, e.fk.mem[i].guest_phys_addr != reg.gpa,
		      "the removed region is still in the kernel's table");
	if (fe_mem_reg(t, &e, VU_ADD_MEM_REG, &reg, fd, true))
		return close(fd), 1;
	CHECK(t, e.fk.nmem == v, "%u regions after adding it again", e.fk.nmem);
	/* A REM_MEM_REG with the region's fd (as QEMU may send it). */
	if (fe_mem_reg(t, &e, VU_REM_MEM_REG, &reg, fd, true) ||
	    fe_mem_reg(t, &e, VU_ADD_MEM_REG, &reg, fd, true))
		return close(fd), 1;
	CHECK(t, !e.fk.bad[0], "the fake device objected: %s", e.fk.bad);
	if (fe_stop(t, &e, 0)) {
		close(fd);
		return 1;
	}
	/* One region too many: refused, the connection ends. */
	reg.gpa = 8 * HIGH_GPA;
	reg.uva = 0x7f0000000000ull;
	if (fe_mem_reg(t, &e, VU_ADD_MEM_REG, &reg, fd, false))
		return close(fd), 1;
	close(fd);
	if (conn_end(t, &e, -1, "ADD_MEM_REG: already 64 regions"))
		return 1;
	CHECK(t, maps_of("vubslot") == 0, "%d mappings after the connection",
	      maps_of("vubslot"));
	fe_mem_free(&e);
	close(e.d.backend_fd);
	return 0;
}

/*
 * Vhost workers: one a queue when there are several; a kernel without
 * VHOST_NEW_WORKER (6.1: ENOTTY) leaves them sharing the device's, and
 * the disk works; one queue asks for none.
 */
static int t_bridge_workers(struct ut *t)
{
	struct env e;
	uint64_t v;

	if (env_init(t, &e) || fe_mem(t, &e))
		return 1;
	e.fk.worker_err = -ENOTTY;
	if (conn_start(t, &e) || fe_realize(t, &e) || fe_start(t, &e, 0) ||
	    fe_stop(t, &e, 0))
		return 1;
	CHECK(t, !e.fk.workers && !e.fk.ring[0].worker && !e.fk.ring[1].worker,
	      "ENOTTY: %u workers", e.fk.workers);
	if (conn_end(t, &e, 0, NULL))
		return 1;
	CHECK(t, !e.c.workers, "%u queues with a worker", e.c.workers);
	e.fk.worker_err = 0;
	e.o.num_queues = 1;
	/* (no REPLY_ACK without protocol features: an answer to wait for) */
	if (conn_start(t, &e) ||
	    fe_call(t, &e, VU_SET_OWNER, 0, NULL, 0, NULL, 0, NULL) ||
	    fe_get(t, &e, VU_GET_FEATURES, &v))
		return 1;
	CHECK(t, e.fk.owner && !e.fk.workers, "one queue: %u workers",
	      e.fk.workers);
	if (conn_end(t, &e, 0, NULL))
		return 1;
	e.o.num_queues = NQ;
	if (conn_start(t, &e) || fe_realize(t, &e) || conn_end(t, &e, 0, NULL))
		return 1;
	CHECK(t, e.c.workers == NQ && e.fk.workers == NQ,
	      "%u queues with a worker, %u made", e.c.workers, e.fk.workers);
	fe_mem_free(&e);
	close(e.d.backend_fd);
	return 0;
}

static int t_bridge_args(struct ut *t)
{
	char *ok[] = { "x", "--socket", "/s", "--backend", "/b", "--num-queues",
		       "4", "--engine", "bio", "--read-only", "--direct",
		       "--serial", "abc", NULL };
	char *bad_q[] = { "x", "--socket", "/s", "--backend", "/b",
			  "--num-queues", "17", NULL };
	char *bad_e[] = { "x", "--socket", "/s", "--backend", "/b",
			  "--engine", "aio", NULL };
	char *no_sock[] = { "x", "--backend", "/b", NULL };
	struct vub_opts o;

	CHECK(t, !vub_parse_args(&o, 13, ok) && o.num_queues == 4 &&
	      o.engine == VHOST_BLK_ENGINE_BIO && o.read_only && o.direct &&
	      !strcmp(o.serial, "abc") && !strcmp(o.socket, "/s"),
	      "options not taken");
	fclose(stderr);	/* the refusals print their usage */
	CHECK(t, vub_parse_args(&o, 7, bad_q) < 0, "17 queues taken");
	CHECK(t, vub_parse_args(&o, 7, bad_e) < 0, "engine aio taken");
	CHECK(t, vub_parse_args(&o, 3, no_sock) < 0, "no socket taken");
	return 0;
}

const struct ut_case ut_bridge_cases[] = {
	{ "bridge-qemu-sequence", t_bridge_qemu_sequence },
	{ "bridge-malformed", t_bridge_malformed },
	{ "bridge-resize", t_bridge_resize },
	{ "bridge-log", t_bridge_log },
	{ "bridge-mem-slots", t_bridge_mem_slots },
	{ "bridge-workers", t_bridge_workers },
	{ "bridge-args", t_bridge_args },
	{ NULL, NULL },
};
