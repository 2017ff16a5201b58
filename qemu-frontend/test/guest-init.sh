#!/bin/busybox sh
# /init of the nested guest (tests/vm/nested-vm.sh): its disk with serial
# vblk_serial= is a vhost-blk-pci device, the one with serial vblk-tools holds
# fio (mkguest.sh). Reports on the serial console, lines "VBLK: ...".
#   first boot:  check what the device reports, write pattern A and read it
#                back, fio verify, discard; the write cache: switch it to
#                write-through and write, back to write-back and write,
#                leave it write-through; with the second vhost-blk disk,
#                online resize (resize_phase: the test host grows both, the
#                guest sees the new sizes and writes into the new space);
#                leave a marker; reboot
#   second boot: (the reset and restart of the device) the new space, pattern
#                A and the fio data are still there; write and read pattern B; the write
#                cache is write-back again, write; power off, or with
#                vblk_mig_serial= go on with the migration phase:
#   migration:   a token in tmpfs; fio writes with verify on both vhost-blk
#                disks while the test host migrates the guest between QEMU
#                processes; on "vblk-stop" from the console: fio stops (it
#                must not have stopped before, nor found a bad block), md5
#                of both whole disks, the token and uptime; power off
# The marker (sector 131072, 64 MiB) says which boot this is. The test host
# checks the image from outside afterwards, and with the module's tracepoints
# that the writes of each write cache mode (8 x 4 KiB at 96, 100 and 104 MiB)
# carried FUA or not. The write cache steps report "wce ok: STEP" or
# "wce fail: STEP: why" and do not stop the test. Parameters from the kernel
# command line: vblk_serial=, vblk_sectors=, vblk_mig_serial= (the second
# vhost-blk disk of the migration phase), vblk_phase=migrate (the migration
# phase alone, at once), vblk_mode=bridge: the disk is Debian's own QEMU's
# vhost-user-blk-pci on vhost-blk-user (the same checks but the write
# cache and resize ones; the disk must have vblk_queues= queues, the one
# with serial vblk_ro_serial= must refuse writes, and with vblk_mig_offset=
# the migration phase writes to the disk under test alone), vblk_mig_offset=
# (where the migration phase writes on the disk under test);
# vblk_mode=libvirt: the disk is a libvirt domain's <disk type='vhostuser'>
# on vhost-blk-user (Debian's QEMU, ACPI on): the device checks (and
# vblk_queues=), pattern A, fio verify and discard of boot 1, two online
# grows with a daemon restart between them (libvirt_resize), then no
# reboot: the guest waits for the ACPI power button (virsh shutdown) and
# powers off (libvirt_end).
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp

MARK=131072			# 512-byte sector of the marker
MIB=1048576

say() { echo "VBLK: [$(cut -d' ' -f1 /proc/uptime)] $*"; }
# isa-debug-exit (port 0xf4) is the guest's power switch: QEMU exits with
# status 2 * VALUE + 1, 33 for 0x10, 35 for 0x11, and the test host knows
# success from failure. The libvirt domain has no isa-debug-exit: poweroff
# -f (ACPI).
power_off() {
	[ "$MODE" = libvirt ] && poweroff -f
	printf "\\$1" | dd of=/dev/port bs=1 seek=244 count=1 conv=notrunc status=none
	sleep 10
	poweroff -f
}
fail() {
	say "FAIL $*"
	power_off 021
}
arg() { tr ' ' '\n' </proc/cmdline | sed -n "s/^$1=//p"; }

# md5 of LEN MiB of $DEV at OFF MiB, read around the page cache
md5_at() {
	dd if=$DEV bs=$MIB skip="$1" count="$2" iflag=direct status=none |
		md5sum | cut -d' ' -f1
}

# put_pattern NAME OFF LEN: random data at OFF MiB, read back; prints md5
put_pattern() {
	dd if=/dev/urandom of=/tmp/$1 bs=$MIB count="$3" status=none || return 1
	dd if=/tmp/$1 of=$DEV bs=$MIB seek="$2" oflag=direct conv=fsync \
		status=none || return 1
	want=$(md5sum </tmp/$1 | cut -d' ' -f1)
	got=$(md5_at "$2" "$3")
	rm -f /tmp/$1
	[ "$want" = "$got" ] || { echo "wrote $want, read back $got"; return 1; }
	echo "$want"
}

set_marker() {
	printf '%s\n' "$1" | dd of=$DEV bs=512 seek=$MARK conv=sync,fsync \
		oflag=direct status=none || fail "cannot write the marker"
}

# The write cache mode (VIRTIO_BLK_F_CONFIG_WCE): virtio_blk's cache_type,
# which the guest writes to the device's config space, and the block
# layer's view of it.
cache_mode() {
	echo "$(cat $1/cache_type) / $(cat $1/queue/write_cache)"
}
# wce_set SYSBLOCK MODE: switch and read back; prints why on failure
wce_set() {
	{ echo "$2" >$1/cache_type; } 2>/tmp/wce.err ||
		{ echo "writing '$2' to cache_type: $(cat /tmp/wce.err)"; return 1; }
	got=$(cache_mode $1)
	[ "$got" = "$2 / $2" ] || { echo "wrote '$2', reads '$got'"; return 1; }
}
# wce_writes OFF: 8 direct 4 KiB writes at OFF MiB, for the host's trace
wce_writes() {
	dd if=/dev/zero of=$DEV bs=4096 seek=$(($1 * 256)) count=8 \
		oflag=direct status=none 2>&1
}
# step_say KIND STEP WHY, right after a command: "KIND ok: STEP" if it
# succeeded, else "KIND fail: STEP: WHY" (the write cache and resize steps,
# which report and go on)
step_say() {
	if [ $? = 0 ]; then say "$1 ok: $2"; else say "$1 fail: $2: $3"; fi
}

# The fio job; the second boot runs it again with --verify_only. fio runs
# from the tools disk (static: mkfio.sh).
T=/tools
fio() {
	$T/bin/fio "$@"
}
FIO="--name=vblk --offset=16M --size=4M --rw=randwrite
	--bsrange=4k-64k --ioengine=io_uring --iodepth=8 --direct=1
	--verify=crc32c --verify_fatal=1 --randrepeat=1"
fio_job() {
	# shellcheck disable=SC2086
	out=$(fio $FIO --filename="$DEV" "$@" 2>&1) || { echo "$out" | tail -n 5; return 1; }
	# the run status lines: "WRITE: bw=1234KiB/s (...), ..., io=8192KiB (8389kB), run=..."
	echo "$out" | sed -nE 's/^ *(READ|WRITE): bw=([^ ]+) .* io=([^ ]+) .*/\1 \3 at \2;/p' | tr '\n' ' '
}

# Online resize: the test host grows the disk under test (truncate) and the
# second vhost-blk disk (a longer dm table) while the guest runs, then the
# disk under test again through QEMU (qom-set size); the guest must see each
# new size without a reboot (a config change interrupt), and writes into
# the new space. Steps report "resize ok: STEP" or "resize fail: STEP: why".
# wait_size SYSBLOCK SECTORS: until the disk has that many sectors (90 s)
wait_size() {
	i=0
	while [ "$(cat $1/size)" != "$2" ]; do
		i=$((i + 1))
		[ $i -le 900 ] || { echo "$(cat $1/size) sectors after 90 s, expected $2"; return 1; }
		sleep 0.1
	done
}
resize_phase() {
	rb=/sys/block/${DEV#/dev/}
	mb=/sys/block/${MIGDEV#/dev/}
	s0=$(cat $rb/size)
	m0=$(cat $mb/size)
	say "resize wait sectors=$s0 bdev=$m0"
	why=$(wait_size $rb $((s0 + 4096)))
	step_say resize grow-file "$why"
	why=$(wait_size $mb $((m0 + 4096)))
	step_say resize grow-bdev "$why"
	say "resize wait qom-set"
	why=$(wait_size $rb $((s0 + 8192)))
	step_say resize qom-set "$why"
	# The new space: 4 MiB at the old end of each (both grew by 2 MiB,
	# the disk under test by 2 MiB more)
	rc=$(put_pattern c $((s0 / 2048)) 4)
	step_say resize write-file "$rc"
	[ ${#rc} = 32 ] || rc=-
	rd=$(DEV=$MIGDEV; put_pattern d $((m0 / 2048)) 2)
	step_say resize write-bdev "$rd"
	[ ${#rd} = 32 ] || rd=-
	say "resize done md5c=$rc md5d=$rd at $s0 $m0"
}

# The libvirt domain's disk: the test host grows the image by 2 MiB
# (truncate), restarts vhost-blk-user, which QEMU connects to again (the
# domain's <reconnect>), and grows it by 2 MiB more; the guest must see both
# sizes (config interrupts through stock QEMU, the second sent by the new
# daemon) and writes 4 MiB into the new space through the new daemon.
# Steps report "libvirt ok: STEP" or "libvirt fail: STEP: why".
libvirt_resize() {
	rb=/sys/block/${DEV#/dev/}
	s0=$(cat $rb/size)
	say "libvirt wait grow sectors=$s0"
	why=$(wait_size $rb $((s0 + 4096)))
	step_say libvirt grow "$why"
	say "libvirt wait restart"
	why=$(wait_size $rb $((s0 + 8192)))
	step_say libvirt grow-after-restart "$why"
	rc=$(put_pattern c $((s0 / 2048)) 4)
	step_say libvirt write-new-space "$rc"
	say "libvirt new space md5c=$rc at $s0"
}

phase1() {
	b=/sys/block/${DEV#/dev/}
	sectors=$(cat $b/size)
	ro=$(cat $b/ro)
	cache=$(cat $b/queue/write_cache)
	lbs=$(cat $b/queue/logical_block_size)
	discard=$(cat $b/queue/discard_max_bytes)
	say "boot 1: $DEV serial '$(cat $b/serial)', $sectors sectors, ro $ro, $cache, block size $lbs, discard up to $discard bytes"
	[ "$sectors" = "$(arg vblk_sectors)" ] || fail "$sectors sectors, expected $(arg vblk_sectors)"
	[ "$ro" = 0 ] || fail "the disk is read-only"
	[ "$cache" = "write back" ] || fail "no flush (VIRTIO_BLK_F_FLUSH): '$cache'"
	say "device checks ok"
	if [ -n "$(arg vblk_queues)" ]; then
		n=$(ls $b/mq | wc -l)
		[ "$n" = "$(arg vblk_queues)" ]
		step_say "$MODE" queues "$n queues in $b/mq, expected $(arg vblk_queues)"
	fi
	[ -z "$RODEV" ] || { why=$(readonly_refuses $RODEV); step_say bridge read-only "$why"; }

	a=$(put_pattern a 0 4) || fail "pattern A: $a"
	say "pattern A written and read back: md5 $a"

	say "fio start"
	res=$(fio_job) || fail "fio verify: $res"
	say "fio verify ok: $res"

	if [ "$discard" -gt 0 ]; then
		dd if=/dev/zero bs=$MIB count=1 status=none | tr '\0' '\377' >/tmp/ff
		dd if=/tmp/ff of=$DEV bs=$MIB seek=48 oflag=direct conv=fsync status=none &&
			blkdiscard -o $((48 * MIB)) -l $MIB $DEV ||
			fail "discard failed"
		zero=$(dd if=/dev/zero bs=$MIB count=1 status=none | md5sum | cut -d' ' -f1)
		[ "$(md5_at 48 1)" = "$zero" ] || fail "a discarded MiB does not read as zeroes"
		say "discard ok"
	fi

	if [ "$MODE" = libvirt ]; then
		libvirt_resize
		libvirt_end "$a"
	fi
	[ "$MODE" = bridge ] || wce_phase1 $b
	if [ -n "$MIGDEV" ]; then
		resize_phase
	else
		rc=- rd=-
	fi

	set_marker "VBLK-PHASE1 $a $rc $rd"
	say "phase1 ok md5a=$a; rebooting"
	reboot -f
	sleep 60
	fail "reboot -f returned"
}

# vblk_mode=libvirt: the end of boot 1 for the libvirt domain (ACPI on):
# leave the marker, then wait for the power button that "virsh shutdown"
# presses (the ACPI button's evdev, /dev/input/eventN of the input device
# named "Power Button") and power off on any event from it. No button within
# 30 minutes: FAIL.
libvirt_end() {
	set_marker "VBLK-LIBVIRT $1"
	evs=
	for e in /sys/class/input/event*; do
		[ "$(cat $e/device/name 2>/dev/null)" = "Power Button" ] && evs="$evs /dev/input/${e##*/}"
	done
	[ -n "$evs" ] || fail "no input device named 'Power Button' (ACPI button, evdev): $(cat /sys/class/input/*/name 2>/dev/null | tr '\n' ',')"
	rm -f /tmp/pressed
	for e in $evs; do
		[ -c $e ] || fail "no device node $e"
		# one event (struct input_event: 24 bytes on x86_64)
		( dd if=$e bs=24 count=1 status=none >/dev/null 2>&1 && echo $e >/tmp/pressed ) &
	done
	say "libvirt ok md5a=$1; waiting for the power button ($evs )"
	i=0
	while [ ! -s /tmp/pressed ]; do
		i=$((i + 1))
		[ $i -le 1800 ] || fail "no event from the power button ($evs ) within 30 minutes"
		sleep 1
	done
	say "power button pressed ($(cat /tmp/pressed)); powering off"
	poweroff -f
	sleep 60
	fail "poweroff -f returned"
}

# readonly_refuses DEV: a read-only disk (ro flag set) whose writes fail
readonly_refuses() {
	[ "$(cat /sys/block/${1#/dev/}/ro)" = 1 ] ||
		{ echo "$1 has ro $(cat /sys/block/${1#/dev/}/ro), expected 1"; return 1; }
	! dd if=/dev/zero of=$1 bs=4096 count=1 oflag=direct status=none 2>/dev/null ||
		{ echo "a write to $1 succeeded"; return 1; }
}

# The write cache steps of boot 1 on SYSBLOCK
wce_phase1() {
	b=$1
	mode=$(cache_mode $b)
	[ "$mode" = "write back / write back" ]
	step_say wce default "'$mode', not 'write back / write back'"
	why=$(wce_set $b "write through" && wce_writes 96)
	step_say wce write-through "$why"
	why=$(wce_set $b "write back" && wce_writes 100)
	step_say wce write-back "$why"
	why=$(wce_set $b "write through")
	step_say wce write-through-at-reboot "$why"
}

# The migration phase (vblk_mig_serial=): one fio with a job on each disk,
# random writes over 1 MiB again and again, each block read back and
# checked soon after it is written (verify_backlog), until "vblk-stop".
# One fio for all of it: starting fio takes a minute here (TCG in TCG).
MIGFIO="--rw=randwrite --size=1M --bsrange=4k-64k --ioengine=io_uring
	--iodepth=8 --direct=1 --verify=crc32c --verify_fatal=1
	--verify_backlog=16 --time_based --runtime=3600"
# sectors written to a disk so far
written() { awk '{ print $7 }' /sys/block/${1#/dev/}/stat; }

# migrate_phase [MIGDEV]: without MIGDEV (vblk_mode=bridge) fio writes to
# the disk under test only, and "mig io" and "md5bdev" repeat its figures
migrate_phase() {
	mdev=${1:-$DEV}
	jobs="--name=dev --filename=$DEV --offset=$(arg vblk_mig_offset)"
	[ -z "$1" ] || jobs="$jobs --name=bdev --filename=$mdev --offset=0"
	tok=$(head -c 16 /dev/urandom | md5sum | cut -d' ' -f1)
	echo "$tok" >/tmp/token
	# fio itself in the background, not a shell running it: it gets the
	# SIGINT that stops it
	# shellcheck disable=SC2086
	$T/bin/fio $MIGFIO $jobs >/tmp/mig.fio 2>&1 &
	pf=$!
	# The writes go on: the sectors each disk has written, now and then
	( while sleep 10; do say "mig io $(written $DEV) $(written $mdev)"; done ) &
	pm=$!
	say "migrate ready token=$tok"
	# The test host writes "vblk-stop" to the console after the last
	# migration (the tty echoes it).
	while read -r line </dev/ttyS0; do
		case $line in *vblk-stop*) break ;; esac
	done
	kill $pm
	kill -0 $pf 2>/dev/null ||
		fail "migration: fio ended before the migrations did: $(grep -iE 'verify|err|bad' /tmp/mig.fio | head -n 3 | tr '\n' ' ')"
	kill -INT $pf
	wait $pf
	if grep -qiE 'verify:|bad magic|crc32c|err= *[1-9]' /tmp/mig.fio ||
		! grep -qE '^ *WRITE: bw=' /tmp/mig.fio; then
		fail "migration: fio: $(grep -iE 'verify|err=|bad|WRITE' /tmp/mig.fio | head -n 4 | tr '\n' ' ')"
	fi
	say "migrate fio ok: $(sed -nE 's/^ *(READ|WRITE): bw=([^ ]+) .* io=([^ ]+) .*/\1 \3 at \2;/p' /tmp/mig.fio | tr '\n' ' ')"
	m1=$(dd if=$DEV bs=$MIB iflag=direct status=none | md5sum | cut -d' ' -f1)
	m2=$(dd if=$mdev bs=$MIB iflag=direct status=none | md5sum | cut -d' ' -f1)
	say "migrate done token=$(cat /tmp/token) uptime=$(cut -d' ' -f1 /proc/uptime) md5dev=$m1 md5bdev=$m2"
	power_off 020
}

phase2() {
	set_marker "VBLK-PHASE2-STARTED $1"
	# What boot 1 wrote into the new space of the resized disks
	if [ "$2" != - ] && [ -n "$MIGDEV" ]; then
		got=$(md5_at $(($(cat /sys/block/${DEV#/dev/}/size) / 2048 - 4)) 4)
		[ "$got" = "$2" ]
		step_say resize after-reboot-file "the new space reads $got after the reboot, was $2"
	fi
	if [ "$3" != - ] && [ -n "$MIGDEV" ]; then
		got=$(DEV=$MIGDEV; md5_at $(($(cat /sys/block/${MIGDEV#/dev/}/size) / 2048 - 2)) 2)
		[ "$got" = "$3" ]
		step_say resize after-reboot-bdev "the new space reads $got after the reboot, was $3"
	fi
	say "boot 2: the device restarted after the reset"
	[ "$(md5_at 0 4)" = "$1" ] || fail "pattern A changed across the reboot"
	say "pattern A intact after the reboot"

	res=$(fio_job --verify_only) || fail "fio verify after the reboot: $res"
	say "fio data intact after the reboot: $res"

	b=$(put_pattern b 8 2) || fail "pattern B: $b"
	say "pattern B written and read back: md5 $b"

	if [ "$MODE" != bridge ]; then
		sb=/sys/block/${DEV#/dev/}
		mode=$(cache_mode $sb)
		[ "$mode" = "write back / write back" ]
		step_say wce after-reset "'$mode' after the reset, not 'write back / write back'"
		why=$(wce_writes 104)
		step_say wce write-after-reset "$why"
	fi

	set_marker "VBLK-PHASE2 $1 $b"
	say "phase2 ok md5a=$1 md5b=$b"
	[ -n "$MIGDEV" ] && migrate_phase $MIGDEV
	[ "$MODE" = bridge ] && [ -n "$(arg vblk_mig_offset)" ] && migrate_phase
	power_off 020
}

say "init started"
# The disks, by serial: the one under test (vhost-blk), the tools, and the
# second vhost-blk disk of the migration phase if there is one.
DEV= TOOLS= MIGDEV= RODEV=
MODE=$(arg vblk_mode)
mig=$(arg vblk_mig_serial)
ros=$(arg vblk_ro_serial)
i=0
while [ -z "$DEV" ] || [ -z "$TOOLS" ] || { [ -n "$mig" ] && [ -z "$MIGDEV" ]; } ||
	{ [ -n "$ros" ] && [ -z "$RODEV" ]; }; do
	for b in /sys/block/vd*; do
		[ -e "$b/serial" ] || continue
		case $(cat "$b/serial") in
		"$(arg vblk_serial)") DEV=/dev/${b##*/} ;;
		vblk-tools) TOOLS=/dev/${b##*/} ;;
		"${mig:-/}") MIGDEV=/dev/${b##*/} ;;
		"${ros:-/}") RODEV=/dev/${b##*/} ;;
		esac
	done
	i=$((i + 1))
	[ $i -le 100 ] || fail "no disk with serial '$(arg vblk_serial)' (vhost-blk), 'vblk-tools'${mig:+ and '$mig'}${ros:+ and '$ros'} after 10 s"
	[ -n "$DEV" ] && [ -n "$TOOLS" ] && { [ -z "$mig" ] || [ -n "$MIGDEV" ]; } &&
		{ [ -z "$ros" ] || [ -n "$RODEV" ]; } || sleep 0.1
done
[ -b "$DEV" ] && [ -b "$TOOLS" ] || fail "no device node for $DEV or $TOOLS"
mount -t ext4 -o ro "$TOOLS" $T || fail "cannot mount the tools disk $TOOLS"

marker=$(dd if=$DEV bs=512 skip=$MARK count=1 iflag=direct status=none | tr -d '\000' | head -n 1)
case $(arg vblk_phase)$marker in
migrate*) migrate_phase "$MIGDEV" ;;
"") phase1 ;;
"VBLK-PHASE1 "*) phase2 ${marker#VBLK-PHASE1 } ;;
*) fail "unexpected marker '$marker': booted a third time?" ;;
esac
