/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vhost-blk's shared definitions. Who owns what (docs/design.md has the
 * picture):
 *
 *   main.c    the device: /dev/vhost-blk, its ioctls, backend attach/detach,
 *             the engine chosen once, at attach
 *   req.c     the request model: ring -> checked request -> engine ->
 *             status -> used ring; engines only through their ops
 *   kiocb.c   the kiocb engine: the backend file's read_iter/write_iter
 *   bio.c     the bio engine: bios to a block device, or to an image
 *             file's own blocks through its layout
 *   layout.c  an image file's block map under a layout lease (bio engine)
 *   io.c      what the engines share: the punt workqueue, page-cache sync
 *             and drop, flush/discard/zeroes on the backend file
 *   trace.h   the tracepoints
 */
#ifndef VHOST_BLK_BLK_H
#define VHOST_BLK_BLK_H

#include <linux/blkdev.h>
#include <linux/bvec.h>
#include <linux/fs.h>
#include <linux/llist.h>
#include <linux/percpu.h>
#include <linux/virtio_blk.h>
#include <linux/workqueue.h>

#include "vhost.h"
#include "compat.h"
#include "../uapi/vhost_blk.h"

/* Limits the device reports in VHOST_BLK_GET_CONFIG and enforces. */
#define VHOST_BLK_SEG_MAX		128		/* reported; bytes are enforced */
#define VHOST_BLK_SIZE_MAX		SZ_64K		/* bytes a segment */
#define VHOST_BLK_MAX_BYTES		(VHOST_BLK_SEG_MAX * VHOST_BLK_SIZE_MAX)
#define VHOST_BLK_DISCARD_SEG_MAX	16
#define VHOST_BLK_DISCARD_SECTORS_MAX	(SZ_1G >> SECTOR_SHIFT)
#define VHOST_BLK_INLINE_BVECS		16	/* 64 KiB; as large as segs[] */
#define VHOST_BLK_WEIGHT		256
#define VHOST_BLK_BATCH			16		/* requests between used ring updates */
#define VHOST_BLK_BUSYLOOP_MAX_US	10000		/* cap of the poll window */
#define VHOST_BLK_PUNT_MAX_ACTIVE	64		/* punted requests run at once */
/*
 * Guest pages a queue keeps pinned at once (32 MiB of 4 KiB pages). Each
 * pin of a small page adds GUP_PIN_COUNTING_BIAS (1024) to its refcount:
 * segments that all point at one page would otherwise take it near the
 * refcount's limit (2^31) with a few thousand requests in flight. Bounded,
 * a device holds at most 2^17 pins, 2^27 of that refcount.
 */
#define VHOST_BLK_PIN_BUDGET		8192
#define VHOST_BLK_INLINE_LOG		4	/* writable descriptors kept inline */

struct vhost_blk_req;
struct vhost_blk_backend_state;
struct vhost_blk_layout;

/*
 * Why a request did not go the direct way: it was punted to the workqueue
 * (where it may block), or the bio engine sent it through the file. For
 * the tracepoints.
 */
enum vhost_blk_why {
	VHOST_BLK_WHY_CMD,		/* FLUSH, DISCARD, WRITE_ZEROES: always */
	VHOST_BLK_WHY_NO_NOWAIT,	/* the backend cannot try without blocking */
	VHOST_BLK_WHY_AGAIN,		/* it would have blocked */
	VHOST_BLK_WHY_SHORT,		/* done in part without blocking */
	VHOST_BLK_WHY_FREEZE,		/* the file system is freezing */
	VHOST_BLK_WHY_CACHE,		/* cached pages of the range */
	VHOST_BLK_WHY_LAYOUT,		/* not in the image file's map */
	VHOST_BLK_WHY_MISALIGNED,	/* buffers the device cannot take */
	VHOST_BLK_WHY_SYNC,		/* a write-through write to the cache */
};

/*
 * An engine: what the request model calls, and nothing else of it. Chosen
 * once, when the backend is attached.
 */
struct vhost_blk_engine_ops {
	const char	*name;
	/*
	 * Start a read or write whose guest pages are pinned (req->bvec).
	 * @nowait: from the vhost worker, which must not block: what would
	 * goes to vhost_blk_punt(). Else from the punt workqueue. Ends with
	 * vhost_blk_req_done(), from any context.
	 */
	void		(*rw)(struct vhost_blk_req *req, bool nowait);
	/* From the punt workqueue: 0 or -errno. */
	int		(*flush)(struct vhost_blk_backend_state *be);
	int		(*discard)(struct vhost_blk_backend_state *be,
				   u64 sector, u32 nr);
	int		(*write_zeroes)(struct vhost_blk_backend_state *be,
					u64 sector, u32 nr, bool unmap);
	/*
	 * The completion it expects: called in task context (the worker, or
	 * the orphan work) for every request before its status goes out.
	 * False when the request was issued again instead of ending.
	 */
	bool		(*end)(struct vhost_blk_req *req);
};

extern const struct vhost_blk_engine_ops vhost_blk_kiocb_ops;
extern const struct vhost_blk_engine_ops vhost_blk_bio_ops;

/*
 * What the attached backend is and how to drive it; fixed while attached
 * but for its capacity (VHOST_BLK_RESIZE).
 */
struct vhost_blk_backend_state {
	struct file		*file;
	struct block_device	*bdev;		/* NULL for a regular file */
	/*
	 * 512-byte sectors. Changed by VHOST_BLK_RESIZE with the queues
	 * stopped (under dev.mutex); requests read it under vq.mutex.
	 */
	u64			capacity;
	u32			lbs;		/* logical block size */
	u32			dio_mem_align;	/* O_DIRECT buffers; 0: any */
	u32			pbs;		/* physical block size */
	u32			discard_sectors;
	u32			discard_align;	/* sectors */
	u32			zeroes_sectors;
	bool			read_only;
	bool			nowait;		/* FMODE_NOWAIT: try inline first */
	u32			engine;		/* VHOST_BLK_ENGINE_* */
	const struct vhost_blk_engine_ops *ops;
	/* The bio engine on a file: its blocks, while the layout holds. */
	struct vhost_blk_layout	*layout;
	/*
	 * Requests punted to a workqueue run there as the owner who attached
	 * the backend: its credentials, I/O and memory cgroups; on this
	 * device's own workqueue, so one guest's punts wait for no other's.
	 */
	struct workqueue_struct	*wq;
	/*
	 * Work that lets go of the layout's lock (a bio's post-write): never
	 * behind punts that wait for that lock on @wq, which an exclusive
	 * waiter (fallocate, an extent swap) holds up until every shared
	 * holder lets go.
	 */
	struct workqueue_struct	*release_wq;
	const struct cred	*cred;
	struct cgroup_subsys_state *blkcg_css;	/* NULL without io cgroups */
	struct mem_cgroup	*memcg;		/* NULL without memory cgroups */
};

struct vhost_blk_vq;

struct vhost_blk_req {
	struct vhost_blk_vq	*bvq;
	struct vhost_blk_req	*next_free;
	struct llist_node	done_node;
	/* Initialised once; runs work_fn (vhost_blk_queue_work()). */
	struct work_struct	work;
	void			(*work_fn)(struct vhost_blk_req *req);
	union {
		struct kiocb	iocb;		/* kiocb engine */
		struct bio	bio;		/* bio engine */
	};
	u8 __user		*status_ptr;
	u64			sector;
	u64			start_ns;	/* while traced */
	size_t			len;		/* data bytes */
	u32			type;
	u32			used_len;
	u16			head;
	u8			status;
	bool			to_guest;	/* the device writes guest pages */
	/* Write-through: durable before it completes (FUA, IOCB_DSYNC). */
	bool			fua;
	unsigned int		nr_bvec;
	unsigned int		nr_seg;		/* discard / write zeroes */
	struct bio_vec		*bvec;		/* pinned guest pages */
	/* Aligned copies of misaligned data (io.c: vhost_blk_bounce()). */
	struct bio_vec		*bounce;
	unsigned int		nr_bounce;
	bool			bounce_read;	/* bounce holds the data read */
	/* Holds the layout's invalidate lock (bio engine on a file). */
	bool			layout_locked;
	/* The file system left the write's end to the reap (kiocb engine). */
	bool			dio_deferred;
	/*
	 * Dirty logging (VHOST_F_LOG_ALL): the device-writable descriptors,
	 * by guest address, logged once the request has written them.
	 */
	struct vhost_log	*log;
	unsigned int		log_num;
	struct vhost_log	inline_log[VHOST_BLK_INLINE_LOG];
	union {
		struct bio_vec	inline_bvec[VHOST_BLK_INLINE_BVECS];
		struct virtio_blk_discard_write_zeroes
				segs[VHOST_BLK_DISCARD_SEG_MAX];
	};
};

struct vhost_blk;

struct vhost_blk_vq {
	struct vhost_virtqueue	vq;
	struct vhost_blk	*blk;
	struct vhost_blk_req	*reqs;		/* vq.num of them while attached */
	unsigned int		nr_reqs;
	unsigned int		index;
	struct vhost_blk_req	*free;		/* under vq.mutex */
	unsigned int		inflight;	/* under vq.mutex */
	unsigned int		pinned;		/* under vq.mutex: pages */
	bool			starved;	/* under vq.mutex */
	bool			repoll;		/* under vq.mutex: notify is off */
	/*
	 * The worker while it runs the kick loop. Set and cleared under
	 * vq.mutex; completions read it without, only to compare with
	 * current (a stale value is never current).
	 */
	struct task_struct	*loop_task;
	struct llist_head	done_list;
	struct vhost_work	done_work;
	/* Completes requests without guest memory once the worker is gone. */
	struct work_struct	orphan_work;
};

struct vhost_blk {
	struct vhost_dev		dev;
	struct vhost_blk_vq		vqs[VHOST_BLK_MAX_QUEUES];
	/*
	 * Set and cleared under dev.mutex, by attach and detach. Requests
	 * read it without: they exist only between the two, and detach
	 * drains them before it clears it.
	 */
	struct vhost_blk_backend_state	*be;
	wait_queue_head_t		drain_wq;
	spinlock_t			serial_lock;	/* serial vs GET_ID */
	/*
	 * Write-back cache (VHOST_BLK_SET_WRITEBACK): set under dev.mutex,
	 * read by requests as they start, under vq.mutex.
	 */
	bool				writeback;
	/* VHOST_BLK_SET_CONFIG_CALL's eventfd, under dev.mutex. */
	struct eventfd_ctx		*config_ctx;
	u32				id;		/* in tracepoints */
	u8				serial[VHOST_BLK_SERIAL_LEN];
};

/* req.c: the request model. */
void vhost_blk_handle_kick(struct vhost_work *work);
void vhost_blk_done_work(struct vhost_work *work);
void vhost_blk_orphan_work(struct work_struct *work);
void vhost_blk_req_done(struct vhost_blk_req *req, u8 status);
void vhost_blk_punt(struct vhost_blk_req *req, enum vhost_blk_why why);
int vhost_blk_vq_alloc_reqs(struct vhost_blk_vq *bvq);
void vhost_blk_vq_free_reqs(struct vhost_blk_vq *bvq);
bool vhost_blk_vq_idle(struct vhost_blk_vq *bvq);

/* io.c: what the engines share. */
int vhost_blk_io_init(void);
void vhost_blk_io_exit(void);
extern struct workqueue_struct *vhost_blk_wq;
int vhost_blk_owner_get(struct vhost_blk_backend_state *be, u32 id);
void vhost_blk_owner_put(struct vhost_blk_backend_state *be);
void vhost_blk_work_init(struct vhost_blk_req *req);
void vhost_blk_queue_work(struct vhost_blk_req *req,
			  void (*fn)(struct vhost_blk_req *req));
void vhost_blk_queue_release(struct vhost_blk_req *req,
			     void (*fn)(struct vhost_blk_req *req));
int vhost_blk_sync_cache(struct address_space *mapping, loff_t pos,
			 size_t len, bool drop);
int vhost_blk_drop_cache(struct address_space *mapping, loff_t pos,
			 size_t len);
int vhost_blk_bounce(struct vhost_blk_req *req);
void vhost_blk_bounce_free(struct vhost_blk_req *req);
int vhost_blk_file_flush(struct vhost_blk_backend_state *be);
int vhost_blk_file_discard(struct vhost_blk_backend_state *be, u64 sector,
			   u32 nr);
int vhost_blk_file_write_zeroes(struct vhost_blk_backend_state *be,
				u64 sector, u32 nr, bool unmap);

/* layout.c: an image file's blocks, for the bio engine. */
int vhost_blk_layout_check(struct file *file);
int vhost_blk_layout_get(struct vhost_blk_backend_state *be);
void vhost_blk_layout_put(struct vhost_blk_backend_state *be);
void vhost_blk_layout_resize(struct vhost_blk_layout *lo, u64 size);
void vhost_blk_layout_touch(struct vhost_blk_layout *lo);
struct block_device *vhost_blk_layout_bdev(struct vhost_blk_layout *lo);
int vhost_blk_layout_start(struct vhost_blk_layout *lo,
			   struct vhost_blk_req *req, bool nowait);
void vhost_blk_layout_end(struct vhost_blk_layout *lo, bool write);
void vhost_blk_layout_unlock(struct vhost_blk_layout *lo);
void vhost_blk_layout_submit(struct vhost_blk_layout *lo, struct bio *bio,
			     u64 pos);
int vhost_blk_layout_zeroout(struct vhost_blk_layout *lo, u64 pos, u64 len);

/*
 * main.c: counters for tests and debugging, in debugfs: what is live now
 * (back to 0 when every device is closed), and events since load. Per
 * CPU, summed when read: they are bumped on the request path.
 */
enum vhost_blk_stat {
	VHOST_BLK_STAT_DEVICES,
	VHOST_BLK_STAT_REQUESTS,
	VHOST_BLK_STAT_PINNED_PAGES,
	/* events */
	VHOST_BLK_STAT_LAYOUT_BIOS,	/* requests sent to a file's blocks */
	VHOST_BLK_STAT_LAYOUT_RECALLS,	/* layouts given back on request */
	VHOST_BLK_STAT_LAYOUT_REMAPS,	/* layouts taken again after one */
	VHOST_BLK_STAT_DIO_DEFERRED,	/* direct writes ended in the reap */
	VHOST_BLK_NR_STATS
};

struct vhost_blk_stats {
	long	v[VHOST_BLK_NR_STATS];
};

DECLARE_PER_CPU(struct vhost_blk_stats, vhost_blk_stats);

static inline void vhost_blk_stat_add(enum vhost_blk_stat s, long n)
{
	this_cpu_add(vhost_blk_stats.v[s], n);
}

static inline struct vhost_blk_backend_state *
vhost_blk_req_backend(struct vhost_blk_req *req)
{
	return req->bvq->blk->be;
}

#endif /* VHOST_BLK_BLK_H */
