// SPDX-License-Identifier: GPL-2.0-only
/* Split virtqueue: chains, used entries, notifications, raw chains. */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <pthread.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fakedev.h"
#include "unit.h"

#define MIB	(1u << 20)

/* Kicks the eventfd received since the last call. */
static uint64_t eventfd_count(int fd)
{
	uint64_t v;

	return read(fd, &v, sizeof(v)) == sizeof(v) ? v : 0;
}

/* The explicit form of the EVENT_IDX rule: event in [old, new). */
static bool in_window(uint16_t event, uint16_t new_idx, uint16_t old)
{
	uint16_t i;

	for (i = old; i != new_idx; i++)
		if (i == event)
			return true;
	return false;
}

static int t_need_event(struct ut *t)
{
	static const struct { uint16_t ev, nw, old; bool want; } tab[] = {
		{ 0, 1, 0, true }, { 1, 1, 0, false }, { 5, 10, 4, true },
		{ 4, 10, 4, true }, { 9, 10, 4, true }, { 10, 10, 4, false },
		{ 3, 10, 4, false }, { 7, 7, 7, false },
		{ 65535, 2, 65534, true }, { 1, 2, 65534, true },
		{ 2, 2, 65534, false }, { 65533, 2, 65534, false },
	};
	unsigned int i;

	for (i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		CHECK(t, vblk_need_event(tab[i].ev, tab[i].nw, tab[i].old) ==
		      tab[i].want, "need_event(event %u, new %u, old %u) != %d",
		      tab[i].ev, tab[i].nw, tab[i].old, tab[i].want);
	srand(3);
	for (i = 0; i < 20000; i++) {
		uint16_t old = (uint16_t)rand(), n = (uint16_t)(old + rand() % 300);
		uint16_t ev = (uint16_t)(old + rand() % 400 - 50);

		CHECK(t, vblk_need_event(ev, n, old) == in_window(ev, n, old),
		      "need_event(event %u, new %u, old %u)", ev, n, old);
	}
	return 0;
}

struct bufs3 {
	struct vblk_buf b[3];
	uint64_t gpa[3];
};

static void make3(struct vblk_mem *m, struct bufs3 *x)
{
	unsigned int i;

	x->b[0] = (struct vblk_buf){ vblk_mem_alloc(m, 16, 16), 16, false };
	x->b[1] = (struct vblk_buf){ vblk_mem_alloc(m, 4096, 4096), 4096, true };
	x->b[2] = (struct vblk_buf){ vblk_mem_alloc(m, 1, 1), 1, true };
	for (i = 0; i < 3; i++)
		vblk_mem_gpa(m, x->b[i].addr, x->b[i].len, &x->gpa[i]);
}

/* The device side of a used entry. */
static void put_used(struct vblk_vq *vq, uint16_t id, uint32_t len)
{
	uint16_t idx = le16toh(vq->used->idx);

	vq->used->ring[idx % vq->num].id = htole32(id);
	vq->used->ring[idx % vq->num].len = htole32(len);
	__atomic_store_n(&vq->used->idx, htole16(idx + 1), __ATOMIC_RELEASE);
}

static int check_chain(struct ut *t, const struct vring_desc *d,
		       unsigned int first, const struct bufs3 *x, bool indirect)
{
	unsigned int i = first, k;

	for (k = 0; k < 3; k++) {
		uint16_t want = (x->b[k].write ? VRING_DESC_F_WRITE : 0) |
				(k < 2 ? VRING_DESC_F_NEXT : 0);

		CHECK(t, le64toh(d[i].addr) == x->gpa[k],
		      "descriptor %u: addr %#llx, want gpa %#llx", k,
		      (unsigned long long)le64toh(d[i].addr),
		      (unsigned long long)x->gpa[k]);
		CHECK(t, le64toh(d[i].addr) != (uintptr_t)x->b[k].addr,
		      "descriptor %u holds a userspace address", k);
		CHECK(t, le32toh(d[i].len) == x->b[k].len,
		      "descriptor %u: len %u", k, le32toh(d[i].len));
		CHECK(t, le16toh(d[i].flags) == want,
		      "descriptor %u: flags %#x, want %#x", k,
		      le16toh(d[i].flags), want);
		if (indirect && k < 2)
			CHECK(t, le16toh(d[i].next) == k + 1,
			      "indirect entry %u: next %u", k, le16toh(d[i].next));
		i = le16toh(d[i].next);
	}
	return 0;
}

static int t_direct(struct ut *t)
{
	struct vblk_mem m;
	struct vblk_vq vq;
	struct vblk_used u;
	struct bufs3 x;
	int head, token;

	CHECK(t, !vblk_mem_init(&m, MIB), "mem");
	CHECK(t, !vblk_vq_init(&vq, &m, 0, 8), "vq: %s", vq.err);
	make3(&m, &x);
	head = vblk_vq_add(&vq, x.b, 3, false, &token, NULL);
	CHECK(t, head >= 0 && head < 8, "add: %d %s", head, vq.err);
	CHECK(t, vq.nfree == 5 && vq.inflight == 1, "nfree %u inflight %u",
	      vq.nfree, vq.inflight);
	CHECK(t, le16toh(vq.avail->idx) == 1 &&
	      le16toh(vq.avail->ring[0]) == head, "avail idx %u ring[0] %u",
	      le16toh(vq.avail->idx), le16toh(vq.avail->ring[0]));
	if (check_chain(t, vq.desc, head, &x, false))
		return 1;

	put_used(&vq, head, 77);
	CHECK(t, vblk_vq_has_used(&vq), "used entry not seen");
	CHECK(t, vblk_vq_get_used(&vq, &u) == 1 && u.known && u.id == (unsigned)head &&
	      u.len == 77 && u.token == &token, "used entry: id %u len %u known %d",
	      u.id, u.len, u.known);
	CHECK(t, vq.nfree == 8 && vq.inflight == 0,
	      "descriptors not returned: nfree %u inflight %u", vq.nfree,
	      vq.inflight);
	CHECK(t, vblk_vq_get_used(&vq, &u) == 0, "a second used entry");

	/* A used id that is not in flight is reported as unknown. */
	put_used(&vq, head, 1);
	CHECK(t, vblk_vq_get_used(&vq, &u) == 1 && !u.known,
	      "stale used id accepted");
	/* used->idx running ahead by more than the ring is a protocol error. */
	vq.used->idx = htole16(le16toh(vq.used->idx) + 20);
	CHECK(t, vblk_vq_get_used(&vq, &u) == -EPROTO, "used idx jump accepted");
	vblk_vq_destroy(&vq);
	vblk_mem_destroy(&m);
	return 0;
}

static int t_indirect(struct ut *t)
{
	struct vblk_mem m;
	struct vblk_vq vq;
	struct vblk_used u;
	struct vring_desc *table;
	struct bufs3 x;
	size_t before;
	int head, token;

	CHECK(t, !vblk_mem_init(&m, MIB), "mem");
	CHECK(t, !vblk_vq_init(&vq, &m, 0, 8), "vq: %s", vq.err);
	make3(&m, &x);
	before = vblk_mem_free_bytes(&m);
	head = vblk_vq_add(&vq, x.b, 3, true, &token, NULL);
	CHECK(t, head >= 0, "add: %s", vq.err);
	CHECK(t, vq.nfree == 7, "indirect chain took %u descriptors",
	      8 - vq.nfree);
	CHECK(t, le16toh(vq.desc[head].flags) == VRING_DESC_F_INDIRECT &&
	      le32toh(vq.desc[head].len) == 3 * sizeof(struct vring_desc),
	      "ring descriptor flags %#x len %u", le16toh(vq.desc[head].flags),
	      le32toh(vq.desc[head].len));
	table = vblk_mem_hva(&m, le64toh(vq.desc[head].addr), 48);
	CHECK(t, table, "indirect table gpa %#llx not in guest memory",
	      (unsigned long long)le64toh(vq.desc[head].addr));
	if (check_chain(t, table, 0, &x, true))
		return 1;
	put_used(&vq, head, 5);
	CHECK(t, vblk_vq_get_used(&vq, &u) == 1 && u.known && u.token == &token,
	      "indirect completion");
	CHECK(t, vq.nfree == 8 && vblk_mem_free_bytes(&m) == before,
	      "indirect table not freed (nfree %u, %zu of %zu bytes free)",
	      vq.nfree, vblk_mem_free_bytes(&m), before);
	vblk_vq_destroy(&vq);
	vblk_mem_destroy(&m);
	return 0;
}

static int t_full(struct ut *t)
{
	struct vblk_mem m;
	struct vblk_vq vq;
	struct bufs3 x;

	CHECK(t, !vblk_mem_init(&m, MIB), "mem");
	CHECK(t, !vblk_vq_init(&vq, &m, 0, 8), "vq: %s", vq.err);
	make3(&m, &x);
	CHECK(t, vblk_vq_add(&vq, x.b, 3, false, NULL, NULL) >= 0, "1st");
	CHECK(t, vblk_vq_add(&vq, x.b, 3, false, NULL, NULL) >= 0, "2nd");
	CHECK(t, vblk_vq_add(&vq, x.b, 3, false, NULL, NULL) == -ENOSPC,
	      "3 descriptors added with 2 free");
	CHECK(t, vq.nfree == 2 && le16toh(vq.avail->idx) == 2,
	      "failed add changed the ring: nfree %u avail idx %u", vq.nfree,
	      le16toh(vq.avail->idx));
	CHECK(t, vblk_vq_add(&vq, x.b, 3, true, NULL, NULL) >= 0, "indirect 1");
	CHECK(t, vblk_vq_add(&vq, x.b, 3, true, NULL, NULL) >= 0, "indirect 2");
	CHECK(t, vblk_vq_add(&vq, x.b, 3, true, NULL, NULL) == -ENOSPC,
	      "added to a full ring");
	CHECK(t, vblk_vq_init(&vq, &m, 0, 6) == -EINVAL,
	      "ring size 6 accepted");
	vblk_mem_destroy(&m);
	return 0;
}

static int add1(struct vblk_vq *vq, struct bufs3 *x)
{
	return vblk_vq_add(vq, &x->b[2], 1, false, NULL, NULL);
}

static int t_kick(struct ut *t)
{
	struct vblk_mem m;
	struct vblk_vq vq;
	struct bufs3 x;
	int i, r;

	CHECK(t, !vblk_mem_init(&m, MIB), "mem");
	CHECK(t, !vblk_vq_init(&vq, &m, 0, 8), "vq: %s", vq.err);
	make3(&m, &x);
	vq.event_idx = true;
	add1(&vq, &x);
	CHECK(t, vblk_vq_kick(&vq) == 1 && eventfd_count(vq.kick_fd) == 1,
	      "first kick not sent");
	CHECK(t, vblk_vq_kick(&vq) == 0 && eventfd_count(vq.kick_fd) == 0,
	      "kick with nothing new");
	/* The device asks to be kicked once avail idx passes 5. */
	*vq.avail_event = htole16(5);
	for (i = 2; i <= 7; i++) {
		add1(&vq, &x);
		r = vblk_vq_kick(&vq);
		CHECK(t, r == (i == 6), "avail idx %d, avail_event 5: kick %d",
		      i, r);
		CHECK(t, eventfd_count(vq.kick_fd) == (uint64_t)(i == 6),
		      "eventfd disagrees at avail idx %d", i);
	}
	/* A batch that jumps over the event index must kick. */
	vblk_vq_reset(&vq, 0);
	*vq.avail_event = htole16(1);
	add1(&vq, &x);
	add1(&vq, &x);
	add1(&vq, &x);
	CHECK(t, vblk_vq_kick(&vq) == 1, "batch over avail_event not kicked");

	/* Without EVENT_IDX, VRING_USED_F_NO_NOTIFY rules. */
	vblk_vq_reset(&vq, 0);
	vq.event_idx = false;
	vq.used->flags = htole16(VRING_USED_F_NO_NOTIFY);
	add1(&vq, &x);
	CHECK(t, vblk_vq_kick(&vq) == 0 && eventfd_count(vq.kick_fd) == 0,
	      "kicked despite NO_NOTIFY");
	vq.used->flags = 0;
	add1(&vq, &x);
	CHECK(t, vblk_vq_kick(&vq) == 1 && eventfd_count(vq.kick_fd) == 1,
	      "no kick without NO_NOTIFY");
	CHECK(t, vblk_vq_kick_force(&vq) == 1 && eventfd_count(vq.kick_fd) == 1,
	      "forced kick");
	vblk_vq_destroy(&vq);
	vblk_mem_destroy(&m);
	return 0;
}

static int t_wait_arms(struct ut *t)
{
	struct vblk_mem m;
	struct vblk_vq vq;
	struct vblk_used u;
	struct bufs3 x;
	int head;

	CHECK(t, !vblk_mem_init(&m, MIB), "mem");
	CHECK(t, !vblk_vq_init(&vq, &m, 0, 8), "vq: %s", vq.err);
	make3(&m, &x);
	vq.event_idx = true;
	vblk_vq_reset(&vq, 100);
	CHECK(t, le16toh(vq.avail->idx) == 100 && le16toh(vq.used->idx) == 100,
	      "reset to base 100: avail %u used %u", le16toh(vq.avail->idx),
	      le16toh(vq.used->idx));
	*vq.used_event = htole16(3);
	CHECK(t, vblk_vq_wait(&vq, 10) == -ETIMEDOUT, "wait on an empty ring");
	CHECK(t, le16toh(*vq.used_event) == 100,
	      "wait left used_event at %u, want 100", le16toh(*vq.used_event));
	head = add1(&vq, &x);
	put_used(&vq, head, 1);
	CHECK(t, vblk_vq_wait(&vq, 10) == 0, "used entry not seen by wait");
	CHECK(t, vblk_vq_get_used(&vq, &u) == 1, "get_used");
	CHECK(t, le16toh(*vq.used_event) == 101,
	      "used_event %u after taking entry 100", le16toh(*vq.used_event));
	/* Without EVENT_IDX the driver never suppresses interrupts. */
	vq.event_idx = false;
	vq.avail->flags = htole16(VRING_AVAIL_F_NO_INTERRUPT);
	CHECK(t, vblk_vq_wait(&vq, 10) == -ETIMEDOUT, "wait");
	CHECK(t, vq.avail->flags == 0, "interrupts left off while waiting");
	vblk_vq_destroy(&vq);
	vblk_mem_destroy(&m);
	return 0;
}

struct late_used {
	struct vblk_vq *vq;
	uint16_t head;
};

static void *late_used(void *arg)
{
	struct late_used *l = arg;
	struct timespec ts = { 0, 30 * 1000 * 1000 };

	nanosleep(&ts, NULL);
	put_used(l->vq, l->head, 1);	/* and no call eventfd signal */
	return NULL;
}

/* A used entry that arrives without an interrupt is reported. */
static int t_lost_interrupt(struct ut *t)
{
	struct late_used l;
	struct vblk_mem m;
	struct vblk_vq vq;
	struct bufs3 x;
	pthread_t th;
	int ret;

	CHECK(t, !vblk_mem_init(&m, MIB), "mem");
	CHECK(t, !vblk_vq_init(&vq, &m, 0, 8), "vq: %s", vq.err);
	make3(&m, &x);
	vq.event_idx = true;
	l.vq = &vq;
	l.head = (uint16_t)add1(&vq, &x);
	CHECK(t, !pthread_create(&th, NULL, late_used, &l), "thread");
	ret = vblk_vq_wait(&vq, 300);
	pthread_join(th, NULL);
	CHECK(t, ret == -EIO && strstr(vq.err, "without a call eventfd signal"),
	      "wait returned %d (%s)", ret, vq.err);
	/* With the signal it is fine. */
	put_used(&vq, (uint16_t)add1(&vq, &x), 1);
	CHECK(t, vblk_vq_wait(&vq, 10) == 0, "wait with entries present");
	vblk_vq_destroy(&vq);
	vblk_mem_destroy(&m);
	return 0;
}

static int t_reset(struct ut *t)
{
	struct vblk_req r[3];
	uint8_t *data;
	struct vblk_seg seg;
	struct vblk_mem m;
	struct vblk_vq vq;
	size_t before;
	int i;

	CHECK(t, !vblk_mem_init(&m, MIB), "mem");
	CHECK(t, !vblk_vq_init(&vq, &m, 0, 16), "vq: %s", vq.err);
	data = vblk_mem_alloc(&m, 4096, 4096);
	seg = (struct vblk_seg){ data, 4096 };
	before = vblk_mem_free_bytes(&m);
	for (i = 0; i < 3; i++) {
		memset(&r[i], 0, sizeof(r[i]));
		r[i].type = VIRTIO_BLK_T_OUT;
		r[i].seg = &seg;
		r[i].nseg = 1;
		r[i].indirect = i == 1;
		r[i].hdr_split = i == 2 ? 5 : 0;
		CHECK(t, !vblk_req_queue(&vq, &r[i]), "queue: %s", vq.err);
	}
	CHECK(t, vq.inflight == 3 && vblk_mem_free_bytes(&m) < before,
	      "inflight %u", vq.inflight);
	vblk_vq_reset(&vq, 7);
	CHECK(t, vq.inflight == 0 && vq.nfree == 16, "after reset: inflight %u nfree %u",
	      vq.inflight, vq.nfree);
	CHECK(t, vblk_mem_free_bytes(&m) == before,
	      "reset leaked guest memory: %zu of %zu bytes free",
	      vblk_mem_free_bytes(&m), before);
	CHECK(t, le16toh(vq.avail->idx) == 7 && le16toh(vq.used->idx) == 7 &&
	      vq.last_used == 7 && vq.avail_idx == 7, "indices after reset to 7");
	vblk_vq_destroy(&vq);
	vblk_mem_destroy(&m);
	return 0;
}

static int t_raw(struct ut *t)
{
	static uint8_t disk[64 * 512];
	struct vblk_req r = { 0 }, *done;
	struct vblk_raw_desc d[1];
	struct fakedev f;
	struct vblk_mem m;
	struct vblk_vq vq;
	uint8_t *hdr;
	uint64_t gpa;
	uint16_t idx[3];

	CHECK(t, !vblk_mem_init(&m, MIB), "mem");
	CHECK(t, !vblk_vq_init(&vq, &m, 0, 8), "vq: %s", vq.err);
	hdr = vblk_mem_alloc(&m, 16, 16);
	vblk_mem_gpa(&m, hdr, 16, &gpa);

	/* A header and nothing writable: used len 0 and an error. */
	fakedev_init(&f, &m, &vq, disk, 64);
	d[0] = (struct vblk_raw_desc){ gpa, 16, 0 };
	CHECK(t, !vblk_raw_submit(&vq, &r, d, 1, false), "raw: %s", vq.err);
	CHECK(t, fakedev_process(&f) == 1, "fake device did not serve it");
	CHECK(t, vblk_reap(&vq, 1000, &done, 1) == 1 && done == &r && r.done,
	      "reap: %s", vq.err);
	CHECK(t, r.used_len == 0, "used len %u", r.used_len);
	CHECK(t, vblk_vq_errors(&vq) == 1, "error eventfd count %llu",
	      (unsigned long long)vblk_vq_errors(&vq));
	CHECK(t, vblk_vq_wait_error(&vq, 1, 10) == -ETIMEDOUT,
	      "a second error appeared");

	/* A loop through reserved descriptors breaks the fake's ring. */
	CHECK(t, !vblk_vq_reserve(&vq, 3, idx, &r), "reserve: %s", vq.err);
	CHECK(t, idx[0] != idx[1] && idx[1] != idx[2] && idx[0] != idx[2] &&
	      vq.nfree == 5, "reserved %u %u %u, nfree %u", idx[0], idx[1],
	      idx[2], vq.nfree);
	vblk_vq_set_desc(&vq, idx[0], gpa, 16, VRING_DESC_F_NEXT, idx[1]);
	vblk_vq_set_desc(&vq, idx[1], gpa, 16, VRING_DESC_F_NEXT, idx[0]);
	vblk_vq_publish(&vq, idx[0]);
	CHECK(t, le16toh(vq.avail->ring[1]) == idx[0], "published head");
	fakedev_process(&f);
	CHECK(t, f.broken && vblk_vq_wait_error(&vq, 1, 1000) == 0,
	      "loop not reported (%s)", f.why);

	/* A head past the ring. */
	vblk_vq_reset(&vq, 0);
	fakedev_init(&f, &m, &vq, disk, 64);
	vblk_vq_publish(&vq, 200);
	fakedev_process(&f);
	CHECK(t, f.broken && vblk_vq_errors(&vq) == 1, "bad head not reported");
	vblk_vq_destroy(&vq);
	vblk_mem_destroy(&m);
	return 0;
}

const struct ut_case ut_vring_cases[] = {
	{ "need-event", t_need_event },
	{ "vring-direct", t_direct },
	{ "vring-indirect", t_indirect },
	{ "vring-full", t_full },
	{ "vring-kick", t_kick },
	{ "vring-wait-arms", t_wait_arms },
	{ "vring-lost-interrupt", t_lost_interrupt },
	{ "vring-reset", t_reset },
	{ "vring-raw", t_raw },
	{ NULL, NULL },
};
