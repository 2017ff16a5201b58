// SPDX-License-Identifier: GPL-2.0-only
/* Records, cells and ratios. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cells.h"

void vb_record_print(FILE *f, const struct vb_record *r)
{
	fprintf(f, "%s\t%s\t%s\t%u\t%u\t%u\t%.1f\t%.2f\t%.2f\t%.3f\t%.0f\t%.3f\t%.3f\t%.3f\n",
		r->target, r->backend, r->rw, r->qd, r->queues, r->rep,
		r->iops, r->lat_p50_us, r->lat_p99_us, r->cpu_us_per_io,
		r->ios, r->busy_s, r->t0, r->t1);
}

static int copy_name(char *dst, const char *src, size_t n)
{
	if (!n || n >= VB_NAME)
		return -1;
	memcpy(dst, src, n);
	dst[n] = 0;
	return 0;
}

int vb_record_parse(const char *line, struct vb_record *r, char *err,
		    size_t len)
{
	const char *p = line;
	char *end;
	double v[11] = { 0 };
	size_t n;
	int i;

	memset(r, 0, sizeof(*r));
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '#' || *p == '\n' || !*p)
		return 1;
	for (i = 0; i < 3; i++) {
		char *dst = i == 0 ? r->target : i == 1 ? r->backend : r->rw;

		n = strcspn(p, "\t\n");
		if (copy_name(dst, p, n) || p[n] != '\t')
			goto bad;
		p += n + 1;
	}
	/* 9 numbers, or 11 with the time window */
	for (i = 0; i < 11; i++) {
		v[i] = strtod(p, &end);
		if (end == p)
			goto bad;
		if (*end != '\t') {
			if (i != 8 && i != 10)
				goto bad;
			break;
		}
		p = end + 1;
	}
	r->qd = (unsigned int)v[0];
	r->queues = (unsigned int)v[1];
	r->rep = (unsigned int)v[2];
	r->iops = v[3];
	r->lat_p50_us = v[4];
	r->lat_p99_us = v[5];
	r->cpu_us_per_io = v[6];
	r->ios = v[7];
	r->busy_s = v[8];
	r->t0 = v[9];
	r->t1 = v[10];
	r->noise_pct = -1;
	if (!r->qd || !r->queues)
		goto bad;
	return 0;
bad:
	snprintf(err, len,
		 "not a record (target, backend, rw, qd, queues, rep, iops, p50, p99, cpu/io, ios, busy s[, t0, t1]; tab-separated): %.80s",
		 line);
	return -1;
}

int vb_set_add(struct vb_set *s, const struct vb_record *r)
{
	if (s->nrec == s->caprec) {
		size_t cap = s->caprec ? 2 * s->caprec : 64;
		struct vb_record *n = realloc(s->rec, cap * sizeof(*n));

		if (!n)
			return -1;
		s->rec = n;
		s->caprec = cap;
	}
	s->rec[s->nrec++] = *r;
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

double vb_median(double *v, size_t n)
{
	if (!n)
		return NAN;
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static bool same_cell(const struct vb_cell *c, const struct vb_record *r)
{
	return !strcmp(c->target, r->target) &&
	       !strcmp(c->backend, r->backend) && !strcmp(c->rw, r->rw) &&
	       c->qd == r->qd && c->queues == r->queues;
}

static int rank(const char *name, const char *const *order)
{
	int i;

	for (i = 0; order[i]; i++)
		if (!strcmp(name, order[i]))
			return i;
	return i;
}

static const char *const backends[] = { "null_blk", "brd", "xfs", NULL };
static const char *const targets[] = { "host", "kiocb", "kiocb+log", "bio",
				       "bio+log", "layout", "bridge", "qsd",
				       NULL };
static const char *const rws[] = { "randread", "randwrite", NULL };

static int cmp_cell(const void *a, const void *b)
{
	const struct vb_cell *x = a, *y = b;
	int d;

	if ((d = rank(x->backend, backends) - rank(y->backend, backends)) ||
	    (d = strcmp(x->backend, y->backend)) ||
	    (d = rank(x->rw, rws) - rank(y->rw, rws)) ||
	    (d = strcmp(x->rw, y->rw)) ||
	    (d = (int)x->qd - (int)y->qd) ||
	    (d = (int)x->queues - (int)y->queues) ||
	    (d = rank(x->target, targets) - rank(y->target, targets)))
		return d;
	return strcmp(x->target, y->target);
}

static bool quiet(const struct vb_set *s, const struct vb_record *r)
{
	return s->quiet_pct > 0 && r->noise_pct >= 0 &&
	       r->noise_pct <= s->quiet_pct;
}

int vb_set_cells(struct vb_set *s)
{
	double v[4][VB_MAX_REPS], q[4][VB_MAX_REPS], noise[VB_MAX_REPS];
	size_t i, j;

	free(s->cell);
	s->ncell = 0;
	s->cell = calloc(s->nrec ? s->nrec : 1, sizeof(*s->cell));
	if (!s->cell)
		return -1;
	for (i = 0; i < s->nrec; i++) {
		const struct vb_record *r = &s->rec[i];
		struct vb_cell *c;
		unsigned int n = 0, nq = 0, nn = 0;

		for (j = 0; j < s->ncell; j++)
			if (same_cell(&s->cell[j], r))
				break;
		if (j < s->ncell)
			continue;	/* done with its first record */
		c = &s->cell[s->ncell++];
		strcpy(c->target, r->target);
		strcpy(c->backend, r->backend);
		strcpy(c->rw, r->rw);
		c->qd = r->qd;
		c->queues = r->queues;
		c->iops_min = INFINITY;
		c->iops_max = 0;
		for (j = i; j < s->nrec && n < VB_MAX_REPS; j++) {
			const struct vb_record *o = &s->rec[j];

			if (!same_cell(c, o))
				continue;
			v[0][n] = o->iops;
			v[1][n] = o->lat_p50_us;
			v[2][n] = o->lat_p99_us;
			v[3][n] = o->cpu_us_per_io;
			c->iops_min = fmin(c->iops_min, o->iops);
			c->iops_max = fmax(c->iops_max, o->iops);
			if (o->noise_pct >= 0)
				noise[nn++] = o->noise_pct;
			if (quiet(s, o)) {
				q[0][nq] = o->iops;
				q[1][nq] = o->lat_p50_us;
				q[2][nq] = o->lat_p99_us;
				q[3][nq] = o->cpu_us_per_io;
				nq++;
			}
			n++;
		}
		c->noise_pct = nn ? vb_median(noise, nn) : -1;
		c->quiet = nq;
		c->q_iops = vb_median(q[0], nq);
		c->q_lat_p50_us = vb_median(q[1], nq);
		c->q_lat_p99_us = vb_median(q[2], nq);
		c->q_cpu_us_per_io = vb_median(q[3], nq);
		c->reps = n;
		c->iops = vb_median(v[0], n);
		c->lat_p50_us = vb_median(v[1], n);
		c->lat_p99_us = vb_median(v[2], n);
		c->cpu_us_per_io = vb_median(v[3], n);
	}
	qsort(s->cell, s->ncell, sizeof(*s->cell), cmp_cell);
	return 0;
}

void vb_set_free(struct vb_set *s)
{
	free(s->rec);
	free(s->cell);
	memset(s, 0, sizeof(*s));
}

const struct vb_cell *vb_find(const struct vb_set *s, const char *target,
			      const char *backend, const char *rw,
			      unsigned int qd, unsigned int queues)
{
	size_t i;

	for (i = 0; i < s->ncell; i++) {
		const struct vb_cell *c = &s->cell[i];

		if (!strcmp(c->target, target) && !strcmp(c->backend, backend) &&
		    !strcmp(c->rw, rw) && c->qd == qd && c->queues == queues)
			return c;
	}
	return NULL;
}

const char *vb_vhost_target(const char *backend)
{
	return strcmp(backend, "xfs") ? "bio" : "kiocb";
}

enum metric { M_IOPS, M_P50, M_CPU };

/* Which cells a ratio divides: numerator over denominator, paired by
 * backend, rw, qd and (unless given) queues. "vhost" is the module's
 * engine of choice for the backend. */
struct rule {
	const char *name, *what;
	double target;
	bool at_most;
	const char *num, *den;
	const char *backends;	/* comma-separated; NULL: all */
	unsigned int qd;	/* 0: any */
	unsigned int num_queues, den_queues;	/* 0: any, the same */
	enum metric m;
};

/* The goals are those of issue #4, of #20 for dirty logging and of #22
 * for the vhost-user bridge (vhost-blk-user: the module's engine of choice
 * for the backend, as the vhost target it is paired with). */
static const struct rule rules[VB_NRATIOS] = {
	[VB_BIO_VS_HOST] = { "bio_vs_host",
		"bio engine IOPS / io_uring on the backend itself, QD32",
		0.95, false, "bio", "host", "null_blk,brd", 32, 0, 0, M_IOPS },
	[VB_KIOCB_VS_BIO] = { "kiocb_vs_bio",
		"kiocb engine IOPS / bio engine on the same block device, QD32",
		0.90, false, "kiocb", "bio", "null_blk,brd", 32, 0, 0, M_IOPS },
	[VB_XFS_KIOCB_VS_BDEV_BIO] = { "xfs_kiocb_vs_bdev_bio",
		"kiocb on the raw image on XFS / bio on the brd under it, QD32",
		0.90, false, "kiocb", "bio", "xfs", 32, 0, 0, M_IOPS },
	[VB_VHOST_VS_QSD_IOPS_QD32] = { "vhost_vs_qsd_iops_qd32",
		"vhost-blk IOPS / qemu-storage-daemon, QD32",
		2.0, false, "vhost", "qsd", NULL, 32, 0, 0, M_IOPS },
	[VB_VHOST_VS_QSD_LAT_QD1] = { "vhost_vs_qsd_lat_qd1",
		"vhost-blk p50 latency / qemu-storage-daemon, QD1",
		0.6, true, "vhost", "qsd", NULL, 1, 0, 0, M_P50 },
	[VB_CPU_VS_QSD] = { "cpu_vs_qsd",
		"vhost-blk CPU per I/O / qemu-storage-daemon, every cell",
		0.5, true, "vhost", "qsd", NULL, 0, 0, 0, M_CPU },
	[VB_Q2_VS_Q1] = { "q2_vs_q1",
		"vhost-blk IOPS with 2 queues / 1 queue, QD32",
		1.8, false, "vhost", "vhost", NULL, 32, 2, 1, M_IOPS },
	[VB_BIO_LOG_VS_BIO] = { "bio_log_vs_bio",
		"bio engine IOPS with dirty logging on / off, QD32",
		0.8, false, "bio+log", "bio", NULL, 32, 0, 0, M_IOPS },
	[VB_KIOCB_LOG_VS_KIOCB] = { "kiocb_log_vs_kiocb",
		"kiocb engine IOPS with dirty logging on / off, QD32",
		0.8, false, "kiocb+log", "kiocb", NULL, 32, 0, 0, M_IOPS },
	[VB_BRIDGE_VS_DIRECT_IOPS_QD32] = { "bridge_vs_direct_iops_qd32",
		"vhost-blk-user (vhost-user) IOPS / /dev/vhost-blk directly, same engine, QD32",
		0.97, false, "bridge", "vhost", NULL, 32, 0, 0, M_IOPS },
	[VB_BRIDGE_VS_QSD_IOPS_QD32] = { "bridge_vs_qsd_iops_qd32",
		"vhost-blk-user IOPS / qemu-storage-daemon, QD32",
		2.0, false, "bridge", "qsd", NULL, 32, 0, 0, M_IOPS },
};

static const struct rule refs[VB_NREFS] = {
	[VB_REF_XFS_HOST_VS_BDEV_BIO] = { "xfs_host_vs_bdev_bio",
		"io_uring on the raw image on XFS / bio on the brd under it, QD32",
		NAN, false, "host", "bio", "xfs", 32, 0, 0, M_IOPS },
	[VB_REF_XFS_KIOCB_VS_HOST] = { "xfs_kiocb_vs_host",
		"kiocb / io_uring on the same raw image on XFS, QD32",
		NAN, false, "kiocb", "host", "xfs", 32, 0, 0, M_IOPS },
	[VB_REF_XFS_LAYOUT_VS_BDEV_BIO] = { "xfs_layout_vs_bdev_bio",
		"bio engine on the raw image on XFS (its block layout) / bio on the brd under it, QD32",
		NAN, false, "layout", "bio", "xfs", 32, 0, 0, M_IOPS },
	[VB_REF_XFS_LAYOUT_VS_HOST] = { "xfs_layout_vs_host",
		"bio engine on the raw image on XFS / io_uring on the same image, QD32",
		NAN, false, "layout", "host", "xfs", 32, 0, 0, M_IOPS },
	[VB_REF_HOST_Q2_VS_Q1] = { "host_q2_vs_q1",
		"io_uring IOPS with 2 jobs / 1 job, QD32",
		NAN, false, "host", "host", NULL, 32, 2, 1, M_IOPS },
};

static bool listed(const char *list, const char *name)
{
	size_t n = strlen(name);
	const char *p = list;

	if (!list)
		return true;
	while ((p = strstr(p, name))) {
		if ((p == list || p[-1] == ',') && (p[n] == ',' || !p[n]))
			return true;
		p += n;
	}
	return false;
}

static double metric(const struct vb_cell *c, enum metric m, bool q)
{
	if (q)
		return !c->quiet ? NAN : m == M_IOPS ? c->q_iops :
		       m == M_P50 ? c->q_lat_p50_us : c->q_cpu_us_per_io;
	return m == M_IOPS ? c->iops : m == M_P50 ? c->lat_p50_us :
						    c->cpu_us_per_io;
}

static double rec_metric(const struct vb_record *r, enum metric m)
{
	return m == M_IOPS ? r->iops : m == M_P50 ? r->lat_p50_us :
						    r->cpu_us_per_io;
}

/* The record of repetition @rep of cell @c, or NULL. */
static const struct vb_record *rep_record(const struct vb_set *s,
					  const struct vb_cell *c,
					  unsigned int rep)
{
	size_t i;

	for (i = 0; i < s->nrec; i++)
		if (s->rec[i].rep == rep && same_cell(c, &s->rec[i]))
			return &s->rec[i];
	return NULL;
}

static double binom_cdf(unsigned int n, unsigned int k)
{
	double c = 1, sum = 0;
	unsigned int i;

	for (i = 0; i <= k && i <= n; i++) {
		sum += c;
		c = c * (n - i) / (i + 1);
	}
	return sum / pow(2, n);
}

double vb_median_interval(double *v, size_t n, double *lo, double *hi)
{
	unsigned int k = 0;

	*lo = *hi = NAN;
	vb_median(v, n);	/* sorts */
	while (k + 1 <= n / 2 && binom_cdf(n, k) <= VB_ALPHA)
		k++;
	if (!k)
		return 0;
	*lo = v[k - 1];
	*hi = v[n - k];
	return 1 - 2 * binom_cdf(n, k - 1);
}

unsigned int vb_min_paired(void)
{
	double lo, hi, v[VB_MAX_REPS] = { 0 };
	unsigned int n;

	for (n = 1; n < VB_MAX_REPS; n++)
		if (vb_median_interval(v, n, &lo, &hi) > 0)
			break;
	return n;
}

const char *vb_decision_name(enum vb_decision d)
{
	switch (d) {
	case VB_DECIDED_MET:
		return "met";
	case VB_DECIDED_MISSED:
		return "MISSED";
	case VB_UNDECIDED:
		return "undecided";
	case VB_TOO_FEW:
		return "too few runs";
	default:
		return "-";
	}
}

/* The paired ratios of repetitions that have a run of each of the
 * @npairs pairs of cells (@num[i] over @den[i]), and their verdict. */
static void decide(const struct vb_set *s, const struct rule *u,
		   const struct vb_cell **num, const struct vb_cell **den,
		   size_t npairs, struct vb_ratio *out)
{
	double v[VB_MAX_REPS];
	unsigned int n = 0;
	size_t i, j;

	out->paired = 0;
	out->paired_median = out->lo = out->hi = NAN;
	out->coverage = 0;
	out->decision = VB_UNMEASURED;
	if (!npairs)
		return;
	for (i = 0; i < s->nrec && n < VB_MAX_REPS; i++) {
		unsigned int rep = s->rec[i].rep;
		double logsum = 0;

		/* each repetition once: at the first record of num[0] */
		if (!same_cell(num[0], &s->rec[i]) ||
		    rep_record(s, num[0], rep) != &s->rec[i])
			continue;
		for (j = 0; j < npairs; j++) {
			const struct vb_record *a = rep_record(s, num[j], rep);
			const struct vb_record *b = rep_record(s, den[j], rep);

			if (!a || !b || !(rec_metric(a, u->m) > 0) ||
			    !(rec_metric(b, u->m) > 0))
				break;
			logsum += log(rec_metric(a, u->m) / rec_metric(b, u->m));
		}
		if (j == npairs)
			v[n++] = exp(logsum / npairs);
	}
	out->paired = n;
	out->coverage = vb_median_interval(v, n, &out->lo, &out->hi);
	out->paired_median = vb_median(v, n);
	if (isnan(u->target))
		return;		/* a reference: nothing to decide */
	if (!out->coverage)
		out->decision = VB_TOO_FEW;
	else if (u->at_most ? out->hi <= u->target : out->lo >= u->target)
		out->decision = VB_DECIDED_MET;
	else if (u->at_most ? out->lo > u->target : out->hi < u->target)
		out->decision = VB_DECIDED_MISSED;
	else
		out->decision = VB_UNDECIDED;
}

/* The pairs of cells rule @u divides: @num[i] over @den[i] (each with room
 * for s->ncell entries). Returns how many. */
static size_t pair_cells(const struct vb_set *s, const struct rule *u,
			 const struct vb_cell **num, const struct vb_cell **den)
{
	size_t i, n = 0;

	for (i = 0; i < s->ncell; i++) {
		const struct vb_cell *a = &s->cell[i], *b;
		const char *nt = strcmp(u->num, "vhost") ? u->num :
				 vb_vhost_target(a->backend);
		const char *dt = strcmp(u->den, "vhost") ? u->den :
				 vb_vhost_target(a->backend);

		if (strcmp(a->target, nt) || !listed(u->backends, a->backend) ||
		    (u->qd && a->qd != u->qd) ||
		    (u->num_queues && a->queues != u->num_queues))
			continue;
		b = vb_find(s, dt, a->backend, a->rw, a->qd,
			    u->den_queues ? u->den_queues : a->queues);
		if (!b || b == a || !(metric(a, u->m, false) > 0) ||
		    !(metric(b, u->m, false) > 0))
			continue;
		num[n] = a;
		den[n] = b;
		n++;
	}
	return n;
}

/* Ratio @u over the @npairs pairs @num[i] / @den[i]. */
static void ratio_of(const struct vb_set *s, const struct rule *u,
		     const struct vb_cell **num, const struct vb_cell **den,
		     size_t npairs, struct vb_ratio *out)
{
	double logsum = 0, qsum = 0;
	size_t i;

	out->name = u->name;
	out->what = u->what;
	out->target = u->target;
	out->at_most = u->at_most;
	out->pairs = npairs;
	out->value = NAN;
	out->worst = NAN;
	out->quiet = NAN;
	out->quiet_pairs = 0;
	for (i = 0; i < npairs; i++) {
		const struct vb_cell *a = num[i], *b = den[i];
		double r = metric(a, u->m, false) / metric(b, u->m, false);

		logsum += log(r);
		if (metric(a, u->m, true) > 0 && metric(b, u->m, true) > 0) {
			qsum += log(metric(a, u->m, true) / metric(b, u->m, true));
			out->quiet_pairs++;
		}
		if (isnan(out->worst) ||
		    (u->at_most ? r > out->worst : r < out->worst))
			out->worst = r;
	}
	if (npairs == 1)
		out->value = out->worst;	/* exactly, not through log/exp */
	else if (npairs)
		out->value = exp(logsum / npairs);
	if (out->quiet_pairs)
		out->quiet = exp(qsum / out->quiet_pairs);
	decide(s, u, num, den, npairs, out);
}

static void one_ratio(const struct vb_set *s, const struct rule *u,
		      struct vb_ratio *out)
{
	const struct vb_cell **num, **den;

	num = calloc(s->ncell + 1, sizeof(*num));
	den = calloc(s->ncell + 1, sizeof(*den));
	ratio_of(s, u, num, den, num && den ? pair_cells(s, u, num, den) : 0,
		 out);
	free(num);
	free(den);
}

void vb_ratios(const struct vb_set *s, struct vb_ratio out[VB_NRATIOS])
{
	int i;

	for (i = 0; i < VB_NRATIOS; i++)
		one_ratio(s, &rules[i], &out[i]);
}

void vb_references(const struct vb_set *s, struct vb_ratio out[VB_NREFS])
{
	int i;

	for (i = 0; i < VB_NREFS; i++)
		one_ratio(s, &refs[i], &out[i]);
}

struct vb_pair *vb_pairs(const struct vb_set *s, size_t *n)
{
	const struct vb_cell **num = calloc(s->ncell + 1, sizeof(*num));
	const struct vb_cell **den = calloc(s->ncell + 1, sizeof(*den));
	struct vb_pair *p = NULL, *q;
	bool ok = num && den;
	size_t cap = 0, i, k;
	int id;

	*n = 0;
	for (id = 0; ok && id < VB_NRATIOS; id++) {
		k = pair_cells(s, &rules[id], num, den);
		for (i = 0; ok && i < k; i++) {
			if (*n == cap) {
				cap = cap ? 2 * cap : 16;
				q = realloc(p, cap * sizeof(*p));
				ok = q;
				if (!q)
					break;
				p = q;
			}
			p[*n].id = id;
			p[*n].num = num[i];
			p[*n].den = den[i];
			ratio_of(s, &rules[id], num + i, den + i, 1, &p[*n].r);
			(*n)++;
		}
	}
	free(num);
	free(den);
	if (!ok) {
		free(p);
		*n = 0;
		return NULL;
	}
	return p ? p : calloc(1, sizeof(*p));
}

bool vb_ratio_met(const struct vb_ratio *r)
{
	if (isnan(r->value))
		return false;
	return r->at_most ? r->value <= r->target : r->value >= r->target;
}
