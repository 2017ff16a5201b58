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

# A network disk: the kernel's NVMe-over-TCP target (nvmet) exports a brd
# of its own (1 GiB; brd is not loaded by another kind then: the batch tears
# a kind down before the next) on 127.0.0.1:4420, and the kernel's nvme-tcp
# initiator connects to it; vhost-blk serves the initiator's namespace,
# /dev/nvmeXnY. A lost target fails I/O after fast_io_fail_tmo (2 s) while
# the initiator reconnects every reconnect_delay (1 s) for ctrl_loss_tmo
# (60 s) before it gives the controller up: the disk stays, so service
# resumes when the target is back (nvme_tcp_flap in faults.sh).
NVMET=/sys/kernel/config/nvmet
NVME_NQN=nqn.2026-12.io.vhost-blk:vbt
NVME_PORT=1
NVME_OPTS="transport=tcp,traddr=127.0.0.1,trsvcid=4420,nqn=$NVME_NQN,reconnect_delay=1,ctrl_loss_tmo=60,fast_io_fail_tmo=2"

# lo_up: the loopback interface up (no ip(8) in the test host).
lo_up() {
	python3 -c '
import fcntl, socket, struct
s = socket.socket()
req = struct.pack("16sH22x", b"lo", 0)
flags = struct.unpack("16sH22x", fcntl.ioctl(s, 0x8913, req))[1]	# SIOCGIFFLAGS
fcntl.ioctl(s, 0x8914, struct.pack("16sH22x", b"lo", flags | 1))	# SIOCSIFFLAGS, IFF_UP'
}

# nvme_tcp_ctrl: the name (nvmeN) of the initiator's controller of our
# subsystem, if there is one.
nvme_tcp_ctrl() {
	local c
	for c in /sys/class/nvme/nvme*; do
		[ -e "$c/subsysnqn" ] && [ "$(cat "$c/subsysnqn")" = "$NVME_NQN" ] &&
			{ basename "$c"; return 0; }
	done
	return 1
}

# nvme_tcp_disk CTRL: the block device of namespace 1 of controller CTRL
# (with native multipath, the subsystem's nvmeSnN; without, nvmeCnN).
nvme_tcp_disk() {
	local d
	for d in /sys/class/nvme/"$1"/nvme*; do
		d=${d##*/}
		# a multipath path (nvmeScCnN) is hidden: its disk is nvmeSnN
		[[ $d =~ ^nvme([0-9]+)(c[0-9]+)?n([0-9]+)$ ]] || continue
		echo "/dev/nvme${BASH_REMATCH[1]}n${BASH_REMATCH[3]}"
		return 0
	done
	return 1
}

# missing_nvme_tcp: why this kernel cannot have the kind (printed), or fail.
missing_nvme_tcp() {
	local m
	for m in brd nvmet nvmet-tcp nvme-tcp; do
		modprobe -n -q "$m" 2>/dev/null ||
			{ echo "the kernel has no $m (CONFIG_NVME_TARGET_TCP, CONFIG_NVME_TCP, CONFIG_BLK_DEV_RAM)"; return 0; }
	done
	return 1
}

setup_nvme_tcp() {
	local s=$NVMET/subsystems/$NVME_NQN p=$NVMET/ports/$NVME_PORT ctrl disk="" _
	if ! ctrl=$(nvme_tcp_ctrl); then
		if [ -e /sys/module/brd ]; then
			echo "brd is loaded (another kind's); nvme_tcp needs a brd of its own" >&2
			return 1
		fi
		modprobe brd rd_nr=1 rd_size=$((1024 * 1024)) &&
			modprobe nvmet && modprobe nvmet-tcp && modprobe nvme-tcp || return 1
		[ -d "$NVMET" ] || { echo "no $NVMET (configfs, nvmet)" >&2; return 1; }
		lo_up || return 1
		mkdir "$s" && echo 1 >"$s/attr_allow_any_host" &&
			mkdir "$s/namespaces/1" &&
			echo /dev/ram0 >"$s/namespaces/1/device_path" &&
			echo 1 >"$s/namespaces/1/enable" || return 1
		mkdir "$p" && echo tcp >"$p/addr_trtype" && echo ipv4 >"$p/addr_adrfam" &&
			echo 127.0.0.1 >"$p/addr_traddr" && echo 4420 >"$p/addr_trsvcid" &&
			ln -s "$s" "$p/subsystems/$NVME_NQN" || return 1
		echo "$NVME_OPTS" >/dev/nvme-fabrics || return 1
		ctrl=$(nvme_tcp_ctrl) || { echo "no controller of $NVME_NQN after connecting" >&2; return 1; }
	fi
	for _ in $(seq 50); do
		disk=$(nvme_tcp_disk "$ctrl") && break
		sleep 0.2
	done
	[ -n "$disk" ] || { echo "no namespace on $ctrl" >&2; return 1; }
	wait_dev "$disk"
}

# nvme_tcp_remove: the initiator's controller deleted, the target's
# objects removed in the reverse order (the modules stay).
nvme_tcp_remove() {
	local ctrl s=$NVMET/subsystems/$NVME_NQN p=$NVMET/ports/$NVME_PORT _
	if ctrl=$(nvme_tcp_ctrl); then
		echo 1 >"/sys/class/nvme/$ctrl/delete_controller" 2>/dev/null
		for _ in $(seq 50); do
			[ -e "/sys/class/nvme/$ctrl" ] || break
			sleep 0.2
		done
	fi
	rm -f "$p/subsystems/$NVME_NQN" 2>/dev/null
	rmdir "$p" 2>/dev/null
	[ -d "$s/namespaces/1" ] && { echo 0 >"$s/namespaces/1/enable"; rmdir "$s/namespaces/1"; } 2>/dev/null
	rmdir "$s" 2>/dev/null
	return 0
}

# teardown_nvme_tcp: nvme_tcp_remove, then the modules unloaded (brd's
# memory back): nothing left for a second setup.
teardown_nvme_tcp() {
	[ -e /sys/module/nvmet ] || [ -d "$NVMET/subsystems/$NVME_NQN" ] || return 0	# not set up
	nvme_tcp_remove
	modprobe -r nvme-tcp nvmet-tcp nvmet 2>/dev/null
	[ -d "$NVMET/subsystems/$NVME_NQN" ] || rmmod brd 2>/dev/null
	return 0
}

# nvme_tcp_left [modules]: what a teardown left behind (printed), or fail:
# a controller of our subsystem, a configfs object, and with "modules" a
# module of the kind still loaded (built-in ones aside: no refcnt).
# (Unloading nvme-tcp deletes its controllers: look before, as well.)
nvme_tcp_left() {
	local left="" m
	nvme_tcp_ctrl >/dev/null && left+=" controller $(nvme_tcp_ctrl)"
	[ -e "$NVMET/ports/$NVME_PORT" ] && left+=" port $NVMET/ports/$NVME_PORT"
	[ -e "$NVMET/subsystems/$NVME_NQN" ] && left+=" subsystem $NVME_NQN"
	if [ "${1:-}" = modules ]; then
		for m in nvme_tcp nvmet_tcp nvmet brd; do
			[ -e "/sys/module/$m/refcnt" ] && left+=" module $m"
		done
	fi
	[ -n "$left" ] && echo "left behind:$left"
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
	teardown_nvme_tcp
	teardown_nbd
	teardown_dm_thin
	teardown_null_blk
	teardown_ext4
	teardown_xfs_nullb
	teardown_brd
}
