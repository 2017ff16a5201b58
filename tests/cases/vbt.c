// SPDX-License-Identifier: GPL-2.0-only
/*
 * vbt: the vhost-blk test program.
 *
 *   vbt [options] BACKEND_PATH [CASE...]
 *
 * Runs the named cases (all by default), each in a forked child with a
 * time limit, and prints one line per case: "PASS case", "FAIL case: why"
 * or "SKIP case: why". Notes (seeds, sizes) go to stderr as "# case: ...".
 * Exit status: 0 all passed or skipped, 1 a case failed, 2 usage error.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vbt.h"

#define MIN_BACKEND	(64ULL << 20)
#define DEBUGFS_MAGIC_	0x64626720

static const struct vbt_case cases[] = {
	{ "dev-node", case_dev_node, 0 },
	{ "two-opens", case_two_opens, VBT_WRITES },
	{ "no-owner", case_no_owner, 0 },
	{ "features", case_features, 0 },
	{ "backend-args", case_backend_args, 0 },
	{ "config", case_config, 0 },
	{ "rw-sizes", case_rw_sizes, VBT_WRITES },
	{ "rw-split-header", case_rw_split_header, VBT_WRITES },
	{ "rw-many-segments", case_rw_many_segments, VBT_WRITES },
	{ "rw-indirect", case_rw_indirect, VBT_WRITES },
	{ "rw-any-layout", case_rw_any_layout, VBT_WRITES },
	{ "rw-queues", case_rw_queues, VBT_WRITES },
	{ "rw-qd", case_rw_qd, VBT_WRITES },
	{ "rw-no-event-idx", case_rw_no_event_idx, VBT_WRITES },
	{ "dio-deferred", case_dio_deferred, VBT_WRITES },
	{ "rw-misaligned", case_rw_misaligned, VBT_WRITES },
	{ "worker-per-queue", case_worker_per_queue, VBT_WRITES },
	{ "busy-poll", case_busy_poll, VBT_WRITES },
	{ "layout", case_layout, VBT_WRITES },
	{ "ring-sizes", case_ring_sizes, VBT_WRITES },
	{ "ring-wrap", case_ring_wrap, VBT_WRITES },
	{ "flush", case_flush, 0 },
	{ "get-id", case_get_id, 0 },
	{ "discard", case_discard, VBT_WRITES },
	{ "write-zeroes", case_write_zeroes, VBT_WRITES },
	{ "bad-type", case_bad_type, 0 },
	{ "bad-range", case_bad_range, 0 },
	{ "read-only", case_read_only, 0 },
	{ "bad-no-status", case_bad_no_status, 0 },
	{ "bad-short-header", case_bad_short_header, 0 },
	{ "bad-no-data", case_bad_no_data, 0 },
	{ "bad-too-many-segs", case_bad_too_many_segs, 0 },
	{ "seg-region-split", case_seg_region_split, 0 },
	{ "bad-discard-segs", case_bad_discard_segs, VBT_WRITES },
	{ "bad-double-head", case_bad_double_head, 0 },
	{ "bad-loop", case_bad_loop, 0 },
	{ "bad-address", case_bad_address, 0 },
	{ "idle-close", case_idle_close, 0 },
	{ "close-inflight", case_close_inflight, 0 },
	{ "reset-owner-inflight", case_reset_owner_inflight, 0 },
	{ "detach-inflight", case_detach_inflight, 0 },
	{ "kill-owner", case_kill_owner, 0 },
	{ "freeze", case_freeze, VBT_WRITES },
	{ "ro-after-attach", case_ro_after_attach, VBT_WRITES },
	{ "write-gates", case_write_gates, VBT_WRITES },
	{ "lease-perm", case_lease_perm, 0 },
	{ "defrag", case_defrag, VBT_WRITES },
	{ "layout-bound", case_layout_bound, VBT_WRITES },
	{ "cgroup-charge", case_cgroup_charge, VBT_WRITES },
	{ "trace", case_trace, VBT_WRITES },
	{ "write-through", case_write_through, VBT_WRITES },
	{ "pin-budget", case_pin_budget, VBT_WRITES },
	{ "dirty-log", case_dirty_log, VBT_WRITES },
	{ "integrity", case_integrity, VBT_WRITES },
	{ "resize-grow", case_resize_grow, VBT_WRITES },
	{ "resize-shrink", case_resize_shrink, VBT_WRITES },
};

#define NCASES	(sizeof(cases) / sizeof(cases[0]))

static void usage(FILE *f)
{
	fprintf(f,
		"usage: vbt [options] BACKEND_PATH [CASE...]\n"
		"       vbt --list\n"
		"Test /dev/vhost-blk with BACKEND_PATH (a raw image file or block\n"
		"device of at least 64 MiB that the test may overwrite).\n"
		"  --engine auto|kiocb|bio  engine to attach with (default auto)\n"
		"  --readonly               attach read-only; cases that write skip\n"
		"  --direct                 open the backend with O_DIRECT\n"
		"  --queues N               queues for multi-queue cases (default 4)\n"
		"  --integrity-mib N        data the integrity case writes (default 64)\n"
		"  --seed N                 pattern and random seed (default random)\n"
		"  --timeout S              per-case time limit (default 120)\n"
		"  --list                   print the case names\n");
}

struct job {
	const struct vbt_case *c;
	const struct vbt_opts *o;
};

/* In the case's own process (lib/runner.c). */
static int run_child(void *arg, char *msg, size_t len)
{
	const struct job *j = arg;
	struct vbt t;
	int res;

	memset(&t, 0, sizeof(t));
	t.o = j->o;
	t.name = j->c->name;
	t.seed = j->o->seed;
	res = j->c->fn(&t);
	if ((res == VBT_FAIL || res == VBT_SKIP) && !t.msg[0])
		snprintf(t.msg, sizeof(t.msg), "(no reason given)");
	snprintf(msg, len, "%s", t.msg);
	return res;
}

/* Run one case: false if its process could not be ended. */
static bool run_case(const struct vbt_case *c, const struct vbt_opts *o,
		     struct vblk_verdict *v)
{
	struct job j = { c, o };
	struct vblk_test_run r = {
		.fn = run_child, .arg = &j,
		.timeout_s = o->timeout_s, .grace_s = 10,
	};
	struct stat st;
	int status;

	if (o->readonly && (c->flags & VBT_WRITES)) {
		memset(v, 0, sizeof(*v));
		v->res = VBT_SKIP;
		snprintf(v->msg, sizeof(v->msg),
			 "writes to the backend, which --readonly forbids");
		return true;
	}
	if (o->engine == VHOST_BLK_ENGINE_BIO && !stat(o->backend, &st) &&
	    S_ISREG(st.st_mode) && vblk_module_lacks("file-layout")) {
		memset(v, 0, sizeof(*v));
		v->res = VBT_SKIP;
		snprintf(v->msg, sizeof(v->msg),
			 "the bio engine on an image file needs the module's file-layout feature, off on this kernel (the lease API of 6.9)");
		return true;
	}
	if (!vblk_test_run(&r, v)) {
		v->res = VBT_FAIL;
		snprintf(v->msg, sizeof(v->msg),
			 "still running %u s after its time limit of %u s and unkillable (stuck in the kernel?)",
			 2 * r.grace_s, o->timeout_s);
		return false;
	}
	status = v->status;
	if (v->res >= 0)
		return true;
	v->res = VBT_FAIL;
	if (v->setup_failed)
		return true;
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
		snprintf(v->msg, sizeof(v->msg), "timed out after %u s",
			 o->timeout_s);
	else if (WIFSIGNALED(status))
		snprintf(v->msg, sizeof(v->msg), "crashed: signal %d (%s)",
			 WTERMSIG(status), strsignal(WTERMSIG(status)));
	else
		snprintf(v->msg, sizeof(v->msg),
			 "exited with status %d without a verdict",
			 WEXITSTATUS(status));
	return true;
}

/*
 * debugfs, where the module's counters are, may not be mounted yet. Only
 * where the module is loaded (its misc device registered).
 */
static void mount_debugfs(void)
{
	struct statfs s;

	if (access("/sys/class/misc/vhost-blk", F_OK) ||
	    (!statfs("/sys/kernel/debug", &s) && s.f_type == DEBUGFS_MAGIC_))
		return;
	if (mount("debugfs", "/sys/kernel/debug", "debugfs", 0, NULL) == 0)
		fprintf(stderr, "# vbt: mounted debugfs on /sys/kernel/debug\n");
}

static const struct vbt_case *find_case(const char *name)
{
	unsigned int i;

	for (i = 0; i < NCASES; i++)
		if (!strcmp(cases[i].name, name))
			return &cases[i];
	return NULL;
}

static int parse_opts(int argc, char **argv, struct vbt_opts *o, bool *list)
{
	static const struct option lo[] = {
		{ "engine", required_argument, NULL, 'e' },
		{ "readonly", no_argument, NULL, 'r' },
		{ "direct", no_argument, NULL, 'd' },
		{ "queues", required_argument, NULL, 'q' },
		{ "integrity-mib", required_argument, NULL, 'i' },
		{ "seed", required_argument, NULL, 's' },
		{ "timeout", required_argument, NULL, 't' },
		{ "list", no_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t v;
	int c, idx = 0;

	while ((c = getopt_long(argc, argv, "h", lo, &idx)) != -1) {
		switch (c) {
		case 'e':
			if (vblk_engine_parse(optarg, &o->engine))
				goto bad;
			break;
		case 'r':
			o->readonly = true;
			break;
		case 'd':
			o->direct = true;
			break;
		case 'q':
			if (vblk_parse_uint(optarg, VHOST_BLK_MAX_QUEUES, &v) || !v)
				goto bad;
			o->queues = (unsigned int)v;
			break;
		case 'i':
			if (vblk_parse_uint(optarg, 1u << 20, &v) || !v)
				goto bad;
			o->integrity_mib = (unsigned int)v;
			break;
		case 's':
			if (vblk_parse_uint(optarg, UINT64_MAX, &v))
				goto bad;
			o->seed = v;
			break;
		case 't':
			if (vblk_parse_uint(optarg, 86400, &v) || !v)
				goto bad;
			o->timeout_s = (unsigned int)v;
			break;
		case 'l':
			*list = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	return 0;
bad:
	fprintf(stderr, "vbt: bad value '%s' for --%s\n", optarg, lo[idx].name);
	return -1;
}

static int check_backend(const struct vbt_opts *o)
{
	struct vbt t = { .o = o, .name = "vbt" };
	struct vbt_backend b;

	if (vbt_backend_open(&t, &b, o->readonly)) {
		fprintf(stderr, "vbt: %s\n", t.msg);
		return -1;
	}
	close(b.fd);
	if (b.size < MIN_BACKEND) {
		fprintf(stderr, "vbt: %s has %" PRIu64 " bytes; at least %llu needed\n",
			o->backend, b.size, MIN_BACKEND);
		return -1;
	}
	fprintf(stderr, "# vbt: backend %s: %s, %" PRIu64 " bytes, %s; engine %s; seed %#" PRIx64 "\n",
		o->backend, b.is_blk ? "block device" : "file", b.size,
		b.direct ? "O_DIRECT" : "buffered", vblk_engine_name(o->engine),
		o->seed);
	return 0;
}

int main(int argc, char **argv)
{
	struct vbt_opts o = {
		.queues = 4, .integrity_mib = 64, .timeout_s = 120,
		.engine = VHOST_BLK_ENGINE_AUTO,
	};
	const struct vbt_case *run[NCASES];
	unsigned int n = 0, i, failed = 0;
	bool list = false;
	int a;

	if (getrandom(&o.seed, sizeof(o.seed), 0) != sizeof(o.seed))
		o.seed = (uint64_t)getpid() * 0x9e3779b97f4a7c15ULL;
	if (parse_opts(argc, argv, &o, &list))
		return 2;
	if (list) {
		for (i = 0; i < NCASES; i++)
			printf("%s\n", cases[i].name);
		return 0;
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	o.backend = argv[optind];
	for (a = optind + 1; a < argc; a++) {
		const struct vbt_case *c = find_case(argv[a]);

		if (!c) {
			fprintf(stderr, "vbt: no case '%s' (see --list)\n",
				argv[a]);
			return 2;
		}
		if (n < NCASES)
			run[n++] = c;
	}
	if (!n)
		for (i = 0; i < NCASES; i++)
			run[n++] = &cases[i];
	if (check_backend(&o))
		return 2;
	mount_debugfs();
	setvbuf(stdout, NULL, _IOLBF, 0);

	for (i = 0; i < n; i++) {
		static const char *const word[] = { "PASS", "FAIL", "SKIP" };
		struct vblk_verdict v;
		bool alive = run_case(run[i], &o, &v);

		if (v.res == VBT_PASS)
			printf("PASS %s\n", run[i]->name);
		else
			printf("%s %s: %s\n", word[v.res], run[i]->name, v.msg);
		failed += v.res == VBT_FAIL;
		if (!alive) {
			for (i++; i < n; i++)
				printf("SKIP %s: an earlier case left a process stuck in the kernel\n",
				       run[i]->name);
			return 1;
		}
	}
	return failed ? 1 : 0;
}
