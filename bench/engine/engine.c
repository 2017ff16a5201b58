// SPDX-License-Identifier: GPL-2.0-only
/*
 * fio ioengine "vblk": drive a virtio-blk device the way a guest does,
 * through /dev/vhost-blk or a vhost-user-blk socket. Load it with
 *
 *   ioengine=external:/path/to/vblk-fio.so
 *
 * The job's filename is the backend (a block device or image file) that
 * /dev/vhost-blk is to serve, or the socket of a vhost-user-blk back-end.
 * I/O buffers are allocated in the device's guest memory (iomem_alloc), so
 * nothing is copied. The fio jobs of one process that name the same file
 * share one device, each on its own queues (thread=1, numjobs=N,
 * vblk_queues=N: one queue per job). iodepth is the depth of each job.
 *
 * Options (all optional):
 *   vblk_transport=auto|vhost|vhost-user   auto: a socket is vhost-user
 *   vblk_engine=auto|kiocb|bio             the module's engine (vhost)
 *   vblk_queues=N                          queues of the device (1)
 *   vblk_workers=auto|shared|per-queue     vhost workers; auto: one per
 *                                          queue when there are several
 *   vblk_poll_us=N                         the workers' busy-poll window
 *                                          (VHOST_SET_VRING_BUSYLOOP_TIMEOUT)
 *   vblk_ring=N                            ring size (from iodepth)
 *   vblk_mem_mb=N                          guest memory (from the jobs)
 *   vblk_dev=PATH                          the vhost-blk node
 *   vblk_log=1                             dirty logging on, as QEMU sets
 *                                          it up for a live migration
 *                                          (vhost; target.c, start_log())
 *   vblk_worker_cpus=LIST                  the CPUs of the vhost workers
 *                                          (vhost; "1", "2-3,5"): they
 *                                          inherit them from the thread
 *                                          that creates them
 *   direct=1                               open the backend O_DIRECT
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fio.h"
#include "optgroup.h"

#include "vbe.h"
#include "vhost_blk.h"

struct vblk_options {
	void *pad;		/* fio: an option at offset 0 is not allowed */
	unsigned int transport;
	unsigned int engine;
	unsigned int queues;
	unsigned int workers;
	unsigned int poll_us;
	unsigned int ring;
	unsigned int mem_mb;
	char *dev;
	unsigned int log;
	char *worker_cpus;
};

static struct fio_option options[] = {
	{
		.name = "vblk_transport",
		.lname = "vblk transport",
		.type = FIO_OPT_STR,
		.off1 = offsetof(struct vblk_options, transport),
		.help = "How to reach the device",
		.def = "auto",
		.posval = {
			{ .ival = "auto", .oval = VBE_TRANSPORT_AUTO,
			  .help = "vhost-user for a socket, else /dev/vhost-blk" },
			{ .ival = "vhost", .oval = VBE_TRANSPORT_VHOST,
			  .help = "/dev/vhost-blk serving the file" },
			{ .ival = "vhost-user", .oval = VBE_TRANSPORT_VHOST_USER,
			  .help = "the file is a vhost-user-blk socket" },
		},
		.category = FIO_OPT_C_ENGINE,
		.group = FIO_OPT_G_INVALID,
	},
	{
		.name = "vblk_engine",
		.lname = "vblk module engine",
		.type = FIO_OPT_STR,
		.off1 = offsetof(struct vblk_options, engine),
		.help = "Engine of vhost_blk.ko (vhost transport)",
		.def = "auto",
		.posval = {
			{ .ival = "auto", .oval = VHOST_BLK_ENGINE_AUTO,
			  .help = "bio for block devices, kiocb for files" },
			{ .ival = "kiocb", .oval = VHOST_BLK_ENGINE_KIOCB,
			  .help = "read_iter/write_iter with async kiocbs" },
			{ .ival = "bio", .oval = VHOST_BLK_ENGINE_BIO,
			  .help = "bios straight to the block device" },
		},
		.category = FIO_OPT_C_ENGINE,
		.group = FIO_OPT_G_INVALID,
	},
	{
		.name = "vblk_queues",
		.lname = "vblk queues",
		.type = FIO_OPT_INT,
		.off1 = offsetof(struct vblk_options, queues),
		.help = "Queues of the device (jobs sharing it take one each)",
		.def = "1",
		.minval = 1,
		.maxval = VBE_MAX_QUEUES,
		.category = FIO_OPT_C_ENGINE,
		.group = FIO_OPT_G_INVALID,
	},
	{
		.name = "vblk_workers",
		.lname = "vblk vhost workers",
		.type = FIO_OPT_STR,
		.off1 = offsetof(struct vblk_options, workers),
		.help = "vhost worker threads (vhost transport)",
		.def = "auto",
		.posval = {
			{ .ival = "auto", .oval = VBE_WORKERS_AUTO,
			  .help = "one per queue when there are several" },
			{ .ival = "shared", .oval = VBE_WORKERS_SHARED,
			  .help = "the device's one worker for all queues" },
			{ .ival = "per-queue", .oval = VBE_WORKERS_PER_QUEUE,
			  .help = "VHOST_NEW_WORKER for each queue" },
		},
		.category = FIO_OPT_C_ENGINE,
		.group = FIO_OPT_G_INVALID,
	},
	{
		.name = "vblk_poll_us",
		.lname = "vblk busy-poll window",
		.type = FIO_OPT_INT,
		.off1 = offsetof(struct vblk_options, poll_us),
		.help = "Microseconds each vhost worker polls its ring after it empties (vhost transport; 0: none)",
		.def = "0",
		.minval = 0,
		.maxval = 1000000,
		.category = FIO_OPT_C_ENGINE,
		.group = FIO_OPT_G_INVALID,
	},
	{
		.name = "vblk_ring",
		.lname = "vblk ring size",
		.type = FIO_OPT_INT,
		.off1 = offsetof(struct vblk_options, ring),
		.help = "Descriptors per ring, a power of two (0: 3 x iodepth)",
		.def = "0",
		.minval = 0,
		.maxval = 32768,
		.category = FIO_OPT_C_ENGINE,
		.group = FIO_OPT_G_INVALID,
	},
	{
		.name = "vblk_mem_mb",
		.lname = "vblk guest memory",
		.type = FIO_OPT_INT,
		.off1 = offsetof(struct vblk_options, mem_mb),
		.help = "Guest memory in MiB (0: enough for the jobs)",
		.def = "0",
		.category = FIO_OPT_C_ENGINE,
		.group = FIO_OPT_G_INVALID,
	},
	{
		.name = "vblk_dev",
		.lname = "vblk device node",
		.type = FIO_OPT_STR_STORE,
		.off1 = offsetof(struct vblk_options, dev),
		.help = "The vhost-blk device node",
		.def = "/dev/vhost-blk",
		.category = FIO_OPT_C_ENGINE,
		.group = FIO_OPT_G_INVALID,
	},
	{
		.name = "vblk_log",
		.lname = "vblk dirty logging",
		.type = FIO_OPT_BOOL,
		.off1 = offsetof(struct vblk_options, log),
		.help = "Dirty logging on, as during a live migration: log bitmap and eventfd, used rings logged, VHOST_F_LOG_ALL (vhost transport)",
		.def = "0",
		.category = FIO_OPT_C_ENGINE,
		.group = FIO_OPT_G_INVALID,
	},
	{
		.name = "vblk_worker_cpus",
		.lname = "vblk worker CPUs",
		.type = FIO_OPT_STR_STORE,
		.off1 = offsetof(struct vblk_options, worker_cpus),
		.help = "CPUs of the vhost workers, a list like 1 or 2-3,5 (vhost transport; default: those of the job)",
		.category = FIO_OPT_C_ENGINE,
		.group = FIO_OPT_G_INVALID,
	},
	{
		.name = NULL,
	},
};

/* One job's state. */
struct vblk_job {
	struct vbe_target *t;
	unsigned int qs[VBE_MAX_QUEUES];	/* the queues this job drives */
	unsigned int nq;
	unsigned int next;		/* round-robin over qs */
	bool dirty[VBE_MAX_QUEUES];	/* queued since the last kick */
	struct io_u **queued;		/* since the last commit */
	unsigned int nqueued;
	struct vbe_io **done;
	struct io_u **events;
	unsigned int nevents;
};

static int fail(struct thread_data *td, int err, const char *msg)
{
	log_err("vblk: job %s: %s\n", td->o.name, msg);
	td_verror(td, err, "vblk");
	return 1;
}

static void opts_of(struct thread_data *td, struct vbe_opts *o)
{
	struct vblk_options *eo = td->eo;

	memset(o, 0, sizeof(*o));
	o->path = td->files[0]->file_name;
	o->transport = eo->transport;
	o->dev_path = eo->dev;
	o->engine = eo->engine;
	o->workers = eo->workers;
	o->poll_us = eo->poll_us;
	o->queues = eo->queues;
	o->ring_size = eo->ring;
	o->iodepth = td->o.iodepth;
	o->buf_size = td_max_bs(td);
	o->mem_size = (size_t)eo->mem_mb << 20;
	o->direct = td->o.odirect;
	o->log = eo->log;
	o->worker_cpus = eo->worker_cpus && *eo->worker_cpus ?
			 eo->worker_cpus : NULL;
}

static unsigned int eo_queues(struct thread_data *td)
{
	return ((struct vblk_options *)td->eo)->queues;
}

static bool one_file(struct thread_data *td)
{
	return td->o.nr_files == 1 && td->files && td->files[0];
}

/* fio's main process, before the jobs: the file's size. */
static int vblk_setup(struct thread_data *td)
{
	struct vbe_opts o;
	char err[VBE_ERR_LEN];
	uint64_t bytes = 0;
	int ret;

	if (!one_file(td))
		return fail(td, EINVAL,
			    "give each job exactly one filename (the backend, or a vhost-user socket)");
	opts_of(td, &o);
	ret = vbe_probe_size(&o, &bytes, err, sizeof(err));
	if (ret)
		return fail(td, -ret, err);
	td->files[0]->real_file_size = bytes;
	fio_file_set_size_known(td->files[0]);
	return 0;
}

static int vblk_init(struct thread_data *td)
{
	struct vbe_opts o;
	struct vblk_job *j;
	char err[VBE_ERR_LEN];
	int ret;

	if (!one_file(td))
		return fail(td, EINVAL,
			    "give each job exactly one filename (the backend, or a vhost-user socket)");
	j = calloc(1, sizeof(*j));
	if (!j)
		return fail(td, ENOMEM, "out of memory");
	td->io_ops_data = j;
	j->queued = calloc(td->o.iodepth, sizeof(*j->queued));
	j->done = calloc(td->o.iodepth, sizeof(*j->done));
	j->events = calloc(td->o.iodepth, sizeof(*j->events));
	if (!j->queued || !j->done || !j->events)
		return fail(td, ENOMEM, "out of memory");
	opts_of(td, &o);
	ret = vbe_target_get(&o, &j->t, err, sizeof(err));
	if (ret)
		return fail(td, -ret, err);
	/* fio's numjobs=N: job 0 keeps numjobs N, its clones 1..N-1 get 1. */
	if (!td->subjob_number && td->o.numjobs > 1 &&
	    td->o.numjobs != eo_queues(td)) {
		snprintf(err, sizeof(err),
			 "numjobs=%u jobs share %s: set vblk_queues=%u (a queue for each)",
			 td->o.numjobs, o.path, td->o.numjobs);
		return fail(td, EINVAL, err);
	}
	ret = vbe_target_claim(j->t, td->subjob_number,
			       !td->subjob_number && td->o.numjobs == 1, j->qs,
			       &j->nq, err, sizeof(err));
	if (ret)
		return fail(td, -ret, err);
	if (!td->subjob_number)
		log_info("vblk: %s\n", vbe_target_desc(j->t));
	return 0;
}

static void vblk_cleanup(struct thread_data *td)
{
	struct vblk_job *j = td->io_ops_data;

	if (!j)
		return;
	if (j->t) {
		vbe_target_unclaim(j->t, j->qs, j->nq);
		vbe_target_put(j->t);
	}
	free(j->queued);
	free(j->done);
	free(j->events);
	free(j);
	td->io_ops_data = NULL;
}

static int vblk_io_u_init(struct thread_data *td, struct io_u *io_u)
{
	struct vblk_job *j = td->io_ops_data;
	struct vbe_io *io = calloc(1, sizeof(*io));

	if (!io || vbe_io_init(j->t, io, io_u)) {
		free(io);
		return fail(td, ENOMEM,
			    "guest memory exhausted by request headers: raise vblk_mem_mb");
	}
	io_u->engine_data = io;
	return 0;
}

static void vblk_io_u_free(struct thread_data *td, struct io_u *io_u)
{
	struct vblk_job *j = td->io_ops_data;
	struct vbe_io *io = io_u->engine_data;

	if (io && j && j->t)
		vbe_io_free(j->t, io);
	free(io);
	io_u->engine_data = NULL;
}

/* fio's buffers live in guest memory, so the device reads and writes them
 * in place. */
static int vblk_iomem_alloc(struct thread_data *td, size_t total)
{
	struct vblk_job *j = td->io_ops_data;
	char msg[160];

	td->orig_buffer = vbe_target_alloc(j->t, total, 4096);
	if (td->orig_buffer)
		return 0;
	snprintf(msg, sizeof(msg),
		 "no %zu bytes of guest memory for the job's buffers: raise vblk_mem_mb",
		 total);
	return fail(td, ENOMEM, msg);
}

static void vblk_iomem_free(struct thread_data *td)
{
	struct vblk_job *j = td->io_ops_data;

	if (td->orig_buffer && j && j->t)
		vbe_target_free(j->t, td->orig_buffer);
	td->orig_buffer = NULL;
}

static int vblk_get_file_size(struct thread_data *td, struct fio_file *f)
{
	struct vblk_job *j = td->io_ops_data;

	if (!j || !j->t)
		return vblk_setup(td);
	f->real_file_size = vbe_target_size(j->t);
	fio_file_set_size_known(f);
	return 0;
}

static int vblk_open_file(struct thread_data *td, struct fio_file *f)
{
	(void)td;
	(void)f;
	return 0;
}

static int vblk_close_file(struct thread_data *td, struct fio_file *f)
{
	(void)td;
	(void)f;
	return 0;
}

static enum fio_q_status vblk_queue(struct thread_data *td, struct io_u *io_u)
{
	struct vblk_job *j = td->io_ops_data;
	struct vbe_io *io = io_u->engine_data;
	unsigned int q = j->qs[j->next];
	enum vbe_op op;
	int ret;

	fio_ro_check(td, io_u);
	switch (io_u->ddir) {
	case DDIR_READ:
		op = VBE_READ;
		break;
	case DDIR_WRITE:
		op = VBE_WRITE;
		break;
	case DDIR_TRIM:
		op = VBE_DISCARD;
		break;
	case DDIR_SYNC:
	case DDIR_DATASYNC:
		op = VBE_FLUSH;
		break;
	default:
		io_u->error = EINVAL;
		return FIO_Q_COMPLETED;
	}
	ret = vbe_queue(j->t, q, io, op, io_u->offset, io_u->xfer_buf,
			(uint32_t)io_u->xfer_buflen);
	if (ret == -ENOSPC)
		return FIO_Q_BUSY;
	if (ret) {
		log_err("vblk: %s\n", vbe_queue_err(j->t, q));
		io_u->error = -ret;
		return FIO_Q_COMPLETED;
	}
	j->next = (j->next + 1) % j->nq;
	j->dirty[q] = true;
	j->queued[j->nqueued++] = io_u;
	return FIO_Q_QUEUED;
}

static int vblk_commit(struct thread_data *td)
{
	struct vblk_job *j = td->io_ops_data;
	unsigned int i;

	if (!j->nqueued)
		return 0;
	/* Issue time just before the device hears of the requests. */
	if (fio_fill_issue_time(td)) {
		struct timespec now;

		fio_gettime(&now, NULL);
		for (i = 0; i < j->nqueued; i++) {
			j->queued[i]->issue_time = now;
			io_u_queued(td, j->queued[i]);
		}
	}
	for (i = 0; i < j->nq; i++) {
		unsigned int q = j->qs[i];
		int ret;

		if (!j->dirty[q])
			continue;
		j->dirty[q] = false;
		ret = vbe_kick(j->t, q);
		if (ret) {
			log_err("vblk: %s\n", vbe_queue_err(j->t, q));
			td_verror(td, -ret, "vblk kick");
			return ret;
		}
	}
	io_u_mark_submit(td, j->nqueued);
	j->nqueued = 0;
	return 0;
}

/* What went wrong, from every queue of the job that says something. */
static void log_queue_errors(struct thread_data *td, struct vblk_job *j)
{
	unsigned int i;

	for (i = 0; i < j->nq; i++) {
		const char *e = vbe_queue_err(j->t, j->qs[i]);

		if (e[0])
			log_err("vblk: job %s: %s\n", td->o.name, e);
	}
}

static int vblk_getevents(struct thread_data *td, unsigned int min,
			  unsigned int max, const struct timespec *t)
{
	struct vblk_job *j = td->io_ops_data;
	int timeout = t ? (int)(t->tv_sec * 1000 + t->tv_nsec / 1000000) :
			  VBE_WAIT_MS;

	j->nevents = 0;
	for (;;) {
		int i, n, ret;

		n = vbe_reap(j->t, j->qs, j->nq, j->done, max - j->nevents);
		if (n < 0) {
			log_queue_errors(td, j);
			td_verror(td, EPROTO, "vblk reap");
			return -EPROTO;
		}
		for (i = 0; i < n; i++) {
			struct io_u *io_u = j->done[i]->token;

			io_u->error = vbe_io_errno(j->done[i]);
			io_u->resid = io_u->error ? io_u->xfer_buflen : 0;
			j->events[j->nevents++] = io_u;
		}
		if (j->nevents >= min)
			return (int)j->nevents;
		ret = vbe_wait(j->t, j->qs, j->nq, timeout);
		if (ret == -ETIMEDOUT && t)
			return (int)j->nevents;
		if (ret == -ETIMEDOUT) {
			log_err("vblk: job %s: no request completed within %d ms\n",
				td->o.name, VBE_WAIT_MS);
			td_verror(td, ETIMEDOUT, "vblk wait");
			return ret;
		}
		if (ret) {
			log_queue_errors(td, j);
			td_verror(td, -ret, "vblk wait");
			return ret;
		}
	}
}

static struct io_u *vblk_event(struct thread_data *td, int event)
{
	struct vblk_job *j = td->io_ops_data;

	return j->events[event];
}

struct ioengine_ops ioengine = {
	.name = "vblk",
	.version = FIO_IOOPS_VERSION,
	.flags = FIO_DISKLESSIO | FIO_NOEXTEND | FIO_NODISKUTIL |
		 FIO_ASYNCIO_SETS_ISSUE_TIME,
	.setup = vblk_setup,
	.init = vblk_init,
	.cleanup = vblk_cleanup,
	.queue = vblk_queue,
	.commit = vblk_commit,
	.getevents = vblk_getevents,
	.event = vblk_event,
	.open_file = vblk_open_file,
	.close_file = vblk_close_file,
	.get_file_size = vblk_get_file_size,
	.iomem_alloc = vblk_iomem_alloc,
	.iomem_free = vblk_iomem_free,
	.io_u_init = vblk_io_u_init,
	.io_u_free = vblk_io_u_free,
	.options = options,
	.option_struct_size = sizeof(struct vblk_options),
};
