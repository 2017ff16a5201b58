// SPDX-License-Identifier: GPL-2.0-only
/*
 * vhost-user messages on the wire: a 12-byte header, hdr.size bytes of
 * payload, and up to VU_MAX_FDS file descriptors as SCM_RIGHTS ancillary
 * data of the first byte. Used by both ends (the unit tests play the
 * back-end with it).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vu.h"

/* Send the bytes of @m from @off on (header and payload are not adjacent). */
static int send_rest(int sock, const struct vu_msg *m, size_t off)
{
	size_t want = sizeof(m->hdr) + m->hdr.size;

	while (off < want) {
		const uint8_t *p;
		size_t len;
		ssize_t k;

		if (off < sizeof(m->hdr)) {
			p = (const uint8_t *)&m->hdr + off;
			len = sizeof(m->hdr) - off;
		} else {
			p = (const uint8_t *)&m->p + (off - sizeof(m->hdr));
			len = want - off;
		}
		k = send(sock, p, len, MSG_NOSIGNAL);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		off += (size_t)k;
	}
	return 0;
}

int vu_msg_send(int sock, const struct vu_msg *m)
{
	union {
		char buf[CMSG_SPACE(VU_MAX_FDS * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov[2] = {
		{ (void *)&m->hdr, sizeof(m->hdr) },
		{ (void *)&m->p, m->hdr.size },
	};
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };
	ssize_t n;

	if (m->hdr.size > sizeof(m->p) || m->nfds > VU_MAX_FDS)
		return -EINVAL;
	if (m->nfds) {
		struct cmsghdr *c;

		memset(&ctl, 0, sizeof(ctl));
		mh.msg_control = ctl.buf;
		mh.msg_controllen = CMSG_SPACE(m->nfds * sizeof(int));
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(m->nfds * sizeof(int));
		memcpy(CMSG_DATA(c), m->fds, m->nfds * sizeof(int));
	}
	do
		n = sendmsg(sock, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	/* A stream socket may take less; the descriptors went with byte 0. */
	return send_rest(sock, m, (size_t)n);
}

/* Read exactly @len bytes. */
static int read_full(int sock, void *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = recv(sock, (uint8_t *)buf + got, len - got, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EWOULDBLOCK ? -EAGAIN : -errno;
		if (!n)
			return -ECONNRESET;
		got += n;
	}
	return 0;
}

void vu_msg_close_fds(struct vu_msg *m)
{
	unsigned int i;

	for (i = 0; i < m->nfds; i++)
		if (m->fds[i] >= 0)
			close(m->fds[i]);
	m->nfds = 0;
}

int vu_msg_recv(int sock, struct vu_msg *m)
{
	union {
		char buf[CMSG_SPACE(VU_MAX_FDS * sizeof(int))];
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
	do
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	if (!n)
		return -ECONNRESET;
	for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		size_t k;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		memcpy(m->fds, CMSG_DATA(c), k * sizeof(int));
		m->nfds = (unsigned int)k;
	}
	if (mh.msg_flags & MSG_CTRUNC) {
		vu_msg_close_fds(m);
		return -EPROTO;
	}
	if ((size_t)n < sizeof(m->hdr)) {
		ret = read_full(sock, (uint8_t *)&m->hdr + n,
				sizeof(m->hdr) - n);
		if (ret)
			goto fail;
	}
	if (m->hdr.size > sizeof(m->p)) {
		ret = -EPROTO;
		goto fail;
	}
	memset(&m->p, 0, sizeof(m->p));
	ret = read_full(sock, &m->p, m->hdr.size);
	if (!ret)
		return 0;
fail:
	vu_msg_close_fds(m);
	return ret;
}

const char *vu_request_name(uint32_t req, char *buf, size_t len)
{
	static const char *const names[] = {
		[VU_GET_FEATURES] = "GET_FEATURES",
		[VU_SET_FEATURES] = "SET_FEATURES",
		[VU_SET_OWNER] = "SET_OWNER",
		[VU_RESET_OWNER] = "RESET_OWNER",
		[VU_SET_MEM_TABLE] = "SET_MEM_TABLE",
		[VU_SET_VRING_NUM] = "SET_VRING_NUM",
		[VU_SET_VRING_ADDR] = "SET_VRING_ADDR",
		[VU_SET_VRING_BASE] = "SET_VRING_BASE",
		[VU_GET_VRING_BASE] = "GET_VRING_BASE",
		[VU_SET_VRING_KICK] = "SET_VRING_KICK",
		[VU_SET_VRING_CALL] = "SET_VRING_CALL",
		[VU_SET_VRING_ERR] = "SET_VRING_ERR",
		[VU_GET_PROTOCOL_FEATURES] = "GET_PROTOCOL_FEATURES",
		[VU_SET_PROTOCOL_FEATURES] = "SET_PROTOCOL_FEATURES",
		[VU_GET_QUEUE_NUM] = "GET_QUEUE_NUM",
		[VU_SET_VRING_ENABLE] = "SET_VRING_ENABLE",
		[VU_GET_CONFIG] = "GET_CONFIG",
	};

	if (req < sizeof(names) / sizeof(names[0]) && names[req])
		return names[req];
	snprintf(buf, len, "request %u", req);
	return buf;
}
