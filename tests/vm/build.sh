#!/bin/bash
# Build what runs in the test host, inside the test host's root (Debian 13:
# its gcc-14, kernel headers and liburing).
#   build.sh module [KVER]  vhost_blk.ko against KVER (default: the test
#                           host's kernel); installs linux-headers-KVER into
#                           the test host if needed
#   build.sh guest          the test programs that run in the VM (build/guest)
#   build.sh lint [KVER]    sparse and checkpatch over src/
set -euo pipefail
. "$(dirname "$0")/common.sh"

what=${1:?usage: build.sh module|guest|lint [KVER]}
"$VM_DIR/mkrootfs.sh"
kver=${2:-$(cat "$ROOTFS_DIR/kernel-release")}

headers() {
	if [ ! -d "$ROOT/lib/modules/$kver/build" ]; then
		log "installing linux-headers-$kver into the test host"
		in_testhost apt-get -q update >/dev/null
		in_testhost apt-get -y -q install --no-install-recommends \
			"linux-headers-$kver" >/dev/null ||
			die "no linux-headers-$kver in Debian trixie or trixie-backports"
	fi
	in_testhost /repo/tests/vm/kernel-source.sh "$kver" /cache/ksrc
}

kbuild() {
	local inc=$1
	shift
	in_testhost make -s -C "/lib/modules/$kver/build" M=/repo \
		VHOST_INC="$inc" "$@"
}

case $what in
module)
	inc=$(headers)
	kbuild "$inc" modules
	log "built vhost_blk.ko for $kver ($(cat "$CACHE/ksrc/$kver/SOURCE"))"
	;;
guest)
	in_testhost make -s -C /repo/tests O=/repo/build/guest guest
	log "built test programs in build/guest"
	;;
lint)
	inc=$(headers)
	# sparse: C=2 checks every file, warnings turned into a failure below
	out=$(kbuild "$inc" C=2 CF="-D__CHECK_ENDIAN__" modules 2>&1 | grep -v '^  ' || true)
	if echo "$out" | grep -E 'warning|error' | grep -E '/repo/src/'; then
		die "sparse found problems (above)"
	fi
	cp=$(in_testhost /repo/tests/vm/kernel-source.sh --checkpatch "$kver" /cache/ksrc)
	# compat.h is where version checks belong; elsewhere none are allowed.
	in_testhost sh -c "cd /repo/src && perl $cp/checkpatch.pl --no-tree \
		--quiet --strict --ignore FILE_PATH_CHANGES \
		-f \$(ls *.c *.h | grep -vx compat.h) &&
		perl $cp/checkpatch.pl --no-tree --quiet --strict \
		--ignore FILE_PATH_CHANGES,LINUX_VERSION_CODE,CONSTANT_COMPARISON \
		-f compat.h" ||
		die "checkpatch found problems (above)"
	log "sparse and checkpatch: clean"
	;;
*)
	die "unknown target '$what'"
	;;
esac
