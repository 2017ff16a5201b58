// SPDX-License-Identifier: GPL-2.0-only
/*
 * The request model: descriptor chains in, used ring entries out.
 *
 * The kick handler runs in the virtqueue's vhost worker, which has the
 * owner's mm. It parses and checks each chain, pins the guest pages of the
 * data and hands the request to the backend's engine, only through its
 * operations (struct vhost_blk_engine_ops). Engines complete from any
 * context into a lock-free list; the worker lets the engine end each
 * request, writes the status bytes, returns the heads in one batch and
 * notifies the guest once.
 */
#include <linux/mm.h>
#include <linux/rcupdate.h>
#include <linux/sched/clock.h>
#include <linux/sched/signal.h>
#include <linux/sched/stat.h>
#include <linux/slab.h>
#include <linux/timekeeping.h>
#include <linux/uio.h>

#include "blk.h"
#include "trace.h"

/* Not a virtio status: the queue's pin budget is spent, start it later. */
#define VHOST_BLK_S_LATER	0xff

int vhost_blk_vq_alloc_reqs(struct vhost_blk_vq *bvq)
{
	unsigned int i, n = bvq->vq.num;

	bvq->reqs = kvcalloc(n, sizeof(*bvq->reqs), GFP_KERNEL_ACCOUNT);
	if (!bvq->reqs)
		return -ENOMEM;
	bvq->nr_reqs = n;
	bvq->free = NULL;
	for (i = n; i-- > 0;) {
		bvq->reqs[i].bvq = bvq;
		vhost_blk_work_init(&bvq->reqs[i]);
		bvq->reqs[i].next_free = bvq->free;
		bvq->free = &bvq->reqs[i];
	}
	bvq->inflight = 0;
	bvq->pinned = 0;
	bvq->starved = false;
	bvq->repoll = false;
	vhost_blk_stat_add(VHOST_BLK_STAT_REQUESTS, n);
	return 0;
}

void vhost_blk_vq_free_reqs(struct vhost_blk_vq *bvq)
{
	if (!bvq->reqs)
		return;
	WARN_ON(bvq->inflight || bvq->pinned);
	vhost_blk_stat_add(VHOST_BLK_STAT_REQUESTS, -(long)bvq->nr_reqs);
	kvfree(bvq->reqs);
	bvq->reqs = NULL;
	bvq->nr_reqs = 0;
	bvq->free = NULL;
}

bool vhost_blk_vq_idle(struct vhost_blk_vq *bvq)
{
	return READ_ONCE(bvq->inflight) == 0;
}

static struct vhost_blk_req *vhost_blk_get_req(struct vhost_blk_vq *bvq)
{
	struct vhost_blk_req *req = bvq->free;

	bvq->free = req->next_free;
	WRITE_ONCE(bvq->inflight, bvq->inflight + 1);
	req->status_ptr = NULL;
	req->bvec = NULL;
	req->nr_bvec = 0;
	req->bounce = NULL;
	req->nr_bounce = 0;
	req->bounce_read = false;
	req->layout_locked = false;
	req->dio_deferred = false;
	req->nr_seg = 0;
	req->start_ns = 0;
	req->len = 0;
	req->used_len = 0;
	req->to_guest = false;
	req->fua = false;
	req->log = NULL;
	req->log_num = 0;
	return req;
}

static void vhost_blk_put_req(struct vhost_blk_vq *bvq,
			      struct vhost_blk_req *req)
{
	if (req->log != req->inline_log)
		kfree(req->log);
	req->log = NULL;
	req->log_num = 0;
	req->next_free = bvq->free;
	bvq->free = req;
	WRITE_ONCE(bvq->inflight, bvq->inflight - 1);
	if (!bvq->inflight && wq_has_sleeper(&bvq->blk->drain_wq))
		wake_up(&bvq->blk->drain_wq);
}

/*
 * Pin the guest pages behind @iter into req->bvec, one entry a page. On
 * failure what was pinned stays in req->bvec for vhost_blk_unpin().
 */
static int vhost_blk_pin(struct vhost_blk_req *req, struct iov_iter *iter)
{
	struct vhost_blk_vq *bvq = req->bvq;
	/* Bounded by the request limits checked before. */
	unsigned int max = iov_iter_npages(iter, INT_MAX);
	struct page *chunk[16];

	/* Over the queue's budget: later, unless nothing else is pinned. */
	if (bvq->pinned && bvq->pinned + max > VHOST_BLK_PIN_BUDGET)
		return -EBUSY;
	if (max > VHOST_BLK_INLINE_BVECS) {
		req->bvec = kvmalloc_array(max, sizeof(*req->bvec),
					   GFP_KERNEL_ACCOUNT);
		if (!req->bvec)
			return -ENOMEM;
	} else {
		req->bvec = req->inline_bvec;
	}

	while (iov_iter_count(iter)) {
		struct page **pages = chunk;
		unsigned int i, n;
		size_t off;
		ssize_t got;

		got = vhost_blk_extract_pages(iter, &pages, iov_iter_count(iter),
					      ARRAY_SIZE(chunk), &off);
		if (got <= 0)
			return got ? got : -EFAULT;
		n = DIV_ROUND_UP(off + got, PAGE_SIZE);
		if (WARN_ON_ONCE(req->nr_bvec + n > max)) {
			unpin_user_pages(chunk, n);
			return -EFAULT;
		}
		for (i = 0; i < n; i++) {
			size_t len = min_t(size_t, got, PAGE_SIZE - off);

			bvec_set_page(&req->bvec[req->nr_bvec++], chunk[i], len,
				      off);
			got -= len;
			off = 0;
		}
		bvq->pinned += n;
		vhost_blk_stat_add(VHOST_BLK_STAT_PINNED_PAGES, n);
	}
	return 0;
}

static void vhost_blk_unpin(struct vhost_blk_req *req)
{
	unsigned int i;

	for (i = 0; i < req->nr_bvec; i++)
		unpin_user_page_range_dirty_lock(req->bvec[i].bv_page, 1,
						 req->to_guest);
	req->bvq->pinned -= req->nr_bvec;
	vhost_blk_stat_add(VHOST_BLK_STAT_PINNED_PAGES, -(long)req->nr_bvec);
	req->nr_bvec = 0;
	if (req->bvec != req->inline_bvec)
		kvfree(req->bvec);
	req->bvec = NULL;
}

/*
 * Complete @req with @status. Any context: the status reaches the guest
 * from the virtqueue's worker, or, once that worker is gone (the owner was
 * killed), the request is released without touching guest memory.
 */
void vhost_blk_req_done(struct vhost_blk_req *req, u8 status)
{
	struct vhost_blk_vq *bvq = req->bvq;

	req->status = status;
	/*
	 * Once on done_list the request can be reaped and the device
	 * detached and freed by others before we queue the work that reaps
	 * it: the detach waits for this read-side section (synchronize_rcu).
	 */
	rcu_read_lock();
	llist_add(&req->done_node, &bvq->done_list);
	/* Completed inside the queue's kick loop, which reaps before it ends. */
	if (!(in_task() && READ_ONCE(bvq->loop_task) == current) &&
	    !vhost_vq_work_queue(&bvq->vq, &bvq->done_work))
		queue_work(system_wq, &bvq->orphan_work);
	rcu_read_unlock();
}

/*
 * Dirty logging: mark the device-writable descriptors @log[0..@num) of
 * request @head, after the device wrote them and before their used entry
 * is published. All of them, whatever the status: a read that failed may
 * have written part of its data. A log the core cannot write is the
 * owner's broken setup: the ring stops.
 */
static void vhost_blk_log(struct vhost_virtqueue *vq,
			  const struct vhost_log *log, unsigned int num,
			  u16 head)
{
	unsigned int i;
	u64 len = 0;

	for (i = 0; i < num; i++)
		len += log[i].len;
	if (vhost_log_write(vq, (struct vhost_log *)log, num, len, NULL, 0))
		vq_err(vq, "vhost-blk: cannot write the dirty log of request %u\n",
		       head);
}

/*
 * Keep the writable descriptors vhost_get_vq_desc() put in vq->log, which
 * the next call overwrites. Without memory for them: log them all now
 * (GET_ID wrote its answer already; extra bits are harmless) and keep the
 * last, which holds the status byte; false, and the request must fail
 * without its data.
 */
static bool vhost_blk_keep_log(struct vhost_blk_req *req,
			       unsigned int log_num)
{
	struct vhost_virtqueue *vq = &req->bvq->vq;
	const struct vhost_log *log = vq->log;

	req->log = req->inline_log;
	if (log_num > VHOST_BLK_INLINE_LOG) {
		req->log = kmalloc_array(log_num, sizeof(*log),
					 GFP_KERNEL_ACCOUNT);
		if (!req->log) {
			vhost_blk_log(vq, log, log_num, req->head);
			req->log = req->inline_log;
			req->inline_log[0] = log[log_num - 1];
			req->log_num = 1;
			return false;
		}
	}
	memcpy(req->log, log, log_num * sizeof(*log));
	req->log_num = log_num;
	return true;
}

/* Write @req's status and fill in its used entry @used. */
static void vhost_blk_req_status(struct vhost_blk_req *req,
				 struct vring_used_elem *used)
{
	struct vhost_virtqueue *vq = &req->bvq->vq;
	u32 len = req->status_ptr ? 1 : 0;

	if (req->status == VIRTIO_BLK_S_OK)
		len = req->used_len;
	/*
	 * The status byte was translated when the chain was taken: a fault
	 * now means the owner unmapped the guest memory behind it (or never
	 * mapped it). The guest cannot be told anything about this request:
	 * that is guest memory broken under the ring, not a failed request.
	 */
	if (req->status_ptr && put_user(req->status, req->status_ptr))
		vq_err(vq, "vhost-blk: cannot write the status of request %u\n",
		       req->head);
	if (req->log_num)
		vhost_blk_log(vq, req->log, req->log_num, req->head);
	used->id = cpu_to_vhost32(vq, req->head);
	used->len = cpu_to_vhost32(vq, len);
}

/*
 * Return the completed requests to the guest (@to_guest) or just release
 * them. Under vq->mutex. Returns how many there were.
 */
static unsigned int vhost_blk_reap(struct vhost_blk_vq *bvq, bool to_guest)
{
	const struct vhost_blk_engine_ops *ops;
	struct vhost_virtqueue *vq = &bvq->vq;
	struct vhost_blk_req *req, *tmp;
	struct llist_node *list;
	unsigned int n = 0, total = 0;

	if (llist_empty(&bvq->done_list))
		return 0;
	/* Attached: no request lives without a backend. */
	ops = bvq->blk->be->ops;
	list = llist_reverse_order(llist_del_all(&bvq->done_list));
	llist_for_each_entry_safe(req, tmp, list, done_node) {
		if (!ops->end(req))
			continue;	/* issued again */
		vhost_blk_unpin(req);
		trace_vhost_blk_req_end(req, req->start_ns ?
					ktime_get_ns() - req->start_ns : 0);
		if (to_guest) {
			vhost_blk_req_status(req, &vq->heads[n]);
			if (++n == UIO_MAXIOV) {
				if (vhost_blk_add_used_n(vq, vq->heads, n))
					vq_err(vq, "vhost-blk: cannot update the used ring\n");
				n = 0;
			}
		}
		vhost_blk_put_req(bvq, req);
		total++;
	}
	if (n && vhost_blk_add_used_n(vq, vq->heads, n))
		vq_err(vq, "vhost-blk: cannot update the used ring\n");
	if (to_guest)
		vhost_signal(&bvq->blk->dev, vq);
	return total;
}

static void vhost_blk_complete(struct vhost_blk_vq *bvq, bool to_guest)
{
	struct vhost_virtqueue *vq = &bvq->vq;
	unsigned int n;
	bool kick;

	mutex_lock(&vq->mutex);
	/* Nothing, when the kick loop took them meanwhile. */
	n = vhost_blk_reap(bvq, to_guest);
	/*
	 * Requests may be free again, the kick loop left notifications off
	 * for us, or the ring is polled after completions (a guest that just
	 * saw its requests complete is the one about to queue more): take the
	 * ring up where we stopped.
	 */
	kick = to_guest && (bvq->starved || bvq->repoll ||
			    (n && vq->busyloop_timeout));
	bvq->starved = false;
	bvq->repoll = false;
	mutex_unlock(&vq->mutex);

	if (kick)
		vhost_poll_queue(&vq->poll);
}

void vhost_blk_done_work(struct vhost_work *work)
{
	vhost_blk_complete(container_of(work, struct vhost_blk_vq, done_work),
			   true);
}

void vhost_blk_orphan_work(struct work_struct *work)
{
	vhost_blk_complete(container_of(work, struct vhost_blk_vq, orphan_work),
			   false);
}

/*
 * Within the capacity; and a change of a regular file within its size now,
 * which may be less than the capacity until VHOST_BLK_RESIZE: a write past
 * the end of a file cut short would extend it again, and the blocks it
 * allocated there would be nobody's.
 */
static bool vhost_blk_range_ok(const struct vhost_blk_backend_state *be,
			       u64 sector, u64 nr_sectors, bool write)
{
	if (sector > be->capacity || nr_sectors > be->capacity - sector)
		return false;
	return !write || be->bdev ||
	       (sector + nr_sectors) << SECTOR_SHIFT <=
	       i_size_read(file_inode(be->file));
}

/*
 * May the guest change the backend? Not when attached read-only, nor on a
 * block device made read-only since (BLKROSET): the block layer only warns
 * about such a write, and lets it through.
 */
static bool vhost_blk_may_write(const struct vhost_blk_backend_state *be)
{
	return !be->read_only && !(be->bdev && bdev_read_only(be->bdev));
}

/*
 * IN and OUT: check and pin.
 *
 * Bytes are bounded, not segments: the vhost core turns a descriptor that
 * crosses from one memory region into the next into one iovec a region
 * (translate_desc), so how many iovecs a guest within seg_max descriptors
 * makes depends on how the owner laid out its memory, which the guest
 * cannot see. What is pinned stays bounded all the same: the pages of at
 * most 8 MiB and two more an iovec at most, and the core gives at most
 * UIO_MAXIOV iovecs a chain (beyond that the ring breaks).
 */
static u8 vhost_blk_setup_rw(struct vhost_blk_req *req, struct iov_iter *data)
{
	const struct vhost_blk_backend_state *be = vhost_blk_req_backend(req);
	u64 pos = req->sector << SECTOR_SHIFT;
	int ret;

	/* Per-request errors, the ring is fine: IOERR alone (parse_req). */
	req->len = iov_iter_count(data);
	if (!req->len)
		return VIRTIO_BLK_S_IOERR;
	if (!req->to_guest && !vhost_blk_may_write(be))
		return VIRTIO_BLK_S_IOERR;
	if (req->len > VHOST_BLK_MAX_BYTES)
		return VIRTIO_BLK_S_IOERR;
	if (req->sector > U64_MAX >> SECTOR_SHIFT ||
	    !IS_ALIGNED(pos, be->lbs) || !IS_ALIGNED(req->len, be->lbs) ||
	    !vhost_blk_range_ok(be, req->sector, req->len >> SECTOR_SHIFT,
				!req->to_guest))
		return VIRTIO_BLK_S_IOERR;
	ret = vhost_blk_pin(req, data);
	if (ret == -EBUSY)
		return VHOST_BLK_S_LATER;
	if (ret)
		return VIRTIO_BLK_S_IOERR;
	if (req->to_guest)
		req->used_len = req->len + 1;
	return VIRTIO_BLK_S_OK;
}

static u8 vhost_blk_get_id(struct vhost_blk_req *req, struct iov_iter *to)
{
	struct vhost_blk *blk = req->bvq->blk;
	u8 id[VHOST_BLK_SERIAL_LEN];
	size_t n = min_t(size_t, iov_iter_count(to), sizeof(id));

	spin_lock(&blk->serial_lock);
	memcpy(id, blk->serial, sizeof(id));
	spin_unlock(&blk->serial_lock);
	if (copy_to_iter(id, n, to) != n)
		return VIRTIO_BLK_S_IOERR;
	req->used_len = n + 1;
	return VIRTIO_BLK_S_OK;
}

/* DISCARD and WRITE_ZEROES: copy the segments in and check them. */
static u8 vhost_blk_setup_segs(struct vhost_blk_req *req,
			       struct iov_iter *from)
{
	const struct vhost_blk_backend_state *be = vhost_blk_req_backend(req);
	size_t bytes = iov_iter_count(from);
	bool discard = req->type == VIRTIO_BLK_T_DISCARD;
	u32 max = discard ? be->discard_sectors : be->zeroes_sectors;
	unsigned int i;

	if (!max)
		return VIRTIO_BLK_S_UNSUPP;
	if (!vhost_blk_may_write(be))
		return VIRTIO_BLK_S_IOERR;
	if (!bytes || bytes % sizeof(req->segs[0]) ||
	    bytes > sizeof(req->segs))
		return VIRTIO_BLK_S_IOERR;
	if (!copy_from_iter_full(req->segs, bytes, from))
		return VIRTIO_BLK_S_IOERR;
	req->nr_seg = bytes / sizeof(req->segs[0]);

	for (i = 0; i < req->nr_seg; i++) {
		u64 sector = le64_to_cpu(req->segs[i].sector);
		u32 nr = le32_to_cpu(req->segs[i].num_sectors);
		u32 flags = le32_to_cpu(req->segs[i].flags);
		u32 allowed = discard ? 0 : VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP;

		if (flags & ~allowed)
			return VIRTIO_BLK_S_UNSUPP;
		if (!nr || nr > max || !vhost_blk_range_ok(be, sector, nr, true) ||
		    !IS_ALIGNED(sector << SECTOR_SHIFT, be->lbs) ||
		    !IS_ALIGNED((u64)nr << SECTOR_SHIFT, be->lbs))
			return VIRTIO_BLK_S_IOERR;
	}
	return VIRTIO_BLK_S_OK;
}

/* The segments of a DISCARD or WRITE_ZEROES, one after the other. */
static u8 vhost_blk_exec_segs(struct vhost_blk_req *req)
{
	struct vhost_blk_backend_state *be = vhost_blk_req_backend(req);
	unsigned int i;
	int ret;

	for (i = 0; i < req->nr_seg; i++) {
		const struct virtio_blk_discard_write_zeroes *seg = &req->segs[i];
		u64 sector = le64_to_cpu(seg->sector);
		u32 nr = le32_to_cpu(seg->num_sectors);
		u32 flags = le32_to_cpu(seg->flags);

		if (req->type == VIRTIO_BLK_T_DISCARD)
			ret = be->ops->discard(be, sector, nr);
		else
			ret = be->ops->write_zeroes(be, sector, nr,
				flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);
		if (ret == -EOPNOTSUPP)
			return VIRTIO_BLK_S_UNSUPP;
		if (ret)
			return VIRTIO_BLK_S_IOERR;
	}
	return VIRTIO_BLK_S_OK;
}

/* On the workqueue: issue @req where it may block. */
static void vhost_blk_exec(struct vhost_blk_req *req)
{
	struct vhost_blk_backend_state *be = vhost_blk_req_backend(req);
	u8 status;

	switch (req->type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		be->ops->rw(req, false);
		break;
	case VIRTIO_BLK_T_FLUSH:
		vhost_blk_req_done(req, be->ops->flush(be) ? VIRTIO_BLK_S_IOERR :
							     VIRTIO_BLK_S_OK);
		break;
	default:
		status = vhost_blk_exec_segs(req);
		/* Write-through: the blocks' new state is durable too. */
		if (status == VIRTIO_BLK_S_OK && req->fua && be->ops->flush(be))
			status = VIRTIO_BLK_S_IOERR;
		vhost_blk_req_done(req, status);
		break;
	}
}

/* Issue @req from the workqueue, where it may block. Any context. */
void vhost_blk_punt(struct vhost_blk_req *req, enum vhost_blk_why why)
{
	trace_vhost_blk_req_punt(req, why);
	vhost_blk_queue_work(req, vhost_blk_exec);
}

/*
 * Parse the chain of @req (vq->iov: @out readable, then @in writable
 * iovecs) and check it: VIRTIO_BLK_S_OK when it is ready for its engine.
 *
 * vq_err (the error eventfd: the owner reports a broken ring, QEMU logs a
 * vring error) only when the device cannot return a status at all: no
 * writable byte in the chain here, a status byte or used ring that cannot
 * be written later. Anything wrong inside a request that has a status byte
 * (header, type, sizes, sectors, segments, its data unreadable) is the
 * guest's mistake about that request alone: it completes with IOERR or
 * UNSUPP and the queue goes on, as on a real disk.
 */
static u8 vhost_blk_parse_req(struct vhost_blk_req *req, unsigned int out,
			      unsigned int in)
{
	struct vhost_virtqueue *vq = &req->bvq->vq;
	struct virtio_blk_outhdr hdr;
	struct iovec *iov = vq->iov;
	struct iov_iter from, to;
	size_t out_len = iov_length(iov, out);
	size_t in_len = iov_length(iov + out, in);
	unsigned int last = out + in;

	/* The status is the last writable byte. */
	while (last > out && !iov[last - 1].iov_len)
		last--;
	/*
	 * Nowhere to put a status: the head goes back with used length 0,
	 * which tells the guest nothing about the request. A chain no device
	 * could complete is a broken driver, not a failed request: report it.
	 */
	if (last == out) {
		vq_err(vq, "vhost-blk: request %u has no status byte\n",
		       req->head);
		return VIRTIO_BLK_S_IOERR;
	}
	req->status_ptr = (u8 __user *)iov[last - 1].iov_base +
			  iov[last - 1].iov_len - 1;
	req->used_len = 1;
	iov_iter_init(&to, ITER_DEST, iov + out, in, in_len - 1);
	iov_iter_init(&from, ITER_SOURCE, iov, out, out_len);

	if (out_len < sizeof(hdr) || !copy_from_iter_full(&hdr, sizeof(hdr),
							  &from))
		return VIRTIO_BLK_S_IOERR;
	req->type = vhost32_to_cpu(vq, hdr.type);
	req->sector = vhost64_to_cpu(vq, hdr.sector);

	switch (req->type) {
	case VIRTIO_BLK_T_IN:
		req->to_guest = true;
		return vhost_blk_setup_rw(req, &to);
	case VIRTIO_BLK_T_OUT:
		return vhost_blk_setup_rw(req, &from);
	case VIRTIO_BLK_T_FLUSH:
		return VIRTIO_BLK_S_OK;
	case VIRTIO_BLK_T_GET_ID:
		return vhost_blk_get_id(req, &to);
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		return vhost_blk_setup_segs(req, &from);
	default:
		return VIRTIO_BLK_S_UNSUPP;
	}
}

/*
 * Does the guest see a write-through cache? When it did not negotiate
 * FLUSH (it has no way to make writes durable: the device must), or when
 * its cache was switched to write-through (VHOST_BLK_SET_WRITEBACK).
 */
static bool vhost_blk_write_through(struct vhost_blk_vq *bvq)
{
	return !vhost_has_feature(&bvq->vq, VIRTIO_BLK_F_FLUSH) ||
	       !READ_ONCE(bvq->blk->writeback);
}

/*
 * Take the chain at @head as a request and start it; requests that fail
 * here, and GET_ID, complete at once. Adds the bytes the request moves to
 * @bytes, for the worker's weight. -EBUSY when the queue's pin budget is
 * spent: the chain is given back to the ring, to be taken again.
 */
static int vhost_blk_start_req(struct vhost_blk_vq *bvq, int head,
			       unsigned int ndesc, unsigned int out,
			       unsigned int in, unsigned int log_num,
			       size_t *bytes)
{
	const struct vhost_blk_backend_state *be = bvq->blk->be;
	struct vhost_blk_req *req = vhost_blk_get_req(bvq);
	u8 status;

	req->head = head;
	status = vhost_blk_parse_req(req, out, in);
	if (status == VHOST_BLK_S_LATER) {
		vhost_blk_discard_vq_desc(&bvq->vq, ndesc);
		vhost_blk_put_req(bvq, req);
		return -EBUSY;
	}
	if (log_num && !vhost_blk_keep_log(req, log_num) &&
	    status == VIRTIO_BLK_S_OK && req->type != VIRTIO_BLK_T_GET_ID)
		status = VIRTIO_BLK_S_IOERR;
	if (status != VIRTIO_BLK_S_OK || req->type == VIRTIO_BLK_T_GET_ID) {
		vhost_blk_req_done(req, status);
		return 0;
	}
	req->fua = !req->to_guest && req->type != VIRTIO_BLK_T_FLUSH &&
		   vhost_blk_write_through(bvq);
	if (trace_vhost_blk_req_end_enabled())
		req->start_ns = ktime_get_ns();
	trace_vhost_blk_req_start(req, be->engine);
	if (req->type == VIRTIO_BLK_T_IN || req->type == VIRTIO_BLK_T_OUT)
		be->ops->rw(req, true);
	else
		vhost_blk_punt(req, VHOST_BLK_WHY_CMD);
	*bytes += req->len;
	return 0;
}

static unsigned long vhost_blk_busy_clock(void)
{
	return local_clock() >> 10;	/* about microseconds */
}

/*
 * The ring is empty. With a busy-poll window (VHOST_SET_VRING_BUSYLOOP_TIMEOUT,
 * in microseconds, as for vhost-net), watch it for the guest's next request
 * with notifications left off: the guest saves its kick and the worker its
 * wake-up. Stops early for other work of the worker, or when another task
 * could run on this CPU (as KVM's halt polling): the guest's own thread may
 * be the one waiting for it. Returns true if requests came.
 */
static bool vhost_blk_busy_poll(struct vhost_blk_vq *bvq)
{
	struct vhost_virtqueue *vq = &bvq->vq;
	unsigned long end;
	bool found = false;

	migrate_disable();
	end = vhost_blk_busy_clock() +
	      min_t(u32, vq->busyloop_timeout, VHOST_BLK_BUSYLOOP_MAX_US);
	while (single_task_running() && !need_resched() &&
	       !signal_pending(current) &&
	       !time_after(vhost_blk_busy_clock(), end)) {
		if (!vhost_vq_avail_empty(vq->dev, vq)) {
			found = true;
			break;
		}
		if (vhost_vq_has_work(vq))
			break;
		cpu_relax();
	}
	migrate_enable();
	return found;
}

/*
 * The ring is empty: true to look again (requests came while polling, or
 * just before notifications were turned on), false to stop the loop.
 */
static bool vhost_blk_ring_empty(struct vhost_blk_vq *bvq)
{
	struct vhost_virtqueue *vq = &bvq->vq;

	if (vq->busyloop_timeout) {
		if (vhost_blk_busy_poll(bvq))
			return true;
		/*
		 * Completions came from elsewhere: their done_work queues this
		 * handler again, so notifications may stay off.
		 */
		if (!llist_empty(&bvq->done_list)) {
			bvq->repoll = true;
			return false;
		}
	}
	if (unlikely(vhost_enable_notify(vq->dev, vq))) {
		vhost_disable_notify(vq->dev, vq);
		return true;
	}
	return false;
}

/*
 * Submit the plugged requests, then return what has completed, so the
 * guest can reap and queue more while the loop goes on.
 */
static unsigned int vhost_blk_flush_reap(struct vhost_blk_vq *bvq,
					 struct blk_plug *plug)
{
	unsigned int n;

	blk_finish_plug(plug);
	n = vhost_blk_reap(bvq, true);
	blk_start_plug(plug);
	return n;
}

/*
 * The kick loop: take requests off the ring until it is empty, every
 * request is in flight (starved: a completion takes it up again) or the
 * worker's weight is spent. Every VHOST_BLK_BATCH requests, and before the
 * guest is asked for a kick, the batch is submitted and what completed is
 * returned.
 */
static void vhost_blk_handle_vq(struct vhost_blk_vq *bvq)
{
	struct vhost_virtqueue *vq = &bvq->vq;
	struct blk_plug plug;
	unsigned int out, in, ndesc, batch = 0, log_num = 0;
	size_t total = 0;
	int head, n = 0;
	bool log;

	mutex_lock(&vq->mutex);
	if (!vhost_vq_get_backend(vq))
		goto out;

	/* Stable while the queue runs (vhost_blk_set_features()). */
	log = vhost_has_feature(vq, VHOST_F_LOG_ALL);
	/* Requests completing in this loop need no done_work: see below. */
	WRITE_ONCE(bvq->loop_task, current);
	vhost_disable_notify(vq->dev, vq);
	blk_start_plug(&plug);
	do {
		if (batch == VHOST_BLK_BATCH || !bvq->free) {
			batch = 0;
			vhost_blk_flush_reap(bvq, &plug);
		}
		if (!bvq->free) {
			bvq->starved = true;
			break;
		}
		head = vhost_blk_get_vq_desc(vq, &out, &in,
					     log ? vq->log : NULL,
					     log ? &log_num : NULL, &ndesc);
		if (unlikely(head < 0))
			break;		/* the core reported the broken ring */
		if (head == vq->num) {
			if (batch) {
				batch = 0;
				vhost_blk_flush_reap(bvq, &plug);
			}
			if (vhost_blk_ring_empty(bvq))
				continue;
			break;
		}
		if (vhost_blk_start_req(bvq, head, ndesc, out, in, log_num,
					&total)) {
			/*
			 * Out of pins: go on if completions give some back,
			 * else a completion takes the ring up again.
			 */
			batch = 0;
			if (!vhost_blk_flush_reap(bvq, &plug)) {
				bvq->starved = true;
				break;
			}
			continue;
		}
		batch++;
	} while (likely(!vhost_exceeds_weight(vq, ++n, total)));
	blk_finish_plug(&plug);
	WRITE_ONCE(bvq->loop_task, NULL);
	/* What completed here since the last reap, which queued nothing. */
	if (vhost_blk_reap(bvq, true) && bvq->starved) {
		bvq->starved = false;
		vhost_poll_queue(&vq->poll);
	}
out:
	mutex_unlock(&vq->mutex);
}

void vhost_blk_handle_kick(struct vhost_work *work)
{
	struct vhost_virtqueue *vq = container_of(work, struct vhost_virtqueue,
						  poll.work);

	vhost_blk_handle_vq(container_of(vq, struct vhost_blk_vq, vq));
}
