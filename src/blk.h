/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef VHOST_BLK_BLK_H
#define VHOST_BLK_BLK_H

#include <linux/blkdev.h>
#include <linux/bvec.h>
#include <linux/fs.h>
#include <linux/llist.h>
#include <linux/virtio_blk.h>
#include <linux/workqueue.h>

#include "vhost.h"
#include "compat.h"
#include "../uapi/vhost_blk.h"

/* Limits the device reports in VHOST_BLK_GET_CONFIG and enforces. */
#define VHOST_BLK_SEG_MAX		128		/* data segments a request */
#define VHOST_BLK_SIZE_MAX		SZ_64K		/* bytes a segment */
#define VHOST_BLK_MAX_BYTES		(VHOST_BLK_SEG_MAX * VHOST_BLK_SIZE_MAX)
#define VHOST_BLK_DISCARD_SEG_MAX	16
#define VHOST_BLK_DISCARD_SECTORS_MAX	(SZ_1G >> SECTOR_SHIFT)
#define VHOST_BLK_INLINE_BVECS		16	/* 64 KiB; as large as segs[] */
#define VHOST_BLK_WEIGHT		256
#define VHOST_BLK_BATCH			16		/* requests between used ring updates */
#define VHOST_BLK_BUSYLOOP_MAX_US	10000		/* cap of the poll window */

struct vhost_blk_layout;

/* What the attached backend is and how to drive it; fixed while attached. */
struct vhost_blk_backend_state {
	struct file		*file;
	struct block_device	*bdev;		/* NULL for a regular file */
	u64			capacity;	/* 512-byte sectors */
	u32			lbs;		/* logical block size */
	u32			pbs;		/* physical block size */
	u32			discard_sectors;
	u32			discard_align;	/* sectors */
	u32			zeroes_sectors;
	bool			read_only;
	bool			nowait;		/* FMODE_NOWAIT: try inline first */
	u32			engine;
	/* The bio engine on a file: its blocks, while the layout holds. */
	struct vhost_blk_layout	*layout;
};

struct vhost_blk_vq;

struct vhost_blk_req {
	struct vhost_blk_vq	*bvq;
	struct vhost_blk_req	*next_free;
	struct llist_node	done_node;
	struct work_struct	punt_work;
	union {
		struct kiocb	iocb;		/* kiocb engine */
		struct bio	bio;		/* bio engine */
	};
	u8 __user		*status_ptr;
	u64			sector;
	size_t			len;		/* data bytes */
	u32			type;
	u32			used_len;
	u16			head;
	u8			status;
	bool			to_guest;	/* the device writes guest pages */
	unsigned int		nr_bvec;
	unsigned int		nr_seg;		/* discard / write zeroes */
	struct bio_vec		*bvec;		/* pinned guest pages */
	/* Aligned copies of misaligned data, for the bio engine on a file. */
	struct bio_vec		*bounce;
	unsigned int		nr_bounce;
	bool			bounce_read;	/* bounce holds the data read */
	/* The file system left the write's end to the reap (kiocb engine). */
	bool			dio_deferred;
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
	struct vhost_blk_req	*free;		/* under vq.mutex */
	unsigned int		inflight;	/* under vq.mutex */
	bool			starved;	/* under vq.mutex */
	bool			repoll;		/* under vq.mutex: notify is off */
	/* The worker while it runs the kick loop (under vq.mutex). */
	struct task_struct	*loop_task;
	struct llist_head	done_list;
	struct vhost_work	done_work;
	/* Completes requests without guest memory once the worker is gone. */
	struct work_struct	orphan_work;
};

struct vhost_blk {
	struct vhost_dev		dev;
	struct vhost_blk_vq		vqs[VHOST_BLK_MAX_QUEUES];
	struct vhost_blk_backend_state	*be;	/* under dev.mutex */
	wait_queue_head_t		drain_wq;
	spinlock_t			serial_lock;	/* serial vs GET_ID */
	u8				serial[VHOST_BLK_SERIAL_LEN];
};

/* req.c */
void vhost_blk_handle_kick(struct vhost_work *work);
void vhost_blk_done_work(struct vhost_work *work);
void vhost_blk_orphan_work(struct work_struct *work);
void vhost_blk_req_done(struct vhost_blk_req *req, u8 status);
int vhost_blk_vq_alloc_reqs(struct vhost_blk_vq *bvq);
void vhost_blk_vq_free_reqs(struct vhost_blk_vq *bvq);
bool vhost_blk_vq_idle(struct vhost_blk_vq *bvq);

/* kiocb.c */
extern struct workqueue_struct *vhost_blk_wq;
void vhost_blk_submit_rw(struct vhost_blk_req *req);
void vhost_blk_kiocb_submit(struct vhost_blk_req *req);
void vhost_blk_kiocb_rw(struct vhost_blk_req *req, bool nowait);
bool vhost_blk_kiocb_finish(struct vhost_blk_req *req);
void vhost_blk_punt(struct vhost_blk_req *req);
int vhost_blk_sync_cache(struct address_space *mapping, loff_t pos,
			 size_t len, bool drop);
int vhost_blk_drop_cache(struct address_space *mapping, loff_t pos,
			 size_t len);

/* bio.c */
void vhost_blk_bio_submit(struct vhost_blk_req *req, bool nowait);
void vhost_blk_bounce_free(struct vhost_blk_req *req);

/* layout.c */
int vhost_blk_layout_get(struct vhost_blk_backend_state *be);
void vhost_blk_layout_put(struct vhost_blk_backend_state *be);
void vhost_blk_layout_touch(struct vhost_blk_layout *lo);
struct block_device *vhost_blk_layout_bdev(struct vhost_blk_layout *lo);
int vhost_blk_layout_start(struct vhost_blk_layout *lo,
			   struct vhost_blk_req *req, bool nowait);
void vhost_blk_layout_end(struct vhost_blk_layout *lo, bool write);
void vhost_blk_layout_submit(struct vhost_blk_layout *lo, struct bio *bio,
			     u64 pos);
int vhost_blk_layout_zeroout(struct vhost_blk_layout *lo, u64 pos, u64 len);

/*
 * main.c: counters for tests and debugging, in debugfs: what is live now
 * (stats: back to 0 when every device is closed), and events since load.
 */
struct vhost_blk_stats {
	atomic_long_t	devices;
	atomic_long_t	requests;
	atomic_long_t	pinned_pages;
	/* events */
	atomic_long_t	layout_bios;	/* requests sent to a file's blocks */
	atomic_long_t	layout_recalls;	/* layouts given back on request */
	atomic_long_t	layout_remaps;	/* layouts taken again after one */
	atomic_long_t	dio_deferred;	/* direct writes ended in the reap */
};

extern struct vhost_blk_stats vhost_blk_stats;

static inline struct vhost_blk_backend_state *
vhost_blk_req_backend(struct vhost_blk_req *req)
{
	return req->bvq->blk->be;
}

#endif /* VHOST_BLK_BLK_H */
