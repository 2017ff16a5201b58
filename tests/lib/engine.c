// SPDX-License-Identifier: GPL-2.0-only
/* Names for options and messages: the engines (uapi VHOST_BLK_ENGINE_*), errnos. */
#include <errno.h>
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

const char *vblk_errno_name(int err)
{
	static const struct { int e; const char *n; } tab[] = {
		{ 0, "success" }, { EPERM, "EPERM" }, { ENOENT, "ENOENT" },
		{ EBADF, "EBADF" }, { EACCES, "EACCES" }, { EFAULT, "EFAULT" },
		{ EBUSY, "EBUSY" }, { EINVAL, "EINVAL" }, { ENOTTY, "ENOTTY" },
		{ ENOSPC, "ENOSPC" }, { EROFS, "EROFS" }, { ENOTBLK, "ENOTBLK" },
		{ EOPNOTSUPP, "EOPNOTSUPP" }, { ENXIO, "ENXIO" },
		{ ENODEV, "ENODEV" }, { ENOMEM, "ENOMEM" }, { EIO, "EIO" },
		{ ETIMEDOUT, "ETIMEDOUT" }, { EPROTO, "EPROTO" },
		{ ESPIPE, "ESPIPE" }, { EEXIST, "EEXIST" }, { ENOBUFS, "ENOBUFS" },
		{ E2BIG, "E2BIG" },
	};
	unsigned int i;

	if (err < 0)
		err = -err;
	for (i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		if (tab[i].e == err)
			return tab[i].n;
	return strerror(err);
}
