#!/bin/bash
# The VM test batch (runs inside the test host, from run.sh). Prints one line
# a test: "PASS name", "FAIL name: why" or "SKIP name: why".
# Before each part's results, a line "# expect N part": how many it prints
# (check.sh fails a part that printed fewer, see expect_check in common.sh).
# VBT_INTEGRITY_MIB: MiB the integrity case writes on the first spec of each
# backend kind, and of the bio engine on a file kind (default 64; make check
# asks 2048 on the distribution kernel; INTEGRITY_MAX below caps a kind).
# VBT_FUZZ_REQUESTS: requests the ring fuzzer makes available (fuzz.sh).
# VBT_PARTS: which parts run, of "vbt faults fuzz durable bridge devname
# dkms" (default all; bridge: vhost-blk-user, tests/vm/bridge.sh; devname:
# the module loaded by the first open of /dev/vhost-blk, tests/vm/devname.sh;
# dkms: the same with the DKMS package's build of the module,
# tests/vm/dkms.sh, after tests/vm/dkms-host.sh on the build machine).
# VBT_DURABLE=short: the durability part on block devices only (durable.sh).
# VBT_FAULTS: which fault groups the faults part runs, of "dm nvme_tcp"
# (default both; faults.sh).
# VBT_SPECS: the backend specs to run instead of all (see specs below).
set -u
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
export DM_DISABLE_UDEV=1
G=/repo/build/guest
. /repo/tests/vm/leaks.sh
. /repo/tests/vm/backends.sh
. /repo/tests/vm/faults.sh
. /repo/tests/vm/fuzz.sh
. /repo/tests/vm/durable.sh
. /repo/tests/vm/bridge.sh
. /repo/tests/vm/devname.sh
. /repo/tests/vm/dkms.sh
PARTS=" ${VBT_PARTS:-vbt faults fuzz durable bridge devname dkms} "

# run NAME CMD...: one test from a command's exit status.
run() {
	local name=$1 out
	shift
	if out=$("$@" 2>&1); then
		echo "PASS $name"
	else
		echo "FAIL $name: $(printf '%s' "$out" | tail -n 3 | tr '\n' ' ')"
	fi
}

# Cases a backend kind cannot take: "case reason", reported as SKIP.
# nbd: the 6.12 driver loses its connection ("Double reply", then "Dead
# connection") when the task sending to it is SIGKILLed in the middle of a
# send, and kill-owner SIGKILLs the vhost worker while it submits; every
# case after it then finds the device gone (seen once in a few runs).
declare -A SKIP_CASE=(
	[nbd]="kill-owner the 6.12 nbd driver drops its connection (\"Double reply\") when the task sending to it is SIGKILLed mid-send"
)

# vbt_on NAME PATH [vbt options]: every vbt case against one backend (or
# those in ONLY), each reported as NAME/case, but those SKIP_CASE names for
# the backend's kind.
vbt_on() {
	local name=$1 path=$2 skip cases=()
	shift 2
	skip=${SKIP_CASE[${name%%-*}]:-}
	if [ -n "${ONLY:-}" ]; then
		read -r -a cases <<<"$ONLY"
	elif [ -n "$skip" ]; then
		# (no process substitution: the debug kernel's VM has no /dev/fd)
		read -r -a cases <<<"$("$G/vbt" --list | grep -vxF "${skip%% *}" | tr '\n' ' ')"
		echo "SKIP $name/${skip%% *}: ${skip#* }"
	fi
	"$G/vbt" "$@" "$path" "${cases[@]}" 2>&1 |
		sed -E "s#^(PASS|FAIL|SKIP) #\\1 $name/#" |
		grep -E '^(PASS|FAIL|SKIP|#) ' || echo "FAIL $name: vbt printed no result"
}

T0=$(date +%s)
echo "vbt: loading the module"
echo "# expect 2 module"
run module-load sh -c "modprobe vhost && insmod /repo/build/kmod/$(uname -r)/vhost_blk.ko"
run dev-node test -c /dev/vhost-blk
echo "vbt: kernel $(uname -r); the module's features: $(cat /sys/module/vhost_blk/parameters/features 2>&1)"

# KIND [vbt options]... [-- CASE...]: backends and the engines they are
# tested with (all cases, or those after --).
# A kind's memory is given back once its last spec has run. --readonly once
# an engine: kiocb on a file, bio on a block device.
prev=
declare -A integrity=()
# Kinds whose integrity run writes at most this many MiB: nvme_tcp's every
# byte crosses the loopback TCP connection twice (target and initiator, the
# copies and checksums under TCG): 2 GiB took 117 s, a quarter of the batch's
# spec time, for no path that 256 MiB (a quarter of its brd) does not take.
declare -A INTEGRITY_MAX=([nvme_tcp]=256)
specs=("xfs" "xfs --direct" "xfs --engine bio" "xfs --direct --engine bio"
	"xfs --readonly"
	"ext4 --direct" "ext4"
	"xfs_nullb --direct -- dio-deferred"
	"brd" "brd --engine kiocb" "brd --readonly"
	"null_blk" "null_blk --engine kiocb"
	"dm_thin" "nbd" "nvme_tcp" "nvme_tcp --engine kiocb")
# VBT_SPECS: other specs, ';' between them (a developer's shortcut).
[ -n "${VBT_SPECS:-}" ] && IFS=';' read -r -a specs <<<"$VBT_SPECS"
[[ $PARTS == *" vbt "* ]] || specs=()
for spec in "${specs[@]}"; do
	ONLY=
	[[ $spec == *" -- "* ]] && ONLY=${spec#* -- }
	set -- ${spec%% -- *}
	kind=$1
	shift
	name=$kind$(printf '%s' "$*" | tr -d ' ' |
		sed 's/--engine/-/; s/--direct/-direct/; s/--readonly/-ro/')
	case "$prev:$kind" in
	xfs:brd|"$kind:$kind"|:*) ;;
	*) teardown_"$prev" ;;
	esac
	# The bio engine on a file serves the blocks it has: give it them all.
	image=sparse
	[[ " $* " == *" --engine bio "* ]] && image=written
	# The full integrity run once a kind, and once more for the bio
	# engine on a file kind's image (its own path: the image's layout).
	key=$kind
	[ "$image" = written ] && key=$kind-bio
	if [ -z "${integrity[$key]:-}" ]; then
		mib=${VBT_INTEGRITY_MIB:-64}
		max=${INTEGRITY_MAX[$kind]:-$mib}
		[ "$mib" -le "$max" ] || mib=$max
		set -- "$@" --integrity-mib "$mib" --timeout 900
		integrity[$key]=1
	fi
	prev=$kind
	# A kind this kernel cannot have (missing_KIND says why): one SKIP.
	if declare -F "missing_$kind" >/dev/null && why=$("missing_$kind"); then
		echo "# expect 1 $name"
		echo "SKIP $name: $why"
		continue
	fi
	# the cases, the API example and no-leaks
	if [ -n "$ONLY" ]; then
		echo "# expect $(( $(wc -w <<<"$ONLY") + 2 )) $name"
	else
		echo "# expect $(( $("$G/vbt" --list | wc -l) + 2 )) $name"
	fi
	if ! path=$(VBT_IMAGE=$image setup_"$kind" 2>&1); then
		echo "FAIL $name/setup: $path"
		continue
	fi
	echo "vbt: $name ($path)"
	run "$name/api-example" "$G/api-example" "$path"
	vbt_on "$name" "$path" "$@"
	run "$name/no-leaks" no_leaks
	echo "vbt: $(date +%T) $name done; $(free -m | awk '/^Mem/ { print $3 " MiB used" }')"
done

teardown_backends
[[ $PARTS == *" vbt "* ]] && echo "vbt: part vbt took $(( $(date +%s) - T0 ))s"

# part NAME FUNCTION: one part, if VBT_PARTS has it, and the time it took.
part() {
	local t0
	[[ $PARTS == *" $1 "* ]] || return 0
	t0=$(date +%s)
	"$2"
	echo "vbt: part $1 took $(( $(date +%s) - t0 ))s"
}
part faults fault_tests
part fuzz fuzz_tests
part durable durable_tests
part bridge bridge_tests
part devname devname_tests
part dkms dkms_tests
echo "# expect 1 module-unload"
run module-unload rmmod vhost_blk
