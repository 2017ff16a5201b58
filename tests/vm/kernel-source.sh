#!/bin/bash
# Take what the module build needs from the Debian source package of the
# kernel release KVER, with Debian's patches to those files applied, or,
# where the archive no longer serves that source (it drops old versions and
# backports' sources), from the binary package linux-source-X.Y (a tarball
# of the patched tree) when its version is the kernel's own:
#   drivers/vhost/vhost.h   the vhost core's private header (never committed)
#   scripts/checkpatch.pl   and its data files, for 'make lint'
#   drivers/vhost/vhost.c   the vhost core itself, for the ABI check of the
#                           DKMS build (abi-check.sh)
# Cached in OUTDIR/KVER, with VERSION (the source version) and SOURCE (where
# it came from). Prints that directory (with --checkpatch, the directory of
# checkpatch.pl). Runs where apt can fetch the source: the test host, or a
# Debian KVM host with deb-src entries.
# --dkms: the DKMS package's build (installed in /usr/src/vhost-blk-VERSION):
# takes the files from the installed linux-source-X.Y tarball when that
# package's version is the kernel's, else from the source package if the
# admin configured deb-src, and never downloads a binary package; fails
# saying what to install. VHOST_BLK_DKMS names the DKMS module/version for
# that message.
#   kernel-source.sh [--checkpatch|--dkms] KVER OUTDIR
set -euo pipefail
want=vhost
mode='test'
case ${1:-} in
--checkpatch) want=checkpatch; shift ;;
--dkms) mode=dkms; shift ;;
esac
kver=${1:?usage: kernel-source.sh [--checkpatch|--dkms] KVER OUTDIR}
out=${2:?usage: kernel-source.sh [--checkpatch|--dkms] KVER OUTDIR}
dest="$out/$kver"
result() {
	if [ "$want" = checkpatch ]; then echo "$dest/checkpatch"; else echo "$dest"; fi
}
say() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

hdr="linux-headers-$kver"
srcver=$(dpkg-query -W -f '${source:Version}' "$hdr" 2>/dev/null) ||
	{ echo "error: $hdr is not installed; install it (apt-get install $hdr) first" >&2; exit 1; }
srcpkg=$(dpkg-query -W -f '${source:Package}' "$hdr")
# (the DKMS build checks that the cache is of the headers' version: a
# kernel package rebuilt under the same release gets its own files)
if [ -f "$dest/SOURCE" ] &&
	{ [ "$mode" = test ] || [ "$(cat "$dest/VERSION" 2>/dev/null)" = "$srcver" ]; }; then
	result
	exit 0
fi
xy=$(echo "$kver" | grep -oE '^[0-9]+\.[0-9]+')
lsrc="linux-source-$xy"
work=$(mktemp -d)
chmod 755 "$work"
trap 'rm -rf "$work"' EXIT
files=(drivers/vhost scripts/checkpatch.pl scripts/spelling.txt scripts/const_structs.checkpatch)
mkdir -p "$work/tree"

# from_source: the source package, with Debian's patches to these files.
from_source() {
	local orig deb p f
	say "fetching $srcpkg $srcver source for drivers/vhost/vhost.h (once per kernel)"
	(cd "$work" && apt-get -q -o APT::Sandbox::User=root source --download-only "$srcpkg=$srcver" >/dev/null 2>&1) ||
		return 1
	orig=$(ls "$work"/*.orig.tar.* | head -n1)
	deb=$(ls "$work"/*.debian.tar.* | head -n1)
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
	origin="$srcpkg $srcver, $n Debian patches to these files"
}

# untar: the files out of a linux-source-X.Y tarball (xz) on stdin.
untar() {
	tar -C "$work/tree" --strip-components=1 -xJ --wildcards "${files[@]/#/*/}"
}

# from_tarball: the installed linux-source-X.Y, if of the kernel's version.
from_tarball() {
	local ver
	ver=$(dpkg-query -W -f '${db:Status-Abbrev} ${Version}' "$lsrc" 2>/dev/null) || return 1
	case $ver in
	[ih][iUFHWt]*) ver=${ver##* } ;;
	*) return 1 ;;
	esac
	[ -f "/usr/src/$lsrc.tar.xz" ] || return 1
	if [ "$ver" != "$srcver" ]; then
		say "$lsrc $ver is installed, but $kver is of $srcpkg $srcver: not using it"
		return 1
	fi
	say "taking drivers/vhost from /usr/src/$lsrc.tar.xz ($ver)"
	untar <"/usr/src/$lsrc.tar.xz"
	origin="$lsrc $ver (/usr/src/$lsrc.tar.xz)"
}

# from_binary: linux-source-X.Y of exactly the kernel's version (its
# tarball has Debian's patches applied already).
from_binary() {
	local pkg=$lsrc ver deb
	ver=$(apt-cache show "$pkg=$srcver" 2>/dev/null | awk '/^Version:/ { print $2; exit }')
	if [ "$ver" != "$srcver" ]; then
		echo "error: the archive serves neither the source of $srcpkg $srcver nor $pkg $srcver" \
			"(it has $pkg: $(apt-cache madison "$pkg" 2>/dev/null | awk '{ printf "%s ", $3 }')):" \
			"no drivers/vhost/vhost.h of this exact kernel; add deb-src entries for its suite," \
			"or use a kernel release whose source is served" >&2
		return 1
	fi
	say "the source of $srcpkg $srcver is not served: taking vhost.h from $pkg $ver"
	(cd "$work" && apt-get -q -o APT::Sandbox::User=root download "$pkg=$ver" >/dev/null) ||
		{ echo "error: cannot download $pkg=$ver" >&2; return 1; }
	deb=$(ls "$work"/"$pkg"_*.deb | head -n1)
	dpkg-deb --fsys-tarfile "$deb" | tar -xO "./usr/src/$pkg.tar.xz" | untar
	origin="$pkg $ver (binary package, Debian's patches applied)"
}

# has_deb_src: apt has source indices (deb-src entries) at all.
has_deb_src() {
	apt-get indextargets --format '$(CREATED_BY)' 2>/dev/null | grep -qx Sources
}

# The DKMS build's error: what the admin installs, then what to run.
no_dkms_source() {
	local m=${VHOST_BLK_DKMS:-vhost-blk/VERSION}
	echo "error: no drivers/vhost/vhost.h of $kver's exact source ($srcpkg $srcver):" \
		"vhost-blk needs the private header of the kernel's vhost core." \
		"Install it: apt-get install $lsrc=$srcver, then: dkms install $m -k $kver" \
		"(or, if the package's installation stopped here, dpkg --configure -a)" \
		"(or add deb-src entries for the kernel's suite; if the archive no longer has" \
		"$lsrc $srcver, upgrade to a kernel whose source it serves, or take the .deb" \
		"from https://snapshot.debian.org/package/linux/$srcver/)" >&2
	return 1
}

origin=
if [ "$mode" = dkms ]; then
	from_tarball || { has_deb_src && from_source; } || no_dkms_source || exit 1
else
	from_source || from_binary || exit 1
fi
[ -f "$work/tree/drivers/vhost/vhost.h" ] ||
	{ echo "error: no drivers/vhost/vhost.h in $origin" >&2; exit 1; }
mkdir -p "$dest.tmp/checkpatch"
cp "$work/tree/drivers/vhost/vhost.h" "$work/tree/drivers/vhost/vhost.c" "$dest.tmp/"
echo "$srcver" >"$dest.tmp/VERSION"
cp "$work/tree/scripts/checkpatch.pl" "$work/tree/scripts/spelling.txt" \
	"$work/tree/scripts/const_structs.checkpatch" "$dest.tmp/checkpatch/"
echo "$origin" >"$dest.tmp/SOURCE"
rm -rf "$dest"
mv "$dest.tmp" "$dest"
say "vhost.h for $kver taken from $origin"
result
