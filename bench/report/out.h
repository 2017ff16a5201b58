/* SPDX-License-Identifier: GPL-2.0-only */
/* The report: a table for people, latest.json, data for the chart. */
#ifndef VB_OUT_H
#define VB_OUT_H

#include <stdio.h>

#include "cells.h"

/* The cells as a Markdown table. */
void vb_print_table(FILE *f, const struct vb_set *s);
/* The ratios, their goals and verdicts, as a Markdown table. */
void vb_print_ratios(FILE *f, const struct vb_ratio r[VB_NRATIOS]);
/* The reference ratios, in a table of their own (no goal, no verdict). */
void vb_print_references(FILE *f, const struct vb_ratio r[VB_NREFS]);
/*
 * Each pair of cells of the goals' ratios, decided alone, as a Markdown
 * table, and how many of each ratio's pairs are met, MISSED, undecided.
 */
void vb_print_pairs(FILE *f, const struct vb_pair *p, size_t n);
/*
 * latest.json: {"kernel", "cmdline" (the test host's kernel command line;
 * left out when NULL), "runs" (one per cell, medians), "ratios"}.
 */
void vb_write_json(FILE *f, const char *kernel, const char *cmdline,
		   const struct vb_set *s, const struct vb_ratio r[VB_NRATIOS]);
/*
 * Chart data in @dir: iops.dat (QD32, 1 queue), lat.dat (p50 at QD1,
 * 1 queue), cpu.dat (CPU per I/O at QD32, 1 queue); a header line, one row a
 * backend/rw, one column a target, "?" where not measured. 0 or -1.
 */
int vb_write_plot(const char *dir, const struct vb_set *s);

#endif /* VB_OUT_H */
