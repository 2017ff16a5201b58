// SPDX-License-Identifier: GPL-2.0-only
/*
 * The bio engine: the request's pinned guest pages become the bvec table of
 * one bio, submitted straight to the block device (which splits it to its
 * limits), plugged with the rest of the kick's batch. REQ_NOWAIT first; a
 * bio the device could not take without blocking is issued again from the
 * workqueue.
 *
 * On a raw image file the bios go to the file's blocks, through its block
 * layout (layout.c). What the bios cannot serve goes through the backend
 * file, by one call: vhost_blk_bio_fallback(). That is misaligned buffers on
 * a block device, ranges the layout does not map, and cached pages that
 * cannot be dropped. Misaligned buffers on a file go through copies of our
 * own instead: a write through the file would recall the layout.
 *
 * The bios go under the page cache of the device or file, as O_DIRECT does,
 * and keep it coherent the same way: cached pages of the range are written
 * back before a read or write and dropped before and after a write. So the
 * fallback, an engine attached later and every other reader of the device
 * or file see what the guest wrote. With no cached pages (the usual case)
 * this costs a load.
 */
#include <linux/bio.h>
#include <linux/blkdev.h>
#include <linux/pagemap.h>
#include <linux/uio.h>

#include "blk.h"
#include "trace.h"

static struct address_space *vhost_blk_bio_mapping(struct vhost_blk_req *req)
{
	return vhost_blk_req_backend(req)->file->f_mapping;
}

/* The device the bios go to: NULL while no block of a file is mapped. */
static struct block_device *vhost_blk_bio_bdev(struct vhost_blk_req *req)
{
	const struct vhost_blk_backend_state *be = vhost_blk_req_backend(req);

	return be->layout ? vhost_blk_layout_bdev(be->layout) : be->bdev;
}

/*
 * Let go of the layout's invalidate lock a bio of @req held: before the
 * request is issued again or sent through the file, or when it ends. In
 * task context.
 */
static void vhost_blk_bio_unlock(struct vhost_blk_req *req)
{
	if (req->layout_locked) {
		vhost_blk_layout_unlock(vhost_blk_req_backend(req)->layout);
		req->layout_locked = false;
	}
}

/*
 * The one way into the file for what the bios cannot serve: the kiocb
 * engine's read or write, through its operations.
 */
static void vhost_blk_bio_fallback(struct vhost_blk_req *req,
				   enum vhost_blk_why why, bool nowait)
{
	vhost_blk_bio_unlock(req);
	if (req->bounce)
		vhost_blk_bounce_free(req);
	trace_vhost_blk_req_fallback(req, why);
	vhost_blk_kiocb_ops.rw(req, nowait);
}

/*
 * Make the page cache agree with the device before the bio: -EAGAIN when
 * that would block and @nowait, -EBUSY when a page of the range cannot go.
 */
static int vhost_blk_bio_sync_cache(struct vhost_blk_req *req, bool nowait)
{
	struct address_space *mapping = vhost_blk_bio_mapping(req);
	loff_t pos = req->sector << SECTOR_SHIFT;

	if (!READ_ONCE(mapping->nrpages))
		return 0;
	if (nowait && req->to_guest)
		return mapping_tagged(mapping, PAGECACHE_TAG_DIRTY) ||
		       mapping_tagged(mapping, PAGECACHE_TAG_WRITEBACK) ? -EAGAIN : 0;
	if (nowait)
		return filemap_range_has_page(mapping, pos, pos + req->len - 1) ?
		       -EAGAIN : 0;
	return vhost_blk_sync_cache(mapping, pos, req->len, !req->to_guest);
}

/* The write again, through the cache (vhost_blk_bio_post_write()). */
static void vhost_blk_bio_cache_fallback(struct vhost_blk_req *req)
{
	vhost_blk_bio_fallback(req, VHOST_BLK_WHY_CACHE, false);
}

/*
 * A write is on the device: drop pages read into the cache meanwhile. A page
 * that a buffered write (the fallback of a misaligned request sharing the
 * page) dirtied meanwhile cannot go, and holds what it read before this
 * write: its writeback would undo the write. Write the data again through
 * the cache, into that page.
 *
 * On the release workqueue: the bio is done, so the layout's lock goes
 * first (an exclusive waiter for it holds up the punts on the device's
 * workqueue, and this would wait behind them there); the write through
 * the cache, which may block on the file, goes to that workqueue.
 */
static void vhost_blk_bio_post_write(struct vhost_blk_req *req)
{
	vhost_blk_bio_unlock(req);
	if (vhost_blk_drop_cache(vhost_blk_bio_mapping(req),
				 req->sector << SECTOR_SHIFT, req->len)) {
		vhost_blk_queue_work(req, vhost_blk_bio_cache_fallback);
		return;
	}
	vhost_blk_req_done(req, VIRTIO_BLK_S_OK);
}

static void vhost_blk_bio_end_io(struct bio *bio)
{
	struct vhost_blk_req *req = bio->bi_private;
	struct vhost_blk_layout *lo = vhost_blk_req_backend(req)->layout;
	blk_status_t status = bio->bi_status;
	bool nowait = bio->bi_opf & REQ_NOWAIT;

	bio_uninit(bio);
	if (lo)
		vhost_blk_layout_end(lo, !req->to_guest);
	if (!status && req->to_guest && req->bounce)
		req->bounce_read = true;
	if (status == BLK_STS_AGAIN && nowait) {
		vhost_blk_punt(req, VHOST_BLK_WHY_AGAIN);
		return;
	}
	if (!status && !req->to_guest &&
	    READ_ONCE(vhost_blk_bio_mapping(req)->nrpages)) {
		vhost_blk_queue_release(req, vhost_blk_bio_post_write);
		return;
	}
	vhost_blk_req_done(req, status ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK);
}

/* Can the device take these pages as they are? */
static bool vhost_blk_bio_aligned(struct vhost_blk_req *req,
				  struct block_device *bdev)
{
	unsigned int mask = bdev_dma_alignment(bdev);
	unsigned int i;

	for (i = 0; i < req->nr_bvec; i++)
		if ((req->bvec[i].bv_offset | req->bvec[i].bv_len) & mask)
			return false;
	return true;
}

/*
 * Get @req ready for a bio to @bdev: its pages (or copies the device can
 * take), the page cache, the layout of a file. 0 to go on; -EAGAIN to punt
 * it, -ENOENT to send it through the file, @why saying why; any other
 * error fails it.
 */
static int vhost_blk_bio_prepare(struct vhost_blk_req *req,
				 struct block_device *bdev, bool nowait,
				 enum vhost_blk_why *why)
{
	struct vhost_blk_layout *lo = vhost_blk_req_backend(req)->layout;
	int ret;

	*why = VHOST_BLK_WHY_LAYOUT;
	if (!bdev)
		return -ENOENT;
	*why = VHOST_BLK_WHY_MISALIGNED;
	if (!vhost_blk_bio_aligned(req, bdev)) {
		if (!lo)
			return -ENOENT;
		ret = vhost_blk_bounce(req);
		if (ret)
			return ret;
	}
	*why = VHOST_BLK_WHY_CACHE;
	ret = vhost_blk_bio_sync_cache(req, nowait);
	/* A page of the range is dirty again: write through the cache. */
	if (ret == -EBUSY)
		return -ENOENT;
	if (ret || !lo)
		return ret;
	ret = vhost_blk_layout_start(lo, req, nowait);
	*why = ret == -EAGAIN ? VHOST_BLK_WHY_FREEZE : VHOST_BLK_WHY_LAYOUT;
	if (ret == -EBUSY)
		return -EAGAIN;
	req->layout_locked = !ret;
	return ret;
}

/* The pinned bvec table (or the copies') becomes the bio's. */
static void vhost_blk_bio_issue(struct vhost_blk_req *req,
				struct block_device *bdev, bool nowait)
{
	struct vhost_blk_layout *lo = vhost_blk_req_backend(req)->layout;
	struct bio *bio = &req->bio;
	/* Guest writes are waited for, as direct writes are: not writeback. */
	blk_opf_t opf = req->to_guest ? REQ_OP_READ :
					REQ_OP_WRITE | REQ_SYNC | REQ_IDLE;

	/* Write-through: on stable media before it completes. */
	if (req->fua)
		opf |= REQ_FUA;
	/* A device that cannot fail fast would fail a NOWAIT bio outright. */
	if (nowait && bdev_nowait(bdev))
		opf |= REQ_NOWAIT;
	if (req->bounce) {
		bio_init(bio, bdev, req->bounce, req->nr_bounce, opf);
		bio->bi_vcnt = req->nr_bounce;
	} else {
		bio_init(bio, bdev, req->bvec, req->nr_bvec, opf);
		bio->bi_vcnt = req->nr_bvec;
	}
	bio->bi_iter.bi_size = req->len;
	bio->bi_iter.bi_sector = req->sector;
	bio->bi_end_io = vhost_blk_bio_end_io;
	bio->bi_private = req;
	trace_vhost_blk_req_submit(req, lo ? "layout" : "bio",
				   opf & REQ_NOWAIT);
	if (lo)
		vhost_blk_layout_submit(lo, bio, req->sector << SECTOR_SHIFT);
	else
		submit_bio(bio);
}

static void vhost_blk_bio_rw(struct vhost_blk_req *req, bool nowait)
{
	struct block_device *bdev = vhost_blk_bio_bdev(req);
	enum vhost_blk_why why;
	int ret;

	/* Issued again (the device would have blocked): as new. */
	vhost_blk_bio_unlock(req);
	ret = vhost_blk_bio_prepare(req, bdev, nowait, &why);
	if (!ret)
		vhost_blk_bio_issue(req, bdev, nowait);
	else if (ret == -EAGAIN)
		vhost_blk_punt(req, why);
	else if (ret == -ENOENT)
		vhost_blk_bio_fallback(req, why, nowait);
	else
		vhost_blk_req_done(req, VIRTIO_BLK_S_IOERR);
}

static int vhost_blk_bio_flush(struct vhost_blk_backend_state *be)
{
	/* The mtime of what the bios wrote goes to disk with the data. */
	if (be->layout)
		vhost_blk_layout_touch(be->layout);
	return vhost_blk_file_flush(be);
}

/* Zeroes on the file's blocks while its layout holds, else as the file. */
static int vhost_blk_bio_write_zeroes(struct vhost_blk_backend_state *be,
				      u64 sector, u32 nr, bool unmap)
{
	int ret;

	if (be->layout) {
		ret = vhost_blk_layout_zeroout(be->layout,
					       sector << SECTOR_SHIFT,
					       (u64)nr << SECTOR_SHIFT);
		if (ret != -ENOENT)
			return ret;
	}
	return vhost_blk_file_write_zeroes(be, sector, nr, unmap);
}

/*
 * The layout's lock goes; what went through the file may have left a
 * write to end, and the copies end there too (the file's way, for both).
 */
static bool vhost_blk_bio_end(struct vhost_blk_req *req)
{
	vhost_blk_bio_unlock(req);
	return vhost_blk_kiocb_ops.end(req);
}

const struct vhost_blk_engine_ops vhost_blk_bio_ops = {
	.name		= "bio",
	.rw		= vhost_blk_bio_rw,
	.flush		= vhost_blk_bio_flush,
	/* A block device's; a file served by bios offers none. */
	.discard	= vhost_blk_file_discard,
	.write_zeroes	= vhost_blk_bio_write_zeroes,
	.end		= vhost_blk_bio_end,
};
