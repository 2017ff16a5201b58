// SPDX-License-Identifier: GPL-2.0-only
/*
 * Dirty logging for live migration (docs/api.md, "Dirty logging") on
 * about a third of the devices: VHOST_SET_LOG_BASE with a bitmap of one bit
 * a 4 KiB guest page up to the end of the alias window (the highest guest
 * address any table has), VHOST_SET_LOG_FD, VHOST_VRING_F_LOG with the used
 * ring's guest address on every queue, and VHOST_F_LOG_ALL acked.
 *
 * The log is cleared when a round starts. Once the round is drained, with
 * VHOST_F_LOG_ALL on all through it, every page of every device-writable
 * descriptor (with bytes; indirect tables' too) of each chain that got a
 * used entry must be logged: the model keeps them (fz_outcome.wdesc, guest
 * addresses, what vhost_get_vq_desc() puts in its log). And in every round
 * checked no page may be logged but those and the used rings' (the vhost
 * core logs the used ring whenever VHOST_VRING_F_LOG is set); with LOG_ALL
 * off all through the round, the used rings' only. A round in which
 * anything was logged must have signalled the log's eventfd at least once
 * (read without blocking at the round's start and end).
 * A device starts with LOG_ALL on mostly, off else; in a tenth of its
 * rounds LOG_ALL is switched, on or off, with requests in flight:
 * the ioctl waits for them, it must not hang, and which of the round's
 * requests were logged then depends on timing, so only "nothing else" is
 * checked there.
 *
 * Disturbances: memory-table changes, detach and re-attach, bad ioctls,
 * worker moves and kick storms leave the log set up, and their rounds are
 * checked like any. RESET_OWNER forgets the log and the features: the
 * round it happens in ends without draining, so it is not checked, and the
 * log is set up again right after the device is (round.c, reset_owner()).
 * A close ends the device and its round, unchecked. An owner SIGKILLed
 * takes its devices, log and all, with it: a child's rounds are checked by
 * the child up to its last full round. Every device is new, log and all.
 *
 * The LD_PRELOAD stand-in (unit/fake-vhost-blk.c) accepts VHOST_F_LOG_ALL
 * but keeps no log: without /sys/module/vhost_blk no device logs (the draw
 * is still made, so a seed gives the same devices either way).
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vfuzz.h"

#define LOG_PAGE	VBLK_LOG_PAGE
/* Bits up to the end of the alias window: A | B | unmapped. */
#define LOG_PAGES	((FZ_ALIAS_GPA + 3ull * FZ_ALIAS_LEN) / LOG_PAGE)
#define LOG_MAP		(((LOG_PAGES / 8 + 1) + LOG_PAGE - 1) & ~(uint64_t)(LOG_PAGE - 1))

void fz_log_init(struct fz_run *run)
{
	struct stat st;

	run->log_ok = !stat("/sys/module/vhost_blk", &st);
	if (!run->log_ok)
		printf("vfuzz: no /sys/module/vhost_blk (a stand-in keeps no dirty log): no device logs\n");
}

static void *log_map(void)
{
	void *p = mmap(NULL, LOG_MAP, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static int log_features(struct fz_dev *dv, bool on)
{
	if (vblk_dev_log_all(&dv->d, on))
		return fz_fail(dv->run, "device #%u: %s", dv->id, dv->d.err);
	dv->log_on = on;
	return 0;
}

int fz_log_setup(struct fz_dev *dv)
{
	unsigned int q;

	if (!dv->log)
		return 0;
	if (vblk_dev_set_log(&dv->d, dv->log_bits, dv->log_efd))
		return fz_fail(dv->run, "device #%u: %s", dv->id, dv->d.err);
	for (q = 0; q < dv->d.nvq; q++)
		if (vblk_dev_log_vring(&dv->d, q, true,
				       fz_gpa(dv, dv->d.vq[q].used, 4)))
			return fz_fail(dv->run, "device #%u: %s", dv->id,
				       dv->d.err);
	return log_features(dv, dv->log_on);
}

int fz_log_dev(struct fz_dev *dv, bool simple)
{
	struct fz_run *run = dv->run;

	dv->log_efd = -1;
	if (simple)
		return 0;
	dv->log = fz_pm(&run->rng, 333) && run->log_ok;
	if (!dv->log)
		return 0;
	dv->log_bits = log_map();
	dv->log_allowed = log_map();
	dv->log_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (!dv->log_bits || !dv->log_allowed || dv->log_efd < 0)
		return fz_fail(run, "device #%u: memory for a dirty log: %s",
			       dv->id, strerror(errno));
	/* Mostly on from the start; off until a round switches it on. */
	dv->log_on = fz_pm(&run->rng, 850);
	run->sh->c.log_devices++;
	return fz_log_setup(dv);
}

void fz_log_free(struct fz_dev *dv)
{
	if (dv->log)
		fz_note(dv->run, "device #%u: dirty log: %" PRIu64 " rounds checked (%" PRIu64 " with logging off, %" PRIu64 " that logged and signalled the log's eventfd), %" PRIu64 " pages found logged as they must be, logging switched %" PRIu64 " times mid-round",
			dv->id, dv->log_rounds, dv->log_rounds_off,
			dv->log_signalled, dv->log_pages, dv->log_toggles);
	if (dv->log_bits)
		munmap(dv->log_bits, LOG_MAP);
	if (dv->log_allowed)
		munmap(dv->log_allowed, LOG_MAP);
	if (dv->log_efd >= 0)
		close(dv->log_efd);
	dv->log_bits = NULL;
	dv->log_allowed = NULL;
	dv->log_efd = -1;
	dv->log = false;
}

void fz_log_round_start(struct fz_dev *dv)
{
	if (!dv->log)
		return;
	/* Nothing is in flight: the previous round was drained. */
	madvise(dv->log_bits, LOG_MAP, MADV_DONTNEED);
	madvise(dv->log_allowed, LOG_MAP, MADV_DONTNEED);
	vblk_log_events(dv->log_efd);
	dv->log_was_on = dv->log_on;
	dv->log_toggled = false;
}

int fz_log_maybe_toggle(struct fz_dev *dv)
{
	struct fz_run *run = dv->run;
	int64_t t0;

	if (!dv->log || !fz_pm(&run->rng, 100))
		return 0;
	t0 = vblk_now_ms();
	if (log_features(dv, !dv->log_on))
		return -1;
	if (vblk_now_ms() - t0 > (int64_t)run->o.timeout_s * 1000)
		return fz_fail(run, "device #%u: switching VHOST_F_LOG_ALL %s with requests in flight took %" PRId64 " ms",
			       dv->id, dv->log_on ? "on" : "off",
			       vblk_now_ms() - t0);
	dv->log_toggled = true;
	dv->log_toggles++;
	run->sh->c.log_toggles++;
	return 0;
}

static bool bit(const uint8_t *bits, uint64_t page)
{
	return page < LOG_PAGES && (bits[page / 8] >> (page % 8)) & 1;
}

static void allow(struct fz_dev *dv, uint64_t gpa, uint64_t len)
{
	uint64_t p;

	for (p = gpa / LOG_PAGE; p <= (gpa + len - 1) / LOG_PAGE && p < LOG_PAGES; p++)
		dv->log_allowed[p / 8] |= (uint8_t)(1u << (p % 8));
}

/*
 * A logged page outside those of @mask (NULL: any logged page): its page
 * number, or UINT64_MAX.
 */
static uint64_t logged_beyond(struct fz_dev *dv, const uint8_t *mask)
{
	static unsigned char vec[LOG_MAP / LOG_PAGE];
	const uint64_t *l = (const uint64_t *)dv->log_bits;
	const uint64_t *a = (const uint64_t *)mask;
	uint64_t i, j, w;

	/* Only the pages of the log something wrote are worth reading. */
	if (mincore(dv->log_bits, LOG_MAP, vec))
		memset(vec, 1, sizeof(vec));
	for (i = 0; i < LOG_MAP / LOG_PAGE; i++) {
		if (!(vec[i] & 1))
			continue;
		for (j = i * (LOG_PAGE / 8); j < (i + 1) * (LOG_PAGE / 8); j++) {
			w = l[j] & (a ? ~a[j] : ~0ull);
			if (w)
				return j * 64 + (uint64_t)__builtin_ctzll(w);
		}
	}
	return UINT64_MAX;
}

/*
 * The device logged page @p in this round: the log's eventfd must have
 * fired (vhost_log_write() and the used ring's logging signal it right
 * after they write the log; the used index may be seen a moment before,
 * so a signal not there yet is waited for, up to a second).
 */
static int check_signalled(struct fz_dev *dv, uint64_t p)
{
	struct pollfd pfd = { .fd = dv->log_efd, .events = POLLIN };

	if (vblk_log_events(dv->log_efd) ||
	    (poll(&pfd, 1, 1000) == 1 && vblk_log_events(dv->log_efd))) {
		dv->log_signalled++;
		dv->run->sh->c.log_signalled++;
		return 0;
	}
	return fz_fail(dv->run, "device #%u: page %#" PRIx64 " was logged in this round (VHOST_F_LOG_ALL %s), but the log's eventfd (VHOST_SET_LOG_FD) was not signalled within a second",
		       dv->id, p * LOG_PAGE,
		       dv->log_toggled ? "switched mid-round" :
		       dv->log_on ? "on" : "off");
}

int fz_log_check(struct fz_dev *dv)
{
	struct fz_run *run = dv->run;
	bool must = dv->log_was_on && !dv->log_toggled;
	bool any = dv->log_was_on || dv->log_toggled;
	struct fz_req *r;
	uint64_t p, pages = 0;
	unsigned int q, i;

	if (!dv->log)
		return 0;
	for (q = 0; q < dv->nq; q++) {
		struct vblk_vq *vq = &dv->d.vq[q];

		allow(dv, fz_gpa(dv, vq->used, 4), 4 + 8ull * vq->num + 2);
	}
	for (r = dv->reqs; r; r = r->next) {
		if (!r->got)
			continue;
		for (i = 0; i < r->out.nwdesc; i++) {
			const struct fz_wdesc *w = &r->out.wdesc[i];
			uint64_t last = (w->gpa + w->len - 1) / LOG_PAGE;

			if (any)
				allow(dv, w->gpa, w->len);
			if (!must)
				continue;
			for (p = w->gpa / LOG_PAGE; p <= last; p++, pages++)
				if (!bit(dv->log_bits, p))
					return fz_fail(run, "device #%u queue %u: %s (head %u) completed, but page %#" PRIx64 " of its writable descriptor %u (gpa %#" PRIx64 ", %u bytes) is not in the dirty log",
						       dv->id, r->q, r->what, r->head,
						       p * LOG_PAGE, i, w->gpa, w->len);
		}
	}
	p = logged_beyond(dv, dv->log_allowed);
	if (p != UINT64_MAX)
		return fz_fail(run, "device #%u: page %#" PRIx64 " is in the dirty log (VHOST_F_LOG_ALL %s), but it is no used ring's and no writable descriptor of a request completed in the round has it",
			       dv->id, p * LOG_PAGE,
			       dv->log_toggled ? "switched mid-round" :
			       dv->log_on ? "on" : "off");
	p = logged_beyond(dv, NULL);
	if (p != UINT64_MAX && check_signalled(dv, p))
		return -1;
	dv->log_rounds++;
	dv->log_pages += pages;
	run->sh->c.log_rounds++;
	run->sh->c.log_pages += pages;
	if (!any) {
		dv->log_rounds_off++;
		run->sh->c.log_rounds_off++;
	}
	return 0;
}

void fz_log_skip(struct fz_dev *dv)
{
	if (dv->log)
		dv->run->sh->c.log_skipped++;
}
