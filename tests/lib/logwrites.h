/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Reading and replaying the log of the device-mapper log-writes target
 * (Documentation/admin-guide/device-mapper/log-writes.rst).
 *
 * The log device holds, all little-endian:
 *
 *   byte 0:           super block { u64 magic, u64 version, u64 nr_entries,
 *                     u32 sectorsize }, in a block of sectorsize bytes;
 *   byte sectorsize:  entries, one after the other, each a header block of
 *                     sectorsize bytes starting with { u64 sector,
 *                     u64 nr_sectors, u64 flags, u64 data_len }, then for a
 *                     write its nr_sectors blocks of data.
 *
 * sectorsize is the logical block size of the logged device, and sector and
 * nr_sectors count blocks of that size (not 512-byte sectors). An entry is
 *
 *   - a mark (LW_MARK): its name, data_len bytes without a NUL, follows the
 *     32-byte header inside the header block; 1 block in all;
 *   - a discard (LW_DISCARD): no data in the log, 1 block; replayed as zeroes
 *     over its range (what a discard leaves is not guaranteed; zeroes are
 *     what our checks expect);
 *   - anything else, a write, maybe with LW_FLUSH and/or LW_FUA: header then
 *     nr_sectors blocks of data, 1 + nr_sectors blocks. An empty flush has
 *     nr_sectors 0 and no data.
 *
 * When the target logs what (this is what makes a replay meaningful): a
 * write without FUA is logged only once a later flush has completed, and it
 * is placed before that flush's entry; a FUA write is logged when it
 * completes; a mark when it is sent (dmsetup message ... mark NAME). So the
 * log replayed up to a mark gives exactly what a device with a volatile
 * write cache is guaranteed to hold at that moment, if it lost its cache
 * then: the replay is a crash image. Removing the target adds a last mark,
 * "dm-log-writes-end", after the writes still waiting for a flush.
 *
 * The super's nr_entries is written only with FUA and mark entries, so the
 * log may hold entries past it; they are not guaranteed to be complete, and
 * this reader reads exactly nr_entries entries, never more.
 *
 * All functions return a negative errno on failure and put a message saying
 * what is wrong in @err (@errlen bytes; @err may be NULL), e.g. "log entry
 * 17 at byte 123904: ...": -EINVAL for a log that makes no sense (bad magic,
 * version or sectorsize, a truncated log, an impossible header), -ERANGE for
 * an entry outside the target, -ENOENT for a mark not found, or the errno of
 * a failed system call. No global state: everything is in struct lw_log.
 */
#ifndef VBLK_LOGWRITES_H
#define VBLK_LOGWRITES_H

#include <stddef.h>
#include <stdint.h>

#define LW_MAGIC		0x6a736677736872ULL
#define LW_VERSION		1ULL

/* Entry flags. */
#define LW_FLUSH		(1ULL << 0)
#define LW_FUA			(1ULL << 1)
#define LW_DISCARD		(1ULL << 2)
#define LW_MARK			(1ULL << 3)
#define LW_METADATA		(1ULL << 4)
#define LW_KNOWN_FLAGS		0x1fULL

/* Sizes of the on-disk structures. */
#define LW_SUPER_SIZE		28u
#define LW_HEADER_SIZE		32u

/* The sector sizes read: powers of two in this range. */
#define LW_MIN_SECTORSIZE	512u
#define LW_MAX_SECTORSIZE	4096u
#define LW_MAX_MARK		(LW_MAX_SECTORSIZE - LW_HEADER_SIZE)

/* Replays copy data in chunks of at most this many bytes. */
#define LW_CHUNK		(1u << 20)

struct lw_log {
	int fd;
	uint64_t size;		/* bytes of the log device or file */
	uint64_t version;
	uint64_t nr_entries;	/* from the super: the entries read */
	uint32_t sectorsize;
	/* Iteration. */
	uint64_t next_index;	/* the next entry lw_next() returns */
	uint64_t next_off;	/* byte offset of its header block */
};

struct lw_entry {
	uint64_t index;		/* 0 for the first entry */
	uint64_t off;		/* byte offset of the header block in the log */
	uint64_t sector;	/* in blocks of sectorsize */
	uint64_t nr_sectors;	/* in blocks of sectorsize */
	uint64_t flags;		/* LW_* */
	uint64_t data_len;	/* as in the header (a mark's name length) */
	uint64_t data_off;	/* byte offset of the data in the log */
	uint64_t data_bytes;	/* bytes of data in the log: 0 but for writes */
	char mark[LW_MAX_MARK + 1];	/* a mark's name, NUL-terminated */
};

/* What a replay did. */
struct lw_stats {
	uint64_t entries;	/* entries applied, marks included */
	uint64_t writes;	/* entries with data */
	uint64_t flushes;	/* entries with LW_FLUSH, empty ones included */
	uint64_t fua;		/* entries with LW_FUA */
	uint64_t discards;
	uint64_t marks;		/* marks passed (not the one stopped at) */
	uint64_t bytes;		/* data bytes written */
	uint64_t zeroed;	/* bytes zeroed for discards */
};

/*
 * Read and check the super block of the log on @fd (a block device or a
 * file, opened for reading) and get ready to read its first entry. @log
 * only keeps @fd, which the caller closes.
 */
int lw_open(struct lw_log *log, int fd, char *err, size_t errlen);

/*
 * The next entry into @e: 1, or 0 after the last of the super's nr_entries
 * (and again on each call after it), or a negative errno for an entry that
 * makes no sense or cannot be read. Checks the header only, not the data.
 */
int lw_next(struct lw_log *log, struct lw_entry *e, char *err, size_t errlen);

/* Make lw_next() start again at the first entry. */
void lw_rewind(struct lw_log *log);

/*
 * Replay the log, from its first entry whatever lw_next() read, onto
 * @target_fd (opened for writing; a file or block device as large as the
 * logged device), up to the first mark named @stop_mark, which is not
 * counted, or over all entries if @stop_mark is NULL. Writes go in chunks
 * of at most LW_CHUNK bytes; discards become zeroes; the target is synced
 * at the end. Returns the number of entries applied, or a negative errno.
 *
 * All the headers to apply are read and checked before anything is
 * written: a log that makes no sense before the mark, an entry that does
 * not fit in the target, and a mark that is not in the log (-ENOENT) leave
 * the target untouched. Only an I/O error while applying leaves it
 * partly written. @st (may be NULL) is zeroed, then counts what was done.
 * After a replay, lw_next() goes on with the entry after the last one
 * applied: the stop mark, if there was one.
 */
long lw_replay(struct lw_log *log, int target_fd, const char *stop_mark,
	       struct lw_stats *st, char *err, size_t errlen);

/*
 * Apply the one entry @e, just read by lw_next() from @log, to @target_fd,
 * a target of @target_size bytes (lw_fd_size()): write its data, zero a
 * discard's range, nothing for a mark or an empty flush. An entry that does
 * not fit in the target is an error (-ERANGE) and writes nothing. Adds what
 * it did to @st if not NULL. Does not sync. 0 or a negative errno. For
 * callers that check the target between entries; lw_replay() is the rest.
 */
int lw_apply(const struct lw_log *log, const struct lw_entry *e,
	     int target_fd, uint64_t target_size, struct lw_stats *st,
	     char *err, size_t errlen);

/*
 * @flags as letters, one a flag, '-' when clear: F flush, U FUA, D discard,
 * M mark, m metadata; then '?' if unknown bits are set. @buf must hold 7
 * bytes. Returns @buf.
 */
char *lw_flags_str(uint64_t flags, char *buf);

/* Size in bytes of the file or block device @fd into *@size; -errno. */
int lw_fd_size(int fd, uint64_t *size);

#endif /* VBLK_LOGWRITES_H */
