# Shared settings of the test-host scripts. Source it; do not run it.
# shellcheck shell=bash

VM_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$VM_DIR/../.." && pwd)
CACHE=${CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vhost-blk}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
SUITE=trixie

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# expect_check: a part's output passed through, and at the end a line
# "FAIL PART: printed M of N results" for each "# expect N PART" line whose
# part printed fewer than N result lines (PASS, FAIL or SKIP) before the
# next such line: a part that silently stops early, or never starts, fails.
expect_check() {
	awk '
	function done_part() {
		if (part != "" && got < want)
			short = short sprintf("FAIL %s: printed %d of %d results\n",
					      part, got, want)
	}
	/^# expect [0-9]+ [^ ]+$/ { done_part(); want = $3; part = $4; got = 0 }
	/^(PASS|FAIL|SKIP) / { got++ }
	{ print; fflush() }
	END { done_part(); printf "%s", short }'
}

need_root() {
	[ "$(id -u)" = 0 ] || die "$1 needs root (debootstrap, chroot and mounts); run it as root or with sudo"
}

# The test host is keyed by what defines its content: the package list and
# the scripts that build it. Any change there builds a new one beside the old.
rootfs_key() {
	cat "$VM_DIR/packages.txt" "$VM_DIR/mkrootfs.sh" "$VM_DIR/vbt-init" |
		sha256sum | cut -c1-16
}

ROOTFS_DIR="$CACHE/testhost-$(rootfs_key)"
ROOT="$ROOTFS_DIR/root"

rootfs_ready() { [ -f "$ROOTFS_DIR/.complete" ]; }

# Run a command with ROOT as its root directory, /proc, /sys, /dev and /tmp
# mounted, the repository at /repo and the cache at /cache. The mounts live in
# a private mount namespace, so nothing stays mounted when the command ends.
chroot_run() {
	local root=$1
	shift
	unshare --mount --propagation private -- /bin/sh -euc '
		root=$1; repo=$2; cache=$3; shift 3
		mount -t proc proc "$root/proc"
		mount --rbind /dev "$root/dev"
		mount -t sysfs sys "$root/sys"
		mount -t tmpfs tmp "$root/tmp"
		mkdir -p "$root/repo" "$root/cache"
		mount --bind "$repo" "$root/repo"
		mount --bind "$cache" "$root/cache"
		exec chroot "$root" /usr/bin/env -i HOME=/root TERM=dumb \
			PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
			DEBIAN_FRONTEND=noninteractive "$@"
	' sh "$root" "$REPO" "$CACHE" "$@"
}

# The same inside the finished test host: the build environment of the module
# and of everything that runs in the VM.
in_testhost() {
	rootfs_ready || die "test host not built; run 'make testhost' first"
	need_root "building in the test host"
	chroot_run "$ROOT" "$@"
}

# unpack_source PKG VERSION DEST LOGFILE: Debian's source package PKG=VERSION
# with Debian's patches applied, unpacked by the test host into DEST (a path
# under /cache as the test host sees it). The download is kept apart, in
# $CACHE/src/PKG_VERSION, so that a rebuild does not fetch it again.
unpack_source() {
	local pkg=$1 ver=$2 dest=$3 logfile=$4 dl dsc
	dl="$CACHE/src/${pkg}_$ver"
	if [ ! -f "$dl/.complete" ]; then
		log "fetching source $pkg=$ver"
		rm -rf "$dl"
		mkdir -p "$dl"
		fetch_() {
			in_testhost sh -c "cd '/cache/src/${pkg}_$ver' &&
				apt-get -q -o APT::Sandbox::User=root source --download-only '$pkg=$ver'" >/dev/null
		}
		fetch_ || { in_testhost apt-get -q update >/dev/null && fetch_; } ||
			die "cannot fetch source $pkg=$ver from Debian (deb-src of $SUITE in the test host); check the network, or rebuild the test host (make testhost)"
		touch "$dl/.complete"
	fi
	log "unpacking $pkg $ver, applying Debian's patches"
	dsc=$(cd "$dl" && ls ./*.dsc | head -n1)
	in_testhost dpkg-source --no-check --no-copy -q -x "/cache/src/${pkg}_$ver/${dsc#./}" "$dest" \
		>"$logfile" 2>&1 || { tail -n 20 "$logfile" >&2; die "unpacking $dsc failed (log above)"; }
}

# The build root of another Debian release (mkbuildroot.sh), keyed by the
# script that builds it.
buildroot_dir() {
	echo "$CACHE/buildroot-$1-$(cat "$VM_DIR/mkbuildroot.sh" | sha256sum | cut -c1-16)"
}
