/* SPDX-License-Identifier: GPL-2.0-only */
/* The inside of a target, for target.c and io.c. */
#ifndef VBE_TARGET_H
#define VBE_TARGET_H

#include <pthread.h>

#include "vbe.h"
#include "vblk.h"
#include "vu.h"

/* The largest ring the engine sets up (virtio's limit for QEMU's
 * back-ends is 1024). */
#define VBE_RING_MAX	1024u

struct vbe_target {
	struct vbe_target *next;	/* in the registry */
	unsigned int refs;		/* under the registry lock */
	bool claimed[VHOST_BLK_MAX_QUEUES];
	char *path;
	char *cpus;			/* opts.worker_cpus, our copy */
	struct vbe_opts opts;		/* transport resolved */
	unsigned int ring;
	size_t mem_size;
	bool vhost_user;
	struct vblk_dev dev;		/* vhost */
	struct vblk_log log;		/* vhost with opts.log */
	struct vblk_vu vu;		/* vhost-user */
	struct vblk_vq *vq;		/* dev.vq or vu.vq */
	struct vblk_mem *mem;
	pthread_mutex_t mem_lock;	/* the allocator is not thread-safe */
	uint64_t size;
	uint32_t block;
	char desc[200];
};

void target_close(struct vbe_target *t);

#endif /* VBE_TARGET_H */
