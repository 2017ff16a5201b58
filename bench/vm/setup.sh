# The benchmark's backends, in the test host VM; sourced by bench.sh.
# Each is filled once, so reads find real pages, and kept for the whole run:
#   null_blk  /dev/vbench: memory-backed null_blk (configfs), SIZE_MB
#   brd       /dev/ram0 (its first SIZE_MB)
#   xfs       /mnt/xfs/disk.raw: a SIZE_MB raw image, allocated and written,
#             on XFS on /dev/ram1; XFS_OFF is the byte offset of its one
#             extent on /dev/ram1 (where "bio on the brd under it" runs)
# shellcheck shell=bash

fill() { # fill DEV|FILE: write every byte once (zeros), bypassing caches
	dd if=/dev/zero of="$1" bs=1M count="$SIZE_MB" oflag=direct conv=notrunc status=none
}

setup_null_blk() {
	local d=/sys/kernel/config/nullb/vbench
	modprobe null_blk nr_devices=0 || return 1
	mkdir "$d" || return 1
	echo "$SIZE_MB" >"$d/size" && echo 1 >"$d/memory_backed" &&
		echo "$(nproc)" >"$d/submit_queues" && echo 1 >"$d/power" || return 1
	for _ in $(seq 50); do [ -b /dev/vbench ] && break; sleep 0.2; done
	[ -b /dev/vbench ] || { echo "no /dev/vbench after configuring null_blk" >&2; return 1; }
	fill /dev/vbench
}

# Two RAM disks, big enough for XFS with the image in one allocation group.
setup_brd() {
	modprobe brd rd_nr=2 rd_size=$(( (2 * SIZE_MB + 256) * 1024 )) || return 1
	fill /dev/ram0
}

setup_xfs() {
	local map n
	mkfs.xfs -q -f -d agcount=2 /dev/ram1 && mkdir -p /mnt/xfs &&
		mount /dev/ram1 /mnt/xfs || return 1
	fallocate -l "${SIZE_MB}M" /mnt/xfs/disk.raw && fill /mnt/xfs/disk.raw &&
		sync || return 1
	# "disk.raw:" then " 0: [0..N]: START..END" in 512-byte blocks
	map=$(xfs_bmap /mnt/xfs/disk.raw | tail -n +2)
	n=$(printf '%s\n' "$map" | grep -c ':')
	if [ "$n" != 1 ]; then
		echo "the image on XFS has $n extents, not one: bio on the brd under it needs one ($map)" >&2
		return 1
	fi
	XFS_OFF=$(( $(printf '%s\n' "$map" | sed -E 's/.*: ([0-9]+)\.\..*/\1/') * 512 ))
	export XFS_OFF
}

teardown_all() {
	umount /mnt/xfs 2>/dev/null
	rmmod brd 2>/dev/null
	rmdir /sys/kernel/config/nullb/vbench 2>/dev/null
	rmmod null_blk 2>/dev/null
	return 0
}
