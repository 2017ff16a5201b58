// SPDX-License-Identifier: GPL-2.0-only
/*
 * vhost-user messages on the socket: a 12-byte header, hdr.size bytes of
 * payload, and up to VUB_MAX_FDS descriptors as SCM_RIGHTS beside the
 * first byte. Anything else is the front-end's mistake: -EPROTO, with no
 * descriptor left open.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vub.h"

void vub_close_fds(struct vub_msg *m)
{
	unsigned int i;

	for (i = 0; i < m->nfds; i++)
		if (m->fds[i] >= 0)
			close(m->fds[i]);
	m->nfds = 0;
}

/* Exactly @len bytes; -EPROTO when the peer stops in the middle. */
static int read_full(int sock, void *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = recv(sock, (uint8_t *)buf + got, len - got, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (!n)
			return -EPROTO;
		got += (size_t)n;
	}
	return 0;
}

int vub_recv(int sock, struct vub_msg *m)
{
	union {
		char buf[CMSG_SPACE(VUB_MAX_FDS * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { &m->hdr, sizeof(m->hdr) };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf),
	};
	struct cmsghdr *c;
	ssize_t n;
	int ret;

	memset(&m->hdr, 0, sizeof(m->hdr));
	m->nfds = 0;
	/* A signal between messages is the caller's to see (-EINTR). */
	n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	if (n < 0)
		return -errno;
	for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		size_t k, i;
		int fd;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < k; i++) {
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
			if (m->nfds < VUB_MAX_FDS)
				m->fds[m->nfds++] = fd;
			else
				close(fd);
		}
	}
	if (!n && !m->nfds)
		return -ECONNRESET;
	ret = -EPROTO;
	if (!n || (mh.msg_flags & MSG_CTRUNC))
		goto fail;
	if ((size_t)n < sizeof(m->hdr)) {
		ret = read_full(sock, (uint8_t *)&m->hdr + n,
				sizeof(m->hdr) - (size_t)n);
		if (ret)
			goto fail;
	}
	ret = -EPROTO;
	if (m->hdr.size > sizeof(m->p))
		goto fail;
	memset(&m->p, 0, sizeof(m->p));
	ret = read_full(sock, &m->p, m->hdr.size);
	if (!ret)
		return 0;
fail:
	vub_close_fds(m);
	return ret;
}

int vub_send(int sock, const struct vub_msg *m)
{
	const uint8_t *parts[2] = { (const uint8_t *)&m->hdr,
				    (const uint8_t *)&m->p };
	size_t lens[2] = { sizeof(m->hdr), m->hdr.size };
	unsigned int i;

	for (i = 0; i < 2; i++) {
		size_t off = 0;

		while (off < lens[i]) {
			ssize_t k = send(sock, parts[i] + off, lens[i] - off,
					 MSG_NOSIGNAL);

			if (k < 0 && errno == EINTR)
				continue;
			if (k < 0)
				return -errno;
			off += (size_t)k;
		}
	}
	return 0;
}

const char *vub_request_name(uint32_t req, char *buf, size_t len)
{
	static const char *const names[] = {
		[VUB_GET_FEATURES] = "GET_FEATURES",
		[VUB_SET_FEATURES] = "SET_FEATURES",
		[VUB_SET_OWNER] = "SET_OWNER",
		[VUB_RESET_OWNER] = "RESET_OWNER",
		[VUB_SET_MEM_TABLE] = "SET_MEM_TABLE",
		[VUB_SET_LOG_BASE] = "SET_LOG_BASE",
		[VUB_SET_LOG_FD] = "SET_LOG_FD",
		[VUB_SET_VRING_NUM] = "SET_VRING_NUM",
		[VUB_SET_VRING_ADDR] = "SET_VRING_ADDR",
		[VUB_SET_VRING_BASE] = "SET_VRING_BASE",
		[VUB_GET_VRING_BASE] = "GET_VRING_BASE",
		[VUB_SET_VRING_KICK] = "SET_VRING_KICK",
		[VUB_SET_VRING_CALL] = "SET_VRING_CALL",
		[VUB_SET_VRING_ERR] = "SET_VRING_ERR",
		[VUB_GET_PROTOCOL_FEATURES] = "GET_PROTOCOL_FEATURES",
		[VUB_SET_PROTOCOL_FEATURES] = "SET_PROTOCOL_FEATURES",
		[VUB_GET_QUEUE_NUM] = "GET_QUEUE_NUM",
		[VUB_SET_VRING_ENABLE] = "SET_VRING_ENABLE",
		[VUB_SET_BACKEND_REQ_FD] = "SET_BACKEND_REQ_FD",
		[VUB_GET_CONFIG] = "GET_CONFIG",
		[VUB_SET_CONFIG] = "SET_CONFIG",
		[VUB_SET_STATUS] = "SET_STATUS",
		[VUB_GET_MAX_MEM_SLOTS] = "GET_MAX_MEM_SLOTS",
		[VUB_ADD_MEM_REG] = "ADD_MEM_REG",
		[VUB_REM_MEM_REG] = "REM_MEM_REG",
		[VUB_GET_STATUS] = "GET_STATUS",
	};

	if (req < sizeof(names) / sizeof(names[0]) && names[req])
		return names[req];
	snprintf(buf, len, "request %u", req);
	return buf;
}
