#!/bin/bash
# The QEMU frontend test of make check: build QEMU with the vhost-blk series
# (qemu-frontend/build.sh) and the nested guest (qemu-frontend/test/
# mkguest.sh: a small kernel of our own, tests/vm/mkkernel.sh --guest, an
# initramfs, a disk with fio), then boot the test host once and run
# nested-vm.sh there: QEMU, nested under TCG, boots a guest whose /dev/vda
# is a vhost-blk-pci device; Debian's QEMU boots it on vhost-blk-user, and
# libvirt starts it as a domain with a vhostuser disk.
# Prints "PASS name" and "FAIL name: why" lines on stdout, progress on stderr.
#   nested.sh             build what is missing, run the test
#   nested.sh --bridge    only Debian's own QEMU on vhost-blk-user (make
#                         qemu-bridge)
#   nested.sh --libvirt   only a libvirt domain on vhost-blk-user (make
#                         qemu-libvirt)
#   nested.sh --prepare   only build: build/qemu/qemu-system-x86_64 and the
#                         nested guest, build/qemu/guest/ (make qemu, demo)
# The full run has both guests; VBLK_NESTED_BRIDGE=0, VBLK_NESTED_LIBVIRT=0
# leave them out (passed on to nested-vm.sh in the VM).
set -uo pipefail
. "$(dirname "$0")/common.sh"

fail() { echo "FAIL $1: $2"; }

prepare() {
	local krel kguest
	"$REPO/qemu-frontend/build.sh" >&2 ||
		{ fail qemu/build "QEMU with the vhost-blk series did not build (above)"; return 1; }
	krel=$(cat "$ROOTFS_DIR/kernel-release")
	kguest=$("$VM_DIR/mkkernel.sh" --guest --print-dir) ||
		{ fail qemu/guest "the nested guest's kernel did not build (above)"; return 1; }
	# Into the test host's root, not its VM image: the guest is built here.
	if ! in_testhost dpkg-query -W -f '${db:Status-Abbrev}' busybox-static 2>/dev/null | grep -q '^ii'; then
		log "installing busybox-static into the test host (to build the nested guest)"
		{ in_testhost apt-get -q update && in_testhost apt-get -y -q install \
			--no-install-recommends busybox-static; } >/dev/null ||
			{ fail qemu/guest "cannot install busybox-static into the test host"; return 1; }
	fi
	fio=$("$REPO/qemu-frontend/test/mkfio.sh") ||
		{ fail qemu/guest "the nested guest's fio did not build (above)"; return 1; }
	in_testhost /repo/qemu-frontend/test/mkguest.sh "/cache/${kguest##*/}/bzImage" \
		/repo/build/qemu/guest "$fio" ||
		{ fail qemu/guest "the nested guest did not build (above)"; return 1; }
	# missing, or older than a source of theirs (else the old binary
	# would be tested)
	if [ ! -x "$REPO/build/guest/vhost-blk-user" ] ||
		[ -n "$(find "$REPO/qemu-frontend/bridge" "$REPO/tests/lib" "$REPO/uapi" \
			-newer "$REPO/build/guest/vhost-blk-user" -name '*.[ch]' -print -quit)" ]; then
		"$VM_DIR/build.sh" guest >&2 ||
			{ fail qemu/build "the test programs (vhost-blk-user) did not build (above)"; return 1; }
	fi
	if [ ! -f "$REPO/build/kmod/$krel/vhost_blk.ko" ] ||
		[ -n "$(find "$REPO/src" "$REPO/uapi" -newer "$REPO/build/kmod/$krel/vhost_blk.ko" \
			-name '*.[ch]' -print -quit)" ]; then
		"$VM_DIR/build.sh" module >&2 ||
			{ fail qemu/build "vhost_blk.ko did not build (above)"; return 1; }
	fi
	log "built build/qemu: $(cat "$REPO/build/qemu/VERSION"); the nested guest in build/qemu/guest"
}

if [ "${1:-}" = --prepare ]; then
	prepare >&2
	exit
fi

only=
case ${1:-} in
--bridge) only=bridge ;;
--libvirt) only=libvirt ;;
esac
t0=$(date +%s)
echo "# expect 2 qemu-build"
prepare || exit 0
echo "PASS qemu/build"
qdir=$("$REPO/qemu-frontend/build.sh" --print-dir)
if [ "$(cat "$qdir/checkpatch.rc")" = 0 ]; then
	echo "PASS qemu/checkpatch"
else
	grep -E '^(ERROR|WARNING)' "$qdir/checkpatch.log" | head -n 10 | sed 's/^/    /' >&2
	fail qemu/checkpatch "QEMU's checkpatch.pl finds problems in qemu-frontend/patches (above; $qdir/checkpatch.log)"
fi
log "qemu: build took $(( $(date +%s) - t0 ))s"

out=$(mktemp -d /tmp/vbt-qemu.XXXXXX)
# the libvirt domain after the other guests: 10 minutes more at most
"$VM_DIR/run.sh" --mem 3072 --timeout "${VM_TIMEOUT:-$((1800 + 600 * ${VBLK_NESTED_LIBVIRT:-1}))}" --out "$out" \
	env VBLK_NESTED_ONLY=$only VBLK_NESTED_BRIDGE="${VBLK_NESTED_BRIDGE:-1}" \
	VBLK_NESTED_LIBVIRT="${VBLK_NESTED_LIBVIRT:-1}" /repo/tests/vm/nested-vm.sh 2>&1 |
	tee "$out/runner.log" |
	grep --line-buffered -E '^(\[[0-9:]+\] |vbt: )' >&2
vrc=${PIPESTATUS[0]}
{
	grep -E '^(PASS|FAIL|SKIP|# expect [0-9]+) ' "$out/log" 2>/dev/null ||
		echo "FAIL qemu/vm: the test reported nothing (see $out)"
	# What the runner itself judged: time-out, crash, kernel log.
	grep -E '^FAIL (vm|kernel-log):' "$out/runner.log" | sed 's/^FAIL /FAIL qemu\//'
	[ "$vrc" = 0 ] || grep -qE '^FAIL ' "$out/log" "$out/runner.log" ||
		echo "FAIL qemu/vm: the test exited $vrc (see $out)"
} | tee "$out/results"
grep -E '^    ' "$out/runner.log" >&2
if grep -qE '^FAIL ' "$out/results"; then
	log "qemu: VM output kept in $out (guest-console.log: the nested guest's console)"
else
	rm -rf "$out"
fi
log "qemu: test took $(( $(date +%s) - t0 ))s"
