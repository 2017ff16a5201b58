#!/bin/sh
# The nested guest of tests/vm/nested-vm.sh, from the test host's own files;
# runs in the test host's root (tests/vm/nested.sh calls it there). In OUTDIR:
#   initramfs.cpio  busybox, the virtio_blk and ext4 modules of kernel KREL,
#                   guest-init.sh as /init (the kernel is the test host's
#                   /boot/vmlinuz-KREL)
#   tools.img       ext2 image with fio and every library it links: a second,
#                   read-only disk, read on demand (as an initramfs its 60 MiB
#                   take minutes to load in the nested guest)
#   mkguest.sh KREL OUTDIR
set -eu
krel=${1:?usage: mkguest.sh KREL OUTDIR}
out=${2:?usage: mkguest.sh KREL OUTDIR}
here=$(dirname "$0")
mods="lib/crc16 fs/mbcache fs/jbd2/jbd2 fs/ext4/ext4 drivers/block/virtio_blk"
for f in /bin/busybox /usr/bin/fio; do
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
for m in $mods; do
	xz -dc "/lib/modules/$krel/kernel/$m.ko.xz" >"$r/lib/${m##*/}.ko"
done
cp "$here/guest-init.sh" "$r/init"
chmod 755 "$r/init"
(cd "$r" && find . | cpio -o -H newc --quiet) >"$out/initramfs.cpio"

# The tools disk: fio and its libraries at the paths the loader found them.
t="$work/tools"
mkdir -p "$t/bin"
cp /usr/bin/fio "$t/bin/"
ldd /usr/bin/fio | awk '/=> \// { print $3 } /^[[:space:]]*\/[^ ]*ld-linux/ { print $1 }' |
	while read -r lib; do
		mkdir -p "$t${lib%/*}"
		cp -L "$lib" "$t$lib"
	done
rm -f "$out/tools.img"
mke2fs -q -t ext2 -L vblk-tools -d "$t" "$out/tools.img" \
	"$(( $(du -sm "$t" | cut -f1) + 16 ))M"
