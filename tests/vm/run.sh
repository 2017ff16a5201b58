#!/bin/bash
# Boot the test host under QEMU (TCG), run COMMAND inside it, and judge the
# run: the command's exit status, and the VM's kernel log, which must hold no
# BUG, WARNING, Oops, KASAN, lockdep, hung-task or soft-lockup report.
#
#   run.sh [--timeout SECONDS] [--mem MiB] [--out DIR] [--kernel distro|debug|RELEASE] COMMAND...
#
# COMMAND runs as root in the VM with the repository read-only at /repo and
# a writable /out (DIR on the host; a temporary one by default). The VM is
# killed when the time is up. Exit status: COMMAND's, or 1 when the kernel
# log has a report, or 124 on time-out.
# --kernel debug boots the debug kernel of mkkernel.sh (KASAN, lockdep,
# kmemleak; built once, ~10 minutes) with its modules at /lib/modules.
# --kernel RELEASE boots another Debian kernel on the same test host disk:
# Debian 12's 6.1.0-N-amd64 or trixie-backports' 7.x from the root of its
# suite (mkbuildroot.sh; the kernel is installed there if missing), with its
# initrd (which loads 9p) and that root's /lib/modules shared with the VM;
# the test host stays as it is.
# VM_KARGS: more kernel parameters (an experiment's, e.g. idle=poll).
# VM_SMP: vCPUs (2; an experiment's: more than the machine's cores makes
# the host share them, and timing inside the VM noisier).
set -euo pipefail
. "$(dirname "$0")/common.sh"

timeout=${VM_TIMEOUT:-1800}
mem=${VM_MEM:-6144}
smp=${VM_SMP:-2}
out=
kernel=${VM_KERNEL:-distro}
while [ $# -gt 0 ]; do
	case $1 in
	--timeout) timeout=$2; shift 2 ;;
	--mem) mem=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	--kernel) kernel=$2; shift 2 ;;
	--) shift; break ;;
	*) break ;;
	esac
done
[[ $smp =~ ^[1-9][0-9]?$ ]] || die "VM_SMP=$smp: give the number of vCPUs (2 by default)"
[ $# -gt 0 ] || die "usage: run.sh [--timeout S] [--mem MiB] [--out DIR] [--kernel distro|debug|RELEASE] COMMAND..."
command -v qemu-system-x86_64 >/dev/null ||
	die "qemu-system-x86_64 is missing: apt-get install qemu-system-x86"
"$VM_DIR/mkrootfs.sh"
case $kernel in
distro)
	krel=$(cat "$ROOTFS_DIR/kernel-release")
	boot=(-kernel "$ROOTFS_DIR/vmlinuz" -initrd "$ROOTFS_DIR/initrd.img")
	kargs=
	;;
debug)
	kd=$("$VM_DIR/mkkernel.sh" --print-dir)
	krel=$(cat "$kd/kernel-release")
	boot=(-kernel "$kd/bzImage"
		-virtfs "local,path=$kd/mods/lib/modules,mount_tag=mods,security_model=none,readonly=on")
	kargs=" vbt.mods=1"
	;;
6.1.0-*-amd64|7.*+deb13-amd64)
	suite=bookworm
	[[ $kernel == 7.* ]] && suite=trixie-backports
	kroot=$("$VM_DIR/mkbuildroot.sh" "$suite")/root
	if [ ! -f "$kroot/boot/vmlinuz-$kernel" ]; then
		log "installing linux-image-$kernel into the $suite root"
		chroot_run "$kroot" apt-get -q update >/dev/null
		chroot_run "$kroot" apt-get -y -q install --no-install-recommends \
			"linux-image-$kernel" >/dev/null ||
			die "no linux-image-$kernel in $suite"
	fi
	krel=$kernel
	boot=(-kernel "$kroot/boot/vmlinuz-$kernel" -initrd "$kroot/boot/initrd.img-$kernel"
		-virtfs "local,path=$kroot/usr/lib/modules,mount_tag=mods,security_model=none,readonly=on")
	kargs=" vbt.mods=1"
	;;
*) die "--kernel takes 'distro', 'debug', a Debian 12 release (6.1.0-N-amd64) or a trixie-backports 7.x one, not '$kernel'" ;;
esac

kargs+=${VM_KARGS:+ $VM_KARGS}

if [ -z "$out" ]; then
	out=$(mktemp -d /tmp/vbt-run.XXXXXX)
fi
mkdir -p "$out"
rm -f "$out/rc" "$out/log" "$out/dmesg" "$out/console.log"
printf '%q ' "$@" >"$out/cmd"
echo >>"$out/cmd"

log "booting the test host ($krel, TCG, $smp vCPUs, ${mem} MiB, limit ${timeout}s${VM_KARGS:+, kernel parameters: $VM_KARGS})"
# Kernel reports, in the kernel log and on the console.
pattern='BUG:|WARNING:|Oops|KASAN|UBSAN|general protection fault|kernel BUG|blocked for more than|soft lockup|hard LOCKUP|possible circular locking|possible recursive locking|inconsistent lock state|unreferenced object|Kernel panic|detected stalls|Call Trace'

boot_vm() {
	set +e
	timeout --kill-after=10 "$timeout" \
		qemu-system-x86_64 -machine q35 -accel tcg,thread=multi -cpu max \
		-smp "$smp" -m "$mem" -display none -monitor none -no-reboot \
		-serial stdio \
		"${boot[@]}" \
		-append "root=/dev/vda rw init=/sbin/vbt-init console=ttyS0 loglevel=4 panic=-1$kargs" \
		-drive "file=$ROOTFS_DIR/root.img,if=virtio,format=raw,snapshot=on,cache=unsafe" \
		-virtfs "local,path=$REPO,mount_tag=repo,security_model=none,readonly=on" \
		-virtfs "local,path=$out,mount_tag=out,security_model=none" \
		</dev/null 2>&1 | tee "$out/console.log"
	qrc=${PIPESTATUS[0]}
	set -e
}

# A kernel that crashed before the command started (guest-init.sh's "vbt:
# RELEASE, N CPUs" line): nothing of ours had run, not even the module. TCG
# does that now and then (an int3 of the kernel's text patching taken
# while another vCPU patches: "Oops: int3" in early boot), so boot once
# more, and say so.
crashed_booting() {
	[ ! -e "$out/rc" ] &&
		! grep -aqE 'vbt: [^ ]+, [0-9]+ CPUs, [0-9]+ MiB' "$out/console.log" &&
		grep -aqE "$pattern" "$out/console.log"
}

t0=$(date +%s)
boot_vm
if crashed_booting; then
	mv "$out/console.log" "$out/console-boot1.log"
	log "the test host's kernel crashed while booting, before the command started ($(grep -aE -m1 "$pattern" "$out/console-boot1.log" | tr -d '\r'); $out/console-boot1.log): booting it once more"
	boot_vm
fi
log "VM ran $(( $(date +%s) - t0 ))s"

rc=$(cat "$out/rc" 2>/dev/null || echo none)
# guest-init.sh's report of a hung task: who waits for what.
hung=false
grep -q '^vbt: stacks of ' "$out/dmesg" 2>/dev/null && hung=true
if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
	echo "FAIL vm: no result within ${timeout}s; the VM was killed" >&2
	rc=124
elif [ "$rc" = none ] && $hung; then
	echo "FAIL vm: a task hung (stacks below); the VM powered off" >&2
	rc=1
elif [ "$rc" = none ]; then
	echo "FAIL vm: the VM stopped without a result (QEMU exit $qrc; see $out/console.log)" >&2
	rc=1
fi

if [ "$rc" != 0 ] && $hung; then
	grep '^vbt: ' "$out/dmesg" | head -n 200 | sed 's/^/    /' >&2 || true
fi

# Kernel reports, from the full log and from the console (which has what a
# crash printed after the log was saved).
if grep -hE "$pattern" "$out/dmesg" "$out/console.log" >/dev/null 2>&1; then
	echo "FAIL kernel-log: the VM's kernel reported a problem:" >&2
	cat "$out/dmesg" "$out/console.log" 2>/dev/null |
		grep -E -A25 "$pattern" | head -n 80 | sed 's/^/    /' >&2 || true
	[ "$rc" = 0 ] && rc=1
fi
exit "$rc"
