#!/bin/bash
# Build the Debian 13 test host: a root directory (the build environment of
# the module and the tests) and a disk image of it that the VM boots.
# Cached under $CACHE by the content of packages.txt and this script; rebuilt
# when absent. Usage: mkrootfs.sh [--print-dir]
set -euo pipefail
. "$(dirname "$0")/common.sh"

if rootfs_ready; then
	[ "${1:-}" = --print-dir ] && echo "$ROOTFS_DIR"
	exit 0
fi
need_root "building the test host"
# One build of a test host at a time; a second caller waits and uses it.
mkdir -p "$CACHE"
exec 9>"$ROOTFS_DIR.lock"
flock -n 9 || { log "another build of this test host is running; waiting for it"; flock 9; }
if rootfs_ready; then
	[ "${1:-}" = --print-dir ] && echo "$ROOTFS_DIR"
	exit 0
fi
command -v debootstrap >/dev/null || die "debootstrap is missing: apt-get install debootstrap"
command -v mke2fs >/dev/null || die "mke2fs is missing: apt-get install e2fsprogs"

# pick_kernel ROOT: the image and headers packages of the newest kernel of
# $SUITE (not its backports) whose source package the archive serves as
# well: the module build takes vhost.h from that source (kernel-source.sh),
# the debug kernel is built from it. The archive has been seen listing a
# kernel's binaries and its source while the source's files were not there
# (404). The .dsc is fetched into the chroot's /tmp, a tmpfs of chroot_run.
pick_kernel() {
	local root=$1 abi ver dsc tried=
	for abi in $(chroot_run "$root" apt-cache search --names-only \
			'^linux-headers-[0-9][0-9.]*\+deb[0-9]+-amd64$' |
			sed -E 's/^linux-headers-([^ ]+) .*/\1/' | sort -rV); do
		ver=$(chroot_run "$root" apt-cache show --no-all-versions "linux-headers-$abi" |
			awk '/^Version:/ { print $2; exit }')
		case $ver in *~bpo*) continue ;; esac	# $SUITE's own kernels, not backports
		dsc=$(chroot_run "$root" apt-get source -q --print-uris "linux=$ver" 2>/dev/null |
			grep -oE "^'[^']+\.dsc'" | tr -d "'")
		if [ -n "$dsc" ] && chroot_run "$root" apt-cache show "linux-image-$abi" >/dev/null 2>&1 &&
			chroot_run "$root" /usr/lib/apt/apt-helper -q download-file "$dsc" /tmp/kernel.dsc >/dev/null 2>&1; then
			[ -z "$tried" ] || log "    (the archive does not serve the source of$tried: skipped)"
			echo "linux-image-$abi linux-headers-$abi"
			return 0
		fi
		tried="$tried $ver"
	done
	die "no kernel of $SUITE whose source the archive serves (tried:${tried:- none}); check the network and $MIRROR"
}

t0=$(date +%s)
work="$ROOTFS_DIR.tmp"
rm -rf "$work"
mkdir -p "$work" "$CACHE"
root="$work/root"
log "building test host $(basename "$ROOTFS_DIR") in $CACHE (takes several minutes once)"
log "step 1/4: debootstrap $SUITE (minbase)"
debootstrap --variant=minbase "$SUITE" "$root" "$MIRROR" |
	grep --line-buffered -E '^I: (Retrieving|Validating|Extracting|Installing|Configuring|Base system)' |
	awk '{ n++; if (n % 25 == 1 || /Base system/) { print "    " $0; fflush() } }'

log "step 2/4: installing $(grep -cvE '^(#|$)' "$VM_DIR/packages.txt") packages"
cat >"$root/etc/apt/sources.list" <<SRC
deb $MIRROR $SUITE main
deb-src $MIRROR $SUITE main
deb $MIRROR $SUITE-backports main
deb-src $MIRROR $SUITE-backports main
SRC
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod +x "$root/usr/sbin/policy-rc.d"
echo vhost-blk-testhost >"$root/etc/hostname"
mapfile -t pkgs < <(grep -vE '^(#|$)' "$VM_DIR/packages.txt")
chroot_run "$root" apt-get -q update
kpkgs=$(pick_kernel "$root")
log "    kernel: $kpkgs"
# shellcheck disable=SC2206
pkgs+=($kpkgs)
chroot_run "$root" apt-get -y -q -o Dpkg::Progress-Fancy=0 \
	install --no-install-recommends "${pkgs[@]}" |
	awk '/^(Unpacking|Setting up) / { n++; if (n % 40 == 1) { print "    " $0; fflush() } }
	     /^(E:|W:)/ { print; fflush() }'
chroot_run "$root" apt-get clean
install -m 0755 "$VM_DIR/vbt-init" "$root/sbin/vbt-init"
mkdir -p "$root/repo" "$root/out" "$root/cache"

log "step 3/4: kernel and manifest"
kimg=$(ls "$root"/boot/vmlinuz-* | sort -V | tail -n1)
kver=${kimg##*/vmlinuz-}
cp "$kimg" "$work/vmlinuz"
cp "$root/boot/initrd.img-$kver" "$work/initrd.img"
echo "$kver" >"$work/kernel-release"
chroot_run "$root" dpkg-query -W -f '${Package} ${Version}\n' >"$work/manifest.txt"

log "step 4/4: disk image"
size_mb=$(( $(du -sm "$root" | cut -f1) + 2048 ))
mke2fs -q -t ext4 -L vbt-root -d "$root" "$work/root.img" "${size_mb}M"

mv "$work" "$ROOTFS_DIR"
touch "$ROOTFS_DIR/.complete"
log "test host ready: $ROOTFS_DIR (kernel $kver, $(( $(date +%s) - t0 ))s)"
[ "${1:-}" = --print-dir ] && echo "$ROOTFS_DIR"
exit 0
