// SPDX-License-Identifier: GPL-2.0-only
/*
 * Read the backend directly, past vhost-blk: O_DIRECT reads through
 * io_uring, so what is checked is what reached the file or device.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <liburing.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vbt.h"

#define URING_QD	8
#define URING_CHUNK	(1u << 20)

struct slot {
	uint8_t *buf;
	uint64_t sector;
	uint32_t nsect;
	bool busy;
};

int vbt_uring_scan(struct vbt *t, const char *path, uint64_t first,
		   uint64_t nsect, int (*cb)(void *arg, uint64_t sector,
					     const uint8_t *buf, uint32_t nsect),
		   void *arg)
{
	struct slot slot[URING_QD];
	struct io_uring ring;
	uint64_t next = first, end = first + nsect;
	unsigned int inflight = 0, i;
	int fd, ret = 0;

	fd = open(path, O_RDONLY | O_DIRECT | O_CLOEXEC);
	if (fd < 0) {
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return vbt_fail(t, "open %s: %s", path, strerror(errno)),
			       -1;
		vbt_note(t, "%s does not take O_DIRECT; reading it buffered",
			 path);
	}
	ret = io_uring_queue_init(URING_QD, &ring, 0);
	if (ret < 0) {
		close(fd);
		return vbt_fail(t, "io_uring_queue_init: %s", strerror(-ret)), -1;
	}
	memset(slot, 0, sizeof(slot));
	for (i = 0; i < URING_QD; i++)
		if (posix_memalign((void **)&slot[i].buf, 4096, URING_CHUNK)) {
			ret = vbt_fail(t, "out of memory");
			goto out;
		}

	while (next < end || inflight) {
		struct io_uring_cqe *cqe;
		struct slot *s;

		for (i = 0; i < URING_QD && next < end; i++) {
			struct io_uring_sqe *sqe;

			if (slot[i].busy)
				continue;
			sqe = io_uring_get_sqe(&ring);
			if (!sqe)
				break;
			slot[i].sector = next;
			slot[i].nsect = end - next < URING_CHUNK / VBLK_SECTOR ?
					(uint32_t)(end - next) :
					URING_CHUNK / VBLK_SECTOR;
			slot[i].busy = true;
			io_uring_prep_read(sqe, fd, slot[i].buf,
					   slot[i].nsect * VBLK_SECTOR,
					   next * VBLK_SECTOR);
			io_uring_sqe_set_data(sqe, &slot[i]);
			next += slot[i].nsect;
			inflight++;
		}
		ret = io_uring_submit_and_wait(&ring, 1);
		if (ret < 0) {
			ret = vbt_fail(t, "io_uring_submit_and_wait: %s",
				       strerror(-ret));
			goto out;
		}
		while (io_uring_peek_cqe(&ring, &cqe) == 0) {
			s = io_uring_cqe_get_data(cqe);
			if (cqe->res != (int)(s->nsect * VBLK_SECTOR)) {
				ret = vbt_fail(t, "io_uring read of %u sectors at %" PRIu64 " from %s: %s",
					       s->nsect, s->sector, path,
					       cqe->res < 0 ? strerror(-cqe->res) :
					       "short read");
				goto out;
			}
			io_uring_cqe_seen(&ring, cqe);
			inflight--;
			s->busy = false;
			if (cb(arg, s->sector, s->buf, s->nsect)) {
				ret = -1;
				goto out;
			}
		}
	}
	ret = 0;
out:
	io_uring_queue_exit(&ring);
	for (i = 0; i < URING_QD; i++)
		free(slot[i].buf);
	close(fd);
	return ret ? -1 : 0;
}
