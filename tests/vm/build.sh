#!/bin/bash
# Build what runs in the test host, inside the test host's root (Debian 13:
# its gcc-14, kernel headers and liburing).
#   build.sh module [KVER]  build/kmod/KVER/vhost_blk.ko against KVER
#                           (default: the test host's kernel); installs
#                           linux-headers-KVER into the test host if needed
#   build.sh module debug   (or KERNEL=debug build.sh module) vhost_blk.ko
#                           against the debug kernel (mkkernel.sh), in
#                           build/kmod/<its release>/
#   build.sh guest          the test programs that run in the VM (build/guest)
#   build.sh bench          fio (from Debian's source, bench/fio-source.sh),
#                           the fio engine vblk-fio.so and vbench
#                           (build/bench)
#   build.sh modindex KVER KO DIR OUT
#                           the module index of KVER's modules with KO in
#                           DIR, into OUT (KO, OUT: paths in the repository)
#   build.sh lint [KVER]    sparse (against KVER) and checkpatch (the test
#                           host kernel's) over src/
set -euo pipefail
. "$(dirname "$0")/common.sh"

what=${1:?usage: build.sh module|guest|bench|lint|modindex [KVER]}
"$VM_DIR/mkrootfs.sh"
kver=${2:-$(cat "$ROOTFS_DIR/kernel-release")}
[ "${KERNEL:-}" = debug ] && kver=debug

# Where a kernel's modules build: trixie's and trixie-backports' kernels in
# the test host; Debian 12's (6.1.0-N-amd64) in the bookworm build root
# (mkbuildroot.sh), with the gcc-12 and linux-kbuild-6.1 its headers need.
case $kver in
6.1.0-*)
	t0=$(date +%s)
	broot=$("$VM_DIR/mkbuildroot.sh" bookworm)/root
	log "bookworm build root ready ($(( $(date +%s) - t0 ))s)"
	in_kroot() { need_root "building in the bookworm build root"; chroot_run "$broot" "$@"; }
	kroot=$broot suite="Debian 12 (bookworm)"
	;;
*)
	in_kroot() { in_testhost "$@"; }
	kroot=$ROOT suite="Debian trixie or trixie-backports"
	;;
esac

headers() {
	local t0
	t0=$(date +%s)
	# (build is a link to an absolute path inside the root)
	if [ ! -L "$kroot/lib/modules/$kver/build" ]; then
		log "installing linux-headers-$kver ($suite)"
		in_kroot apt-get -q update >/dev/null
		in_kroot apt-get -y -q install --no-install-recommends \
			"linux-headers-$kver" >/dev/null ||
			die "no linux-headers-$kver in $suite"
	fi
	in_kroot /repo/tests/vm/kernel-source.sh "$kver" /cache/ksrc
	log "headers and vhost.h of $kver ready ($(( $(date +%s) - t0 ))s)"
}

# build/kmod/RELEASE: one build directory a kernel, so modules for several
# kernels coexist; it links to the sources, kbuild writes objects there.
kmod_dir() {
	local d=$REPO/build/kmod/$1 f
	mkdir -p "$d/src"
	find "$d/src" -maxdepth 1 -type l -delete
	for f in "$REPO"/src/*.[ch]; do
		ln -s "../../../../src/${f##*/}" "$d/src/${f##*/}"
	done
	ln -sfn ../../../Kbuild "$d/Kbuild"
	ln -sfn ../../../uapi "$d/uapi"
	echo "/repo/build/kmod/$1"
}

# kbuild TREE RELEASE VHOST_INC [make args]
kbuild() {
	local tree=$1 rel=$2 inc=$3
	shift 3
	in_kroot make -s -C "$tree" M="$(kmod_dir "$rel")" VHOST_INC="$inc" "$@"
}

# modindex RELEASE ROOT MODULES KO DIR OUT: in OUT, the index files
# (modules.dep, modules.alias, modules.devname, ...) depmod makes of the
# kernel's modules in MODULES (a path in ROOT, which has kmod) with KO in
# DIR (KO and OUT: paths under /repo). Made here, where it takes seconds: in
# the test VM depmod reads every module through 9p and unpacks the xz ones
# under TCG, minutes. tests/vm/devname.sh puts them in place of the VM's.
modindex() {
	local rel=$1 root=$2 mods=$3 ko=$4 dir=$5 out=$6 t0
	t0=$(date +%s)
	chroot_run "$root" sh -euc '
		rel=$1 mods=$2 ko=$3 dir=$4 out=$5 t=/tmp/modindex
		mkdir -p "$t/lib/modules"
		cp -a "$mods" "$t/lib/modules/$rel"
		mkdir -p "$t/lib/modules/$rel/$dir"
		cp "$ko" "$t/lib/modules/$rel/$dir/"
		depmod -b "$t" "$rel"
		rm -rf "$out"
		mkdir -p "$out"
		cp "$t/lib/modules/$rel"/modules.* "$out/"' sh "$rel" "$mods" "$ko" "$dir" "$out"
	log "module index of $rel with ${ko##*/} in $dir made in $(( $(date +%s) - t0 ))s"
}

# mods_root RELEASE: the root whose /lib/modules the VM boots RELEASE with
# (run.sh): the test host's, or a build root's.
mods_root() {
	case $1 in
	6.1.0-*) echo "$("$VM_DIR/mkbuildroot.sh" bookworm)/root" ;;
	7.*) echo "$("$VM_DIR/mkbuildroot.sh" trixie-backports)/root" ;;
	*) echo "$ROOT" ;;
	esac
}

case $what in
module)
	if [ "$kver" = debug ]; then
		kd=$("$VM_DIR/mkkernel.sh" --print-dir)
		tree=/cache/${kd##*/}/linux
		rel=$(cat "$kd/kernel-release")
		kbuild "$tree" "$rel" "$tree/drivers/vhost" modules
		log "built build/kmod/$rel/vhost_blk.ko for the debug kernel (${kd##*/})"
		need_root "making the module index"
		modindex "$rel" "$ROOT" "/cache/${kd##*/}/mods/lib/modules/$rel" \
			"/repo/build/kmod/$rel/vhost_blk.ko" extra "/repo/build/kmod/$rel/modindex"
		exit 0
	fi
	inc=$(headers)
	t0=$(date +%s)
	kbuild "/lib/modules/$kver/build" "$kver" "$inc" modules
	log "compiled in $(( $(date +%s) - t0 ))s"
	log "built build/kmod/$kver/vhost_blk.ko ($(cat "$CACHE/ksrc/$kver/SOURCE"))"
	modindex "$kver" "$(mods_root "$kver")" "/lib/modules/$kver" \
		"/repo/build/kmod/$kver/vhost_blk.ko" extra "/repo/build/kmod/$kver/modindex"
	;;
modindex)
	# build.sh modindex RELEASE KO DIR OUT (KO, OUT under the repository)
	[ $# = 5 ] || die "usage: build.sh modindex RELEASE KO DIR OUT"
	need_root "making the module index"
	modindex "$kver" "$(mods_root "$kver")" "/lib/modules/$kver" \
		"/repo/${3#"$REPO"/}" "$4" "/repo/${5#"$REPO"/}"
	;;
guest)
	in_testhost make -s -C /repo/tests O=/repo/build/guest guest
	log "built test programs in build/guest"
	;;
bench)
	fsrc=$(in_testhost /repo/bench/fio-source.sh /cache/bench)
	in_testhost nice make -s -j2 -C /repo/bench O=/repo/build/bench \
		FIO_SRC="$fsrc" all
	in_testhost install -m 0755 "$fsrc/fio" /repo/build/bench/fio
	log "built build/bench: $(cat "$CACHE/${fsrc#/cache/}/SOURCE"), vblk-fio.so, vbench"
	;;
lint)
	[ "$kver" != debug ] || die "lint runs against a distro kernel; drop 'debug'"
	inc=$(headers)
	# sparse: C=2 checks every file, warnings turned into a failure below
	out=$(kbuild "/lib/modules/$kver/build" "$kver" "$inc" C=2 \
		CF="-D__CHECK_ENDIAN__" modules 2>&1 | grep -v '^  ' || true)
	if echo "$out" | grep -E 'warning|error' | grep -E 'src/'; then
		die "sparse found problems (above)"
	fi
	# checkpatch: always the test host kernel's, the style the sources
	# keep (a newer one asks for newer helpers that older kernels lack)
	hkver=$(cat "$ROOTFS_DIR/kernel-release")
	cp=$(in_testhost /repo/tests/vm/kernel-source.sh --checkpatch "$hkver" /cache/ksrc)
	# compat.h is where version checks belong; elsewhere none are allowed
	# (nor macros that drop an argument, as compat.h must for older APIs).
	# trace.h is laid out as every TRACE_EVENT header is (lines ending in
	# '(' and arguments under the event's name).
	in_testhost sh -c "cd /repo/src && perl $cp/checkpatch.pl --no-tree \
		--quiet --strict --ignore FILE_PATH_CHANGES \
		-f \$(ls *.c *.h | grep -vxE 'compat.h|trace.h') &&
		perl $cp/checkpatch.pl --no-tree --quiet --strict \
		--ignore FILE_PATH_CHANGES,LINUX_VERSION_CODE,CONSTANT_COMPARISON,MACRO_ARG_UNUSED \
		-f compat.h &&
		perl $cp/checkpatch.pl --no-tree --quiet --strict \
		--ignore FILE_PATH_CHANGES,OPEN_ENDED_LINE,PARENTHESIS_ALIGNMENT \
		-f trace.h" ||
		die "checkpatch found problems (above)"
	log "sparse and checkpatch: clean"
	;;
*)
	die "unknown target '$what'"
	;;
esac
