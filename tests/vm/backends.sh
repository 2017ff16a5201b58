# Backends of the VM test batch; sourced by batch.sh. Each setup_KIND prints
# the path of a fresh backend (a raw image file or a block device) or fails.
# shellcheck shell=bash

# Three RAM disks of 1536 MiB: ram0 raw, ram1 XFS, ram2 raw (the fuzzer's
# second). ext4 is on a null_blk (nullb_dev), whose requests complete after
# their submission, as a real disk's do, where brd completes each bio inside
# submit_bio. The image file on XFS or ext4 is 1 GiB, sparse, or all written
# with VBT_IMAGE=written.
setup_brd() {
	[ -b /dev/ram0 ] || modprobe brd rd_nr=3 rd_size=$((1536 * 1024)) || return 1
	echo /dev/ram0
}

# setup_fs FS DEV [MOUNTPOINT]: a fresh image on FS on DEV.
setup_fs() {
	local fs=$1 dev=$2 mnt=${3:-/mnt/$1}
	mkdir -p "$mnt"
	if ! mountpoint -q "$mnt"; then
		"mkfs.$fs" -q "$([ "$fs" = xfs ] && echo -f || echo -F)" "$dev" >/dev/null &&
			mount "$dev" "$mnt" || return 1
	fi
	rm -f "$mnt/disk.raw"
	if [ "${VBT_IMAGE:-sparse}" = written ]; then
		# every block allocated and written: what the bio engine maps
		dd if=/dev/zero of="$mnt/disk.raw" bs=4M count=256 oflag=direct status=none || return 1
	else
		truncate -s 1G "$mnt/disk.raw" || return 1
	fi
	echo "$mnt/disk.raw"
}
setup_xfs() { setup_brd >/dev/null && setup_fs xfs /dev/ram1; }
setup_ext4() {
	local dev
	dev=$(nullb_dev vbtext4 1536) && setup_fs ext4 "$dev"
}
# XFS on a null_blk: direct writes that complete after their submission,
# as on ext4 (dio-deferred; brd ends each inside it).
setup_xfs_nullb() {
	local dev
	dev=$(nullb_dev vbtxfs 1536) && setup_fs xfs "$dev" /mnt/xfs-nullb
}

# nullb_dev NAME MIB: print /dev/NAME, a null_blk with memory backing (a
# plain null_blk drops writes), made via configfs if it is not there. One
# submit queue: the block layer completes its requests in a softirq.
nullb_dev() {
	local d=/sys/kernel/config/nullb/$1
	if [ ! -d "$d" ]; then
		modprobe null_blk nr_devices=0 || return 1
		mkdir "$d" || return 1
		echo "$2" >"$d/size" && echo 1 >"$d/memory_backed" &&
			echo 1 >"$d/discard" && echo 1 >"$d/power" || return 1
	fi
	wait_dev "/dev/$1"
}

setup_null_blk() { nullb_dev vbtnull 1024; }

# wait_dev PATH: print PATH once it is a block device (devtmpfs may lag).
wait_dev() {
	local _
	for _ in $(seq 50); do
		if [ -b "$1" ]; then
			echo "$1"
			return 0
		fi
		sleep 0.2
	done
	echo "no block device $1" >&2
	return 1
}

# A thin volume of a dm-thin pool (our stand-in for a thin-provisioned
# image format in the kernel), pool data and metadata on tmpfs loop devices.
setup_dm_thin() {
	if ! dmsetup info vbt-thin >/dev/null 2>&1; then
		local meta data sectors
		modprobe dm-thin-pool && modprobe loop || return 1
		truncate -s 64M /dev/shm/thin-meta && truncate -s 1200M /dev/shm/thin-data || return 1
		meta=$(losetup -f --show /dev/shm/thin-meta) &&
			data=$(losetup -f --show /dev/shm/thin-data) || return 1
		dd if=/dev/zero of="$meta" bs=4096 count=1 status=none
		sectors=$(blockdev --getsz "$data")
		dmsetup create vbt-pool --table "0 $sectors thin-pool $meta $data 128 0" &&
			dmsetup message vbt-pool 0 "create_thin 0" &&
			dmsetup create vbt-thin --table "0 $((1024 * 2048)) thin $(dm_devno vbt-pool) 0" ||
			return 1
	fi
	# No udev in the VM: use the kernel's own node, /dev/dm-N.
	wait_dev "/dev/dm-$(dmsetup info -c --noheadings -o minor vbt-thin | tr -d ' ')"
}

dm_devno() {
	dmsetup info -c --noheadings -o major,minor "$1" | tr -d ' ' 
}

# A qcow2 image exposed as a block device by qemu-nbd.
setup_nbd() {
	if [ ! -e /sys/block/nbd0/pid ]; then
		modprobe nbd nbds_max=2 && mkdir -p /run/lock || return 1
		qemu-img create -q -f qcow2 /dev/shm/disk.qcow2 1G &&
			qemu-nbd --fork -c /dev/nbd0 -f qcow2 --discard=unmap /dev/shm/disk.qcow2 ||
			return 1
		for _ in $(seq 50); do
			[ -e /sys/block/nbd0/pid ] && break
			sleep 0.2
		done
	fi
	[ -e /sys/block/nbd0/pid ] && echo /dev/nbd0
}

# teardown_KIND: give the memory back before the next kind (the VM has no
# swap; all backends live in RAM).
teardown_brd() {
	umount /mnt/xfs 2>/dev/null
	rmmod brd 2>/dev/null
	return 0
}
teardown_xfs() { teardown_brd; }
teardown_ext4() {
	umount /mnt/ext4 2>/dev/null
	rmdir /sys/kernel/config/nullb/vbtext4 2>/dev/null
	return 0
}

teardown_xfs_nullb() {
	umount /mnt/xfs-nullb 2>/dev/null
	rmdir /sys/kernel/config/nullb/vbtxfs 2>/dev/null
	return 0
}

teardown_null_blk() {
	rmdir /sys/kernel/config/nullb/vbtnull 2>/dev/null
	return 0
}

teardown_dm_thin() {
	dmsetup remove vbt-thin 2>/dev/null
	dmsetup remove vbt-pool 2>/dev/null
	losetup -D 2>/dev/null
	rm -f /dev/shm/thin-meta /dev/shm/thin-data
	return 0
}

teardown_nbd() {
	if [ -e /sys/block/nbd0/pid ]; then qemu-nbd -d /dev/nbd0 >/dev/null; fi
	rm -f /dev/shm/disk.qcow2
	return 0
}

teardown_backends() {
	teardown_nbd
	teardown_dm_thin
	teardown_null_blk
	teardown_ext4
	teardown_xfs_nullb
	teardown_brd
}
