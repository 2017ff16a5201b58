// SPDX-License-Identifier: GPL-2.0-only
/*
 * Failures, notes, progress, the summary, and the module's own counters
 * (/sys/kernel/debug/vhost_blk/stats, page pins in /proc/vmstat).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vfuzz.h"


int fz_fail(struct fz_run *run, const char *fmt, ...)
{
	char msg[sizeof(run->sh->fail) - 64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!run->sh->failed) {
		run->sh->failed = 1;
		snprintf(run->sh->fail, sizeof(run->sh->fail), "%s%s", msg,
			 run->is_child ? " (in the owner child)" : "");
	}
	run->sh->c.failures++;
	if (run->printed_fails++ < 20)
		fprintf(stderr, "vfuzz: FAIL: %s (seed %" PRIu64 ", round %" PRIu64 "%s)\n",
			msg, run->o.seed, run->round_seq,
			run->is_child ? ", in the owner child" : "");
	return -1;
}

void fz_note(struct fz_run *run, const char *fmt, ...)
{
	va_list ap;

	(void)run;
	fputs("# ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

uint64_t fz_sent(const struct fz_run *run)
{
	uint64_t n = 0;
	unsigned int k;

	for (k = 0; k < FZ_NKINDS; k++)
		n += run->sh->c.sent[k];
	return n;
}

bool fz_stop(struct fz_run *run)
{
	if (run->sh->failed && !run->o.keep_going)
		return true;
	if (run->o.requests && fz_sent(run) >= run->o.requests)
		return true;
	return run->deadline_ms && vblk_now_ms() >= run->deadline_ms;
}

void fz_progress(struct fz_run *run, bool force)
{
	int64_t now = vblk_now_ms();
	struct fz_counters *c = &run->sh->c;
	double secs = (double)(now - run->t0_ms) / 1000.0;

	if (!force && now - (int64_t)run->last_report_ms < 10000)
		return;
	run->last_report_ms = (uint64_t)now;
	fprintf(stderr, "vfuzz: %6.0f s: %" PRIu64 " requests (%.0f/s), %" PRIu64 " devices, %" PRIu64 " rings broken, %" PRIu64 " failures\n",
		secs, fz_sent(run), secs > 0 ? (double)fz_sent(run) / secs : 0.0,
		c->devices, c->rings_broken, c->failures);
}

const char *fz_status_name(int status)
{
	static char buf[48];

	return vblk_status_str(status, buf, sizeof(buf));
}

const char *fz_kind_name(int kind)
{
	static const char *const n[FZ_NKINDS] = {
		"well-formed", "malformed", "junk chains", "heads offered again",
		"stray entries / index jumps",
	};

	return kind >= 0 && kind < FZ_NKINDS ? n[kind] : "?";
}

const char *fz_event_name(int ev)
{
	static const char *const n[FZ_NEVENTS] = {
		[FZ_EV_NONE] = "none",
		[FZ_EV_MEM_SAME] = "same memory table",
		[FZ_EV_MEM_SHRINK] = "memory table shrunk and restored",
		[FZ_EV_MEM_BAD] = "bad memory tables",
		[FZ_EV_DETACH] = "detach and re-attach",
		[FZ_EV_BAD_IOCTL] = "bad ioctls",
		[FZ_EV_RESET] = "RESET_OWNER",
		[FZ_EV_CLOSE] = "close",
		[FZ_EV_KICKS] = "kick storms",
		[FZ_EV_WORKER] = "queues moved to new workers",
		[FZ_EV_REATTACH] = "re-attach read-only / engine",
		[FZ_EV_SERIAL] = "new serial",
		[FZ_EV_RECALL] = "layout recalls",
		[FZ_EV_OWNER_KILL] = "owner SIGKILLed",
	};

	return ev >= 0 && ev < FZ_NEVENTS && n[ev] ? n[ev] : "?";
}

void fz_summary(struct fz_run *run, double secs)
{
	struct fz_counters *c = &run->sh->c;
	uint64_t sent = fz_sent(run), mal = sent - c->sent[FZ_WF];
	struct vblk_events ev;
	unsigned int k;

	printf("vfuzz: seed %" PRIu64 ", backend %s%s, %.1f s of fuzzing\n",
	       run->o.seed, run->o.backend, run->o.direct ? " (O_DIRECT)" : "",
	       secs);
	printf("requests made available: %" PRIu64 " (well-formed %" PRIu64 ", malformed %" PRIu64 ":",
	       sent, c->sent[FZ_WF], mal);
	for (k = FZ_MAL; k < FZ_NKINDS; k++)
		printf("%s %s %" PRIu64, k == FZ_MAL ? "" : ",", fz_kind_name(k),
		       c->sent[k]);
	printf(")\n");
	printf("completions: %" PRIu64 " (OK %" PRIu64 ", IOERR %" PRIu64 ", UNSUPP %" PRIu64 ", no status byte %" PRIu64 ")\n",
	       c->completions, c->status[0], c->status[1], c->status[2],
	       c->status[3]);
	printf("rings broken: %" PRIu64 " (chains the vhost core refused), requests stranded behind them: %" PRIu64 ", completions made optional by RESET_OWNER / close: %" PRIu64 "\n",
	       c->rings_broken, c->stranded, c->unsure);
	printf("devices created: %" PRIu64 ", rounds: %" PRIu64 ", sectors read back and compared: %" PRIu64 "\n",
	       c->devices, c->rounds, c->data_checked);
	printf("events:");
	for (k = 1; k < FZ_NEVENTS; k++)
		printf("%s %s %" PRIu64, k == 1 ? "" : ",", fz_event_name(k),
		       c->events[k]);
	printf("\n");
	printf("dirty log: %" PRIu64 " devices logging, %" PRIu64 " rounds checked (%" PRIu64 " with VHOST_F_LOG_ALL off, %" PRIu64 " switched mid-round), %" PRIu64 " pages found logged as they must be, %" PRIu64 " rounds that logged and signalled the log's eventfd, %" PRIu64 " rounds not checked (RESET_OWNER / close)\n",
	       c->log_devices, c->log_rounds, c->log_rounds_off,
	       c->log_toggles, c->log_pages, c->log_signalled,
	       c->log_skipped);
	if (run->has_layout && !vblk_read_events(&ev))
		printf("layout: %ld requests sent to the file's blocks, %ld layouts recalled, %ld taken again (the module's counts)\n",
		       ev.layout_bios - run->ev0.layout_bios,
		       ev.layout_recalls - run->ev0.layout_recalls,
		       ev.layout_remaps - run->ev0.layout_remaps);
	if (run->o.direct && !run->is_blk && !vblk_read_events(&ev))
		printf("deferred: %ld direct writes ended by the worker for the file system (the module's count)\n",
		       ev.dio_deferred - run->ev0.dio_deferred);
	printf("throughput: %.0f requests/s\n", secs > 0 ? (double)sent / secs : 0.0);
	if (run->sh->failed)
		printf("FAIL vfuzz: %s (seed %" PRIu64 "; %" PRIu64 " failures)\n",
		       run->sh->fail, run->o.seed, c->failures);
	else
		printf("PASS vfuzz\n");
	fflush(stdout);
}

/*
 * The module's counters and the page pins are back to zero. Not with
 * --shared: other programs' devices count too; their caller checks after.
 */
int fz_check_clean(struct fz_run *run, const char *after, int timeout_s)
{
	char msg[256];

	if (run->o.shared)
		return 0;
	switch (vblk_wait_clean(timeout_s, msg, sizeof(msg))) {
	case VBLK_CLEAN:
		return 0;
	case VBLK_UNCHECKED:
		fz_note(run, "%s: %s", after, msg);
		return 1;
	default:
		return fz_fail(run, "%s: %s", after, msg);
	}
}
