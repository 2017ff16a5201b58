// SPDX-License-Identifier: GPL-2.0-only
/*
 * What both engines use: the workqueue where requests are issued when they
 * may block, run as the device's owner; the page-cache helpers that keep
 * bios and cached pages of the same file or device coherent; and FLUSH,
 * DISCARD and WRITE_ZEROES on the backend file (fsync, fallocate, or the
 * block device's discard).
 */
#include <linux/fs.h>
#include <linux/falloc.h>
#include <linux/kthread.h>
#include <linux/memcontrol.h>
#include <linux/pagemap.h>
#include <linux/sched/mm.h>

#include "blk.h"

struct workqueue_struct *vhost_blk_wq;

int vhost_blk_io_init(void)
{
	vhost_blk_wq = alloc_workqueue("vhost-blk", WQ_UNBOUND, 0);
	return vhost_blk_wq ? 0 : -ENOMEM;
}

void vhost_blk_io_exit(void)
{
	destroy_workqueue(vhost_blk_wq);
}

/*
 * Who work done for @be runs as: the task attaching it, which is the
 * owner (checked before), with its credentials and cgroups at that time,
 * and a workqueue of the device's own (@id names it).
 */
int vhost_blk_owner_get(struct vhost_blk_backend_state *be, u32 id)
{
	be->wq = alloc_workqueue("vhost-blk-%u", WQ_UNBOUND,
				 VHOST_BLK_PUNT_MAX_ACTIVE, id);
	if (!be->wq)
		return -ENOMEM;
	be->release_wq = alloc_workqueue("vhost-blk-%u-rel", WQ_UNBOUND, 0, id);
	if (!be->release_wq) {
		destroy_workqueue(be->wq);
		be->wq = NULL;
		return -ENOMEM;
	}
	be->cred = get_current_cred();
	be->blkcg_css = vhost_blk_current_blkcg_css();
	be->memcg = get_mem_cgroup_from_mm(current->mm);
	return 0;
}

/* With no request in flight: waits for the work still running. */
void vhost_blk_owner_put(struct vhost_blk_backend_state *be)
{
	if (!be->wq)
		return;
	destroy_workqueue(be->release_wq);
	be->release_wq = NULL;
	destroy_workqueue(be->wq);
	be->wq = NULL;
	put_cred(be->cred);
	if (be->blkcg_css)
		css_put(be->blkcg_css);
	mem_cgroup_put(be->memcg);
}

/*
 * A punted request, run as the owner: bios it makes are charged to the
 * owner's io cgroup (as loop.c does per command), page cache and kernel
 * memory to its memory cgroup, and the file system sees its credentials.
 * The device's workqueue outlives this (detach destroys it after the
 * last request), so @be does too, also once the request has ended.
 */
static void vhost_blk_work(struct work_struct *work)
{
	struct vhost_blk_req *req = container_of(work, struct vhost_blk_req,
						 work);
	const struct vhost_blk_backend_state *be = vhost_blk_req_backend(req);
	struct mem_cgroup *old_memcg;
	const struct cred *old_cred;

	old_cred = override_creds(be->cred);
	kthread_associate_blkcg(be->blkcg_css);
	old_memcg = set_active_memcg(be->memcg);
	req->work_fn(req);
	set_active_memcg(old_memcg);
	kthread_associate_blkcg(NULL);
	revert_creds(old_cred);
}

/* Once, when the request is allocated. */
void vhost_blk_work_init(struct vhost_blk_req *req)
{
	INIT_WORK(&req->work, vhost_blk_work);
}

/*
 * Run @fn(@req) on the workqueue. Any context, also from inside @req's own
 * work (a bio that completes inline): the work item is never initialised
 * again, and the workqueue runs it again after the current run, never
 * beside it.
 */
void vhost_blk_queue_work(struct vhost_blk_req *req,
			  void (*fn)(struct vhost_blk_req *req))
{
	req->work_fn = fn;
	queue_work(vhost_blk_req_backend(req)->wq, &req->work);
}

/*
 * As vhost_blk_queue_work(), on the workqueue of work that only lets go:
 * @fn must wait for nothing that waits for the layout's lock, and hands
 * anything that could to vhost_blk_queue_work().
 */
void vhost_blk_queue_release(struct vhost_blk_req *req,
			     void (*fn)(struct vhost_blk_req *req))
{
	req->work_fn = fn;
	queue_work(vhost_blk_req_backend(req)->release_wq, &req->work);
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

/*
 * Copy the request's data into pages of our own, which any device or file
 * takes for direct I/O: for guest buffers that are less aligned. Charged to
 * the owner's memory cgroup like the rest of the device; data read into
 * them go to the guest when the request ends (vhost_blk_bounce_free()).
 * Kept when the request is issued again.
 */
int vhost_blk_bounce(struct vhost_blk_req *req)
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

/* Data read into the copies (req->bounce_read) to the guest; free them. */
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

int vhost_blk_file_flush(struct vhost_blk_backend_state *be)
{
	return vfs_fsync(be->file, 0);
}

static int vhost_blk_fallocate(struct file *file, int mode, u64 sector,
			       u32 nr_sectors)
{
	return vfs_fallocate(file, mode | FALLOC_FL_KEEP_SIZE,
			     sector << SECTOR_SHIFT,
			     (loff_t)nr_sectors << SECTOR_SHIFT);
}

int vhost_blk_file_discard(struct vhost_blk_backend_state *be, u64 sector,
			   u32 nr)
{
	struct address_space *mapping = be->file->f_mapping;
	loff_t pos = sector << SECTOR_SHIFT;
	size_t len = (size_t)nr << SECTOR_SHIFT;
	int ret;

	if (!be->bdev)
		return vhost_blk_fallocate(be->file, FALLOC_FL_PUNCH_HOLE,
					   sector, nr);
	/*
	 * Not truncate_bdev_range(): it zeroes the discarded part of a page
	 * it keeps, while the device (brd, or any that discards whole blocks
	 * only) may keep the old data there, and a later read would see one
	 * or the other depending on the cache. Whole pages go, before and
	 * after; the discard is only advice, so a page a racing write keeps
	 * in the cache is no error.
	 */
	vhost_blk_sync_cache(mapping, pos, len, true);
	ret = blkdev_issue_discard(be->bdev, sector, nr, GFP_KERNEL);
	vhost_blk_drop_cache(mapping, pos, len);
	return ret;
}

/* Unmapping if the guest allows it, else allocated zeroes; else the other. */
int vhost_blk_file_write_zeroes(struct vhost_blk_backend_state *be,
				u64 sector, u32 nr, bool unmap)
{
	int mode = unmap ? FALLOC_FL_PUNCH_HOLE : FALLOC_FL_ZERO_RANGE;
	int ret;

	ret = vhost_blk_fallocate(be->file, mode, sector, nr);
	if (ret == -EOPNOTSUPP)
		ret = vhost_blk_fallocate(be->file,
					  mode ^ (FALLOC_FL_PUNCH_HOLE |
						  FALLOC_FL_ZERO_RANGE),
					  sector, nr);
	return ret;
}
