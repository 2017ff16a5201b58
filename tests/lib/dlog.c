// SPDX-License-Identifier: GPL-2.0-only
/*
 * The dirty log of live migration (docs/api.md, "Dirty logging"), set up
 * on a /dev/vhost-blk file the way a frontend such as QEMU does when a
 * migration starts: a bitmap of one bit a 4 KiB guest page
 * (VHOST_SET_LOG_BASE), an eventfd the device signals after it logged
 * (VHOST_SET_LOG_FD), each used ring logged by its guest address
 * (VHOST_VRING_F_LOG in VHOST_SET_VRING_ADDR), and VHOST_F_LOG_ALL acked.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vblk.h"

int vblk_log_init(struct vblk_log *l, uint64_t end)
{
	void *p;

	memset(l, 0, sizeof(*l));
	l->efd = -1;
	l->bytes = end / VBLK_LOG_PAGE / 8 + 1;
	p = mmap(NULL, l->bytes, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return -errno;
	l->bits = p;
	l->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (l->efd < 0) {
		int e = -errno;

		vblk_log_destroy(l);
		return e;
	}
	return 0;
}

void vblk_log_destroy(struct vblk_log *l)
{
	if (l->bits)
		munmap(l->bits, l->bytes);
	if (l->efd >= 0)
		close(l->efd);
	l->bits = NULL;
	l->efd = -1;
}

uint64_t vblk_log_events(int efd)
{
	uint64_t v = 0;

	if (read(efd, &v, sizeof(v)) != sizeof(v))
		return 0;
	return v;
}

/* ioctl, with "what: error" in d->err on failure. */
static int log_ioctl(struct vblk_dev *d, unsigned long req, void *arg,
		     const char *what)
{
	if (ioctl(d->fd, req, arg) < 0) {
		int e = errno;

		snprintf(d->err, sizeof(d->err), "%s: %s", what, strerror(e));
		return -e;
	}
	return 0;
}

int vblk_dev_set_log(struct vblk_dev *d, void *bits, int efd)
{
	uint64_t base = (uintptr_t)bits;
	int ret = log_ioctl(d, VHOST_SET_LOG_BASE, &base, "VHOST_SET_LOG_BASE");

	return ret ? ret : log_ioctl(d, VHOST_SET_LOG_FD, &efd,
				     "VHOST_SET_LOG_FD");
}

int vblk_dev_log_vring(struct vblk_dev *d, unsigned int q, bool on,
		       uint64_t used_gpa)
{
	struct vblk_vq *vq = &d->vq[q];
	struct vhost_vring_addr a = {
		.index = q,
		.flags = on ? 1u << VHOST_VRING_F_LOG : 0,
		.desc_user_addr = (uintptr_t)vq->desc,
		.avail_user_addr = (uintptr_t)vq->avail,
		.used_user_addr = (uintptr_t)vq->used,
		.log_guest_addr = used_gpa,
	};
	char what[64];

	snprintf(what, sizeof(what), "VHOST_SET_VRING_ADDR of queue %u, log %s",
		 q, on ? "on" : "off");
	return log_ioctl(d, VHOST_SET_VRING_ADDR, &a, what);
}

int vblk_dev_log_all(struct vblk_dev *d, bool on)
{
	uint64_t f = d->features | (on ? VBLK_F(VHOST_F_LOG_ALL) : 0);

	return log_ioctl(d, VHOST_SET_FEATURES, &f,
			 on ? "VHOST_SET_FEATURES with VHOST_F_LOG_ALL" :
			      "VHOST_SET_FEATURES without VHOST_F_LOG_ALL");
}

int vblk_dev_log_start(struct vblk_dev *d, const struct vblk_log *l)
{
	unsigned int q;
	uint64_t gpa;
	int ret;

	if (!(d->offered & VBLK_F(VHOST_F_LOG_ALL))) {
		snprintf(d->err, sizeof(d->err),
			 "the device does not offer VHOST_F_LOG_ALL (a vhost_blk.ko without dirty logging?)");
		return -EOPNOTSUPP;
	}
	ret = vblk_dev_set_log(d, l->bits, l->efd);
	for (q = 0; !ret && q < d->nvq; q++) {
		ret = vblk_mem_gpa(&d->mem, d->vq[q].used, 4, &gpa);
		if (ret) {
			snprintf(d->err, sizeof(d->err),
				 "the used ring of queue %u is not in guest memory", q);
			break;
		}
		ret = vblk_dev_log_vring(d, q, true, gpa);
	}
	return ret ? ret : vblk_dev_log_all(d, true);
}
