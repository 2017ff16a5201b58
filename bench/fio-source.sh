#!/bin/bash
# The fio that make bench runs, and whose headers the engine is built
# against: Debian's source of the fio the test host ships, unpacked (with
# Debian's patches), configured and built in OUTDIR/fio-VERSION. Runs in the
# test host (tests/vm/build.sh bench). Prints that directory.
#
# An external fio engine must be built against the very source, and
# configuration, of the fio that loads it (fio checks only the interface
# version; struct layouts follow config-host.h). So the fio binary is built
# here too, from the same tree, and every benchmark target runs under it.
#
# When the archive has no source for the test host's fio version, the
# newest fio source of the suites in FIO_SOURCE_SUITES (default: bookworm)
# is used instead, and said so; OUTDIR/fio-*/SOURCE records which.
#   fio-source.sh OUTDIR
set -euo pipefail
out=${1:?usage: fio-source.sh OUTDIR}
suites=${FIO_SOURCE_SUITES:-bookworm}
say() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

want=$(dpkg-query -W -f '${Version}' fio 2>/dev/null) ||
	die "fio is not installed in the test host (tests/vm/packages.txt lists it)"
mkdir -p "$out"
# A finished build: OUTDIR/fio-VERSION/.complete
done_dir() {
	local d
	for d in "$out"/fio-"$1"; do
		[ -f "$d/.complete" ] && { echo "$d"; return 0; }
	done
	return 1
}
if d=$(done_dir "$want"); then
	echo "$d"
	exit 0
fi

work=$(mktemp -d)
chmod 755 "$work"
trap 'rm -rf "$work"' EXIT
apt_q=(-q -o APT::Sandbox::User=root)
note=
if (cd "$work" && apt-get "${apt_q[@]}" source --download-only "fio=$want") >"$work/log" 2>&1; then
	note="the test host's own fio $want"
else
	# Without the exact source: a build from earlier fallback is as good
	# as another, and needs no network.
	for d in "$out"/fio-*/.complete; do
		[ -f "$d" ] || continue
		say "no source of fio $want on the archive; using $(cat "${d%/.complete}/SOURCE")"
		echo "${d%/.complete}"
		exit 0
	done
	mirror=$(awk '$1 == "deb-src" { print $2; exit }' /etc/apt/sources.list)
	[ -n "$mirror" ] || die "no deb-src line in the test host's /etc/apt/sources.list"
	for s in $suites; do
		st="$out/apt-$s"
		mkdir -p "$st/lists/partial"
		echo "deb-src $mirror $s main" >"$st/sources.list"
		private=(-o "Dir::Etc::SourceList=$st/sources.list"
			-o Dir::Etc::SourceParts=/nonexistent
			-o "Dir::State::Lists=$st/lists")
		say "no source of fio $want on the archive; trying fio of $s"
		rm -f "$work"/*.dsc
		if apt-get "${apt_q[@]}" "${private[@]}" update >>"$work/log" 2>&1 &&
			(cd "$work" && apt-get "${apt_q[@]}" "${private[@]}" source --download-only fio) >>"$work/log" 2>&1; then
			note="fio of $s: the archive has no source of the test host's fio $want"
			break
		fi
	done
	[ -n "$note" ] || { tail -n 5 "$work/log" >&2; die "cannot fetch any fio source (suites tried: the test host's, $suites); see above"; }
fi
dsc=$(ls "$work"/*.dsc | head -n1)
ver=$(awk '$1 == "Version:" { print $2; exit }' "$dsc")
dir="$out/fio-$ver"
say "building fio $ver from source ($note; once)"
rm -rf "$dir"
dpkg-source --no-check -q -x "$dsc" "$dir" >/dev/null
rm -f "$out"/*.orig.tar.* # dpkg-source's copy beside the tree
# --disable-native: the VM's CPU is not the build machine's.
(cd "$dir" && ./configure --disable-native >configure.log 2>&1) ||
	{ tail -n 20 "$dir/configure.log" >&2; die "fio's configure failed (log above)"; }
nice make -s -C "$dir" -j2 fio >"$dir/build.log" 2>&1 ||
	{ tail -n 30 "$dir/build.log" >&2; die "building fio $ver failed (log above)"; }
echo "fio $ver ($note)" >"$dir/SOURCE"
touch "$dir/.complete"
say "fio $ver built in $dir"
echo "$dir"
