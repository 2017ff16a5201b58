/* SPDX-License-Identifier: GPL-2.0-only */
/* vbench merge: a run of a few cells added to a latest.json. */
#ifndef VB_MERGE_H
#define VB_MERGE_H

#include <stddef.h>
#include <stdio.h>

/*
 * Write to @out the latest.json @old_text with the ratios of @new_text (a
 * run's latest.json, of the same kernel) that @old_text's own cells do
 * not give and @new_text has (not null); its cells are left out (another
 * run's). @old_text's kernel, command line, cells and the ratios of its
 * cells stay. 0, or -1 with @err.
 */
int vb_merge(FILE *out, const char *old_text, size_t old_len,
	     const char *new_text, size_t new_len, char *err, size_t len);

#endif /* VB_MERGE_H */
