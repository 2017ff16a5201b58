/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A tiny virtio-blk device living in the test process: it reads the rings
 * of a struct vblk_vq through its own copy of the memory table (as vhost
 * gets it from VHOST_SET_MEM_TABLE), walks chains, serves requests from a
 * RAM disk and writes used entries. Written separately from the library it
 * checks, so the two agreeing means something.
 */
#ifndef FAKEDEV_H
#define FAKEDEV_H

#include <pthread.h>

#include "vblk.h"

#define FAKE_OBS_DESCS	8
#define FAKE_MAX_IOV	1100

struct fake_iov {
	uint8_t *p;
	uint32_t len;
	bool write;
};

/* What the last request the device served looked like. */
struct fake_obs {
	bool indirect;
	unsigned int ndesc;		/* descriptors of the chain */
	unsigned int hdr_descs;		/* descriptors holding header bytes */
	unsigned int data_descs;	/* non-empty descriptors of data */
	uint32_t type;
	uint64_t sector;
	uint64_t gpa[FAKE_OBS_DESCS];
	uint32_t len[FAKE_OBS_DESCS];
	uint16_t flags[FAKE_OBS_DESCS];
};

struct fakedev {
	struct { uint64_t gpa; uint8_t *hva; uint64_t size; } reg[VBLK_MEM_REGIONS];
	unsigned int num;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	bool event_idx;
	bool reverse;		/* complete each batch in reverse order */
	int kick_fd, call_fd, err_fd, stop_fd;
	uint16_t last_avail;
	uint16_t used_idx;
	uint8_t *disk;
	uint64_t sectors;
	uint8_t serial[VHOST_BLK_SERIAL_LEN];
	bool broken;
	char why[160];		/* why it broke */
	unsigned long served, errors, signals;
	struct fake_obs last;
	struct virtio_blk_discard_write_zeroes dwz[16];
	unsigned int ndwz;
	pthread_t thread;
	bool running;
	struct fake_iov iov[FAKE_MAX_IOV];	/* the chain being served */
};

/* Serve @vq of @mem from @disk (@sectors of 512 bytes). No thread yet. */
void fakedev_init(struct fakedev *f, const struct vblk_mem *mem,
		  const struct vblk_vq *vq, uint8_t *disk, uint64_t sectors);
/* Serve what is available now: the number of chains served. */
int fakedev_process(struct fakedev *f);
/* Serve from a thread woken by the kick eventfd. */
int fakedev_start(struct fakedev *f);
void fakedev_stop(struct fakedev *f);

#endif /* FAKEDEV_H */
