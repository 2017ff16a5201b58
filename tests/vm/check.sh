#!/bin/bash
# make check: unit tests (no VM), lint, then the VM batch in one boot on the
# distribution kernel, a shorter batch on Debian 12's 6.1 and on the newest
# 7.x of trixie-backports (one boot each), the QEMU frontend test (nested.sh)
# in another, and the batch on the debug kernel (KASAN, lockdep, kmemleak);
# the DKMS package is installed in overlays of the roots on this machine,
# and each batch loads the module DKMS built for its kernel. QUICK=1 leaves
# the debug kernel, the other kernels and the DKMS test on 6.1 out. Prints
# a line a test and, last, "N passed, N failed[, N skipped]". A part that
# prints fewer results than it announced ("# expect N part") fails: "FAIL
# part: printed M of N results".
set -uo pipefail
. "$(dirname "$0")/common.sh"

results=$(mktemp /tmp/vbt-results.XXXXXX)
trap 'rm -f "$results"' EXIT
phase() { log "phase: $1"; P0=$(date +%s); }
phase_end() { log "phase $1 took $(( $(date +%s) - P0 ))s"; }
record() { tee -a "$results" | grep -E '^(PASS|FAIL|SKIP)'; }

phase testhost
"$VM_DIR/mkrootfs.sh"
phase_end testhost

# In the background, while the unit tests, the builds and lint run (mostly
# downloads, unpacking and chroots, about eight minutes on a fresh
# machine): the other Debian kernels (docs/kernels.md), Debian 12's newest
# 6.1 and the newest 7.x of trixie-backports, each from its build root
# (mkbuildroot.sh), their headers, vhost.h and module; then the DKMS
# package (make deb) as an admin installs it, in an overlay of a root on
# this machine (never under TCG): the test host's 6.12 with the ABI check's
# refusal of a planted vhost.h and the upgrade to 7.x's headers, and the
# bookworm root's 6.1 (tests/vm/dkms-host.sh); each batch's dkms part then
# loads the module DKMS built for its kernel (build/dkms/). The first VM
# phase waits for it. Each line of $kernels_status: "RELEASE" (built) or a
# result line; the log is printed when it is done.
kernels_log=$(mktemp /tmp/vbt-kernels.XXXXXX)
kernels_status=$(mktemp /tmp/vbt-kernels-status.XXXXXX)
trap 'rm -f "$results" "$kernels_log" "$kernels_status"' EXIT
build_other_kernels() {
	local suite broot rel suites=(bookworm trixie-backports)
	[ "${QUICK:-0}" = 1 ] && suites=()
	for suite in "${suites[@]}"; do
		if ! broot=$("$VM_DIR/mkbuildroot.sh" "$suite"); then
			echo "FAIL build-$suite: no $suite build root ($kernels_log)" >>"$kernels_status"
			continue
		fi
		rel=$(cat "$broot/kernel-release")
		if "$VM_DIR/build.sh" module "$rel"; then
			echo "$rel" >>"$kernels_status"
		else
			echo "FAIL build-$rel: the module did not build against $rel ($kernels_log)" >>"$kernels_status"
		fi
	done
	# after the module builds: they install headers into the test host,
	# which dkms-host.sh overlays
	"$VM_DIR/dkms-host.sh" trixie | expect_check >>"$kernels_status"
	[ "${QUICK:-0}" = 1 ] ||
		"$VM_DIR/dkms-host.sh" bookworm | expect_check >>"$kernels_status"
}
log "building for the other kernels and the DKMS package in the background (log: $kernels_log)"
build_other_kernels >"$kernels_log" 2>&1 &
kernels_pid=$!

phase unit
make -s -C "$REPO/tests" O="$REPO/build/unit" unit 2>&1 | expect_check | record
[ "${PIPESTATUS[0]}" = 0 ] || echo "FAIL unit: the unit tests did not build or run" | record
# vbt's own test against fake-vhost-blk.so, then each bug the fake plants,
# which some vbt case must catch; built in the test host, as for the VM.
if out=$(in_testhost make -s -C /repo/tests O=/repo/build/guest selftest 2>&1); then
	echo "PASS selftest" | record
else
	echo "FAIL selftest: $(printf '%s\n' "$out" | grep -E '^(FAIL|selftest:)' |
		head -n 4 | tr '\n' ' ')" | record
fi
out=$(in_testhost make -s -C /repo/tests O=/repo/build/guest selftest-bugs 2>&1)
printf '%s\n' "$out" | expect_check | record
grep -q '^# expect ' <<<"$out" ||
	echo "FAIL selftest-bugs: did not run: $(tail -n 3 <<<"$out" | tr '\n' ' ')" | record
phase_end unit

phase build
built=1
if "$VM_DIR/build.sh" module && "$VM_DIR/build.sh" guest &&
	{ [ "${QUICK:-0}" = 1 ] || "$VM_DIR/build.sh" module debug; }; then
	echo "PASS build" | record
else
	echo "FAIL build: module or test programs did not build (above)" | record
	built=0
fi
phase_end build

# not_built PHASE: a VM phase left out because the build failed; the
# binaries in build/ would be stale ones.
not_built() {
	echo "FAIL $1: not run: the module or the test programs did not build (above)" | record
}

phase lint
if "$VM_DIR/build.sh" lint; then
	echo "PASS lint" | record
else
	echo "FAIL lint: sparse or checkpatch (above)" | record
fi
phase_end lint

# vm_batch KERNEL PREFIX [VAR=VALUE...]: the batch in one boot, with those
# settings (batch.sh's VBT_ variables); results named PREFIXname.
vm_batch() {
	local kernel=$1 prefix=$2 out vrc
	shift 2
	out=$(mktemp -d /tmp/vbt-vm.XXXXXX)
	"$VM_DIR/run.sh" --kernel "$kernel" --mem 7168 \
		--timeout "${VM_TIMEOUT:-3000}" --out "$out" \
		env "$@" /repo/tests/vm/batch.sh 2>&1 |
		tee "$out/runner.log" |
		grep --line-buffered -E '^(\[[0-9:]+\] |vbt: )' >&2
	vrc=${PIPESTATUS[0]}
	{
		grep -E '^(PASS|FAIL|SKIP|# expect [0-9]+) ' "$out/log" 2>/dev/null ||
			echo "FAIL vm: the batch reported no test (see $out)"
		# What the runner itself judged: time-out, crash, kernel log.
		grep -E '^FAIL (vm|kernel-log):' "$out/runner.log"
		[ "$vrc" = 0 ] || grep -qE '^FAIL ' "$out/log" "$out/runner.log" ||
			echo "FAIL vm: the batch exited $vrc (see $out)"
	} | expect_check >"$out/results"
	sed -E "s#^(PASS|FAIL|SKIP) #\1 $prefix#" "$out/results" | record
	grep -E '^    ' "$out/runner.log" >&2
	if grep -qE '^FAIL ' "$out/log" "$out/runner.log" 2>/dev/null || [ "$vrc" != 0 ]; then
		log "VM output kept in $out"
	else
		rm -rf "$out"
	fi
}

phase background
wait "$kernels_pid"
sed 's/^/    /' "$kernels_log" >&2
other_kernels=()
while read -r line; do
	case $line in
	PASS*|FAIL*|SKIP*) echo "$line" | record ;;
	'#'*) ;;
	*) echo "PASS build-$line" | record; other_kernels+=("$line") ;;
	esac
done <"$kernels_status"
grep -q '^# expect [0-9]* dkms-host' "$kernels_status" ||
	echo "FAIL dkms-host: the DKMS test did not run ($kernels_log)" | record
[ "${QUICK:-0}" = 1 ] || [ "${#other_kernels[@]}" = 2 ] ||
	echo "FAIL build-kernels: built for ${#other_kernels[@]} of the 2 other kernels ($kernels_log)" | record
phase_end background

phase vm
# 2 GiB of integrity writes over each 1 GiB backend kind: every sector
# written is verified through vhost-blk and on the backend (about 1.7 GiB).
# The fuzzer: 200,000 requests on brd and 100,000 on XFS here (half on a
# written image with the bio engine, through the image's block layout);
# 600,000 and 20,000 on the debug kernel. Durability by log replay: every
# engine on block devices and on XFS and ext4 images here, the block devices
# on the debug kernel (tests/vm/durable.sh).
if [ "$built" = 1 ]; then
	vm_batch distro "" VBT_INTEGRITY_MIB=2048 VBT_FUZZ_REQUESTS=200000 \
		VBT_FUZZ_FILE_REQUESTS=100000 VBT_DURABLE=full
else
	not_built vm
fi
phase_end vm

# A shorter but real batch on the other kernels: every request type, both
# engines on a block device and on XFS and ext4 images, integrity (64 MiB),
# the lifecycle cases, the fuzzer, the module loaded through /dev/vhost-blk
# (ours, and the DKMS package's). Results named RELEASE/name.
for rel in "${other_kernels[@]}"; do
	phase "vm-$rel"
	if [ "$built" != 1 ]; then
		not_built "vm-$rel"
		phase_end "vm-$rel"
		continue
	fi
	vm_batch "$rel" "$rel/" VBT_PARTS="vbt fuzz devname dkms" \
		VBT_FUZZ_REQUESTS=20000 VBT_FUZZ_FILE_REQUESTS=4000 \
		VBT_SPECS="brd;brd --engine kiocb;xfs --direct;xfs --direct --engine bio;ext4 --direct;xfs_nullb --direct -- dio-deferred"
	phase_end "vm-$rel"
done

phase qemu
# QEMU with the vhost-blk device (qemu-frontend/), nested in the test host:
# the device's errors, a guest on vhost-blk-pci that reboots once, then is
# migrated three times while it writes; beside it Debian's own QEMU on
# vhost-blk-user (reboot, migration), then a libvirt domain on it.
if [ "$built" = 1 ]; then
	"$VM_DIR/nested.sh" | expect_check | record
else
	not_built qemu
fi
phase_end qemu

if [ "${QUICK:-0}" != 1 ]; then
	phase vm-debug
	if [ "$built" = 1 ]; then
		vm_batch debug "debug/" VBT_INTEGRITY_MIB=64 \
			VBT_FUZZ_REQUESTS=600000 VBT_FUZZ_FILE_REQUESTS=20000 \
			VBT_DURABLE=short
	else
		not_built vm-debug
	fi
	phase_end vm-debug
fi

p=$(grep -c '^PASS' "$results")
f=$(grep -c '^FAIL' "$results")
s=$(grep -c '^SKIP' "$results")
if [ "$s" -gt 0 ]; then
	echo "$p passed, $f failed, $s skipped"
else
	echo "$p passed, $f failed"
fi
[ "$f" = 0 ]
