// SPDX-License-Identifier: GPL-2.0-only
/*
 * The seeded random stream: xoshiro256** (Blackman, Vigna) seeded through
 * splitmix64, so any 64-bit seed gives a good state. Everything the fuzzer
 * decides comes from here, so a seed replays the same sequence of actions.
 */
#include <string.h>

#include "vfuzz.h"

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

void fz_rng_seed(struct fz_rng *r, uint64_t seed)
{
	unsigned int i;

	for (i = 0; i < 4; i++)
		r->s[i] = vblk_splitmix(&seed);
}

uint64_t fz_next(struct fz_rng *r)
{
	uint64_t *s = r->s;
	uint64_t res = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return res;
}

uint64_t fz_below(struct fz_rng *r, uint64_t n)
{
	if (!n)
		return 0;
	/* Lemire's multiply-shift; the bias is irrelevant here. */
	return (uint64_t)(((unsigned __int128)fz_next(r) * n) >> 64);
}

uint64_t fz_range(struct fz_rng *r, uint64_t lo, uint64_t hi)
{
	if (hi <= lo)
		return lo;
	if (lo == 0 && hi == UINT64_MAX)
		return fz_next(r);
	return lo + fz_below(r, hi - lo + 1);
}

bool fz_pm(struct fz_rng *r, unsigned int per_mille)
{
	return fz_below(r, 1000) < per_mille;
}

unsigned int fz_pick(struct fz_rng *r, const unsigned int *w, unsigned int n)
{
	uint64_t sum = 0, x;
	unsigned int i;

	for (i = 0; i < n; i++)
		sum += w[i];
	x = fz_below(r, sum);
	for (i = 0; i < n; i++) {
		if (x < w[i])
			return i;
		x -= w[i];
	}
	return n - 1;
}

void fz_fill(struct fz_rng *r, void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len >= 8) {
		uint64_t v = fz_next(r);

		memcpy(p, &v, 8);
		p += 8;
		len -= 8;
	}
	if (len) {
		uint64_t v = fz_next(r);

		memcpy(p, &v, len);
	}
}
