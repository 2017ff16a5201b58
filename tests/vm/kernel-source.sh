#!/bin/bash
# Take what the module build needs from the Debian source package of the
# kernel release KVER, with Debian's patches to those files applied:
#   drivers/vhost/vhost.h   the vhost core's private header (never committed)
#   scripts/checkpatch.pl   and its data files, for 'make lint'
# Cached in OUTDIR/KVER. Prints that directory (with --checkpatch, the
# directory of checkpatch.pl). Runs where apt can fetch the source: the test
# host, or a Debian KVM host with deb-src entries.
#   kernel-source.sh [--checkpatch] KVER OUTDIR
set -euo pipefail
want=vhost
if [ "${1:-}" = --checkpatch ]; then
	want=checkpatch
	shift
fi
kver=${1:?usage: kernel-source.sh [--checkpatch] KVER OUTDIR}
out=${2:?usage: kernel-source.sh [--checkpatch] KVER OUTDIR}
dest="$out/$kver"
result() {
	if [ "$want" = checkpatch ]; then echo "$dest/checkpatch"; else echo "$dest"; fi
}
if [ -f "$dest/SOURCE" ]; then
	result
	exit 0
fi
say() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

hdr="linux-headers-$kver"
srcver=$(dpkg-query -W -f '${source:Version}' "$hdr" 2>/dev/null) ||
	{ echo "error: $hdr is not installed; install it (apt-get install $hdr) first" >&2; exit 1; }
srcpkg=$(dpkg-query -W -f '${source:Package}' "$hdr")
work=$(mktemp -d)
chmod 755 "$work"
trap 'rm -rf "$work"' EXIT
say "fetching $srcpkg $srcver source for drivers/vhost/vhost.h (once per kernel)"
(cd "$work" && apt-get -q -o APT::Sandbox::User=root source --download-only "$srcpkg=$srcver" >/dev/null) ||
	{ echo "error: cannot fetch source $srcpkg=$srcver: add deb-src entries for its suite and run apt-get update" >&2; exit 1; }
orig=$(ls "$work"/*.orig.tar.* | head -n1)
deb=$(ls "$work"/*.debian.tar.* | head -n1)
files=(drivers/vhost scripts/checkpatch.pl scripts/spelling.txt scripts/const_structs.checkpatch)
mkdir -p "$work/tree"
tar -C "$work/tree" --strip-components=1 -xf "$orig" --wildcards "${files[@]/#/*/}"
tar -C "$work/tree" -xf "$deb" debian/patches
# Apply, in series order, every Debian patch that touches those files.
n=0
while read -r p _; do
	case "$p" in ''|'#'*) continue ;; esac
	f="$work/tree/debian/patches/$p"
	grep -qE '^\+\+\+ [^/]+/(drivers/vhost/|scripts/checkpatch)' "$f" || continue
	patch -s -d "$work/tree" -p1 <"$f"
	n=$((n + 1))
done <"$work/tree/debian/patches/series"
mkdir -p "$dest.tmp/checkpatch"
cp "$work/tree/drivers/vhost/vhost.h" "$dest.tmp/"
cp "$work/tree/scripts/checkpatch.pl" "$work/tree/scripts/spelling.txt" \
	"$work/tree/scripts/const_structs.checkpatch" "$dest.tmp/checkpatch/"
echo "$srcpkg $srcver, $n Debian patches to these files" >"$dest.tmp/SOURCE"
rm -rf "$dest"
mv "$dest.tmp" "$dest"
say "vhost.h for $kver taken from $srcpkg $srcver"
result
