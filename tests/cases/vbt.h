/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vbt, the vhost-blk test program: what the cases share.
 *
 * Each case runs in its own process (see vbt.c), so a case that fails may
 * return without releasing what it set up: process exit does that.
 */
#ifndef VBT_H
#define VBT_H

#include <stdbool.h>
#include <stdint.h>

#include "runner.h"
#include "vblk.h"

/* A case's result: the runner's (lib/runner.h). */
enum vbt_result {
	VBT_PASS = VBLK_PASS,
	VBT_FAIL = VBLK_FAIL,
	VBT_SKIP = VBLK_SKIP,
};

struct vbt_opts {
	const char *backend;
	uint32_t engine;
	bool readonly;		/* attach read-only; cases that write skip */
	bool direct;		/* open the backend with O_DIRECT */
	unsigned int queues;
	unsigned int integrity_mib;
	uint64_t seed;
	unsigned int timeout_s;
};

/* One running case. */
struct vbt {
	const struct vbt_opts *o;
	const char *name;
	uint64_t seed;		/* pattern seed of this run */
	char msg[1024];
};

struct vbt_case {
	const char *name;
	int (*fn)(struct vbt *t);
	unsigned int flags;
};

#define VBT_WRITES	1u	/* needs a writable backend */

/* The backend as the test opened it. */
struct vbt_backend {
	int fd;
	bool is_blk;
	bool direct;
	uint64_t size;		/* bytes */
};

/* A device with the backend attached and its config read. */
struct vbt_dev {
	struct vblk_dev d;
	struct vhost_blk_config cfg;
	struct vbt_backend be;
};

#define VBT_SECTORS(bytes)	((uint32_t)((bytes) / VBLK_SECTOR))

/* The device's logical block in sectors. */
static inline uint32_t vbt_lbs_sectors(const struct vbt_dev *v)
{
	return v->cfg.logical_block_size / VBLK_SECTOR;
}

/* Verdicts: set t->msg (the first one wins) and return the result. */
int vbt_fail(struct vbt *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int vbt_skip(struct vbt *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Put "<fmt>: " before the message already in t->msg. */
void vbt_prefix(struct vbt *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* A "# case: ..." line on stderr. */
void vbt_note(struct vbt *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static inline const char *vbt_errno_name(int err)
{
	return vblk_errno_name(err);
}

/* Open the backend: read-write unless @ro, O_DIRECT with --direct. 0, or
 * -1 with t->msg set. */
int vbt_backend_open(struct vbt *t, struct vbt_backend *b, bool ro);
/* Write @what to @dir/@file (sysfs, tracefs, cgroupfs): 0 or -errno. */
int vbt_write_file(const char *dir, const char *file, const char *what);
/* Size in bytes of an open file or block device, or 0. */
uint64_t vbt_fd_size(int fd, bool *is_blk);

/*
 * Open /dev/vhost-blk with @o (NULL: defaults, --queues ignored), set it
 * up, attach the backend (read-only with --readonly or @flags), read the
 * config. The backend fd is closed once attached: the device keeps its
 * own reference. 0, or -1 with t->msg set.
 */
int vbt_dev_up(struct vbt *t, struct vbt_dev *v, const struct vblk_dev_opts *o,
	       uint32_t flags);
/* Device with @queues queues, else as vbt_dev_up(). */
int vbt_dev_up_q(struct vbt *t, struct vbt_dev *v, unsigned int queues);
/* The engine GET_CONFIG should report for this backend and --engine. */
uint32_t vbt_expected_engine(const struct vbt *t, bool is_blk);

/*
 * Check the outcome of a sync helper (@ret: status or -errno): status
 * @want and, unless @want_used < 0, used length @want_used. 0, or -1 with
 * t->msg saying what was expected and what came back.
 */
int vbt_expect(struct vbt *t, struct vblk_vq *vq, const char *what, int ret,
	       uint32_t used, int want, long want_used);
/* The same for a request run by hand (vblk_req_run's return in @ret). */
int vbt_expect_req(struct vbt *t, struct vblk_vq *vq, const char *what,
		   int ret, const struct vblk_req *r, int want, long want_used);

/* Write pattern blocks (write @gen) and expect OK, used len 1. */
int vbt_write_pat(struct vbt *t, struct vblk_vq *vq, uint64_t sector,
		  uint32_t nsect, uint64_t gen, const struct vblk_layout *lo);
/* Read and expect OK, used len + 1, the pattern of write @gen. */
int vbt_verify_pat(struct vbt *t, struct vblk_vq *vq, uint64_t sector,
		   uint32_t nsect, uint64_t gen, const struct vblk_layout *lo);
/* Read and expect OK and used len + 1, whatever the data. */
int vbt_read_ok(struct vbt *t, struct vblk_vq *vq, uint64_t sector,
		uint32_t nsect);
/* A write and a read back on a fresh device: the module still works. */
int vbt_sanity(struct vbt *t, const char *after);

/*
 * Batches on one queue: @n requests of 16 KiB (32 sectors) at sector,
 * sector + 32, ...: pattern writes of generations gen, gen + 1, ... or
 * reads (zeroed buffers in seg[], allocated on first use). Queued, not
 * kicked. vbt_reap_batch() waits for all and checks status, used length
 * and, for reads, the pattern of generations gen, gen + 1, ...
 */
int vbt_queue_batch(struct vbt *t, struct vblk_vq *vq, struct vblk_req *r,
		    struct vblk_seg *seg, unsigned int n, uint64_t sector,
		    bool write, uint64_t gen, bool indirect);
int vbt_reap_batch(struct vbt *t, struct vblk_vq *vq, struct vblk_req *r,
		   unsigned int n, uint64_t gen);
/* min(@want, the num_queues the device reports). */
unsigned int vbt_queues(struct vbt *t, unsigned int want);

/* Guest-physical address of [p, p + len) (which must be guest memory). */
uint64_t vbt_gpa(const struct vblk_mem *m, const void *p, size_t len);
/* A request header in guest memory. */
struct virtio_blk_outhdr *vbt_hdr(struct vblk_mem *m, uint32_t type,
				  uint64_t sector);
/* Run a hand-built chain on @vq and wait for its used entry (in @r): 0, or
 * -1 with t->msg set. */
int vbt_raw_run(struct vbt *t, struct vblk_vq *vq, const char *what,
		const struct vblk_raw_desc *d, unsigned int n, bool indirect,
		struct vblk_req *r);

/*
 * Wait up to @timeout_s for the counters to reach 0 and for page pins to
 * balance. VBT_PASS, VBT_FAIL (t->msg says what stayed), or VBT_SKIP when
 * the stats file is missing (pins were fine).
 */
int vbt_check_clean(struct vbt *t, const char *after, int timeout_s);
/* Finish a lifecycle case: its checks passed; now the leak checks. */
int vbt_finish_clean(struct vbt *t, const char *after);

/* uring.c: read [first, first + nsect) of @path with O_DIRECT through
 * io_uring in chunks, handing each to @cb (non-zero stops). */
int vbt_uring_scan(struct vbt *t, const char *path, uint64_t first,
		   uint64_t nsect, int (*cb)(void *arg, uint64_t sector,
					     const uint8_t *buf, uint32_t nsect),
		   void *arg);

/* The cases. */
int case_dev_node(struct vbt *t);
int case_two_opens(struct vbt *t);
int case_no_owner(struct vbt *t);
int case_features(struct vbt *t);
int case_backend_args(struct vbt *t);
int case_config(struct vbt *t);

int case_rw_sizes(struct vbt *t);
int case_rw_split_header(struct vbt *t);
int case_rw_many_segments(struct vbt *t);
int case_rw_indirect(struct vbt *t);
int case_rw_any_layout(struct vbt *t);
int case_rw_queues(struct vbt *t);
int case_rw_qd(struct vbt *t);
int case_rw_no_event_idx(struct vbt *t);
int case_dio_deferred(struct vbt *t);
int case_rw_misaligned(struct vbt *t);
int case_worker_per_queue(struct vbt *t);
int case_busy_poll(struct vbt *t);
int case_layout(struct vbt *t);
int case_ring_sizes(struct vbt *t);
int case_ring_wrap(struct vbt *t);
int case_flush(struct vbt *t);
int case_get_id(struct vbt *t);
int case_discard(struct vbt *t);
int case_write_zeroes(struct vbt *t);

int case_bad_type(struct vbt *t);
int case_bad_range(struct vbt *t);
int case_read_only(struct vbt *t);

int case_bad_no_status(struct vbt *t);
int case_bad_short_header(struct vbt *t);
int case_bad_no_data(struct vbt *t);
int case_bad_too_many_segs(struct vbt *t);
int case_seg_region_split(struct vbt *t);
int case_bad_discard_segs(struct vbt *t);
int case_bad_double_head(struct vbt *t);
int case_bad_loop(struct vbt *t);
int case_bad_address(struct vbt *t);

int case_idle_close(struct vbt *t);
int case_close_inflight(struct vbt *t);
int case_reset_owner_inflight(struct vbt *t);
int case_detach_inflight(struct vbt *t);
int case_kill_owner(struct vbt *t);

int case_integrity(struct vbt *t);

int case_freeze(struct vbt *t);
int case_ro_after_attach(struct vbt *t);
int case_write_gates(struct vbt *t);
int case_lease_perm(struct vbt *t);
int case_defrag(struct vbt *t);
int case_layout_bound(struct vbt *t);
int case_cgroup_charge(struct vbt *t);
int case_trace(struct vbt *t);
int case_write_through(struct vbt *t);
int case_pin_budget(struct vbt *t);
int case_dirty_log(struct vbt *t);
int case_resize_grow(struct vbt *t);
int case_resize_shrink(struct vbt *t);

#endif /* VBT_H */
