// SPDX-License-Identifier: GPL-2.0-only
/*
 * trace: the module's tracepoints, read back through tracefs as perf or
 * bpftrace would see them. A trace instance of its own, so nothing else
 * that traces is disturbed.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vbt.h"

#define TRACEFS		"/sys/kernel/tracing"
#define MAX_EVENTS	256

/* One event line, the fields the checks use. */
struct tev {
	char name[32];
	unsigned int dev, queue, head;
	char type[16], path[16], why[16], event[16], rwbs[8];
	uint64_t sector, latency;
	unsigned int len, status, fua;
};

struct trace {
	char dir[256];
	struct tev ev[MAX_EVENTS];
	unsigned int n;
};

/*
 * A trace instance with vhost_blk's events and block_bio_queue on: VBT_PASS,
 * or VBT_SKIP on a kernel without tracing, or VBT_FAIL.
 */
static int trace_start(struct vbt *t, struct trace *tr)
{
	struct stat st;
	int ret;

	if (stat("/sys/module/vhost_blk", &st) < 0)
		return vbt_skip(t, "needs the vhost_blk module: its tracepoints are what is checked");
	if (stat(TRACEFS "/instances", &st) < 0 &&
	    mount("tracefs", TRACEFS, "tracefs", 0, NULL) < 0)
		return vbt_skip(t, "no tracefs at %s (%s): a kernel without tracing",
				TRACEFS, strerror(errno));
	if (stat(TRACEFS "/events/vhost_blk", &st) < 0)
		return vbt_fail(t, "%s/events/vhost_blk is missing: the module has no tracepoints",
				TRACEFS);
	snprintf(tr->dir, sizeof(tr->dir), TRACEFS "/instances/vbt-%d",
		 (int)getpid());
	if (mkdir(tr->dir, 0700) < 0)
		return vbt_fail(t, "mkdir %s: %s", tr->dir, strerror(errno));
	ret = vbt_write_file(tr->dir, "events/vhost_blk/enable", "1");
	if (!ret)
		ret = vbt_write_file(tr->dir, "events/block/block_bio_queue/enable",
				 "1");
	if (ret) {
		vbt_fail(t, "enabling events in %s: %s", tr->dir, strerror(-ret));
		rmdir(tr->dir);
		return VBT_FAIL;
	}
	return VBT_PASS;
}

static void trace_parse_line(struct trace *tr, const char *line)
{
	static const char *const names[] = {
		"vhost_blk_backend", "vhost_blk_req_start",
		"vhost_blk_req_submit", "vhost_blk_req_punt",
		"vhost_blk_req_fallback", "vhost_blk_req_end",
		"vhost_blk_layout", "block_bio_queue",
	};
	struct tev *e;
	const char *p;
	unsigned int i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char key[48];

		snprintf(key, sizeof(key), " %s: ", names[i]);
		p = strstr(line, key);
		if (p)
			break;
	}
	if (!p || tr->n == MAX_EVENTS)
		return;
	e = &tr->ev[tr->n++];
	memset(e, 0, sizeof(*e));
	snprintf(e->name, sizeof(e->name), "%s", names[i]);
	p = strchr(p + 2, ' ') + 1;
	if (!strcmp(e->name, "block_bio_queue")) {
		unsigned int maj, min;

		sscanf(p, "%u,%u %7s %" SCNu64, &maj, &min, e->rwbs, &e->sector);
		return;
	}
	sscanf(p, "dev=%u", &e->dev);
	if ((p = strstr(line, "queue=")))
		sscanf(p, "queue=%u head=%u", &e->queue, &e->head);
	if ((p = strstr(line, "type=")))
		sscanf(p, "type=%15s", e->type);
	if ((p = strstr(line, "sector=")))
		sscanf(p, "sector=%" SCNu64 " len=%u", &e->sector, &e->len);
	if ((p = strstr(line, "path=")))
		sscanf(p, "path=%15s", e->path);
	if ((p = strstr(line, "fua=")))
		sscanf(p, "fua=%u", &e->fua);
	if ((p = strstr(line, "why=")))
		sscanf(p, "why=%15s", e->why);
	if ((p = strstr(line, "event=")))
		sscanf(p, "event=%15s", e->event);
	if ((p = strstr(line, "status=")))
		sscanf(p, "status=%u latency_ns=%" SCNu64, &e->status,
		       &e->latency);
}

/* Stop the instance, read its buffer, remove it. */
static int trace_stop(struct vbt *t, struct trace *tr)
{
	char path[512], line[512];
	FILE *f;

	vbt_write_file(tr->dir, "tracing_on", "0");
	snprintf(path, sizeof(path), "%s/trace", tr->dir);
	f = fopen(path, "re");
	if (!f)
		return vbt_fail(t, "%s: %s", path, strerror(errno)), -1;
	while (fgets(line, sizeof(line), f))
		trace_parse_line(tr, line);
	fclose(f);
	vbt_write_file(tr->dir, "events/enable", "0");
	rmdir(tr->dir);
	return 0;
}

static void trace_abort(struct trace *tr)
{
	vbt_write_file(tr->dir, "events/enable", "0");
	rmdir(tr->dir);
}

/* The first event @name of device @dev after index @from matching @type. */
static const struct tev *find(const struct trace *tr, unsigned int from,
			      const char *name, unsigned int dev,
			      const char *type)
{
	unsigned int i;

	for (i = from; i < tr->n; i++) {
		const struct tev *e = &tr->ev[i];

		if (!strcmp(e->name, name) && e->dev == dev &&
		    (!type || !strcmp(e->type, type)))
			return e;
	}
	return NULL;
}

/* Of head @head on @dev after @from. */
static const struct tev *find_head(const struct trace *tr, const struct tev *from,
				   const char *name, unsigned int dev,
				   unsigned int head)
{
	unsigned int i;

	for (i = from - tr->ev; i < tr->n; i++) {
		const struct tev *e = &tr->ev[i];

		if (!strcmp(e->name, name) && e->dev == dev && e->head == head)
			return e;
	}
	return NULL;
}

/*
 * One request's way: started with its type, sector and length, ended OK
 * with a latency; a read or write was submitted, a flush punted (cmd).
 */
static int check_req(struct vbt *t, const struct trace *tr, unsigned int dev,
		     const char *type, uint64_t sector, unsigned int len)
{
	const struct tev *s = find(tr, 0, "vhost_blk_req_start", dev, type);
	const struct tev *e;
	bool rw = strcmp(type, "flush");

	if (!s)
		return vbt_fail(t, "no vhost_blk_req_start of type %s on dev %u", type,
				dev), -1;
	if (rw && (s->sector != sector || s->len != len))
		return vbt_fail(t, "vhost_blk_req_start of type %s: sector %" PRIu64 " len %u, expected %" PRIu64 " and %u",
				type, s->sector, s->len, sector, len), -1;
	if (rw && !find_head(tr, s, "vhost_blk_req_submit", dev, s->head))
		return vbt_fail(t, "the %s at head %u was never submitted (vhost_blk_req_submit)",
				type, s->head), -1;
	if (!rw) {
		e = find_head(tr, s, "vhost_blk_req_punt", dev, s->head);
		if (!e || strcmp(e->why, "cmd"))
			return vbt_fail(t, "the flush at head %u was not punted with why=cmd",
					s->head), -1;
	}
	e = find_head(tr, s, "vhost_blk_req_end", dev, s->head);
	if (!e)
		return vbt_fail(t, "the %s at head %u never ended (vhost_blk_req_end)",
				type, s->head), -1;
	if (e->status != 0 || !e->latency || strcmp(e->type, type))
		return vbt_fail(t, "vhost_blk_req_end of the %s: type %s status %u latency_ns %" PRIu64,
				type, e->type, e->status, e->latency), -1;
	return 0;
}

int case_trace(struct vbt *t)
{
	static struct trace tr;
	const uint32_t nsect = 8;
	char id[VHOST_BLK_SERIAL_LEN + 1] = "", ename[16];
	const struct tev *a, *d;
	char *gid;
	struct vbt_dev v;
	uint32_t used;
	uint64_t sector;
	unsigned int dev, i;

	int ret = trace_start(t, &tr);
	unsigned int writes = 0, sync = 0;

	if (ret != VBT_PASS)
		return ret;
	if (vbt_dev_up(t, &v, NULL, 0)) {
		trace_abort(&tr);
		return VBT_FAIL;
	}
	snprintf(ename, sizeof(ename), "%s",
		 vbt_expected_engine(t, v.be.is_blk) == VHOST_BLK_ENGINE_BIO ?
		 "bio" : "kiocb");
	/* The default serial names the device as the tracepoints do. */
	gid = vblk_mem_alloc(&v.d.mem, VHOST_BLK_SERIAL_LEN, 16);
	if (!gid || vblk_get_id(&v.d.vq[0], gid, VHOST_BLK_SERIAL_LEN, &used)) {
		trace_abort(&tr);
		return vbt_fail(t, "GET_ID: %s", v.d.vq[0].err);
	}
	memcpy(id, gid, VHOST_BLK_SERIAL_LEN);
	if (sscanf(id, "vhost-blk-%x", &dev) != 1) {
		trace_abort(&tr);
		return vbt_fail(t, "GET_ID gave \"%s\", not the default serial", id);
	}
	sector = v.cfg.capacity / 2 / 8 * 8;
	if (vbt_write_pat(t, &v.d.vq[0], sector, nsect, 7, NULL) ||
	    vbt_verify_pat(t, &v.d.vq[0], sector, nsect, 7, NULL)) {
		trace_abort(&tr);
		return VBT_FAIL;
	}
	ret = vblk_flush(&v.d.vq[0], &used);
	if (vbt_expect(t, &v.d.vq[0], "flush", ret, used, VIRTIO_BLK_S_OK, 1)) {
		trace_abort(&tr);
		return VBT_FAIL;
	}
	vblk_dev_close(&v.d);
	if (trace_stop(t, &tr))
		return VBT_FAIL;

	a = find(&tr, 0, "vhost_blk_backend", dev, NULL);
	if (!a || strcmp(a->event, "attach"))
		return vbt_fail(t, "no vhost_blk_backend event=attach for dev %u (%u events read)",
				dev, tr.n);
	if (check_req(t, &tr, dev, "out", sector, nsect * VBLK_SECTOR) ||
	    check_req(t, &tr, dev, "in", sector, nsect * VBLK_SECTOR) ||
	    check_req(t, &tr, dev, "flush", 0, 0))
		return VBT_FAIL;
	d = find(&tr, a - tr.ev + 1, "vhost_blk_backend", dev, NULL);
	if (!d || strcmp(d->event, "detach"))
		return vbt_fail(t, "no vhost_blk_backend event=detach for dev %u after close",
				dev);
	/*
	 * The bio engine's writes to a block device are synchronous, as
	 * direct writes are (REQ_SYNC: 'S' in block_bio_queue's rwbs), not
	 * background writeback.
	 */
	if (!strcmp(ename, "bio") && v.be.is_blk) {
		for (i = 0; i < tr.n; i++) {
			const struct tev *e = &tr.ev[i];

			if (strcmp(e->name, "block_bio_queue") ||
			    e->sector != sector || e->rwbs[0] != 'W')
				continue;
			writes++;
			sync += !!strchr(e->rwbs, 'S');
		}
		if (!writes || sync != writes)
			return vbt_fail(t, "the bio engine's writes at sector %" PRIu64 ": %u of %u queued as sync writes (block_bio_queue rwbs with S)",
					sector, sync, writes);
	}
	vbt_note(t, "%u events of dev %u checked", tr.n, dev);
	return VBT_PASS;
}

/* The write at @sector on @dev: submitted with fua=@fua? */
static int check_fua(struct vbt *t, const struct trace *tr, unsigned int dev,
		     uint64_t sector, unsigned int fua, const char *when)
{
	const struct tev *s = NULL, *e;
	unsigned int i;

	for (i = 0; i < tr->n && !s; i++)
		if (!strcmp(tr->ev[i].name, "vhost_blk_req_start") &&
		    tr->ev[i].dev == dev && !strcmp(tr->ev[i].type, "out") &&
		    tr->ev[i].sector == sector)
			s = &tr->ev[i];
	if (!s)
		return vbt_fail(t, "no write at sector %" PRIu64 " on dev %u traced",
				sector, dev), -1;
	e = find_head(tr, s, "vhost_blk_req_submit", dev, s->head);
	if (!e)
		return vbt_fail(t, "the write at sector %" PRIu64 " was never submitted",
				sector), -1;
	if (e->fua != fua)
		return vbt_fail(t, "the write %s was submitted with fua=%u, expected %u",
				when, e->fua, fua), -1;
	return 0;
}

/* The device's id, from the default serial (GET_ID). */
static int trace_dev_id(struct vbt *t, struct vbt_dev *v, unsigned int *dev)
{
	char id[VHOST_BLK_SERIAL_LEN + 1] = "";
	char *gid = vblk_mem_alloc(&v->d.mem, VHOST_BLK_SERIAL_LEN, 16);
	uint32_t used;

	if (!gid || vblk_get_id(&v->d.vq[0], gid, VHOST_BLK_SERIAL_LEN, &used))
		return vbt_fail(t, "GET_ID: %s", v->d.vq[0].err), -1;
	memcpy(id, gid, VHOST_BLK_SERIAL_LEN);
	if (sscanf(id, "vhost-blk-%x", dev) != 1)
		return vbt_fail(t, "GET_ID gave \"%s\", not the default serial", id),
		       -1;
	return 0;
}

/* SET_WRITEBACK @wb, then GET_CONFIG must say so. */
static int set_writeback(struct vbt *t, struct vbt_dev *v, bool wb)
{
	if (vblk_dev_set_writeback(&v->d, wb))
		return vbt_fail(t, "SET_WRITEBACK %d: %s", wb, v->d.err), -1;
	if (vblk_dev_get_config(&v->d, &v->cfg))
		return vbt_fail(t, "%s", v->d.err), -1;
	if (v->cfg.writeback != wb)
		return vbt_fail(t, "GET_CONFIG writeback %u after SET_WRITEBACK %d",
				v->cfg.writeback, wb), -1;
	return 0;
}

/*
 * Write-through: a guest without VIRTIO_BLK_F_FLUSH, or a device switched
 * with SET_WRITEBACK 0, gets every write submitted durable (fua=1: FUA
 * bios, IOCB_DSYNC kiocbs); write-back ones are not. That they really are
 * durable is proven by log replay (tests/durable/); this checks every
 * backend and engine submits them so, and the ioctl's arguments.
 */
int case_write_through(struct vbt *t)
{
	static struct trace tr;
	struct vblk_dev_opts o;
	struct vbt_dev wt, wb;
	unsigned int dev_wt, dev_wb;
	uint64_t s = 0;
	uint32_t bad = 2;
	int ret = trace_start(t, &tr);

	if (ret != VBT_PASS)
		return ret;
	vblk_dev_opts_init(&o);
	o.features &= ~VBLK_F(VIRTIO_BLK_F_FLUSH);
	if (vbt_dev_up(t, &wt, &o, 0) || trace_dev_id(t, &wt, &dev_wt) ||
	    vbt_write_pat(t, &wt.d.vq[0], s, 8, 1, NULL) ||
	    vbt_verify_pat(t, &wt.d.vq[0], s, 8, 1, NULL))
		goto fail;
	vblk_dev_close(&wt.d);

	if (vbt_dev_up(t, &wb, NULL, 0) || trace_dev_id(t, &wb, &dev_wb))
		goto fail;
	if (!ioctl(wb.d.fd, VHOST_BLK_SET_WRITEBACK, &bad) || errno != EINVAL) {
		vbt_fail(t, "SET_WRITEBACK 2: expected EINVAL, got %s",
			 vbt_errno_name(errno));
		goto fail;
	}
	if (vbt_write_pat(t, &wb.d.vq[0], s + 8, 8, 2, NULL) ||
	    set_writeback(t, &wb, false) ||
	    vbt_write_pat(t, &wb.d.vq[0], s + 16, 8, 3, NULL) ||
	    vbt_verify_pat(t, &wb.d.vq[0], s + 8, 8, 2, NULL) ||
	    vbt_verify_pat(t, &wb.d.vq[0], s + 16, 8, 3, NULL) ||
	    set_writeback(t, &wb, true) ||
	    vbt_write_pat(t, &wb.d.vq[0], s + 24, 8, 4, NULL))
		goto fail;
	vblk_dev_close(&wb.d);
	if (trace_stop(t, &tr))
		return VBT_FAIL;
	if (check_fua(t, &tr, dev_wt, s, 1, "of a guest without FLUSH") ||
	    check_fua(t, &tr, dev_wb, s + 8, 0, "of a write-back device") ||
	    check_fua(t, &tr, dev_wb, s + 16, 1, "after SET_WRITEBACK 0") ||
	    check_fua(t, &tr, dev_wb, s + 24, 0, "after SET_WRITEBACK 1"))
		return VBT_FAIL;
	return VBT_PASS;
fail:
	trace_abort(&tr);
	return VBT_FAIL;
}
