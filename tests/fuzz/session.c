// SPDX-License-Identifier: GPL-2.0-only
/*
 * A device from start to close: set up with random options, rounds until a
 * ring breaks, the device is closed under its requests, it has had its
 * share of rounds, or the run is over.
 */
#include "vfuzz.h"

int fz_session(struct fz_run *run, uint64_t max_rounds)
{
	struct fz_dev dv;
	uint64_t rounds = fz_range(&run->rng, 5, 300), i;
	int ret = 0;

	if (max_rounds && rounds > max_rounds)
		rounds = max_rounds;
	if (fz_dev_up(run, &dv, false)) {
		fz_dev_down(&dv);
		return -1;
	}
	for (i = 0; i < rounds && !dv.broken && !fz_stop(run); i++) {
		if (fz_round(&dv)) {
			ret = -1;
			break;
		}
		if (!run->is_child)
			fz_progress(run, false);
	}
	fz_dev_down(&dv);
	return ret;
}
