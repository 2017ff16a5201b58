#!/bin/bash
# The QEMU frontend test, inside the test host VM (nested.sh boots it with
# run.sh). First the vhost-blk-pci device's error cases and fd passing, then
# the QEMU we built (TCG inside the TCG test host) boots a small kernel of our
# own (mkkernel.sh --guest) with the initramfs and tools disk of
# qemu-frontend/test/mkguest.sh, its disk under test served by vhost-blk
# from a raw image on XFS. The guest writes and verifies data, runs
# fio verify, switches its write cache (write-through, write-back), sees both
# vhost-blk disks grow while it runs (truncate, a longer dm table, qom-set
# size) and writes into the new space, reboots once (the device's reset and
# restart), verifies again and reports on its
# serial console; then, while fio writes with verify on it and on a second
# vhost-blk disk (engine=bio on dm-linear), the guest is migrated three
# times between QEMU processes, after two destinations on another backend
# refused; this script checks the image from outside, and in the module's
# tracepoints that the writes of each cache mode carried FUA or not. Prints "PASS qemu/NAME" or "FAIL qemu/NAME: why"; progress lines
# start with "vbt: ". The guest's console is kept in /out/guest-console.log.
# Debian's own QEMU boots the same guest on vhost-blk-user and migrates it
# (vhost-user-blk-pci, 2 queues, a read-only disk; bridge_guest, issue #22)
# when asked (below): "qemu/bridge-*", its console in /out/bridge-console.log.
#   nested-vm.sh [--demo]   --demo: only the boot, showing the guest's console
# libvirt (libvirt_guest, issue #22): libvirtd in the test host defines and
# starts a domain with <disk type='vhostuser'> on vhost-blk-user (Debian's
# QEMU, TCG, ACPI on), the guest writes, runs fio verify and a discard,
# virsh shutdown (the ACPI power button) ends it, the test host checks the
# image, undefines the domain and stops the daemons: "qemu/libvirt-*", its
# console in /out/libvirt-console.log.
# VBLK_NESTED_ONLY=migrate: only the migrations, the guest starting with them;
# VBLK_NESTED_ONLY=bridge: only Debian's QEMU on vhost-blk-user (make
# qemu-bridge); VBLK_NESTED_ONLY=libvirt: only the libvirt domain (make
# qemu-libvirt). The full run (make check) has both: Debian's QEMU's guest
# alongside boot 1 (on the test host's other vCPU), the libvirt domain after
# the other guests; VBLK_NESTED_BRIDGE=0 or VBLK_NESTED_LIBVIRT=0 leaves
# them out.
set -u
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
Q=/repo/build/qemu/qemu-system-x86_64
GUEST=/repo/build/qemu/guest
MNT=/mnt/qxfs
IMG=$MNT/disk.raw
SECTORS=262144			# 128 MiB
SERIAL=vblk-nested-1
# A guard against a hung guest, not the goal: both boots take a few minutes
# on an idle machine, three times that when other work shares its cores.
BOOT_LIMIT=${VBLK_BOOT_LIMIT:-900}
LOG=/out/guest-console.log
demo=0
[ "${1:-}" = --demo ] && demo=1
ONLY=${VBLK_NESTED_ONLY:-}
BRIDGE=${VBLK_NESTED_BRIDGE:-1}
LIBVIRT=${VBLK_NESTED_LIBVIRT:-1}
BASE=(-machine q35 -accel tcg -nodefaults -no-user-config -display none)

say() { echo "vbt: $(date +%T) qemu: $*"; }
pass() { echo "PASS qemu/$1"; }
fail() { echo "FAIL qemu/$1: $2"; }
oneline() { tail -n "${1:-3}" | tr '\n' ' ' | cut -c1-300; }

# qemu_run MONITOR-COMMANDS ARGS...: start QEMU stopped (-S), feed the
# human monitor the commands and "quit"; prints the output, returns its exit.
# QEMU runs as RUNAS (a user name) when that is set.
RUNAS=
qemu_run() {
	local cmds=$1 as=()
	shift
	[ -n "$RUNAS" ] && as=(setpriv --reuid="$RUNAS" --regid="$(id -g "$RUNAS")" --clear-groups)
	printf '%b\nquit\n' "$cmds" |
		timeout 120 "${as[@]}" "$Q" "${BASE[@]}" -S -monitor stdio "$@" 2>&1
}

# refuses NAME PATTERN ARGS...: QEMU must stop with an error matching PATTERN.
refuses() {
	local name=$1 pattern=$2 out rc
	shift 2
	out=$(qemu_run "" "$@")
	rc=$?
	if [ "$rc" = 0 ]; then
		fail "$name" "QEMU accepted the device; expected an error matching '$pattern'"
	elif printf '%s' "$out" | grep -qE -- "$pattern"; then
		pass "$name"
	else
		fail "$name" "expected an error matching '$pattern', got (exit $rc): $(printf '%s\n' "$out" | oneline 2)"
	fi
}

# starts NAME MONITOR-COMMANDS PATTERN ARGS...: QEMU must accept the device,
# and the monitor's output must match PATTERN.
starts() {
	local name=$1 cmds=$2 pattern=$3 out rc
	shift 3
	out=$(qemu_run "$cmds" "$@")
	rc=$?
	if [ "$rc" != 0 ]; then
		fail "$name" "QEMU exited $rc: $(printf '%s\n' "$out" | grep -v '^(qemu)' | oneline 2)"
	elif printf '%s' "$out" | grep -qE -- "$pattern"; then
		pass "$name"
	else
		fail "$name" "no '$pattern' in: $(printf '%s\n' "$out" | oneline 4)"
	fi
}

. /repo/tests/vm/leaks.sh

setup() {
	local missing
	missing=$(ldd "$Q" 2>&1 | grep 'not found')
	if [ ! -x "$Q" ] || [ -n "$missing" ] || ! "$Q" --version >/dev/null 2>&1; then
		fail runs "$Q does not run here: ${missing:-missing or broken} (make qemu)"
		return 1
	fi
	modprobe brd rd_nr=2 rd_size=$((512 * 1024)) && mkfs.xfs -q -f /dev/ram0 &&
		mkdir -p $MNT && mount /dev/ram0 $MNT && truncate -s $((SECTORS * 512)) $IMG ||
		{ fail setup "cannot put a raw image on XFS on /dev/ram0"; return 1; }
	# The migration's second disk: the bio engine on a block device
	# (no udev in the VM: the kernel's own node, /dev/dm-N)
	dmsetup create $MIG_DM --table "0 32768 linear /dev/ram1 0" &&
		MIG_BDEV=/dev/dm-$(dmsetup info -c --noheadings -o minor $MIG_DM | tr -d ' ') &&
		[ -b "$MIG_BDEV" ] ||
		{ fail setup "cannot create the dm-linear device $MIG_DM on /dev/ram1"; return 1; }
}

load_module() {
	if modprobe vhost && insmod "/repo/build/kmod/$(uname -r)/vhost_blk.ko"; then
		return 0
	fi
	fail module-load "cannot load /repo/build/kmod/$(uname -r)/vhost_blk.ko"
	return 1
}

# The device's errors, each what a user gets wrong; fd passing; migration.
device_cases() {
	local props p missing=
	props=$("$Q" -device vhost-blk-pci,help 2>&1)
	for p in path drive vhostfd backendfd readonly serial num-queues queue-size engine poll-us config-wce resize-poll-ms size; do
		printf '%s\n' "$props" | grep -qE "^ +$p=" || missing="$missing $p"
	done
	if [ -z "$missing" ]; then pass properties; else fail properties "missing:$missing"; fi

	refuses error-no-module "/dev/vhost-blk.*the vhost_blk kernel module is not loaded" \
		-device vhost-blk-pci,path=$IMG
	load_module || return 1

	refuses error-wrong-path "cannot open backend '$MNT/missing.raw': No such file or directory" \
		-device vhost-blk-pci,path=$MNT/missing.raw
	refuses error-not-file-or-bdev "is neither a regular file nor a block device" \
		-device vhost-blk-pci,path=/dev/null
	# engine=bio on a file: served through its block layout on XFS,
	# refused on tmpfs, which has none
	truncate -s 64M /dev/shm/qshm.raw
	refuses error-engine-bio-on-file "engine=bio cannot serve backend '/dev/shm/qshm.raw': a file needs a file system that gives out its block layout" \
		-device vhost-blk-pci,path=/dev/shm/qshm.raw,engine=bio
	rm -f /dev/shm/qshm.raw
	starts engine-bio-on-xfs-file "info qtree" "vhost-blk-pci" \
		-device vhost-blk-pci,path=$IMG,engine=bio
	starts engine-bio-on-bdev "info qtree" "vhost-blk-pci" \
		-device vhost-blk-pci,path=/dev/ram1,engine=bio

	# Unprivileged: /dev/vhost-blk is root's (0600); an image that nobody
	# may write; an image on a read-only mount.
	truncate -s 64M $MNT/nobody.raw && chown nobody: $MNT/nobody.raw
	RUNAS=nobody
	refuses error-dev-permission "cannot open /dev/vhost-blk: Permission denied: give this user" \
		-device vhost-blk-pci,path=$MNT/nobody.raw
	refuses error-backend-permission "cannot be opened for writing: Permission denied; set readonly=on" \
		-device vhost-blk-pci,path=$IMG
	RUNAS=
	mkdir -p /mnt/qro && mount --bind $MNT /mnt/qro && mount -o remount,bind,ro /mnt/qro
	refuses error-readonly-backend "cannot be opened for writing: Read-only file system; set readonly=on" \
		-device vhost-blk-pci,path=/mnt/qro/disk.raw
	starts readonly-on "info qtree" "vhost-blk-pci" \
		-device vhost-blk-pci,path=/mnt/qro/disk.raw,readonly=on
	umount /mnt/qro

	starts poll-us "info qtree" "poll-us = 50" \
		-device vhost-blk-pci,path=$IMG,poll-us=50
	starts config-wce-off "info qtree" "config-wce = false" \
		-device vhost-blk-pci,path=$IMG,config-wce=off
	starts fd-passing "info qtree" "vhost-blk-pci" \
		-device vhost-blk-pci,vhostfd=3,backendfd=4 3<>/dev/vhost-blk 4<>$IMG
	# drive=: a 'file' node, which block_resize grows (and the device
	# with it); a format node is refused
	truncate -s 64M $MNT/drive.raw
	starts drive-block-resize "block_resize d0 80M\nqom-get /machine/peripheral/vd size" "^83886080" \
		-drive if=none,id=d0,driver=file,filename=$MNT/drive.raw \
		-device vhost-blk-pci,id=vd,drive=d0
	if [ "$(stat -c %s $MNT/drive.raw)" = 83886080 ]; then
		pass drive-block-resize-file
	else
		fail drive-block-resize-file "block_resize left $MNT/drive.raw at $(stat -c %s $MNT/drive.raw) bytes, expected 83886080"
	fi
	refuses error-drive-format-node "drive= must name a 'file' or 'host_device' node" \
		-drive if=none,id=d0,file=$MNT/drive.raw,format=raw -device vhost-blk-pci,drive=d0
	rm -f $MNT/drive.raw
	starts migratable 'migrate "exec:cat >/dev/null"\ninfo migrate' \
		"Migration status: completed" -device vhost-blk-pci,path=$IMG
	if out=$(no_leaks); then pass no-leaks-after-errors; else fail no-leaks-after-errors "$out"; fi
}

# The write cache checks: the module's tracepoints while the nested guest
# runs, in a tracefs instance of their own. vhost_blk_req_start says which
# request (dev, queue, head) is a write to which sector, and
# vhost_blk_req_submit whether it went to the backend with FUA.
TR=/sys/kernel/tracing
TI=$TR/instances/vblk-qemu-wce
TRACE=/out/wce-trace.txt
TRACE_WHY="the module's tracepoints were not enabled"
trace_start() {
	[ -d $TR/instances ] || mount -t tracefs nodev $TR 2>/dev/null
	rmdir $TI 2>/dev/null
	if mkdir $TI && echo 4096 >$TI/buffer_size_kb &&
		echo 1 >$TI/events/vhost_blk/vhost_blk_req_start/enable &&
		echo 1 >$TI/events/vhost_blk/vhost_blk_req_submit/enable &&
		echo 1 >$TI/tracing_on; then
		TRACE_WHY=
	else
		TRACE_WHY="cannot enable vhost_blk:vhost_blk_req_start and _submit in $TI"
	fi
}
trace_stop() {
	[ -d $TI ] || return 0
	echo 0 >$TI/tracing_on
	cat $TI/trace >$TRACE
	echo 0 >$TI/events/vhost_blk/enable
	rmdir $TI
}

# wce_fua OFF: of the guest's writes to the 8 x 4 KiB at OFF MiB, how many
# were submitted, and how many with FUA: "N F"
wce_fua() {
	awk -v lo=$(($1 * 2048)) -v hi=$(($1 * 2048 + 64)) '
	function val(k,   i) {
		for (i = 1; i <= NF; i++)
			if (index($i, k "=") == 1)
				return substr($i, length(k) + 2)
		return ""
	}
	/ vhost_blk_req_start: / {
		key = val("dev") " " val("queue") " " val("head")
		type[key] = val("type")
		sector[key] = val("sector") + 0
		next
	}
	/ vhost_blk_req_submit: / {
		key = val("dev") " " val("queue") " " val("head")
		if (type[key] == "out" && sector[key] >= lo && sector[key] < hi) {
			n++
			if (val("fua") == "1")
				f++
		}
	}
	END { print n + 0, f + 0 }' $TRACE
}

# Every QEMU of the nested test runs in the background: the guest's console
# and the human monitor on pipe character devices in $MIG (NAME.in/.out and
# NAME-mon.in/.out), its stderr in NAME.err. The console goes to $LOG and
# its "VBLK:" lines to the progress output.
MIG=/tmp/vblk-mig
MIG_SERIAL=vblk-mig-bdev
MIG_DM=vblkmig			# dm-linear, 16 MiB of /dev/ram1: the bio engine's disk
MIG_BDEV=			# its /dev/dm-N
MIG_LIMIT=${VBLK_MIGRATE_LIMIT:-600}
QEMU_PIDS=
GNAME=guest			# the console's progress lines: "GNAME: ..."

# nested_args "KERNEL-PARAMETERS" ARGS...: QARGS, the nested guest (kernel,
# initramfs, tools disk last, NESTED_CPUS vCPUs) with ARGS (its disks under
# test) and guest-init.sh's parameters
NESTED_CPUS=1
nested_args() {
	local append="console=ttyS0 loglevel=5 panic=-1 $1"
	shift
	# shellcheck disable=SC2054 # commas inside the options
	QARGS=("${BASE[@]}" -smp "$NESTED_CPUS" -m 256 -bios qboot.rom
		-device isa-debug-exit,iobase=0xf4,iosize=4
		-kernel "$GUEST/bzImage" -initrd "$GUEST/initramfs.cpio"
		"$@" -append "$append"
		-drive if=none,id=tools,file="$GUEST/tools.img",format=raw,readonly=on
		-device virtio-blk-pci,drive=tools,serial=vblk-tools)
}

# guest_args DISK-OPTIONS: QARGS, the same for every QEMU of the test (the
# devices in the same order) but for the first vhost-blk disk's options
guest_args() {
	local append="vblk_serial=$SERIAL vblk_sectors=$SECTORS"
	local devs=(-device "vhost-blk-pci,id=vblk0,$1,serial=$SERIAL,num-queues=2")
	if [ $demo = 0 ]; then
		append="$append vblk_mig_serial=$MIG_SERIAL vblk_mig_offset=112M${ONLY:+ vblk_phase=$ONLY}"
		devs+=(-device "vhost-blk-pci,id=vblk1,path=$MIG_BDEV,engine=bio,serial=$MIG_SERIAL")
	fi
	nested_args "$append" "${devs[@]}"
}

console() {
	local line
	while IFS= read -r line; do
		line=${line%$'\r'}
		printf '%s\n' "$line" >>$LOG
		if [ $demo = 1 ]; then
			echo "guest| $line"
		else
			case $line in
			*"VBLK: "*) say "$GNAME: ${line#*VBLK: }" ;;
			esac
		fi
	done <$MIG/$1.out
}

# start_qemu NAME [ARGS...]: QEMU NAME with QARGS and ARGS, in the background
start_qemu() {
	local n=$1 f
	shift
	for f in $n.in $n.out $n-mon.in $n-mon.out; do
		rm -f $MIG/$f && mkfifo $MIG/$f
	done
	"$Q" "${QARGS[@]}" -chardev pipe,id=con,path=$MIG/$n -serial chardev:con \
		-chardev pipe,id=mon,path=$MIG/$n-mon -mon chardev=mon,mode=readline \
		"$@" </dev/null >$MIG/$n.err 2>&1 &
	echo $! >$MIG/$n.pid
	QEMU_PIDS="$QEMU_PIDS $!"
	console "$n" &
	cat $MIG/$n-mon.out >>$MIG/$n-mon.log &	# cat: unbuffered
}
qpid() { cat $MIG/$1.pid; }
running() { kill -0 "$(qpid "$1")" 2>/dev/null; }
# hmp NAME COMMAND: a monitor command; its answer lands in NAME-mon.log
hmp() { running "$1" && timeout 10 sh -c "printf '%s\n' '$2' >$MIG/$1-mon.in"; }
# wait_for FILE PATTERN SECONDS [NAME]: until a line of FILE matches; 1 on
# time-out, or when QEMU NAME has exited without it
wait_for() {
	local end=$((SECONDS + $3))
	until grep -qE "$2" "$1" 2>/dev/null; do
		[ $SECONDS -lt $end ] || return 1
		[ -z "${4:-}" ] || running "$4" || { sleep 1; grep -qE "$2" "$1" 2>/dev/null; return; }
		sleep 1
	done
}
# ask NAME COMMAND PATTERN: the monitor's answer to COMMAND, its first line
# that matches PATTERN (waiting up to 20 s for it)
ask() {
	: >$MIG/$1-mon.log
	hmp "$1" "$2" || return 1
	wait_for $MIG/$1-mon.log "$3" 20 "$1" && tr -d '\r' <$MIG/$1-mon.log | grep -m1 -E "$3"
}
# mig_info NAME KEY: the value of "KEY: value" in the last "info migrate"
mig_info() {
	tr -d '\r' <$MIG/$1-mon.log | awk -v k="$2" '
		/^Migration status:/ { v = "" }
		index($0, k ": ") == 1 { v = substr($0, length(k) + 3) }
		END { print v }'

}
# mig_wait NAME: until the migration out of NAME ends; prints its status
mig_wait() {
	local end=$((SECONDS + MIG_LIMIT)) st
	while :; do
		sleep 2
		ask "$1" "info migrate" "^Migration status:" >/dev/null ||
			{ echo "no answer to 'info migrate'"; return; }
		sleep 1		# the lines after the status
		st=$(mig_info "$1" "Migration status")
		case $st in
		completed | failed* | cancelled) echo "$st"; return ;;
		esac
		[ $SECONDS -lt $end ] || { echo "${st:-no status} after ${MIG_LIMIT}s"; return; }
	done
}
# stop_qemu NAME: quit, or kill after 20 s; returns its exit status
stop_qemu() {
	local pid
	pid=$(qpid "$1")
	hmp "$1" quit
	timeout 20 tail --pid="$pid" -f /dev/null || kill -9 "$pid" 2>/dev/null
	wait "$pid"
}

# report NAME WHY: PASS without WHY, else FAIL, noted in $MIG/reported;
# missing TESTS WHY: FAIL those of TESTS (names) not reported
MIG_TESTS="migrate-refuses-other-size migrate-refuses-readonly migrate-1 migrate-2
	migrate-3 migrate-fio-verify migrate-same-boot migrate-md5-image migrate-md5-bdev"
report() {
	echo "$1" >>$MIG/reported
	if [ -z "$2" ]; then pass "$1"; else fail "$1" "$2"; fi
}
missing() {
	local t
	for t in $1; do
		grep -qx "$t" $MIG/reported 2>/dev/null || fail "$t" "$2"
	done
}

# refused NAME PATTERN FROM TO DISK-OPTIONS: a destination on another
# backend refuses the migration before any RAM, with an error matching
# PATTERN, and the source runs on
refused() {
	local name=$1 pattern=$2 from=$3 to=$4 st why=
	guest_args "$5"
	start_qemu "$to" -incoming "unix:$MIG/$to.sock"
	for _ in $(seq 60); do [ -S $MIG/$to.sock ] && break; sleep 1; done
	hmp "$from" "migrate -d unix:$MIG/$to.sock"
	st=$(mig_wait "$from")
	timeout 30 tail --pid="$(qpid "$to")" -f /dev/null || kill -9 "$(qpid "$to")"
	wait "$(qpid "$to")"
	case $st in
	failed*) ;;
	*) why="the migration to a destination with $5 ended '$st', expected failed" ;;
	esac
	[ -n "$why" ] || grep -qE -- "$pattern" $MIG/$to.err ||
		why="the destination's error does not match '$pattern': $(oneline 2 <$MIG/$to.err)"
	[ -n "$why" ] || [ "$(ask "$from" "info status" "^VM status:")" = "VM status: running" ] ||
		why="the source does not run on: $(tr -d '\r' <$MIG/$from-mon.log | grep -E '^VM status:' | tail -n 1)"
	say "migration to a destination with $5: $st; it said: $(grep -m1 vhost-blk $MIG/$to.err)"
	report "$name" "$why"
}

# migrate_to N TO: the guest from the current QEMU to a new QEMU TO while
# it writes; the source quits
migrate_to() {
	local n=$1 to=$2 from st io
	from=$(cat $MIG/current)
	guest_args "path=$IMG"
	start_qemu "$to" -incoming "unix:$MIG/$to.sock"
	for _ in $(seq 60); do [ -S $MIG/$to.sock ] && break; sleep 1; done
	# A long downtime under TCG is no failure here
	hmp "$from" "migrate_set_parameter downtime-limit 2000"
	hmp "$from" "migrate -d unix:$MIG/$to.sock"
	st=$(mig_wait "$from")
	if [ "$st" != completed ]; then
		report "migrate-$n" "migration $n ($from to $to): $st; $(oneline 2 <$MIG/$to.err)"
		kill -9 "$(qpid "$to")" 2>/dev/null
		return 1
	fi
	say "migration $n ($from to $to): total time $(mig_info "$from" "total time"), downtime $(mig_info "$from" downtime)"
	io=$(mig_io)
	stop_qemu "$from"
	echo "$to" >$MIG/current
	# The guest goes on writing to both disks on the destination
	if wrote_more "$io" 600 "$to"; then
		report "migrate-$n" ""
	else
		report "migrate-$n" "the guest wrote no more to both disks after migration $n ($from to $to): $io, then $(mig_io)"
		return 1
	fi
}
# mig_io: the sectors the guest's two vhost-blk disks have written, as it
# last said ("mig io DEV BDEV", every 10 s)
mig_io() { sed -nE 's/.*VBLK: .* mig io ([0-9]+) ([0-9]+)$/\1 \2/p' $LOG | tail -n 1; }
# wrote_more "DEV BDEV" SECONDS NAME: until both are past those counts
wrote_more() {
	local end=$((SECONDS + $2)) a b c d
	read -r a b <<<"$1"
	while :; do
		read -r c d <<<"$(mig_io)"
		[ "${c:-0}" -gt "${a:-0}" ] && [ "${d:-0}" -gt "${b:-0}" ] && return 0
		[ $SECONDS -lt $end ] && running "$3" || return 1
		sleep 2
	done
}

# The nested guest: two boots, on the guest's own timetable (guest-init.sh),
# then (not in the demo) the migrations while it writes.
boot_guest() {
	local rc t cur limit=$BOOT_LIMIT
	rm -rf $MIG && mkdir -p $MIG && echo A >$MIG/current
	: >$LOG
	trace_start
	say "booting the nested guest (its own kernel, $GUEST/bzImage; 1 vCPU, TCG inside TCG; limit ${BOOT_LIMIT}s)"
	t=$(date +%s)
	guest_args "path=$IMG"
	start_qemu A
	if [ $demo = 0 ] && [ "$ONLY" != migrate ] && [ "$BRIDGE" = 1 ]; then
		# The stock QEMU's guest, alongside on the test host's other vCPU
		BR_T0=$(date +%s)
		( bridge_guest ) &
		BR_JOB=$!
	fi
	if [ $demo = 0 ]; then
		if [ "$ONLY" != migrate ] &&
			wait_for $LOG "VBLK: .*(resize wait sectors|FAIL)" "$BOOT_LIMIT" A &&
			grep -qE "VBLK: .*resize wait sectors" $LOG; then
			resize_host
		fi
		if ! wait_for $LOG "VBLK: .*(migrate ready|FAIL)" "$BOOT_LIMIT" A; then
			limit=1
		elif grep -qE "VBLK: .*migrate ready" $LOG; then
			trace_stop
			migrations
		fi
	fi
	cur=$(cat $MIG/current)
	timeout "$limit" tail --pid="$(qpid "$cur")" -f /dev/null
	if running "$cur"; then
		kill -9 "$(qpid "$cur")"
		wait "$(qpid "$cur")"
		rc=124
	else
		wait "$(qpid "$cur")"
		rc=$?
	fi
	# shellcheck disable=SC2086
	kill -9 $QEMU_PIDS 2>/dev/null
	# (not the stock QEMU's guest: the script waits for it at the end)
	for j in $(jobs -p); do
		[ "$j" = "$BR_JOB" ] || wait "$j"
	done
	# Each QEMU's stderr and last monitor answers, kept with the output
	mkdir -p /out/qemus && cp $MIG/*.err $MIG/*-mon.log /out/qemus/ 2>/dev/null
	grep -h 'qemu-system-x86_64:' $MIG/*.err 2>/dev/null | head -n 5 |
		while IFS= read -r l; do say "$l"; done
	say "the nested guest ran $(( $(date +%s) - t ))s; QEMU $cur exited $rc"
	trace_stop
	[ "$ONLY" = migrate ] || guest_results "$rc"
	[ $demo = 1 ] || migration_results
}

# Online resize, while the guest waits for it in boot 1 (guest-init.sh's
# resize_phase): grow the image by 2 MiB with truncate and the dm device by
# 2 MiB with a longer table (QEMU notices both within resize-poll-ms); once
# the guest saw both, grow the image by 2 MiB more with qom-set (at once).
# qom-set on the block device must say to grow it with its own tools.
RSZ_QOM_WHY=
resize_host() {
	local out
	say "growing the image (truncate) and the dm device (a longer table) by 2 MiB each"
	truncate -s $(((SECTORS + 4096) * 512)) $IMG
	dmsetup suspend $MIG_DM && dmsetup reload $MIG_DM --table "0 36864 linear /dev/ram1 0" &&
		dmsetup resume $MIG_DM || say "cannot grow $MIG_DM (the guest's resize steps fail below)"
	wait_for $LOG "VBLK: .*(resize wait qom-set|FAIL)" 300 A || return
	grep -qE "VBLK: .*resize wait qom-set" $LOG || return
	out=$(ask A "qom-set /machine/peripheral/vblk1 size 20M" "vhost-blk:|rror")
	case $out in
	*"is a block device; grow it with its own tools"*) ;;
	*) RSZ_QOM_WHY="qom-set size on the block device said: '${out:-nothing}', expected 'is a block device; grow it with its own tools'" ;;
	esac
	say "growing the image by 2 MiB more with qom-set"
	hmp A "qom-set /machine/peripheral/vblk0 size $(((SECTORS + 8192) * 512))"
	wait_for $LOG "VBLK: .*(resize done|FAIL)" 300 A
}

# The migrations: two that a destination must refuse, then three while the
# guest writes (fio verify on both vhost-blk disks): A to B, B to C, C to D.
migrations() {
	local n=0 to
	truncate -s $((SECTORS * 256)) $MNT/other.raw
	refused migrate-refuses-other-size "vhost-blk: the source's backend has $(($(stat -c %s $IMG) / 512)) sectors, '$MNT/other.raw' here has $((SECTORS / 2))" \
		A R1 "path=$MNT/other.raw"
	refused migrate-refuses-readonly "vhost-blk: the source serves its backend read-write, '$IMG' here is read-only" \
		A R2 "path=$IMG,readonly=on"
	rm -f $MNT/other.raw
	# fio takes a minute to start here: migrate while it writes
	say "waiting for the guest's fio to write to both disks"
	wrote_more "0 0" "$BOOT_LIMIT" A ||
		say "the guest's fio did not start writing (the migrations fail below)"
	for to in B C D; do
		n=$((n + 1))
		migrate_to $n $to || break
	done
	say "asking the guest to stop writing and check (on QEMU $(cat $MIG/current))"
	running "$(cat $MIG/current)" &&
		timeout 10 sh -c "printf 'vblk-stop\n' >$MIG/$(cat $MIG/current).in"
}

# After the last QEMU exited: the guest's checks, the same boot, and its
# md5 of each disk against the host's.
migration_results() {
	local V='VBLK: \[[0-9.]+\]' t1 u1 t2 u2 m1 m2 why got boots=2
	[ "$ONLY" = migrate ] && boots=1
	why=$(grep -m1 -E "$V FAIL" $LOG | sed -E "s/.*$V FAIL //")
	if grep -qE "$V migrate fio ok" $LOG; then
		report migrate-fio-verify ""
	elif grep -qE "$V migrate ready" $LOG; then
		report migrate-fio-verify "${why:-the guest did not report its check}"
	fi
	read -r u1 t1 < <(sed -nE "s/.*VBLK: \[([0-9.]+)\] migrate ready token=([0-9a-f]+).*/\1 \2/p" $LOG)
	read -r t2 u2 m1 m2 < <(sed -nE "s/.*$V migrate done token=([0-9a-f]+) uptime=([0-9.]+) md5dev=([0-9a-f]+) md5bdev=([0-9a-f]+).*/\1 \2 \3 \4/p" $LOG)
	if [ -n "${t2:-}" ]; then
		if [ "$t1" != "$t2" ]; then
			why="the token in the guest's tmpfs was $t1, is $t2"
		elif [ "$(grep -cE "$V init started" $LOG)" != "$boots" ]; then
			why="the guest booted $(grep -cE "$V init started" $LOG) times; expected $boots (the reboot of phase 1 included)"
		elif ! awk -v a="$u1" -v b="$u2" 'BEGIN { exit !(b > a) }'; then
			why="the guest's uptime went from $u1 to $u2"
		else
			why=
		fi
		report migrate-same-boot "$why"
		got=$(md5sum <$IMG | cut -d' ' -f1)
		[ "$got" = "$m1" ] && why= || why="the guest read $m1 from its disk, the host reads $got from $IMG"
		report migrate-md5-image "$why"
		got=$(md5sum <$MIG_BDEV | cut -d' ' -f1)
		[ "$got" = "$m2" ] && why= || why="the guest read $m2 from its disk, the host reads $got from $MIG_BDEV ($MIG_DM)"
		report migrate-md5-bdev "$why"
	fi
	missing "$MIG_TESTS" "not reached: ${why:-see the progress lines and $LOG}"
}

# The guest's results in $LOG, for both guests. guest_why RC: why the
# guest's checks that did not pass failed (its FAIL line, a time-out, ...)
V='VBLK: \[[0-9.]+\]'
guest_why() {
	local why
	why=$(grep -m1 -E "$V FAIL" $LOG | sed -E "s/.*$V FAIL //")
	if [ "$1" = 124 ] || [ "$1" = 137 ]; then
		why="${why:-no result within ${BOOT_LIMIT}s; last lines: $(grep -v '^$' $LOG | oneline 3)}"
	fi
	echo "${why:-not reached; QEMU exited $1; last lines: $(grep -v '^$' $LOG | oneline 3)}"
}
# expect NAME PATTERN: PASS if the guest said it, else FAIL with $why
expect() {
	if grep -qE "$V $2" $LOG; then pass "$1"; else fail "$1" "$why"; fi
}
# step_expect NAME KIND STEP: the guest's "KIND ok: STEP", or its
# "KIND fail: STEP: why" (guest-init.sh's step_say)
step_expect() {
	local w
	if grep -qE "$V $2 ok: $3\$" $LOG; then
		pass "$1"
	else
		w=$(sed -nE "s/.*$V $2 fail: $3: //p" $LOG | head -n 1)
		fail "$1" "${w:-$why}"
	fi
}
# guest_end PREFIX RC: the guest's reboot, power-off (QEMU's exit RC) and
# kernel log
guest_end() {
	local boots
	boots=$(grep -cE "$V init started" $LOG)
	if [ "$boots" = 2 ] && grep -qE "$V phase1 ok" $LOG; then
		pass "$1-reboot"
	else
		fail "$1-reboot" "the guest booted $boots times; expected 2 (${why})"
	fi
	# 33: the guest's power switch (isa-debug-exit) with 0x10, its success
	if [ "$2" = 33 ]; then
		pass "$1-poweroff"
	else
		fail "$1-poweroff" "QEMU exited $2, not 33 (the guest's power switch after success)"
	fi
	guest_kernel_log "$1-kernel-log"
}
# guest_kernel_log NAME: the guest's kernel log in $LOG holds no report
guest_kernel_log() {
	if grep -qE 'BUG:|WARNING:|Oops|general protection|Call Trace|Kernel panic|blocked for more than' $LOG; then
		fail "$1" "the guest's kernel reported a problem (see ${LOG#/out/} in the VM's output directory)"
	else
		pass "$1"
	fi
}
# image_why IMAGE: what the guest said it wrote (patterns A and B, the
# marker) is in IMAGE, and the MiB it discarded reads as zeroes; prints why not
image_why() {
	local a b got
	read -r a b < <(sed -nE "s/.*$V phase2 ok md5a=([0-9a-f]+) md5b=([0-9a-f]+).*/\1 \2/p" $LOG)
	[ -n "${a:-}" ] || { echo "the guest reported no checksums"; return; }
	got=$(dd if="$1" bs=1M count=4 iflag=direct status=none | md5sum | cut -d' ' -f1)
	[ "$got" = "$a" ] || { echo "pattern A: the guest wrote $a, $1 has $got"; return; }
	got=$(dd if="$1" bs=1M skip=8 count=2 iflag=direct status=none | md5sum | cut -d' ' -f1)
	[ "$got" = "$b" ] || { echo "pattern B: the guest wrote $b, $1 has $got"; return; }
	got=$(dd if="$1" bs=512 skip=131072 count=1 status=none | tr -d '\000' | head -n 1)
	[ "$got" = "VBLK-PHASE2 $a $b" ] || { echo "the marker reads '$got'"; return; }
	cmp -s -n 1048576 -i $((48 << 20)):0 "$1" /dev/zero ||
		echo "the discarded MiB at 48 MiB is not zeroes"
}

guest_results() {
	local rc=$1 why a got
	why=$(guest_why "$rc")
	# wce_trace NAME OFF FUA STEP: the 8 writes of the guest's STEP at OFF MiB
	# all went to the backend with FUA (FUA 1), or none did (FUA 0)
	wce_trace() {
		local n f w
		if [ -n "$TRACE_WHY" ]; then
			fail "$1" "$TRACE_WHY"
			return
		fi
		read -r n f < <(wce_fua "$2")
		if ! grep -qE "$V wce ok: $4\$" $LOG; then
			w=$(sed -nE "s/.*$V wce fail: $4: //p" $LOG | head -n 1)
			fail "$1" "the guest's step $4 did not succeed: ${w:-$why}"
		elif [ "$n" -lt 8 ]; then
			fail "$1" "$n writes at $2 MiB in the trace ($TRACE), expected 8"
		elif [ "$3" = 1 ] && [ "$f" = "$n" ]; then
			pass "$1"
		elif [ "$3" = 0 ] && [ "$f" = 0 ]; then
			pass "$1"
		else
			fail "$1" "$f of the $n writes at $2 MiB carried FUA (fua=1), expected $([ "$3" = 1 ] && echo all || echo none)"
		fi
	}
	expect guest-device "device checks ok"
	expect guest-write-read "pattern A written and read back"
	expect guest-fio-verify "fio verify ok"
	expect guest-discard "discard ok"
	# The write cache (VIRTIO_BLK_F_CONFIG_WCE): what the guest saw, and
	# whether the module wrote with FUA (write-through) or without.
	step_expect guest-wce-default wce default
	step_expect guest-wce-write-through wce write-through
	wce_trace wce-write-through-fua 96 1 write-through
	step_expect guest-wce-write-back wce write-back
	wce_trace wce-write-back-no-fua 100 0 write-back
	step_expect guest-wce-write-through-at-reboot wce write-through-at-reboot
	# Online resize (resize_host): what the guest saw, wrote and read back
	step_expect resize-grow-file resize grow-file
	step_expect resize-grow-bdev resize grow-bdev
	if [ -n "$RSZ_QOM_WHY" ]; then
		fail resize-qom-set-bdev-refused "$RSZ_QOM_WHY"
	elif grep -qE "$V resize wait qom-set" $LOG; then
		pass resize-qom-set-bdev-refused
	else
		fail resize-qom-set-bdev-refused "not reached: $why"
	fi
	step_expect resize-qom-set resize qom-set
	step_expect resize-write-new-space-file resize write-file
	step_expect resize-write-new-space-bdev resize write-bdev
	step_expect resize-after-reboot-file resize after-reboot-file
	step_expect resize-after-reboot-bdev resize after-reboot-bdev
	expect guest-data-after-reboot "pattern A intact after the reboot"
	expect guest-fio-after-reboot "fio data intact after the reboot"
	expect guest-write-after-reboot "phase2 ok"
	step_expect guest-wce-after-reset wce after-reset
	wce_trace wce-after-reset-no-fua 104 0 write-after-reset
	guest_end guest "$rc"

	# From outside: what the guest said it wrote is in the image.
	why=$(image_why $IMG)
	if [ -z "$why" ]; then pass image-from-host; else fail image-from-host "$why"; fi
	# The resized image: its size, and what the guest wrote into the new space
	read -r a < <(sed -nE "s/.*$V resize done md5c=([0-9a-f-]+) .*/\1/p" $LOG)
	got=$(dd if=$IMG bs=1M skip=$((SECTORS / 2048)) count=4 iflag=direct status=none | md5sum | cut -d' ' -f1)
	if [ "$(stat -c %s $IMG)" != $(((SECTORS + 8192) * 512)) ]; then
		fail resize-image-from-host "the image has $(stat -c %s $IMG) bytes, expected $(((SECTORS + 8192) * 512)) after the two grows"
	elif [ "$got" != "${a:-}" ]; then
		fail resize-image-from-host "the guest wrote ${a:-nothing} into the new space, the image has $got"
	else
		pass resize-image-from-host
	fi
}

# The stock QEMU (issue #22): Debian's own qemu-system-x86_64 boots the
# same nested guest (guest-init.sh with vblk_mode=bridge) on two
# vhost-user-blk-pci disks served by vhost-blk-user daemons: a raw image of
# its own on the XFS mount (2 queues) and a read-only one. Runs in a
# subshell with its own $MIG and $LOG: alone (VBLK_NESTED_ONLY=bridge), or
# in the background beside the patched QEMU's guest (the full run).
QSTOCK=/usr/bin/qemu-system-x86_64
VUB=/repo/build/guest/vhost-blk-user
BR_DIR=/tmp/vblk-bridge
BR_IMG=$MNT/bridge.raw
BR_RO=$MNT/bridge-ro.raw
BR_SECTORS=$((SECTORS / 2 + 2048))	# 65 MiB: the marker at 64 MiB inside
BR_SERIAL=vblk-bridge-1
BR_RO_SERIAL=vblk-bridge-ro
BR_T0=
BR_JOB=

# start_daemon NAME BACKEND OPTIONS...: vhost-blk-user on $BR_DIR/NAME.sock;
# its pid in $BR_DIR/NAME.dpid, its stderr in NAME.derr; says why it failed
# in NAME.why (not in a $(...): the daemon would hold its pipe open)
VUB_AS=()	# a command the daemon runs under (libvirt: as the unit runs it)
start_daemon() {
	local n=$1 b=$2
	shift 2
	rm -f $BR_DIR/$n.sock
	"${VUB_AS[@]}" "$VUB" --socket $BR_DIR/$n.sock --backend "$b" "$@" >/dev/null 2>$BR_DIR/$n.derr &
	echo $! >$BR_DIR/$n.dpid
	for _ in $(seq 100); do
		[ -S $BR_DIR/$n.sock ] && return 0
		kill -0 "$(cat $BR_DIR/$n.dpid)" 2>/dev/null || break
		sleep 0.1
	done
	echo "vhost-blk-user $* on $b did not listen: $(oneline 2 <$BR_DIR/$n.derr)" >$BR_DIR/$n.why
	return 1
}
# stop_daemons NAME...: SIGTERM to each daemon start_daemon started; prints
# why one ignored it or left its socket (nothing when all went). Not in a
# $(...): wait must run in the daemons' parent shell.
stop_daemons() {
	local n pid
	for n in "$@"; do
		[ -f $BR_DIR/$n.dpid ] || continue
		pid=$(cat $BR_DIR/$n.dpid)
		kill -TERM "$pid"
		timeout 20 tail --pid="$pid" -f /dev/null ||
			{ kill -9 "$pid"; echo -n " the $n daemon ignored SIGTERM;"; }
		wait "$pid"
		[ ! -e $BR_DIR/$n.sock ] || echo -n " $BR_DIR/$n.sock remained;"
	done
}

# cpu_ticks PID: "DAEMON WORKERS", the utime + stime (clock ticks) of the
# process's own threads and of its vhost worker threads (vhost-PID)
cpu_ticks() {
	local t comm st f main=0 work=0
	for t in /proc/"$1"/task/*; do
		comm=$(cat "$t/comm" 2>/dev/null) && st=$(cat "$t/stat" 2>/dev/null) || continue
		read -r -a f <<<"${st##*) }"	# f[0] is field 3 (state)
		case $comm in
		vhost-*) work=$((work + f[11] + f[12])) ;;
		*) main=$((main + f[11] + f[12])) ;;
		esac
	done
	echo "$main $work"
}

# bridge_qargs RW RO: QARGS, the bridge guest on the daemons RW and RO
bridge_qargs() {
	nested_args "vblk_mode=bridge vblk_serial=$BR_SERIAL vblk_sectors=$BR_SECTORS vblk_queues=2 vblk_ro_serial=$BR_RO_SERIAL vblk_mig_offset=24M" \
		-object memory-backend-memfd,id=mem,size=256M,share=on -machine memory-backend=mem \
		-chardev socket,id=vub0,path=$BR_DIR/$1.sock -device vhost-user-blk-pci,chardev=vub0,num-queues=2 \
		-chardev socket,id=vub1,path=$BR_DIR/$2.sock -device vhost-user-blk-pci,chardev=vub1,num-queues=1
}

# bridge_migrate: while the guest's fio writes and verifies (its migration
# phase, at 24 MiB), from Debian's QEMU S on the daemons rw and ro to a
# second Debian QEMU T on two new daemons on the same files (QEMU sets the
# dirty log up through the daemon: SET_LOG_BASE, VHOST_F_LOG_ALL); then
# the guest stops and checks. Says why it failed in $BR_DIR/mig.why (not
# in a $(...): QEMU's console reader would hold its pipe open).
bridge_migrate() {
	local st io
	if ! wait_for $LOG "VBLK: .*(migrate ready|FAIL)" "$BOOT_LIMIT" S ||
		! grep -qE "VBLK: .*migrate ready" $LOG; then
		echo "the guest did not say 'migrate ready' within ${BOOT_LIMIT}s; last lines: $(grep -v '^$' $LOG | oneline 3)" >$BR_DIR/mig.why
		return
	fi
	if ! start_daemon rw2 $BR_IMG --num-queues 2 --serial $BR_SERIAL; then
		cp $BR_DIR/rw2.why $BR_DIR/mig.why
		return
	elif ! start_daemon ro2 $BR_RO --read-only --serial $BR_RO_SERIAL; then
		cp $BR_DIR/ro2.why $BR_DIR/mig.why
		return
	fi
	bridge_qargs rw2 ro2
	start_qemu T -incoming "unix:$BR_DIR/T.sock"
	for _ in $(seq 60); do [ -S $BR_DIR/T.sock ] && break; sleep 1; done
	wrote_more "0 0" "$BOOT_LIMIT" S ||
		say "bridge: the guest's fio did not start writing (the migration fails below)"
	hmp S "migrate_set_parameter downtime-limit 2000"
	hmp S "migrate -d unix:$BR_DIR/T.sock"
	st=$(mig_wait S)
	if [ "$st" != completed ]; then
		echo "the migration from Debian's QEMU S to T: $st; T said: $(oneline 2 <$BR_DIR/T.err); S said: $(oneline 2 <$BR_DIR/S.err)" >$BR_DIR/mig.why
		kill -9 "$(qpid T)" 2>/dev/null
		return
	fi
	say "bridge: migration S to T: total time $(mig_info S "total time"), downtime $(mig_info S downtime)"
	io=$(mig_io)
	stop_qemu S
	echo T >$BR_DIR/current
	if ! wrote_more "$io" 600 T; then
		echo "the guest wrote no more after the migration: $io, then $(mig_io)" >$BR_DIR/mig.why
		return
	fi
	timeout 10 sh -c "printf 'vblk-stop\n' >$BR_DIR/T.in"
}

bridge_guest() {
	local why='' rc dpid m0 w0 m1='' w1 t0 t1 n cur mwhy m got
	MIG=$BR_DIR LOG=/out/bridge-console.log Q=$QSTOCK GNAME="bridge guest"
	# 2 vCPUs: virtio_blk uses no more queues than the guest has CPUs (the
	# second vCPU idles but for the guest's second queue)
	NESTED_CPUS=2
	rm -rf $BR_DIR && mkdir -p $BR_DIR && : >$LOG
	if ! truncate -s $((BR_SECTORS * 512)) $BR_IMG ||
		! dd if=/dev/urandom of=$BR_RO bs=1M count=4 status=none; then
		why="cannot create $BR_IMG and $BR_RO"
	elif ! start_daemon rw $BR_IMG --num-queues 2 --serial $BR_SERIAL; then
		why=$(cat $BR_DIR/rw.why)
	elif ! start_daemon ro $BR_RO --read-only --serial $BR_RO_SERIAL; then
		why=$(cat $BR_DIR/ro.why)
	fi
	if [ -n "$why" ]; then
		fail bridge-daemons "$why"
		for n in rw ro; do
			[ -f $BR_DIR/$n.dpid ] && kill -9 "$(cat $BR_DIR/$n.dpid)" 2>/dev/null
		done
		for n in device queues read-only fio-verify discard cpu \
			data-after-reboot write-after-reboot migrate migrate-fio-verify \
			migrate-md5-image reboot poweroff kernel-log image-from-host \
			daemons-exit; do
			fail "bridge-$n" "not run: the daemons did not start"
		done
		return
	fi
	pass bridge-daemons
	dpid=$(cat $BR_DIR/rw.dpid)
	bridge_qargs rw ro
	echo S >$BR_DIR/current
	say "bridge: $("$Q" --version | head -n1) on vhost-blk-user (pid $dpid; $BR_IMG, 2 queues) and a read-only disk"
	start_qemu S
	# The daemon's CPU time while the guest's fio writes and verifies
	if wait_for $LOG "VBLK: .*(fio start|FAIL)" "$BOOT_LIMIT" S && grep -qE "VBLK: .*fio start" $LOG; then
		read -r m0 w0 < <(cpu_ticks "$dpid")
		t0=$SECONDS
		wait_for $LOG "VBLK: .*(fio verify ok|FAIL)" "$BOOT_LIMIT" S
		read -r m1 w1 < <(cpu_ticks "$dpid")
		t1=$SECONDS
	fi
	bridge_migrate
	mwhy=$(cat $BR_DIR/mig.why 2>/dev/null)
	cur=$(cat $BR_DIR/current)
	timeout "$BOOT_LIMIT" tail --pid="$(qpid $cur)" -f /dev/null
	if running $cur; then
		kill -9 "$(qpid $cur)"
		wait "$(qpid $cur)"
		rc=124
	else
		wait "$(qpid $cur)"
		rc=$?
	fi
	say "the bridge guest ran $(( $(date +%s) - BR_T0 ))s; Debian's QEMU $cur exited $rc"
	grep -h 'qemu-system-x86_64:' $BR_DIR/[ST].err 2>/dev/null | head -n 5 |
		while IFS= read -r l; do say "bridge: $l"; done
	why=$(guest_why "$rc")
	expect bridge-device "device checks ok"
	step_expect bridge-queues bridge queues
	step_expect bridge-read-only bridge read-only
	expect bridge-fio-verify "fio verify ok"
	expect bridge-discard "discard ok"
	if [ -z "${m1:-}" ]; then
		fail bridge-cpu "the guest's fio did not run: $why"
	else
		say "bridge: cpu during the guest's fio ($((t1 - t0))s): daemon's own thread(s) $m0 -> $m1 ticks, its vhost worker(s) $w0 -> $w1 ticks ($(getconf CLK_TCK) a second)"
		if [ $((m1 - m0)) -gt 5 ]; then
			fail bridge-cpu "the daemon's own threads used $((m1 - m0)) ticks during the guest's fio (worker $((w1 - w0))): it is in the data path"
		elif [ $((w1 - w0)) -lt 2 ] || [ $((w1 - w0)) -le $((m1 - m0)) ]; then
			fail bridge-cpu "the vhost worker used $((w1 - w0)) ticks during the guest's fio, the daemon $((m1 - m0)): is the kernel in the data path?"
		else
			pass bridge-cpu
		fi
	fi
	expect bridge-data-after-reboot "fio data intact after the reboot"
	expect bridge-write-after-reboot "phase2 ok"
	if [ -z "$mwhy" ]; then pass bridge-migrate; else fail bridge-migrate "$mwhy"; fi
	expect bridge-migrate-fio-verify "migrate fio ok"
	m=$(sed -nE "s/.*$V migrate done token=.* md5dev=([0-9a-f]+) .*/\1/p" $LOG)
	got=$(md5sum <$BR_IMG | cut -d' ' -f1)
	if [ -z "$m" ]; then
		fail bridge-migrate-md5-image "the guest reported no checksum after the migration: ${mwhy:-$why}"
	elif [ "$got" != "$m" ]; then
		fail bridge-migrate-md5-image "the guest read $m from its disk after the migration, the host reads $got from $BR_IMG"
	else
		pass bridge-migrate-md5-image
	fi
	guest_end bridge "$rc"
	read -r m1 w1 < <(cpu_ticks "$dpid")
	say "bridge: cpu over the whole boot: daemon's own thread(s) $m1 ticks, its vhost worker(s) $w1 ticks"
	why=$(image_why $BR_IMG)
	if [ -z "$why" ]; then pass bridge-image-from-host; else fail bridge-image-from-host "$why"; fi
	# The daemons stop at SIGTERM, their sockets removed
	stop_daemons rw ro rw2 ro2 >$BR_DIR/stop.why
	why=$(cat $BR_DIR/stop.why)
	if [ -z "$why" ]; then pass bridge-daemons-exit; else fail bridge-daemons-exit "$why"; fi
	mkdir -p /out/qemus
	for n in S T; do cp $BR_DIR/$n.err /out/qemus/bridge-$n.err 2>/dev/null; done
	cp $BR_DIR/*.derr /out/qemus/ 2>/dev/null
}

# libvirt (issue #22): libvirtd, started here by hand (no systemd in the
# test host; trixie's packages have no modular virtqemud), defines and
# starts a domain (TCG, Debian's QEMU, ACPI on) with <disk
# type='vhostuser'> on a vhost-blk-user daemon (2 queues, a 65 MiB raw
# image of its own on the XFS mount), the same kernel, initramfs and tools
# disk, guest-init.sh told vblk_mode=libvirt: the device checks, pattern A,
# fio verify and discard; the image grows by 2 MiB, the daemon restarts
# (QEMU reconnects: <reconnect> in the domain), the image grows by 2 MiB
# more, and the guest must see both sizes and write into the new space;
# then it waits for the ACPI power button. virsh
# shutdown presses it; the domain must reach "shut off". Then the image from
# outside, undefine, the daemons' exit. QEMU runs as Debian's libvirt-qemu
# user, as libvirt-daemon-system has it, and the daemon as its systemd unit
# runs it (group kvm, umask 0007: a root:kvm 0770 socket in a root:kvm 0750
# directory), so the socket's permissions are what lets QEMU in; no
# relabelling (the guest's files are on the read-only /repo), no mount
# namespace (moving /dev/pts failed in it). 16 results "qemu/libvirt-*";
# the console in /out/libvirt-console.log.
LV_DIR=/tmp/vblk-libvirt
LV_RUN=$LV_DIR/run	# the daemon's socket and files, as /run/vhost-blk-user
LV_USER=libvirt-qemu	# Debian's QEMU user (libvirt-daemon-driver-qemu)
LV_IMG=$MNT/libvirt.raw
LV_SECTORS=$((SECTORS / 2 + 2048))	# 65 MiB: the marker at 64 MiB inside
LV_SERIAL=vblk-libvirt-1
LV_DOM=vblk-libvirt
LV_SHUTDOWN_LIMIT=${VBLK_SHUTDOWN_LIMIT:-300}
LV_RAW=$LV_DIR/console.raw	# the console as QEMU writes it (CR LF)
LV_TESTS="libvirt-daemons libvirt-define libvirt-start libvirt-device
	libvirt-queues libvirt-write-read libvirt-fio-verify libvirt-discard
	libvirt-grow libvirt-reconnect libvirt-write-new-space
	libvirt-shutdown libvirt-kernel-log libvirt-image-from-host
	libvirt-undefine libvirt-daemon-exit"
virsh() { timeout "${LV_T:-120}" /usr/bin/virsh -q -c qemu:///system "$@"; }
lv_state() { virsh domstate $LV_DOM 2>/dev/null | head -n 1; }
# lv_sync: $LOG, the guest's console without its CRs
lv_sync() { tr -d '\r' <$LV_RAW >$LOG; }
# lv_why: the guest's FAIL line, or its last lines
lv_why() {
	local why
	why=$(grep -m1 -E "$V FAIL" $LOG | sed -E "s/.*$V FAIL //")
	[ -n "$why" ] ||
		why="not reached; the domain is '$(lv_state)'; the guest's last lines: $(grep -v '^$' $LOG 2>/dev/null | oneline 3)"
	echo "$why"
}
lv_domain_xml() {
	cat <<XML
<domain type='qemu'>
  <name>$LV_DOM</name>
  <memory unit='MiB'>256</memory>
  <vcpu>2</vcpu>
  <memoryBacking>
    <source type='memfd'/>
    <access mode='shared'/>
  </memoryBacking>
  <os>
    <type arch='x86_64' machine='q35'>hvm</type>
    <kernel>$GUEST/bzImage</kernel>
    <initrd>$GUEST/initramfs.cpio</initrd>
    <cmdline>console=ttyS0 loglevel=5 panic=-1 vblk_mode=libvirt vblk_serial=$LV_SERIAL vblk_sectors=$LV_SECTORS vblk_queues=2</cmdline>
  </os>
  <features>
    <acpi/>
  </features>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>$QSTOCK</emulator>
    <disk type='vhostuser' device='disk' snapshot='no'>
      <driver name='qemu' type='raw' queues='2'/>
      <source type='unix' path='$LV_RUN/lv.sock'>
        <reconnect enabled='yes' timeout='1'/>
      </source>
      <target dev='vda' bus='virtio'/>
    </disk>
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw'/>
      <source file='$GUEST/tools.img'/>
      <target dev='vdb' bus='virtio'/>
      <readonly/>
      <serial>vblk-tools</serial>
    </disk>
    <controller type='usb' model='none'/>
    <serial type='file'>
      <source path='$LV_RAW'/>
      <target port='0'/>
    </serial>
    <memballoon model='none'/>
  </devices>
</domain>
XML
}
# lv_daemon: vhost-blk-user on the image, as vhost-blk-user@.service runs
# it (RuntimeDirectoryMode=0750, Group=kvm, UMask=0007: QEMU gets in
# through the group); says why not (not in a $(...))
lv_daemon() {
	install -d -o root -g kvm -m 0750 $LV_RUN
	VUB_AS=(sh -c 'umask 0007 && exec "$@"' sh setpriv --regid=kvm --keep-groups)
	start_daemon lv $LV_IMG --num-queues 2 --serial $LV_SERIAL || cat $LV_RUN/lv.why
	VUB_AS=()
}
# lv_restart: the daemon stopped (SIGTERM: it drains and detaches) and
# started again on the same socket, while QEMU runs; says what went wrong
lv_restart() {
	stop_daemons lv
	lv_daemon
}
# lv_daemons: vhost-blk-user, virtlogd and libvirtd; says why not (not
# in a $(...): the daemons would hold its pipe open)
lv_daemons() {
	local end st
	if ! id -nG $LV_USER 2>/dev/null | grep -qw kvm; then
		echo "no user $LV_USER in group kvm (libvirt-daemon-driver-qemu makes it): $(id $LV_USER 2>&1)"
		return
	elif ! truncate -s $((LV_SECTORS * 512)) $LV_IMG; then
		echo "cannot create $LV_IMG"
		return
	fi
	lv_daemon >$LV_DIR/daemon.why
	if [ -s $LV_DIR/daemon.why ]; then
		cat $LV_DIR/daemon.why
		return
	fi
	st=$(stat -c '%A %U %G' $LV_RUN/lv.sock)
	if [ "$st" != "srwxrwx--- root kvm" ]; then
		echo "the daemon's socket is '$st', not 'srwxrwx--- root kvm' as under its unit"
		return
	fi
	# QEMU writes the console file: libvirt's relabelling would give it
	# to QEMU's user, and is off here
	chown $LV_USER: $LV_RAW
	cat >/etc/libvirt/qemu.conf <<CONF
user = "$LV_USER"
group = "$LV_USER"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
namespaces = [ ]
cgroup_controllers = [ ]
CONF
	mkdir -p /run/libvirt /var/log/libvirt/qemu /var/lib/libvirt/qemu /var/cache/libvirt/qemu
	/usr/sbin/virtlogd >$LV_DIR/virtlogd.log 2>&1 &
	echo $! >$LV_DIR/virtlogd.pid
	# root's virsh needs no polkit (there is no D-Bus here)
	printf 'auth_unix_ro = "none"\nauth_unix_rw = "none"\n' >$LV_DIR/libvirtd.conf
	/usr/sbin/libvirtd -f $LV_DIR/libvirtd.conf >$LV_DIR/libvirtd.log 2>&1 &
	echo $! >$LV_DIR/libvirtd.pid
	end=$((SECONDS + 180))
	while [ $SECONDS -lt $end ]; do
		LV_T=30 virsh uri >/dev/null 2>&1 && return
		kill -0 "$(cat $LV_DIR/libvirtd.pid)" 2>/dev/null ||
			{ echo "libvirtd exited: $(oneline 3 <$LV_DIR/libvirtd.log)"; return; }
		sleep 1
	done
	echo "libvirtd did not answer 'virsh uri' within 180 s: $(oneline 3 <$LV_DIR/libvirtd.log)"
}

libvirt_guest() {
	local why out st t0 i a c got n pid
	# start_daemon, stop_daemons and report use $BR_DIR and $MIG
	BR_DIR=$LV_RUN MIG=$LV_DIR LOG=$LV_DIR/console.log
	rm -rf $LV_DIR && mkdir -p $LV_DIR && : >$LOG && : >$LV_RAW
	t0=$SECONDS
	say "libvirt: $(/usr/sbin/libvirtd --version 2>&1 | head -n 1), $("$QSTOCK" --version | head -n 1), on vhost-blk-user ($LV_IMG, 2 queues)"
	lv_daemons >$LV_DIR/daemons.why
	why=$(cat $LV_DIR/daemons.why)
	report libvirt-daemons "$why"
	# The guest's progress lines, from its console file
	tail -n +1 -F $LV_RAW 2>/dev/null > >(while IFS= read -r line; do
		line=${line%$'\r'}
		case $line in *"VBLK: "*) say "libvirt guest: ${line#*VBLK: }" ;; esac
	done) &
	echo $! >$LV_DIR/tail.pid
	if [ -z "$why" ]; then
		lv_domain_xml >$LV_DIR/domain.xml
		# the first virsh command probes QEMU's capabilities: slow here
		out=$(LV_T=600 virsh define $LV_DIR/domain.xml 2>&1) ||
			why="virsh define: $(printf '%s\n' "$out" | oneline 3)"
		report libvirt-define "$why"
	fi
	if [ -z "$why" ]; then
		out=$(LV_T=600 virsh start $LV_DOM 2>&1) || why="virsh start: $(printf '%s\n' "$out" | oneline 3)"
		[ -n "$why" ] || [ "$(lv_state)" = running ] || why="started, but the domain is '$(lv_state)'"
		# QEMU as the user libvirt runs it as on Debian, not root
		[ -n "$why" ] || {
			pid=$(cat /run/libvirt/qemu/$LV_DOM.pid 2>/dev/null)
			st=$(ps -o user= -p "${pid:-0}" 2>/dev/null)
			[ "$st" = $LV_USER ] || why="QEMU (pid ${pid:-unknown}) runs as '${st:-nobody}', not $LV_USER"
		}
		report libvirt-start "$why"
		[ -z "$why" ] || say "libvirt: QEMU said: $(oneline 3 </var/log/libvirt/qemu/$LV_DOM.log 2>/dev/null)"
	fi
	if [ -z "$why" ]; then
		say "libvirt: the domain runs (QEMU pid $(cat /run/libvirt/qemu/$LV_DOM.pid 2>/dev/null)); waiting for the guest (limit ${BOOT_LIMIT}s)"
		# until the guest waits for the power button, fails, or QEMU
		# ends; the grows and the daemon's restart when it asks
		i=0 n=0
		: >$LV_DIR/restart.why
		until lv_sync; grep -qE "$V (libvirt ok md5a|FAIL)" $LOG; do
			if [ $n = 0 ] && grep -qE "$V libvirt wait grow" $LOG; then
				truncate -s +2M $LV_IMG
				n=1
			elif [ $n = 1 ] && grep -qE "$V libvirt wait restart" $LOG; then
				pid=$(cat $LV_RUN/lv.dpid)
				lv_restart >$LV_DIR/restart.why
				say "libvirt: restarted vhost-blk-user (pid $pid, now $(cat $LV_RUN/lv.dpid 2>/dev/null))"
				truncate -s +2M $LV_IMG
				n=2
			fi
			i=$((i + 2))
			[ $i -le "$BOOT_LIMIT" ] && [ "$(lv_state)" = running ] || break
			sleep 2
		done
		lv_sync
		why=$(lv_why)
		expect libvirt-device "device checks ok"
		step_expect libvirt-queues libvirt queues
		expect libvirt-write-read "pattern A written and read back"
		expect libvirt-fio-verify "fio verify ok"
		expect libvirt-discard "discard ok"
		step_expect libvirt-grow libvirt grow
		if [ -s $LV_DIR/restart.why ]; then
			fail libvirt-reconnect "the daemon's restart: $(oneline 2 <$LV_DIR/restart.why)"
		else
			step_expect libvirt-reconnect libvirt grow-after-restart
		fi
		step_expect libvirt-write-new-space libvirt write-new-space
		printf 'libvirt-%s\n' device queues write-read fio-verify discard grow \
			reconnect write-new-space >>$MIG/reported
		# virsh shutdown: the ACPI power button
		why=
		if ! grep -qE "$V libvirt ok md5a" $LOG; then
			why="the guest did not wait for the power button: $(lv_why)"
		elif ! out=$(virsh shutdown --mode acpi $LV_DOM 2>&1); then
			why="virsh shutdown: $(printf '%s\n' "$out" | oneline 3)"
		else
			say "libvirt: virsh shutdown --mode acpi${out:+: $out}"
			for i in $(seq "$LV_SHUTDOWN_LIMIT"); do
				st=$(lv_state)
				[ "$st" = "shut off" ] && break
				sleep 1
			done
			lv_sync
			if [ "$st" != "shut off" ]; then
				why="the domain is '$st' ${LV_SHUTDOWN_LIMIT}s after virsh shutdown (the guest: $(grep -v '^$' $LOG | oneline 2))"
			elif ! grep -qE "$V power button pressed" $LOG; then
				why="the domain shut off, but the guest did not say it saw the power button"
			else
				say "libvirt: the domain shut off $i s after virsh shutdown"
			fi
		fi
		report libvirt-shutdown "$why"
		if [ "$(lv_state)" != "shut off" ]; then
			say "libvirt: destroying the domain ('$(lv_state)')"
			virsh destroy $LV_DOM >/dev/null 2>&1
		fi
		lv_sync
		if grep -qE "$V init started" $LOG; then
			guest_kernel_log libvirt-kernel-log
		else
			fail libvirt-kernel-log "the guest's console has no output from /init: $(lv_why)"
		fi
		echo libvirt-kernel-log >>$MIG/reported
		# From outside: pattern A, the marker, the discarded MiB
		a=$(sed -nE "s/.*$V libvirt ok md5a=([0-9a-f]+).*/\1/p" $LOG | head -n 1)
		why=
		if [ -z "$a" ]; then
			why="the guest reported no checksum: $(lv_why)"
		elif got=$(dd if=$LV_IMG bs=1M count=4 iflag=direct status=none | md5sum | cut -d' ' -f1) &&
			[ "$got" != "$a" ]; then
			why="pattern A: the guest wrote $a, $LV_IMG has $got"
		elif got=$(dd if=$LV_IMG bs=512 skip=131072 count=1 status=none | tr -d '\000' | head -n 1) &&
			[ "$got" != "VBLK-LIBVIRT $a" ]; then
			why="the marker reads '$got'"
		elif ! cmp -s -n 1048576 -i $((48 << 20)):0 $LV_IMG /dev/zero; then
			why="the discarded MiB at 48 MiB is not zeroes"
		elif [ "$(stat -c %s $LV_IMG)" != $((LV_SECTORS * 512 + (4 << 20))) ]; then
			why="$LV_IMG has $(stat -c %s $LV_IMG) bytes, expected $((LV_SECTORS * 512 + (4 << 20))) after the two grows"
		elif c=$(sed -nE "s/.*$V libvirt new space md5c=([0-9a-f]+) .*/\1/p" $LOG | head -n 1) &&
			got=$(dd if=$LV_IMG bs=1M skip=$((LV_SECTORS / 2048)) count=4 iflag=direct status=none | md5sum | cut -d' ' -f1) &&
			[ "$got" != "$c" ]; then
			why="the new space: the guest wrote ${c:-nothing}, $LV_IMG has $got"
		fi
		report libvirt-image-from-host "$why"
	fi
	if grep -qx libvirt-define $MIG/reported 2>/dev/null && [ -s $LV_DIR/domain.xml ] &&
		virsh dominfo $LV_DOM >/dev/null 2>&1; then
		[ "$(lv_state)" = "shut off" ] || virsh destroy $LV_DOM >/dev/null 2>&1
		why=
		out=$(virsh undefine $LV_DOM 2>&1) || why="virsh undefine: $(printf '%s\n' "$out" | oneline 2)"
		[ -n "$why" ] || ! virsh dominfo $LV_DOM >/dev/null 2>&1 || why="the domain is still defined after virsh undefine"
		report libvirt-undefine "$why"
	fi
	# vhost-blk-user stops at SIGTERM, its socket removed
	if [ -f $LV_RUN/lv.dpid ]; then
		stop_daemons lv >$LV_DIR/stop.why
		report libvirt-daemon-exit "$(cat $LV_DIR/stop.why)"
	fi
	lv_sync
	missing "$LV_TESTS" "not reached: $(lv_why)"
	# libvirtd and virtlogd end here too
	for n in libvirtd virtlogd; do
		[ -f $LV_DIR/$n.pid ] || continue
		pid=$(cat $LV_DIR/$n.pid)
		kill -TERM "$pid" 2>/dev/null
		timeout 20 tail --pid="$pid" -f /dev/null || { say "libvirt: $n ignored SIGTERM"; kill -9 "$pid"; }
		wait "$pid" 2>/dev/null
	done
	kill "$(cat $LV_DIR/tail.pid)" 2>/dev/null
	say "libvirt: the libvirt part took $((SECONDS - t0)) s"
	mkdir -p /out/qemus
	cp $LOG /out/libvirt-console.log
	cp $LV_DIR/domain.xml /out/qemus/libvirt-domain.xml 2>/dev/null
	cp $LV_DIR/*.log $LV_RUN/*.derr /out/qemus/ 2>/dev/null
	cp /var/log/libvirt/qemu/$LV_DOM.log /out/qemus/libvirt-qemu.log 2>/dev/null
	rm -f $LV_IMG
}

say "QEMU $("$Q" --version 2>/dev/null | head -n1 | sed 's/.*version //'); $(cat /repo/build/qemu/VERSION 2>/dev/null)"
# device_cases 19, guest_results 28, migration 9, no-leaks 1, the stock
# QEMU's guest 17, the libvirt domain 16 (check.sh counts them)
if [ "$ONLY" = migrate ]; then
	echo "# expect 10 qemu"
elif [ "$ONLY" = bridge ]; then
	echo "# expect 18 qemu"
elif [ "$ONLY" = libvirt ]; then
	echo "# expect 17 qemu"
elif [ $demo = 0 ]; then
	echo "# expect $((57 + 17 * BRIDGE + 16 * LIBVIRT)) qemu"
fi
setup || exit 1
if [ $demo = 1 ] || [ -n "$ONLY" ]; then
	load_module || exit 1
else
	device_cases || exit 1
fi
if [ "$ONLY" = bridge ]; then
	BR_T0=$(date +%s)
	( bridge_guest )
elif [ "$ONLY" != libvirt ]; then
	boot_guest
fi
if [ -n "$BR_JOB" ]; then
	t=$(date +%s)
	wait "$BR_JOB"
	say "the stock QEMU's guest added $(( $(date +%s) - t ))s after the patched one's end (it started ${BR_T0:+$(( t - BR_T0 ))s before that})"
fi
# The libvirt domain: alone, or after the other guests
if [ "$ONLY" = libvirt ] || { [ -z "$ONLY" ] && [ $demo = 0 ] && [ "$LIBVIRT" = 1 ]; }; then
	( libvirt_guest )
fi
if out=$(no_leaks); then pass no-leaks; else fail no-leaks "$out"; fi
umount $MNT
dmsetup remove $MIG_DM
rmmod vhost_blk || fail module-unload "rmmod vhost_blk failed"
say "done in $SECONDS s"
exit 0
