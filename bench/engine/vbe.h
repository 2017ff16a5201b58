/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vbe: the fio engine's view of a virtio-blk device, without fio. A
 * *target* is one device, reached through /dev/vhost-blk (our module) or
 * a vhost-user-blk socket (qemu-storage-daemon), with its guest memory and
 * queues; the fio jobs of one process that name the same file share it,
 * each driving its own queues (as a guest's vCPUs do).
 *
 *   target.c   open, share and close targets; guest memory for fio
 *   io.c       requests on the rings: queue, kick, reap, wait
 *   engine.c   the fio ioengine (the only file that sees fio's headers)
 */
#ifndef VBE_H
#define VBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VBE_ERR_LEN	320
#define VBE_MAX_QUEUES	16	/* VHOST_BLK_MAX_QUEUES (checked in target.c) */
#define VBE_WAIT_MS	15000	/* a request not back by then is an error */

enum vbe_transport {
	VBE_TRANSPORT_AUTO,		/* a socket: vhost-user; else vhost */
	VBE_TRANSPORT_VHOST,		/* /dev/vhost-blk, backend = the file */
	VBE_TRANSPORT_VHOST_USER,	/* the file is the back-end's socket */
};

enum vbe_workers {
	VBE_WORKERS_AUTO,		/* a worker per queue when queues > 1 */
	VBE_WORKERS_SHARED,		/* the device's one worker */
	VBE_WORKERS_PER_QUEUE,		/* VHOST_NEW_WORKER for each queue */
};

struct vbe_opts {
	const char *path;		/* backend (vhost) or socket (vhost-user) */
	enum vbe_transport transport;
	const char *dev_path;		/* default /dev/vhost-blk */
	uint32_t engine;		/* VHOST_BLK_ENGINE_*; vhost only */
	enum vbe_workers workers;	/* vhost only */
	unsigned int poll_us;		/* busy-poll window; vhost only */
	unsigned int queues;		/* of the device */
	unsigned int ring_size;		/* per queue; 0: from iodepth */
	unsigned int iodepth;		/* of each job */
	size_t buf_size;		/* largest I/O of a job */
	size_t mem_size;		/* guest memory; 0: from the above */
	bool direct;			/* open the backend O_DIRECT (vhost) */
	bool log;			/* dirty logging on, as in a migration (vhost) */
	const char *worker_cpus;	/* CPU list of the workers; NULL: ours (vhost) */
};

struct vbe_target;

/*
 * The target for o->path: the one already open in this process (its
 * options must match), or a new one. 0, or -errno with @err filled.
 */
int vbe_target_get(const struct vbe_opts *o, struct vbe_target **out,
		   char *err, size_t len);
/*
 * The size in bytes the device will have, without setting it up (fio asks
 * in its main process, before the jobs start): the backend's size, or the
 * capacity a vhost-user back-end reports on a short connection of its own.
 */
int vbe_probe_size(const struct vbe_opts *o, uint64_t *bytes, char *err,
		   size_t len);
/* Drop a reference; the last closes the device. */
void vbe_target_put(struct vbe_target *t);
/*
 * The queues a job drives: all of them for a @lone job; else queue @job
 * (fio's numjobs=N makes jobs 0..N-1: vblk_queues=N gives each its own).
 * -EBUSY when one is driven already, -EINVAL when there is no queue @job.
 */
int vbe_target_claim(struct vbe_target *t, unsigned int job, bool lone,
		     unsigned int *qs, unsigned int *nq, char *err,
		     size_t len);
void vbe_target_unclaim(struct vbe_target *t, const unsigned int *qs,
			unsigned int nq);
/* Guest memory (thread-safe), zeroed; NULL when it is exhausted. */
void *vbe_target_alloc(struct vbe_target *t, size_t size, size_t align);
void vbe_target_free(struct vbe_target *t, void *p);
uint64_t vbe_target_size(const struct vbe_target *t);	/* bytes */
uint32_t vbe_target_block(const struct vbe_target *t);	/* bytes */
/* "vhost-blk /dev/ram0: bio engine, 2 queues, a worker each, ring 128". */
const char *vbe_target_desc(const struct vbe_target *t);

/* One request slot: a 64-byte block of guest memory (header, status,
 * discard range) and the caller's token. */
struct vbe_io {
	uint8_t *blk;
	void *token;
	unsigned int queue;
};

enum vbe_op { VBE_READ, VBE_WRITE, VBE_FLUSH, VBE_DISCARD };

int vbe_io_init(struct vbe_target *t, struct vbe_io *io, void *token);
void vbe_io_free(struct vbe_target *t, struct vbe_io *io);
/*
 * Put a request on queue @q (no notification yet): 0, -ENOSPC when the
 * ring is full, -EINVAL for a range not in 512-byte sectors, -EFAULT when
 * @buf is not guest memory.
 */
int vbe_queue(struct vbe_target *t, unsigned int q, struct vbe_io *io,
	      enum vbe_op op, uint64_t offset, void *buf, uint32_t len);
/* Notify queue @q if the device asked for it. 0 or -errno. */
int vbe_kick(struct vbe_target *t, unsigned int q);
/*
 * Up to @max completed requests of queues @qs into @done. The count, or
 * -EPROTO when the device returned something not in flight.
 */
int vbe_reap(struct vbe_target *t, const unsigned int *qs, unsigned int nq,
	     struct vbe_io **done, unsigned int max);
/* Wait until one of @qs has completions: 0, -ETIMEDOUT, -EIO. */
int vbe_wait(struct vbe_target *t, const unsigned int *qs, unsigned int nq,
	     int timeout_ms);
/* A completed request's outcome: 0, or EIO / EOPNOTSUPP. */
int vbe_io_errno(const struct vbe_io *io);
/* The last error text of queue @q. */
const char *vbe_queue_err(struct vbe_target *t, unsigned int q);

#endif /* VBE_H */
