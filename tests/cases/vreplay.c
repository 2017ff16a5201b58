// SPDX-License-Identifier: GPL-2.0-only
/*
 * vreplay: replay the log of a device-mapper log-writes target onto a
 * device or file, up to a mark, or list the log's entries.
 *
 *   vreplay [--to-mark NAME] LOG TARGET
 *   vreplay --list LOG
 *
 * The log replayed up to a mark is what a device with a volatile write cache
 * must hold had it lost power when the mark was sent (lib/logwrites.h says
 * why). TARGET must be as large as the logged device (at least up to the
 * last block written), and should start as the logged device did when the
 * log began: the replay writes only what was logged. Discards become
 * zeroes. Nothing is written if the log is bad before the mark, the mark
 * is not in it, or an entry lies outside TARGET.
 *
 * Exit status: 0 done, 1 the log could not be read or replayed, 2 usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "logwrites.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: vreplay [--to-mark NAME] LOG TARGET\n"
		"       vreplay --list LOG\n"
		"Replay the log of a dm-log-writes target (LOG: its log device or a copy)\n"
		"onto TARGET (a block device or file as large as the logged device), or\n"
		"list the log.\n"
		"  --to-mark NAME   stop before the first mark NAME (default: replay all)\n"
		"  --list           print one line per entry, then a summary\n"
		"  --help           this text\n"
		"Flags in the list: F flush, U FUA, D discard, M mark, m metadata.\n"
		"Exit status: 0 done, 1 error in the log or the replay, 2 usage error.\n");
}

static int usage_error(const char *msg)
{
	fprintf(stderr, "vreplay: %s\n", msg);
	fprintf(stderr, "Run vreplay --help for the usage.\n");
	return 2;
}

static int open_log(const char *path, struct lw_log *log)
{
	char err[512];
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "vreplay: cannot open log %s: %m\n", path);
		return -1;
	}
	if (lw_open(log, fd, err, sizeof(err))) {
		fprintf(stderr, "vreplay: %s: %s\n", path, err);
		close(fd);
		return -1;
	}
	return fd;
}

static int list(const char *path)
{
	uint64_t writes = 0, bytes = 0, flushes = 0, fua = 0, discards = 0;
	uint64_t marks = 0, end;
	struct lw_entry e;
	struct lw_log log;
	char err[512], fl[8];
	int fd, ret;

	fd = open_log(path, &log);
	if (fd < 0)
		return 1;
	printf("# %s: sectorsize %u, %" PRIu64 " entries\n", path,
	       log.sectorsize, log.nr_entries);
	printf("# %8s %-6s %14s %10s  %s\n", "index", "flags", "sector",
	       "nr_sectors", "mark");
	end = log.sectorsize;
	while ((ret = lw_next(&log, &e, err, sizeof(err))) == 1) {
		printf("%10" PRIu64 " %-6s %14" PRIu64 " %10" PRIu64 "%s%s\n",
		       e.index, lw_flags_str(e.flags, fl), e.sector,
		       e.nr_sectors, e.flags & LW_MARK ? "  " : "", e.mark);
		if (e.flags & LW_MARK)
			marks++;
		else if (e.flags & LW_DISCARD)
			discards++;
		else if (e.data_bytes)
			writes++;
		bytes += e.data_bytes;
		flushes += !!(e.flags & LW_FLUSH);
		fua += !!(e.flags & LW_FUA);
		end = log.next_off;
	}
	if (ret < 0) {
		fflush(stdout);
		fprintf(stderr, "vreplay: %s: %s\n", path, err);
		close(fd);
		return 1;
	}
	printf("%" PRIu64 " entries in %" PRIu64 " of the log's %" PRIu64
	       " bytes: %" PRIu64 " writes (%" PRIu64 " bytes), %" PRIu64
	       " flushes, %" PRIu64 " FUA, %" PRIu64 " discards, %" PRIu64
	       " marks\n", log.nr_entries, end, log.size, writes, bytes,
	       flushes, fua, discards, marks);
	close(fd);
	return 0;
}

static int replay(const char *log_path, const char *target_path,
		  const char *mark)
{
	struct stat ls, ts;
	struct lw_stats st;
	struct lw_log log;
	char err[512];
	int lfd, tfd;
	long n;

	lfd = open_log(log_path, &log);
	if (lfd < 0)
		return 1;
	tfd = open(target_path, O_WRONLY | O_CLOEXEC);
	if (tfd < 0) {
		fprintf(stderr,
			"vreplay: cannot open target %s: %m (it must exist, as large as the logged device)\n",
			target_path);
		close(lfd);
		return 1;
	}
	if (!fstat(lfd, &ls) && !fstat(tfd, &ts) &&
	    (S_ISBLK(ls.st_mode) && S_ISBLK(ts.st_mode) ?
	     ls.st_rdev == ts.st_rdev :
	     ls.st_dev == ts.st_dev && ls.st_ino == ts.st_ino)) {
		fprintf(stderr, "vreplay: %s and %s are the same: the replay would overwrite its log\n",
			log_path, target_path);
		close(tfd);
		close(lfd);
		return 1;
	}
	n = lw_replay(&log, tfd, mark, &st, err, sizeof(err));
	close(tfd);
	close(lfd);
	if (n < 0) {
		fprintf(stderr, "vreplay: replaying %s onto %s: %s\n", log_path,
			target_path, err);
		if (n == -ENOENT)
			fprintf(stderr, "vreplay: vreplay --list %s shows its marks\n",
				log_path);
		return 1;
	}
	printf("vreplay: replayed %ld of the %" PRIu64 " entries of %s onto %s",
	       n, log.nr_entries, log_path, target_path);
	if (mark)
		printf(", up to mark \"%s\"", mark);
	printf(": %" PRIu64 " writes (%" PRIu64 " bytes), %" PRIu64
	       " flushes, %" PRIu64 " FUA, %" PRIu64 " discards (%" PRIu64
	       " bytes zeroed), %" PRIu64 " marks passed\n", st.writes,
	       st.bytes, st.flushes, st.fua, st.discards, st.zeroed, st.marks);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "to-mark", required_argument, NULL, 'm' },
		{ "list", no_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *mark = NULL;
	bool do_list = false;
	int c, nargs;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'm':
			mark = optarg;
			break;
		case 'l':
			do_list = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			/* getopt said what is wrong. */
			return usage_error("the options are --to-mark NAME, --list and --help");
		}
	}
	nargs = argc - optind;
	if (do_list) {
		if (mark)
			return usage_error("--to-mark is for a replay, not with --list");
		if (nargs != 1)
			return usage_error("--list takes one argument: the log (vreplay --list LOG)");
		return list(argv[optind]);
	}
	if (nargs != 2)
		return usage_error("give the log and the target (vreplay [--to-mark NAME] LOG TARGET), or --list LOG");
	return replay(argv[optind], argv[optind + 1], mark);
}
