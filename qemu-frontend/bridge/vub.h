/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vhost-blk-user: a vhost-user-blk back-end whose data path is
 * /dev/vhost-blk. A stock QEMU (vhost-user-blk-pci) or libvirt
 * (<disk type='vhostuser'>) connects to its UNIX socket; the daemon maps
 * the guest memory QEMU shares, gives the kernel its own addresses of it,
 * and passes QEMU's kick and call eventfds straight to the kernel. No
 * request goes through this process.
 *
 *   args.c     command line (struct vub_opts)
 *   wire.c     one vhost-user message on the socket, with its descriptors
 *   memtab.c   the guest memory regions: map, check, translate
 *   kdev.c     the /dev/vhost-blk side (an ops table: the unit tests fake it)
 *   session.c  one front-end connection: the message state machine
 *   main.c     open the backend, listen, serve one front-end at a time
 *
 * Message numbers, flags and layouts are those of the vhost-user
 * specification (QEMU's docs/interop/vhost-user.rst).
 */
#ifndef VUB_H
#define VUB_H

#include <signal.h>
#include <stdio.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/virtio_blk.h>
#include "vhost_blk.h"

/* ------------------------------------------------------------------------
 * Wire format
 */

enum vub_request {
	VUB_GET_FEATURES = 1,
	VUB_SET_FEATURES = 2,
	VUB_SET_OWNER = 3,
	VUB_RESET_OWNER = 4,
	VUB_SET_MEM_TABLE = 5,
	VUB_SET_LOG_BASE = 6,
	VUB_SET_LOG_FD = 7,
	VUB_SET_VRING_NUM = 8,
	VUB_SET_VRING_ADDR = 9,
	VUB_SET_VRING_BASE = 10,
	VUB_GET_VRING_BASE = 11,
	VUB_SET_VRING_KICK = 12,
	VUB_SET_VRING_CALL = 13,
	VUB_SET_VRING_ERR = 14,
	VUB_GET_PROTOCOL_FEATURES = 15,
	VUB_SET_PROTOCOL_FEATURES = 16,
	VUB_GET_QUEUE_NUM = 17,
	VUB_SET_VRING_ENABLE = 18,
	VUB_SET_BACKEND_REQ_FD = 21,
	VUB_GET_CONFIG = 24,
	VUB_SET_CONFIG = 25,
	VUB_SET_STATUS = 39,
	VUB_GET_MAX_MEM_SLOTS = 36,
	VUB_ADD_MEM_REG = 37,
	VUB_REM_MEM_REG = 38,
	VUB_GET_STATUS = 40,
};

#define VUB_VERSION		0x1u
#define VUB_FLAG_VERSION_MASK	0x3u
#define VUB_FLAG_REPLY		(1u << 2)
#define VUB_FLAG_NEED_REPLY	(1u << 3)
#define VUB_FLAGS_KNOWN		(VUB_FLAG_VERSION_MASK | VUB_FLAG_REPLY | \
				 VUB_FLAG_NEED_REPLY)

/* Virtio feature bit 30: the back-end speaks protocol features. */
#define VUB_F_PROTOCOL_FEATURES	30

/* Protocol features offered. */
#define VUB_PROTO_F_MQ		0
#define VUB_PROTO_F_LOG_SHMFD	1
#define VUB_PROTO_F_REPLY_ACK	3
#define VUB_PROTO_F_BACKEND_REQ	5
#define VUB_PROTO_F_CONFIG	9
#define VUB_PROTO_F_CONFIGURE_MEM_SLOTS 15
#define VUB_PROTO_F_STATUS	16
#define VUB_PROTO_OFFERED	((1ull << VUB_PROTO_F_MQ) |		\
				 (1ull << VUB_PROTO_F_LOG_SHMFD) |	\
				 (1ull << VUB_PROTO_F_REPLY_ACK) |	\
				 (1ull << VUB_PROTO_F_BACKEND_REQ) |	\
				 (1ull << VUB_PROTO_F_CONFIG) |		\
				 (1ull << VUB_PROTO_F_CONFIGURE_MEM_SLOTS) | \
				 (1ull << VUB_PROTO_F_STATUS))

/* Requests on the back-end channel (SET_BACKEND_REQ_FD): ours to QEMU. */
#define VUB_BACKEND_CONFIG_CHANGE_MSG	2

/* SET_VRING_KICK/CALL/ERR payload: ring index, and this bit without fd. */
#define VUB_VRING_NOFD		(1ull << 8)
#define VUB_VRING_IDX_MASK	0xffull

/* QEMU sends at most 8 regions in SET_MEM_TABLE (and 8 fds a message). */
#define VUB_MAX_FDS		8
#define VUB_MAX_REGIONS		8
/*
 * With CONFIGURE_MEM_SLOTS (ADD/REM_MEM_REG, one region a message): the
 * regions the daemon holds, what the vhost core takes by default
 * (vhost.ko's max_mem_regions).
 */
#define VUB_MAX_SLOTS		64
#define VUB_MAX_CONFIG		256

struct vub_hdr {
	uint32_t request;
	uint32_t flags;
	uint32_t size;
} __attribute__((packed));

struct vub_state {
	uint32_t index;
	uint32_t num;
};

struct vub_addr {
	uint32_t index;
	uint32_t flags;
	uint64_t desc;
	uint64_t used;
	uint64_t avail;
	uint64_t log;
};

struct vub_region {
	uint64_t gpa;
	uint64_t size;
	uint64_t uva;
	uint64_t mmap_offset;
};

struct vub_mem {
	uint32_t nregions;
	uint32_t padding;
	struct vub_region r[VUB_MAX_REGIONS];
};

/* ADD_MEM_REG / REM_MEM_REG payload. */
struct vub_mem_reg {
	uint64_t padding;
	struct vub_region r;
};

/* SET_LOG_BASE with LOG_SHMFD: the log is [offset, offset + size) of its fd. */
struct vub_log {
	uint64_t size;
	uint64_t offset;
};

/* Dirty pages are 4 KiB: one bit of the log each, by guest address. */
#define VUB_LOG_PAGE		4096ull
/* The largest log mapped: 1 GiB covers 32 TiB of guest memory. */
#define VUB_LOG_MAX		(1ull << 30)

struct vub_cfg {
	uint32_t offset;
	uint32_t size;
	uint32_t flags;
	uint8_t data[VUB_MAX_CONFIG];
};

union vub_payload {
	uint64_t u64;
	struct vub_state state;
	struct vub_addr addr;
	struct vub_mem mem;
	struct vub_mem_reg reg;
	struct vub_log log;
	struct vub_cfg cfg;
	uint8_t raw[sizeof(struct vub_cfg)];
};

struct vub_msg {
	struct vub_hdr hdr;
	union vub_payload p;
	int fds[VUB_MAX_FDS];
	unsigned int nfds;
};

#define VUB_SIZE_MEM(n)		(8u + (n) * (uint32_t)sizeof(struct vub_region))
#define VUB_SIZE_CONFIG(n)	(12u + (n))

/*
 * Receive one message. 0; -ECONNRESET when the peer closed the connection
 * between messages; -EINTR when a signal came between messages; -EPROTO
 * for a short or oversized message or too many descriptors (none are left
 * open then); other -errno.
 */
int vub_recv(int sock, struct vub_msg *m);
/* Send header and hdr.size bytes of payload (no descriptors). */
int vub_send(int sock, const struct vub_msg *m);
void vub_close_fds(struct vub_msg *m);
const char *vub_request_name(uint32_t req, char *buf, size_t len);

/* ------------------------------------------------------------------------
 * Options
 */

struct vub_opts {
	const char *socket;
	const char *backend;
	const char *serial;		/* NULL: the module's default */
	bool read_only;
	bool direct;
	unsigned int num_queues;	/* 1..VHOST_BLK_MAX_QUEUES */
	uint32_t engine;		/* VHOST_BLK_ENGINE_* */
	const char *dev;		/* /dev/vhost-blk */
	bool verbose;			/* log every message */
};

/* 0; 1 after --help (printed); -1 with the error printed on stderr. */
int vub_parse_args(struct vub_opts *o, int argc, char **argv);

/* ------------------------------------------------------------------------
 * Guest memory
 */

struct vub_map {
	uint64_t gpa;
	uint64_t size;
	uint64_t uva;		/* the front-end's address */
	uint8_t *local;		/* ours: the region's first byte */
	void *base;		/* what mmap gave */
	size_t len;		/* and its length */
};

struct vub_memtab {
	struct vub_map m[VUB_MAX_SLOTS];
	unsigned int n;
};

/*
 * Map the regions of a SET_MEM_TABLE payload, one descriptor each, into
 * @t (empty on entry). The descriptors are not closed. 0, or -EINVAL
 * with the reason in @why (nothing stays mapped then).
 */
int vub_memtab_map(struct vub_memtab *t, const struct vub_mem *mem,
		   const int *fds, char *why, size_t len);
void vub_memtab_unmap(struct vub_memtab *t);
/*
 * Map region @r (descriptor @fd, not closed) as @t's last entry: 0, or
 * -EINVAL with the reason (a full table, a region that wraps around or
 * overlaps one of @t's; nothing mapped then).
 */
int vub_memtab_add(struct vub_memtab *t, const struct vub_region *r, int fd,
		   char *why, size_t len);
/* The entry of @t at @r's guest address with its size, or -1. */
int vub_memtab_find(const struct vub_memtab *t, const struct vub_region *r);
/* Our address of [uva, uva + len) of the front-end, or NULL. */
void *vub_memtab_uva(const struct vub_memtab *t, uint64_t uva, uint64_t len);
/* The end of the highest region's guest addresses (0: no region). */
uint64_t vub_memtab_end(const struct vub_memtab *t);

/* ------------------------------------------------------------------------
 * The kernel device
 */

struct vub_kops {
	int (*open)(void *ctx, const char *path);	/* fd or -errno */
	int (*ioctl)(void *ctx, int fd, unsigned long req, void *arg);	/* 0 or -errno */
	void (*close)(void *ctx, int fd);
};

/* open(2), ioctl(2), close(2) on the real device. */
extern const struct vub_kops vub_kops_real;

/* What the module says of the backend, and which features to offer. */
struct vub_probe {
	struct vhost_blk_config kcfg;
	uint64_t features;		/* virtio features, without bit 30 */
};

/*
 * Attach the backend to a scratch device (a one-entry ring of our own),
 * read its configuration and features, close it. 0, or -errno with what
 * to do in @why.
 */
int vub_probe(const struct vub_kops *k, void *kctx, const struct vub_opts *o,
	      int backend_fd, struct vub_probe *p, char *why, size_t len);
/* The virtio-blk configuration space (little-endian) of @p. */
void vub_blk_config(const struct vub_probe *p, unsigned int num_queues,
		    uint8_t writeback, struct virtio_blk_config *c);

/*
 * A vhost worker a queue (Linux 6.4, VHOST_NEW_WORKER), as QEMU's
 * vhost-blk-pci (worker-per-virtqueue=on) and the test library give the
 * device when it has several queues: the ABI, for headers older than it
 * (a kernel older than it answers ENOTTY, and the queues share one).
 */
struct vub_worker_state {
	unsigned int worker_id;
};

struct vub_vring_worker {
	unsigned int index;
	unsigned int worker_id;
};

#define VUB_NEW_WORKER		_IOR(VHOST_VIRTIO, 0x8, struct vub_worker_state)
#define VUB_ATTACH_VRING_WORKER	_IOW(VHOST_VIRTIO, 0x15, struct vub_vring_worker)
#ifdef VHOST_NEW_WORKER
_Static_assert(VUB_NEW_WORKER == VHOST_NEW_WORKER &&
	       VUB_ATTACH_VRING_WORKER == VHOST_ATTACH_VRING_WORKER,
	       "the vhost worker ioctls are <linux/vhost.h>'s");
#endif

/* ------------------------------------------------------------------------
 * One connection
 */

struct vub_ring {
	uint32_t num;			/* SET_VRING_NUM, 0 before */
	bool has_addr;
	struct vub_addr addr;		/* as the front-end sent it */
	int kick;			/* ours: the kernel holds its own */
	bool enabled;
	bool kactive;			/* the kernel has its address and kick */
};

struct vub_dev {
	const struct vub_opts *opts;
	const struct vub_kops *k;
	void *kctx;
	int backend_fd;
	struct vub_probe probe;		/* refreshed for each connection */
	/*
	 * Set by a signal handler: end the connection between messages. The
	 * signals are blocked but while waiting for a message, in ppoll()
	 * with @waitmask (NULL: no such wait, as in the unit tests).
	 */
	volatile int *stop;
	const sigset_t *waitmask;
	/*
	 * Online resize: while the backend is attached, VHOST_BLK_RESIZE
	 * every @resize_ms (0: 1000); a front-end that does not answer a
	 * CONFIG_CHANGE_MSG within @ack_ms (0: 5000) loses its back-end
	 * channel. @cap_reported: the capacity last given in GET_CONFIG to
	 * any front-end, kept across connections so that a disk grown while
	 * QEMU reconnected is still announced; 0 until then, and a front-end
	 * that started its rings without asking (QEMU reconnecting to a
	 * restarted daemon) is told the capacity once.
	 */
	int resize_ms;
	int ack_ms;
	uint64_t cap_reported;
	FILE *log;			/* events worth a line; NULL: none */
};

struct vub_conn {
	struct vub_dev *dev;
	int sock;
	int kfd;			/* this connection's /dev/vhost-blk */
	bool owner;
	bool features_set;
	bool attached;
	uint64_t features;		/* acked, bit 30 included */
	unsigned int workers;		/* queues with a vhost worker of their own */
	uint64_t proto;
	uint8_t status;
	uint8_t writeback;
	bool has_mem;
	struct vub_memtab mem;
	struct vub_ring ring[VHOST_BLK_MAX_QUEUES];
	int backend_req;		/* SET_BACKEND_REQ_FD, or -1 */
	void *log_map;			/* SET_LOG_BASE's mapping, or NULL */
	size_t log_len;
	uint8_t *log;			/* the bitmap's first byte (in log_map) */
	uint64_t log_size;		/* its bytes */
	uint64_t cap_notified;		/* last CONFIG_CHANGE_MSG was for */
	bool ack_pending;		/* its answer is awaited */
	uint64_t ack_deadline;		/* ms, CLOCK_MONOTONIC */
	uint64_t next_resize;		/* ms, CLOCK_MONOTONIC */
	unsigned long config_changes;	/* CONFIG_CHANGE_MSGs sent */
	unsigned long handled;		/* messages */
	char why[256];			/* why the connection was closed */
};

/*
 * Serve one front-end on @sock until it goes away or breaks the protocol,
 * or *d->stop is set: 0 when it closed the connection (or the daemon
 * stops), -1 with the reason in c->why. Either
 * way the backend is detached and everything the connection had is
 * released (the socket is not closed).
 */
int vub_serve(struct vub_dev *d, int sock, struct vub_conn *c);

#endif /* VUB_H */
