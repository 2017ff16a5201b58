// SPDX-License-Identifier: GPL-2.0-only
/*
 * The bio engine on a raw image file: bios straight to the file's blocks on
 * the device under the file system, through the file system's block layout,
 * as the pNFS block layout server hands them to its clients
 * (the export operations' map_blocks; XFS has it).
 *
 * At attach the extents of the file are mapped, under a layout lease.
 * The file system recalls that lease (lm_break) before anything that could
 * move the file's blocks or write to them past us: truncate, fallocate
 * (hole punching included), reflink, any write(2) through the file, the
 * kiocb fallback of this device too. The recall stops new bios, waits for
 * those in flight and gives the lease back, so the change waits until no bio
 * of ours can land on blocks the file may no longer own. Meanwhile the
 * device serves the file through the kiocb engine; a while later (1 s,
 * doubling with each recall that comes soon after, up to a minute) it
 * takes a new lease and maps the file again, with what was written since.
 *
 * What the map does not cover (holes, unwritten extents) goes through the
 * kiocb engine: a read there keeps the layout, a write recalls it.
 * Misaligned guest buffers go through copies (bio.c) and WRITE_ZEROES to
 * the blocks themselves, so neither recalls it. Writes hold the file system's
 * freeze protection while in flight, as write(2) does, and the file's mtime
 * is updated at each FLUSH and at detach when the data changed.
 */
#include <linux/bio.h>
#include <linux/exportfs.h>
#include <linux/filelock.h>
#include <linux/iomap.h>
#include <linux/iversion.h>
#include <linux/slab.h>

#include "blk.h"
#include "trace.h"

struct vhost_blk_extent {
	u64	pos;		/* in the file, bytes */
	u64	len;		/* bytes */
	u64	addr;		/* on the device, bytes */
};

/* The written extents of a file, by pos, none overlapping. */
struct vhost_blk_map {
	struct vhost_blk_extent	*ext;
	unsigned int		nr;
	unsigned int		cap;
};

struct vhost_blk_layout {
	struct file		*file;
	u64			size;		/* bytes mapped, from 0 (RESIZE) */
	u32			lbs;		/* the device's logical block */
	struct block_device	*bdev;		/* set once, by the first map */
	struct vhost_blk_map	map;		/* used only while held */
	spinlock_t		lock;		/* the fields below */
	bool			recalled;	/* the map may be stale */
	bool			closing;	/* detaching: no new map */
	unsigned int		breaks;		/* lm_break calls */
	unsigned int		inflight;	/* holders */
	unsigned long		delay;		/* before mapping again */
	unsigned long		mapped_at;	/* jiffies of the last map */
	u64			version;	/* the inode's i_version then */
	wait_queue_head_t	idle;
	struct work_struct	recall_work;
	struct delayed_work	remap_work;
	unsigned long		flags;
};

#define VHOST_BLK_LAYOUT_WRITTEN	0	/* flags: data written, mtime not */
/*
 * The map_blocks calls of one map. Each returns one extent or hole, and
 * each, on XFS, takes the file's I/O lock exclusively and flushes and
 * invalidates the whole file's page cache (xfs_fs_map_blocks, 6.12): a
 * file in a million extents would cost a million of those a map, and a
 * map is taken again after every recall. Past the bound the rest of the
 * file stays unmapped, which is safe: what the map does not cover goes
 * through the file, as holes do (a write there recalls the layout). It
 * bounds the map's memory too (24 bytes an extent), and how long guest
 * I/O through the file waits behind a map for the I/O lock: 1024 calls
 * over a 32 MiB file stalled a read more than 15 s on the debug kernel.
 */
#define VHOST_BLK_LAYOUT_MAX_CALLS	128
/*
 * Giving the lease back wakes the task that broke it, which then checks
 * for conflicting leases again but breaks none taken since (__break_lease
 * breaks only before its first wait): a lease taken again before that task
 * runs would leave it waiting, its break never sent to us. The delay
 * before a map again is what keeps that window shut; keep it long.
 */
#define VHOST_BLK_LAYOUT_DELAY_MIN	HZ
#define VHOST_BLK_LAYOUT_DELAY_MAX	(64 * HZ)

/*
 * Map the file again later: a second after a map that lasted, twice the
 * last wait after one that was lost soon, up to a minute.
 */
static void vhost_blk_layout_later(struct vhost_blk_layout *lo)
{
	unsigned long delay = 0;

	spin_lock_irq(&lo->lock);
	if (!lo->closing) {
		if (time_after(jiffies, lo->mapped_at + VHOST_BLK_LAYOUT_DELAY_MAX))
			lo->delay = VHOST_BLK_LAYOUT_DELAY_MIN;
		else
			lo->delay = min(2 * lo->delay, VHOST_BLK_LAYOUT_DELAY_MAX);
		delay = lo->delay;
	}
	spin_unlock_irq(&lo->lock);
	if (delay)
		queue_delayed_work(vhost_blk_wq, &lo->remap_work, delay);
}

/* A recall: once no bio holds the layout, give the lease back, map later. */
static void vhost_blk_layout_recall_work(struct work_struct *work)
{
	struct vhost_blk_layout *lo = container_of(work, struct vhost_blk_layout,
						   recall_work);

	wait_event(lo->idle, !READ_ONCE(lo->inflight));
	kernel_setlease(lo->file, F_UNLCK, NULL, (void **)&lo);
	vhost_blk_stat_add(VHOST_BLK_STAT_LAYOUT_RECALLS, 1);
	trace_vhost_blk_layout(lo->file, "recall", lo->map.nr, 0);
	vhost_blk_layout_later(lo);
}

/* Under the file's lock context spinlock: no sleeping here. */
static bool vhost_blk_layout_lm_break(struct file_lease *fl)
{
	struct vhost_blk_layout *lo = fl->c.flc_owner;
	unsigned long flags;

	/* No time-out: the lease goes when the last bio of ours is done. */
	fl->fl_break_time = 0;
	spin_lock_irqsave(&lo->lock, flags);
	lo->recalled = true;
	lo->breaks++;
	spin_unlock_irqrestore(&lo->lock, flags);
	queue_work(vhost_blk_wq, &lo->recall_work);
	return false;
}

static const struct lease_manager_operations vhost_blk_layout_lm_ops = {
	.lm_break	= vhost_blk_layout_lm_break,
	.lm_change	= lease_modify,
	VHOST_BLK_LM_OPEN_CONFLICT
};

/*
 * Take the layout lease. @as_caller: with the checks a lease of the caller's
 * own would get (vfs_setlease(): the file's owner or CAP_LEASE, and the
 * LSM's word), at attach; the leases taken again later are the same one's.
 */
static int vhost_blk_layout_lease(struct vhost_blk_layout *lo, bool as_caller)
{
	struct file_lease *fl;
	int ret;

	fl = locks_alloc_lease();
	if (!fl)
		return -ENOMEM;
	fl->fl_lmops = &vhost_blk_layout_lm_ops;
	fl->c.flc_flags = FL_LAYOUT;
	fl->c.flc_type = F_RDLCK;
	fl->c.flc_owner = lo;
	fl->c.flc_pid = current->tgid;
	fl->c.flc_file = lo->file;
	if (as_caller)
		ret = vfs_setlease(lo->file, F_RDLCK, &fl, NULL);
	else
		ret = kernel_setlease(lo->file, F_RDLCK, &fl, NULL);
	if (fl)
		locks_free_lease(fl);
	return ret;
}

static int vhost_blk_map_add(struct vhost_blk_map *m, u64 pos, u64 len,
			     u64 addr)
{
	struct vhost_blk_extent *e = m->nr ? &m->ext[m->nr - 1] : NULL;

	if (e && e->pos + e->len == pos && e->addr + e->len == addr) {
		e->len += len;
		return 0;
	}
	if (m->nr == m->cap) {
		unsigned int cap = m->cap ? 2 * m->cap : 16;
		struct vhost_blk_extent *ext;

		ext = kvmalloc_array(cap, sizeof(*ext), GFP_KERNEL_ACCOUNT);
		if (!ext)
			return -ENOMEM;
		if (m->nr)
			memcpy(ext, m->ext, m->nr * sizeof(*ext));
		kvfree(m->ext);
		m->ext = ext;
		m->cap = cap;
	}
	m->ext[m->nr++] = (struct vhost_blk_extent){ pos, len, addr };
	return 0;
}

static bool vhost_blk_layout_broken(struct vhost_blk_layout *lo,
				    unsigned int breaks)
{
	return READ_ONCE(lo->breaks) != breaks;
}

/*
 * The written extents of the file, into @m (none is fine: nothing written
 * yet), under the lease taken when lm_break had been called @breaks times:
 * from the start to @size bytes, as far as VHOST_BLK_LAYOUT_MAX_CALLS
 * calls of map_blocks go. -EAGAIN if it is recalled meanwhile, -EOPNOTSUPP
 * if its blocks are not on one device the bios can use.
 */
static int vhost_blk_layout_map(struct vhost_blk_layout *lo,
				struct vhost_blk_map *m, unsigned int breaks,
				u64 size)
{
	struct inode *inode = file_inode(lo->file);
	vhost_blk_map_blocks_fn map_blocks = vhost_blk_map_blocks_op(inode->i_sb);
	struct block_device *bdev = lo->bdev;
	unsigned int calls = 0;
	u64 pos = 0;
	int ret;

	while (pos < size && calls++ < VHOST_BLK_LAYOUT_MAX_CALLS) {
		struct iomap map = {};
		u32 gen;
		u64 skip;

		if (vhost_blk_layout_broken(lo, breaks))
			return -EAGAIN;
		ret = map_blocks(inode, pos, size - pos, &map, false, &gen);
		/* Realtime or shared (reflinked) files have no layout. */
		if (ret == -ENXIO)
			return -EOPNOTSUPP;
		if (ret)
			return ret;
		/* The extent holding @pos, maybe starting before it. */
		if (map.offset > pos || map.offset + map.length <= pos)
			return -EIO;
		skip = pos - map.offset;
		if (map.type == IOMAP_MAPPED && !(map.flags & IOMAP_F_SHARED)) {
			if (!map.bdev || (bdev && map.bdev != bdev))
				return -EOPNOTSUPP;
			bdev = map.bdev;
			ret = vhost_blk_map_add(m, pos, map.length - skip,
						map.addr + skip);
			if (ret)
				return ret;
		}
		pos += map.length - skip;
		cond_resched();
	}
	if (bdev && !lo->bdev) {
		/* Bios carry what the guest may ask: its blocks must do. */
		if (lo->lbs % bdev_logical_block_size(bdev))
			return -EOPNOTSUPP;
		WRITE_ONCE(lo->bdev, bdev);
	}
	return 0;
}

/*
 * May the bios write to @file's blocks? Not when the file is a swap file
 * (swapon: the swap code writes those blocks itself) or immutable. At
 * attach, at each map, and before each write (swapon recalls no lease).
 */
int vhost_blk_layout_check(struct file *file)
{
	struct inode *inode = file_inode(file);

	if (IS_SWAPFILE(inode))
		return -ETXTBSY;
	if (IS_IMMUTABLE(inode))
		return -EPERM;
	return 0;
}

/*
 * Take a lease (@as_caller: see vhost_blk_layout_lease()) and map the file;
 * use the map unless the lease was broken meanwhile (its recall gives the
 * lease back) or the layout is going away. Returns 0 when the map is in use.
 */
static int vhost_blk_layout_take(struct vhost_blk_layout *lo, bool as_caller)
{
	struct vhost_blk_map m = {};
	unsigned int breaks, resized = 0;
	bool used = false;
	u64 version, size;
	int ret;

	spin_lock_irq(&lo->lock);
	breaks = lo->breaks;
	ret = lo->closing ? -ESHUTDOWN : 0;
	spin_unlock_irq(&lo->lock);
	if (ret)
		return ret;
	ret = vhost_blk_layout_check(lo->file);
	if (!ret)
		ret = vhost_blk_layout_lease(lo, as_caller);
	/*
	 * Another layout of the file is being recalled, or the file may not
	 * be written now: no map until later.
	 */
	if (ret == -EAGAIN || (ret && !as_caller))
		vhost_blk_layout_later(lo);
	if (ret) {
		trace_vhost_blk_layout(lo->file, "map", 0, ret);
		return ret;
	}
	/*
	 * Read before the map. Peeked, not queried: a query would make every
	 * later change of the inode (atime) bump it, and remap the file each
	 * time. What moves blocks logs the inode core, which bumps it anyway.
	 */
map:
	version = inode_peek_iversion(file_inode(lo->file));
	size = READ_ONCE(lo->size);
	ret = vhost_blk_layout_map(lo, &m, breaks, size);
	spin_lock_irq(&lo->lock);
	/*
	 * VHOST_BLK_RESIZE changed the size meanwhile and, seeing no map in
	 * use, left the new size to this one: map again (a few times at
	 * most; a shorter map is still right, only slower).
	 */
	if (!ret && lo->breaks == breaks && !lo->closing &&
	    size != lo->size && resized++ < 4) {
		spin_unlock_irq(&lo->lock);
		m.nr = 0;
		goto map;
	}
	if (!ret && lo->breaks == breaks && !lo->closing) {
		/* No holder while recalled: the old map is no one's. */
		swap(lo->map, m);
		lo->recalled = false;
		lo->mapped_at = jiffies;
		lo->version = version;
		used = true;
	}
	spin_unlock_irq(&lo->lock);
	kvfree(m.ext);
	trace_vhost_blk_layout(lo->file, "map", used ? lo->map.nr : 0,
			       used ? 0 : ret ?: -EAGAIN);
	if (used)
		return 0;
	/* Not broken: the lease is ours to give back. */
	if (!vhost_blk_layout_broken(lo, breaks))
		kernel_setlease(lo->file, F_UNLCK, NULL, (void **)&lo);
	return ret ?: -EAGAIN;
}

static void vhost_blk_layout_remap_work(struct work_struct *work)
{
	struct vhost_blk_layout *lo = container_of(to_delayed_work(work),
						   struct vhost_blk_layout,
						   remap_work);

	if (!vhost_blk_layout_take(lo, false))
		vhost_blk_stat_add(VHOST_BLK_STAT_LAYOUT_REMAPS, 1);
}

/* Give the lease back if held, stop the works, free. No holder left. */
static void vhost_blk_layout_free(struct vhost_blk_layout *lo)
{
	spin_lock_irq(&lo->lock);
	lo->closing = true;
	spin_unlock_irq(&lo->lock);
	cancel_delayed_work_sync(&lo->remap_work);
	kernel_setlease(lo->file, F_UNLCK, NULL, (void **)&lo);
	flush_work(&lo->recall_work);
	/* A recall that ran before closing was set may have queued it. */
	cancel_delayed_work_sync(&lo->remap_work);
	kvfree(lo->map.ext);
	kfree(lo);
}

/*
 * Map @be's file for the bio engine. -EOPNOTSUPP when its file system has
 * no block layout to give, or not one the bios can use.
 */
int vhost_blk_layout_get(struct vhost_blk_backend_state *be)
{
	struct inode *inode = file_inode(be->file);
	struct vhost_blk_layout *lo;
	int ret;

	if (!vhost_blk_map_blocks_op(inode->i_sb))
		return -EOPNOTSUPP;
	lo = kzalloc(sizeof(*lo), GFP_KERNEL_ACCOUNT);
	if (!lo)
		return -ENOMEM;
	lo->file = be->file;
	lo->size = be->capacity << SECTOR_SHIFT;
	lo->lbs = be->lbs;
	lo->recalled = true;		/* until a map is in use */
	lo->delay = VHOST_BLK_LAYOUT_DELAY_MIN / 2;
	spin_lock_init(&lo->lock);
	init_waitqueue_head(&lo->idle);
	INIT_WORK(&lo->recall_work, vhost_blk_layout_recall_work);
	INIT_DELAYED_WORK(&lo->remap_work, vhost_blk_layout_remap_work);

	ret = vhost_blk_layout_take(lo, true);
	/* Recalled, or no lease to be had yet: it is mapped again later. */
	if (ret && ret != -EAGAIN) {
		vhost_blk_layout_free(lo);
		return ret;
	}
	be->layout = lo;
	return 0;
}

/*
 * With the data written through the bios, the file was modified: say so in
 * its mtime, as a write(2) would. May sleep.
 */
void vhost_blk_layout_touch(struct vhost_blk_layout *lo)
{
	struct address_space *mapping = lo->file->f_mapping;
	struct inode *inode = file_inode(lo->file);
	u64 before;

	if (!test_and_clear_bit(VHOST_BLK_LAYOUT_WRITTEN, &lo->flags))
		return;
	/*
	 * Our own change of the inode must not look like an extent swap to
	 * vhost_blk_layout_hold(): take it into the map's version, under the
	 * invalidate lock, which a swap holds exclusively while it runs (taken
	 * inside freeze protection, as the file system's own paths do).
	 */
	sb_start_write(inode->i_sb);
	filemap_invalidate_lock_shared(mapping);
	before = inode_peek_iversion(inode);
	file_update_time(lo->file);
	spin_lock_irq(&lo->lock);
	if (lo->version == before)
		lo->version = inode_peek_iversion(inode);
	spin_unlock_irq(&lo->lock);
	filemap_invalidate_unlock_shared(mapping);
	sb_end_write(inode->i_sb);
}

/* At detach, with no request in flight. */
void vhost_blk_layout_put(struct vhost_blk_backend_state *be)
{
	struct vhost_blk_layout *lo = be->layout;

	if (!lo)
		return;
	be->layout = NULL;
	vhost_blk_layout_touch(lo);
	vhost_blk_layout_free(lo);
}

/*
 * The device's capacity is @size bytes now (VHOST_BLK_RESIZE, with no
 * request in flight, so no holder). Map the file again to that size under
 * the lease held, so the blocks of a grown file are sent bios at once;
 * recalled, the next map takes the new size. Smaller, the new map leaves
 * out what is past the end (a file cut short recalled the lease anyway).
 */
void vhost_blk_layout_resize(struct vhost_blk_layout *lo, u64 size)
{
	struct vhost_blk_map m = {};
	unsigned int breaks;
	bool held, used = false;
	u64 version;
	int ret;

	spin_lock_irq(&lo->lock);
	WRITE_ONCE(lo->size, size);
	held = !lo->recalled && !lo->closing;
	breaks = lo->breaks;
	spin_unlock_irq(&lo->lock);
	if (!held)
		return;
	version = inode_peek_iversion(file_inode(lo->file));
	ret = vhost_blk_layout_map(lo, &m, breaks, size);
	spin_lock_irq(&lo->lock);
	if (!ret && lo->breaks == breaks && !lo->recalled && !lo->closing) {
		swap(lo->map, m);
		lo->version = version;
		used = true;
	}
	spin_unlock_irq(&lo->lock);
	kvfree(m.ext);
	trace_vhost_blk_layout(lo->file, "resize", used ? lo->map.nr : 0,
			       used ? 0 : ret ?: -EAGAIN);
}

/* The device under the file, or NULL before any block of it is mapped. */
struct block_device *vhost_blk_layout_bdev(struct vhost_blk_layout *lo)
{
	return READ_ONCE(lo->bdev);
}

/* The extent holding @pos, or NULL. */
static const struct vhost_blk_extent *
vhost_blk_layout_find(const struct vhost_blk_layout *lo, u64 pos)
{
	unsigned int low = 0, high = lo->map.nr;

	while (low < high) {
		unsigned int mid = low + (high - low) / 2;
		const struct vhost_blk_extent *e = &lo->map.ext[mid];

		if (pos < e->pos)
			high = mid;
		else if (pos >= e->pos + e->len)
			low = mid + 1;
		else
			return e;
	}
	return NULL;
}

/* Is [@pos, @pos + @len) all in the map, with no gap? */
static bool vhost_blk_layout_covers(const struct vhost_blk_layout *lo, u64 pos,
				    u64 len)
{
	const struct vhost_blk_extent *e = vhost_blk_layout_find(lo, pos);
	const struct vhost_blk_extent *end = lo->map.ext + lo->map.nr;
	u64 last = pos + len;

	if (!e)
		return false;
	while (e->pos + e->len < last) {
		if (e + 1 == end || e[1].pos != e->pos + e->len)
			return false;
		e++;
	}
	return true;
}

/*
 * The file's invalidate lock, shared, from the hold to the end of the I/O.
 * XFS_IOC_SWAPEXT (xfs_fsr) takes it exclusively to swap the file's
 * extents, and recalls no lease (6.12): it waits for our bios in flight,
 * and the i_version it changes tells later holders the map is stale.
 * Released by another task than the one that took it: not for lockdep.
 */
static bool vhost_blk_layout_lock(struct vhost_blk_layout *lo, bool nowait)
{
	struct rw_semaphore *sem = &lo->file->f_mapping->invalidate_lock;

	if (!nowait) {
		down_read_non_owner(sem);
		return true;
	}
	if (!down_read_trylock(sem))
		return false;
	vhost_blk_rwsem_disown(sem);
	return true;
}

/* After vhost_blk_layout_end(), in task context. */
void vhost_blk_layout_unlock(struct vhost_blk_layout *lo)
{
	up_read_non_owner(&lo->file->f_mapping->invalidate_lock);
}

/*
 * Under the invalidate lock: has the inode changed since the map was taken,
 * with no recall? Then treat it as one (an extent swap recalls none).
 * Under lo->lock.
 */
static bool vhost_blk_layout_stale(struct vhost_blk_layout *lo)
{
	if (lo->recalled ||
	    inode_peek_iversion(file_inode(lo->file)) == lo->version)
		return false;
	lo->recalled = true;
	lo->breaks++;
	return true;
}

/*
 * Hold the layout for I/O to file bytes [@pos, @pos + @len): 0, -EAGAIN if
 * that would block on a freezing file system and @nowait, -EBUSY if it
 * would wait for the invalidate lock and @nowait, -ETXTBSY for a write to
 * a file that became a swap file, -ENOENT when the kiocb engine must serve
 * it (the layout was recalled, the file changed under it, or the range is
 * not all mapped). vhost_blk_layout_end() and then _unlock() let go.
 */
static int vhost_blk_layout_hold(struct vhost_blk_layout *lo, u64 pos,
				 u64 len, bool write, bool nowait)
{
	struct super_block *sb = file_inode(lo->file)->i_sb;
	unsigned long flags;
	bool stale;
	int ret = 0;

	if (write) {
		if (IS_SWAPFILE(file_inode(lo->file)))
			return -ETXTBSY;
		if (!nowait)
			sb_start_write(sb);
		else if (!sb_start_write_trylock(sb))
			return -EAGAIN;
		/* Released by vhost_blk_layout_end(), as kiocb_end_write(). */
		__sb_writers_release(sb, SB_FREEZE_WRITE);
	}
	if (!vhost_blk_layout_lock(lo, nowait)) {
		ret = -EBUSY;
		goto err_write;
	}
	spin_lock_irqsave(&lo->lock, flags);
	stale = vhost_blk_layout_stale(lo);
	if (lo->recalled)
		ret = -ENOENT;
	else
		lo->inflight++;
	spin_unlock_irqrestore(&lo->lock, flags);
	if (stale) {
		trace_vhost_blk_layout(lo->file, "changed", lo->map.nr, 0);
		queue_work(vhost_blk_wq, &lo->recall_work);
	}
	/* The map does not change while the layout is held. */
	if (!ret && !vhost_blk_layout_covers(lo, pos, len)) {
		vhost_blk_layout_end(lo, false);
		ret = -ENOENT;
	}
	if (!ret) {
		if (write)
			set_bit(VHOST_BLK_LAYOUT_WRITTEN, &lo->flags);
		return 0;
	}
	vhost_blk_layout_unlock(lo);
err_write:
	if (write) {
		__sb_writers_acquired(sb, SB_FREEZE_WRITE);
		sb_end_write(sb);
	}
	return ret;
}

/* Hold the layout for the bio of @req: see vhost_blk_layout_hold(). */
int vhost_blk_layout_start(struct vhost_blk_layout *lo,
			   struct vhost_blk_req *req, bool nowait)
{
	return vhost_blk_layout_hold(lo, req->sector << SECTOR_SHIFT, req->len,
				     !req->to_guest, nowait);
}

/* I/O under vhost_blk_layout_hold() is done. Any context. */
void vhost_blk_layout_end(struct vhost_blk_layout *lo, bool write)
{
	unsigned long flags;

	if (write) {
		struct super_block *sb = file_inode(lo->file)->i_sb;

		__sb_writers_acquired(sb, SB_FREEZE_WRITE);
		sb_end_write(sb);
	}
	spin_lock_irqsave(&lo->lock, flags);
	if (!--lo->inflight && lo->recalled)
		wake_up(&lo->idle);
	spin_unlock_irqrestore(&lo->lock, flags);
}

/*
 * Submit @bio, the data of file bytes [@pos, @pos + size), at the blocks
 * that hold them: one bio an extent, chained to @bio. From
 * vhost_blk_layout_start() on.
 */
void vhost_blk_layout_submit(struct vhost_blk_layout *lo, struct bio *bio,
			     u64 pos)
{
	const struct vhost_blk_extent *e = vhost_blk_layout_find(lo, pos);

	vhost_blk_stat_add(VHOST_BLK_STAT_LAYOUT_BIOS, 1);
	for (;;) {
		u64 off = pos - e->pos;
		u64 left = e->len - off;
		struct bio *split;

		bio->bi_iter.bi_sector = (e->addr + off) >> SECTOR_SHIFT;
		if (bio->bi_iter.bi_size <= left)
			break;
		/* From a mempool, as the block layer's own splits. */
		split = bio_split(bio, left >> SECTOR_SHIFT, GFP_NOIO,
				  &fs_bio_set);
		bio_chain(split, bio);
		submit_bio(split);
		pos += left;
		e++;
	}
	submit_bio(bio);
}

/*
 * WRITE_ZEROES of file bytes [@pos, @pos + @len) on the blocks that hold
 * them, leaving them allocated, as zeroing through the file system would
 * not: that would recall the layout. -ENOENT when the layout cannot serve the
 * range. May sleep.
 */
int vhost_blk_layout_zeroout(struct vhost_blk_layout *lo, u64 pos, u64 len)
{
	struct address_space *mapping = lo->file->f_mapping;
	const struct vhost_blk_extent *e;
	u64 at = pos, left = len;
	int ret;

	ret = vhost_blk_layout_hold(lo, pos, len, true, false);
	if (ret)
		return ret;
	/* Cached pages of the range would hide the zeroes, before and after. */
	ret = vhost_blk_sync_cache(mapping, pos, len, true);
	for (e = vhost_blk_layout_find(lo, at); !ret && left; e++) {
		u64 off = at - e->pos;
		u64 n = min(left, e->len - off);

		ret = blkdev_issue_zeroout(lo->bdev,
					   (e->addr + off) >> SECTOR_SHIFT,
					   n >> SECTOR_SHIFT, GFP_KERNEL,
					   BLKDEV_ZERO_NOUNMAP);
		at += n;
		left -= n;
	}
	vhost_blk_drop_cache(mapping, pos, len);
	vhost_blk_layout_end(lo, true);
	vhost_blk_layout_unlock(lo);
	return ret;
}
