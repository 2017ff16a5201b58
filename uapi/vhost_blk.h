/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * vhost-blk: serve virtio-blk virtqueues from the host kernel.
 *
 * Userspace opens /dev/vhost-blk, sets up the device with the standard vhost
 * ioctls of <linux/vhost.h> (VHOST_SET_OWNER, VHOST_GET/SET_FEATURES,
 * VHOST_SET_MEM_TABLE, VHOST_SET_VRING_*), then attaches a backend with
 * VHOST_BLK_SET_BACKEND. See docs/api.md for a complete example.
 */
#ifndef _UAPI_LINUX_VHOST_BLK_H
#define _UAPI_LINUX_VHOST_BLK_H

#include <linux/ioctl.h>
#include <linux/types.h>
#include <linux/vhost.h>

/* Most virtqueues one device serves (request queues; no control queue). */
#define VHOST_BLK_MAX_QUEUES		16

/* Length of the GET_ID answer (VIRTIO_BLK_ID_BYTES). */
#define VHOST_BLK_SERIAL_LEN		20

/* How the backend is driven. */
#define VHOST_BLK_ENGINE_AUTO		0	/* bio for block devices, kiocb for files */
#define VHOST_BLK_ENGINE_KIOCB		1	/* read_iter/write_iter with async kiocbs */
#define VHOST_BLK_ENGINE_BIO		2	/* bios straight to the block device,
						 * or to a file's blocks */

/* vhost_blk_backend.flags */
#define VHOST_BLK_BACKEND_F_READONLY	(1U << 0)	/* refuse writes, discards, zeroing */
#define VHOST_BLK_BACKEND_F_ALL		VHOST_BLK_BACKEND_F_READONLY

/*
 * Attach (fd >= 0) or detach (fd == -1) the backend of every virtqueue.
 * The fd is a regular file (raw image) or a block device, opened for reading
 * and, unless READONLY is set, writing. The device keeps its own reference;
 * userspace may close fd afterwards. Detaching waits for every request in
 * flight to complete. Unknown flags, a non-zero reserved field or an unknown
 * engine give -EINVAL. Engine BIO on a file sends bios to the file's blocks,
 * under a layout lease its file system recalls before it moves them (XFS;
 * see docs/api.md); on a file system without block layouts, and on
 * realtime or reflinked files, it gives -EOPNOTSUPP.
 */
struct vhost_blk_backend {
	__s32 fd;
	__u32 flags;
	__u32 engine;
	__u32 reserved[5];
};

/*
 * The answer to VIRTIO_BLK_T_GET_ID. Shorter serials are padded with NUL
 * bytes. The default is "vhost-blk-" and eight hex digits of a number
 * unique to the open device.
 */
struct vhost_blk_serial {
	__u32 flags;	/* must be 0 */
	__u8 id[VHOST_BLK_SERIAL_LEN];
};

/*
 * What a frontend should put in the virtio-blk configuration space. Filled
 * from the attached backend (capacity is 0 and block sizes 512 without one).
 * flags must be 0 on input.
 */
struct vhost_blk_config {
	__u32 flags;
	__u32 engine;			/* engine in use: KIOCB or BIO */
	__u64 capacity;			/* in 512-byte sectors */
	__u32 logical_block_size;	/* bytes */
	__u32 physical_block_size;	/* bytes */
	__u32 max_segments;		/* data segments per request (seg_max) */
	__u32 max_segment_size;		/* bytes (size_max) */
	__u32 max_discard_sectors;	/* 0: no discard */
	__u32 max_discard_seg;
	__u32 discard_sector_alignment;	/* in 512-byte sectors */
	__u32 max_write_zeroes_sectors;	/* 0: no write zeroes */
	__u32 max_write_zeroes_seg;
	__u32 write_zeroes_may_unmap;
	__u32 num_queues;		/* the most queues the device serves */
	__u32 read_only;
	__u32 writeback;		/* VHOST_BLK_SET_WRITEBACK's value */
	__u32 reserved[7];
};

#define VHOST_BLK_SET_BACKEND	_IOW(VHOST_VIRTIO, 0xC0, struct vhost_blk_backend)
#define VHOST_BLK_SET_SERIAL	_IOW(VHOST_VIRTIO, 0xC1, struct vhost_blk_serial)
#define VHOST_BLK_GET_CONFIG	_IOWR(VHOST_VIRTIO, 0xC2, struct vhost_blk_config)

/*
 * The write cache the guest is told about (virtio-blk's writeback field):
 * 1, write-back (the default): a write completes once the backend has it,
 * and is durable after a later FLUSH completes; 0, write-through: each
 * write (and write zeroes, discard) completes only once it is durable. A
 * guest that did not negotiate VIRTIO_BLK_F_FLUSH gets write-through
 * whatever this says. Switching to write-through waits for the requests in
 * flight and flushes the backend, so that every write completed before is
 * durable too; -EIO if that flush fails (the device is write-through then).
 * Other values give -EINVAL.
 */
#define VHOST_BLK_SET_WRITEBACK	_IOW(VHOST_VIRTIO, 0xC3, __u32)

/*
 * An eventfd the device signals when its configuration changed: the
 * capacity, after VHOST_BLK_RESIZE found the backend at a new size. The
 * frontend then reads VHOST_BLK_GET_CONFIG and raises the guest's config
 * interrupt. -1 stops it. It stays set across VHOST_BLK_SET_BACKEND and
 * VHOST_RESET_OWNER, until the device is closed.
 */
#define VHOST_BLK_SET_CONFIG_CALL _IOW(VHOST_VIRTIO, 0xC4, int)

/*
 * Read the backend's size again (file size or block device size, rounded
 * down to the logical block size) and store the capacity, in 512-byte
 * sectors, into the argument (0 without a backend). Unchanged, that is
 * all: cheap enough to call from a timer. Changed, the device waits for
 * the requests in flight, checks every later request against the new
 * capacity, and signals the VHOST_BLK_SET_CONFIG_CALL eventfd. Whatever
 * the capacity says, writes to a regular file never go past its current
 * size (they get VIRTIO_BLK_S_IOERR), so a file cut short is not extended
 * again. See docs/api.md.
 */
#define VHOST_BLK_RESIZE	_IOR(VHOST_VIRTIO, 0xC5, __u64)

#endif /* _UAPI_LINUX_VHOST_BLK_H */
