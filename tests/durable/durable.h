/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vdurable: is what the device acknowledged durable? Proven by replaying
 * the device-mapper log-writes log of the disk under the backend.
 *
 * "vdurable run" plays a guest: rounds of random writes (and write zeroes)
 * at a random queue depth, each round waited for; then, in write-back
 * mode, a FLUSH at random, and a mark in the log (a dm message) after
 * every round. It records in a file which write touched which sectors and,
 * at each mark, which writes the device had promised to be durable: those
 * completed before the last FLUSH that completed (write-back), or every
 * completed one (write-through: a guest without VIRTIO_BLK_F_FLUSH, or a
 * device switched with VHOST_BLK_SET_WRITEBACK; switching counts as a
 * FLUSH of what came before).
 *
 * "vdurable check" replays the log onto a blank device, stopping at each
 * mark, and checks every sector written so far: it holds the newest write
 * the device promised (or a newer one that was also completed then, whole
 * and in the right place), never older data. On a backend that is an
 * image file, the replayed file system is mounted (on a copy, so the
 * journal recovery does not change the replay) and the image read there.
 *
 * dm-log-writes logs a completed write only once a FLUSH follows it, and a
 * FUA write as it completes: the log up to a mark is what a disk that
 * lost its volatile cache at that moment would hold.
 */
#ifndef VDURABLE_H
#define VDURABLE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "vblk.h"

enum dur_mode {
	DUR_WRITEBACK,		/* FLUSH negotiated, FLUSHes at random */
	DUR_WRITETHROUGH,	/* no VIRTIO_BLK_F_FLUSH */
	DUR_SWITCH,		/* write-back, then SET_WRITEBACK 0 halfway */
	DUR_NOFLUSH,		/* write-back, never a FLUSH: the control */
};

/* One write (or write zeroes) of the run; gen counts from 1. */
struct dur_op {
	uint64_t sector;
	uint32_t nsect;
	bool zeroes;
};

/* A mark: writes 1..durable were promised durable, 1..issued completed. */
struct dur_mark {
	char name[32];
	uint32_t durable;
	uint32_t issued;
	bool flushed;		/* a FLUSH (or the switch) just before */
};

struct dur_record {
	uint64_t seed;
	uint64_t capacity;	/* sectors */
	uint32_t lbs;
	enum dur_mode mode;
	struct dur_op *ops;	/* ops[gen - 1] */
	uint32_t nops, cap_ops;
	struct dur_mark *marks;
	uint32_t nmarks, cap_marks;
};

const char *dur_mode_name(enum dur_mode m);
int dur_mode_parse(const char *s, enum dur_mode *m);

/* record.c */
int dur_add_op(struct dur_record *r, uint64_t sector, uint32_t nsect,
	       bool zeroes);
int dur_add_mark(struct dur_record *r, const char *name, uint32_t durable,
		 bool flushed);
int dur_save(const struct dur_record *r, const char *path, char *err,
	     size_t len);
int dur_load(struct dur_record *r, const char *path, char *err, size_t len);
void dur_free(struct dur_record *r);

/* dm.c: "mark NAME" to the log-writes target of device-mapper device @dm. */
int dur_dm_mark(const char *dm, const char *name, char *err, size_t len);

struct dur_run_opts {
	const char *backend;
	const char *record;
	const char *dm;		/* NULL: no marks (a dry run) */
	enum dur_mode mode;
	uint32_t engine;
	bool direct;
	unsigned int rounds;
	unsigned int qd;	/* most writes a round */
	unsigned int area_mib;	/* where the writes go */
	uint64_t seed;
};

/* work.c */
int dur_run(const struct dur_run_opts *o);

struct dur_check_opts {
	const char *log;
	const char *target;	/* blank, as the disk was when logging began */
	const char *record;
	/* An image file: the file system holding it, its path in there. */
	const char *fstype;
	const char *image;
	const char *copy;	/* a device as large as target, to mount */
	const char *mnt;
	unsigned int max_mounts;	/* marks checked through a mount */
	bool expect_loss;	/* the control: some promised write missing */
};

/* check.c */
int dur_check(const struct dur_check_opts *o);

#endif /* VDURABLE_H */
