#!/bin/bash
# make deb: build/deb/vhost-blk-dkms_VERSION_all.deb, the module's sources
# for DKMS as Debian packages them (dh_dkms's layout and maintainer
# scripts), built with dpkg-deb alone:
#   /usr/src/vhost-blk-VERSION/       Kbuild, src/, uapi/, dkms.conf, and
#                                     src/dkms/'s Makefile (DKMS's
#                                     MAKE), abi-check.sh, and
#                                     tests/vm/kernel-source.sh (vhost.h)
#   /usr/lib/udev/rules.d/60-vhost-blk.rules
#   /usr/include/linux/vhost_blk.h    the ioctl API
# src/VERSION is the version, the one place it
# is written. Prints the package's path.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
say() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
command -v dpkg-deb >/dev/null || { echo "error: dpkg-deb is missing: apt-get install dpkg" >&2; exit 1; }
version=$(cat "$repo/src/VERSION")
pkg=vhost-blk-dkms
out=$repo/build/deb
deb=$out/${pkg}_${version}_all.deb
stage=$out/root
rm -rf "$stage"
umask 022
srcdir=$stage/usr/src/vhost-blk-$version
doc=$stage/usr/share/doc/$pkg
mkdir -p "$srcdir/src" "$srcdir/uapi" "$stage/DEBIAN" "$doc" \
	"$stage/usr/lib/udev/rules.d" "$stage/usr/include/linux"
sub() { sed "s/@VERSION@/$version/g" "$1"; }

install -m 644 "$repo/Kbuild" "$srcdir/"
install -m 644 "$repo"/src/*.[ch] "$srcdir/src/"
install -m 644 "$repo/uapi/vhost_blk.h" "$srcdir/uapi/"
install -m 644 "$repo/src/dkms/Makefile" "$srcdir/"
install -m 755 "$repo/src/dkms/abi-check.sh" "$repo/tests/vm/kernel-source.sh" "$srcdir/"
sub "$repo/src/dkms/dkms.conf.in" >"$srcdir/dkms.conf"
install -m 644 "$repo/src/60-vhost-blk.rules" "$stage/usr/lib/udev/rules.d/"
install -m 644 "$repo/uapi/vhost_blk.h" "$stage/usr/include/linux/"

# (dates from the last commit: the same tree gives the same package)
date=$(git -C "$repo" log -1 --format=%cD 2>/dev/null || date -R)
export SOURCE_DATE_EPOCH
SOURCE_DATE_EPOCH=$(date -d "$date" +%s)
cat >"$doc/copyright" <<EOT
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: vhost-blk

Files: *
Copyright: 2025-2026 the vhost-blk authors
License: GPL-2
 This program is free software; you can redistribute it and/or modify it
 under the terms of the GNU General Public License version 2 as published
 by the Free Software Foundation.
 .
 On Debian systems, the complete text of the GNU General Public License
 version 2 can be found in /usr/share/common-licenses/GPL-2.
EOT
printf '%s (%s) unstable; urgency=medium\n\n  * vhost-blk %s (see the repository'"'"'s git log).\n\n -- %s  %s\n' \
	"$pkg" "$version" "$version" "vhost-blk maintainers <maintainers@vhost-blk.invalid>" "$date" |
	gzip -9n >"$doc/changelog.gz"

sub "$repo/src/dkms/postinst.in" >"$stage/DEBIAN/postinst"
sub "$repo/src/dkms/prerm.in" >"$stage/DEBIAN/prerm"
install -m 644 "$repo/src/dkms/postrm" "$stage/DEBIAN/postrm"
chmod 755 "$stage/DEBIAN/postinst" "$stage/DEBIAN/prerm" "$stage/DEBIAN/postrm"
cat >"$stage/DEBIAN/control" <<EOT
Package: $pkg
Version: $version
Architecture: all
Section: kernel
Priority: optional
Maintainer: vhost-blk maintainers <maintainers@vhost-blk.invalid>
Depends: dkms (>= 2.8), xz-utils
Recommends: linux-source
Installed-Size: $(du -sk --exclude=DEBIAN "$stage" | cut -f1)
Description: virtio-blk served by the host kernel (DKMS module sources)
 vhost-blk is a kernel module, vhost_blk.ko, that serves virtio-blk
 virtqueues from inside the host kernel on the kernel's vhost core, as
 vhost-net and vhost-scsi do. A VMM opens /dev/vhost-blk, sets up memory
 and rings with the vhost ioctls and attaches a raw image or block device.
 .
 This package builds the module for every kernel with headers installed
 through DKMS. The build needs the vhost core's private header of the
 kernel's exact source: linux-source-X.Y of the kernel's version. It
 also installs the udev rule of /dev/vhost-blk (group kvm, mode 0660) and
 the ioctl header linux/vhost_blk.h.
EOT
(cd "$stage" && find . -path ./DEBIAN -prune -o -type f -printf '%P\n' | LC_ALL=C sort |
	xargs md5sum) >"$stage/DEBIAN/md5sums"
chmod 644 "$stage/DEBIAN/md5sums" "$stage/DEBIAN/control"
find "$stage" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
rm -f "$deb"
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
say "built ${deb#"$repo"/} ($(du -k "$deb" | cut -f1) KiB)"
echo "$deb"
