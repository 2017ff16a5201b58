// SPDX-License-Identifier: GPL-2.0-only
/*
 * fake-vhost-blk.so: /dev/vhost-blk faked in the calling process, for
 * testing vbt itself where the module cannot be loaded:
 *
 *   LD_PRELOAD=build/guest/fake-vhost-blk.so build/guest/vbt IMAGE
 *
 * open("/dev/vhost-blk") gives a placeholder fd; ioctl() and close() on it
 * are served here; a thread per device serves the rings with pread/pwrite
 * on the backend. It follows docs/api.md and the vhost core's rules for
 * chains (a broken chain signals the error eventfd and stalls the ring). It
 * is not the module: it has no debugfs counters, pins no pages and does
 * everything synchronously, so lifecycle cases only check that vbt runs.
 * Being an LD_PRELOAD shim, it keeps its devices in a global table.
 *
 * Its chain walk and request serving are its own, not fuzz/model.c's: it is
 * a standalone .so (no libvblk, no vfuzz), does the I/O, and plants the bugs
 * below between the checks; the model only predicts. The sector and
 * DISCARD / WRITE_ZEROES segment checks are the shared lib/blk-rules.h.
 *
 * FAKE_VHOST_BLK_BUG=name plants one bug, to check that vbt notices:
 *   short-used       successful reads return used len without the status
 *   drop-writes      every 7th write is not written, yet OK
 *   shift-writes     every 5th write lands 8 sectors further
 *   ignore-readonly  writes to a read-only backend succeed
 *   no-range-check   reads and writes past the capacity are tried
 *   unsupp-as-ok     unknown request types complete OK
 *   no-vq-err        the error eventfd is never signalled
 *   event-idx        interrupts only when used_event + 1 is crossed
 *   region-swap      guest addresses of region 0 resolve into region 1
 *   get-id-overrun   GET_ID writes 20 bytes whatever the buffer size
 *   shared-worker    VHOST_NEW_WORKER gives every new worker the same id
 *   dwz-readonly     DISCARD and WRITE_ZEROES change a read-only backend
 *
 * Workers: one thread serves every queue of a device, named as the vhost
 * core names its workers (vhost-<owner pid>); VHOST_NEW_WORKER and
 * VHOST_ATTACH_VRING_WORKER only keep the ids, which
 * VHOST_GET_VRING_WORKER reports. A busy-poll window
 * (VHOST_SET_VRING_BUSYLOOP_TIMEOUT) is served as vhost_net serves it: after
 * a queue's requests the thread watches its avail ring with notifications
 * off (VRING_USED_F_NO_NOTIFY; with EVENT_IDX nothing is taken back).
 */
#include <dlfcn.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "blk-rules.h"
#include "vblk.h"

#define NODE		"/dev/vhost-blk"
#define MAX_FD		4096
#define MAX_REGIONS	8
#define MAX_IOV		1024
#define SEG_MAX		128
#define SIZE_MAX_	65536u
#define MAX_BYTES	(SEG_MAX * SIZE_MAX_)
#define DWZ_SEG_MAX	16
#define DWZ_SECTORS	(1u << 21)

/* LOG_ALL is accepted, but no log is kept: dirty-log SKIPs here. */
#define FEATURES	(VBLK_FEATURES_DEFAULT |			\
			 VBLK_F(VIRTIO_F_NOTIFY_ON_EMPTY) |		\
			 VBLK_F(VHOST_F_LOG_ALL) |			\
			 VBLK_F(VIRTIO_BLK_F_SEG_MAX) |			\
			 VBLK_F(VIRTIO_BLK_F_SIZE_MAX) |		\
			 VBLK_F(VIRTIO_BLK_F_BLK_SIZE) |		\
			 VBLK_F(VIRTIO_BLK_F_FLUSH) |			\
			 VBLK_F(VIRTIO_BLK_F_CONFIG_WCE) |		\
			 VBLK_F(VIRTIO_BLK_F_TOPOLOGY) |		\
			 VBLK_F(VIRTIO_BLK_F_MQ) |			\
			 VBLK_F(VIRTIO_BLK_F_DISCARD) |			\
			 VBLK_F(VIRTIO_BLK_F_WRITE_ZEROES) |		\
			 VBLK_F(VIRTIO_BLK_F_RO))

struct fvq {
	unsigned int num;
	bool has_num, has_addr;
	uint16_t last_avail, last_used;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	int kick, call, err;
	unsigned int poll_us;		/* VHOST_SET_VRING_BUSYLOOP_TIMEOUT */
	unsigned int worker;		/* VHOST_ATTACH_VRING_WORKER's id */
};

struct fdev {
	pid_t owner;
	uint64_t features;
	struct vhost_memory_region reg[MAX_REGIONS];
	unsigned int nreg;
	struct fvq vq[VHOST_BLK_MAX_QUEUES];
	int backend;			/* -1: none */
	bool ro, is_blk;
	uint32_t engine, lbs, pbs;
	uint64_t cap;
	uint8_t serial[VHOST_BLK_SERIAL_LEN];
	bool write_through;	/* VHOST_BLK_SET_WRITEBACK 0 (no cache here) */
	int config_call;		/* VHOST_BLK_SET_CONFIG_CALL, or -1 */
	pthread_mutex_t lock;
	pthread_t thread;
	bool running;
	int wake;			/* eventfd: stop or rebuild the poll set */
	bool stop;
	unsigned int workers;		/* ids given by VHOST_NEW_WORKER */
	struct iovec iov[MAX_IOV];
	bool iov_w[MAX_IOV];
};

static struct fdev *devs[MAX_FD];
static unsigned int serial_no;
static const char *bug;
static unsigned long nwrites;

static bool has_bug(const char *name)
{
	return bug && !strcmp(bug, name);
}

static int (*real_open)(const char *, int, ...);
static int (*real_close)(int);
static int (*real_ioctl)(int, unsigned long, ...);
static int (*real_stat)(const char *, struct stat *);

static void resolve(void)
{
	if (!real_open) {
		real_open = (int (*)(const char *, int, ...))dlsym(RTLD_NEXT, "open");
		real_close = (int (*)(int))dlsym(RTLD_NEXT, "close");
		real_ioctl = (int (*)(int, unsigned long, ...))dlsym(RTLD_NEXT, "ioctl");
		real_stat = (int (*)(const char *, struct stat *))dlsym(RTLD_NEXT, "stat");
		bug = getenv("FAKE_VHOST_BLK_BUG");
	}
}

static void notify(int fd)
{
	uint64_t one = 1;

	if (fd >= 0 && write(fd, &one, sizeof(one)) < 0)
		return;
}

static void notify_err(int fd)
{
	if (!has_bug("no-vq-err"))
		notify(fd);
}

static void *translate(struct fdev *d, uint64_t gpa, uint64_t len)
{
	unsigned int i;

	for (i = 0; i < d->nreg; i++) {
		struct vhost_memory_region *r = &d->reg[i];
		uint64_t hva = r->userspace_addr;

		if (has_bug("region-swap") && i == 0 && d->nreg > 1)
			hva = d->reg[1].userspace_addr;
		if (gpa >= r->guest_phys_addr &&
		    gpa - r->guest_phys_addr < r->memory_size &&
		    len <= r->memory_size - (gpa - r->guest_phys_addr))
			return (void *)(uintptr_t)(hva + (gpa - r->guest_phys_addr));
	}
	return NULL;
}

/* --- the vhost core's part: chains to iovecs ------------------------ */

static int add_desc(struct fdev *d, const struct vring_desc *x,
		    unsigned int *out, unsigned int *in)
{
	uint32_t len = le32toh(x->len);
	bool w = le16toh(x->flags) & VRING_DESC_F_WRITE;
	void *p;

	if (!len)
		return 0;
	p = translate(d, le64toh(x->addr), len);
	if (!p || *out + *in == MAX_IOV)
		return -1;
	if (!w && *in)
		return -1;	/* out after in */
	d->iov[*out + *in] = (struct iovec){ p, len };
	d->iov_w[*out + *in] = w;
	if (w)
		(*in)++;
	else
		(*out)++;
	return 0;
}

static int walk_indirect(struct fdev *d, const struct vring_desc *ind,
			 unsigned int *out, unsigned int *in)
{
	uint32_t len = le32toh(ind->len);
	struct vring_desc *tb;
	unsigned int count, found = 0, i = 0;

	if (len % sizeof(*tb))
		return -1;
	tb = translate(d, le64toh(ind->addr), len ? len : 1);
	if (!tb)
		return -1;
	count = len / sizeof(*tb);
	for (;;) {
		struct vring_desc x;

		if (++found > count || i >= count)
			return -1;
		x = tb[i];
		if (le16toh(x.flags) & VRING_DESC_F_INDIRECT)
			return -1;
		if (add_desc(d, &x, out, in))
			return -1;
		if (!(le16toh(x.flags) & VRING_DESC_F_NEXT))
			return 0;
		i = le16toh(x.next);
	}
}

/* The next chain: its head, vq->num if none, -1 if the ring is broken. */
static int get_desc(struct fdev *d, struct fvq *vq, unsigned int *out,
		    unsigned int *in)
{
	uint16_t avail = le16toh(__atomic_load_n(&vq->avail->idx,
						 __ATOMIC_ACQUIRE));
	unsigned int head, i, found = 0;

	*out = *in = 0;
	if ((uint16_t)(avail - vq->last_avail) > vq->num)
		return -1;
	if (avail == vq->last_avail)
		return (int)vq->num;
	head = le16toh(vq->avail->ring[vq->last_avail % vq->num]);
	if (head >= vq->num)
		return -1;
	i = head;
	for (;;) {
		struct vring_desc x;

		if (i >= vq->num || ++found > vq->num)
			return -1;
		x = vq->desc[i];
		if (le16toh(x.flags) & VRING_DESC_F_INDIRECT) {
			if (walk_indirect(d, &x, out, in))
				return -1;
		} else if (add_desc(d, &x, out, in)) {
			return -1;
		}
		if (!(le16toh(x.flags) & VRING_DESC_F_NEXT))
			break;
		i = le16toh(x.next);
	}
	vq->last_avail++;
	return (int)head;
}

/* --- the module's part: requests ------------------------------------ */

/* Copy out of (to_iov false) or into the iovecs [first, first + n). */
static size_t iov_copy(struct iovec *iov, unsigned int n, size_t skip,
		       void *buf, size_t len, bool to_iov)
{
	size_t done = 0;
	unsigned int i;

	for (i = 0; i < n && done < len; i++) {
		size_t l;

		if (skip >= iov[i].iov_len) {
			skip -= iov[i].iov_len;
			continue;
		}
		l = iov[i].iov_len - skip;
		if (l > len - done)
			l = len - done;
		if (to_iov)
			memcpy((uint8_t *)iov[i].iov_base + skip,
			       (uint8_t *)buf + done, l);
		else
			memcpy((uint8_t *)buf + done,
			       (uint8_t *)iov[i].iov_base + skip, l);
		done += l;
		skip = 0;
	}
	return done;
}

/* Iovecs of [skip, skip + len) of @iov[0..n) into @dst: their count. */
static unsigned int iov_slice(const struct iovec *iov, unsigned int n,
			      size_t skip, size_t len, struct iovec *dst)
{
	unsigned int i, k = 0;

	for (i = 0; i < n && len; i++) {
		size_t l;

		if (skip >= iov[i].iov_len) {
			skip -= iov[i].iov_len;
			continue;
		}
		l = iov[i].iov_len - skip;
		if (l > len)
			l = len;
		dst[k++] = (struct iovec){ (uint8_t *)iov[i].iov_base + skip, l };
		len -= l;
		skip = 0;
	}
	return k;
}

static bool range_ok(struct fdev *d, uint64_t sector, uint64_t bytes)
{
	return vblk_extent_ok(d->cap, d->lbs, sector, bytes);
}

/* As the module: a write never takes a regular file past its size now. */
static bool within_file(struct fdev *d, uint64_t sector, uint64_t bytes)
{
	struct stat st;

	return d->is_blk || (!fstat(d->backend, &st) &&
			     sector * VBLK_SECTOR + bytes <= (uint64_t)st.st_size);
}

static uint8_t do_rw(struct fdev *d, bool rd, uint64_t sector,
		     struct iovec *iov, unsigned int n, size_t skip, size_t len,
		     uint32_t *used)
{
	static __thread struct iovec v[MAX_IOV];
	unsigned int k = iov_slice(iov, n, skip, len, v);
	ssize_t r;

	/* Bytes, not iovecs, as the module (req.c): IOERR alone. */
	if (!len || len > MAX_BYTES)
		return VIRTIO_BLK_S_IOERR;
	if (!rd && d->ro && !has_bug("ignore-readonly"))
		return VIRTIO_BLK_S_IOERR;
	if (sector > UINT64_MAX / VBLK_SECTOR ||
	    (!range_ok(d, sector, len) && !has_bug("no-range-check")))
		return VIRTIO_BLK_S_IOERR;
	if (!rd && !within_file(d, sector, len))
		return VIRTIO_BLK_S_IOERR;
	if (!rd) {
		nwrites++;
		if (has_bug("drop-writes") && !(nwrites % 7))
			return VIRTIO_BLK_S_OK;
		if (has_bug("shift-writes") && !(nwrites % 5) &&
		    range_ok(d, sector + 8, len))
			sector += 8;
	}
	r = rd ? preadv(d->backend, v, (int)k, (off_t)(sector * VBLK_SECTOR)) :
		 pwritev(d->backend, v, (int)k, (off_t)(sector * VBLK_SECTOR));
	if (r != (ssize_t)len)
		return VIRTIO_BLK_S_IOERR;
	if (rd)
		*used = (uint32_t)len + (has_bug("short-used") ? 0 : 1);
	return VIRTIO_BLK_S_OK;
}

static int zero_out(struct fdev *d, bool discard, uint64_t s, uint32_t n,
		    bool unmap)
{
	uint64_t range[2] = { s * VBLK_SECTOR, (uint64_t)n * VBLK_SECTOR };
	int mode;

	if (d->is_blk)
		return real_ioctl(d->backend, discard ? BLKDISCARD : BLKZEROOUT,
				  range) ? -errno : 0;
	mode = discard || unmap ? FALLOC_FL_PUNCH_HOLE : FALLOC_FL_ZERO_RANGE;
	if (!fallocate(d->backend, mode | FALLOC_FL_KEEP_SIZE, (off_t)range[0],
		       (off_t)range[1]))
		return 0;
	if (errno == EOPNOTSUPP && !discard)
		return fallocate(d->backend, (mode ^ (FALLOC_FL_PUNCH_HOLE |
						      FALLOC_FL_ZERO_RANGE)) |
				 FALLOC_FL_KEEP_SIZE, (off_t)range[0],
				 (off_t)range[1]) ? -errno : 0;
	return -errno;
}

static uint8_t do_dwz(struct fdev *d, bool discard,
		      struct iovec *iov, unsigned int out, size_t bytes)
{
	struct virtio_blk_discard_write_zeroes seg[DWZ_SEG_MAX];
	unsigned int k, n;

	if (d->ro && !has_bug("dwz-readonly"))
		return VIRTIO_BLK_S_IOERR;
	if (!bytes || bytes % sizeof(seg[0]) || bytes > sizeof(seg))
		return VIRTIO_BLK_S_IOERR;
	iov_copy(iov, out, sizeof(struct virtio_blk_outhdr), seg, bytes, false);
	n = bytes / sizeof(seg[0]);
	for (k = 0; k < n; k++) {
		uint8_t st = vblk_dwz_seg_status(discard, DWZ_SECTORS, d->cap,
						 d->lbs, &seg[k]);

		if (st != VIRTIO_BLK_S_OK)
			return st;
	}
	for (k = 0; k < n; k++) {
		int r = zero_out(d, discard, le64toh(seg[k].sector),
				 le32toh(seg[k].num_sectors),
				 le32toh(seg[k].flags));

		if (r == -EOPNOTSUPP)
			return VIRTIO_BLK_S_UNSUPP;
		if (r)
			return VIRTIO_BLK_S_IOERR;
	}
	return VIRTIO_BLK_S_OK;
}

/* Serve one chain: the used length. */
static uint32_t serve(struct fdev *d, struct fvq *vq, unsigned int out,
		      unsigned int in)
{
	struct virtio_blk_outhdr h;
	struct iovec *iov = d->iov;
	size_t out_len = 0, in_len = 0;
	uint32_t used = 1, type;
	unsigned int i;
	uint8_t *status, st;

	for (i = 0; i < out; i++)
		out_len += iov[i].iov_len;
	for (i = out; i < out + in; i++)
		in_len += iov[i].iov_len;
	if (!in) {
		notify_err(vq->err);
		return 0;
	}
	status = (uint8_t *)iov[out + in - 1].iov_base +
		 iov[out + in - 1].iov_len - 1;
	if (out_len < sizeof(h)) {
		*status = VIRTIO_BLK_S_IOERR;
		return 1;
	}
	iov_copy(iov, out, 0, &h, sizeof(h), false);
	type = le32toh(h.type);
	switch (type) {
	case VIRTIO_BLK_T_IN:
		st = do_rw(d, true, le64toh(h.sector), iov + out, in, 0,
			   in_len - 1, &used);
		break;
	case VIRTIO_BLK_T_OUT:
		st = do_rw(d, false, le64toh(h.sector), iov, out, sizeof(h),
			   out_len - sizeof(h), &used);
		break;
	case VIRTIO_BLK_T_FLUSH:
		st = fsync(d->backend) ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK;
		break;
	case VIRTIO_BLK_T_GET_ID: {
		size_t n = in_len - 1 < sizeof(d->serial) &&
			   !has_bug("get-id-overrun") ? in_len - 1 :
			   sizeof(d->serial);

		iov_copy(iov + out, in, 0, d->serial, n, true);
		used = (uint32_t)n + 1;
		st = VIRTIO_BLK_S_OK;
		break;
	}
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES: {
		bool discard = type == VIRTIO_BLK_T_DISCARD;

		if (d->is_blk && discard)
			st = VIRTIO_BLK_S_UNSUPP;
		else
			st = do_dwz(d, discard, iov, out,
				    out_len - sizeof(h));
		break;
	}
	default:
		st = has_bug("unsupp-as-ok") ? VIRTIO_BLK_S_OK :
					       VIRTIO_BLK_S_UNSUPP;
		break;
	}
	*status = st;
	return st == VIRTIO_BLK_S_OK ? used : 1;
}

static void handle_vq(struct fdev *d, struct fvq *vq)
{
	bool event_idx = d->features & VBLK_F(VIRTIO_RING_F_EVENT_IDX);
	uint16_t old = vq->last_used;
	unsigned int out, in;
	int head;

	if (d->backend < 0 || !vq->has_addr)
		return;
	for (;;) {
		struct vring_used_elem *e;
		uint32_t len;

		head = get_desc(d, vq, &out, &in);
		if (head < 0) {
			notify_err(vq->err);	/* stays broken until reset */
			break;
		}
		if (head == (int)vq->num) {
			if (!event_idx)
				break;
			/* Publish how far we are, then look again: a driver
			 * that read the old avail_event did not kick. */
			__atomic_store_n((uint16_t *)&vq->used->ring[vq->num],
					 htole16(vq->last_avail),
					 __ATOMIC_RELEASE);
			__atomic_thread_fence(__ATOMIC_SEQ_CST);
			if (le16toh(__atomic_load_n(&vq->avail->idx,
						    __ATOMIC_ACQUIRE)) ==
			    vq->last_avail)
				break;
			continue;
		}
		len = serve(d, vq, out, in);
		e = &vq->used->ring[vq->last_used % vq->num];
		e->id = htole32((uint32_t)head);
		e->len = htole32(len);
		vq->last_used++;
		__atomic_store_n(&vq->used->idx, htole16(vq->last_used),
				 __ATOMIC_RELEASE);
	}
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (vq->last_used == old)
		return;
	if (event_idx ? vring_need_event(le16toh(vq->avail->ring[vq->num]) +
					 (has_bug("event-idx") ? 1 : 0),
					 vq->last_used, old) :
			!(le16toh(vq->avail->flags) & VRING_AVAIL_F_NO_INTERRUPT))
		notify(vq->call);
}

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static bool avail_pending(const struct fvq *vq)
{
	return le16toh(__atomic_load_n(&vq->avail->idx, __ATOMIC_ACQUIRE)) !=
	       vq->last_avail;
}

/*
 * The busy-poll window of @vq, with the device's lock held: after its
 * requests, watch the avail ring for poll_us with notifications off,
 * serving what comes (and watching again); then turn them back on and look
 * once more, for a request queued while they were off. Without EVENT_IDX
 * only: with it, a notification asked for cannot be taken back.
 */
static void busy_poll(struct fdev *d, struct fvq *vq)
{
	bool flags = !(d->features & VBLK_F(VIRTIO_RING_F_EVENT_IDX));
	uint64_t end;

	if (!vq->poll_us || d->backend < 0 || !vq->has_addr)
		return;
	if (flags)
		__atomic_store_n(&vq->used->flags,
				 htole16(VRING_USED_F_NO_NOTIFY),
				 __ATOMIC_RELEASE);
	end = now_us() + vq->poll_us;
	while (now_us() < end) {
		uint16_t last = vq->last_avail;

		if (!avail_pending(vq))
			continue;
		handle_vq(d, vq);
		if (vq->last_avail == last)
			break;		/* a broken chain: the ring is stalled */
		end = now_us() + vq->poll_us;
	}
	if (flags)
		__atomic_store_n(&vq->used->flags, 0, __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (avail_pending(vq))
		handle_vq(d, vq);
}

static void *worker(void *arg)
{
	struct fdev *d = arg;

	for (;;) {
		struct pollfd p[VHOST_BLK_MAX_QUEUES + 1];
		int q[VHOST_BLK_MAX_QUEUES + 1];
		unsigned int n = 0, i;
		uint64_t v;

		pthread_mutex_lock(&d->lock);
		if (d->stop) {
			pthread_mutex_unlock(&d->lock);
			return NULL;
		}
		p[n] = (struct pollfd){ .fd = d->wake, .events = POLLIN };
		q[n++] = -1;
		for (i = 0; i < VHOST_BLK_MAX_QUEUES; i++)
			if (d->vq[i].kick >= 0) {
				p[n] = (struct pollfd){ .fd = d->vq[i].kick,
							.events = POLLIN };
				q[n++] = (int)i;
			}
		pthread_mutex_unlock(&d->lock);
		if (poll(p, n, -1) < 0)
			continue;
		pthread_mutex_lock(&d->lock);
		for (i = 0; i < n; i++) {
			if (!(p[i].revents & POLLIN))
				continue;
			if (read(p[i].fd, &v, sizeof(v)) < 0)
				continue;
			if (q[i] >= 0 && !d->stop) {
				handle_vq(d, &d->vq[q[i]]);
				busy_poll(d, &d->vq[q[i]]);
			}
		}
		pthread_mutex_unlock(&d->lock);
	}
}

/* --- the device file ------------------------------------------------ */

static void reset_vqs(struct fdev *d)
{
	unsigned int i;

	for (i = 0; i < VHOST_BLK_MAX_QUEUES; i++) {
		struct fvq *vq = &d->vq[i];

		if (vq->kick >= 0)
			real_close(vq->kick);
		if (vq->call >= 0)
			real_close(vq->call);
		if (vq->err >= 0)
			real_close(vq->err);
		memset(vq, 0, sizeof(*vq));
		vq->kick = vq->call = vq->err = -1;
	}
}

static void stop_worker(struct fdev *d)
{
	if (!d->running)
		return;
	pthread_mutex_lock(&d->lock);
	d->stop = true;
	pthread_mutex_unlock(&d->lock);
	notify(d->wake);
	pthread_join(d->thread, NULL);
	d->running = false;
	d->stop = false;
}

static void drop_backend(struct fdev *d)
{
	if (d->backend >= 0)
		real_close(d->backend);
	d->backend = -1;
}

static int fake_open(void)
{
	struct fdev *d;
	unsigned int i;
	int fd = eventfd(0, EFD_CLOEXEC);

	if (fd < 0)
		return -1;
	if (fd >= MAX_FD) {
		real_close(fd);
		errno = EMFILE;
		return -1;
	}
	d = calloc(1, sizeof(*d));
	if (!d) {
		real_close(fd);
		errno = ENOMEM;
		return -1;
	}
	d->backend = -1;
	d->config_call = -1;
	d->wake = eventfd(0, EFD_CLOEXEC);
	pthread_mutex_init(&d->lock, NULL);
	for (i = 0; i < VHOST_BLK_MAX_QUEUES; i++)
		d->vq[i].kick = d->vq[i].call = d->vq[i].err = -1;
	snprintf((char *)d->serial, sizeof(d->serial), "vhost-blk-%08x",
		 ++serial_no);
	devs[fd] = d;
	return fd;
}

/* The backend's size now in sectors, rounded down to the logical block. */
static uint64_t backend_cap(struct fdev *d)
{
	uint64_t size = 0;
	struct stat st;

	if (d->is_blk)
		real_ioctl(d->backend, BLKGETSIZE64, &size);
	else if (!fstat(d->backend, &st))
		size = (uint64_t)st.st_size;
	return size / d->lbs * d->lbs / VBLK_SECTOR;
}

/* As eventfd_ctx_fdget(): is @fd an eventfd? */
static bool is_eventfd(int fd)
{
	char path[64], target[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return false;
	target[n] = 0;
	return !strcmp(target, "anon_inode:[eventfd]");
}

/* VHOST_BLK_RESIZE: the size again; a change is signalled. */
static int resize(struct fdev *d, uint64_t *cap)
{
	uint64_t now;

	*cap = 0;
	if (d->backend < 0)
		return 0;
	now = backend_cap(d);
	*cap = now;
	if (now != d->cap) {
		d->cap = now;
		if (d->config_call >= 0)
			notify(d->config_call);
	}
	return 0;
}

static int attach(struct fdev *d, const struct vhost_blk_backend *b)
{
	struct stat st;
	unsigned int i;
	bool any = false;
	int fl, nfd;

	if ((b->flags & ~VHOST_BLK_BACKEND_F_ALL) || b->engine > 2)
		return -EINVAL;
	for (i = 0; i < 5; i++)
		if (b->reserved[i])
			return -EINVAL;
	if (b->fd == -1) {
		drop_backend(d);
		d->cap = 0;
		return 0;
	}
	fl = fcntl(b->fd, F_GETFL);
	if (fl < 0 || fstat(b->fd, &st))
		return -EBADF;
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
		return -EINVAL;
	if ((fl & O_ACCMODE) == O_WRONLY)
		return -EBADF;
	if (b->engine == VHOST_BLK_ENGINE_BIO && !S_ISBLK(st.st_mode))
		return -EOPNOTSUPP;
	for (i = 0; i < VHOST_BLK_MAX_QUEUES; i++)
		any |= d->vq[i].has_addr;
	if (!any)
		return -EINVAL;
	nfd = fcntl(b->fd, F_DUPFD_CLOEXEC, 0);
	if (nfd < 0)
		return -errno;
	drop_backend(d);
	d->backend = nfd;
	d->is_blk = S_ISBLK(st.st_mode);
	d->ro = (b->flags & VHOST_BLK_BACKEND_F_READONLY) ||
		(fl & O_ACCMODE) == O_RDONLY;
	d->engine = b->engine ? b->engine : d->is_blk ? VHOST_BLK_ENGINE_BIO :
							VHOST_BLK_ENGINE_KIOCB;
	d->lbs = d->pbs = 512;
	if (d->is_blk) {
		int lbs = 512;
		unsigned int pbs = 512;

		real_ioctl(nfd, BLKSSZGET, &lbs);
		real_ioctl(nfd, BLKPBSZGET, &pbs);
		d->lbs = (uint32_t)lbs;
		d->pbs = pbs;
	}
	d->cap = backend_cap(d);
	/* As vhost_vq_init_access(): the used index comes from the ring. */
	for (i = 0; i < VHOST_BLK_MAX_QUEUES; i++)
		if (d->vq[i].has_addr)
			d->vq[i].last_used = le16toh(d->vq[i].used->idx);
	return 0;
}

static int fill_config(struct fdev *d, struct vhost_blk_config *c)
{
	if (c->flags)
		return -EINVAL;
	memset(c, 0, sizeof(*c));
	c->logical_block_size = c->physical_block_size = 512;
	c->max_segments = SEG_MAX;
	c->max_segment_size = SIZE_MAX_;
	c->num_queues = VHOST_BLK_MAX_QUEUES;
	c->writeback = !d->write_through;
	if (d->backend < 0)
		return 0;
	c->engine = d->engine;
	c->capacity = d->cap;
	c->logical_block_size = d->lbs;
	c->physical_block_size = d->pbs;
	c->read_only = d->ro;
	if (!d->ro) {
		c->max_discard_sectors = d->is_blk ? 0 : DWZ_SECTORS;
		c->max_discard_seg = d->is_blk ? 0 : DWZ_SEG_MAX;
		c->max_write_zeroes_sectors = DWZ_SECTORS;
		c->max_write_zeroes_seg = DWZ_SEG_MAX;
		c->write_zeroes_may_unmap = 1;
	}
	return 0;
}

static int vring_ioctl(struct fdev *d, unsigned long req, void *arg)
{
	struct vhost_vring_state *s = arg;
	struct vhost_vring_addr *a = arg;
	struct vhost_vring_file *f = arg;
	struct fvq *vq;

	if (s->index >= VHOST_BLK_MAX_QUEUES)
		return -ENOBUFS;
	vq = &d->vq[s->index];
	switch (req) {
	case VHOST_SET_VRING_NUM:
		if (!s->num || s->num > 32768 || (s->num & (s->num - 1)))
			return -EINVAL;
		vq->num = s->num;
		vq->has_num = true;
		return 0;
	case VHOST_SET_VRING_BASE:
		vq->last_avail = (uint16_t)s->num;
		return 0;
	case VHOST_GET_VRING_BASE:
		s->num = vq->last_avail;
		return 0;
	case VHOST_SET_VRING_ADDR:
		if (!vq->has_num || (a->desc_user_addr & 15) ||
		    (a->avail_user_addr & 1) || (a->used_user_addr & 3))
			return -EINVAL;
		vq->desc = (void *)(uintptr_t)a->desc_user_addr;
		vq->avail = (void *)(uintptr_t)a->avail_user_addr;
		vq->used = (void *)(uintptr_t)a->used_user_addr;
		/* As vhost_vq_is_setup(): zero addresses unset the ring. */
		vq->has_addr = a->desc_user_addr && a->avail_user_addr &&
			       a->used_user_addr;
		return 0;
	case VHOST_SET_VRING_BUSYLOOP_TIMEOUT:
		vq->poll_us = s->num;
		return 0;
	case VHOST_GET_VRING_BUSYLOOP_TIMEOUT:
		s->num = vq->poll_us;
		return 0;
#ifdef VHOST_NEW_WORKER
	case VHOST_ATTACH_VRING_WORKER: {
		struct vhost_vring_worker *w = arg;

		if (w->worker_id > d->workers)
			return -ENXIO;
		vq->worker = w->worker_id;
		return 0;
	}
	case VHOST_GET_VRING_WORKER:
		((struct vhost_vring_worker *)arg)->worker_id = vq->worker;
		return 0;
#endif
	case VHOST_SET_VRING_KICK:
	case VHOST_SET_VRING_CALL:
	case VHOST_SET_VRING_ERR: {
		int *slot = req == VHOST_SET_VRING_KICK ? &vq->kick :
			    req == VHOST_SET_VRING_CALL ? &vq->call : &vq->err;
		int nfd = f->fd < 0 ? -1 : fcntl(f->fd, F_DUPFD_CLOEXEC, 0);

		if (f->fd >= 0 && nfd < 0)
			return -EBADF;
		if (*slot >= 0)
			real_close(*slot);
		*slot = nfd;
		notify(d->wake);
		return 0;
	}
	}
	return -ENOTTY;
}

static int dev_ioctl(struct fdev *d, unsigned long req, void *arg)
{
	uint64_t *u64 = arg;
	char name[16];

	if (req == VHOST_GET_FEATURES) {
		*u64 = FEATURES;
		return 0;
	}
	if (req == VHOST_BLK_GET_CONFIG)
		return fill_config(d, arg);
	if (req == VHOST_SET_OWNER) {
		if (d->owner)
			return -EBUSY;
		d->owner = getpid();
		if (pthread_create(&d->thread, NULL, worker, d))
			return -ENOMEM;
		snprintf(name, sizeof(name), "vhost-%d", (int)d->owner);
		pthread_setname_np(d->thread, name);
		d->running = true;
		return 0;
	}
	if (d->owner != getpid())
		return -EPERM;
	switch (req) {
	case VHOST_SET_FEATURES:
		if (*u64 & ~FEATURES)
			return -EOPNOTSUPP;
		d->features = *u64;
		return 0;
	case VHOST_SET_MEM_TABLE: {
		struct vhost_memory *m = arg;

		if (m->nregions > MAX_REGIONS)
			return -E2BIG;
		memcpy(d->reg, m->regions, m->nregions * sizeof(d->reg[0]));
		d->nreg = m->nregions;
		return 0;
	}
	case VHOST_BLK_SET_BACKEND:
		return attach(d, arg);
	case VHOST_BLK_SET_SERIAL: {
		struct vhost_blk_serial *s = arg;

		if (s->flags)
			return -EINVAL;
		memcpy(d->serial, s->id, sizeof(d->serial));
		return 0;
	}
	case VHOST_BLK_SET_WRITEBACK:
		if (*(uint32_t *)arg > 1)
			return -EINVAL;
		d->write_through = !*(uint32_t *)arg;
		return 0;
	case VHOST_BLK_SET_CONFIG_CALL: {
		int fd = *(int *)arg, nfd = -1;

		if (fd >= 0) {
			if (!is_eventfd(fd))
				return fcntl(fd, F_GETFD) < 0 ? -EBADF : -EINVAL;
			nfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
			if (nfd < 0)
				return -EBADF;
		}
		if (d->config_call >= 0)
			real_close(d->config_call);
		d->config_call = nfd;
		return 0;
	}
	case VHOST_BLK_RESIZE:
		return resize(d, arg);
	case VHOST_RESET_OWNER:
		return 1;	/* done by the caller, without the lock */
#ifdef VHOST_NEW_WORKER
	case VHOST_NEW_WORKER:
		/* The owner's first worker is 0 (SET_OWNER). */
		if (!has_bug("shared-worker") || !d->workers)
			d->workers++;
		((struct vhost_worker_state *)arg)->worker_id = d->workers;
		return 0;
#endif
	}
	return vring_ioctl(d, req, arg);
}

/* --- the interposed calls ------------------------------------------- */

int open(const char *path, int flags, ...)
{
	mode_t mode = 0;

	resolve();
	if (flags & (O_CREAT | O_TMPFILE)) {
		va_list ap;

		va_start(ap, flags);
		mode = va_arg(ap, mode_t);
		va_end(ap);
	}
	if (!strcmp(path, NODE))
		return fake_open();
	return real_open(path, flags, mode);
}

/* The node looks like a misc character device. */
int stat(const char *path, struct stat *st)
{
	resolve();
	if (!strcmp(path, NODE)) {
		memset(st, 0, sizeof(*st));
		st->st_mode = S_IFCHR | 0600;
		st->st_rdev = makedev(10, 242);
		return 0;
	}
	return real_stat(path, st);
}

int close(int fd)
{
	resolve();
	if (fd >= 0 && fd < MAX_FD && devs[fd]) {
		struct fdev *d = devs[fd];

		devs[fd] = NULL;
		if (d->owner == getpid() || !d->owner) {
			stop_worker(d);
			drop_backend(d);
			reset_vqs(d);
			real_close(d->wake);
			if (d->config_call >= 0)
				real_close(d->config_call);
			free(d);
		}
	}
	return real_close(fd);
}

int ioctl(int fd, unsigned long req, ...)
{
	struct fdev *d;
	va_list ap;
	void *arg;
	int ret;

	resolve();
	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (fd < 0 || fd >= MAX_FD || !devs[fd])
		return real_ioctl(fd, req, arg);
	d = devs[fd];
	/* Another process: nothing but reading; never touch the lock a
	 * thread of the parent may have held at fork. */
	if (d->owner && d->owner != getpid() && req != VHOST_GET_FEATURES) {
		errno = EPERM;
		return -1;
	}
	pthread_mutex_lock(&d->lock);
	ret = dev_ioctl(d, req, arg);
	pthread_mutex_unlock(&d->lock);
	if (ret == 1) {
		stop_worker(d);
		drop_backend(d);
		reset_vqs(d);
		d->owner = 0;
		d->nreg = 0;
		d->workers = 0;
		d->features = 0;
		ret = 0;
	}
	if (ret < 0) {
		errno = -ret;
		return -1;
	}
	return 0;
}
