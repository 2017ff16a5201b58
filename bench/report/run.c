// SPDX-License-Identifier: GPL-2.0-only
/* Numbers of one run. */
#include <stdio.h>
#include <string.h>

#include "run.h"
#include "json.h"

int vb_stat_parse(const char *text, struct vb_cpu *c, char *err, size_t len)
{
	unsigned long long v[8] = { 0 };
	int n;

	n = sscanf(text, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0],
		   &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
	if (n < 7) {
		snprintf(err, len, "not a /proc/stat cpu line: %.60s", text);
		return -1;
	}
	/* guest time is counted in user already */
	c->busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
	c->total = c->busy + v[3] + v[4];
	c->time = 0;
	text = strstr(text, "\ntime ");
	if (text && sscanf(text + 6, "%lf", &c->time) != 1)
		c->time = 0;
	return 0;
}

static const char *const dirs[] = { "read", "write", "trim" };

int vb_fio_extract(const char *json, size_t len, struct vb_record *r,
		   char *err, size_t elen)
{
	struct json_doc d;
	double most = -1;
	int jobs, job, i;

	if (json_parse(&d, json, len)) {
		snprintf(err, elen, "fio output: %s", d.err);
		json_free(&d);
		return -1;
	}
	jobs = json_get(&d, 0, "jobs");
	job = json_at(&d, jobs, 0);
	if (job < 0 || json_at(&d, jobs, 1) >= 0) {
		snprintf(err, elen, "fio output: %s (run fio with group_reporting=1)",
			 job < 0 ? "no job" : "more than one job group");
		json_free(&d);
		return -1;
	}
	if (json_num(&d, job, "error", 0)) {
		snprintf(err, elen, "fio reports error %.0f for the job",
			 json_num(&d, job, "error", 0));
		json_free(&d);
		return -1;
	}
	r->iops = 0;
	r->ios = 0;
	for (i = 0; i < 3; i++) {
		int dir = json_get(&d, job, dirs[i]);
		double ios = json_num(&d, dir, "total_ios", 0);

		r->iops += json_num(&d, dir, "iops", 0);
		r->ios += ios;
		/* Latency of the direction that did the I/O: fio's total
		 * latency (lat_percentiles=1), else its clat. */
		if (ios > most) {
			const char *l = json_path(&d, dir, "lat_ns/percentile") >= 0 ?
					"lat_ns" : "clat_ns";
			char p50[64], p99[64];

			most = ios;
			snprintf(p50, sizeof(p50), "%s/percentile/50.000000", l);
			snprintf(p99, sizeof(p99), "%s/percentile/99.000000", l);
			r->lat_p50_us = json_num(&d, dir, p50, -1000) / 1000;
			r->lat_p99_us = json_num(&d, dir, p99, -1000) / 1000;
		}
	}
	json_free(&d);
	if (!(r->ios > 0) || r->lat_p50_us < 0 || r->lat_p99_us < 0) {
		snprintf(err, elen, "fio output has %s",
			 r->ios > 0 ? "no latency percentiles 50 and 99 (percentile_list changed?)" :
				      "no completed I/O");
		return -1;
	}
	return 0;
}

int vb_cpu_per_io(struct vb_record *r, const struct vb_cpu *before,
		  const struct vb_cpu *after, long hz, char *err, size_t len)
{
	if (after->busy < before->busy || after->total <= before->total ||
	    hz <= 0 || !(r->ios > 0)) {
		snprintf(err, len, "CPU samples: busy %llu -> %llu, total %llu -> %llu ticks, %.0f I/Os",
			 before->busy, after->busy, before->total, after->total,
			 r->ios);
		return -1;
	}
	r->busy_s = (double)(after->busy - before->busy) / (double)hz;
	r->cpu_us_per_io = r->busy_s * 1e6 / r->ios;
	r->t0 = before->time;
	r->t1 = after->time;
	return 0;
}

void vb_apply_noise(struct vb_set *s, const char *samples, double step,
		    double offset)
{
	size_t i;

	for (i = 0; i < s->nrec; i++) {
		struct vb_record *r = &s->rec[i];
		const char *p = samples;
		double sum = 0, t, pct;
		unsigned int n = 0;

		r->noise_pct = -1;
		if (!(r->t1 > r->t0))
			continue;
		while (p && *p) {
			/* a sample at t covers (t - step, t] */
			if (sscanf(p, "%lf %lf", &t, &pct) == 2 &&
			    t > r->t0 + offset && t - step < r->t1 + offset) {
				sum += pct;
				n++;
			}
			p = strchr(p, '\n');
			if (p)
				p++;
		}
		if (n)
			r->noise_pct = sum / n;
	}
}
