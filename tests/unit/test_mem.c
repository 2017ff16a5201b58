// SPDX-License-Identifier: GPL-2.0-only
/* Guest memory: region layout, translation, allocator. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"

#define MIB	(1u << 20)

static int region_of(const struct vblk_mem *m, const void *p)
{
	unsigned int i;

	for (i = 0; i < VBLK_MEM_REGIONS; i++)
		if ((const uint8_t *)p >= m->reg[i].hva &&
		    (const uint8_t *)p < m->reg[i].hva + m->reg[i].size)
			return (int)i;
	return -1;
}

static int t_layout(struct ut *t)
{
	struct vblk_mem m;
	uint64_t gpa;
	uint8_t *p;
	int local;
	unsigned int i;

	CHECK(t, !vblk_mem_init(&m, MIB), "vblk_mem_init failed");
	CHECK(t, m.reg[0].gpa == VBLK_GPA_BASE0 && m.reg[1].gpa == VBLK_GPA_BASE1,
	      "region bases %#llx %#llx", (unsigned long long)m.reg[0].gpa,
	      (unsigned long long)m.reg[1].gpa);
	CHECK(t, m.reg[0].size + m.reg[1].size >= MIB,
	      "regions of %zu and %zu bytes for 1 MiB", m.reg[0].size,
	      m.reg[1].size);
	for (i = 0; i < VBLK_MEM_REGIONS; i++) {
		CHECK(t, (uintptr_t)m.reg[i].hva != m.reg[i].gpa,
		      "region %u: gpa equals hva", i);
		CHECK(t, (uintptr_t)m.reg[i].hva % 4096 == 0,
		      "region %u not page aligned", i);
	}
	/* Not adjacent: a walk off the end of one region does not reach
	 * the other. */
	CHECK(t, m.reg[1].hva + m.reg[1].size != m.reg[0].hva &&
	      m.reg[0].hva + m.reg[0].size != m.reg[1].hva,
	      "the regions are adjacent in userspace");

	for (i = 0; i < VBLK_MEM_REGIONS; i++) {
		p = m.reg[i].hva + 100;
		CHECK(t, !vblk_mem_gpa(&m, p, 16, &gpa) &&
		      gpa == m.reg[i].gpa + 100, "gpa of region %u + 100", i);
		CHECK(t, vblk_mem_hva(&m, gpa, 16) == p,
		      "hva of region %u + 100", i);
		p = m.reg[i].hva + m.reg[i].size - 16;
		CHECK(t, !vblk_mem_gpa(&m, p, 16, &gpa),
		      "last 16 bytes of region %u", i);
		CHECK(t, vblk_mem_gpa(&m, p, 17, &gpa) == -EFAULT,
		      "17 bytes at the end of region %u accepted", i);
		CHECK(t, !vblk_mem_hva(&m, m.reg[i].gpa + m.reg[i].size - 8, 16),
		      "gpa range past the end of region %u translated", i);
		CHECK(t, !vblk_mem_hva(&m, m.reg[i].gpa + m.reg[i].size, 1),
		      "gpa just past region %u translated", i);
		CHECK(t, !vblk_mem_hva(&m, m.reg[i].gpa - 1, 1),
		      "gpa just below region %u translated", i);
	}
	CHECK(t, vblk_mem_gpa(&m, &local, sizeof(local), &gpa) == -EFAULT,
	      "a stack address got a gpa");
	CHECK(t, !vblk_mem_hva(&m, 0, 1), "gpa 0 translated");
	CHECK(t, !vblk_mem_hva(&m, (uintptr_t)m.reg[0].hva, 1),
	      "a userspace address translated as a gpa");
	vblk_mem_destroy(&m);
	return 0;
}

struct blk {
	uint8_t *p;
	size_t size;
};

static int t_alloc(struct ut *t)
{
	static const size_t aligns[] = { 1, 16, 64, 512, 4096 };
	struct blk b[60];
	struct vblk_mem m;
	size_t before, i, j, half;

	CHECK(t, !vblk_mem_init(&m, MIB), "vblk_mem_init failed");
	before = vblk_mem_free_bytes(&m);
	CHECK(t, before == m.reg[0].size + m.reg[1].size,
	      "free bytes %zu of %zu", before, m.reg[0].size + m.reg[1].size);
	srand(7);
	for (i = 0; i < 60; i++) {
		size_t align = aligns[i % 5];

		b[i].size = 1 + (size_t)rand() % 5000;
		b[i].p = vblk_mem_alloc(&m, b[i].size, align);
		CHECK(t, b[i].p, "allocation %zu of %zu bytes failed", i,
		      b[i].size);
		CHECK(t, (uintptr_t)b[i].p % align == 0,
		      "allocation %zu: %p not aligned to %zu", i, (void *)b[i].p,
		      align);
		CHECK(t, region_of(&m, b[i].p) >= 0 &&
		      region_of(&m, b[i].p + b[i].size - 1) == region_of(&m, b[i].p),
		      "allocation %zu not inside one region", i);
		for (j = 0; j < b[i].size; j++)
			CHECK(t, !b[i].p[j], "allocation %zu not zeroed", i);
		memset(b[i].p, (int)i + 1, b[i].size);
		if (i)
			CHECK(t, region_of(&m, b[i].p) != region_of(&m, b[i - 1].p),
			      "allocations %zu and %zu in the same region", i - 1, i);
	}
	/* Nothing overlapped: every block still holds its own bytes. */
	for (i = 0; i < 60; i++)
		for (j = 0; j < b[i].size; j++)
			CHECK(t, b[i].p[j] == (uint8_t)(i + 1),
			      "allocation %zu overwritten at byte %zu", i, j);
	/* Free in a scattered order; everything must coalesce again. */
	for (i = 0; i < 60; i++)
		vblk_mem_free(&m, b[(i * 7) % 60].p);
	CHECK(t, vblk_mem_free_bytes(&m) == before,
	      "%zu bytes free after freeing all, %zu before",
	      vblk_mem_free_bytes(&m), before);
	half = m.reg[0].size;
	b[0].p = vblk_mem_alloc_in(&m, 0, half, 16);
	CHECK(t, b[0].p == m.reg[0].hva, "a whole region after freeing all");
	CHECK(t, !vblk_mem_alloc_in(&m, 0, 16, 16),
	      "allocated from a full region");
	b[1].p = vblk_mem_alloc(&m, 16, 16);
	CHECK(t, b[1].p && region_of(&m, b[1].p) == 1,
	      "no fallback to the other region");
	CHECK(t, !vblk_mem_alloc(&m, m.reg[1].size, 16),
	      "allocated more than is free");
	CHECK(t, !vblk_mem_alloc(&m, 16, 3), "accepted alignment 3");
	vblk_mem_free(&m, b[0].p);
	vblk_mem_free(&m, b[1].p);
	CHECK(t, vblk_mem_free_bytes(&m) == before, "leak after big blocks");
	vblk_mem_destroy(&m);
	return 0;
}

const struct ut_case ut_mem_cases[] = {
	{ "mem-layout", t_layout },
	{ "mem-alloc", t_alloc },
	{ NULL, NULL },
};
