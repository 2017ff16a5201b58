// SPDX-License-Identifier: GPL-2.0-only
/* Numbers on the command lines of the test programs. */
#include <errno.h>
#include <stdlib.h>

#include "vblk.h"

int vblk_parse_uint(const char *s, uint64_t max, uint64_t *v)
{
	unsigned long long x;
	char *end;

	errno = 0;
	x = strtoull(s, &end, 0);
	if (errno || !*s || *end || x > max)
		return -1;
	*v = x;
	return 0;
}
