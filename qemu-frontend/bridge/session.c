// SPDX-License-Identifier: GPL-2.0-only
/*
 * One front-end connection. Each message is checked (size, descriptors,
 * order, ring index) before anything is done with it; a message that fails
 * a check ends the connection with the reason in c->why. The kernel
 * device of the connection is opened at accept and closed at the end, so
 * a front-end that goes away leaves nothing behind.
 *
 * Rings: the kernel serves a ring once it has its size, addresses, kick
 * descriptor and is enabled (rings start disabled once protocol features
 * are acked). Whenever that set changes, sync_rings() detaches the
 * backend (which waits for the requests in flight), gives the kernel the
 * new set and attaches the backend again. GET_VRING_BASE stops its ring
 * that way, so nothing touches guest memory for it after the answer.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "vub.h"

#define F(b)	(1ull << (b))

static int refuse(struct vub_conn *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int refuse(struct vub_conn *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->why, sizeof(c->why), fmt, ap);
	va_end(ap);
	return -1;
}

static int kio(struct vub_conn *c, unsigned long req, void *arg,
	       const char *name)
{
	int ret = c->dev->k->ioctl(c->dev->kctx, c->kfd, req, arg);

	if (ret)
		refuse(c, "%s: %s", name, strerror(-ret));
	return ret;
}

#define KIO(c, req, arg)	kio(c, req, arg, #req)

static bool ring_ready(const struct vub_conn *c, const struct vub_ring *r)
{
	bool enabled = r->enabled ||
		       !(c->features & F(VUB_F_PROTOCOL_FEATURES));

	return r->num && r->has_addr && r->kick >= 0 && enabled && c->has_mem;
}

static int set_backend(struct vub_conn *c, bool on)
{
	const struct vub_opts *o = c->dev->opts;
	struct vhost_blk_backend b = { .fd = -1 };

	if (on) {
		b.fd = c->dev->backend_fd;
		b.engine = o->engine;
		b.flags = o->read_only ? VHOST_BLK_BACKEND_F_READONLY : 0;
	}
	if (KIO(c, VHOST_BLK_SET_BACKEND, &b))
		return -1;
	c->attached = on;
	return 0;
}

/* The kernel's addresses of ring @q: ours of the front-end's. */
static int ring_kaddr(struct vub_conn *c, unsigned int q,
		      struct vhost_vring_addr *a)
{
	const struct vub_ring *r = &c->ring[q];
	const uint64_t n = r->num;
	void *desc = vub_memtab_uva(&c->mem, r->addr.desc, 16 * n);
	void *avail = vub_memtab_uva(&c->mem, r->addr.avail, 6 + 2 * n);
	void *used = vub_memtab_uva(&c->mem, r->addr.used, 6 + 8 * n);

	if (!desc || !avail || !used)
		return refuse(c, "ring %u (%u entries) at desc %#llx, avail %#llx, used %#llx is not inside the guest memory regions",
			      q, r->num, (unsigned long long)r->addr.desc,
			      (unsigned long long)r->addr.avail,
			      (unsigned long long)r->addr.used);
	memset(a, 0, sizeof(*a));
	a->index = q;
	a->flags = r->addr.flags;
	a->desc_user_addr = (uintptr_t)desc;
	a->avail_user_addr = (uintptr_t)avail;
	a->used_user_addr = (uintptr_t)used;
	a->log_guest_addr = r->addr.log;
	return 0;
}

/*
 * Give the kernel the rings that are ready and take away those that are
 * not; @all: every ready ring again (their addresses moved).
 */
static int sync_rings(struct vub_conn *c, bool all)
{
	unsigned int q, nq = c->dev->opts->num_queues;
	bool change = false, any = false;

	for (q = 0; q < nq; q++) {
		bool ready = ring_ready(c, &c->ring[q]);

		change |= ready != c->ring[q].kactive || (all && ready);
		any |= ready;
	}
	if (!change)
		return 0;
	if (c->attached && set_backend(c, false))
		return -1;
	for (q = 0; q < nq; q++) {
		struct vub_ring *r = &c->ring[q];
		struct vhost_vring_file f = { .index = q, .fd = -1 };
		struct vhost_vring_addr a = { .index = q };
		bool ready = ring_ready(c, r);

		if (ready == r->kactive && !(all && ready))
			continue;
		if (ready) {
			if (ring_kaddr(c, q, &a) || KIO(c, VHOST_SET_VRING_ADDR, &a))
				return -1;
			f.fd = r->kick;
			if (KIO(c, VHOST_SET_VRING_KICK, &f))
				return -1;
		} else {
			if (KIO(c, VHOST_SET_VRING_KICK, &f) ||
			    KIO(c, VHOST_SET_VRING_ADDR, &a))
				return -1;
		}
		r->kactive = ready;
	}
	return any ? set_backend(c, true) : 0;
}

/* Answer @m with the first @size bytes of its payload (its fds stay). */
static int reply(struct vub_conn *c, struct vub_msg *m, uint32_t size)
{
	struct vub_hdr h = m->hdr;
	int ret;

	m->hdr.flags = VUB_VERSION | VUB_FLAG_REPLY;
	m->hdr.size = size;
	ret = vub_send(c->sock, m);
	m->hdr = h;
	if (ret)
		return refuse(c, "sending the answer: %s", strerror(-ret));
	return 0;
}

static int reply_u64(struct vub_conn *c, struct vub_msg *m, uint64_t v)
{
	m->p.u64 = v;
	return reply(c, m, sizeof(uint64_t));
}

/* The payload size each request must have (-1: any, checked later). */
static long want_size(uint32_t req)
{
	switch (req) {
	case VUB_GET_FEATURES: case VUB_GET_PROTOCOL_FEATURES:
	case VUB_GET_QUEUE_NUM: case VUB_SET_OWNER: case VUB_GET_STATUS:
	case VUB_SET_BACKEND_REQ_FD: case VUB_GET_MAX_MEM_SLOTS:
		return 0;
	case VUB_ADD_MEM_REG: case VUB_REM_MEM_REG:
		return sizeof(struct vub_mem_reg);
	case VUB_SET_FEATURES: case VUB_SET_PROTOCOL_FEATURES:
	case VUB_SET_VRING_KICK: case VUB_SET_VRING_CALL:
	case VUB_SET_VRING_ERR: case VUB_SET_STATUS:
		return sizeof(uint64_t);
	case VUB_SET_VRING_NUM: case VUB_SET_VRING_BASE:
	case VUB_GET_VRING_BASE: case VUB_SET_VRING_ENABLE:
		return sizeof(struct vub_state);
	case VUB_SET_VRING_ADDR:
		return sizeof(struct vub_addr);
	case VUB_SET_LOG_BASE:
		return sizeof(struct vub_log);
	case VUB_SET_LOG_FD:
		return 0;
	default:
		return -1;
	}
}

static unsigned int want_fds(const struct vub_msg *m)
{
	switch (m->hdr.request) {
	case VUB_SET_MEM_TABLE:
		return m->p.mem.nregions;
	case VUB_SET_BACKEND_REQ_FD: case VUB_SET_LOG_BASE:
	case VUB_SET_LOG_FD: case VUB_ADD_MEM_REG:
		return 1;
	case VUB_REM_MEM_REG:	/* QEMU may send the region's fd: unused */
		return m->nfds ? 1 : 0;
	case VUB_SET_VRING_KICK: case VUB_SET_VRING_CALL:
	case VUB_SET_VRING_ERR:
		return m->p.u64 & VUB_VRING_NOFD ? 0 : 1;
	default:
		return 0;
	}
}

/* The ring of a vring message, or -1 (with the reason). */
static int ring_index(struct vub_conn *c, uint64_t index)
{
	if (index >= c->dev->opts->num_queues)
		return refuse(c, "ring %llu, but this back-end serves %u queues (--num-queues)",
			      (unsigned long long)index,
			      c->dev->opts->num_queues);
	if (!c->owner)
		return refuse(c, "before SET_OWNER");
	return (int)index;
}

/* Does the log cover guest addresses below @end? */
static bool log_covers(const struct vub_conn *c, uint64_t end)
{
	return c->log && c->log_size >= (end + VUB_LOG_PAGE * 8 - 1) /
					 (VUB_LOG_PAGE * 8);
}

/*
 * Give the kernel table @t and make it the connection's: the backend is
 * detached while the table changes and the rings move to @t's mappings.
 * -2: refused before anything changed (c->mem stays, @t is the caller's
 * to unmap); -1: failed after (the connection ends, c->mem is @t); 0.
 */
static int install_table(struct vub_conn *c, const struct vub_memtab *t)
{
	struct vhost_memory *km;
	char buf[VUB_MAX_SLOTS * sizeof(struct vhost_memory_region) +
		 sizeof(struct vhost_memory)] __attribute__((aligned(8)));
	unsigned int i;

	/* Logging: the log must cover the new memory (QEMU grows it first). */
	if ((c->features & F(VHOST_F_LOG_ALL)) &&
	    !log_covers(c, vub_memtab_end(t))) {
		refuse(c, "guest memory up to %#llx, beyond the dirty log of %llu bytes",
		       (unsigned long long)vub_memtab_end(t),
		       (unsigned long long)c->log_size);
		return -2;
	}
	km = (struct vhost_memory *)buf;
	memset(buf, 0, sizeof(buf));
	km->nregions = t->n;
	for (i = 0; i < t->n; i++) {
		km->regions[i].guest_phys_addr = t->m[i].gpa;
		km->regions[i].memory_size = t->m[i].size;
		km->regions[i].userspace_addr = (uintptr_t)t->m[i].local;
	}
	/* Nothing may run on the old addresses once they are unmapped. */
	if (c->attached && set_backend(c, false))
		return -2;
	if (KIO(c, VHOST_SET_MEM_TABLE, km))
		return -2;
	c->mem = *t;
	c->has_mem = true;
	for (i = 0; i < VHOST_BLK_MAX_QUEUES; i++)
		c->ring[i].kactive = false;
	/* The rings move to the new mappings (a ring outside them: refused). */
	return sync_rings(c, true) ? -1 : 0;
}

static int set_mem_table(struct vub_conn *c, struct vub_msg *m)
{
	struct vub_memtab old = c->mem, t;
	char why[200];
	int ret;

	if (m->hdr.size != VUB_SIZE_MEM(m->p.mem.nregions) ||
	    m->p.mem.nregions > VUB_MAX_REGIONS)
		return refuse(c, "%u bytes for %u regions (at most %u)",
			      m->hdr.size, m->p.mem.nregions, VUB_MAX_REGIONS);
	if (!c->owner)
		return refuse(c, "before SET_OWNER");
	if (vub_memtab_map(&t, &m->p.mem, m->fds, why, sizeof(why)))
		return refuse(c, "%s", why);
	ret = install_table(c, &t);
	if (ret == -2) {
		vub_memtab_unmap(&t);
		return -1;
	}
	vub_memtab_unmap(&old);
	return ret;
}

/*
 * ADD_MEM_REG / REM_MEM_REG (CONFIGURE_MEM_SLOTS): one region more or
 * less; the kernel gets the whole table again. The other regions keep
 * their mappings, so the rings in them keep their addresses.
 */
static int mem_reg(struct vub_conn *c, struct vub_msg *m)
{
	const struct vub_region *r = &m->p.reg.r;
	struct vub_memtab t = c->mem;
	struct vub_map gone;
	char why[200];
	int ret, i;

	if (!(c->proto & F(VUB_PROTO_F_CONFIGURE_MEM_SLOTS)))
		return refuse(c, "protocol feature CONFIGURE_MEM_SLOTS not acked");
	if (!c->owner)
		return refuse(c, "before SET_OWNER");
	if (m->hdr.request == VUB_ADD_MEM_REG) {
		if (vub_memtab_add(&t, r, m->fds[0], why, sizeof(why)))
			return refuse(c, "%s", why);
		ret = install_table(c, &t);
		if (ret == -2)
			munmap(t.m[t.n - 1].base, t.m[t.n - 1].len);
		return ret ? -1 : 0;
	}
	i = vub_memtab_find(&t, r);
	if (i < 0)
		return refuse(c, "no region at gpa %#llx of %#llx bytes",
			      (unsigned long long)r->gpa,
			      (unsigned long long)r->size);
	gone = t.m[i];
	memmove(&t.m[i], &t.m[i + 1], (t.n - (unsigned int)i - 1) * sizeof(t.m[0]));
	t.n--;
	ret = install_table(c, &t);
	if (ret != -2)
		munmap(gone.base, gone.len);
	return ret ? -1 : 0;
}

static int set_vring_fd(struct vub_conn *c, struct vub_msg *m)
{
	struct vhost_vring_file f;
	int q;

	if (m->p.u64 & ~(VUB_VRING_IDX_MASK | VUB_VRING_NOFD))
		return refuse(c, "unknown bits in %#llx",
			      (unsigned long long)m->p.u64);
	q = ring_index(c, m->p.u64 & VUB_VRING_IDX_MASK);
	if (q < 0)
		return -1;
	f.index = (unsigned int)q;
	f.fd = m->nfds ? m->fds[0] : -1;
	if (m->hdr.request == VUB_SET_VRING_KICK) {
		struct vub_ring *r = &c->ring[q];

		if (f.fd < 0)
			return refuse(c, "ring %d: no kick descriptor (polling is not supported)", q);
		if (!c->has_mem)
			return refuse(c, "ring %d: before SET_MEM_TABLE", q);
		if (!r->num || !r->has_addr)
			return refuse(c, "ring %d: before SET_VRING_NUM and SET_VRING_ADDR", q);
		if (r->kick >= 0)
			close(r->kick);
		r->kick = m->fds[0];
		m->nfds = 0;
		r->kactive = false;	/* the kernel needs the new one */
		return sync_rings(c, false);
	}
	if (m->hdr.request == VUB_SET_VRING_CALL)
		return KIO(c, VHOST_SET_VRING_CALL, &f) ? -1 : 0;
	return KIO(c, VHOST_SET_VRING_ERR, &f) ? -1 : 0;
}

static int vring_state(struct vub_conn *c, struct vub_msg *m)
{
	struct vhost_vring_state s = { .num = m->p.state.num };
	struct vub_ring *r;
	int q = ring_index(c, m->p.state.index);

	if (q < 0)
		return -1;
	r = &c->ring[q];
	s.index = (unsigned int)q;
	switch (m->hdr.request) {
	case VUB_SET_VRING_NUM:
		if (r->kactive)
			return refuse(c, "ring %d is running (GET_VRING_BASE stops it)", q);
		if (!s.num || s.num > 32768 || (s.num & (s.num - 1)))
			return refuse(c, "ring %d: %u entries (a power of two up to 32768)",
				      q, s.num);
		if (KIO(c, VHOST_SET_VRING_NUM, &s))
			return -1;
		r->num = s.num;
		return 0;
	case VUB_SET_VRING_BASE:
		if (r->kactive)
			return refuse(c, "ring %d is running (GET_VRING_BASE stops it)", q);
		return KIO(c, VHOST_SET_VRING_BASE, &s) ? -1 : 0;
	case VUB_SET_VRING_ENABLE:
		if (s.num > 1)
			return refuse(c, "ring %d: enable %u (0 or 1)", q, s.num);
		r->enabled = s.num;
		return sync_rings(c, false);
	default:	/* GET_VRING_BASE: stop the ring, answer where it is */
		if (r->kick < 0 || !r->has_addr)
			return refuse(c, "ring %d was never started", q);
		close(r->kick);
		r->kick = -1;
		r->has_addr = false;
		/*
		 * Detaching waits for every request in flight; the backend
		 * comes back for the other rings that still run.
		 */
		if (sync_rings(c, false) ||
		    KIO(c, VHOST_GET_VRING_BASE, &s))
			return -1;
		m->p.state.index = (uint32_t)q;
		m->p.state.num = s.num;
		return reply(c, m, sizeof(struct vub_state));
	}
}

static int set_vring_addr(struct vub_conn *c, struct vub_msg *m)
{
	struct vhost_vring_addr a;
	struct vub_ring *r;
	int q = ring_index(c, m->p.addr.index);

	if (q < 0)
		return -1;
	r = &c->ring[q];
	if (!c->has_mem)
		return refuse(c, "ring %d: before SET_MEM_TABLE", q);
	if (!r->num)
		return refuse(c, "ring %d: before SET_VRING_NUM", q);
	if (m->p.addr.flags & ~(uint32_t)(1u << VHOST_VRING_F_LOG))
		return refuse(c, "ring %d: flags %#x", q, m->p.addr.flags);
	if ((m->p.addr.flags & (1u << VHOST_VRING_F_LOG)) &&
	    !log_covers(c, m->p.addr.log + 6 + 8ull * r->num))
		return refuse(c, "ring %d: a used ring at %#llx the dirty log (%llu bytes) does not cover",
			      q, (unsigned long long)m->p.addr.log,
			      (unsigned long long)c->log_size);
	r->addr = m->p.addr;
	r->has_addr = true;
	if (ring_kaddr(c, q, &a)) {
		r->has_addr = false;
		return -1;
	}
	r->kactive = false;
	return sync_rings(c, false);
}

static int get_config(struct vub_conn *c, struct vub_msg *m)
{
	struct virtio_blk_config cfg;
	uint32_t off = m->p.cfg.offset, size = m->p.cfg.size;

	if (m->hdr.size != VUB_SIZE_CONFIG(size) || size > VUB_MAX_CONFIG ||
	    off > VUB_MAX_CONFIG)
		return refuse(c, "%u bytes for %u bytes of configuration at %u",
			      m->hdr.size, size, off);
	vub_blk_config(&c->dev->probe, c->dev->opts->num_queues, c->writeback,
		       &cfg);
	c->dev->cap_reported = c->dev->probe.kcfg.capacity;
	memset(m->p.cfg.data, 0, sizeof(m->p.cfg.data));
	if (off < sizeof(cfg))
		memcpy(m->p.cfg.data, (uint8_t *)&cfg + off,
		       size < sizeof(cfg) - off ? size : sizeof(cfg) - off);
	return reply(c, m, m->hdr.size);
}

static int set_config(struct vub_conn *c, struct vub_msg *m)
{
	const uint32_t wce = offsetof(struct virtio_blk_config, wce);
	uint32_t off = m->p.cfg.offset, size = m->p.cfg.size, v;

	if (m->hdr.size != VUB_SIZE_CONFIG(size) || size > VUB_MAX_CONFIG ||
	    off > VUB_MAX_CONFIG)
		return refuse(c, "%u bytes for %u bytes of configuration at %u",
			      m->hdr.size, size, off);
	/* Only the write-cache flag is writable (VIRTIO_BLK_F_CONFIG_WCE). */
	if (off > wce || off + size <= wce)
		return 0;
	v = m->p.cfg.data[wce - off];
	if (v > 1)
		return refuse(c, "writeback %u (0 or 1)", v);
	if (!c->owner)
		return refuse(c, "before SET_OWNER");
	if (KIO(c, VHOST_BLK_SET_WRITEBACK, &v))
		return -1;
	c->writeback = (uint8_t)v;
	return 0;
}

static void note(struct vub_conn *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * With several queues, a vhost worker each, as QEMU's vhost-blk-pci gives
 * them: one worker for all would serve them in turn. A kernel without
 * VHOST_NEW_WORKER (6.1), or one that fails it, leaves the rest sharing
 * the device's worker: slower, not wrong, so only a note.
 */
static void new_workers(struct vub_conn *c)
{
	unsigned int q, nq = c->dev->opts->num_queues;

	for (q = 0; nq > 1 && q < nq; q++) {
		struct vub_worker_state w = { 0 };
		struct vub_vring_worker vw = { .index = q };
		const char *step = "VHOST_NEW_WORKER";
		int ret;

		ret = c->dev->k->ioctl(c->dev->kctx, c->kfd, VUB_NEW_WORKER, &w);
		if (!ret) {
			step = "VHOST_ATTACH_VRING_WORKER";
			vw.worker_id = w.worker_id;
			ret = c->dev->k->ioctl(c->dev->kctx, c->kfd,
					       VUB_ATTACH_VRING_WORKER, &vw);
		}
		if (ret) {
			note(c, "queues %u to %u share one vhost worker: %s: %s%s",
			     q, nq - 1, step, strerror(-ret),
			     ret == -ENOTTY ? " (a kernel before 6.4)" : "");
			return;
		}
		c->workers++;
	}
}

static int set_owner(struct vub_conn *c)
{
	const char *serial = c->dev->opts->serial;
	struct vhost_blk_serial s = { 0 };

	if (c->owner)
		return refuse(c, "a second time");
	if (KIO(c, VHOST_SET_OWNER, NULL))
		return -1;
	c->owner = true;
	new_workers(c);
	if (!serial)
		return 0;
	memcpy(s.id, serial, strnlen(serial, sizeof(s.id)));
	return KIO(c, VHOST_BLK_SET_SERIAL, &s) ? -1 : 0;
}

/*
 * The kernel logs by guest address into the bitmap at the address we gave
 * it, without knowing its size: one too short for the guest memory would
 * have it write past our mapping. -1 (with the reason) for no log or a
 * short one.
 */
static int log_short(struct vub_conn *c)
{
	uint64_t end = vub_memtab_end(&c->mem);

	if (!c->log)
		return refuse(c, "VHOST_F_LOG_ALL before SET_LOG_BASE");
	if (!log_covers(c, end))
		return refuse(c, "a log of %llu bytes for guest memory up to %#llx",
			      (unsigned long long)c->log_size,
			      (unsigned long long)end);
	return 0;
}

static void log_unmap(struct vub_conn *c)
{
	if (c->log_map)
		munmap(c->log_map, c->log_len);
	c->log_map = NULL;
	c->log = NULL;
	c->log_len = 0;
	c->log_size = 0;
}

/*
 * SET_LOG_BASE (LOG_SHMFD): map the front-end's log and give the kernel
 * our address of it. A log replaced while the rings run (QEMU resizes it
 * when guest memory grows) is swapped with the backend detached, so that
 * no request still logs into the old one when it is unmapped. Answered
 * with a u64 0, as the front-end waits for an answer whatever REPLY_ACK.
 */
static int set_log_base(struct vub_conn *c, struct vub_msg *m)
{
	const uint64_t size = m->p.log.size, off = m->p.log.offset;
	const long pg = sysconf(_SC_PAGESIZE);
	const uint64_t start = off & ~(uint64_t)(pg - 1);
	bool was = c->attached;
	struct stat st;
	uint64_t base;
	void *p;
	int ret;

	if (!(c->proto & F(VUB_PROTO_F_LOG_SHMFD)))
		return refuse(c, "protocol feature LOG_SHMFD not acked");
	if (!c->owner)
		return refuse(c, "before SET_OWNER");
	if (!size || size > VUB_LOG_MAX || off > VUB_LOG_MAX)
		return refuse(c, "a log of %llu bytes at %llu (1 to %llu bytes)",
			      (unsigned long long)size, (unsigned long long)off,
			      (unsigned long long)VUB_LOG_MAX);
	if ((c->features & F(VHOST_F_LOG_ALL)) &&
	    size < (vub_memtab_end(&c->mem) + VUB_LOG_PAGE * 8 - 1) /
		   (VUB_LOG_PAGE * 8))
		return refuse(c, "a log of %llu bytes while logging, for guest memory up to %#llx",
			      (unsigned long long)size,
			      (unsigned long long)vub_memtab_end(&c->mem));
	if (fstat(m->fds[0], &st) || (uint64_t)st.st_size < off + size)
		return refuse(c, "a log of %llu bytes at %llu, past the end of its file (%lld bytes)",
			      (unsigned long long)size, (unsigned long long)off,
			      (long long)st.st_size);
	p = mmap(NULL, off + size - start, PROT_READ | PROT_WRITE, MAP_SHARED,
		 m->fds[0], (off_t)start);
	if (p == MAP_FAILED)
		return refuse(c, "mapping the log: %s", strerror(errno));
	base = (uintptr_t)p + (off - start);
	if (was && set_backend(c, false)) {
		munmap(p, off + size - start);
		return -1;
	}
	if (KIO(c, VHOST_SET_LOG_BASE, &base)) {
		munmap(p, off + size - start);
		return -1;
	}
	log_unmap(c);
	c->log_map = p;
	c->log_len = off + size - start;
	c->log = (uint8_t *)(uintptr_t)base;
	c->log_size = size;
	if (was && set_backend(c, true))
		return -1;
	ret = reply_u64(c, m, 0);
	return ret;
}

static int set_features(struct vub_conn *c, uint64_t f)
{
	uint64_t offered = c->dev->probe.features | F(VUB_F_PROTOCOL_FEATURES);
	uint64_t k = f & ~F(VUB_F_PROTOCOL_FEATURES);

	if (f & ~offered)
		return refuse(c, "%#llx not offered (offered %#llx)",
			      (unsigned long long)(f & ~offered),
			      (unsigned long long)offered);
	if (!c->owner)
		return refuse(c, "before SET_OWNER");
	if (c->attached && (f ^ c->features) & ~F(VHOST_F_LOG_ALL))
		return refuse(c, "features other than VHOST_F_LOG_ALL changed while rings run");
	if ((f & F(VHOST_F_LOG_ALL)) && log_short(c))
		return -1;
	if (KIO(c, VHOST_SET_FEATURES, &k))
		return -1;
	c->features = f;
	c->features_set = true;
	return 0;
}

/* One message; 0, or -1 to end the connection. */
static int handle(struct vub_conn *c, struct vub_msg *m)
{
	uint64_t v = m->p.u64;
	bool ack = m->hdr.flags & VUB_FLAG_NEED_REPLY;
	int ret;

	switch (m->hdr.request) {
	case VUB_GET_FEATURES:
		return reply_u64(c, m, c->dev->probe.features |
				       F(VUB_F_PROTOCOL_FEATURES));
	case VUB_GET_PROTOCOL_FEATURES:
		return reply_u64(c, m, VUB_PROTO_OFFERED);
	case VUB_GET_QUEUE_NUM:
		return reply_u64(c, m, c->dev->opts->num_queues);
	case VUB_GET_STATUS:
		return reply_u64(c, m, c->status);
	case VUB_GET_MAX_MEM_SLOTS:
		return reply_u64(c, m, VUB_MAX_SLOTS);
	case VUB_GET_CONFIG:
		return get_config(c, m);
	case VUB_GET_VRING_BASE:
		return vring_state(c, m);
	case VUB_SET_PROTOCOL_FEATURES:
		if (v & ~VUB_PROTO_OFFERED)
			return refuse(c, "%#llx not offered (offered %#llx)",
				      (unsigned long long)(v & ~VUB_PROTO_OFFERED),
				      (unsigned long long)VUB_PROTO_OFFERED);
		c->proto = v;
		ret = 0;
		break;
	case VUB_SET_FEATURES:
		ret = set_features(c, v);
		break;
	case VUB_SET_OWNER:
		ret = set_owner(c);
		break;
	case VUB_SET_MEM_TABLE:
		ret = set_mem_table(c, m);
		break;
	case VUB_SET_VRING_NUM: case VUB_SET_VRING_BASE:
	case VUB_SET_VRING_ENABLE:
		ret = vring_state(c, m);
		break;
	case VUB_SET_VRING_ADDR:
		ret = set_vring_addr(c, m);
		break;
	case VUB_SET_VRING_KICK: case VUB_SET_VRING_CALL:
	case VUB_SET_VRING_ERR:
		ret = set_vring_fd(c, m);
		break;
	case VUB_SET_CONFIG:
		ret = set_config(c, m);
		break;
	case VUB_ADD_MEM_REG: case VUB_REM_MEM_REG:
		ret = mem_reg(c, m);
		break;
	case VUB_SET_LOG_BASE:
		/* Its answer is the acknowledgement too. */
		return set_log_base(c, m);
	case VUB_SET_LOG_FD:
		if (!c->owner)
			return refuse(c, "before SET_OWNER");
		ret = KIO(c, VHOST_SET_LOG_FD, &m->fds[0]) ? -1 : 0;
		break;
	case VUB_SET_BACKEND_REQ_FD:
		if (!(c->proto & F(VUB_PROTO_F_BACKEND_REQ)))
			return refuse(c, "protocol feature BACKEND_REQ not acked");
		if (c->backend_req >= 0)
			close(c->backend_req);
		c->backend_req = m->fds[0];
		m->nfds = 0;
		c->ack_pending = false;
		c->cap_notified = c->dev->cap_reported;
		ret = 0;
		break;
	case VUB_SET_STATUS:
		if (v > 0xff)
			return refuse(c, "status %#llx", (unsigned long long)v);
		c->status = (uint8_t)v;
		ret = 0;
		break;
	default:
		return refuse(c, "not implemented by this back-end");
	}
	if (ret)
		return -1;
	if (ack && (c->proto & F(VUB_PROTO_F_REPLY_ACK)))
		return reply_u64(c, m, 0);
	return 0;
}

/* The checks every message goes through before its handler. */
static int check(struct vub_conn *c, const struct vub_msg *m)
{
	long size = want_size(m->hdr.request);

	if ((m->hdr.flags & VUB_FLAG_VERSION_MASK) != VUB_VERSION ||
	    (m->hdr.flags & ~VUB_FLAGS_KNOWN) ||
	    (m->hdr.flags & VUB_FLAG_REPLY))
		return refuse(c, "flags %#x (version 1, no reply flag)",
			      m->hdr.flags);
	if (size >= 0 && m->hdr.size != (uint32_t)size)
		return refuse(c, "%u bytes of payload, %ld expected",
			      m->hdr.size, size);
	if (m->nfds != want_fds(m))
		return refuse(c, "%u file descriptors, %u expected", m->nfds,
			      want_fds(m));
	return 0;
}

static void release(struct vub_conn *c)
{
	unsigned int q;

	if (c->kfd >= 0) {
		if (c->attached)
			set_backend(c, false);
		/* Closing the device stops its worker and drops the rings. */
		c->dev->k->close(c->dev->kctx, c->kfd);
		c->kfd = -1;
	}
	for (q = 0; q < VHOST_BLK_MAX_QUEUES; q++)
		if (c->ring[q].kick >= 0) {
			close(c->ring[q].kick);
			c->ring[q].kick = -1;
		}
	if (c->backend_req >= 0) {
		close(c->backend_req);
		c->backend_req = -1;
	}
	/* The device is closed: nothing logs any more. */
	log_unmap(c);
	vub_memtab_unmap(&c->mem);
}

static void note(struct vub_conn *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void note(struct vub_conn *c, const char *fmt, ...)
{
	va_list ap;

	if (!c->dev->log)
		return;
	va_start(ap, fmt);
	fprintf(c->dev->log, "vhost-blk-user: ");
	vfprintf(c->dev->log, fmt, ap);
	fputc('\n', c->dev->log);
	va_end(ap);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The back-end channel failed or went silent: QEMU gets no more from it. */
static void drop_backend_req(struct vub_conn *c, const char *why)
{
	note(c, "back-end channel closed: %s", why);
	close(c->backend_req);
	c->backend_req = -1;
	c->ack_pending = false;
}

/* The answer to our CONFIG_CHANGE_MSG (the channel is readable). */
static void backend_answer(struct vub_conn *c)
{
	struct vub_msg m;
	int ret = vub_recv(c->backend_req, &m);

	if (ret == -EINTR)
		return;
	c->ack_pending = false;
	if (ret) {
		drop_backend_req(c, ret == -ECONNRESET ? "the front-end closed it" :
				 strerror(-ret));
		return;
	}
	vub_close_fds(&m);
	if (m.hdr.request != VUB_BACKEND_CONFIG_CHANGE_MSG ||
	    !(m.hdr.flags & VUB_FLAG_REPLY) || m.hdr.size != sizeof(uint64_t))
		drop_backend_req(c, "an answer that is not CONFIG_CHANGE_MSG's");
	else if (m.p.u64)
		note(c, "the front-end answered CONFIG_CHANGE_MSG with %llu",
		     (unsigned long long)m.p.u64);
}

/*
 * The 1 s timer: ask the kernel for the backend's size (one ioctl while
 * it is unchanged) and tell the front-end on its back-end channel when the
 * capacity differs from what GET_CONFIG last said, or when this process
 * has said nothing yet: QEMU reads no GET_CONFIG when it reconnects, so
 * after a daemon restart what it knows is the old daemon's word, and the
 * announcement lets it compare (it tells the guest only of a change).
 * QEMU answers by reading GET_CONFIG on the main socket before it
 * acknowledges, so the acknowledgement is awaited here, between messages,
 * never in a blocking read.
 */
static void tick(struct vub_conn *c, uint64_t now)
{
	struct vub_dev *d = c->dev;
	struct vub_msg m;
	uint64_t cap = 0;
	int ret;

	if (c->ack_pending && now >= c->ack_deadline)
		drop_backend_req(c, "no answer to CONFIG_CHANGE_MSG in time");
	if (now < c->next_resize)
		return;
	c->next_resize = now + (uint64_t)(d->resize_ms ? d->resize_ms : 1000);
	if (!c->attached)
		return;
	ret = d->k->ioctl(d->kctx, c->kfd, VHOST_BLK_RESIZE, &cap);
	if (ret || !cap)
		return;
	if (cap != d->probe.kcfg.capacity) {
		note(c, "the backend is now %llu sectors (was %llu)",
		     (unsigned long long)cap,
		     (unsigned long long)d->probe.kcfg.capacity);
		d->probe.kcfg.capacity = cap;
	}
	if (cap == d->cap_reported || cap == c->cap_notified ||
	    c->backend_req < 0 || c->ack_pending)
		return;
	memset(&m, 0, sizeof(m));
	m.hdr.request = VUB_BACKEND_CONFIG_CHANGE_MSG;
	m.hdr.flags = VUB_VERSION;
	if (c->proto & F(VUB_PROTO_F_REPLY_ACK))
		m.hdr.flags |= VUB_FLAG_NEED_REPLY;
	ret = vub_send(c->backend_req, &m);
	if (ret) {
		drop_backend_req(c, strerror(-ret));
		return;
	}
	c->cap_notified = cap;
	c->config_changes++;
	note(c, "CONFIG_CHANGE_MSG sent (capacity %llu sectors)",
	     (unsigned long long)cap);
	if (m.hdr.flags & VUB_FLAG_NEED_REPLY) {
		c->ack_pending = true;
		c->ack_deadline = now + (uint64_t)(d->ack_ms ? d->ack_ms : 5000);
	}
}

/*
 * 0 when a message (or the end) can be read; -EINTR for a signal.
 * Meanwhile the timer runs and the back-end channel's answer is read.
 */
static int wait_message(struct vub_conn *c)
{
	struct vub_dev *d = c->dev;

	for (;;) {
		struct pollfd p[2] = {
			{ .fd = c->sock, .events = POLLIN },
			{ .fd = c->backend_req, .events = POLLIN },
		};
		nfds_t n = c->ack_pending ? 2 : 1;
		uint64_t now = now_ms(), until = c->next_resize;
		struct timespec ts;
		int ret;

		if (c->ack_pending && c->ack_deadline < until)
			until = c->ack_deadline;
		until = until > now ? until - now : 0;
		ts.tv_sec = (time_t)(until / 1000);
		ts.tv_nsec = (long)(until % 1000) * 1000000;
		if (d->waitmask)
			ret = ppoll(p, n, &ts, d->waitmask);
		else
			ret = poll(p, n, (int)until);
		if (ret < 0)
			return -errno;
		if (n == 2 && p[1].revents)
			backend_answer(c);
		if (p[0].revents)
			return 0;
		tick(c, now_ms());
	}
}

int vub_serve(struct vub_dev *d, int sock, struct vub_conn *c)
{
	struct vub_msg m;
	char nb[32];
	unsigned int q;
	int ret;

	memset(c, 0, sizeof(*c));
	c->dev = d;
	c->sock = sock;
	c->writeback = 1;
	for (q = 0; q < VHOST_BLK_MAX_QUEUES; q++)
		c->ring[q].kick = -1;
	c->backend_req = -1;
	c->cap_notified = d->cap_reported;	/* 0: none given yet */
	c->next_resize = now_ms() + (uint64_t)(d->resize_ms ? d->resize_ms : 1000);
	c->kfd = d->k->open(d->kctx, d->opts->dev);
	if (c->kfd < 0) {
		snprintf(c->why, sizeof(c->why), "cannot open %s: %s",
			 d->opts->dev, strerror(-c->kfd));
		return -1;
	}
	for (;;) {
		ret = wait_message(c);
		if (!ret)
			ret = vub_recv(sock, &m);
		if (ret == -EINTR && !(d->stop && *d->stop))
			continue;
		if (ret == -ECONNRESET || ret == -EINTR) {
			if (ret == -EINTR)
				snprintf(c->why, sizeof(c->why), "stopped by a signal");
			ret = 0;
			break;
		}
		if (ret) {
			snprintf(c->why, sizeof(c->why), "after %lu messages: %s",
				 c->handled, ret == -EPROTO ?
				 "a short or oversized message, or more than 8 file descriptors" :
				 strerror(-ret));
			ret = -1;
			break;
		}
		if (d->opts->verbose)
			fprintf(stderr, "vhost-blk-user: %s size %u fds %u\n",
				vub_request_name(m.hdr.request, nb, sizeof(nb)),
				m.hdr.size, m.nfds);
		ret = check(c, &m);
		if (!ret)
			ret = handle(c, &m);
		vub_close_fds(&m);
		if (ret) {
			char reason[sizeof(c->why)];

			memcpy(reason, c->why, sizeof(reason));
			snprintf(c->why, sizeof(c->why), "%s: %.200s",
				 vub_request_name(m.hdr.request, nb, sizeof(nb)),
				 reason);
			break;
		}
		c->handled++;
	}
	release(c);
	return ret;
}
