// SPDX-License-Identifier: GPL-2.0-only
/*
 * The bio engine, for block-device backends: the request's pinned guest
 * pages become the bvec table of one bio, submitted straight to the block
 * device (which splits it to its limits), plugged with the rest of the
 * kick's batch. Completion comes from bi_end_io through the same path as the
 * kiocb engine. REQ_NOWAIT first; a bio the device could not take without
 * blocking is issued again from the workqueue.
 *
 * On a raw image file the bios go to the file's blocks, through its block
 * layout (layout.c), and what the layout does not serve goes through the
 * kiocb engine.
 *
 * The bios go under the page cache of the device or file, as O_DIRECT does,
 * and keep it coherent the same way: cached pages of the range are written
 * back before a read or write and dropped before and after a write. So the
 * kiocb fallback for misaligned buffers, an engine attached later and every
 * other reader of the device or file see what the guest wrote. With no
 * cached pages (the usual case) this costs a load.
 */
#include <linux/bio.h>
#include <linux/blkdev.h>
#include <linux/pagemap.h>
#include <linux/uio.h>

#include "blk.h"

static struct address_space *vhost_blk_bio_mapping(struct vhost_blk_req *req)
{
	return vhost_blk_req_backend(req)->file->f_mapping;
}

/*
 * Make the page cache agree with the device before the bio: -EAGAIN when
 * that would block and @nowait.
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

/*
 * A write is on the device: drop pages read into the cache meanwhile. A page
 * that a buffered write (the kiocb fallback of a misaligned request sharing
 * the page) dirtied meanwhile cannot go, and holds what it read before this
 * write: its writeback would undo the write. Write the data again through
 * the cache, into that page.
 */
static void vhost_blk_bio_post_write(struct work_struct *work)
{
	struct vhost_blk_req *req = container_of(work, struct vhost_blk_req,
						 punt_work);

	if (vhost_blk_drop_cache(vhost_blk_bio_mapping(req),
				 req->sector << SECTOR_SHIFT, req->len)) {
		vhost_blk_kiocb_rw(req, false);
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
		vhost_blk_punt(req);
		return;
	}
	if (!status && !req->to_guest &&
	    READ_ONCE(vhost_blk_bio_mapping(req)->nrpages)) {
		INIT_WORK(&req->punt_work, vhost_blk_bio_post_write);
		queue_work(vhost_blk_wq, &req->punt_work);
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
 * The bio engine on a file cannot hand misaligned guest buffers to the
 * kiocb engine for writes, as it does on a block device: a write through
 * the file recalls the file's layout. It copies them into pages of its own
 * instead, charged to the owner's memory cgroup like the rest of the
 * device; data read into them go to the guest when the request is reaped.
 */
static int vhost_blk_bounce(struct vhost_blk_req *req)
{
	unsigned int i, n = DIV_ROUND_UP(req->len, PAGE_SIZE);
	size_t left = req->len;
	struct iov_iter from;

	if (req->bounce)
		return 0;	/* issued again: the copy is there */
	req->bounce = kvcalloc(n, sizeof(*req->bounce), GFP_KERNEL_ACCOUNT);
	if (!req->bounce)
		return -ENOMEM;
	iov_iter_bvec(&from, ITER_SOURCE, req->bvec, req->nr_bvec, req->len);
	for (i = 0; i < n; i++) {
		size_t len = min_t(size_t, left, PAGE_SIZE);
		struct page *page = alloc_page(GFP_KERNEL_ACCOUNT);

		if (!page)
			return -ENOMEM;
		bvec_set_page(&req->bounce[req->nr_bounce++], page, len, 0);
		if (!req->to_guest &&
		    copy_page_from_iter(page, 0, len, &from) != len)
			return -EFAULT;
		left -= len;
	}
	return 0;
}

/* From the worker when the request is reaped: read data to the guest. */
void vhost_blk_bounce_free(struct vhost_blk_req *req)
{
	struct iov_iter to;
	unsigned int i;

	iov_iter_bvec(&to, ITER_DEST, req->bvec, req->nr_bvec, req->len);
	for (i = 0; i < req->nr_bounce; i++) {
		if (req->bounce_read)
			copy_page_to_iter(req->bounce[i].bv_page, 0,
					  req->bounce[i].bv_len, &to);
		__free_page(req->bounce[i].bv_page);
	}
	kvfree(req->bounce);
	req->bounce = NULL;
	req->nr_bounce = 0;
	req->bounce_read = false;
}

/* What the bios cannot serve goes through the backend's read/write_iter. */
static void vhost_blk_bio_fallback(struct vhost_blk_req *req, bool nowait)
{
	if (nowait && !vhost_blk_req_backend(req)->nowait)
		vhost_blk_punt(req);
	else
		vhost_blk_kiocb_rw(req, nowait);
}

void vhost_blk_bio_submit(struct vhost_blk_req *req, bool nowait)
{
	const struct vhost_blk_backend_state *be = vhost_blk_req_backend(req);
	struct vhost_blk_layout *lo = be->layout;
	struct block_device *bdev = lo ? vhost_blk_layout_bdev(lo) : be->bdev;
	blk_opf_t opf = req->to_guest ? REQ_OP_READ : REQ_OP_WRITE;
	struct bio_vec *bvec = req->bvec;
	unsigned int nr_bvec = req->nr_bvec;
	struct bio *bio = &req->bio;
	int ret;

	/*
	 * Correct first: what the device cannot take as it is goes through
	 * kiocb on a block device, through copies of its own on a file.
	 */
	if (!bdev) {
		vhost_blk_bio_fallback(req, nowait);
		return;
	}
	if (!vhost_blk_bio_aligned(req, bdev)) {
		if (!lo) {
			vhost_blk_bio_fallback(req, nowait);
			return;
		}
		if (vhost_blk_bounce(req)) {
			vhost_blk_req_done(req, VIRTIO_BLK_S_IOERR);
			return;
		}
		bvec = req->bounce;
		nr_bvec = req->nr_bounce;
	}
	ret = vhost_blk_bio_sync_cache(req, nowait);
	if (ret == -EAGAIN) {
		vhost_blk_punt(req);
		return;
	}
	/* A page of the range is dirty again: write through the cache. */
	if (ret == -EBUSY) {
		vhost_blk_kiocb_rw(req, false);
		return;
	}
	if (ret) {
		vhost_blk_req_done(req, VIRTIO_BLK_S_IOERR);
		return;
	}
	if (lo) {
		ret = vhost_blk_layout_start(lo, req, nowait);
		if (ret == -EAGAIN) {
			vhost_blk_punt(req);
			return;
		}
		if (ret) {
			vhost_blk_bio_fallback(req, nowait);
			return;
		}
	}
	/* A device that cannot fail fast would fail a NOWAIT bio outright. */
	if (nowait && bdev_nowait(bdev))
		opf |= REQ_NOWAIT;
	/* The pinned bvec table (or the copies') is the bio's. */
	bio_init(bio, bdev, bvec, nr_bvec, opf);
	bio->bi_vcnt = nr_bvec;
	bio->bi_iter.bi_size = req->len;
	bio->bi_iter.bi_sector = req->sector;
	bio->bi_end_io = vhost_blk_bio_end_io;
	bio->bi_private = req;
	if (lo)
		vhost_blk_layout_submit(lo, bio, req->sector << SECTOR_SHIFT);
	else
		submit_bio(bio);
}
