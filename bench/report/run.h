/* SPDX-License-Identifier: GPL-2.0-only */
/* What one run measured: fio's JSON output and two /proc/stat samples. */
#ifndef VB_RUN_H
#define VB_RUN_H

#include <stddef.h>

#include "cells.h"

/* The aggregate "cpu" line of /proc/stat, in clock ticks. */
struct vb_cpu {
	unsigned long long busy;	/* user nice system irq softirq steal */
	unsigned long long total;	/* busy + idle + iowait */
	double time;			/* "time S" line: epoch seconds, or 0 */
};

/* Parse a sample: /proc/stat's first line, optionally followed by a line
 * "time EPOCH" (stat-mark.sh writes both). 0, or -1 with @err. */
int vb_stat_parse(const char *text, struct vb_cpu *c, char *err, size_t len);
/*
 * IOPS, I/O count and p50/p99 latency from fio's --output-format=json (one
 * job group: group_reporting). The latency is fio's total latency (lat_ns,
 * with lat_percentiles=1): from fio handing the request to the engine to
 * fio reaping its completion, the same span for every engine. (fio's
 * io_uring engine starts clat only after io_uring_enter returns, so a
 * request completed inside that call shows almost no clat.) Without
 * lat_ns percentiles, clat_ns. 0, or -1.
 */
int vb_fio_extract(const char *json, size_t len, struct vb_record *r,
		   char *err, size_t elen);
/* busy_s, cpu_us_per_io, t0 and t1 of @r from samples before and after
 * the run, @hz clock ticks a second. -1 when the samples make no sense. */
int vb_cpu_per_io(struct vb_record *r, const struct vb_cpu *before,
		  const struct vb_cpu *after, long hz, char *err, size_t len);

/*
 * Other load on the machine during each record: @samples are lines
 * "EPOCH OTHER_PCT ..." (bench/hostload.sh), each covering the @step
 * seconds before it; @offset is added to record times to get machine
 * times. Sets noise_pct of records with a time window (-1: no sample).
 */
void vb_apply_noise(struct vb_set *s, const char *samples, double step,
		    double offset);

#endif /* VB_RUN_H */
