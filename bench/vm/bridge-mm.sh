#!/bin/bash
# Why the bridge falls behind the device driven directly with 2 queues
# (docs/bench.md, "The bridge"): null_blk randread QD32, bio, 2 queues, 4 s
# runs, 3 rounds, with the context switches and busy CPU time per I/O (of
# the whole VM) and the CPUs the vhost workers may run on; in the test host:
#   make module guest && tests/vm/build.sh bench
#   tests/vm/run.sh /repo/bench/vm/bridge-mm.sh            (2 vCPUs)
#   VM_SMP=4 tests/vm/run.sh /repo/bench/vm/bridge-mm.sh   (4 vCPUs)
# The runs, each with fio's 2 jobs and the 2 vhost workers (4 busy threads):
#   direct 2q        one fio process drives /dev/vhost-blk: its workers
#                    are threads of fio, in fio's address space
#   bridge 2q        the same through vhost-blk-user: the workers are the
#                    daemon's, in its address space
#   ... apart        fio on CPU 0, the workers on CPU 1 (the engine's
#                    vblk_worker_cpus, or the daemon under taskset): no
#                    CPU runs both
# Under TCG a change of page tables (CR3) empties the whole emulated TLB;
# sharing the vCPUs, the bridge makes one at every switch between a fio job
# and a worker, the direct target none. If that is the gap, it is gone
# apart, and with a vCPU for each busy thread (VM_SMP=4).
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
SIZE_MB=256
B=/repo/build/bench
BRIDGE=/repo/build/guest/vhost-blk-user
. /repo/bench/vm/setup.sh
modprobe vhost && insmod "/repo/build/kmod/$(uname -r)/vhost_blk.ko" || exit 1
setup_null_blk || exit 1

# measure NAME [taskset -c CPUS] fio-options...: IOPS, the context
# switches and busy CPU time (of the whole VM: user, nice, system, irq,
# softirq) per I/O from the jobs' start to their end (fio's exec_prerun
# and exec_postrun, as bench.sh's records), and the CPUs the vhost workers
# may run on (read 1 s into the run)
measure() {
	local name=$1 f w c t pre=()
	shift
	[ "$1" != taskset ] || { pre=("$1" "$2" "$3"); shift 3; }
	f=$(mktemp)
	# options before the first --name are every job's
	(cd /tmp && "${pre[@]}" "$B/fio" --direct=1 --rw=randread --bs=4k \
		--iodepth=32 --time_based --runtime=4 --size=256M \
		--norandommap --randrepeat=0 --group_reporting \
		--exec_prerun="cp /proc/stat /tmp/stat0" \
		--exec_postrun="cp /proc/stat /tmp/stat1" \
		--output-format=terse --terse-version=3 "$@" >"$f") &
	# the jobs start once the device is set up (its workers are there)
	for _ in $(seq 100); do
		[ -z "$(workers)" ] || break
		sleep 0.1
	done
	sleep 1
	w=$(workers)
	wait $!
	c=$(awk '/^ctxt / { print $2 }' /tmp/stat1 /tmp/stat0 | paste -sd-)
	t=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 }' /tmp/stat1 /tmp/stat0 | paste -sd-)
	awk -F';' -v n="$name" -v c=$((c)) -v t=$((t)) -v w="$w" \
		-v hz="$(getconf CLK_TCK)" 'NF > 8 { i += $8 } END {
		io = i * 4; if (io < 1) io = 1
		printf "%-16s %8d IOPS  %5.2f switches/IO  %6.1f us CPU/IO  workers on CPUs %s\n",
			n, i, c / io, t / hz * 1e6 / io, w }' "$f"
	rm -f "$f" /tmp/stat0 /tmp/stat1
}

# workers: the CPUs each vhost worker (a thread named vhost-*) of fio or
# the daemon may run on; nothing while there is none
workers() {
	local p t out=
	for p in $(pgrep -x fio) ${DP:-}; do
		for t in /proc/"$p"/task/*; do
			case $(cat "$t/comm" 2>/dev/null) in
			vhost-*) out+=" $(taskset -cp "${t##*/}" 2>/dev/null | sed 's/.*: //')" ;;
			esac
		done
	done
	echo "${out# }"
}

bridge_up() { # bridge_up [taskset...]
	rm -f /run/b.sock
	"$@" "$BRIDGE" --socket /run/b.sock --backend /dev/vbench --num-queues 2 \
		--engine bio --direct >/tmp/bridge.log 2>&1 &
	DP=$!
	for _ in $(seq 100); do [ -S /run/b.sock ] && break; sleep 0.1; done
}

bridge_down() { kill "$DP"; wait "$DP"; DP=; }

ENG=(--ioengine="external:$B/vblk-fio.so")
DIRECT=(--thread "${ENG[@]}" --vblk_engine=bio --vblk_queues=2 --name=d
	--filename=/dev/vbench --numjobs=2)
BRIDGED=(--thread "${ENG[@]}" --vblk_queues=2 --name=b --filename=/run/b.sock
	--numjobs=2)
for rep in 1 2 3; do
	echo "round $rep ($(nproc) vCPUs)"
	measure "direct 2q" "${DIRECT[@]}"
	bridge_up
	measure "bridge 2q" "${BRIDGED[@]}"
	bridge_down
	measure "direct 2q apart" taskset -c 0 "${DIRECT[@]}" --vblk_worker_cpus=1
	bridge_up taskset -c 1
	measure "bridge 2q apart" taskset -c 0 "${BRIDGED[@]}"
	bridge_down
done
