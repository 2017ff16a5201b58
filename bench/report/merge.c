// SPDX-License-Identifier: GPL-2.0-only
/*
 * vbench merge: the ratios of a run of a few cells (BENCH_CELLS) added to
 * a latest.json, which keeps its kernel, command line and cells, and every
 * ratio its own cells give; the new run's value replaces the others (a
 * ratio merged from an earlier such run, say) unless it is null. Not the
 * new run's cells: they come from another boot, under other load, and
 * divided by the kept cells they would give figures no run measured (a
 * ratio is of cells of one run, paired by repetition).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "merge.h"
#include "out.h"

static void say(char *err, size_t len, const char *what, const char *msg)
{
	snprintf(err, len, "%s: %s", what, msg);
}

/* The string member @key of object @obj, copied into @dst (@n bytes). */
static int str_of(const struct json_doc *d, int obj, const char *key,
		  char *dst, size_t n)
{
	int i = json_get(d, obj, key);

	if (i < 0 || d->n[i].type != JSON_STRING || d->n[i].str_len >= n)
		return -1;
	memcpy(dst, d->n[i].str, d->n[i].str_len);
	dst[d->n[i].str_len] = 0;
	return 0;
}

static int cell_of(const struct json_doc *d, int run, struct vb_cell *c)
{
	memset(c, 0, sizeof(*c));
	if (str_of(d, run, "target", c->target, VB_NAME) ||
	    str_of(d, run, "backend", c->backend, VB_NAME) ||
	    str_of(d, run, "rw", c->rw, VB_NAME))
		return -1;
	c->qd = (unsigned int)json_num(d, run, "qd", 0);
	c->queues = (unsigned int)json_num(d, run, "queues", 0);
	c->iops = json_num(d, run, "iops", NAN);
	c->lat_p50_us = json_num(d, run, "lat_p50_us", NAN);
	c->lat_p99_us = json_num(d, run, "lat_p99_us", NAN);
	c->cpu_us_per_io = json_num(d, run, "cpu_us_per_io", NAN);
	return c->qd && c->queues ? 0 : -1;
}

static bool same(const struct vb_cell *a, const struct vb_cell *b)
{
	return !strcmp(a->target, b->target) &&
	       !strcmp(a->backend, b->backend) && !strcmp(a->rw, b->rw) &&
	       a->qd == b->qd && a->queues == b->queues;
}

/* Add the runs of @d (not in @s yet) to @s. */
static int add_runs(struct vb_set *s, const struct json_doc *d,
		    const char *what, char *err, size_t len)
{
	int runs = json_get(d, 0, "runs"), i, k;
	struct vb_cell c, *p;
	size_t j;

	if (runs < 0 || d->n[runs].type != JSON_ARRAY)
		return say(err, len, what, "no \"runs\" array"), -1;
	for (i = 0; (k = json_at(d, runs, i)) >= 0; i++) {
		if (cell_of(d, k, &c))
			return say(err, len, what, "a run without target, backend, rw, qd or queues"), -1;
		for (j = 0; j < s->ncell && !same(&s->cell[j], &c); j++)
			;
		if (j < s->ncell)
			continue;
		p = realloc(s->cell, (s->ncell + 1) * sizeof(*p));
		if (!p)
			return say(err, len, what, "out of memory"), -1;
		s->cell = p;
		s->cell[s->ncell++] = c;
	}
	return 0;
}

/* Ratio @name of @d: its value, NAN when absent or null. */
static double ratio_in(const struct json_doc *d, const char *name)
{
	int r = json_get(d, 0, "ratios");

	return r < 0 ? NAN : json_num(d, r, name, NAN);
}

int vb_merge(FILE *out, const char *old_text, size_t old_len,
	     const char *new_text, size_t new_len, char *err, size_t len)
{
	struct json_doc o = { 0 }, n = { 0 };
	char kernel[128], new_kernel[128], cmdline[4096];
	struct vb_ratio r[VB_NRATIOS];
	struct vb_set s = { 0 };
	bool has_cmdline;
	int ret = -1, i;

	if (json_parse(&o, old_text, old_len)) {
		say(err, len, "the latest.json to keep", o.err);
		goto out;
	}
	if (json_parse(&n, new_text, new_len)) {
		say(err, len, "the new run's latest.json", n.err);
		goto out;
	}
	if (str_of(&o, 0, "kernel", kernel, sizeof(kernel)) ||
	    str_of(&n, 0, "kernel", new_kernel, sizeof(new_kernel))) {
		snprintf(err, len, "a latest.json without \"kernel\"");
		goto out;
	}
	if (strcmp(kernel, new_kernel)) {
		snprintf(err, len, "the new run's kernel (%s) is not latest.json's (%s): run the whole matrix instead of merging",
			 new_kernel, kernel);
		goto out;
	}
	has_cmdline = !str_of(&o, 0, "cmdline", cmdline, sizeof(cmdline));
	if (add_runs(&s, &o, "the latest.json to keep", err, len))
		goto out;
	vb_ratios(&s, r);	/* which ratios the kept cells give */
	for (i = 0; i < VB_NRATIOS; i++) {
		double kept = ratio_in(&o, r[i].name);
		double fresh = ratio_in(&n, r[i].name);

		r[i].value = r[i].pairs || isnan(fresh) ? kept : fresh;
	}
	vb_write_json(out, kernel, has_cmdline ? cmdline : NULL, &s, r);
	ret = 0;
out:
	free(s.cell);
	json_free(&o);
	json_free(&n);
	return ret;
}
