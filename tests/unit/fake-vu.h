/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A fake vhost-user-blk back-end for the unit tests: it listens on a UNIX
 * socket, answers the control messages from its own reading of the
 * vhost-user specification, maps guest memory from the descriptors it is
 * sent (as qemu-storage-daemon does), and serves each enabled ring with a
 * fakedev over that mapping. It records what it was sent, so tests can
 * check the front-end's side of the conversation.
 */
#ifndef FAKE_VU_H
#define FAKE_VU_H

#include <pthread.h>

#include "fakedev.h"
#include "vu.h"

#define FAKE_VU_QUEUES	4
#define FAKE_VU_LOG	96

struct fake_vu_ring {
	uint32_t num;
	uint32_t base;
	struct vu_vring_addr addr;
	int kick, call, err;
	bool enabled;
	struct fakedev dev;
};

struct fake_vu {
	/* configuration, set before fake_vu_start() */
	uint64_t features;		/* offered */
	uint64_t proto;			/* protocol features offered */
	unsigned int queues;		/* GET_QUEUE_NUM */
	uint32_t nack;			/* refuse this request (0: none) */
	uint32_t hang_up_on;		/* close the connection on it (0: none) */
	uint8_t *disk;
	uint64_t sectors;

	/* what it saw */
	uint32_t log[FAKE_VU_LOG];	/* requests, in order */
	uint32_t log_flags[FAKE_VU_LOG];
	unsigned int nlog;
	uint64_t acked_features;
	uint64_t acked_proto;
	bool owner;
	struct vu_mem_table mem;
	uint8_t *map[VU_MAX_REGIONS];	/* the region's start, in our mapping */
	size_t map_len[VU_MAX_REGIONS];
	struct fake_vu_ring ring[FAKE_VU_QUEUES];
	char why[256];			/* the first thing it objected to */

	/* internals */
	char dir[48];
	char path[64];
	int listen_fd;
	int conn;
	pthread_t thread;
	bool running;
};

/* Defaults: VERSION_1, EVENT_IDX, BLK_SIZE, FLUSH, MQ and protocol
 * features MQ, REPLY_ACK, CONFIG; 2 queues. */
void fake_vu_init(struct fake_vu *f, uint8_t *disk, uint64_t sectors);
/* Listen on a fresh socket (f->path) and serve one connection. */
int fake_vu_start(struct fake_vu *f);
/* Wait for the connection to end (close the front-end first), clean up. */
void fake_vu_stop(struct fake_vu *f);
/* Our view of @len bytes at the front-end's address @uva; NULL if none. */
uint8_t *fake_vu_uva(struct fake_vu *f, uint64_t uva, uint64_t len);

#endif /* FAKE_VU_H */
