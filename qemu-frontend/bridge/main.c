// SPDX-License-Identifier: GPL-2.0-only
/*
 * vhost-blk-user: open the backend, check it with the module, listen on
 * the socket and serve one front-end at a time. SIGTERM or SIGINT end it
 * between messages (they are blocked but in ppoll(), so none is missed): the backend is detached first, which waits for the
 * requests in flight, so that every request the kernel took is in the used
 * ring when the front-end reconnects to the next daemon. (Killed, the
 * kernel releases the device, but completions whose worker is gone do not
 * reach the used ring: docs/qemu.md, "Reconnect".)
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "vub.h"

static volatile int stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int open_backend(const struct vub_opts *o)
{
	int flags = (o->read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC |
		    (o->direct ? O_DIRECT : 0);
	struct stat st;
	int fd;

	if (!stat(o->backend, &st) && !S_ISREG(st.st_mode) &&
	    !S_ISBLK(st.st_mode)) {
		fprintf(stderr, "vhost-blk-user: backend %s is neither a regular file (raw image) nor a block device\n",
			o->backend);
		return -1;
	}
	fd = open(o->backend, flags);
	if (fd < 0 && errno == EROFS && !o->read_only) {
		fprintf(stderr, "vhost-blk-user: backend %s is on a read-only file system: add --read-only\n",
			o->backend);
		return -1;
	}
	if (fd < 0) {
		fprintf(stderr, "vhost-blk-user: cannot open backend %s: %s%s\n",
			o->backend, strerror(errno),
			errno == EINVAL && o->direct ?
			" (its file system has no O_DIRECT: drop --direct)" :
			errno == EACCES && !o->read_only ?
			" (no write permission: fix it, or add --read-only)" : "");
		return -1;
	}
	if (fstat(fd, &st) || (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))) {
		fprintf(stderr, "vhost-blk-user: backend %s is neither a regular file (raw image) nor a block device\n",
			o->backend);
		close(fd);
		return -1;
	}
	return fd;
}

static int listen_on(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int s, e;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "vhost-blk-user: socket path %s is longer than %zu bytes\n",
			path, sizeof(sa.sun_path) - 1);
		return -1;
	}
	strcpy(sa.sun_path, path);
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0) {
		perror("vhost-blk-user: socket");
		return -1;
	}
	if (!lstat(path, &st)) {
		if (!S_ISSOCK(st.st_mode)) {
			fprintf(stderr, "vhost-blk-user: %s exists and is not a socket: choose another --socket\n",
				path);
			goto fail;
		}
		/* A socket nobody listens on is stale: take its place. */
		if (!connect(s, (struct sockaddr *)&sa, sizeof(sa))) {
			fprintf(stderr, "vhost-blk-user: socket %s is in use: another back-end listens there (stop it, or choose another --socket)\n",
				path);
			goto fail;
		}
		close(s);
		unlink(path);
		s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (s < 0) {
			perror("vhost-blk-user: socket");
			return -1;
		}
	}
	if (bind(s, (struct sockaddr *)&sa, sizeof(sa)) || listen(s, 1)) {
		e = errno;
		fprintf(stderr, "vhost-blk-user: cannot listen on %s: %s\n",
			path, strerror(e));
		goto fail;
	}
	return s;
fail:
	close(s);
	return -1;
}

int main(int argc, char **argv)
{
	struct vub_opts o;
	sigset_t block, waitmask;
	struct vub_dev d = { .opts = &o, .k = &vub_kops_real, .stop = &stop,
			     .waitmask = &waitmask, .log = stderr };
	struct sigaction sa = { .sa_handler = on_signal };	/* no SA_RESTART */
	struct vub_conn c;
	char why[512];
	int ls, ret;

	ret = vub_parse_args(&o, argc, argv);
	if (ret)
		return ret > 0 ? 0 : 2;
	d.backend_fd = open_backend(&o);
	if (d.backend_fd < 0)
		return 1;
	/* The socket first: one in use is the likelier mistake. */
	ls = listen_on(o.socket);
	if (ls < 0)
		return 1;
	if (vub_probe(d.k, d.kctx, &o, d.backend_fd, &d.probe, why,
		      sizeof(why))) {
		fprintf(stderr, "vhost-blk-user: %s\n", why);
		unlink(o.socket);
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, &waitmask);
	sigdelset(&waitmask, SIGTERM);
	sigdelset(&waitmask, SIGINT);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	fprintf(stderr, "vhost-blk-user: serving %s (%llu sectors%s, %u queue%s) on %s\n",
		o.backend, (unsigned long long)d.probe.kcfg.capacity,
		d.probe.kcfg.read_only ? ", read-only" : "", o.num_queues,
		o.num_queues > 1 ? "s" : "", o.socket);
	while (!stop) {
		struct pollfd p = { .fd = ls, .events = POLLIN };
		int s;

		if (ppoll(&p, 1, NULL, &waitmask) < 0) {
			if (errno != EINTR)
				perror("vhost-blk-user: ppoll");
			continue;
		}
		s = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
		if (s < 0) {
			perror("vhost-blk-user: accept");
			continue;
		}
		/* The backend may have grown or shrunk between front-ends. */
		if (vub_probe(d.k, d.kctx, &o, d.backend_fd, &d.probe, why,
			      sizeof(why))) {
			fprintf(stderr, "vhost-blk-user: refusing the front-end: %s\n",
				why);
			close(s);
			continue;
		}
		fprintf(stderr, "vhost-blk-user: front-end connected\n");
		if (vub_serve(&d, s, &c))
			fprintf(stderr, "vhost-blk-user: closing the connection: %s\n",
				c.why);
		else
			fprintf(stderr, "vhost-blk-user: front-end %s after %lu messages\n",
				c.why[0] ? c.why : "disconnected", c.handled);
		close(s);
	}
	fprintf(stderr, "vhost-blk-user: stopping (signal)\n");
	close(ls);
	unlink(o.socket);
	close(d.backend_fd);
	return 0;
}
