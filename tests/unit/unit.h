/* SPDX-License-Identifier: GPL-2.0-only */
/* The unit tests of libvblk: no device, no VM. */
#ifndef UNIT_H
#define UNIT_H

#include <stdio.h>

#include "vblk.h"

struct ut {
	char why[512];
};

/* Fail the running test with a message unless @cond holds. */
#define CHECK(t, cond, ...)						\
	do {								\
		if (!(cond)) {						\
			ut_fail(t, __FILE__, __LINE__, #cond, __VA_ARGS__); \
			return 1;					\
		}							\
	} while (0)

void ut_fail(struct ut *t, const char *file, int line, const char *cond,
	     const char *fmt, ...) __attribute__((format(printf, 5, 6)));

struct ut_case {
	const char *name;
	int (*fn)(struct ut *t);
};

/* Each test file's table, ended by { NULL, NULL }. */
extern const struct ut_case ut_mem_cases[];
extern const struct ut_case ut_vring_cases[];
extern const struct ut_case ut_req_cases[];
extern const struct ut_case ut_pattern_cases[];
extern const struct ut_case ut_vu_cases[];
extern const struct ut_case ut_bench_cases[];
extern const struct ut_case ut_logwrites_cases[];
extern const struct ut_case ut_bridge_cases[];

#endif /* UNIT_H */
