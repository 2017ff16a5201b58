# vhost-blk-user (qemu-frontend/bridge) on the real module; sourced by
# batch.sh, which has run(), no_leaks() and the backends. For each backend
# the daemon serves it on a socket with two queues, and vbridge
# (tests/cases/vbridge.c: the test library's vhost-user front-end, as the
# bench drives qemu-storage-daemon) writes and verifies, flushes,
# discards, stops and restarts the rings, measures the daemon's CPU time
# (main thread and vhost workers, printed) under 2000 requests,
# reconnects, sends two malformed conversations and is served again; on a
# regular file it grows the file and waits for CONFIG_CHANGE_MSG (resize).
# Then the daemon must still run, stop at SIGTERM with its socket removed,
# and the module have nothing left.
# shellcheck shell=bash

BRIDGE_SOCK=/run/vbt-bridge.sock
BRIDGE_SERIAL=vbt-bridge-serial

# The daemon's start-up errors: a socket in use, a directory as backend.
bridge_errors() {
	local out
	out=$("$G/vhost-blk-user" --socket "$BRIDGE_SOCK" --backend "$1" 2>&1) &&
		{ echo "a second daemon on a socket in use started"; return 1; }
	grep -q "is in use" <<<"$out" || { echo "socket in use: $out"; return 1; }
	out=$("$G/vhost-blk-user" --socket /run/vbt-bridge2.sock --backend /tmp 2>&1) &&
		{ echo "a directory was taken as backend"; return 1; }
	grep -q "neither a regular file" <<<"$out" || { echo "directory: $out"; return 1; }
	return 0
}

# bridge_on NAME PATH [daemon options]: with --read-only, vbridge's
# read-only tests.
bridge_on() {
	local name=$1 path=$2 pid i sectors log=/tmp/bridge-$1.log ro='' grow=()
	shift 2
	[[ " $* " == *" --read-only "* ]] && ro=--read-only
	# A regular file can grow (truncate): vbridge's resize test.
	[ -f "$path" ] && grow=(--grow "$path")
	echo "# expect $(( $(wc -w <<<"$("$G/vbridge" $ro "${grow[@]}" --list)") + 4 )) $name"
	rm -f "$BRIDGE_SOCK"
	"$G/vhost-blk-user" --socket "$BRIDGE_SOCK" --backend "$path" \
		--num-queues 2 --serial "$BRIDGE_SERIAL" "$@" 2>"$log" &
	pid=$!
	for i in $(seq 100); do
		[ -S "$BRIDGE_SOCK" ] && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if [ ! -S "$BRIDGE_SOCK" ]; then
		echo "FAIL $name/daemon: did not listen: $(tr '\n' ' ' <"$log")"
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		return
	fi
	if [ -b "$path" ]; then
		sectors=$(( $(blockdev --getsize64 "$path") / 512 ))
	else
		sectors=$(( $(stat -c %s "$path") / 512 ))
	fi
	echo "bridge: $name: $path, daemon pid $pid ($*)"
	"$G/vbridge" $ro "${grow[@]}" --socket "$BRIDGE_SOCK" --pid "$pid" \
		--sectors "$sectors" --serial "$BRIDGE_SERIAL" 2>&1 |
		sed -E "s#^(PASS|FAIL|SKIP) bridge/#\\1 $name/#; s#^bridge: #bridge: $name: #"
	run "$name/errors" bridge_errors "$path"
	if kill -0 "$pid" 2>/dev/null; then
		echo "PASS $name/daemon-alive"
	else
		echo "FAIL $name/daemon-alive: the daemon exited: $(tail -n 3 "$log" | tr '\n' ' ')"
	fi
	# SIGTERM: the daemon stops between messages and removes its socket.
	kill "$pid" 2>/dev/null
	wait "$pid"
	i=$?
	if [ "$i" = 0 ] && [ ! -e "$BRIDGE_SOCK" ]; then
		echo "PASS $name/sigterm"
	else
		echo "FAIL $name/sigterm: exit status $i, socket $(ls "$BRIDGE_SOCK" 2>&1)"
	fi
	sed "s#^#bridge: $name: daemon: #" "$log"
	run "$name/no-leaks" no_leaks
}

bridge_tests() {
	local path
	if path=$(setup_xfs 2>&1); then
		bridge_on bridge-xfs-direct "$path" --direct
	else
		echo "# expect 1 bridge-xfs-direct"
		echo "FAIL bridge-xfs-direct/setup: $path"
	fi
	teardown_xfs
	if path=$(setup_brd 2>&1); then
		bridge_on bridge-brd "$path"
		bridge_on bridge-brd-ro "$path" --read-only
	else
		echo "# expect 1 bridge-brd"
		echo "FAIL bridge-brd/setup: $path"
	fi
	teardown_brd
	rm -f "$BRIDGE_SOCK"
}
