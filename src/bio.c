// SPDX-License-Identifier: GPL-2.0-only
/*
 * The bio engine, for block-device backends: the request's pinned guest
 * pages become the bvec table of one bio, submitted straight to the block
 * device (which splits it to its limits), plugged with the rest of the
 * kick's batch. Completion comes from bi_end_io through the same path as the
 * kiocb engine. REQ_NOWAIT first; a bio the device could not take without
 * blocking is issued again from the workqueue.
 */
#include <linux/bio.h>
#include <linux/blkdev.h>

#include "blk.h"

static void vhost_blk_bio_end_io(struct bio *bio)
{
	struct vhost_blk_req *req = bio->bi_private;
	blk_status_t status = bio->bi_status;
	bool nowait = bio->bi_opf & REQ_NOWAIT;

	bio_uninit(bio);
	if (status == BLK_STS_AGAIN && nowait) {
		vhost_blk_punt(req);
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

void vhost_blk_bio_submit(struct vhost_blk_req *req, bool nowait)
{
	struct block_device *bdev = vhost_blk_req_backend(req)->bdev;
	blk_opf_t opf = req->to_guest ? REQ_OP_READ : REQ_OP_WRITE;
	struct bio *bio = &req->bio;

	/* Correct first: what the bio path cannot take goes through kiocb. */
	if (!vhost_blk_bio_aligned(req, bdev)) {
		vhost_blk_kiocb_rw(req, nowait);
		return;
	}
	/* A device that cannot fail fast would fail a NOWAIT bio outright. */
	if (nowait && bdev_nowait(bdev))
		opf |= REQ_NOWAIT;
	/* The pinned bvec table is the bio's; nothing is copied. */
	bio_init(bio, bdev, req->bvec, req->nr_bvec, opf);
	bio->bi_vcnt = req->nr_bvec;
	bio->bi_iter.bi_size = req->len;
	bio->bi_iter.bi_sector = req->sector;
	bio->bi_end_io = vhost_blk_bio_end_io;
	bio->bi_private = req;
	submit_bio(bio);
}
