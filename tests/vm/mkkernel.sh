#!/bin/bash
# Build the debug kernel of the test VM: the Debian source of the test host's
# own kernel (Debian's patches applied), configured with 'make allnoconfig'
# plus kconfig-debug (KASAN, lockdep, kmemleak, ...; everything the VM boots
# with built in, so no initrd). Built inside the test host.
# Cached under $CACHE/kdebug-KEY, KEY = hash of the source version,
# kconfig-debug and this script; rebuilt when absent:
#   bzImage, config, kernel-release, build.log
#   mods/lib/modules/RELEASE   the modules (modules_install)
#   linux/                     the build tree, for out-of-tree modules
# Usage: mkkernel.sh [--print-dir]
set -euo pipefail
. "$(dirname "$0")/common.sh"

"$VM_DIR/mkrootfs.sh"
need_root "building the debug kernel"
frag="$VM_DIR/kconfig-debug"
hdr="linux-headers-$(cat "$ROOTFS_DIR/kernel-release")"
src=$(in_testhost dpkg-query -W -f '${source:Package} ${source:Version}' "$hdr" 2>/dev/null) ||
	die "$hdr is not installed in the test host; rebuild it (make testhost)"
srcpkg=${src% *} srcver=${src#* }
key=$({ echo "$srcpkg $srcver"; cat "$frag" "$VM_DIR/mkkernel.sh"; } | sha256sum | cut -c1-16)
KDIR="$CACHE/kdebug-$key"
done_() {
	[ "${1:-}" = --print-dir ] && echo "$KDIR"
	exit 0
}
[ -f "$KDIR/.complete" ] && done_ "$@"

# One build at a time (2 cores); a second caller waits, then uses it.
mkdir -p "$CACHE"
exec 9>"$CACHE/.kdebug.lock"
flock -n 9 || { log "another debug kernel build is running; waiting for it"; flock 9; }
[ -f "$KDIR/.complete" ] && done_ "$@"

t0=$(date +%s)
phase() { log "debug kernel: $* (+$(( $(date +%s) - t0 ))s)"; }
ck="/cache/kdebug-$key"   # $KDIR as the test host sees it
tree="$ck/linux"
log "building debug kernel kdebug-$key from $srcpkg $srcver (once; ~10 minutes on 2 cores)"

# 1. Source.
rm -rf "$KDIR"
mkdir -p "$KDIR"
unpack_source "$srcpkg" "$srcver" "$tree" "$KDIR/unpack.log"

# 2. Configuration, and proof that every line of the fragment holds.
phase "configuring: allnoconfig + kconfig-debug"
in_testhost make -s -C "$tree" KCONFIG_ALLCONFIG=/repo/tests/vm/kconfig-debug allnoconfig >/dev/null
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
phase "compiling bzImage and modules (make -j2)"
n=0
last=$SECONDS
set +e
in_testhost make -C "$tree" -j2 bzImage modules 2>&1 |
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
	die "the debug kernel build failed (above; full log $KDIR/build.log)"
fi
phase "compiled ($(grep -c '^  CC ' "$KDIR/build.log") files); installing modules"
in_testhost make -s -C "$tree" INSTALL_MOD_PATH="$ck/mods" modules_install >/dev/null
cp "$KDIR/linux/arch/x86/boot/bzImage" "$KDIR/bzImage"
[ -f "$KDIR/linux/Module.symvers" ] && [ -f "$KDIR/mods/lib/modules/$release/modules.dep" ] ||
	die "the debug kernel build left no Module.symvers or modules.dep in $KDIR"
touch "$KDIR/.complete"
log "debug kernel ready: $KDIR ($release, $(( $(date +%s) - t0 ))s)"
done_ "$@"
