// SPDX-License-Identifier: GPL-2.0-only
/* The names of the engines (uapi VHOST_BLK_ENGINE_*), for options and reports. */
#include <string.h>

#include "vblk.h"

int vblk_engine_parse(const char *name, uint32_t *engine)
{
	if (!strcmp(name, "auto"))
		*engine = VHOST_BLK_ENGINE_AUTO;
	else if (!strcmp(name, "kiocb"))
		*engine = VHOST_BLK_ENGINE_KIOCB;
	else if (!strcmp(name, "bio"))
		*engine = VHOST_BLK_ENGINE_BIO;
	else
		return -1;
	return 0;
}

const char *vblk_engine_name(uint32_t engine)
{
	switch (engine) {
	case VHOST_BLK_ENGINE_AUTO:
		return "auto";
	case VHOST_BLK_ENGINE_KIOCB:
		return "kiocb";
	case VHOST_BLK_ENGINE_BIO:
		return "bio";
	}
	return "unknown";
}
