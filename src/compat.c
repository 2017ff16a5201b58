// SPDX-License-Identifier: GPL-2.0-only
/*
 * The bio engine on image files, where the kernel cannot have it: layout.c
 * needs the lease API of 6.9 (struct file_lease, kernel_setlease()), so on
 * older kernels Kbuild builds this file instead. Attaching a file with the
 * bio engine fails with EOPNOTSUPP, as on a file system without a block
 * layout; no layout exists, so nothing else here is ever called.
 */
#include "blk.h"

int vhost_blk_layout_get(struct vhost_blk_backend_state *be)
{
	return -EOPNOTSUPP;
}

void vhost_blk_layout_put(struct vhost_blk_backend_state *be)
{
}

void vhost_blk_layout_resize(struct vhost_blk_layout *lo, u64 size)
{
}

void vhost_blk_layout_touch(struct vhost_blk_layout *lo)
{
}

struct block_device *vhost_blk_layout_bdev(struct vhost_blk_layout *lo)
{
	return NULL;
}

int vhost_blk_layout_start(struct vhost_blk_layout *lo,
			   struct vhost_blk_req *req, bool nowait)
{
	return -EOPNOTSUPP;
}

void vhost_blk_layout_end(struct vhost_blk_layout *lo, bool write)
{
}

void vhost_blk_layout_unlock(struct vhost_blk_layout *lo)
{
}

void vhost_blk_layout_submit(struct vhost_blk_layout *lo, struct bio *bio,
			     u64 pos)
{
	bio_io_error(bio);
}

int vhost_blk_layout_zeroout(struct vhost_blk_layout *lo, u64 pos, u64 len)
{
	return -EOPNOTSUPP;
}
