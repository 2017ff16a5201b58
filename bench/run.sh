#!/bin/bash
# make bench [QUICK=1] [PROFILE=1]: build what the benchmark needs, try the
# fio engine natively (bench/selftest.sh), boot the test host once, run the
# matrix there (bench/vm/bench.sh), and keep the results:
# bench/results/latest.json and latest.png, and the full output
# (report.md, results.tsv, hostload.tsv, each run's fio JSON, profiles) in
# build/bench/out-TIME. BENCH_RUNTIME, BENCH_REPS, BENCH_SIZE_MB,
# BENCH_POLL_US and BENCH_CELLS override the matrix's defaults, BENCH_IDLE
# how the test host's idle vCPUs wait, BENCH_VCPUS how many it has (2; 4
# gives each busy thread of a 2-queue cell its own: docs/bench.md, "The
# bridge").
set -euo pipefail
. "$(dirname "$0")/../tests/vm/common.sh"

# poll: idle vCPUs spin (idle=poll), as KVM's halt polling spares a KVM
# guest the wake-up; halt: they sleep until an interrupt, and TCG makes
# each wake-up one of a thread of this machine (docs/bench.md, "Idle vCPUs").
idle=${BENCH_IDLE:-halt}
case $idle in
poll) export VM_KARGS="idle=poll${VM_KARGS:+ $VM_KARGS}" ;;
halt) ;;
*) die "BENCH_IDLE=$idle: say halt (the default) or poll" ;;
esac

vcpus=${BENCH_VCPUS:-2}
[[ $vcpus =~ ^[1-9][0-9]?$ ]] || die "BENCH_VCPUS=$vcpus: say how many vCPUs the test host gets (2, the default; 4)"
export VM_SMP=$vcpus

t0=$(date +%s)
"$VM_DIR/build.sh" module
"$VM_DIR/build.sh" guest	# vhost-blk-user, the bridge target's daemon
"$VM_DIR/build.sh" bench
# The engine against qemu-storage-daemon, natively: seconds, not a boot.
st=$(in_testhost /repo/bench/selftest.sh /repo/build/bench) ||
	die "the fio engine fails its selftest (above); fix it before a VM run"
log "bench: $st"
out="$REPO/build/bench/out-$(date +%Y%m%d-%H%M%S)"
rel=${out#"$REPO"/}
mkdir -p "$out"
if [ "${QUICK:-0}" = 1 ]; then limit=${VM_TIMEOUT:-1200}; else limit=${VM_TIMEOUT:-14400}; fi
log "bench: $( [ "${QUICK:-0}" = 1 ] && echo "quick matrix" || echo "full matrix"), $vcpus vCPUs, idle vCPUs $idle; output in $rel"

# The machine's other load, sampled beside the VM: the VM's numbers move
# with it (docs/bench.md, "Noise").
(
	for _ in $(seq 300); do
		qpid=$(ps -C qemu-system-x86_64 -o pid=,args= | grep -F "path=$out," | awk '{ print $1; exit }' || true)
		[ -n "$qpid" ] && exec "$REPO/bench/hostload.sh" "$qpid" 2 >"$out/hostload.tsv"
		sleep 1
	done
) &
sampler=$!

# The VM's output: all of it to runner.log, its "bench:" lines to the
# terminal; its clock against ours from the line it starts with.
vm_lines() {
	local line
	while IFS= read -r line; do
		line=${line%$'\r'}
		printf '%s\n' "$line" >>"$out/runner.log"
		case $line in
		"bench: clock "*)
			[ -f "$out/clock-offset" ] ||
				awk -v h="$EPOCHREALTIME" -v v="${line#bench: clock }" \
					'BEGIN { printf "%.3f\n", h - v }' >"$out/clock-offset" ;;
		"bench: "*) printf '%s\n' "$line" >&2 ;;
		esac
	done
}
set +e
"$VM_DIR/run.sh" --mem 6144 --timeout "$limit" --out "$out" \
	env QUICK="${QUICK:-0}" BENCH_PROFILE="${PROFILE:-0}" \
	${BENCH_RUNTIME:+BENCH_RUNTIME=$BENCH_RUNTIME} \
	${BENCH_REPS:+BENCH_REPS=$BENCH_REPS} \
	${BENCH_SIZE_MB:+BENCH_SIZE_MB=$BENCH_SIZE_MB} \
	${BENCH_POLL_US:+BENCH_POLL_US=$BENCH_POLL_US} \
	${BENCH_CELLS:+"BENCH_CELLS=$BENCH_CELLS"} \
	/repo/bench/vm/bench.sh 2>&1 | vm_lines
rc=${PIPESTATUS[0]}
set -e
kill "$sampler" 2>/dev/null || true
wait "$sampler" 2>/dev/null || true
if [ ! -s "$out/results.tsv" ]; then
	tail -n 30 "$out/runner.log" >&2
	die "the benchmark produced no results (exit $rc; full log $out/runner.log)"
fi

# The report again, now with the machine's load beside each run.
noise=()
if [ -s "$out/hostload.tsv" ] && [ -s "$out/clock-offset" ]; then
	noise=(--hostload "/repo/$rel/hostload.tsv" --clock-offset "$(cat "$out/clock-offset")" --step 2)
fi
in_testhost /repo/build/bench/vbench report --kernel "$(cat "$ROOTFS_DIR/kernel-release")" \
	--cmdline "$(cat "$out/cmdline" 2>/dev/null || echo unknown)" \
	--json "/repo/$rel/latest.json" --plot "/repo/$rel" "${noise[@]}" \
	"/repo/$rel/results.tsv" >"$out/report.md"
in_testhost gnuplot -e "dir='/repo/$rel'" /repo/bench/chart.gp 2>"$out/gnuplot.log" ||
	log "bench: the chart failed: $(tail -n 3 "$out/gnuplot.log")"
other=$(awk '{ s += $2; n++; if ($2 > m) m = $2; if ($2 > 10) busy++ }
	END { if (n) printf "other work used %.0f%% of this machine'"'"'s CPUs on average (peak %.0f%%; above 10%% in %d of %d 2-second samples)", s / n, m, busy, n }' \
	"$out/hostload.tsv" 2>/dev/null || true)
[ -z "$other" ] || printf '\nNoise: while the VM ran, %s.\n' "$other" >>"$out/report.md"
# A clocksource that changed mid-matrix (bench.sh's warning) belongs with
# the results it spoils.
cs=$(grep -a 'WARNING: the clocksource' "$out/runner.log" | sed 's/^bench: [0-9:]* //' || true)
[ -z "$cs" ] || printf '\n%s\n' "$cs" >>"$out/report.md"

mkdir -p "$REPO/bench/results"
cat "$out/report.md"
if [ -n "${BENCH_CELLS:-}" ] && [ -f "$REPO/bench/results/latest.json" ]; then
	# A few cells of your own: latest.json keeps its cells and the ratios
	# they give; the run gives only the others (vbench merge); the chart
	# stays.
	in_testhost /repo/build/bench/vbench merge /repo/bench/results/latest.json \
		"/repo/$rel/latest.json" >"$out/merged.json" ||
		die "cannot merge $rel/latest.json into bench/results/latest.json (above)"
	cp "$out/merged.json" "$REPO/bench/results/latest.json"
	log "bench: merged the ratios bench/results/latest.json's cells do not give from $rel/latest.json into it; took $(( $(date +%s) - t0 ))s"
else
	cp "$out/latest.json" "$REPO/bench/results/latest.json"
	[ -f "$out/latest.png" ] && cp "$out/latest.png" "$REPO/bench/results/latest.png"
	log "bench: wrote bench/results/latest.json$([ -f "$out/latest.png" ] && echo " and latest.png"); took $(( $(date +%s) - t0 ))s"
fi
[ "$rc" = 0 ] || die "the VM run exited $rc (some runs failed; see $out/runner.log)"
