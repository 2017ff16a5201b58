// SPDX-License-Identifier: GPL-2.0-only
/* The benchmark's numbers: fio's JSON, /proc/stat, medians, ratios and
 * latest.json (bench/report). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cells.h"
#include "json.h"
#include "merge.h"
#include "out.h"
#include "run.h"
#include "unit.h"

/* The shape of fio's --output-format=json, cut down. */
static const char fio_json[] =
	"note: fio printed this before the JSON\n"
	"{\n"
	"  \"fio version\" : \"fio-3.33\",\n"
	"  \"jobs\" : [\n"
	"    {\n"
	"      \"jobname\" : \"vbench\", \"error\" : 0,\n"
	"      \"read\" : {\n"
	"        \"io_bytes\" : 409600, \"iops\" : 33333.5, \"total_ios\" : 100000,\n"
	"        \"clat_ns\" : { \"min\" : 1, \"percentile\" : {\n"
	"            \"1.000000\" : 1000, \"50.000000\" : 25088,\n"
	"            \"99.000000\" : 102400, \"99.990000\" : 1e6 } },\n"
	"        \"flags\" : [true, false, null, -1.5e-3, \"x\\\"y\"]\n"
	"      },\n"
	"      \"write\" : { \"iops\" : 0.0, \"total_ios\" : 0,\n"
	"        \"clat_ns\" : { \"percentile\" : { \"50.000000\" : 0 } } },\n"
	"      \"trim\" : { \"iops\" : 0, \"total_ios\" : 0 }\n"
	"    }\n"
	"  ]\n"
	"}\n";

static int t_json(struct ut *t)
{
	struct json_doc d;
	int arr;

	CHECK(t, !json_parse(&d, fio_json, strlen(fio_json)), "parse: %s",
	      d.err);
	CHECK(t, json_num(&d, 0, "jobs", -1) == -1, "an array is no number");
	arr = json_path(&d, json_at(&d, json_get(&d, 0, "jobs"), 0),
			"read/flags");
	CHECK(t, arr >= 0 && d.n[json_at(&d, arr, 0)].type == JSON_BOOL &&
	      d.n[json_at(&d, arr, 2)].type == JSON_NULL &&
	      fabs(d.n[json_at(&d, arr, 3)].num + 0.0015) < 1e-12 &&
	      d.n[json_at(&d, arr, 4)].str_len == 4 && json_at(&d, arr, 5) < 0,
	      "array elements");
	CHECK(t, json_num(&d, json_at(&d, json_get(&d, 0, "jobs"), 0),
			  "read/clat_ns/percentile/99.990000", 0) == 1e6,
	      "a key with dots, an exponent");
	json_free(&d);

	CHECK(t, json_parse(&d, "{\"a\": [1, 2,]}", 14) < 0 &&
	      strstr(d.err, "byte"), "a trailing comma passed: %s", d.err);
	json_free(&d);
	CHECK(t, json_parse(&d, "{\"a\": \"open", 11) < 0, "open string");
	json_free(&d);
	CHECK(t, json_parse(&d, "no json here", 12) < 0, "no JSON");
	json_free(&d);
	return 0;
}

static int t_run(struct ut *t)
{
	struct vb_record r = { .qd = 32 };
	struct vb_cpu a, b;
	char err[256];

	CHECK(t, !vb_fio_extract(fio_json, strlen(fio_json), &r, err,
				 sizeof(err)), "%s", err);
	CHECK(t, r.iops == 33333.5 && r.ios == 100000 &&
	      r.lat_p50_us == 25.088 && r.lat_p99_us == 102.4,
	      "iops %f ios %f p50 %f p99 %f", r.iops, r.ios, r.lat_p50_us,
	      r.lat_p99_us);
	CHECK(t, !vb_stat_parse("cpu  100 5 50 1000 20 3 2 0 7 0\ncpu0 1 2\n",
				&a, err, sizeof(err)), "%s", err);
	CHECK(t, a.busy == 160 && a.total == 1180, "busy %llu total %llu",
	      a.busy, a.total);
	CHECK(t, !vb_stat_parse("cpu  300 5 150 1500 20 13 12 0 0 0\ntime 1234.5\n",
				&b, err, sizeof(err)) && b.time == 1234.5 &&
	      !a.time, "%s", err);
	/* 320 busy ticks at 100 Hz over 100000 I/Os: 32 us each. */
	CHECK(t, !vb_cpu_per_io(&r, &a, &b, 100, err, sizeof(err)), "%s", err);
	CHECK(t, fabs(r.busy_s - 3.2) < 1e-9 && fabs(r.cpu_us_per_io - 32) < 1e-9,
	      "busy %f s, %f us/IO", r.busy_s, r.cpu_us_per_io);
	CHECK(t, vb_cpu_per_io(&r, &b, &a, 100, err, sizeof(err)) < 0,
	      "samples in the wrong order accepted");
	CHECK(t, vb_stat_parse("intr 1 2 3", &a, err, sizeof(err)) < 0,
	      "not a cpu line accepted");
	{
		/* With lat_percentiles=1: lat_ns wins over clat_ns. */
		static const char both[] =
			"{\"jobs\": [{\"write\": {\"iops\": 10, \"total_ios\": 50,"
			" \"clat_ns\": {\"percentile\": {\"50.000000\": 1000,"
			" \"99.000000\": 2000}},"
			" \"lat_ns\": {\"percentile\": {\"50.000000\": 3000,"
			" \"99.000000\": 4000}}}}]}";

		CHECK(t, !vb_fio_extract(both, strlen(both), &r, err,
					 sizeof(err)), "%s", err);
		CHECK(t, r.lat_p50_us == 3 && r.lat_p99_us == 4 && r.ios == 50,
		      "p50 %f p99 %f", r.lat_p50_us, r.lat_p99_us);
	}
	CHECK(t, vb_fio_extract("{\"jobs\": [{\"error\": 5}]}", 24, &r, err,
				sizeof(err)) < 0 && strstr(err, "error 5"),
	      "a failed job: %s", err);
	CHECK(t, vb_fio_extract("{\"jobs\": [{}, {}]}", 18, &r, err,
				sizeof(err)) < 0 && strstr(err, "group_reporting"),
	      "two job groups: %s", err);
	return 0;
}

static void add(struct vb_set *s, const char *t, const char *b,
		const char *rw, unsigned int qd, unsigned int q, double iops,
		double p50, double cpu)
{
	struct vb_record r;
	unsigned int rep;

	memset(&r, 0, sizeof(r));
	strcpy(r.target, t);
	strcpy(r.backend, b);
	strcpy(r.rw, rw);
	r.qd = qd;
	r.queues = q;
	/* Three repetitions around the value: the median is the value. */
	for (rep = 1; rep <= 3; rep++) {
		double f = rep == 1 ? 0.9 : rep == 2 ? 1.0 : 1.3;

		r.rep = rep;
		r.iops = iops * f;
		r.lat_p50_us = p50 * f;
		r.lat_p99_us = 2 * p50 * f;
		r.cpu_us_per_io = cpu * f;
		r.ios = 1000;
		vb_set_add(s, &r);
	}
}

static int t_cells(struct ut *t)
{
	struct vb_ratio r[VB_NRATIOS];
	struct vb_set s = { 0 };
	const struct vb_cell *c;
	double v[] = { 5, 1, 4, 2 }, w[] = { 7, 9, 8 };

	CHECK(t, vb_median(v, 4) == 3 && vb_median(w, 3) == 8 &&
	      isnan(vb_median(w, 0)), "medians");
	add(&s, "bio", "null_blk", "randread", 32, 1, 90000, 50, 10);
	add(&s, "host", "null_blk", "randread", 32, 1, 100000, 40, 8);
	add(&s, "kiocb", "null_blk", "randread", 32, 1, 82800, 60, 12);
	add(&s, "qsd", "null_blk", "randread", 32, 1, 30000, 150, 40);
	add(&s, "bio", "null_blk", "randread", 32, 2, 160000, 50, 10);
	add(&s, "bio", "null_blk", "randread", 1, 1, 10000, 20, 30);
	add(&s, "qsd", "null_blk", "randread", 1, 1, 4000, 50, 60);
	add(&s, "kiocb", "xfs", "randread", 32, 1, 45000, 60, 12);
	add(&s, "bio", "xfs", "randread", 32, 1, 50000, 50, 10);
	add(&s, "qsd", "xfs", "randread", 32, 1, 25000, 150, 40);
	CHECK(t, !vb_set_cells(&s) && s.ncell == 10, "%zu cells", s.ncell);
	c = vb_find(&s, "bio", "null_blk", "randread", 32, 1);
	CHECK(t, c && c->iops == 90000 && c->reps == 3 &&
	      c->iops_min == 81000 && c->iops_max == 117000,
	      "bio cell: %f iops over %u runs", c ? c->iops : 0,
	      c ? c->reps : 0);
	/* Sorted: backend, rw, qd, queues, then host kiocb bio qsd. */
	CHECK(t, !strcmp(s.cell[0].target, "bio") && s.cell[0].qd == 1 &&
	      !strcmp(s.cell[2].target, "host") &&
	      !strcmp(s.cell[9].backend, "xfs") &&
	      !strcmp(s.cell[9].target, "qsd"), "order: %s %s ... %s %s",
	      s.cell[0].target, s.cell[2].target, s.cell[9].backend,
	      s.cell[9].target);

	vb_ratios(&s, r);
	CHECK(t, fabs(r[VB_BIO_VS_HOST].value - 0.9) < 1e-9 &&
	      r[VB_BIO_VS_HOST].pairs == 1 && !vb_ratio_met(&r[VB_BIO_VS_HOST]),
	      "bio/host %f", r[VB_BIO_VS_HOST].value);
	CHECK(t, fabs(r[VB_KIOCB_VS_BIO].value - 0.92) < 1e-9 &&
	      vb_ratio_met(&r[VB_KIOCB_VS_BIO]), "kiocb/bio %f",
	      r[VB_KIOCB_VS_BIO].value);
	CHECK(t, fabs(r[VB_XFS_KIOCB_VS_BDEV_BIO].value - 0.9) < 1e-9,
	      "xfs %f", r[VB_XFS_KIOCB_VS_BDEV_BIO].value);
	/* vhost is bio on null_blk (3x) and kiocb on the XFS image (1.8x). */
	CHECK(t, r[VB_VHOST_VS_QSD_IOPS_QD32].pairs == 2 &&
	      fabs(r[VB_VHOST_VS_QSD_IOPS_QD32].value - sqrt(3 * 1.8)) < 1e-9 &&
	      fabs(r[VB_VHOST_VS_QSD_IOPS_QD32].worst - 1.8) < 1e-9,
	      "vhost/qsd IOPS %f over %u, worst %f",
	      r[VB_VHOST_VS_QSD_IOPS_QD32].value,
	      r[VB_VHOST_VS_QSD_IOPS_QD32].pairs,
	      r[VB_VHOST_VS_QSD_IOPS_QD32].worst);
	CHECK(t, fabs(r[VB_VHOST_VS_QSD_LAT_QD1].value - 0.4) < 1e-9 &&
	      vb_ratio_met(&r[VB_VHOST_VS_QSD_LAT_QD1]), "latency %f",
	      r[VB_VHOST_VS_QSD_LAT_QD1].value);
	/* CPU: 10/40, 30/60, 12/40 */
	CHECK(t, r[VB_CPU_VS_QSD].pairs == 3 &&
	      fabs(r[VB_CPU_VS_QSD].value - cbrt(0.25 * 0.5 * 0.3)) < 1e-9 &&
	      fabs(r[VB_CPU_VS_QSD].worst - 0.5) < 1e-9,
	      "cpu %f over %u, worst %f", r[VB_CPU_VS_QSD].value,
	      r[VB_CPU_VS_QSD].pairs, r[VB_CPU_VS_QSD].worst);
	/* No load samples: no quiet runs. */
	CHECK(t, !r[VB_BIO_VS_HOST].quiet_pairs &&
	      isnan(r[VB_BIO_VS_HOST].quiet), "quiet runs from nothing");
	/* Three repetitions decide nothing. */
	CHECK(t, r[VB_BIO_VS_HOST].paired == 3 &&
	      r[VB_BIO_VS_HOST].decision == VB_TOO_FEW &&
	      isnan(r[VB_BIO_VS_HOST].lo), "3 runs: %s",
	      vb_decision_name(r[VB_BIO_VS_HOST].decision));
	CHECK(t, fabs(r[VB_Q2_VS_Q1].value - 160000.0 / 90000) < 1e-9 &&
	      !vb_ratio_met(&r[VB_Q2_VS_Q1]), "q2/q1 %f", r[VB_Q2_VS_Q1].value);
	vb_set_free(&s);

	/* Nothing to compare: no value, not met. */
	add(&s, "bio", "brd", "randwrite", 32, 1, 1000, 10, 1);
	vb_set_cells(&s);
	vb_ratios(&s, r);
	CHECK(t, isnan(r[VB_BIO_VS_HOST].value) && !r[VB_BIO_VS_HOST].pairs &&
	      !vb_ratio_met(&r[VB_BIO_VS_HOST]), "a ratio from nothing");
	vb_set_free(&s);
	return 0;
}

/* One run of a cell in repetition @rep. */
static void add_rep_q(struct vb_set *s, const char *t, const char *b,
		      unsigned int qd, unsigned int queues, unsigned int rep,
		      double iops)
{
	struct vb_record r;

	memset(&r, 0, sizeof(r));
	strcpy(r.target, t);
	strcpy(r.backend, b);
	strcpy(r.rw, "randread");
	r.qd = qd;
	r.queues = queues;
	r.rep = rep;
	r.iops = iops;
	r.lat_p50_us = 1e6 / iops;
	r.cpu_us_per_io = 10;
	r.ios = 1000;
	vb_set_add(s, &r);
}

static void add_rep(struct vb_set *s, const char *t, const char *b,
		    unsigned int qd, unsigned int rep, double iops)
{
	add_rep_q(s, t, b, qd, 1, rep, iops);
}

/* Decisions from the paired repetitions. */
static int t_decide(struct ut *t)
{
	/* The machine's speed drifts between repetitions 3x; bio keeps
	 * within 0.96-1.00 of host in each, kiocb 0.86-0.93 of bio. */
	static const double host[] = { 50000, 150000, 90000, 60000, 120000,
				       70000, 140000 };
	static const double bio[] = { 0.97, 0.99, 1.00, 0.96, 0.98, 0.97, 0.99 };
	static const double kiocb[] = { 0.88, 0.93, 0.86, 0.89, 0.91, 0.87, 0.90 };
	double v[9] = { 9, 1, 8, 2, 7, 3, 6, 4, 5 }, lo, hi, cov;
	struct vb_ratio r[VB_NRATIOS];
	struct vb_set s = { 0 };
	unsigned int i;

	CHECK(t, vb_min_paired() == 5, "%u runs needed", vb_min_paired());
	cov = vb_median_interval(v, 4, &lo, &hi);
	CHECK(t, cov == 0 && isnan(lo) && isnan(hi), "4 values: %f", cov);
	cov = vb_median_interval(v, 5, &lo, &hi);
	CHECK(t, fabs(cov - (1 - 2.0 / 32)) < 1e-12 && lo == 1 && hi == 9,
	      "5 values: %f %f-%f", cov, lo, hi);
	cov = vb_median_interval(v, 9, &lo, &hi);
	/* k = 2: P(B(9, 1/2) < 2) = 10/512 */
	CHECK(t, fabs(cov - (1 - 20.0 / 512)) < 1e-12 && lo == 2 && hi == 8,
	      "9 values: %f %f-%f", cov, lo, hi);

	for (i = 0; i < 7; i++) {
		add_rep(&s, "host", "brd", 32, i + 1, host[i]);
		add_rep(&s, "bio", "brd", 32, i + 1, host[i] * bio[i]);
		add_rep(&s, "kiocb", "brd", 32, i + 1,
			host[i] * bio[i] * kiocb[i]);
	}
	vb_set_cells(&s);
	vb_ratios(&s, r);
	CHECK(t, r[VB_BIO_VS_HOST].paired == 7 &&
	      fabs(r[VB_BIO_VS_HOST].paired_median - 0.98) < 1e-9 &&
	      fabs(r[VB_BIO_VS_HOST].lo - 0.96) < 1e-9 &&
	      fabs(r[VB_BIO_VS_HOST].hi - 1.00) < 1e-9 &&
	      r[VB_BIO_VS_HOST].decision == VB_DECIDED_MET,
	      "bio/host: %u paired, median %f in %f-%f: %s",
	      r[VB_BIO_VS_HOST].paired, r[VB_BIO_VS_HOST].paired_median,
	      r[VB_BIO_VS_HOST].lo, r[VB_BIO_VS_HOST].hi,
	      vb_decision_name(r[VB_BIO_VS_HOST].decision));
	/* 0.86-0.93 holds 0.90 */
	CHECK(t, r[VB_KIOCB_VS_BIO].decision == VB_UNDECIDED,
	      "kiocb/bio %f-%f: %s", r[VB_KIOCB_VS_BIO].lo,
	      r[VB_KIOCB_VS_BIO].hi,
	      vb_decision_name(r[VB_KIOCB_VS_BIO].decision));
	/* The unpaired medians scatter with the drift; the pairs do not. */
	CHECK(t, fabs(r[VB_BIO_VS_HOST].value - 0.98) > 0.005,
	      "bio/host by the medians %f", r[VB_BIO_VS_HOST].value);
	vb_set_free(&s);

	/* kiocb clearly short of bio; a repetition without its bio run
	 * pairs with nothing. */
	for (i = 0; i < 6; i++) {
		add_rep(&s, "kiocb", "null_blk", 32, i + 1, 70000 + 1000 * i);
		if (i != 2)
			add_rep(&s, "bio", "null_blk", 32, i + 1, 100000);
	}
	vb_set_cells(&s);
	vb_ratios(&s, r);
	CHECK(t, r[VB_KIOCB_VS_BIO].paired == 5 &&
	      r[VB_KIOCB_VS_BIO].decision == VB_DECIDED_MISSED &&
	      fabs(r[VB_KIOCB_VS_BIO].hi - 0.75) < 1e-9,
	      "kiocb/bio: %u paired, up to %f: %s", r[VB_KIOCB_VS_BIO].paired,
	      r[VB_KIOCB_VS_BIO].hi,
	      vb_decision_name(r[VB_KIOCB_VS_BIO].decision));
	/* Two pairs of cells: each repetition's geometric mean. An upper
	 * bound goal (latency): 0.5 and 0.8 make 0.632, above 0.6. */
	for (i = 0; i < 5; i++) {
		add_rep(&s, "bio", "brd", 1, i + 1, 10000);
		add_rep(&s, "qsd", "brd", 1, i + 1, 5000);
		add_rep(&s, "bio", "null_blk", 1, i + 1, 10000);
		add_rep(&s, "qsd", "null_blk", 1, i + 1, 8000);
	}
	vb_set_cells(&s);
	vb_ratios(&s, r);
	CHECK(t, r[VB_VHOST_VS_QSD_LAT_QD1].paired == 5 &&
	      fabs(r[VB_VHOST_VS_QSD_LAT_QD1].paired_median - sqrt(0.4)) < 1e-9 &&
	      r[VB_VHOST_VS_QSD_LAT_QD1].decision == VB_DECIDED_MISSED,
	      "latency %f: %s", r[VB_VHOST_VS_QSD_LAT_QD1].paired_median,
	      vb_decision_name(r[VB_VHOST_VS_QSD_LAT_QD1].decision));
	/* Nothing to pair: not measured, not too few. */
	CHECK(t, r[VB_Q2_VS_Q1].decision == VB_UNMEASURED &&
	      !r[VB_Q2_VS_Q1].paired, "q2/q1: %s",
	      vb_decision_name(r[VB_Q2_VS_Q1].decision));
	vb_set_free(&s);
	return 0;
}

/* Each pair alone: a pooled ratio that meets its goal over a pair that
 * misses it. */
static int t_pairs(struct ut *t)
{
	struct vb_ratio r[VB_NRATIOS];
	struct vb_set s = { 0 };
	struct vb_pair *p;
	char *buf = NULL;
	size_t n, len = 0;
	unsigned int i;
	FILE *f;

	for (i = 0; i < 5; i++) {
		add_rep_q(&s, "host", "null_blk", 32, 1, i + 1, 60000 + 100 * i);
		add_rep_q(&s, "bio", "null_blk", 32, 1, i + 1, 90000 + 200 * i);
		add_rep_q(&s, "host", "null_blk", 32, 2, i + 1, 100000 + 100 * i);
		add_rep_q(&s, "bio", "null_blk", 32, 2, i + 1, 80000 + 300 * i);
	}
	vb_set_cells(&s);
	vb_ratios(&s, r);
	CHECK(t, r[VB_BIO_VS_HOST].decision == VB_DECIDED_MET &&
	      r[VB_BIO_VS_HOST].pairs == 2, "pooled bio/host %f: %s",
	      r[VB_BIO_VS_HOST].value,
	      vb_decision_name(r[VB_BIO_VS_HOST].decision));
	p = vb_pairs(&s, &n);
	/* bio/host at 1 and 2 queues; q2/q1 of bio; nothing else pairs */
	CHECK(t, p && n == 3, "%zu pairs", n);
	CHECK(t, p[0].id == VB_BIO_VS_HOST && p[0].num->queues == 1 &&
	      p[0].r.decision == VB_DECIDED_MET &&
	      fabs(p[0].r.value - 1.5) < 0.01 && p[0].r.paired == 5,
	      "1 queue: %f %s", p[0].r.value,
	      vb_decision_name(p[0].r.decision));
	CHECK(t, p[1].id == VB_BIO_VS_HOST && p[1].num->queues == 2 &&
	      p[1].r.decision == VB_DECIDED_MISSED &&
	      fabs(p[1].r.value - 0.8) < 0.01, "2 queues: %f %s",
	      p[1].r.value, vb_decision_name(p[1].r.decision));
	CHECK(t, p[2].id == VB_Q2_VS_Q1 && p[2].num->queues == 2 &&
	      p[2].den->queues == 1 && p[2].r.decision == VB_DECIDED_MISSED,
	      "q2/q1: %s", vb_decision_name(p[2].r.decision));
	f = open_memstream(&buf, &len);
	vb_print_pairs(f, p, n);
	fclose(f);
	CHECK(t, strstr(buf, "| bio_vs_host | null_blk | randread | 32 | 2 | 0.") &&
	      strstr(buf, "| q2_vs_q1 | null_blk | randread | 32 | 2/1 |") &&
	      strstr(buf, "- bio_vs_host: 2 pairs, met 1, MISSED 1, undecided 0\n") &&
	      !strstr(buf, "- kiocb_vs_bio"), "the table:\n%s", buf);
	free(buf);
	free(p);
	vb_set_free(&s);
	return 0;
}

static int t_quiet(struct ut *t)
{
	/* Machine samples every 2 s: other load 50% until t=1010, then 0. */
	static const char samples[] =
		"1002\t50.0\t10\n1004\t50.0\t10\n1006\t50.0\t10\n"
		"1008\t50.0\t10\n1010\t50.0\t10\n1012\t0.0\t90\n"
		"1014\t0.0\t90\n1016\t0.0\t90\n1018\t0.0\t90\n";
	struct vb_ratio r[VB_NRATIOS];
	struct vb_set s = { 0 };
	struct vb_record a;
	const struct vb_cell *c;
	int i;

	/* bio and host, a noisy run each (VM clock 100 s behind), then a
	 * quiet run each. */
	for (i = 0; i < 4; i++) {
		memset(&a, 0, sizeof(a));
		strcpy(a.target, i % 2 ? "host" : "bio");
		strcpy(a.backend, "brd");
		strcpy(a.rw, "randread");
		a.qd = 32;
		a.queues = 1;
		a.rep = 1 + i / 2;
		a.iops = i < 2 ? (i % 2 ? 50000 : 10000) : (i % 2 ? 100000 : 95000);
		a.lat_p50_us = a.cpu_us_per_io = 1;
		a.t0 = 901 + 4 * i;
		a.t1 = a.t0 + 3;
		vb_set_add(&s, &a);
	}
	vb_apply_noise(&s, samples, 2, 100);
	CHECK(t, s.rec[0].noise_pct == 50 && s.rec[1].noise_pct == 50 &&
	      s.rec[2].noise_pct == 25 && s.rec[3].noise_pct == 0,
	      "noise %f %f %f %f", s.rec[0].noise_pct, s.rec[1].noise_pct,
	      s.rec[2].noise_pct, s.rec[3].noise_pct);
	s.rec[2].t0 += 1;	/* now within the quiet samples only */
	vb_apply_noise(&s, samples, 2, 100);
	CHECK(t, s.rec[2].noise_pct == 0, "noise %f", s.rec[2].noise_pct);
	s.quiet_pct = 10;
	vb_set_cells(&s);
	c = vb_find(&s, "bio", "brd", "randread", 32, 1);
	CHECK(t, c && c->quiet == 1 && c->q_iops == 95000 &&
	      c->iops == 52500 && c->noise_pct == 25, "bio cell: %u quiet, %f",
	      c ? c->quiet : 0, c ? c->q_iops : 0);
	vb_ratios(&s, r);
	CHECK(t, r[VB_BIO_VS_HOST].quiet_pairs == 1 &&
	      fabs(r[VB_BIO_VS_HOST].quiet - 0.95) < 1e-9 &&
	      fabs(r[VB_BIO_VS_HOST].value - 52500.0 / 75000) < 1e-9,
	      "bio/host: %f, quiet %f", r[VB_BIO_VS_HOST].value,
	      r[VB_BIO_VS_HOST].quiet);
	vb_set_free(&s);
	return 0;
}

static int t_records_and_json(struct ut *t)
{
	struct vb_record a = { .qd = 32, .queues = 2, .rep = 3, .iops = 12345.6,
			       .lat_p50_us = 25.5, .lat_p99_us = 99.25,
			       .cpu_us_per_io = 7.125, .ios = 37000,
			       .busy_s = 0.26, .t0 = 1700000000.25,
			       .t1 = 1700000003.5 }, b;
	struct vb_ratio r[VB_NRATIOS];
	struct vb_set s = { 0 };
	char line[512], err[256], *buf = NULL;
	size_t len = 0;
	struct json_doc d;
	FILE *f;
	int runs;

	strcpy(a.target, "qsd");
	strcpy(a.backend, "brd");
	strcpy(a.rw, "randwrite");
	f = fmemopen(line, sizeof(line), "w");
	vb_record_print(f, &a);
	fclose(f);
	CHECK(t, !vb_record_parse(line, &b, err, sizeof(err)), "%s", err);
	CHECK(t, !strcmp(b.target, "qsd") && !strcmp(b.rw, "randwrite") &&
	      b.qd == 32 && b.queues == 2 && b.rep == 3 &&
	      fabs(b.iops - 12345.6) < 0.01 && b.lat_p99_us == 99.25 &&
	      b.cpu_us_per_io == 7.125 && b.ios == 37000 &&
	      b.t0 == 1700000000.25 && b.t1 == 1700000003.5 &&
	      b.noise_pct == -1, "round trip of %s", line);
	/* The older 12-column records still read. */
	CHECK(t, !vb_record_parse("bio\tbrd\trandread\t1\t1\t1\t5\t6\t7\t8\t9\t10\n",
				  &b, err, sizeof(err)) && b.busy_s == 10 && !b.t0,
	      "%s", err);
	CHECK(t, vb_record_parse("# a comment\n", &b, err, sizeof(err)) == 1,
	      "comment");
	CHECK(t, vb_record_parse("qsd\tbrd\t32\n", &b, err, sizeof(err)) < 0,
	      "a short line accepted");

	vb_set_add(&s, &a);
	vb_set_cells(&s);
	vb_ratios(&s, r);
	f = open_memstream(&buf, &len);
	vb_write_json(f, "6.12.0-test", "BOOT_IMAGE=x idle=poll", &s, r);
	fclose(f);
	/* The schema of issue #4, read back. */
	CHECK(t, !json_parse(&d, buf, len), "latest.json: %s\n%s", d.err, buf);
	runs = json_get(&d, 0, "runs");
	CHECK(t, d.n[json_get(&d, 0, "kernel")].str_len == 11 &&
	      json_get(&d, 0, "cmdline") >= 0 &&
	      d.n[json_get(&d, 0, "cmdline")].str_len == 22 &&
	      !memcmp(d.n[json_get(&d, 0, "cmdline")].str, "BOOT_IMAGE=x idle=poll", 22) &&
	      json_at(&d, runs, 1) < 0 &&
	      json_num(&d, json_at(&d, runs, 0), "qd", 0) == 32 &&
	      json_num(&d, json_at(&d, runs, 0), "queues", 0) == 2 &&
	      json_num(&d, json_at(&d, runs, 0), "iops", 0) == 12346 &&
	      json_num(&d, json_at(&d, runs, 0), "lat_p50_us", 0) == 25.5 &&
	      json_num(&d, json_at(&d, runs, 0), "lat_p99_us", 0) == 99.25 &&
	      json_num(&d, json_at(&d, runs, 0), "cpu_us_per_io", 0) == 7.125,
	      "runs[0] of\n%s", buf);
	CHECK(t, json_get(&d, json_get(&d, 0, "ratios"), "q2_vs_q1") >= 0 &&
	      d.n[json_path(&d, 0, "ratios/bio_vs_host")].type == JSON_NULL &&
	      json_get(&d, json_get(&d, 0, "ratios"), "cpu_vs_qsd") >= 0,
	      "ratios of\n%s", buf);
	json_free(&d);
	free(buf);
	vb_set_free(&s);
	return 0;
}

/* The reference ratios: their own cells, no goal, and not in the JSON. */
static int t_references(struct ut *t)
{
	struct vb_ratio r[VB_NRATIOS], ref[VB_NREFS];
	struct vb_set s = { 0 };
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	add(&s, "host", "xfs", "randread", 32, 1, 60000, 50, 10);
	add(&s, "kiocb", "xfs", "randread", 32, 1, 54000, 60, 12);
	add(&s, "bio", "xfs", "randread", 32, 1, 100000, 30, 8);
	add(&s, "layout", "xfs", "randread", 32, 1, 96000, 31, 8);
	add(&s, "host", "null_blk", "randread", 32, 1, 60000, 50, 10);
	add(&s, "host", "null_blk", "randread", 32, 2, 90000, 60, 11);
	vb_set_cells(&s);
	vb_references(&s, ref);
	CHECK(t, fabs(ref[VB_REF_XFS_LAYOUT_VS_BDEV_BIO].value - 0.96) < 1e-9 &&
	      fabs(ref[VB_REF_XFS_LAYOUT_VS_HOST].value - 1.6) < 1e-9,
	      "layout on XFS / bio %f, / io_uring %f",
	      ref[VB_REF_XFS_LAYOUT_VS_BDEV_BIO].value,
	      ref[VB_REF_XFS_LAYOUT_VS_HOST].value);
	CHECK(t, fabs(ref[VB_REF_XFS_HOST_VS_BDEV_BIO].value - 0.6) < 1e-9 &&
	      ref[VB_REF_XFS_HOST_VS_BDEV_BIO].pairs == 1,
	      "io_uring on XFS / bio %f", ref[VB_REF_XFS_HOST_VS_BDEV_BIO].value);
	CHECK(t, fabs(ref[VB_REF_XFS_KIOCB_VS_HOST].value - 0.9) < 1e-9,
	      "kiocb / io_uring on XFS %f", ref[VB_REF_XFS_KIOCB_VS_HOST].value);
	/* Only the null_blk pair has 2 jobs. */
	CHECK(t, fabs(ref[VB_REF_HOST_Q2_VS_Q1].value - 1.5) < 1e-9 &&
	      ref[VB_REF_HOST_Q2_VS_Q1].pairs == 1,
	      "io_uring 2 jobs / 1 %f over %u", ref[VB_REF_HOST_Q2_VS_Q1].value,
	      ref[VB_REF_HOST_Q2_VS_Q1].pairs);
	vb_ratios(&s, r);
	CHECK(t, fabs(r[VB_XFS_KIOCB_VS_BDEV_BIO].value - 0.54) < 1e-9,
	      "xfs kiocb / bdev bio %f", r[VB_XFS_KIOCB_VS_BDEV_BIO].value);
	f = open_memstream(&buf, &len);
	vb_write_json(f, "6.12.0-test", "BOOT_IMAGE=x idle=poll", &s, r);
	fclose(f);
	CHECK(t, !strstr(buf, "xfs_host_vs_bdev_bio") &&
	      !strstr(buf, "xfs_layout_vs_bdev_bio") &&
	      !strstr(buf, "host_q2_vs_q1"), "a reference in latest.json:\n%s",
	      buf);
	free(buf);
	vb_set_free(&s);
	return 0;
}

/*
 * Dirty logging's ratios (+log over the same engine without, per rw),
 * and vbench merge: a run of those cells adds the ratios the kept
 * latest.json lacks, not its cells, and changes nothing the latter holds.
 */
static int t_log_merge(struct ut *t)
{
	static const char kept[] =
		"{\n  \"kernel\": \"6.12.0-test\",\n  \"runs\": [\n"
		"    {\"target\": \"bio\", \"backend\": \"null_blk\", \"rw\": \"randread\", \"qd\": 32, \"queues\": 1, \"iops\": 70000, \"lat_p50_us\": 400.50, \"lat_p99_us\": 900.00, \"cpu_us_per_io\": 18.500}\n"
		"  ],\n  \"ratios\": {\n    \"bio_vs_host\": 1.131,\n    \"kiocb_vs_bio\": 1.007\n  }\n}\n";
	static const char other[] = "{\"kernel\": \"6.1\", \"runs\": []}";
	struct vb_ratio r[VB_NRATIOS];
	struct vb_set s = { 0 };
	char *fresh = NULL, *out = NULL, err[256];
	size_t flen = 0, olen = 0;
	FILE *f;
	int ret;

	add(&s, "bio", "null_blk", "randread", 32, 1, 80000, 50, 10);
	add(&s, "bio+log", "null_blk", "randread", 32, 1, 60000, 60, 12);
	add(&s, "bio", "null_blk", "randwrite", 32, 1, 50000, 50, 10);
	add(&s, "bio+log", "null_blk", "randwrite", 32, 1, 45000, 60, 12);
	add(&s, "kiocb", "null_blk", "randread", 32, 1, 70000, 50, 10);
	add(&s, "kiocb+log", "null_blk", "randread", 32, 1, 63000, 60, 12);
	vb_set_cells(&s);
	vb_ratios(&s, r);
	/* sqrt(0.75 * 0.9) over the two rw; kiocb's randwrite is missing */
	CHECK(t, fabs(r[VB_BIO_LOG_VS_BIO].value - sqrt(0.75 * 0.9)) < 1e-9 &&
	      r[VB_BIO_LOG_VS_BIO].pairs == 2 &&
	      vb_ratio_met(&r[VB_BIO_LOG_VS_BIO]),
	      "bio+log / bio %f over %u", r[VB_BIO_LOG_VS_BIO].value,
	      r[VB_BIO_LOG_VS_BIO].pairs);
	CHECK(t, fabs(r[VB_KIOCB_LOG_VS_KIOCB].value - 0.9) < 1e-9 &&
	      r[VB_KIOCB_LOG_VS_KIOCB].pairs == 1,
	      "kiocb+log / kiocb %f", r[VB_KIOCB_LOG_VS_KIOCB].value);
	f = open_memstream(&fresh, &flen);
	vb_write_json(f, "6.12.0-test", "console=ttyS0", &s, r);
	fclose(f);
	f = open_memstream(&out, &olen);
	ret = vb_merge(f, kept, sizeof(kept) - 1, fresh, flen, err,
		       sizeof(err));
	fclose(f);
	CHECK(t, !ret, "merge: %s", err);
	/* kept: its cell (not the new run's bio 80000), no cmdline, and
	 * bio_vs_host (the new run has no host cell); added: the +log
	 * ratios, not their cells, and kiocb_vs_bio, which the kept cells
	 * (no kiocb) do not give */
	CHECK(t, strstr(out, "\"iops\": 70000, \"lat_p50_us\": 400.50") &&
	      !strstr(out, "\"iops\": 80000") &&
	      strstr(out, "\"bio_vs_host\": 1.131") &&
	      strstr(out, "\"kiocb_vs_bio\": 0.875") &&
	      !strstr(out, "cmdline") &&
	      !strstr(out, "bio+log") &&
	      strstr(out, "\"bio_log_vs_bio\": 0.822") &&
	      strstr(out, "\"kiocb_log_vs_kiocb\": 0.900"),
	      "merged:\n%s", out);
	/* merged again from a later run: its log ratios replace the first's */
	free(fresh);
	fresh = NULL;
	r[VB_BIO_LOG_VS_BIO].value = 0.85;
	r[VB_KIOCB_LOG_VS_KIOCB].value = NAN;
	f = open_memstream(&fresh, &flen);
	vb_write_json(f, "6.12.0-test", "console=ttyS0", &s, r);
	fclose(f);
	{
		char *again = NULL;
		size_t alen = 0;

		f = open_memstream(&again, &alen);
		ret = vb_merge(f, out, olen, fresh, flen, err, sizeof(err));
		fclose(f);
		CHECK(t, !ret && strstr(again, "\"bio_log_vs_bio\": 0.850") &&
		      strstr(again, "\"kiocb_log_vs_kiocb\": 0.900") &&
		      strstr(again, "\"bio_vs_host\": 1.131"),
		      "merged again (%s):\n%s", err, again);
		free(again);
	}
	free(out);
	out = NULL;
	f = open_memstream(&out, &olen);
	ret = vb_merge(f, kept, sizeof(kept) - 1, other, sizeof(other) - 1,
		       err, sizeof(err));
	fclose(f);
	CHECK(t, ret && strstr(err, "run the whole matrix"),
	      "another kernel merged: %d %s", ret, err);
	free(out);
	free(fresh);
	vb_set_free(&s);
	return 0;
}

/*
 * The bridge's ratios (#22): vhost-blk-user over the module's engine of
 * choice for the backend (bio on null_blk, kiocb on the XFS image; never
 * bio there), and over qemu-storage-daemon, at QD32 only, paired by
 * repetition; merged into a latest.json without bridge cells.
 */
static int t_bridge(struct ut *t)
{
	static const char kept[] =
		"{\n  \"kernel\": \"6.12.0-test\",\n  \"runs\": [\n"
		"    {\"target\": \"bio\", \"backend\": \"null_blk\", \"rw\": \"randread\", \"qd\": 32, \"queues\": 1, \"iops\": 70000, \"lat_p50_us\": 400.50, \"lat_p99_us\": 900.00, \"cpu_us_per_io\": 18.500},\n"
		"    {\"target\": \"qsd\", \"backend\": \"null_blk\", \"rw\": \"randread\", \"qd\": 32, \"queues\": 1, \"iops\": 30000, \"lat_p50_us\": 900.50, \"lat_p99_us\": 1900.00, \"cpu_us_per_io\": 58.500}\n"
		"  ],\n  \"ratios\": {\n    \"vhost_vs_qsd_iops_qd32\": 2.333\n  }\n}\n";
	struct vb_ratio r[VB_NRATIOS];
	struct vb_set s = { 0 };
	char *fresh = NULL, *out = NULL, err[256];
	size_t flen = 0, olen = 0, n;
	struct vb_pair *p;
	unsigned int i;
	FILE *f;

	for (i = 0; i < 5; i++) {
		/* 0.98 of bio, 2.8x qsd on null_blk; a pair decides alone */
		add_rep_q(&s, "bio", "null_blk", 32, 1, i + 1, 100000 + 1000 * i);
		add_rep_q(&s, "bridge", "null_blk", 32, 1, i + 1, 98000 + 980 * i);
		add_rep_q(&s, "qsd", "null_blk", 32, 1, i + 1, 35000 + 350 * i);
		/* the XFS image: kiocb 50000, bio on the brd under it 90000 */
		add_rep_q(&s, "kiocb", "xfs", 32, 1, i + 1, 50000);
		add_rep_q(&s, "bio", "xfs", 32, 1, i + 1, 90000);
		add_rep_q(&s, "bridge", "xfs", 32, 1, i + 1, 49000);
		add_rep_q(&s, "qsd", "xfs", 32, 1, i + 1, 24500);
		/* QD1: no bridge ratio there */
		add_rep_q(&s, "bio", "null_blk", 1, 1, i + 1, 10000);
		add_rep_q(&s, "bridge", "null_blk", 1, 1, i + 1, 5000);
		add_rep_q(&s, "qsd", "null_blk", 1, 1, i + 1, 5000);
	}
	vb_set_cells(&s);
	vb_ratios(&s, r);
	CHECK(t, !strcmp(r[VB_BRIDGE_VS_DIRECT_IOPS_QD32].name,
			 "bridge_vs_direct_iops_qd32") &&
	      !strcmp(r[VB_BRIDGE_VS_QSD_IOPS_QD32].name,
		      "bridge_vs_qsd_iops_qd32"), "names");
	CHECK(t, r[VB_BRIDGE_VS_DIRECT_IOPS_QD32].pairs == 2 &&
	      fabs(r[VB_BRIDGE_VS_DIRECT_IOPS_QD32].value - 0.98) < 1e-9 &&
	      r[VB_BRIDGE_VS_DIRECT_IOPS_QD32].paired == 5 &&
	      r[VB_BRIDGE_VS_DIRECT_IOPS_QD32].decision == VB_DECIDED_MET &&
	      r[VB_BRIDGE_VS_DIRECT_IOPS_QD32].target == 0.97,
	      "bridge/direct %f over %u pairs, %u paired: %s",
	      r[VB_BRIDGE_VS_DIRECT_IOPS_QD32].value,
	      r[VB_BRIDGE_VS_DIRECT_IOPS_QD32].pairs,
	      r[VB_BRIDGE_VS_DIRECT_IOPS_QD32].paired,
	      vb_decision_name(r[VB_BRIDGE_VS_DIRECT_IOPS_QD32].decision));
	/* 98000/35000 = 2.8 and 49000/24500 = 2 */
	CHECK(t, r[VB_BRIDGE_VS_QSD_IOPS_QD32].pairs == 2 &&
	      fabs(r[VB_BRIDGE_VS_QSD_IOPS_QD32].value - sqrt(2.8 * 2)) < 1e-9 &&
	      fabs(r[VB_BRIDGE_VS_QSD_IOPS_QD32].worst - 2) < 1e-9 &&
	      vb_ratio_met(&r[VB_BRIDGE_VS_QSD_IOPS_QD32]),
	      "bridge/qsd %f over %u, worst %f",
	      r[VB_BRIDGE_VS_QSD_IOPS_QD32].value,
	      r[VB_BRIDGE_VS_QSD_IOPS_QD32].pairs,
	      r[VB_BRIDGE_VS_QSD_IOPS_QD32].worst);
	/* the device's own ratio is not the bridge's */
	CHECK(t, r[VB_VHOST_VS_QSD_IOPS_QD32].pairs == 2 &&
	      fabs(r[VB_VHOST_VS_QSD_IOPS_QD32].value -
		   sqrt(102000.0 / 35700 * 50000 / 24500)) < 1e-9,
	      "vhost/qsd %f", r[VB_VHOST_VS_QSD_IOPS_QD32].value);
	p = vb_pairs(&s, &n);
	for (i = 0; p && i < n && p[i].id != VB_BRIDGE_VS_DIRECT_IOPS_QD32; i++)
		;
	CHECK(t, p && i + 1 < n && !strcmp(p[i].den->target, "bio") &&
	      !strcmp(p[i].den->backend, "null_blk") &&
	      !strcmp(p[i + 1].den->target, "kiocb") &&
	      !strcmp(p[i + 1].den->backend, "xfs") &&
	      p[i].r.decision == VB_DECIDED_MET,
	      "the bridge's pairs: %s on %s, then %s on %s",
	      p && i < n ? p[i].den->target : "-",
	      p && i < n ? p[i].den->backend : "-",
	      p && i + 1 < n ? p[i + 1].den->target : "-",
	      p && i + 1 < n ? p[i + 1].den->backend : "-");
	free(p);

	f = open_memstream(&fresh, &flen);
	vb_write_json(f, "6.12.0-test", "console=ttyS0", &s, r);
	fclose(f);
	CHECK(t, strstr(fresh, "\"bridge_vs_direct_iops_qd32\": 0.980") &&
	      strstr(fresh, "\"target\": \"bridge\""), "written:\n%s", fresh);
	f = open_memstream(&out, &olen);
	CHECK(t, !vb_merge(f, kept, sizeof(kept) - 1, fresh, flen, err,
			   sizeof(err)), "merge: %s", err);
	fclose(f);
	/* added: the bridge's two ratios, not its cells; kept: the kept
	 * cells' own vhost/qsd, not the new run's */
	CHECK(t, strstr(out, "\"bridge_vs_direct_iops_qd32\": 0.980") &&
	      strstr(out, "\"bridge_vs_qsd_iops_qd32\": 2.366") &&
	      strstr(out, "\"vhost_vs_qsd_iops_qd32\": 2.333") &&
	      !strstr(out, "\"target\": \"bridge\""), "merged:\n%s", out);
	free(out);
	free(fresh);
	vb_set_free(&s);
	return 0;
}

const struct ut_case ut_bench_cases[] = {
	{ "bench-json", t_json },
	{ "bench-run", t_run },
	{ "bench-cells", t_cells },
	{ "bench-quiet", t_quiet },
	{ "bench-decide", t_decide },
	{ "bench-pairs", t_pairs },
	{ "bench-records-json", t_records_and_json },
	{ "bench-references", t_references },
	{ "bench-log-merge", t_log_merge },
	{ "bench-bridge", t_bridge },
	{ NULL, NULL },
};
