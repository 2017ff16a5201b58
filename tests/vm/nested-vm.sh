#!/bin/bash
# The QEMU frontend test, inside the test host VM (nested.sh boots it with
# run.sh). First the vhost-blk-pci device's error cases and fd passing, then
# the QEMU we built (TCG inside the TCG test host) boots the test host's own
# kernel with the initramfs and tools disk of qemu-frontend/test/mkguest.sh,
# its disk under test served by vhost-blk from a raw image on XFS. The guest writes and verifies data, runs
# fio verify, switches its write cache (write-through, write-back), reboots
# once (the device's reset and restart), verifies again and reports on its
# serial console; then this script checks the image from outside, and in
# the module's tracepoints that the writes of each cache mode carried FUA
# or not. Prints "PASS qemu/NAME" or "FAIL qemu/NAME: why"; progress lines
# start with "vbt: ". The guest's console is kept in /out/guest-console.log.
#   nested-vm.sh [--demo]   --demo: only the boot, showing the guest's console
set -u
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
Q=/repo/build/qemu/qemu-system-x86_64
GUEST=/repo/build/qemu/guest
MNT=/mnt/qxfs
IMG=$MNT/disk.raw
SECTORS=524288			# 256 MiB
SERIAL=vblk-nested-1
# A guard against a hung guest, not the goal: both boots take a few minutes
# on an idle machine, three times that when other work shares its cores.
BOOT_LIMIT=${VBLK_BOOT_LIMIT:-900}
LOG=/out/guest-console.log
# The nested guest boots faster without ACPI, mitigations, LSMs and some
# slow initcalls it does not need (its power switch is isa-debug-exit).
FAST="acpi=off mitigations=off audit=0 apparmor=0 security=none nokaslr
initcall_blacklist=load_system_certificate_list,jent_mod_init,inet6_init,init_encrypted,bpf_dummy_struct_ops_init,bpf_tcp_ca_kfunc_init,crypto_kdf108_init,cec_init"
FAST=${FAST//$'\n'/ }
demo=0
[ "${1:-}" = --demo ] && demo=1
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
	for p in path vhostfd backendfd readonly serial num-queues queue-size engine poll-us config-wce; do
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
	starts migration-blocked 'migrate "exec:cat >/dev/null"' \
		"vhost-blk does not support migration yet" -device vhost-blk-pci,path=$IMG
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

# The nested guest: two boots, on the guest's own timetable (guest-init.sh).
boot_guest() {
	local rc t
	trace_start
	say "booting the nested guest ($(uname -r), 1 vCPU, TCG inside TCG; limit ${BOOT_LIMIT}s)"
	t=$(date +%s)
	timeout --kill-after=10 "$BOOT_LIMIT" "$Q" "${BASE[@]}" -smp 1 -m 256 \
		-bios qboot.rom -serial stdio -monitor none \
		-device isa-debug-exit,iobase=0xf4,iosize=4 \
		-kernel "/boot/vmlinuz-$(uname -r)" -initrd $GUEST/initramfs.cpio \
		-append "console=ttyS0 loglevel=5 panic=-1 $FAST vblk_serial=$SERIAL vblk_sectors=$SECTORS" \
		-device vhost-blk-pci,path=$IMG,serial=$SERIAL,num-queues=2 \
		-drive if=none,id=tools,file=$GUEST/tools.img,format=raw,readonly=on \
		-device virtio-blk-pci,drive=tools,serial=vblk-tools \
		</dev/null 2>&1 | tee $LOG |
		while IFS= read -r line; do
			line=${line%$'\r'}
			if [ $demo = 1 ]; then
				echo "guest| $line"
			else
				case $line in
				*"VBLK: "*) say "guest: ${line#*VBLK: }" ;;
				*qemu-system-x86_64:*) say "$line" ;;
				esac
			fi
		done
	rc=${PIPESTATUS[0]}
	tr -d '\r' <$LOG >$LOG.tmp && mv $LOG.tmp $LOG
	say "the nested guest ran $(( $(date +%s) - t ))s; QEMU exited $rc"
	trace_stop
	guest_results "$rc"
}

guest_results() {
	local rc=$1 why boots a b got V='VBLK: \[[0-9.]+\]'
	why=$(grep -m1 -E "$V FAIL" $LOG | sed -E "s/.*$V FAIL //")
	if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
		why="${why:-no result within ${BOOT_LIMIT}s; last lines: $(grep -v '^$' $LOG | oneline 3)}"
	fi
	[ -n "$why" ] || why="not reached; QEMU exited $rc; last lines: $(grep -v '^$' $LOG | oneline 3)"
	expect() {
		if grep -qE "$V $2" $LOG; then pass "$1"; else fail "$1" "$why"; fi
	}
	# wce_expect NAME STEP: the guest's "wce ok: STEP" or "wce fail: STEP: why"
	wce_expect() {
		local w
		if grep -qE "$V wce ok: $2\$" $LOG; then
			pass "$1"
		else
			w=$(sed -nE "s/.*$V wce fail: $2: //p" $LOG | head -n 1)
			fail "$1" "${w:-$why}"
		fi
	}
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
	wce_expect guest-wce-default default
	wce_expect guest-wce-write-through write-through
	wce_trace wce-write-through-fua 96 1 write-through
	wce_expect guest-wce-write-back write-back
	wce_trace wce-write-back-no-fua 100 0 write-back
	wce_expect guest-wce-write-through-at-reboot write-through-at-reboot
	boots=$(grep -cE "$V init started" $LOG)
	if [ "$boots" = 2 ] && grep -qE "$V phase1 ok" $LOG; then
		pass guest-reboot
	else
		fail guest-reboot "the guest booted $boots times; expected 2 (${why})"
	fi
	expect guest-data-after-reboot "pattern A intact after the reboot"
	expect guest-fio-after-reboot "fio data intact after the reboot"
	expect guest-write-after-reboot "phase2 ok"
	wce_expect guest-wce-after-reset after-reset
	wce_trace wce-after-reset-no-fua 104 0 write-after-reset
	# 33: the guest's power switch (isa-debug-exit) with 0x10, its success
	if [ "$rc" = 33 ]; then
		pass guest-poweroff
	else
		fail guest-poweroff "QEMU exited $rc, not 33 (the guest's power switch after success)"
	fi
	if grep -qE 'BUG:|WARNING:|Oops|general protection|Call Trace|Kernel panic|blocked for more than' $LOG; then
		fail guest-kernel-log "the guest's kernel reported a problem (see guest-console.log in the VM's output directory)"
	else
		pass guest-kernel-log
	fi

	# From outside: what the guest said it wrote is in the image.
	read -r a b < <(sed -nE "s/.*$V phase2 ok md5a=([0-9a-f]+) md5b=([0-9a-f]+).*/\1 \2/p" $LOG)
	got=$(dd if=$IMG bs=1M count=4 iflag=direct status=none | md5sum | cut -d' ' -f1)
	why=
	[ -n "${a:-}" ] || why="the guest reported no checksums"
	[ -z "$why" ] && [ "$got" != "$a" ] && why="pattern A: the guest wrote $a, the image has $got"
	got=$(dd if=$IMG bs=1M skip=8 count=2 iflag=direct status=none | md5sum | cut -d' ' -f1)
	[ -z "$why" ] && [ "$got" != "$b" ] && why="pattern B: the guest wrote $b, the image has $got"
	got=$(dd if=$IMG bs=512 skip=131072 count=1 status=none | tr -d '\000' | head -n 1)
	[ -z "$why" ] && [ "$got" != "VBLK-PHASE2 $a $b" ] && why="the marker reads '$got'"
	[ -z "$why" ] && ! cmp -s -n 1048576 -i $((48 << 20)):0 $IMG /dev/zero &&
		why="the discarded MiB at 48 MiB is not zeroes"
	[ -z "$why" ] && [ "$(stat -c %s $IMG)" != $((SECTORS * 512)) ] && why="the image changed size"
	if [ -z "$why" ]; then pass image-from-host; else fail image-from-host "$why"; fi
}

say "QEMU $("$Q" --version 2>/dev/null | head -n1 | sed 's/.*version //'); $(cat /repo/build/qemu/VERSION 2>/dev/null)"
# device_cases 15, guest_results 11, no-leaks 1 (check.sh counts them)
[ $demo = 1 ] || echo "# expect 36 qemu"
setup || exit 1
if [ $demo = 1 ]; then
	load_module || exit 1
else
	device_cases || exit 1
fi
boot_guest
if out=$(no_leaks); then pass no-leaks; else fail no-leaks "$out"; fi
umount $MNT
rmmod vhost_blk || fail module-unload "rmmod vhost_blk failed"
say "done in $SECONDS s"
exit 0
