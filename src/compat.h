/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The differences between the vhost core and block APIs of the kernels
 * vhost-blk builds against, in one place. Only 6.12 is tested; see
 * ../shared notes (vhost core API by kernel version) for what changes where.
 */
#ifndef VHOST_BLK_COMPAT_H
#define VHOST_BLK_COMPAT_H

#include <linux/cgroup.h>
#include <linux/lockdep.h>
#include <linux/rwsem.h>
#include <linux/version.h>

#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 10, 0)
#error "vhost-blk needs Linux 6.10 or later (vhost_vq_work_queue() returning bool)"
#endif

#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 17, 0)
#define vhost_blk_add_used_n(vq, heads, n)	vhost_add_used_n(vq, heads, NULL, n)
#else
#define vhost_blk_add_used_n(vq, heads, n)	vhost_add_used_n(vq, heads, n)
#endif

/* The current task's io cgroup, referenced; NULL without io cgroups. */
static inline struct cgroup_subsys_state *vhost_blk_current_blkcg_css(void)
{
#ifdef CONFIG_BLK_CGROUP
	return task_get_css(current, io_cgrp_id);
#else
	return NULL;
#endif
}

/*
 * Forget, for lockdep, a rw_semaphore taken here that another task
 * releases (with up_read_non_owner()); a no-op without lock debugging.
 */
static inline void vhost_blk_rwsem_disown(struct rw_semaphore *sem)
{
#ifdef CONFIG_DEBUG_LOCK_ALLOC
	rwsem_release(&sem->dep_map, _RET_IP_);
#endif
}

#endif /* VHOST_BLK_COMPAT_H */
