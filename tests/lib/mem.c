// SPDX-License-Identifier: GPL-2.0-only
/*
 * Guest memory: one anonymous mapping shown to the device as two regions.
 *
 * The regions lie in the mapping in the opposite order of their
 * guest-physical addresses, with an inaccessible gap between them, so a
 * device that confuses guest-physical and userspace addresses, or walks
 * from one region into the next, reads the wrong bytes or faults.
 *
 * vblk_mem_init_shared() backs the same layout with a memfd, for vhost-user
 * back-ends, which map it from the file descriptor.
 *
 * The allocator keeps, per region, sorted lists of free and used extents:
 * first fit with alignment, coalescing on free.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vblk.h"

#define MEM_GUARD	(64u << 10)
#define MEM_MIN_ALIGN	16u

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n);
	if (!p) {
		fprintf(stderr, "libvblk: out of memory\n");
		abort();
	}
	return p;
}

static void ext_insert(struct vblk_extents *e, size_t at, size_t off,
		       size_t len)
{
	if (e->n == e->cap) {
		e->cap = e->cap ? 2 * e->cap : 16;
		e->v = xrealloc(e->v, e->cap * sizeof(*e->v));
	}
	memmove(&e->v[at + 1], &e->v[at], (e->n - at) * sizeof(*e->v));
	e->v[at].off = off;
	e->v[at].len = len;
	e->n++;
}

static void ext_remove(struct vblk_extents *e, size_t at)
{
	memmove(&e->v[at], &e->v[at + 1], (e->n - at - 1) * sizeof(*e->v));
	e->n--;
}

/* First extent with offset >= off. */
static size_t ext_lower_bound(const struct vblk_extents *e, size_t off)
{
	size_t lo = 0, hi = e->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (e->v[mid].off < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static size_t round_up(size_t x, size_t a)
{
	return (x + a - 1) & ~(a - 1);
}

/* Anonymous memory, or a memfd mapped shared (*fd >= 0 on return). */
static uint8_t *mem_map(size_t len, bool shared, int *fd)
{
	uint8_t *map;

	*fd = -1;
	if (!shared) {
		map = mmap(NULL, len, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		return map == MAP_FAILED ? NULL : map;
	}
	*fd = memfd_create("vblk-guest-memory", MFD_CLOEXEC);
	if (*fd < 0)
		return NULL;
	if (ftruncate(*fd, (off_t)len))
		goto fail;
	map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, *fd, 0);
	if (map != MAP_FAILED)
		return map;
fail:
	{
		int e = errno;

		close(*fd);
		*fd = -1;
		errno = e;
	}
	return NULL;
}

static int mem_init(struct vblk_mem *m, size_t size, bool shared)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t half;
	uint8_t *map;
	unsigned int i;
	int fd;

	memset(m, 0, sizeof(*m));
	m->fd = -1;
	if (!size)
		size = VBLK_MEM_DEFAULT_SIZE;
	half = round_up((size + 1) / 2, page);
	if (half > VBLK_GPA_BASE1 - VBLK_GPA_BASE0)
		return -EINVAL;
	m->map_size = 2 * half + MEM_GUARD;
	map = mem_map(m->map_size, shared, &fd);
	if (!map)
		return -errno;
	if (mprotect(map + half, MEM_GUARD, PROT_NONE)) {
		int e = -errno;

		munmap(map, m->map_size);
		if (fd >= 0)
			close(fd);
		return e;
	}
	m->map = map;
	m->shared = shared;
	m->fd = fd;
	/* Region 0 (low gpa) sits above region 1 (high gpa). */
	m->reg[0].gpa = VBLK_GPA_BASE0;
	m->reg[0].hva = map + half + MEM_GUARD;
	m->reg[1].gpa = VBLK_GPA_BASE1;
	m->reg[1].hva = map;
	for (i = 0; i < VBLK_MEM_REGIONS; i++) {
		m->reg[i].size = half;
		m->reg[i].fd_offset = (uint64_t)(m->reg[i].hva - map);
		ext_insert(&m->reg[i].free, 0, 0, half);
	}
	return 0;
}

int vblk_mem_init(struct vblk_mem *m, size_t size)
{
	return mem_init(m, size, false);
}

int vblk_mem_init_shared(struct vblk_mem *m, size_t size)
{
	return mem_init(m, size, true);
}

void vblk_mem_destroy(struct vblk_mem *m)
{
	unsigned int i;

	if (m->map)
		munmap(m->map, m->map_size);
	if (m->shared && m->fd >= 0)
		close(m->fd);
	for (i = 0; i < VBLK_MEM_REGIONS; i++) {
		free(m->reg[i].free.v);
		free(m->reg[i].used.v);
	}
	memset(m, 0, sizeof(*m));
	m->fd = -1;
}

static void *region_alloc(struct vblk_region *r, size_t size, size_t align)
{
	size_t i;

	for (i = 0; i < r->free.n; i++) {
		struct vblk_extent f = r->free.v[i];
		size_t start = (size_t)((uintptr_t)r->hva + f.off);

		start = round_up(start, align) - (uintptr_t)r->hva;
		if (start + size > f.off + f.len || start + size < start)
			continue;
		/* Cut [start, start + size) out of the free extent. */
		ext_remove(&r->free, i);
		if (start + size < f.off + f.len)
			ext_insert(&r->free, i, start + size,
				   f.off + f.len - start - size);
		if (start > f.off)
			ext_insert(&r->free, i, f.off, start - f.off);
		ext_insert(&r->used, ext_lower_bound(&r->used, start), start,
			   size);
		memset(r->hva + start, 0, size);
		return r->hva + start;
	}
	return NULL;
}

void *vblk_mem_alloc_in(struct vblk_mem *m, unsigned int region, size_t size,
			size_t align)
{
	if (region >= VBLK_MEM_REGIONS || !size || (align & (align - 1)))
		return NULL;
	if (align < MEM_MIN_ALIGN)
		align = MEM_MIN_ALIGN;
	return region_alloc(&m->reg[region], round_up(size, MEM_MIN_ALIGN),
			    align);
}

void *vblk_mem_alloc(struct vblk_mem *m, size_t size, size_t align)
{
	unsigned int i;

	for (i = 0; i < VBLK_MEM_REGIONS; i++) {
		unsigned int r = (m->next + i) % VBLK_MEM_REGIONS;
		void *p = vblk_mem_alloc_in(m, r, size, align);

		if (p) {
			m->next = (r + 1) % VBLK_MEM_REGIONS;
			return p;
		}
	}
	return NULL;
}

static struct vblk_region *region_of(const struct vblk_mem *m, const void *p)
{
	unsigned int i;

	for (i = 0; i < VBLK_MEM_REGIONS; i++) {
		const struct vblk_region *r = &m->reg[i];

		if ((const uint8_t *)p >= r->hva &&
		    (const uint8_t *)p < r->hva + r->size)
			return (struct vblk_region *)r;
	}
	return NULL;
}

void vblk_mem_free(struct vblk_mem *m, void *p)
{
	struct vblk_region *r;
	size_t off, len, i;

	if (!p)
		return;
	r = region_of(m, p);
	if (!r)
		goto bad;
	off = (size_t)((uint8_t *)p - r->hva);
	i = ext_lower_bound(&r->used, off);
	if (i == r->used.n || r->used.v[i].off != off)
		goto bad;
	len = r->used.v[i].len;
	ext_remove(&r->used, i);

	/* Back into the free list, merged with its neighbours. */
	i = ext_lower_bound(&r->free, off);
	if (i < r->free.n && off + len == r->free.v[i].off) {
		len += r->free.v[i].len;
		ext_remove(&r->free, i);
	}
	if (i > 0 && r->free.v[i - 1].off + r->free.v[i - 1].len == off) {
		r->free.v[i - 1].len += len;
		return;
	}
	ext_insert(&r->free, i, off, len);
	return;
bad:
	fprintf(stderr, "libvblk: freeing %p, which is not allocated guest memory\n",
		p);
	abort();
}

size_t vblk_mem_free_bytes(const struct vblk_mem *m)
{
	size_t sum = 0, i;
	unsigned int j;

	for (j = 0; j < VBLK_MEM_REGIONS; j++)
		for (i = 0; i < m->reg[j].free.n; i++)
			sum += m->reg[j].free.v[i].len;
	return sum;
}

int vblk_mem_gpa(const struct vblk_mem *m, const void *p, size_t len,
		 uint64_t *gpa)
{
	const struct vblk_region *r = region_of(m, p);
	size_t off;

	if (!r)
		return -EFAULT;
	off = (size_t)((const uint8_t *)p - r->hva);
	if (len > r->size - off)
		return -EFAULT;
	*gpa = r->gpa + off;
	return 0;
}

void *vblk_mem_hva(const struct vblk_mem *m, uint64_t gpa, size_t len)
{
	unsigned int i;

	for (i = 0; i < VBLK_MEM_REGIONS; i++) {
		const struct vblk_region *r = &m->reg[i];

		if (gpa >= r->gpa && gpa - r->gpa < r->size &&
		    len <= r->size - (gpa - r->gpa))
			return r->hva + (gpa - r->gpa);
	}
	return NULL;
}
