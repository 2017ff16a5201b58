// SPDX-License-Identifier: GPL-2.0-only
/* Pattern blocks: what the verifier catches. */
#include <stdlib.h>
#include <string.h>

#include "unit.h"

#define SEED	0xabcdef12345ULL

static int t_roundtrip(struct ut *t)
{
	uint8_t buf[8 * 512];
	struct vblk_pat_info f;
	char msg[200];
	unsigned int i;

	vblk_pat_fill(buf, 1000, 8, SEED, 42);
	CHECK(t, vblk_pat_verify(buf, 1000, 8, SEED, 42, msg, sizeof(msg)) < 0,
	      "fresh blocks: %s", msg);
	for (i = 0; i < 8; i++) {
		CHECK(t, vblk_pat_check(buf + 512 * i, 1000 + i, SEED, 42, &f) ==
		      VBLK_PAT_OK && f.sector == 1000 + i && f.gen == 42 &&
		      f.seed == SEED, "block %u does not describe itself", i);
	}
	/* Different sectors and writes give different bytes throughout. */
	CHECK(t, memcmp(buf + 40, buf + 512 + 40, 472),
	      "payloads of neighbouring sectors are equal");
	return 0;
}

static int t_flips(struct ut *t)
{
	uint8_t buf[512];
	unsigned int pos, bit;

	for (pos = 0; pos < 512; pos++)
		for (bit = 0; bit < 8; bit += 3) {
			enum vblk_pat_result r;

			vblk_pat_fill(buf, 77, 1, SEED, 3);
			buf[pos] ^= 1u << bit;
			r = vblk_pat_check(buf, 77, SEED, 3, NULL);
			CHECK(t, r == (pos < 8 ? VBLK_PAT_NOT_PATTERN :
				       VBLK_PAT_CORRUPT),
			      "bit %u of byte %u flipped: result %d", bit, pos, r);
		}
	/* A block torn between two writes of the same sector. */
	vblk_pat_fill(buf, 77, 1, SEED, 3);
	{
		uint8_t other[512];

		vblk_pat_fill(other, 77, 1, SEED, 4);
		memcpy(buf + 256, other + 256, 256);
	}
	CHECK(t, vblk_pat_check(buf, 77, SEED, 3, NULL) == VBLK_PAT_CORRUPT &&
	      vblk_pat_check(buf, 77, SEED, 4, NULL) == VBLK_PAT_CORRUPT,
	      "torn block accepted");
	return 0;
}

static int t_identity(struct ut *t)
{
	uint8_t buf[512];
	struct vblk_pat_info f;
	char msg[300];

	vblk_pat_fill(buf, 10, 1, SEED, 5);
	CHECK(t, vblk_pat_check(buf, 11, SEED, 5, &f) == VBLK_PAT_MISPLACED &&
	      f.sector == 10, "block of sector 10 read at 11 accepted");
	vblk_pat_explain(msg, sizeof(msg), VBLK_PAT_MISPLACED, 11, 5, &f);
	CHECK(t, strstr(msg, "sector 11") && strstr(msg, "sector 10"),
	      "explanation: %s", msg);
	CHECK(t, vblk_pat_check(buf, 10, SEED, 6, &f) == VBLK_PAT_STALE &&
	      f.gen == 5, "write #5 accepted as #6");
	vblk_pat_explain(msg, sizeof(msg), VBLK_PAT_STALE, 10, 6, &f);
	CHECK(t, strstr(msg, "#5") && strstr(msg, "#6"), "explanation: %s", msg);
	CHECK(t, vblk_pat_check(buf, 10, SEED + 1, 5, &f) == VBLK_PAT_FOREIGN,
	      "block of another run accepted");
	memset(buf, 0, sizeof(buf));
	CHECK(t, vblk_pat_check(buf, 10, SEED, 5, NULL) == VBLK_PAT_ZERO,
	      "zeros not recognised");
	buf[300] = 1;
	CHECK(t, vblk_pat_check(buf, 10, SEED, 5, NULL) == VBLK_PAT_NOT_PATTERN,
	      "garbage not recognised");
	return 0;
}

static int t_verify_index(struct ut *t)
{
	uint8_t buf[8 * 512];
	char msg[200];
	long bad;

	vblk_pat_fill(buf, 200, 8, SEED, 9);
	buf[5 * 512 + 100] ^= 0x10;
	bad = vblk_pat_verify(buf, 200, 8, SEED, 9, msg, sizeof(msg));
	CHECK(t, bad == 5, "bad block reported at %ld", bad);
	CHECK(t, strstr(msg, "sector 205") && strstr(msg, "checksum"),
	      "message: %s", msg);
	/* Two blocks swapped: misplaced data. */
	vblk_pat_fill(buf, 200, 8, SEED, 9);
	memcpy(buf + 512, buf, 512);
	bad = vblk_pat_verify(buf, 200, 8, SEED, 9, msg, sizeof(msg));
	CHECK(t, bad == 1 && strstr(msg, "sector 200"), "duplicated block: %ld %s",
	      bad, msg);
	return 0;
}

const struct ut_case ut_pattern_cases[] = {
	{ "pattern-roundtrip", t_roundtrip },
	{ "pattern-flips", t_flips },
	{ "pattern-identity", t_identity },
	{ "pattern-verify-index", t_verify_index },
	{ NULL, NULL },
};
