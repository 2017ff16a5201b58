/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * libvblk, vhost-user: play the guest (the "front-end") of a vhost-user-blk
 * back-end, such as qemu-storage-daemon's vhost-user-blk export, over its
 * UNIX socket. The same rings and requests as /dev/vhost-blk (vblk.h);
 * only the control path differs:
 *
 *   vu-msg.c   the wire format: one message, with the file descriptors
 *              that travel beside it (SCM_RIGHTS); both directions, so a
 *              test can play the back-end
 *   vu.c       the front-end: connect, negotiate features and protocol
 *              features, share guest memory (a memfd) with
 *              SET_MEM_TABLE, set up and enable the vrings, read the
 *              virtio-blk configuration
 *
 * Message numbers, flags and layouts are those of the vhost-user
 * specification (QEMU's docs/interop/vhost-user.rst). Functions return 0
 * (or a count) or a negative errno, with the text in the err member.
 */
#ifndef VBLK_VU_H
#define VBLK_VU_H

#include <stdint.h>

#include "vblk.h"

/* ------------------------------------------------------------------------
 * Messages
 */

enum vu_request {
	VU_GET_FEATURES = 1,
	VU_SET_FEATURES = 2,
	VU_SET_OWNER = 3,
	VU_RESET_OWNER = 4,
	VU_SET_MEM_TABLE = 5,
	VU_SET_VRING_NUM = 8,
	VU_SET_VRING_ADDR = 9,
	VU_SET_VRING_BASE = 10,
	VU_GET_VRING_BASE = 11,
	VU_SET_VRING_KICK = 12,
	VU_SET_VRING_CALL = 13,
	VU_SET_VRING_ERR = 14,
	VU_GET_PROTOCOL_FEATURES = 15,
	VU_SET_PROTOCOL_FEATURES = 16,
	VU_GET_QUEUE_NUM = 17,
	VU_SET_VRING_ENABLE = 18,
	VU_GET_CONFIG = 24,
};

#define VU_VERSION		0x1u
#define VU_FLAG_VERSION_MASK	0x3u
#define VU_FLAG_REPLY		(1u << 2)
#define VU_FLAG_NEED_REPLY	(1u << 3)

/* Virtio feature bit: the back-end speaks protocol features. */
#define VU_F_PROTOCOL_FEATURES	30

/* Protocol feature bits (the ones this front-end may use). */
#define VU_PROTO_F_MQ		0
#define VU_PROTO_F_REPLY_ACK	3
#define VU_PROTO_F_CONFIG	9

/* SET_VRING_KICK/CALL/ERR payload: the ring index, and this bit when no
 * file descriptor comes with the message. */
#define VU_VRING_NOFD		(1u << 8)
#define VU_VRING_IDX_MASK	0xffu

#define VU_MAX_FDS		8
#define VU_MAX_REGIONS		8
#define VU_MAX_CONFIG		256

struct vu_hdr {
	uint32_t request;
	uint32_t flags;
	uint32_t size;		/* of the payload that follows */
} __attribute__((packed));

struct vu_vring_state {
	uint32_t index;
	uint32_t num;
};

struct vu_vring_addr {
	uint32_t index;
	uint32_t flags;
	uint64_t desc;		/* front-end addresses of the rings */
	uint64_t used;
	uint64_t avail;
	uint64_t log;
};

struct vu_region {
	uint64_t gpa;
	uint64_t size;
	uint64_t uva;		/* the front-end's address of the region */
	uint64_t mmap_offset;	/* where it starts in the fd */
};

struct vu_mem_table {
	uint32_t nregions;
	uint32_t padding;
	struct vu_region r[VU_MAX_REGIONS];
};

struct vu_config {
	uint32_t offset;
	uint32_t size;
	uint32_t flags;
	uint8_t data[VU_MAX_CONFIG];
};

union vu_payload {
	uint64_t u64;
	struct vu_vring_state state;
	struct vu_vring_addr addr;
	struct vu_mem_table mem;
	struct vu_config cfg;
	uint8_t raw[sizeof(struct vu_mem_table)];
};

struct vu_msg {
	struct vu_hdr hdr;
	union vu_payload p;
	int fds[VU_MAX_FDS];
	unsigned int nfds;
};

/* Payload sizes as the specification has them on the wire. */
#define VU_SIZE_U64		sizeof(uint64_t)
#define VU_SIZE_MEM(n)		(8u + (n) * (uint32_t)sizeof(struct vu_region))
#define VU_SIZE_CONFIG(n)	(12u + (n))

/*
 * Send @m (header, hdr.size bytes of payload, and m->nfds descriptors).
 * 0, or -errno (-EPIPE: the peer is gone).
 */
int vu_msg_send(int sock, const struct vu_msg *m);
/*
 * Receive one message into @m. Descriptors that came with it are in
 * m->fds (the caller closes them). 0; -ECONNRESET when the peer closed
 * the connection; -EPROTO for a message this side cannot hold (size
 * beyond the payload, more than VU_MAX_FDS descriptors); -EAGAIN on a
 * socket time-out; other -errno.
 */
int vu_msg_recv(int sock, struct vu_msg *m);
/* Close the descriptors that came with @m. */
void vu_msg_close_fds(struct vu_msg *m);
/* "GET_FEATURES", ... or "request N" in @buf. */
const char *vu_request_name(uint32_t req, char *buf, size_t len);

/* ------------------------------------------------------------------------
 * Front-end
 */

struct vblk_vu_opts {
	const char *path;		/* the back-end's UNIX socket */
	unsigned int queues;		/* 1..VHOST_BLK_MAX_QUEUES, default 1 */
	unsigned int ring_size;		/* default 128 */
	size_t mem_size;		/* guest memory, default 64 MiB */
	/*
	 * Virtio features to negotiate. 0: everything the back-end offers
	 * that this library understands (VBLK_VU_FEATURES_KNOWN), with
	 * VIRTIO_BLK_F_MQ only when queues > 1.
	 */
	uint64_t features;
	int timeout_ms;			/* for each answer, default 15 s */
	/* Protocol features asked for besides VBLK_VU_PROTO_WANTED, when
	 * offered (0: none). */
	uint64_t proto_extra;
};

/* Virtio features the front-end knows how to use. */
#define VBLK_VU_FEATURES_KNOWN	(VBLK_F(VIRTIO_F_VERSION_1) |		\
				 VBLK_F(VIRTIO_RING_F_INDIRECT_DESC) |	\
				 VBLK_F(VIRTIO_RING_F_EVENT_IDX) |	\
				 VBLK_F(VIRTIO_BLK_F_SIZE_MAX) |	\
				 VBLK_F(VIRTIO_BLK_F_SEG_MAX) |		\
				 VBLK_F(VIRTIO_BLK_F_BLK_SIZE) |	\
				 VBLK_F(VIRTIO_BLK_F_FLUSH) |		\
				 VBLK_F(VIRTIO_BLK_F_TOPOLOGY) |	\
				 VBLK_F(VIRTIO_BLK_F_MQ) |		\
				 VBLK_F(VIRTIO_BLK_F_DISCARD) |		\
				 VBLK_F(VIRTIO_BLK_F_WRITE_ZEROES) |	\
				 VBLK_F(VIRTIO_BLK_F_RO) |		\
				 VBLK_F(VU_F_PROTOCOL_FEATURES))

/* Protocol features the front-end asks for when offered. */
#define VBLK_VU_PROTO_WANTED	(VBLK_F(VU_PROTO_F_MQ) |		\
				 VBLK_F(VU_PROTO_F_REPLY_ACK) |		\
				 VBLK_F(VU_PROTO_F_CONFIG))

struct vblk_vu {
	int sock;
	struct vblk_vu_opts opts;
	uint64_t offered;		/* GET_FEATURES */
	uint64_t features;		/* negotiated */
	uint64_t proto_offered;		/* GET_PROTOCOL_FEATURES */
	uint64_t proto;			/* negotiated */
	unsigned int max_queues;	/* GET_QUEUE_NUM (1 without MQ) */
	struct vblk_mem mem;		/* shared: the back-end maps it */
	struct vblk_vq vq[VHOST_BLK_MAX_QUEUES];
	unsigned int nvq;
	struct virtio_blk_config cfg;	/* GET_CONFIG, little-endian as sent */
	uint64_t capacity;		/* sectors, from cfg */
	uint32_t blk_size;		/* bytes, from cfg (512 without) */
	char err[VBLK_ERR_LEN];
};

void vblk_vu_opts_init(struct vblk_vu_opts *o);
/* Connect to the socket, map shared guest memory, lay out the rings. */
int vblk_vu_open(struct vblk_vu *u, const struct vblk_vu_opts *o);
/*
 * GET_FEATURES, GET/SET_PROTOCOL_FEATURES, GET_QUEUE_NUM, SET_OWNER,
 * GET_CONFIG, SET_FEATURES, SET_MEM_TABLE, then for each queue
 * SET_VRING_NUM/BASE/ADDR/CALL/ERR/KICK and SET_VRING_ENABLE.
 */
int vblk_vu_setup(struct vblk_vu *u);
/* vblk_vu_open() and vblk_vu_setup(). */
int vblk_vu_start(struct vblk_vu *u, const struct vblk_vu_opts *o);
/* The steps of vblk_vu_setup(). */
int vblk_vu_negotiate(struct vblk_vu *u);
int vblk_vu_get_config(struct vblk_vu *u);
int vblk_vu_set_mem_table(struct vblk_vu *u);
int vblk_vu_setup_vq(struct vblk_vu *u, unsigned int q);
/*
 * One request and, for GET_* requests or when REPLY_ACK is negotiated,
 * its answer in *reply (may be NULL for acks). Exposed for tests.
 */
int vblk_vu_call(struct vblk_vu *u, struct vu_msg *m, struct vu_msg *reply);
/* Close the connection (the back-end stops the rings), unmap memory. */
void vblk_vu_close(struct vblk_vu *u);

#endif /* VBLK_VU_H */
