// SPDX-License-Identifier: GPL-2.0-only
/*
 * The backend's expected content. The fuzzer owns three windows of the
 * backend: its first 2 MiB, its last 2 MiB and a larger one somewhere in
 * the middle (--region-mib). Each window's outer 1 MiB is a guard band no
 * request aims at: nothing may ever change there. Every sector of a window
 * has the set of contents it may hold (hashes): one once settled, more while
 * a write is in flight or after a write whose fate is unknown (the owner was
 * killed, the device was reset or closed under it). A read settles the
 * sector on what it found, if that is in the set.
 *
 * The windows are pattern-filled (lib/pattern.c, generation 1) with O_DIRECT
 * before the first device exists and checked at the end twice: through a
 * fresh device and with O_DIRECT reads of the backend itself.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vfuzz.h"

#define GUARD_SECT	2048u		/* 1 MiB */
#define EDGE_SECT	(2 * GUARD_SECT)
#define CHUNK_SECT	2048u

uint64_t fz_hash_sector(const void *blk)
{
	const uint8_t *b = blk;
	uint64_t h = 0x9e3779b97f4a7c15ULL, w;
	unsigned int i;

	for (i = 0; i < VBLK_SECTOR / 8; i++) {
		memcpy(&w, b + 8 * i, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdULL;
		h ^= h >> 32;
	}
	return h;
}

struct fz_sect *fz_sect(struct fz_shadow *sw, uint64_t sector)
{
	unsigned int i;

	for (i = 0; i < sw->nw; i++) {
		struct fz_win *w = &sw->w[i];

		if (sector >= w->first && sector - w->first < w->n)
			return &w->s[sector - w->first];
	}
	return NULL;
}

bool fz_in_window(struct fz_shadow *sw, uint64_t sector, uint64_t n,
		  bool target)
{
	unsigned int i;

	for (i = 0; i < sw->nw; i++) {
		struct fz_win *w = &sw->w[i];
		uint64_t f = target ? w->tfirst : w->first;
		uint64_t len = target ? w->tn : w->n;

		if (sector >= f && sector - f <= len && n <= len - (sector - f))
			return true;
	}
	return false;
}

bool fz_claimable(struct fz_shadow *sw, uint64_t sector, uint64_t n)
{
	uint64_t i;

	for (i = 0; i < n; i++) {
		struct fz_sect *s = fz_sect(sw, sector + i);

		if (s && s->claim)
			return false;
	}
	return true;
}

void fz_claim(struct fz_shadow *sw, uint64_t sector, uint64_t n)
{
	uint64_t i;

	for (i = 0; i < n; i++) {
		struct fz_sect *s = fz_sect(sw, sector + i);

		if (s)
			s->claim = 1;
	}
	if (sw->nclaims == sw->cap_claims) {
		sw->cap_claims = sw->cap_claims ? 2 * sw->cap_claims : 256;
		sw->claims = realloc(sw->claims,
				     sw->cap_claims * sizeof(*sw->claims));
		if (!sw->claims)
			abort();
	}
	sw->claims[sw->nclaims].off = sector;
	sw->claims[sw->nclaims].len = n;
	sw->nclaims++;
}

void fz_unclaim_round(struct fz_shadow *sw)
{
	size_t i;
	uint64_t k;

	for (i = 0; i < sw->nclaims; i++)
		for (k = 0; k < sw->claims[i].len; k++) {
			struct fz_sect *s = fz_sect(sw, sw->claims[i].off + k);

			if (s)
				s->claim = 0;
		}
	sw->nclaims = 0;
}

void fz_unclaim_all(struct fz_shadow *sw)
{
	unsigned int i;
	uint64_t k;

	for (i = 0; i < sw->nw; i++)
		for (k = 0; k < sw->w[i].n; k++)
			sw->w[i].s[k].claim = 0;
	sw->nclaims = 0;
}

/*
 * The updates below are ordered so that a process killed in the middle of
 * one (the owner-kill child works on the shared shadow) leaves a superset
 * of the truth, never less.
 */
bool fz_pend(struct fz_shadow *sw, uint64_t sector, uint64_t h, uint32_t gen)
{
	struct fz_sect *s = fz_sect(sw, sector);
	unsigned int i;

	if (!s || s->loose)
		return false;
	for (i = 0; i < s->n; i++)
		if (s->h[i] == h)
			return false;
	if (s->n == FZ_ALTS) {
		s->loose = 1;
		return false;
	}
	s->h[s->n] = h;
	s->gen[s->n] = gen;
	__atomic_store_n(&s->n, s->n + 1, __ATOMIC_RELEASE);
	return true;
}

void fz_unpend(struct fz_shadow *sw, uint64_t sector, uint64_t h)
{
	struct fz_sect *s = fz_sect(sw, sector);
	unsigned int i;

	if (!s || s->loose || s->n < 2)
		return;
	for (i = 1; i < s->n; i++)
		if (s->h[i] == h) {
			s->h[i] = s->h[s->n - 1];
			s->gen[i] = s->gen[s->n - 1];
			s->n--;
			return;
		}
}

void fz_settle(struct fz_shadow *sw, uint64_t sector, uint64_t h, uint32_t gen)
{
	struct fz_sect *s = fz_sect(sw, sector);

	if (!s)
		return;
	s->h[0] = h;
	s->gen[0] = gen;
	__atomic_store_n(&s->n, 1, __ATOMIC_RELEASE);
	s->loose = 0;
}

static uint64_t align_down(uint64_t x, uint64_t a)
{
	return x / a * a;
}

int fz_shadow_init(struct fz_run *run)
{
	struct fz_shadow *sw = &run->sw;
	uint64_t cap = run->base.capacity, unit, total = 0, main_n, room, off;
	uint64_t tail_end, head_end;
	unsigned int i;
	uint8_t zero[VBLK_SECTOR];
	struct fz_sect *mem;

	memset(sw, 0, sizeof(*sw));
	sw->seed = run->o.seed;
	memset(zero, 0, sizeof(zero));
	sw->zero_hash = fz_hash_sector(zero);
	unit = run->base.lbs / VBLK_SECTOR;
	if (unit < 8)
		unit = 8;
	if (cap < 8 * EDGE_SECT + 8192)
		return fz_fail(run, "the backend has %" PRIu64 " sectors; vfuzz needs at least %u (%u MiB)",
			       cap, 8 * EDGE_SECT + 8192,
			       (8 * EDGE_SECT + 8192) / 2048);
	head_end = EDGE_SECT;
	tail_end = align_down(cap, unit);
	main_n = (uint64_t)run->o.region_mib * 2048;
	room = tail_end - EDGE_SECT - head_end;
	if (main_n + EDGE_SECT > room)
		main_n = align_down(room - EDGE_SECT, unit);
	off = align_down(fz_below(&run->rng, room - main_n - EDGE_SECT + 1),
			 unit);
	sw->w[0] = (struct fz_win){ 0, EDGE_SECT, 0, GUARD_SECT, NULL };
	sw->w[1] = (struct fz_win){ head_end + off, main_n + EDGE_SECT,
				    head_end + off + GUARD_SECT, main_n, NULL };
	sw->w[2] = (struct fz_win){ tail_end - EDGE_SECT, EDGE_SECT,
				    tail_end - GUARD_SECT, GUARD_SECT, NULL };
	sw->nw = 3;
	for (i = 0; i < sw->nw; i++)
		total += sw->w[i].n;
	mem = mmap(NULL, total * sizeof(*mem), PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return fz_fail(run, "no memory for the shadow of %" PRIu64 " sectors: %s",
			       total, strerror(errno));
	for (i = 0; i < sw->nw; i++) {
		sw->w[i].s = mem;
		mem += sw->w[i].n;
	}
	fz_note(run, "windows: [%" PRIu64 ", +%" PRIu64 ") [%" PRIu64 ", +%" PRIu64 ") [%" PRIu64 ", +%" PRIu64 ") of %" PRIu64 " sectors",
		sw->w[0].first, sw->w[0].n, sw->w[1].first, sw->w[1].n,
		sw->w[2].first, sw->w[2].n, cap);
	return 0;
}

/* Open the backend for the checker's own I/O: O_DIRECT if it can be. */
static int open_direct(struct fz_run *run, int flags, bool *direct)
{
	int fd = open(run->o.backend, flags | O_DIRECT | O_CLOEXEC);

	*direct = fd >= 0;
	if (fd < 0)
		fd = open(run->o.backend, flags | O_CLOEXEC);
	if (fd < 0)
		fz_fail(run, "cannot open the backend %s: %s", run->o.backend,
			strerror(errno));
	return fd;
}

int fz_shadow_fill(struct fz_run *run)
{
	struct fz_shadow *sw = &run->sw;
	uint8_t *buf;
	unsigned int i;
	bool direct;
	int fd, ret = 0;

	fd = open_direct(run, O_RDWR, &direct);
	if (fd < 0)
		return -1;
	if (posix_memalign((void **)&buf, 4096, CHUNK_SECT * VBLK_SECTOR)) {
		close(fd);
		return fz_fail(run, "out of memory");
	}
	for (i = 0; i < sw->nw && !ret; i++) {
		struct fz_win *w = &sw->w[i];
		uint64_t k;

		for (k = 0; k < w->n && !ret; k += CHUNK_SECT) {
			uint64_t n = w->n - k < CHUNK_SECT ? w->n - k : CHUNK_SECT;
			uint64_t j;
			ssize_t r;

			vblk_pat_fill(buf, w->first + k, (unsigned int)n,
				      sw->seed, 1);
			r = pwrite(fd, buf, n * VBLK_SECTOR,
				   (off_t)((w->first + k) * VBLK_SECTOR));
			if (r != (ssize_t)(n * VBLK_SECTOR)) {
				ret = fz_fail(run, "filling the backend at sector %" PRIu64 ": %s",
					      w->first + k,
					      r < 0 ? strerror(errno) : "short write");
				break;
			}
			for (j = 0; j < n; j++)
				fz_settle(sw, w->first + k + j,
					  fz_hash_sector(buf + j * VBLK_SECTOR), 1);
		}
	}
	if (!ret && !direct && fsync(fd))
		ret = fz_fail(run, "fsync of the backend: %s", strerror(errno));
	free(buf);
	close(fd);
	return ret;
}

/* What a block holds, in words. */
static void describe(const uint8_t *blk, uint64_t sector, uint64_t seed,
		     char *buf, size_t len)
{
	struct vblk_pat_info f;
	enum vblk_pat_result r = vblk_pat_check(blk, sector, seed, 0, &f);

	switch (r) {
	case VBLK_PAT_ZERO:
		snprintf(buf, len, "zeros");
		break;
	case VBLK_PAT_NOT_PATTERN:
		snprintf(buf, len, "bytes that are no pattern block (%02x %02x %02x %02x ...)",
			 blk[0], blk[1], blk[2], blk[3]);
		break;
	case VBLK_PAT_CORRUPT:
		snprintf(buf, len, "a torn or damaged pattern block (claims sector %" PRIu64 " write #%" PRIu64 ")",
			 f.sector, f.gen);
		break;
	default:
		snprintf(buf, len, "the pattern block of sector %" PRIu64 " write #%" PRIu64 "%s",
			 f.sector, f.gen,
			 f.seed != seed ? " of another run" : "");
		break;
	}
}

static void expected(const struct fz_sect *s, char *buf, size_t len)
{
	size_t n = 0;
	unsigned int i;

	buf[0] = 0;
	for (i = 0; i < s->n && n + 40 < len; i++) {
		const char *sep = i ? " or " : "";

		if (s->gen[i] == FZ_GEN_ZERO)
			n += snprintf(buf + n, len - n, "%szeros", sep);
		else if (s->gen[i] == FZ_GEN_OTHER)
			n += snprintf(buf + n, len - n, "%sthe bytes of a malformed write", sep);
		else
			n += snprintf(buf + n, len - n, "%swrite #%u", sep,
				      s->gen[i]);
	}
}

/*
 * After a wrong read: what the backend itself holds there, read with
 * O_DIRECT (the device) and through the page cache, so a failure tells a
 * wrong block on the device from a wrong read or a stale cached page.
 */
static void backend_holds(struct fz_run *run, uint64_t sector, char *buf,
			  size_t len)
{
	char direct[160] = "unreadable", cached[160] = "unreadable";
	off_t page = (off_t)(sector * VBLK_SECTOR) & ~(off_t)4095;
	size_t in = (size_t)((off_t)(sector * VBLK_SECTOR) - page);
	uint8_t *blk;
	int fd;

	if (posix_memalign((void **)&blk, 4096, 4096)) {
		snprintf(buf, len, "(no memory to read the backend)");
		return;
	}
	/* Not open_direct(): no second failure, no buffered stand-in. */
	fd = open(run->o.backend, O_RDONLY | O_DIRECT | O_CLOEXEC);
	if (fd >= 0) {
		if (pread(fd, blk, 4096, page) == 4096)
			describe(blk + in, sector, run->sw.seed, direct,
				 sizeof(direct));
		close(fd);
	}
	if (pread(run->bfd, blk, 4096, page) == 4096)
		describe(blk + in, sector, run->sw.seed, cached, sizeof(cached));
	snprintf(buf, len, "; the backend holds %s (O_DIRECT), %s (page cache)",
		 direct, cached);
	free(blk);
}

int fz_shadow_check(struct fz_run *run, uint64_t sector, const uint8_t *blk,
		    const char *how)
{
	struct fz_sect *s = fz_sect(&run->sw, sector);
	char got[160], want[200], now[400];
	uint64_t h;
	unsigned int i;

	if (!s)
		return 0;
	run->sh->c.data_checked++;
	h = fz_hash_sector(blk);
	if (s->loose) {
		struct vblk_pat_info f;

		vblk_pat_check(blk, sector, run->sw.seed, 0, &f);
		fz_settle(&run->sw, sector, h, (uint32_t)f.gen);
		return 0;
	}
	for (i = 0; i < s->n; i++)
		if (s->h[i] == h) {
			fz_settle(&run->sw, sector, h, s->gen[i]);
			return 0;
		}
	describe(blk, sector, run->sw.seed, got, sizeof(got));
	expected(s, want, sizeof(want));
	backend_holds(run, sector, now, sizeof(now));
	return fz_fail(run, "%s: sector %" PRIu64 " holds %s; expected %s%s",
		       how, sector, got, want, now);
}

/* Read every window through a fresh device and compare. */
int fz_verify_device(struct fz_run *run)
{
	struct fz_dev dv;
	struct vblk_vq *vq;
	unsigned int i;
	uint8_t *buf;
	int ret = 0;

	if (fz_dev_up(run, &dv, true))
		return -1;
	vq = &dv.d.vq[0];
	buf = vblk_mem_alloc(&dv.d.mem, CHUNK_SECT * VBLK_SECTOR, 4096);
	if (!buf) {
		fz_dev_down(&dv);
		return fz_fail(run, "no guest memory for the final check");
	}
	for (i = 0; i < run->sw.nw && !ret; i++) {
		struct fz_win *w = &run->sw.w[i];
		uint64_t k;

		for (k = 0; k < w->n && !ret; k += 256) {
			uint64_t n = w->n - k < 256 ? w->n - k : 256, j;
			uint32_t used = 0;
			int st;

			memset(buf, 0xa5, n * VBLK_SECTOR);
			st = vblk_rw(vq, VIRTIO_BLK_T_IN, w->first + k, buf,
				     n * VBLK_SECTOR, NULL, &used);
			if (st != VIRTIO_BLK_S_OK || used != n * VBLK_SECTOR + 1) {
				ret = fz_fail(run, "final check through a fresh device: read of %" PRIu64 " sectors at %" PRIu64 " gave %s (used len %u): %s",
					      n, w->first + k,
					      st < 0 ? strerror(-st) : fz_status_name(st),
					      used, st < 0 ? vq->err : "");
				break;
			}
			for (j = 0; j < n && !ret; j++)
				ret = fz_shadow_check(run, w->first + k + j,
						      buf + j * VBLK_SECTOR,
						      "final check through a fresh device");
		}
	}
	fz_dev_down(&dv);
	return ret;
}

/* Read every window straight from the backend and compare. */
int fz_verify_direct(struct fz_run *run)
{
	uint8_t *buf;
	unsigned int i;
	bool direct;
	int fd, ret = 0;

	fd = open_direct(run, O_RDONLY, &direct);
	if (fd < 0)
		return -1;
	if (!direct)
		fz_note(run, "the final backend check reads through the page cache: %s refuses O_DIRECT",
			run->o.backend);
	if (posix_memalign((void **)&buf, 4096, CHUNK_SECT * VBLK_SECTOR)) {
		close(fd);
		return fz_fail(run, "out of memory");
	}
	for (i = 0; i < run->sw.nw && !ret; i++) {
		struct fz_win *w = &run->sw.w[i];
		uint64_t k;

		for (k = 0; k < w->n && !ret; k += CHUNK_SECT) {
			uint64_t n = w->n - k < CHUNK_SECT ? w->n - k : CHUNK_SECT;
			uint64_t j;
			ssize_t r = pread(fd, buf, n * VBLK_SECTOR,
					  (off_t)((w->first + k) * VBLK_SECTOR));

			if (r != (ssize_t)(n * VBLK_SECTOR)) {
				ret = fz_fail(run, "final O_DIRECT read of the backend at sector %" PRIu64 ": %s",
					      w->first + k,
					      r < 0 ? strerror(errno) : "short read");
				break;
			}
			for (j = 0; j < n && !ret; j++)
				ret = fz_shadow_check(run, w->first + k + j,
						      buf + j * VBLK_SECTOR,
						      "final O_DIRECT read of the backend");
		}
	}
	free(buf);
	close(fd);
	return ret;
}
