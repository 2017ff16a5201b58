// SPDX-License-Identifier: GPL-2.0-only
/*
 * The kiocb engine: reads and writes go through the backend file's
 * read_iter and write_iter with asynchronous completion, so raw image files
 * on any file system serve as well as block devices.
 *
 * They are tried with IOCB_NOWAIT from the vhost worker; what would block
 * (or a backend that cannot try without blocking) is punted and issued
 * again from the workqueue without NOWAIT. The data are pinned guest pages
 * (bvecs), so the workqueue needs no mm.
 *
 * Direct I/O (a backend opened O_DIRECT) takes buffers aligned to the
 * file's dio_mem_align, lengths to its block: guest buffers that are less
 * aligned (virtio allows any) go through aligned copies (io.c).
 *
 * A write to a regular file holds the file system's freeze protection
 * until it ends, as write(2) does. The worker only tries to take it
 * (io_uring does the same): a direct write whose end the file system left
 * to the worker (IOCB_DIO_CALLER_COMP) still holds it, so a worker that
 * waited for a freeze would wait for itself.
 */
#include <linux/fs.h>
#include <linux/uio.h>

#include "blk.h"
#include "trace.h"

static bool vhost_blk_kiocb_freezable(struct kiocb *iocb)
{
	return S_ISREG(file_inode(iocb->ki_filp)->i_mode);
}

/* Freeze protection for a write: false if that would block and NOWAIT. */
static bool vhost_blk_kiocb_start_write(struct kiocb *iocb)
{
	struct super_block *sb = file_inode(iocb->ki_filp)->i_sb;

	if (!vhost_blk_kiocb_freezable(iocb))
		return true;
	if (!(iocb->ki_flags & IOCB_NOWAIT)) {
		kiocb_start_write(iocb);
		return true;
	}
	if (!sb_start_write_trylock(sb))
		return false;
	/* Released by kiocb_end_write(), maybe in another task. */
	__sb_writers_release(sb, SB_FREEZE_WRITE);
	return true;
}

/*
 * The end of a read or write whose result is @ret: its status, or -EAGAIN
 * when it went to the workqueue to be done again where it may block.
 */
static int vhost_blk_kiocb_status(struct vhost_blk_req *req, long ret)
{
	struct kiocb *iocb = &req->iocb;

	if ((iocb->ki_flags & IOCB_WRITE) && vhost_blk_kiocb_freezable(iocb))
		kiocb_end_write(iocb);
	/* Tried without blocking and fell short: redo it where we may block. */
	if (iocb->ki_flags & IOCB_NOWAIT) {
		if (ret == -EAGAIN || ret == -EOPNOTSUPP) {
			vhost_blk_punt(req, VHOST_BLK_WHY_AGAIN);
			return -EAGAIN;
		}
		if (ret >= 0 && ret < req->len) {
			vhost_blk_punt(req, VHOST_BLK_WHY_SHORT);
			return -EAGAIN;
		}
	}
	return ret == req->len ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR;
}

static void vhost_blk_kiocb_complete(struct kiocb *iocb, long ret)
{
	struct vhost_blk_req *req = container_of(iocb, struct vhost_blk_req,
						 iocb);
	int status;

	/*
	 * The file system left the end of a direct write to us, as it does
	 * for io_uring (IOCB_DIO_CALLER_COMP): vhost_blk_kiocb_end() finishes
	 * it in task context, with no hop through the file system's
	 * workqueue. Its status is known only then.
	 */
	if (vhost_blk_dio_left_to_us(iocb)) {
		req->dio_deferred = true;
		vhost_blk_stat_add(VHOST_BLK_STAT_DIO_DEFERRED, 1);
		vhost_blk_req_done(req, VIRTIO_BLK_S_OK);
		return;
	}
	status = vhost_blk_kiocb_status(req, ret);
	if (status == VIRTIO_BLK_S_OK && req->to_guest && req->bounce)
		req->bounce_read = true;
	if (status >= 0)
		vhost_blk_req_done(req, status);
}

/* Can the backend take the guest's buffers as they are? */
static bool vhost_blk_kiocb_aligned(struct vhost_blk_req *req,
				    const struct vhost_blk_backend_state *be)
{
	unsigned int i;

	if (!be->dio_mem_align)
		return true;
	for (i = 0; i < req->nr_bvec; i++)
		if ((req->bvec[i].bv_offset & (be->dio_mem_align - 1)) ||
		    (req->bvec[i].bv_len & (be->lbs - 1)))
			return false;
	return true;
}

static void vhost_blk_kiocb_rw(struct vhost_blk_req *req, bool nowait)
{
	const struct vhost_blk_backend_state *be = vhost_blk_req_backend(req);
	struct file *file = be->file;
	struct kiocb *iocb = &req->iocb;
	struct iov_iter iter;
	ssize_t ret;

	if (nowait && !be->nowait) {
		vhost_blk_punt(req, VHOST_BLK_WHY_NO_NOWAIT);
		return;
	}
	/* A write-through write to the page cache waits for its sync. */
	if (nowait && req->fua && !(file->f_flags & O_DIRECT)) {
		vhost_blk_punt(req, VHOST_BLK_WHY_SYNC);
		return;
	}
	if (!vhost_blk_kiocb_aligned(req, be) && vhost_blk_bounce(req)) {
		vhost_blk_req_done(req, VIRTIO_BLK_S_IOERR);
		return;
	}
	init_sync_kiocb(iocb, file);
	/*
	 * Write-through: the file system makes the write durable before it
	 * completes (FUA, or a sync of the range).
	 */
	if (req->fua)
		iocb->ki_flags |= IOCB_DSYNC;
	iocb->ki_pos = req->sector << SECTOR_SHIFT;
	iocb->ki_complete = vhost_blk_kiocb_complete;
	if (nowait)
		iocb->ki_flags |= IOCB_NOWAIT;
	if (req->bounce)
		iov_iter_bvec(&iter, req->to_guest ? ITER_DEST : ITER_SOURCE,
			      req->bounce, req->nr_bounce, req->len);
	else
		iov_iter_bvec(&iter, req->to_guest ? ITER_DEST : ITER_SOURCE,
			      req->bvec, req->nr_bvec, req->len);
	if (req->to_guest) {
		trace_vhost_blk_req_submit(req, "kiocb", nowait);
		ret = file->f_op->read_iter(iocb, &iter);
	} else {
		iocb->ki_flags |= IOCB_WRITE | VHOST_BLK_IOCB_CALLER_COMP;
		if (!vhost_blk_kiocb_start_write(iocb)) {
			vhost_blk_punt(req, VHOST_BLK_WHY_FREEZE);
			return;
		}
		trace_vhost_blk_req_submit(req, "kiocb", nowait);
		ret = file->f_op->write_iter(iocb, &iter);
	}
	if (ret != -EIOCBQUEUED)
		vhost_blk_kiocb_complete(iocb, ret);
}

/*
 * Before the status goes out: finish a write the file system left to us,
 * then hand data read into copies to the guest and free them (the bio
 * engine's copies too, when it sent the request here).
 */
static bool vhost_blk_kiocb_end(struct vhost_blk_req *req)
{
	struct kiocb *iocb = &req->iocb;
	int status;

	if (req->dio_deferred) {
		long ret = vhost_blk_dio_complete(iocb);

		req->dio_deferred = false;
		status = vhost_blk_kiocb_status(req, ret);
		if (status < 0)
			return false;
		req->status = status;
	}
	if (req->bounce)
		vhost_blk_bounce_free(req);
	return true;
}

const struct vhost_blk_engine_ops vhost_blk_kiocb_ops = {
	.name		= "kiocb",
	.rw		= vhost_blk_kiocb_rw,
	.flush		= vhost_blk_file_flush,
	.discard	= vhost_blk_file_discard,
	.write_zeroes	= vhost_blk_file_write_zeroes,
	.end		= vhost_blk_kiocb_end,
};
