// SPDX-License-Identifier: GPL-2.0-only
/*
 * Online resize (#24): the backend grows or shrinks under a running device;
 * VHOST_BLK_RESIZE reads its size again, the VHOST_BLK_SET_CONFIG_CALL
 * eventfd fires, and requests are checked against the new capacity.
 *
 * The case changes the backend's size itself: ftruncate on an image file
 * (on the bio engine the new space is written, so that the device can map
 * it), a new table for a device-mapper device (dm-linear, dm-thin: one
 * target, whose length is set with dmsetup reload and resume). Other block
 * devices cannot change size while open (brd, null_blk, nbd through
 * qemu-nbd): SKIP. Each case gives the backend its size back at the end.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vbt.h"

#define DELTA		(16ULL << 20)	/* bytes grown or cut */
/*
 * A hole left at the old end of a grown image on the bio engine: the new
 * space is then an extent of its own, which only a new map covers (XFS
 * gives out whole extents: a map of the old size could hold the new
 * space already, were it contiguous with the last old extent).
 */
#define HOLE		(1ULL << 20)
#define NSECT		64		/* sectors a probe writes */
#define INFLIGHT	16		/* requests in flight across a shrink */

struct rsz {
	struct vbt_dev v;
	int efd;		/* the config eventfd */
	int bfd;		/* the backend, for its size (files) */
	bool is_blk;
	bool bio_file;		/* the bio engine on a file */
	char dm[128];		/* the dm device's name */
	char table[512];	/* its table past the length: "thin 253:0 0" */
	uint64_t orig;		/* bytes, at the start */
};

/* Run a shell command: 0, or -1 with t->msg saying what failed. */
static int sh(struct vbt *t, const char *cmd)
{
	int ret = system(cmd);

	if (ret)
		return vbt_fail(t, "'%s' failed (status %d)", cmd, ret), -1;
	return 0;
}

/*
 * A block device that is not device-mapper: none of the test host's can
 * change size while in use. A null_blk made through configfs is asked (its
 * size, written again unchanged), to show that it refuses.
 */
static int rsz_skip_blk(struct vbt *t, const char *name)
{
	char dir[128], size[160] = "";
	FILE *f;
	int ret;

	snprintf(dir, sizeof(dir), "/sys/kernel/config/nullb/%s", name);
	snprintf(size, sizeof(size), "%s/size", dir);
	f = fopen(size, "r");
	if (f) {
		if (!fgets(size, sizeof(size), f))
			size[0] = 0;
		fclose(f);
		size[strcspn(size, "\n")] = 0;
		ret = vbt_write_file(dir, "size", size);
		return vbt_skip(t, "null_blk %s cannot change size while powered on (writing its size %s MiB again: %s)",
				name, size, ret ? strerror(-ret) : "accepted, but not applied to the disk");
	}
	if (!strncmp(name, "ram", 3))
		return vbt_skip(t, "brd's %s has the size of its module parameter, fixed while loaded",
				name);
	if (!strncmp(name, "nbd", 3))
		return vbt_skip(t, "%s: qemu-nbd exports the image at a fixed size",
				name);
	return vbt_skip(t, "%s is not a device-mapper device, the only block devices the case can resize",
			name[0] ? name : t->o->backend);
}

/*
 * How this backend changes size. VBT_PASS when it can, VBT_SKIP (t->msg
 * says why) when not, VBT_FAIL.
 */
static int rsz_probe(struct vbt *t, struct rsz *r)
{
	char path[256], line[512], name[64] = "";
	unsigned long long start = 0, len = 0;
	struct stat st;
	FILE *f;
	int n;

	r->bfd = open(t->o->backend, O_RDWR | O_CLOEXEC);
	if (r->bfd < 0 || fstat(r->bfd, &st))
		return vbt_fail(t, "opening %s: %s", t->o->backend,
				strerror(errno));
	r->orig = vbt_fd_size(r->bfd, &r->is_blk);
	if (!r->is_blk) {
		r->bio_file = t->o->engine == VHOST_BLK_ENGINE_BIO;
		return VBT_PASS;
	}
	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/dm/name",
		 major(st.st_rdev), minor(st.st_rdev));
	f = fopen(path, "r");
	if (!f) {
		snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/uevent",
			 major(st.st_rdev), minor(st.st_rdev));
		f = fopen(path, "r");
		while (f && fgets(line, sizeof(line), f))
			if (sscanf(line, "DEVNAME=%63s", name) == 1)
				break;
		if (f)
			fclose(f);
		return rsz_skip_blk(t, name);
	}
	if (!fgets(r->dm, sizeof(r->dm), f)) {
		fclose(f);
		return vbt_fail(t, "reading %s", path);
	}
	fclose(f);
	r->dm[strcspn(r->dm, "\n")] = 0;
	snprintf(line, sizeof(line), "dmsetup table %s", r->dm);
	f = popen(line, "r");
	if (!f)
		return vbt_fail(t, "%s: %s", line, strerror(errno));
	n = 0;
	while (fgets(line, sizeof(line), f)) {
		int off = 0;

		if (n++ || sscanf(line, "%llu %llu %n", &start, &len, &off) != 2 ||
		    !off)
			continue;
		snprintf(r->table, sizeof(r->table), "%s", line + off);
		r->table[strcspn(r->table, "\n")] = 0;
	}
	pclose(f);
	if (n != 1 || !r->table[0] || start)
		return vbt_skip(t, "dm device %s has %d targets: the case resizes a one-target table",
				r->dm, n);
	return VBT_PASS;
}

/* Fill file bytes [@from, @to) with written zeros (the bio engine maps them). */
static int fill_written(struct vbt *t, const char *path, uint64_t from,
			uint64_t to)
{
	size_t chunk = 1 << 20;
	void *buf;
	int fd;

	fd = open(path, O_WRONLY | O_DIRECT | O_CLOEXEC);
	if (fd < 0 || posix_memalign(&buf, 4096, chunk))
		return vbt_fail(t, "opening %s with O_DIRECT: %s", path,
				strerror(errno)), -1;
	memset(buf, 0, chunk);
	for (; from < to; from += chunk)
		if (pwrite(fd, buf, chunk, (off_t)from) != (ssize_t)chunk) {
			close(fd);
			free(buf);
			return vbt_fail(t, "writing the image at %" PRIu64 ": %s",
					from, strerror(errno)), -1;
		}
	close(fd);
	free(buf);
	return 0;
}

/* Give the backend @bytes: ftruncate, or the dm table's new length. */
static int rsz_set(struct vbt *t, struct rsz *r, uint64_t bytes)
{
	char cmd[1024];

	if (!r->is_blk) {
		if (ftruncate(r->bfd, (off_t)bytes))
			return vbt_fail(t, "ftruncate to %" PRIu64 ": %s", bytes,
					strerror(errno)), -1;
		return 0;
	}
	snprintf(cmd, sizeof(cmd),
		 "dmsetup reload %s --table '0 %" PRIu64 " %s' && dmsetup resume %s",
		 r->dm, bytes / VBLK_SECTOR, r->table, r->dm);
	return sh(t, cmd);
}

static int rsz_resize(struct vbt *t, struct rsz *r, uint64_t *cap)
{
	if (ioctl(r->v.d.fd, VHOST_BLK_RESIZE, cap))
		return vbt_fail(t, "VHOST_BLK_RESIZE: %s", strerror(errno)), -1;
	return 0;
}

/* Has the config eventfd fired since last asked (@want)? */
static int rsz_fired(struct vbt *t, struct rsz *r, bool want, const char *when)
{
	uint64_t n = 0;
	bool fired = read(r->efd, &n, sizeof(n)) == sizeof(n) && n;

	if (fired != want)
		return vbt_fail(t, "%s: the config eventfd %s", when,
				want ? "did not fire" : "fired"), -1;
	return 0;
}

static int rsz_config_cap(struct vbt *t, struct rsz *r, uint64_t want,
			  const char *when)
{
	struct vhost_blk_config cfg;

	if (vblk_dev_get_config(&r->v.d, &cfg))
		return vbt_fail(t, "%s", r->v.d.err), -1;
	if (cfg.capacity != want)
		return vbt_fail(t, "%s: GET_CONFIG capacity %" PRIu64 ", expected %" PRIu64,
				when, (uint64_t)cfg.capacity, want), -1;
	return 0;
}

/* One request of @nsect sectors at @sector, expecting @want. */
static int rsz_one(struct vbt *t, struct rsz *r, bool write, uint64_t sector,
		   uint32_t nsect, int want, uint64_t gen, const char *when)
{
	struct vblk_vq *vq = &r->v.d.vq[0];
	size_t len = (size_t)nsect * VBLK_SECTOR;
	uint8_t *buf = vblk_mem_alloc(vq->mem, len, 4096);
	char what[192];
	uint32_t used = 0;
	int ret;

	if (!buf)
		return vbt_fail(t, "no guest memory"), -1;
	if (write)
		vblk_pat_fill(buf, sector, nsect, t->seed, gen);
	snprintf(what, sizeof(what), "%s: %s of %zu bytes at sector %" PRIu64,
		 when, write ? "write" : "read", len, sector);
	ret = vblk_rw(vq, write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN, sector,
		      buf, len, NULL, &used);
	vblk_mem_free(vq->mem, buf);
	return vbt_expect(t, vq, what, ret, used, want,
			  want != VIRTIO_BLK_S_OK ? 1 : write ? 1 : (long)len + 1);
}

static int rsz_up(struct vbt *t, struct rsz *r)
{
	int fd;

	memset(r, 0, sizeof(*r));
	r->efd = -1;
	r->bfd = -1;
	if (vbt_dev_up(t, &r->v, NULL, 0))
		return VBT_FAIL;
	r->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	fd = r->efd;
	if (r->efd < 0 || ioctl(r->v.d.fd, VHOST_BLK_SET_CONFIG_CALL, &fd))
		return vbt_fail(t, "VHOST_BLK_SET_CONFIG_CALL: %s",
				strerror(errno));
	return rsz_probe(t, r);
}

/* Close the device and give the backend its size back. */
static int rsz_down(struct vbt *t, struct rsz *r, int res)
{
	uint64_t now;

	vblk_dev_close(&r->v.d);
	now = vbt_fd_size(r->bfd, NULL);
	if (now != r->orig && rsz_set(t, r, r->orig))
		res = VBT_FAIL;
	/* The bio engine's image is all written: keep it so. */
	if (r->bio_file && now < r->orig &&
	    fill_written(t, t->o->backend,
			 now & ~(uint64_t)(DELTA - 1), r->orig))
		res = VBT_FAIL;
	close(r->bfd);
	close(r->efd);
	return res;
}

/*
 * resize-grow: a write past the end fails, before the growth and after it
 * until VHOST_BLK_RESIZE; then the config eventfd has fired, GET_CONFIG
 * and RESIZE say the new capacity (rounded down to the logical block), and
 * the new space reads and writes; an unchanged RESIZE fires nothing. On
 * the bio engine on a file, the new space goes to the file's blocks.
 */
/*
 * Both ioctls are the owner's: another process gets EPERM. A file that is
 * not an eventfd gets EINVAL.
 */
static int rsz_args(struct vbt *t, struct rsz *r)
{
	int fd = r->bfd, status;
	uint64_t cap;
	pid_t pid;

	errno = 0;
	if (!ioctl(r->v.d.fd, VHOST_BLK_SET_CONFIG_CALL, &fd) ||
	    errno != EINVAL)
		return vbt_fail(t, "VHOST_BLK_SET_CONFIG_CALL with the backend's fd: expected EINVAL, got %s",
				errno ? strerror(errno) : "success"), -1;
	fd = r->efd;
	if (ioctl(r->v.d.fd, VHOST_BLK_SET_CONFIG_CALL, &fd))
		return vbt_fail(t, "VHOST_BLK_SET_CONFIG_CALL: %s",
				strerror(errno)), -1;
	pid = fork();
	if (pid < 0)
		return vbt_fail(t, "fork: %s", strerror(errno)), -1;
	if (!pid)
		_exit(ioctl(r->v.d.fd, VHOST_BLK_RESIZE, &cap) ? errno == EPERM ? 0 : 2 :
		      1);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status))
		return vbt_fail(t, "VHOST_BLK_RESIZE from another process: expected EPERM, got %s",
				WIFEXITED(status) && WEXITSTATUS(status) == 1 ?
				"success" : "another error"), -1;
	return 0;
}

/*
 * Wait up to 10 s until every recall since @e0 was followed by a new map:
 * the layout is held again.
 */
static int wait_mapped(struct vbt *t, const struct vblk_events *e0,
		       const char *what)
{
	struct vblk_events e;
	int i;

	for (i = 0; i < 200; i++) {
		if (vblk_read_events(&e))
			return vbt_fail(t, "reading %s", VBLK_EVENTS_PATH), -1;
		if (e.layout_recalls > e0->layout_recalls &&
		    e.layout_remaps >= e0->layout_remaps +
				       (e.layout_recalls - e0->layout_recalls))
			break;
		usleep(50000);
	}
	if (i == 200)
		return vbt_fail(t, "%s: the image's layout was not mapped again within 10 s (recalls %ld, remaps %ld since)",
				what, e.layout_recalls - e0->layout_recalls,
				e.layout_remaps - e0->layout_remaps), -1;
	vbt_note(t, "%s; layout mapped again after %d ms: recalls %ld, remaps %ld since",
		 what, i * 50, e.layout_recalls - e0->layout_recalls,
		 e.layout_remaps - e0->layout_remaps);
	return 0;
}

/* Fail unless requests went to the file's blocks since @e0. */
static int bios_since(struct vbt *t, const struct vblk_events *e0,
		      const char *what)
{
	struct vblk_events e;

	if (vblk_read_events(&e))
		return vbt_fail(t, "reading %s", VBLK_EVENTS_PATH), -1;
	vbt_note(t, "%s: layout_bios %ld, recalls %ld, remaps %ld since",
		 what, e.layout_bios - e0->layout_bios,
		 e.layout_recalls - e0->layout_recalls,
		 e.layout_remaps - e0->layout_remaps);
	if (e.layout_bios <= e0->layout_bios)
		return vbt_fail(t, "%s: no request to the new space went to the file's blocks (the layout was not mapped again to the new size; recalls %ld, remaps %ld since)",
				what, e.layout_recalls - e0->layout_recalls,
				e.layout_remaps - e0->layout_remaps), -1;
	return 0;
}

/*
 * The bio engine on a file, grown again, RESIZE at once: the layout is
 * recalled then (by the truncate), so the new size goes to the next map.
 */
static int grow_recalled(struct vbt *t, struct rsz *r, uint64_t cap1)
{
	uint64_t grown = r->orig + 2 * DELTA, first = cap1 + HOLE / VBLK_SECTOR;
	struct vblk_vq *vq = &r->v.d.vq[0];
	struct vblk_events e0;
	uint64_t cap;

	if (vblk_read_events(&e0))
		return vbt_fail(t, "reading %s", VBLK_EVENTS_PATH), -1;
	if (rsz_set(t, r, grown) ||
	    fill_written(t, t->o->backend, cap1 * VBLK_SECTOR + HOLE, grown) ||
	    rsz_resize(t, r, &cap))
		return -1;
	if (cap != grown / VBLK_SECTOR)
		return vbt_fail(t, "RESIZE grown again, layout recalled: %" PRIu64 " sectors, expected %" PRIu64,
				cap, grown / VBLK_SECTOR), -1;
	if (rsz_fired(t, r, true, "RESIZE grown again, layout recalled") ||
	    wait_mapped(t, &e0, "grown again, RESIZE while recalled") ||
	    vblk_read_events(&e0))
		return -1;
	if (vbt_write_pat(t, vq, first, NSECT, 6, NULL) ||
	    vbt_write_pat(t, vq, cap - NSECT, NSECT, 7, NULL) ||
	    vbt_verify_pat(t, vq, first, NSECT, 6, NULL) ||
	    vbt_verify_pat(t, vq, cap - NSECT, NSECT, 7, NULL)) {
		vbt_prefix(t, "grown again, RESIZE while recalled");
		return -1;
	}
	return bios_since(t, &e0, "grown again, RESIZE while the layout was recalled");
}

static int resize_grow(struct vbt *t, struct rsz *r)
{
	uint64_t cap0, cap1, cap, want, grown, first;
	struct vblk_events e0;
	uint32_t lbs;

	cap0 = r->v.cfg.capacity;
	lbs = r->v.cfg.logical_block_size;
	if (rsz_args(t, r))
		return VBT_FAIL;
	if (rsz_resize(t, r, &cap) || rsz_fired(t, r, false, "RESIZE with no change"))
		return VBT_FAIL;
	if (cap != cap0)
		return vbt_fail(t, "RESIZE with no change: %" PRIu64 " sectors, GET_CONFIG said %" PRIu64,
				cap, cap0);
	if (rsz_one(t, r, true, cap0, NSECT, VIRTIO_BLK_S_IOERR, 1,
		    "before growing"))
		return VBT_FAIL;
	/* A file grows by a part of a block too: the capacity rounds down. */
	grown = r->orig + DELTA + (r->is_blk ? 0 : 100);
	if (r->bio_file && vblk_read_events(&e0))
		return vbt_fail(t, "reading %s", VBLK_EVENTS_PATH);
	if (rsz_set(t, r, grown))
		return VBT_FAIL;
	if (r->bio_file) {
		/*
		 * Written blocks for the map; the truncate recalled the
		 * layout (and the writes, if mapped again meanwhile): wait
		 * until it is mapped again after each recall.
		 */
		if (fill_written(t, t->o->backend, r->orig + HOLE,
				 r->orig + DELTA))
			return VBT_FAIL;
		if (wait_mapped(t, &e0, "grown"))
			return VBT_FAIL;
	}
	if (rsz_one(t, r, true, cap0, NSECT, VIRTIO_BLK_S_IOERR, 2,
		    "grown, before RESIZE") ||
	    rsz_config_cap(t, r, cap0, "grown, before RESIZE") ||
	    rsz_fired(t, r, false, "grown, before RESIZE"))
		return VBT_FAIL;
	if (rsz_resize(t, r, &cap1))
		return VBT_FAIL;
	want = (grown / lbs * lbs) / VBLK_SECTOR;
	if (cap1 != want)
		return vbt_fail(t, "RESIZE after growing %" PRIu64 " to %" PRIu64 " bytes: %" PRIu64 " sectors, expected %" PRIu64,
				r->orig, grown, cap1, want);
	if (rsz_fired(t, r, true, "RESIZE after growing") ||
	    rsz_config_cap(t, r, cap1, "after RESIZE"))
		return VBT_FAIL;
	if (r->bio_file && vblk_read_events(&e0))
		return vbt_fail(t, "reading %s", VBLK_EVENTS_PATH);
	first = cap0 + (r->bio_file ? HOLE / VBLK_SECTOR : 0);
	if (vbt_write_pat(t, &r->v.d.vq[0], first, NSECT, 3, NULL) ||
	    vbt_write_pat(t, &r->v.d.vq[0], cap1 - NSECT, NSECT, 4, NULL) ||
	    vbt_verify_pat(t, &r->v.d.vq[0], first, NSECT, 3, NULL) ||
	    vbt_verify_pat(t, &r->v.d.vq[0], cap1 - NSECT, NSECT, 4, NULL)) {
		vbt_prefix(t, "in the new space after RESIZE");
		return VBT_FAIL;
	}
	if (r->bio_file && bios_since(t, &e0, "after RESIZE"))
		return VBT_FAIL;
	if (rsz_one(t, r, true, cap1, lbs / VBLK_SECTOR, VIRTIO_BLK_S_IOERR,
		    5, "past the new end") ||
	    rsz_resize(t, r, &cap) ||
	    rsz_fired(t, r, false, "a second RESIZE with no change"))
		return VBT_FAIL;
	if (cap != cap1)
		return vbt_fail(t, "a second RESIZE: %" PRIu64 " sectors, expected %" PRIu64,
				cap, cap1);
	if (r->bio_file && grow_recalled(t, r, cap1))
		return VBT_FAIL;
	return VBT_PASS;
}

int case_resize_grow(struct vbt *t)
{
	struct rsz r;
	int res = rsz_up(t, &r);

	if (res == VBT_PASS)
		res = resize_grow(t, &r);
	/* Failed too, the backend gets its size back for the next cases. */
	return r.bfd >= 0 ? rsz_down(t, &r, res) : res;
}

/*
 * resize-shrink: requests in flight below the new end while the backend is
 * cut complete and keep their data; past the new end writes fail at once
 * (a file is never extended again, a device fails them), and after RESIZE
 * (eventfd, GET_CONFIG) reads there too. Nothing past the new end changed:
 * the file's size and data stop there; a dm device, grown back, still has
 * what was there before the cut.
 */
static int resize_shrink(struct vbt *t, struct rsz *r)
{
	struct vblk_req req[INFLIGHT];
	struct vblk_seg seg[INFLIGHT];
	uint64_t cap0, cap, newcap, at;
	struct vblk_vq *vq;
	off_t data;
	int k;

	vq = &r->v.d.vq[0];
	cap0 = r->v.cfg.capacity;
	newcap = cap0 - DELTA / VBLK_SECTOR;
	/* What is past the new end before the cut. */
	if (vbt_write_pat(t, vq, newcap, NSECT, 1, NULL))
		return VBT_FAIL;
	/* Writes in flight up to the new end while the backend is cut. */
	at = newcap - INFLIGHT * 32;
	memset(seg, 0, sizeof(seg));
	if (vbt_queue_batch(t, vq, req, seg, INFLIGHT, at, true, 10, false) ||
	    vblk_vq_kick(vq) < 0 || rsz_set(t, r, newcap * VBLK_SECTOR) ||
	    vbt_reap_batch(t, vq, req, INFLIGHT, 10)) {
		vbt_prefix(t, "writes in flight below the new end while the backend was cut");
		return VBT_FAIL;
	}
	if (rsz_one(t, r, true, newcap, NSECT, VIRTIO_BLK_S_IOERR, 2,
		    "cut, before RESIZE"))
		return VBT_FAIL;
	if (!r->is_blk && vbt_fd_size(r->bfd, NULL) != newcap * VBLK_SECTOR)
		return vbt_fail(t, "a write past the end of the cut file made it %" PRIu64 " bytes, cut to %" PRIu64,
				vbt_fd_size(r->bfd, NULL), newcap * VBLK_SECTOR);
	if (rsz_resize(t, r, &cap))
		return VBT_FAIL;
	if (cap != newcap)
		return vbt_fail(t, "RESIZE after cutting to %" PRIu64 " sectors: %" PRIu64,
				newcap, cap);
	if (rsz_fired(t, r, true, "RESIZE after the cut") ||
	    rsz_config_cap(t, r, newcap, "after RESIZE") ||
	    rsz_one(t, r, true, newcap, NSECT, VIRTIO_BLK_S_IOERR, 3,
		    "after RESIZE") ||
	    rsz_one(t, r, false, newcap, NSECT, VIRTIO_BLK_S_IOERR, 0,
		    "after RESIZE") ||
	    rsz_one(t, r, true, newcap - 8, NSECT, VIRTIO_BLK_S_IOERR, 4,
		    "across the new end after RESIZE"))
		return VBT_FAIL;
	for (k = 0; k < INFLIGHT; k++)
		if (vbt_verify_pat(t, vq, at + 32 * k, 32, 10 + k, NULL)) {
			vbt_prefix(t, "data written in flight across the cut");
			return VBT_FAIL;
		}
	if (vbt_write_pat(t, vq, newcap - NSECT, NSECT, 5, NULL) ||
	    vbt_verify_pat(t, vq, newcap - NSECT, NSECT, 5, NULL)) {
		vbt_prefix(t, "the last blocks after RESIZE");
		return VBT_FAIL;
	}
	if (!r->is_blk) {
		struct stat st;

		if (fstat(r->bfd, &st) ||
		    (uint64_t)st.st_size != newcap * VBLK_SECTOR)
			return vbt_fail(t, "the cut file is %lld bytes after the device's writes, cut to %" PRIu64,
					(long long)st.st_size,
					newcap * VBLK_SECTOR);
		data = lseek(r->bfd, (off_t)(newcap * VBLK_SECTOR), SEEK_DATA);
		if (data >= 0)
			return vbt_fail(t, "the cut file has data at %lld, past its end",
					(long long)data);
		return VBT_PASS;
	}
	/* Grown back: what was past the cut is as it was. */
	if (rsz_set(t, r, r->orig) || rsz_resize(t, r, &cap))
		return VBT_FAIL;
	if (cap != cap0)
		return vbt_fail(t, "RESIZE after growing back: %" PRIu64 " sectors, expected %" PRIu64,
				cap, cap0);
	if (vbt_verify_pat(t, vq, newcap, NSECT, 1, NULL)) {
		vbt_prefix(t, "past the cut, grown back (the writes refused there must not have landed)");
		return VBT_FAIL;
	}
	return VBT_PASS;
}

int case_resize_shrink(struct vbt *t)
{
	struct rsz r;
	int res = rsz_up(t, &r);

	if (res == VBT_PASS)
		res = resize_shrink(t, &r);
	return r.bfd >= 0 ? rsz_down(t, &r, res) : res;
}
