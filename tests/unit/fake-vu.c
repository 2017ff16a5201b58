// SPDX-License-Identifier: GPL-2.0-only
/*
 * The fake vhost-user back-end. One thread reads the control messages of
 * one connection; each ring, once it has a kick descriptor and is enabled,
 * is served by a fakedev thread that sees guest memory only through the
 * mappings this back-end made from SET_MEM_TABLE.
 */
#include <endian.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "fake-vu.h"

void fake_vu_init(struct fake_vu *f, uint8_t *disk, uint64_t sectors)
{
	unsigned int q;

	memset(f, 0, sizeof(*f));
	f->features = VBLK_F(VIRTIO_F_VERSION_1) |
		      VBLK_F(VIRTIO_RING_F_EVENT_IDX) |
		      VBLK_F(VIRTIO_BLK_F_BLK_SIZE) |
		      VBLK_F(VIRTIO_BLK_F_FLUSH) | VBLK_F(VIRTIO_BLK_F_MQ) |
		      VBLK_F(VU_F_PROTOCOL_FEATURES);
	f->proto = VBLK_F(VU_PROTO_F_MQ) | VBLK_F(VU_PROTO_F_REPLY_ACK) |
		   VBLK_F(VU_PROTO_F_CONFIG);
	f->queues = 2;
	f->disk = disk;
	f->sectors = sectors;
	f->listen_fd = f->conn = -1;
	for (q = 0; q < FAKE_VU_QUEUES; q++)
		f->ring[q].kick = f->ring[q].call = f->ring[q].err = -1;
}

static void objection(struct fake_vu *f, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void objection(struct fake_vu *f, const char *fmt, ...)
{
	va_list ap;

	if (f->why[0])
		return;
	va_start(ap, fmt);
	vsnprintf(f->why, sizeof(f->why), fmt, ap);
	va_end(ap);
}

uint8_t *fake_vu_uva(struct fake_vu *f, uint64_t uva, uint64_t len)
{
	unsigned int i;

	for (i = 0; i < f->mem.nregions; i++) {
		const struct vu_region *r = &f->mem.r[i];

		if (f->map[i] && uva >= r->uva && uva + len <= r->uva + r->size)
			return f->map[i] + (uva - r->uva);
	}
	return NULL;
}

static void set_mem_table(struct fake_vu *f, struct vu_msg *m)
{
	unsigned int i;

	if (m->hdr.size < 8 || m->p.mem.nregions > VU_MAX_REGIONS ||
	    m->hdr.size != VU_SIZE_MEM(m->p.mem.nregions) ||
	    m->nfds != m->p.mem.nregions) {
		objection(f, "SET_MEM_TABLE: %u bytes, %u regions, %u fds",
			  m->hdr.size, m->p.mem.nregions, m->nfds);
		return;
	}
	f->mem = m->p.mem;
	for (i = 0; i < f->mem.nregions; i++) {
		const struct vu_region *r = &f->mem.r[i];
		size_t len = r->size + r->mmap_offset;
		uint8_t *p;

		/* As qemu-storage-daemon does: map from 0, skip the offset. */
		p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED,
			 m->fds[i], 0);
		if (p == MAP_FAILED) {
			objection(f, "SET_MEM_TABLE: mmap of region %u: %s", i,
				  strerror(errno));
			continue;
		}
		f->map[i] = p + r->mmap_offset;
		f->map_len[i] = len;
	}
}

static struct fake_vu_ring *ring_of(struct fake_vu *f, uint32_t index)
{
	if (index >= FAKE_VU_QUEUES || index >= f->queues) {
		objection(f, "ring %u of %u", index, f->queues);
		return NULL;
	}
	return &f->ring[index];
}

/* Start serving a ring that has everything it needs. */
static void maybe_start(struct fake_vu *f, struct fake_vu_ring *r)
{
	struct vblk_mem shell_mem;
	struct vblk_vq shell_vq;
	unsigned int i;

	if (r->dev.running || r->kick < 0 || r->call < 0 || !r->enabled)
		return;
	memset(&shell_mem, 0, sizeof(shell_mem));
	memset(&shell_vq, 0, sizeof(shell_vq));
	/* Guest-physical addresses resolve through our own mappings. */
	for (i = 0; i < VBLK_MEM_REGIONS && i < f->mem.nregions; i++) {
		shell_mem.reg[i].gpa = f->mem.r[i].gpa;
		shell_mem.reg[i].hva = f->map[i];
		shell_mem.reg[i].size = f->mem.r[i].size;
	}
	shell_vq.num = r->num;
	shell_vq.desc = (void *)fake_vu_uva(f, r->addr.desc,
					    16ull * r->num);
	shell_vq.avail = (void *)fake_vu_uva(f, r->addr.avail, 6 + 2ull * r->num);
	shell_vq.used = (void *)fake_vu_uva(f, r->addr.used, 6 + 8ull * r->num);
	if (!shell_vq.desc || !shell_vq.avail || !shell_vq.used) {
		objection(f, "ring %u: addresses %#llx %#llx %#llx outside the memory table",
			  r->addr.index, (unsigned long long)r->addr.desc,
			  (unsigned long long)r->addr.avail,
			  (unsigned long long)r->addr.used);
		return;
	}
	shell_vq.event_idx =
		!!(f->acked_features & VBLK_F(VIRTIO_RING_F_EVENT_IDX));
	shell_vq.kick_fd = r->kick;
	shell_vq.call_fd = r->call;
	shell_vq.err_fd = r->err >= 0 ? r->err : r->call;
	fakedev_init(&r->dev, &shell_mem, &shell_vq, f->disk, f->sectors);
	r->dev.last_avail = (uint16_t)r->base;
	r->dev.used_idx = (uint16_t)r->base;
	if (fakedev_start(&r->dev))
		objection(f, "ring %u: no thread", r->addr.index);
}

/* The ring index of a KICK/CALL/ERR message, and its descriptor. */
static struct fake_vu_ring *ring_fd(struct fake_vu *f, struct vu_msg *m,
				    int **slot)
{
	struct fake_vu_ring *r = ring_of(f, m->p.u64 & VU_VRING_IDX_MASK);

	if (!r)
		return NULL;
	if ((m->p.u64 & VU_VRING_NOFD) || m->nfds != 1) {
		objection(f, "ring fd message without exactly one fd");
		return NULL;
	}
	if (m->hdr.request == VU_SET_VRING_KICK)
		*slot = &r->kick;
	else if (m->hdr.request == VU_SET_VRING_CALL)
		*slot = &r->call;
	else
		*slot = &r->err;
	if (**slot >= 0)
		close(**slot);
	**slot = m->fds[0];
	m->nfds = 0;
	return r;
}

static void reply_u64(struct fake_vu *f, struct vu_msg *m, uint64_t v)
{
	m->hdr.flags = VU_VERSION | VU_FLAG_REPLY;
	m->hdr.size = VU_SIZE_U64;
	m->p.u64 = v;
	m->nfds = 0;
	if (vu_msg_send(f->conn, m))
		objection(f, "cannot send a reply");
}

static void get_config(struct fake_vu *f, struct vu_msg *m)
{
	struct virtio_blk_config c;
	uint32_t size = m->p.cfg.size;

	memset(&c, 0, sizeof(c));
	c.capacity = htole64(f->sectors);
	c.blk_size = htole32(VBLK_SECTOR);
	c.num_queues = htole16((uint16_t)f->queues);
	m->hdr.flags = VU_VERSION | VU_FLAG_REPLY;
	if (m->hdr.size != VU_SIZE_CONFIG(size) || m->p.cfg.offset ||
	    size > sizeof(c)) {
		/* As libvhost-user: an empty answer means "no". */
		objection(f, "GET_CONFIG of %u bytes at %u", size,
			  m->p.cfg.offset);
		m->hdr.size = 0;
	} else {
		memcpy(m->p.cfg.data, &c, size);
	}
	if (vu_msg_send(f->conn, m))
		objection(f, "cannot send the config");
}

/* One message; false when the connection is to end. */
static bool serve(struct fake_vu *f, struct vu_msg *m)
{
	uint32_t req = m->hdr.request;
	bool need_reply = m->hdr.flags & VU_FLAG_NEED_REPLY;
	struct fake_vu_ring *r;
	int *slot;

	if (f->nlog < FAKE_VU_LOG) {
		f->log_flags[f->nlog] = m->hdr.flags;
		f->log[f->nlog++] = req;
	}
	if ((m->hdr.flags & VU_FLAG_VERSION_MASK) != VU_VERSION)
		objection(f, "request %u with flags %#x", req, m->hdr.flags);
	if (req == f->hang_up_on)
		return false;
	switch (req) {
	case VU_GET_FEATURES:
		reply_u64(f, m, f->features);
		return true;
	case VU_GET_PROTOCOL_FEATURES:
		reply_u64(f, m, f->proto);
		return true;
	case VU_GET_QUEUE_NUM:
		reply_u64(f, m, f->queues);
		return true;
	case VU_GET_CONFIG:
		get_config(f, m);
		return true;
	case VU_SET_FEATURES:
		f->acked_features = m->p.u64;
		if (m->p.u64 & ~f->features)
			objection(f, "SET_FEATURES %#llx beyond the offer",
				  (unsigned long long)m->p.u64);
		break;
	case VU_SET_PROTOCOL_FEATURES:
		f->acked_proto = m->p.u64;
		if (m->p.u64 & ~f->proto)
			objection(f, "SET_PROTOCOL_FEATURES beyond the offer");
		break;
	case VU_SET_OWNER:
		f->owner = true;
		break;
	case VU_SET_MEM_TABLE:
		set_mem_table(f, m);
		break;
	case VU_SET_VRING_NUM:
		r = ring_of(f, m->p.state.index);
		if (r)
			r->num = m->p.state.num;
		break;
	case VU_SET_VRING_BASE:
		r = ring_of(f, m->p.state.index);
		if (r)
			r->base = m->p.state.num;
		break;
	case VU_SET_VRING_ADDR:
		r = ring_of(f, m->p.addr.index);
		if (r)
			r->addr = m->p.addr;
		break;
	case VU_SET_VRING_KICK:
	case VU_SET_VRING_CALL:
	case VU_SET_VRING_ERR:
		r = ring_fd(f, m, &slot);
		if (r)
			maybe_start(f, r);
		break;
	case VU_SET_VRING_ENABLE:
		r = ring_of(f, m->p.state.index);
		if (r) {
			r->enabled = m->p.state.num;
			maybe_start(f, r);
		}
		break;
	default:
		objection(f, "unexpected request %u", req);
		break;
	}
	vu_msg_close_fds(m);
	if (need_reply) {
		if (!(f->acked_proto & VBLK_F(VU_PROTO_F_REPLY_ACK)))
			objection(f, "NEED_REPLY on request %u without REPLY_ACK",
				  req);
		reply_u64(f, m, req == f->nack ? 1 : 0);
	}
	return true;
}

static void *control_thread(void *arg)
{
	struct fake_vu *f = arg;
	struct vu_msg m;

	f->conn = accept4(f->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (f->conn < 0) {
		objection(f, "accept: %s", strerror(errno));
		return NULL;
	}
	while (!vu_msg_recv(f->conn, &m))
		if (!serve(f, &m)) {
			vu_msg_close_fds(&m);
			break;
		}
	close(f->conn);
	f->conn = -1;
	return NULL;
}

int fake_vu_start(struct fake_vu *f)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	snprintf(f->dir, sizeof(f->dir), "/tmp/fake-vu.XXXXXX");
	if (!mkdtemp(f->dir))
		return -errno;
	snprintf(f->path, sizeof(f->path), "%s/sock", f->dir);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", f->path);
	f->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (f->listen_fd < 0 ||
	    bind(f->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(f->listen_fd, 1))
		return -errno;
	if (pthread_create(&f->thread, NULL, control_thread, f))
		return -EAGAIN;
	f->running = true;
	return 0;
}

void fake_vu_stop(struct fake_vu *f)
{
	unsigned int i;

	if (f->running)
		pthread_join(f->thread, NULL);
	f->running = false;
	for (i = 0; i < FAKE_VU_QUEUES; i++) {
		struct fake_vu_ring *r = &f->ring[i];

		fakedev_stop(&r->dev);
		if (r->kick >= 0)
			close(r->kick);
		if (r->call >= 0)
			close(r->call);
		if (r->err >= 0)
			close(r->err);
		r->kick = r->call = r->err = -1;
	}
	for (i = 0; i < VU_MAX_REGIONS; i++)
		if (f->map[i])
			munmap(f->map[i] - f->mem.r[i].mmap_offset,
			       f->map_len[i]);
	if (f->listen_fd >= 0)
		close(f->listen_fd);
	if (f->path[0])
		unlink(f->path);
	if (f->dir[0])
		rmdir(f->dir);
}
