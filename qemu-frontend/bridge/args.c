// SPDX-License-Identifier: GPL-2.0-only
/* The command line of vhost-blk-user. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vub.h"

static const char usage[] =
"usage: vhost-blk-user --socket PATH --backend PATH [options]\n"
"A vhost-user-blk back-end whose data path is the kernel's /dev/vhost-blk:\n"
"QEMU's vhost-user-blk-pci (or libvirt's <disk type='vhostuser'>) connects\n"
"to PATH, and the vhost_blk module serves the guest's rings from the\n"
"backend. One disk a process; one front-end at a time.\n"
"  --socket PATH      UNIX socket to listen on (created; must not exist\n"
"                     unless it is a stale socket)\n"
"  --backend PATH     raw image file or block device\n"
"  --read-only        the guest may not write\n"
"  --serial S         the disk's serial (GET_ID, up to 20 bytes)\n"
"  --num-queues N     request queues offered, 1..16 (default 1); a vhost\n"
"                     worker each when more than one\n"
"  --engine E         auto (default), kiocb or bio (docs/api.md)\n"
"  --direct           open the backend with O_DIRECT (no host page cache)\n"
"  --device PATH      the vhost-blk device (default /dev/vhost-blk)\n"
"  --verbose          log every message of the front-end\n"
"See docs/qemu.md, \"Stock QEMU and libvirt: vhost-blk-user\".\n";

int vub_parse_args(struct vub_opts *o, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "backend", required_argument, NULL, 'b' },
		{ "read-only", no_argument, NULL, 'r' },
		{ "serial", required_argument, NULL, 'S' },
		{ "num-queues", required_argument, NULL, 'q' },
		{ "engine", required_argument, NULL, 'e' },
		{ "direct", no_argument, NULL, 'd' },
		{ "device", required_argument, NULL, 'D' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char *end;
	long n;
	int c;

	memset(o, 0, sizeof(*o));
	o->num_queues = 1;
	o->engine = VHOST_BLK_ENGINE_AUTO;
	o->dev = "/dev/vhost-blk";
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's': o->socket = optarg; break;
		case 'b': o->backend = optarg; break;
		case 'r': o->read_only = true; break;
		case 'd': o->direct = true; break;
		case 'D': o->dev = optarg; break;
		case 'v': o->verbose = true; break;
		case 'S':
			if (strlen(optarg) > VHOST_BLK_SERIAL_LEN) {
				fprintf(stderr, "vhost-blk-user: --serial '%s' is longer than %d bytes\n",
					optarg, VHOST_BLK_SERIAL_LEN);
				return -1;
			}
			o->serial = optarg;
			break;
		case 'q':
			n = strtol(optarg, &end, 10);
			if (*end || n < 1 || n > VHOST_BLK_MAX_QUEUES) {
				fprintf(stderr, "vhost-blk-user: --num-queues '%s': 1..%d\n",
					optarg, VHOST_BLK_MAX_QUEUES);
				return -1;
			}
			o->num_queues = (unsigned int)n;
			break;
		case 'e':
			if (!strcmp(optarg, "auto")) {
				o->engine = VHOST_BLK_ENGINE_AUTO;
			} else if (!strcmp(optarg, "kiocb")) {
				o->engine = VHOST_BLK_ENGINE_KIOCB;
			} else if (!strcmp(optarg, "bio")) {
				o->engine = VHOST_BLK_ENGINE_BIO;
			} else {
				fprintf(stderr, "vhost-blk-user: --engine '%s': auto, kiocb or bio\n",
					optarg);
				return -1;
			}
			break;
		case 'h':
			fputs(usage, stdout);
			return 1;
		default:
			fputs(usage, stderr);
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "vhost-blk-user: unexpected argument '%s'\n%s",
			argv[optind], usage);
		return -1;
	}
	if (!o->socket || !o->backend) {
		fprintf(stderr, "vhost-blk-user: --socket and --backend are required\n%s",
			usage);
		return -1;
	}
	return 0;
}
