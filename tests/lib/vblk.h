/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * libvblk: play the guest of /dev/vhost-blk.
 *
 * The library owns a piece of "guest memory" (an anonymous mapping registered
 * with the device as two regions at guest-physical addresses unlike their
 * userspace addresses), split virtqueues in that memory, and builds
 * virtio-blk requests in it. Layers, each usable on its own:
 *
 *   mem.c      guest memory: regions, allocator, gpa <-> hva
 *   vring.c    one split virtqueue: descriptor chains (direct, indirect,
 *              raw), avail/used rings, EVENT_IDX, kick/call/err eventfds
 *   dev.c      the /dev/vhost-blk file: owner, features, memory table,
 *              vrings, backend, serial, config
 *   dlog.c     the dirty log of live migration (VHOST_F_LOG_ALL)
 *   req.c      virtio-blk requests: builders, sync helpers, async reaping
 *   pump.c     keep many requests in flight over several queues
 *   pattern.c  self-describing, checksummed 512-byte blocks
 *
 * Functions return 0 (or a count, or a status byte) on success and a
 * negative errno on failure; the text of the failure is in the err member
 * of the object passed (struct vblk_vq, struct vblk_dev, struct vblk_pump).
 * Nothing is global: two devices in one process are independent.
 */
#ifndef VBLK_H
#define VBLK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/vhost.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include "vhost_blk.h"

#define VBLK_ERR_LEN		256
#define VBLK_SECTOR		512u

/* ------------------------------------------------------------------------
 * Guest memory
 */

#define VBLK_MEM_REGIONS	2
#define VBLK_MEM_DEFAULT_SIZE	(64u << 20)
/* Guest-physical bases of the two regions: far from any userspace address. */
#define VBLK_GPA_BASE0		0x100000000ULL
#define VBLK_GPA_BASE1		0x4000000000ULL

struct vblk_extent {
	size_t off;
	size_t len;
};

struct vblk_extents {
	struct vblk_extent *v;	/* sorted by offset */
	size_t n;
	size_t cap;
};

struct vblk_region {
	uint64_t gpa;
	uint8_t *hva;
	size_t size;
	uint64_t fd_offset;		/* shared memory: hva's offset in mem->fd */
	struct vblk_extents free;	/* coalesced */
	struct vblk_extents used;
};

struct vblk_mem {
	void *map;
	size_t map_size;
	struct vblk_region reg[VBLK_MEM_REGIONS];
	unsigned int next;		/* region the next allocation tries first */
	bool shared;			/* backed by fd (a memfd), MAP_SHARED */
	int fd;				/* -1 unless shared */
};

/* Map @size bytes (0: the default), half in each region. */
int vblk_mem_init(struct vblk_mem *m, size_t size);
/*
 * The same, backed by a memfd mapped MAP_SHARED, so that another process
 * (a vhost-user back-end) can map it: m->fd and each region's fd_offset.
 */
int vblk_mem_init_shared(struct vblk_mem *m, size_t size);
void vblk_mem_destroy(struct vblk_mem *m);
/*
 * Zeroed guest memory of @size bytes aligned to @align (a power of two);
 * NULL when no region has room. Allocations alternate between the regions,
 * so buffers of one test land in both; no allocation spans two regions.
 */
void *vblk_mem_alloc(struct vblk_mem *m, size_t size, size_t align);
void *vblk_mem_alloc_in(struct vblk_mem *m, unsigned int region, size_t size,
			size_t align);
void vblk_mem_free(struct vblk_mem *m, void *p);
size_t vblk_mem_free_bytes(const struct vblk_mem *m);
/* [p, p + len) inside one region: its guest-physical address, else -EFAULT. */
int vblk_mem_gpa(const struct vblk_mem *m, const void *p, size_t len,
		 uint64_t *gpa);
/* [gpa, gpa + len) inside one region: its userspace address, else NULL. */
void *vblk_mem_hva(const struct vblk_mem *m, uint64_t gpa, size_t len);

/* ------------------------------------------------------------------------
 * Split virtqueue
 */

/* One descriptor's buffer, given by its userspace address in guest memory. */
struct vblk_buf {
	void *addr;
	uint32_t len;
	bool write;		/* device-writable */
};

/*
 * One descriptor given as is, for chains a well-behaved driver would not
 * build. addr is a guest-physical address; flags may hold any bits.
 */
struct vblk_raw_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
};

/* What a chain in flight holds, by head index. */
struct vblk_slot {
	void *token;
	void *owned;		/* guest memory returned with the used entry */
	void *table;		/* indirect table, freed on completion */
	uint16_t ndesc;		/* ring descriptors the chain holds */
	bool busy;
};

/* One used ring entry. */
struct vblk_used {
	uint32_t id;
	uint32_t len;
	bool known;		/* id was a chain in flight */
	void *token;
	void *owned;		/* the caller frees it (vblk_mem_free) */
};

struct vblk_vq {
	struct vblk_mem *mem;
	unsigned int index;
	unsigned int num;
	bool event_idx;		/* VIRTIO_RING_F_EVENT_IDX negotiated */
	uint32_t seg_size;	/* default data segment size for builders */
	int timeout_ms;		/* default wait of the sync helpers */

	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint16_t *used_event;	/* avail->ring[num] */
	uint16_t *avail_event;	/* used->ring[num] */

	uint16_t avail_idx;	/* next avail->idx */
	uint16_t kicked_idx;	/* avail->idx at the last notify decision */
	uint16_t last_used;	/* next used entry to take */
	uint16_t free_head;
	unsigned int nfree;
	unsigned int inflight;
	uint16_t *link;		/* free list and chains, host side only */
	struct vblk_slot *slot;

	int kick_fd;
	int call_fd;
	int err_fd;
	uint64_t errors;	/* error eventfd count so far */
	uint64_t kicks;		/* notifications sent */
	uint64_t kicks_saved;	/* notifications EVENT_IDX/NO_NOTIFY spared */
	uint64_t calls;		/* call eventfd count so far */
	char err[VBLK_ERR_LEN];
};

#define VBLK_RING_MAX		32768u
#define VBLK_DEFAULT_TIMEOUT_MS	15000

/* Rings in @mem and three eventfds. @num: a power of two up to 32768. */
int vblk_vq_init(struct vblk_vq *vq, struct vblk_mem *mem, unsigned int index,
		 unsigned int num);
void vblk_vq_destroy(struct vblk_vq *vq);
/*
 * Empty rings starting at index @base (as given to VHOST_SET_VRING_BASE);
 * chains in flight are forgotten and their guest memory freed.
 */
void vblk_vq_reset(struct vblk_vq *vq, uint16_t base);

/*
 * Put a chain of @n buffers in the ring (directly, or as one indirect
 * descriptor) and make it available. @owned (may be NULL) comes back in
 * struct vblk_used. Returns the head, -ENOSPC when the ring lacks free
 * descriptors, -EFAULT for a buffer outside guest memory, -ENOMEM.
 * The device is not notified: see vblk_vq_kick().
 */
int vblk_vq_add(struct vblk_vq *vq, const struct vblk_buf *b, unsigned int n,
		bool indirect, void *token, void *owned);
/* The same with descriptors as given; NEXT and next are set to chain them. */
int vblk_vq_add_raw(struct vblk_vq *vq, const struct vblk_raw_desc *d,
		    unsigned int n, bool indirect, void *token, void *owned);

/*
 * Fully manual chains: take @n descriptors off the free list (their indices
 * in @idx, idx[0] the head the slot is kept under), write any descriptor,
 * make any head available, move avail->idx anywhere.
 */
int vblk_vq_reserve(struct vblk_vq *vq, unsigned int n, uint16_t *idx,
		    void *token);
void vblk_vq_set_desc(struct vblk_vq *vq, uint16_t i, uint64_t addr,
		      uint32_t len, uint16_t flags, uint16_t next);
void vblk_vq_publish(struct vblk_vq *vq, uint16_t head);
void vblk_vq_set_avail_idx(struct vblk_vq *vq, uint16_t idx);

/* Notify the device if it asked for it: 1 notified, 0 spared, -errno. */
int vblk_vq_kick(struct vblk_vq *vq);
int vblk_vq_kick_force(struct vblk_vq *vq);

/*
 * Take the next used entry: 1 taken, 0 none, -EPROTO if used->idx moved
 * impossibly. An id that was not in flight comes back with known false.
 */
int vblk_vq_get_used(struct vblk_vq *vq, struct vblk_used *u);
bool vblk_vq_has_used(const struct vblk_vq *vq);
/*
 * Ask for an interrupt and wait for used entries: 0 when there are some,
 * -ETIMEDOUT, or -EIO when used entries appeared but the call eventfd was
 * not signalled (a lost interrupt). timeout_ms < 0 waits forever.
 */
int vblk_vq_wait(struct vblk_vq *vq, int timeout_ms);
int vblk_vq_wait_any(struct vblk_vq *const *vqs, unsigned int n,
		     int timeout_ms);
/* Count of the error eventfd so far. */
uint64_t vblk_vq_errors(struct vblk_vq *vq);
/* Wait until the error count exceeds @above: 0, or -ETIMEDOUT. */
int vblk_vq_wait_error(struct vblk_vq *vq, uint64_t above, int timeout_ms);

/*
 * Does a notification index crossing [old, new) pass @event? The
 * VIRTIO_RING_F_EVENT_IDX rule, for both directions.
 */
static inline bool vblk_need_event(uint16_t event, uint16_t new_idx,
				   uint16_t old)
{
	return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old);
}

/* ------------------------------------------------------------------------
 * Device
 */

/*
 * What a guest driver such as Linux's negotiates. With FLUSH the device's
 * cache is write-back; without it, write-through.
 */
#define VBLK_F(bit)		(1ULL << (bit))
#define VBLK_FEATURES_DEFAULT	(VBLK_F(VIRTIO_F_VERSION_1) |		\
				 VBLK_F(VIRTIO_F_ANY_LAYOUT) |		\
				 VBLK_F(VIRTIO_RING_F_INDIRECT_DESC) |	\
				 VBLK_F(VIRTIO_RING_F_EVENT_IDX) |	\
				 VBLK_F(VIRTIO_BLK_F_FLUSH))

struct vblk_dev_opts {
	const char *path;		/* default /dev/vhost-blk */
	unsigned int queues;		/* 1..VHOST_BLK_MAX_QUEUES, default 1 */
	unsigned int ring_size;		/* default 128 */
	uint16_t ring_base;		/* first avail/used index, default 0 */
	size_t mem_size;		/* default 64 MiB */
	uint64_t features;		/* to negotiate, default the four above */
	bool worker_per_queue;		/* VHOST_NEW_WORKER for each queue */
	unsigned int poll_us;		/* VHOST_SET_VRING_BUSYLOOP_TIMEOUT */
	bool shared_mem;		/* guest memory in a memfd, MAP_SHARED */
};

struct vblk_dev {
	int fd;
	struct vblk_dev_opts opts;
	uint64_t offered;		/* VHOST_GET_FEATURES */
	uint64_t features;		/* negotiated */
	struct vblk_mem mem;
	struct vblk_vq vq[VHOST_BLK_MAX_QUEUES];
	unsigned int nvq;
	struct vhost_blk_config cfg;	/* the last VHOST_BLK_GET_CONFIG */
	char err[VBLK_ERR_LEN];
};

void vblk_dev_opts_init(struct vblk_dev_opts *o);
/* Open the device node, map guest memory, lay out the rings. No ioctl. */
int vblk_dev_open(struct vblk_dev *d, const struct vblk_dev_opts *o);
/*
 * SET_OWNER, GET/SET_FEATURES, SET_MEM_TABLE, workers if asked, and
 * SET_VRING_NUM/BASE/ADDR/KICK/CALL/ERR for each queue (empty rings).
 */
int vblk_dev_setup(struct vblk_dev *d);
/* vblk_dev_open() and vblk_dev_setup(). */
int vblk_dev_start(struct vblk_dev *d, const struct vblk_dev_opts *o);
/* The steps of vblk_dev_setup() one by one. */
int vblk_dev_set_owner(struct vblk_dev *d);
int vblk_dev_negotiate(struct vblk_dev *d, uint64_t want);
int vblk_dev_set_mem_table(struct vblk_dev *d);
int vblk_dev_new_workers(struct vblk_dev *d);
/*
 * Whether the loaded module reports @feature off on this kernel ("-name"
 * in /sys/module/vhost_blk/parameters/features; docs/kernels.md): false
 * when it is on, or the module does not say.
 */
bool vblk_module_lacks(const char *feature);
int vblk_dev_setup_vq(struct vblk_dev *d, unsigned int q);
/* VHOST_BLK_SET_BACKEND; fd -1 detaches. */
int vblk_dev_attach(struct vblk_dev *d, int fd, uint32_t flags,
		    uint32_t engine);
int vblk_dev_detach(struct vblk_dev *d);
/* VHOST_BLK_GET_CONFIG into *cfg and d->cfg; sets each vq's seg_size. */
int vblk_dev_get_config(struct vblk_dev *d, struct vhost_blk_config *cfg);
int vblk_dev_set_serial(struct vblk_dev *d, const void *id, size_t len);
/* VHOST_BLK_SET_WRITEBACK: false makes the device write-through. */
int vblk_dev_set_writeback(struct vblk_dev *d, bool writeback);
/* VHOST_RESET_OWNER. Call vblk_dev_setup() to use the device again. */
int vblk_dev_reset_owner(struct vblk_dev *d);
/* Close the file (requests may be in flight), then unmap guest memory. */
void vblk_dev_close(struct vblk_dev *d);

/*
 * Dirty logging for live migration (dlog.c): a bitmap of one bit a
 * VBLK_LOG_PAGE of guest memory, and the eventfd the device signals after
 * it logged something (non-blocking).
 */
#define VBLK_LOG_PAGE		4096u

struct vblk_log {
	uint8_t *bits;
	size_t bytes;
	int efd;
};

/* A zeroed bitmap for guest addresses below @end, and the eventfd:
 * 0 or -errno. */
int vblk_log_init(struct vblk_log *l, uint64_t end);
void vblk_log_destroy(struct vblk_log *l);
/* Read (and so reset) eventfd @efd without blocking: its count, 0 when
 * it was not signalled. */
uint64_t vblk_log_events(int efd);
/* VHOST_SET_LOG_BASE @bits and VHOST_SET_LOG_FD @efd (-1: none). */
int vblk_dev_set_log(struct vblk_dev *d, void *bits, int efd);
/* VHOST_SET_VRING_ADDR of queue @q again, its used ring (at @used_gpa)
 * logged (VHOST_VRING_F_LOG) or not. */
int vblk_dev_log_vring(struct vblk_dev *d, unsigned int q, bool on,
		       uint64_t used_gpa);
/* VHOST_SET_FEATURES: the negotiated ones, with VHOST_F_LOG_ALL or not. */
int vblk_dev_log_all(struct vblk_dev *d, bool on);
/* All of it, as QEMU when a migration starts: log base and eventfd, every
 * queue's used ring logged, VHOST_F_LOG_ALL on. -EOPNOTSUPP if not offered. */
int vblk_dev_log_start(struct vblk_dev *d, const struct vblk_log *l);

/* ------------------------------------------------------------------------
 * virtio-blk requests
 */

/* Status byte before the device writes it. */
#define VBLK_STATUS_UNSET	0xee

enum vblk_dir {
	VBLK_DIR_AUTO,		/* IN and GET_ID: device-writable data */
	VBLK_DIR_OUT,		/* data the device reads */
	VBLK_DIR_IN,		/* data the device writes */
};

/* A data segment: a buffer in guest memory. */
struct vblk_seg {
	void *buf;
	uint32_t len;
};

struct vblk_req {
	/* in */
	uint32_t type;
	uint32_t ioprio;
	uint64_t sector;
	struct vblk_seg *seg;
	unsigned int nseg;
	enum vblk_dir dir;
	unsigned int hdr_split;	/* 1..15: header in two descriptors */
	bool indirect;
	void *priv;		/* the caller's */
	/* out */
	bool done;
	uint8_t status;
	uint32_t used_len;
	/* library */
	bool raw;		/* status not read: the caller built the chain */
	int head;
	uint8_t *status_ptr;
};

/* How the sync helpers lay a request out. NULL: one header descriptor,
 * data in segments of vq->seg_size, direct. */
struct vblk_layout {
	unsigned int hdr_split;
	uint32_t seg_size;	/* 0: vq->seg_size */
	bool indirect;
};

/* Split @len bytes at @buf into segments of at most @seg_size: the count,
 * or 0 if that takes more than @max. */
unsigned int vblk_split(struct vblk_seg *seg, unsigned int max, void *buf,
			size_t len, size_t seg_size);

/* Build @r in the ring and make it available (no kick). -ENOSPC: full. */
int vblk_req_queue(struct vblk_vq *vq, struct vblk_req *r);
/* vblk_req_queue() and vblk_vq_kick(). */
int vblk_req_submit(struct vblk_vq *vq, struct vblk_req *r);
/* A raw chain (see vblk_vq_add_raw) with @r as its token, kicked. */
int vblk_raw_submit(struct vblk_vq *vq, struct vblk_req *r,
		    const struct vblk_raw_desc *d, unsigned int n,
		    bool indirect);
/*
 * Collect completed requests into @done (at most @max), waiting up to
 * @timeout_ms for the first. Returns the count, -ETIMEDOUT, or -EPROTO
 * when the device returned something that was not in flight.
 */
int vblk_reap(struct vblk_vq *vq, int timeout_ms, struct vblk_req **done,
	      unsigned int max);
/* Reap until @r is done (others reaped meanwhile are marked done). */
int vblk_req_wait(struct vblk_vq *vq, struct vblk_req *r, int timeout_ms);
/* Submit and wait with vq->timeout_ms: 0 (see r->status), or -errno. */
int vblk_req_run(struct vblk_vq *vq, struct vblk_req *r);

/*
 * Sync helpers. They return the status byte (>= 0) or -errno; @used_len
 * may be NULL. Buffers are in guest memory.
 */
int vblk_rw(struct vblk_vq *vq, uint32_t type, uint64_t sector, void *buf,
	    size_t len, const struct vblk_layout *lo, uint32_t *used_len);
int vblk_read(struct vblk_vq *vq, uint64_t sector, void *buf, size_t len);
int vblk_write(struct vblk_vq *vq, uint64_t sector, void *buf, size_t len);
int vblk_flush(struct vblk_vq *vq, uint32_t *used_len);
int vblk_get_id(struct vblk_vq *vq, void *buf, size_t len,
		uint32_t *used_len);
/* DISCARD or WRITE_ZEROES; @segs in any memory (copied to guest memory). */
int vblk_discard_type(struct vblk_vq *vq, uint32_t type,
		      const struct virtio_blk_discard_write_zeroes *segs,
		      unsigned int n, uint32_t *used_len);
int vblk_discard(struct vblk_vq *vq, uint64_t sector, uint32_t nsect);
int vblk_write_zeroes(struct vblk_vq *vq, uint64_t sector, uint32_t nsect,
		      bool unmap);

/* "OK", "IOERR", "UNSUPP", "unset (never written)" or "0x.." in @buf. */
const char *vblk_status_str(int status, char *buf, size_t len);
/* "IN", "OUT", "FLUSH", ... or the number. */
const char *vblk_type_str(uint32_t type, char *buf, size_t len);

/* ------------------------------------------------------------------------
 * Pump: keep requests in flight over several queues.
 */

struct vblk_pump;

struct vblk_pump_op {
	struct vblk_req req;
	unsigned int queue;
	void *buf;		/* buf_size bytes of guest memory, 4 KiB aligned */
	struct vblk_seg *seg;	/* room for max_segs segments */
	void *user;		/* the callbacks' */
	uint64_t sector;	/* the callbacks' */
	uint32_t nsect;		/* the callbacks' */
	uint64_t gen;		/* the callbacks' */
};

struct vblk_pump {
	struct vblk_dev *dev;
	unsigned int queues;	/* use vq[0..queues) */
	unsigned int depth;	/* requests in flight over all queues */
	size_t buf_size;	/* per op */
	unsigned int max_segs;
	int timeout_ms;
	/*
	 * Fill op->req (type, sector, seg, nseg, layout; seg/buf are the op's).
	 * 1: submit it; 0: nothing more for now (the pump ends when nothing is
	 * in flight either); < 0: stop with an error (message in p->err).
	 */
	int (*prep)(struct vblk_pump *p, struct vblk_pump_op *op);
	/* op->req completed. < 0: stop with an error. */
	int (*done)(struct vblk_pump *p, struct vblk_pump_op *op);
	void *arg;
	/* results */
	uint64_t submitted;
	uint64_t completed;
	char err[VBLK_ERR_LEN];
};

int vblk_pump_run(struct vblk_pump *p);

/* ------------------------------------------------------------------------
 * Patterns: 512-byte blocks that say where they belong and which write
 * put them there.
 */

#define VBLK_PAT_MAGIC		0x3174617062766276ULL	/* "vbvbpat1" */

enum vblk_pat_result {
	VBLK_PAT_OK,
	VBLK_PAT_ZERO,		/* all zero bytes */
	VBLK_PAT_NOT_PATTERN,	/* no magic */
	VBLK_PAT_CORRUPT,	/* checksum mismatch: torn or damaged */
	VBLK_PAT_MISPLACED,	/* a block of another sector */
	VBLK_PAT_FOREIGN,	/* a block of another run (seed) */
	VBLK_PAT_STALE,		/* a block of another write (generation) */
};

/* What a block says about itself. */
struct vblk_pat_info {
	uint64_t sector;
	uint64_t seed;
	uint64_t gen;
};

/* Fill @nblocks blocks for sectors @sector.. written by write @gen of run
 * @seed. */
void vblk_pat_fill(void *buf, uint64_t sector, unsigned int nblocks,
		   uint64_t seed, uint64_t gen);
/* Check one block; @found (may be NULL) gets what the block says. */
enum vblk_pat_result vblk_pat_check(const void *blk, uint64_t sector,
				    uint64_t seed, uint64_t gen,
				    struct vblk_pat_info *found);
/* One line explaining a result of vblk_pat_check(). */
const char *vblk_pat_explain(char *buf, size_t len, enum vblk_pat_result res,
			     uint64_t sector, uint64_t gen,
			     const struct vblk_pat_info *found);
/* Check @nblocks blocks of one write: -1 if all fine, else the index of the
 * first bad block, explained in @msg. */
long vblk_pat_verify(const void *buf, uint64_t sector, unsigned int nblocks,
		     uint64_t seed, uint64_t gen, char *msg, size_t len);

/* ------------------------------------------------------------------------
 * Leak checks (stats.c): the module's debugfs counters, the page pins.
 */

#define VBLK_STATS_PATH	"/sys/kernel/debug/vhost_blk/stats"

struct vblk_stats {
	long devices;
	long requests;
	long pinned_pages;
};

/* Events since the module was loaded (debugfs events). */
#define VBLK_EVENTS_PATH	"/sys/kernel/debug/vhost_blk/events"

struct vblk_events {
	long layout_bios;	/* requests sent to a file's blocks (bio engine) */
	long layout_recalls;	/* file layouts given back on request */
	long layout_remaps;	/* file layouts taken again after a recall */
	long dio_deferred;	/* direct writes to a file ended by the worker */
};

/* 0, -errno if the file cannot be read, -EINVAL if it lacks a counter. */
int vblk_read_stats(struct vblk_stats *s);
int vblk_read_events(struct vblk_events *e);
/* nr_foll_pin_acquired - nr_foll_pin_released; *known false if absent. */
long vblk_page_pins(bool *known);

enum vblk_clean {
	VBLK_CLEAN,		/* all zero */
	VBLK_LEAKED,		/* something stayed: @msg says what */
	VBLK_UNCHECKED,		/* the counters cannot be read: @msg says why */
};

/* Wait up to @timeout_s for the counters to be 0 and the pins to balance. */
enum vblk_clean vblk_wait_clean(int timeout_s, char *msg, size_t len);

struct timespec;
/* Seconds since @since (CLOCK_MONOTONIC). */
double vblk_elapsed(const struct timespec *since);
/* CLOCK_MONOTONIC in milliseconds. */
int64_t vblk_now_ms(void);
void vblk_sleep_us(unsigned long us);
/* xorshift64*: a fast stream for workloads (a 0 *state starts it anew). */
uint64_t vblk_rand(uint64_t *state);
/* splitmix64 (Steele, Lea, Flood): any state, e.g. to seed other streams. */
uint64_t vblk_splitmix(uint64_t *state);

/*
 * A whole number (decimal, 0x hex or 0 octal) of at most @max: 0 and *v
 * set, or -1 (and *v untouched).
 */
int vblk_parse_uint(const char *s, uint64_t max, uint64_t *v);

static inline uint64_t vblk_align_up(uint64_t x, uint64_t a)
{
	return (x + a - 1) / a * a;
}

/* "auto", "kiocb", "bio" to VHOST_BLK_ENGINE_*: 0, or -1 for another name. */
int vblk_engine_parse(const char *name, uint32_t *engine);
const char *vblk_engine_name(uint32_t engine);
/* "EINVAL" and the like for @err (or -@err); strerror() for the rarer ones. */
const char *vblk_errno_name(int err);

#endif /* VBLK_H */
