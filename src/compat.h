/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The differences between the vhost core and block APIs of the kernels
 * vhost-blk builds against, in one place. Only 6.12 is tested; see
 * ../shared notes (vhost core API by kernel version) for what changes where.
 */
#ifndef VHOST_BLK_COMPAT_H
#define VHOST_BLK_COMPAT_H

#include <linux/cgroup.h>
#include <linux/fs.h>
#include <linux/lockdep.h>
#include <linux/rwsem.h>
#include <linux/version.h>

#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 10, 0)
#error "vhost-blk needs Linux 6.10 or later (vhost_vq_work_queue() returning bool)"
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
