#!/bin/bash
# The VM test batch (runs inside the test host, from run.sh). Prints one line
# a test: "PASS name", "FAIL name: why" or "SKIP name: why".
set -u
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
G=/repo/build/guest
export DM_DISABLE_UDEV=1

# run NAME CMD...: one test from a command's exit status.
run() {
	local name=$1 out
	shift
	if out=$("$@" 2>&1); then
		echo "PASS $name"
	else
		echo "FAIL $name: $(printf '%s' "$out" | tail -n 3 | tr '\n' ' ')"
	fi
}

# vbt_on KIND PATH [vbt options]: every vbt case against one backend,
# each reported as KIND/case.
vbt_on() {
	local kind=$1 path=$2
	shift 2
	"$G/vbt" "$@" "$path" 2>&1 |
		sed -E "s#^(PASS|FAIL|SKIP) #\\1 $kind/#" |
		grep -E '^(PASS|FAIL|SKIP) ' || echo "FAIL $kind: vbt printed no result"
}

stats_zero() {
	awk '$2 != 0 { bad = 1; print "still live: " $0 } END { exit bad }' \
		/sys/kernel/debug/vhost_blk/stats
}

echo "vbt: loading the module"
run module-load sh -c 'modprobe vhost && insmod /repo/vhost_blk.ko'
run dev-node test -c /dev/vhost-blk

# Backends: three RAM disks of 1536 MiB; XFS and ext4 on two of them.
modprobe brd rd_nr=3 rd_size=$((1536 * 1024)) || echo "FAIL backend-setup: brd"
mkdir -p /mnt/xfs /mnt/ext4
mkfs.xfs -q -f /dev/ram1 && mount /dev/ram1 /mnt/xfs &&
	truncate -s 1G /mnt/xfs/disk.raw || echo "FAIL backend-setup: xfs"
mkfs.ext4 -q -F /dev/ram2 && mount /dev/ram2 /mnt/ext4 &&
	truncate -s 1G /mnt/ext4/disk.raw || echo "FAIL backend-setup: ext4"

echo "vbt: raw image on XFS"
vbt_on xfs /mnt/xfs/disk.raw
echo "vbt: raw image on ext4"
vbt_on ext4 /mnt/ext4/disk.raw
echo "vbt: brd block device"
vbt_on brd /dev/ram0

run stats-zero stats_zero
umount /mnt/xfs /mnt/ext4
run module-unload rmmod vhost_blk
