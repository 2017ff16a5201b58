#!/bin/bash
# vhost-blk-user with a vhost worker a queue against one shared worker
# (the daemon before commit 3f495ff), beside the device driven directly,
# null_blk randread QD32 with 1 and 2 queues, 3 s a run, 3 rounds; in the
# test host (docs/bench.md, "The bridge"):
#   git show 5e08c4e:qemu-frontend/bridge/X > build/diag/src/X   (each file)
#   gcc -O2 -D_GNU_SOURCE -Iuapi -o build/diag/vhost-blk-user-shared build/diag/src/*.c
#   tests/vm/run.sh /repo/bench/vm/bridge-workers.sh
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
SIZE_MB=256
. /repo/bench/vm/setup.sh
B=/repo/build/bench
OLD=/repo/build/diag/vhost-blk-user-shared
[ -x "$OLD" ] || { echo "no $OLD: build it as the header says" >&2; exit 1; }
modprobe vhost && insmod "/repo/build/kmod/$(uname -r)/vhost_blk.ko" || exit 1
setup_null_blk || exit 1
fioq() { # fioq FILE QUEUES [engine options]: its IOPS
	local f=$1 q=$2
	shift 2
	(cd /tmp && "$B/fio" --name=d --filename="$f" --ioengine="external:$B/vblk-fio.so" \
		--vblk_queues="$q" "$@" --direct=1 --rw=randread --bs=4k --iodepth=32 \
		--numjobs="$q" --thread --group_reporting --time_based --runtime=3 \
		--size=256M --norandommap --randrepeat=0 --output-format=terse --terse-version=3 |
		awk -F';' 'NF > 8 { print $8 }')
}
daemon() { # daemon BINARY QUEUES
	rm -f /run/d.sock
	"$1" --socket /run/d.sock --backend /dev/vbench --num-queues "$2" --engine bio --direct >/tmp/d.log 2>&1 &
	DP=$!
	for _ in $(seq 100); do [ -S /run/d.sock ] && break; sleep 0.1; done
}
for rep in 1 2 3; do
	for q in 1 2; do
		echo "round $rep q$q direct bio, a worker a queue: $(fioq /dev/vbench "$q" --vblk_engine=bio)"
		echo "round $rep q$q direct bio, one worker: $(fioq /dev/vbench "$q" --vblk_engine=bio --vblk_workers=shared)"
		daemon /repo/build/guest/vhost-blk-user "$q"
		echo "round $rep q$q bridge, a worker a queue: $(fioq /run/d.sock "$q")"
		kill "$DP"; wait "$DP"
		daemon "$OLD" "$q"
		echo "round $rep q$q bridge, one worker: $(fioq /run/d.sock "$q")"
		kill "$DP"; wait "$DP"
	done
done
