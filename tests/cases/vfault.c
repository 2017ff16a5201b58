// SPDX-License-Identifier: GPL-2.0-only
/*
 * vfault: a read/write workload over a backend that fails under it
 * (dm-error, dm-flakey, a table swapped to error and back), checking that
 * the guest sees exactly what a disk with bad spots should show:
 *
 *  - every request completes (a request that does not within --timeout is
 *    a hang), with status OK or IOERR and the used length that goes with it;
 *  - with --error-range, a request is IOERR if and only if it touches the
 *    range;
 *  - data read with status OK are right: a block holds the last write that
 *    succeeded, or, after writes that failed, one of those writes or the one
 *    before them, sector by sector (a failed write may be torn);
 *  - with --expect-errors, at least one request failed and one succeeded,
 *    so the faults were really under the workload;
 *  - with --recovered FILE (a backend that goes away and comes back, e.g. a
 *    network disk whose target is taken away): the workload goes on until
 *    FILE exists (someone saw the backend back), then --seconds more, and
 *    every request made after FILE appeared must succeed; then every block
 *    of the area is read back, each read must succeed with the right data.
 *    FILE not there within --wait seconds fails.
 *
 *   vfault [--seconds N] [--qd N] [--queues N] [--engine auto|kiocb|bio]
 *          [--direct] [--area-mib N] [--error-range START:END]
 *          [--expect-errors] [--recovered FILE [--wait S]] [--timeout S]
 *          BACKEND_PATH
 *
 * Exit status: 0 as expected, 1 not, 2 setup error.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "vblk.h"

#define BLOCK		4096u
#define BSECT		(BLOCK / VBLK_SECTOR)
#define MAX_BLOCKS	4u	/* blocks a request */
#define MAX_REPORTS	5

struct fault_opts {
	const char *path;
	const char *recovered;	/* --recovered FILE */
	unsigned int secs, qd, queues, area_mib, timeout, wait;
	uint32_t engine;
	bool direct, expect_errors, has_range;
	uint64_t err_start, err_end;	/* sectors, [start, end) */
};

/* What a block must hold. */
struct block {
	uint32_t good;		/* the last write that succeeded; 0 unknown */
	uint32_t failed;	/* writes that failed since it, 0 none */
	uint32_t newest;	/* the newest of them */
	uint8_t busy;
};

struct fault {
	const struct fault_opts *o;
	uint64_t seed, rng;
	struct block *b;
	uint64_t nblocks;
	struct timespec start;
	uint32_t gen;
	uint64_t ok, ioerr, flushes, reads, writes, bad;
	double rec_at;		/* when --recovered's FILE appeared; < 0 not yet */
	uint64_t after;		/* requests made after it */
	uint64_t verify_next;	/* the read-back pass: next block; 0 before it */
	bool verifying, no_recovery;
};

/* op->user of a request made after recovery: it must succeed */
#define MUST_SUCCEED	((void *)1)

static void bad(struct fault *f, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void bad(struct fault *f, const char *fmt, ...)
{
	va_list ap;

	if (f->bad++ >= MAX_REPORTS)
		return;
	va_start(ap, fmt);
	fputs("vfault: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* Does [sector, sector + nsect) touch the error range? */
static bool in_range(const struct fault *f, uint64_t sector, uint32_t nsect)
{
	return sector < f->o->err_end && sector + nsect > f->o->err_start;
}

static int prep(struct vblk_pump *p, struct vblk_pump_op *op)
{
	struct fault *f = p->arg;
	uint64_t first, i;
	unsigned int n, tries;
	uint32_t type;

	double now = vblk_elapsed(&f->start);

	op->user = NULL;
	if (f->verifying) {
		/* the read-back pass: every block, in order */
		if (f->verify_next >= f->nblocks)
			return 0;
		n = MAX_BLOCKS;
		if (n > f->nblocks - f->verify_next)
			n = (unsigned int)(f->nblocks - f->verify_next);
		first = f->verify_next;
		f->verify_next += n;
		type = VIRTIO_BLK_T_IN;
		op->user = MUST_SUCCEED;
		goto fill;
	}
	if (f->o->recovered) {
		if (f->rec_at < 0 && !access(f->o->recovered, F_OK))
			f->rec_at = now;
		if (f->rec_at < 0 && now >= f->o->wait) {
			f->no_recovery = true;
			return 0;
		}
		if (f->rec_at >= 0 && now >= f->rec_at + f->o->secs)
			return 0;
		if (f->rec_at >= 0) {
			op->user = MUST_SUCCEED;
			f->after++;
		}
	} else if (now >= f->o->secs) {
		return 0;
	}
	if (vblk_rand(&f->rng) % 64 == 0) {
		op->req.type = VIRTIO_BLK_T_FLUSH;
		op->req.sector = 0;
		op->req.nseg = 0;
		op->nsect = 0;
		return 1;
	}
	n = 1 + vblk_rand(&f->rng) % MAX_BLOCKS;
	for (tries = 0; tries < 16; tries++) {
		first = vblk_rand(&f->rng) % (f->nblocks - n + 1);
		for (i = 0; i < n && !f->b[first + i].busy; i++)
			;
		if (i == n)
			break;
	}
	if (tries == 16)
		return 0;
	type = vblk_rand(&f->rng) % 2 ? VIRTIO_BLK_T_IN : VIRTIO_BLK_T_OUT;
fill:
	for (i = 0; i < n; i++)
		f->b[first + i].busy = 1;
	op->sector = first * BSECT;
	op->nsect = n * BSECT;
	op->req.type = type;
	op->req.sector = op->sector;
	op->req.seg = op->seg;
	op->req.seg[0] = (struct vblk_seg){ op->buf, n * BLOCK };
	op->req.nseg = 1;
	if (type == VIRTIO_BLK_T_OUT) {
		op->gen = ++f->gen;
		vblk_pat_fill(op->buf, op->sector, op->nsect, f->seed, op->gen);
		f->writes++;
	} else {
		memset(op->buf, 0, n * BLOCK);
		f->reads++;
	}
	return 1;
}

/* A sector read with status OK: is it one of the contents it may have? */
static bool sector_ok(struct fault *f, const struct block *b,
		      const uint8_t *blk, uint64_t sector)
{
	struct vblk_pat_info found;
	enum vblk_pat_result r;

	if (!b->good && !b->failed)
		return true;	/* never written here: anything */
	r = vblk_pat_check(blk, sector, f->seed, b->good, &found);
	if (r == VBLK_PAT_OK || !b->failed)
		return r == VBLK_PAT_OK;
	/* After failed writes: theirs, or the last good one (or unknown). */
	if (!b->good && (r == VBLK_PAT_ZERO || r == VBLK_PAT_NOT_PATTERN ||
			 r == VBLK_PAT_FOREIGN))
		return true;
	return r == VBLK_PAT_STALE && found.sector == sector &&
	       found.gen > b->good && found.gen <= b->newest;
}

static void check_read(struct fault *f, struct vblk_pump_op *op)
{
	uint32_t s;

	for (s = 0; s < op->nsect; s++) {
		uint64_t sector = op->sector + s;
		const struct block *b = &f->b[sector / BSECT];
		const uint8_t *blk = (const uint8_t *)op->buf + s * VBLK_SECTOR;
		char msg[300];

		if (sector_ok(f, b, blk, sector))
			continue;
		vblk_pat_verify(blk, sector, 1, f->seed, b->good, msg,
				sizeof(msg));
		bad(f, "wrong data read at sector %" PRIu64 " (last good write #%u, %u failed since, newest #%u): %s",
		    sector, b->good, b->failed, b->newest, msg);
		return;
	}
}

static void update_blocks(struct fault *f, struct vblk_pump_op *op, bool ok)
{
	uint64_t i;

	for (i = op->sector / BSECT; i < (op->sector + op->nsect) / BSECT; i++) {
		struct block *b = &f->b[i];

		b->busy = 0;
		if (op->req.type != VIRTIO_BLK_T_OUT)
			continue;
		if (ok) {
			b->good = (uint32_t)op->gen;
			b->failed = 0;
		} else {
			b->failed++;
			b->newest = (uint32_t)op->gen;
		}
	}
}

static int done(struct vblk_pump *p, struct vblk_pump_op *op)
{
	struct fault *f = p->arg;
	const struct vblk_req *r = &op->req;
	uint32_t want_used = r->type == VIRTIO_BLK_T_IN ? op->nsect * VBLK_SECTOR + 1 : 1;
	bool ok = r->status == VIRTIO_BLK_S_OK;
	char st[40];

	if (r->type == VIRTIO_BLK_T_FLUSH)
		f->flushes++;
	if (ok)
		f->ok++;
	else if (r->status == VIRTIO_BLK_S_IOERR)
		f->ioerr++;
	if (!ok && r->status != VIRTIO_BLK_S_IOERR)
		bad(f, "%s of sector %" PRIu64 "+%u: status %s; expected OK or IOERR",
		    vblk_type_str(r->type, st, sizeof(st)), op->sector, op->nsect,
		    vblk_status_str(r->status, st, sizeof(st)));
	else if (ok && r->used_len != want_used)
		bad(f, "used length %u of an OK request of %u sectors; expected %u",
		    r->used_len, op->nsect, want_used);
	else if (!ok && r->used_len != 1)
		bad(f, "used length %u of an IOERR request; expected 1",
		    r->used_len);
	if (!ok && op->user == MUST_SUCCEED)
		bad(f, "%s of sector %" PRIu64 "+%u %s completed %s; expected OK",
		    vblk_type_str(r->type, st, sizeof(st)), op->sector, op->nsect,
		    f->verifying ? "in the read-back after the workload" :
				   "made after the backend came back",
		    vblk_status_str(r->status, st, sizeof(st)));
	if (f->o->has_range && op->nsect &&
	    in_range(f, op->sector, op->nsect) == ok)
		bad(f, "%s of sector %" PRIu64 "+%u %s the error range [%" PRIu64 ", %" PRIu64 ") completed %s",
		    r->type == VIRTIO_BLK_T_IN ? "read" : "write",
		    op->sector, op->nsect, ok ? "touching" : "outside",
		    f->o->err_start, f->o->err_end,
		    vblk_status_str(r->status, st, sizeof(st)));
	if (ok && r->type == VIRTIO_BLK_T_IN)
		check_read(f, op);
	update_blocks(f, op, ok);
	return 0;
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: vfault [options] BACKEND_PATH\n"
		"  --seconds N          run the workload N seconds (default 10)\n"
		"  --qd N               requests in flight (default 32)\n"
		"  --queues N           virtqueues (default 2)\n"
		"  --engine E           auto, kiocb or bio (default auto)\n"
		"  --direct             open the backend with O_DIRECT\n"
		"  --area-mib N         the workload's area from sector 0 (default 64)\n"
		"  --error-range S:E    sectors [S, E) fail, everything else succeeds\n"
		"  --expect-errors      some requests must fail and some succeed\n"
		"  --recovered FILE     run until FILE exists, then --seconds more: those\n"
		"                       requests must succeed; then read every block back\n"
		"  --wait S             FILE must appear within S seconds (default 120)\n"
		"  --timeout S          a request not completed in S seconds hangs (default 60)\n");
}

/* A count from 1 to 2^20. */
static int parse_count(const char *s, unsigned int *v)
{
	uint64_t x;

	if (vblk_parse_uint(s, 1u << 20, &x) || !x)
		return -1;
	*v = (unsigned int)x;
	return 0;
}

static int parse(int argc, char **argv, struct fault_opts *o)
{
	static const struct option lo[] = {
		{ "seconds", required_argument, NULL, 's' },
		{ "qd", required_argument, NULL, 'q' },
		{ "queues", required_argument, NULL, 'Q' },
		{ "engine", required_argument, NULL, 'e' },
		{ "direct", no_argument, NULL, 'd' },
		{ "area-mib", required_argument, NULL, 'a' },
		{ "error-range", required_argument, NULL, 'r' },
		{ "expect-errors", no_argument, NULL, 'x' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "recovered", required_argument, NULL, 'R' },
		{ "wait", required_argument, NULL, 'W' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c, idx = 0, bad_arg = 0;

	while ((c = getopt_long(argc, argv, "", lo, &idx)) != -1) {
		switch (c) {
		case 's':
			bad_arg |= parse_count(optarg, &o->secs);
			break;
		case 'q':
			bad_arg |= parse_count(optarg, &o->qd);
			break;
		case 'Q':
			bad_arg |= parse_count(optarg, &o->queues) ||
				   o->queues > VHOST_BLK_MAX_QUEUES;
			break;
		case 'e':
			bad_arg |= vblk_engine_parse(optarg, &o->engine);
			break;
		case 'd':
			o->direct = true;
			break;
		case 'a':
			bad_arg |= parse_count(optarg, &o->area_mib);
			break;
		case 'r':
			o->has_range = sscanf(optarg, "%" SCNu64 ":%" SCNu64,
					      &o->err_start, &o->err_end) == 2 &&
				       o->err_start < o->err_end;
			bad_arg |= !o->has_range;
			break;
		case 'x':
			o->expect_errors = true;
			break;
		case 'T':
			bad_arg |= parse_count(optarg, &o->timeout);
			break;
		case 'R':
			o->recovered = optarg;
			break;
		case 'W':
			bad_arg |= parse_count(optarg, &o->wait);
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
		if (bad_arg) {
			fprintf(stderr, "vfault: bad value for --%s: '%s'\n",
				lo[idx].name, optarg);
			usage(stderr);
			return -1;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return -1;
	}
	o->path = argv[optind];
	return 0;
}

static int run(struct fault *f, struct vblk_dev *dev)
{
	const struct fault_opts *o = f->o;
	struct vblk_pump p;
	uint64_t area = (uint64_t)o->area_mib << 20;

	if (dev->cfg.capacity * VBLK_SECTOR < area)
		area = dev->cfg.capacity * VBLK_SECTOR;
	f->nblocks = area / BLOCK;
	if (f->nblocks < MAX_BLOCKS || dev->cfg.logical_block_size > BLOCK) {
		fprintf(stderr, "vfault: %s is too small (%llu sectors) or has blocks over 4 KiB\n",
			o->path, (unsigned long long)dev->cfg.capacity);
		return 2;
	}
	f->b = calloc(f->nblocks, sizeof(*f->b));
	if (!f->b) {
		fprintf(stderr, "vfault: out of memory\n");
		return 2;
	}
	printf("vfault: %s, engine %s, %s, %u queue(s), depth %u, %.0f MiB for %u s, seed %" PRIu64 "\n",
	       o->path, vblk_engine_name(dev->cfg.engine),
	       o->direct ? "O_DIRECT" : "buffered", o->queues, o->qd,
	       area / 1048576.0, o->secs, f->seed);
	fflush(stdout);

	memset(&p, 0, sizeof(p));
	p.dev = dev;
	p.queues = o->queues;
	p.depth = o->qd;
	p.buf_size = MAX_BLOCKS * BLOCK;
	p.max_segs = 1;
	p.timeout_ms = (int)o->timeout * 1000;
	p.prep = prep;
	p.done = done;
	p.arg = f;
	clock_gettime(CLOCK_MONOTONIC, &f->start);
	if (vblk_pump_run(&p)) {
		printf("FAIL vfault: %s (a request hangs, or the device broke the protocol)\n",
		       p.err);
		return 1;
	}
	printf("vfault: %" PRIu64 " requests (%" PRIu64 " reads, %" PRIu64 " writes, %" PRIu64 " flushes) in %.1f s: %" PRIu64 " OK, %" PRIu64 " IOERR\n",
	       f->ok + f->ioerr + f->bad, f->reads, f->writes, f->flushes,
	       vblk_elapsed(&f->start), f->ok, f->ioerr);
	if (o->recovered) {
		uint64_t ioerr = f->ioerr;

		if (f->no_recovery)
			bad(f, "%s did not appear within %u s (the backend never came back?)",
			    o->recovered, o->wait);
		else if (!f->after)
			bad(f, "no request made after %s appeared", o->recovered);
		printf("vfault: %" PRIu64 " requests after the backend came back (at %.1f s); reading every block back\n",
		       f->after, f->rec_at);
		fflush(stdout);
		f->verifying = true;
		if (vblk_pump_run(&p)) {
			printf("FAIL vfault: the read-back: %s (a request hangs, or the device broke the protocol)\n",
			       p.err);
			return 1;
		}
		printf("vfault: read back %" PRIu64 " blocks\n", f->verify_next);
		f->ioerr = ioerr;	/* those of the workload, for the check below */
	}
	if (o->expect_errors && (!f->ioerr || !f->ok))
		bad(f, "%" PRIu64 " requests failed and %" PRIu64 " succeeded; expected some of each (was the fault really under the workload?)",
		    f->ioerr, f->ok);
	if (f->bad) {
		printf("FAIL vfault: %" PRIu64 " problems (above; seed %" PRIu64 ")\n",
		       f->bad, f->seed);
		return 1;
	}
	printf("PASS vfault\n");
	return 0;
}

int main(int argc, char **argv)
{
	struct fault_opts o = {
		.secs = 10, .qd = 32, .queues = 2, .area_mib = 64,
		.timeout = 60, .wait = 120, .engine = VHOST_BLK_ENGINE_AUTO,
	};
	struct fault f = { .o = &o, .rec_at = -1 };
	struct vblk_dev_opts d;
	struct vblk_dev dev;
	int fd, ret;

	if (parse(argc, argv, &o))
		return 2;
	if (getrandom(&f.seed, sizeof(f.seed), 0) != sizeof(f.seed))
		f.seed = (uint64_t)time(NULL);
	f.rng = f.seed | 1;
	fd = open(o.path, O_RDWR | O_CLOEXEC | (o.direct ? O_DIRECT : 0));
	if (fd < 0) {
		fprintf(stderr, "vfault: cannot open %s%s: %s\n", o.path,
			o.direct ? " with O_DIRECT" : "", strerror(errno));
		return 2;
	}
	vblk_dev_opts_init(&d);
	d.queues = o.queues;
	d.ring_size = 256;
	if (vblk_dev_start(&dev, &d) ||
	    vblk_dev_attach(&dev, fd, 0, o.engine) ||
	    vblk_dev_get_config(&dev, NULL)) {
		fprintf(stderr, "vfault: %s\n", dev.err);
		return 2;
	}
	close(fd);
	ret = run(&f, &dev);
	vblk_dev_close(&dev);
	free(f.b);
	return ret;
}
