#!/bin/bash
# Build a kernel of our own from the Debian source of the test host's own
# kernel (Debian's patches applied), configured with 'make allnoconfig' plus
# a fragment, everything the VM boots with built in (no initrd modules).
# Built inside the test host. Two flavours:
#   debug    the debug kernel of the test VM: tests/vm/kconfig-debug (KASAN,
#            lockdep, kmemleak, ...); with modules (the test backends)
#   --guest  the nested guest's kernel of the QEMU test (nested.sh):
#            qemu-frontend/test/kconfig-guest, small, no modules: it boots
#            under TCG inside TCG
# Cached under $CACHE/kdebug-KEY or kguest-KEY, KEY = hash of the source
# version, the fragment's settings and this script; rebuilt when absent:
#   bzImage, config, kernel-release, build.log
#   mods/lib/modules/RELEASE   the modules (modules_install; debug only)
#   linux/                     the build tree, for out-of-tree modules
# Usage: mkkernel.sh [--guest] [--print-dir]
set -euo pipefail
. "$(dirname "$0")/common.sh"

flavour=debug frag="$VM_DIR/kconfig-debug" targets="bzImage modules"
if [ "${1:-}" = --guest ]; then
	flavour=guest frag="$REPO/qemu-frontend/test/kconfig-guest" targets=bzImage
	shift
fi
"$VM_DIR/mkrootfs.sh"
need_root "building the $flavour kernel"
hdr="linux-headers-$(cat "$ROOTFS_DIR/kernel-release")"
src=$(in_testhost dpkg-query -W -f '${source:Package} ${source:Version}' "$hdr" 2>/dev/null) ||
	die "$hdr is not installed in the test host; rebuild it (make testhost)"
srcpkg=${src% *} srcver=${src#* }
# the fragment's settings, not its comments
key=$({ echo "$srcpkg $srcver"; grep -E '^(# )?CONFIG_' "$frag"; cat "$VM_DIR/mkkernel.sh"; } |
	sha256sum | cut -c1-16)
name=k$flavour-$key
KDIR="$CACHE/$name"
done_() {
	[ "${1:-}" = --print-dir ] && echo "$KDIR"
	exit 0
}
[ -f "$KDIR/.complete" ] && done_ "$@"

# One build at a time (2 cores); a second caller waits, then uses it.
mkdir -p "$CACHE"
exec 9>"$CACHE/.kernel.lock"
flock -n 9 || { log "another kernel build is running; waiting for it"; flock 9; }
[ -f "$KDIR/.complete" ] && done_ "$@"

t0=$(date +%s)
phase() { log "$flavour kernel: $* (+$(( $(date +%s) - t0 ))s)"; }
ck="/cache/$name"   # $KDIR as the test host sees it
tree="$ck/linux"
case $flavour in
debug) took="~13 minutes" ;;
guest) took="~5 minutes" ;;
esac
log "building the $flavour kernel $name from $srcpkg $srcver (once; $took on 2 cores)"

# 1. Source.
rm -rf "$KDIR"
mkdir -p "$KDIR"
unpack_source "$srcpkg" "$srcver" "$tree" "$KDIR/unpack.log"

# 2. Configuration, and proof that every line of the fragment holds.
phase "configuring: allnoconfig + ${frag##*/}"
in_testhost make -s -C "$tree" KCONFIG_ALLCONFIG="/repo/${frag#"$REPO/"}" allnoconfig >/dev/null
in_testhost make -s -C "$tree" olddefconfig >/dev/null
bad=0
while IFS= read -r line; do
	case $line in
	CONFIG_*=*) grep -qxF "$line" "$KDIR/linux/.config" || { echo "    wanted $line, got: $(grep -E "^(# )?${line%%=*}[= ]" "$KDIR/linux/.config" || echo 'absent (unmet dependency)')" >&2; bad=1; } ;;
	'# CONFIG_'*' is not set') opt=${line#\# }; opt=${opt%% *}
		! grep -qE "^$opt=" "$KDIR/linux/.config" || { echo "    wanted $line, got: $(grep -E "^$opt=" "$KDIR/linux/.config")" >&2; bad=1; } ;;
	esac
done <"$frag"
[ "$bad" = 0 ] || die "the kernel configuration lacks options of $frag (above): add what they depend on to it"
cp "$KDIR/linux/.config" "$KDIR/config"
release=$(in_testhost make -s -C "$tree" kernelrelease)
echo "$release" >"$KDIR/kernel-release"
phase "configured $release: $(grep -cE '=y$' "$KDIR/config") built in, $(grep -cE '=m$' "$KDIR/config") modules"

# 3. Build, a progress line a minute; the full output in build.log.
phase "compiling $targets (make -j2)"
n=0
last=$SECONDS
set +e
# shellcheck disable=SC2086 # the targets are words
in_testhost make -C "$tree" -j2 $targets 2>&1 |
	while IFS= read -r line; do
		printf '%s\n' "$line"
		case $line in '  CC '*) n=$((n + 1)) ;; esac
		if [ $((SECONDS - last)) -ge 60 ]; then
			last=$SECONDS
			log "    $n files compiled; now: $(echo "$line" | tr -s ' ' | sed 's/^ //' | cut -c1-70)"
		fi
	done >"$KDIR/build.log"
rc=${PIPESTATUS[0]}
set -e
if [ "$rc" != 0 ]; then
	grep -E -B2 -A8 'error|Error' "$KDIR/build.log" | tail -n 40 >&2
	die "the $flavour kernel build failed (above; full log $KDIR/build.log)"
fi
phase "compiled ($(grep -c '^  CC ' "$KDIR/build.log") files)"
if [ "$flavour" = debug ]; then
	in_testhost make -s -C "$tree" INSTALL_MOD_PATH="$ck/mods" modules_install >/dev/null
	[ -f "$KDIR/linux/Module.symvers" ] && [ -f "$KDIR/mods/lib/modules/$release/modules.dep" ] ||
		die "the debug kernel build left no Module.symvers or modules.dep in $KDIR"
fi
cp "$KDIR/linux/arch/x86/boot/bzImage" "$KDIR/bzImage"
touch "$KDIR/.complete"
log "$flavour kernel ready: $KDIR ($release, $(( $(date +%s) - t0 ))s)"
done_ "$@"
