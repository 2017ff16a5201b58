// SPDX-License-Identifier: GPL-2.0-only
/*
 * dirty-log: live migration's dirty page log (VHOST_F_LOG_ALL). With it
 * on, every guest page the device writes (the data of reads and GET_ID,
 * status bytes) and the used ring have their bits set in the log, and no
 * other page; the log's eventfd fires. Switched on while requests are in
 * flight, and off again; a log the device cannot write (read-only, or
 * too small for the guest's memory) stops the ring (error eventfd), never
 * the host; a log outside user memory is refused.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vbt.h"

#define LOG_PAGE	VBLK_LOG_PAGE
#define LOG_SEGS	3u

struct dlog {
	struct vblk_log log;
	uint64_t allowed[16][2];	/* [first, last] page of what may be set */
	unsigned int nallowed;
};

static void dlog_allow(struct dlog *l, uint64_t gpa, uint64_t len)
{
	l->allowed[l->nallowed][0] = gpa / LOG_PAGE;
	l->allowed[l->nallowed][1] = (gpa + len - 1) / LOG_PAGE;
	l->nallowed++;
}

static bool dlog_bit(const struct dlog *l, uint64_t page)
{
	return page / 8 < l->log.bytes && (l->log.bits[page / 8] >> (page % 8)) & 1;
}

/* Every page of [gpa, gpa + len) logged? */
static bool dlog_has(const struct dlog *l, uint64_t gpa, uint64_t len)
{
	uint64_t p;

	for (p = gpa / LOG_PAGE; p <= (gpa + len - 1) / LOG_PAGE; p++)
		if (!dlog_bit(l, p))
			return false;
	return true;
}

/* A set bit outside what is allowed: its page, or 0 (page 0 is no GPA). */
static uint64_t dlog_stray(const struct dlog *l)
{
	uint64_t i, p;
	unsigned int a;

	for (i = 0; i < l->log.bytes; i++) {
		if (!l->log.bits[i])
			continue;
		for (p = i * 8; p < i * 8 + 8; p++) {
			if (!dlog_bit(l, p))
				continue;
			for (a = 0; a < l->nallowed; a++)
				if (p >= l->allowed[a][0] && p <= l->allowed[a][1])
					break;
			if (a == l->nallowed)
				return p;
		}
	}
	return 0;
}

/* SET_VRING_ADDR of queue 0 again, with the used ring's log on or off. */
static int dlog_vring(struct vbt *t, struct vblk_dev *d, bool on)
{
	if (vblk_dev_log_vring(d, 0, on, vbt_gpa(&d->mem, d->vq[0].used, 4)))
		return vbt_fail(t, "%s", d->err), -1;
	return 0;
}

static int dlog_features(struct vbt *t, struct vblk_dev *d, bool on)
{
	if (vblk_dev_log_all(d, on))
		return vbt_fail(t, "%s", d->err), -1;
	return 0;
}

/*
 * A read of LOG_SEGS pages, a GET_ID and a write; the pages of the read's
 * data, the GET_ID's and the status bytes are what the device writes.
 */
static int dlog_requests(struct vbt *t, struct vbt_dev *v, struct dlog *l,
			 bool logged)
{
	struct vblk_vq *vq = &v->d.vq[0];
	struct vblk_seg seg[LOG_SEGS];
	struct vblk_req r;
	uint8_t *out = vblk_mem_alloc(vq->mem, LOG_PAGE, LOG_PAGE);
	uint8_t *id = vblk_mem_alloc(vq->mem, LOG_PAGE, LOG_PAGE);
	uint64_t st_read, st_id, st_write, pages[LOG_SEGS];
	unsigned int i;
	int ret;

	for (i = 0; i < LOG_SEGS; i++) {
		seg[i].buf = vblk_mem_alloc(vq->mem, LOG_PAGE, LOG_PAGE);
		seg[i].len = LOG_PAGE;
		if (!seg[i].buf)
			return vbt_fail(t, "guest memory"), -1;
	}
	if (!out || !id)
		return vbt_fail(t, "guest memory"), -1;
	memset(l->log.bits, 0, l->log.bytes);
	vblk_log_events(l->log.efd);
	l->nallowed = 0;
	dlog_allow(l, vbt_gpa(vq->mem, vq->used, 4),
		   4 + 8 * vq->num + 2);

	r = (struct vblk_req){ .type = VIRTIO_BLK_T_IN, .seg = seg,
			       .nseg = LOG_SEGS };
	ret = vblk_req_run(vq, &r);
	if (vbt_expect_req(t, vq, "read", ret, &r, VIRTIO_BLK_S_OK,
			   LOG_SEGS * LOG_PAGE + 1))
		return -1;
	st_read = vbt_gpa(vq->mem, r.status_ptr, 1);
	for (i = 0; i < LOG_SEGS; i++)
		pages[i] = vbt_gpa(vq->mem, seg[i].buf, LOG_PAGE);
	memset(out, 0x5a, LOG_PAGE);
	r = (struct vblk_req){ .type = VIRTIO_BLK_T_OUT, .seg = seg,
			       .nseg = 1 };
	seg[0].buf = out;
	seg[0].len = LOG_PAGE;
	r.sector = v->cfg.capacity - LOG_PAGE / VBLK_SECTOR;
	ret = vblk_req_run(vq, &r);
	if (vbt_expect_req(t, vq, "write", ret, &r, VIRTIO_BLK_S_OK, 1))
		return -1;
	st_write = vbt_gpa(vq->mem, r.status_ptr, 1);
	seg[0] = (struct vblk_seg){ id, VHOST_BLK_SERIAL_LEN };
	r = (struct vblk_req){ .type = VIRTIO_BLK_T_GET_ID, .seg = seg,
			       .nseg = 1 };
	ret = vblk_req_run(vq, &r);
	if (vbt_expect_req(t, vq, "GET_ID", ret, &r, VIRTIO_BLK_S_OK, -1))
		return -1;
	st_id = vbt_gpa(vq->mem, r.status_ptr, 1);

	if (!logged) {
		/* Only the used ring, whose log flag is the core's. */
		for (i = 0; i < LOG_SEGS; i++)
			if (dlog_has(l, pages[i], 1))
				return vbt_fail(t, "logging off, yet the read's page %u is logged",
						i), -1;
		if (dlog_has(l, vbt_gpa(vq->mem, id, 1), 1))
			return vbt_fail(t, "logging off, yet GET_ID's page is logged"), -1;
		return 0;
	}
	for (i = 0; i < LOG_SEGS; i++) {
		dlog_allow(l, pages[i], LOG_PAGE);
		if (!dlog_has(l, pages[i], LOG_PAGE))
			return vbt_fail(t, "the read's page %u (gpa %#" PRIx64 ") is not logged",
					i, pages[i]), -1;
	}
	dlog_allow(l, vbt_gpa(vq->mem, id, 1), VHOST_BLK_SERIAL_LEN);
	dlog_allow(l, st_read, 1);
	dlog_allow(l, st_write, 1);
	dlog_allow(l, st_id, 1);
	if (!dlog_has(l, vbt_gpa(vq->mem, id, 1), VHOST_BLK_SERIAL_LEN))
		return vbt_fail(t, "GET_ID's answer is not logged"), -1;
	if (!dlog_has(l, st_read, 1) || !dlog_has(l, st_write, 1) ||
	    !dlog_has(l, st_id, 1))
		return vbt_fail(t, "a status byte is not logged (read %d, write %d, GET_ID %d)",
				dlog_has(l, st_read, 1), dlog_has(l, st_write, 1),
				dlog_has(l, st_id, 1)), -1;
	if (!dlog_has(l, vbt_gpa(vq->mem, vq->used, 4), 4))
		return vbt_fail(t, "the used ring is not logged"), -1;
	if (dlog_has(l, vbt_gpa(vq->mem, out, 1), 1))
		return vbt_fail(t, "the write's data page is logged: the device only read it"), -1;
	if (dlog_stray(l))
		return vbt_fail(t, "page %#" PRIx64 " is logged, which the device never wrote",
				dlog_stray(l) * LOG_PAGE), -1;
	if (!vblk_log_events(l->log.efd))
		return vbt_fail(t, "the log's eventfd (VHOST_SET_LOG_FD) never fired"), -1;
	return 0;
}

/* Switch logging on with a batch of reads in flight: all complete. */
static int dlog_switch_busy(struct vbt *t, struct vbt_dev *v)
{
	struct vblk_vq *vq = &v->d.vq[0];
	struct vblk_req r[32];
	struct vblk_seg seg[32];
	unsigned int i;

	memset(seg, 0, sizeof(seg));
	if (vbt_queue_batch(t, vq, r, seg, 32, 0, true, 1, false) ||
	    vblk_vq_kick(vq) < 0 || dlog_features(t, &v->d, true) ||
	    vbt_reap_batch(t, vq, r, 32, 1))
		return -1;
	for (i = 0; i < 32; i++)
		vblk_mem_free(vq->mem, seg[i].buf);
	return 0;
}

/*
 * A read whose data and status the device writes, then fails to log: the
 * request completes, and the error eventfd fires.
 */
static int dlog_ring_stops(struct vbt *t, struct vblk_dev *d, const char *what)
{
	uint64_t errs = vblk_vq_errors(&d->vq[0]);

	if (vbt_read_ok(t, &d->vq[0], 0, 8))
		return -1;
	if (vblk_vq_wait_error(&d->vq[0], errs, 5000))
		return vbt_fail(t, "%s: no error eventfd", what), -1;
	return 0;
}

/*
 * A log too small for the guest's memory: its first 64 KiB (the pages below
 * 2 GiB) are there, the rest of its span cannot be touched. The core's
 * check takes it (the span is user memory); the device's first write above
 * stops the ring, nothing else.
 */
static int dlog_too_small(struct vbt *t)
{
	const size_t head = 64 << 10;
	struct vbt_dev v;
	size_t bytes;
	uint8_t *bits;
	int ret = -1;

	if (vbt_dev_up(t, &v, NULL, 0))
		return -1;
	bytes = (VBLK_GPA_BASE1 + v.d.mem.reg[1].size) / LOG_PAGE / 8 + 1;
	bits = mmap(NULL, bytes, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (bits == MAP_FAILED || mprotect(bits, head, PROT_READ | PROT_WRITE)) {
		vbt_fail(t, "log memory: %s", strerror(errno));
		goto out;
	}
	if (vblk_dev_set_log(&v.d, bits, -1)) {
		vbt_fail(t, "%s", v.d.err);
		goto out;
	}
	if (dlog_features(t, &v.d, true))
		goto out;
	ret = dlog_ring_stops(t, &v.d, "a log too small for the guest's memory");
out:
	vblk_dev_close(&v.d);
	if (bits != MAP_FAILED)
		munmap(bits, bytes);
	return ret;
}

int case_dirty_log(struct vbt *t)
{
	struct dlog l = { .log = { .efd = -1 } };
	struct vbt_dev v;
	struct stat st;
	uint64_t bad, bad_features;
	int res = VBT_FAIL, ret;

	if (stat("/sys/module/vhost_blk", &st) < 0)
		return vbt_skip(t, "needs the vhost_blk module: the stand-in keeps no dirty log");
	if (vbt_dev_up(t, &v, NULL, 0))
		return VBT_FAIL;
	if (!(v.d.offered & VBLK_F(VHOST_F_LOG_ALL)))
		return vbt_fail(t, "VHOST_F_LOG_ALL is not offered");
	/* One bit a 4 KiB page, up to the end of the highest region. */
	ret = vblk_log_init(&l.log, VBLK_GPA_BASE1 + v.d.mem.reg[1].size);
	if (ret) {
		vbt_fail(t, "log memory: %s", strerror(-ret));
		goto out;
	}
	/*
	 * A log outside user memory: logging cannot go on with it (the core
	 * checks the base when logging is on, vhost_log_access_ok()).
	 */
	bad = ~0ULL << 60;
	bad_features = v.d.features | VBLK_F(VHOST_F_LOG_ALL);
	if (!ioctl(v.d.fd, VHOST_SET_LOG_BASE, &bad) &&
	    !ioctl(v.d.fd, VHOST_SET_FEATURES, &bad_features)) {
		vbt_fail(t, "VHOST_F_LOG_ALL with a log at %#" PRIx64 " (not user memory) accepted",
			 bad);
		goto out;
	}
	if (vblk_dev_set_log(&v.d, l.log.bits, l.log.efd)) {
		vbt_fail(t, "%s", v.d.err);
		goto out;
	}
	if (dlog_switch_busy(t, &v) || dlog_vring(t, &v.d, true) ||
	    dlog_requests(t, &v, &l, true))
		goto out;
	/* Off: the device logs nothing of its own. */
	if (dlog_features(t, &v.d, false) || dlog_requests(t, &v, &l, false))
		goto out;
	/*
	 * A log the device cannot write (read-only): the ring stops, no oops.
	 * The used ring's log off, so the request still completes.
	 */
	if (dlog_vring(t, &v.d, false) || dlog_features(t, &v.d, true) ||
	    mprotect(l.log.bits, l.log.bytes, PROT_READ)) {
		vbt_prefix(t, "making the log read-only");
		goto out;
	}
	if (dlog_ring_stops(t, &v.d, "a read-only dirty log") ||
	    dlog_too_small(t))
		goto out;
	vbt_note(t, "data, GET_ID, status bytes and the used ring logged, nothing else; a read-only or too small log stops the ring");
	res = VBT_PASS;
out:
	vblk_dev_close(&v.d);
	vblk_log_destroy(&l.log);
	return res;
}
