#!/bin/bash
# The fio engine against qemu-storage-daemon, natively in the test host's
# root (no VM, no module: vhost-user needs neither): two jobs on two queues
# write 16 MiB each with checksums and read them back. bench/run.sh runs it
# before booting the VM, so a broken engine costs seconds, not a boot.
#   selftest.sh BUILD_DIR (build/bench as the test host sees it)
set -euo pipefail
b=${1:?usage: selftest.sh BUILD_DIR}
work=$(mktemp -d)
qsd=
cleanup() {
	[ -z "$qsd" ] || { kill "$qsd" 2>/dev/null; wait "$qsd" 2>/dev/null; }
	rm -rf "$work"
}
trap cleanup EXIT
truncate -s 64M "$work/disk.raw"
qemu-storage-daemon \
	--blockdev "driver=file,node-name=disk,filename=$work/disk.raw,aio=io_uring,cache.direct=on" \
	--object iothread,id=iot0 \
	--export "type=vhost-user-blk,id=exp0,node-name=disk,addr.type=unix,addr.path=$work/sock,writable=on,num-queues=2,iothread=iot0" \
	>"$work/qsd.log" 2>&1 &
qsd=$!
for _ in $(seq 100); do
	[ -S "$work/sock" ] && break
	sleep 0.1
done
[ -S "$work/sock" ] || { cat "$work/qsd.log" >&2; echo "selftest: qemu-storage-daemon did not start" >&2; exit 1; }
if ! (cd "$work" && "$b/fio" --name=selftest --ioengine="external:$b/vblk-fio.so" \
	--filename="$work/sock" --thread --numjobs=2 --vblk_queues=2 \
	--offset_increment=16M --size=16M --rw=randwrite --bs=16k \
	--iodepth=16 --verify=crc32c --do_verify=1 --output="$work/fio.log") ||
	! grep -q 'err= 0' "$work/fio.log" || grep -qE 'err= *[1-9]|verify:.*bad' "$work/fio.log"; then
	tail -n 20 "$work/fio.log" >&2
	echo "selftest: the fio engine failed against qemu-storage-daemon (above)" >&2
	exit 1
fi
echo "selftest: vblk-fio.so: 2 jobs on 2 queues of qemu-storage-daemon (vhost-user) wrote 16 MiB each with checksums and read them back"
