#!/bin/bash
# Runs as PID 1 in the test host VM (started by /sbin/vbt-init). Runs the
# command the host left in /out/cmd, with its output on the console and in
# /out/log, then saves its exit status and the kernel log and powers off.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8
cd /
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
mount -t configfs configfs /sys/kernel/config 2>/dev/null
mkdir -p /dev/pts /dev/shm && mount -t devpts devpts /dev/pts && mount -t tmpfs shm /dev/shm
# What udev makes on the distribution kernel, for bash's <(...) on both.
[ -e /dev/fd ] || ln -s /proc/self/fd /dev/fd
mkdir -p /var/tmp /mnt
hostname vhost-blk-testhost
. /repo/tests/vm/stacks.sh
# Report a stuck task well within the runner's time limit.
echo 60 >/proc/sys/kernel/hung_task_timeout_secs 2>/dev/null
echo 1 >/proc/sys/kernel/hung_task_all_cpu_backtrace 2>/dev/null
# A hung-task report's stack goes to the kernel log at a level the console
# (loglevel=4) does not show, and a VM that hangs would be killed at the
# runner's time limit without its log: at the first report, save the log
# with every blocked task's stack (sysrq w) and the stacks of the vhost
# workers and test programs where the runner reads them (run.sh prints
# them), and power off.
hung_watch() {
	until dmesg | grep -q 'blocked for more than'; do
		sleep 20
	done
	echo w >/proc/sysrq-trigger 2>/dev/null
	sleep 2
	{
		dmesg
		# What the hung task may wait for without being blocked itself:
		# the vhost workers and the test programs.
		echo "vbt: stacks of the vhost and test processes"
		task_stacks $(pgrep -x 'vfuzz|vbt|vfault')
	} >/out/dmesg
	# Nothing after a hang is worth the wait for the runner's time limit.
	echo "vbt: a task is hung: kernel log and stacks saved; powering off" >/dev/console
	sync
	echo o >/proc/sysrq-trigger
}
hung_watch &
echo "vbt: $(uname -r), $(nproc) CPUs, $(awk '/MemTotal/ { print int($2 / 1024) " MiB" }' /proc/meminfo)" >/dev/console

rc=0
bash /out/cmd </dev/null 2>&1 | tee /out/log >/dev/console
rc=${PIPESTATUS[0]}
echo "$rc" >/out/rc
# A kernel with kmemleak (the debug kernel): scan twice, then its report goes
# with the kernel log, where an "unreferenced object" fails the run.
kml=/sys/kernel/debug/kmemleak
if [ -e $kml ]; then
	sleep 5 # kmemleak reports objects older than 5 s
	{ echo scan >$kml && echo scan >$kml; } 2>/dev/null ||
		echo "vbt: kmemleak: cannot scan (disabled? see dmesg)" >/dev/console
fi
dmesg >/out/dmesg
[ -e $kml ] && cat $kml >>/out/dmesg 2>/dev/null
sync
echo "vbt: done (exit $rc), powering off" >/dev/console
echo o >/proc/sysrq-trigger
sleep 30
