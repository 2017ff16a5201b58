#!/bin/bash
# make demo: boot the test host, put a raw image file on XFS, serve it through
# /dev/vhost-blk and drive it through the virtio-blk rings with vblk-demo;
# then QEMU with -device vhost-blk-pci boots a guest on such an image
# (nested-vm.sh --demo, the guest's console shown).
set -euo pipefail
. "$(dirname "$0")/common.sh"
"$VM_DIR/build.sh" module
"$VM_DIR/build.sh" guest
"$VM_DIR/nested.sh" --prepare
exec "$VM_DIR/run.sh" --mem 4096 --timeout 1500 bash -c '
set -e
echo "demo: loading vhost and vhost_blk"
modprobe vhost
insmod /repo/build/kmod/$(uname -r)/vhost_blk.ko
echo "demo: 2 GiB RAM disk, XFS on it, a 1 GiB raw image file (preallocated)"
modprobe brd rd_nr=1 rd_size=$((2048 * 1024))
mkfs.xfs -q -f /dev/ram0
mkdir -p /mnt/xfs && mount /dev/ram0 /mnt/xfs
fallocate -l 1G /mnt/xfs/disk.raw
echo "demo: (the VM is emulated by TCG: absolute IOPS here are far below a KVM host)"
echo "demo: serving /mnt/xfs/disk.raw (O_DIRECT) through /dev/vhost-blk"
/repo/build/guest/vblk-demo --direct --seconds 10 --qd 16 /mnt/xfs/disk.raw
umount /mnt/xfs
rmmod brd vhost_blk
echo "demo: QEMU with -device vhost-blk-pci boots a guest, writes, runs fio, reboots, verifies"
echo "demo: (QEMU runs under TCG inside this TCG VM: the guest needs several minutes)"
/repo/tests/vm/nested-vm.sh --demo
'
