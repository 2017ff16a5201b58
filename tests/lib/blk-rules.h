/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The per-type checks vhost-blk makes of a request's sectors (src/req.c,
 * docs/api.md), in one place for the three device models: the fuzzer's
 * oracle (fuzz/model.c), the LD_PRELOAD fake (unit/fake-vhost-blk.c) and
 * the unit tests' device (unit/fakedev.c). Header-only, so the fake's .so
 * needs no other source.
 */
#ifndef VBLK_BLK_RULES_H
#define VBLK_BLK_RULES_H

#include <endian.h>
#include <stdbool.h>
#include <stdint.h>

#include <linux/virtio_blk.h>

/*
 * Are @bytes at @sector inside a disk of @capacity sectors, and aligned to
 * its logical block of @lbs bytes (a power of two)?
 */
static inline bool vblk_extent_ok(uint64_t capacity, uint32_t lbs,
				  uint64_t sector, uint64_t bytes)
{
	uint64_t nr = bytes >> 9;

	return sector <= UINT64_MAX >> 9 && !((sector << 9) & (lbs - 1)) &&
	       !(bytes & (lbs - 1)) && sector <= capacity &&
	       nr <= capacity - sector;
}

/*
 * One segment of a DISCARD (@discard) or WRITE_ZEROES: UNSUPP for flags it
 * does not know, IOERR for no sectors, more than @max_sectors or a bad
 * extent, else OK.
 */
static inline uint8_t
vblk_dwz_seg_status(bool discard, uint32_t max_sectors, uint64_t capacity,
		    uint32_t lbs, const struct virtio_blk_discard_write_zeroes *seg)
{
	uint32_t allowed = discard ? 0 : VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP;
	uint64_t sector = le64toh(seg->sector);
	uint32_t nr = le32toh(seg->num_sectors);

	if (le32toh(seg->flags) & ~allowed)
		return VIRTIO_BLK_S_UNSUPP;
	if (!nr || nr > max_sectors ||
	    !vblk_extent_ok(capacity, lbs, sector, (uint64_t)nr << 9))
		return VIRTIO_BLK_S_IOERR;
	return VIRTIO_BLK_S_OK;
}

#endif /* VBLK_BLK_RULES_H */
