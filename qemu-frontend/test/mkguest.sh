#!/bin/sh
# The nested guest of tests/vm/nested-vm.sh; runs in the test host's root
# (tests/vm/nested.sh calls it there). In OUTDIR:
#   bzImage         KERNEL, the guest's kernel (tests/vm/mkkernel.sh --guest:
#                   everything it needs built in)
#   initramfs.cpio  busybox, guest-init.sh as /init
#   tools.img       ext2 image with FIO (a static fio, mkfio.sh) as bin/fio:
#                   a second, read-only disk, read on demand
#   mkguest.sh KERNEL OUTDIR FIO
set -eu
usage="usage: mkguest.sh KERNEL OUTDIR FIO"
kernel=${1:?$usage}
out=${2:?$usage}
fio=${3:?$usage}
here=$(dirname "$0")
for f in /bin/busybox "$kernel" "$fio"; do
	[ -e "$f" ] || { echo "error: $f is missing from the test host" >&2; exit 1; }
done
/bin/busybox --list | grep -qx poweroff ||
	{ echo "error: /bin/busybox is not busybox-static's full build" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"

# The initramfs: small, the firmware of the nested guest loads it slowly.
# The kernel has what the guest needs built in: no modules.
r="$work/initramfs"
mkdir -p "$r/bin" "$r/dev" "$r/proc" "$r/sys" "$r/tmp" "$r/tools"
cp /bin/busybox "$r/bin/"
cp "$here/guest-init.sh" "$r/init"
chmod 755 "$r/init"
(cd "$r" && find . | cpio -o -H newc --quiet) >"$out/initramfs.cpio"
cp "$kernel" "$out/bzImage"

# The tools disk: the static fio.
t="$work/tools"
mkdir -p "$t/bin"
cp "$fio" "$t/bin/fio"
rm -f "$out/tools.img"
mke2fs -q -t ext2 -L vblk-tools -d "$t" "$out/tools.img" \
	"$(( $(du -sm "$t" | cut -f1) + 16 ))M"
