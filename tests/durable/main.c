// SPDX-License-Identifier: GPL-2.0-only
/*
 * vdurable: durability of what vhost-blk acknowledged, by log replay (see
 * durable.h).
 *
 *   vdurable run --backend PATH --record FILE [--dm NAME]
 *                [--mode writeback|writethrough|switch|noflush]
 *                [--engine auto|kiocb|bio] [--direct] [--rounds N]
 *                [--qd N] [--area-mib N] [--seed N]
 *   vdurable check --log DEV --target DEV --record FILE [--expect-loss]
 *                  [--fs xfs|ext4 --image PATH --copy DEV --mnt DIR
 *                   [--max-mounts N]]
 *
 * Exit status: 0 as expected, 1 not, 2 a usage or setup error.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "durable.h"

static int usage(const char *why)
{
	if (why)
		fprintf(stderr, "vdurable: %s\n", why);
	fprintf(stderr,
		"usage: vdurable run --backend PATH --record FILE [--dm NAME] [--mode writeback|writethrough|switch|noflush]\n"
		"                    [--engine auto|kiocb|bio] [--direct] [--rounds N] [--qd N] [--area-mib N] [--seed N]\n"
		"       vdurable check --log DEV --target DEV --record FILE [--expect-loss]\n"
		"                      [--fs xfs|ext4 --image PATH --copy DEV --mnt DIR [--max-mounts N]]\n"
		"'run' writes through /dev/vhost-blk and marks the dm-log-writes log NAME after each round;\n"
		"'check' replays the log onto TARGET (blank) and checks what the device promised at each mark.\n");
	return 2;
}

static int num(const char *opt, const char *arg, uint64_t max, uint64_t *v)
{
	if (vblk_parse_uint(arg, max, v)) {
		fprintf(stderr, "vdurable: %s wants a number up to %llu, not '%s'\n",
			opt, (unsigned long long)max, arg);
		return -1;
	}
	return 0;
}

static int cmd_run(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "backend", required_argument, NULL, 'b' },
		{ "record", required_argument, NULL, 'r' },
		{ "dm", required_argument, NULL, 'd' },
		{ "mode", required_argument, NULL, 'm' },
		{ "engine", required_argument, NULL, 'e' },
		{ "direct", no_argument, NULL, 'D' },
		{ "rounds", required_argument, NULL, 'n' },
		{ "qd", required_argument, NULL, 'q' },
		{ "area-mib", required_argument, NULL, 'a' },
		{ "seed", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 }
	};
	struct dur_run_opts o = {
		.mode = DUR_WRITEBACK, .rounds = 40, .qd = 16, .area_mib = 16,
	};
	bool seeded = false;
	uint64_t v;
	int c;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'b': o.backend = optarg; break;
		case 'r': o.record = optarg; break;
		case 'd': o.dm = optarg; break;
		case 'D': o.direct = true; break;
		case 'm':
			if (dur_mode_parse(optarg, &o.mode))
				return usage("unknown --mode");
			break;
		case 'e':
			if (vblk_engine_parse(optarg, &o.engine))
				return usage("unknown --engine");
			break;
		case 'n':
			if (num("--rounds", optarg, 100000, &v) || !v)
				return 2;
			o.rounds = v;
			break;
		case 'q':
			if (num("--qd", optarg, 32, &v) || !v)
				return 2;
			o.qd = v;
			break;
		case 'a':
			if (num("--area-mib", optarg, 1 << 20, &v) || !v)
				return 2;
			o.area_mib = v;
			break;
		case 's':
			if (num("--seed", optarg, UINT64_MAX, &o.seed))
				return 2;
			seeded = true;
			break;
		default:
			return usage(NULL);
		}
	}
	if (!o.backend || !o.record || optind != argc)
		return usage("run needs --backend and --record, and nothing else");
	if (!seeded && getrandom(&o.seed, sizeof(o.seed), 0) != sizeof(o.seed))
		o.seed = (uint64_t)time(NULL);
	return dur_run(&o) ? 1 : 0;
}

static int cmd_check(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "log", required_argument, NULL, 'l' },
		{ "target", required_argument, NULL, 't' },
		{ "record", required_argument, NULL, 'r' },
		{ "fs", required_argument, NULL, 'f' },
		{ "image", required_argument, NULL, 'i' },
		{ "copy", required_argument, NULL, 'c' },
		{ "mnt", required_argument, NULL, 'M' },
		{ "max-mounts", required_argument, NULL, 'n' },
		{ "expect-loss", no_argument, NULL, 'x' },
		{ NULL, 0, NULL, 0 }
	};
	struct dur_check_opts o = { .max_mounts = 6 };
	uint64_t v;
	int c;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'l': o.log = optarg; break;
		case 't': o.target = optarg; break;
		case 'r': o.record = optarg; break;
		case 'f': o.fstype = optarg; break;
		case 'i': o.image = optarg; break;
		case 'c': o.copy = optarg; break;
		case 'M': o.mnt = optarg; break;
		case 'x': o.expect_loss = true; break;
		case 'n':
			if (num("--max-mounts", optarg, 1000, &v) || !v)
				return 2;
			o.max_mounts = v;
			break;
		default:
			return usage(NULL);
		}
	}
	if (!o.log || !o.target || !o.record || optind != argc)
		return usage("check needs --log, --target and --record, and nothing else");
	if (!o.fstype != !o.image || !o.fstype != !o.copy ||
	    !o.fstype != !o.mnt)
		return usage("an image needs all of --fs, --image, --copy and --mnt");
	if (o.fstype && strcmp(o.fstype, "xfs") && strcmp(o.fstype, "ext4"))
		return usage("--fs is xfs or ext4");
	return dur_check(&o);
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage(NULL);
	if (!strcmp(argv[1], "run"))
		return cmd_run(argc - 1, argv + 1);
	if (!strcmp(argv[1], "check"))
		return cmd_check(argc - 1, argv + 1);
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(NULL);
		return 0;
	}
	return usage("the first argument is run or check");
}
