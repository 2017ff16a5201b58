// SPDX-License-Identifier: GPL-2.0-only
/*
 * vbench: the numbers of make bench.
 *
 *   vbench record --target T --backend B --rw RW --qd N --queues N --rep N
 *                 --fio RUN.json --stat0 BEFORE --stat1 AFTER
 *       One fio run: prints its record (a tab-separated line, for the
 *       results file) on stdout and a line for people on stderr.
 *   vbench mark begin|end DIR [THREADS]
 *       fio's exec_prerun/exec_postrun: DIR/stat0 (begin; only the first
 *       job's) or DIR/stat1 (end; the last job's wins): the cpu line of
 *       /proc/stat and the time, read first thing, in one process, so the
 *       window takes in as little of the marking as can be. With THREADS,
 *       end also appends "tid name" of every thread to it (profiles: perf
 *       names a vhost worker after its owner; /proc knows it as vhost-PID).
 *   vbench report [--kernel RELEASE] [--cmdline ARGS] [--json FILE]
 *                 [--plot DIR] [--hostload FILE --clock-offset S [--step S]
 *                  [--quiet-pct P]] RESULTS
 *       The medians of each cell, the ratios of issue #4 with their goals,
 *       and optionally latest.json and the chart's data. With the other
 *       load of the machine (bench/hostload.sh samples, each covering the
 *       --step seconds before it; record time + offset = machine time):
 *       each cell's median other load, and the medians and ratios of the
 *       runs during which it stayed at most --quiet-pct (default 10).
 *   vbench merge LATEST.json NEW.json
 *       LATEST.json with the ratios of NEW.json (a run of a few cells,
 *       same kernel) that LATEST.json's own cells do not give, on stdout;
 *       its cells and the ratios they give stay, NEW.json's cells stay
 *       out (merge.c).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cells.h"
#include "merge.h"
#include "run.h"
#include "out.h"

static void usage(void)
{
	fprintf(stderr,
		"usage: vbench mark begin|end DIR [THREADS]\n"
		"       vbench record --target T --backend B --rw RW --qd N --queues N --rep N\n"
		"                     --fio RUN.json --stat0 FILE --stat1 FILE\n"
		"       vbench report [--kernel RELEASE] [--cmdline ARGS] [--json FILE] [--plot DIR]\n"
		"                     [--hostload FILE --clock-offset S [--step S] [--quiet-pct P]] RESULTS\n"
		"       vbench merge LATEST.json NEW.json\n");
	exit(2);
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	size_t cap = 1 << 16, n = 0;
	char *buf;

	if (!f) {
		fprintf(stderr, "vbench: cannot read %s: %s\n", path,
			strerror(errno));
		return NULL;
	}
	buf = malloc(cap + 1);
	while (buf) {
		size_t k = fread(buf + n, 1, cap - n, f);

		n += k;
		if (n < cap)
			break;
		cap *= 2;
		buf = realloc(buf, cap + 1);
	}
	fclose(f);
	if (!buf) {
		fprintf(stderr, "vbench: out of memory reading %s\n", path);
		return NULL;
	}
	buf[n] = 0;
	*len = n;
	return buf;
}

static int name_arg(char *dst, const char *src, const char *what)
{
	if (strlen(src) >= VB_NAME || strpbrk(src, " \t\n")) {
		fprintf(stderr, "vbench: bad %s '%s'\n", what, src);
		return -1;
	}
	strcpy(dst, src);
	return 0;
}

static int record(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "target", 1, NULL, 't' }, { "backend", 1, NULL, 'b' },
		{ "rw", 1, NULL, 'w' }, { "qd", 1, NULL, 'q' },
		{ "queues", 1, NULL, 'Q' }, { "rep", 1, NULL, 'r' },
		{ "fio", 1, NULL, 'f' }, { "stat0", 1, NULL, '0' },
		{ "stat1", 1, NULL, '1' }, { NULL, 0, NULL, 0 },
	};
	const char *fio = NULL, *s0 = NULL, *s1 = NULL;
	struct vb_record r = { .qd = 0 };
	struct vb_cpu a, b;
	char err[256], *txt;
	size_t len;
	int c, ret;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 't': if (name_arg(r.target, optarg, "target")) return 2; break;
		case 'b': if (name_arg(r.backend, optarg, "backend")) return 2; break;
		case 'w': if (name_arg(r.rw, optarg, "rw")) return 2; break;
		case 'q': r.qd = (unsigned int)atoi(optarg); break;
		case 'Q': r.queues = (unsigned int)atoi(optarg); break;
		case 'r': r.rep = (unsigned int)atoi(optarg); break;
		case 'f': fio = optarg; break;
		case '0': s0 = optarg; break;
		case '1': s1 = optarg; break;
		default: usage();
		}
	}
	if (!fio || !s0 || !s1 || !r.target[0] || !r.backend[0] || !r.rw[0] ||
	    !r.qd || !r.queues)
		usage();
	txt = slurp(fio, &len);
	if (!txt)
		return 1;
	ret = vb_fio_extract(txt, len, &r, err, sizeof(err));
	free(txt);
	if (ret)
		goto bad;
	txt = slurp(s0, &len);
	if (!txt)
		return 1;
	ret = vb_stat_parse(txt, &a, err, sizeof(err));
	free(txt);
	if (ret)
		goto bad;
	txt = slurp(s1, &len);
	if (!txt)
		return 1;
	ret = vb_stat_parse(txt, &b, err, sizeof(err));
	free(txt);
	if (!ret)
		ret = vb_cpu_per_io(&r, &a, &b, sysconf(_SC_CLK_TCK), err,
				    sizeof(err));
	if (ret)
		goto bad;
	vb_record_print(stdout, &r);
	fprintf(stderr, "bench: %-5s %-8s %-9s qd%-2u q%u #%u: %8.0f IOPS, p50 %7.1f us, p99 %7.1f us, %6.2f us CPU/IO\n",
		r.target, r.backend, r.rw, r.qd, r.queues, r.rep, r.iops,
		r.lat_p50_us, r.lat_p99_us, r.cpu_us_per_io);
	return 0;
bad:
	fprintf(stderr, "vbench: %s %s %s qd%u q%u #%u: %s\n", r.target,
		r.backend, r.rw, r.qd, r.queues, r.rep, err);
	return 1;
}

static int report(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "kernel", 1, NULL, 'k' }, { "json", 1, NULL, 'j' },
		{ "plot", 1, NULL, 'p' }, { "hostload", 1, NULL, 'h' },
		{ "clock-offset", 1, NULL, 'o' }, { "step", 1, NULL, 's' },
		{ "quiet-pct", 1, NULL, 'q' }, { "cmdline", 1, NULL, 'c' },
		{ NULL, 0, NULL, 0 },
	};
	const char *kernel = "unknown", *cmdline = "unknown";
	const char *json = NULL, *plot = NULL;
	const char *hostload = NULL;
	double offset = 0, step = 2, quiet_pct = 10;
	struct vb_ratio r[VB_NRATIOS], ref[VB_NREFS];
	struct vb_pair *pairs;
	size_t npairs;
	struct vb_set s = { 0 };
	char line[1024], err[256];
	unsigned int lineno = 0;
	FILE *f;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'k': kernel = optarg; break;
		case 'c': cmdline = optarg; break;
		case 'j': json = optarg; break;
		case 'p': plot = optarg; break;
		case 'h': hostload = optarg; break;
		case 'o': offset = atof(optarg); break;
		case 's': step = atof(optarg); break;
		case 'q': quiet_pct = atof(optarg); break;
		default: usage();
		}
	}
	if (optind != argc - 1)
		usage();
	f = fopen(argv[optind], "r");
	if (!f) {
		fprintf(stderr, "vbench: cannot read %s: %s\n", argv[optind],
			strerror(errno));
		return 1;
	}
	while (fgets(line, sizeof(line), f)) {
		struct vb_record rec;
		int ret = vb_record_parse(line, &rec, err, sizeof(err));

		lineno++;
		if (ret < 0) {
			fprintf(stderr, "vbench: %s:%u: %s\n", argv[optind],
				lineno, err);
			fclose(f);
			return 1;
		}
		if (!ret && vb_set_add(&s, &rec)) {
			fprintf(stderr, "vbench: out of memory\n");
			return 1;
		}
	}
	fclose(f);
	if (hostload) {
		size_t len;
		char *txt = slurp(hostload, &len);

		if (!txt)
			return 1;
		vb_apply_noise(&s, txt, step, offset);
		free(txt);
		s.quiet_pct = quiet_pct;
	}
	if (!s.nrec || vb_set_cells(&s)) {
		fprintf(stderr, "vbench: %s holds no record\n", argv[optind]);
		return 1;
	}
	vb_ratios(&s, r);
	printf("Medians of %zu runs in %zu cells (kernel %s; command line: %s):\n\n",
	       s.nrec, s.ncell, kernel, cmdline);
	vb_print_table(stdout, &s);
	if (hostload)
		printf("\nOther load: the median share of this machine's CPUs that other work used during a cell's runs; quiet runs: those with at most %.0f%%.\n",
		       quiet_pct);
	printf("\nRatios (geometric mean over the pairs of cells each compares; quiet runs: the same from the quiet runs' medians):\n\n");
	vb_print_ratios(stdout, r);
	printf("\nVerdict: by the medians. Decided: by the paired runs (repetitions with a run of each pair; a paired ratio is one repetition's numerator over the same repetition's denominator), whose median lies within the interval with the probability shown (sign test): met or MISSED when the interval lies wholly on one side of the goal (each claim wrong with a probability of at most %.0f%%), undecided when it holds the goal, too few runs under %u repetitions (BENCH_REPS).\n",
	       100 * VB_ALPHA, vb_min_paired());
	pairs = vb_pairs(&s, &npairs);
	if (!pairs) {
		fprintf(stderr, "vbench: out of memory\n");
		return 1;
	}
	printf("\nEach pair of cells of the ratios above, decided alone (its own paired runs; a pooled ratio can meet its goal while one of its pairs misses):\n\n");
	vb_print_pairs(stdout, pairs, npairs);
	free(pairs);
	vb_references(&s, ref);
	printf("\nReferences (no goal, not in latest.json): what the goals are up against in this machine:\n\n");
	vb_print_references(stdout, ref);
	if (json) {
		FILE *j = fopen(json, "w");

		if (!j) {
			fprintf(stderr, "vbench: cannot write %s: %s\n", json,
				strerror(errno));
			return 1;
		}
		vb_write_json(j, kernel, cmdline, &s, r);
		if (fclose(j)) {
			fprintf(stderr, "vbench: writing %s failed\n", json);
			return 1;
		}
	}
	if (plot && vb_write_plot(plot, &s)) {
		fprintf(stderr, "vbench: cannot write the chart data in %s: %s\n",
			plot, strerror(errno));
		return 1;
	}
	vb_set_free(&s);
	return 0;
}

/* Every thread as "tid name" lines appended to @path. */
static void list_threads(const char *path)
{
	DIR *procs = opendir("/proc");
	FILE *out = fopen(path, "a");
	struct dirent *p;

	while (procs && out && (p = readdir(procs))) {
		char dir[300], comm[600];
		struct dirent *t;
		DIR *tasks;

		if (p->d_name[0] < '0' || p->d_name[0] > '9')
			continue;
		snprintf(dir, sizeof(dir), "/proc/%s/task", p->d_name);
		tasks = opendir(dir);
		while (tasks && (t = readdir(tasks))) {
			char name[64] = "";
			FILE *f;

			if (t->d_name[0] < '0' || t->d_name[0] > '9')
				continue;
			snprintf(comm, sizeof(comm), "%s/%s/comm", dir, t->d_name);
			f = fopen(comm, "r");
			if (f && fgets(name, sizeof(name), f))
				fprintf(out, "%s %s", t->d_name, name);
			if (f)
				fclose(f);
		}
		if (tasks)
			closedir(tasks);
	}
	if (procs)
		closedir(procs);
	if (out)
		fclose(out);
}

static int mark(int argc, char **argv)
{
	char line[512], path[4096], tmp[4200];
	struct timespec ts;
	bool begin;
	FILE *f;
	int fd;

	if (argc < 3 || (strcmp(argv[1], "begin") && strcmp(argv[1], "end")))
		usage();
	/* The sample first: everything after it is outside the window
	 * (begin) or was inside it already (end). */
	f = fopen("/proc/stat", "r");
	if (!f || !fgets(line, sizeof(line), f)) {
		fprintf(stderr, "vbench: cannot read /proc/stat\n");
		return 1;
	}
	fclose(f);
	clock_gettime(CLOCK_REALTIME, &ts);
	begin = !strcmp(argv[1], "begin");
	snprintf(path, sizeof(path), "%s/%s", argv[2], begin ? "stat0" : "stat1");
	if (begin) {
		/* Only the first job to start: O_EXCL. */
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
		if (fd < 0)
			return errno == EEXIST ? 0 : 1;
		f = fdopen(fd, "w");
	} else {
		/* The last job to end: rename over the others. */
		snprintf(tmp, sizeof(tmp), "%s.%d", path, (int)getpid());
		f = fopen(tmp, "w");
	}
	if (!f)
		return 1;
	fprintf(f, "%stime %lld.%09ld\n", line, (long long)ts.tv_sec, ts.tv_nsec);
	if (fclose(f) || (!begin && rename(tmp, path)))
		return 1;
	if (!begin && argc > 3)
		list_threads(argv[3]);
	return 0;
}

static int merge(int argc, char **argv)
{
	char *old_text, *new_text, err[512];
	size_t old_len, new_len;
	int ret = 1;

	if (argc != 3)
		usage();
	old_text = slurp(argv[1], &old_len);
	new_text = old_text ? slurp(argv[2], &new_len) : NULL;
	if (new_text && vb_merge(stdout, old_text, old_len, new_text, new_len,
				 err, sizeof(err)))
		fprintf(stderr, "vbench merge: %s\n", err);
	else if (new_text)
		ret = fflush(stdout) ? 1 : 0;
	free(old_text);
	free(new_text);
	return ret;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		usage();
	if (!strcmp(argv[1], "mark"))
		return mark(argc - 1, argv + 1);
	if (!strcmp(argv[1], "record"))
		return record(argc - 1, argv + 1);
	if (!strcmp(argv[1], "report"))
		return report(argc - 1, argv + 1);
	if (!strcmp(argv[1], "merge"))
		return merge(argc - 1, argv + 1);
	usage();
	return 2;
}
