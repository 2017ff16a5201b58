// SPDX-License-Identifier: GPL-2.0-only
/*
 * Self-describing 512-byte blocks. Little-endian 64-bit words:
 *
 *   0 magic   1 sector   2 seed (the run)   3 gen (the write)   4 checksum
 *   5..63 payload, a function of (seed, sector, gen, word)
 *
 * The checksum chains every other word through a step that is a bijection
 * of the running value for a fixed word and of the word for a fixed running
 * value, so any change confined to one word always changes it.
 */
#include <endian.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "vblk.h"

#define WORDS		(VBLK_SECTOR / 8)
#define W_MAGIC		0
#define W_SECTOR	1
#define W_SEED		2
#define W_GEN		3
#define W_CSUM		4
#define W_PAYLOAD	5

static uint64_t get64(const uint8_t *b, unsigned int w)
{
	uint64_t v;

	memcpy(&v, b + 8 * w, 8);
	return le64toh(v);
}

static void put64(uint8_t *b, unsigned int w, uint64_t v)
{
	v = htole64(v);
	memcpy(b + 8 * w, &v, 8);
}

static uint64_t csum_step(uint64_t h, uint64_t w)
{
	h ^= w;
	h *= 0xff51afd7ed558ccdULL;	/* odd: invertible */
	return h ^ (h >> 32);		/* invertible */
}

static uint64_t block_csum(const uint8_t *b)
{
	uint64_t h = 0x6a09e667f3bcc909ULL;
	unsigned int w;

	for (w = 0; w < WORDS; w++)
		if (w != W_CSUM)
			h = csum_step(h, get64(b, w));
	return h;
}

void vblk_pat_fill(void *buf, uint64_t sector, unsigned int nblocks,
		   uint64_t seed, uint64_t gen)
{
	unsigned int i, w;

	for (i = 0; i < nblocks; i++) {
		uint8_t *b = (uint8_t *)buf + (size_t)i * VBLK_SECTOR;
		uint64_t s = seed ^ (sector + i) * 0xd6e8feb86659fd93ULL ^
			     gen * 0xa0761d6478bd642fULL;

		put64(b, W_MAGIC, VBLK_PAT_MAGIC);
		put64(b, W_SECTOR, sector + i);
		put64(b, W_SEED, seed);
		put64(b, W_GEN, gen);
		for (w = W_PAYLOAD; w < WORDS; w++)
			put64(b, w, vblk_splitmix(&s));
		put64(b, W_CSUM, block_csum(b));
	}
}

enum vblk_pat_result vblk_pat_check(const void *blk, uint64_t sector,
				    uint64_t seed, uint64_t gen,
				    struct vblk_pat_info *found)
{
	const uint8_t *b = blk;
	struct vblk_pat_info dummy;
	unsigned int w;

	if (!found)
		found = &dummy;
	memset(found, 0, sizeof(*found));
	if (get64(b, W_MAGIC) != VBLK_PAT_MAGIC) {
		for (w = 0; w < WORDS; w++)
			if (get64(b, w))
				return VBLK_PAT_NOT_PATTERN;
		return VBLK_PAT_ZERO;
	}
	found->sector = get64(b, W_SECTOR);
	found->seed = get64(b, W_SEED);
	found->gen = get64(b, W_GEN);
	if (get64(b, W_CSUM) != block_csum(b))
		return VBLK_PAT_CORRUPT;
	if (found->seed != seed)
		return VBLK_PAT_FOREIGN;
	if (found->sector != sector)
		return VBLK_PAT_MISPLACED;
	if (found->gen != gen)
		return VBLK_PAT_STALE;
	return VBLK_PAT_OK;
}

const char *vblk_pat_explain(char *buf, size_t len, enum vblk_pat_result res,
			     uint64_t sector, uint64_t gen,
			     const struct vblk_pat_info *f)
{
	switch (res) {
	case VBLK_PAT_OK:
		snprintf(buf, len, "sector %" PRIu64 ": fine (write #%" PRIu64 ")",
			 sector, gen);
		break;
	case VBLK_PAT_ZERO:
		snprintf(buf, len, "sector %" PRIu64 ": zeros where write #%" PRIu64 " should be",
			 sector, gen);
		break;
	case VBLK_PAT_NOT_PATTERN:
		snprintf(buf, len, "sector %" PRIu64 ": not a pattern block (garbage) where write #%" PRIu64 " should be",
			 sector, gen);
		break;
	case VBLK_PAT_CORRUPT:
		snprintf(buf, len, "sector %" PRIu64 ": checksum mismatch (torn or damaged block claiming sector %" PRIu64 " write #%" PRIu64 "; expected write #%" PRIu64 ")",
			 sector, f->sector, f->gen, gen);
		break;
	case VBLK_PAT_FOREIGN:
		snprintf(buf, len, "sector %" PRIu64 ": a block of another run (seed %#" PRIx64 ", sector %" PRIu64 ", write #%" PRIu64 ") where write #%" PRIu64 " should be",
			 sector, f->seed, f->sector, f->gen, gen);
		break;
	case VBLK_PAT_MISPLACED:
		snprintf(buf, len, "sector %" PRIu64 ": holds the block of sector %" PRIu64 " (write #%" PRIu64 "), expected its own from write #%" PRIu64,
			 sector, f->sector, f->gen, gen);
		break;
	case VBLK_PAT_STALE:
		snprintf(buf, len, "sector %" PRIu64 ": holds write #%" PRIu64 ", expected write #%" PRIu64,
			 sector, f->gen, gen);
		break;
	}
	return buf;
}

long vblk_pat_verify(const void *buf, uint64_t sector, unsigned int nblocks,
		     uint64_t seed, uint64_t gen, char *msg, size_t len)
{
	unsigned int i;

	for (i = 0; i < nblocks; i++) {
		struct vblk_pat_info f;
		enum vblk_pat_result r;

		r = vblk_pat_check((const uint8_t *)buf + (size_t)i * VBLK_SECTOR,
				   sector + i, seed, gen, &f);
		if (r != VBLK_PAT_OK) {
			vblk_pat_explain(msg, len, r, sector + i, gen, &f);
			return i;
		}
	}
	return -1;
}
