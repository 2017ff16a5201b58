// SPDX-License-Identifier: GPL-2.0-only
/*
 * Reading and replaying a dm-log-writes log: see logwrites.h for the format
 * and for what a replay means.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/fs.h>

#include "logwrites.h"

static void seterr(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* A message about entry @idx, whose header block is at byte @off. */
static void entry_err(char *err, size_t errlen, uint64_t idx, uint64_t off,
		      const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void entry_err(char *err, size_t errlen, uint64_t idx, uint64_t off,
		      const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!err || !errlen)
		return;
	n = snprintf(err, errlen, "log entry %" PRIu64 " at byte %" PRIu64 ": ",
		     idx, off);
	if (n < 0 || (size_t)n >= errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err + n, errlen - n, fmt, ap);
	va_end(ap);
}

static uint64_t get_le64(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

/* All @len bytes at @off: 0, -ENODATA if the file ends first, or -errno. */
static int pread_full(int fd, void *buf, size_t len, uint64_t off)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t n = pread(fd, p, len, (off_t)off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (!n)
			return -ENODATA;
		p += n;
		off += n;
		len -= n;
	}
	return 0;
}

static int pwrite_full(int fd, const void *buf, size_t len, uint64_t off)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (!n)
			return -ENOSPC;
		p += n;
		off += n;
		len -= n;
	}
	return 0;
}

static const char *read_errstr(int ret)
{
	return ret == -ENODATA ? "the log ends first" : strerror(-ret);
}

int lw_fd_size(int fd, uint64_t *size)
{
	struct stat st;

	if (fstat(fd, &st))
		return -errno;
	if (S_ISBLK(st.st_mode)) {
		if (ioctl(fd, BLKGETSIZE64, size))
			return -errno;
		return 0;
	}
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	*size = st.st_size;
	return 0;
}

static void size_err(char *err, size_t errlen, const char *what, int ret)
{
	seterr(err, errlen, "size of the %s: %s", what,
	       ret == -EINVAL ? "neither a file nor a block device" :
	       strerror(-ret));
}

int lw_open(struct lw_log *log, int fd, char *err, size_t errlen)
{
	uint8_t sb[LW_SUPER_SIZE];
	uint64_t magic, room;
	uint32_t ss;
	int ret;

	memset(log, 0, sizeof(*log));
	log->fd = fd;
	ret = lw_fd_size(fd, &log->size);
	if (ret) {
		size_err(err, errlen, "log", ret);
		return ret;
	}
	if (log->size < LW_SUPER_SIZE) {
		seterr(err, errlen,
		       "the log is %" PRIu64 " bytes, too short for a super block (%u bytes)",
		       log->size, LW_SUPER_SIZE);
		return -EINVAL;
	}
	ret = pread_full(fd, sb, sizeof(sb), 0);
	if (ret) {
		seterr(err, errlen, "reading the super block: %s",
		       read_errstr(ret));
		return ret == -ENODATA ? -EINVAL : ret;
	}
	magic = get_le64(sb);
	log->version = get_le64(sb + 8);
	log->nr_entries = get_le64(sb + 16);
	ss = get_le32(sb + 24);
	if (magic != LW_MAGIC) {
		seterr(err, errlen,
		       "super block: bad magic 0x%" PRIx64 " (expected 0x%llx): not a dm-log-writes log",
		       magic, LW_MAGIC);
		return -EINVAL;
	}
	if (log->version != LW_VERSION) {
		seterr(err, errlen,
		       "super block: version %" PRIu64 ", this reader knows only version %llu",
		       log->version, LW_VERSION);
		return -EINVAL;
	}
	if (ss < LW_MIN_SECTORSIZE || ss > LW_MAX_SECTORSIZE || (ss & (ss - 1))) {
		seterr(err, errlen,
		       "super block: sectorsize %u, expected a power of two from %u to %u",
		       ss, LW_MIN_SECTORSIZE, LW_MAX_SECTORSIZE);
		return -EINVAL;
	}
	log->sectorsize = ss;
	if (log->size < ss) {
		seterr(err, errlen,
		       "the log is %" PRIu64 " bytes, less than its super block (%u bytes)",
		       log->size, ss);
		return -EINVAL;
	}
	/* Each entry takes a block at least. */
	room = log->size / ss - 1;
	if (log->nr_entries > room) {
		seterr(err, errlen,
		       "super block: %" PRIu64 " entries, but the log (%" PRIu64
		       " bytes) has room for at most %" PRIu64
		       " blocks of %u bytes: truncated log or bad super block",
		       log->nr_entries, log->size, room, ss);
		return -EINVAL;
	}
	lw_rewind(log);
	return 0;
}

void lw_rewind(struct lw_log *log)
{
	log->next_index = 0;
	log->next_off = log->sectorsize;
}

int lw_next(struct lw_log *log, struct lw_entry *e, char *err, size_t errlen)
{
	uint64_t idx = log->next_index, off = log->next_off;
	uint64_t ss = log->sectorsize, blocks = 1, room;
	uint8_t h[LW_HEADER_SIZE];
	int ret;

	if (idx >= log->nr_entries)
		return 0;
	if (off > log->size || log->size - off < ss) {
		entry_err(err, errlen, idx, off,
			  "its header block runs past the end of the log (%" PRIu64
			  " bytes): truncated log", log->size);
		return -EINVAL;
	}
	ret = pread_full(log->fd, h, sizeof(h), off);
	if (ret) {
		entry_err(err, errlen, idx, off, "reading the header: %s",
			  read_errstr(ret));
		return ret == -ENODATA ? -EINVAL : ret;
	}
	memset(e, 0, offsetof(struct lw_entry, mark));
	e->mark[0] = '\0';
	e->index = idx;
	e->off = off;
	e->sector = get_le64(h);
	e->nr_sectors = get_le64(h + 8);
	e->flags = get_le64(h + 16);
	e->data_len = get_le64(h + 24);
	e->data_off = off + ss;

	if (e->flags & ~LW_KNOWN_FLAGS) {
		entry_err(err, errlen, idx, off,
			  "unknown flags 0x%" PRIx64 " (known: 0x%llx)",
			  e->flags, LW_KNOWN_FLAGS);
		return -EINVAL;
	}
	if (e->data_len > ss - LW_HEADER_SIZE) {
		entry_err(err, errlen, idx, off,
			  "data_len %" PRIu64 " does not fit in the header block (at most %" PRIu64 ")",
			  e->data_len, ss - LW_HEADER_SIZE);
		return -EINVAL;
	}
	if (e->flags & LW_MARK) {
		if (e->flags != LW_MARK) {
			entry_err(err, errlen, idx, off,
				  "a mark with other flags too (0x%" PRIx64 ")",
				  e->flags);
			return -EINVAL;
		}
		if (e->nr_sectors) {
			entry_err(err, errlen, idx, off,
				  "a mark with nr_sectors %" PRIu64 " (expected 0)",
				  e->nr_sectors);
			return -EINVAL;
		}
		ret = pread_full(log->fd, e->mark, e->data_len,
				 off + LW_HEADER_SIZE);
		if (ret) {
			entry_err(err, errlen, idx, off,
				  "reading the mark's name: %s",
				  read_errstr(ret));
			return ret == -ENODATA ? -EINVAL : ret;
		}
		e->mark[e->data_len] = '\0';
		if (strlen(e->mark) != e->data_len) {
			entry_err(err, errlen, idx, off,
				  "the mark's name (%" PRIu64 " bytes) holds a NUL byte",
				  e->data_len);
			return -EINVAL;
		}
		e->data_off = off + LW_HEADER_SIZE;
	} else {
		/* The range in bytes, (sector + nr_sectors) * ss, must fit. */
		if (e->sector > UINT64_MAX / ss ||
		    e->nr_sectors > UINT64_MAX / ss - e->sector) {
			entry_err(err, errlen, idx, off,
				  "blocks %" PRIu64 " + %" PRIu64
				  " are past any device of %" PRIu64 "-byte blocks",
				  e->sector, e->nr_sectors, ss);
			return -EINVAL;
		}
		if (!(e->flags & LW_DISCARD)) {
			room = (log->size - off) / ss - 1;
			if (e->nr_sectors > room) {
				entry_err(err, errlen, idx, off,
					  "its %" PRIu64 " blocks of data run past the end of the log (%"
					  PRIu64 " bytes, room for %" PRIu64
					  "): truncated log or bad nr_sectors",
					  e->nr_sectors, log->size, room);
				return -EINVAL;
			}
			e->data_bytes = e->nr_sectors * ss;
			blocks += e->nr_sectors;
		}
	}
	log->next_index++;
	log->next_off += blocks * ss;
	return 1;
}

char *lw_flags_str(uint64_t flags, char *buf)
{
	static const struct {
		uint64_t flag;
		char c;
	} letters[] = {
		{ LW_FLUSH, 'F' }, { LW_FUA, 'U' }, { LW_DISCARD, 'D' },
		{ LW_MARK, 'M' }, { LW_METADATA, 'm' },
	};
	unsigned int i;

	for (i = 0; i < sizeof(letters) / sizeof(letters[0]); i++)
		buf[i] = flags & letters[i].flag ? letters[i].c : '-';
	if (flags & ~LW_KNOWN_FLAGS)
		buf[i++] = '?';
	buf[i] = '\0';
	return buf;
}

/* Is @e, not a mark, inside a target of @tsize bytes? */
static int check_target(const struct lw_log *log, const struct lw_entry *e,
			uint64_t tsize, char *err, size_t errlen)
{
	uint64_t end = (e->sector + e->nr_sectors) * log->sectorsize;

	if (end <= tsize)
		return 0;
	entry_err(err, errlen, e->index, e->off,
		  "%s of blocks [%" PRIu64 ", %" PRIu64 ") ends at byte %" PRIu64
		  ", past the end of the target (%" PRIu64 " bytes)",
		  e->flags & LW_DISCARD ? "discard" : "write", e->sector,
		  e->sector + e->nr_sectors, end, tsize);
	return -ERANGE;
}

static int copy_data(const struct lw_log *log, const struct lw_entry *e,
		     int tfd, uint8_t *buf, size_t buflen, char *err,
		     size_t errlen)
{
	uint64_t dst = e->sector * log->sectorsize, done;
	int ret;

	for (done = 0; done < e->data_bytes; done += buflen) {
		size_t len = e->data_bytes - done < buflen ?
			     e->data_bytes - done : buflen;

		ret = pread_full(log->fd, buf, len, e->data_off + done);
		if (ret) {
			entry_err(err, errlen, e->index, e->off,
				  "reading %zu bytes of data at byte %" PRIu64
				  " of the log: %s", len, e->data_off + done,
				  read_errstr(ret));
			return ret == -ENODATA ? -EIO : ret;
		}
		ret = pwrite_full(tfd, buf, len, dst + done);
		if (ret) {
			entry_err(err, errlen, e->index, e->off,
				  "writing %zu bytes at byte %" PRIu64
				  " of the target: %s", len, dst + done,
				  strerror(-ret));
			return ret;
		}
	}
	return 0;
}

/*
 * Zeroes over @e's range: BLKZEROOUT on a block device, a hole in a file,
 * else (or if those fail) written zeroes.
 */
static int zero_range(const struct lw_log *log, const struct lw_entry *e,
		      int tfd, uint8_t *buf, size_t buflen, char *err,
		      size_t errlen)
{
	uint64_t off = e->sector * log->sectorsize;
	uint64_t len = e->nr_sectors * log->sectorsize, done;
	struct stat st;
	int ret;

	if (!len)
		return 0;
	if (!fstat(tfd, &st)) {
		if (S_ISBLK(st.st_mode)) {
			uint64_t range[2] = { off, len };

			if (!ioctl(tfd, BLKZEROOUT, range))
				return 0;
		} else if (S_ISREG(st.st_mode)) {
			if (!fallocate(tfd, FALLOC_FL_PUNCH_HOLE |
				       FALLOC_FL_KEEP_SIZE, off, len))
				return 0;
		}
	}
	memset(buf, 0, buflen);
	for (done = 0; done < len; done += buflen) {
		size_t n = len - done < buflen ? len - done : buflen;

		ret = pwrite_full(tfd, buf, n, off + done);
		if (ret) {
			entry_err(err, errlen, e->index, e->off,
				  "zeroing %zu bytes at byte %" PRIu64
				  " of the target for a discard: %s", n,
				  off + done, strerror(-ret));
			return ret;
		}
	}
	return 0;
}

/* Apply @e with @buf (@buflen bytes, a multiple of the sectorsize). */
static int apply(const struct lw_log *log, const struct lw_entry *e, int tfd,
		 uint8_t *buf, size_t buflen, struct lw_stats *st, char *err,
		 size_t errlen)
{
	int ret;

	if (e->flags & LW_MARK) {
		st->marks++;
	} else if (e->flags & LW_DISCARD) {
		ret = zero_range(log, e, tfd, buf, buflen, err, errlen);
		if (ret)
			return ret;
		st->discards++;
		st->zeroed += e->nr_sectors * log->sectorsize;
	} else if (e->data_bytes) {
		ret = copy_data(log, e, tfd, buf, buflen, err, errlen);
		if (ret)
			return ret;
		st->writes++;
		st->bytes += e->data_bytes;
	}
	if (e->flags & LW_FLUSH)
		st->flushes++;
	if (e->flags & LW_FUA)
		st->fua++;
	st->entries++;
	return 0;
}

int lw_apply(const struct lw_log *log, const struct lw_entry *e,
	     int target_fd, uint64_t target_size, struct lw_stats *st,
	     char *err, size_t errlen)
{
	struct lw_stats dummy = { 0 };
	uint64_t need = 0;
	size_t buflen;
	uint8_t *buf;
	int ret;

	if (!st)
		st = &dummy;
	if (!(e->flags & LW_MARK)) {
		ret = check_target(log, e, target_size, err, errlen);
		if (ret)
			return ret;
		need = e->flags & LW_DISCARD ?
		       e->nr_sectors * log->sectorsize : e->data_bytes;
	}
	if (!need)
		return apply(log, e, target_fd, NULL, 0, st, err, errlen);
	buflen = need < LW_CHUNK ? need : LW_CHUNK;
	buf = malloc(buflen);
	if (!buf) {
		entry_err(err, errlen, e->index, e->off,
			  "no memory for a buffer of %zu bytes", buflen);
		return -ENOMEM;
	}
	ret = apply(log, e, target_fd, buf, buflen, st, err, errlen);
	free(buf);
	return ret;
}

static bool is_stop(const struct lw_entry *e, const char *stop_mark)
{
	return (e->flags & LW_MARK) && stop_mark && !strcmp(e->mark, stop_mark);
}

long lw_replay(struct lw_log *log, int target_fd, const char *stop_mark,
	       struct lw_stats *st, char *err, size_t errlen)
{
	struct lw_stats dummy;
	struct lw_entry e;
	uint64_t tsize, n = 0, i;
	bool found = false;
	uint8_t *buf;
	int ret;

	if (!st)
		st = &dummy;
	memset(st, 0, sizeof(*st));
	ret = lw_fd_size(target_fd, &tsize);
	if (ret) {
		size_err(err, errlen, "target", ret);
		return ret;
	}

	/* First the headers, so that nothing is written for a bad log. */
	lw_rewind(log);
	while ((ret = lw_next(log, &e, err, errlen)) == 1) {
		if (is_stop(&e, stop_mark)) {
			found = true;
			break;
		}
		if (!(e.flags & LW_MARK)) {
			ret = check_target(log, &e, tsize, err, errlen);
			if (ret)
				return ret;
		}
		n++;
	}
	if (ret < 0)
		return ret;
	if (stop_mark && !found) {
		seterr(err, errlen,
		       "mark \"%s\" is not in the %" PRIu64
		       " entries of the log; the target was not written",
		       stop_mark, log->nr_entries);
		return -ENOENT;
	}

	buf = malloc(LW_CHUNK);
	if (!buf) {
		seterr(err, errlen, "no memory for a buffer of %u bytes",
		       LW_CHUNK);
		return -ENOMEM;
	}
	lw_rewind(log);
	for (i = 0; i < n; i++) {
		ret = lw_next(log, &e, err, errlen);
		if (!ret) {
			seterr(err, errlen,
			       "log entry %" PRIu64 " gone on reading it again",
			       i);
			ret = -EIO;
		}
		if (ret < 0)
			goto out;
		ret = apply(log, &e, target_fd, buf, LW_CHUNK, st, err, errlen);
		if (ret)
			goto out;
	}
	if (fdatasync(target_fd)) {
		ret = -errno;
		seterr(err, errlen, "syncing the target: %s", strerror(errno));
		goto out;
	}
	ret = 0;
out:
	free(buf);
	return ret ? ret : (long)n;
}
