/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vhost-blk's tracepoints: one request's way (taken off the ring, submitted,
 * punted or sent through the file, ended), the image file's layout, and
 * backends coming and going. debugfs keeps the counters; these are the
 * events. docs/design.md shows them in use.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM vhost_blk

#if !defined(VHOST_BLK_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define VHOST_BLK_TRACE_H

#include <linux/tracepoint.h>

#include "blk.h"

#define vhost_blk_show_type(t)						\
	__print_symbolic(t,						\
		{ VIRTIO_BLK_T_IN, "in" },				\
		{ VIRTIO_BLK_T_OUT, "out" },				\
		{ VIRTIO_BLK_T_FLUSH, "flush" },			\
		{ VIRTIO_BLK_T_GET_ID, "get_id" },			\
		{ VIRTIO_BLK_T_DISCARD, "discard" },			\
		{ VIRTIO_BLK_T_WRITE_ZEROES, "write_zeroes" })

#define vhost_blk_show_engine(e)					\
	__print_symbolic(e,						\
		{ VHOST_BLK_ENGINE_KIOCB, "kiocb" },			\
		{ VHOST_BLK_ENGINE_BIO, "bio" })

#define vhost_blk_show_why(w)						\
	__print_symbolic(w,						\
		{ VHOST_BLK_WHY_CMD, "cmd" },				\
		{ VHOST_BLK_WHY_NO_NOWAIT, "no_nowait" },		\
		{ VHOST_BLK_WHY_AGAIN, "again" },			\
		{ VHOST_BLK_WHY_SHORT, "short" },			\
		{ VHOST_BLK_WHY_FREEZE, "freeze" },			\
		{ VHOST_BLK_WHY_CACHE, "cache" },			\
		{ VHOST_BLK_WHY_LAYOUT, "layout" },			\
		{ VHOST_BLK_WHY_MISALIGNED, "misaligned" },		\
		{ VHOST_BLK_WHY_SYNC, "sync" })

/* A request taken off the ring and checked, before its engine sees it. */
TRACE_EVENT(vhost_blk_req_start,
	TP_PROTO(struct vhost_blk_req *req, u32 engine),
	TP_ARGS(req, engine),
	TP_STRUCT__entry(
		__field(u32, dev)
		__field(u16, queue)
		__field(u16, head)
		__field(u32, type)
		__field(u64, sector)
		__field(u32, len)
		__field(u32, engine)
	),
	TP_fast_assign(
		__entry->dev = req->bvq->blk->id;
		__entry->queue = req->bvq->index;
		__entry->head = req->head;
		__entry->type = req->type;
		__entry->sector = req->sector;
		__entry->len = req->len;
		__entry->engine = engine;
	),
	TP_printk("dev=%u queue=%u head=%u type=%s sector=%llu len=%u engine=%s",
		  __entry->dev, __entry->queue, __entry->head,
		  vhost_blk_show_type(__entry->type), __entry->sector,
		  __entry->len, vhost_blk_show_engine(__entry->engine))
);

/* A read or write handed to the backend: through the file or as a bio. */
TRACE_EVENT(vhost_blk_req_submit,
	TP_PROTO(struct vhost_blk_req *req, const char *path, bool nowait),
	TP_ARGS(req, path, nowait),
	TP_STRUCT__entry(
		__field(u32, dev)
		__field(u16, queue)
		__field(u16, head)
		__string(path, path)
		__field(bool, nowait)
		__field(bool, bounce)
		__field(bool, fua)
	),
	TP_fast_assign(
		__entry->dev = req->bvq->blk->id;
		__entry->queue = req->bvq->index;
		__entry->head = req->head;
		vhost_blk_assign_str(path, path);
		__entry->nowait = nowait;
		__entry->bounce = req->bounce;
		__entry->fua = req->fua;
	),
	TP_printk("dev=%u queue=%u head=%u path=%s nowait=%d bounce=%d fua=%d",
		  __entry->dev, __entry->queue, __entry->head, __get_str(path),
		  __entry->nowait, __entry->bounce, __entry->fua)
);

DECLARE_EVENT_CLASS(vhost_blk_req_why,
	TP_PROTO(struct vhost_blk_req *req, enum vhost_blk_why why),
	TP_ARGS(req, why),
	TP_STRUCT__entry(
		__field(u32, dev)
		__field(u16, queue)
		__field(u16, head)
		__field(u32, why)
	),
	TP_fast_assign(
		__entry->dev = req->bvq->blk->id;
		__entry->queue = req->bvq->index;
		__entry->head = req->head;
		__entry->why = why;
	),
	TP_printk("dev=%u queue=%u head=%u why=%s",
		  __entry->dev, __entry->queue, __entry->head,
		  vhost_blk_show_why(__entry->why))
);

/* Sent to the workqueue, to be issued where it may block. */
DEFINE_EVENT(vhost_blk_req_why, vhost_blk_req_punt,
	TP_PROTO(struct vhost_blk_req *req, enum vhost_blk_why why),
	TP_ARGS(req, why));

/* The bio engine sends it through the backend file instead. */
DEFINE_EVENT(vhost_blk_req_why, vhost_blk_req_fallback,
	TP_PROTO(struct vhost_blk_req *req, enum vhost_blk_why why),
	TP_ARGS(req, why));

/* The status goes to the guest (or, orphaned, nowhere). */
TRACE_EVENT(vhost_blk_req_end,
	TP_PROTO(struct vhost_blk_req *req, u64 latency_ns),
	TP_ARGS(req, latency_ns),
	TP_STRUCT__entry(
		__field(u32, dev)
		__field(u16, queue)
		__field(u16, head)
		__field(u32, type)
		__field(u8, status)
		__field(u64, latency_ns)
	),
	TP_fast_assign(
		__entry->dev = req->bvq->blk->id;
		__entry->queue = req->bvq->index;
		__entry->head = req->head;
		__entry->type = req->type;
		__entry->status = req->status;
		__entry->latency_ns = latency_ns;
	),
	TP_printk("dev=%u queue=%u head=%u type=%s status=%u latency_ns=%llu",
		  __entry->dev, __entry->queue, __entry->head,
		  vhost_blk_show_type(__entry->type), __entry->status,
		  __entry->latency_ns)
);

/* An image file's layout: mapped, recalled, mapped again, given up. */
TRACE_EVENT(vhost_blk_layout,
	TP_PROTO(struct file *file, const char *event, unsigned int extents,
		 int ret),
	TP_ARGS(file, event, extents, ret),
	TP_STRUCT__entry(
		__field(dev_t, sdev)
		__field(unsigned long, ino)
		__string(event, event)
		__field(unsigned int, extents)
		__field(int, ret)
	),
	TP_fast_assign(
		__entry->sdev = file_inode(file)->i_sb->s_dev;
		__entry->ino = file_inode(file)->i_ino;
		vhost_blk_assign_str(event, event);
		__entry->extents = extents;
		__entry->ret = ret;
	),
	TP_printk("fs=%d:%d ino=%lu event=%s extents=%u ret=%d",
		  MAJOR(__entry->sdev), MINOR(__entry->sdev), __entry->ino,
		  __get_str(event), __entry->extents, __entry->ret)
);

/* A backend attached to a device, or detached from it. */
TRACE_EVENT(vhost_blk_backend,
	TP_PROTO(struct vhost_blk *blk, const char *event,
		 const struct vhost_blk_backend_state *be),
	TP_ARGS(blk, event, be),
	TP_STRUCT__entry(
		__field(u32, dev)
		__string(event, event)
		__field(bool, is_bdev)
		__field(u32, engine)
		__field(u64, capacity)
		__field(bool, read_only)
	),
	TP_fast_assign(
		__entry->dev = blk->id;
		vhost_blk_assign_str(event, event);
		__entry->is_bdev = be->bdev;
		__entry->engine = be->engine;
		__entry->capacity = be->capacity;
		__entry->read_only = be->read_only;
	),
	TP_printk("dev=%u event=%s kind=%s engine=%s capacity=%llu ro=%d",
		  __entry->dev, __get_str(event),
		  __entry->is_bdev ? "bdev" : "file",
		  vhost_blk_show_engine(__entry->engine), __entry->capacity,
		  __entry->read_only)
);

#endif /* VHOST_BLK_TRACE_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE trace
#include <trace/define_trace.h>
