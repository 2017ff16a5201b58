// SPDX-License-Identifier: GPL-2.0-only
/*
 * vfuzz: the seeded ring fuzzer of vhost-blk.
 *
 *   vfuzz [--seed N] [--requests N] [--seconds N] [--engine auto|kiocb|bio|mix]
 *         [--direct] [options] BACKEND_PATH
 *
 * Prints the seed first; the same seed and backend replay the same
 * sequence of actions. The backend's first and last 2 MiB and a window in
 * between (--region-mib) are overwritten. Ends with a summary and
 * "PASS vfuzz" or "FAIL vfuzz: what broke (seed N)"; exit status 1 on
 * failure, 2 on a usage error.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vfuzz.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: vfuzz [options] BACKEND_PATH\n"
		"  --seed N          seed of the run (default: random, printed first)\n"
		"  --requests N      stop after N requests made available\n"
		"  --seconds N       stop after N seconds (default 60 without --requests)\n"
		"  --engine E        auto, kiocb, bio, or mix (a random one each attach)\n"
		"  --direct          open the backend with O_DIRECT\n"
		"  --timeout S       wait at most S seconds for a completion (default 30)\n"
		"  --align N         data buffers at least N-byte aligned, pieces multiples of N;\n"
		"                    malformed reads and writes that are not are made UNSUPP\n"
		"  --region-mib N    size of the middle window the fuzzer owns (default 32)\n"
		"  --no-kill         no owner-kill episodes\n"
		"  --shared          other programs use /dev/vhost-blk meanwhile: leave the\n"
		"                    check that all memory came back to the caller\n"
		"  --no-discard      no valid DISCARD requests (write zeroes instead)\n"
		"  --keep-going      go on after a failure\n"
		"  --verbose         a line per device and per broken ring\n"
		"  --trace           a line per chain and per completion (stderr)\n"
		"  --node PATH       the device node (default /dev/vhost-blk)\n"
		"The backend's first and last 2 MiB and the middle window are overwritten.\n");
}

static int parse(int argc, char **argv, struct fz_opts *o)
{
	static const struct option lo[] = {
		{ "seed", required_argument, NULL, 's' },
		{ "requests", required_argument, NULL, 'n' },
		{ "seconds", required_argument, NULL, 't' },
		{ "engine", required_argument, NULL, 'e' },
		{ "direct", no_argument, NULL, 'd' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "align", required_argument, NULL, 'a' },
		{ "region-mib", required_argument, NULL, 'r' },
		{ "no-kill", no_argument, NULL, 'K' },
		{ "shared", no_argument, NULL, 'S' },
		{ "no-discard", no_argument, NULL, 'D' },
		{ "keep-going", no_argument, NULL, 'k' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "trace", no_argument, NULL, 'X' },
		{ "node", required_argument, NULL, 'N' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool seeded = false;
	uint64_t v;
	uint32_t e;
	int c;

	memset(o, 0, sizeof(*o));
	o->timeout_s = 30;
	o->align = 1;
	o->region_mib = 32;
	o->node = "/dev/vhost-blk";
	o->engine = VHOST_BLK_ENGINE_AUTO;
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 's':
			if (vblk_parse_uint(optarg, UINT64_MAX, &o->seed))
				goto bad;
			seeded = true;
			break;
		case 'n':
			if (vblk_parse_uint(optarg, UINT64_MAX, &o->requests))
				goto bad;
			break;
		case 't':
		case 'T':
		case 'a':
		case 'r':
			if (vblk_parse_uint(optarg, UINT32_MAX, &v))
				goto bad;
			if (c == 't')
				o->seconds = (unsigned int)v;
			else if (c == 'T')
				o->timeout_s = (unsigned int)v;
			else if (c == 'a')
				o->align = (unsigned int)v;
			else
				o->region_mib = (unsigned int)v;
			break;
		case 'e':
			if (!strcmp(optarg, "mix"))
				o->engine = -1;
			else if (vblk_engine_parse(optarg, &e))
				goto bad;
			else
				o->engine = (int)e;
			break;
		case 'd':
			o->direct = true;
			break;
		case 'K':
			o->no_kill = true;
			break;
		case 'S':
			o->shared = true;
			break;
		case 'D':
			o->no_discard = true;
			break;
		case 'k':
			o->keep_going = true;
			break;
		case 'v':
			o->verbose = true;
			break;
		case 'X':
			o->trace = true;
			break;
		case 'N':
			o->node = optarg;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			goto bad;
		}
	}
	if (optind != argc - 1)
		goto bad;
	if (!o->align || (o->align & (o->align - 1)) || o->align > 4096) {
		fprintf(stderr, "vfuzz: --align takes a power of two up to 4096\n");
		return -1;
	}
	if (!o->region_mib)
		o->region_mib = 1;
	if (!o->timeout_s)
		o->timeout_s = 1;
	o->backend = argv[optind];
	if (!o->requests && !o->seconds)
		o->seconds = 60;
	if (!seeded && getrandom(&o->seed, sizeof(o->seed), 0) != sizeof(o->seed))
		o->seed = (uint64_t)vblk_now_ms() * 0x9e3779b97f4a7c15ULL;
	return 0;
bad:
	usage(stderr);
	return -1;
}

static int open_backend(struct fz_run *run)
{
	struct stat st;
	uint64_t size = 0;

	run->bfd = open(run->o.backend, O_RDWR | O_CLOEXEC |
			(run->o.direct ? O_DIRECT : 0));
	if (run->bfd < 0)
		return fz_fail(run, "cannot open the backend %s read-write%s: %s",
			       run->o.backend, run->o.direct ? " with O_DIRECT" : "",
			       strerror(errno));
	if (fstat(run->bfd, &st))
		return fz_fail(run, "fstat %s: %s", run->o.backend, strerror(errno));
	run->is_blk = S_ISBLK(st.st_mode);
	if (run->is_blk && ioctl(run->bfd, BLKGETSIZE64, &size))
		return fz_fail(run, "BLKGETSIZE64 on %s: %s", run->o.backend,
			       strerror(errno));
	if (!run->is_blk && !S_ISREG(st.st_mode))
		return fz_fail(run, "%s is neither a regular file nor a block device",
			       run->o.backend);
	run->bsize = run->is_blk ? size : (uint64_t)st.st_size;
	return 0;
}

/*
 * Does the bio engine take the file (its file system gives a block layout,
 * src/layout.c)? Then --engine mix draws it too.
 */
static int probe_layout(struct fz_run *run)
{
	struct vblk_dev_opts o;
	struct vblk_dev d;
	int ret;

	if (run->is_blk)
		return 0;
	vblk_dev_opts_init(&o);
	if (vblk_dev_start(&d, &o))
		return fz_fail(run, "setting up a device: %s", d.err);
	ret = vblk_dev_attach(&d, run->bfd, 0, VHOST_BLK_ENGINE_BIO);
	vblk_dev_close(&d);
	if (ret && ret != -EOPNOTSUPP)
		return fz_fail(run, "%s", d.err);
	run->has_layout = !ret;
	printf("vfuzz: %s: the bio engine %s it\n", run->o.backend,
	       run->has_layout ? "takes" : "does not take");
	return 0;
}

/* What the backend looks like through a device. */
static int probe(struct fz_run *run)
{
	struct fz_dev dv;
	int ret;

	if (probe_layout(run))
		return -1;

	ret = fz_dev_up(run, &dv, true);
	if (!ret) {
		run->base = dv.m;
		if (run->base.capacity != run->bsize / VBLK_SECTOR)
			ret = fz_fail(run, "GET_CONFIG reports a capacity of %" PRIu64 " sectors; %s has %" PRIu64,
				      run->base.capacity, run->o.backend,
				      run->bsize / VBLK_SECTOR);
	}
	fz_dev_down(&dv);
	return ret;
}

int main(int argc, char **argv)
{
	struct fz_run run;
	int64_t t1;
	double secs;

	memset(&run, 0, sizeof(run));
	if (parse(argc, argv, &run.o))
		return 2;
	printf("vfuzz: seed %" PRIu64 "\n", run.o.seed);
	fflush(stdout);
	run.sh = mmap(NULL, sizeof(*run.sh), PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	run.mx = malloc(sizeof(*run.mx));
	if (run.sh == MAP_FAILED || !run.mx) {
		fprintf(stderr, "vfuzz: out of memory\n");
		return 1;
	}
	memset(run.sh, 0, sizeof(*run.sh));
	fz_rng_seed(&run.rng, run.o.seed);
	run.bfd = -1;
	run.t0_ms = vblk_now_ms();
	if (open_backend(&run) || probe(&run) || fz_shadow_init(&run) ||
	    fz_shadow_fill(&run))
		goto out;
	fz_log_init(&run);
	run.t0_ms = vblk_now_ms();
	run.last_report_ms = (uint64_t)run.t0_ms;
	vblk_read_events(&run.ev0);
	if (run.o.seconds)
		run.deadline_ms = run.t0_ms + (int64_t)run.o.seconds * 1000;
	while (!fz_stop(&run)) {
		if (!run.o.no_kill && fz_pm(&run.rng, 60))
			fz_owner_episode(&run);
		else
			fz_session(&run, 0);
	}
out:
	t1 = vblk_now_ms();
	secs = (double)(t1 - run.t0_ms) / 1000.0;
	fz_progress(&run, true);
	if (run.bfd >= 0 && run.base.capacity &&
	    (!run.sh->failed || run.o.keep_going) && run.sw.nw) {
		run.deadline_ms = 0;
		run.o.requests = 0;
		if (!fz_verify_device(&run))
			fz_verify_direct(&run);
	}
	if (run.bfd >= 0)
		close(run.bfd);
	fz_check_clean(&run, "after every device was closed", 10);
	fz_summary(&run, secs);
	return run.sh->failed ? 1 : 0;
}
