#!/bin/bash
# fio for the nested guest: Debian's fio source (trixie's, or bookworm's
# where the archive does not serve trixie's), built static inside the test
# host's root for any x86_64 CPU (no -march=native: the nested guest's CPU
# is QEMU's), with the engines that need no library (io_uring, psync, ...). Debian's /usr/bin/fio links 60
# libraries (librbd, librados, glusterfs...): under TCG inside TCG the
# dynamic loader alone takes about a minute at each fio start, three times
# a guest boot. Cached in $CACHE/fio-KEY (KEY: this script);
# prints the binary's path as the test host sees it (/cache/fio-KEY/fio).
# Usage: mkfio.sh
set -euo pipefail
. "$(dirname "$0")/../../tests/vm/common.sh"

"$VM_DIR/mkrootfs.sh" >&2
need_root "building fio in the test host"
key=$(cat "$0" | sha256sum | cut -c1-16)
dir="$CACHE/fio-$key"
cdir="/cache/fio-$key"	# $dir as the test host sees it
done_() {
	echo "$cdir/fio"
	exit 0
}
[ -f "$dir/.complete" ] && done_

# One build at a time; a second caller waits, then uses it.
mkdir -p "$CACHE"
exec 9>"$CACHE/.fio.lock"
flock -n 9 || { log "another fio build is running; waiting for it"; flock 9; }
[ -f "$dir/.complete" ] && done_
t0=$(date +%s)
rm -rf "$dir"
mkdir -p "$dir/dl"
# The newest fio source of trixie, else of bookworm, that the archive
# serves whole (it has listed sources whose files answer 404), fetched
# with apt lists of their own in the cache, not the test host's.
fetch() {
	in_testhost sh -c "set -e; a=$cdir/apt; mkdir -p \$a/lists/partial
		echo 'deb-src $MIRROR $1 main' >\$a/sources.list
		o=\"-q -o Dir::Etc::SourceList=\$a/sources.list -o Dir::Etc::SourceParts=/dev/null -o Dir::State::Lists=\$a/lists -o APT::Sandbox::User=root\"
		apt-get \$o update
		cd $cdir/dl && rm -f ./*
		apt-get \$o source --download-only fio"
}
suite=
for s in trixie bookworm; do
	if fetch $s >"$dir/fetch-$s.log" 2>&1; then
		suite=$s
		break
	fi
done
[ -n "$suite" ] || die "the archive serves no fio source of trixie or bookworm ($dir/fetch-*.log); check the network and $MIRROR"
dsc=$(cd "$dir/dl" && ls ./*.dsc | head -n 1)
log "building a static ${dsc#./} ($suite) for the nested guest (once, about a minute)"
in_testhost dpkg-source --no-check -q -x "$cdir/dl/${dsc#./}" "$cdir/src" >"$dir/unpack.log" 2>&1 ||
	{ tail -n 20 "$dir/unpack.log" >&2; die "unpacking $dsc failed (log above)"; }
if ! in_testhost sh -c "cd $cdir/src && ./configure --build-static --disable-native \
	--disable-rdma --disable-http --disable-libnfs --disable-pmem --disable-numa \
	--disable-gfapi --disable-rados --disable-rbd --disable-tcmalloc &&
	nice -n 10 make -j2 fio && strip -o $cdir/fio fio" >"$dir/build.log" 2>&1; then
	tail -n 20 "$dir/build.log" >&2
	die "fio did not build (log above, all of it in $dir/build.log)"
fi
in_testhost "$cdir/fio" --version >/dev/null ||
	die "the static fio does not run (see $dir/build.log)"
# the static binary must not name a dynamic loader
if in_testhost sh -c "LC_ALL=C readelf -l $cdir/fio" | grep -q 'interpreter'; then
	die "$dir/fio is not static (see $dir/build.log)"
fi
rm -rf "$dir/src" "$dir/dl" "$dir/apt"
touch "$dir/.complete"
log "built $cdir/fio ($(( $(stat -c %s "$dir/fio") / 1024 )) KiB) in $(( $(date +%s) - t0 ))s"
done_
