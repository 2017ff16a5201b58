#!/bin/bash
# The DKMS package (make deb) as an admin installs it, on this machine and
# never under TCG: in a chroot of an overlay of a cached root (the root
# itself is not changed), with the distribution's dkms:
#   dkms-host.sh [trixie]   the test host (Debian 13), only its 6.12 headers
#                           there: the package's install fails for want of
#                           linux-source-6.12 of the kernel's version, saying
#                           so; with it, a planted vhost.h (a member added to
#                           struct vhost_dev) is refused by the ABI check;
#                           the right one builds and installs. Then the
#                           kernel upgrade: the newest 7.x headers of
#                           trixie-backports, whose DKMS hook fails saying
#                           to install linux-source-7.x of their version;
#                           with it, dpkg --configure -a runs the hook again
#                           and it builds the module for 7.x
#   dkms-host.sh bookworm   the same on the bookworm root (Debian 12's 6.1)
# Each module DKMS installed is copied to build/dkms/RELEASE/ for the VM
# part (tests/vm/dkms.sh, run.sh --kernel RELEASE). Prints "# expect N
# dkms-host" and a PASS or FAIL line a test; log lines with times on stderr.
# What the cache lacks (dkms and what it needs, linux-source-X.Y, headers)
# is downloaded once into $CACHE/debs.
set -euo pipefail
. "$(dirname "$0")/common.sh"

target=${1:-trixie}
need_root "the DKMS test (chroot, overlay mounts)"
case $target in
trixie)
	"$VM_DIR/mkrootfs.sh" >&2
	base=$ROOT
	k1=$(cat "$ROOTFS_DIR/kernel-release")
	n=7
	;;
bookworm)
	base=$("$VM_DIR/mkbuildroot.sh" bookworm)/root
	k1=$(cat "${base%/root}/kernel-release")
	n=4
	;;
*) die "usage: dkms-host.sh [trixie|bookworm]" ;;
esac
deb=$("$REPO/src/dkms/mkdeb.sh")
name=vhost-blk/$(cat "$REPO/src/VERSION")

work=$(mktemp -d /tmp/vbt-dkms.XXXXXX)
o=$work/root
mkdir -p "$work/upper" "$work/work" "$o" "$CACHE/debs/partial"
mount -t overlay overlay -o "lowerdir=$base,upperdir=$work/upper,workdir=$work/work" "$o"
# (the logs kept in build/dkms/log-TARGET: apt's and dpkg's, DKMS's make.log)
logs=$REPO/build/dkms/log-$target
rm -rf "$logs"
keep_logs() {
	local d=$logs
	mkdir -p "$d"
	cp "$work"/*.log "$d/" 2>/dev/null || true
	(cd "$o/var/lib/dkms" 2>/dev/null && find . -name make.log -exec cp --parents {} "$d/" \;) || true
}
trap 'keep_logs; umount -l "$o"; rm -rf "$work"' EXIT
log "DKMS test on $target ($k1), in an overlay of ${base#"$CACHE"/} ($work)"

in_o() { chroot_run "$o" "$@"; }
# apt, its downloads kept in the cache; the root's package lists updated
# (in the overlay) only when what is asked for is not in them.
apt_args=(apt-get -y -q -o Dpkg::Progress-Fancy=0 -o APT::Sandbox::User=root
	-o Dir::Cache::Archives=/cache/debs/ --no-install-recommends)
apt_o() {
	local a=("${apt_args[@]}")
	in_o "${a[@]}" "$@" >>"$work/apt.log" 2>&1 && return 0
	log "updating the package lists (in the overlay)"
	in_o apt-get -q update >>"$work/apt.log" 2>&1 &&
		in_o "${a[@]}" "$@" >>"$work/apt.log" 2>&1 ||
		{ tail -n 15 "$work/apt.log" >&2; return 1; }
}
# fetch_note PKG VERSION: a line before apt downloads a big package.
fetch_note() {
	local size
	[ ! -f "$CACHE/debs/${1}_${2//:/%3a}_all.deb" ] || return 0
	size=$(in_o apt-cache show "$1=$2" 2>/dev/null | awk '/^Size:/ { print int($2 / 1048576); exit }')
	log "downloading $1 $2 (${size:-?} MiB) into $CACHE/debs, once"
}
T=0
step() { log "step: $1"; T=$(date +%s); }
took() { log "  took $(( $(date +%s) - T ))s"; }
pass() { echo "PASS dkms-host/$1"; }
fail() { echo "FAIL dkms-host/$1: $2"; }
# srcver KVER: the version of KVER's source (what linux-source-X.Y must be)
srcver() { in_o dpkg-query -W -f '${source:Version}' "linux-headers-$1"; }
lsrc() { echo "linux-source-$(echo "$1" | grep -oE '^[0-9]+\.[0-9]+')"; }
installed() { in_o dkms status "$name" -k "$1" 2>/dev/null | grep -q ': installed'; }
makelog() { in_o sh -c 'cat $(ls -t /var/lib/dkms/vhost-blk/*/build/make.log /var/lib/dkms/vhost-blk/*/*/*/log/make.log 2>/dev/null | head -n1)'; }

echo "# expect $n dkms-host"
# Upgrading needs the newer kernel's headers absent first (the test host
# root has 7.x's, for make module KVER=...).
k2=
if [ "$target" = trixie ]; then
	k2=$(in_o apt-cache search --names-only '^linux-headers-7\.[0-9.]+\+deb13-amd64$' |
		sed -E 's/^linux-headers-([^ ]+) .*/\1/' | sort -V | tail -n1)
	[ -n "$k2" ] || die "no linux-headers-7.x in trixie-backports (the test host's package lists)"
	in_o dpkg --purge "linux-headers-$k2" >/dev/null 2>&1 || true
fi

# (no module of an earlier run left for the VM part to take)
rm -rf "$REPO/build/dkms/$k1" ${k2:+"$REPO/build/dkms/$k2"}

step "dkms, and $name while linux-source of $k1's version is missing"
v1=$(srcver "$k1")
apt_o install dkms || die "cannot install dkms in the $target root (above)"
# as on a host without deb-src entries: no source package to fall back to
in_o sed -i '/^deb-src /d' /etc/apt/sources.list
out=$(in_o dpkg -i "/repo/build/deb/${deb##*/}" 2>&1 | tee -a "$work/apt.log" || true)
if grep -q "apt-get install $(lsrc "$k1")=$v1, then: dkms install $name -k $k1" <<<"$out$(makelog)"; then
	pass "no-source-$k1"
else
	fail "no-source-$k1" "the build did not say to install $(lsrc "$k1")=$v1 (see $work/apt.log)"
fi
took

step "$(lsrc "$k1") $v1, and the ABI check on a planted vhost.h"
fetch_note "$(lsrc "$k1")" "$v1"
apt_o install "$(lsrc "$k1")=$v1" || die "cannot install $(lsrc "$k1")=$v1 in the $target root (above)"
ks=/var/cache/vhost-blk/ksrc
in_o "/usr/src/vhost-blk-${name#*/}/kernel-source.sh" --dkms "$k1" "$ks" >/dev/null
in_o sed -i.orig 's/^struct vhost_dev {$/&\n\tint vbt_planted;/' "$ks/$k1/vhost.h"
if in_o dkms build --force "$name" -k "$k1" >"$work/planted.log" 2>&1; then
	fail "abi-refuses-$k1" "the build took a vhost.h with a member added to struct vhost_dev"
elif makelog | grep -q "does not match $k1's vhost core: the symbol CRCs of vhost_"; then
	pass "abi-refuses-$k1"
	makelog | grep -o 'error: .*' | cut -c1-300 | sed 's/^/    /' >&2
else
	fail "abi-refuses-$k1" "the build failed without the ABI check's error: $(makelog | tail -n 3 | tr '\n' ' ')"
fi
in_o mv "$ks/$k1/vhost.h.orig" "$ks/$k1/vhost.h"
took

step "$name for $k1 (dpkg --configure -a, or dkms install as the error says)"
in_o dpkg --configure -a >>"$work/apt.log" 2>&1 || true
installed "$k1" || in_o dkms install "$name" -k "$k1" >>"$work/apt.log" 2>&1 || true
if installed "$k1" && makelog | grep -q "ABI check: the [0-9]* symbols of $k1's vhost.ko match"; then
	pass "install-$k1"
else
	fail "install-$k1" "dkms status: $(in_o dkms status 2>&1 | tr '\n' ' '); $(makelog | tail -n 3 | tr '\n' ' ')"
fi
took

kernels=("$k1")
if [ -n "$k2" ]; then
	step "kernel upgrade: linux-headers-$k2 (trixie-backports) before $(lsrc "$k2")"
	v2=$(in_o apt-cache show --no-all-versions "linux-headers-$k2" | awk '/^Version:/ { print $2 }')
	# the hook's build fails saying what to install (and so does apt)
	in_o "${apt_args[@]}" install -t trixie-backports "linux-headers-$k2" >>"$work/apt.log" 2>&1 || true
	if ! installed "$k2" &&
		makelog | grep -q "apt-get install $(lsrc "$k2")=$v2, then: dkms install $name -k $k2"; then
		pass "upgrade-no-source-$k2"
	else
		fail "upgrade-no-source-$k2" "the hook's build did not say to install $(lsrc "$k2")=$v2: $(makelog | tail -n 3 | tr '\n' ' ')"
	fi
	took
	step "$(lsrc "$k2") $v2, then dpkg --configure -a: the DKMS hook builds for $k2"
	fetch_note "$(lsrc "$k2")" "$v2"
	apt_o install -t trixie-backports "$(lsrc "$k2")=$v2" ||
		die "cannot install $(lsrc "$k2")=$v2 (above)"
	in_o dpkg --configure -a >>"$work/apt.log" 2>&1 || true
	if installed "$k2"; then
		pass "upgrade-$k2"
	else
		fail "upgrade-$k2" "the DKMS hook did not build for $k2: $(in_o dkms status 2>&1 | tr '\n' ' ')"
	fi
	# 7.x has no CONFIG_MODVERSIONS: the version check instead, said so
	if grep -q 'CONFIG_MODVERSIONS=y' "$o/lib/modules/$k2/build/.config" ||
		makelog | grep -q "ABI check: $k2 has no CONFIG_MODVERSIONS"; then
		pass "abi-check-$k2"
	else
		fail "abi-check-$k2" "no word of the ABI check in make.log: $(makelog | tail -n 3 | tr '\n' ' ')"
	fi
	kernels+=("$k2")
	took
fi
in_o dkms status | sed 's/^/    dkms status: /' >&2

for k in "${kernels[@]}"; do
	installed "$k" || continue
	mkdir -p "$REPO/build/dkms/$k"
	cp "$o/lib/modules/$k/updates/dkms/"vhost_blk.ko* "$REPO/build/dkms/$k/"
	log "build/dkms/$k/$(ls "$REPO/build/dkms/$k")"
	# the index depmod makes of the kernel's modules with it, for the VM
	# (whose depmod takes minutes under TCG; the 7.x modules are not in
	# this root, only their headers)
	"$VM_DIR/build.sh" modindex "$k" "$(ls "$REPO/build/dkms/$k/"vhost_blk.ko*)" \
		updates/dkms "$REPO/build/dkms/$k/modindex" ||
		fail "modindex-$k" "no module index of $k with the DKMS module (above)"
done

keep_logs
step "removing $name"
if apt_o remove vhost-blk-dkms && ! ls "$o/lib/modules/$k1/updates/dkms/"vhost_blk.ko* >/dev/null 2>&1 &&
	[ -z "$(in_o dkms status "$name" 2>/dev/null)" ]; then
	pass remove
else
	fail remove "the package's removal left: $(in_o dkms status 2>&1 | tr '\n' ' ')"
fi
took
