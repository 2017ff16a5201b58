// SPDX-License-Identifier: GPL-2.0-only
/*
 * One split virtqueue, driver side (virtio 1.x, section "Split
 * Virtqueues"): the descriptor table, avail and used rings live in guest
 * memory; chains are kept track of on the host side (link[] and slot[]),
 * never by reading back what the device might have scribbled on.
 */
#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "vblk.h"

#define NIL		0xffffu
#define RING_ALIGN	4096u

static void vq_err(struct vblk_vq *vq, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void vq_err(struct vblk_vq *vq, const char *fmt, ...)
{
	va_list ap;
	int n;

	n = snprintf(vq->err, sizeof(vq->err), "queue %u: ", vq->index);
	va_start(ap, fmt);
	vsnprintf(vq->err + n, sizeof(vq->err) - n, fmt, ap);
	va_end(ap);
}

static uint16_t load16_acquire(const uint16_t *p)
{
	return le16toh(__atomic_load_n(p, __ATOMIC_ACQUIRE));
}

static void store16_release(uint16_t *p, uint16_t v)
{
	__atomic_store_n(p, htole16(v), __ATOMIC_RELEASE);
}

static uint16_t load16(const uint16_t *p)
{
	return le16toh(__atomic_load_n(p, __ATOMIC_RELAXED));
}

static void mb(void)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

/* Read an eventfd without blocking: its count, 0 if none. */
static uint64_t drain_eventfd(int fd)
{
	uint64_t v;

	if (read(fd, &v, sizeof(v)) != sizeof(v))
		return 0;
	return v;
}

int vblk_vq_init(struct vblk_vq *vq, struct vblk_mem *mem, unsigned int index,
		 unsigned int num)
{
	memset(vq, 0, sizeof(*vq));
	vq->mem = mem;
	vq->index = index;
	vq->num = num;
	vq->kick_fd = vq->call_fd = vq->err_fd = -1;
	vq->seg_size = 65536;
	vq->timeout_ms = VBLK_DEFAULT_TIMEOUT_MS;
	if (!num || num > VBLK_RING_MAX || (num & (num - 1))) {
		vq_err(vq, "ring size %u is not a power of two up to %u", num,
		       VBLK_RING_MAX);
		return -EINVAL;
	}
	vq->desc = vblk_mem_alloc(mem, sizeof(*vq->desc) * num, RING_ALIGN);
	vq->avail = vblk_mem_alloc(mem, sizeof(*vq->avail) +
				   sizeof(uint16_t) * (num + 1), RING_ALIGN);
	vq->used = vblk_mem_alloc(mem, sizeof(*vq->used) +
				  sizeof(struct vring_used_elem) * num +
				  sizeof(uint16_t), RING_ALIGN);
	vq->link = calloc(num, sizeof(*vq->link));
	vq->slot = calloc(num, sizeof(*vq->slot));
	if (!vq->desc || !vq->avail || !vq->used || !vq->link || !vq->slot) {
		vq_err(vq, "no memory for a ring of %u", num);
		vblk_vq_destroy(vq);
		return -ENOMEM;
	}
	vq->used_event = &vq->avail->ring[num];
	vq->avail_event = (uint16_t *)&vq->used->ring[num];
	vq->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	vq->call_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	vq->err_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vq->kick_fd < 0 || vq->call_fd < 0 || vq->err_fd < 0) {
		int e = -errno;

		vq_err(vq, "eventfd: %s", strerror(errno));
		vblk_vq_destroy(vq);
		return e;
	}
	vblk_vq_reset(vq, 0);
	return 0;
}

static void release_slot(struct vblk_vq *vq, uint16_t head, bool free_owned)
{
	struct vblk_slot *s = &vq->slot[head];
	uint16_t i = head;
	unsigned int k;

	for (k = 0; k < s->ndesc; k++) {
		uint16_t next = vq->link[i];

		vq->link[i] = vq->free_head;
		vq->free_head = i;
		i = next;
	}
	vq->nfree += s->ndesc;
	vblk_mem_free(vq->mem, s->table);
	if (free_owned)
		vblk_mem_free(vq->mem, s->owned);
	memset(s, 0, sizeof(*s));
	vq->inflight--;
}

void vblk_vq_reset(struct vblk_vq *vq, uint16_t base)
{
	unsigned int i;

	for (i = 0; i < vq->num; i++)
		if (vq->slot[i].busy)
			release_slot(vq, i, true);
	memset(vq->desc, 0, sizeof(*vq->desc) * vq->num);
	memset(vq->avail, 0, sizeof(*vq->avail) +
	       sizeof(uint16_t) * (vq->num + 1));
	memset(vq->used, 0, sizeof(*vq->used) +
	       sizeof(struct vring_used_elem) * vq->num + sizeof(uint16_t));
	vq->avail->idx = htole16(base);
	vq->used->idx = htole16(base);
	*vq->used_event = htole16(base);
	/* As a device that has seen everything up to base would leave it. */
	*vq->avail_event = htole16(base);
	vq->avail_idx = vq->kicked_idx = vq->last_used = base;
	for (i = 0; i < vq->num; i++)
		vq->link[i] = i + 1 < vq->num ? i + 1 : NIL;
	vq->free_head = 0;
	vq->nfree = vq->num;
	vq->inflight = 0;
	drain_eventfd(vq->kick_fd);
	drain_eventfd(vq->call_fd);
	drain_eventfd(vq->err_fd);
	vq->errors = vq->kicks = vq->kicks_saved = vq->calls = 0;
	mb();
}

void vblk_vq_destroy(struct vblk_vq *vq)
{
	unsigned int i;

	if (vq->slot)
		for (i = 0; i < vq->num; i++)
			if (vq->slot[i].busy)
				release_slot(vq, i, true);
	if (vq->kick_fd >= 0)
		close(vq->kick_fd);
	if (vq->call_fd >= 0)
		close(vq->call_fd);
	if (vq->err_fd >= 0)
		close(vq->err_fd);
	if (vq->mem) {
		vblk_mem_free(vq->mem, vq->desc);
		vblk_mem_free(vq->mem, vq->avail);
		vblk_mem_free(vq->mem, vq->used);
	}
	free(vq->link);
	free(vq->slot);
	vq->desc = NULL;
	vq->avail = NULL;
	vq->used = NULL;
	vq->link = NULL;
	vq->slot = NULL;
	vq->kick_fd = vq->call_fd = vq->err_fd = -1;
}

/* Take @n descriptors, linked host-side in the order taken. */
static uint16_t take_descs(struct vblk_vq *vq, unsigned int n, uint16_t *idx)
{
	uint16_t head = vq->free_head, prev = NIL;
	unsigned int k;

	for (k = 0; k < n; k++) {
		uint16_t i = vq->free_head;

		vq->free_head = vq->link[i];
		if (prev != NIL)
			vq->link[prev] = i;
		if (idx)
			idx[k] = i;
		prev = i;
	}
	vq->nfree -= n;
	return head;
}

static void fill_slot(struct vblk_vq *vq, uint16_t head, unsigned int ndesc,
		      void *token, void *owned, void *table)
{
	struct vblk_slot *s = &vq->slot[head];

	s->token = token;
	s->owned = owned;
	s->table = table;
	s->ndesc = ndesc;
	s->busy = true;
	vq->inflight++;
}

void vblk_vq_set_desc(struct vblk_vq *vq, uint16_t i, uint64_t addr,
		      uint32_t len, uint16_t flags, uint16_t next)
{
	struct vring_desc *d = &vq->desc[i % vq->num];

	d->addr = htole64(addr);
	d->len = htole32(len);
	d->flags = htole16(flags);
	d->next = htole16(next);
}

void vblk_vq_publish(struct vblk_vq *vq, uint16_t head)
{
	vq->avail->ring[vq->avail_idx & (vq->num - 1)] = htole16(head);
	vq->avail_idx++;
	store16_release(&vq->avail->idx, vq->avail_idx);
}

void vblk_vq_set_avail_idx(struct vblk_vq *vq, uint16_t idx)
{
	vq->avail_idx = idx;
	store16_release(&vq->avail->idx, idx);
}

int vblk_vq_add_raw(struct vblk_vq *vq, const struct vblk_raw_desc *d,
		    unsigned int n, bool indirect, void *token, void *owned)
{
	unsigned int need = indirect ? 1 : n, k;
	struct vring_desc *table = NULL;
	uint16_t head;

	if (!n || n > 0xffff) {
		vq_err(vq, "a chain of %u descriptors", n);
		return -EINVAL;
	}
	if (need > vq->nfree) {
		vq_err(vq, "%u descriptors needed, %u free", need, vq->nfree);
		return -ENOSPC;
	}
	if (indirect) {
		uint64_t gpa;

		table = vblk_mem_alloc(vq->mem, sizeof(*table) * n, 16);
		if (!table) {
			vq_err(vq, "guest memory exhausted (indirect table of %u)",
			       n);
			return -ENOMEM;
		}
		for (k = 0; k < n; k++) {
			uint16_t flags = d[k].flags;

			if (k + 1 < n)
				flags |= VRING_DESC_F_NEXT;
			table[k].addr = htole64(d[k].addr);
			table[k].len = htole32(d[k].len);
			table[k].flags = htole16(flags);
			table[k].next = htole16(k + 1 < n ? k + 1 : 0);
		}
		vblk_mem_gpa(vq->mem, table, sizeof(*table) * n, &gpa);
		head = take_descs(vq, 1, NULL);
		vblk_vq_set_desc(vq, head, gpa, sizeof(*table) * n,
				 VRING_DESC_F_INDIRECT, 0);
	} else {
		uint16_t i;

		head = take_descs(vq, n, NULL);
		for (k = 0, i = head; k < n; k++, i = vq->link[i]) {
			uint16_t flags = d[k].flags;

			if (k + 1 < n)
				flags |= VRING_DESC_F_NEXT;
			vblk_vq_set_desc(vq, i, d[k].addr, d[k].len, flags,
					 k + 1 < n ? vq->link[i] : 0);
		}
	}
	fill_slot(vq, head, need, token, owned, table);
	vblk_vq_publish(vq, head);
	return head;
}

int vblk_vq_add(struct vblk_vq *vq, const struct vblk_buf *b, unsigned int n,
		bool indirect, void *token, void *owned)
{
	struct vblk_raw_desc small[16], *d = small;
	unsigned int k;
	int ret;

	if (n > 16) {
		d = calloc(n, sizeof(*d));
		if (!d) {
			vq_err(vq, "out of memory for a chain of %u", n);
			return -ENOMEM;
		}
	}
	for (k = 0; k < n; k++) {
		if (vblk_mem_gpa(vq->mem, b[k].addr, b[k].len, &d[k].addr)) {
			vq_err(vq, "buffer %u of the chain (%p, %u bytes) is not inside one guest memory region",
			       k, b[k].addr, b[k].len);
			ret = -EFAULT;
			goto out;
		}
		d[k].len = b[k].len;
		d[k].flags = b[k].write ? VRING_DESC_F_WRITE : 0;
	}
	ret = vblk_vq_add_raw(vq, d, n, indirect, token, owned);
out:
	if (d != small)
		free(d);
	return ret;
}

int vblk_vq_reserve(struct vblk_vq *vq, unsigned int n, uint16_t *idx,
		    void *token)
{
	uint16_t head;

	if (!n) {
		vq_err(vq, "reserving no descriptors");
		return -EINVAL;
	}
	if (n > vq->nfree) {
		vq_err(vq, "%u descriptors needed, %u free", n, vq->nfree);
		return -ENOSPC;
	}
	head = take_descs(vq, n, idx);
	fill_slot(vq, head, n, token, NULL, NULL);
	return 0;
}

static bool device_wants_kick(struct vblk_vq *vq)
{
	/* Our avail->idx store before the device's avail_event / flags. */
	mb();
	if (vq->event_idx)
		return vblk_need_event(load16(vq->avail_event), vq->avail_idx,
				       vq->kicked_idx);
	return !(load16(&vq->used->flags) & VRING_USED_F_NO_NOTIFY);
}

int vblk_vq_kick_force(struct vblk_vq *vq)
{
	uint64_t one = 1;

	vq->kicked_idx = vq->avail_idx;
	if (write(vq->kick_fd, &one, sizeof(one)) != sizeof(one)) {
		int e = errno;

		vq_err(vq, "writing the kick eventfd: %s", strerror(e));
		return -e;
	}
	vq->kicks++;
	return 1;
}

int vblk_vq_kick(struct vblk_vq *vq)
{
	if (vq->kicked_idx == vq->avail_idx)
		return 0;
	if (!device_wants_kick(vq)) {
		vq->kicked_idx = vq->avail_idx;
		vq->kicks_saved++;
		return 0;
	}
	return vblk_vq_kick_force(vq);
}

bool vblk_vq_has_used(const struct vblk_vq *vq)
{
	return load16_acquire(&vq->used->idx) != vq->last_used;
}

int vblk_vq_get_used(struct vblk_vq *vq, struct vblk_used *u)
{
	uint16_t idx = load16_acquire(&vq->used->idx);
	struct vring_used_elem *e;
	struct vblk_slot *s;

	memset(u, 0, sizeof(*u));
	if (idx == vq->last_used)
		return 0;
	if ((uint16_t)(idx - vq->last_used) > vq->num) {
		vq_err(vq, "the device moved used->idx from %u to %u, more than the %u entries of the ring",
		       vq->last_used, idx, vq->num);
		return -EPROTO;
	}
	e = &vq->used->ring[vq->last_used & (vq->num - 1)];
	u->id = le32toh(e->id);
	u->len = le32toh(e->len);
	vq->last_used++;
	if (vq->event_idx)
		store16_release(vq->used_event, vq->last_used);
	if (u->id >= vq->num || !vq->slot[u->id].busy) {
		vq_err(vq, "the device returned used id %u (len %u), which is not a chain in flight",
		       u->id, u->len);
		return 1;
	}
	s = &vq->slot[u->id];
	u->known = true;
	u->token = s->token;
	u->owned = s->owned;
	release_slot(vq, u->id, false);
	return 1;
}

/* Ask for a notification at the next used entry; true if there is one. */
static bool arm(struct vblk_vq *vq)
{
	if (vblk_vq_has_used(vq))
		return true;
	if (vq->event_idx)
		store16_release(vq->used_event, vq->last_used);
	else
		store16_release(&vq->avail->flags, 0);
	/* Our used_event store before the device's used->idx. */
	mb();
	return vblk_vq_has_used(vq);
}

int vblk_vq_wait_any(struct vblk_vq *const *vqs, unsigned int n,
		     int timeout_ms)
{
	int64_t deadline = vblk_now_ms() + timeout_ms;
	struct pollfd pfd[VHOST_BLK_MAX_QUEUES];
	unsigned int i;

	if (n > VHOST_BLK_MAX_QUEUES)
		return -EINVAL;
	for (;;) {
		int64_t left = deadline - vblk_now_ms();
		bool ready = false;
		int r;

		for (i = 0; i < n; i++)
			ready |= arm(vqs[i]);
		if (ready)
			return 0;
		if (timeout_ms >= 0 && left <= 0)
			return -ETIMEDOUT;
		for (i = 0; i < n; i++) {
			pfd[i].fd = vqs[i]->call_fd;
			pfd[i].events = POLLIN;
			pfd[i].revents = 0;
		}
		r = poll(pfd, n, timeout_ms < 0 ? -1 : (int)left);
		if (r < 0 && errno != EINTR)
			return -errno;
		for (i = 0; r > 0 && i < n; i++)
			if (pfd[i].revents & POLLIN)
				vqs[i]->calls += drain_eventfd(vqs[i]->call_fd);
		if (r)
			continue;
		/* Timed out: entries there now came without an interrupt. */
		for (i = 0; i < n; i++)
			if (vblk_vq_has_used(vqs[i])) {
				vq_err(vqs[i], "used entries (used idx %u, next to take %u) came without a call eventfd signal within %d ms (used_event %u, avail flags %#x)",
				       load16_acquire(&vqs[i]->used->idx),
				       vqs[i]->last_used, timeout_ms,
				       load16(vqs[i]->used_event),
				       load16(&vqs[i]->avail->flags));
				return -EIO;
			}
	}
}

int vblk_vq_wait(struct vblk_vq *vq, int timeout_ms)
{
	return vblk_vq_wait_any(&vq, 1, timeout_ms);
}

uint64_t vblk_vq_errors(struct vblk_vq *vq)
{
	vq->errors += drain_eventfd(vq->err_fd);
	return vq->errors;
}

int vblk_vq_wait_error(struct vblk_vq *vq, uint64_t above, int timeout_ms)
{
	int64_t deadline = vblk_now_ms() + timeout_ms;

	while (vblk_vq_errors(vq) <= above) {
		struct pollfd pfd = { .fd = vq->err_fd, .events = POLLIN };
		int64_t left = deadline - vblk_now_ms();

		if (left <= 0)
			return -ETIMEDOUT;
		if (poll(&pfd, 1, (int)left) < 0 && errno != EINTR)
			return -errno;
	}
	return 0;
}
