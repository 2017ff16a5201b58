// SPDX-License-Identifier: GPL-2.0-only
/*
 * The bio engine on a raw image file (src/layout.c): bios to the file's own
 * blocks, under a layout lease the file system recalls before anything
 * changes them. Runs with --engine bio on a regular file.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <stddef.h>
#include <linux/fs.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vbt.h"

#define LAYOUT_WRITES	64
#define LAYOUT_NSECT	8

static int layout_events(struct vbt *t, struct vblk_events *s)
{
	int ret = vblk_read_events(s);

	if (ret)
		return vbt_fail(t, "%s: %s", VBLK_EVENTS_PATH, strerror(-ret)), -1;
	return 0;
}

/*
 * Wait up to 10 s for the counter at @off in the events (@what names it)
 * to reach @want: a recall ends when the lease is given back, a remap a
 * second or more later.
 */
static int wait_events(struct vbt *t, const char *what, size_t off, long want)
{
	struct vblk_events e;
	long now = 0;
	int i;

	for (i = 0; i < 200; i++) {
		if (layout_events(t, &e))
			return -1;
		now = *(const long *)((const char *)&e + off);
		if (now >= want)
			return 0;
		usleep(50000);
	}
	return vbt_fail(t, "%s is %ld after 10 s, expected %ld", what, now,
			want), -1;
}

static int wait_recalls(struct vbt *t, long want)
{
	return wait_events(t, "layout_recalls",
			   offsetof(struct vblk_events, layout_recalls), want);
}

/* The device maps the file again after a recall: wait for it. */
static int wait_remaps(struct vbt *t, long want)
{
	return wait_events(t, "layout_remaps",
			   offsetof(struct vblk_events, layout_remaps), want);
}

/* Fail unless requests went to the file's blocks since @before. */
static int bios_since(struct vbt *t, const struct vblk_events *before,
		      const char *what)
{
	struct vblk_events e;

	if (layout_events(t, &e))
		return -1;
	if (e.layout_bios <= before->layout_bios)
		return vbt_fail(t, "%s: no request went to the file's blocks", what), -1;
	return 0;
}

/* Read @nsect sectors at @sector of the file itself and check write @gen. */
static int file_has(struct vbt *t, int fd, uint64_t sector, uint32_t nsect,
		    uint64_t gen)
{
	size_t len = (size_t)nsect * VBLK_SECTOR;
	char msg[300];
	uint8_t *buf = malloc(len);
	long bad;

	if (!buf)
		return vbt_fail(t, "out of memory"), -1;
	if (pread(fd, buf, len, (off_t)(sector * VBLK_SECTOR)) != (ssize_t)len) {
		free(buf);
		return vbt_fail(t, "pread of the image at sector %" PRIu64 ": %s",
				sector, strerror(errno)), -1;
	}
	bad = vblk_pat_verify(buf, sector, nsect, t->seed, gen, msg,
			      sizeof(msg));
	free(buf);
	if (bad >= 0)
		return vbt_fail(t, "the image file at sector %" PRIu64 " does not hold what the guest wrote: %s",
				sector, msg), -1;
	return 0;
}

/* Write @gen of the pattern into the file, past the device. */
static int file_write(struct vbt *t, int fd, uint64_t sector, uint32_t nsect,
		      uint64_t gen)
{
	size_t len = (size_t)nsect * VBLK_SECTOR;
	uint8_t *buf = malloc(len);
	ssize_t n;

	if (!buf)
		return vbt_fail(t, "out of memory"), -1;
	vblk_pat_fill(buf, sector, nsect, t->seed, gen);
	n = pwrite(fd, buf, len, (off_t)(sector * VBLK_SECTOR));
	free(buf);
	if (n != (ssize_t)len)
		return vbt_fail(t, "pwrite to the image at sector %" PRIu64 ": %s",
				sector, strerror(errno)), -1;
	return 0;
}

/* Fail unless the @len bytes of @buf (sector @sector, seen @where) are 0. */
static int all_zero(struct vbt *t, const uint8_t *buf, size_t len,
		    uint64_t sector, const char *where)
{
	size_t i;

	for (i = 0; i < len && !buf[i]; i++)
		;
	if (i < len)
		return vbt_fail(t, "byte %zu at sector %" PRIu64 " is %#x %s, not 0",
				i, sector, buf[i], where), -1;
	return 0;
}

/* Are @nsect sectors at @sector zeros, through the device and in the file? */
static int zeros_at(struct vbt *t, struct vblk_vq *vq, int fd, uint64_t sector,
		    uint32_t nsect)
{
	size_t len = (size_t)nsect * VBLK_SECTOR;
	uint8_t *buf = vblk_mem_alloc(vq->mem, len, 4096);
	int st, ret = -1;

	if (!buf)
		return vbt_fail(t, "no guest memory"), -1;
	memset(buf, 0xa5, len);
	st = vblk_read(vq, sector, buf, len);
	if (st != VIRTIO_BLK_S_OK) {
		vbt_fail(t, "read at sector %" PRIu64 ": status %d", sector, st);
		goto out;
	}
	if (all_zero(t, buf, len, sector, "through the device"))
		goto out;
	memset(buf, 0xa5, len);
	if (pread(fd, buf, len, (off_t)(sector * VBLK_SECTOR)) != (ssize_t)len) {
		vbt_fail(t, "pread of the image: %s", strerror(errno));
		goto out;
	}
	ret = all_zero(t, buf, len, sector, "in the image file");
out:
	vblk_mem_free(vq->mem, buf);
	return ret;
}

static double mtime_of(int fd)
{
	struct stat st;

	if (fstat(fd, &st))
		return -1;
	return (double)st.st_mtim.tv_sec + st.st_mtim.tv_nsec / 1e9;
}

/*
 * Writes and reads all over the image go to its blocks as bios (the
 * layout_bios counter), land in the file (read back past the device), a
 * FLUSH moves the file's mtime on; WRITE_ZEROES and misaligned buffers
 * keep the layout.
 */
static int layout_rw(struct vbt *t, struct vbt_dev *v, int fd)
{
	uint64_t step = v->cfg.capacity / LAYOUT_WRITES / LAYOUT_NSECT * LAYOUT_NSECT;
	struct vblk_layout odd = { .seg_size = 100 };	/* not 512-aligned */
	struct vblk_vq *vq = &v->d.vq[0];
	struct vblk_events s0, s1;
	uint32_t used = 0;
	double m0, m1;
	unsigned int i;
	int st;

	if (step < LAYOUT_NSECT)
		return vbt_fail(t, "the image is too small (%" PRIu64 " sectors)",
				(uint64_t)v->cfg.capacity), -1;
	m0 = mtime_of(fd);
	usleep(50000);
	if (layout_events(t, &s0))
		return -1;
	for (i = 0; i < LAYOUT_WRITES; i++)
		if (vbt_write_pat(t, vq, i * step, LAYOUT_NSECT, i + 1, NULL))
			return -1;
	st = vblk_flush(vq, &used);
	if (vbt_expect(t, vq, "FLUSH", st, used, VIRTIO_BLK_S_OK, 1))
		return -1;
	for (i = 0; i < LAYOUT_WRITES; i++)
		if (vbt_verify_pat(t, vq, i * step, LAYOUT_NSECT, i + 1, NULL) ||
		    file_has(t, fd, i * step, LAYOUT_NSECT, i + 1))
			return -1;
	if (layout_events(t, &s1))
		return -1;
	if (s1.layout_bios - s0.layout_bios < 2 * LAYOUT_WRITES)
		return vbt_fail(t, "%ld of %d requests went to the file's blocks (layout_bios): the bio engine served the file through kiocb",
				s1.layout_bios - s0.layout_bios,
				2 * LAYOUT_WRITES), -1;
	/* WRITE_ZEROES (unmap allowed) zeroes the blocks and keeps the layout. */
	st = vblk_write_zeroes(vq, 2 * step, LAYOUT_NSECT, true);
	if (st != VIRTIO_BLK_S_OK)
		return vbt_fail(t, "WRITE_ZEROES: status %d", st), -1;
	if (zeros_at(t, vq, fd, 2 * step, LAYOUT_NSECT) ||
	    vbt_verify_pat(t, vq, step, LAYOUT_NSECT, 2, NULL) ||
	    layout_events(t, &s1))
		return -1;
	/* Buffers the device cannot take as they are: copies, still bios. */
	if (vbt_write_pat(t, vq, 4 * step, LAYOUT_NSECT, 7000, &odd) ||
	    vbt_verify_pat(t, vq, 4 * step, LAYOUT_NSECT, 7000, &odd) ||
	    vbt_verify_pat(t, vq, 4 * step, LAYOUT_NSECT, 7000, NULL) ||
	    file_has(t, fd, 4 * step, LAYOUT_NSECT, 7000) ||
	    layout_events(t, &s1))
		return -1;
	if (s1.layout_recalls != s0.layout_recalls)
		return vbt_fail(t, "the layout was recalled with nothing but the guest's I/O"), -1;
	m1 = mtime_of(fd);
	if (m0 < 0 || m1 <= m0)
		return vbt_fail(t, "the image's mtime did not move with the guest's writes and FLUSH (%.3f -> %.3f)",
				m0, m1), -1;
	return 0;
}

/* The directory of the backend, open. */
static int backend_dir(struct vbt *t)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s", t->o->backend);
	fd = open(dirname(path), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		vbt_fail(t, "open the directory of %s: %s", t->o->backend,
			 strerror(errno));
	return fd;
}

/*
 * A frozen file system takes no write of ours: a guest write waits for the
 * thaw (freeze protection, as for write(2)), then lands; reads go on.
 */
static int layout_freeze(struct vbt *t, struct vbt_dev *v)
{
	static struct vblk_req r[1];
	static struct vblk_seg seg[1];
	struct vblk_vq *vq = &v->d.vq[0];
	struct vblk_req *done[1];
	uint64_t s = 30720;
	int dfd, ret = -1;

	dfd = backend_dir(t);
	if (dfd < 0)
		return -1;
	if (ioctl(dfd, FIFREEZE, 0)) {
		vbt_fail(t, "FIFREEZE on the image's file system: %s",
			 strerror(errno));
		goto out;
	}
	if (vbt_queue_batch(t, vq, r, seg, 1, s, true, 5000, false))
		goto thaw;
	vblk_vq_kick(vq);
	if (vbt_verify_pat(t, vq, 0, LAYOUT_NSECT, 1, NULL)) {
		vbt_prefix(t, "a read with the file system frozen");
		goto thaw;
	}
	if (!r[0].done)
		vblk_reap(vq, 300, done, 1);
	if (r[0].done) {
		vbt_fail(t, "a guest write completed while the image's file system was frozen");
		goto thaw;
	}
	ret = 0;
thaw:
	if (ioctl(dfd, FITHAW, 0) && !ret) {
		vbt_fail(t, "FITHAW: %s", strerror(errno));
		ret = -1;
	}
	if (!ret && (vbt_reap_batch(t, vq, r, 1, 5000) ||
		     vbt_verify_pat(t, vq, s, 32, 5000, NULL)))
		ret = -1;
out:
	close(dfd);
	return ret;
}

/*
 * Reflinking the image (its blocks then shared with the clone) recalls the
 * layout, and a reflinked file gets none: EOPNOTSUPP. On a file of its own.
 */
static int layout_reflink(struct vbt *t)
{
	char src[PATH_MAX], dst[PATH_MAX];
	struct vblk_events e0, e1;
	struct vblk_dev_opts o;
	struct vblk_dev d;
	int sfd = -1, dfd = -1, ret = -1, err;
	uint8_t *buf = NULL;

	snprintf(src, sizeof(src), "%s.reflink-src", t->o->backend);
	snprintf(dst, sizeof(dst), "%s.reflink-dst", t->o->backend);
	sfd = open(src, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	dfd = open(dst, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	buf = calloc(1, 1 << 20);
	if (sfd < 0 || dfd < 0 || !buf ||
	    pwrite(sfd, buf, 1 << 20, 0) != 1 << 20 || fsync(sfd)) {
		vbt_fail(t, "making a 1 MiB file beside the image: %s",
			 strerror(errno));
		goto out;
	}
	vblk_dev_opts_init(&o);
	if (vblk_dev_start(&d, &o)) {
		vbt_fail(t, "%s", d.err);
		goto out;
	}
	if (vblk_dev_attach(&d, sfd, 0, VHOST_BLK_ENGINE_BIO) ||
	    layout_events(t, &e0)) {
		vbt_fail(t, "the bio engine on a written file: %s", d.err);
		goto close;
	}
	if (ioctl(dfd, FICLONE, sfd)) {
		if (errno == EOPNOTSUPP || errno == EXDEV || errno == EINVAL) {
			vbt_note(t, "no reflink here (%s): not tried",
				 strerror(errno));
			ret = 0;
		} else {
			vbt_fail(t, "FICLONE: %s", strerror(errno));
		}
		goto close;
	}
	if (wait_recalls(t, e0.layout_recalls + 1))
		goto close;
	/* Its blocks are shared now: no map of them, ever (1 s would do). */
	sleep(3);
	if (layout_events(t, &e1))
		goto close;
	if (e1.layout_remaps != e0.layout_remaps) {
		vbt_fail(t, "the layout of a reflinked file was taken again");
		goto close;
	}
	err = vblk_dev_attach(&d, sfd, 0, VHOST_BLK_ENGINE_BIO);
	if (err != -EOPNOTSUPP) {
		vbt_fail(t, "the bio engine on a reflinked file: %s, expected EOPNOTSUPP",
			 err ? strerror(-err) : "attached");
		goto close;
	}
	ret = 0;
close:
	vblk_dev_close(&d);
out:
	free(buf);
	if (sfd >= 0)
		close(sfd);
	if (dfd >= 0)
		close(dfd);
	unlink(src);
	unlink(dst);
	return ret;
}

/*
 * A write to the image past the device recalls the layout: it completes
 * (no 45 s lease timeout), and the guest sees its data. A second or so
 * later the device maps the file again, and its requests are bios again.
 */
static int layout_recall_write(struct vbt *t, struct vbt_dev *v, int fd)
{
	struct vblk_vq *vq = &v->d.vq[0];
	uint64_t s = 4096;
	struct vblk_events s0, s1;
	struct timespec t0;
	double took;

	if (layout_events(t, &s0))
		return -1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (file_write(t, fd, s, LAYOUT_NSECT, 1000))
		return -1;
	took = vblk_elapsed(&t0);
	vbt_note(t, "a write(2) to the image took %.3f s with the layout held", took);
	if (took > 30)
		return vbt_fail(t, "a write(2) to the image waited %.1f s for the layout", took), -1;
	if (wait_recalls(t, s0.layout_recalls + 1) ||
	    vbt_verify_pat(t, vq, s, LAYOUT_NSECT, 1000, NULL) ||
	    wait_remaps(t, s0.layout_remaps + 1) || layout_events(t, &s1) ||
	    vbt_write_pat(t, vq, s + 64, LAYOUT_NSECT, 1001, NULL) ||
	    vbt_verify_pat(t, vq, s + 64, LAYOUT_NSECT, 1001, NULL) ||
	    vbt_verify_pat(t, vq, s, LAYOUT_NSECT, 1000, NULL) ||
	    file_has(t, fd, s + 64, LAYOUT_NSECT, 1001) ||
	    bios_since(t, &s1, "mapped again after the recall"))
		return -1;
	return 0;
}

/*
 * A hole punched with a batch of guest writes in flight: the batch
 * completes with its data. Mapped again, the map has a hole: it reads back
 * as zeros (through kiocb, the layout stays) and a write into it recalls
 * the layout and lands; mapped once more, the blocks the file system
 * allocated for that write are bios too.
 */
static int layout_recall_punch(struct vbt *t, struct vbt_dev *v, int fd)
{
	static struct vblk_req r[32];
	static struct vblk_seg seg[32];
	uint64_t batch = 20480, hole = 65536;
	struct vblk_vq *vq = &v->d.vq[0];
	struct vblk_events s0, s1, s2;
	uint8_t *buf;
	uint32_t used = 0;
	unsigned int i;
	int st;

	if (vbt_write_pat(t, vq, hole, 64, 2000, NULL) || layout_events(t, &s0))
		return -1;
	if (vbt_queue_batch(t, vq, r, seg, 32, batch, true, 3000, false))
		return -1;
	vblk_vq_kick(vq);
	if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		      (off_t)(hole * VBLK_SECTOR), 64 * VBLK_SECTOR))
		return vbt_fail(t, "punching a hole in the image: %s",
				strerror(errno)), -1;
	if (vbt_reap_batch(t, vq, r, 32, 3000) ||
	    wait_recalls(t, s0.layout_recalls + 1))
		return -1;
	for (i = 0; i < 32; i++)
		if (vbt_verify_pat(t, vq, batch + 32 * i, 32, 3000 + i, NULL))
			return -1;

	/* Mapped again, with the hole. */
	if (wait_remaps(t, s0.layout_remaps + 1) || layout_events(t, &s1))
		return -1;
	buf = vblk_mem_alloc(vq->mem, 64 * VBLK_SECTOR, 4096);
	if (!buf)
		return vbt_fail(t, "no guest memory"), -1;
	memset(buf, 0xa5, 64 * VBLK_SECTOR);
	st = vblk_read(vq, hole, buf, 64 * VBLK_SECTOR);
	if (st != VIRTIO_BLK_S_OK)
		return vbt_fail(t, "reading the punched hole: status %d", st), -1;
	if (all_zero(t, buf, 64 * VBLK_SECTOR, hole,
		     "in the punched hole, through the device"))
		return -1;
	vblk_mem_free(vq->mem, buf);
	if (vbt_write_pat(t, vq, batch, 8, 4000, NULL) ||
	    bios_since(t, &s1, "mapped again over a hole") ||
	    layout_events(t, &s2))
		return -1;
	if (s2.layout_recalls != s1.layout_recalls)
		return vbt_fail(t, "reading a hole recalled the layout"), -1;

	/* Into the hole: through the file, which recalls the layout. */
	if (vbt_write_pat(t, vq, hole, 64, 4001, NULL) ||
	    wait_recalls(t, s2.layout_recalls + 1) ||
	    vbt_verify_pat(t, vq, hole, 64, 4001, NULL))
		return -1;
	st = vblk_flush(vq, &used);
	if (vbt_expect(t, vq, "FLUSH", st, used, VIRTIO_BLK_S_OK, 1) ||
	    file_has(t, fd, hole, 64, 4001))
		return -1;
	/* Mapped once more: the new blocks of the hole are in the map. */
	if (wait_remaps(t, s2.layout_remaps + 1) || layout_events(t, &s1) ||
	    vbt_write_pat(t, vq, hole, 64, 4002, NULL) ||
	    bios_since(t, &s1, "mapped again after a write into a hole") ||
	    vbt_verify_pat(t, vq, hole, 64, 4002, NULL) ||
	    layout_events(t, &s2))
		return -1;
	if (s2.layout_recalls != s1.layout_recalls)
		return vbt_fail(t, "a write to blocks allocated since recalled the layout"), -1;
	return 0;
}

/*
 * Recalls while the guest keeps a queue full: a child writes the image
 * past the device every 200 ms for 4 s, at sectors the guest does not use;
 * the guest writes and reads back batches meanwhile. Every batch holds its
 * data through the recalls and maps, and the layout is taken again after.
 */
static int layout_recall_storm(struct vbt *t, struct vbt_dev *v, int fd)
{
	static struct vblk_req r[32];
	static struct vblk_seg seg[32];
	struct vblk_vq *vq = &v->d.vq[0];
	uint64_t gen = 9000, where = 131072;
	struct vblk_events e0, e1;
	int status, rounds = 0;
	pid_t child;

	if (layout_events(t, &e0))
		return -1;
	child = fork();
	if (child < 0)
		return vbt_fail(t, "fork: %s", strerror(errno)), -1;
	if (!child) {
		int i;

		for (i = 0; i < 20; i++) {
			if (file_write(t, fd, 262144 + 8 * i, 8, 8000 + i))
				_exit(1);
			usleep(200000);
		}
		_exit(0);
	}
	while (waitpid(child, &status, WNOHANG) == 0) {
		if (vbt_queue_batch(t, vq, r, seg, 32, where, true, gen, false) ||
		    vblk_vq_kick(vq) < 0 || vbt_reap_batch(t, vq, r, 32, gen) ||
		    vbt_queue_batch(t, vq, r, seg, 32, where, false, gen, false) ||
		    vblk_vq_kick(vq) < 0 || vbt_reap_batch(t, vq, r, 32, gen)) {
			kill(child, SIGKILL);
			waitpid(child, NULL, 0);
			vbt_prefix(t, "round %d with recalls going on", rounds);
			return -1;
		}
		gen += 32;
		rounds++;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		return vbt_fail(t, "the child writing the image failed"), -1;
	if (wait_remaps(t, e0.layout_remaps + 1) || layout_events(t, &e1))
		return -1;
	vbt_note(t, "%d rounds of 32 writes and 32 reads, %ld recalls, %ld maps taken again",
		 rounds, e1.layout_recalls - e0.layout_recalls,
		 e1.layout_remaps - e0.layout_remaps);
	/* One or a few: the next map waits longer after each recall. */
	if (e1.layout_recalls == e0.layout_recalls)
		return vbt_fail(t, "no recall from 20 writes past the device"), -1;
	return 0;
}

int case_layout(struct vbt *t)
{
	struct vbt_dev v;
	int fd, ret = VBT_FAIL;

	if (t->o->engine != VHOST_BLK_ENGINE_BIO)
		return vbt_skip(t, "needs --engine bio (the bio engine on a file)");
	if (vbt_dev_up(t, &v, NULL, 0))
		return VBT_FAIL;
	if (v.be.is_blk) {
		vblk_dev_close(&v.d);
		return vbt_skip(t, "the backend is a block device, not a file");
	}
	fd = open(t->o->backend, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return vbt_fail(t, "open %s: %s", t->o->backend, strerror(errno));
	if (layout_rw(t, &v, fd) || layout_freeze(t, &v) ||
	    layout_recall_write(t, &v, fd) || layout_recall_punch(t, &v, fd) ||
	    layout_recall_storm(t, &v, fd))
		goto out;
	vblk_dev_close(&v.d);
	if (layout_reflink(t))
		goto out;
	ret = VBT_PASS;
out:
	close(fd);
	return ret;
}
