// SPDX-License-Identifier: GPL-2.0-only
/*
 * Keep up to p->depth requests in flight over p->queues queues: ask prep()
 * for the next request, queue it, kick every queue that got new requests,
 * wait for any queue, hand completions to done(), repeat.
 */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vblk.h"

struct pump_state {
	struct vblk_pump_op *ops;
	struct vblk_pump_op **free;
	unsigned int nfree;
	struct vblk_pump_op *pending;	/* prepared, waiting for ring room */
	unsigned int inflight;
	unsigned int next_q;
	bool dirty[VHOST_BLK_MAX_QUEUES];
};

static int pump_setup(struct vblk_pump *p, struct pump_state *s)
{
	unsigned int i;

	s->ops = calloc(p->depth, sizeof(*s->ops));
	s->free = calloc(p->depth, sizeof(*s->free));
	if (!s->ops || !s->free)
		goto nomem;
	for (i = 0; i < p->depth; i++) {
		struct vblk_pump_op *op = &s->ops[i];

		op->buf = vblk_mem_alloc(&p->dev->mem, p->buf_size, 4096);
		op->seg = calloc(p->max_segs, sizeof(*op->seg));
		if (!op->buf || !op->seg) {
			snprintf(p->err, sizeof(p->err),
				 "pump: no %s memory for %u requests of %zu bytes",
				 op->buf ? "host" : "guest", p->depth,
				 p->buf_size);
			return -ENOMEM;
		}
		s->free[s->nfree++] = op;
	}
	return 0;
nomem:
	snprintf(p->err, sizeof(p->err), "pump: out of memory");
	return -ENOMEM;
}

static void pump_teardown(struct vblk_pump *p, struct pump_state *s,
			  bool clean)
{
	unsigned int i;

	for (i = 0; s->ops && i < p->depth; i++) {
		/* After a failure the device may still write into buffers. */
		if (clean)
			vblk_mem_free(&p->dev->mem, s->ops[i].buf);
		free(s->ops[i].seg);
	}
	free(s->ops);
	free(s->free);
}

/* Queue the pending op: 1 queued, 0 ring full for now, < 0 error. */
static int pump_queue(struct vblk_pump *p, struct pump_state *s)
{
	struct vblk_pump_op *op = s->pending;
	struct vblk_vq *vq = &p->dev->vq[op->queue];
	int ret;

	ret = vblk_req_queue(vq, &op->req);
	if (ret == -ENOSPC && vq->inflight)
		return 0;
	if (ret) {
		snprintf(p->err, sizeof(p->err), "pump: %.240s", vq->err);
		return ret;
	}
	s->pending = NULL;
	s->inflight++;
	s->dirty[op->queue] = true;
	p->submitted++;
	return 1;
}

static int pump_fill(struct vblk_pump *p, struct pump_state *s, bool *more)
{
	int ret;

	for (;;) {
		struct vblk_pump_op *op;

		if (s->pending) {
			ret = pump_queue(p, s);
			if (ret <= 0)
				return ret;
			continue;
		}
		if (!*more || !s->nfree)
			return 0;
		op = s->free[--s->nfree];
		memset(&op->req, 0, sizeof(op->req));
		op->req.priv = op;
		op->queue = s->next_q++ % p->queues;
		ret = p->prep(p, op);
		if (ret <= 0) {
			s->free[s->nfree++] = op;
			if (ret < 0)
				return ret;
			*more = false;
			return 0;
		}
		if (op->queue >= p->queues) {
			snprintf(p->err, sizeof(p->err),
				 "pump: prep chose queue %u of %u", op->queue,
				 p->queues);
			return -EINVAL;
		}
		s->pending = op;
	}
}

static int pump_kick(struct vblk_pump *p, struct pump_state *s)
{
	unsigned int q;

	for (q = 0; q < p->queues; q++) {
		int ret;

		if (!s->dirty[q])
			continue;
		s->dirty[q] = false;
		ret = vblk_vq_kick(&p->dev->vq[q]);
		if (ret < 0) {
			snprintf(p->err, sizeof(p->err), "pump: %.240s",
				 p->dev->vq[q].err);
			return ret;
		}
	}
	return 0;
}

static int pump_reap(struct vblk_pump *p, struct pump_state *s, bool *more)
{
	struct vblk_vq *vqs[VHOST_BLK_MAX_QUEUES];
	unsigned int q;
	int ret;

	for (q = 0; q < p->queues; q++)
		vqs[q] = &p->dev->vq[q];
	ret = vblk_vq_wait_any(vqs, p->queues, p->timeout_ms);
	if (ret == -EIO) {
		for (q = 0; q < p->queues; q++)
			if (vblk_vq_has_used(vqs[q]))
				snprintf(p->err, sizeof(p->err), "pump: %.240s",
					 vqs[q]->err);
		return ret;
	}
	if (ret) {
		unsigned int n = 0;
		int len;

		len = snprintf(p->err, sizeof(p->err),
			       "pump: no request completed within %d ms; in flight per queue:",
			       p->timeout_ms);
		for (q = 0; q < p->queues && len < (int)sizeof(p->err); q++)
			len += snprintf(p->err + len, sizeof(p->err) - len,
					"%s q%u %u (avail %u used %u)",
					n++ ? "," : "", q, vqs[q]->inflight,
					vqs[q]->avail_idx,
					le16toh(vqs[q]->used->idx));
		return ret;
	}
	for (q = 0; q < p->queues; q++) {
		struct vblk_req *done[32];
		int i, n;

		while (vblk_vq_has_used(vqs[q])) {
			n = vblk_reap(vqs[q], 0, done, 32);
			if (n < 0) {
				snprintf(p->err, sizeof(p->err), "pump: %.240s",
					 vqs[q]->err);
				return n;
			}
			for (i = 0; i < n; i++) {
				struct vblk_pump_op *op = done[i]->priv;

				s->inflight--;
				p->completed++;
				ret = p->done(p, op);
				if (ret < 0)
					return ret;
				s->free[s->nfree++] = op;
				*more = true;
			}
		}
	}
	return 0;
}

int vblk_pump_run(struct vblk_pump *p)
{
	struct pump_state s;
	bool more = true;
	int ret;

	memset(&s, 0, sizeof(s));
	p->err[0] = 0;
	if (!p->queues || p->queues > p->dev->nvq || !p->depth ||
	    !p->max_segs || !p->buf_size || !p->prep || !p->done) {
		snprintf(p->err, sizeof(p->err),
			 "pump: bad parameters (%u queues of %u, depth %u)",
			 p->queues, p->dev->nvq, p->depth);
		return -EINVAL;
	}
	if (!p->timeout_ms)
		p->timeout_ms = VBLK_DEFAULT_TIMEOUT_MS;
	ret = pump_setup(p, &s);
	while (!ret) {
		ret = pump_fill(p, &s, &more);
		if (!ret)
			ret = pump_kick(p, &s);
		if (ret || (!s.inflight && !s.pending && !more))
			break;
		if (!s.inflight) {
			snprintf(p->err, sizeof(p->err),
				 "pump: a request does not fit in an empty ring");
			ret = -ENOSPC;
			break;
		}
		ret = pump_reap(p, &s, &more);
	}
	pump_teardown(p, &s, !s.inflight);
	return ret;
}
