// SPDX-License-Identifier: GPL-2.0-only
/*
 * The dm-log-writes replayer (lib/logwrites.h) on synthetic logs, built in
 * temporary files with sectorsize 512 and 4096: every test runs with both.
 *
 * A log is written entry by entry, and a model of the target (a buffer)
 * follows it; the replay must give the model. The target starts as INIT
 * bytes everywhere, so that blocks a replay must not touch are seen.
 *
 * A replay checks all the headers it will apply before writing anything, so
 * a missing mark, a bad header before the mark and an entry outside the
 * target all leave the target untouched; the tests check that too.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "logwrites.h"
#include "unit.h"

#define INIT		0xee
#define TBLOCKS		64u	/* blocks of the usual target */

struct blog {
	struct ut *t;
	int fd;
	uint32_t ss;
	uint64_t off;		/* byte offset of the next entry */
	uint64_t n;		/* entries written */
	uint8_t *model;		/* the target after them (tsize bytes) */
	uint64_t tsize;
};

#define TRY(x)					\
	do {					\
		if (x)				\
			return 1;		\
	} while (0)

/* An unlinked temporary file. */
static int tmpfd(void)
{
	const char *dir = getenv("TMPDIR");
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/vblk-lw.XXXXXX",
		 dir && *dir ? dir : "/tmp");
	fd = mkstemp(path);
	if (fd >= 0)
		unlink(path);
	return fd;
}

static void put_le64(uint8_t *p, uint64_t v)
{
	int i;

	for (i = 0; i < 8; i++, v >>= 8)
		p[i] = (uint8_t)v;
}

static int put(struct ut *t, int fd, const void *buf, size_t len, uint64_t off)
{
	CHECK(t, pwrite(fd, buf, len, off) == (ssize_t)len,
	      "writing %zu bytes at %llu: %m", len, (unsigned long long)off);
	return 0;
}

/* The bytes of write number @gen to a block. */
static void fill(uint8_t *buf, size_t len, unsigned int gen)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = (uint8_t)(gen * 37 + i * 7 + (i >> 9) * 11 + 1);
}

static int blog_super(struct blog *b, uint64_t magic, uint64_t version,
		      uint64_t nr_entries, uint32_t ss)
{
	uint8_t sb[LW_MAX_SECTORSIZE] = { 0 };

	put_le64(sb, magic);
	put_le64(sb + 8, version);
	put_le64(sb + 16, nr_entries);
	sb[24] = (uint8_t)ss;
	sb[25] = (uint8_t)(ss >> 8);
	sb[26] = (uint8_t)(ss >> 16);
	sb[27] = (uint8_t)(ss >> 24);
	return put(b->t, b->fd, sb, b->ss, 0);
}

/* An empty log and, if @tblocks, a model of a target of that many blocks. */
static int blog_init(struct ut *t, struct blog *b, uint32_t ss,
		     uint64_t tblocks)
{
	memset(b, 0, sizeof(*b));
	b->t = t;
	b->ss = ss;
	b->off = ss;
	b->fd = tmpfd();
	CHECK(t, b->fd >= 0, "temporary file: %m");
	if (tblocks) {
		b->tsize = tblocks * ss;
		b->model = malloc(b->tsize);
		CHECK(t, b->model, "no memory");
		memset(b->model, INIT, b->tsize);
	}
	return blog_super(b, LW_MAGIC, LW_VERSION, 0, ss);
}

static void blog_free(struct blog *b)
{
	free(b->model);
	close(b->fd);
}

/* A header block as given, and nothing else; the super counts it. */
static int blog_header(struct blog *b, uint64_t sector, uint64_t nr,
		       uint64_t flags, uint64_t data_len, const char *name)
{
	uint8_t h[LW_MAX_SECTORSIZE] = { 0 };

	put_le64(h, sector);
	put_le64(h + 8, nr);
	put_le64(h + 16, flags);
	put_le64(h + 24, data_len);
	if (name)
		memcpy(h + LW_HEADER_SIZE, name, strlen(name));
	TRY(put(b->t, b->fd, h, b->ss, b->off));
	b->off += b->ss;
	b->n++;
	return blog_super(b, LW_MAGIC, LW_VERSION, b->n, b->ss);
}

/* A write of write number @gen's bytes (maybe a flush or FUA too). */
static int blog_write(struct blog *b, uint64_t sector, uint64_t nr,
		      uint64_t flags, unsigned int gen)
{
	size_t len = nr * b->ss;
	uint8_t *data = malloc(len ? len : 1);

	CHECK(b->t, data, "no memory");
	fill(data, len, gen);
	if (put(b->t, b->fd, data, len, b->off + b->ss) ||
	    blog_header(b, sector, nr, flags, 0, NULL)) {
		free(data);
		return 1;
	}
	b->off += len;
	if (b->model && len) {
		CHECK(b->t, (sector + nr) * b->ss <= b->tsize,
		      "test error: write past the model");
		memcpy(b->model + sector * b->ss, data, len);
	}
	free(data);
	return 0;
}

static int blog_flush(struct blog *b)
{
	return blog_header(b, 0, 0, LW_FLUSH, 0, NULL);
}

static int blog_discard(struct blog *b, uint64_t sector, uint64_t nr)
{
	TRY(blog_header(b, sector, nr, LW_DISCARD, 0, NULL));
	if (b->model && (sector + nr) * b->ss <= b->tsize)
		memset(b->model + sector * b->ss, 0, nr * b->ss);
	return 0;
}

/* A mark; *@snap (if not NULL) gets a copy of the model. */
static int blog_mark(struct blog *b, const char *name, uint8_t **snap)
{
	TRY(blog_header(b, 0, 0, LW_MARK, strlen(name), name));
	if (snap) {
		*snap = malloc(b->tsize);
		CHECK(b->t, *snap, "no memory");
		memcpy(*snap, b->model, b->tsize);
	}
	return 0;
}

/* A target of @size bytes of INIT. */
static int target(struct ut *t, uint64_t size, int *fd)
{
	uint8_t *buf = malloc(size);
	int ret;

	CHECK(t, buf, "no memory");
	*fd = tmpfd();
	CHECK(t, *fd >= 0, "temporary file: %m");
	memset(buf, INIT, size);
	ret = put(t, *fd, buf, size, 0);
	free(buf);
	return ret;
}

/* Does the target hold @want (@size bytes)? */
static int same(struct ut *t, int fd, const uint8_t *want, uint64_t size,
		const char *what)
{
	uint8_t *buf = malloc(size);
	uint64_t i;

	CHECK(t, buf, "no memory");
	CHECK(t, pread(fd, buf, size, 0) == (ssize_t)size, "reading target: %m");
	for (i = 0; i < size && buf[i] == want[i]; i++)
		;
	free(buf);
	CHECK(t, i == size,
	      "%s: the target differs from the model at byte %llu", what,
	      (unsigned long long)i);
	return 0;
}

static int untouched(struct ut *t, int fd, uint64_t size, const char *what)
{
	uint8_t *init = malloc(size);
	int ret;

	CHECK(t, init, "no memory");
	memset(init, INIT, size);
	ret = same(t, fd, init, size, what);
	free(init);
	return ret;
}

/* Run @fn with both sector sizes, saying which one failed. */
static int both(struct ut *t, int (*fn)(struct ut *t, uint32_t ss))
{
	static const uint32_t sizes[] = { 512, 4096 };
	unsigned int i;
	size_t n;

	for (i = 0; i < 2; i++)
		if (fn(t, sizes[i])) {
			n = strlen(t->why);
			snprintf(t->why + n, sizeof(t->why) - n,
				 " (sectorsize %u)", sizes[i]);
			return 1;
		}
	return 0;
}

/* The log of t_marks(); snaps[0..2] at marks one, two, three, [3] the end. */
static int marks_log(struct blog *b, uint8_t *snaps[4])
{
	TRY(blog_write(b, 0, 4, 0, 1));			/* 0 */
	TRY(blog_write(b, 2, 2, 0, 2));			/* 1 */
	TRY(blog_flush(b));				/* 2 */
	TRY(blog_mark(b, "one", &snaps[0]));		/* 3 */
	TRY(blog_write(b, 10, 3, LW_FUA, 3));		/* 4 */
	TRY(blog_discard(b, 1, 2));			/* 5 */
	TRY(blog_mark(b, "two", &snaps[1]));		/* 6 */
	TRY(blog_write(b, 20, 2, LW_FLUSH | LW_FUA, 4));	/* 7 */
	TRY(blog_write(b, 5, 1, LW_METADATA, 5));	/* 8 */
	TRY(blog_write(b, TBLOCKS - 2, 2, LW_FLUSH, 6));	/* 9: the last blocks */
	TRY(blog_mark(b, "three", &snaps[2]));		/* 10 */
	TRY(blog_write(b, 0, 1, 0, 7));			/* 11 */
	TRY(blog_flush(b));				/* 12 */
	TRY(blog_mark(b, "one", NULL));			/* 13: a second "one" */
	TRY(blog_discard(b, TBLOCKS - 4, 4));		/* 14 */
	snaps[3] = malloc(b->tsize);
	CHECK(b->t, snaps[3], "no memory");
	memcpy(snaps[3], b->model, b->tsize);
	return 0;
}

static int marks_ss(struct ut *t, uint32_t ss)
{
	static const char *const names[] = { "one", "two", "three", NULL };
	static const long want_n[] = { 3, 6, 10, 15 };
	static const uint64_t want_marks[] = { 0, 1, 2, 4 };
	uint8_t *snaps[4] = { NULL };
	struct lw_stats st;
	struct lw_log log;
	struct blog b;
	char err[300] = "";
	int i, tfd;
	long n;

	TRY(blog_init(t, &b, ss, TBLOCKS));
	TRY(marks_log(&b, snaps));
	CHECK(t, !lw_open(&log, b.fd, err, sizeof(err)), "lw_open: %s", err);
	CHECK(t, log.sectorsize == ss && log.nr_entries == 15,
	      "super read as sectorsize %u, %llu entries", log.sectorsize,
	      (unsigned long long)log.nr_entries);
	for (i = 0; i < 4; i++) {
		TRY(target(t, b.tsize, &tfd));
		n = lw_replay(&log, tfd, names[i], &st, err, sizeof(err));
		CHECK(t, n == want_n[i], "replay to mark %s: %ld (%s), expected %ld",
		      names[i] ? names[i] : "(end)", n, n < 0 ? err : "",
		      want_n[i]);
		CHECK(t, st.entries == (uint64_t)n && st.marks == want_marks[i],
		      "replay to mark %s: stats say %llu entries, %llu marks",
		      names[i] ? names[i] : "(end)",
		      (unsigned long long)st.entries,
		      (unsigned long long)st.marks);
		TRY(same(t, tfd, snaps[i], b.tsize,
			 names[i] ? names[i] : "whole log"));
		close(tfd);
	}
	/* The stats of the whole log. */
	CHECK(t, st.writes == 7 && st.flushes == 4 && st.fua == 2 &&
	      st.discards == 2 && st.bytes == 15ull * ss &&
	      st.zeroed == 6ull * ss,
	      "stats: %llu writes, %llu flushes, %llu fua, %llu discards, %llu bytes, %llu zeroed",
	      (unsigned long long)st.writes, (unsigned long long)st.flushes,
	      (unsigned long long)st.fua, (unsigned long long)st.discards,
	      (unsigned long long)st.bytes, (unsigned long long)st.zeroed);
	for (i = 0; i < 4; i++)
		free(snaps[i]);
	blog_free(&b);
	return 0;
}

/* Replay to each mark (the first of its name) and to the end. */
static int t_marks(struct ut *t)
{
	return both(t, marks_ss);
}

static int apply_ss(struct ut *t, uint32_t ss)
{
	uint8_t *snaps[4] = { NULL };
	struct lw_stats st = { 0 };
	struct lw_entry e;
	struct lw_log log;
	struct blog b;
	char err[300] = "";
	int i, tfd, ret, at = 0;

	TRY(blog_init(t, &b, ss, TBLOCKS));
	TRY(marks_log(&b, snaps));
	CHECK(t, !lw_open(&log, b.fd, err, sizeof(err)), "lw_open: %s", err);
	TRY(target(t, b.tsize, &tfd));
	while ((ret = lw_next(&log, &e, err, sizeof(err))) == 1) {
		/* The first three marks have snapshots. */
		if ((e.flags & LW_MARK) && at < 3)
			TRY(same(t, tfd, snaps[at++], b.tsize, e.mark));
		ret = lw_apply(&log, &e, tfd, b.tsize, &st, err, sizeof(err));
		CHECK(t, !ret, "lw_apply of entry %llu: %d (%s)",
		      (unsigned long long)e.index, ret, err);
	}
	CHECK(t, !ret, "lw_next: %d (%s)", ret, err);
	TRY(same(t, tfd, snaps[3], b.tsize, "all entries applied"));
	CHECK(t, st.entries == 15 && st.writes == 7 && st.marks == 4 &&
	      st.discards == 2 && st.bytes == 15ull * ss,
	      "stats: %llu entries, %llu writes", (unsigned long long)st.entries,
	      (unsigned long long)st.writes);
	/* An entry past the target's end, as lw_apply is told it. */
	lw_rewind(&log);
	CHECK(t, lw_next(&log, &e, err, sizeof(err)) == 1, "entry 0: %s", err);
	ret = lw_apply(&log, &e, tfd, 3ull * ss, NULL, err, sizeof(err));
	CHECK(t, ret == -ERANGE && strstr(err, "log entry 0 at byte") &&
	      strstr(err, "past the end of the target"),
	      "write of 4 blocks to a target of 3: %d (%s)", ret, err);
	for (i = 0; i < 4; i++)
		free(snaps[i]);
	close(tfd);
	blog_free(&b);
	return 0;
}

/* lw_next() and lw_apply() entry by entry give the same as lw_replay(). */
static int t_apply(struct ut *t)
{
	return both(t, apply_ss);
}

static int flags_ss(struct ut *t, uint32_t ss)
{
	struct lw_stats st;
	struct lw_log log;
	struct blog b;
	uint8_t *want;
	char err[300] = "";
	int tfd;
	long n;

	/* A flush and a FUA write with data, an empty flush, a discard. */
	TRY(blog_init(t, &b, ss, TBLOCKS));
	TRY(blog_write(&b, 3, 2, LW_FLUSH, 1));
	TRY(blog_write(&b, 7, 1, LW_FUA, 2));
	TRY(blog_flush(&b));
	TRY(blog_discard(&b, 3, 1));
	CHECK(t, !lw_open(&log, b.fd, err, sizeof(err)), "lw_open: %s", err);
	TRY(target(t, b.tsize, &tfd));
	n = lw_replay(&log, tfd, NULL, &st, err, sizeof(err));
	CHECK(t, n == 4, "replay: %ld (%s)", n, n < 0 ? err : "");
	TRY(same(t, tfd, b.model, b.tsize, "flags"));
	want = malloc(2 * ss);
	CHECK(t, want, "no memory");
	fill(want, 2 * ss, 1);
	CHECK(t, !memcmp(b.model + 4 * ss, want + ss, ss),
	      "test error: model of block 4");
	memset(want, 0, ss);
	CHECK(t, !memcmp(b.model + 3 * ss, want, ss) && b.model[5 * ss] == INIT,
	      "test error: model of the discard");
	free(want);
	CHECK(t, st.writes == 2 && st.flushes == 2 && st.fua == 1 &&
	      st.discards == 1 && st.marks == 0 && st.bytes == 3ull * ss &&
	      st.zeroed == ss,
	      "stats: %llu writes, %llu flushes, %llu fua, %llu discards, %llu bytes",
	      (unsigned long long)st.writes, (unsigned long long)st.flushes,
	      (unsigned long long)st.fua, (unsigned long long)st.discards,
	      (unsigned long long)st.bytes);
	close(tfd);
	blog_free(&b);

	/* Only empty flushes: nothing changes. */
	TRY(blog_init(t, &b, ss, 0));
	TRY(blog_flush(&b));
	TRY(blog_flush(&b));
	CHECK(t, !lw_open(&log, b.fd, err, sizeof(err)), "lw_open: %s", err);
	TRY(target(t, TBLOCKS * ss, &tfd));
	n = lw_replay(&log, tfd, NULL, &st, err, sizeof(err));
	CHECK(t, n == 2 && st.flushes == 2 && !st.writes && !st.bytes,
	      "replay of empty flushes: %ld (%s), %llu flushes, %llu writes",
	      n, n < 0 ? err : "", (unsigned long long)st.flushes,
	      (unsigned long long)st.writes);
	TRY(untouched(t, tfd, TBLOCKS * ss, "empty flushes"));
	close(tfd);
	blog_free(&b);
	return 0;
}

/* FLUSH and FUA writes are applied, discards zero, empty flushes do not. */
static int t_flags(struct ut *t)
{
	return both(t, flags_ss);
}

static int list_ss(struct ut *t, uint32_t ss)
{
	static const struct {
		uint64_t sector, nr, flags, blocks;
		const char *mark;
	} want[] = {
		{ 5, 3, 0, 4, "" },
		{ 0, 0, LW_FLUSH, 1, "" },
		{ 0, 0, LW_MARK, 1, "after flush" },
		{ 9, 1, LW_FUA | LW_METADATA, 2, "" },
		{ 2, 6, LW_DISCARD, 1, "" },
		{ 0, 0, LW_MARK, 1, "" },	/* a mark with an empty name */
	};
	uint64_t off = ss;
	struct lw_entry e;
	struct lw_log log;
	struct blog b;
	char err[300] = "";
	unsigned int i;
	int ret;

	TRY(blog_init(t, &b, ss, 0));
	TRY(blog_write(&b, 5, 3, 0, 1));
	TRY(blog_flush(&b));
	TRY(blog_mark(&b, "after flush", NULL));
	TRY(blog_write(&b, 9, 1, LW_FUA | LW_METADATA, 2));
	TRY(blog_discard(&b, 2, 6));
	TRY(blog_mark(&b, "", NULL));
	CHECK(t, !lw_open(&log, b.fd, err, sizeof(err)), "lw_open: %s", err);
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		ret = lw_next(&log, &e, err, sizeof(err));
		CHECK(t, ret == 1, "entry %u: %d (%s)", i, ret, err);
		CHECK(t, e.index == i && e.off == off &&
		      e.sector == want[i].sector && e.nr_sectors == want[i].nr &&
		      e.flags == want[i].flags && !strcmp(e.mark, want[i].mark),
		      "entry %u read as #%llu at %llu: sector %llu +%llu flags 0x%llx mark \"%s\"",
		      i, (unsigned long long)e.index,
		      (unsigned long long)e.off, (unsigned long long)e.sector,
		      (unsigned long long)e.nr_sectors,
		      (unsigned long long)e.flags, e.mark);
		CHECK(t, e.flags & LW_MARK ?
		      e.data_off == off + LW_HEADER_SIZE &&
		      e.data_len == strlen(want[i].mark) && !e.data_bytes :
		      e.data_off == off + ss &&
		      e.data_bytes == (want[i].blocks - 1) * ss,
		      "entry %u: data at %llu, %llu bytes", i,
		      (unsigned long long)e.data_off,
		      (unsigned long long)e.data_bytes);
		off += want[i].blocks * ss;
	}
	ret = lw_next(&log, &e, err, sizeof(err));
	CHECK(t, !ret, "past the last entry: %d", ret);
	ret = lw_next(&log, &e, err, sizeof(err));
	CHECK(t, !ret, "past the last entry again: %d", ret);
	lw_rewind(&log);
	ret = lw_next(&log, &e, err, sizeof(err));
	CHECK(t, ret == 1 && e.index == 0 && e.sector == 5,
	      "after lw_rewind: %d, entry %llu", ret,
	      (unsigned long long)e.index);
	blog_free(&b);
	return 0;
}

/* lw_next() gives each entry's fields and offsets, then 0; lw_flags_str. */
static int t_list(struct ut *t)
{
	char buf[8];

	CHECK(t, !strcmp(lw_flags_str(LW_FLUSH | LW_FUA, buf), "FU---"),
	      "flush+fua: %s", buf);
	CHECK(t, !strcmp(lw_flags_str(LW_MARK, buf), "---M-"), "mark: %s", buf);
	CHECK(t, !strcmp(lw_flags_str(LW_DISCARD | LW_METADATA, buf), "--D-m"),
	      "discard+meta: %s", buf);
	CHECK(t, !strcmp(lw_flags_str(0x40, buf), "-----?"), "unknown: %s",
	      buf);
	return both(t, list_ss);
}

static int nomark_ss(struct ut *t, uint32_t ss)
{
	struct lw_stats st;
	struct lw_log log;
	struct blog b;
	char err[300] = "";
	int tfd;
	long n;

	TRY(blog_init(t, &b, ss, TBLOCKS));
	TRY(blog_write(&b, 0, 2, LW_FUA, 1));
	TRY(blog_mark(&b, "a", NULL));
	TRY(blog_write(&b, 4, 2, LW_FUA, 2));
	CHECK(t, !lw_open(&log, b.fd, err, sizeof(err)), "lw_open: %s", err);
	TRY(target(t, b.tsize, &tfd));
	err[0] = '\0';
	n = lw_replay(&log, tfd, "b", &st, err, sizeof(err));
	CHECK(t, n == -ENOENT, "replay to a missing mark: %ld (%s)", n, err);
	CHECK(t, strstr(err, "\"b\"") && strstr(err, "not written"),
	      "message: %s", err);
	CHECK(t, !st.entries && !st.writes, "stats count %llu entries",
	      (unsigned long long)st.entries);
	TRY(untouched(t, tfd, b.tsize, "missing mark"));
	/* A prefix of a name is not the name. */
	n = lw_replay(&log, tfd, "", &st, err, sizeof(err));
	CHECK(t, n == -ENOENT, "replay to mark \"\": %ld", n);
	TRY(untouched(t, tfd, b.tsize, "mark \"\""));
	/* The same log object replays fine after. */
	n = lw_replay(&log, tfd, "a", &st, err, sizeof(err));
	CHECK(t, n == 1 && st.writes == 1, "replay to a: %ld (%s)", n,
	      n < 0 ? err : "");
	close(tfd);
	blog_free(&b);
	return 0;
}

/* A mark not in the log: -ENOENT and the target untouched. */
static int t_nomark(struct ut *t)
{
	return both(t, nomark_ss);
}

/* lw_open() on @b must fail with a message holding @want. */
static int open_fails(struct ut *t, struct blog *b, const char *want,
		      const char *what)
{
	struct lw_log log;
	char err[300] = "";
	int ret;

	ret = lw_open(&log, b->fd, err, sizeof(err));
	CHECK(t, ret == -EINVAL, "%s: lw_open gave %d (%s)", what, ret, err);
	CHECK(t, strstr(err, want), "%s: message \"%s\" lacks \"%s\"", what,
	      err, want);
	return 0;
}

static int bad_super_ss(struct ut *t, uint32_t ss)
{
	struct lw_log log;
	struct blog b;
	char err[300] = "";
	int p[2], ret;

	TRY(blog_init(t, &b, ss, 0));
	TRY(blog_write(&b, 0, 1, LW_FUA, 1));
	TRY(blog_mark(&b, "m", NULL));
	CHECK(t, !lw_open(&log, b.fd, err, sizeof(err)), "good log: %s", err);

	TRY(blog_super(&b, LW_MAGIC + 1, LW_VERSION, 2, ss));
	TRY(open_fails(t, &b, "bad magic", "bad magic"));
	TRY(blog_super(&b, LW_MAGIC, 2, 2, ss));
	TRY(open_fails(t, &b, "version 2", "version 2"));
	TRY(blog_super(&b, LW_MAGIC, LW_VERSION, 2, 1000));
	TRY(open_fails(t, &b, "sectorsize 1000", "sectorsize 1000"));
	TRY(blog_super(&b, LW_MAGIC, LW_VERSION, 2, 8192));
	TRY(open_fails(t, &b, "sectorsize 8192", "sectorsize 8192"));
	TRY(blog_super(&b, LW_MAGIC, LW_VERSION, 2, 0));
	TRY(open_fails(t, &b, "sectorsize 0", "sectorsize 0"));
	/* More entries than blocks: 2 entries take 3 blocks here. */
	TRY(blog_super(&b, LW_MAGIC, LW_VERSION, 4, ss));
	TRY(open_fails(t, &b, "room for at most 3", "too many entries"));
	TRY(blog_super(&b, LW_MAGIC, LW_VERSION, 3, ss));
	CHECK(t, !lw_open(&log, b.fd, err, sizeof(err)),
	      "3 entries, room for 3: %s", err);
	/* Shorter than its super block. */
	TRY(blog_super(&b, LW_MAGIC, LW_VERSION, 0, ss));
	CHECK(t, !ftruncate(b.fd, ss - 1), "truncate: %m");
	TRY(open_fails(t, &b, "less than its super block", "short super"));
	CHECK(t, !ftruncate(b.fd, 20), "truncate: %m");
	TRY(open_fails(t, &b, "too short", "20 bytes"));
	CHECK(t, !ftruncate(b.fd, 0), "truncate: %m");
	TRY(open_fails(t, &b, "too short", "empty"));
	blog_free(&b);

	/* Not a file. */
	CHECK(t, !pipe(p), "pipe: %m");
	ret = lw_open(&log, p[0], err, sizeof(err));
	CHECK(t, ret == -EINVAL && strstr(err, "neither a file nor a block device"),
	      "a pipe: %d (%s)", ret, err);
	close(p[0]);
	close(p[1]);
	return 0;
}

/* Bad magic, version, sectorsize, entry count, size: lw_open() says so. */
static int t_bad_super(struct ut *t)
{
	return both(t, bad_super_ss);
}

static int truncated_ss(struct ut *t, uint32_t ss)
{
	struct lw_entry e;
	struct lw_log log;
	struct blog b;
	char err[300] = "", at[64];
	uint64_t last;
	int tfd, ret;
	long n;

	TRY(blog_init(t, &b, ss, TBLOCKS));
	TRY(blog_write(&b, 0, 2, 0, 1));
	TRY(blog_mark(&b, "m", NULL));
	last = b.off;
	TRY(blog_write(&b, 4, 4, LW_FUA, 2));
	/* The last entry loses its last data block. */
	CHECK(t, !ftruncate(b.fd, b.off - ss), "truncate: %m");
	CHECK(t, !lw_open(&log, b.fd, err, sizeof(err)), "lw_open: %s", err);
	TRY(target(t, b.tsize, &tfd));
	n = lw_replay(&log, tfd, NULL, NULL, err, sizeof(err));
	snprintf(at, sizeof(at), "log entry 2 at byte %llu:",
		 (unsigned long long)last);
	CHECK(t, n == -EINVAL && strstr(err, at) &&
	      strstr(err, "past the end of the log"),
	      "truncated data: %ld (%s)", n, err);
	TRY(untouched(t, tfd, b.tsize, "truncated data"));
	/* What comes before the damage replays. */
	n = lw_replay(&log, tfd, "m", NULL, err, sizeof(err));
	CHECK(t, n == 1, "replay to the mark before: %ld (%s)", n, err);

	/* Cut in the middle of the last header. */
	CHECK(t, !ftruncate(b.fd, last + 16), "truncate: %m");
	CHECK(t, !lw_open(&log, b.fd, err, sizeof(err)), "lw_open: %s", err);
	CHECK(t, lw_next(&log, &e, err, sizeof(err)) == 1 &&
	      lw_next(&log, &e, err, sizeof(err)) == 1, "first entries: %s",
	      err);
	ret = lw_next(&log, &e, err, sizeof(err));
	CHECK(t, ret == -EINVAL && strstr(err, at) && strstr(err, "truncated"),
	      "truncated header: %d (%s)", ret, err);
	/* An error does not move on. */
	ret = lw_next(&log, &e, err, sizeof(err));
	CHECK(t, ret == -EINVAL, "truncated header again: %d", ret);
	close(tfd);
	blog_free(&b);
	return 0;
}

/* A log cut short: an error naming the entry; nothing written. */
static int t_truncated(struct ut *t)
{
	return both(t, truncated_ss);
}

static int range_ss(struct ut *t, uint32_t ss)
{
	const uint64_t tblocks = 16;
	struct lw_log log;
	struct blog b;
	char err[300] = "", at[64];
	uint64_t second;
	int tfd;
	long n;

	/* A write over the end of the target. */
	TRY(blog_init(t, &b, ss, 0));
	TRY(blog_write(&b, 0, 1, 0, 1));
	second = b.off;
	TRY(blog_write(&b, tblocks - 1, 2, LW_FLUSH, 2));
	CHECK(t, !lw_open(&log, b.fd, err, sizeof(err)), "lw_open: %s", err);
	TRY(target(t, tblocks * ss, &tfd));
	n = lw_replay(&log, tfd, NULL, NULL, err, sizeof(err));
	snprintf(at, sizeof(at), "log entry 1 at byte %llu:",
		 (unsigned long long)second);
	CHECK(t, n == -ERANGE && strstr(err, at) &&
	      strstr(err, "past the end of the target"),
	      "write past the end: %ld (%s)", n, err);
	TRY(untouched(t, tfd, tblocks * ss, "write past the end"));
	close(tfd);
	blog_free(&b);

	/* A discard over it, and one far beyond (no data in the log). */
	TRY(blog_init(t, &b, ss, 0));
	TRY(blog_write(&b, 0, 1, 0, 1));
	TRY(blog_mark(&b, "before", NULL));
	TRY(blog_discard(&b, tblocks - 6, 7));
	TRY(blog_mark(&b, "between", NULL));
	TRY(blog_discard(&b, 1, 1ull << 40));
	CHECK(t, !lw_open(&log, b.fd, err, sizeof(err)), "lw_open: %s", err);
	TRY(target(t, tblocks * ss, &tfd));
	n = lw_replay(&log, tfd, "between", NULL, err, sizeof(err));
	CHECK(t, n == -ERANGE && strstr(err, "log entry 2 at byte") &&
	      strstr(err, "discard"), "discard past the end: %ld (%s)", n, err);
	TRY(untouched(t, tfd, tblocks * ss, "discard past the end"));
	n = lw_replay(&log, tfd, NULL, NULL, err, sizeof(err));
	CHECK(t, n == -ERANGE, "huge discard: %ld (%s)", n, err);
	n = lw_replay(&log, tfd, "before", NULL, err, sizeof(err));
	CHECK(t, n == 1, "replay before the bad discard: %ld (%s)", n, err);
	close(tfd);
	blog_free(&b);
	return 0;
}

/* An entry beyond the target: -ERANGE with a message, nothing written. */
static int t_target_range(struct ut *t)
{
	return both(t, range_ss);
}

static int nr_entries_ss(struct ut *t, uint32_t ss)
{
	struct lw_stats st;
	struct lw_entry e;
	struct lw_log log;
	struct blog b;
	char err[300] = "";
	int tfd, ret;
	long n;

	TRY(blog_init(t, &b, ss, TBLOCKS));
	TRY(blog_write(&b, 0, 1, LW_FUA, 1));
	TRY(blog_mark(&b, "a", NULL));
	/* Written after the super's last update: not to be read. */
	TRY(blog_write(&b, 1, 1, 0, 2));
	TRY(blog_mark(&b, "late", NULL));
	TRY(blog_header(&b, 0, 0, 0x8000, 0, NULL));	/* garbage */
	TRY(blog_super(&b, LW_MAGIC, LW_VERSION, 2, ss));
	/* The model without entry 2. */
	memset(b.model + ss, INIT, ss);

	CHECK(t, !lw_open(&log, b.fd, err, sizeof(err)), "lw_open: %s", err);
	CHECK(t, lw_next(&log, &e, err, sizeof(err)) == 1 &&
	      lw_next(&log, &e, err, sizeof(err)) == 1 && !strcmp(e.mark, "a"),
	      "first two entries: %s", err);
	ret = lw_next(&log, &e, err, sizeof(err));
	CHECK(t, ret == 0, "entry past nr_entries read: %d (%s)", ret,
	      ret < 0 ? err : e.mark);
	TRY(target(t, b.tsize, &tfd));
	n = lw_replay(&log, tfd, "late", &st, err, sizeof(err));
	CHECK(t, n == -ENOENT, "mark past nr_entries found: %ld (%s)", n, err);
	TRY(untouched(t, tfd, b.tsize, "mark past nr_entries"));
	n = lw_replay(&log, tfd, NULL, &st, err, sizeof(err));
	CHECK(t, n == 2 && st.writes == 1 && st.marks == 1,
	      "replay of 2 entries: %ld (%s)", n, n < 0 ? err : "");
	TRY(same(t, tfd, b.model, b.tsize, "nr_entries 2"));
	close(tfd);

	/* No entries at all. */
	TRY(blog_super(&b, LW_MAGIC, LW_VERSION, 0, ss));
	CHECK(t, !lw_open(&log, b.fd, err, sizeof(err)), "lw_open: %s", err);
	TRY(target(t, b.tsize, &tfd));
	n = lw_replay(&log, tfd, NULL, &st, err, sizeof(err));
	CHECK(t, n == 0, "replay of 0 entries: %ld (%s)", n, n < 0 ? err : "");
	TRY(untouched(t, tfd, b.tsize, "nr_entries 0"));
	close(tfd);
	blog_free(&b);
	return 0;
}

/* Entries after the super's nr_entries are never read. */
static int t_nr_entries(struct ut *t)
{
	return both(t, nr_entries_ss);
}

/* A log of one good write then the header given; it must fail with @want. */
static int header_fails(struct ut *t, uint32_t ss, uint64_t sector,
			uint64_t nr, uint64_t flags, uint64_t data_len,
			const char *want)
{
	struct lw_entry e;
	struct lw_log log;
	struct blog b;
	char err[300] = "", at[64];
	int ret, tfd;
	long n;

	TRY(blog_init(t, &b, ss, 0));
	TRY(blog_write(&b, 0, 1, 0, 1));
	snprintf(at, sizeof(at), "log entry 1 at byte %llu:",
		 (unsigned long long)b.off);
	TRY(blog_header(&b, sector, nr, flags, data_len,
			data_len == 1 ? "x" : NULL));
	CHECK(t, !lw_open(&log, b.fd, err, sizeof(err)), "lw_open: %s", err);
	CHECK(t, lw_next(&log, &e, err, sizeof(err)) == 1, "entry 0: %s", err);
	ret = lw_next(&log, &e, err, sizeof(err));
	CHECK(t, ret == -EINVAL && strstr(err, at) && strstr(err, want),
	      "header %llu +%llu flags 0x%llx data_len %llu: %d (%s), expected \"%s\"",
	      (unsigned long long)sector, (unsigned long long)nr,
	      (unsigned long long)flags, (unsigned long long)data_len, ret,
	      err, want);
	TRY(target(t, TBLOCKS * ss, &tfd));
	n = lw_replay(&log, tfd, NULL, NULL, err, sizeof(err));
	CHECK(t, n == -EINVAL, "replay: %ld", n);
	TRY(untouched(t, tfd, TBLOCKS * ss, want));
	close(tfd);
	blog_free(&b);
	return 0;
}

static int bad_header_ss(struct ut *t, uint32_t ss)
{
	char name[LW_MAX_SECTORSIZE];
	struct lw_entry e;
	struct lw_log log;
	struct blog b;
	char err[300] = "";

	TRY(header_fails(t, ss, 0, 0, LW_MARK, ss - LW_HEADER_SIZE + 1,
			 "does not fit in the header block"));
	TRY(header_fails(t, ss, 0, 0, LW_MARK, UINT64_MAX,
			 "does not fit in the header block"));
	TRY(header_fails(t, ss, 0, 1, 0x20, 0, "unknown flags 0x20"));
	TRY(header_fails(t, ss, 0, 1ull << 40, 0, 0,
			 "past the end of the log"));
	TRY(header_fails(t, ss, 0, 1ull << 62, 0, 0, "past any device"));
	TRY(header_fails(t, ss, 3, UINT64_MAX, LW_FLUSH, 0,
			 "past any device"));
	TRY(header_fails(t, ss, UINT64_MAX / ss, 1, LW_DISCARD, 0,
			 "past any device"));
	TRY(header_fails(t, ss, 0, 1, LW_MARK, 1, "nr_sectors 1"));
	TRY(header_fails(t, ss, 0, 0, LW_MARK | LW_FLUSH, 1, "other flags"));

	/* The longest mark name that fits is fine. */
	memset(name, 'x', ss - LW_HEADER_SIZE);
	name[ss - LW_HEADER_SIZE] = '\0';
	TRY(blog_init(t, &b, ss, 0));
	TRY(blog_mark(&b, name, NULL));
	CHECK(t, !lw_open(&log, b.fd, err, sizeof(err)), "lw_open: %s", err);
	CHECK(t, lw_next(&log, &e, err, sizeof(err)) == 1 &&
	      !strcmp(e.mark, name), "longest mark: %s", err);
	blog_free(&b);
	return 0;
}

/* Headers that make no sense: an error naming the entry and the field. */
static int t_bad_header(struct ut *t)
{
	return both(t, bad_header_ss);
}

static int chunks_ss(struct ut *t, uint32_t ss)
{
	/* Over 3 chunks, from a block not on a chunk boundary. */
	const uint64_t big = (3 * LW_CHUNK) / ss + 3;
	const uint64_t tblocks = big + 8;
	struct lw_stats st;
	struct lw_log log;
	struct blog b;
	char err[300] = "";
	int tfd;
	long n;

	TRY(blog_init(t, &b, ss, tblocks));
	TRY(blog_write(&b, 1, big, LW_FUA, 1));
	TRY(blog_discard(&b, 5, (5 * LW_CHUNK / 2) / ss));
	TRY(blog_write(&b, 2, 1, 0, 2));
	CHECK(t, !lw_open(&log, b.fd, err, sizeof(err)), "lw_open: %s", err);
	TRY(target(t, b.tsize, &tfd));
	n = lw_replay(&log, tfd, NULL, &st, err, sizeof(err));
	CHECK(t, n == 3 && st.bytes == (big + 1) * ss,
	      "replay: %ld (%s), %llu bytes", n, n < 0 ? err : "",
	      (unsigned long long)st.bytes);
	TRY(same(t, tfd, b.model, b.tsize, "big write"));
	close(tfd);
	blog_free(&b);
	return 0;
}

/* Writes and discards larger than the replay's chunk. */
static int t_chunks(struct ut *t)
{
	return both(t, chunks_ss);
}

const struct ut_case ut_logwrites_cases[] = {
	{ "logwrites-marks", t_marks },
	{ "logwrites-apply", t_apply },
	{ "logwrites-flags", t_flags },
	{ "logwrites-list", t_list },
	{ "logwrites-no-mark", t_nomark },
	{ "logwrites-bad-super", t_bad_super },
	{ "logwrites-truncated", t_truncated },
	{ "logwrites-target-range", t_target_range },
	{ "logwrites-nr-entries", t_nr_entries },
	{ "logwrites-bad-header", t_bad_header },
	{ "logwrites-chunks", t_chunks },
	{ NULL, NULL },
};
