/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Benchmark results: one *record* per fio run, one *cell* per
 * (target, backend, rw, qd, queues) with the medians of its records, and
 * the ratios of issue #4 computed from the cells.
 */
#ifndef VB_CELLS_H
#define VB_CELLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define VB_NAME		16
#define VB_MAX_REPS	64

/* The measurement of one fio run. */
struct vb_record {
	char target[VB_NAME];	/* host, kiocb, bio, layout, qsd, bridge; +log */
	char backend[VB_NAME];	/* null_blk, brd, xfs */
	char rw[VB_NAME];	/* randread, randwrite */
	unsigned int qd;
	unsigned int queues;
	unsigned int rep;
	double iops;
	double lat_p50_us;	/* completion latency */
	double lat_p99_us;
	double cpu_us_per_io;	/* busy CPU time of the whole machine */
	double ios;		/* completed I/Os */
	double busy_s;		/* busy CPU seconds during the run */
	double t0, t1;		/* the run's window, epoch seconds (0: unknown) */
	double noise_pct;	/* other load on the machine then; -1: unknown */
};

struct vb_cell {
	char target[VB_NAME];
	char backend[VB_NAME];
	char rw[VB_NAME];
	unsigned int qd;
	unsigned int queues;
	unsigned int reps;
	double iops, lat_p50_us, lat_p99_us, cpu_us_per_io;	/* medians */
	double iops_min, iops_max;	/* spread of the repetitions */
	double noise_pct;		/* median; -1: unknown */
	/* The same medians over the quiet runs only (quiet: 0 when none). */
	unsigned int quiet;
	double q_iops, q_lat_p50_us, q_lat_p99_us, q_cpu_us_per_io;
};

struct vb_set {
	struct vb_record *rec;
	size_t nrec, caprec;
	struct vb_cell *cell;
	size_t ncell;
	/* Runs with noise_pct at most this are quiet; 0: none is. */
	double quiet_pct;
};

/* One tab-separated line: the record format of vbench record/report
 * (target backend rw qd queues rep iops p50 p99 cpu ios busy t0 t1). */
void vb_record_print(FILE *f, const struct vb_record *r);
/* Parse such a line: 0, or -1 (with @err). '#' lines: 1 (skip). */
int vb_record_parse(const char *line, struct vb_record *r, char *err,
		    size_t len);
int vb_set_add(struct vb_set *s, const struct vb_record *r);
/* Group the records into cells (medians), sorted for the table. */
int vb_set_cells(struct vb_set *s);
void vb_set_free(struct vb_set *s);
const struct vb_cell *vb_find(const struct vb_set *s, const char *target,
			      const char *backend, const char *rw,
			      unsigned int qd, unsigned int queues);
double vb_median(double *v, size_t n);

/* The ratios of issue #4, then those of dirty logging (#20), then those
 * of the vhost-user bridge (#22). */
enum vb_ratio_id {
	VB_BIO_VS_HOST,
	VB_KIOCB_VS_BIO,
	VB_XFS_KIOCB_VS_BDEV_BIO,
	VB_VHOST_VS_QSD_IOPS_QD32,
	VB_VHOST_VS_QSD_LAT_QD1,
	VB_CPU_VS_QSD,
	VB_Q2_VS_Q1,
	VB_BIO_LOG_VS_BIO,	/* live migration's dirty log: on / off */
	VB_KIOCB_LOG_VS_KIOCB,
	VB_BRIDGE_VS_DIRECT_IOPS_QD32,	/* vhost-blk-user (#22) / the device */
	VB_BRIDGE_VS_QSD_IOPS_QD32,	/* vhost-blk-user / qemu-storage-daemon */
	VB_NRATIOS,
};

/*
 * What the repetitions decide about a goal. Each repetition runs the
 * targets of a cell back to back, so one repetition's numerator over the
 * same repetition's denominator (a *paired* ratio; the geometric mean
 * over the ratio's pairs of cells) leaves out what drifts between
 * repetitions. The median of the paired ratios has a distribution-free
 * interval from their order statistics (the sign test): the goal is met,
 * or missed, when the whole interval lies on one side of it, each claim
 * wrong with a probability of at most VB_ALPHA.
 */
#define VB_ALPHA	0.05

enum vb_decision {
	VB_UNMEASURED,		/* no pair of cells */
	VB_TOO_FEW,		/* fewer paired repetitions than an interval needs */
	VB_DECIDED_MET,
	VB_DECIDED_MISSED,
	VB_UNDECIDED,		/* the interval holds the goal */
};

struct vb_ratio {
	const char *name;	/* the key in latest.json */
	const char *what;	/* one line for people */
	double target;		/* the goal */
	bool at_most;		/* the goal is an upper bound */
	double value;		/* geometric mean of the pairs; NAN: none */
	unsigned int pairs;
	double worst;		/* the pair furthest from the goal */
	/* The same from the quiet runs' medians, over the pairs where both
	 * cells have quiet runs: what a machine without other load shows. */
	double quiet;
	unsigned int quiet_pairs;
	/* The paired ratios: how many repetitions have a run of every pair,
	 * their median and its interval [lo, hi] of probability @coverage
	 * (NAN, 0 when too few). */
	unsigned int paired;
	double paired_median, lo, hi, coverage;
	enum vb_decision decision;	/* against the goal; references: none */
};

/*
 * Reference ratios: no goal, not in latest.json; what the goals are up
 * against in this machine (target is NAN).
 */
enum vb_ref_id {
	VB_REF_XFS_HOST_VS_BDEV_BIO,	/* what XFS costs io_uring itself */
	VB_REF_XFS_KIOCB_VS_HOST,	/* kiocb over io_uring, same image */
	VB_REF_XFS_LAYOUT_VS_BDEV_BIO,	/* the image's blocks vs the bdev's */
	VB_REF_XFS_LAYOUT_VS_HOST,	/* them vs io_uring on the image */
	VB_REF_HOST_Q2_VS_Q1,		/* how io_uring scales to 2 jobs */
	VB_NREFS,
};

/* All ratios from the cells of @s (vb_set_cells first). */
void vb_ratios(const struct vb_set *s, struct vb_ratio out[VB_NRATIOS]);
void vb_references(const struct vb_set *s, struct vb_ratio out[VB_NREFS]);
/*
 * Each pair of cells of each goal's ratio on its own, with its own paired
 * runs and decision: a ratio pooled over backends and queue counts can
 * meet its goal while a pair of it misses (one queue against two, say).
 */
struct vb_pair {
	enum vb_ratio_id id;
	const struct vb_cell *num, *den;	/* in the set */
	struct vb_ratio r;	/* over this pair alone */
};

/* The pairs of every ratio of @s in the order of the ratios, then of the
 * cells; *@n of them. NULL when out of memory; free() the array. */
struct vb_pair *vb_pairs(const struct vb_set *s, size_t *n);
/* The vhost-blk target of a backend: what the module's auto engine
 * picks (bio for block devices, kiocb for the image on XFS). */
const char *vb_vhost_target(const char *backend);
/* Is the goal met? (By the medians; vb_ratio.decision says whether the
 * repetitions bear it out.) */
bool vb_ratio_met(const struct vb_ratio *r);
/* How many repetitions a decision needs at the least (5 for VB_ALPHA). */
unsigned int vb_min_paired(void);
/*
 * The interval of the median of @n values (sorted in place): the k-th
 * smallest and the k-th largest, k the largest with P(B(n, 1/2) < k) <=
 * VB_ALPHA. Returns its coverage, 1 - 2 P(B < k), or 0 when n is too
 * small (then @lo and @hi are NAN).
 */
double vb_median_interval(double *v, size_t n, double *lo, double *hi);
const char *vb_decision_name(enum vb_decision d);

#endif /* VB_CELLS_H */
