// SPDX-License-Identifier: GPL-2.0-only
/*
 * The guest memory QEMU shares: each region's descriptor mapped MAP_SHARED
 * at its offset. The kernel gets our addresses (guest-physical addresses
 * stay); ring addresses arrive as QEMU's and are translated here.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vub.h"

static bool overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

/* An empty region, or one whose end wraps in any of its address spaces */
static bool region_wraps(const struct vub_region *r)
{
	return !r->size || r->gpa + r->size < r->gpa ||
	       r->uva + r->size < r->uva ||
	       r->mmap_offset + r->size < r->mmap_offset ||
	       r->size > (uint64_t)SIZE_MAX / 2;
}

/* Map region r of fd (MAP_SHARED, from its page) into m; -errno */
static int map_region(struct vub_map *m, const struct vub_region *r, int fd)
{
	const uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	uint64_t lead = r->mmap_offset & (page - 1);
	void *p;

	p = mmap(NULL, r->size + lead, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_NORESERVE, fd, (off_t)(r->mmap_offset - lead));
	if (p == MAP_FAILED)
		return -errno;
	m->base = p;
	m->len = r->size + lead;
	m->local = (uint8_t *)p + lead;
	m->gpa = r->gpa;
	m->size = r->size;
	m->uva = r->uva;
	return 0;
}

void vub_memtab_unmap(struct vub_memtab *t)
{
	unsigned int i;

	for (i = 0; i < t->n; i++)
		munmap(t->m[i].base, t->m[i].len);
	t->n = 0;
}

int vub_memtab_map(struct vub_memtab *t, const struct vub_mem *mem,
		   const int *fds, char *why, size_t len)
{
	unsigned int i, j;
	int ret;

	t->n = 0;
	if (!mem->nregions || mem->nregions > VUB_MAX_REGIONS) {
		snprintf(why, len, "%u regions (1..%u)", mem->nregions,
			 VUB_MAX_REGIONS);
		return -EINVAL;
	}
	for (i = 0; i < mem->nregions; i++) {
		const struct vub_region *r = &mem->r[i];

		if (region_wraps(r)) {
			snprintf(why, len, "region %u: size %#llx at gpa %#llx, uva %#llx, offset %#llx wraps around",
				 i, (unsigned long long)r->size,
				 (unsigned long long)r->gpa,
				 (unsigned long long)r->uva,
				 (unsigned long long)r->mmap_offset);
			return -EINVAL;
		}
		for (j = 0; j < i; j++) {
			const struct vub_region *o = &mem->r[j];

			if (overlap(r->gpa, r->size, o->gpa, o->size) ||
			    overlap(r->uva, r->size, o->uva, o->size)) {
				snprintf(why, len, "region %u overlaps region %u (gpa %#llx+%#llx, uva %#llx+%#llx)",
					 i, j, (unsigned long long)r->gpa,
					 (unsigned long long)r->size,
					 (unsigned long long)r->uva,
					 (unsigned long long)r->size);
				return -EINVAL;
			}
		}
	}
	for (i = 0; i < mem->nregions; i++) {
		const struct vub_region *r = &mem->r[i];

		ret = map_region(&t->m[i], r, fds[i]);
		if (ret) {
			snprintf(why, len, "region %u: cannot map %#llx bytes of fd at offset %#llx: %s (is the guest memory shared: memory-backend-memfd with share=on?)",
				 i, (unsigned long long)r->size,
				 (unsigned long long)r->mmap_offset,
				 strerror(-ret));
			vub_memtab_unmap(t);
			return -EINVAL;
		}
		t->n = i + 1;
	}
	return 0;
}

void *vub_memtab_uva(const struct vub_memtab *t, uint64_t uva, uint64_t len)
{
	unsigned int i;

	for (i = 0; i < t->n; i++) {
		const struct vub_map *m = &t->m[i];

		if (uva >= m->uva && len <= m->size &&
		    uva - m->uva <= m->size - len)
			return m->local + (uva - m->uva);
	}
	return NULL;
}

uint64_t vub_memtab_end(const struct vub_memtab *t)
{
	uint64_t end = 0;
	unsigned int i;

	for (i = 0; i < t->n; i++)
		if (t->m[i].gpa + t->m[i].size > end)
			end = t->m[i].gpa + t->m[i].size;
	return end;
}

int vub_memtab_add(struct vub_memtab *t, const struct vub_region *r, int fd,
		   char *why, size_t len)
{
	unsigned int i;
	int ret;

	if (t->n >= VUB_MAX_SLOTS) {
		snprintf(why, len, "already %u regions (GET_MAX_MEM_SLOTS)",
			 t->n);
		return -EINVAL;
	}
	if (region_wraps(r)) {
		snprintf(why, len, "size %#llx at gpa %#llx, uva %#llx, offset %#llx wraps around",
			 (unsigned long long)r->size, (unsigned long long)r->gpa,
			 (unsigned long long)r->uva,
			 (unsigned long long)r->mmap_offset);
		return -EINVAL;
	}
	for (i = 0; i < t->n; i++)
		if (overlap(r->gpa, r->size, t->m[i].gpa, t->m[i].size) ||
		    overlap(r->uva, r->size, t->m[i].uva, t->m[i].size)) {
			snprintf(why, len, "gpa %#llx+%#llx (uva %#llx) overlaps the region at gpa %#llx+%#llx (uva %#llx)",
				 (unsigned long long)r->gpa,
				 (unsigned long long)r->size,
				 (unsigned long long)r->uva,
				 (unsigned long long)t->m[i].gpa,
				 (unsigned long long)t->m[i].size,
				 (unsigned long long)t->m[i].uva);
			return -EINVAL;
		}
	ret = map_region(&t->m[t->n], r, fd);
	if (ret) {
		snprintf(why, len, "cannot map %#llx bytes of fd at offset %#llx: %s",
			 (unsigned long long)r->size,
			 (unsigned long long)r->mmap_offset, strerror(-ret));
		return -EINVAL;
	}
	t->n++;
	return 0;
}

int vub_memtab_find(const struct vub_memtab *t, const struct vub_region *r)
{
	unsigned int i;

	for (i = 0; i < t->n; i++)
		if (t->m[i].gpa == r->gpa && t->m[i].size == r->size)
			return (int)i;
	return -1;
}
