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
# A network disk whose target goes away and comes back (nvme_tcp in
# backends.sh), on both engines too:
#   nvme-tcp-gone  the target's port unlinked from the subsystem under the
#                  workload (the port stops listening, the target drops the
#                  connection), 5 s later linked again: the guest sees
#                  IOERR (fast_io_fail_tmo), no request hangs; once the
#                  initiator has reconnected every request succeeds, and
#                  every block reads back right
# VBT_FAULTS: which of "dm nvme_tcp" run (default both).
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

# nvme_tcp_flap FLAG: take the target away under the workload, wait for the
# initiator to notice, keep it away past fast_io_fail_tmo, bring it back,
# wait for the initiator to reconnect, then create FLAG.
nvme_tcp_flap() {
	local flag=$1 ctrl link=$NVMET/ports/$NVME_PORT/subsystems/$NVME_NQN _
	ctrl=$(nvme_tcp_ctrl) || { echo "no controller" >&2; return 1; }
	sleep 2
	rm "$link" || return 1
	for _ in $(seq 50); do
		[ "$(cat "/sys/class/nvme/$ctrl/state")" != live ] && break
		sleep 0.2
	done
	echo "vbt: $(date +%T) nvme target gone; the controller is $(cat "/sys/class/nvme/$ctrl/state")"
	sleep 5
	ln -s "$NVMET/subsystems/$NVME_NQN" "$link" || return 1
	for _ in $(seq 150); do
		[ "$(cat "/sys/class/nvme/$ctrl/state" 2>/dev/null)" = live ] && break
		sleep 0.2
	done
	echo "vbt: $(date +%T) nvme target back; the controller is $(cat "/sys/class/nvme/$ctrl/state" 2>&1)"
	[ "$(cat "/sys/class/nvme/$ctrl/state")" = live ] || return 1
	touch "$flag"
}

# nvme_tcp_clean: a teardown in two steps, each leaving nothing behind
# (or print what it left): the controller and the target's objects
# removed, then the modules unloaded.
nvme_tcp_clean() {
	local left
	nvme_tcp_remove
	if left=$(nvme_tcp_left); then
		echo "$left"
		teardown_nvme_tcp
		return 1
	fi
	teardown_nvme_tcp
	if left=$(nvme_tcp_left modules); then
		echo "$left"
		return 1
	fi
}

# vfault_kept NAME ARGS...: vfault, its whole output also kept in
# /out/vfault-NAME.log (when there is an /out: run.sh's).
vfault_kept() {
	local name=$1 log=/dev/null rc
	shift
	[ -d /out ] && [ -w /out ] && log=/out/vfault-$name.log
	"$G/vfault" "$@" >"$log" 2>&1
	rc=$?
	cat "$log" 2>/dev/null
	return "$rc"
}

# nvme_tcp_fault ENGINE
nvme_tcp_fault() {
	local engine=$1 name="fault/nvme-tcp-gone-$1" path args flag pid rc
	if ! path=$(setup_nvme_tcp 2>&1); then
		echo "FAIL $name: setting up nvme_tcp: $path"
		echo "FAIL $name/no-leaks: not run"
		return
	fi
	flag=$(mktemp -u /tmp/nvme-back.XXXXXX)
	# the run: until 3 s after the target is back (at most 90 s), and
	# a request not done in 30 s hangs
	args=(--engine "$engine" --seconds 3 --expect-errors --recovered "$flag"
		--wait 90 --timeout 30)
	[ "$engine" = kiocb ] && args+=(--direct)
	nvme_tcp_flap "$flag" &
	pid=$!
	run "$name" vfault_kept "nvme-tcp-gone-$engine" "${args[@]}" "$path"
	wait "$pid"
	rc=$?
	rm -f "$flag"
	[ "$rc" = 0 ] || echo "FAIL $name/target: taking the target away or bringing it back failed"
	run "$name/no-leaks" no_leaks
}

fault_tests() {
	local scen engine
	local scens=(error-range flakey swap) engines=(bio kiocb)
	local groups=" ${VBT_FAULTS:-dm nvme_tcp} "
	[[ $groups == *" nvme_tcp "* ]] && nvme_tcp_faults
	[[ $groups == *" dm "* ]] || return 0
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

nvme_tcp_faults() {
	local engine why
	echo "vbt: fault injection (an NVMe-over-TCP target gone and back)"
	if why=$(missing_nvme_tcp); then
		echo "# expect 1 faults-nvme-tcp"
		echo "SKIP fault/nvme-tcp-gone: $why"
		return 0
	fi
	# a run and its no-leaks each, and the teardown
	echo "# expect 5 faults-nvme-tcp"
	for engine in bio kiocb; do
		nvme_tcp_fault "$engine"
	done
	run fault/nvme-tcp-teardown nvme_tcp_clean
}
