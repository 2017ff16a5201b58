// SPDX-License-Identifier: GPL-2.0-only
/* What the vbt cases share: verdicts, backend, device setup, checks. */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "vbt.h"

static int verdict(struct vbt *t, int res, const char *fmt, va_list ap)
{
	if (!t->msg[0])
		vsnprintf(t->msg, sizeof(t->msg), fmt, ap);
	return res;
}

int vbt_fail(struct vbt *t, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verdict(t, VBT_FAIL, fmt, ap);
	va_end(ap);
	return VBT_FAIL;
}

int vbt_skip(struct vbt *t, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verdict(t, VBT_SKIP, fmt, ap);
	va_end(ap);
	return VBT_SKIP;
}

void vbt_prefix(struct vbt *t, const char *fmt, ...)
{
	char old[sizeof(t->msg)];
	size_t n, left;
	va_list ap;
	int r;

	memcpy(old, t->msg, sizeof(old));
	va_start(ap, fmt);
	r = vsnprintf(t->msg, sizeof(t->msg), fmt, ap);
	va_end(ap);
	n = r < 0 ? 0 : (size_t)r;
	if (n + 3 >= sizeof(t->msg))
		return;
	memcpy(t->msg + n, ": ", 2);
	n += 2;
	left = sizeof(t->msg) - n - 1;
	strncpy(t->msg + n, old, left);
	t->msg[sizeof(t->msg) - 1] = 0;
}

void vbt_note(struct vbt *t, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "# %s: ", t->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int vbt_write_file(const char *dir, const char *file, const char *what)
{
	char path[512];
	int fd, ret = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, what, strlen(what)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

uint64_t vbt_fd_size(int fd, bool *is_blk)
{
	struct stat st;
	uint64_t size = 0;

	if (fstat(fd, &st))
		return 0;
	if (is_blk)
		*is_blk = S_ISBLK(st.st_mode);
	if (S_ISBLK(st.st_mode))
		return ioctl(fd, BLKGETSIZE64, &size) ? 0 : size;
	return (uint64_t)st.st_size;
}

int vbt_backend_open(struct vbt *t, struct vbt_backend *b, bool ro)
{
	int flags = (ro ? O_RDONLY : O_RDWR) | O_CLOEXEC;

	memset(b, 0, sizeof(*b));
	b->direct = t->o->direct;
	b->fd = open(t->o->backend, flags | (b->direct ? O_DIRECT : 0));
	if (b->fd < 0)
		return vbt_fail(t, "cannot open the backend %s %s%s: %s",
				t->o->backend, ro ? "read-only" : "read-write",
				b->direct ? " with O_DIRECT" : "",
				strerror(errno)), -1;
	b->size = vbt_fd_size(b->fd, &b->is_blk);
	return 0;
}

uint32_t vbt_expected_engine(const struct vbt *t, bool is_blk)
{
	if (t->o->engine != VHOST_BLK_ENGINE_AUTO)
		return t->o->engine;
	return is_blk ? VHOST_BLK_ENGINE_BIO : VHOST_BLK_ENGINE_KIOCB;
}

int vbt_dev_up(struct vbt *t, struct vbt_dev *v, const struct vblk_dev_opts *o,
	       uint32_t flags)
{
	bool ro = t->o->readonly || (flags & VHOST_BLK_BACKEND_F_READONLY);

	if (t->o->readonly)
		flags |= VHOST_BLK_BACKEND_F_READONLY;
	if (vblk_dev_start(&v->d, o))
		return vbt_fail(t, "setting up the device: %s", v->d.err), -1;
	if (vbt_backend_open(t, &v->be, ro))
		return -1;
	if (vblk_dev_attach(&v->d, v->be.fd, flags, t->o->engine))
		return vbt_fail(t, "attaching %s: %s", t->o->backend, v->d.err),
		       -1;
	close(v->be.fd);
	v->be.fd = -1;
	if (vblk_dev_get_config(&v->d, &v->cfg))
		return vbt_fail(t, "%s", v->d.err), -1;
	if (!v->cfg.capacity)
		return vbt_fail(t, "GET_CONFIG after attaching: capacity 0"), -1;
	return 0;
}

int vbt_dev_up_q(struct vbt *t, struct vbt_dev *v, unsigned int queues)
{
	struct vblk_dev_opts o;

	vblk_dev_opts_init(&o);
	o.queues = queues;
	return vbt_dev_up(t, v, &o, 0);
}

int vbt_expect(struct vbt *t, struct vblk_vq *vq, const char *what, int ret,
	       uint32_t used, int want, long want_used)
{
	char a[40], b[40];

	if (ret < 0)
		return vbt_fail(t, "%s: no completion: %s", what, vq->err), -1;
	if (ret != want || (want_used >= 0 && used != (uint32_t)want_used)) {
		if (want_used >= 0)
			vbt_fail(t, "%s: expected status %s and used len %ld, got status %s and used len %u",
				 what, vblk_status_str(want, a, sizeof(a)),
				 want_used, vblk_status_str(ret, b, sizeof(b)),
				 used);
		else
			vbt_fail(t, "%s: expected status %s, got %s (used len %u)",
				 what, vblk_status_str(want, a, sizeof(a)),
				 vblk_status_str(ret, b, sizeof(b)), used);
		return -1;
	}
	return 0;
}

int vbt_expect_req(struct vbt *t, struct vblk_vq *vq, const char *what,
		   int ret, const struct vblk_req *r, int want, long want_used)
{
	return vbt_expect(t, vq, what, ret ? ret : r->status, r->used_len, want,
			  want_used);
}

int vbt_write_pat(struct vbt *t, struct vblk_vq *vq, uint64_t sector,
		  uint32_t nsect, uint64_t gen, const struct vblk_layout *lo)
{
	size_t len = (size_t)nsect * VBLK_SECTOR;
	uint8_t *buf = vblk_mem_alloc(vq->mem, len, 4096);
	char what[96];
	uint32_t used = 0;
	int ret;

	if (!buf)
		return vbt_fail(t, "no guest memory for %zu bytes", len), -1;
	vblk_pat_fill(buf, sector, nsect, t->seed, gen);
	snprintf(what, sizeof(what), "write of %zu bytes at sector %" PRIu64,
		 len, sector);
	ret = vblk_rw(vq, VIRTIO_BLK_T_OUT, sector, buf, len, lo, &used);
	vblk_mem_free(vq->mem, buf);
	return vbt_expect(t, vq, what, ret, used, VIRTIO_BLK_S_OK, 1);
}

int vbt_verify_pat(struct vbt *t, struct vblk_vq *vq, uint64_t sector,
		   uint32_t nsect, uint64_t gen, const struct vblk_layout *lo)
{
	size_t len = (size_t)nsect * VBLK_SECTOR;
	uint8_t *buf = vblk_mem_alloc(vq->mem, len, 4096);
	char what[96], msg[300];
	uint32_t used = 0;
	int ret;

	if (!buf)
		return vbt_fail(t, "no guest memory for %zu bytes", len), -1;
	snprintf(what, sizeof(what), "read of %zu bytes at sector %" PRIu64,
		 len, sector);
	ret = vblk_rw(vq, VIRTIO_BLK_T_IN, sector, buf, len, lo, &used);
	if (vbt_expect(t, vq, what, ret, used, VIRTIO_BLK_S_OK,
		       (long)len + 1))
		return -1;
	if (vblk_pat_verify(buf, sector, nsect, t->seed, gen, msg,
			    sizeof(msg)) >= 0)
		return vbt_fail(t, "%s: wrong data: %s", what, msg), -1;
	vblk_mem_free(vq->mem, buf);
	return 0;
}

int vbt_read_ok(struct vbt *t, struct vblk_vq *vq, uint64_t sector,
		uint32_t nsect)
{
	size_t len = (size_t)nsect * VBLK_SECTOR;
	uint8_t *buf = vblk_mem_alloc(vq->mem, len, 4096);
	char what[96];
	uint32_t used = 0;
	int ret;

	if (!buf)
		return vbt_fail(t, "no guest memory for %zu bytes", len), -1;
	snprintf(what, sizeof(what), "read of %zu bytes at sector %" PRIu64,
		 len, sector);
	ret = vblk_rw(vq, VIRTIO_BLK_T_IN, sector, buf, len, NULL, &used);
	vblk_mem_free(vq->mem, buf);
	return vbt_expect(t, vq, what, ret, used, VIRTIO_BLK_S_OK,
			  (long)len + 1);
}

int vbt_sanity(struct vbt *t, const char *after)
{
	struct vbt_dev v;
	uint64_t gen = 0x5a17;
	int ret = 0;

	memset(&v, 0, sizeof(v));
	if (vbt_dev_up(t, &v, NULL, 0))
		ret = -1;
	else if (!t->o->readonly &&
		 (vbt_write_pat(t, &v.d.vq[0], 64, 16, gen, NULL) ||
		  vbt_verify_pat(t, &v.d.vq[0], 64, 16, gen, NULL)))
		ret = -1;
	else if (t->o->readonly && vbt_read_ok(t, &v.d.vq[0], 64, 16))
		ret = -1;
	if (ret)
		vbt_prefix(t, "a fresh device does not work %s", after);
	vblk_dev_close(&v.d);
	return ret;
}

/* Queue @n requests of 16 KiB at @sector.. on @vq: writes or reads. */
int vbt_queue_batch(struct vbt *t, struct vblk_vq *vq, struct vblk_req *r,
		       struct vblk_seg *seg, unsigned int n, uint64_t sector,
		       bool write, uint64_t gen, bool indirect)
{
	unsigned int k;

	for (k = 0; k < n; k++) {
		uint64_t s = sector + 32 * k;

		if (!seg[k].buf)
			seg[k].buf = vblk_mem_alloc(vq->mem, 16384, 4096);
		if (!seg[k].buf)
			return vbt_fail(t, "guest memory exhausted"), -1;
		seg[k].len = 16384;
		if (write)
			vblk_pat_fill(seg[k].buf, s, 32, t->seed, gen + k);
		else
			memset(seg[k].buf, 0, 16384);
		r[k] = (struct vblk_req){
			.type = write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN,
			.sector = s, .seg = &seg[k], .nseg = 1,
			.indirect = indirect,
		};
		if (vblk_req_queue(vq, &r[k]))
			return vbt_fail(t, "queueing request %u of %u: %s", k, n,
					vq->err), -1;
	}
	return 0;
}

/* Reap @n requests of a batch and check them (and the data, for reads). */
int vbt_reap_batch(struct vbt *t, struct vblk_vq *vq, struct vblk_req *r,
		      unsigned int n, uint64_t gen)
{
	struct vblk_req *done[64];
	unsigned int got = 0, k;
	char what[96], msg[300];

	while (got < n) {
		int m = vblk_reap(vq, vq->timeout_ms, done, 64);

		if (m < 0)
			return vbt_fail(t, "after %u of %u completions: %s", got,
					n, vq->err), -1;
		got += (unsigned int)m;
	}
	for (k = 0; k < n; k++) {
		bool rd = r[k].type == VIRTIO_BLK_T_IN;

		snprintf(what, sizeof(what), "%s %u of %u at sector %" PRIu64 " on queue %u",
			 rd ? "read" : "write", k, n, r[k].sector, vq->index);
		if (vbt_expect(t, vq, what, r[k].status, r[k].used_len,
			       VIRTIO_BLK_S_OK, rd ? 16385 : 1))
			return -1;
		if (rd && vblk_pat_verify(r[k].seg[0].buf, r[k].sector, 32,
					  t->seed, gen + k, msg,
					  sizeof(msg)) >= 0)
			return vbt_fail(t, "%s: %s", what, msg), -1;
	}
	return 0;
}

unsigned int vbt_queues(struct vbt *t, unsigned int want)
{
	struct vbt_dev v;
	unsigned int n = want;

	/* Ask the device how many it serves. */
	if (!vblk_dev_start(&v.d, NULL) && !vblk_dev_get_config(&v.d, &v.cfg) &&
	    v.cfg.num_queues && v.cfg.num_queues < n)
		n = v.cfg.num_queues;
	vblk_dev_close(&v.d);
	(void)t;
	return n;
}
uint64_t vbt_gpa(const struct vblk_mem *m
, const void *p, size_t len)
{
	uint64_t gpa = 0;

	if (vblk_mem_gpa(m, p, len, &gpa)) {
		fprintf(stderr, "vbt: %p (%zu bytes) is not guest memory\n", p,
			len);
		abort();
	}
	return gpa;
}

struct virtio_blk_outhdr *vbt_hdr(struct vblk_mem *m, uint32_t type,
				  uint64_t sector)
{
	struct virtio_blk_outhdr *h = vblk_mem_alloc(m, sizeof(*h), 16);

	if (!h) {
		fprintf(stderr, "vbt: guest memory exhausted\n");
		abort();
	}
	h->type = htole32(type);
	h->sector = htole64(sector);
	return h;
}

int vbt_raw_run(struct vbt *t, struct vblk_vq *vq, const char *what,
		const struct vblk_raw_desc *d, unsigned int n, bool indirect,
		struct vblk_req *r)
{
	int ret;

	memset(r, 0, sizeof(*r));
	ret = vblk_raw_submit(vq, r, d, n, indirect);
	if (!ret)
		ret = vblk_req_wait(vq, r, vq->timeout_ms);
	if (ret)
		return vbt_fail(t, "%s: %s", what, vq->err), -1;
	return 0;
}

int vbt_check_clean(struct vbt *t, const char *after, int timeout_s)
{
	char msg[256];

	switch (vblk_wait_clean(timeout_s, msg, sizeof(msg))) {
	case VBLK_CLEAN:
		return VBT_PASS;
	case VBLK_UNCHECKED:
		return vbt_skip(t, "%s: all checks passed, but %s", after, msg);
	default:
		return vbt_fail(t, "%s: %s", after, msg);
	}
}

int vbt_finish_clean(struct vbt *t, const char *after)
{
	int res = vbt_check_clean(t, after, 5);
	char saved[sizeof(t->msg)];

	if (res == VBT_FAIL)
		return res;
	memcpy(saved, t->msg, sizeof(saved));
	t->msg[0] = 0;
	if (vbt_sanity(t, after))
		return VBT_FAIL;
	memcpy(t->msg, saved, sizeof(saved));
	return res;
}
