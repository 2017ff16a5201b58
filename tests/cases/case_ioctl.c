// SPDX-License-Identifier: GPL-2.0-only
/* The device node and its ioctls: owner, features, backend, config. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vbt.h"

#define DEV_PATH	"/dev/vhost-blk"

int case_dev_node(struct vbt *t)
{
	unsigned int maj, min;
	struct stat st;
	FILE *f;
	int fd;

	if (stat(DEV_PATH, &st))
		return vbt_fail(t, "stat %s: %s (is the module loaded?)", DEV_PATH,
				strerror(errno));
	if (!S_ISCHR(st.st_mode))
		return vbt_fail(t, "%s is not a character device (mode %#o)",
				DEV_PATH, st.st_mode);
	f = fopen("/sys/class/misc/vhost-blk/dev", "r");
	if (f) {
		int n = fscanf(f, "%u:%u", &maj, &min);

		fclose(f);
		if (n == 2 && (major(st.st_rdev) != maj || minor(st.st_rdev) != min))
			return vbt_fail(t, "%s is %u:%u but the misc device is %u:%u",
					DEV_PATH, major(st.st_rdev),
					minor(st.st_rdev), maj, min);
	}
	fd = open(DEV_PATH, O_RDWR);
	if (fd < 0)
		return vbt_fail(t, "open %s read-write: %s", DEV_PATH,
				strerror(errno));
	close(fd);
	return VBT_PASS;
}

/* GET_ID into @id (20 bytes), expecting OK and used len 21. */
static int get_serial(struct vbt *t, struct vblk_vq *vq, uint8_t *id,
		      const char *what)
{
	uint8_t *buf = vblk_mem_alloc(vq->mem, 512, 512);
	uint32_t used = 0;
	int st;

	memset(buf, 0xa5, 512);
	st = vblk_get_id(vq, buf, VHOST_BLK_SERIAL_LEN, &used);
	if (vbt_expect(t, vq, what, st, used, VIRTIO_BLK_S_OK,
		       VHOST_BLK_SERIAL_LEN + 1))
		return -1;
	memcpy(id, buf, VHOST_BLK_SERIAL_LEN);
	vblk_mem_free(vq->mem, buf);
	return 0;
}

int case_two_opens(struct vbt *t)
{
	uint8_t ida[VHOST_BLK_SERIAL_LEN], idb[VHOST_BLK_SERIAL_LEN];
	uint8_t idb2[VHOST_BLK_SERIAL_LEN];
	struct vbt_dev a, b;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	if (vbt_dev_up(t, &a, NULL, 0) || vbt_dev_up(t, &b, NULL, 0))
		return VBT_FAIL;
	if (get_serial(t, &a.d.vq[0], ida, "GET_ID on the first device") ||
	    get_serial(t, &b.d.vq[0], idb, "GET_ID on the second device"))
		return VBT_FAIL;
	if (!memcmp(ida, idb, sizeof(ida)))
		return vbt_fail(t, "both devices have the default serial '%.20s'",
				(char *)ida);
	if (vblk_dev_set_serial(&a.d, "two-opens-a", 11))
		return vbt_fail(t, "%s", a.d.err);
	if (get_serial(t, &b.d.vq[0], idb2, "GET_ID on the second device"))
		return VBT_FAIL;
	if (memcmp(idb, idb2, sizeof(idb)))
		return vbt_fail(t, "SET_SERIAL on one device changed the other's serial to '%.20s'",
				(char *)idb2);

	/* Same backend, separate guest memories at the same gpas. */
	if (vbt_write_pat(t, &a.d.vq[0], 128, 8, 1, NULL) ||
	    vbt_verify_pat(t, &b.d.vq[0], 128, 8, 1, NULL) ||
	    vbt_write_pat(t, &b.d.vq[0], 256, 8, 2, NULL) ||
	    vbt_verify_pat(t, &a.d.vq[0], 256, 8, 2, NULL))
		return VBT_FAIL;
	vblk_dev_close(&a.d);
	if (vbt_write_pat(t, &b.d.vq[0], 384, 8, 3, NULL) ||
	    vbt_verify_pat(t, &b.d.vq[0], 384, 8, 3, NULL)) {
		vbt_prefix(t, "after closing the other device");
		return VBT_FAIL;
	}
	vblk_dev_close(&b.d);
	return VBT_PASS;
}

/* One ioctl that must fail: 0 if it did (errno in *err), else -1. */
static int must_fail(int fd, unsigned long req, void *arg, int *err)
{
	if (ioctl(fd, req, arg) == 0)
		return -1;
	*err = errno;
	return 0;
}

/* In a child process (another mm): must @req on the owner's fd fail? */
static int child_ioctl(int fd, unsigned long req, void *arg)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (!pid)
		_exit(ioctl(fd, req, arg) ? (errno & 0x7f) : 0);
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

int case_no_owner(struct vbt *t)
{
	struct {
		struct vhost_memory m;
		struct vhost_memory_region r;
	} table;
	struct vhost_vring_state s = { .index = 0, .num = 128 };
	struct vhost_vring_file kick = { .index = 0 };
	struct vhost_blk_backend be = { .fd = -1 };
	struct vbt_backend b;
	struct vblk_mem mem;
	int fd, e1, e2, e3, e4, e;
	char notes[256];

	if (vblk_mem_init(&mem, 1 << 20))
		return vbt_fail(t, "no memory");
	memset(&table, 0, sizeof(table));
	table.m.nregions = 1;
	table.r.guest_phys_addr = mem.reg[0].gpa;
	table.r.memory_size = mem.reg[0].size;
	table.r.userspace_addr = (uintptr_t)mem.reg[0].hva;
	kick.fd = eventfd(0, EFD_CLOEXEC);
	if (vbt_backend_open(t, &b, t->o->readonly))
		return VBT_FAIL;
	be.fd = b.fd;
	be.flags = t->o->readonly ? VHOST_BLK_BACKEND_F_READONLY : 0;
	fd = open(DEV_PATH, O_RDWR);
	if (fd < 0)
		return vbt_fail(t, "open %s: %s", DEV_PATH, strerror(errno));

	if (must_fail(fd, VHOST_SET_MEM_TABLE, &table.m, &e1))
		return vbt_fail(t, "VHOST_SET_MEM_TABLE without VHOST_SET_OWNER succeeded");
	if (must_fail(fd, VHOST_SET_VRING_NUM, &s, &e2))
		return vbt_fail(t, "VHOST_SET_VRING_NUM without VHOST_SET_OWNER succeeded");
	if (must_fail(fd, VHOST_SET_VRING_KICK, &kick, &e3))
		return vbt_fail(t, "VHOST_SET_VRING_KICK without VHOST_SET_OWNER succeeded");
	if (must_fail(fd, VHOST_BLK_SET_BACKEND, &be, &e4))
		return vbt_fail(t, "VHOST_BLK_SET_BACKEND without VHOST_SET_OWNER succeeded");
	snprintf(notes, sizeof(notes),
		 "without owner: SET_MEM_TABLE %s, SET_VRING_NUM %s, SET_VRING_KICK %s, SET_BACKEND %s",
		 vbt_errno_name(e1), vbt_errno_name(e2), vbt_errno_name(e3),
		 vbt_errno_name(e4));
	vbt_note(t, "%s", notes);
	if (e1 != EPERM || e2 != EPERM || e3 != EPERM)
		return vbt_fail(t, "expected EPERM from the vhost core; %s", notes);

	if (ioctl(fd, VHOST_SET_OWNER, NULL))
		return vbt_fail(t, "VHOST_SET_OWNER: %s", strerror(errno));
	if (must_fail(fd, VHOST_SET_OWNER, NULL, &e))
		return vbt_fail(t, "a second VHOST_SET_OWNER succeeded");
	if (e != EBUSY)
		return vbt_fail(t, "a second VHOST_SET_OWNER: expected EBUSY, got %s",
				vbt_errno_name(e));
	/* Another process holding the same file is not the owner. */
	e = child_ioctl(fd, VHOST_SET_MEM_TABLE, &table.m);
	if (e != EPERM)
		return vbt_fail(t, "VHOST_SET_MEM_TABLE from another process: expected EPERM, got %s",
				e < 0 ? "no answer" : vbt_errno_name(e));
	e = child_ioctl(fd, VHOST_BLK_SET_BACKEND, &be);
	if (!e)
		return vbt_fail(t, "VHOST_BLK_SET_BACKEND from another process succeeded");
	/* The owner itself may. */
	if (ioctl(fd, VHOST_SET_MEM_TABLE, &table.m))
		return vbt_fail(t, "VHOST_SET_MEM_TABLE by the owner: %s",
				strerror(errno));
	close(fd);
	close(b.fd);
	vblk_mem_destroy(&mem);
	return VBT_PASS;
}

struct feat {
	int bit;
	const char *name;
};

static const struct feat must_offer[] = {
	{ VIRTIO_F_VERSION_1, "VERSION_1" },
	{ VIRTIO_F_ANY_LAYOUT, "ANY_LAYOUT" },
	{ VIRTIO_RING_F_INDIRECT_DESC, "INDIRECT_DESC" },
	{ VIRTIO_RING_F_EVENT_IDX, "EVENT_IDX" },
	{ VIRTIO_F_NOTIFY_ON_EMPTY, "NOTIFY_ON_EMPTY" },
	{ VHOST_F_LOG_ALL, "LOG_ALL" },
	{ VIRTIO_BLK_F_SEG_MAX, "BLK_SEG_MAX" },
	{ VIRTIO_BLK_F_SIZE_MAX, "BLK_SIZE_MAX" },
	{ VIRTIO_BLK_F_BLK_SIZE, "BLK_BLK_SIZE" },
	{ VIRTIO_BLK_F_FLUSH, "BLK_FLUSH" },
	{ VIRTIO_BLK_F_CONFIG_WCE, "BLK_CONFIG_WCE" },
	{ VIRTIO_BLK_F_TOPOLOGY, "BLK_TOPOLOGY" },
	{ VIRTIO_BLK_F_MQ, "BLK_MQ" },
	{ VIRTIO_BLK_F_DISCARD, "BLK_DISCARD" },
	{ VIRTIO_BLK_F_WRITE_ZEROES, "BLK_WRITE_ZEROES" },
	{ VIRTIO_BLK_F_RO, "BLK_RO" },
};

int case_features(struct vbt *t)
{
	uint64_t f = 0, want;
	char missing[400] = "";
	unsigned int i;
	int fd, bit, noted = 0;

	fd = open(DEV_PATH, O_RDWR);
	if (fd < 0)
		return vbt_fail(t, "open %s: %s", DEV_PATH, strerror(errno));
	if (ioctl(fd, VHOST_SET_OWNER, NULL))
		return vbt_fail(t, "VHOST_SET_OWNER: %s", strerror(errno));
	if (ioctl(fd, VHOST_GET_FEATURES, &f))
		return vbt_fail(t, "VHOST_GET_FEATURES: %s", strerror(errno));
	vbt_note(t, "offered features %#" PRIx64, f);
	for (i = 0; i < sizeof(must_offer) / sizeof(must_offer[0]); i++)
		if (!(f & VBLK_F(must_offer[i].bit)))
			snprintf(missing + strlen(missing),
				 sizeof(missing) - strlen(missing), " %s",
				 must_offer[i].name);
	if (missing[0])
		return vbt_fail(t, "VHOST_GET_FEATURES %#" PRIx64 " lacks%s", f,
				missing);

	/* Every bit not offered must be refused, alone with the basics. */
	want = VBLK_FEATURES_DEFAULT;
	for (bit = 0; bit < 64; bit++) {
		uint64_t x = want | VBLK_F(bit);
		int e;

		if (f & VBLK_F(bit))
			continue;
		if (must_fail(fd, VHOST_SET_FEATURES, &x, &e))
			return vbt_fail(t, "VHOST_SET_FEATURES %#" PRIx64 " with unoffered bit %d succeeded",
					x, bit);
		if (e != EOPNOTSUPP && !noted++)
			vbt_note(t, "SET_FEATURES with unoffered bit %d: %s (vhost devices usually say EOPNOTSUPP)",
				 bit, vbt_errno_name(e));
	}
	if (ioctl(fd, VHOST_SET_FEATURES, &f))
		return vbt_fail(t, "VHOST_SET_FEATURES with everything offered: %s",
				strerror(errno));
	want = VBLK_F(VIRTIO_F_VERSION_1);
	if (ioctl(fd, VHOST_SET_FEATURES, &want))
		return vbt_fail(t, "VHOST_SET_FEATURES VERSION_1 alone: %s",
				strerror(errno));
	close(fd);
	return VBT_PASS;
}

/* SET_BACKEND that must fail with @want (0: with any error). */
static int attach_fails(struct vbt *t, struct vblk_dev *d, const char *what,
			struct vhost_blk_backend b, int want)
{
	int e;

	if (!must_fail(d->fd, VHOST_BLK_SET_BACKEND, &b, &e)) {
		if (want && e != want)
			return vbt_fail(t, "SET_BACKEND with %s: expected %s, got %s",
					what, vbt_errno_name(want),
					vbt_errno_name(e)), -1;
		return 0;
	}
	return vbt_fail(t, "SET_BACKEND with %s succeeded%s%s", what,
			want ? ", expected " : "",
			want ? vbt_errno_name(want) : ""), -1;
}

/* A regular file to attach: the backend if it is one, else a new one. */
/* A regular file on a file system with no block layout to give (shmem). */
static int regular_file_without_layout(void)
{
	int fd = memfd_create("vbt-file", MFD_CLOEXEC);

	if (fd >= 0 && ftruncate(fd, 1 << 20)) {
		close(fd);
		return -1;
	}
	return fd;
}

static int config_capacity(struct vbt *t, struct vblk_dev *d, uint64_t *cap)
{
	struct vhost_blk_config c;

	if (vblk_dev_get_config(d, &c))
		return vbt_fail(t, "%s", d->err), -1;
	*cap = c.capacity;
	return 0;
}

int case_backend_args(struct vbt *t)
{
	uint32_t base = t->o->readonly ? VHOST_BLK_BACKEND_F_READONLY : 0;
	struct vbt_backend be;
	struct vblk_dev d;
	uint64_t cap;
	int pfd[2], rfd, wfd, efd, hole, ffd;

	if (vbt_backend_open(t, &be, t->o->readonly))
		return VBT_FAIL;
#define B(...) ((struct vhost_blk_backend){ __VA_ARGS__ })
	/* Owner, features and memory, but no queue set up yet. */
	if (vblk_dev_open(&d, NULL) || vblk_dev_set_owner(&d) ||
	    vblk_dev_negotiate(&d, d.opts.features) ||
	    vblk_dev_set_mem_table(&d))
		return vbt_fail(t, "setting up the device: %s", d.err);
	if (attach_fails(t, &d, "no queue set up", B(.fd = be.fd, .flags = base),
			 EINVAL))
		return VBT_FAIL;
	if (vblk_dev_setup_vq(&d, 0))
		return vbt_fail(t, "setting up queue 0: %s", d.err);
	if (attach_fails(t, &d, "flags 0x2", B(.fd = be.fd, .flags = base | 2),
			 EINVAL) ||
	    attach_fails(t, &d, "flags 0x80000000",
			 B(.fd = be.fd, .flags = base | 0x80000000u), EINVAL) ||
	    attach_fails(t, &d, "reserved[0] 1",
			 B(.fd = be.fd, .flags = base, .reserved = { 1 }), EINVAL) ||
	    attach_fails(t, &d, "reserved[4] 1",
			 B(.fd = be.fd, .flags = base,
			   .reserved = { 0, 0, 0, 0, 1 }), EINVAL) ||
	    attach_fails(t, &d, "engine 3",
			 B(.fd = be.fd, .flags = base, .engine = 3), EINVAL) ||
	    attach_fails(t, &d, "engine 0xffffffff",
			 B(.fd = be.fd, .flags = base, .engine = 0xffffffffu),
			 EINVAL))
		return VBT_FAIL;

	/* A descriptor number that is not open, and -2. */
	hole = dup(be.fd);
	close(hole);
	if (attach_fails(t, &d, "a closed fd", B(.fd = hole, .flags = base),
			 EBADF) ||
	    attach_fails(t, &d, "fd -2", B(.fd = -2, .flags = base), EBADF))
		return VBT_FAIL;

	/* Things that are neither a regular file nor a block device. */
	if (pipe(pfd))
		return vbt_fail(t, "pipe: %s", strerror(errno));
	efd = eventfd(0, 0);
	if (attach_fails(t, &d, "a pipe", B(.fd = pfd[0], .flags = base),
			 EINVAL) ||
	    attach_fails(t, &d, "an eventfd", B(.fd = efd, .flags = base),
			 EINVAL))
		return VBT_FAIL;
	/* Not open for reading. */
	wfd = open(t->o->backend, O_WRONLY | O_CLOEXEC);
	if (wfd >= 0 &&
	    attach_fails(t, &d, "a write-only fd", B(.fd = wfd, .flags = base),
			 EBADF))
		return VBT_FAIL;
	rfd = open(t->o->backend, O_RDONLY | O_CLOEXEC);
	if (rfd < 0)
		return vbt_fail(t, "open %s read-only: %s", t->o->backend,
				strerror(errno));

	/* Engine BIO needs a block device, or a file with a block layout. */
	ffd = regular_file_without_layout();
	if (ffd < 0)
		return vbt_fail(t, "no regular file to attach: %s", strerror(errno));
	if (attach_fails(t, &d, "engine BIO on a file of shmem (no block layout)",
			 B(.fd = ffd, .flags = base,
			   .engine = VHOST_BLK_ENGINE_BIO), EOPNOTSUPP))
		return VBT_FAIL;

	if (config_capacity(t, &d, &cap))
		return VBT_FAIL;
	if (cap)
		return vbt_fail(t, "failed SET_BACKEND calls left a backend attached (capacity %" PRIu64 ")",
				cap);

	/* Attach, attach over it, detach with fd -1, attach again. */
	if (vblk_dev_attach(&d, be.fd, base, t->o->engine))
		return vbt_fail(t, "%s", d.err);
	if (config_capacity(t, &d, &cap))
		return VBT_FAIL;
	if (cap != be.size / VBLK_SECTOR)
		return vbt_fail(t, "capacity %" PRIu64 " after attaching, expected %" PRIu64,
				cap, be.size / VBLK_SECTOR);
	if (vblk_dev_attach(&d, be.fd, base, t->o->engine))
		return vbt_fail(t, "attaching over an attached backend: %s", d.err);
	if (vblk_dev_detach(&d))
		return vbt_fail(t, "detach: %s", d.err);
	if (config_capacity(t, &d, &cap))
		return VBT_FAIL;
	if (cap)
		return vbt_fail(t, "capacity %" PRIu64 " after detaching with fd -1, expected 0",
				cap);
	/* A file opened read-only makes a read-only device. */
	if (vblk_dev_attach(&d, rfd, 0, t->o->engine))
		return vbt_fail(t, "attaching a read-only fd without the READONLY flag: %s",
				d.err);
	if (vblk_dev_get_config(&d, NULL))
		return vbt_fail(t, "%s", d.err);
	if (d.cfg.read_only != 1)
		return vbt_fail(t, "read_only %u after attaching an fd opened O_RDONLY",
				d.cfg.read_only);
	if (vblk_dev_attach(&d, be.fd, base, t->o->engine))
		return vbt_fail(t, "attaching again: %s", d.err);
	close(be.fd);
	if (vbt_read_ok(t, &d.vq[0], 0, 8)) {
		vbt_prefix(t, "after attach, attach, detach, attach");
		return VBT_FAIL;
	}
#undef B
	close(pfd[0]);
	close(pfd[1]);
	close(efd);
	close(rfd);
	close(ffd);
	if (wfd >= 0)
		close(wfd);
	vblk_dev_close(&d);
	return VBT_PASS;
}

static bool pow2(uint32_t x)
{
	return x && !(x & (x - 1));
}

static int check_config(struct vbt *t, const struct vhost_blk_config *c,
			const struct vbt_backend *be, bool ro)
{
	uint32_t engine = vbt_expected_engine(t, be->is_blk);
	unsigned int i;

	if (c->capacity != be->size / VBLK_SECTOR)
		return vbt_fail(t, "capacity %llu, expected %" PRIu64 " (%" PRIu64 " bytes / 512)",
				(unsigned long long)c->capacity,
				be->size / VBLK_SECTOR, be->size), -1;
	if (!pow2(c->logical_block_size) || c->logical_block_size < 512 ||
	    c->logical_block_size > 65536 || !pow2(c->physical_block_size) ||
	    c->physical_block_size < c->logical_block_size)
		return vbt_fail(t, "block sizes logical %u physical %u",
				c->logical_block_size,
				c->physical_block_size), -1;
	if (be->is_blk) {
		int lbs = 0;
		unsigned int pbs = 0;
		int fd = open(t->o->backend, O_RDONLY | O_CLOEXEC);

		if (fd >= 0 && !ioctl(fd, BLKSSZGET, &lbs) &&
		    !ioctl(fd, BLKPBSZGET, &pbs) &&
		    (c->logical_block_size != (uint32_t)lbs ||
		     c->physical_block_size != pbs))
			return vbt_fail(t, "block sizes logical %u physical %u, the device has %d and %u",
					c->logical_block_size,
					c->physical_block_size, lbs, pbs), -1;
		if (fd >= 0)
			close(fd);
	}
	if (!c->max_segments || c->max_segment_size < 512)
		return vbt_fail(t, "max_segments %u max_segment_size %u",
				c->max_segments, c->max_segment_size), -1;
	if (c->engine != engine)
		return vbt_fail(t, "engine %u (%s), expected %s for a %s with --engine %s",
				c->engine, vblk_engine_name(c->engine),
				vblk_engine_name(engine),
				be->is_blk ? "block device" : "file",
				vblk_engine_name(t->o->engine)), -1;
	if (c->read_only != ro)
		return vbt_fail(t, "read_only %u, expected %u", c->read_only,
				ro), -1;
	if (c->max_discard_sectors && !c->max_discard_seg)
		return vbt_fail(t, "max_discard_sectors %u but max_discard_seg 0",
				c->max_discard_sectors), -1;
	if (c->max_write_zeroes_sectors && !c->max_write_zeroes_seg)
		return vbt_fail(t, "max_write_zeroes_sectors %u but max_write_zeroes_seg 0",
				c->max_write_zeroes_sectors), -1;
	if (c->num_queues < 1 || c->num_queues > VHOST_BLK_MAX_QUEUES)
		return vbt_fail(t, "num_queues %u", c->num_queues), -1;
	if (c->writeback != 1)
		return vbt_fail(t, "writeback %u on a new device, expected 1",
				c->writeback), -1;
	for (i = 0; i < sizeof(c->reserved) / sizeof(c->reserved[0]); i++)
		if (c->reserved[i])
			return vbt_fail(t, "reserved[%u] is %u", i,
					c->reserved[i]), -1;
	return 0;
}

int case_config(struct vbt *t)
{
	struct vhost_blk_config c;
	struct vbt_backend be;
	struct vblk_dev d;
	int e;

	if (vblk_dev_start(&d, NULL))
		return vbt_fail(t, "setting up the device: %s", d.err);
	memset(&c, 0, sizeof(c));
	c.flags = 1;
	if (!must_fail(d.fd, VHOST_BLK_GET_CONFIG, &c, &e)) {
		if (e != EINVAL)
			return vbt_fail(t, "GET_CONFIG with flags 1: expected EINVAL, got %s",
					vbt_errno_name(e));
	} else {
		return vbt_fail(t, "GET_CONFIG with flags 1 succeeded");
	}
	if (vblk_dev_get_config(&d, &c))
		return vbt_fail(t, "%s", d.err);
	if (c.capacity || c.logical_block_size != 512 ||
	    c.physical_block_size != 512 || c.engine != VHOST_BLK_ENGINE_AUTO)
		return vbt_fail(t, "without a backend: capacity %llu, block sizes %u/%u, engine %u; expected 0, 512/512, 0",
				(unsigned long long)c.capacity,
				c.logical_block_size, c.physical_block_size,
				c.engine);
	if (c.num_queues < 1 || c.num_queues > VHOST_BLK_MAX_QUEUES)
		return vbt_fail(t, "without a backend: num_queues %u",
				c.num_queues);

	if (vbt_backend_open(t, &be, t->o->readonly))
		return VBT_FAIL;
	if (vblk_dev_attach(&d, be.fd, t->o->readonly ?
			    VHOST_BLK_BACKEND_F_READONLY : 0, t->o->engine))
		return vbt_fail(t, "%s", d.err);
	if (vblk_dev_get_config(&d, &c))
		return vbt_fail(t, "%s", d.err);
	vbt_note(t, "capacity %llu, block %u/%u, segments %u x %u, discard %u sectors x %u (align %u), write zeroes %u x %u (unmap %u), %u queues, engine %s, read_only %u",
		 (unsigned long long)c.capacity, c.logical_block_size,
		 c.physical_block_size, c.max_segments, c.max_segment_size,
		 c.max_discard_sectors, c.max_discard_seg,
		 c.discard_sector_alignment, c.max_write_zeroes_sectors,
		 c.max_write_zeroes_seg, c.write_zeroes_may_unmap, c.num_queues,
		 vblk_engine_name(c.engine), c.read_only);
	if (check_config(t, &c, &be, t->o->readonly))
		return VBT_FAIL;
	close(be.fd);

	if (!t->o->readonly) {
		/* The READONLY flag shows in read_only. */
		if (vblk_dev_detach(&d))
			return vbt_fail(t, "detach: %s", d.err);
		if (vbt_backend_open(t, &be, true))
			return VBT_FAIL;
		if (vblk_dev_attach(&d, be.fd, VHOST_BLK_BACKEND_F_READONLY,
				    t->o->engine))
			return vbt_fail(t, "read-only attach: %s", d.err);
		if (vblk_dev_get_config(&d, &c))
			return vbt_fail(t, "%s", d.err);
		if (c.read_only != 1)
			return vbt_fail(t, "read_only %u after attaching with VHOST_BLK_BACKEND_F_READONLY",
					c.read_only);
		close(be.fd);
	}
	vblk_dev_close(&d);
	return VBT_PASS;
}
