// SPDX-License-Identifier: GPL-2.0-only
/*
 * The kiocb engine: requests go through the backend file's read_iter and
 * write_iter with asynchronous completion, so raw image files on any file
 * system serve as well as block devices.
 *
 * Reads and writes are tried with IOCB_NOWAIT from the vhost worker; what
 * would block (or the backend cannot try without blocking) is punted to a
 * workqueue and issued there without NOWAIT. FLUSH, DISCARD and WRITE_ZEROES
 * always block and always go to the workqueue. The data are pinned guest
 * pages (bvecs), so the workqueue needs no mm.
 */
#include <linux/fs.h>
#include <linux/falloc.h>
#include <linux/pagemap.h>
#include <linux/uio.h>

#include "blk.h"

struct workqueue_struct *vhost_blk_wq;

/*
 * The end of a read or write whose result is @ret: its status, or -EAGAIN
 * when it went to the workqueue to be done again where it may block.
 */
static int vhost_blk_rw_status(struct vhost_blk_req *req, long ret)
{
	struct kiocb *iocb = &req->iocb;

	if (iocb->ki_flags & IOCB_WRITE)
		kiocb_end_write(iocb);
	/* Tried without blocking and fell short: redo it where we may block. */
	if ((iocb->ki_flags & IOCB_NOWAIT) &&
	    (ret == -EAGAIN || ret == -EOPNOTSUPP ||
	     (ret >= 0 && ret < req->len))) {
		vhost_blk_punt(req);
		return -EAGAIN;
	}
	return ret == req->len ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR;
}

static void vhost_blk_rw_done(struct kiocb *iocb, long ret)
{
	struct vhost_blk_req *req = container_of(iocb, struct vhost_blk_req,
						 iocb);
	int status;

	/*
	 * The file system left the end of a direct write to us, as it does
	 * for io_uring (IOCB_DIO_CALLER_COMP): the reap finishes it in task
	 * context, with no hop through the file system's workqueue. Its
	 * status is known only then.
	 */
	if ((iocb->ki_flags & IOCB_DIO_CALLER_COMP) && iocb->dio_complete) {
		req->dio_deferred = true;
		atomic_long_inc(&vhost_blk_stats.dio_deferred);
		vhost_blk_req_done(req, VIRTIO_BLK_S_OK);
		return;
	}
	status = vhost_blk_rw_status(req, ret);
	if (status >= 0)
		vhost_blk_req_done(req, status);
}

/*
 * Finish a write the file system left to us (req->dio_deferred), in task
 * context, before its status goes out. False when it went to the workqueue
 * to be done again.
 */
bool vhost_blk_kiocb_finish(struct vhost_blk_req *req)
{
	struct kiocb *iocb = &req->iocb;
	int status;

	req->dio_deferred = false;
	status = vhost_blk_rw_status(req, iocb->dio_complete(iocb->private));
	if (status < 0)
		return false;
	req->status = status;
	return true;
}

void vhost_blk_kiocb_rw(struct vhost_blk_req *req, bool nowait)
{
	struct file *file = vhost_blk_req_backend(req)->file;
	struct kiocb *iocb = &req->iocb;
	struct iov_iter iter;
	ssize_t ret;

	init_sync_kiocb(iocb, file);
	iocb->ki_pos = req->sector << SECTOR_SHIFT;
	iocb->ki_complete = vhost_blk_rw_done;
	if (nowait)
		iocb->ki_flags |= IOCB_NOWAIT;
	iov_iter_bvec(&iter, req->to_guest ? ITER_DEST : ITER_SOURCE,
		      req->bvec, req->nr_bvec, req->len);
	if (req->to_guest) {
		ret = file->f_op->read_iter(iocb, &iter);
	} else {
		iocb->ki_flags |= IOCB_WRITE | IOCB_DIO_CALLER_COMP;
		kiocb_start_write(iocb);
		ret = file->f_op->write_iter(iocb, &iter);
	}
	if (ret != -EIOCBQUEUED)
		vhost_blk_rw_done(iocb, ret);
}

/*
 * Write back the cached pages of [@pos, @pos + @len) and, with @drop, take
 * them out of the cache: what goes to a block device under its page cache
 * (bios, discards) must not be hidden by stale pages, as with direct I/O.
 * Whole pages go, never a part of one. May sleep.
 */
int vhost_blk_sync_cache(struct address_space *mapping, loff_t pos,
			 size_t len, bool drop)
{
	int ret;

	if (!READ_ONCE(mapping->nrpages))
		return 0;
	ret = filemap_write_and_wait_range(mapping, pos, pos + len - 1);
	if (ret || !drop)
		return ret;
	return vhost_blk_drop_cache(mapping, pos, len);
}

/* Take the clean cached pages of [@pos, @pos + @len) out. May sleep. */
int vhost_blk_drop_cache(struct address_space *mapping, loff_t pos,
			 size_t len)
{
	if (!READ_ONCE(mapping->nrpages))
		return 0;
	return invalidate_inode_pages2_range(mapping, pos >> PAGE_SHIFT,
					     (pos + len - 1) >> PAGE_SHIFT);
}

static int vhost_blk_fallocate(struct file *file, int mode, u64 sector,
			       u32 nr_sectors)
{
	return vfs_fallocate(file, mode | FALLOC_FL_KEEP_SIZE,
			     sector << SECTOR_SHIFT,
			     (loff_t)nr_sectors << SECTOR_SHIFT);
}

static int vhost_blk_discard_seg(const struct vhost_blk_backend_state *be,
				 u32 type, u64 sector, u32 nr, u32 flags)
{
	struct address_space *mapping = be->file->f_mapping;
	loff_t pos = sector << SECTOR_SHIFT;
	size_t len = (size_t)nr << SECTOR_SHIFT;
	int mode, ret;

	if (type == VIRTIO_BLK_T_DISCARD) {
		if (!be->bdev)
			return vhost_blk_fallocate(be->file,
						   FALLOC_FL_PUNCH_HOLE,
						   sector, nr);
		/*
		 * Not truncate_bdev_range(): it zeroes the discarded part of a
		 * page it keeps, while the device (brd, or any that discards
		 * whole blocks only) may keep the old data there, and a later
		 * read would see one or the other depending on the cache. Whole
		 * pages go, before and after; the discard is only advice, so a
		 * page a racing write keeps in the cache is no error.
		 */
		vhost_blk_sync_cache(mapping, pos, len, true);
		ret = blkdev_issue_discard(be->bdev, sector, nr, GFP_KERNEL);
		vhost_blk_drop_cache(mapping, pos, len);
		return ret;
	}

	/* Zeroes: on the file's blocks while its layout holds (bio engine). */
	if (be->layout) {
		ret = vhost_blk_layout_zeroout(be->layout, pos, len);
		if (ret != -ENOENT)
			return ret;
	}
	/* Else unmapping if the guest allows it, else allocated zeroes. */
	mode = flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP ?
	       FALLOC_FL_PUNCH_HOLE : FALLOC_FL_ZERO_RANGE;
	ret = vhost_blk_fallocate(be->file, mode, sector, nr);
	if (ret == -EOPNOTSUPP)
		ret = vhost_blk_fallocate(be->file, mode ^ (FALLOC_FL_PUNCH_HOLE |
						     FALLOC_FL_ZERO_RANGE),
					  sector, nr);
	return ret;
}

static u8 vhost_blk_discard(struct vhost_blk_req *req)
{
	const struct vhost_blk_backend_state *be = vhost_blk_req_backend(req);
	unsigned int i;
	int ret;

	for (i = 0; i < req->nr_seg; i++) {
		const struct virtio_blk_discard_write_zeroes *seg = &req->segs[i];

		ret = vhost_blk_discard_seg(be, req->type,
					    le64_to_cpu(seg->sector),
					    le32_to_cpu(seg->num_sectors),
					    le32_to_cpu(seg->flags));
		if (ret == -EOPNOTSUPP)
			return VIRTIO_BLK_S_UNSUPP;
		if (ret)
			return VIRTIO_BLK_S_IOERR;
	}
	return VIRTIO_BLK_S_OK;
}

static void vhost_blk_punt_work(struct work_struct *work)
{
	struct vhost_blk_req *req = container_of(work, struct vhost_blk_req,
						 punt_work);

	struct file *file = vhost_blk_req_backend(req)->file;

	switch (req->type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		if (vhost_blk_req_backend(req)->engine == VHOST_BLK_ENGINE_BIO)
			vhost_blk_bio_submit(req, false);
		else
			vhost_blk_kiocb_rw(req, false);
		break;
	case VIRTIO_BLK_T_FLUSH:
		/* The mtime of what the bios wrote goes to disk with the data. */
		if (vhost_blk_req_backend(req)->layout)
			vhost_blk_layout_touch(vhost_blk_req_backend(req)->layout);
		vhost_blk_req_done(req, vfs_fsync(file, 0) ? VIRTIO_BLK_S_IOERR :
							     VIRTIO_BLK_S_OK);
		break;
	default:
		vhost_blk_req_done(req, vhost_blk_discard(req));
		break;
	}
}

/* Issue @req from the workqueue, where it may block. Any context. */
void vhost_blk_punt(struct vhost_blk_req *req)
{
	INIT_WORK(&req->punt_work, vhost_blk_punt_work);
	queue_work(vhost_blk_wq, &req->punt_work);
}

/* Start a read or write through the kiocb engine, from the vhost worker. */
void vhost_blk_kiocb_submit(struct vhost_blk_req *req)
{
	if (vhost_blk_req_backend(req)->nowait)
		vhost_blk_kiocb_rw(req, true);
	else
		vhost_blk_punt(req);
}

/* Start a read or write with the backend's engine, from the vhost worker. */
void vhost_blk_submit_rw(struct vhost_blk_req *req)
{
	if (vhost_blk_req_backend(req)->engine == VHOST_BLK_ENGINE_BIO)
		vhost_blk_bio_submit(req, true);
	else
		vhost_blk_kiocb_submit(req);
}
