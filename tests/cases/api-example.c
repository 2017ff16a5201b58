// SPDX-License-Identifier: GPL-2.0-only
/*
 * The smallest complete user of /dev/vhost-blk: one queue, one memory
 * region, one write and one read of sector 0 of BACKEND. docs/api.md walks
 * through it; make check runs it.
 *
 *   api-example BACKEND
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/vhost.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include "vhost_blk.h"

#define QSIZE		16
#define MEM_SIZE	(1 << 20)
#define GPA_BASE	0x80000000ULL	/* "guest physical" != our address */

static int fail(const char *what)
{
	fprintf(stderr, "api-example: %s: %s\n", what, strerror(errno));
	return 1;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: api-example BACKEND\n");
		return 2;
	}

	/* Guest memory: our mapping, known to the device by GPA_BASE. */
	uint8_t *mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return fail("mmap");
#define GPA(p) (GPA_BASE + (uint64_t)((uint8_t *)(p) - mem))

	int vfd = open("/dev/vhost-blk", O_RDWR);
	if (vfd < 0)
		return fail("open /dev/vhost-blk (is vhost_blk loaded?)");
	if (ioctl(vfd, VHOST_SET_OWNER))
		return fail("VHOST_SET_OWNER");

	uint64_t features;
	if (ioctl(vfd, VHOST_GET_FEATURES, &features))
		return fail("VHOST_GET_FEATURES");
	features &= 1ULL << VIRTIO_F_VERSION_1;
	if (ioctl(vfd, VHOST_SET_FEATURES, &features))
		return fail("VHOST_SET_FEATURES");

	struct {
		struct vhost_memory m;
		struct vhost_memory_region r;
	} table = {
		.m.nregions = 1,
		.r = { .guest_phys_addr = GPA_BASE, .memory_size = MEM_SIZE,
		       .userspace_addr = (uintptr_t)mem },
	};
	if (ioctl(vfd, VHOST_SET_MEM_TABLE, &table))
		return fail("VHOST_SET_MEM_TABLE");

	/* A split ring of QSIZE entries at the start of guest memory. */
	struct vring_desc *desc = (void *)mem;
	struct vring_avail *avail = (void *)(mem + 4096);
	struct vring_used *used = (void *)(mem + 8192);
	int kick = eventfd(0, 0), call = eventfd(0, 0);
	struct vhost_vring_state num = { .index = 0, .num = QSIZE };
	struct vhost_vring_state base = { .index = 0, .num = 0 };
	struct vhost_vring_addr addr = {
		.index = 0,
		.desc_user_addr = (uintptr_t)desc,
		.avail_user_addr = (uintptr_t)avail,
		.used_user_addr = (uintptr_t)used,
	};
	struct vhost_vring_file kick_file = { .index = 0, .fd = kick };
	struct vhost_vring_file call_file = { .index = 0, .fd = call };
	if (ioctl(vfd, VHOST_SET_VRING_NUM, &num) ||
	    ioctl(vfd, VHOST_SET_VRING_BASE, &base) ||
	    ioctl(vfd, VHOST_SET_VRING_ADDR, &addr) ||
	    ioctl(vfd, VHOST_SET_VRING_KICK, &kick_file) ||
	    ioctl(vfd, VHOST_SET_VRING_CALL, &call_file))
		return fail("VHOST_SET_VRING_*");

	/* The backend: the device keeps its own reference to the file. */
	int bfd = open(argv[1], O_RDWR | O_DIRECT);
	if (bfd < 0)
		return fail(argv[1]);
	struct vhost_blk_backend backend = { .fd = bfd };
	if (ioctl(vfd, VHOST_BLK_SET_BACKEND, &backend))
		return fail("VHOST_BLK_SET_BACKEND");
	close(bfd);

	struct vhost_blk_config cfg = { 0 };
	if (ioctl(vfd, VHOST_BLK_GET_CONFIG, &cfg))
		return fail("VHOST_BLK_GET_CONFIG");
	printf("capacity %llu sectors, logical block %u, %s, %s engine\n",
	       (unsigned long long)cfg.capacity, cfg.logical_block_size,
	       cfg.read_only ? "read-only" : "read-write",
	       cfg.engine == VHOST_BLK_ENGINE_BIO ? "bio" : "kiocb");

	/* Requests: header, data, status; buffers in guest memory. */
	struct virtio_blk_outhdr *hdr = (void *)(mem + 16384);
	uint8_t *data = mem + 20480;
	uint8_t *status = mem + 24576;
	for (int type = VIRTIO_BLK_T_OUT; type >= VIRTIO_BLK_T_IN; type--) {
		*hdr = (struct virtio_blk_outhdr){ .type = type, .sector = 0 };
		if (type == VIRTIO_BLK_T_OUT)
			memset(data, 0xa5, 512);
		else
			memset(data, 0, 512);
		*status = 0xff;
		desc[0] = (struct vring_desc){ GPA(hdr), sizeof(*hdr),
					       VRING_DESC_F_NEXT, 1 };
		desc[1] = (struct vring_desc){ GPA(data), 512,
			VRING_DESC_F_NEXT |
			(type == VIRTIO_BLK_T_IN ? VRING_DESC_F_WRITE : 0), 2 };
		desc[2] = (struct vring_desc){ GPA(status), 1,
					       VRING_DESC_F_WRITE, 0 };
		uint16_t idx = avail->idx;
		avail->ring[idx % QSIZE] = 0;
		__atomic_store_n(&avail->idx, idx + 1, __ATOMIC_RELEASE);
		uint64_t one = 1;
		if (write(kick, &one, sizeof(one)) != sizeof(one))
			return fail("kick");

		/* Wait for the call eventfd, then read the used ring. */
		struct pollfd pfd = { .fd = call, .events = POLLIN };
		if (poll(&pfd, 1, 30000) != 1)
			return fail("no completion within 30 s");
		if (read(call, &one, sizeof(one)) != sizeof(one))
			return fail("call");
		uint16_t uidx = __atomic_load_n(&used->idx, __ATOMIC_ACQUIRE);
		struct vring_used_elem *e = &used->ring[(uidx - 1) % QSIZE];
		printf("%s sector 0: status %u, used len %u\n",
		       type == VIRTIO_BLK_T_OUT ? "write" : "read ",
		       *status, e->len);
		if (*status != VIRTIO_BLK_S_OK)
			return 1;
	}
	for (int i = 0; i < 512; i++) {
		if (data[i] != 0xa5) {
			fprintf(stderr, "api-example: byte %d reads back %#x\n",
				i, data[i]);
			return 1;
		}
	}
	printf("read back what was written: ok\n");
	close(vfd);
	return 0;
}
