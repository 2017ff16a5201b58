// SPDX-License-Identifier: GPL-2.0-only
/*
 * vhost-blk: serve virtio-blk virtqueues from the host kernel.
 *
 * /dev/vhost-blk gives each opener a vhost device with up to
 * VHOST_BLK_MAX_QUEUES request queues. The standard vhost ioctls set it up;
 * VHOST_BLK_SET_BACKEND attaches a raw image file or a block device.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/debugfs.h>
#include <linux/eventfd.h>
#include <linux/file.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/namei.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/stat.h>

#include "blk.h"
#define CREATE_TRACE_POINTS
#include "trace.h"

/* The virtio-blk features; with vhost_blk_core_features() the offer. */
enum {
	VHOST_BLK_DEV_FEATURES = (1ULL << VIRTIO_BLK_F_SIZE_MAX) |
				 (1ULL << VIRTIO_BLK_F_SEG_MAX) |
				 (1ULL << VIRTIO_BLK_F_RO) |
				 (1ULL << VIRTIO_BLK_F_BLK_SIZE) |
				 (1ULL << VIRTIO_BLK_F_FLUSH) |
				 (1ULL << VIRTIO_BLK_F_CONFIG_WCE) |
				 (1ULL << VIRTIO_BLK_F_TOPOLOGY) |
				 (1ULL << VIRTIO_BLK_F_MQ) |
				 (1ULL << VIRTIO_BLK_F_DISCARD) |
				 (1ULL << VIRTIO_BLK_F_WRITE_ZEROES),
};

DEFINE_PER_CPU(struct vhost_blk_stats, vhost_blk_stats);
static atomic_t vhost_blk_ids = ATOMIC_INIT(0);
static struct dentry *vhost_blk_debugfs;

/*
 * The backend's size now, in sectors, rounded down to the logical block
 * (the bytes past the last whole block cannot be asked for anyway).
 */
static u64 vhost_blk_backend_capacity(const struct vhost_blk_backend_state *be)
{
	u64 bytes = be->bdev ? bdev_nr_bytes(be->bdev) :
			       i_size_read(file_inode(be->file));

	return round_down(bytes, be->lbs) >> SECTOR_SHIFT;
}

static void vhost_blk_probe_file(struct vhost_blk_backend_state *be)
{
	struct inode *inode = file_inode(be->file);
	struct kstat stat;

	be->lbs = SECTOR_SIZE;
	/* O_DIRECT needs the file system's alignment. */
	if ((be->file->f_flags & O_DIRECT) &&
	    !vfs_getattr(&be->file->f_path, &stat, STATX_DIOALIGN,
			 AT_STATX_SYNC_AS_STAT) &&
	    (stat.result_mask & STATX_DIOALIGN) && stat.dio_offset_align) {
		be->lbs = max_t(u32, SECTOR_SIZE, stat.dio_offset_align);
		be->dio_mem_align = stat.dio_mem_align;
	}
	be->capacity = vhost_blk_backend_capacity(be);
	be->pbs = max_t(u32, be->lbs, i_blocksize(inode));
	if (be->file->f_op->fallocate) {
		be->discard_sectors = VHOST_BLK_DISCARD_SECTORS_MAX;
		be->zeroes_sectors = VHOST_BLK_DISCARD_SECTORS_MAX;
		be->discard_align = i_blocksize(inode) >> SECTOR_SHIFT;
	}
}

static void vhost_blk_probe_bdev(struct vhost_blk_backend_state *be)
{
	struct block_device *bdev = be->bdev;

	be->lbs = bdev_logical_block_size(bdev);
	be->capacity = vhost_blk_backend_capacity(be);
	be->pbs = bdev_physical_block_size(bdev);
	be->discard_sectors = min_t(u32, bdev_max_discard_sectors(bdev),
				    VHOST_BLK_DISCARD_SECTORS_MAX);
	be->discard_align = bdev_discard_granularity(bdev) >> SECTOR_SHIFT;
	if (be->file->f_flags & O_DIRECT)
		be->dio_mem_align = bdev_dma_alignment(bdev) + 1;
	/* The block layer writes zeroes itself where the device cannot. */
	be->zeroes_sectors = VHOST_BLK_DISCARD_SECTORS_MAX;
	if (bdev_read_only(bdev))
		be->read_only = true;
}

static struct vhost_blk_backend_state *
vhost_blk_backend_open(struct vhost_blk *blk,
		       const struct vhost_blk_backend *arg)
{
	struct vhost_blk_backend_state *be;
	struct inode *inode;
	int ret;

	be = kzalloc(sizeof(*be), GFP_KERNEL_ACCOUNT);
	if (!be)
		return ERR_PTR(-ENOMEM);
	be->file = fget(arg->fd);
	if (!be->file) {
		ret = -EBADF;
		goto err_free;
	}
	ret = -EBADF;
	if (!(be->file->f_mode & FMODE_READ) || !be->file->f_op->read_iter)
		goto err_put;
	be->read_only = (arg->flags & VHOST_BLK_BACKEND_F_READONLY) ||
			!(be->file->f_mode & FMODE_WRITE) ||
			!be->file->f_op->write_iter;
	be->nowait = be->file->f_mode & FMODE_NOWAIT;

	inode = file_inode(be->file);
	ret = -EINVAL;
	if (S_ISBLK(inode->i_mode)) {
		be->bdev = I_BDEV(be->file->f_mapping->host);
		vhost_blk_probe_bdev(be);
	} else if (S_ISREG(inode->i_mode)) {
		vhost_blk_probe_file(be);
	} else {
		goto err_put;
	}

	/* bio for block devices unless told otherwise, kiocb for files. */
	be->engine = arg->engine;
	if (be->engine == VHOST_BLK_ENGINE_AUTO)
		be->engine = be->bdev ? VHOST_BLK_ENGINE_BIO :
					VHOST_BLK_ENGINE_KIOCB;
	be->ops = be->engine == VHOST_BLK_ENGINE_BIO ? &vhost_blk_bio_ops :
						       &vhost_blk_kiocb_ops;
	ret = vhost_blk_owner_get(be, blk->id);
	if (ret)
		goto err_owner;
	if (be->engine == VHOST_BLK_ENGINE_BIO && !be->bdev) {
		/* The file's blocks, as long as its file system lets us. */
		ret = vhost_blk_layout_get(be);
		if (ret)
			goto err_owner;
		/* A punched hole would recall the layout: no DISCARD. */
		be->discard_sectors = 0;
	}
	return be;

err_owner:
	vhost_blk_owner_put(be);
err_put:
	fput(be->file);
err_free:
	kfree(be);
	return ERR_PTR(ret);
}

/*
 * Stop every queue and wait for what is in flight: no request lives after
 * this. Under dev.mutex, with a backend attached.
 */
static void vhost_blk_quiesce(struct vhost_blk *blk)
{
	int i;

	for (i = 0; i < VHOST_BLK_MAX_QUEUES; i++) {
		struct vhost_virtqueue *vq = &blk->vqs[i].vq;

		mutex_lock(&vq->mutex);
		vhost_vq_set_backend(vq, NULL);
		mutex_unlock(&vq->mutex);
	}
	/* No kick handler runs after this; then let what it started finish. */
	vhost_dev_flush(&blk->dev);
	for (i = 0; i < VHOST_BLK_MAX_QUEUES; i++)
		wait_event(blk->drain_wq, vhost_blk_vq_idle(&blk->vqs[i]));
	/* Completions still queueing their work after the last was reaped. */
	synchronize_rcu();
	vhost_dev_flush(&blk->dev);
	for (i = 0; i < VHOST_BLK_MAX_QUEUES; i++)
		flush_work(&blk->vqs[i].orphan_work);
}

/* Serve the queues again after vhost_blk_quiesce(), from where they were. */
static void vhost_blk_resume(struct vhost_blk *blk)
{
	int i;

	for (i = 0; i < VHOST_BLK_MAX_QUEUES; i++) {
		struct vhost_virtqueue *vq = &blk->vqs[i].vq;

		if (!blk->vqs[i].reqs)
			continue;
		mutex_lock(&vq->mutex);
		vhost_vq_set_backend(vq, blk->be);
		mutex_unlock(&vq->mutex);
		vhost_poll_queue(&vq->poll);
	}
}

/* Stop every queue, wait for what is in flight, drop the backend. */
static void vhost_blk_detach(struct vhost_blk *blk)
{
	struct vhost_blk_backend_state *be = blk->be;
	int i;

	if (!be)
		return;
	vhost_blk_quiesce(blk);
	for (i = 0; i < VHOST_BLK_MAX_QUEUES; i++) {
		struct vhost_blk_vq *bvq = &blk->vqs[i];

		mutex_lock(&bvq->vq.mutex);
		vhost_blk_vq_free_reqs(bvq);
		mutex_unlock(&bvq->vq.mutex);
	}
	/*
	 * What the guest wrote is durable once the frontend has stopped the
	 * device: a migration's destination opens the same image next.
	 */
	if (!be->read_only && be->ops->flush(be))
		pr_warn_ratelimited("device %u: flushing the backend at detach failed\n",
				    blk->id);
	trace_vhost_blk_backend(blk, "detach", be);
	vhost_blk_layout_put(be);
	vhost_blk_owner_put(be);
	blk->be = NULL;
	fput(be->file);
	kfree(be);
}

/* Attach @be to every queue that is set up. On failure @be is released. */
static long vhost_blk_attach(struct vhost_blk *blk,
			     struct vhost_blk_backend_state *be)
{
	int i, ret, attached = 0;

	blk->be = be;
	for (i = 0; i < VHOST_BLK_MAX_QUEUES; i++) {
		struct vhost_blk_vq *bvq = &blk->vqs[i];
		struct vhost_virtqueue *vq = &bvq->vq;

		mutex_lock(&vq->mutex);
		if (!vhost_vq_is_setup(vq)) {
			mutex_unlock(&vq->mutex);
			continue;
		}
		ret = vhost_blk_vq_alloc_reqs(bvq);
		if (!ret) {
			/* Needs the backend set: reads used->idx, sets is_le. */
			vhost_vq_set_backend(vq, be);
			ret = vhost_vq_init_access(vq);
		}
		mutex_unlock(&vq->mutex);
		if (ret)
			goto err;
		attached++;
	}
	ret = -EINVAL;		/* no virtqueue is set up */
	if (!attached)
		goto err;

	trace_vhost_blk_backend(blk, "attach", be);
	/* Serve what the guest queued before the backend came. */
	for (i = 0; i < VHOST_BLK_MAX_QUEUES; i++)
		if (blk->vqs[i].reqs)
			vhost_poll_queue(&blk->vqs[i].vq.poll);
	return 0;

err:
	/* Queues attached so far may already have requests in flight. */
	vhost_blk_detach(blk);
	return ret;
}

static long vhost_blk_set_backend(struct vhost_blk *blk,
				  const struct vhost_blk_backend *arg)
{
	struct vhost_blk_backend_state *be = NULL;
	long ret;

	if ((arg->flags & ~VHOST_BLK_BACKEND_F_ALL) ||
	    memchr_inv(arg->reserved, 0, sizeof(arg->reserved)) ||
	    arg->engine > VHOST_BLK_ENGINE_BIO)
		return -EINVAL;

	mutex_lock(&blk->dev.mutex);
	ret = vhost_dev_check_owner(&blk->dev);
	if (ret)
		goto out;
	if (arg->fd != -1) {
		be = vhost_blk_backend_open(blk, arg);
		if (IS_ERR(be)) {
			ret = PTR_ERR(be);
			goto out;
		}
	}
	vhost_blk_detach(blk);
	if (be)
		ret = vhost_blk_attach(blk, be);
out:
	mutex_unlock(&blk->dev.mutex);
	return ret;
}

static long vhost_blk_set_serial(struct vhost_blk *blk,
				 const struct vhost_blk_serial *arg)
{
	long ret;

	if (arg->flags)
		return -EINVAL;
	mutex_lock(&blk->dev.mutex);
	ret = vhost_dev_check_owner(&blk->dev);
	if (!ret) {
		spin_lock(&blk->serial_lock);
		memcpy(blk->serial, arg->id, sizeof(blk->serial));
		spin_unlock(&blk->serial_lock);
	}
	mutex_unlock(&blk->dev.mutex);
	return ret;
}

/*
 * Write-back or write-through (the requests read blk->writeback when they
 * start). Into write-through, no request started as write-back may still
 * be in flight, and what those wrote must be durable: the queues stop for
 * a flush of the backend, as the owner.
 */
static long vhost_blk_set_writeback(struct vhost_blk *blk, u32 writeback)
{
	long ret;

	if (writeback > 1)
		return -EINVAL;
	mutex_lock(&blk->dev.mutex);
	ret = vhost_dev_check_owner(&blk->dev);
	if (ret || blk->writeback == writeback)
		goto out;
	if (writeback || !blk->be) {
		WRITE_ONCE(blk->writeback, writeback);
		goto out;
	}
	vhost_blk_quiesce(blk);
	WRITE_ONCE(blk->writeback, false);
	if (blk->be->ops->flush(blk->be))
		ret = -EIO;
	vhost_blk_resume(blk);
out:
	mutex_unlock(&blk->dev.mutex);
	return ret;
}

/*
 * The eventfd signalled when the configuration changed; -1 clears it.
 * Under dev.mutex, which every signal holds too.
 */
static long vhost_blk_set_config_call(struct vhost_blk *blk, int fd)
{
	struct eventfd_ctx *ctx = NULL;
	long ret;

	if (fd != -1) {
		ctx = eventfd_ctx_fdget(fd);
		if (IS_ERR(ctx))
			return PTR_ERR(ctx);
	}
	mutex_lock(&blk->dev.mutex);
	ret = vhost_dev_check_owner(&blk->dev);
	if (!ret)
		swap(blk->config_ctx, ctx);
	mutex_unlock(&blk->dev.mutex);
	if (ctx)
		eventfd_ctx_put(ctx);
	return ret;
}

/*
 * Read the backend's size again. Unchanged (the common case: frontends
 * poll), nothing stops. Changed, the queues stop and drain, so no request
 * is checked against one capacity and done against the other; requests
 * after it see the new one. A request in flight past a new, smaller end
 * ends as the backend ends it: a block device fails bios past its end,
 * and writes to a file are checked against its size as they start
 * (req.c), so neither touches a block past the end.
 */
static long vhost_blk_resize(struct vhost_blk *blk, u64 *capacity)
{
	struct vhost_blk_backend_state *be;
	u64 old, now;
	long ret;

	mutex_lock(&blk->dev.mutex);
	ret = vhost_dev_check_owner(&blk->dev);
	be = blk->be;
	*capacity = 0;
	if (ret || !be)
		goto out;
	now = vhost_blk_backend_capacity(be);
	old = be->capacity;
	*capacity = now;
	if (now == old)
		goto out;
	vhost_blk_quiesce(blk);
	WRITE_ONCE(be->capacity, now);
	if (be->layout)
		vhost_blk_layout_resize(be->layout, now << SECTOR_SHIFT);
	trace_vhost_blk_backend(blk, now > old ? "grow" : "shrink", be);
	vhost_blk_resume(blk);
	if (blk->config_ctx)
		vhost_blk_eventfd_signal(blk->config_ctx);
out:
	mutex_unlock(&blk->dev.mutex);
	return ret;
}

static void vhost_blk_get_config(struct vhost_blk *blk,
				 struct vhost_blk_config *cfg)
{
	const struct vhost_blk_backend_state *be;

	memset(cfg, 0, sizeof(*cfg));
	cfg->max_segments = VHOST_BLK_SEG_MAX;
	cfg->max_segment_size = VHOST_BLK_SIZE_MAX;
	cfg->num_queues = VHOST_BLK_MAX_QUEUES;
	cfg->logical_block_size = SECTOR_SIZE;
	cfg->physical_block_size = SECTOR_SIZE;

	mutex_lock(&blk->dev.mutex);
	cfg->writeback = blk->writeback;
	be = blk->be;
	if (be) {
		cfg->engine = be->engine;
		cfg->capacity = be->capacity;
		cfg->logical_block_size = be->lbs;
		cfg->physical_block_size = be->pbs;
		cfg->read_only = be->read_only;
		if (!be->read_only) {
			cfg->max_discard_sectors = be->discard_sectors;
			cfg->max_write_zeroes_sectors = be->zeroes_sectors;
		}
		if (cfg->max_discard_sectors) {
			cfg->max_discard_seg = VHOST_BLK_DISCARD_SEG_MAX;
			cfg->discard_sector_alignment = be->discard_align;
		}
		if (cfg->max_write_zeroes_sectors) {
			cfg->max_write_zeroes_seg = VHOST_BLK_DISCARD_SEG_MAX;
			cfg->write_zeroes_may_unmap = 1;
		}
	}
	mutex_unlock(&blk->dev.mutex);
}

/*
 * Dirty logging goes on or off with VHOST_F_LOG_ALL. Requests log what
 * they write if logging was on when they were taken from the ring, so the
 * queues stop while it changes: none taken before logs after, unlogged.
 */
static long vhost_blk_set_features(struct vhost_blk *blk, u64 features)
{
	bool log = features & (1ULL << VHOST_F_LOG_ALL);
	bool pause;
	long ret;
	int i;

	if (features & ~(vhost_blk_core_features() | VHOST_BLK_DEV_FEATURES))
		return -EOPNOTSUPP;
	mutex_lock(&blk->dev.mutex);
	ret = vhost_dev_check_owner(&blk->dev);
	if (ret)
		goto out;
	if (log && !vhost_log_access_ok(&blk->dev)) {
		ret = -EFAULT;
		goto out;
	}
	pause = blk->be &&
		log != vhost_has_feature(&blk->vqs[0].vq, VHOST_F_LOG_ALL);
	if (pause)
		vhost_blk_quiesce(blk);
	for (i = 0; i < VHOST_BLK_MAX_QUEUES; i++) {
		struct vhost_virtqueue *vq = &blk->vqs[i].vq;

		mutex_lock(&vq->mutex);
		vq->acked_features = features;
		mutex_unlock(&vq->mutex);
	}
	if (pause)
		vhost_blk_resume(blk);
out:
	mutex_unlock(&blk->dev.mutex);
	return ret;
}

static long vhost_blk_reset_owner(struct vhost_blk *blk)
{
	struct vhost_iotlb *umem;
	long ret;

	mutex_lock(&blk->dev.mutex);
	ret = vhost_dev_check_owner(&blk->dev);
	if (ret)
		goto out;
	umem = vhost_dev_reset_owner_prepare();
	if (!umem) {
		ret = -ENOMEM;
		goto out;
	}
	vhost_blk_detach(blk);
	vhost_dev_stop(&blk->dev);
	vhost_dev_reset_owner(&blk->dev, umem);
out:
	mutex_unlock(&blk->dev.mutex);
	return ret;
}

static long vhost_blk_ioctl(struct file *f, unsigned int ioctl,
			    unsigned long arg)
{
	struct vhost_blk *blk = f->private_data;
	void __user *argp = (void __user *)arg;
	struct vhost_blk_backend backend;
	struct vhost_blk_serial serial;
	struct vhost_blk_config cfg;
	u64 features, capacity;
	u32 writeback;
	int fd;
	long ret;

	switch (ioctl) {
	case VHOST_BLK_SET_BACKEND:
		if (copy_from_user(&backend, argp, sizeof(backend)))
			return -EFAULT;
		return vhost_blk_set_backend(blk, &backend);
	case VHOST_BLK_SET_SERIAL:
		if (copy_from_user(&serial, argp, sizeof(serial)))
			return -EFAULT;
		return vhost_blk_set_serial(blk, &serial);
	case VHOST_BLK_SET_WRITEBACK:
		if (get_user(writeback, (u32 __user *)argp))
			return -EFAULT;
		return vhost_blk_set_writeback(blk, writeback);
	case VHOST_BLK_SET_CONFIG_CALL:
		if (get_user(fd, (int __user *)argp))
			return -EFAULT;
		return vhost_blk_set_config_call(blk, fd);
	case VHOST_BLK_RESIZE:
		ret = vhost_blk_resize(blk, &capacity);
		if (!ret && put_user(capacity, (u64 __user *)argp))
			ret = -EFAULT;
		return ret;
	case VHOST_BLK_GET_CONFIG:
		if (get_user(cfg.flags, (u32 __user *)argp))
			return -EFAULT;
		if (cfg.flags)
			return -EINVAL;
		vhost_blk_get_config(blk, &cfg);
		if (copy_to_user(argp, &cfg, sizeof(cfg)))
			return -EFAULT;
		return 0;
	case VHOST_GET_FEATURES:
		features = vhost_blk_core_features() | VHOST_BLK_DEV_FEATURES;
		if (copy_to_user(argp, &features, sizeof(features)))
			return -EFAULT;
		return 0;
	case VHOST_SET_FEATURES:
		if (copy_from_user(&features, argp, sizeof(features)))
			return -EFAULT;
		return vhost_blk_set_features(blk, features);
	case VHOST_RESET_OWNER:
		return vhost_blk_reset_owner(blk);
	default:
		/* The worker ioctls, on kernels that have them. */
		if (vhost_blk_worker_ioctl(&blk->dev, ioctl, argp, &ret))
			return ret;
		mutex_lock(&blk->dev.mutex);
		ret = vhost_dev_ioctl(&blk->dev, ioctl, argp);
		if (ret == -ENOIOCTLCMD)
			ret = vhost_vring_ioctl(&blk->dev, ioctl, argp);
		mutex_unlock(&blk->dev.mutex);
		return ret;
	}
}

static int vhost_blk_open(struct inode *inode, struct file *f)
{
	struct vhost_virtqueue **vqs;
	struct vhost_blk *blk;
	int i;

	blk = kvzalloc(sizeof(*blk), GFP_KERNEL_ACCOUNT);
	if (!blk)
		return -ENOMEM;
	vqs = kmalloc_array(VHOST_BLK_MAX_QUEUES, sizeof(*vqs), GFP_KERNEL);
	if (!vqs) {
		kvfree(blk);
		return -ENOMEM;
	}
	for (i = 0; i < VHOST_BLK_MAX_QUEUES; i++) {
		struct vhost_blk_vq *bvq = &blk->vqs[i];

		bvq->blk = blk;
		bvq->index = i;
		vqs[i] = &bvq->vq;
		bvq->vq.handle_kick = vhost_blk_handle_kick;
		init_llist_head(&bvq->done_list);
		vhost_work_init(&bvq->done_work, vhost_blk_done_work);
		INIT_WORK(&bvq->orphan_work, vhost_blk_orphan_work);
	}
	init_waitqueue_head(&blk->drain_wq);
	blk->writeback = true;
	spin_lock_init(&blk->serial_lock);
	blk->id = atomic_inc_return(&vhost_blk_ids);
	snprintf((char *)blk->serial, sizeof(blk->serial), "vhost-blk-%08x",
		 blk->id);
	vhost_dev_init(&blk->dev, vqs, VHOST_BLK_MAX_QUEUES, UIO_MAXIOV,
		       VHOST_BLK_WEIGHT, 0, true, NULL);
	f->private_data = blk;
	vhost_blk_stat_add(VHOST_BLK_STAT_DEVICES, 1);
	return 0;
}

static int vhost_blk_release(struct inode *inode, struct file *f)
{
	struct vhost_blk *blk = f->private_data;

	mutex_lock(&blk->dev.mutex);
	vhost_blk_detach(blk);
	mutex_unlock(&blk->dev.mutex);
	vhost_dev_stop(&blk->dev);
	vhost_dev_cleanup(&blk->dev);
	if (blk->config_ctx)
		eventfd_ctx_put(blk->config_ctx);
	kfree(blk->dev.vqs);
	kvfree(blk);
	vhost_blk_stat_add(VHOST_BLK_STAT_DEVICES, -1);
	return 0;
}

static const struct file_operations vhost_blk_fops = {
	.owner		= THIS_MODULE,
	.open		= vhost_blk_open,
	.release	= vhost_blk_release,
	.unlocked_ioctl	= vhost_blk_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.llseek		= noop_llseek,
};

/*
 * A fixed misc minor, as vhost-net has (VHOST_NET_MINOR), so that the module
 * can be loaded on the first open of /dev/vhost-blk: depmod puts the
 * "devname:" alias below into modules.devname, kmod static-nodes and
 * systemd-tmpfiles create the node from it at boot, and an open of a misc
 * minor no driver has asks for module "char-major-10-<minor>".
 *
 * 250 is in 243-254, the misc minors Documentation/admin-guide/devices.txt
 * keeps for local use: no in-tree driver takes it (checked against the
 * miscdevice.h of 6.1, 6.12 and 7.3), and the kernel takes dynamic minors
 * from below 128 or above 255, never there. If another module holds
 * it anyway, misc_register() says -EBUSY: vhost-blk then takes a dynamic
 * minor and says so, since the device works, only not the load on open.
 */
#define VHOST_BLK_MINOR		250

static struct miscdevice vhost_blk_misc = {
	.minor	= VHOST_BLK_MINOR,
	.name	= "vhost-blk",
	.fops	= &vhost_blk_fops,
};

static const char *const vhost_blk_stat_names[VHOST_BLK_NR_STATS] = {
	[VHOST_BLK_STAT_DEVICES]	= "devices",
	[VHOST_BLK_STAT_REQUESTS]	= "requests",
	[VHOST_BLK_STAT_PINNED_PAGES]	= "pinned_pages",
	[VHOST_BLK_STAT_LAYOUT_BIOS]	= "layout_bios",
	[VHOST_BLK_STAT_LAYOUT_RECALLS]	= "layout_recalls",
	[VHOST_BLK_STAT_LAYOUT_REMAPS]	= "layout_remaps",
	[VHOST_BLK_STAT_DIO_DEFERRED]	= "dio_deferred",
};

/* Counters [first, last], each summed over the CPUs. */
static void vhost_blk_stats_print(struct seq_file *m, enum vhost_blk_stat first,
				  enum vhost_blk_stat last)
{
	enum vhost_blk_stat s;
	int cpu;

	for (s = first; s <= last; s++) {
		long sum = 0;

		for_each_possible_cpu(cpu)
			sum += per_cpu(vhost_blk_stats, cpu).v[s];
		seq_printf(m, "%s %ld\n", vhost_blk_stat_names[s], sum);
	}
}

static int vhost_blk_stats_show(struct seq_file *m, void *v)
{
	vhost_blk_stats_print(m, VHOST_BLK_STAT_DEVICES,
			      VHOST_BLK_STAT_PINNED_PAGES);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(vhost_blk_stats);

static int vhost_blk_events_show(struct seq_file *m, void *v)
{
	vhost_blk_stats_print(m, VHOST_BLK_STAT_LAYOUT_BIOS,
			      VHOST_BLK_STAT_DIO_DEFERRED);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(vhost_blk_events);

/*
 * /sys/module/vhost_blk/parameters/features: what this build has of the
 * features that depend on the kernel (compat.h), "+name" or "-name".
 */
static int vhost_blk_features_get(char *buf, const struct kernel_param *kp)
{
	return scnprintf(buf, PAGE_SIZE, "%cvq-workers %cdio-caller-comp %cfile-layout\n",
			 VHOST_BLK_HAS_VQ_WORKERS ? '+' : '-',
			 VHOST_BLK_HAS_DIO_CALLER_COMP ? '+' : '-',
			 VHOST_BLK_HAS_FILE_LAYOUT ? '+' : '-');
}

static int vhost_blk_features_set(const char *val,
				  const struct kernel_param *kp)
{
	return -EPERM;
}

static const struct kernel_param_ops vhost_blk_features_ops = {
	.get	= vhost_blk_features_get,
	.set	= vhost_blk_features_set,
};
module_param_cb(features, &vhost_blk_features_ops, NULL, 0444);
MODULE_PARM_DESC(features, "kernel-dependent features of this build (read-only)");

static int __init vhost_blk_init(void)
{
	int ret;

	ret = vhost_blk_io_init();
	if (ret)
		return ret;
	ret = misc_register(&vhost_blk_misc);
	if (ret == -EBUSY) {
		pr_warn("misc minor %d is taken; using a dynamic minor: opening /dev/vhost-blk will not load this module, and a node made from modules.devname at boot opens the other device\n",
			VHOST_BLK_MINOR);
		vhost_blk_misc.minor = MISC_DYNAMIC_MINOR;
		ret = misc_register(&vhost_blk_misc);
	}
	if (ret) {
		vhost_blk_io_exit();
		return ret;
	}
	vhost_blk_debugfs = debugfs_create_dir("vhost_blk", NULL);
	debugfs_create_file("stats", 0444, vhost_blk_debugfs, NULL,
			    &vhost_blk_stats_fops);
	debugfs_create_file("events", 0444, vhost_blk_debugfs, NULL,
			    &vhost_blk_events_fops);
	return 0;
}

static void __exit vhost_blk_exit(void)
{
	debugfs_remove(vhost_blk_debugfs);
	misc_deregister(&vhost_blk_misc);
	vhost_blk_io_exit();
}

module_init(vhost_blk_init);
module_exit(vhost_blk_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("vhost-blk: virtio-blk served from the host kernel");
MODULE_SOFTDEP("pre: vhost");
MODULE_ALIAS_MISCDEV(VHOST_BLK_MINOR);
MODULE_ALIAS("devname:vhost-blk");
