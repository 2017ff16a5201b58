#!/bin/sh
# The nested guest of tests/vm/nested-vm.sh, from the test host's own files;
# runs in the test host's root (tests/vm/nested.sh calls it there). In OUTDIR:
#   initramfs.cpio  busybox, the virtio_blk and ext4 modules of kernel KREL
#                   and their dependencies,
#                   guest-init.sh as /init (the kernel is the test host's
#                   /boot/vmlinuz-KREL)
#   tools.img       ext2 image with FIO (a static fio, mkfio.sh) as bin/fio:
#                   a second, read-only disk, read on demand
#   mkguest.sh KREL OUTDIR FIO
set -eu
usage="usage: mkguest.sh KREL OUTDIR FIO"
krel=${1:?$usage}
out=${2:?$usage}
fio=${3:?$usage}
here=$(dirname "$0")
for f in /bin/busybox "$fio"; do
	[ -e "$f" ] || { echo "error: $f is missing from the test host" >&2; exit 1; }
done
/bin/busybox --list | grep -qx poweroff ||
	{ echo "error: /bin/busybox is not busybox-static's full build" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"

# The initramfs: small, the firmware of the nested guest loads it slowly.
r="$work/initramfs"
mkdir -p "$r/bin" "$r/dev" "$r/proc" "$r/sys" "$r/tmp" "$r/tools" "$r/lib"
cp /bin/busybox "$r/bin/"
# virtio_blk and ext4 with what they need, soft dependencies included (ext4
# wants a crc32c driver), in load order: lib/modules.order.
modprobe -a -S "$krel" --show-depends virtio_blk ext4 |
	awk '$1 == "insmod" && !seen[$2]++ { print $2 }' >"$work/mods"
[ -s "$work/mods" ] || { echo "error: no modules of $krel for virtio_blk and ext4" >&2; exit 1; }
while read -r m; do
	name=${m##*/}
	name=${name%%.ko*}
	case $m in
	*.ko.xz) xz -dc "$m" >"$r/lib/$name.ko" ;;
	*.ko) cp "$m" "$r/lib/$name.ko" ;;
	*) echo "error: $m: a compression mkguest.sh does not know" >&2; exit 1 ;;
	esac
	echo "$name" >>"$r/lib/modules.order"
done <"$work/mods"
cp "$here/guest-init.sh" "$r/init"
chmod 755 "$r/init"
(cd "$r" && find . | cpio -o -H newc --quiet) >"$out/initramfs.cpio"

# The tools disk: the static fio.
t="$work/tools"
mkdir -p "$t/bin"
cp "$fio" "$t/bin/fio"
rm -f "$out/tools.img"
mke2fs -q -t ext2 -L vblk-tools -d "$t" "$out/tools.img" \
	"$(( $(du -sm "$t" | cut -f1) + 16 ))M"
