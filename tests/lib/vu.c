// SPDX-License-Identifier: GPL-2.0-only
/*
 * vhost-user front-end: the control path a VMM (QEMU's vhost-user-blk-pci)
 * goes through with a vhost-user-blk back-end, one step per function. The
 * data path is the split virtqueue of vring.c in memory both sides map.
 */
#include <endian.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "vu.h"

/* The virtio 1.1 part of the virtio-blk configuration (up to discard and
 * write-zeroes): what every back-end has, and all this library reads. */
#define VU_BLK_CONFIG_SIZE						\
	(offsetof(struct virtio_blk_config, unused1) +			\
	 sizeof(((struct virtio_blk_config *)0)->unused1))

static void vu_err(struct vblk_vu *u, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void vu_err(struct vblk_vu *u, const char *fmt, ...)
{
	va_list ap;
	int n;

	n = snprintf(u->err, sizeof(u->err), "vhost-user %s: ",
		     u->opts.path ? u->opts.path : "(no socket)");
	va_start(ap, fmt);
	vsnprintf(u->err + n, sizeof(u->err) - n, fmt, ap);
	va_end(ap);
}

void vblk_vu_opts_init(struct vblk_vu_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->queues = 1;
	o->ring_size = 128;
	o->mem_size = VBLK_MEM_DEFAULT_SIZE;
	o->timeout_ms = VBLK_DEFAULT_TIMEOUT_MS;
}

static int vu_connect(struct vblk_vu *u)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = {
		.tv_sec = u->opts.timeout_ms / 1000,
		.tv_usec = (u->opts.timeout_ms % 1000) * 1000,
	};
	int e;

	if (strlen(u->opts.path) >= sizeof(sa.sun_path)) {
		vu_err(u, "socket path longer than %zu bytes",
		       sizeof(sa.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, u->opts.path);
	u->sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (u->sock < 0) {
		e = errno;
		vu_err(u, "socket: %s", strerror(e));
		return -e;
	}
	if (connect(u->sock, (struct sockaddr *)&sa, sizeof(sa))) {
		e = errno;
		vu_err(u, "cannot connect: %s (is the back-end listening there, e.g. qemu-storage-daemon --export type=vhost-user-blk,addr.type=unix,addr.path=%s?)",
		       strerror(e), u->opts.path);
		return -e;
	}
	if (u->opts.timeout_ms > 0 &&
	    setsockopt(u->sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv))) {
		e = errno;
		vu_err(u, "SO_RCVTIMEO: %s", strerror(e));
		return -e;
	}
	return 0;
}

int vblk_vu_open(struct vblk_vu *u, const struct vblk_vu_opts *o)
{
	unsigned int q;
	int ret;

	memset(u, 0, sizeof(*u));
	u->sock = -1;
	u->mem.fd = -1;
	u->opts = *o;
	if (!u->opts.path) {
		vu_err(u, "no socket path given");
		return -EINVAL;
	}
	if (u->opts.queues < 1 || u->opts.queues > VHOST_BLK_MAX_QUEUES) {
		vu_err(u, "%u queues asked, 1..%u possible", u->opts.queues,
		       VHOST_BLK_MAX_QUEUES);
		return -EINVAL;
	}
	ret = vu_connect(u);
	if (ret)
		goto fail;
	ret = vblk_mem_init_shared(&u->mem, u->opts.mem_size);
	if (ret) {
		vu_err(u, "cannot map %zu bytes of shared guest memory: %s",
		       u->opts.mem_size, strerror(-ret));
		goto fail;
	}
	for (q = 0; q < u->opts.queues; q++) {
		ret = vblk_vq_init(&u->vq[q], &u->mem, q, u->opts.ring_size);
		if (ret) {
			vu_err(u, "%s", u->vq[q].err);
			goto fail;
		}
		u->nvq = q + 1;
	}
	return 0;
fail:
	vblk_vu_close(u);
	return ret;
}

static bool has_reply(uint32_t req)
{
	return req == VU_GET_FEATURES || req == VU_GET_PROTOCOL_FEATURES ||
	       req == VU_GET_QUEUE_NUM || req == VU_GET_CONFIG ||
	       req == VU_GET_VRING_BASE;
}

int vblk_vu_call(struct vblk_vu *u, struct vu_msg *m, struct vu_msg *reply)
{
	bool answer = has_reply(m->hdr.request);
	bool ack = !answer && (u->proto & VBLK_F(VU_PROTO_F_REPLY_ACK));
	struct vu_msg r;
	char nb[32];
	const char *name = vu_request_name(m->hdr.request, nb, sizeof(nb));
	int ret;

	m->hdr.flags = VU_VERSION | (ack ? VU_FLAG_NEED_REPLY : 0);
	ret = vu_msg_send(u->sock, m);
	if (ret) {
		vu_err(u, "sending %s: %s%s", name, strerror(-ret),
		       ret == -EPIPE ? " (the back-end closed the connection)" : "");
		return ret;
	}
	if (!answer && !ack)
		return 0;
	ret = vu_msg_recv(u->sock, &r);
	if (ret) {
		if (ret == -EAGAIN)
			vu_err(u, "no answer to %s within %d ms", name,
			       u->opts.timeout_ms);
		else if (ret == -ECONNRESET)
			vu_err(u, "the back-end closed the connection instead of answering %s (its log says why)",
			       name);
		else
			vu_err(u, "receiving the answer to %s: %s", name,
			       strerror(-ret));
		return ret;
	}
	vu_msg_close_fds(&r);
	if (r.hdr.request != m->hdr.request ||
	    (r.hdr.flags & VU_FLAG_VERSION_MASK) != VU_VERSION ||
	    !(r.hdr.flags & VU_FLAG_REPLY)) {
		vu_err(u, "answer to %s: request %u, flags %#x (expected request %u with the reply flag, version 1)",
		       name, r.hdr.request, r.hdr.flags, m->hdr.request);
		return -EPROTO;
	}
	if (ack) {
		if (r.hdr.size != VU_SIZE_U64) {
			vu_err(u, "acknowledgement of %s has %u bytes, not 8",
			       name, r.hdr.size);
			return -EPROTO;
		}
		if (r.p.u64) {
			vu_err(u, "the back-end refused %s (status %llu; its log says why)",
			       name, (unsigned long long)r.p.u64);
			return -EIO;
		}
		return 0;
	}
	if (reply)
		*reply = r;
	return 0;
}

/* A request without payload, or with a u64 (and maybe one fd). */
static int call_u64(struct vblk_vu *u, uint32_t req, bool with, uint64_t v,
		    int fd, uint64_t *out)
{
	struct vu_msg m = { .hdr = { .request = req } }, r;
	char nb[32];
	int ret;

	if (with) {
		m.hdr.size = VU_SIZE_U64;
		m.p.u64 = v;
	}
	if (fd >= 0) {
		m.fds[0] = fd;
		m.nfds = 1;
	}
	ret = vblk_vu_call(u, &m, out ? &r : NULL);
	if (ret || !out)
		return ret;
	if (r.hdr.size != VU_SIZE_U64) {
		vu_err(u, "answer to %s has %u bytes, not 8",
		       vu_request_name(req, nb, sizeof(nb)), r.hdr.size);
		return -EPROTO;
	}
	*out = r.p.u64;
	return 0;
}

static int call_state(struct vblk_vu *u, uint32_t req, uint32_t index,
		      uint32_t num)
{
	struct vu_msg m = {
		.hdr = { .request = req, .size = sizeof(struct vu_vring_state) },
		.p.state = { .index = index, .num = num },
	};

	return vblk_vu_call(u, &m, NULL);
}

int vblk_vu_negotiate(struct vblk_vu *u)
{
	uint64_t want, n;
	int ret;

	ret = call_u64(u, VU_GET_FEATURES, false, 0, -1, &u->offered);
	if (ret)
		return ret;
	if (!(u->offered & VBLK_F(VIRTIO_F_VERSION_1))) {
		vu_err(u, "the back-end does not offer VIRTIO_F_VERSION_1 (features %#llx); legacy devices are not supported",
		       (unsigned long long)u->offered);
		return -EOPNOTSUPP;
	}
	want = u->opts.features ? u->opts.features :
				  u->offered & VBLK_VU_FEATURES_KNOWN;
	if (want & ~u->offered) {
		vu_err(u, "features %#llx asked for, but the back-end offers only %#llx",
		       (unsigned long long)want,
		       (unsigned long long)u->offered);
		return -EOPNOTSUPP;
	}
	u->max_queues = 1;
	if (u->offered & VBLK_F(VU_F_PROTOCOL_FEATURES)) {
		want |= VBLK_F(VU_F_PROTOCOL_FEATURES);
		ret = call_u64(u, VU_GET_PROTOCOL_FEATURES, false, 0, -1,
			       &u->proto_offered);
		if (ret)
			return ret;
		n = u->proto_offered &
		    (VBLK_VU_PROTO_WANTED | u->opts.proto_extra);
		ret = call_u64(u, VU_SET_PROTOCOL_FEATURES, true, n, -1, NULL);
		if (ret)
			return ret;
		u->proto = n;
		if (u->proto & VBLK_F(VU_PROTO_F_MQ)) {
			ret = call_u64(u, VU_GET_QUEUE_NUM, false, 0, -1, &n);
			if (ret)
				return ret;
			u->max_queues = (unsigned int)n;
		}
	}
	if (u->nvq > u->max_queues) {
		vu_err(u, "%u queues asked, the back-end serves %u (qemu-storage-daemon: raise num-queues= of the export)",
		       u->nvq, u->max_queues);
		return -EOPNOTSUPP;
	}
	if (u->nvq > 1 && !(want & VBLK_F(VIRTIO_BLK_F_MQ))) {
		vu_err(u, "%u queues asked, but VIRTIO_BLK_F_MQ is not negotiated",
		       u->nvq);
		return -EOPNOTSUPP;
	}
	ret = call_u64(u, VU_SET_OWNER, false, 0, -1, NULL);
	if (ret)
		return ret;
	u->features = want;
	return 0;
}

int vblk_vu_get_config(struct vblk_vu *u)
{
	struct vu_msg m = {
		.hdr = { .request = VU_GET_CONFIG,
			 .size = VU_SIZE_CONFIG(VU_BLK_CONFIG_SIZE) },
		.p.cfg = { .offset = 0, .size = VU_BLK_CONFIG_SIZE },
	}, r;
	int ret;

	if (!(u->proto & VBLK_F(VU_PROTO_F_CONFIG))) {
		vu_err(u, "the back-end lacks protocol feature CONFIG (offers %#llx): the disk's capacity cannot be learnt",
		       (unsigned long long)u->proto_offered);
		return -EOPNOTSUPP;
	}
	ret = vblk_vu_call(u, &m, &r);
	if (ret)
		return ret;
	if (r.hdr.size != VU_SIZE_CONFIG(VU_BLK_CONFIG_SIZE) ||
	    r.p.cfg.size != VU_BLK_CONFIG_SIZE) {
		vu_err(u, "GET_CONFIG of %zu bytes answered with %u bytes (config size %u): the back-end refused it",
		       VU_BLK_CONFIG_SIZE, r.hdr.size, r.p.cfg.size);
		return -EPROTO;
	}
	memset(&u->cfg, 0, sizeof(u->cfg));
	memcpy(&u->cfg, r.p.cfg.data, VU_BLK_CONFIG_SIZE);
	u->capacity = le64toh(u->cfg.capacity);
	u->blk_size = VBLK_SECTOR;
	if ((u->offered & VBLK_F(VIRTIO_BLK_F_BLK_SIZE)) && u->cfg.blk_size)
		u->blk_size = le32toh(u->cfg.blk_size);
	return 0;
}

int vblk_vu_set_mem_table(struct vblk_vu *u)
{
	struct vu_msg m = {
		.hdr = { .request = VU_SET_MEM_TABLE,
			 .size = VU_SIZE_MEM(VBLK_MEM_REGIONS) },
	};
	unsigned int i;

	m.p.mem.nregions = VBLK_MEM_REGIONS;
	for (i = 0; i < VBLK_MEM_REGIONS; i++) {
		m.p.mem.r[i].gpa = u->mem.reg[i].gpa;
		m.p.mem.r[i].size = u->mem.reg[i].size;
		m.p.mem.r[i].uva = (uintptr_t)u->mem.reg[i].hva;
		m.p.mem.r[i].mmap_offset = u->mem.reg[i].fd_offset;
		m.fds[i] = u->mem.fd;
	}
	m.nfds = VBLK_MEM_REGIONS;
	return vblk_vu_call(u, &m, NULL);
}

int vblk_vu_setup_vq(struct vblk_vu *u, unsigned int q)
{
	struct vblk_vq *vq = &u->vq[q];
	struct vu_msg a = {
		.hdr = { .request = VU_SET_VRING_ADDR,
			 .size = sizeof(struct vu_vring_addr) },
		.p.addr = {
			.index = q,
			.desc = (uintptr_t)vq->desc,
			.used = (uintptr_t)vq->used,
			.avail = (uintptr_t)vq->avail,
		},
	};
	int ret;

	vq->event_idx = !!(u->features & VBLK_F(VIRTIO_RING_F_EVENT_IDX));
	vblk_vq_reset(vq, 0);
	ret = call_state(u, VU_SET_VRING_NUM, q, vq->num);
	if (!ret)
		ret = call_state(u, VU_SET_VRING_BASE, q, 0);
	if (!ret)
		ret = vblk_vu_call(u, &a, NULL);
	if (!ret)
		ret = call_u64(u, VU_SET_VRING_CALL, true, q, vq->call_fd, NULL);
	if (!ret)
		ret = call_u64(u, VU_SET_VRING_ERR, true, q, vq->err_fd, NULL);
	if (!ret)
		ret = call_u64(u, VU_SET_VRING_KICK, true, q, vq->kick_fd, NULL);
	/* With protocol features, rings start disabled. */
	if (!ret && (u->features & VBLK_F(VU_F_PROTOCOL_FEATURES)))
		ret = call_state(u, VU_SET_VRING_ENABLE, q, 1);
	return ret;
}

int vblk_vu_setup(struct vblk_vu *u)
{
	unsigned int q;
	int ret;

	ret = vblk_vu_negotiate(u);
	if (!ret)
		ret = vblk_vu_get_config(u);
	if (!ret)
		ret = call_u64(u, VU_SET_FEATURES, true, u->features, -1, NULL);
	if (!ret)
		ret = vblk_vu_set_mem_table(u);
	for (q = 0; !ret && q < u->nvq; q++)
		ret = vblk_vu_setup_vq(u, q);
	return ret;
}

int vblk_vu_start(struct vblk_vu *u, const struct vblk_vu_opts *o)
{
	int ret = vblk_vu_open(u, o);

	return ret ? ret : vblk_vu_setup(u);
}

void vblk_vu_close(struct vblk_vu *u)
{
	unsigned int q;

	if (u->sock >= 0)
		close(u->sock);
	u->sock = -1;
	for (q = 0; q < u->nvq; q++)
		vblk_vq_destroy(&u->vq[q]);
	u->nvq = 0;
	if (u->mem.map)
		vblk_mem_destroy(&u->mem);
}
