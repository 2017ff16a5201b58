// SPDX-License-Identifier: GPL-2.0-only
/*
 * vbridge: the VM test of vhost-blk-user (qemu-frontend/bridge). Plays the
 * VMM with the test library's vhost-user front-end (as the bench drives
 * qemu-storage-daemon) against a running daemon, whose data path is the
 * real /dev/vhost-blk:
 *
 *   vbridge --socket PATH --pid PID --sectors N [--serial S] [--requests N]
 *   vbridge --read-only --socket PATH --pid PID --sectors N
 *
 * One line a test: "PASS bridge/NAME", "FAIL bridge/NAME: why" or "SKIP".
 * io (two queues, a pattern written and read back), serial, flush,
 * discard, stop-restart (GET_VRING_BASE answers where each ring is, then
 * the rings start again), cpu (the daemon's main thread stays idle while
 * its vhost workers serve the requests: both printed), reconnect (a new
 * connection reads what the first one wrote), malformed (a front-end that
 * breaks the protocol is hung up on, twice) and after-malformed (the next
 * one is served). With --read-only (a daemon started with --read-only):
 * ro-feature (VIRTIO_BLK_F_RO offered), ro-write (a write fails with
 * IOERR), ro-read (reads work). log: dirty logging through the daemon (a
 * read's pages and the used ring's are marked, an unused buffer's not).
 * With --grow FILE (the backend, a
 * regular file): resize (the file grows, CONFIG_CHANGE_MSG comes on the
 * back-end channel, GET_CONFIG has the new capacity, I/O past the old
 * end works).
 */
#include <errno.h>
#include <dirent.h>
#include <getopt.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "vu.h"

#define TEST_NAMES	"io serial flush discard stop-restart cpu reconnect malformed after-malformed log"
#define GROW_TEST_NAMES	"resize"
#define RO_TEST_NAMES	"ro-feature ro-write ro-read"
#define SEED		0xb41d6eULL
#define IO_LEN		65536u
#define IO_COUNT	16u

struct env {
	const char *socket;
	const char *serial;
	int pid;
	uint64_t sectors;
	unsigned int requests;
	bool read_only;
	const char *grow;		/* the backend file, to grow */
	struct vblk_vu u;
	unsigned int failed;
};

static void result(struct env *e, const char *name, bool ok, const char *fmt,
		   ...) __attribute__((format(printf, 4, 5)));

static void result(struct env *e, const char *name, bool ok, const char *fmt,
		   ...)
{
	va_list ap;

	if (ok) {
		printf("PASS bridge/%s\n", name);
	} else {
		printf("FAIL bridge/%s: ", name);
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
		putchar('\n');
		e->failed++;
	}
	fflush(stdout);
}

static int start_proto(struct env *e, unsigned int queues, uint64_t extra)
{
	struct vblk_vu_opts o;
	unsigned int q;
	int ret;

	vblk_vu_opts_init(&o);
	o.proto_extra = extra;
	o.path = e->socket;
	o.queues = queues;
	o.mem_size = 16u << 20;
	o.timeout_ms = 30000;
	ret = vblk_vu_start(&e->u, &o);
	for (q = 0; !ret && q < e->u.nvq; q++)
		e->u.vq[q].timeout_ms = 30000;
	return ret;
}

static int start(struct env *e, unsigned int queues)
{
	return start_proto(e, queues, 0);
}

/* Sector of write @k of queue @q: apart from the others. */
static uint64_t io_sector(unsigned int q, unsigned int k)
{
	return (uint64_t)(q * IO_COUNT + k) * (IO_LEN / 512) * 3;
}

/* Write the pattern (generation @gen) on queue @q, or read it back. */
static int rw_pattern(struct env *e, unsigned int q, uint64_t gen, bool write,
		      char *why, size_t len)
{
	struct vblk_vq *vq = &e->u.vq[q];
	uint8_t *buf = vblk_mem_alloc(&e->u.mem, IO_LEN, 4096);
	char msg[200];
	unsigned int k;
	int st, ret = 0;

	if (!buf) {
		snprintf(why, len, "no guest memory");
		return -1;
	}
	for (k = 0; k < IO_COUNT && !ret; k++) {
		uint64_t s = io_sector(q, k);

		if (write) {
			vblk_pat_fill(buf, s, IO_LEN / 512, SEED, gen + k);
			st = vblk_write(vq, s, buf, IO_LEN);
		} else {
			memset(buf, 0, IO_LEN);
			st = vblk_read(vq, s, buf, IO_LEN);
		}
		if (st != VIRTIO_BLK_S_OK) {
			snprintf(why, len, "queue %u %s %u at sector %llu: status %d (%s)",
				 q, write ? "write" : "read", k,
				 (unsigned long long)s, st, vq->err);
			ret = -1;
		} else if (!write && vblk_pat_verify(buf, s, IO_LEN / 512, SEED,
						     gen + k, msg, sizeof(msg)) >= 0) {
			snprintf(why, len, "queue %u read %u: %s", q, k, msg);
			ret = -1;
		}
	}
	vblk_mem_free(&e->u.mem, buf);
	return ret;
}

static void t_io(struct env *e)
{
	char why[400] = "";
	unsigned int q;
	bool ok = e->u.capacity == e->sectors;

	if (!ok)
		snprintf(why, sizeof(why), "capacity %llu sectors, the backend has %llu",
			 (unsigned long long)e->u.capacity,
			 (unsigned long long)e->sectors);
	for (q = 0; ok && q < e->u.nvq; q++)
		ok = !rw_pattern(e, q, 100 * q, true, why, sizeof(why)) &&
		     !rw_pattern(e, q, 100 * q, false, why, sizeof(why));
	result(e, "io", ok, "%s", why);
}

static void t_serial(struct env *e)
{
	char *buf = vblk_mem_alloc(&e->u.mem, 512, 512);
	char id[VHOST_BLK_SERIAL_LEN + 1] = "";
	uint32_t used = 0;
	int st = -1;

	if (!e->serial) {
		printf("SKIP bridge/serial: no --serial\n");
		return;
	}
	if (buf) {
		st = vblk_get_id(&e->u.vq[0], buf, VHOST_BLK_SERIAL_LEN, &used);
		memcpy(id, buf, VHOST_BLK_SERIAL_LEN);
		vblk_mem_free(&e->u.mem, buf);
	}
	result(e, "serial", st == VIRTIO_BLK_S_OK && !strcmp(id, e->serial),
	       "GET_ID: status %d, '%s', expected '%s'", st, id, e->serial);
}

static void t_flush(struct env *e)
{
	int st = vblk_flush(&e->u.vq[1 % e->u.nvq], NULL);

	result(e, "flush", st == VIRTIO_BLK_S_OK &&
	       (e->u.features & VBLK_F(VIRTIO_BLK_F_FLUSH)),
	       "status %d, features %#llx", st,
	       (unsigned long long)e->u.features);
}

static void t_discard(struct env *e)
{
	uint64_t s = e->sectors - 2048;
	int st;

	if (!(e->u.features & VBLK_F(VIRTIO_BLK_F_DISCARD))) {
		printf("SKIP bridge/discard: not offered for this backend\n");
		return;
	}
	st = vblk_discard(&e->u.vq[0], s, 2048);
	result(e, "discard", st == VIRTIO_BLK_S_OK, "status %d (%s)", st,
	       e->u.vq[0].err);
}

/* QEMU's stop: GET_VRING_BASE each ring; then its start again. */
static void t_stop_restart(struct env *e)
{
	char why[400] = "";
	unsigned int q;
	bool ok = true;

	for (q = 0; ok && q < e->u.nvq; q++) {
		struct vu_msg m = {
			.hdr = { .request = VU_GET_VRING_BASE,
				 .size = sizeof(struct vu_vring_state) },
			.p.state = { .index = q },
		}, r;

		if (vblk_vu_call(&e->u, &m, &r)) {
			snprintf(why, sizeof(why), "%s", e->u.err);
			ok = false;
		} else if (r.p.state.index != q ||
			   r.p.state.num != e->u.vq[q].avail_idx) {
			snprintf(why, sizeof(why), "ring %u: GET_VRING_BASE says %u (ring %u), %u were made available and completed",
				 q, r.p.state.num, r.p.state.index,
				 e->u.vq[q].avail_idx);
			ok = false;
		}
	}
	for (q = 0; ok && q < e->u.nvq; q++)
		if (vblk_vu_setup_vq(&e->u, q)) {
			snprintf(why, sizeof(why), "restart: %s", e->u.err);
			ok = false;
		}
	for (q = 0; ok && q < e->u.nvq; q++)
		ok = !rw_pattern(e, q, 100 * q, false, why, sizeof(why)) &&
		     !rw_pattern(e, q, 100 * q + 1000, true, why, sizeof(why)) &&
		     !rw_pattern(e, q, 100 * q + 1000, false, why, sizeof(why));
	result(e, "stop-restart", ok, "%s", why);
}

/* utime + stime of one thread of @pid; -1 if it is gone. */
static long long thread_ticks(int pid, const char *tid)
{
	char path[64], buf[1024], *p;
	unsigned long long ut, st;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task/%s/stat", pid, tid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	p = fgets(buf, sizeof(buf), f);
	fclose(f);
	if (!p || !(p = strrchr(buf, ')')))
		return -1;
	/* after "pid (comm)": state is field 3, utime 14, stime 15 */
	if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
		   &ut, &st) != 2)
		return -1;
	return (long long)(ut + st);
}

/* The main thread's ticks, and the other threads' (the vhost workers). */
static int daemon_ticks(int pid, long long *main_t, long long *workers,
			unsigned int *nworkers)
{
	char dir[64], tid[32];
	struct dirent *d;
	DIR *dd;

	snprintf(tid, sizeof(tid), "%d", pid);
	*main_t = thread_ticks(pid, tid);
	*workers = 0;
	*nworkers = 0;
	snprintf(dir, sizeof(dir), "/proc/%d/task", pid);
	dd = opendir(dir);
	if (!dd || *main_t < 0)
		return -1;
	while ((d = readdir(dd))) {
		long long t;

		if (d->d_name[0] == '.' || !strcmp(d->d_name, tid))
			continue;
		t = thread_ticks(pid, d->d_name);
		if (t >= 0) {
			*workers += t;
			(*nworkers)++;
		}
	}
	closedir(dd);
	return 0;
}

static void t_cpu(struct env *e)
{
	long long m0, w0, m1, w1;
	unsigned int n0, n1, k;
	uint8_t *buf = vblk_mem_alloc(&e->u.mem, 4096, 4096);
	int st = VIRTIO_BLK_S_OK;
	char why[300] = "";

	if (!buf || daemon_ticks(e->pid, &m0, &w0, &n0)) {
		result(e, "cpu", false, "no guest memory, or no /proc/%d", e->pid);
		return;
	}
	for (k = 0; k < e->requests && st == VIRTIO_BLK_S_OK; k++) {
		struct vblk_vq *vq = &e->u.vq[k % e->u.nvq];
		uint64_t s = e->sectors / 2 + (k % 1024) * 8;

		st = k & 1 ? vblk_read(vq, s, buf, 4096) :
			     vblk_write(vq, s, buf, 4096);
		if (st != VIRTIO_BLK_S_OK)
			snprintf(why, sizeof(why), "request %u: status %d (%s)",
				 k, st, vq->err);
	}
	vblk_mem_free(&e->u.mem, buf);
	daemon_ticks(e->pid, &m1, &w1, &n1);
	printf("bridge: cpu during %u requests: daemon main thread %lld -> %lld ticks, its %u vhost worker thread(s) %lld -> %lld ticks (%ld ticks a second)\n",
	       k, m0, m1, n1, w0, w1, sysconf(_SC_CLK_TCK));
	if (st == VIRTIO_BLK_S_OK && m1 - m0 > 2)
		snprintf(why, sizeof(why), "the daemon's main thread used %lld ticks: it is in the data path",
			 m1 - m0);
	else if (st == VIRTIO_BLK_S_OK && (!n1 || w1 <= w0))
		snprintf(why, sizeof(why), "no vhost worker thread of the daemon ran (%u threads, %lld -> %lld)",
			 n1, w0, w1);
	result(e, "cpu", !why[0], "%s", why);
}

static void t_reconnect(struct env *e)
{
	char why[400] = "";
	bool ok;

	vblk_vu_close(&e->u);
	ok = !start(e, 1);
	if (!ok)
		snprintf(why, sizeof(why), "%s", e->u.err);
	/* What the first connection wrote, after its restart. */
	ok = ok && !rw_pattern(e, 0, 1000, false, why, sizeof(why)) &&
	     !rw_pattern(e, 0, 2000, true, why, sizeof(why)) &&
	     !rw_pattern(e, 0, 2000, false, why, sizeof(why));
	result(e, "reconnect", ok, "%s", why);
}

/* Connect, send @len bytes (with an eventfd if @with_fd), wait for EOF. */
static bool hung_up(struct env *e, const void *msg, size_t len, bool with_fd,
		    char *why, size_t wlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	union {
		char b[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { (void *)msg, len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct pollfd pfd;
	int s, efd = eventfd(0, 0);
	char c;
	bool ok = false;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", e->socket);
	s = socket(AF_UNIX, SOCK_STREAM, 0);
	if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof(sa))) {
		snprintf(why, wlen, "connect: %s", strerror(errno));
		goto out;
	}
	if (with_fd) {
		memset(&ctl, 0, sizeof(ctl));
		mh.msg_control = ctl.b;
		mh.msg_controllen = sizeof(ctl.b);
		CMSG_FIRSTHDR(&mh)->cmsg_level = SOL_SOCKET;
		CMSG_FIRSTHDR(&mh)->cmsg_type = SCM_RIGHTS;
		CMSG_FIRSTHDR(&mh)->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(CMSG_FIRSTHDR(&mh)), &efd, sizeof(int));
	}
	if (sendmsg(s, &mh, MSG_NOSIGNAL) != (ssize_t)len) {
		snprintf(why, wlen, "send: %s", strerror(errno));
		goto out;
	}
	pfd.fd = s;
	pfd.events = POLLIN;
	if (poll(&pfd, 1, 20000) != 1) {
		snprintf(why, wlen, "the daemon kept the connection open for 20 s");
		goto out;
	}
	ok = recv(s, &c, 1, 0) == 0;
	if (!ok)
		snprintf(why, wlen, "the daemon answered instead of hanging up");
out:
	if (s >= 0)
		close(s);
	close(efd);
	return ok;
}

static void t_malformed(struct env *e)
{
	struct {
		struct vu_hdr h;
		uint64_t v;
	} __attribute__((packed)) kick = {
		{ VU_SET_VRING_KICK, VU_VERSION, 8 }, 0 };
	struct vu_hdr big = { VU_SET_MEM_TABLE, VU_VERSION, 1u << 20 };
	char why[300] = "";
	bool ok;

	vblk_vu_close(&e->u);
	/* A kick before anything else; then a header promising 1 MiB. */
	ok = hung_up(e, &kick, sizeof(kick), true, why, sizeof(why)) &&
	     hung_up(e, &big, sizeof(big), false, why, sizeof(why));
	result(e, "malformed", ok, "%s", why);
}

static void t_after_malformed(struct env *e)
{
	char why[400] = "";
	bool ok = !start(e, 2);

	if (!ok)
		snprintf(why, sizeof(why), "%s", e->u.err);
	ok = ok && !rw_pattern(e, 1, 3000, true, why, sizeof(why)) &&
	     !rw_pattern(e, 1, 3000, false, why, sizeof(why)) &&
	     !rw_pattern(e, 0, 2000, false, why, sizeof(why));
	result(e, "after-malformed", ok, "%s", why);
	vblk_vu_close(&e->u);
}

static void t_read_only(struct env *e)
{
	uint8_t *buf = vblk_mem_alloc(&e->u.mem, IO_LEN, 4096);
	int st;

	result(e, "ro-feature", e->u.features & VBLK_F(VIRTIO_BLK_F_RO),
	       "VIRTIO_BLK_F_RO not negotiated (features %#llx)",
	       (unsigned long long)e->u.features);
	if (!buf) {
		result(e, "ro-write", false, "no guest memory");
		return;
	}
	memset(buf, 0x5a, IO_LEN);
	st = vblk_write(&e->u.vq[0], 0, buf, IO_LEN);
	result(e, "ro-write", st == VIRTIO_BLK_S_IOERR,
	       "a write to a read-only disk: status %d (%s)", st,
	       e->u.vq[0].err);
	st = vblk_read(&e->u.vq[1 % e->u.nvq], 8, buf, IO_LEN);
	result(e, "ro-read", st == VIRTIO_BLK_S_OK, "read: status %d (%s)",
	       st, e->u.vq[1 % e->u.nvq].err);
	vblk_mem_free(&e->u.mem, buf);
	vblk_vu_close(&e->u);
}

#define VU_SET_LOG_BASE		6
#define VU_SET_LOG_FD		7
#define VU_PROTO_F_LOG_SHMFD	1
#define LOG_PAGE		4096ull

static bool log_bit(const uint8_t *bits, uint64_t bytes, uint64_t page)
{
	return page / 8 < bytes && (bits[page / 8] >> (page % 8)) & 1;
}

/* Every page of [gpa, gpa + len) logged (@want) or none of them (!@want)? */
static bool log_all(const uint8_t *bits, uint64_t bytes, uint64_t gpa,
		    uint64_t len, bool want)
{
	uint64_t p;

	for (p = gpa / LOG_PAGE; p <= (gpa + len - 1) / LOG_PAGE; p++)
		if (log_bit(bits, bytes, p) != want)
			return false;
	return true;
}

/*
 * log: dirty logging through the daemon, as QEMU turns it on for a
 * migration (tests/lib/dlog.c does it on /dev/vhost-blk directly): the log
 * in a memfd (SET_LOG_BASE, LOG_SHMFD), SET_LOG_FD, SET_FEATURES with
 * VHOST_F_LOG_ALL, every ring's used ring logged (SET_VRING_ADDR with
 * VHOST_VRING_F_LOG). A read then has the device write guest memory: the
 * pages of its data and the used ring's page must be marked, and the pages
 * of a buffer no request used must not.
 */
static bool dirty_log(struct env *e, char *why, size_t len)
{
	struct vu_msg m, r;
	uint64_t end = 0, bytes, gpa, ugpa, other_gpa, ev = 0;
	uint8_t *bits = MAP_FAILED, *buf = NULL, *other = NULL;
	unsigned int i, q;
	int fd = -1, efd = -1, st;
	bool ok = false;

	if (start_proto(e, 2, VBLK_F(VU_PROTO_F_LOG_SHMFD))) {
		snprintf(why, len, "%s", e->u.err);
		return false;
	}
	if (!(e->u.proto & VBLK_F(VU_PROTO_F_LOG_SHMFD)) ||
	    !(e->u.offered & VBLK_F(VHOST_F_LOG_ALL))) {
		snprintf(why, len, "LOG_SHMFD (protocol %#llx) or VHOST_F_LOG_ALL (features %#llx) not offered",
			 (unsigned long long)e->u.proto_offered,
			 (unsigned long long)e->u.offered);
		goto out;
	}
	for (i = 0; i < VBLK_MEM_REGIONS; i++)
		if (e->u.mem.reg[i].gpa + e->u.mem.reg[i].size > end)
			end = e->u.mem.reg[i].gpa + e->u.mem.reg[i].size;
	bytes = end / LOG_PAGE / 8 + 1;
	fd = memfd_create("vbridge-log", MFD_CLOEXEC);
	efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (fd < 0 || efd < 0 || ftruncate(fd, (off_t)bytes)) {
		snprintf(why, len, "memfd/eventfd: %s", strerror(errno));
		goto out;
	}
	bits = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (bits == MAP_FAILED) {
		snprintf(why, len, "mmap: %s", strerror(errno));
		goto out;
	}
	/* SET_LOG_BASE: answered whatever REPLY_ACK. */
	memset(&m, 0, sizeof(m));
	m.hdr.request = VU_SET_LOG_BASE;
	m.hdr.flags = VU_VERSION;
	m.hdr.size = 16;
	memcpy(m.p.raw, &bytes, 8);		/* size; offset 0 */
	m.fds[0] = fd;
	m.nfds = 1;
	if (vu_msg_send(e->u.sock, &m) || vu_msg_recv(e->u.sock, &r) ||
	    r.hdr.request != VU_SET_LOG_BASE || r.hdr.size != 8 || r.p.u64) {
		snprintf(why, len, "SET_LOG_BASE not answered with 0 (request %u, %u bytes)",
			 r.hdr.request, r.hdr.size);
		goto out;
	}
	memset(&m, 0, sizeof(m));
	m.hdr.request = VU_SET_LOG_FD;
	m.fds[0] = efd;
	m.nfds = 1;
	if (vblk_vu_call(&e->u, &m, NULL)) {
		snprintf(why, len, "SET_LOG_FD: %s", e->u.err);
		goto out;
	}
	memset(&m, 0, sizeof(m));
	m.hdr.request = VU_SET_FEATURES;
	m.hdr.size = 8;
	m.p.u64 = e->u.features | VBLK_F(VHOST_F_LOG_ALL);
	if (vblk_vu_call(&e->u, &m, NULL)) {
		snprintf(why, len, "SET_FEATURES with VHOST_F_LOG_ALL: %s", e->u.err);
		goto out;
	}
	for (q = 0; q < e->u.nvq; q++) {
		struct vblk_vq *vq = &e->u.vq[q];

		if (vblk_mem_gpa(&e->u.mem, vq->used, 4, &ugpa)) {
			snprintf(why, len, "used ring %u outside guest memory", q);
			goto out;
		}
		memset(&m, 0, sizeof(m));
		m.hdr.request = VU_SET_VRING_ADDR;
		m.hdr.size = sizeof(struct vu_vring_addr);
		m.p.addr.index = q;
		m.p.addr.flags = 1u << VHOST_VRING_F_LOG;
		m.p.addr.desc = (uintptr_t)vq->desc;
		m.p.addr.used = (uintptr_t)vq->used;
		m.p.addr.avail = (uintptr_t)vq->avail;
		m.p.addr.log = ugpa;
		if (vblk_vu_call(&e->u, &m, NULL)) {
			snprintf(why, len, "SET_VRING_ADDR %u with VHOST_VRING_F_LOG: %s",
				 q, e->u.err);
			goto out;
		}
	}
	buf = vblk_mem_alloc(&e->u.mem, IO_LEN, 4096);
	other = vblk_mem_alloc(&e->u.mem, IO_LEN, 4096);
	if (!buf || !other ||
	    vblk_mem_gpa(&e->u.mem, buf, IO_LEN, &gpa) ||
	    vblk_mem_gpa(&e->u.mem, other, IO_LEN, &other_gpa) ||
	    vblk_mem_gpa(&e->u.mem, e->u.vq[0].used, 4, &ugpa)) {
		snprintf(why, len, "no guest memory");
		goto out;
	}
	memset(bits, 0, bytes);
	vblk_log_events(efd);
	st = vblk_read(&e->u.vq[0], 0, buf, IO_LEN);
	if (st != VIRTIO_BLK_S_OK) {
		snprintf(why, len, "read: status %d (%s)", st, e->u.vq[0].err);
		goto out;
	}
	ev = vblk_log_events(efd);
	printf("bridge: log: %llu log eventfd signals for one read\n",
	       (unsigned long long)ev);
	if (!log_all(bits, bytes, gpa, IO_LEN, true)) {
		snprintf(why, len, "the pages of the read's data (gpa %#llx, %u bytes) are not all in the log",
			 (unsigned long long)gpa, IO_LEN);
		goto out;
	}
	if (!log_all(bits, bytes, ugpa, 4, true)) {
		snprintf(why, len, "the used ring's page (gpa %#llx) is not in the log",
			 (unsigned long long)ugpa);
		goto out;
	}
	if (!log_all(bits, bytes, other_gpa, IO_LEN, false)) {
		snprintf(why, len, "pages of a buffer no request used (gpa %#llx) are in the log",
			 (unsigned long long)other_gpa);
		goto out;
	}
	/* Logging off (migration cancelled): the disk still works. */
	memset(&m, 0, sizeof(m));
	m.hdr.request = VU_SET_FEATURES;
	m.hdr.size = 8;
	m.p.u64 = e->u.features;
	if (vblk_vu_call(&e->u, &m, NULL)) {
		snprintf(why, len, "SET_FEATURES without VHOST_F_LOG_ALL: %s", e->u.err);
		goto out;
	}
	st = vblk_read(&e->u.vq[1 % e->u.nvq], 0, buf, IO_LEN);
	if (st != VIRTIO_BLK_S_OK) {
		snprintf(why, len, "read after logging off: status %d", st);
		goto out;
	}
	ok = true;
out:
	if (buf)
		vblk_mem_free(&e->u.mem, buf);
	if (other)
		vblk_mem_free(&e->u.mem, other);
	vblk_vu_close(&e->u);
	if (bits != MAP_FAILED)
		munmap(bits, bytes);
	if (fd >= 0)
		close(fd);
	if (efd >= 0)
		close(efd);
	return ok;
}

static void t_log(struct env *e)
{
	char why[400] = "";
	bool ok = dirty_log(e, why, sizeof(why));

	result(e, "log", ok, "%s", why);
}

#define VU_SET_BACKEND_REQ_FD	21
#define VU_PROTO_F_BACKEND_REQ	5
#define VU_CONFIG_CHANGE_MSG	2
#define GROW_BYTES		(64ull << 20)

static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * resize: a back-end channel as QEMU sets it up; the backend file grows
 * behind the daemon's back (truncate); within 10 s CONFIG_CHANGE_MSG
 * comes on the channel, GET_CONFIG (before the answer, as QEMU does it)
 * has the new capacity, and I/O past the old end works.
 */
static bool resize(struct env *e, char *why, size_t len)
{
	struct vu_msg m = { .hdr = { .request = VU_SET_BACKEND_REQ_FD } };
	struct vu_msg ack = { .hdr = { .request = VU_CONFIG_CHANGE_MSG,
				       .flags = VU_VERSION | VU_FLAG_REPLY,
				       .size = 8 } };
	struct pollfd p = { .events = POLLIN };
	uint64_t old, want, sector;
	long long t0;
	uint8_t *buf;
	int bsv[2], ret, st;
	unsigned int i;

	if (start_proto(e, 2, VBLK_F(VU_PROTO_F_BACKEND_REQ))) {
		snprintf(why, len, "%s", e->u.err);
		return false;
	}
	if (!(e->u.proto & VBLK_F(VU_PROTO_F_BACKEND_REQ))) {
		snprintf(why, len, "BACKEND_REQ not offered (%#llx)",
			 (unsigned long long)e->u.proto_offered);
		return false;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, bsv)) {
		snprintf(why, len, "socketpair: %s", strerror(errno));
		return false;
	}
	m.fds[0] = bsv[1];
	m.nfds = 1;
	ret = vblk_vu_call(&e->u, &m, NULL);
	close(bsv[1]);
	if (ret) {
		snprintf(why, len, "SET_BACKEND_REQ_FD: %s", e->u.err);
		goto out;
	}
	old = e->u.capacity;
	want = old + GROW_BYTES / 512;
	if (truncate(e->grow, (off_t)(want * 512))) {
		snprintf(why, len, "truncate %s: %s", e->grow, strerror(errno));
		ret = -1;
		goto out;
	}
	t0 = mono_ms();
	p.fd = bsv[0];
	ret = -1;
	if (poll(&p, 1, 10000) != 1 || vu_msg_recv(bsv[0], &m)) {
		snprintf(why, len, "no CONFIG_CHANGE_MSG within 10 s of growing %s from %llu to %llu sectors",
			 e->grow, (unsigned long long)old,
			 (unsigned long long)want);
		goto out;
	}
	printf("bridge: resize: CONFIG_CHANGE_MSG %lld ms after the grow (flags %#x)\n",
	       mono_ms() - t0, m.hdr.flags);
	if (m.hdr.request != VU_CONFIG_CHANGE_MSG || m.hdr.size) {
		snprintf(why, len, "back-end message %u, %u bytes",
			 m.hdr.request, m.hdr.size);
		goto out;
	}
	if (vblk_vu_get_config(&e->u)) {
		snprintf(why, len, "GET_CONFIG: %s", e->u.err);
		goto out;
	}
	if ((m.hdr.flags & VU_FLAG_NEED_REPLY) && vu_msg_send(bsv[0], &ack)) {
		snprintf(why, len, "answering CONFIG_CHANGE_MSG failed");
		goto out;
	}
	if (e->u.capacity != want) {
		snprintf(why, len, "GET_CONFIG: capacity %llu, expected %llu",
			 (unsigned long long)e->u.capacity,
			 (unsigned long long)want);
		goto out;
	}
	buf = vblk_mem_alloc(&e->u.mem, IO_LEN, 4096);
	if (!buf) {
		snprintf(why, len, "no guest memory");
		goto out;
	}
	/* The last IO_LEN bytes of the new space, then read back. */
	sector = want - IO_LEN / 512;
	for (i = 0; i < IO_LEN; i++)
		buf[i] = (uint8_t)(i * 7 + 3);
	st = vblk_write(&e->u.vq[0], sector, buf, IO_LEN);
	if (st == VIRTIO_BLK_S_OK) {
		memset(buf, 0, IO_LEN);
		st = vblk_read(&e->u.vq[1 % e->u.nvq], sector, buf, IO_LEN);
	}
	for (i = 0; st == VIRTIO_BLK_S_OK && i < IO_LEN; i++)
		if (buf[i] != (uint8_t)(i * 7 + 3))
			break;
	if (st != VIRTIO_BLK_S_OK || i < IO_LEN) {
		snprintf(why, len, "I/O at sector %llu past the old end %llu: status %d, byte %u differs (%s)",
			 (unsigned long long)sector, (unsigned long long)old,
			 st, i, e->u.vq[0].err);
		vblk_mem_free(&e->u.mem, buf);
		goto out;
	}
	vblk_mem_free(&e->u.mem, buf);
	ret = 0;
out:
	close(bsv[0]);
	vblk_vu_close(&e->u);
	return !ret;
}

static void t_resize(struct env *e)
{
	char why[400] = "";
	bool ok = resize(e, why, sizeof(why));

	result(e, "resize", ok, "%s", why);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "pid", required_argument, NULL, 'p' },
		{ "sectors", required_argument, NULL, 'n' },
		{ "serial", required_argument, NULL, 'S' },
		{ "requests", required_argument, NULL, 'r' },
		{ "read-only", no_argument, NULL, 'R' },
		{ "grow", required_argument, NULL, 'g' },
		{ "list", no_argument, NULL, 'l' },
		{ NULL, 0, NULL, 0 },
	};
	struct env e = { .requests = 2000 };
	bool list = false;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's': e.socket = optarg; break;
		case 'p': e.pid = atoi(optarg); break;
		case 'n': e.sectors = strtoull(optarg, NULL, 0); break;
		case 'S': e.serial = optarg; break;
		case 'r': e.requests = (unsigned int)atoi(optarg); break;
		case 'R': e.read_only = true; break;
		case 'g': e.grow = optarg; break;
		case 'l': list = true; break;
		default:
			return 2;
		}
	}
	if (list) {
		printf("%s%s%s\n", e.read_only ? RO_TEST_NAMES : TEST_NAMES,
		       e.grow && !e.read_only ? " " : "",
		       e.grow && !e.read_only ? GROW_TEST_NAMES : "");
		return 0;
	}
	if (!e.socket || !e.pid || e.sectors < 65536) {
		fprintf(stderr, "usage: vbridge [--read-only] --socket PATH --pid DAEMON_PID --sectors N (>= 65536) [--serial S] [--requests N] [--grow FILE]\n");
		return 2;
	}
	if (start(&e, 2)) {
		printf("FAIL bridge/%s: %s\n", e.read_only ? "ro-feature" : "io",
		       e.u.err);
		return 1;
	}
	if (e.read_only) {
		t_read_only(&e);
		return e.failed ? 1 : 0;
	}
	t_io(&e);
	t_serial(&e);
	t_flush(&e);
	t_discard(&e);
	t_stop_restart(&e);
	t_cpu(&e);
	t_reconnect(&e);
	t_malformed(&e);
	t_after_malformed(&e);
	t_log(&e);
	if (e.grow)
		t_resize(&e);
	return e.failed ? 1 : 0;
}
