// SPDX-License-Identifier: GPL-2.0-only
/*
 * A mark in a dm-log-writes log: the target message "mark NAME", sent
 * with the device-mapper ioctl (what "dmsetup message DM 0 mark NAME"
 * does, without a process for each).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/dm-ioctl.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "durable.h"

int dur_dm_mark(const char *dm, const char *name, char *err, size_t len)
{
	union {
		struct dm_ioctl io;
		char buf[sizeof(struct dm_ioctl) + sizeof(struct dm_target_msg) + 64];
	} u;
	struct dm_target_msg *msg;
	int fd, ret;

	memset(&u, 0, sizeof(u));
	u.io.version[0] = DM_VERSION_MAJOR;
	u.io.version[1] = DM_VERSION_MINOR;
	u.io.version[2] = DM_VERSION_PATCHLEVEL;
	u.io.data_size = sizeof(u);
	u.io.data_start = sizeof(struct dm_ioctl);
	if (strlen(dm) >= sizeof(u.io.name) || strlen(name) > 40) {
		snprintf(err, len, "device-mapper name %s or mark %s too long",
			 dm, name);
		return -1;
	}
	strcpy(u.io.name, dm);
	msg = (struct dm_target_msg *)(u.buf + sizeof(struct dm_ioctl));
	msg->sector = 0;
	snprintf(msg->message, sizeof(u.buf) - sizeof(struct dm_ioctl) -
		 offsetof(struct dm_target_msg, message), "mark %s", name);

	fd = open("/dev/mapper/control", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, len, "/dev/mapper/control: %s (is dm-mod loaded?)",
			 strerror(errno));
		return -1;
	}
	ret = ioctl(fd, DM_TARGET_MSG, &u);
	if (ret)
		snprintf(err, len, "mark %s on %s: %s (is it a log-writes target?)",
			 name, dm, strerror(errno));
	close(fd);
	return ret ? -1 : 0;
}
