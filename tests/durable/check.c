// SPDX-License-Identifier: GPL-2.0-only
/*
 * vdurable check: replay the log mark by mark and check what the device
 * promised at each (durable.h).
 *
 * A sector passes when it holds, whole and in its place:
 *  - the newest write the device had promised durable there, or a newer
 *    write that had completed by the mark (a disk may keep more than it
 *    promised, never less);
 *  - zeroes, when nothing was promised there yet, or the newest promise
 *    there is a write zeroes, or a newer write zeroes had completed.
 * Anything else (older data, another sector's, a torn block) fails.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "durable.h"
#include "logwrites.h"

#define DUR_CHUNK	(1u << 20)
#define DUR_REPORTS	5

struct dur_check {
	const struct dur_check_opts *o;
	struct dur_record rec;
	struct lw_log log;
	int log_fd, target_fd;
	uint64_t target_size;
	uint32_t *promised;	/* per sector: newest promised gen, 0 none */
	uint32_t *zeroed;	/* per sector: newest completed zeroes gen */
	uint8_t *touched;	/* per sector: some op completed there */
	uint32_t durable, issued;	/* applied to the arrays so far */
	uint8_t *buf;
	uint64_t bad, checked_sectors;
	unsigned int checked_marks;
	char err[512];
};

static void dur_apply_ops(struct dur_check *c, const struct dur_mark *m)
{
	uint32_t g;
	uint64_t s;

	for (g = c->issued + 1; g <= m->issued; g++) {
		const struct dur_op *op = &c->rec.ops[g - 1];

		for (s = op->sector; s < op->sector + op->nsect; s++) {
			c->touched[s] = 1;
			if (op->zeroes)
				c->zeroed[s] = g;
		}
	}
	for (g = c->durable + 1; g <= m->durable; g++) {
		const struct dur_op *op = &c->rec.ops[g - 1];

		for (s = op->sector; s < op->sector + op->nsect; s++)
			c->promised[s] = g;
	}
	c->issued = m->issued;
	c->durable = m->durable;
}

/* Is @blk, read at sector @s, what the device may hold there? */
static bool dur_sector_ok(struct dur_check *c, const uint8_t *blk,
			  uint64_t s, char *why, size_t len)
{
	uint32_t p = c->promised[s];
	struct vblk_pat_info found;
	enum vblk_pat_result res;
	const struct dur_op *op;

	res = vblk_pat_check(blk, s, c->rec.seed, p, &found);
	if (res == VBLK_PAT_ZERO) {
		if (!p || c->rec.ops[p - 1].zeroes || c->zeroed[s] > p)
			return true;
		snprintf(why, len, "zeroes, but write %u was promised", p);
		return false;
	}
	if (res != VBLK_PAT_OK && res != VBLK_PAT_STALE) {
		vblk_pat_explain(why, len, res, s, p, &found);
		return false;
	}
	op = found.gen && found.gen <= c->issued ? &c->rec.ops[found.gen - 1] :
						   NULL;
	if (!op || op->zeroes || s < op->sector ||
	    s >= op->sector + op->nsect) {
		snprintf(why, len, "data of write %" PRIu64 ", which never wrote there by then",
			 found.gen);
		return false;
	}
	if (found.gen < p) {
		snprintf(why, len, "data of write %" PRIu64 ", but write %u was promised",
			 found.gen, p);
		return false;
	}
	return true;
}

/* Every sector touched so far, read from @fd (short reads: zeroes). */
static int dur_verify(struct dur_check *c, int fd, const char *mark)
{
	uint64_t s = 0, n = c->rec.capacity;
	char why[200];

	while (s < n) {
		uint64_t run = 0, i;
		ssize_t got;

		while (s < n && !c->touched[s])
			s++;
		while (s + run < n && c->touched[s + run] &&
		       run < DUR_CHUNK / VBLK_SECTOR)
			run++;
		if (!run)
			break;
		memset(c->buf, 0, run * VBLK_SECTOR);
		got = pread(fd, c->buf, run * VBLK_SECTOR, s * VBLK_SECTOR);
		if (got < 0) {
			snprintf(c->err, sizeof(c->err), "reading sector %" PRIu64 ": %s",
				 s, strerror(errno));
			return -1;
		}
		for (i = 0; i < run; i++) {
			if (dur_sector_ok(c, c->buf + i * VBLK_SECTOR, s + i,
					  why, sizeof(why)))
				continue;
			if (++c->bad <= DUR_REPORTS)
				printf("# at mark %s, sector %" PRIu64 ": %s\n",
				       mark, s + i, why);
		}
		c->checked_sectors += run;
		s += run;
	}
	c->checked_marks++;
	return 0;
}

/* Apply log entries up to the mark @name, which must come next. */
static int dur_replay_to(struct dur_check *c, const char *name)
{
	struct lw_entry e;
	int ret;

	for (;;) {
		ret = lw_next(&c->log, &e, c->err, sizeof(c->err));
		if (ret < 0)
			return -1;
		if (!ret) {
			snprintf(c->err, sizeof(c->err),
				 "the log ends before mark %s (was the target removed before the check?)",
				 name);
			return -1;
		}
		if (e.flags & LW_MARK) {
			if (!strcmp(e.mark, name))
				return 0;
			snprintf(c->err, sizeof(c->err),
				 "log entry %" PRIu64 " is mark %.64s, the record expects %s",
				 e.index, e.mark, name);
			return -1;
		}
		if (lw_apply(&c->log, &e, c->target_fd, c->target_size, NULL,
			     c->err, sizeof(c->err)) < 0)
			return -1;
	}
}

static int dur_copy(struct dur_check *c, int to)
{
	uint64_t off;

	for (off = 0; off < c->target_size; off += DUR_CHUNK) {
		size_t n = c->target_size - off < DUR_CHUNK ?
			   c->target_size - off : DUR_CHUNK;

		if (pread(c->target_fd, c->buf, n, off) != (ssize_t)n ||
		    pwrite(to, c->buf, n, off) != (ssize_t)n) {
			snprintf(c->err, sizeof(c->err), "copying the replay to %s: %s",
				 c->o->copy, strerror(errno));
			return -1;
		}
	}
	return fsync(to);
}

/* The image in a mounted copy of the replayed file system. */
static int dur_verify_mounted(struct dur_check *c, const char *mark)
{
	const struct dur_check_opts *o = c->o;
	char path[4096];
	int fd, ret;

	fd = open(o->copy, O_RDWR | O_CLOEXEC);
	if (fd < 0 || dur_copy(c, fd)) {
		if (fd < 0)
			snprintf(c->err, sizeof(c->err), "%s: %s", o->copy,
				 strerror(errno));
		else
			close(fd);
		return -1;
	}
	close(fd);
	if (mount(o->copy, o->mnt, o->fstype, 0,
		  strcmp(o->fstype, "xfs") ? NULL : "nouuid")) {
		snprintf(c->err, sizeof(c->err),
			 "mounting the file system replayed to mark %s: %s (dmesg says why)",
			 mark, strerror(errno));
		return -1;
	}
	snprintf(path, sizeof(path), "%s/%s", o->mnt, o->image);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(c->err, sizeof(c->err), "the image %.300s after replaying to mark %s: %s",
			 path, mark, strerror(errno));
		ret = -1;
	} else {
		ret = dur_verify(c, fd, mark);
		close(fd);
	}
	if (umount(o->mnt) && !ret) {
		snprintf(c->err, sizeof(c->err), "umount %s: %s", o->mnt,
			 strerror(errno));
		ret = -1;
	}
	return ret;
}

/* With a file system, which marks get a mount: spread, the last one too. */
static bool dur_mount_mark(const struct dur_check *c, uint32_t i)
{
	uint32_t n = c->rec.nmarks, k = c->o->max_mounts;

	if (n <= k)
		return true;
	return (uint64_t)(i + 1) * k / n != (uint64_t)i * k / n;
}

static int dur_open(struct dur_check *c)
{
	const struct dur_check_opts *o = c->o;
	uint64_t n;

	if (dur_load(&c->rec, o->record, c->err, sizeof(c->err)))
		return -1;
	c->log_fd = open(o->log, O_RDONLY | O_CLOEXEC);
	if (c->log_fd < 0) {
		snprintf(c->err, sizeof(c->err), "the log %s: %s", o->log,
			 strerror(errno));
		return -1;
	}
	if (lw_open(&c->log, c->log_fd, c->err, sizeof(c->err)) < 0)
		return -1;
	c->target_fd = open(o->target, O_RDWR | O_CLOEXEC);
	if (c->target_fd < 0 || lw_fd_size(c->target_fd, &c->target_size)) {
		snprintf(c->err, sizeof(c->err), "the replay target %s: %s",
			 o->target, strerror(errno));
		return -1;
	}
	if (!o->fstype && c->target_size < c->rec.capacity * VBLK_SECTOR) {
		snprintf(c->err, sizeof(c->err), "the replay target %s is smaller than the device",
			 o->target);
		return -1;
	}
	n = c->rec.capacity;
	c->promised = calloc(n, sizeof(*c->promised));
	c->zeroed = calloc(n, sizeof(*c->zeroed));
	c->touched = calloc(n, 1);
	c->buf = malloc(DUR_CHUNK);
	if (!c->promised || !c->zeroed || !c->touched || !c->buf) {
		snprintf(c->err, sizeof(c->err), "memory for %" PRIu64 " sectors",
			 n);
		return -1;
	}
	return 0;
}

static void dur_close(struct dur_check *c)
{
	if (c->log_fd >= 0)
		close(c->log_fd);
	if (c->target_fd >= 0)
		close(c->target_fd);
	free(c->promised);
	free(c->zeroed);
	free(c->touched);
	free(c->buf);
	dur_free(&c->rec);
}

int dur_check(const struct dur_check_opts *o)
{
	struct dur_check c = { .o = o, .log_fd = -1, .target_fd = -1 };
	uint32_t i;
	int ret = 2;

	if (dur_open(&c))
		goto out;
	ret = 1;
	for (i = 0; i < c.rec.nmarks; i++) {
		const struct dur_mark *m = &c.rec.marks[i];

		if (dur_replay_to(&c, m->name))
			goto out;
		if (fsync(c.target_fd)) {
			snprintf(c.err, sizeof(c.err), "fsync %s: %s", o->target,
				 strerror(errno));
			goto out;
		}
		dur_apply_ops(&c, m);
		if (!o->fstype ? dur_verify(&c, c.target_fd, m->name) :
		    dur_mount_mark(&c, i) ? dur_verify_mounted(&c, m->name) : 0)
			goto out;
	}
	if (!c.checked_marks || !c.durable) {
		snprintf(c.err, sizeof(c.err), "nothing was checked (%u marks, %u writes promised)",
			 c.checked_marks, c.durable);
		goto out;
	}
	printf("vdurable check: %u marks checked, %" PRIu64 " sector checks, %u writes, %" PRIu64 " sectors wrong (mode %s)\n",
	       c.checked_marks, c.checked_sectors, c.rec.nops, c.bad,
	       dur_mode_name(c.rec.mode));
	if (o->expect_loss) {
		ret = c.bad ? 0 : 1;
		if (c.bad)
			printf("vdurable check: writes that were never flushed are missing, as a disk that lost its cache would miss them: the check sees a lost write\n");
		else
			snprintf(c.err, sizeof(c.err), "expected lost writes (no FLUSH, write-back), found none: the check cannot see a loss");
	} else {
		ret = c.bad ? 1 : 0;
		if (c.bad)
			snprintf(c.err, sizeof(c.err), "%" PRIu64 " sectors do not hold what the device promised",
				 c.bad);
	}
out:
	if (ret)
		fprintf(stderr, "vdurable check: %s\n", c.err);
	dur_close(&c);
	return ret;
}
