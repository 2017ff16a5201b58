#!/bin/bash
# One cell, two builds of the module, in the test host (bench/ab.sh boots it).
# The backend is a raw image, allocated and written, on XFS on a null_blk
# with one submit queue: the block layer completes its requests in a
# softirq, after the submission, as a real disk's interrupt does (brd and
# a multi-queue null_blk complete inside submit_bio). Each repetition runs
# fio through /dev/vhost-blk with build A (/repo/build/ab/a.ko), then B,
# then io_uring on the image (the reference), at QD32 and QD1.
#   AB_REPS (5), AB_RUNTIME (5 s), AB_RW (randwrite), AB_ENGINE (kiocb),
#   AB_SIZE_MB (1024); results in /out (AB_OUT)
set -euo pipefail
B=/repo/build/bench
OUT=${AB_OUT:-/out}
REPS=${AB_REPS:-5} RUNTIME=${AB_RUNTIME:-5} RW=${AB_RW:-randwrite}
ENGINE=${AB_ENGINE:-kiocb} SIZE_MB=${AB_SIZE_MB:-1024}
IMG=/mnt/ab/disk.raw
say() { echo "ab: $*"; }

modprobe vhost
modprobe null_blk nr_devices=0
d=/sys/kernel/config/nullb/ab
mkdir "$d"
echo $((SIZE_MB + 512)) >"$d/size" && echo 1 >"$d/memory_backed" && echo 1 >"$d/power"
for _ in $(seq 50); do [ -b /dev/ab ] && break; sleep 0.2; done
mkfs.xfs -q -f /dev/ab && mkdir -p /mnt/ab && mount /dev/ab /mnt/ab
fallocate -l "${SIZE_MB}M" "$IMG"
dd if=/dev/zero of="$IMG" bs=1M count="$SIZE_MB" oflag=direct conv=notrunc status=none
say "$RW, 4k, $RUNTIME s a run, $REPS repetitions; engine $ENGINE; a raw image on XFS on a one-queue null_blk"

fio_run() { # NAME QD ARGS...: one run, its JSON in $OUT/NAME-qdQD.json
	local name=$1 qd=$2
	shift 2
	"$B/fio" --name=ab --filename="$IMG" "$@" --size="${SIZE_MB}M" --direct=1 \
		--rw="$RW" --bs=4k --iodepth="$qd" --numjobs=1 --thread --time_based \
		--runtime="$RUNTIME" --norandommap --randrepeat=0 --lat_percentiles=1 \
		--output-format=json --output="$OUT/$name-qd$qd.json" >/dev/null
}

for rep in $(seq "$REPS"); do
	for m in a b; do
		insmod "/repo/build/ab/$m.ko"
		for qd in 32 1; do
			fio_run "$m-$rep" "$qd" --ioengine="external:$B/vblk-fio.so" \
				--vblk_engine="$ENGINE" --vblk_queues=1
		done
		say "$m, repetition $rep: events $(tr '\n' ' ' </sys/kernel/debug/vhost_blk/events)"
		rmmod vhost_blk
	done
	for qd in 32 1; do
		fio_run "host-$rep" "$qd" --ioengine=io_uring --fixedbufs=1 --registerfiles=1
	done
done

# Each build's medians, and B over A paired by repetition.
python3 - "$OUT" "$RW" <<'EOF'
import glob, json, os, statistics, sys

out, rw = sys.argv[1], "read" if "read" in sys.argv[2] else "write"
runs = {}
for f in glob.glob(os.path.join(out, "*-qd*.json")):
    name, rep, qd = os.path.basename(f)[:-5].split("-")
    text = open(f).read()
    job = json.loads(text[text.index("{"):])["jobs"][0][rw]
    runs[(name, qd, int(rep))] = (job["iops"],
                                  job["lat_ns"]["percentile"]["50.000000"] / 1000)
for qd in ("qd32", "qd1"):
    reps = sorted({r for (n, q, r) in runs if q == qd})
    for name in ("a", "b", "host"):
        v = [runs[(name, qd, r)] for r in reps if (name, qd, r) in runs]
        print("ab: %-5s %-4s IOPS %s; median %.0f, p50 %.1f us" % (
            qd, name, " ".join("%.0f" % i for i, _ in v),
            statistics.median(i for i, _ in v), statistics.median(l for _, l in v)))
    pairs = [(runs[("b", qd, r)], runs[("a", qd, r)]) for r in reps
             if ("a", qd, r) in runs and ("b", qd, r) in runs]
    print("ab: %-5s b/a  IOPS %s, p50 %s" % (
        qd, " ".join("%.2f" % (b[0] / a[0]) for b, a in pairs),
        " ".join("%.2f" % (b[1] / a[1]) for b, a in pairs)))
EOF
