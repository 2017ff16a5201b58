// SPDX-License-Identifier: GPL-2.0-only
/*
 * What the host does to a backend under a running device: freeze its file
 * system, make its block device read-only, turn the image into a swap file
 * or make it immutable, and an unprivileged user asking for a layout lease
 * on a file it may only read (docs/security.md, "Safety round 2").
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/sysmacros.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/swap.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vbt.h"

#define BATCH		32		/* requests of 16 KiB: QD32 */
#define BATCH_SECTORS	(BATCH * 32)

/*
 * The backend's stat: VBT_PASS, VBT_FAIL, or VBT_SKIP without the module.
 * These cases act on the host's file systems and devices, which is worth
 * it only to see what the module does, not a stand-in's (fake-vhost-blk.so).
 */
static int backend_stat(struct vbt *t, struct stat *st)
{
	if (stat("/sys/module/vhost_blk", st) < 0)
		return vbt_skip(t, "needs the vhost_blk module: this case freezes, swaps on or write-protects host storage to see what the module does");
	if (stat(t->o->backend, st) < 0)
		return vbt_fail(t, "stat %s: %s", t->o->backend,
				strerror(errno));
	return VBT_PASS;
}

/* One batch of writes of generation @gen at @sector, then its read back. */
static int write_verify(struct vbt *t, struct vblk_vq *vq, struct vblk_req *r,
			struct vblk_seg *seg, uint64_t sector, uint64_t gen)
{
	int i;

	for (i = 0; i < 2; i++) {
		if (vbt_queue_batch(t, vq, r, seg, BATCH, sector, i == 0, gen,
				    false))
			return -1;
		if (vblk_vq_kick(vq) < 0)
			return vbt_fail(t, "%s", vq->err), -1;
		if (vbt_reap_batch(t, vq, r, BATCH, gen))
			return -1;
	}
	return 0;
}

/*
 * The freezer: freeze and thaw the file system of @fd until @stop reads
 * end of file (the parent closed it), never leaving it frozen. Exits with
 * the number of freezes (at most 250), or 255 if FIFREEZE failed.
 */
static void freezer(int fd, int stop)
{
	struct pollfd p = { .fd = stop, .events = POLLIN };
	unsigned int n = 0;

	while (poll(&p, 1, 0) == 0) {
		if (ioctl(fd, FIFREEZE, 0) < 0)
			_exit(255);
		usleep(20000);
		ioctl(fd, FITHAW, 0);
		n++;
		usleep(30000);
	}
	_exit(n > 250 ? 250 : n);
}

/*
 * freeze: the host freezes and thaws the image's file system in a loop (a
 * backup does, every night) while the guest writes at QD32. The worker
 * must not wait for the freeze: direct writes whose end the file system
 * left to the worker hold the freeze off until the worker ends them. No
 * hang, and every write reads back.
 */
int case_freeze(struct vbt *t)
{
	static struct vblk_req r[BATCH];
	static struct vblk_seg seg[BATCH];
	struct timespec t0;
	struct vbt_dev v;
	struct stat st;
	unsigned int round;
	int fd, stop[2], status, res, ret = VBT_FAIL;
	uint64_t sector;
	pid_t pid;

	res = backend_stat(t, &st);
	if (res != VBT_PASS)
		return res;
	if (!S_ISREG(st.st_mode))
		return vbt_skip(t, "needs an image file: the file system under it is what freezes");
	if (vbt_dev_up(t, &v, NULL, 0))
		return VBT_FAIL;
	if (v.cfg.capacity < 4 * BATCH_SECTORS)
		return vbt_fail(t, "the image is too small (%" PRIu64 " sectors)",
				(uint64_t)v.cfg.capacity);
	sector = v.cfg.capacity / 4 / 8 * 8;
	fd = open(t->o->backend, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || pipe2(stop, O_CLOEXEC) < 0)
		return vbt_fail(t, "%s: %s", t->o->backend, strerror(errno));
	pid = fork();
	if (pid < 0)
		return vbt_fail(t, "fork: %s", strerror(errno));
	if (pid == 0) {
		close(stop[1]);
		freezer(fd, stop[0]);
	}
	close(stop[0]);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	/* Five seconds of writes, at least 8 rounds, at most 400. */
	for (round = 0; round < 400; round++) {
		if (round >= 8 && vblk_elapsed(&t0) > 5.0)
			break;
		if (write_verify(t, &v.d.vq[0], r, seg,
				 sector + (round % 2) * BATCH_SECTORS,
				 1000 * (round + 1))) {
			vbt_prefix(t, "round %u, with the file system freezing",
				   round);
			goto out;
		}
	}
	ret = VBT_PASS;
out:
	close(stop[1]);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return vbt_fail(t, "the freezer did not end by itself");
	if (ret != VBT_PASS)
		return ret;
	if (WEXITSTATUS(status) == 255)
		return vbt_fail(t, "FIFREEZE on %s failed: no freeze was tried",
				t->o->backend);
	if (WEXITSTATUS(status) == 0)
		return vbt_fail(t, "the file system was never frozen during the %u rounds",
				round);
	vbt_note(t, "%u rounds of %u writes and reads, %d freezes", round,
		 BATCH, WEXITSTATUS(status));
	vblk_dev_close(&v.d);
	close(fd);
	return VBT_PASS;
}

/* Attach @path (opened with @open_flags) to @d: 0 or -errno. */
static int open_attach(struct vbt *t, struct vblk_dev *d, const char *path,
		       int open_flags, uint32_t flags, uint32_t engine)
{
	int fd, ret;

	fd = open(path, open_flags | O_CLOEXEC);
	if (fd < 0)
		return vbt_fail(t, "open %s: %s", path, strerror(errno)),
		       -errno;
	ret = vblk_dev_attach(d, fd, flags, engine);
	close(fd);
	return ret;
}

/* A new device on @path: see open_attach(). */
static int attach_path(struct vbt *t, struct vblk_dev *d, const char *path,
		       int open_flags, uint32_t flags, uint32_t engine)
{
	if (vblk_dev_start(d, NULL))
		return vbt_fail(t, "setting up the device: %s", d->err), -EIO;
	return open_attach(t, d, path, open_flags, flags, engine);
}

/*
 * ro-after-attach: a block device made read-only (BLKROSET) after it was
 * attached takes no more writes, discards or zeroes: the block layer only
 * warns about writes to a read-only device and lets them through.
 */
int case_ro_after_attach(struct vbt *t)
{
	struct vbt_dev v;
	struct stat st;
	int fd, ro = 1, res, ret = VBT_FAIL;
	uint64_t sector;

	res = backend_stat(t, &st);
	if (res != VBT_PASS)
		return res;
	if (!S_ISBLK(st.st_mode))
		return vbt_skip(t, "needs a block device (BLKROSET)");
	if (vbt_dev_up(t, &v, NULL, 0))
		return VBT_FAIL;
	sector = v.cfg.capacity / 2 / 8 * 8;
	if (vbt_write_pat(t, &v.d.vq[0], sector, 8, 1, NULL))
		return VBT_FAIL;
	fd = open(t->o->backend, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || ioctl(fd, BLKROSET, &ro) < 0)
		return vbt_fail(t, "BLKROSET on %s: %s", t->o->backend,
				strerror(errno));
	{
		uint8_t *buf = vblk_mem_alloc(&v.d.mem, 4096, 4096);
		uint32_t used = 0;

		if (!buf) {
			vbt_fail(t, "no guest memory");
			goto out;
		}
		memset(buf, 0xa5, 4096);
		int rc = vblk_rw(&v.d.vq[0], VIRTIO_BLK_T_OUT, sector, buf,
				 4096, NULL, &used);

		if (vbt_expect(t, &v.d.vq[0], "a write after BLKROSET", rc,
			       used, VIRTIO_BLK_S_IOERR, -1))
			goto out;
		vblk_mem_free(&v.d.mem, buf);
	}
	if (v.cfg.max_discard_sectors &&
	    vbt_expect(t, &v.d.vq[0], "a discard after BLKROSET",
		       vblk_discard(&v.d.vq[0], sector, 8), 0,
		       VIRTIO_BLK_S_IOERR, -1))
		goto out;
	if (v.cfg.max_write_zeroes_sectors &&
	    vbt_expect(t, &v.d.vq[0], "write zeroes after BLKROSET",
		       vblk_write_zeroes(&v.d.vq[0], sector, 8, false), 0,
		       VIRTIO_BLK_S_IOERR, -1))
		goto out;
	/* What was there before is still there. */
	if (vbt_verify_pat(t, &v.d.vq[0], sector, 8, 1, NULL))
		goto out;
	ret = VBT_PASS;
out:
	ro = 0;
	if (ioctl(fd, BLKROSET, &ro) < 0 && ret == VBT_PASS)
		ret = vbt_fail(t, "BLKROSET 0 on %s: %s", t->o->backend,
			       strerror(errno));
	close(fd);
	if (ret == VBT_PASS &&
	    (vbt_write_pat(t, &v.d.vq[0], sector, 8, 2, NULL) ||
	     vbt_verify_pat(t, &v.d.vq[0], sector, 8, 2, NULL)))
		ret = VBT_FAIL;
	if (ret == VBT_PASS)
		vblk_dev_close(&v.d);
	return ret;
}

/* A written file of @bytes beside the backend, named after it + @suffix. */
static int side_file(struct vbt *t, char *path, size_t size,
		     const char *suffix, uint64_t bytes)
{
	static uint8_t buf[65536];
	uint64_t done;
	int fd;

	snprintf(path, size, "%s%s", t->o->backend, suffix);
	unlink(path);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return vbt_fail(t, "creating %s: %s", path, strerror(errno)),
		       -1;
	memset(buf, 0x5a, sizeof(buf));
	for (done = 0; done < bytes; done += sizeof(buf))
		if (write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf))
			return vbt_fail(t, "writing %s: %s", path,
					strerror(errno)), close(fd), -1;
	if (fsync(fd) < 0)
		return vbt_fail(t, "fsync %s: %s", path, strerror(errno)),
		       close(fd), -1;
	return fd;
}

/* Make @fd a swap area: the header mkswap writes, version 1. */
static int make_swap(struct vbt *t, int fd, uint64_t bytes)
{
	long page = sysconf(_SC_PAGESIZE);
	uint8_t *hdr = calloc(1, page);
	uint32_t w[3] = { 1, (uint32_t)(bytes / page - 1), 0 };

	if (!hdr)
		return vbt_fail(t, "out of memory"), -1;
	memcpy(hdr + 1024, w, sizeof(w));	/* version, last_page, nr_bad */
	memcpy(hdr + page - 10, "SWAPSPACE2", 10);
	if (pwrite(fd, hdr, page, 0) != page || fsync(fd) < 0) {
		free(hdr);
		return vbt_fail(t, "writing a swap header: %s", strerror(errno)),
		       -1;
	}
	free(hdr);
	return 0;
}

/* The bio engine on a file of this file system, or a reason it has none. */
static int bio_on_files(struct vbt *t, const char *path)
{
	struct vblk_dev d;
	int ret = attach_path(t, &d, path, O_RDWR, 0, VHOST_BLK_ENGINE_BIO);

	vblk_dev_close(&d);
	if (ret == -EOPNOTSUPP)
		return vbt_skip(t, "this file system has no block layout for the bio engine");
	if (ret)
		return vbt_fail(t, "the bio engine on a plain file %s: %s", path,
				strerror(-ret));
	return VBT_PASS;
}

/*
 * write-gates: the bio engine writes a file's blocks without the file
 * system, so it takes no file that must not be written that way: a swap
 * file (-ETXTBSY) or an immutable one (-EPERM), at attach; and a file
 * that becomes a swap file while attached (swapon recalls no layout) gets
 * IOERR for every write, its swap header untouched. With the kiocb engine
 * the file system says the same (ETXTBSY: IOERR).
 */
int case_write_gates(struct vbt *t)
{
	const uint64_t bytes = 16 << 20;
	char path[4200];
	uint8_t *buf, head[16];
	struct vblk_dev d;
	struct stat st;
	unsigned int flags = FS_IMMUTABLE_FL;
	uint32_t used = 0, engine;
	int fd, ret, res = VBT_FAIL;

	res = backend_stat(t, &st);
	if (res != VBT_PASS)
		return res;
	if (!S_ISREG(st.st_mode))
		return vbt_skip(t, "needs an image file");
	fd = side_file(t, path, sizeof(path), ".gate", bytes);
	if (fd < 0)
		return VBT_FAIL;
	engine = vbt_expected_engine(t, false);
	res = bio_on_files(t, path);
	if (res == VBT_FAIL)
		goto out;
	if (res == VBT_PASS) {
		/* Immutable. */
		if (ioctl(fd, FS_IOC_SETFLAGS, &flags) < 0) {
			res = vbt_fail(t, "chattr +i %s: %s", path, strerror(errno));
			goto out;
		}
		ret = attach_path(t, &d, path, O_RDONLY, VHOST_BLK_BACKEND_F_READONLY,
				  VHOST_BLK_ENGINE_BIO);
		vblk_dev_close(&d);
		flags = 0;
		ioctl(fd, FS_IOC_SETFLAGS, &flags);
		if (ret != -EPERM) {
			res = vbt_fail(t, "the bio engine on an immutable file: expected EPERM, got %s",
				       ret ? strerror(-ret) : "success");
			goto out;
		}
	}
	/* A swap file: refused at attach with the bio engine. */
	if (make_swap(t, fd, bytes))
		goto fail;
	if (swapon(path, 0) < 0) {
		res = vbt_fail(t, "swapon %s: %s", path, strerror(errno));
		goto out;
	}
	if (res == VBT_PASS) {
		ret = attach_path(t, &d, path, O_RDONLY,
				  VHOST_BLK_BACKEND_F_READONLY,
				  VHOST_BLK_ENGINE_BIO);
		vblk_dev_close(&d);
		if (ret != -ETXTBSY) {
			res = vbt_fail(t, "the bio engine on a swap file: expected ETXTBSY, got %s",
				       ret ? strerror(-ret) : "success");
			goto swapoff;
		}
	}
	if (swapoff(path) < 0) {
		res = vbt_fail(t, "swapoff %s: %s", path, strerror(errno));
		goto out;
	}
	/* Attached with this spec's engine, then made a swap file. */
	ret = attach_path(t, &d, path, O_RDWR | (t->o->direct ? O_DIRECT : 0),
			  0, engine);
	if (ret) {
		res = vbt_fail(t, "attaching %s: %s", path, strerror(-ret));
		goto out;
	}
	if (swapon(path, 0) < 0) {
		res = vbt_fail(t, "swapon %s while attached: %s", path,
			       strerror(errno));
		vblk_dev_close(&d);
		goto out;
	}
	buf = vblk_mem_alloc(&d.mem, 4096, 4096);
	if (!buf) {
		res = vbt_fail(t, "no guest memory");
		goto close_dev;
	}
	memset(buf, 0xee, 4096);
	ret = vblk_rw(&d.vq[0], VIRTIO_BLK_T_OUT, 0, buf, 4096, NULL, &used);
	if (vbt_expect(t, &d.vq[0], "a write over the swap header after swapon",
		       ret, used, VIRTIO_BLK_S_IOERR, -1))
		goto close_dev;
	ret = vblk_rw(&d.vq[0], VIRTIO_BLK_T_OUT, 64, buf, 4096, NULL, &used);
	if (vbt_expect(t, &d.vq[0], "a write into the swap area after swapon",
		       ret, used, VIRTIO_BLK_S_IOERR, -1))
		goto close_dev;
	res = VBT_PASS;
close_dev:
	vblk_dev_close(&d);
swapoff:
	if (swapoff(path) < 0 && res == VBT_PASS)
		res = vbt_fail(t, "swapoff %s: %s", path, strerror(errno));
	if (res == VBT_PASS) {
		long page = sysconf(_SC_PAGESIZE);

		if (pread(fd, head, sizeof(head), page - 16) != sizeof(head) ||
		    memcmp(head + 6, "SWAPSPACE2", 10))
			res = vbt_fail(t, "the swap header of %s changed", path);
	}
	goto out;
fail:
	res = VBT_FAIL;
out:
	close(fd);
	unlink(path);
	return res;
}

/*
 * lease-perm: a layout lease stalls the file's owner (writes and truncates
 * wait for its recall), so the bio engine takes one only where the caller
 * could take a lease itself: its own file, or CAP_LEASE. A user who may
 * only read someone else's file gets EACCES, even read-only.
 */
int case_lease_perm(struct vbt *t)
{
	const uint64_t bytes = 1 << 20;
	char path[4200];
	struct stat st;
	int fd, status, res;
	pid_t pid;

	res = backend_stat(t, &st);
	if (res != VBT_PASS)
		return res;
	if (!S_ISREG(st.st_mode))
		return vbt_skip(t, "needs an image file");
	if (geteuid() != 0)
		return vbt_skip(t, "needs root, to become another user");
	fd = side_file(t, path, sizeof(path), ".lease", bytes);
	if (fd < 0)
		return VBT_FAIL;
	res = bio_on_files(t, path);
	if (res != VBT_PASS)
		goto out;
	pid = fork();
	if (pid < 0) {
		res = vbt_fail(t, "fork: %s", strerror(errno));
		goto out;
	}
	if (pid == 0) {
		struct vblk_dev d;
		int ret;

		/* The device is set up as root, then the caller is nobody. */
		if (vblk_dev_start(&d, NULL))
			_exit(100);
		if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
			_exit(101);
		ret = open_attach(t, &d, path, O_RDONLY,
				  VHOST_BLK_BACKEND_F_READONLY,
				  VHOST_BLK_ENGINE_BIO);
		_exit(ret == -EACCES ? 0 : ret == 0 ? 102 : 103);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) {
		res = vbt_fail(t, "the unprivileged attach did not end");
		goto out;
	}
	switch (WEXITSTATUS(status)) {
	case 0:
		res = VBT_PASS;
		break;
	case 102:
		res = vbt_fail(t, "nobody attached the bio engine (a layout lease) to root's file %s it may only read",
			       path);
		break;
	default:
		res = vbt_fail(t, "the unprivileged attach failed otherwise (%d): expected EACCES",
			       WEXITSTATUS(status));
		break;
	}
out:
	close(fd);
	unlink(path);
	return res;
}

#define DEFRAG_CHUNK	(64 << 10)
#define DEFRAG_CHUNKS	128		/* an 8 MiB file */
#define DEFRAG_SECTORS	(DEFRAG_CHUNK * DEFRAG_CHUNKS / VBLK_SECTOR)
#define XFS_MAGIC	0x58465342

/* The number of extents of @fd (FIEMAP), or -1. */
static long extents(int fd)
{
	struct fiemap fm = { .fm_length = FIEMAP_MAX_OFFSET,
			     .fm_flags = FIEMAP_FLAG_SYNC };

	return ioctl(fd, FS_IOC_FIEMAP, &fm) < 0 ? -1 : (long)fm.fm_mapped_extents;
}

/*
 * An 8 MiB file in many extents: written backwards, a chunk at a time, each
 * on disk before the next, between the chunks of a second file deleted
 * after. Returns its fd (read-write) and its name in @path.
 */
static int fragmented_file(struct vbt *t, char *path, size_t size)
{
	static uint8_t buf[DEFRAG_CHUNK] __attribute__((aligned(4096)));
	char other[4300];
	int fd, fo, i;

	snprintf(path, size, "%s.frag", t->o->backend);
	snprintf(other, sizeof(other), "%s.frag-gap", t->o->backend);
	unlink(path);
	unlink(other);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	fo = open(other, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0 || fo < 0)
		return vbt_fail(t, "creating %s: %s", path, strerror(errno)),
		       -1;
	memset(buf, 0x11, sizeof(buf));
	for (i = DEFRAG_CHUNKS - 1; i >= 0; i--)
		if (pwrite(fd, buf, sizeof(buf), (off_t)i * DEFRAG_CHUNK) !=
		    sizeof(buf) || fdatasync(fd) ||
		    pwrite(fo, buf, sizeof(buf), (off_t)i * DEFRAG_CHUNK) !=
		    sizeof(buf) || fdatasync(fo))
			return vbt_fail(t, "writing %s: %s", path,
					strerror(errno)), -1;
	close(fo);
	unlink(other);
	return fd;
}

/* Guest writes of generation @gen over the whole file, 128 KiB each. */
static int write_all(struct vbt *t, struct vblk_vq *vq, uint64_t gen)
{
	uint64_t s;

	for (s = 0; s < DEFRAG_SECTORS; s += 256)
		if (vbt_write_pat(t, vq, s, 256, gen, NULL))
			return -1;
	return 0;
}

static int verify_all(struct vbt *t, struct vblk_vq *vq, uint64_t gen)
{
	uint64_t s;

	for (s = 0; s < DEFRAG_SECTORS; s += 256)
		if (vbt_verify_pat(t, vq, s, 256, gen, NULL))
			return -1;
	return 0;
}

/* What the file holds on disk: the guest's generation @gen. */
static int verify_file(struct vbt *t, const char *path, uint64_t gen)
{
	uint8_t *buf;
	char msg[300];
	int fd, ret = 0;
	uint64_t s;

	fd = open(path, O_RDONLY | O_DIRECT | O_CLOEXEC);
	if (fd < 0 || posix_memalign((void **)&buf, 4096, 256 * VBLK_SECTOR))
		return vbt_fail(t, "open %s: %s", path, strerror(errno)), -1;
	for (s = 0; s < DEFRAG_SECTORS; s += 256) {
		if (pread(fd, buf, 256 * VBLK_SECTOR, s * VBLK_SECTOR) !=
		    256 * VBLK_SECTOR) {
			ret = vbt_fail(t, "reading %s: %s", path, strerror(errno));
			break;
		}
		if (vblk_pat_verify(buf, s, 256, t->seed, gen, msg,
				    sizeof(msg)) >= 0) {
			ret = vbt_fail(t, "%s at sector %" PRIu64 " after the device wrote it: %s",
				       path, s, msg);
			break;
		}
	}
	free(buf);
	close(fd);
	return ret ? -1 : 0;
}

/* A file of @bytes all 0xc3, on disk: it may get the blocks fsr freed. */
static int canary(struct vbt *t, const char *path, bool check)
{
	static uint8_t buf[DEFRAG_CHUNK], want[DEFRAG_CHUNK];
	int fd, i, ret = 0;

	memset(want, 0xc3, sizeof(want));
	fd = check ? open(path, O_RDONLY | O_CLOEXEC) :
		     open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return vbt_fail(t, "open %s: %s", path, strerror(errno)), -1;
	if (check)
		posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	for (i = 0; i < 2 * DEFRAG_CHUNKS && !ret; i++) {
		off_t at = (off_t)i * DEFRAG_CHUNK;

		if (!check && pwrite(fd, want, sizeof(want), at) != sizeof(want))
			ret = vbt_fail(t, "writing %s: %s", path, strerror(errno));
		else if (check && (pread(fd, buf, sizeof(buf), at) != sizeof(buf) ||
				   memcmp(buf, want, sizeof(buf))))
			ret = vbt_fail(t, "%s, a file written after xfs_fsr ran, changed at byte %lld: the device wrote blocks the image no longer owns",
				       path, (long long)at);
	}
	if (!check && !ret && fsync(fd))
		ret = vbt_fail(t, "fsync %s: %s", path, strerror(errno));
	close(fd);
	return ret ? -1 : 0;
}

/*
 * defrag: xfs_fsr defragments an image the device serves (XFS_IOC_SWAPEXT,
 * which recalls no layout lease, 6.12). The file system frees the image's
 * old blocks and gives them to other files: guest writes after the swap
 * must land in the image, and no other file may change. With the bio
 * engine the map must be taken again; with the kiocb engine the file
 * system does the I/O.
 */
int case_defrag(struct vbt *t)
{
	char path[4300], other[4400], cmd[4500];
	struct vblk_events e0, e1;
	struct vblk_dev d;
	struct statfs sf;
	struct stat st;
	long before, after;
	int fd, res, ret;
	uint32_t engine;

	res = backend_stat(t, &st);
	if (res != VBT_PASS)
		return res;
	if (!S_ISREG(st.st_mode))
		return vbt_skip(t, "needs an image file");
	if (statfs(t->o->backend, &sf) < 0)
		return vbt_fail(t, "statfs %s: %s", t->o->backend, strerror(errno));
	if (sf.f_type != XFS_MAGIC)
		return vbt_skip(t, "xfs_fsr defragments XFS only");
	if (access("/usr/sbin/xfs_fsr", X_OK))
		return vbt_fail(t, "no /usr/sbin/xfs_fsr: install xfsprogs in the test host");
	fd = fragmented_file(t, path, sizeof(path));
	if (fd < 0)
		return VBT_FAIL;
	snprintf(other, sizeof(other), "%s.canary", t->o->backend);
	res = VBT_FAIL;
	before = extents(fd);
	if (before < 8) {
		vbt_fail(t, "%s has %ld extents: not fragmented enough to defragment",
			 path, before);
		goto out;
	}
	engine = vbt_expected_engine(t, false);
	ret = attach_path(t, &d, path,
			  O_RDWR | (t->o->direct ? O_DIRECT : 0), 0, engine);
	if (ret) {
		vbt_prefix(t, "attaching %s", path);
		goto out;
	}
	if (vblk_read_events(&e0) || write_all(t, &d.vq[0], 1) ||
	    vblk_read_events(&e1))
		goto close_dev;
	if (engine == VHOST_BLK_ENGINE_BIO && e1.layout_bios == e0.layout_bios) {
		vbt_fail(t, "no write went to the file's blocks (layout_bios): nothing to check");
		goto close_dev;
	}
	snprintf(cmd, sizeof(cmd), "/usr/sbin/xfs_fsr %s >/dev/null 2>&1", path);
	ret = system(cmd);
	after = extents(fd);
	if (ret || after < 0 || after >= before) {
		vbt_fail(t, "xfs_fsr %s (exit %d) left %ld extents of %ld: it did not defragment",
			 path, ret, after, before);
		goto close_dev;
	}
	if (canary(t, other, false) || write_all(t, &d.vq[0], 2) ||
	    verify_all(t, &d.vq[0], 2))
		goto close_dev;
	vblk_dev_close(&d);
	if (verify_file(t, path, 2) || canary(t, other, true))
		goto out;
	vbt_note(t, "%s: %ld extents, %ld after xfs_fsr; the guest's writes after it are in the file",
		 vblk_engine_name(engine), before, after);
	res = VBT_PASS;
	goto out;
close_dev:
	vblk_dev_close(&d);
out:
	close(fd);
	unlink(path);
	unlink(other);
	return res;
}

#define CGROOT	"/sys/fs/cgroup"

/* Bytes written and discarded on @dev in @dir's io.stat, or -1. */
static long long cg_io_bytes(const char *dir, dev_t dev)
{
	char path[512], line[512], key[32];
	long long w = 0, d = 0, v;
	FILE *f;
	char *p;

	snprintf(path, sizeof(path), "%s/io.stat", dir);
	snprintf(key, sizeof(key), "%u:%u ", major(dev), minor(dev));
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, key, strlen(key)))
			continue;
		if ((p = strstr(line, "wbytes=")) && sscanf(p, "wbytes=%lld", &v) == 1)
			w = v;
		if ((p = strstr(line, "dbytes=")) && sscanf(p, "dbytes=%lld", &v) == 1)
			d = v;
	}
	fclose(f);
	return w + d;
}

/*
 * cgroup-charge: what the device does on the guest's behalf away from its
 * worker (here WRITE_ZEROES, always punted to a workqueue) is charged to
 * the owner's io cgroup, not the root's: io.stat of the owner's cgroup
 * counts its bytes on the backend.
 */
int case_cgroup_charge(struct vbt *t)
{
	const uint32_t nsect = 2048;	/* 1 MiB a request */
	const unsigned int n = 8;
	char dir[64], pid[32];
	struct vbt_dev v;
	struct stat st;
	long long got;
	unsigned int i;
	int res, ret;

	res = backend_stat(t, &st);
	if (res != VBT_PASS)
		return res;
	if (!S_ISBLK(st.st_mode))
		return vbt_skip(t, "needs a block device: on a file the zeroes are extents, no I/O to count");
	if (stat(CGROOT "/cgroup.controllers", &st) < 0 &&
	    mount("cgroup2", CGROOT, "cgroup2", 0, NULL) < 0)
		return vbt_fail(t, "mounting cgroup2 at %s: %s", CGROOT, strerror(errno));
	if (stat(t->o->backend, &st) < 0)
		return vbt_fail(t, "stat %s: %s", t->o->backend, strerror(errno));
	ret = vbt_write_file(CGROOT, "cgroup.subtree_control", "+io");
	if (ret)
		return vbt_fail(t, "enabling the io controller: %s", strerror(-ret));
	snprintf(dir, sizeof(dir), CGROOT "/vbt-%d", (int)getpid());
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return vbt_fail(t, "mkdir %s: %s", dir, strerror(errno));
	/* The owner, and so the worker it creates, in the new cgroup. */
	ret = vbt_write_file(dir, "cgroup.procs", pid);
	if (ret) {
		res = vbt_fail(t, "moving into %s: %s", dir, strerror(-ret));
		goto out;
	}
	res = VBT_FAIL;
	if (vbt_dev_up(t, &v, NULL, 0))
		goto out;
	if (v.cfg.capacity < n * nsect) {
		vbt_fail(t, "the backend is too small");
		goto close_dev;
	}
	for (i = 0; i < n; i++) {
		ret = vblk_write_zeroes(&v.d.vq[0], (uint64_t)i * nsect, nsect,
					false);
		if (vbt_expect(t, &v.d.vq[0], "WRITE_ZEROES", ret, 0,
			       VIRTIO_BLK_S_OK, -1))
			goto close_dev;
	}
	got = cg_io_bytes(dir, st.st_rdev);
	if (got < (long long)n * nsect * VBLK_SECTOR) {
		vbt_fail(t, "the owner's cgroup was charged %lld bytes on %u:%u for %u MiB of WRITE_ZEROES done on its behalf (io.stat)",
			 got < 0 ? 0 : got, major(st.st_rdev), minor(st.st_rdev), n);
		goto close_dev;
	}
	vbt_note(t, "%lld bytes charged to the owner's io cgroup", got);
	res = VBT_PASS;
close_dev:
	vblk_dev_close(&v.d);
out:
	vbt_write_file(CGROOT, "cgroup.procs", pid);
	rmdir(dir);
	return res;
}

#define LB_MAX_CALLS	128	/* VHOST_BLK_LAYOUT_MAX_CALLS (src/layout.c) */
#define LB_BLOCKS	8192	/* a 32 MiB file of 4 KiB blocks */
#define LB_SECT		8	/* sectors a block */
#define LB_CHUNK	256	/* sectors a guest read */
/*
 * Sectors a guest write. Each write over a hole recalls the layout and
 * maps the file again (up to LB_MAX_CALLS map_blocks calls, each flushing
 * and invalidating the file): few large writes keep that to 8 remaps, which
 * take seconds each on the debug kernel.
 */
#define LB_WCHUNK	8192
#define TRACEFS		"/sys/kernel/tracing"

/* The extent count of the last "map" layout event of inode @ino, or -1. */
static long traced_map(const char *dir, unsigned long ino, int *ret)
{
	char path[320], line[512], key[64];
	long n = -1;
	FILE *f;
	char *p;

	snprintf(path, sizeof(path), "%s/trace", dir);
	snprintf(key, sizeof(key), " ino=%lu event=map ", ino);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if ((p = strstr(line, key)) &&
		    sscanf(p + strlen(key), "extents=%ld ret=%d", &n, ret) != 2)
			n = -1;
	fclose(f);
	return n;
}

/* Guest reads of the whole file: block b holds write @gen if b is even
 * and @gen, else zeroes; with @gen 0 any block may hold @all. */
static int lb_verify(struct vbt *t, struct vblk_vq *vq, uint64_t gen,
		     uint64_t all)
{
	size_t len = LB_CHUNK * VBLK_SECTOR;
	uint8_t *buf = vblk_mem_alloc(vq->mem, len, 4096);
	static const uint8_t zero[LB_SECT * VBLK_SECTOR];
	char msg[300];
	uint64_t s, b;

	if (!buf)
		return vbt_fail(t, "no guest memory"), -1;
	for (s = 0; s < (uint64_t)LB_BLOCKS * LB_SECT; s += LB_CHUNK) {
		uint32_t used = 0;
		int ret = vblk_rw(vq, VIRTIO_BLK_T_IN, s, buf, len, NULL, &used);

		if (vbt_expect(t, vq, "read", ret, used, VIRTIO_BLK_S_OK,
			       (long)len + 1))
			return -1;
		for (b = 0; b < LB_CHUNK / LB_SECT; b++) {
			const uint8_t *p = buf + b * LB_SECT * VBLK_SECTOR;
			uint64_t at = s + b * LB_SECT;
			bool data = all || !((at / LB_SECT) & 1);

			if (!data && memcmp(p, zero, sizeof(zero)))
				return vbt_fail(t, "sector %" PRIu64 " (a hole) does not read as zeroes",
						at), -1;
			if (data && vblk_pat_verify(p, at, LB_SECT, t->seed,
						    all ? all : gen, msg,
						    sizeof(msg)) >= 0)
				return vbt_fail(t, "sector %" PRIu64 ": %s", at,
						msg), -1;
		}
	}
	vblk_mem_free(vq->mem, buf);
	return 0;
}

/*
 * layout-bound: a map of a file calls map_blocks once an extent or hole,
 * and XFS flushes and invalidates the whole file's page cache each time.
 * A file of 4 KiB written every other block (4096 extents and as many
 * holes) is attached with the bio engine: the map must stop at
 * LB_MAX_CALLS calls (its extent count, traced, at most that), and the
 * guest must read and write the whole file right, mapped part or not.
 */
int case_layout_bound(struct vbt *t)
{
	static uint8_t blk[LB_SECT * VBLK_SECTOR] __attribute__((aligned(4096)));
	char path[4300], dir[64];
	struct vblk_events e0, e1;
	struct vblk_dev d;
	struct statfs sf;
	struct stat st;
	long n, ext;
	int fd, res, ret, mret = 0;
	uint64_t b, s;

	res = backend_stat(t, &st);
	if (res != VBT_PASS)
		return res;
	if (!S_ISREG(st.st_mode) || vbt_expected_engine(t, false) != VHOST_BLK_ENGINE_BIO)
		return vbt_skip(t, "needs the bio engine on an image file");
	if (statfs(t->o->backend, &sf) < 0 || sf.f_type != XFS_MAGIC)
		return vbt_skip(t, "XFS's map_blocks is what is bounded");
	if (stat(TRACEFS "/instances", &st) < 0 &&
	    mount("tracefs", TRACEFS, "tracefs", 0, NULL) < 0)
		return vbt_skip(t, "no tracefs: the map's extent count is traced");
	snprintf(path, sizeof(path), "%s.sparse", t->o->backend);
	unlink(path);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0 || ftruncate(fd, (off_t)LB_BLOCKS * sizeof(blk)))
		return vbt_fail(t, "creating %s: %s", path, strerror(errno));
	for (b = 0; b < LB_BLOCKS; b += 2) {
		vblk_pat_fill(blk, b * LB_SECT, LB_SECT, t->seed, 1);
		if (pwrite(fd, blk, sizeof(blk), (off_t)(b * sizeof(blk))) !=
		    sizeof(blk)) {
			res = vbt_fail(t, "writing %s: %s", path, strerror(errno));
			goto out;
		}
	}
	res = VBT_FAIL;
	if (fsync(fd) || fstat(fd, &st)) {
		vbt_fail(t, "fsync %s: %s", path, strerror(errno));
		goto out;
	}
	ext = extents(fd);
	if (ext <= LB_MAX_CALLS) {
		vbt_fail(t, "%s has %ld extents, not more than %d", path, ext,
			 LB_MAX_CALLS);
		goto out;
	}
	snprintf(dir, sizeof(dir), TRACEFS "/instances/vbt-lb-%d", (int)getpid());
	if (mkdir(dir, 0700) < 0 ||
	    vbt_write_file(dir, "events/vhost_blk/vhost_blk_layout/enable", "1")) {
		vbt_fail(t, "trace instance %s: %s", dir, strerror(errno));
		goto out_trace;
	}
	/*
	 * O_DIRECT whatever the spec: through the page cache, what the
	 * fallback wrote is written back by the next map's first map_blocks
	 * call, under the I/O lock that guest reads through the file wait
	 * for (more than 15 s for 32 MiB on the debug kernel). That cost is
	 * the file's, not the bound's, which is what this case is about.
	 */
	ret = attach_path(t, &d, path, O_RDWR | O_DIRECT, 0,
			  VHOST_BLK_ENGINE_BIO);
	if (ret) {
		vbt_prefix(t, "attaching %s", path);
		goto out_trace;
	}
	d.vq[0].timeout_ms = 60000;
	n = traced_map(dir, (unsigned long)st.st_ino, &mret);
	if (n < 0 || mret) {
		vbt_fail(t, "no map of %s was traced (extents %ld, ret %d)", path,
			 n, mret);
		goto close_dev;
	}
	if (n > LB_MAX_CALLS || !n) {
		vbt_fail(t, "the map of %s, in %ld extents, holds %ld of them: expected 1 to %d (the map_blocks calls are bounded)",
			 path, ext, n, LB_MAX_CALLS);
		goto close_dev;
	}
	/* Block 0 is mapped: the bios serve it. */
	if (vblk_read_events(&e0) || vbt_verify_pat(t, &d.vq[0], 0, LB_SECT, 1, NULL) ||
	    vblk_read_events(&e1))
		goto close_dev;
	if (e1.layout_bios == e0.layout_bios) {
		vbt_fail(t, "a read of block 0, in the map, did not go to the file's blocks");
		goto close_dev;
	}
	/* The whole file, mapped and not; then written over and read again. */
	if (lb_verify(t, &d.vq[0], 1, 0))
		goto close_dev;
	for (s = 0; s < (uint64_t)LB_BLOCKS * LB_SECT; s += LB_WCHUNK)
		if (vbt_write_pat(t, &d.vq[0], s, LB_WCHUNK, 2, NULL))
			goto close_dev;
	if (lb_verify(t, &d.vq[0], 0, 2))
		goto close_dev;
	vbt_note(t, "%ld extents, %ld mapped; the whole file read and written right",
		 ext, n);
	res = VBT_PASS;
close_dev:
	vblk_dev_close(&d);
out_trace:
	rmdir(dir);
out:
	close(fd);
	unlink(path);
	return res;
}
