// SPDX-License-Identifier: GPL-2.0-only
/*
 * Targets: devices shared by the fio jobs of one process. fio gives its
 * jobs nothing in common but the process, so the open targets are kept in
 * one registry, the only global state of the engine.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "target.h"

_Static_assert(VBE_MAX_QUEUES == VHOST_BLK_MAX_QUEUES,
	       "vbe.h must follow uapi/vhost_blk.h");

static struct {
	pthread_mutex_t lock;
	struct vbe_target *head;
} registry = { PTHREAD_MUTEX_INITIALIZER, NULL };

static void say(char *err, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void say(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
}

static unsigned int ring_for(const struct vbe_opts *o)
{
	unsigned int want = 3 * (o->iodepth ? o->iodepth : 1), n = 64;

	/* Three descriptors a request: header, data, status. */
	while (n < want && n < VBE_RING_MAX)
		n <<= 1;
	return n;
}

static size_t mem_for(const struct vbe_opts *o, unsigned int ring)
{
	size_t per_job = (size_t)o->iodepth * (o->buf_size + 4096) + (1u << 20);
	size_t rings = (size_t)o->queues * ring * 32 + (1u << 20);

	/* At most a job a queue; each half of guest memory must hold a
	 * job's buffers in one piece. */
	return VBLK_MEM_DEFAULT_SIZE + 2 * (per_job * o->queues + rings);
}

/*
 * Dirty logging as QEMU sets it up when a migration starts, on the running
 * device: a bitmap of one bit a 4 KiB page up to the end of the highest
 * region of guest memory, the log's eventfd, every used ring logged and
 * VHOST_F_LOG_ALL. Nobody reads the eventfd while fio runs (a signal then
 * costs the device the eventfd's count and lock, no wake-up); the bitmap
 * is never read or cleared (every page the device writes is marked anew).
 */
static int start_log(struct vbe_target *t, char *err, size_t len)
{
	uint64_t end = 0;
	unsigned int i;
	int ret;

	for (i = 0; i < VBLK_MEM_REGIONS; i++)
		if (t->dev.mem.reg[i].gpa + t->dev.mem.reg[i].size > end)
			end = t->dev.mem.reg[i].gpa + t->dev.mem.reg[i].size;
	ret = vblk_log_init(&t->log, end);
	if (ret) {
		say(err, len, "no memory for a dirty log of %llu MiB of guest addresses: %s",
		    (unsigned long long)(end >> 20), strerror(-ret));
		return ret;
	}
	ret = vblk_dev_log_start(&t->dev, &t->log);
	if (ret)
		say(err, len, "dirty logging (vblk_log=1): %s", t->dev.err);
	return ret;
}

/*
 * Parse a CPU list ("1", "0,2-3") into @set. 0, or -EINVAL with @err
 * filled.
 */
static int cpu_list(const char *list, cpu_set_t *set, char *err, size_t len)
{
	const char *p = list;
	unsigned long a, b;
	char *end;

	CPU_ZERO(set);
	do {
		errno = 0;
		a = strtoul(p, &end, 10);
		b = a;
		if (end != p && *end == '-') {
			p = end + 1;
			b = strtoul(p, &end, 10);
		}
		if (end == p || errno || a > b || b >= CPU_SETSIZE ||
		    (*end && *end != ',')) {
			say(err, len, "vblk_worker_cpus=%s: give CPUs as a list like 1 or 2-3,5",
			    list);
			return -EINVAL;
		}
		for (; a <= b; a++)
			CPU_SET(a, set);
		p = end + 1;
	} while (*end);
	return 0;
}

static int open_vhost(struct vbe_target *t, const struct vbe_opts *o,
		      char *err, size_t len)
{
	struct vblk_dev_opts d;
	cpu_set_t cpus, own;
	int fd, ret;

	if (o->worker_cpus && cpu_list(o->worker_cpus, &cpus, err, len))
		return -EINVAL;
	vblk_dev_opts_init(&d);
	if (o->dev_path)
		d.path = o->dev_path;
	d.queues = o->queues;
	d.ring_size = t->ring;
	d.mem_size = t->mem_size;
	/* Shared, like a vhost-user guest's: the same memory for both, and
	 * no copy-on-write when fio forks for exec_prerun. */
	d.shared_mem = true;
	d.worker_per_queue = o->workers == VBE_WORKERS_PER_QUEUE ||
			     (o->workers == VBE_WORKERS_AUTO && o->queues > 1);
	d.poll_us = o->poll_us;
	/* A vhost worker takes the CPUs of the thread whose VHOST_SET_OWNER
	 * or VHOST_NEW_WORKER creates it: this thread has the workers' CPUs
	 * meanwhile, then its own again. */
	if (o->worker_cpus) {
		ret = pthread_getaffinity_np(pthread_self(), sizeof(own), &own);
		if (!ret)
			ret = pthread_setaffinity_np(pthread_self(),
						     sizeof(cpus), &cpus);
		if (ret) {
			say(err, len, "vblk_worker_cpus=%s: cannot run there: %s",
			    o->worker_cpus, strerror(ret));
			return -ret;
		}
	}
	ret = vblk_dev_start(&t->dev, &d);
	if (o->worker_cpus &&
	    pthread_setaffinity_np(pthread_self(), sizeof(own), &own) && !ret) {
		say(err, len, "cannot give the job its own CPUs back");
		return -EPERM;
	}
	if (ret) {
		say(err, len, "%s%s", t->dev.err,
		    ret == -ENOENT ? " (load the module: modprobe vhost && insmod vhost_blk.ko)" : "");
		return ret;
	}
	fd = open(o->path, O_RDWR | O_CLOEXEC | (o->direct ? O_DIRECT : 0));
	if (fd < 0) {
		ret = -errno;
		say(err, len, "cannot open the backend %s: %s", o->path,
		    strerror(errno));
		return ret;
	}
	ret = vblk_dev_attach(&t->dev, fd, 0, o->engine);
	close(fd);
	if (!ret)
		ret = vblk_dev_get_config(&t->dev, NULL);
	if (ret) {
		say(err, len, "%s", t->dev.err);
		return ret;
	}
	if (o->log) {
		ret = start_log(t, err, len);
		if (ret)
			return ret;
	}
	t->vq = t->dev.vq;
	t->mem = &t->dev.mem;
	t->size = t->dev.cfg.capacity * VBLK_SECTOR;
	t->block = t->dev.cfg.logical_block_size;
	snprintf(t->desc, sizeof(t->desc),
		 "vhost-blk %s%s: %s engine, %u queue%s%s, polls %u us, ring %u%s",
		 o->path, o->direct ? " (O_DIRECT)" : "",
		 vblk_engine_name(t->dev.cfg.engine), o->queues,
		 o->queues > 1 ? "s" : "",
		 d.worker_per_queue ? ", a worker each" : ", one worker",
		 o->poll_us, t->ring, o->log ? ", dirty log on" : "");
	return 0;
}

static int open_vhost_user(struct vbe_target *t, const struct vbe_opts *o,
			   char *err, size_t len)
{
	struct vblk_vu_opts u;
	int ret;

	if (o->engine != VHOST_BLK_ENGINE_AUTO ||
	    o->workers == VBE_WORKERS_PER_QUEUE || o->poll_us || o->log ||
	    o->worker_cpus) {
		say(err, len, "%s is a vhost-user socket: vblk_engine, vblk_workers, vblk_poll_us, vblk_log and vblk_worker_cpus apply to /dev/vhost-blk only (the back-end's workers are its own: start it with taskset)",
		    o->path);
		return -EINVAL;
	}
	vblk_vu_opts_init(&u);
	u.path = o->path;
	u.queues = o->queues;
	u.ring_size = t->ring;
	u.mem_size = t->mem_size;
	ret = vblk_vu_start(&t->vu, &u);
	if (ret) {
		say(err, len, "%s", t->vu.err);
		return ret;
	}
	t->vq = t->vu.vq;
	t->mem = &t->vu.mem;
	t->size = t->vu.capacity * VBLK_SECTOR;
	t->block = t->vu.blk_size;
	snprintf(t->desc, sizeof(t->desc),
		 "vhost-user %s: %u queue%s of %u, ring %u", o->path, o->queues,
		 o->queues > 1 ? "s" : "", t->vu.max_queues, t->ring);
	return 0;
}

static bool same_opts(const struct vbe_opts *a, const struct vbe_opts *b)
{
	return a->transport == b->transport && a->engine == b->engine &&
	       a->workers == b->workers && a->poll_us == b->poll_us &&
	       a->queues == b->queues &&
	       a->direct == b->direct && a->log == b->log &&
	       !a->worker_cpus == !b->worker_cpus &&
	       (!a->worker_cpus || !strcmp(a->worker_cpus, b->worker_cpus));
}

static int target_open(const struct vbe_opts *o, struct vbe_target **out,
		       char *err, size_t len)
{
	struct vbe_target *t;
	int ret;

	if (o->queues < 1 || o->queues > VHOST_BLK_MAX_QUEUES) {
		say(err, len, "vblk_queues=%u: 1..%u possible", o->queues,
		    VHOST_BLK_MAX_QUEUES);
		return -EINVAL;
	}
	t = calloc(1, sizeof(*t));
	if (!t || !(t->path = strdup(o->path))) {
		free(t);
		say(err, len, "out of memory");
		return -ENOMEM;
	}
	pthread_mutex_init(&t->mem_lock, NULL);
	t->dev.fd = -1;
	t->log.efd = -1;
	t->vu.sock = -1;
	t->opts = *o;
	t->opts.path = t->path;
	t->opts.dev_path = NULL;
	if (o->worker_cpus && !(t->cpus = strdup(o->worker_cpus))) {
		target_close(t);
		say(err, len, "out of memory");
		return -ENOMEM;
	}
	t->opts.worker_cpus = t->cpus;
	t->ring = o->ring_size ? o->ring_size : ring_for(o);
	t->mem_size = o->mem_size ? o->mem_size : mem_for(o, t->ring);
	if (t->opts.transport == VBE_TRANSPORT_VHOST_USER) {
		t->vhost_user = true;
		ret = open_vhost_user(t, o, err, len);
	} else {
		ret = open_vhost(t, o, err, len);
	}
	if (ret) {
		target_close(t);
		return ret;
	}
	*out = t;
	return 0;
}

static enum vbe_transport resolve(const struct vbe_opts *o)
{
	struct stat st;

	if (o->transport != VBE_TRANSPORT_AUTO)
		return o->transport;
	return !stat(o->path, &st) && S_ISSOCK(st.st_mode) ?
	       VBE_TRANSPORT_VHOST_USER : VBE_TRANSPORT_VHOST;
}

int vbe_probe_size(const struct vbe_opts *o, uint64_t *bytes, char *err,
		   size_t len)
{
	struct vblk_vu_opts uo;
	struct vblk_vu u;
	struct stat st;
	int fd, ret = 0;

	if (resolve(o) == VBE_TRANSPORT_VHOST_USER) {
		vblk_vu_opts_init(&uo);
		uo.path = o->path;
		uo.mem_size = 1u << 20;
		uo.ring_size = 64;
		ret = vblk_vu_open(&u, &uo);
		if (!ret)
			ret = vblk_vu_negotiate(&u);
		if (!ret)
			ret = vblk_vu_get_config(&u);
		if (ret)
			say(err, len, "%s", u.err);
		*bytes = u.capacity * VBLK_SECTOR;
		vblk_vu_close(&u);
		return ret;
	}
	fd = open(o->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st)) {
		ret = -errno;
		say(err, len, "cannot open the backend %s: %s", o->path,
		    strerror(errno));
	} else if (S_ISBLK(st.st_mode)) {
		if (ioctl(fd, BLKGETSIZE64, bytes)) {
			ret = -errno;
			say(err, len, "BLKGETSIZE64 of %s: %s", o->path,
			    strerror(errno));
		}
	} else if (S_ISREG(st.st_mode)) {
		*bytes = (uint64_t)st.st_size;
	} else {
		ret = -EINVAL;
		say(err, len, "%s is neither a block device, a regular file nor a socket",
		    o->path);
	}
	if (fd >= 0)
		close(fd);
	return ret;
}

int vbe_target_get(const struct vbe_opts *o, struct vbe_target **out,
		   char *err, size_t len)
{
	struct vbe_target *t;
	struct vbe_opts want = *o;
	int ret = 0;

	want.transport = resolve(o);
	pthread_mutex_lock(&registry.lock);
	for (t = registry.head; t; t = t->next)
		if (!strcmp(t->path, o->path))
			break;
	if (t && !same_opts(&t->opts, &want)) {
		say(err, len, "jobs of this process share %s with different vblk_* options or direct=; give them the same ones",
		    o->path);
		ret = -EINVAL;
	} else if (t) {
		t->refs++;
	} else {
		ret = target_open(&want, &t, err, len);
		if (!ret) {
			t->refs = 1;
			t->next = registry.head;
			registry.head = t;
		}
	}
	pthread_mutex_unlock(&registry.lock);
	if (!ret)
		*out = t;
	return ret;
}

void target_close(struct vbe_target *t)
{
	if (t->vhost_user)
		vblk_vu_close(&t->vu);
	else if (t->dev.fd >= 0 || t->dev.mem.map)
		vblk_dev_close(&t->dev);
	vblk_log_destroy(&t->log);	/* after the device: it may log until then */
	pthread_mutex_destroy(&t->mem_lock);
	free(t->path);
	free(t->cpus);
	free(t);
}

void vbe_target_put(struct vbe_target *t)
{
	struct vbe_target **p;
	bool last;

	pthread_mutex_lock(&registry.lock);
	last = !--t->refs;
	if (last)
		for (p = &registry.head; *p; p = &(*p)->next)
			if (*p == t) {
				*p = t->next;
				break;
			}
	pthread_mutex_unlock(&registry.lock);
	if (last)
		target_close(t);
}

int vbe_target_claim(struct vbe_target *t, unsigned int job, bool lone,
		     unsigned int *qs, unsigned int *nq, char *err,
		     size_t len)
{
	unsigned int q, first = lone ? 0 : job, last = lone ? t->opts.queues : job + 1;
	int ret = 0;

	*nq = 0;
	if (first >= t->opts.queues) {
		say(err, len, "job %u shares %s, which has %u queue%s: set vblk_queues to numjobs (a queue for each job)",
		    job, t->path, t->opts.queues, t->opts.queues > 1 ? "s" : "");
		return -EINVAL;
	}
	pthread_mutex_lock(&registry.lock);
	for (q = first; q < last; q++)
		if (t->claimed[q]) {
			say(err, len, "queue %u of %s is driven by another job already (two job sections on one file? use numjobs= in one, and vblk_queues= the same)",
			    q, t->path);
			ret = -EBUSY;
			break;
		}
	for (q = first; !ret && q < last; q++) {
		t->claimed[q] = true;
		qs[(*nq)++] = q;
	}
	pthread_mutex_unlock(&registry.lock);
	return ret;
}

void vbe_target_unclaim(struct vbe_target *t, const unsigned int *qs,
			unsigned int nq)
{
	unsigned int i;

	pthread_mutex_lock(&registry.lock);
	for (i = 0; i < nq; i++)
		t->claimed[qs[i]] = false;
	pthread_mutex_unlock(&registry.lock);
}

void *vbe_target_alloc(struct vbe_target *t, size_t size, size_t align)
{
	void *p;

	pthread_mutex_lock(&t->mem_lock);
	p = vblk_mem_alloc(t->mem, size, align);
	pthread_mutex_unlock(&t->mem_lock);
	return p;
}

void vbe_target_free(struct vbe_target *t, void *p)
{
	pthread_mutex_lock(&t->mem_lock);
	vblk_mem_free(t->mem, p);
	pthread_mutex_unlock(&t->mem_lock);
}

uint64_t vbe_target_size(const struct vbe_target *t)
{
	return t->size;
}

uint32_t vbe_target_block(const struct vbe_target *t)
{
	return t->block;
}

const char *vbe_target_desc(const struct vbe_target *t)
{
	return t->desc;
}
