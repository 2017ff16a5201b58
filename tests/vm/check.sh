#!/bin/bash
# make check: unit tests (no VM), lint, then the VM batch in one boot.
# Prints a line a test and, last, "N passed, N failed[, N skipped]".
set -uo pipefail
. "$(dirname "$0")/common.sh"

results=$(mktemp /tmp/vbt-results.XXXXXX)
trap 'rm -f "$results"' EXIT
phase() { log "phase: $1"; P0=$(date +%s); }
phase_end() { log "phase $1 took $(( $(date +%s) - P0 ))s"; }
record() { tee -a "$results" | grep -E '^(PASS|FAIL|SKIP)'; }

phase unit
make -s -C "$REPO/tests" O="$REPO/build/unit" unit 2>&1 | record
[ "${PIPESTATUS[0]}" = 0 ] || echo "FAIL unit: the unit tests did not build or run" | record
phase_end unit

phase build
if "$VM_DIR/build.sh" module && "$VM_DIR/build.sh" guest; then
	echo "PASS build" | record
else
	echo "FAIL build: module or test programs did not build (above)" | record
fi
phase_end build

phase lint
if "$VM_DIR/build.sh" lint; then
	echo "PASS lint" | record
else
	echo "FAIL lint: sparse or checkpatch (above)" | record
fi
phase_end lint

phase vm
out=$(mktemp -d /tmp/vbt-vm.XXXXXX)
"$VM_DIR/run.sh" --mem 7168 --timeout "${VM_TIMEOUT:-2400}" --out "$out" \
	/repo/tests/vm/batch.sh 2>&1 | tee "$out/runner.log" |
	grep --line-buffered -E '^(\[[0-9:]+\] |vbt: )' >&2
vrc=${PIPESTATUS[0]}
grep -E '^(PASS|FAIL|SKIP) ' "$out/log" 2>/dev/null | record
# What the runner itself judged: time-out, crash, kernel log.
grep -E '^(FAIL) ' "$out/runner.log" | record
grep -E '^    ' "$out/runner.log" >&2
[ "$vrc" = 0 ] || grep -q '^FAIL' "$results" ||
	echo "FAIL vm: the batch exited $vrc (see $out)" | record
phase_end vm

p=$(grep -c '^PASS' "$results")
f=$(grep -c '^FAIL' "$results")
s=$(grep -c '^SKIP' "$results")
[ "$f" = 0 ] && rm -rf "$out"
if [ "$s" -gt 0 ]; then
	echo "$p passed, $f failed, $s skipped"
else
	echo "$p passed, $f failed"
fi
[ "$f" = 0 ]
