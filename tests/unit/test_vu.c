// SPDX-License-Identifier: GPL-2.0-only
/* The vhost-user front-end: wire format, and a whole conversation and I/O
 * against the fake back-end. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fake-vu.h"
#include "unit.h"

#define DISK_SECTORS	4096			/* 2 MiB */
#define SEED		0x7675ULL

static bool same_file(int a, int b)
{
	struct stat sa, sb;

	return !fstat(a, &sa) && !fstat(b, &sb) && sa.st_dev == sb.st_dev &&
	       sa.st_ino == sb.st_ino;
}

static int t_msg_fds(struct ut *t)
{
	struct vu_msg m = { .hdr = { .request = VU_SET_VRING_CALL, .flags = 1,
				     .size = VU_SIZE_U64 } }, r;
	int sv[2], e1 = eventfd(0, 0), e2 = eventfd(0, 0);

	CHECK(t, !socketpair(AF_UNIX, SOCK_STREAM, 0, sv), "socketpair");
	m.p.u64 = 3 | VU_VRING_NOFD;
	m.fds[0] = e1;
	m.fds[1] = e2;
	m.nfds = 2;
	CHECK(t, !vu_msg_send(sv[0], &m), "send");
	CHECK(t, !vu_msg_recv(sv[1], &r), "recv");
	CHECK(t, r.hdr.request == VU_SET_VRING_CALL && r.hdr.flags == 1 &&
	      r.hdr.size == 8 && r.p.u64 == (3 | VU_VRING_NOFD),
	      "got request %u flags %#x size %u value %#llx", r.hdr.request,
	      r.hdr.flags, r.hdr.size, (unsigned long long)r.p.u64);
	CHECK(t, r.nfds == 2 && same_file(r.fds[0], e1) &&
	      same_file(r.fds[1], e2), "%u descriptors, not the ones sent",
	      r.nfds);
	vu_msg_close_fds(&r);

	/* A message without descriptors, then a larger payload. */
	memset(&m, 0, sizeof(m));
	m.hdr.request = VU_SET_MEM_TABLE;
	m.hdr.size = VU_SIZE_MEM(2);
	m.p.mem.nregions = 2;
	m.p.mem.r[1].mmap_offset = 0x123456789ULL;
	CHECK(t, !vu_msg_send(sv[0], &m), "send");
	CHECK(t, !vu_msg_recv(sv[1], &r), "recv");
	CHECK(t, r.nfds == 0 && r.hdr.size == 72 && r.p.mem.nregions == 2 &&
	      r.p.mem.r[1].mmap_offset == 0x123456789ULL,
	      "mem table: %u fds, %u bytes", r.nfds, r.hdr.size);
	CHECK(t, sizeof(struct vu_hdr) == 12 && sizeof(struct vu_region) == 32 &&
	      sizeof(struct vu_vring_addr) == 40,
	      "wire layouts: header %zu, region %zu, vring addr %zu",
	      sizeof(struct vu_hdr), sizeof(struct vu_region),
	      sizeof(struct vu_vring_addr));
	close(sv[0]);
	close(sv[1]);
	return 0;
}

static int t_msg_bad(struct ut *t)
{
	struct vu_hdr h = { .request = VU_GET_CONFIG, .flags = 1,
			    .size = 1u << 20 };
	struct vu_msg r;
	int sv[2];

	CHECK(t, !socketpair(AF_UNIX, SOCK_STREAM, 0, sv), "socketpair");
	CHECK(t, write(sv[0], &h, sizeof(h)) == sizeof(h), "write");
	CHECK(t, vu_msg_recv(sv[1], &r) == -EPROTO,
	      "a 1 MiB payload was not refused");
	/* Half a header, then the peer goes away. */
	CHECK(t, write(sv[0], &h, 6) == 6, "write");
	close(sv[0]);
	CHECK(t, vu_msg_recv(sv[1], &r) == -ECONNRESET,
	      "a cut header was not reported as a closed connection");
	close(sv[1]);
	return 0;
}

struct env {
	struct fake_vu fake;
	struct vblk_vu u;
	uint8_t *disk;
};

static int env_start(struct ut *t, struct env *e, unsigned int queues,
		     int expect)
{
	struct vblk_vu_opts o;
	int ret;

	vblk_vu_opts_init(&o);
	o.path = e->fake.path;
	o.queues = queues;
	o.mem_size = 8u << 20;
	o.timeout_ms = 3000;
	CHECK(t, !fake_vu_start(&e->fake), "fake back-end: %s",
	      strerror(errno));
	o.path = e->fake.path;
	ret = vblk_vu_start(&e->u, &o);
	CHECK(t, ret == expect, "vblk_vu_start: %d, expected %d (%s; back-end: %s)",
	      ret, expect, e->u.err, e->fake.why);
	return 0;
}

static void env_init(struct env *e)
{
	memset(e, 0, sizeof(*e));
	e->disk = calloc(DISK_SECTORS, VBLK_SECTOR);
	fake_vu_init(&e->fake, e->disk, DISK_SECTORS);
}

static void env_stop(struct env *e)
{
	vblk_vu_close(&e->u);
	fake_vu_stop(&e->fake);
	free(e->disk);
}

static const uint32_t conversation[] = {
	VU_GET_FEATURES, VU_GET_PROTOCOL_FEATURES, VU_SET_PROTOCOL_FEATURES,
	VU_GET_QUEUE_NUM, VU_SET_OWNER, VU_GET_CONFIG, VU_SET_FEATURES,
	VU_SET_MEM_TABLE,
};
static const uint32_t ring_setup[] = {
	VU_SET_VRING_NUM, VU_SET_VRING_BASE, VU_SET_VRING_ADDR,
	VU_SET_VRING_CALL, VU_SET_VRING_ERR, VU_SET_VRING_KICK,
	VU_SET_VRING_ENABLE,
};

static int t_handshake(struct ut *t)
{
	const unsigned int nc = sizeof(conversation) / sizeof(conversation[0]);
	const unsigned int nr = sizeof(ring_setup) / sizeof(ring_setup[0]);
	struct env e;
	unsigned int i, q;
	char a[32], b[32];

	env_init(&e);
	/* One protocol feature the front-end must not take. */
	e.fake.proto |= VBLK_F(1);
	if (env_start(t, &e, 2, 0))
		return 1;
	CHECK(t, !e.fake.why[0], "back-end objected: %s", e.fake.why);
	CHECK(t, e.u.proto == VBLK_VU_PROTO_WANTED &&
	      e.fake.acked_proto == VBLK_VU_PROTO_WANTED,
	      "protocol features %#llx (back-end got %#llx)",
	      (unsigned long long)e.u.proto,
	      (unsigned long long)e.fake.acked_proto);
	CHECK(t, e.u.features == e.fake.features &&
	      e.fake.acked_features == e.fake.features,
	      "features %#llx, back-end got %#llx, offered %#llx",
	      (unsigned long long)e.u.features,
	      (unsigned long long)e.fake.acked_features,
	      (unsigned long long)e.fake.features);
	CHECK(t, e.u.capacity == DISK_SECTORS && e.u.blk_size == 512 &&
	      e.u.max_queues == 2, "capacity %llu, block %u, %u queues",
	      (unsigned long long)e.u.capacity, e.u.blk_size, e.u.max_queues);
	CHECK(t, e.fake.nlog == nc + 2 * nr, "%u requests, expected %u",
	      e.fake.nlog, nc + 2 * nr);
	for (i = 0; i < e.fake.nlog; i++) {
		uint32_t want = i < nc ? conversation[i] :
					 ring_setup[(i - nc) % nr];

		CHECK(t, e.fake.log[i] == want, "request %u: %s, expected %s",
		      i, vu_request_name(e.fake.log[i], a, sizeof(a)),
		      vu_request_name(want, b, sizeof(b)));
		/* Acknowledged once REPLY_ACK is on; answers come anyway. */
		if (i > 2 && want != VU_GET_QUEUE_NUM && want != VU_GET_CONFIG)
			CHECK(t, e.fake.log_flags[i] & VU_FLAG_NEED_REPLY,
			      "request %u (%s) without NEED_REPLY", i,
			      vu_request_name(want, a, sizeof(a)));
	}
	/* The back-end's mapping shows the front-end's memory. */
	for (i = 0; i < VBLK_MEM_REGIONS; i++) {
		struct vblk_region *r = &e.u.mem.reg[i];
		uint8_t *p = fake_vu_uva(&e.fake, (uintptr_t)r->hva, r->size);

		CHECK(t, p && e.fake.mem.r[i].gpa == r->gpa,
		      "region %u not mapped as sent", i);
		r->hva[r->size - 1] = (uint8_t)(0x5a + i);
		CHECK(t, p[r->size - 1] == 0x5a + i,
		      "region %u: the back-end sees other bytes", i);
	}
	for (q = 0; q < 2; q++)
		CHECK(t, e.fake.ring[q].num == e.u.vq[q].num &&
		      e.fake.ring[q].enabled && e.fake.ring[q].dev.running,
		      "ring %u: num %u, enabled %d, served %d", q,
		      e.fake.ring[q].num, e.fake.ring[q].enabled,
		      e.fake.ring[q].dev.running);
	env_stop(&e);
	return 0;
}

static int t_io(struct ut *t)
{
	const size_t len = 16384;
	struct env e;
	uint8_t *wbuf, *rbuf;
	unsigned int q, k;
	char msg[200];

	env_init(&e);
	if (env_start(t, &e, 2, 0))
		return 1;
	wbuf = vblk_mem_alloc(&e.u.mem, len, 4096);
	rbuf = vblk_mem_alloc(&e.u.mem, len, 4096);
	CHECK(t, wbuf && rbuf, "guest memory");
	for (q = 0; q < 2; q++) {
		struct vblk_vq *vq = &e.u.vq[q];

		vq->timeout_ms = 3000;
		for (k = 0; k < 20; k++) {
			uint64_t sector = (k * 97 + q * 1000) % (DISK_SECTORS - 32);
			int st;

			vblk_pat_fill(wbuf, sector, len / 512, SEED, k);
			st = vblk_write(vq, sector, wbuf, len);
			CHECK(t, st == VIRTIO_BLK_S_OK,
			      "queue %u write %u: %d (%s; back-end: %s)", q, k,
			      st, vq->err, e.fake.why);
			CHECK(t, !memcmp(e.disk + sector * 512, wbuf, len),
			      "queue %u write %u: the disk differs", q, k);
			memset(rbuf, 0, len);
			st = vblk_read(vq, sector, rbuf, len);
			CHECK(t, st == VIRTIO_BLK_S_OK, "queue %u read %u: %d (%s)",
			      q, k, st, vq->err);
			CHECK(t, vblk_pat_verify(rbuf, sector, len / 512, SEED, k,
						 msg, sizeof(msg)) < 0,
			      "queue %u read %u: %s", q, k, msg);
		}
		CHECK(t, e.fake.ring[q].dev.served == 40,
		      "ring %u served %lu requests", q,
		      e.fake.ring[q].dev.served);
	}
	CHECK(t, vblk_flush(&e.u.vq[0], NULL) == VIRTIO_BLK_S_OK, "flush");
	env_stop(&e);
	return 0;
}

static int t_refusals(struct ut *t)
{
	struct env e;

	/* No multiqueue: two queues cannot be had. */
	env_init(&e);
	e.fake.proto &= ~VBLK_F(VU_PROTO_F_MQ);
	if (env_start(t, &e, 2, -EOPNOTSUPP))
		return 1;
	CHECK(t, strstr(e.u.err, "serves 1"), "message: %s", e.u.err);
	env_stop(&e);

	/* No CONFIG: the capacity cannot be learnt. */
	env_init(&e);
	e.fake.proto &= ~VBLK_F(VU_PROTO_F_CONFIG);
	if (env_start(t, &e, 1, -EOPNOTSUPP))
		return 1;
	CHECK(t, strstr(e.u.err, "CONFIG"), "message: %s", e.u.err);
	env_stop(&e);

	/* The back-end refuses the memory table. */
	env_init(&e);
	e.fake.nack = VU_SET_MEM_TABLE;
	if (env_start(t, &e, 1, -EIO))
		return 1;
	CHECK(t, strstr(e.u.err, "refused SET_MEM_TABLE"), "message: %s",
	      e.u.err);
	env_stop(&e);

	/* The back-end hangs up. */
	env_init(&e);
	e.fake.hang_up_on = VU_GET_CONFIG;
	if (env_start(t, &e, 1, -ECONNRESET))
		return 1;
	CHECK(t, strstr(e.u.err, "closed the connection"), "message: %s",
	      e.u.err);
	env_stop(&e);

	/* Nobody listens. */
	{
		struct vblk_vu u;
		struct vblk_vu_opts o;

		vblk_vu_opts_init(&o);
		o.path = "/nonexistent/vhost-user.sock";
		CHECK(t, vblk_vu_start(&u, &o) == -ENOENT &&
		      strstr(u.err, "cannot connect"), "message: %s", u.err);
	}
	return 0;
}

const struct ut_case ut_vu_cases[] = {
	{ "vu-msg-fds", t_msg_fds },
	{ "vu-msg-bad", t_msg_bad },
	{ "vu-handshake", t_handshake },
	{ "vu-io", t_io },
	{ "vu-refusals", t_refusals },
	{ NULL, NULL },
};
