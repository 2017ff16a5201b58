// SPDX-License-Identifier: GPL-2.0-only
/*
 * Is everything back? The module's counters in debugfs (devices, requests,
 * pinned pages; src/main.c) and the system's page pins (/proc/vmstat). And
 * the module's event counters (debugfs events).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "vblk.h"

int vblk_read_stats(struct vblk_stats *s)
{
	FILE *f = fopen(VBLK_STATS_PATH, "r");
	char key[64];
	long val;
	int found = 0;

	memset(s, 0, sizeof(*s));
	if (!f)
		return -errno;
	while (fscanf(f, "%63s %ld", key, &val) == 2) {
		if (!strcmp(key, "devices"))
			s->devices = val, found |= 1;
		else if (!strcmp(key, "requests"))
			s->requests = val, found |= 2;
		else if (!strcmp(key, "pinned_pages"))
			s->pinned_pages = val, found |= 4;
	}
	fclose(f);
	return found == 7 ? 0 : -EINVAL;
}

int vblk_read_events(struct vblk_events *e)
{
	FILE *f = fopen(VBLK_EVENTS_PATH, "r");
	char key[64];
	long val;
	int found = 0;

	memset(e, 0, sizeof(*e));
	if (!f)
		return -errno;
	while (fscanf(f, "%63s %ld", key, &val) == 2) {
		if (!strcmp(key, "layout_bios"))
			e->layout_bios = val, found |= 1;
		else if (!strcmp(key, "layout_recalls"))
			e->layout_recalls = val, found |= 2;
	}
	fclose(f);
	return found == 3 ? 0 : -EINVAL;
}

long vblk_page_pins(bool *known)
{
	FILE *f = fopen("/proc/sys/vm/stat_refresh", "w");
	long acq = -1, rel = -1, v;
	char key[64];

	*known = false;
	if (f) {		/* fold the per-CPU counters in (root only) */
		fputs("1\n", f);
		fclose(f);
	}
	f = fopen("/proc/vmstat", "r");
	if (!f)
		return 0;
	while (fscanf(f, "%63s %ld", key, &v) == 2) {
		if (!strcmp(key, "nr_foll_pin_acquired"))
			acq = v;
		else if (!strcmp(key, "nr_foll_pin_released"))
			rel = v;
	}
	fclose(f);
	if (acq < 0 || rel < 0)
		return 0;
	*known = true;
	return acq - rel;
}

enum vblk_clean vblk_wait_clean(int timeout_s, char *msg, size_t len)
{
	struct timespec pause = { 0, 100 * 1000 * 1000 };
	struct vblk_stats s;
	bool known = false;
	long pins = 0;
	int i, st = 0;

	for (i = 0; i <= timeout_s * 10; i++) {
		st = vblk_read_stats(&s);
		pins = vblk_page_pins(&known);
		if ((st || (!s.devices && !s.requests && !s.pinned_pages)) &&
		    !pins)
			break;
		nanosleep(&pause, NULL);
	}
	if (pins) {
		snprintf(msg, len, "page pins leaked: nr_foll_pin_acquired - nr_foll_pin_released = %ld after %d s",
			 pins, timeout_s);
		return VBLK_LEAKED;
	}
	if (st == -EINVAL) {
		snprintf(msg, len, "%s lacks devices/requests/pinned_pages lines",
			 VBLK_STATS_PATH);
		return VBLK_LEAKED;
	}
	if (st) {
		snprintf(msg, len, "%s is unreadable (%s; mount debugfs and run as root), so the module's counters are unchecked%s",
			 VBLK_STATS_PATH, strerror(-st),
			 known ? "" : " (no nr_foll_pin_* in /proc/vmstat either)");
		return VBLK_UNCHECKED;
	}
	if (s.devices || s.requests || s.pinned_pages) {
		snprintf(msg, len, "module counters not back to 0 after %d s: devices %ld, requests %ld, pinned_pages %ld",
			 timeout_s, s.devices, s.requests, s.pinned_pages);
		return VBLK_LEAKED;
	}
	msg[0] = 0;
	return VBLK_CLEAN;
}
