// SPDX-License-Identifier: GPL-2.0-only
/* Output of the report. */
#include <math.h>
#include <string.h>

#include "out.h"

void vb_print_table(FILE *f, const struct vb_set *s)
{
	size_t i;

	fprintf(f, "| backend | rw | QD | queues | target | IOPS | IOPS min-max | p50 us | p99 us | CPU us/IO | runs | other load %% | quiet runs | quiet IOPS | quiet p50 us | quiet CPU us/IO |\n");
	fprintf(f, "|---|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
	for (i = 0; i < s->ncell; i++) {
		const struct vb_cell *c = &s->cell[i];

		fprintf(f, "| %s | %s | %u | %u | %s | %.0f | %.0f-%.0f | %.1f | %.1f | %.2f | %u |",
			c->backend, c->rw, c->qd, c->queues, c->target, c->iops,
			c->iops_min, c->iops_max, c->lat_p50_us, c->lat_p99_us,
			c->cpu_us_per_io, c->reps);
		if (c->noise_pct >= 0)
			fprintf(f, " %.0f |", c->noise_pct);
		else
			fprintf(f, " - |");
		if (c->quiet)
			fprintf(f, " %u | %.0f | %.1f | %.2f |\n", c->quiet,
				c->q_iops, c->q_lat_p50_us, c->q_cpu_us_per_io);
		else
			fprintf(f, " 0 | - | - | - |\n");
	}
}

/* The paired repetitions' interval of @x, as a table cell. */
static void print_interval(FILE *f, const struct vb_ratio *x)
{
	if (x->coverage > 0)
		fprintf(f, "%u | %.3f-%.3f (%.0f%%) | ", x->paired, x->lo, x->hi,
			100 * x->coverage);
	else
		fprintf(f, "%u | - (%u needed) | ", x->paired, vb_min_paired());
}

/* A table of @n ratios; with @goals, their goals and verdicts too. */
static void print_ratios(FILE *f, const struct vb_ratio *r, int n,
			 bool goals)
{
	int i;

	if (goals)
		fprintf(f, "| ratio | value | goal | pairs | worst pair | verdict | paired runs | interval | decided | quiet runs | what |\n"
			   "|---|---:|---:|---:|---:|---|---:|---|---|---|---|\n");
	else
		fprintf(f, "| reference | value | pairs | paired runs | interval | quiet runs | what |\n"
			   "|---|---:|---:|---:|---|---|---|\n");
	for (i = 0; i < n; i++) {
		const struct vb_ratio *x = &r[i];
		bool none = isnan(x->value);

		fprintf(f, "| %s | ", x->name);
		if (none)
			fprintf(f, "- | ");
		else
			fprintf(f, "%.3f | ", x->value);
		if (goals)
			fprintf(f, "%s %.2f | ", x->at_most ? "<=" : ">=",
				x->target);
		fprintf(f, "%u | ", x->pairs);
		if (goals && none)
			fprintf(f, "- | NOT MEASURED | ");
		else if (goals)
			fprintf(f, "%.3f | %s | ", x->worst,
				vb_ratio_met(x) ? "met" : "MISSED");
		if (none)
			fprintf(f, "- | - | ");
		else
			print_interval(f, x);
		if (goals)
			fprintf(f, "%s | ", vb_decision_name(x->decision));
		if (x->quiet_pairs)
			fprintf(f, "%.3f (%u of %u pairs) | %s |\n", x->quiet,
				x->quiet_pairs, x->pairs, x->what);
		else
			fprintf(f, "- | %s |\n", x->what);
	}
}

void vb_print_ratios(FILE *f, const struct vb_ratio r[VB_NRATIOS])
{
	print_ratios(f, r, VB_NRATIOS, true);
}

void vb_print_references(FILE *f, const struct vb_ratio r[VB_NREFS])
{
	print_ratios(f, r, VB_NREFS, false);
}

void vb_print_pairs(FILE *f, const struct vb_pair *p, size_t n)
{
	unsigned int count[VB_NRATIOS][VB_UNDECIDED + 1] = { { 0 } };
	const char *name[VB_NRATIOS] = { NULL };
	size_t i;
	int id;

	fprintf(f, "| ratio | backend | rw | QD | queues | value | goal | paired runs | interval | decided |\n"
		   "|---|---|---|---:|---:|---:|---:|---:|---|---|\n");
	for (i = 0; i < n; i++) {
		const struct vb_ratio *x = &p[i].r;

		fprintf(f, "| %s | %s | %s | %u | ", x->name, p[i].num->backend,
			p[i].num->rw, p[i].num->qd);
		if (p[i].num->queues == p[i].den->queues)
			fprintf(f, "%u | ", p[i].num->queues);
		else
			fprintf(f, "%u/%u | ", p[i].num->queues,
				p[i].den->queues);
		fprintf(f, "%.3f | %s %.2f | ", x->value,
			x->at_most ? "<=" : ">=", x->target);
		print_interval(f, x);
		fprintf(f, "%s |\n", vb_decision_name(x->decision));
		count[p[i].id][x->decision]++;
		name[p[i].id] = x->name;
	}
	fputc('\n', f);
	for (id = 0; id < VB_NRATIOS; id++) {
		const unsigned int *c = count[id];
		unsigned int all = c[VB_TOO_FEW] + c[VB_DECIDED_MET] +
				   c[VB_DECIDED_MISSED] + c[VB_UNDECIDED];

		if (!name[id])
			continue;
		fprintf(f, "- %s: %u pair%s, met %u, MISSED %u, undecided %u",
			name[id], all,
			all == 1 ? "" : "s", c[VB_DECIDED_MET],
			c[VB_DECIDED_MISSED], c[VB_UNDECIDED]);
		if (c[VB_TOO_FEW])
			fprintf(f, ", too few runs %u", c[VB_TOO_FEW]);
		fputc('\n', f);
	}
}

/* A JSON string of printable ASCII (what a kernel release or command line holds). */
static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		if ((unsigned char)*s >= 0x20 && (unsigned char)*s < 0x7f)
			fputc(*s, f);
	}
	fputc('"', f);
}

static void json_num(FILE *f, double v, int prec)
{
	if (isnan(v) || isinf(v))
		fputs("null", f);
	else
		fprintf(f, "%.*f", prec, v);
}

void vb_write_json(FILE *f, const char *kernel, const char *cmdline,
		   const struct vb_set *s, const struct vb_ratio r[VB_NRATIOS])
{
	size_t i;

	fputs("{\n  \"kernel\": ", f);
	json_str(f, kernel);
	if (cmdline) {
		fputs(",\n  \"cmdline\": ", f);
		json_str(f, cmdline);
	}
	fputs(",\n  \"runs\": [", f);
	for (i = 0; i < s->ncell; i++) {
		const struct vb_cell *c = &s->cell[i];

		fprintf(f, "%s\n    {\"target\": ", i ? "," : "");
		json_str(f, c->target);
		fputs(", \"backend\": ", f);
		json_str(f, c->backend);
		fputs(", \"rw\": ", f);
		json_str(f, c->rw);
		fprintf(f, ", \"qd\": %u, \"queues\": %u, \"iops\": ", c->qd,
			c->queues);
		json_num(f, c->iops, 0);
		fputs(", \"lat_p50_us\": ", f);
		json_num(f, c->lat_p50_us, 2);
		fputs(", \"lat_p99_us\": ", f);
		json_num(f, c->lat_p99_us, 2);
		fputs(", \"cpu_us_per_io\": ", f);
		json_num(f, c->cpu_us_per_io, 3);
		fputc('}', f);
	}
	fputs("\n  ],\n  \"ratios\": {", f);
	for (i = 0; i < VB_NRATIOS; i++) {
		fprintf(f, "%s\n    \"%s\": ", i ? "," : "", r[i].name);
		json_num(f, r[i].value, 3);
	}
	fputs("\n  }\n}\n", f);
}

static const char *const plot_backends[] = { "null_blk", "brd", "xfs" };
static const char *const plot_rws[] = { "randread", "randwrite" };
static const char *const plot_targets[] = { "host", "kiocb", "bio", "layout",
					    "bridge", "qsd" };
#define NR_PLOT_TARGETS	(sizeof(plot_targets) / sizeof(plot_targets[0]))

static int plot_file(const char *dir, const char *name, const struct vb_set *s,
		     unsigned int qd, int what)
{
	char path[4096];
	unsigned int b, w, t;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (!f)
		return -1;
	fprintf(f, "group");
	for (t = 0; t < NR_PLOT_TARGETS; t++)
		fprintf(f, " %s", plot_targets[t]);
	fputc('\n', f);
	for (b = 0; b < 3; b++)
		for (w = 0; w < 2; w++) {
			bool any = false;

			for (t = 0; t < NR_PLOT_TARGETS; t++)
				any |= !!vb_find(s, plot_targets[t], plot_backends[b],
						 plot_rws[w], qd, 1);
			if (!any)
				continue;
			fprintf(f, "%s/%s", plot_backends[b],
				strcmp(plot_rws[w], "randread") ? "write" : "read");
			for (t = 0; t < NR_PLOT_TARGETS; t++) {
				const struct vb_cell *c = vb_find(s, plot_targets[t],
							plot_backends[b], plot_rws[w], qd, 1);
				double v = !c ? NAN : what == 0 ? c->iops / 1000 :
					   what == 1 ? c->lat_p50_us : c->cpu_us_per_io;

				if (isnan(v))
					fprintf(f, " ?");
				else
					fprintf(f, " %.3f", v);
			}
			fputc('\n', f);
		}
	return fclose(f) ? -1 : 0;
}

int vb_write_plot(const char *dir, const struct vb_set *s)
{
	if (plot_file(dir, "iops.dat", s, 32, 0) ||
	    plot_file(dir, "lat.dat", s, 1, 1) ||
	    plot_file(dir, "cpu.dat", s, 32, 2))
		return -1;
	return 0;
}
