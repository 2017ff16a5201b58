// SPDX-License-Identifier: GPL-2.0-only
/*
 * The fake device. Errors in a chain break the ring the way vhost does: the
 * error eventfd is signalled and nothing more is served.
 *
 * Its chain walk is its own, not fuzz/model.c's: it keeps every descriptor,
 * empty ones too, for struct fake_obs, which the tests check and the model
 * drops; and it is written apart from the library it checks. The sector
 * checks are the shared ones (lib/blk-rules.h), on a disk of 512-byte blocks.
 */
#include <endian.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "blk-rules.h"
#include "fakedev.h"

void fakedev_init(struct fakedev *f, const struct vblk_mem *mem,
		  const struct vblk_vq *vq, uint8_t *disk, uint64_t sectors)
{
	unsigned int i;

	memset(f, 0, sizeof(*f));
	for (i = 0; i < VBLK_MEM_REGIONS; i++) {
		f->reg[i].gpa = mem->reg[i].gpa;
		f->reg[i].hva = mem->reg[i].hva;
		f->reg[i].size = mem->reg[i].size;
	}
	f->num = vq->num;
	f->desc = vq->desc;
	f->avail = vq->avail;
	f->used = vq->used;
	f->event_idx = vq->event_idx;
	f->kick_fd = vq->kick_fd;
	f->call_fd = vq->call_fd;
	f->err_fd = vq->err_fd;
	f->stop_fd = -1;
	f->last_avail = le16toh(vq->avail->idx);
	f->used_idx = le16toh(vq->used->idx);
	f->disk = disk;
	f->sectors = sectors;
	memcpy(f->serial, "fake-serial-0123456789", sizeof(f->serial));
}

static void signal_fd(int fd)
{
	uint64_t one = 1;

	if (write(fd, &one, sizeof(one)) != sizeof(one))
		perror("fakedev: eventfd write");
}

static void vq_error(struct fakedev *f, const char *why)
{
	snprintf(f->why, sizeof(f->why), "%s", why);
	f->errors++;
	signal_fd(f->err_fd);
}

static uint8_t *translate(struct fakedev *f, uint64_t gpa, uint32_t len)
{
	unsigned int i;

	for (i = 0; i < VBLK_MEM_REGIONS; i++)
		if (gpa >= f->reg[i].gpa &&
		    gpa + len <= f->reg[i].gpa + f->reg[i].size)
			return f->reg[i].hva + (gpa - f->reg[i].gpa);
	return NULL;
}

/* The descriptors of the chain at @head in @iov; -1 on a broken chain. */
static int walk(struct fakedev *f, uint16_t head, struct fake_iov *iov,
		unsigned int *n)
{
	struct vring_desc *table = f->desc;
	unsigned int max = f->num, seen = 0, i = head;
	bool indirect = false, any_write = false;

	*n = 0;
	memset(&f->last, 0, sizeof(f->last));
	for (;;) {
		struct vring_desc d;
		uint16_t flags;

		if (i >= max) {
			vq_error(f, "descriptor index out of range");
			return -1;
		}
		if (++seen > max) {
			vq_error(f, "descriptor loop");
			return -1;
		}
		d = table[i];
		flags = le16toh(d.flags);
		if (flags & VRING_DESC_F_INDIRECT) {
			uint32_t len = le32toh(d.len);

			if (indirect || (flags & VRING_DESC_F_NEXT) ||
			    len % sizeof(d) || !len) {
				vq_error(f, "bad indirect descriptor");
				return -1;
			}
			table = (struct vring_desc *)translate(f, le64toh(d.addr),
							       len);
			if (!table) {
				vq_error(f, "indirect table outside memory");
				return -1;
			}
			indirect = true;
			f->last.indirect = true;
			max = len / sizeof(d);
			seen = 0;
			i = 0;
			continue;
		}
		if (*n == FAKE_MAX_IOV) {
			vq_error(f, "chain too long");
			return -1;
		}
		iov[*n].len = le32toh(d.len);
		iov[*n].write = flags & VRING_DESC_F_WRITE;
		iov[*n].p = translate(f, le64toh(d.addr), iov[*n].len);
		if (!iov[*n].p) {
			vq_error(f, "descriptor outside memory");
			return -1;
		}
		if (!iov[*n].write && any_write) {
			vq_error(f, "readable descriptor after a writable one");
			return -1;
		}
		any_write |= iov[*n].write;
		if (*n < FAKE_OBS_DESCS) {
			f->last.gpa[*n] = le64toh(d.addr);
			f->last.len[*n] = iov[*n].len;
			f->last.flags[*n] = flags;
		}
		(*n)++;
		if (!(flags & VRING_DESC_F_NEXT))
			break;
		i = le16toh(d.next);
	}
	f->last.ndesc = *n;
	return 0;
}

/* Copy @len bytes at byte @off of the iovs of direction @write. */
static size_t iov_copy(struct fake_iov *iov, unsigned int n, bool write,
		       size_t off, uint8_t *buf, size_t len, bool to_iov)
{
	size_t done = 0;
	unsigned int i;

	for (i = 0; i < n && done < len; i++) {
		size_t l;

		if (iov[i].write != write)
			continue;
		if (off >= iov[i].len) {
			off -= iov[i].len;
			continue;
		}
		l = iov[i].len - off;
		if (l > len - done)
			l = len - done;
		if (to_iov)
			memcpy(iov[i].p + off, buf + done, l);
		else
			memcpy(buf + done, iov[i].p + off, l);
		done += l;
		off = 0;
	}
	return done;
}

static size_t iov_total(const struct fake_iov *iov, unsigned int n, bool write)
{
	size_t sum = 0;
	unsigned int i;

	for (i = 0; i < n; i++)
		if (iov[i].write == write)
			sum += iov[i].len;
	return sum;
}

/* Descriptors of direction @write with bytes in [from, from + len). */
static unsigned int iov_count(const struct fake_iov *iov, unsigned int n,
			      bool write, size_t from, size_t len)
{
	unsigned int i, count = 0;
	size_t pos = 0;

	for (i = 0; i < n; i++) {
		if (iov[i].write != write)
			continue;
		if (iov[i].len && pos + iov[i].len > from && pos < from + len)
			count++;
		pos += iov[i].len;
	}
	return count;
}

/* A disk of 512-byte blocks. */
static bool range_ok(struct fakedev *f, uint64_t sector, uint64_t bytes)
{
	return vblk_extent_ok(f->sectors, VBLK_SECTOR, sector, bytes);
}

static uint8_t discard(struct fakedev *f, struct fake_iov *iov, unsigned int n,
		       uint32_t type)
{
	size_t bytes = iov_total(iov, n, false) - sizeof(struct virtio_blk_outhdr);
	unsigned int k;

	if (!bytes || bytes % sizeof(f->dwz[0]) || bytes > sizeof(f->dwz))
		return VIRTIO_BLK_S_IOERR;
	iov_copy(iov, n, false, sizeof(struct virtio_blk_outhdr),
		 (uint8_t *)f->dwz, bytes, false);
	f->ndwz = bytes / sizeof(f->dwz[0]);
	for (k = 0; k < f->ndwz; k++) {
		uint64_t s = le64toh(f->dwz[k].sector);
		uint32_t nr = le32toh(f->dwz[k].num_sectors);

		if (type == VIRTIO_BLK_T_DISCARD && le32toh(f->dwz[k].flags))
			return VIRTIO_BLK_S_UNSUPP;
		if (!range_ok(f, s, (uint64_t)nr * VBLK_SECTOR))
			return VIRTIO_BLK_S_IOERR;
		memset(f->disk + s * VBLK_SECTOR, 0, (size_t)nr * VBLK_SECTOR);
	}
	return VIRTIO_BLK_S_OK;
}

/* Serve one chain: the used length. */
static uint32_t serve(struct fakedev *f, struct fake_iov *iov, unsigned int n)
{
	struct virtio_blk_outhdr h;
	size_t out = iov_total(iov, n, false), in = iov_total(iov, n, true);
	uint8_t *status = NULL;
	uint32_t used = 1;
	uint8_t st;
	unsigned int i;

	for (i = n; i-- > 0;)
		if (iov[i].write && iov[i].len) {
			status = iov[i].p + iov[i].len - 1;
			break;
		}
	if (!status) {
		vq_error(f, "no status byte");
		return 0;
	}
	if (out < sizeof(h)) {
		vq_error(f, "short header");
		*status = VIRTIO_BLK_S_IOERR;
		return 1;
	}
	iov_copy(iov, n, false, 0, (uint8_t *)&h, sizeof(h), false);
	f->last.type = le32toh(h.type);
	f->last.sector = le64toh(h.sector);
	f->last.hdr_descs = iov_count(iov, n, false, 0, sizeof(h));
	in -= 1;	/* the status byte */

	switch (f->last.type) {
	case VIRTIO_BLK_T_IN:
		f->last.data_descs = iov_count(iov, n, true, 0, in);
		if (!in || !range_ok(f, f->last.sector, in)) {
			st = VIRTIO_BLK_S_IOERR;
			break;
		}
		iov_copy(iov, n, true, 0, f->disk + f->last.sector * VBLK_SECTOR,
			 in, true);
		used = in + 1;
		st = VIRTIO_BLK_S_OK;
		break;
	case VIRTIO_BLK_T_OUT:
		out -= sizeof(h);
		f->last.data_descs = iov_count(iov, n, false, sizeof(h), out);
		if (!out || !range_ok(f, f->last.sector, out)) {
			st = VIRTIO_BLK_S_IOERR;
			break;
		}
		iov_copy(iov, n, false, sizeof(h),
			 f->disk + f->last.sector * VBLK_SECTOR, out, false);
		st = VIRTIO_BLK_S_OK;
		break;
	case VIRTIO_BLK_T_FLUSH:
		st = VIRTIO_BLK_S_OK;
		break;
	case VIRTIO_BLK_T_GET_ID:
		if (in > sizeof(f->serial))
			in = sizeof(f->serial);
		iov_copy(iov, n, true, 0, f->serial, in, true);
		used = in + 1;
		st = VIRTIO_BLK_S_OK;
		break;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		st = discard(f, iov, n, f->last.type);
		break;
	default:
		st = VIRTIO_BLK_S_UNSUPP;
		break;
	}
	*status = st;
	return st == VIRTIO_BLK_S_OK ? used : 1;
}

/* Is @event one of the indices old, old + 1, ..., new - 1? */
static bool crossed(uint16_t event, uint16_t new_idx, uint16_t old)
{
	uint16_t i;

	for (i = old; i != new_idx; i++)
		if (i == event)
			return true;
	return false;
}

int fakedev_process(struct fakedev *f)
{
	struct fake_iov *iov = f->iov;
	struct vring_used_elem *done;
	uint16_t avail, old = f->used_idx;
	unsigned int n = 0, k;

	if (f->broken)
		return 0;
	done = calloc(f->num, sizeof(*done));
	if (!done) {
		vq_error(f, "out of memory");
		return 0;
	}
	avail = le16toh(__atomic_load_n(&f->avail->idx, __ATOMIC_ACQUIRE));
	if ((uint16_t)(avail - f->last_avail) > f->num) {
		vq_error(f, "avail index moved too far");
		f->broken = true;
		return 0;
	}
again:
	while (f->last_avail != avail) {
		uint16_t head = le16toh(f->avail->ring[f->last_avail % f->num]);
		unsigned int niov;

		if (head >= f->num || walk(f, head, iov, &niov)) {
			if (head >= f->num)
				vq_error(f, "head out of range");
			f->broken = true;
			break;
		}
		done[n].id = htole32(head);
		done[n].len = htole32(serve(f, iov, niov));
		n++;
		f->last_avail++;
		f->served++;
	}
	if (f->event_idx && !f->broken) {
		/* Publish how far we are, then look again (a driver that
		 * read the old avail_event did not kick). */
		__atomic_store_n((uint16_t *)&f->used->ring[f->num],
				 htole16(f->last_avail), __ATOMIC_RELEASE);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		avail = le16toh(__atomic_load_n(&f->avail->idx, __ATOMIC_ACQUIRE));
		if (avail != f->last_avail && n < f->num &&
		    (uint16_t)(avail - f->last_avail) <= f->num - n)
			goto again;
	}
	for (k = 0; k < n; k++) {
		unsigned int j = f->reverse ? n - 1 - k : k;

		f->used->ring[f->used_idx % f->num] = done[j];
		f->used_idx++;
	}
	free(done);
	__atomic_store_n(&f->used->idx, htole16(f->used_idx), __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (n) {
		bool want;

		if (f->event_idx)
			want = crossed(le16toh(__atomic_load_n(&f->avail->ring[f->num],
							       __ATOMIC_ACQUIRE)),
				       f->used_idx, old);
		else
			want = !(le16toh(f->avail->flags) &
				 VRING_AVAIL_F_NO_INTERRUPT);
		if (want) {
			f->signals++;
			signal_fd(f->call_fd);
		}
	}
	return (int)n;
}

static void *fake_thread(void *arg)
{
	struct fakedev *f = arg;

	for (;;) {
		struct pollfd p[2] = {
			{ .fd = f->kick_fd, .events = POLLIN },
			{ .fd = f->stop_fd, .events = POLLIN },
		};
		uint64_t v;

		if (poll(p, 2, -1) < 0)
			continue;
		if (p[1].revents)
			break;
		if (read(f->kick_fd, &v, sizeof(v)) == sizeof(v))
			fakedev_process(f);
	}
	return NULL;
}

int fakedev_start(struct fakedev *f)
{
	f->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (f->stop_fd < 0)
		return -1;
	if (pthread_create(&f->thread, NULL, fake_thread, f)) {
		close(f->stop_fd);
		return -1;
	}
	f->running = true;
	return 0;
}

void fakedev_stop(struct fakedev *f)
{
	if (!f->running)
		return;
	signal_fd(f->stop_fd);
	pthread_join(f->thread, NULL);
	close(f->stop_fd);
	f->running = false;
}
