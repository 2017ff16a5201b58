// SPDX-License-Identifier: GPL-2.0-only
/*
 * Chains the vhost core rejects: loops, bad indices, bad indirect tables,
 * addresses outside the memory table. Each breaks its ring: the error
 * eventfd must fire, nothing may crash, and a fresh device must work
 * afterwards. Every chain goes to a fresh device.
 */
#include <endian.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vbt.h"

#define ERR_WAIT_MS	5000

struct breaker {
	const char *what;
	void (*build)(struct vblk_dev *d, struct vblk_vq *vq);
};

/* A table of @n descriptors in guest memory, each a 16-byte read of hdr. */
static struct vring_desc *table(struct vblk_dev *d, unsigned int n,
				const void *hdr)
{
	struct vring_desc *tb = vblk_mem_alloc(&d->mem, 16 * n, 16);
	unsigned int k;

	for (k = 0; k < n; k++) {
		tb[k].addr = htole64(vbt_gpa(&d->mem, hdr, 16));
		tb[k].len = htole32(16);
		tb[k].flags = htole16(VRING_DESC_F_NEXT);
		tb[k].next = htole16(k + 1);
	}
	return tb;
}

/* Reserve one ring descriptor pointing at @tb (@len bytes), publish it. */
static void publish_indirect(struct vblk_dev *d, struct vblk_vq *vq,
			     const void *tb, uint32_t len)
{
	uint16_t idx;

	vblk_vq_reserve(vq, 1, &idx, NULL);
	vblk_vq_set_desc(vq, idx, tb ? vbt_gpa(&d->mem, tb, len ? len : 1) :
			 0x7f0000000000ULL, len, VRING_DESC_F_INDIRECT, 0);
	vblk_vq_publish(vq, idx);
}

static void b_loop(struct vblk_dev *d, struct vblk_vq *vq)
{
	void *h = vbt_hdr(&d->mem, VIRTIO_BLK_T_IN, 0);
	uint16_t idx[2];

	vblk_vq_reserve(vq, 2, idx, NULL);
	vblk_vq_set_desc(vq, idx[0], vbt_gpa(&d->mem, h, 16), 16,
			 VRING_DESC_F_NEXT, idx[1]);
	vblk_vq_set_desc(vq, idx[1], vbt_gpa(&d->mem, h, 16), 16,
			 VRING_DESC_F_NEXT, idx[0]);
	vblk_vq_publish(vq, idx[0]);
}

static void b_self_loop(struct vblk_dev *d, struct vblk_vq *vq)
{
	void *h = vbt_hdr(&d->mem, VIRTIO_BLK_T_IN, 0);
	uint16_t idx;

	vblk_vq_reserve(vq, 1, &idx, NULL);
	vblk_vq_set_desc(vq, idx, vbt_gpa(&d->mem, h, 16), 16,
			 VRING_DESC_F_NEXT, idx);
	vblk_vq_publish(vq, idx);
}

static void b_indirect_loop(struct vblk_dev *d, struct vblk_vq *vq)
{
	struct vring_desc *tb = table(d, 3, vbt_hdr(&d->mem, VIRTIO_BLK_T_IN, 0));

	tb[2].next = htole16(0);
	publish_indirect(d, vq, tb, 48);
}

static void b_next_out_of_range(struct vblk_dev *d, struct vblk_vq *vq)
{
	void *h = vbt_hdr(&d->mem, VIRTIO_BLK_T_IN, 0);
	uint16_t idx;

	vblk_vq_reserve(vq, 1, &idx, NULL);
	vblk_vq_set_desc(vq, idx, vbt_gpa(&d->mem, h, 16), 16,
			 VRING_DESC_F_NEXT, (uint16_t)(vq->num + 5));
	vblk_vq_publish(vq, idx);
}

static void b_indirect_next_out_of_range(struct vblk_dev *d,
					 struct vblk_vq *vq)
{
	struct vring_desc *tb = table(d, 2, vbt_hdr(&d->mem, VIRTIO_BLK_T_IN, 0));

	tb[0].next = htole16(7);
	publish_indirect(d, vq, tb, 32);
}

static void b_nested_indirect(struct vblk_dev *d, struct vblk_vq *vq)
{
	void *h = vbt_hdr(&d->mem, VIRTIO_BLK_T_IN, 0);
	struct vring_desc *inner = table(d, 2, h);
	struct vring_desc *tb = table(d, 2, h);

	inner[1].flags = 0;
	tb[1].addr = htole64(vbt_gpa(&d->mem, inner, 32));
	tb[1].len = htole32(32);
	tb[1].flags = htole16(VRING_DESC_F_INDIRECT);
	publish_indirect(d, vq, tb, 32);
}

static void b_indirect_bad_len(struct vblk_dev *d, struct vblk_vq *vq)
{
	struct vring_desc *tb = table(d, 2, vbt_hdr(&d->mem, VIRTIO_BLK_T_IN, 0));

	publish_indirect(d, vq, tb, 20);
}

static void b_indirect_empty(struct vblk_dev *d, struct vblk_vq *vq)
{
	struct vring_desc *tb = table(d, 1, vbt_hdr(&d->mem, VIRTIO_BLK_T_IN, 0));

	publish_indirect(d, vq, tb, 0);
}

static void b_head_out_of_range(struct vblk_dev *d, struct vblk_vq *vq)
{
	(void)d;
	vblk_vq_publish(vq, (uint16_t)(vq->num + 3));
}

static void b_avail_jump(struct vblk_dev *d, struct vblk_vq *vq)
{
	(void)d;
	vblk_vq_set_avail_idx(vq, (uint16_t)(vq->avail_idx + vq->num + 1));
}

static void b_out_after_in(struct vblk_dev *d, struct vblk_vq *vq)
{
	void *h = vbt_hdr(&d->mem, VIRTIO_BLK_T_IN, 0);
	uint8_t *data = vblk_mem_alloc(&d->mem, 1024, 512);
	struct vblk_raw_desc c[4] = {
		{ vbt_gpa(&d->mem, h, 16), 16, 0 },
		{ vbt_gpa(&d->mem, data, 512), 512, VRING_DESC_F_WRITE },
		{ vbt_gpa(&d->mem, data + 512, 1), 1, 0 },
		{ vbt_gpa(&d->mem, data + 513, 1), 1, VRING_DESC_F_WRITE },
	};
	static struct vblk_req r;

	vblk_vq_add_raw(vq, c, 4, false, &r, NULL);
}

/* An IN request whose descriptor @bad has guest address @gpa, len @len. */
static void bad_addr_req(struct vblk_dev *d, struct vblk_vq *vq,
			 unsigned int bad, uint64_t gpa, uint32_t len,
			 bool indirect)
{
	void *h = vbt_hdr(&d->mem, VIRTIO_BLK_T_IN, 0);
	uint8_t *data = vblk_mem_alloc(&d->mem, 4096 + 512, 4096);
	struct vblk_raw_desc c[3] = {
		{ vbt_gpa(&d->mem, h, 16), 16, 0 },
		{ vbt_gpa(&d->mem, data, 4096), 4096, VRING_DESC_F_WRITE },
		{ vbt_gpa(&d->mem, data + 4096, 1), 1, VRING_DESC_F_WRITE },
	};
	static struct vblk_req r;

	c[bad].addr = gpa;
	c[bad].len = len;
	vblk_vq_add_raw(vq, c, 3, indirect, &r, NULL);
}

static void b_data_in_gap(struct vblk_dev *d, struct vblk_vq *vq)
{
	bad_addr_req(d, vq, 1, d->mem.reg[0].gpa + d->mem.reg[0].size, 4096,
		     false);
}

static void b_data_far(struct vblk_dev *d, struct vblk_vq *vq)
{
	bad_addr_req(d, vq, 1, 0x7f0000000000ULL, 4096, true);
}

static void b_data_gpa_zero(struct vblk_dev *d, struct vblk_vq *vq)
{
	bad_addr_req(d, vq, 1, 0, 4096, false);
}

static void b_data_straddles(struct vblk_dev *d, struct vblk_vq *vq)
{
	bad_addr_req(d, vq, 1, d->mem.reg[0].gpa + d->mem.reg[0].size - 2048,
		     4096, false);
}

static void b_data_end_of_region1(struct vblk_dev *d, struct vblk_vq *vq)
{
	bad_addr_req(d, vq, 1, d->mem.reg[1].gpa + d->mem.reg[1].size - 512,
		     1024, true);
}

static void b_data_hva(struct vblk_dev *d, struct vblk_vq *vq)
{
	/* What a device that skipped translation would accept. */
	bad_addr_req(d, vq, 1, (uintptr_t)d->mem.reg[0].hva + 65536, 4096,
		     false);
}

static void b_header_outside(struct vblk_dev *d, struct vblk_vq *vq)
{
	bad_addr_req(d, vq, 0, d->mem.reg[1].gpa - 4096, 16, false);
}

static void b_status_outside(struct vblk_dev *d, struct vblk_vq *vq)
{
	bad_addr_req(d, vq, 2, 0x7f0000000000ULL, 1, false);
}

static void b_table_outside(struct vblk_dev *d, struct vblk_vq *vq)
{
	publish_indirect(d, vq, NULL, 48);
}

/* On a fresh device: build, kick, expect the error eventfd. */
static int expect_broken(struct vbt *t, const struct breaker *b)
{
	struct vblk_vq *vq;
	struct vbt_dev v;
	uint64_t e0;

	if (vbt_dev_up(t, &v, NULL, 0))
		return -1;
	vq = &v.d.vq[0];
	e0 = vblk_vq_errors(vq);
	b->build(&v.d, vq);
	if (vblk_vq_kick_force(vq) < 0)
		return vbt_fail(t, "%s: %s", b->what, vq->err), -1;
	if (vblk_vq_wait_error(vq, e0, ERR_WAIT_MS))
		return vbt_fail(t, "%s: the error eventfd was not signalled within %d ms (used idx %u, avail idx %u)",
				b->what, ERR_WAIT_MS,
				le16toh(__atomic_load_n(&vq->used->idx,
							__ATOMIC_ACQUIRE)),
				vq->avail_idx), -1;
	vblk_dev_close(&v.d);
	return 0;
}

static int run_breakers(struct vbt *t, const struct breaker *b,
			unsigned int n, const char *after)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (expect_broken(t, &b[i]))
			return VBT_FAIL;
	return vbt_sanity(t, after) ? VBT_FAIL : VBT_PASS;
}

int case_bad_loop(struct vbt *t)
{
	static const struct breaker b[] = {
		{ "a two-descriptor loop", b_loop },
		{ "a descriptor chained to itself", b_self_loop },
		{ "a loop in an indirect table", b_indirect_loop },
		{ "next index past the ring", b_next_out_of_range },
		{ "next index past an indirect table",
		  b_indirect_next_out_of_range },
		{ "an indirect descriptor in an indirect table",
		  b_nested_indirect },
		{ "an indirect table of 20 bytes", b_indirect_bad_len },
		{ "an indirect table of 0 bytes", b_indirect_empty },
		{ "an avail entry naming head num + 3", b_head_out_of_range },
		{ "avail idx moved ahead by more than the ring", b_avail_jump },
		{ "a readable descriptor after a writable one", b_out_after_in },
	};

	return run_breakers(t, b, sizeof(b) / sizeof(b[0]),
			    "after chains that break the ring");
}

int case_bad_address(struct vbt *t)
{
	static const struct breaker b[] = {
		{ "data at the gpa just past region 0", b_data_in_gap },
		{ "data at gpa 0x7f0000000000", b_data_far },
		{ "data at gpa 0", b_data_gpa_zero },
		{ "data running off the end of region 0", b_data_straddles },
		{ "data running off the end of region 1", b_data_end_of_region1 },
		{ "data at its userspace address instead of its gpa",
		  b_data_hva },
		{ "a header below region 1", b_header_outside },
		{ "a status byte outside guest memory", b_status_outside },
		{ "an indirect table outside guest memory", b_table_outside },
	};

	return run_breakers(t, b, sizeof(b) / sizeof(b[0]),
			    "after descriptors outside the memory table");
}
