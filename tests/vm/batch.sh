#!/bin/bash
# The VM test batch (runs inside the test host, from run.sh). Prints one line
# a test: "PASS name", "FAIL name: why" or "SKIP name: why".
# VBT_INTEGRITY_MIB: MiB the integrity case writes on the first spec of each
# backend kind (default 64; make check asks 2048 on the distribution kernel).
# VBT_FUZZ_REQUESTS: requests the ring fuzzer makes available (fuzz.sh).
# VBT_PARTS: which parts run, of "vbt faults fuzz durable" (default all).
# VBT_DURABLE=short: the durability part on block devices only (durable.sh).
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
PARTS=" ${VBT_PARTS:-vbt faults fuzz durable} "

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

# vbt_on NAME PATH [vbt options]: every vbt case against one backend, each
# reported as NAME/case, but those SKIP_CASE names for the backend's kind.
vbt_on() {
	local name=$1 path=$2 skip cases=()
	shift 2
	skip=${SKIP_CASE[${name%%-*}]:-}
	if [ -n "$skip" ]; then
		# (no process substitution: the debug kernel's VM has no /dev/fd)
		read -r -a cases <<<"$("$G/vbt" --list | grep -vxF "${skip%% *}" | tr '\n' ' ')"
		echo "SKIP $name/${skip%% *}: ${skip#* }"
	fi
	"$G/vbt" "$@" "$path" "${cases[@]}" 2>&1 |
		sed -E "s#^(PASS|FAIL|SKIP) #\\1 $name/#" |
		grep -E '^(PASS|FAIL|SKIP|#) ' || echo "FAIL $name: vbt printed no result"
}

echo "vbt: loading the module"
run module-load sh -c "modprobe vhost && insmod /repo/build/kmod/$(uname -r)/vhost_blk.ko"
run dev-node test -c /dev/vhost-blk

# KIND [vbt options]...: backends and the engines they are tested with.
# A kind's memory is given back once its last spec has run.
prev=
specs=("xfs" "xfs --direct" "xfs --engine bio" "xfs --direct --engine bio"
	"ext4 --direct"
	"brd" "brd --engine kiocb" "null_blk" "null_blk --engine kiocb"
	"dm_thin" "nbd")
# VBT_SPECS: other specs, ';' between them (a developer's shortcut).
[ -n "${VBT_SPECS:-}" ] && IFS=';' read -r -a specs <<<"$VBT_SPECS"
[[ $PARTS == *" vbt "* ]] || specs=()
for spec in "${specs[@]}"; do
	set -- $spec
	kind=$1
	shift
	name=$kind$(printf '%s' "$*" | tr -d ' ' | sed 's/--engine/-/; s/--direct/-direct/')
	case "$prev:$kind" in
	xfs:brd|"$kind:$kind"|:*) ;;
	*) teardown_"$prev" ;;
	esac
	if [ "$prev" != "$kind" ]; then
		set -- "$@" --integrity-mib "${VBT_INTEGRITY_MIB:-64}" --timeout 900
	fi
	prev=$kind
	# The bio engine on a file serves the blocks it has: give it them all.
	image=sparse
	[[ " $* " == *" --engine bio "* ]] && image=written
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
[[ $PARTS == *" faults "* ]] && fault_tests
[[ $PARTS == *" fuzz "* ]] && fuzz_tests
[[ $PARTS == *" durable "* ]] && durable_tests
run module-unload rmmod vhost_blk
