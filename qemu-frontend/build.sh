#!/bin/bash
# Build qemu-system-x86_64 with the vhost-blk device: Debian's QEMU source of
# the version the test host ships (fetched with apt-get source, never
# committed), our uapi header copied in as scripts/update-linux-headers.sh
# would, the patches of series applied, a minimal x86_64 configuration
# (devices.mak; TCG and KVM; no GUI, no docs, no tools). Built inside the
# test host's root (Debian 13 toolchain), at most 2 jobs, niced.
# Cached in $CACHE/qemu-KEY, KEY = hash of the QEMU version, the series, its
# patches, devices.mak, the uapi header and this script:
#   qemu-system-x86_64, checkpatch.log (QEMU's checkpatch.pl over the series),
#   checkpatch.rc, configure.log, build.log
# and installed as build/qemu/qemu-system-x86_64.
# Usage: build.sh [--print-dir]
set -euo pipefail
. "$(dirname "$0")/../tests/vm/common.sh"
QF=$REPO/qemu-frontend

"$VM_DIR/mkrootfs.sh"
need_root "building QEMU in the test host"
version=$(awk '$1 == "qemu-system-x86" { print $2 }' "$ROOTFS_DIR/manifest.txt")
[ -n "$version" ] || die "the test host has no qemu-system-x86 package (tests/vm/packages.txt)"
mapfile -t patches < <(grep -vE '^(#|$)' "$QF/series")
[ ${#patches[@]} -gt 0 ] || die "qemu-frontend/series lists no patch"
key=$({ echo "qemu $version"; cat "$QF/series" "$QF/devices.mak" "$QF/build.sh" \
	"$REPO/uapi/vhost_blk.h"; (cd "$QF/patches" && cat "${patches[@]}"); } |
	sha256sum | cut -c1-16)
QDIR="$CACHE/qemu-$key"
cq="/cache/qemu-$key"   # $QDIR as the test host sees it

install_() {
	mkdir -p "$REPO/build/qemu"
	if ! cmp -s "$QDIR/qemu-system-x86_64" "$REPO/build/qemu/qemu-system-x86_64"; then
		cp "$QDIR/qemu-system-x86_64" "$REPO/build/qemu/qemu-system-x86_64.tmp"
		mv "$REPO/build/qemu/qemu-system-x86_64.tmp" "$REPO/build/qemu/qemu-system-x86_64"
	fi
	echo "qemu $version, vhost-blk series qemu-$key" >"$REPO/build/qemu/VERSION"
	[ "${1:-}" = --print-dir ] && echo "$QDIR"
	exit 0
}
[ -f "$QDIR/.complete" ] && install_ "$@"

# One build at a time (2 cores); a second caller waits, then uses it.
mkdir -p "$CACHE"
exec 9>"$CACHE/.qemu.lock"
flock -n 9 || { log "another QEMU build is running; waiting for it"; flock 9; }
[ -f "$QDIR/.complete" ] && install_ "$@"

t0=$(date +%s)
phase() { log "qemu: $* (+$(( $(date +%s) - t0 ))s)"; }
log "building QEMU $version with the vhost-blk series (qemu-$key; once, 5-10 minutes on 2 cores)"

# 1. Build dependencies, into the test host's root (not its VM image).
deps=(meson ninja-build python3-venv pkgconf libglib2.0-dev zlib1g-dev patch)
n=$(in_testhost dpkg-query -W -f '${db:Status-Abbrev}\n' "${deps[@]}" 2>/dev/null | grep -c '^ii' || true)
if [ "$n" != ${#deps[@]} ]; then
	phase "installing build dependencies: ${deps[*]}"
	in_testhost apt-get -q update >/dev/null
	in_testhost apt-get -y -q install --no-install-recommends "${deps[@]}" >/dev/null ||
		die "cannot install ${deps[*]} into the test host"
fi

# 2. Source.
rm -rf "$QDIR"
mkdir -p "$QDIR"
unpack_source qemu "$version" "$cq/src" "$QDIR/unpack.log"

# 3. Our header where QEMU keeps kernel headers, then the series.
cp "$REPO/uapi/vhost_blk.h" "$QDIR/src/linux-headers/linux/vhost_blk.h"
for p in "${patches[@]}"; do
	in_testhost patch -s -d "$cq/src" -p1 --batch --forward -i "/repo/qemu-frontend/patches/$p" ||
		die "patch $p does not apply to QEMU $version"
done
phase "applied ${#patches[@]} patches"
rc=0
in_testhost sh -c "cd $cq/src && perl scripts/checkpatch.pl $(printf '/repo/qemu-frontend/patches/%s ' "${patches[@]}")" \
	>"$QDIR/checkpatch.log" 2>&1 || rc=$?
echo "$rc" >"$QDIR/checkpatch.rc"
phase "checkpatch.pl: $(tail -n 1 "$QDIR/checkpatch.log")"

# 4. Configure: x86_64 only, what devices.mak lists, nothing optional.
cp "$QF/devices.mak" "$QDIR/src/configs/devices/x86_64-softmmu/vhost-blk.mak"
phase "configuring"
in_testhost sh -c "mkdir -p $cq/src/build && cd $cq/src/build && ../configure \
	--target-list=x86_64-softmmu --prefix=/usr \
	--firmwarepath=/usr/share/qemu:/usr/share/seabios:/usr/lib/ipxe/qemu \
	--without-default-features --without-default-devices \
	--with-devices-x86_64=vhost-blk --enable-kvm --enable-tcg \
	--enable-vhost-kernel --disable-docs --disable-debug-info \
	--disable-install-blobs --disable-download --disable-relocatable \
	--audio-drv-list=" \
	>"$QDIR/configure.log" 2>&1 ||
	{ tail -n 30 "$QDIR/configure.log" >&2; die "QEMU's configure failed (above; $QDIR/configure.log)"; }

# 5. Compile, a progress line a minute; the full output in build.log.
phase "compiling qemu-system-x86_64 (ninja -j2, niced)"
last=$SECONDS
set +e
in_testhost nice -n 10 ninja -C "$cq/src/build" -j2 qemu-system-x86_64 2>&1 |
	while IFS= read -r line; do
		printf '%s\n' "$line"
		if [ $((SECONDS - last)) -ge 60 ]; then
			last=$SECONDS
			log "    $(echo "$line" | grep -oE '^\[[0-9]+/[0-9]+\]' || echo '[?]') steps done"
		fi
	done >"$QDIR/build.log"
rc=${PIPESTATUS[0]}
set -e
if [ "$rc" != 0 ]; then
	grep -E -B2 -A10 'error|FAILED' "$QDIR/build.log" | tail -n 40 >&2
	die "the QEMU build failed (above; full log $QDIR/build.log)"
fi
in_testhost strip -o "$cq/qemu-system-x86_64" "$cq/src/build/qemu-system-x86_64"
in_testhost "$cq/qemu-system-x86_64" --version >/dev/null ||
	die "the built qemu-system-x86_64 does not run"
in_testhost "$cq/qemu-system-x86_64" -device help 2>&1 | grep -q '"vhost-blk-pci"' ||
	die "the built qemu-system-x86_64 has no vhost-blk-pci device"
rm -rf "$QDIR/src"
touch "$QDIR/.complete"
phase "built $QDIR/qemu-system-x86_64 ($(grep -cE '^\[[0-9]+/' "$QDIR/build.log") build steps)"
install_ "$@"
