// SPDX-License-Identifier: GPL-2.0-only
/*
 * One round on a device: build chains on its queues (gen.c), make them
 * available in two parts with maybe a disturbance in between (a memory
 * table change, detach and re-attach, bad ioctls, RESET_OWNER, close),
 * kick, and take the used ring until every completion owed has come.
 *
 * Each used entry must name a head made available and not completed as
 * often already, and carry what the model said: status byte, used length,
 * data read (against the shadow), serial. A queue whose chain the model
 * says the vhost core refuses must then be stuck there: a kick signals the
 * error eventfd again and VHOST_GET_VRING_BASE shows last_avail_idx at that
 * chain. A queue with no such chain, whose chains all had a status byte
 * in mapped memory, must leave its error eventfd silent: a request the
 * guest got wrong fails alone. The round ends with the guest memory checks
 * (chain.c) and the
 * descriptor table wiped, so heads of stray avail entries are empty chains.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "vfuzz.h"

static const char *pos_name(int kind)
{
	switch (kind) {
	case FZ_POS_CHAIN:
		return "chain";
	case FZ_POS_DUP:
		return "head offered again";
	case FZ_POS_STRAY:
		return "stray avail entry";
	}
	return "avail index jump";
}

/* Make positions [published, upto) of @q available. */
static void publish(struct fz_dev *dv, unsigned int q, unsigned int upto)
{
	struct fz_queue *qs = &dv->q[q];
	struct vblk_vq *vq = &dv->d.vq[q];
	struct fz_counters *c = &dv->run->sh->c;
	uint16_t idx = vq->avail_idx;

	if (upto > qs->npos)
		upto = qs->npos;
	if (qs->published >= upto)
		return;
	for (; qs->published < upto; qs->published++) {
		struct fz_pos *p = &qs->pos[qs->published];

		if (p->kind == FZ_POS_JUMP) {
			idx = (uint16_t)(idx + p->jump);
			c->sent[FZ_STRAY]++;
			continue;
		}
		vq->avail->ring[idx & (vq->num - 1)] = htole16(p->head);
		idx++;
		if (p->req)
			p->req->published = true;
		c->sent[p->kind == FZ_POS_CHAIN ? p->req->kind :
			p->kind == FZ_POS_DUP ? FZ_DUP : FZ_STRAY]++;
	}
	vblk_vq_set_avail_idx(vq, idx);
}

static int kick(struct fz_dev *dv, unsigned int q, bool force)
{
	struct vblk_vq *vq = &dv->d.vq[q];
	int r = force ? vblk_vq_kick_force(vq) : vblk_vq_kick(vq);

	if (r < 0)
		return fz_fail(dv->run, "device #%u: %s", dv->id, vq->err);
	return 0;
}

static int kick_all(struct fz_dev *dv, bool force)
{
	unsigned int q;

	for (q = 0; q < dv->nq; q++)
		if (kick(dv, q, force || fz_pm(&dv->run->rng, 20)))
			return -1;
	return 0;
}

static uint8_t *scratch(struct fz_dev *dv, uint64_t len)
{
	if (len > dv->scratch_len) {
		free(dv->scratch);
		dv->scratch_len = len;
		dv->scratch = malloc(len);
		if (!dv->scratch)
			abort();
	}
	return dv->scratch;
}

/* The effects of a completion the model agreed with. */
static int effects(struct fz_dev *dv, struct fz_req *r, uint8_t st)
{
	struct fz_run *run = dv->run;
	struct fz_outcome *o = &r->out;
	uint64_t k, n;
	unsigned int i;
	uint8_t *buf;
	char how[200];

	if (st != VIRTIO_BLK_S_OK) {
		for (i = 0; i < r->npended; i++)
			fz_unpend(&run->sw, r->pended[i].sector, r->pended[i].h);
		return 0;
	}
	switch (o->effect) {
	case FZ_EFF_READ:
		if (o->data_overlap)
			return 0;
		buf = scratch(dv, o->len);
		fz_iov_gather(o->data, o->ndata, 0, buf, o->len);
		snprintf(how, sizeof(how), "device #%u queue %u: %s (head %u) read",
			 dv->id, r->q, r->what, r->head);
		n = o->len / VBLK_SECTOR;
		for (k = 0; k < n; k++)
			if (fz_shadow_check(run, o->sector + k,
					    buf + k * VBLK_SECTOR, how))
				return -1;
		break;
	case FZ_EFF_GETID:
		if (o->data_overlap)
			return 0;
		buf = scratch(dv, FZ_SERIAL_LEN);
		fz_iov_gather(o->data, o->ndata, 0, buf, o->len);
		if (memcmp(buf, dv->m.serial, o->len))
			return fz_fail(run, "device #%u queue %u: %s (head %u): GET_ID wrote %" PRIu64 " bytes that are not the serial set",
				       dv->id, r->q, r->what, r->head, o->len);
		break;
	case FZ_EFF_WRITE:
		for (k = 0; k < r->wn; k++)
			fz_settle(&run->sw, r->wsector + k, r->wh[k],
				  r->wgen[k]);
		break;
	case FZ_EFF_ZERO:
		for (i = 0; i < o->nsegs; i++) {
			uint64_t s = le64toh(o->segs[i].sector);

			n = le32toh(o->segs[i].num_sectors);
			for (k = 0; k < n; k++)
				fz_settle(&run->sw, s + k, run->sw.zero_hash,
					  FZ_GEN_ZERO);
		}
		break;
	}
	return 0;
}

/* One used entry of queue @q. */
static int used_entry(struct fz_dev *dv, unsigned int q,
		      const struct vblk_used *u)
{
	struct fz_run *run = dv->run;
	struct fz_queue *qs = &dv->q[q];
	struct vblk_vq *vq = &dv->d.vq[q];
	struct fz_counters *c = &run->sh->c;
	struct fz_outcome *o;
	struct fz_req *r;
	uint8_t st;
	char a[40], b[40];

	c->completions++;
	if (u->id >= vq->num || !(r = qs->by_head[u->id]))
		return fz_fail(run, "device #%u queue %u: the used ring returned head %u (len %u), which was not made available",
			       dv->id, q, u->id, u->len);
	if (r->got >= r->want)
		return fz_fail(run, "device #%u queue %u: %s (head %u) came back %u times; it was made available %u times%s%s",
			       dv->id, q, r->what, r->head, r->got + 1, r->want,
			       r->out.reject ? ", and the vhost core must refuse it: " : "",
			       r->out.reject ? r->out.why : "");
	r->got++;
	qs->pending--;
	o = &r->out;
	if (run->o.trace)
		fprintf(stderr, "C d%u q%u h%u len %u status %u (%s)\n", dv->id, q,
			u->id, u->len, o->has_status ? *o->status_ptr : 255,
			r->what);
	if (!o->has_status) {
		c->status[3]++;
		if (u->len)
			return fz_fail(run, "device #%u queue %u: %s (head %u) has no writable byte for a status, yet its used length is %u, not 0",
				       dv->id, q, r->what, r->head, u->len);
		return 0;
	}
	st = *o->status_ptr;
	if (st <= VIRTIO_BLK_S_UNSUPP)
		c->status[st]++;
	if (st != o->status && !(o->unsupp_ok && st == VIRTIO_BLK_S_UNSUPP))
		return fz_fail(run, "device #%u queue %u: %s (head %u): status %s, expected %s (used len %u)",
			       dv->id, q, r->what, r->head,
			       vblk_status_str(st, a, sizeof(a)),
			       vblk_status_str(o->status, b, sizeof(b)), u->len);
	if (u->len != (st == VIRTIO_BLK_S_OK ? o->used_ok : 1))
		return fz_fail(run, "device #%u queue %u: %s (head %u): status %s with used length %u, expected %u",
			       dv->id, q, r->what, r->head, fz_status_name(st),
			       u->len, st == VIRTIO_BLK_S_OK ? o->used_ok : 1);
	if (r->got > 1)
		return 0;
	return effects(dv, r, st);
}

/* Take every used entry there is. */
static int reap(struct fz_dev *dv)
{
	unsigned int q;

	for (q = 0; q < dv->nq; q++) {
		struct vblk_vq *vq = &dv->d.vq[q];
		struct vblk_used u;
		int r;

		while ((r = vblk_vq_get_used(vq, &u)) > 0)
			if (used_entry(dv, q, &u))
				return -1;
		if (r < 0)
			return fz_fail(dv->run, "device #%u: %s", dv->id, vq->err);
	}
	return 0;
}

static unsigned int owed(struct fz_dev *dv)
{
	unsigned int q, n = 0;

	for (q = 0; q < dv->nq; q++)
		n += dv->q[q].pending;
	return n;
}

/* What is still owed, for a failure message. */
static void describe_owed(struct fz_dev *dv, char *buf, size_t len)
{
	size_t n = 0;
	unsigned int q, i;

	buf[0] = 0;
	for (q = 0; q < dv->nq && n + 200 < len; q++) {
		struct fz_queue *qs = &dv->q[q];
		struct vblk_vq *vq = &dv->d.vq[q];
		uint16_t la = 0;

		if (!qs->pending)
			continue;
		fz_dev_last_avail(dv, q, &la);
		n += (size_t)snprintf(buf + n, len - n,
				      " queue %u: %u owed, avail idx %u, used idx %u, last_avail_idx %u, error eventfd %llu;",
				      q, qs->pending, vq->avail_idx,
				      le16toh(vq->used->idx), la,
				      (unsigned long long)vblk_vq_errors(vq));
		for (i = 0; i < qs->npos && n + 200 < len; i++) {
			struct fz_req *r = qs->pos[i].req;

			if (r && r->got < r->want) {
				n += (size_t)snprintf(buf + n, len - n,
						      " first: %s (head %u, entry %u)",
						      r->what, r->head, i);
				break;
			}
		}
	}
}

/* Take used entries until nothing is owed. */
static int drain(struct fz_dev *dv)
{
	struct fz_run *run = dv->run;

	for (;;) {
		struct vblk_vq *vqs[VHOST_BLK_MAX_QUEUES];
		unsigned int q, n = 0;
		char msg[1200];
		int r;

		if (reap(dv))
			return -1;
		if (!owed(dv))
			return 0;
		for (q = 0; q < dv->nq; q++)
			if (dv->q[q].pending)
				vqs[n++] = &dv->d.vq[q];
		r = vblk_vq_wait_any(vqs, n, (int)run->o.timeout_s * 1000);
		if (r == -ETIMEDOUT) {
			describe_owed(dv, msg, sizeof(msg));
			return fz_fail(run, "device #%u: %u completions owed, none came within %u s:%s",
				       dv->id, owed(dv), run->o.timeout_s, msg);
		}
		if (r == -EIO) {
			for (q = 0; q < n; q++)
				if (vblk_vq_has_used(vqs[q]))
					return fz_fail(run, "device #%u: lost interrupt: %s",
						       dv->id, vqs[q]->err);
		}
		if (r)
			return fz_fail(run, "device #%u: waiting for completions: %s",
				       dv->id, strerror(-r));
	}
}

/* Take up to @max completions, waiting at most a moment for each: for
 * disturbing the device mid-flight. Never a failure to find fewer. */
static int drain_some(struct fz_dev *dv, uint64_t max)
{
	struct fz_run *run = dv->run;
	uint64_t start = run->sh->c.completions;

	for (;;) {
		struct vblk_vq *vqs[VHOST_BLK_MAX_QUEUES];
		unsigned int q, n = 0;

		if (reap(dv))
			return -1;
		if (run->sh->c.completions - start >= max)
			return 0;
		for (q = 0; q < dv->nq; q++)
			if (dv->q[q].pending)
				vqs[n++] = &dv->d.vq[q];
		if (!n)
			return 0;
		if (vblk_vq_wait_any(vqs, n, 100) == -ETIMEDOUT)
			return 0;
	}
}

/* Queues with a chain the vhost core refuses: stuck there? */
static int check_broken(struct fz_dev *dv)
{
	struct fz_run *run = dv->run;
	unsigned int q;

	for (q = 0; q < dv->nq; q++) {
		struct fz_queue *qs = &dv->q[q];
		struct vblk_vq *vq = &dv->d.vq[q];
		struct fz_pos *p;
		uint16_t la = 0, at;
		uint64_t e0;
		int r;

		if (qs->first_reject == FZ_NONE)
			continue;
		p = &qs->pos[qs->first_reject];
		at = (uint16_t)(qs->avail0 + qs->first_reject);
		e0 = vblk_vq_errors(vq);
		if (kick(dv, q, true))
			return -1;
		if (vblk_vq_wait_error(vq, e0, (int)run->o.timeout_s * 1000))
			return fz_fail(run, "device #%u queue %u: %s %s (head %u) must break the ring (%s), but a kick left the error eventfd silent for %u s",
				       dv->id, q, pos_name(p->kind),
				       p->req ? p->req->what : "", p->head,
				       p->req ? p->req->out.why : "avail index moved past the ring",
				       run->o.timeout_s);
		r = fz_dev_last_avail(dv, q, &la);
		if (r < 0)
			return -1;
		if (!r && la != at)
			return fz_fail(run, "device #%u queue %u: %s %s (head %u) must stop the ring at avail index %u (%s), but last_avail_idx is %u",
				       dv->id, q, pos_name(p->kind),
				       p->req ? p->req->what : "", p->head, at,
				       p->req ? p->req->out.why : "avail index moved past the ring",
				       la);
		if (reap(dv))
			return -1;
		run->sh->c.rings_broken++;
		run->sh->c.refused++;
		run->sh->c.stranded += qs->npos - qs->first_reject - 1;
		dv->broken = true;
		if (run->o.verbose)
			fz_note(run, "device #%u queue %u broken as expected: %s",
				dv->id, q,
				p->req ? p->req->out.why : "avail index jump");
	}
	return 0;
}

/*
 * Queues with no refused chain, all of whose chains had a status to give:
 * their error eventfd must be silent (the device reports a broken ring,
 * and the owner logs one, only when it cannot give a status at all).
 * After a round that changed nothing under the device but kicks, workers
 * and layouts: a table made smaller or bad, a detach or bad ioctls may
 * rightly break a ring.
 */
static int check_quiet(struct fz_dev *dv)
{
	unsigned int q, i;

	for (q = 0; q < dv->nq; q++) {
		struct fz_queue *qs = &dv->q[q];
		uint64_t e;

		if (qs->first_reject != FZ_NONE)
			continue;
		for (i = 0; i < qs->npos; i++)
			if (qs->pos[i].req && qs->pos[i].req->out.ring_err)
				break;
		if (i < qs->npos)
			continue;
		e = vblk_vq_errors(&dv->d.vq[q]);
		if (e != qs->err0)
			return fz_fail(dv->run, "device #%u queue %u: the error eventfd was signalled %llu times in a round whose %u chains all had a status byte to complete with: a request's own error must not report a broken ring",
				       dv->id, q, (unsigned long long)(e - qs->err0),
				       qs->npos);
	}
	return 0;
}

/* After RESET_OWNER or close: what came back is checked; the rest may
 * never come. */
static int unsure(struct fz_dev *dv)
{
	struct fz_req *r;
	unsigned int q;

	if (reap(dv))
		return -1;
	for (r = dv->reqs; r; r = r->next)
		if (r->got < r->want) {
			r->unsure = true;
			dv->run->sh->c.unsure += r->want - r->got;
		}
	for (q = 0; q < dv->nq; q++) {
		dv->q[q].pending = 0;
		dv->q[q].first_reject = FZ_NONE;
	}
	return 0;
}

void fz_round_release(struct fz_dev *dv, bool check)
{
	struct fz_run *run = dv->run;
	struct fz_req *r, *next;
	unsigned int q, i;

	for (r = dv->reqs; r; r = next) {
		next = r->next;
		if (check && dv->open)
			fz_check_blks(dv, r);
		/* Never made available or never reached: forget its writes. */
		if (!r->published || (!r->want && !r->unsure))
			for (i = 0; i < r->npended; i++)
				fz_unpend(&run->sw, r->pended[i].sector,
					  r->pended[i].h);
		fz_req_free(dv, r, dv->open);
	}
	dv->reqs = NULL;
	dv->warena_busy = false;
	fz_unclaim_round(&run->sw);
	for (q = 0; q < dv->nq && dv->open; q++) {
		struct vblk_vq *vq = &dv->d.vq[q];
		struct fz_queue *qs = &dv->q[q];

		memset(qs->by_head, 0, vq->num * sizeof(*qs->by_head));
		if (vq->inflight)
			continue;
		/* Everything is back: empty descriptors, free list in order,
		 * so the next round's heads do not depend on timing. */
		memset(vq->desc, 0, vq->num * sizeof(*vq->desc));
		for (i = 0; i < vq->num; i++)
			vq->link[i] = (uint16_t)(i + 1 < vq->num ? i + 1 : 0xffff);
		vq->free_head = 0;
		vq->nfree = vq->num;
	}
}

/* ------------------------------------------------------------------------
 * Disturbances
 */

static int mem_shrink(struct fz_dev *dv)
{
	struct fz_rng *rng = &dv->run->rng;
	uint8_t raw[sizeof(struct vhost_memory) + 2 * sizeof(struct vhost_memory_region)];
	struct vhost_memory *m = (struct vhost_memory *)raw;
	const char *what;

	fz_dev_full_table(dv, m);
	switch (fz_below(rng, 4)) {
	case 0:
		m->nregions = 1;
		what = "region 0 only";
		break;
	case 1:
		m->regions[0] = m->regions[1];
		m->nregions = 1;
		what = "region 1 only";
		break;
	case 2:
		m->nregions = 0;
		what = "no region";
		break;
	default:
		m->regions[0].memory_size /= 2;
		what = "half of region 0";
		break;
	}
	if (fz_dev_set_table(dv, m, sizeof(raw), 0, what))
		return -1;
	if (fz_pm(rng, 500) && drain_some(dv, fz_range(rng, 1, 16)))
		return -1;
	vblk_sleep_us(fz_below(rng, 2000));
	fz_dev_full_table(dv, m);
	if (fz_dev_set_table(dv, m, sizeof(raw), 0, "the full table again"))
		return -1;
	return kick_all(dv, true);
}

static int mem_bad(struct fz_dev *dv)
{
	struct fz_rng *rng = &dv->run->rng;
	size_t size = sizeof(struct vhost_memory) + 70 * sizeof(struct vhost_memory_region);
	struct vhost_memory *m = calloc(1, size);
	int ret;

	if (!m)
		abort();
	fz_dev_full_table(dv, m);
	switch (fz_below(rng, 5)) {
	case 0:
		m->padding = (uint32_t)fz_range(rng, 1, UINT32_MAX);
		ret = fz_dev_set_table(dv, m, size, EOPNOTSUPP, "padding set");
		break;
	case 1:
		m->nregions = (uint32_t)fz_range(rng, 65, 70);
		ret = fz_dev_set_table(dv, m, size, E2BIG, "65+ regions");
		break;
	case 2:
		m->nregions = (uint32_t)fz_range(rng, 71, UINT32_MAX);
		ret = fz_dev_set_table(dv, m, size, E2BIG, "a huge region count");
		break;
	case 3:
		m->regions[m->nregions].guest_phys_addr = 0x1000 * fz_range(rng, 1, 1000);
		m->regions[m->nregions].memory_size = 0;
		m->regions[m->nregions].userspace_addr = m->regions[0].userspace_addr;
		m->nregions++;
		ret = fz_dev_set_table(dv, m, size, EFAULT, "an empty region");
		break;
	default:
		m->regions[m->nregions].guest_phys_addr = UINT64_MAX - 4095;
		m->regions[m->nregions].memory_size = 4096 * fz_range(rng, 2, 16);
		m->regions[m->nregions].userspace_addr = m->regions[0].userspace_addr;
		m->nregions++;
		ret = fz_dev_set_table(dv, m, size, EFAULT, "a region wrapping past 2^64");
		break;
	}
	free(m);
	return ret;
}

/* Backend away, kicks while it is, back: returns after the re-attach. */
static int detach(struct fz_dev *dv, unsigned int *split)
{
	struct fz_rng *rng = &dv->run->rng;
	struct vhost_blk_config c;
	unsigned int q;

	if (vblk_dev_detach(&dv->d))
		return fz_fail(dv->run, "device #%u: detaching with requests in flight: %s",
			       dv->id, dv->d.err);
	memset(&c, 0, sizeof(c));
	if (vblk_dev_get_config(&dv->d, &c))
		return fz_fail(dv->run, "device #%u: %s", dv->id, dv->d.err);
	if (c.capacity || c.engine)
		return fz_fail(dv->run, "device #%u: GET_CONFIG after detaching: capacity %llu, engine %u; expected 0 and 0",
			       dv->id, (unsigned long long)c.capacity, c.engine);
	/* The rest of the round goes in while nobody serves it. */
	for (q = 0; q < dv->nq; q++) {
		publish(dv, q, dv->q[q].npos);
		split[q] = dv->q[q].npos;
	}
	if (kick_all(dv, true))
		return -1;
	vblk_sleep_us(fz_below(rng, 1000));
	if (fz_dev_attach(dv, dv->flags, dv->engine))
		return -1;
	return kick_all(dv, true);
}

/*
 * Queues move to new worker threads with requests in flight (completions
 * queued on the old worker must still arrive), and the old workers are
 * freed where the core lets them go.
 */
static int move_workers(struct fz_dev *dv)
{
#ifdef VHOST_NEW_WORKER
	struct fz_rng *rng = &dv->run->rng;
	unsigned int q;

	if (vblk_module_lacks("vq-workers"))
		return 0;	/* one worker a device on this kernel */

	for (q = 0; q < dv->nq; q++) {
		struct vhost_worker_state w = { 0 }, old = { 0 };
		struct vhost_vring_worker vw = { .index = q };

		if (q && fz_pm(rng, 500))
			continue;
		if (ioctl(dv->d.fd, VHOST_GET_VRING_WORKER, &vw))
			return fz_fail(dv->run, "device #%u: VHOST_GET_VRING_WORKER of queue %u: %s",
				       dv->id, q, strerror(errno));
		old.worker_id = vw.worker_id;
		if (ioctl(dv->d.fd, VHOST_NEW_WORKER, &w))
			return fz_fail(dv->run, "device #%u: VHOST_NEW_WORKER: %s",
				       dv->id, strerror(errno));
		vw.worker_id = w.worker_id;
		if (ioctl(dv->d.fd, VHOST_ATTACH_VRING_WORKER, &vw))
			return fz_fail(dv->run, "device #%u: moving queue %u to worker %u: %s",
				       dv->id, q, w.worker_id, strerror(errno));
		/* Busy while another queue still uses it: that is fine. */
		if (ioctl(dv->d.fd, VHOST_FREE_WORKER, &old) && errno != EBUSY)
			return fz_fail(dv->run, "device #%u: freeing worker %u: %s",
				       dv->id, old.worker_id, strerror(errno));
	}
#else
	(void)dv;
#endif
	return 0;
}

static int reset_owner(struct fz_dev *dv)
{
	if (vblk_dev_reset_owner(&dv->d))
		return fz_fail(dv->run, "device #%u: RESET_OWNER with requests in flight: %s",
			       dv->id, dv->d.err);
	if (unsure(dv))
		return -1;
	fz_round_release(dv, true);
	if (vblk_dev_setup(&dv->d))
		return fz_fail(dv->run, "device #%u: setting it up again after RESET_OWNER: %s",
			       dv->id, dv->d.err);
	/* RESET_OWNER forgot the log and VHOST_F_LOG_ALL: set them again. */
	if (fz_dev_new_serial(dv) || fz_log_setup(dv))
		return -1;
	return fz_dev_attach(dv, dv->flags, dv->engine);
}

static int close_inflight(struct fz_dev *dv)
{
	close(dv->d.fd);
	dv->d.fd = -1;
	if (unsure(dv))
		return -1;
	fz_round_release(dv, true);
	dv->broken = true;	/* the caller unmaps it */
	return 0;
}

static int between_rounds(struct fz_dev *dv)
{
	struct fz_run *run = dv->run;
	struct fz_rng *rng = &run->rng;
	struct fz_counters *c = &run->sh->c;

	if (fz_pm(rng, 15)) {
		uint32_t flags = 0;

		c->events[FZ_EV_REATTACH]++;
		if (!(dv->flags & VHOST_BLK_BACKEND_F_READONLY) && fz_pm(rng, 400))
			flags = VHOST_BLK_BACKEND_F_READONLY;
		if (vblk_dev_detach(&dv->d))
			return fz_fail(run, "device #%u: detaching: %s", dv->id,
				       dv->d.err);
		if (fz_dev_attach(dv, flags, fz_pick_engine(run)))
			return -1;
	}
	if (fz_pm(rng, 15)) {
		c->events[FZ_EV_SERIAL]++;
		if (fz_dev_new_serial(dv))
			return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------------
 * The round
 */

static void start_queues(struct fz_dev *dv)
{
	unsigned int q;

	for (q = 0; q < dv->nq; q++) {
		struct fz_queue *qs = &dv->q[q];

		qs->npos = 0;
		qs->published = 0;
		qs->avail0 = dv->d.vq[q].avail_idx;
		qs->first_reject = FZ_NONE;
		qs->closed = false;
		qs->pending = 0;
		qs->err0 = vblk_vq_errors(&dv->d.vq[q]);
	}
}

static int generate(struct fz_dev *dv)
{
	static const unsigned int w[] = { 780, 200 };
	struct fz_rng *rng = &dv->run->rng;
	unsigned int q, total = 0, target, misses = 0;

	for (q = 0; q < dv->nq; q++)
		total += dv->d.vq[q].num;
	target = (unsigned int)fz_range(rng, total / 4 + 1, total);
	if (fz_pm(rng, 50))
		target = (unsigned int)fz_range(rng, 1, 4);
	while (target && misses < 8 + dv->nq) {
		int r;

		q = (unsigned int)fz_below(rng, dv->nq);
		r = fz_pick(rng, w, 2) ? fz_gen_mal(dv, q) : fz_gen_wf(dv, q);
		if (r < 0)
			return -1;
		if (!r) {
			misses++;
			continue;
		}
		target--;
	}
	for (q = 0; q < dv->nq; q++)
		if (fz_pm(rng, 80) && fz_gen_tail(dv, q) < 0)
			return -1;
	return 0;
}

/*
 * With requests in flight, make the file system recall the layout of a
 * file the bio engine serves through it: a preallocation (KEEP_SIZE) of a
 * random range changes no data, but XFS breaks layouts before any
 * fallocate. The device gives the layout back once its bios are done and
 * maps the file again later.
 */
static int recall_layout(struct fz_dev *dv)
{
	struct fz_run *run = dv->run;
	uint64_t blocks = run->bsize / 4096;
	uint64_t first = fz_below(&run->rng, blocks);
	uint64_t n = fz_range(&run->rng, 1, 256);

	if (first + n > blocks)
		n = blocks - first;
	if (fallocate(run->bfd, FALLOC_FL_KEEP_SIZE, (off_t)(first * 4096),
		      (off_t)(n * 4096)))
		return fz_fail(run, "device #%u: fallocate(KEEP_SIZE) of the image to recall its layout: %s",
			       dv->id, strerror(errno));
	return 0;
}

int fz_round(struct fz_dev *dv)
{
	unsigned int we[] = {
		[FZ_EV_NONE] = 780, [FZ_EV_MEM_SAME] = 30, [FZ_EV_MEM_SHRINK] = 40,
		[FZ_EV_MEM_BAD] = 30, [FZ_EV_DETACH] = 40, [FZ_EV_BAD_IOCTL] = 30,
		[FZ_EV_RESET] = 15, [FZ_EV_CLOSE] = 10, [FZ_EV_KICKS] = 25,
		[FZ_EV_WORKER] = 20, [FZ_EV_RECALL] = 0,
	};
	struct fz_run *run = dv->run;
	struct fz_rng *rng = &run->rng;
	unsigned int split[VHOST_BLK_MAX_QUEUES], q, ev;
	int ret = 0;

	run->round_seq++;
	run->sh->c.rounds++;
	__atomic_add_fetch(&run->sh->progress, 1, __ATOMIC_RELAXED);
	if (between_rounds(dv))
		return -1;
	start_queues(dv);
	fz_log_round_start(dv);
	dv->allow_break = fz_pm(rng, 120);
	if (generate(dv))
		return -1;
	if (run->has_layout && dv->engine == VHOST_BLK_ENGINE_BIO)
		we[FZ_EV_RECALL] = 10;
	ev = fz_pick(rng, we, FZ_EV_RECALL + 1);
	for (q = 0; q < dv->nq; q++) {
		split[q] = ev == FZ_EV_NONE ? dv->q[q].npos :
			   (unsigned int)fz_below(rng, dv->q[q].npos + 1);
		publish(dv, q, split[q]);
	}
	if (kick_all(dv, false))
		return -1;
	if (ev != FZ_EV_NONE) {
		run->sh->c.events[ev]++;
		if (fz_pm(rng, 500) && drain_some(dv, fz_below(rng, 32)))
			return -1;
		else if (fz_pm(rng, 300))
			vblk_sleep_us(fz_below(rng, 3000));
	}
	if (ev != FZ_EV_RESET && ev != FZ_EV_CLOSE && fz_log_maybe_toggle(dv))
		return -1;
	switch (ev) {
	case FZ_EV_MEM_SAME: {
		uint8_t raw[sizeof(struct vhost_memory) + 2 * sizeof(struct vhost_memory_region)];

		fz_dev_full_table(dv, (struct vhost_memory *)raw);
		ret = fz_dev_set_table(dv, (struct vhost_memory *)raw, sizeof(raw),
				       0, "the same table");
		break;
	}
	case FZ_EV_MEM_SHRINK:
		ret = mem_shrink(dv);
		break;
	case FZ_EV_MEM_BAD:
		ret = mem_bad(dv);
		break;
	case FZ_EV_DETACH:
		ret = detach(dv, split);
		break;
	case FZ_EV_BAD_IOCTL:
		ret = fz_dev_bad_ioctls(dv);
		break;
	case FZ_EV_RESET:
		/* Its round ends undrained: its log is not checked. */
		fz_log_skip(dv);
		ret = reset_owner(dv);
		return ret;
	case FZ_EV_CLOSE:
		fz_log_skip(dv);
		return close_inflight(dv);
	case FZ_EV_KICKS:
		for (q = (unsigned int)fz_range(rng, 1, 5); q && !ret; q--)
			ret = kick_all(dv, true);
		break;
	case FZ_EV_WORKER:
		ret = move_workers(dv);
		break;
	case FZ_EV_RECALL:
		ret = recall_layout(dv);
		break;
	}
	if (ret)
		return -1;
	for (q = 0; q < dv->nq; q++)
		publish(dv, q, dv->q[q].npos);
	if (kick_all(dv, false) || drain(dv))
		return -1;
	if ((ev == FZ_EV_NONE || ev == FZ_EV_MEM_SAME || ev == FZ_EV_KICKS ||
	     ev == FZ_EV_WORKER || ev == FZ_EV_RECALL) && check_quiet(dv))
		return -1;
	if (check_broken(dv) || fz_log_check(dv))
		return -1;
	fz_round_release(dv, true);
	return 0;
}
