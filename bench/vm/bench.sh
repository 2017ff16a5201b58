#!/bin/bash
# The benchmark matrix, inside the test host VM (bench/run.sh boots it).
# Every run is one fio process; its record goes to $OUT/results.tsv, its
# fio output to $OUT/runs/. Then the report and latest.json (bench/run.sh
# makes them again with the machine's load beside each run, and the chart).
#
# Environment: QUICK=1 (the reduced matrix), BENCH_CELLS (cells of your
# own, "backend rw qd queues target..." separated by ';'), BENCH_RUNTIME
# (s a run), BENCH_REPS, BENCH_SIZE_MB (working set of each backend),
# BENCH_POLL_US (busy-poll window of the vhost workers, microseconds;
# default 0: in the TCG test host polling costs more than it saves, see
# docs/bench.md),
# BENCH_PROFILE=1 (perf profiles of a few cells after the matrix),
# BENCH_OUT (/out).
set -uo pipefail
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
QUICK=${QUICK:-0}
if [ "$QUICK" = 1 ]; then q_rt=3 q_size=256; else q_rt=5 q_size=1024; fi
RUNTIME=${BENCH_RUNTIME:-$q_rt}
REPS=${BENCH_REPS:-5}	# the fewest that can decide a goal (vbench report)
SIZE_MB=${BENCH_SIZE_MB:-$q_size}
POLL_US=${BENCH_POLL_US:-0}
PROFILE=${BENCH_PROFILE:-0}
OUT=${BENCH_OUT:-/out}
B=/repo/build/bench
SOCK=/run/vbench-qsd.sock
BSOCK=/run/vbench-bridge.sock
BRIDGE=/repo/build/guest/vhost-blk-user	# make guest (bench/run.sh builds it)
ENGINE=$B/vblk-fio.so
. /repo/bench/vm/setup.sh

say() { echo "bench: $(date +%T) $*"; }
die() { echo "bench: FAILED: $*"; exit 1; }

# The cells: "backend rw qd queues target..." a line. QUICK keeps what
# every ratio needs: randread; QD1 and QD32 with one queue on null_blk for
# all targets; 2 queues at QD32; the XFS image (io_uring, kiocb and the bio
# engine through the image's block layout on it) against the brd under it;
# dirty logging's cost (kiocb+log, bio+log: the engines with the log on,
# as during a live migration) on null_blk at QD32, one queue, randread and
# randwrite (in the full matrix too); the vhost-user bridge
# (vhost-blk-user, #22) at QD32 beside the device and qemu-storage-daemon.
cells() {
	local b rw qd q
	if [ -n "${BENCH_CELLS:-}" ]; then
		printf '%s\n' "$BENCH_CELLS" | tr ';' '\n'
		return
	fi
	if [ "$QUICK" = 1 ]; then
		echo "null_blk randread 1 1 host kiocb bio qsd"
		echo "null_blk randread 32 1 host kiocb bio bridge qsd kiocb+log bio+log"
		echo "null_blk randwrite 32 1 kiocb bio kiocb+log bio+log"
		echo "null_blk randread 32 2 host bio bridge qsd"
		echo "xfs randread 32 1 host kiocb bio layout"
		return
	fi
	for b in null_blk brd xfs; do
		for rw in randread randwrite; do
			for qd in 1 32; do
				for q in 1 2; do
					echo "$b $rw $qd $q host kiocb bio qsd$([ "$qd" = 32 ] && echo " bridge")$([ "$b" = xfs ] && echo " layout")$([ "$b$qd$q" = null_blk321 ] && echo " kiocb+log bio+log")"
				done
			done
		done
	done
}

# The daemon of a vhost-user target (qsd, bridge), started for a run and
# stopped after it; one at a time.
DAEMON_PID=
# wait_socket SOCKET: 0 when the daemon listens there; 1 when it exited
# or 30 s passed (then it is stopped; run() shows its log).
wait_socket() {
	local i
	for i in $(seq 300); do
		[ -S "$1" ] && return 0
		kill -0 "$DAEMON_PID" 2>/dev/null || break
		sleep 0.1
	done
	stop_daemon
	return 1
}

start_qsd() { # start_qsd FILE QUEUES LOG
	local drv=host_device
	[ -f "$1" ] && drv=file
	rm -f "$SOCK"
	# The peer's best documented settings: io_uring, O_DIRECT, its own
	# iothread (QEMU 10 exports run on one), no format layer.
	qemu-storage-daemon \
		--blockdev "driver=$drv,node-name=disk,filename=$1,aio=io_uring,cache.direct=on" \
		--object iothread,id=iot0 \
		--export "type=vhost-user-blk,id=exp0,node-name=disk,addr.type=unix,addr.path=$SOCK,writable=on,num-queues=$2,iothread=iot0" \
		>"$3" 2>&1 &
	DAEMON_PID=$!
	wait_socket "$SOCK"
}

# The bridge on the backend the direct target it is paired with opens,
# with its engine (the module's choice: bio on a block device, kiocb on
# the image on XFS) and O_DIRECT, as fio's direct=1 gives that target.
start_bridge() { # start_bridge FILE QUEUES ENGINE LOG
	[ -x "$BRIDGE" ] || { echo "no $BRIDGE: make guest builds it" >"$4"; return 1; }
	rm -f "$BSOCK"
	"$BRIDGE" --socket "$BSOCK" --backend "$1" --num-queues "$2" \
		--engine "$3" --direct >"$4" 2>&1 &
	DAEMON_PID=$!
	wait_socket "$BSOCK"
}

stop_daemon() {
	[ -n "$DAEMON_PID" ] || return 0
	kill "$DAEMON_PID" 2>/dev/null
	wait "$DAEMON_PID" 2>/dev/null
	DAEMON_PID=
}

# fio_args TARGET BACKEND QUEUES: the target's file and engine options.
fio_args() {
	local t=$1 b=$2 q=$3 file
	case $b in
	null_blk) file=/dev/vbench ;;
	brd) file=/dev/ram0 ;;
	xfs) file=/mnt/xfs/disk.raw ;;
	esac
	ARGS=(--size="${SIZE_MB}M")
	case $t in
	host)
		# the limit: io_uring on the backend itself, its best settings
		ARGS+=(--filename="$file" --ioengine=io_uring --fixedbufs=1 --registerfiles=1) ;;
	kiocb|bio|kiocb+log|bio+log)
		if [ "${t%+log}" = bio ] && [ "$b" = xfs ]; then
			# the brd under the image, at the image's blocks: writes
			# there change the image's data only, so fio may write
			# to the mounted device
			file=/dev/ram1
			ARGS+=(--offset="$XFS_OFF" --allow_mounted_write=1)
		fi
		ARGS+=(--filename="$file" --ioengine="external:$ENGINE" --vblk_engine="${t%+log}" --vblk_queues="$q" \
			--vblk_poll_us="$POLL_US")
		# +log: the same with dirty logging on, as during a live
		# migration (an engine option: after --ioengine)
		[ "$t" = "${t%+log}" ] || ARGS+=(--vblk_log=1) ;;
	layout)
		# the bio engine on the image: its blocks, through XFS's layout
		ARGS+=(--filename="$file" --ioengine="external:$ENGINE" --vblk_engine=bio --vblk_queues="$q" \
			--vblk_poll_us="$POLL_US") ;;
	qsd)
		ARGS+=(--filename="$SOCK" --ioengine="external:$ENGINE" --vblk_queues="$q") ;;
	bridge)
		# vhost-user to vhost-blk-user, which hands the rings to the
		# module: the engine is the daemon's (start_bridge)
		ARGS+=(--filename="$BSOCK" --ioengine="external:$ENGINE" --vblk_queues="$q") ;;
	esac
	DAEMON_FILE=$file
}

# The module's engine of choice for a backend: that of the vhost target
# of the ratios (vb_vhost_target in bench/report/cells.c).
vhost_engine() { if [ "$1" = xfs ]; then echo kiocb; else echo bio; fi; }

FAILED=0
# run TARGET BACKEND RW QD QUEUES REP [fio prefix...]: one measured run.
run() {
	local t=$1 b=$2 rw=$3 qd=$4 q=$5 rep=$6 dir
	shift 6
	dir=$(mktemp -d "/tmp/run-$t-$b-$rw-$qd-$q-$rep.XXXX")
	fio_args "$t" "$b" "$q"
	if { [ "$t" = qsd ] && ! start_qsd "$DAEMON_FILE" "$q" "$dir/daemon.log"; } ||
		{ [ "$t" = bridge ] && ! start_bridge "$DAEMON_FILE" "$q" \
			"$(vhost_engine "$b")" "$dir/daemon.log"; }; then
		echo "bench: FAIL $t $b $rw qd$qd q$q #$rep: its daemon did not come up; its output:"
		tail -n 5 "$dir/daemon.log" 2>/dev/null | sed 's/^/    /'
		FAILED=$((FAILED + 1))
		rm -rf "$dir"
		return 1
	fi
	(cd "$dir" && "$@" "$B/fio" --name=vbench "${ARGS[@]}" --direct=1 \
		--rw="$rw" --bs=4k --iodepth="$qd" --numjobs="$q" --thread \
		--group_reporting --time_based --runtime="$RUNTIME" \
		--norandommap --randrepeat=0 --lat_percentiles=1 \
		--exec_prerun="$B/vbench mark begin $dir" \
		--exec_postrun="$B/vbench mark end $dir ${VB_THREADS:-}" \
		--output-format=json --output="$dir/fio.json" >"$dir/fio.log" 2>&1)
	local rc=$?
	stop_daemon
	mkdir -p "$OUT/runs"
	cp "$dir/fio.json" "$OUT/runs/${dir##*/run-}.json" 2>/dev/null
	if [ "$rc" != 0 ] || ! "$B/vbench" record --target "$t" --backend "$b" \
		--rw "$rw" --qd "$qd" --queues "$q" --rep "$rep" --fio "$dir/fio.json" \
		--stat0 "$dir/stat0" --stat1 "$dir/stat1" >>"$RESULTS"; then
		echo "bench: FAIL $t $b $rw qd$qd q$q #$rep (fio exit $rc):"
		tail -n 5 "$dir/fio.log" "$dir/daemon.log" 2>/dev/null | sed 's/^/    /'
		FAILED=$((FAILED + 1))
	fi
	rm -rf "$dir"
}

# The VM's own state, a line a cell to $OUT/vmstate.tsv: what would make
# later runs slower than earlier ones without any other load (the kernel
# giving up the TSC for a slow clocksource, memory running short,
# compaction, reclaim). vmstat's counters are since boot.
CS=/sys/devices/system/clocksource/clocksource0/current_clocksource
VMSTAT_KEYS=(pgscan_kswapd pgscan_direct compact_stall compact_migrate_scanned thp_fault_alloc thp_collapse_alloc thp_split_page pgmajfault)
vmstate_head() {
	printf 'time\trep\tcell\tclocksource\tMemFree_kB\tCached_kB\tSlab_kB\tAnonHugePages_kB'
	printf '\t%s' "${VMSTAT_KEYS[@]}"
	printf '\n'
}
vmstate() { # vmstate REP CELL
	local m v
	m=$(awk '/^(MemFree|Cached|Slab|AnonHugePages):/ { v[$1] = $2 }
		END { printf "\t%s\t%s\t%s\t%s", v["MemFree:"], v["Cached:"], v["Slab:"], v["AnonHugePages:"] }' /proc/meminfo)
	v=$(awk -v keys="${VMSTAT_KEYS[*]}" '{ v[$1] = $2 }
		END { n = split(keys, k, " "); for (i = 1; i <= n; i++) printf "\t%s", (k[i] in v) ? v[k[i]] : "-" }' /proc/vmstat)
	printf '%s\t%s\t%s\t%s%s%s\n' "$(date +%s)" "$1" "$2" "$(cat "$CS")" "$m" "$v" >>"$OUT/vmstate.tsv"
}
CS0=$(cat "$CS")

t0=$(date +%s)
echo "bench: clock $(date +%s.%N)"
say "$(uname -r), $(nproc) vCPUs; $(if [ "$QUICK" = 1 ]; then echo quick; else echo full; fi) matrix, ${RUNTIME}s a run, $REPS repetitions, ${SIZE_MB} MiB a backend, vhost workers poll ${POLL_US} us"
say "$("$B/fio" --version), $(qemu-storage-daemon --version | head -n1)"
cat /proc/cmdline >"$OUT/cmdline"	# for the report and latest.json
say "kernel command line: $(cat "$OUT/cmdline")"
modprobe vhost && insmod "/repo/build/kmod/$(uname -r)/vhost_blk.ko" ||
	die "cannot load vhost_blk.ko (make module builds it)"
say "filling the backends (null_blk, brd, XFS image)"
setup_null_blk || die "null_blk setup"
setup_brd || die "brd setup"
setup_xfs || die "XFS setup"
say "backends ready; the image's extent is at byte $XFS_OFF of /dev/ram1"
RESULTS=$OUT/results.tsv
: >"$RESULTS"
mapfile -t CELLS < <(cells)
total=0
for c in "${CELLS[@]}"; do
	set -- $c
	total=$((total + ($# - 4) * REPS))
done
say "${#CELLS[@]} cells, $total runs; clocksource $CS0"
vmstate_head >"$OUT/vmstate.tsv"
vmstate 0 start

# Repetitions outermost and the targets of a cell back to back, their order
# rotated each repetition: drift and noise land on every target alike.
n=0
for rep in $(seq "$REPS"); do
	for c in "${CELLS[@]}"; do
		set -- $c
		b=$1 rw=$2 qd=$3 q=$4
		shift 4
		targets=("$@")
		k=${#targets[@]}
		for i in $(seq 0 $((k - 1))); do
			t=${targets[$(( (i + rep - 1) % k ))]}
			n=$((n + 1))
			run "$t" "$b" "$rw" "$qd" "$q" "$rep"
		done
		vmstate "$rep" "$b-$rw-qd$qd-q$q"
	done
	say "repetition $rep of $REPS done ($n of $total runs, $(( $(date +%s) - t0 ))s; clocksource $(cat "$CS"))"
done

# profile NAME: turn perf.data into profile-NAME.txt: busy time by thread,
# then by function, inclusive of what it calls.
profile() {
	local data=/tmp/perf-$1.data f=$OUT/profile-$1.txt
	{
		echo "# $1: whole-system cpu-clock samples (perf record -a -g), $(uname -r)"
		echo "## by thread (tid name: share of all samples, idle included)"
		perf report -i "$data" --stdio --no-children --sort pid -g none 2>>"$OUT/perf-report.log" |
			awk -v map="$OUT/threads-$1.txt" '
			     BEGIN { while ((getline l < map) > 0) { split(l, a, " "); name[a[1]] = a[2] } }
			     /^ +[0-9.]+%/ { split($2, a, ":"); n = name[a[1]];
				printf "%9s  %s %s\n", $1, a[1], n != "" ? n : a[2] }' |
			head -n 15
		echo "## by function, with what it calls (children), top 45"
		perf report -i "$data" --stdio --children --sort sym -g none \
			--percent-limit 2 2>>"$OUT/perf-report.log" | grep -E '^ +[0-9]' | head -n 45
	} >"$f"
	rm -f "$data"
}

if [ "$PROFILE" = 1 ]; then
	# Where the CPU goes, whole system, for the cells the ratios hinge on.
	echo 0 >/proc/sys/kernel/kptr_restrict
	echo -1 >/proc/sys/kernel/perf_event_paranoid
	RESULTS=$OUT/profile-runs.tsv	# perf's runs are no measurements
	for spec in "bio null_blk randread 32 1" "kiocb null_blk randread 32 1" \
		"qsd null_blk randread 32 1" "bridge null_blk randread 32 1" \
		"host null_blk randread 32 1" \
		"bio null_blk randread 1 1" "qsd null_blk randread 1 1" \
		"bio null_blk randread 32 2" "kiocb xfs randread 32 1"; do
		set -- $spec
		name="$1-$2-$3-qd$4-q$5"
		say "profiling $name"
		# perf.data on tmpfs: written to /out (9p) it loses the kernel's
		# symbols. The threads are listed by fio's exec_postrun.
		export VB_THREADS="$OUT/threads-$name.txt"
		: >"$VB_THREADS"
		run "$1" "$2" "$3" "$4" "$5" 0 perf record -q -a -g -F 499 \
			-e cpu-clock -o "/tmp/perf-$name.data"
		unset VB_THREADS
		profile "$name"
		rm -f "$OUT/threads-$name.txt"
	done
fi

say "matrix done in $(( $(date +%s) - t0 ))s; $FAILED runs failed"
if [ "$(cat "$CS")" != "$CS0" ]; then
	say "WARNING: the clocksource changed from $CS0 to $(cat "$CS") during the matrix: runs after it read a slower clock and do not compare with runs before it (vmstate.tsv says when); the kernel's log:"
	dmesg | grep -iE 'clocksource|tsc' | tail -n 8 | sed 's/^/bench:     /'
fi
"$B/vbench" report --kernel "$(uname -r)" --cmdline "$(cat "$OUT/cmdline")" \
	--json "$OUT/latest.json" --plot "$OUT" "$OUT/results.tsv" | tee "$OUT/report.md"
teardown_all
rmmod vhost_blk
[ "$FAILED" = 0 ]
