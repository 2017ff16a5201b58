#!/bin/bash
# make check: unit tests (no VM), the DKMS package (tests/vm/dkms-host.sh),
# lint, then the VM batch in one boot on the
# distribution kernel, the QEMU frontend test (nested.sh) in another, and the
# batch on the debug kernel (KASAN, lockdep, kmemleak; QUICK=1 leaves that
# one out). Prints a line a test and, last,
# "N passed, N failed[, N skipped]". A part that prints fewer results than
# it announced ("# expect N part") fails: "FAIL part: printed M of N results".
set -uo pipefail
. "$(dirname "$0")/common.sh"

results=$(mktemp /tmp/vbt-results.XXXXXX)
trap 'rm -f "$results"' EXIT
phase() { log "phase: $1"; P0=$(date +%s); }
phase_end() { log "phase $1 took $(( $(date +%s) - P0 ))s"; }
record() { tee -a "$results" | grep -E '^(PASS|FAIL|SKIP)'; }

phase unit
make -s -C "$REPO/tests" O="$REPO/build/unit" unit 2>&1 | expect_check | record
[ "${PIPESTATUS[0]}" = 0 ] || echo "FAIL unit: the unit tests did not build or run" | record
# vbt's own test against fake-vhost-blk.so, then each bug the fake plants,
# which some vbt case must catch; built in the test host, as for the VM.
"$VM_DIR/mkrootfs.sh"
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

# The DKMS package (make deb) as an admin installs it, in an overlay of the
# test host on this machine (never under TCG): 6.12, the ABI check's
# refusal of a planted vhost.h, then the upgrade to trixie-backports' 7.x
# headers; the batch's dkms part then loads the module DKMS built for 6.12
# (build/dkms/).
phase dkms
"$VM_DIR/dkms-host.sh" trixie | expect_check | record
phase_end dkms

phase lint
if "$VM_DIR/build.sh" lint; then
	echo "PASS lint" | record
else
	echo "FAIL lint: sparse or checkpatch (above)" | record
fi
phase_end lint

# vm_batch KERNEL PREFIX INTEGRITY_MIB FUZZ_REQUESTS FUZZ_FILE_REQUESTS
# DURABLE: the batch in one boot; results named PREFIXname.
vm_batch() {
	local kernel=$1 prefix=$2 mib=$3 fuzz=$4 fuzzfile=$5 durable=$6 out vrc
	out=$(mktemp -d /tmp/vbt-vm.XXXXXX)
	"$VM_DIR/run.sh" --kernel "$kernel" --mem 7168 \
		--timeout "${VM_TIMEOUT:-3000}" --out "$out" \
		env VBT_INTEGRITY_MIB="$mib" VBT_FUZZ_REQUESTS="$fuzz" \
		VBT_FUZZ_FILE_REQUESTS="$fuzzfile" VBT_DURABLE="$durable" \
		/repo/tests/vm/batch.sh 2>&1 |
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

phase vm
# 2 GiB of integrity writes over each 1 GiB backend kind: every sector
# written is verified through vhost-blk and on the backend (about 1.7 GiB).
# The fuzzer: 200,000 requests on brd and 100,000 on XFS here (half on a
# written image with the bio engine, through the image's block layout);
# 600,000 and 20,000 on the debug kernel. Durability by log replay: every
# engine on block devices and on XFS and ext4 images here, the block devices
# on the debug kernel (tests/vm/durable.sh).
if [ "$built" = 1 ]; then
	vm_batch distro "" 2048 200000 100000 full
else
	not_built vm
fi
phase_end vm

phase qemu
# QEMU with the vhost-blk device (qemu-frontend/), nested in the test host:
# the device's errors, a guest on vhost-blk-pci that reboots once, then is
# migrated three times while it writes.
if [ "$built" = 1 ]; then
	"$VM_DIR/nested.sh" | expect_check | record
else
	not_built qemu
fi
phase_end qemu

if [ "${QUICK:-0}" != 1 ]; then
	phase vm-debug
	if [ "$built" = 1 ]; then
		vm_batch debug "debug/" 64 600000 20000 short
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
