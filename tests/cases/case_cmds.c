// SPDX-License-Identifier: GPL-2.0-only
/* FLUSH, GET_ID, DISCARD and WRITE_ZEROES requests that should work. */
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "vbt.h"

int case_flush(struct vbt *t)
{
	struct vbt_dev v;
	uint32_t used = 0;
	int st;

	if (vbt_dev_up(t, &v, NULL, 0))
		return VBT_FAIL;
	st = vblk_flush(&v.d.vq[0], &used);
	if (vbt_expect(t, &v.d.vq[0], "FLUSH", st, used, VIRTIO_BLK_S_OK, 1))
		return VBT_FAIL;
	if (!t->o->readonly) {
		if (vbt_write_pat(t, &v.d.vq[0], 512, 8, 1, NULL))
			return VBT_FAIL;
		st = vblk_flush(&v.d.vq[0], &used);
		if (vbt_expect(t, &v.d.vq[0], "FLUSH after a write", st, used,
			       VIRTIO_BLK_S_OK, 1))
			return VBT_FAIL;
	}
	vblk_dev_close(&v.d);
	return VBT_PASS;
}

static bool is_hex(uint8_t c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
	       (c >= 'A' && c <= 'F');
}

/* GET_ID with a @len-byte buffer: expect @want padded with NULs. */
static int expect_id(struct vbt *t, struct vblk_vq *vq, size_t len,
		     const char *want, size_t want_len, const char *what)
{
	uint8_t *buf = vblk_mem_alloc(vq->mem, 512, 512);
	size_t n = len < VHOST_BLK_SERIAL_LEN ? len : VHOST_BLK_SERIAL_LEN, i;
	uint32_t used = 0;
	int st;

	memset(buf, 0xa5, 512);
	st = vblk_get_id(vq, buf, len, &used);
	if (vbt_expect(t, vq, what, st, used, VIRTIO_BLK_S_OK, (long)n + 1))
		return -1;
	for (i = 0; i < n; i++) {
		uint8_t w = i < want_len ? (uint8_t)want[i] : 0;

		if (buf[i] != w)
			return vbt_fail(t, "%s: byte %zu is %#x, expected %#x (id '%.20s')",
					what, i, buf[i], w, (char *)buf), -1;
	}
	for (; i < 512; i++)
		if (buf[i] != 0xa5)
			return vbt_fail(t, "%s: %zu-byte buffer, but byte %zu was written",
					what, len, i), -1;
	vblk_mem_free(vq->mem, buf);
	return 0;
}

int case_get_id(struct vbt *t)
{
	struct vhost_blk_serial s;
	struct vbt_dev v;
	struct vblk_vq *vq;
	uint8_t *buf;
	uint32_t used = 0;
	unsigned int i;
	int st;

	if (vbt_dev_up(t, &v, NULL, 0))
		return VBT_FAIL;
	vq = &v.d.vq[0];
	buf = vblk_mem_alloc(&v.d.mem, 512, 512);
	memset(buf, 0xa5, 512);
	st = vblk_get_id(vq, buf, VHOST_BLK_SERIAL_LEN, &used);
	if (vbt_expect(t, vq, "GET_ID", st, used, VIRTIO_BLK_S_OK, 21))
		return VBT_FAIL;
	if (memcmp(buf, "vhost-blk-", 10))
		return vbt_fail(t, "default serial '%.20s' does not start with 'vhost-blk-'",
				(char *)buf);
	for (i = 10; i < 18; i++)
		if (!is_hex(buf[i]))
			return vbt_fail(t, "default serial '%.20s': byte %u is not a hex digit",
					(char *)buf, i);
	if (buf[18] || buf[19])
		return vbt_fail(t, "default serial '%.20s' is not NUL padded to 20 bytes",
				(char *)buf);
	vbt_note(t, "default serial %.18s", (char *)buf);

	if (vblk_dev_set_serial(&v.d, "hello", 5))
		return vbt_fail(t, "%s", v.d.err);
	if (expect_id(t, vq, 20, "hello", 5, "GET_ID after SET_SERIAL 'hello'") ||
	    expect_id(t, vq, 64, "hello", 5, "GET_ID into 64 bytes") ||
	    expect_id(t, vq, 3, "hello", 5, "GET_ID into 3 bytes"))
		return VBT_FAIL;
	if (vblk_dev_set_serial(&v.d, "ABCDEFGHIJKLMNOPQRST", 20))
		return vbt_fail(t, "%s", v.d.err);
	if (expect_id(t, vq, 20, "ABCDEFGHIJKLMNOPQRST", 20,
		      "GET_ID after a 20-byte SET_SERIAL") ||
	    expect_id(t, vq, 8, "ABCDEFGHIJKLMNOPQRST", 20,
		      "GET_ID into 8 bytes"))
		return VBT_FAIL;

	memset(&s, 0, sizeof(s));
	s.flags = 1;
	memcpy(s.id, "flags", 5);
	if (!ioctl(v.d.fd, VHOST_BLK_SET_SERIAL, &s))
		return vbt_fail(t, "SET_SERIAL with flags 1 succeeded");
	if (errno != EINVAL)
		return vbt_fail(t, "SET_SERIAL with flags 1: expected EINVAL, got %s",
				vbt_errno_name(errno));
	if (expect_id(t, vq, 20, "ABCDEFGHIJKLMNOPQRST", 20,
		      "GET_ID after a refused SET_SERIAL"))
		return VBT_FAIL;
	vblk_dev_close(&v.d);
	return VBT_PASS;
}

/*
 * Each block of [sector, sector + n): zeros, or (when @may_keep) still the
 * pattern of write @gen.
 */
static int expect_zeroed(struct vbt *t, struct vblk_vq *vq, uint64_t sector,
			 uint32_t n, uint64_t gen, bool may_keep,
			 const char *what, uint32_t *kept_out)
{
	size_t len = (size_t)n * VBLK_SECTOR;
	uint8_t *buf = vblk_mem_alloc(vq->mem, len, 4096);
	uint32_t used = 0, k, kept = 0;
	int st;

	if (!buf)
		return vbt_fail(t, "guest memory exhausted"), -1;
	st = vblk_rw(vq, VIRTIO_BLK_T_IN, sector, buf, len, NULL, &used);
	if (vbt_expect(t, vq, what, st, used, VIRTIO_BLK_S_OK, (long)len + 1))
		return -1;
	for (k = 0; k < n; k++) {
		const uint8_t *b = buf + (size_t)k * VBLK_SECTOR;
		enum vblk_pat_result r = vblk_pat_check(b, sector + k, t->seed,
							gen, NULL);

		if (r == VBLK_PAT_ZERO)
			continue;
		if (may_keep && r == VBLK_PAT_OK) {
			kept++;
			continue;
		}
		return vbt_fail(t, "%s: sector %" PRIu64 " is neither zeros%s (result %d)",
				what, sector + k,
				may_keep ? " nor its old data" : "", r), -1;
	}
	if (kept)
		vbt_note(t, "%s: %u of %u sectors kept their data (allowed for discard on a block device)",
			 what, kept, n);
	if (kept_out)
		*kept_out += kept;
	vblk_mem_free(vq->mem, buf);
	return 0;
}

/* Fill [s - 16, s + n + 16) with write @gen, zero [s, s + n) with @type
 * and check inside and around. */
static int zero_range(struct vbt *t, struct vblk_vq *vq, uint32_t type,
		      uint64_t s, uint32_t n, uint32_t flags, uint64_t gen,
		      bool may_keep, uint32_t *kept)
{
	struct virtio_blk_discard_write_zeroes seg = {
		.sector = htole64(s), .num_sectors = htole32(n),
		.flags = htole32(flags),
	};
	char what[128], tb[32];
	uint32_t used = 0;
	int st;

	snprintf(what, sizeof(what), "%s%s of %u sectors at %" PRIu64,
		 vblk_type_str(type, tb, sizeof(tb)), flags ? " (UNMAP)" : "",
		 n, s);
	if (vbt_write_pat(t, vq, s - 16, n + 32, gen, NULL))
		return -1;
	st = vblk_discard_type(vq, type, &seg, 1, &used);
	if (vbt_expect(t, vq, what, st, used, VIRTIO_BLK_S_OK, 1) ||
	    expect_zeroed(t, vq, s, n, gen, may_keep, what, kept))
		return -1;
	if (vbt_verify_pat(t, vq, s - 16, 16, gen, NULL) ||
	    vbt_verify_pat(t, vq, s + n, 16, gen, NULL)) {
		vbt_prefix(t, "data next to a %s changed", what);
		return -1;
	}
	return 0;
}

/* Several segments with gaps: zeros in each, the gaps intact. */
static int zero_segments(struct vbt *t, struct vblk_vq *vq, uint32_t type,
			 uint64_t s, uint32_t nseg, uint32_t len, uint32_t flags,
			 uint64_t gen, bool may_keep, uint32_t *kept)
{
	struct virtio_blk_discard_write_zeroes seg[64];
	uint32_t used = 0, k;
	char what[128], tb[32];
	int st;

	if (nseg > 64)
		nseg = 64;
	snprintf(what, sizeof(what), "%s of %u segments of %u sectors at %" PRIu64,
		 vblk_type_str(type, tb, sizeof(tb)), nseg, len, s);
	if (vbt_write_pat(t, vq, s, 2 * len * nseg, gen, NULL))
		return -1;
	for (k = 0; k < nseg; k++) {
		seg[k].sector = htole64(s + 2 * len * k);
		seg[k].num_sectors = htole32(len);
		seg[k].flags = htole32(k & 1 ? flags : 0);
	}
	st = vblk_discard_type(vq, type, seg, nseg, &used);
	if (vbt_expect(t, vq, what, st, used, VIRTIO_BLK_S_OK, 1))
		return -1;
	for (k = 0; k < nseg; k++)
		if (expect_zeroed(t, vq, s + 2 * len * k, len, gen, may_keep,
				  what, kept) ||
		    vbt_verify_pat(t, vq, s + 2 * len * k + len, len, gen, NULL))
			return -1;
	return 0;
}

/*
 * Sectors the block device @path says it discarded so far (field 14 of
 * /sys/dev/block/MAJ:MIN/stat), or -1 when it keeps no such count (brd
 * keeps none; its discard frees pages, which read back as zeros).
 */
static int64_t discarded_sectors(const char *path)
{
	unsigned long long f[14];
	char sys[64];
	struct stat st;
	FILE *fp;
	int n;

	if (stat(path, &st) || !S_ISBLK(st.st_mode))
		return -1;
	snprintf(sys, sizeof(sys), "/sys/dev/block/%u:%u/stat",
		 major(st.st_rdev), minor(st.st_rdev));
	fp = fopen(sys, "r");
	if (!fp)
		return -1;
	n = fscanf(fp, "%llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu",
		   &f[0], &f[1], &f[2], &f[3], &f[4], &f[5], &f[6], &f[7],
		   &f[8], &f[9], &f[10], &f[11], &f[12], &f[13]);
	fclose(fp);
	return n == 14 ? (int64_t)f[13] : -1;
}

/*
 * A DISCARD of @n sectors on a block device that left @kept of them with
 * their data: allowed only if the device saw a discard of them all (its
 * stats went up by @n since @before). One that reads back zeros is seen to
 * have discarded. A device that did neither was never asked: the guest's
 * DISCARD completed OK, yet did nothing.
 */
static int discard_seen(struct vbt *t, int64_t before, uint32_t n,
			uint32_t kept, const char *what)
{
	int64_t after;

	if (!kept)
		return 0;
	after = discarded_sectors(t->o->backend);
	if (before < 0 || after < 0)
		return vbt_fail(t, "%s: %u of %u sectors kept their data, and %s keeps no discard count to show the device was asked",
				what, kept, n, t->o->backend), -1;
	if (after - before < n)
		return vbt_fail(t, "%s: %u of %u sectors kept their data, and %s counted %" PRId64 " sectors discarded (%u expected): the discard did not reach the device",
				what, kept, n, t->o->backend, after - before,
				n), -1;
	vbt_note(t, "%s: the device counted %" PRId64 " sectors discarded",
		 what, after - before);
	return 0;
}

int case_discard(struct vbt *t)
{
	struct vbt_dev v;
	uint64_t align, s;
	uint32_t n, kept = 0;
	int64_t before;
	bool keep;
	int st;

	if (vbt_dev_up(t, &v, NULL, 0))
		return VBT_FAIL;
	if (!v.cfg.max_discard_sectors)
		return vbt_skip(t, "GET_CONFIG says max_discard_sectors is 0 (no discard for this backend)");
	/* Discard on a block device may leave the data; on a file it is a
	 * hole punch and reads back zeros. */
	keep = v.be.is_blk;
	align = v.cfg.discard_sector_alignment;
	if (align < vbt_lbs_sectors(&v))
		align = vbt_lbs_sectors(&v);
	if (align < 8)
		align = 8;
	s = vblk_align_up(98304, align);
	n = (uint32_t)vblk_align_up(256, align);
	if (n > v.cfg.max_discard_sectors)
		n = v.cfg.max_discard_sectors / align * align;
	if (!n)
		return vbt_skip(t, "max_discard_sectors %u is below the alignment %" PRIu64,
				v.cfg.max_discard_sectors, align);
	before = discarded_sectors(t->o->backend);
	if (zero_range(t, &v.d.vq[0], VIRTIO_BLK_T_DISCARD, s, n, 0, 1, keep,
		       &kept) ||
	    discard_seen(t, before, n, kept, "DISCARD of one range"))
		return VBT_FAIL;
	before = discarded_sectors(t->o->backend);
	kept = 0;
	if (zero_segments(t, &v.d.vq[0], VIRTIO_BLK_T_DISCARD,
			  s + vblk_align_up(2 * n, align), v.cfg.max_discard_seg,
			  (uint32_t)align, 0, 2, keep, &kept) ||
	    discard_seen(t, before,
			 (v.cfg.max_discard_seg > 64 ? 64 : v.cfg.max_discard_seg) *
			 (uint32_t)align, kept, "DISCARD of several segments"))
		return VBT_FAIL;
	/* UNMAP belongs to WRITE_ZEROES only. */
	{
		struct virtio_blk_discard_write_zeroes seg = {
			.sector = htole64(s), .num_sectors = htole32(n),
			.flags = htole32(VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP),
		};
		uint32_t used = 0;

		if (vbt_write_pat(t, &v.d.vq[0], s, n, 3, NULL))
			return VBT_FAIL;
		st = vblk_discard_type(&v.d.vq[0], VIRTIO_BLK_T_DISCARD, &seg, 1,
				       &used);
		if (vbt_expect(t, &v.d.vq[0], "DISCARD with the UNMAP flag", st,
			       used, VIRTIO_BLK_S_UNSUPP, 1) ||
		    vbt_verify_pat(t, &v.d.vq[0], s, n, 3, NULL))
			return VBT_FAIL;
	}
	vblk_dev_close(&v.d);
	return VBT_PASS;
}

int case_write_zeroes(struct vbt *t)
{
	struct vbt_dev v;
	uint64_t s;
	uint32_t n, a;

	if (vbt_dev_up(t, &v, NULL, 0))
		return VBT_FAIL;
	if (!v.cfg.max_write_zeroes_sectors)
		return vbt_skip(t, "GET_CONFIG says max_write_zeroes_sectors is 0");
	a = vbt_lbs_sectors(&v) < 8 ? 8 : vbt_lbs_sectors(&v);
	s = 114688;
	n = 256 < v.cfg.max_write_zeroes_sectors ? 256 :
	    v.cfg.max_write_zeroes_sectors / a * a;
	if (zero_range(t, &v.d.vq[0], VIRTIO_BLK_T_WRITE_ZEROES, s, n, 0, 1,
		       false, NULL) ||
	    zero_range(t, &v.d.vq[0], VIRTIO_BLK_T_WRITE_ZEROES, s + 1024, n,
		       VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP, 2, false, NULL) ||
	    zero_range(t, &v.d.vq[0], VIRTIO_BLK_T_WRITE_ZEROES, s + 2048, a, 0,
		       3, false, NULL) ||
	    zero_segments(t, &v.d.vq[0], VIRTIO_BLK_T_WRITE_ZEROES, s + 4096,
			  v.cfg.max_write_zeroes_seg, a,
			  VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP, 4, false, NULL))
		return VBT_FAIL;
	vblk_dev_close(&v.d);
	return VBT_PASS;
}
