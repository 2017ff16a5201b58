#!/bin/bash
# A small root of a Debian release, for the kernels the test host (trixie,
# its own 6.12) cannot build for or boot by itself:
#   bookworm          Debian 12's 6.1: its toolchain (gcc-12 and
#                     linux-kbuild-6.1 for the module build) and its newest
#                     kernel, image and headers
#   trixie-backports  the newest 7.x image of trixie-backports, to boot
#                     (its modules build in the test host)
# Each kernel there has an initrd that loads 9p, so that run.sh can boot it
# on the test host's disk with this root's /lib/modules shared with the VM;
# build.sh and run.sh install other releases of the same suite on demand.
# Cached under $CACHE by the content of this script; rebuilt when absent.
#   mkbuildroot.sh SUITE        build it (once); prints its directory
set -euo pipefail
. "$(dirname "$0")/common.sh"

suite=${1:?usage: mkbuildroot.sh SUITE}
case $suite in
bookworm)
	dist=bookworm
	kpat='^linux-image-6\.1\.0-[0-9]+-amd64$'
	tools="build-essential sparse perl xz-utils"
	;;
trixie-backports)
	dist=trixie
	kpat='^linux-image-7\.[0-9.]+\+deb13-amd64$'
	tools=
	;;
*) die "no build root for '$suite' (bookworm or trixie-backports)" ;;
esac
dir=$(buildroot_dir "$suite")
if [ -f "$dir/.complete" ]; then
	echo "$dir"
	exit 0
fi
need_root "building the $suite build root"
mkdir -p "$CACHE"
exec 9>"$dir.lock"
flock -n 9 || { log "another build of $dir is running; waiting for it"; flock 9; }
if [ -f "$dir/.complete" ]; then
	echo "$dir"
	exit 0
fi
command -v debootstrap >/dev/null || die "debootstrap is missing: apt-get install debootstrap"
t0=$(date +%s)
work="$dir.tmp"
rm -rf "$work"
mkdir -p "$work"
root="$work/root"
log "building the $suite build root ${dir##*/} (once, a few minutes)"
log "step 1/3: debootstrap $dist (minbase)"
debootstrap --variant=minbase "$dist" "$root" "$MIRROR" |
	grep --line-buffered -E '^I: Base system' | sed 's/^/    /' >&2
{
	echo "deb $MIRROR $dist main"
	echo "deb-src $MIRROR $dist main"
	[ "$suite" = "$dist" ] || echo "deb $MIRROR $suite main"
} >"$root/etc/apt/sources.list"
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod +x "$root/usr/sbin/policy-rc.d"
# The initrd loads 9p: run.sh shares this root's /lib/modules with the VM.
mkdir -p "$root/etc/initramfs-tools"
printf '9pnet_virtio\n9p\n' >>"$root/etc/initramfs-tools/modules"
chroot_run "$root" apt-get -q update >/dev/null
abi=$(chroot_run "$root" apt-cache search --names-only "$kpat" |
	sed -E 's/^linux-image-([^ ]+) .*/\1/' | sort -V | tail -n1)
[ -n "$abi" ] || die "no kernel image matching $kpat in $suite"
log "step 2/3: tools and kernel $abi"
kpkgs="linux-image-$abi"
[ -z "$tools" ] || kpkgs="$kpkgs linux-headers-$abi"
# shellcheck disable=SC2086
chroot_run "$root" apt-get -y -q -o Dpkg::Progress-Fancy=0 install \
	-t "$suite" --no-install-recommends $tools kmod initramfs-tools $kpkgs |
	awk '/^(E:|W:)/ { print; fflush() }' >&2
chroot_run "$root" apt-get clean
[ -f "$root/boot/initrd.img-$abi" ] || die "no initrd for $abi in the $suite build root"
log "step 3/3: manifest"
echo "$abi" >"$work/kernel-release"
chroot_run "$root" dpkg-query -W -f '${Package} ${Version}\n' >"$work/manifest.txt"
rm -rf "$dir"
mv "$work" "$dir"
touch "$dir/.complete"
log "$suite build root ready: $dir (kernel $abi, $(( $(date +%s) - t0 ))s)"
echo "$dir"
