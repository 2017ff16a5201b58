// SPDX-License-Identifier: GPL-2.0-only
/* Time and randomness for the workloads of the test programs. */
#include <time.h>

#include "vblk.h"

double vblk_elapsed(const struct timespec *since)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - since->tv_sec) +
	       (now.tv_nsec - since->tv_nsec) / 1e9;
}

uint64_t vblk_rand(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545f4914f6cdd1dULL;
}
