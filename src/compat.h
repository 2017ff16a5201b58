/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The differences between the vhost core and block APIs of the kernels
 * vhost-blk builds against, in one place: Debian 12's 6.1, Debian 13's 6.12
 * and trixie-backports' 7.x (docs/kernels.md). Where a kernel lacks what a
 * feature needs, the feature is off there, says so in the module's
 * "features" parameter, and its requests fail with an errno.
 */
#ifndef VHOST_BLK_COMPAT_H
#define VHOST_BLK_COMPAT_H

#include <linux/cgroup.h>
#include <linux/eventfd.h>
#include <linux/fs.h>
#include <linux/lockdep.h>
#include <linux/mm.h>
#include <linux/rwsem.h>
#include <linux/uio.h>
#include <linux/version.h>

/* 6.1 LTS: ITER_SOURCE/DEST, bvec_set_page, kiocb_start_write (6.1.y). */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 1, 0)
#error "vhost-blk needs Linux 6.1 or later"
#endif

/*
 * Workers. Since 6.5 a device may have several (VHOST_NEW_WORKER and
 * friends, forwarded to vhost_worker_ioctl()), work goes to a queue's
 * worker and fails once the owner was killed (6.10). 6.1 has one kthread a
 * device, alive from SET_OWNER to vhost_dev_cleanup(): the worker ioctls
 * are unknown there (ENOTTY) and the "vq-workers" feature is off.
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 10, 0)
#define VHOST_BLK_HAS_VQ_WORKERS	true

static inline bool vhost_blk_worker_ioctl(struct vhost_dev *dev,
					  unsigned int ioctl, void __user *argp,
					  long *ret)
{
	switch (ioctl) {
	case VHOST_NEW_WORKER:
	case VHOST_FREE_WORKER:
	case VHOST_ATTACH_VRING_WORKER:
	case VHOST_GET_VRING_WORKER:
		mutex_lock(&dev->mutex);
		*ret = vhost_worker_ioctl(dev, ioctl, argp);
		mutex_unlock(&dev->mutex);
		return true;
	}
	return false;
}
#elif LINUX_VERSION_CODE < KERNEL_VERSION(6, 5, 0)
#define VHOST_BLK_HAS_VQ_WORKERS	false

static inline bool vhost_blk_worker_ioctl(struct vhost_dev *dev,
					  unsigned int ioctl, void __user *argp,
					  long *ret)
{
	return false;
}

/* The device's worker; false (not queued) once there is none. */
static inline bool vhost_vq_work_queue(struct vhost_virtqueue *vq,
				       struct vhost_work *work)
{
	if (!READ_ONCE(vq->dev->worker))
		return false;
	vhost_work_queue(vq->dev, work);
	return true;
}

static inline bool vhost_vq_has_work(struct vhost_virtqueue *vq)
{
	return vhost_has_work(vq->dev);
}
#else
#error "vhost-blk builds on 6.1 and on 6.10 or later, not on 6.5 to 6.9"
#endif

#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 8, 0)
#define vhost_blk_eventfd_signal(ctx)	eventfd_signal(ctx)
#else
#define vhost_blk_eventfd_signal(ctx)	eventfd_signal(ctx, 1)
#endif

/* Trace events: since 6.10 __assign_str() takes the field alone. */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 10, 0)
#define vhost_blk_assign_str(dst, src)	__assign_str(dst)
#else
#define vhost_blk_assign_str(dst, src)	__assign_str(dst, src)
#endif

/*
 * Pin the user pages behind @i, from its current segment, as
 * iov_iter_extract_pages() (6.3) does for user memory: pins (FOLL_PIN) that
 * unpin_user_page*() releases, writable when @i is a destination. At most
 * @maxpages pages of one segment; advances @i by what it returns.
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 3, 0)
#define vhost_blk_extract_pages(i, pages, maxsize, maxpages, off) \
	iov_iter_extract_pages(i, pages, maxsize, maxpages, 0, off)
#else
static inline ssize_t vhost_blk_extract_pages(struct iov_iter *i,
					      struct page ***pages,
					      size_t maxsize,
					      unsigned int maxpages,
					      size_t *off)
{
	unsigned long addr;
	unsigned int n;
	size_t len;
	int got;

	if (!iter_is_iovec(i))
		return -EFAULT;
	while (i->nr_segs > 1 && i->iov_offset == i->iov->iov_len) {
		i->iov++;
		i->nr_segs--;
		i->iov_offset = 0;
	}
	addr = (unsigned long)i->iov->iov_base + i->iov_offset;
	len = min(i->iov->iov_len - i->iov_offset, min(maxsize, i->count));
	if (!len)
		return 0;
	*off = offset_in_page(addr);
	n = min_t(size_t, DIV_ROUND_UP(*off + len, PAGE_SIZE), maxpages);
	got = pin_user_pages_fast(addr & PAGE_MASK, n,
				  iov_iter_rw(i) == READ ? FOLL_WRITE : 0,
				  *pages);
	if (got <= 0)
		return got ? got : -EFAULT;
	len = min_t(size_t, len, (size_t)got * PAGE_SIZE - *off);
	iov_iter_advance(i, len);
	return len;
}
#endif

/*
 * The core's features as a u64: since 6.17 VHOST_FEATURES lists bit
 * numbers (feature words past the first for virtio's 128 bits).
 */
#ifdef VHOST_FEATURES_U64
static inline u64 vhost_blk_core_features(void)
{
	static const int bits[] = { VHOST_FEATURES };

	return VHOST_FEATURES_U64(bits, 0);
}
#else
static inline u64 vhost_blk_core_features(void)
{
	return VHOST_FEATURES;
}
#endif

/*
 * Since 6.18 a chain's descriptor count comes with it, and giving a chain
 * back rewinds that count too (for in-order rings; we offer none).
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 18, 0)
static inline int vhost_blk_get_vq_desc(struct vhost_virtqueue *vq,
					unsigned int *out, unsigned int *in,
					struct vhost_log *log,
					unsigned int *log_num,
					unsigned int *ndesc)
{
	return vhost_get_vq_desc_n(vq, vq->iov, ARRAY_SIZE(vq->iov), out, in,
				   log, log_num, ndesc);
}

static inline void vhost_blk_discard_vq_desc(struct vhost_virtqueue *vq,
					     unsigned int ndesc)
{
	vhost_discard_vq_desc(vq, 1, ndesc);
}
#else
static inline int vhost_blk_get_vq_desc(struct vhost_virtqueue *vq,
					unsigned int *out, unsigned int *in,
					struct vhost_log *log,
					unsigned int *log_num,
					unsigned int *ndesc)
{
	*ndesc = 1;
	return vhost_get_vq_desc(vq, vq->iov, ARRAY_SIZE(vq->iov), out, in,
				 log, log_num);
}

static inline void vhost_blk_discard_vq_desc(struct vhost_virtqueue *vq,
					     unsigned int ndesc)
{
	vhost_discard_vq_desc(vq, 1);
}
#endif

#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 17, 0)
#define vhost_blk_add_used_n(vq, heads, n)	vhost_add_used_n(vq, heads, NULL, n)
#else
#define vhost_blk_add_used_n(vq, heads, n)	vhost_add_used_n(vq, heads, n)
#endif

/*
 * IOCB_DIO_CALLER_COMP (6.6 until 7.x dropped it): the file system may
 * leave the end of a direct write to the submitter, who calls
 * iocb->dio_complete() in task context. Without it every write ends in the
 * file system's own completion path: the "dio-caller-comp" feature is off.
 */
#ifdef IOCB_DIO_CALLER_COMP
#define VHOST_BLK_HAS_DIO_CALLER_COMP	true
#define VHOST_BLK_IOCB_CALLER_COMP	IOCB_DIO_CALLER_COMP

static inline bool vhost_blk_dio_left_to_us(struct kiocb *iocb)
{
	return (iocb->ki_flags & IOCB_DIO_CALLER_COMP) && iocb->dio_complete;
}

static inline long vhost_blk_dio_complete(struct kiocb *iocb)
{
	return iocb->dio_complete(iocb->private);
}
#else
#define VHOST_BLK_HAS_DIO_CALLER_COMP	false
#define VHOST_BLK_IOCB_CALLER_COMP	0

static inline bool vhost_blk_dio_left_to_us(struct kiocb *iocb)
{
	return false;
}

/* Never called: nothing is left to us. */
static inline long vhost_blk_dio_complete(struct kiocb *iocb)
{
	return -EIO;
}
#endif

/*
 * The block layout of a file (pNFS block layouts; XFS has one): 7.x moved
 * map_blocks from export_operations into export_operations->block_ops
 * (in linux/exportfs_block.h, which Kbuild looks for).
 * NULL when the file system has none.
 */
struct iomap;
typedef int (*vhost_blk_map_blocks_fn)(struct inode *inode, loff_t offset,
				       u64 len, struct iomap *iomap,
				       bool write, u32 *device_generation);

#ifdef VHOST_BLK_HAVE_EXPORTFS_BLOCK_H
#include <linux/exportfs_block.h>

static inline vhost_blk_map_blocks_fn
vhost_blk_map_blocks_op(struct super_block *sb)
{
#ifdef CONFIG_EXPORTFS_BLOCK_OPS
	const struct export_operations *ops = sb->s_export_op;

	if (ops && ops->block_ops)
		return ops->block_ops->map_blocks;
#endif
	return NULL;
}
#else
#include <linux/exportfs.h>

static inline vhost_blk_map_blocks_fn
vhost_blk_map_blocks_op(struct super_block *sb)
{
	const struct export_operations *ops = sb->s_export_op;

	return ops ? ops->map_blocks : NULL;
}
#endif

/*
 * 7.x asks every lease manager whether the file's opens conflict with a
 * lease it sets (lm_open_conflict, called unconditionally) where before
 * the core let layout leases (FL_LAYOUT) ignore opens. A layout does not
 * conflict with opens, as nfsd's layouts do not: what would move the
 * file's blocks breaks it. Kbuild looks for the member in filelock.h.
 */
#ifdef VHOST_BLK_HAVE_LM_OPEN_CONFLICT
static inline int vhost_blk_layout_open_conflict(struct file *file, int arg)
{
	return 0;
}

#define VHOST_BLK_LM_OPEN_CONFLICT \
	.lm_open_conflict = vhost_blk_layout_open_conflict,
#else
#define VHOST_BLK_LM_OPEN_CONFLICT
#endif

/* Kbuild builds layout.c from 6.9 on, compat.c's EOPNOTSUPP before. */
#ifdef VHOST_BLK_NO_FILE_LAYOUT
#define VHOST_BLK_HAS_FILE_LAYOUT	false
#else
#define VHOST_BLK_HAS_FILE_LAYOUT	true
#endif

/* The current task's io cgroup, referenced; NULL without io cgroups. */
static inline struct cgroup_subsys_state *vhost_blk_current_blkcg_css(void)
{
#ifdef CONFIG_BLK_CGROUP
	return task_get_css(current, io_cgrp_id);
#else
	return NULL;
#endif
}

/*
 * Forget, for lockdep, a rw_semaphore taken here that another task
 * releases (with up_read_non_owner()); a no-op without lock debugging.
 */
static inline void vhost_blk_rwsem_disown(struct rw_semaphore *sem)
{
#ifdef CONFIG_DEBUG_LOCK_ALLOC
	rwsem_release(&sem->dep_map, _RET_IP_);
#endif
}

#endif /* VHOST_BLK_COMPAT_H */
