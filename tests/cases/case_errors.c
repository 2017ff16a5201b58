// SPDX-License-Identifier: GPL-2.0-only
/* Well-formed requests the device must refuse: status UNSUPP or IOERR. */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vbt.h"

/* A request of @type with one data segment of @len bytes (none if 0). */
static int one(struct vbt *t, struct vblk_vq *vq, uint32_t type,
	       enum vblk_dir dir, uint64_t sector, uint8_t *buf, uint32_t len,
	       int want, long want_used, const char *what)
{
	struct vblk_seg seg = { buf, len };
	struct vblk_req r = {
		.type = type, .sector = sector, .seg = &seg, .nseg = len ? 1 : 0,
		.dir = dir,
	};
	int ret = vblk_req_run(vq, &r);

	return vbt_expect_req(t, vq, what, ret, &r, want, want_used);
}

int case_bad_type(struct vbt *t)
{
	static const uint32_t types[] = {
		2, 3, 5, 10, 14, 15, 16, 18, 0xff, 0x80000000u, 0x80000001u,
		0xffffffffu,
	};
	struct vbt_dev v;
	struct vblk_vq *vq;
	uint8_t *buf;
	unsigned int i, k;
	char what[96];

	if (vbt_dev_up(t, &v, NULL, 0))
		return VBT_FAIL;
	vq = &v.d.vq[0];
	buf = vblk_mem_alloc(&v.d.mem, 4096, 4096);
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		snprintf(what, sizeof(what), "type %#x without data", types[i]);
		if (one(t, vq, types[i], VBLK_DIR_AUTO, 0, NULL, 0,
			VIRTIO_BLK_S_UNSUPP, 1, what))
			return VBT_FAIL;
		memset(buf, 0xa5, 4096);
		snprintf(what, sizeof(what), "type %#x with 4096 writable bytes",
			 types[i]);
		if (one(t, vq, types[i], VBLK_DIR_IN, 0, buf, 4096,
			VIRTIO_BLK_S_UNSUPP, 1, what))
			return VBT_FAIL;
		for (k = 0; k < 4096; k++)
			if (buf[k] != 0xa5)
				return vbt_fail(t, "%s: byte %u of the data was written",
						what, k);
		snprintf(what, sizeof(what), "type %#x with 4096 readable bytes",
			 types[i]);
		if (one(t, vq, types[i], VBLK_DIR_OUT, 0, buf, 4096,
			VIRTIO_BLK_S_UNSUPP, 1, what))
			return VBT_FAIL;
	}
	vblk_dev_close(&v.d);
	return VBT_PASS;
}

int case_bad_range(struct vbt *t)
{
	struct vbt_dev v;
	struct vblk_vq *vq;
	uint64_t cap, lb;
	uint32_t lbs;
	uint8_t *buf;
	char what[128];
	static const uint64_t far[] = {
		UINT64_MAX, UINT64_MAX - 7, 1ULL << 55, 1ULL << 63,
	};
	static const uint32_t odd[] = { 1, 511, 513, 1000, 4097, 65535 };
	unsigned int i;

	if (vbt_dev_up(t, &v, NULL, 0))
		return VBT_FAIL;
	vq = &v.d.vq[0];
	cap = v.cfg.capacity;
	lbs = v.cfg.logical_block_size;
	lb = cap - lbs / VBLK_SECTOR;	/* the last logical block */
	buf = vblk_mem_alloc(&v.d.mem, 65536 + 4096, 4096);

	snprintf(what, sizeof(what), "read of the last block (sector %" PRIu64 ")",
		 lb);
	if (one(t, vq, VIRTIO_BLK_T_IN, VBLK_DIR_AUTO, lb, buf, lbs,
		VIRTIO_BLK_S_OK, lbs + 1, what))
		return VBT_FAIL;
	snprintf(what, sizeof(what), "read at sector %" PRIu64 " (= capacity)",
		 cap);
	if (one(t, vq, VIRTIO_BLK_T_IN, VBLK_DIR_AUTO, cap, buf, lbs,
		VIRTIO_BLK_S_IOERR, 1, what))
		return VBT_FAIL;
	snprintf(what, sizeof(what), "read of 2 blocks at the last block (sector %" PRIu64 ")",
		 lb);
	if (one(t, vq, VIRTIO_BLK_T_IN, VBLK_DIR_AUTO, lb, buf, 2 * lbs,
		VIRTIO_BLK_S_IOERR, 1, what))
		return VBT_FAIL;
	for (i = 0; i < sizeof(far) / sizeof(far[0]); i++) {
		snprintf(what, sizeof(what), "read at sector %#" PRIx64, far[i]);
		if (one(t, vq, VIRTIO_BLK_T_IN, VBLK_DIR_AUTO, far[i], buf, lbs,
			VIRTIO_BLK_S_IOERR, 1, what))
			return VBT_FAIL;
	}
	for (i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
		snprintf(what, sizeof(what), "read of %u bytes (not a multiple of 512)",
			 odd[i]);
		if (one(t, vq, VIRTIO_BLK_T_IN, VBLK_DIR_AUTO, 0, buf, odd[i],
			VIRTIO_BLK_S_IOERR, 1, what))
			return VBT_FAIL;
	}
	if (lbs > VBLK_SECTOR) {
		if (one(t, vq, VIRTIO_BLK_T_IN, VBLK_DIR_AUTO, 0, buf, 512,
			VIRTIO_BLK_S_IOERR, 1,
			"read of 512 bytes from a device of larger logical blocks") ||
		    one(t, vq, VIRTIO_BLK_T_IN, VBLK_DIR_AUTO, 1, buf, lbs,
			VIRTIO_BLK_S_IOERR, 1,
			"read at a sector not aligned to the logical block size"))
			return VBT_FAIL;
	}
	if (t->o->readonly) {
		vblk_dev_close(&v.d);
		return VBT_PASS;
	}

	/* Writes: refused, and nothing written. */
	if (vbt_write_pat(t, vq, lb, lbs / VBLK_SECTOR, 1, NULL) ||
	    vbt_write_pat(t, vq, 1024, 16, 1, NULL))
		return VBT_FAIL;
	vblk_pat_fill(buf, lb, 2 * lbs / VBLK_SECTOR, t->seed, 2);
	snprintf(what, sizeof(what), "write of 2 blocks at the last block (sector %" PRIu64 ")",
		 lb);
	if (one(t, vq, VIRTIO_BLK_T_OUT, VBLK_DIR_AUTO, lb, buf, 2 * lbs,
		VIRTIO_BLK_S_IOERR, 1, what))
		return VBT_FAIL;
	if (one(t, vq, VIRTIO_BLK_T_OUT, VBLK_DIR_AUTO, cap, buf, lbs,
		VIRTIO_BLK_S_IOERR, 1, "write at sector = capacity") ||
	    one(t, vq, VIRTIO_BLK_T_OUT, VBLK_DIR_AUTO, UINT64_MAX, buf, lbs,
		VIRTIO_BLK_S_IOERR, 1, "write at sector 2^64 - 1"))
		return VBT_FAIL;
	vblk_pat_fill(buf, 1024, 16, t->seed, 2);
	for (i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
		snprintf(what, sizeof(what), "write of %u bytes (not a multiple of 512)",
			 odd[i]);
		if (one(t, vq, VIRTIO_BLK_T_OUT, VBLK_DIR_AUTO, 1024, buf, odd[i],
			VIRTIO_BLK_S_IOERR, 1, what))
			return VBT_FAIL;
	}
	if (vbt_verify_pat(t, vq, lb, lbs / VBLK_SECTOR, 1, NULL) ||
	    vbt_verify_pat(t, vq, 1024, 16, 1, NULL)) {
		vbt_prefix(t, "a refused write changed data");
		return VBT_FAIL;
	}
	vblk_dev_close(&v.d);
	return VBT_PASS;
}

/* The backend's bytes [off, off + len) read with pread, past any cache. */
static int backend_bytes(struct vbt *t, uint64_t off, uint8_t *out,
			 size_t len)
{
	int fd = open(t->o->backend, O_RDONLY | O_DIRECT | O_CLOEXEC);
	void *buf = NULL;
	ssize_t n;

	if (fd < 0)
		fd = open(t->o->backend, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return vbt_fail(t, "open %s: %s", t->o->backend,
				strerror(errno)), -1;
	if (posix_memalign(&buf, 4096, len))
		return vbt_fail(t, "out of memory"), -1;
	n = pread(fd, buf, len, (off_t)off);
	close(fd);
	if (n != (ssize_t)len)
		return vbt_fail(t, "pread of the backend: %s",
				n < 0 ? strerror(errno) : "short read"), -1;
	memcpy(out, buf, len);
	free(buf);
	return 0;
}

/*
 * DISCARD and WRITE_ZEROES (with and without UNMAP) of [s, s + n) on a
 * read-only device: a guest may send them though the device offers none
 * (0 limits), the features stay negotiated. Each must fail: UNSUPP (the
 * backend has no such command: req.c checks that first) or IOERR (it has,
 * but may not write). That nothing changed is the caller's to check.
 */
static int refuse_dwz(struct vbt *t, struct vblk_vq *vq, uint64_t s,
		      uint32_t n, const char *where)
{
	static const char *const name[] = {
		"WRITE_ZEROES", "WRITE_ZEROES (UNMAP)", "DISCARD"
	};
	char what[160];
	unsigned int i;
	int st;

	for (i = 0; i < 3; i++) {
		st = i == 2 ? vblk_discard(vq, s, n) :
			      vblk_write_zeroes(vq, s, n, i == 1);
		if (st == VIRTIO_BLK_S_IOERR || st == VIRTIO_BLK_S_UNSUPP)
			continue;
		snprintf(what, sizeof(what), "%s on %s", name[i], where);
		return vbt_expect(t, vq, what, st, 0, VIRTIO_BLK_S_IOERR, -1),
		       -1;
	}
	return 0;
}

int case_read_only(struct vbt *t)
{
	const uint64_t s = 2048;
	const uint32_t n = 16;
	uint8_t before[8192], after[8192];
	struct vbt_dev v;
	struct vblk_vq *vq;
	uint8_t *buf;
	uint32_t used = 0;
	int st;

	if (!t->o->readonly) {
		/* Something known to protect. */
		if (vbt_dev_up(t, &v, NULL, 0) ||
		    vbt_write_pat(t, &v.d.vq[0], s, n, 7, NULL))
			return VBT_FAIL;
		st = vblk_flush(&v.d.vq[0], &used);
		if (vbt_expect(t, &v.d.vq[0], "FLUSH", st, used,
			       VIRTIO_BLK_S_OK, 1))
			return VBT_FAIL;
		vblk_dev_close(&v.d);
	}
	if (backend_bytes(t, s * VBLK_SECTOR, before, sizeof(before)))
		return VBT_FAIL;
	if (vbt_dev_up(t, &v, NULL, VHOST_BLK_BACKEND_F_READONLY))
		return VBT_FAIL;
	vq = &v.d.vq[0];
	if (v.cfg.read_only != 1)
		return vbt_fail(t, "GET_CONFIG read_only is %u on a read-only backend",
				v.cfg.read_only);
	buf = vblk_mem_alloc(&v.d.mem, n * VBLK_SECTOR, 4096);
	vblk_pat_fill(buf, s, n, t->seed, 8);
	st = vblk_rw(vq, VIRTIO_BLK_T_OUT, s, buf, n * VBLK_SECTOR, NULL, &used);
	if (vbt_expect(t, vq, "write to a read-only backend", st, used,
		       VIRTIO_BLK_S_IOERR, 1))
		return VBT_FAIL;
	/*
	 * A read-only device offers no DISCARD or WRITE_ZEROES (0 limits),
	 * but the features stay negotiated, so a guest may send them anyway:
	 * each must fail, UNSUPP (the backend has no such command, req.c
	 * checks that first) or IOERR (it has, but may not write), and
	 * change nothing (checked below, through the device and on the
	 * backend).
	 */
	if (v.cfg.max_write_zeroes_sectors || v.cfg.max_discard_sectors)
		return vbt_fail(t, "GET_CONFIG on a read-only backend: max_discard_sectors %u, max_write_zeroes_sectors %u (0 expected)",
				v.cfg.max_discard_sectors,
				v.cfg.max_write_zeroes_sectors);
	if (refuse_dwz(t, vq, s, n, "a read-only backend"))
		return VBT_FAIL;
	if (!t->o->readonly && vbt_verify_pat(t, vq, s, n, 7, NULL)) {
		vbt_prefix(t, "after refused writes to a read-only backend");
		return VBT_FAIL;
	}
	if (!t->o->readonly) {
		/* The flag alone, on a file the device could write. */
		struct vbt_backend be;

		if (vbt_backend_open(t, &be, false))
			return VBT_FAIL;
		if (vblk_dev_attach(&v.d, be.fd, VHOST_BLK_BACKEND_F_READONLY,
				    t->o->engine))
			return vbt_fail(t, "%s", v.d.err);
		close(be.fd);
		st = vblk_rw(vq, VIRTIO_BLK_T_OUT, s, buf, n * VBLK_SECTOR, NULL,
			     &used);
		if (vbt_expect(t, vq, "write with VHOST_BLK_BACKEND_F_READONLY on a read-write fd",
			       st, used, VIRTIO_BLK_S_IOERR, 1) ||
		    refuse_dwz(t, vq, s, n,
			       "VHOST_BLK_BACKEND_F_READONLY on a read-write fd"))
			return VBT_FAIL;
		if (vbt_verify_pat(t, vq, s, n, 7, NULL)) {
			vbt_prefix(t, "after a refused write with VHOST_BLK_BACKEND_F_READONLY");
			return VBT_FAIL;
		}
	}
	if (t->o->readonly) {
		st = vblk_rw(vq, VIRTIO_BLK_T_IN, s, buf, n * VBLK_SECTOR, NULL,
			     &used);
		if (vbt_expect(t, vq, "read from a read-only backend", st, used,
			       VIRTIO_BLK_S_OK, n * VBLK_SECTOR + 1))
			return VBT_FAIL;
	}
	vblk_dev_close(&v.d);
	if (backend_bytes(t, s * VBLK_SECTOR, after, sizeof(after)))
		return VBT_FAIL;
	if (memcmp(before, after, sizeof(before)))
		return vbt_fail(t, "the backend file changed under a read-only attach");
	return VBT_PASS;
}
