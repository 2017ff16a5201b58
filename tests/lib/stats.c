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

/*
 * Read "key value" lines of @path into @val[i] for @keys[i], @n of them:
 * 0, -errno if the file cannot be read, -EINVAL if a key is missing.
 */
static int read_counters(const char *path, const char *const *keys,
			 long *val, unsigned int n)
{
	FILE *f = fopen(path, "r");
	unsigned int i, found = 0;
	char key[64];
	long v;

	for (i = 0; i < n; i++)
		val[i] = 0;
	if (!f)
		return -errno;
	while (fscanf(f, "%63s %ld", key, &v) == 2)
		for (i = 0; i < n; i++)
			if (!strcmp(key, keys[i])) {
				val[i] = v;
				found |= 1u << i;
			}
	fclose(f);
	return found == (1u << n) - 1 ? 0 : -EINVAL;
}

int vblk_read_stats(struct vblk_stats *s)
{
	static const char *const keys[] = { "devices", "requests",
					    "pinned_pages" };
	long v[3] = { 0 };
	int ret = read_counters(VBLK_STATS_PATH, keys, v, 3);

	s->devices = v[0];
	s->requests = v[1];
	s->pinned_pages = v[2];
	return ret;
}

int vblk_read_events(struct vblk_events *e)
{
	static const char *const keys[] = { "layout_bios", "layout_recalls",
					    "layout_remaps", "dio_deferred" };
	long v[4] = { 0 };
	int ret = read_counters(VBLK_EVENTS_PATH, keys, v, 4);

	e->layout_bios = v[0];
	e->layout_recalls = v[1];
	e->layout_remaps = v[2];
	e->dio_deferred = v[3];
	return ret;
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
	struct vblk_stats s = { 0 };
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
