#!/bin/bash
# A small root of another Debian release, for the kernels the test host
# (trixie) cannot build for or boot by itself: Debian 12's 6.1 needs its
# own gcc-12 and linux-kbuild-6.1. It holds the toolchain, that release's
# newest kernel (image and headers; more headers are installed on demand by
# build.sh) and an initrd of each kernel that loads 9p, so that run.sh can
# boot it on the test host's disk with its modules shared from this root.
# Cached under $CACHE by the content of this script; rebuilt when absent.
#   mkbuildroot.sh SUITE        build it (once); prints its directory
set -euo pipefail
. "$(dirname "$0")/common.sh"

suite=${1:?usage: mkbuildroot.sh SUITE}
case $suite in
bookworm) kpat='^linux-headers-6\.1\.0-[0-9]+-amd64$' ;;
*) die "no build root for '$suite' (bookworm only; trixie's kernels build in the test host)" ;;
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
log "step 1/3: debootstrap $suite (minbase)"
debootstrap --variant=minbase "$suite" "$root" "$MIRROR" |
	grep --line-buffered -E '^I: Base system' | sed 's/^/    /' >&2
cat >"$root/etc/apt/sources.list" <<SRC
deb $MIRROR $suite main
deb-src $MIRROR $suite main
SRC
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod +x "$root/usr/sbin/policy-rc.d"
# The initrd loads 9p: run.sh shares this root's /lib/modules with the VM.
mkdir -p "$root/etc/initramfs-tools"
printf '9pnet_virtio\n9p\n' >>"$root/etc/initramfs-tools/modules"
chroot_run "$root" apt-get -q update >/dev/null
abi=$(chroot_run "$root" apt-cache search --names-only "$kpat" |
	sed -E 's/^linux-headers-([^ ]+) .*/\1/' | sort -V | tail -n1)
[ -n "$abi" ] || die "no kernel headers matching $kpat in $suite"
log "step 2/3: toolchain and kernel $abi"
chroot_run "$root" apt-get -y -q -o Dpkg::Progress-Fancy=0 install \
	--no-install-recommends build-essential sparse perl xz-utils kmod \
	initramfs-tools "linux-image-$abi" "linux-headers-$abi" |
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
