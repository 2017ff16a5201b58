// SPDX-License-Identifier: GPL-2.0-only
/*
 * Malformed requests the module parses (no status byte, short header, no
 * data, past seg_max, a descriptor across two memory regions, bad discard
 * segments, a head offered twice):
 * each must complete as docs/api.md says and leave the queue usable.
 * Chains that break the ring are in case_broken.c.
 */
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include "vbt.h"

#define ERR_WAIT_MS	5000

/* A chain under construction: descriptors given by guest buffers. */
struct chain {
	struct vblk_raw_desc d[8];
	unsigned int n;
	struct vblk_mem *m;
};

static void add(struct chain *c, const void *p, uint32_t len, bool write)
{
	c->d[c->n++] = (struct vblk_raw_desc){
		.addr = vbt_gpa(c->m, p, len ? len : 1), .len = len,
		.flags = write ? VRING_DESC_F_WRITE : 0,
	};
}

static uint8_t *status_byte(struct vblk_mem *m)
{
	uint8_t *s = vblk_mem_alloc(m, 1, 1);

	*s = VBLK_STATUS_UNSET;
	return s;
}

/* The queue still serves normal requests. */
static int usable(struct vbt *t, struct vblk_vq *vq, const char *after)
{
	if (vbt_read_ok(t, vq, 0, 8) ||
	    (!t->o->readonly &&
	     (vbt_write_pat(t, vq, 4000, 8, 77, NULL) ||
	      vbt_verify_pat(t, vq, 4000, 8, 77, NULL)))) {
		vbt_prefix(t, "the queue is unusable after %s", after);
		return -1;
	}
	return 0;
}

/*
 * The error eventfd has not been signalled since it counted @e0: a request
 * the guest got wrong, in a chain that is fine, fails alone (IOERR or
 * UNSUPP); the ring is not broken. The device signals before it completes,
 * so a signal for this request is there by the time it completed.
 */
static int no_ring_error(struct vbt *t, struct vblk_vq *vq, const char *what,
			 uint64_t e0)
{
	uint64_t e = vblk_vq_errors(vq);

	if (e != e0)
		return vbt_fail(t, "%s: completed as expected, but the error eventfd was signalled (%" PRIu64 " times): a per-request error must not report a broken ring",
				what, e - e0), -1;
	return 0;
}

/*
 * Run chain @c; expect used length @want_used and, when @status is given,
 * status @want; with @want_err, a signal on the error eventfd, without,
 * none. Then the queue must still serve normal requests.
 */
static int expect_chain(struct vbt *t, struct vblk_vq *vq, const char *what,
			struct chain *c, bool indirect, const uint8_t *status,
			int want, long want_used, bool want_err)
{
	uint64_t e0 = vblk_vq_errors(vq);
	struct vblk_req r;

	if (vbt_raw_run(t, vq, what, c->d, c->n, indirect, &r))
		return -1;
	if (!status && r.used_len != want_used)
		return vbt_fail(t, "%s: expected used len %ld, got %u", what,
				want_used, r.used_len), -1;
	if (status && vbt_expect(t, vq, what, *status, r.used_len, want,
				 want_used))
		return -1;
	if (want_err && vblk_vq_wait_error(vq, e0, ERR_WAIT_MS))
		return vbt_fail(t, "%s: completed as expected, but the error eventfd was not signalled within %d ms",
				what, ERR_WAIT_MS), -1;
	if (!want_err && no_ring_error(t, vq, what, e0))
		return -1;
	return usable(t, vq, what);
}

int case_bad_no_status(struct vbt *t)
{
	struct virtio_blk_outhdr *in, *out;
	struct vbt_dev v;
	struct chain c;
	uint8_t *data;

	if (vbt_dev_up(t, &v, NULL, 0))
		return VBT_FAIL;
	in = vbt_hdr(&v.d.mem, VIRTIO_BLK_T_IN, 0);
	out = vbt_hdr(&v.d.mem, VIRTIO_BLK_T_OUT, 0);
	data = vblk_mem_alloc(&v.d.mem, 4096, 4096);
	c = (struct chain){ .m = &v.d.mem };
	add(&c, in, 16, false);
	if (expect_chain(t, &v.d.vq[0], "IN header alone, nothing writable",
			 &c, false, NULL, 0, 0, true))
		return VBT_FAIL;
	c = (struct chain){ .m = &v.d.mem };
	add(&c, out, 16, false);
	add(&c, data, 4096, false);
	if (expect_chain(t, &v.d.vq[0], "OUT header and data, nothing writable",
			 &c, true, NULL, 0, 0, true))
		return VBT_FAIL;
	c = (struct chain){ .m = &v.d.mem };
	add(&c, in, 16, false);
	add(&c, data, 0, true);
	if (expect_chain(t, &v.d.vq[0], "IN header and a zero-length writable descriptor",
			 &c, false, NULL, 0, 0, true))
		return VBT_FAIL;
	vblk_dev_close(&v.d);
	return VBT_PASS;
}

int case_bad_short_header(struct vbt *t)
{
	struct virtio_blk_outhdr *h;
	struct vbt_dev v;
	struct chain c;
	uint8_t *st, *data;

	if (vbt_dev_up(t, &v, NULL, 0))
		return VBT_FAIL;
	h = vbt_hdr(&v.d.mem, VIRTIO_BLK_T_IN, 0);
	data = vblk_mem_alloc(&v.d.mem, 4096, 4096);

	c = (struct chain){ .m = &v.d.mem };
	st = status_byte(&v.d.mem);
	add(&c, h, 8, false);
	add(&c, st, 1, true);
	if (expect_chain(t, &v.d.vq[0], "8-byte header", &c, false, st,
			 VIRTIO_BLK_S_IOERR, 1, false))
		return VBT_FAIL;
	c = (struct chain){ .m = &v.d.mem };
	st = status_byte(&v.d.mem);
	add(&c, st, 1, true);
	if (expect_chain(t, &v.d.vq[0], "no header, a status byte only", &c,
			 false, st, VIRTIO_BLK_S_IOERR, 1, false))
		return VBT_FAIL;
	c = (struct chain){ .m = &v.d.mem };
	st = status_byte(&v.d.mem);
	add(&c, h, 15, false);
	add(&c, data, 4096, true);
	add(&c, st, 1, true);
	if (expect_chain(t, &v.d.vq[0], "15-byte header with 4096 bytes to read into",
			 &c, true, st, VIRTIO_BLK_S_IOERR, 1, false))
		return VBT_FAIL;
	c = (struct chain){ .m = &v.d.mem };
	st = status_byte(&v.d.mem);
	add(&c, h, 8, false);
	add(&c, (uint8_t *)h + 8, 7, false);
	add(&c, data, 4096, true);
	add(&c, st, 1, true);
	if (expect_chain(t, &v.d.vq[0], "header of 8 + 7 bytes", &c, false, st,
			 VIRTIO_BLK_S_IOERR, 1, false))
		return VBT_FAIL;
	vblk_dev_close(&v.d);
	return VBT_PASS;
}

int case_bad_no_data(struct vbt *t)
{
	static const uint32_t types[] = { VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT };
	struct vbt_dev v;
	unsigned int i;

	if (vbt_dev_up(t, &v, NULL, 0))
		return VBT_FAIL;
	for (i = 0; i < 2; i++) {
		struct virtio_blk_outhdr *h = vbt_hdr(&v.d.mem, types[i], 8);
		bool in = types[i] == VIRTIO_BLK_T_IN;
		uint8_t *data = vblk_mem_alloc(&v.d.mem, 512, 512);
		char what[96];
		struct chain c = { .m = &v.d.mem };
		uint8_t *st = status_byte(&v.d.mem);

		add(&c, h, 16, false);
		add(&c, st, 1, true);
		snprintf(what, sizeof(what), "%s without data", in ? "IN" : "OUT");
		if (expect_chain(t, &v.d.vq[0], what, &c, false, st,
				 VIRTIO_BLK_S_IOERR, 1, false))
			return VBT_FAIL;
		c = (struct chain){ .m = &v.d.mem };
		st = status_byte(&v.d.mem);
		add(&c, h, 16, false);
		add(&c, data, 0, in);
		add(&c, st, 1, true);
		snprintf(what, sizeof(what), "%s with a zero-length data descriptor",
			 in ? "IN" : "OUT");
		if (expect_chain(t, &v.d.vq[0], what, &c, i, st,
				 VIRTIO_BLK_S_IOERR, 1, false))
			return VBT_FAIL;
	}
	vblk_dev_close(&v.d);
	return VBT_PASS;
}

/* A request of @nseg single-block segments, indirect. */
static int segs_req(struct vbt *t, struct vbt_dev *v, uint32_t type,
		    unsigned int nseg, int want, const char *what)
{
	uint32_t lbs = v->cfg.logical_block_size, k;
	struct vblk_seg *seg = calloc(nseg, sizeof(*seg));
	uint8_t *buf = vblk_mem_alloc(&v->d.mem, (size_t)nseg * lbs, 4096);
	struct vblk_req r = {
		.type = type, .sector = 8192, .seg = seg, .nseg = nseg,
		.indirect = true,
	};
	uint64_t e0 = vblk_vq_errors(&v->d.vq[0]);
	int ret;

	if (!seg || !buf)
		return vbt_fail(t, "out of memory"), -1;
	for (k = 0; k < nseg; k++)
		seg[k] = (struct vblk_seg){ buf + (size_t)k * lbs, lbs };
	if (type == VIRTIO_BLK_T_OUT)
		vblk_pat_fill(buf, 8192, nseg * lbs / VBLK_SECTOR, t->seed, 5);
	ret = vblk_req_run(&v->d.vq[0], &r);
	if (vbt_expect_req(t, &v->d.vq[0], what, ret, &r, want,
			   want == VIRTIO_BLK_S_OK && type == VIRTIO_BLK_T_IN ?
			   (long)nseg * lbs + 1 : 1) ||
	    no_ring_error(t, &v->d.vq[0], what, e0))
		return -1;
	vblk_mem_free(&v->d.mem, buf);
	free(seg);
	return usable(t, &v->d.vq[0], what);
}

int case_bad_too_many_segs(struct vbt *t)
{
	unsigned int max;
	struct vbt_dev v;
	char what[96];

	if (vbt_dev_up(t, &v, NULL, 0))
		return VBT_FAIL;
	max = v.cfg.max_segments;
	if (max > 4096)
		return vbt_skip(t, "max_segments %u: too many to test", max);
	snprintf(what, sizeof(what), "IN with max_segments (%u) segments", max);
	if (segs_req(t, &v, VIRTIO_BLK_T_IN, max, VIRTIO_BLK_S_OK, what))
		return VBT_FAIL;
	/*
	 * Past seg_max the guest is out of spec, but the device bounds bytes,
	 * not iovecs (one descriptor may be several iovecs: seg-region-split):
	 * served, and written as asked.
	 */
	snprintf(what, sizeof(what), "IN with max_segments + 1 (%u) segments",
		 max + 1);
	if (segs_req(t, &v, VIRTIO_BLK_T_IN, max + 1, VIRTIO_BLK_S_OK, what))
		return VBT_FAIL;
	if (!t->o->readonly) {
		snprintf(what, sizeof(what), "OUT with max_segments + 1 (%u) segments",
			 max + 1);
		if (segs_req(t, &v, VIRTIO_BLK_T_OUT, max + 1,
			     VIRTIO_BLK_S_OK, what) ||
		    vbt_verify_pat(t, &v.d.vq[0], 8192,
				   (max + 1) * vbt_lbs_sectors(&v), 5, NULL))
			return VBT_FAIL;
	}
	vblk_dev_close(&v.d);
	return VBT_PASS;
}

/* DISCARD / WRITE_ZEROES with @n segments (given), expect @want. */
static int dwz(struct vbt *t, struct vblk_vq *vq, uint32_t type,
	       const struct virtio_blk_discard_write_zeroes *s, unsigned int n,
	       size_t bytes, int want, const char *what)
{
	uint8_t *buf = vblk_mem_alloc(vq->mem, bytes ? bytes : 1, 16);
	struct vblk_seg seg = { buf, (uint32_t)bytes };
	struct vblk_req r = {
		.type = type, .seg = &seg, .nseg = bytes ? 1 : 0,
		.dir = VBLK_DIR_OUT,
	};
	uint64_t e0 = vblk_vq_errors(vq);
	int ret;

	memcpy(buf, s, bytes < n * sizeof(*s) ? bytes : n * sizeof(*s));
	ret = vblk_req_run(vq, &r);
	if (vbt_expect_req(t, vq, what, ret, &r, want, 1) ||
	    no_ring_error(t, vq, what, e0))
		return -1;
	vblk_mem_free(vq->mem, buf);
	return usable(t, vq, what);
}

int case_bad_discard_segs(struct vbt *t)
{
	struct virtio_blk_discard_write_zeroes s[64];
	const uint64_t base = 12288;
	struct vblk_vq *vq;
	struct vbt_dev v;
	unsigned int k, maxseg;
	uint32_t types[2] = { VIRTIO_BLK_T_DISCARD, VIRTIO_BLK_T_WRITE_ZEROES };
	unsigned int i;
	char what[128];

	if (vbt_dev_up(t, &v, NULL, 0))
		return VBT_FAIL;
	vq = &v.d.vq[0];
	if (!v.cfg.max_discard_sectors && !v.cfg.max_write_zeroes_sectors)
		return vbt_skip(t, "neither discard nor write zeroes supported by this backend");
	if (vbt_write_pat(t, vq, base, 256, 9, NULL))
		return VBT_FAIL;
	for (i = 0; i < 2; i++) {
		bool disc = types[i] == VIRTIO_BLK_T_DISCARD;
		uint32_t max = disc ? v.cfg.max_discard_sectors :
				      v.cfg.max_write_zeroes_sectors;
		const char *name = disc ? "DISCARD" : "WRITE_ZEROES";

		if (!max)
			continue;
		maxseg = disc ? v.cfg.max_discard_seg : v.cfg.max_write_zeroes_seg;
		if (maxseg >= 64)
			maxseg = 63;
		for (k = 0; k < 64; k++)
			s[k] = (struct virtio_blk_discard_write_zeroes){
				.sector = htole64(base + 8 * k),
				.num_sectors = htole32(8),
			};
		snprintf(what, sizeof(what), "%s with max_seg + 1 (%u) segments",
			 name, maxseg + 1);
		if (dwz(t, vq, types[i], s, maxseg + 1,
			(maxseg + 1) * sizeof(s[0]), VIRTIO_BLK_S_IOERR, what))
			return VBT_FAIL;
		snprintf(what, sizeof(what), "%s without segments", name);
		if (dwz(t, vq, types[i], s, 0, 0, VIRTIO_BLK_S_IOERR, what))
			return VBT_FAIL;
		snprintf(what, sizeof(what), "%s with 15 bytes of segment", name);
		if (dwz(t, vq, types[i], s, 1, 15, VIRTIO_BLK_S_IOERR, what))
			return VBT_FAIL;
		snprintf(what, sizeof(what), "%s with 24 bytes of segments", name);
		if (dwz(t, vq, types[i], s, 2, 24, VIRTIO_BLK_S_IOERR, what))
			return VBT_FAIL;
		s[0].num_sectors = 0;
		snprintf(what, sizeof(what), "%s of 0 sectors", name);
		if (dwz(t, vq, types[i], s, 1, 16, VIRTIO_BLK_S_IOERR, what))
			return VBT_FAIL;
		s[0].num_sectors = htole32(8);
		s[0].sector = htole64(v.cfg.capacity);
		snprintf(what, sizeof(what), "%s at sector = capacity", name);
		if (dwz(t, vq, types[i], s, 1, 16, VIRTIO_BLK_S_IOERR, what))
			return VBT_FAIL;
		s[0].sector = htole64(v.cfg.capacity - 8);
		s[0].num_sectors = htole32(16);
		snprintf(what, sizeof(what), "%s across the end", name);
		if (dwz(t, vq, types[i], s, 1, 16, VIRTIO_BLK_S_IOERR, what))
			return VBT_FAIL;
		s[0].sector = htole64(UINT64_MAX - 3);
		s[0].num_sectors = htole32(8);
		snprintf(what, sizeof(what), "%s at sector 2^64 - 4", name);
		if (dwz(t, vq, types[i], s, 1, 16, VIRTIO_BLK_S_IOERR, what))
			return VBT_FAIL;
		if ((uint64_t)max < v.cfg.capacity && max < UINT32_MAX) {
			s[0].sector = 0;
			s[0].num_sectors = htole32(max + 1);
			snprintf(what, sizeof(what), "%s of max sectors + 1 (%u)",
				 name, max + 1);
			if (dwz(t, vq, types[i], s, 1, 16, VIRTIO_BLK_S_IOERR,
				what))
				return VBT_FAIL;
		}
		s[0].sector = htole64(base);
		s[0].num_sectors = htole32(8);
		s[0].flags = htole32(disc ? VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP : 2);
		snprintf(what, sizeof(what), "%s with flags %#x", name,
			 le32toh(s[0].flags));
		if (dwz(t, vq, types[i], s, 1, 16, VIRTIO_BLK_S_UNSUPP, what))
			return VBT_FAIL;
		s[0].flags = htole32(0x80000000u);
		snprintf(what, sizeof(what), "%s with flags 0x80000000", name);
		if (dwz(t, vq, types[i], s, 1, 16, VIRTIO_BLK_S_UNSUPP, what))
			return VBT_FAIL;
	}
	if (vbt_verify_pat(t, vq, base, 256, 9, NULL)) {
		vbt_prefix(t, "refused discard / write zeroes requests changed data");
		return VBT_FAIL;
	}
	vblk_dev_close(&v.d);
	return VBT_PASS;
}

/*
 * One head offered twice while in flight: the device serves it twice (the
 * driver's fault). Nothing may break: used entries come back and a fresh
 * device works.
 */
int case_bad_double_head(struct vbt *t)
{
	struct vblk_raw_desc d[3];
	struct vblk_used u;
	struct vblk_req r;
	struct vbt_dev v;
	struct vblk_vq *vq;
	uint32_t lens[2] = { 0, 0 };
	uint8_t *data, *st;
	unsigned int got = 0;
	int ret;

	if (vbt_dev_up(t, &v, NULL, 0))
		return VBT_FAIL;
	vq = &v.d.vq[0];
	data = vblk_mem_alloc(&v.d.mem, 65536, 4096);
	st = status_byte(&v.d.mem);
	d[0] = (struct vblk_raw_desc){
		vbt_gpa(&v.d.mem, vbt_hdr(&v.d.mem, VIRTIO_BLK_T_IN, 0), 16), 16, 0 };
	d[1] = (struct vblk_raw_desc){ vbt_gpa(&v.d.mem, data, 65536), 65536,
				       VRING_DESC_F_WRITE };
	d[2] = (struct vblk_raw_desc){ vbt_gpa(&v.d.mem, st, 1), 1,
				       VRING_DESC_F_WRITE };
	memset(&r, 0, sizeof(r));
	ret = vblk_vq_add_raw(vq, d, 3, false, &r, NULL);
	if (ret < 0)
		return vbt_fail(t, "%s", vq->err);
	r.head = ret;
	vblk_vq_publish(vq, (uint16_t)ret);
	vblk_vq_kick(vq);
	while (got < 2) {
		ret = vblk_vq_wait(vq, got ? 2000 : vq->timeout_ms);
		if (ret)
			break;
		ret = vblk_vq_get_used(vq, &u);
		if (ret < 0)
			return vbt_fail(t, "%s", vq->err);
		if (ret && u.id != (uint32_t)r.head)
			return vbt_fail(t, "a head offered twice: used id %u came back, expected %d",
					u.id, r.head);
		if (ret)
			lens[got] = u.len;
		got += ret;
	}
	if (!got)
		return vbt_fail(t, "a head offered twice never came back (%s)",
				vq->err);
	if (lens[0] != 65537)
		return vbt_fail(t, "a head offered twice: its first used len is %u, expected 65537",
				lens[0]);
	vbt_note(t, "the head offered twice came back %u times (used len %u, %u)",
		 got, lens[0], got > 1 ? lens[1] : 0);
	vblk_dev_close(&v.d);
	return vbt_sanity(t, "after a head was offered twice") ? VBT_FAIL :
								    VBT_PASS;
}

#define SPLIT_SEGS	128		/* seg_max: what a guest may send */
#define SPLIT_SEG	4096
#define SPLIT_WIN	65536		/* each side of the boundary */
#define SPLIT_GPA	0x8000000000ULL	/* clear of the library's regions */

/*
 * Chain header, SPLIT_SEGS data descriptors of SPLIT_SEG bytes (number
 * SPLIT_SEGS / 2 at @cross, the rest in @bufs) and the status byte @st.
 */
static void split_chain(struct vblk_raw_desc *d, struct vblk_mem *m,
			void *hdr, uint8_t *bufs, uint64_t cross, uint8_t *st,
			bool in)
{
	unsigned int k, n = 0, j = 0;
	uint16_t w = in ? VRING_DESC_F_WRITE : 0;

	d[n++] = (struct vblk_raw_desc){ vbt_gpa(m, hdr, 16), 16, 0 };
	for (k = 0; k < SPLIT_SEGS; k++) {
		if (k == SPLIT_SEGS / 2) {
			d[n++] = (struct vblk_raw_desc){ cross, SPLIT_SEG, w };
			continue;
		}
		d[n++] = (struct vblk_raw_desc){
			vbt_gpa(m, bufs + (size_t)j * SPLIT_SEG, SPLIT_SEG),
			SPLIT_SEG, w };
		j++;
	}
	d[n] = (struct vblk_raw_desc){ vbt_gpa(m, st, 1), 1, VRING_DESC_F_WRITE };
}

/*
 * seg-region-split: the owner's memory table has two regions adjacent in
 * guest-physical space but not in its own address space, and the guest
 * sends a request of exactly seg_max data descriptors, one of which
 * crosses from one region into the next. The vhost core makes two iovecs
 * of that descriptor; the request is within the spec and must be served:
 * status OK, the right data written and read, no error eventfd.
 */
int case_seg_region_split(struct vbt *t)
{
	struct vblk_raw_desc d[SPLIT_SEGS + 2];
	struct vhost_memory_region *r;
	struct vhost_memory *table;
	uint8_t *lo, *hi, *bufs, *st, *want, *got;
	const size_t total = (size_t)SPLIT_SEGS * SPLIT_SEG;
	const size_t half = SPLIT_SEG / 2;
	uint64_t sector = 16384, cross, e0;
	struct stat sb;
	struct vbt_dev v;
	struct vblk_req rq;
	unsigned int i, j;
	char what[128];

	if (stat("/sys/module/vhost_blk", &sb) < 0)
		return vbt_skip(t, "needs the vhost_blk module: the vhost core's walk of the memory table is what splits the descriptor");
	if (vbt_dev_up(t, &v, NULL, 0))
		return VBT_FAIL;
	if (v.cfg.capacity < sector + total / VBLK_SECTOR ||
	    SPLIT_SEG % v.cfg.logical_block_size)
		return vbt_skip(t, "the backend is too small or its blocks too large");
	/*
	 * Two more regions, aliasing guest memory the library allocated:
	 * [SPLIT_GPA, +WIN) is a buffer in its region 0 and the next WIN bytes
	 * of guest-physical space a buffer in its region 1, which lies below
	 * region 0 in this process: adjacent for the guest, not for the host.
	 */
	lo = vblk_mem_alloc_in(&v.d.mem, 0, SPLIT_WIN, 4096);
	hi = vblk_mem_alloc_in(&v.d.mem, 1, SPLIT_WIN, 4096);
	bufs = vblk_mem_alloc(&v.d.mem, total, 4096);
	st = status_byte(&v.d.mem);
	want = malloc(total);
	got = malloc(total);
	table = calloc(1, sizeof(*table) + 4 * sizeof(*r));
	if (!lo || !hi || !bufs || !want || !got || !table)
		return vbt_fail(t, "out of memory");
	if (hi + SPLIT_WIN == lo)
		return vbt_fail(t, "the two buffers are adjacent in this process: nothing to test");
	table->nregions = 4;
	for (i = 0; i < 2; i++)
		table->regions[i] = (struct vhost_memory_region){
			.guest_phys_addr = v.d.mem.reg[i].gpa,
			.memory_size = v.d.mem.reg[i].size,
			.userspace_addr = (uintptr_t)v.d.mem.reg[i].hva,
		};
	table->regions[2] = (struct vhost_memory_region){
		.guest_phys_addr = SPLIT_GPA, .memory_size = SPLIT_WIN,
		.userspace_addr = (uintptr_t)lo };
	table->regions[3] = (struct vhost_memory_region){
		.guest_phys_addr = SPLIT_GPA + SPLIT_WIN,
		.memory_size = SPLIT_WIN, .userspace_addr = (uintptr_t)hi };
	if (ioctl(v.d.fd, VHOST_SET_MEM_TABLE, table) < 0)
		return vbt_fail(t, "VHOST_SET_MEM_TABLE with two adjacent regions: %s",
				strerror(errno));
	free(table);
	/* Its first half the last bytes of one region, the rest the next's. */
	cross = SPLIT_GPA + SPLIT_WIN - half;

	for (i = 0; i < 2; i++) {
		bool in = i == 1;
		void *hdr = vbt_hdr(&v.d.mem, in ? VIRTIO_BLK_T_IN :
						   VIRTIO_BLK_T_OUT, sector);
		if (!in && t->o->readonly) {
			/* What is there, read the usual way, to compare. */
			if (vbt_read_ok(t, &v.d.vq[0], sector, total / VBLK_SECTOR))
				return VBT_FAIL;
			continue;
		}
		if (!in) {
			vblk_pat_fill(want, sector, total / VBLK_SECTOR, t->seed, 7);
		} else {
			memset(bufs, 0, total - SPLIT_SEG);
			memset(lo + SPLIT_WIN - half, 0, half);
			memset(hi, 0, half);
		}
		/* Scatter @want: descriptor k holds bytes k * SPLIT_SEG on. */
		for (j = 0; !in && j < SPLIT_SEGS; j++) {
			const uint8_t *p = want + (size_t)j * SPLIT_SEG;
			unsigned int b = j - (j > SPLIT_SEGS / 2);

			if (j == SPLIT_SEGS / 2) {
				memcpy(lo + SPLIT_WIN - half, p, half);
				memcpy(hi, p + half, half);
			} else {
				memcpy(bufs + (size_t)b * SPLIT_SEG, p, SPLIT_SEG);
			}
		}
		*st = VBLK_STATUS_UNSET;
		split_chain(d, &v.d.mem, hdr, bufs, cross, st, in);
		e0 = vblk_vq_errors(&v.d.vq[0]);
		snprintf(what, sizeof(what), "%s of %u descriptors, one across two memory regions",
			 in ? "IN" : "OUT", SPLIT_SEGS);
		if (vbt_raw_run(t, &v.d.vq[0], what, d, SPLIT_SEGS + 2, true, &rq) ||
		    vbt_expect(t, &v.d.vq[0], what, *st, rq.used_len,
			       VIRTIO_BLK_S_OK, in ? (long)total + 1 : 1) ||
		    no_ring_error(t, &v.d.vq[0], what, e0))
			return VBT_FAIL;
		if (!in && vbt_verify_pat(t, &v.d.vq[0], sector,
					  total / VBLK_SECTOR, 7, NULL))
			return VBT_FAIL;
	}
	/* The read: gather it back and compare with the usual read's. */
	for (j = 0; j < SPLIT_SEGS; j++) {
		uint8_t *p = got + (size_t)j * SPLIT_SEG;
		unsigned int b = j - (j > SPLIT_SEGS / 2);

		if (j == SPLIT_SEGS / 2) {
			memcpy(p, lo + SPLIT_WIN - half, half);
			memcpy(p + half, hi, half);
		} else {
			memcpy(p, bufs + (size_t)b * SPLIT_SEG, SPLIT_SEG);
		}
	}
	if (t->o->readonly) {
		uint8_t *buf = vblk_mem_alloc(&v.d.mem, total, 4096);
		uint32_t used = 0;
		int ret;

		if (!buf)
			return vbt_fail(t, "out of memory");
		ret = vblk_rw(&v.d.vq[0], VIRTIO_BLK_T_IN, sector, buf, total,
			      NULL, &used);
		if (vbt_expect(t, &v.d.vq[0], "the usual read", ret, used,
			       VIRTIO_BLK_S_OK, (long)total + 1))
			return VBT_FAIL;
		memcpy(want, buf, total);
	}
	for (j = 0; j < total && got[j] == want[j]; j++)
		;
	if (j < total)
		return vbt_fail(t, "IN across two memory regions: byte %u of %zu differs (descriptor %u)",
				j, total, j / SPLIT_SEG);
	vbt_note(t, "%u descriptors, one split in two iovecs: written and read back",
		 SPLIT_SEGS);
	free(want);
	free(got);
	vblk_dev_close(&v.d);
	return VBT_PASS;
}
