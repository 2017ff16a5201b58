// SPDX-License-Identifier: GPL-2.0-only
/*
 * vblk-demo: attach a backend to /dev/vhost-blk, write patterned 4 KiB
 * blocks at random offsets for a while at a queue depth, read every block
 * written back, verify, and say what happened.
 *
 *   vblk-demo BACKEND_PATH [--seconds N] [--qd N] [--queues N]
 *             [--engine auto|kiocb|bio] [--direct]
 *
 * Exit status: 0 all verified, 1 a mismatch or an I/O error, 2 setup error.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "vblk.h"

#define BLOCK		4096u
#define BSECT		(BLOCK / VBLK_SECTOR)
#define MAX_AREA	(1ULL << 30)
#define MAX_REPORTS	5

struct demo {
	uint64_t seed;
	uint64_t rng;
	uint64_t nblocks;
	uint32_t *gen;		/* per block: the write that is there, 0 none */
	uint8_t *busy;		/* per block: in flight */
	double seconds;
	struct timespec start;
	uint32_t writes;	/* also the last generation */
	uint64_t reads;
	uint64_t cursor;
	uint64_t errors;
	uint64_t mismatches;
};

static void op_setup(struct vblk_pump_op *op, uint32_t type, uint64_t block)
{
	op->sector = block * BSECT;
	op->req.type = type;
	op->req.sector = op->sector;
	op->req.seg = op->seg;
	op->req.seg[0] = (struct vblk_seg){ op->buf, BLOCK };
	op->req.nseg = 1;
}

static bool check_status(struct demo *d, struct vblk_pump_op *op,
			 uint32_t want_used)
{
	char st[40];

	if (op->req.status == VIRTIO_BLK_S_OK && op->req.used_len == want_used)
		return true;
	if (d->errors++ < MAX_REPORTS)
		fprintf(stderr, "vblk-demo: %s of block %" PRIu64 ": status %s, used len %u (expected OK, %u)\n",
			op->req.type == VIRTIO_BLK_T_IN ? "read" : "write",
			op->sector / BSECT,
			vblk_status_str(op->req.status, st, sizeof(st)),
			op->req.used_len, want_used);
	return false;
}

static int write_prep(struct vblk_pump *p, struct vblk_pump_op *op)
{
	struct demo *d = p->arg;
	uint64_t b;
	int tries;

	if (vblk_elapsed(&d->start) >= d->seconds)
		return 0;
	for (tries = 0; tries < 16; tries++) {
		b = vblk_rand(&d->rng) % d->nblocks;
		if (!d->busy[b])
			break;
	}
	if (tries == 16)
		return 0;
	d->busy[b] = 1;
	op_setup(op, VIRTIO_BLK_T_OUT, b);
	op->gen = ++d->writes;
	vblk_pat_fill(op->buf, op->sector, BSECT, d->seed, op->gen);
	return 1;
}

static int write_done(struct vblk_pump *p, struct vblk_pump_op *op)
{
	struct demo *d = p->arg;
	uint64_t b = op->sector / BSECT;

	d->busy[b] = 0;
	if (check_status(d, op, 1))
		d->gen[b] = (uint32_t)op->gen;
	else
		d->gen[b] = 0;	/* unknown now */
	return 0;
}

static int read_prep(struct vblk_pump *p, struct vblk_pump_op *op)
{
	struct demo *d = p->arg;

	while (d->cursor < d->nblocks && !d->gen[d->cursor])
		d->cursor++;
	if (d->cursor == d->nblocks)
		return 0;
	op_setup(op, VIRTIO_BLK_T_IN, d->cursor++);
	d->reads++;
	return 1;
}

static int read_done(struct vblk_pump *p, struct vblk_pump_op *op)
{
	struct demo *d = p->arg;
	uint64_t b = op->sector / BSECT;
	char msg[300];

	if (!check_status(d, op, BLOCK + 1))
		return 0;
	if (vblk_pat_verify(op->buf, op->sector, BSECT, d->seed, d->gen[b], msg,
			    sizeof(msg)) >= 0 &&
	    d->mismatches++ < MAX_REPORTS)
		fprintf(stderr, "vblk-demo: mismatch in block %" PRIu64 ": %s\n",
			b, msg);
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: vblk-demo BACKEND_PATH [--seconds N] [--qd N] [--queues N] [--engine auto|kiocb|bio] [--direct]\n");
}

struct demo_opts {
	const char *path;
	unsigned int secs, qd, queues;
	uint32_t engine;
	bool direct;
};

static int parse(int argc, char **argv, struct demo_opts *o)
{
	static const struct option lo[] = {
		{ "direct", no_argument, NULL, 'd' },
		{ "seconds", required_argument, NULL, 's' },
		{ "qd", required_argument, NULL, 'q' },
		{ "queues", required_argument, NULL, 'Q' },
		{ "engine", required_argument, NULL, 'e' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t v;
	int c;

	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 's':
		case 'q':
		case 'Q':
			if (vblk_parse_uint(optarg, c == 's' ? 86400 : c == 'q' ? 4096 :
					    VHOST_BLK_MAX_QUEUES, &v) || !v) {
				fprintf(stderr, "vblk-demo: bad number '%s'\n", optarg);
				return -1;
			}
			*(c == 's' ? &o->secs : c == 'q' ? &o->qd : &o->queues) =
				(unsigned int)v;
			break;
		case 'd':
			o->direct = true;
			break;
		case 'e':
			if (vblk_engine_parse(optarg, &o->engine)) {
				fprintf(stderr, "vblk-demo: bad engine '%s'\n", optarg);
				return -1;
			}
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
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

int main(int argc, char **argv)
{
	struct demo_opts opt = {
		.secs = 5, .qd = 16, .queues = 1,
		.engine = VHOST_BLK_ENGINE_AUTO,
	};
	struct demo d = { 0 };
	struct vblk_dev_opts o;
	struct vblk_pump p;
	struct vblk_dev dev;
	double wt, rt;
	int fd;

	if (parse(argc, argv, &opt))
		return 2;
	if (getrandom(&d.seed, sizeof(d.seed), 0) != sizeof(d.seed))
		d.seed = (uint64_t)time(NULL);
	d.rng = d.seed | 1;
	d.seconds = opt.secs;

	fd = open(opt.path, O_RDWR | O_CLOEXEC | (opt.direct ? O_DIRECT : 0));
	if (fd < 0) {
		fprintf(stderr, "vblk-demo: cannot open %s%s: %s\n", opt.path,
			opt.direct ? " with O_DIRECT" : "", strerror(errno));
		return 2;
	}
	vblk_dev_opts_init(&o);
	o.queues = opt.queues;
	o.ring_size = opt.qd < 128 ? 128 : 256;
	if (opt.qd > o.ring_size * opt.queues)
		o.ring_size = 4096;
	if (vblk_dev_start(&dev, &o) ||
	    vblk_dev_attach(&dev, fd, 0, opt.engine) ||
	    vblk_dev_get_config(&dev, NULL)) {
		fprintf(stderr, "vblk-demo: %s\n", dev.err);
		return 2;
	}
	close(fd);
	d.nblocks = dev.cfg.capacity * VBLK_SECTOR < MAX_AREA ?
		    dev.cfg.capacity / BSECT : MAX_AREA / BLOCK;
	if (!d.nblocks || dev.cfg.logical_block_size > BLOCK) {
		fprintf(stderr, "vblk-demo: %s is too small (%llu sectors) or has blocks over 4 KiB\n",
			opt.path, (unsigned long long)dev.cfg.capacity);
		return 2;
	}
	d.gen = calloc(d.nblocks, sizeof(*d.gen));
	d.busy = calloc(d.nblocks, 1);
	if (!d.gen || !d.busy) {
		fprintf(stderr, "vblk-demo: out of memory\n");
		return 2;
	}
	printf("%s: %llu sectors (%.1f MiB), logical block %u, engine %s, %s\n",
	       opt.path, (unsigned long long)dev.cfg.capacity,
	       dev.cfg.capacity / 2048.0, dev.cfg.logical_block_size,
	       vblk_engine_name(dev.cfg.engine), opt.direct ? "O_DIRECT" : "buffered");
	printf("writing random 4 KiB blocks over the first %.1f MiB for %u s, %u queue(s), queue depth %u\n",
	       d.nblocks * BLOCK / 1048576.0, opt.secs, opt.queues, opt.qd);
	fflush(stdout);

	memset(&p, 0, sizeof(p));
	p.dev = &dev;
	p.queues = opt.queues;
	p.depth = opt.qd;
	p.buf_size = BLOCK;
	p.max_segs = 1;
	p.prep = write_prep;
	p.done = write_done;
	p.arg = &d;
	clock_gettime(CLOCK_MONOTONIC, &d.start);
	if (vblk_pump_run(&p)) {
		fprintf(stderr, "vblk-demo: writing: %s\n", p.err);
		return 1;
	}
	wt = vblk_elapsed(&d.start);
	printf("write: %u x 4 KiB in %.2f s: %.0f IOPS, %.1f MiB/s\n",
	       d.writes, wt, d.writes / wt, d.writes * 4.0 / 1024 / wt);
	fflush(stdout);

	p.prep = read_prep;
	p.done = read_done;
	clock_gettime(CLOCK_MONOTONIC, &d.start);
	if (vblk_pump_run(&p)) {
		fprintf(stderr, "vblk-demo: reading: %s\n", p.err);
		return 1;
	}
	rt = vblk_elapsed(&d.start);
	printf("read:  %" PRIu64 " x 4 KiB in %.2f s: %.0f IOPS, %.1f MiB/s\n",
	       d.reads, rt, d.reads / rt, d.reads * 4.0 / 1024 / rt);
	printf("verify: %" PRIu64 " distinct blocks (%.1f MiB) read back, %" PRIu64 " mismatches, %" PRIu64 " I/O errors\n",
	       d.reads, d.reads * 4.0 / 1024, d.mismatches, d.errors);
	vblk_dev_close(&dev);
	return d.mismatches || d.errors ? 1 : 0;
}
