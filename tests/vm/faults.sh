# Fault injection under a running workload; sourced by batch.sh, which has
# run() and no_leaks(). A memory-backed null_blk is the disk; device-mapper
# makes it fail:
#   error-range  dm-error in the middle of a linear table: exactly the
#                requests that touch it fail
#   flakey       dm-flakey, up 1 s / down 1 s: everything fails while down
#   swap         the table swapped to dm-error and back every half second
#                under the workload (suspend, load, resume)
# Each on the bio engine and on the kiocb engine (O_DIRECT: buffered writes
# would only fail at writeback). vfault (tests/cases/vfault.c) checks every
# completion, the data of every good read, and that nothing hangs.
# shellcheck shell=bash

FAULT_DM=vbt-fault
FAULT_MIB=256
FAULT_ERR="40960:45056"		# sectors [20 MiB, 22 MiB)

fault_disk() {
	local d=/sys/kernel/config/nullb/vbtfault
	if [ ! -d "$d" ]; then
		modprobe null_blk nr_devices=0 && modprobe dm-flakey || return 1
		mkdir "$d" && echo "$FAULT_MIB" >"$d/size" &&
			echo 1 >"$d/memory_backed" && echo 1 >"$d/power" || return 1
	fi
	wait_dev /dev/vbtfault
}

fault_table() {
	local dev=$1 kind=$2 n=$((FAULT_MIB * 2048)) a=${FAULT_ERR%:*} b=${FAULT_ERR#*:}
	case $kind in
	linear) echo "0 $n linear $dev 0" ;;
	error) echo "0 $n error" ;;
	error-range) printf '0 %s linear %s 0\n%s %s error\n%s %s linear %s %s\n' \
		"$a" "$dev" "$a" $((b - a)) "$b" $((n - b)) "$dev" "$b" ;;
	flakey) echo "0 $n flakey $dev 0 1 1" ;;
	esac
}

# fault_dm TABLE_KIND: (re)create the dm device; prints its node.
fault_dm() {
	local disk
	disk=$(fault_disk) || return 1
	dmsetup remove "$FAULT_DM" 2>/dev/null
	fault_table "$disk" "$1" | dmsetup create "$FAULT_DM" || return 1
	wait_dev "/dev/dm-$(dmsetup info -c --noheadings -o minor "$FAULT_DM" | tr -d ' ')"
}

# Swap the table to dm-error and back until $1 exists.
fault_swapper() {
	local stop=$1 disk=$2 kind=error
	while [ ! -e "$stop" ]; do
		sleep 0.5
		dmsetup suspend "$FAULT_DM" &&
			fault_table "$disk" "$kind" | dmsetup load "$FAULT_DM" &&
			dmsetup resume "$FAULT_DM" || { echo "swapper: dmsetup failed" >&2; return 1; }
		[ "$kind" = error ] && kind=linear || kind=error
	done
	# Leave it working.
	fault_table "$disk" linear | dmsetup load "$FAULT_DM" && dmsetup resume "$FAULT_DM"
}

# fault_one SCENARIO ENGINE
fault_one() {
	local scen=$1 engine=$2 name="fault/$1-$2" path args stop pid rc
	args=(--engine "$engine" --seconds 6 --expect-errors)
	[ "$engine" = kiocb ] && args+=(--direct)
	case $scen in
	error-range) path=$(fault_dm error-range) && args+=(--error-range "$FAULT_ERR") ;;
	flakey) path=$(fault_dm flakey) ;;
	swap) path=$(fault_dm linear) ;;
	esac || { echo "FAIL $name: setting up the dm device"; return; }
	if [ "$scen" = swap ]; then
		stop=$(mktemp -u /tmp/swap-stop.XXXXXX)
		fault_swapper "$stop" "$(fault_disk)" &
		pid=$!
	fi
	run "$name" "$G/vfault" "${args[@]}" "$path"
	if [ -n "${pid:-}" ]; then
		touch "$stop"
		wait "$pid"
		rc=$?
		rm -f "$stop"
		[ "$rc" = 0 ] || echo "FAIL $name/swapper: dmsetup failed under the workload"
	fi
	run "$name/no-leaks" no_leaks
}

fault_tests() {
	local scen engine
	local scens=(error-range flakey swap) engines=(bio kiocb)
	echo "vbt: fault injection (dm-error, dm-flakey, table swaps)"
	# a run and its no-leaks each
	echo "# expect $(( ${#scens[@]} * ${#engines[@]} * 2 )) faults"
	for scen in "${scens[@]}"; do
		for engine in "${engines[@]}"; do
			fault_one "$scen" "$engine"
		done
	done
	dmsetup remove "$FAULT_DM" 2>/dev/null
	rmdir /sys/kernel/config/nullb/vbtfault 2>/dev/null
	return 0
}
