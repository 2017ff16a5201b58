# The ring fuzzer in the VM batch; sourced by batch.sh, which has run() and
# no_leaks(). First two vfuzz runs side by side (one per vCPU) on two raw
# brd disks, the engine drawn anew at every attach (bio, kiocb, auto), half
# of VBT_FUZZ_REQUESTS each; then VBT_FUZZ_FILE_REQUESTS on raw images on
# XFS, half on a sparse one (kiocb), half on a written one (the bio engine,
# through the file's block layout), and half again on a sparse image on
# ext4 on a null_blk, O_DIRECT with 512-byte aligned buffers (kiocb; its
# overwrites end in the worker)
# (XFS under KASAN and lockdep is six times slower than brd, so the debug
# kernel gives it fewer). Fresh seeds every run,
# printed, so a failure replays (docs/security.md). run.sh checks the
# kernel log after the batch.
# shellcheck shell=bash
. /repo/tests/vm/stacks.sh

fuzz_tests() {
	local total=${VBT_FUZZ_REQUESTS:-100000} files=${VBT_FUZZ_FILE_REQUESTS:-20000}
	local half=$((total / 2)) dir img p1 p2 rc1 rc2
	dir=$(mktemp -d /tmp/vfuzz.XXXXXX)
	echo "vbt: fuzzing: $total requests on brd (2 x $half), $(date +%T)"
	# brd-mix, brd-mix-2, xfs-kiocb, xfs-bio, ext4-direct, no-leaks
	echo "# expect 6 fuzz"
	if ! setup_brd >/dev/null; then
		echo "FAIL fuzz/setup: no brd disks"
		return
	fi
	"$G/vfuzz" --shared --requests "$half" --engine mix \
		--seed "$(fuzz_seed fuzz/brd-mix)" /dev/ram0 >"$dir/ram0" 2>&1 &
	p1=$!
	"$G/vfuzz" --shared --requests "$half" --engine mix \
		--seed "$(fuzz_seed fuzz/brd-mix-2)" /dev/ram2 >"$dir/ram2" 2>&1 &
	p2=$!
	fuzz_wait "$p1" "$dir/ram0"; rc1=$?
	fuzz_wait "$p2" "$dir/ram2"; rc2=$?
	fuzz_report fuzz/brd-mix "$dir/ram0" "$rc1"
	fuzz_report fuzz/brd-mix-2 "$dir/ram2" "$rc2"
	echo "vbt: fuzzing: $files requests on a raw image on XFS (2 x $((files / 2))), $(date +%T)"
	if img=$(setup_xfs); then
		"$G/vfuzz" --requests "$((files / 2))" \
			--seed "$(fuzz_seed fuzz/xfs-kiocb)" "$img" >"$dir/xfs" 2>&1 &
		fuzz_wait $! "$dir/xfs"
		fuzz_report fuzz/xfs-kiocb "$dir/xfs" $?
	else
		echo "FAIL fuzz/xfs-setup: no XFS image"
	fi
	# all written: the bio engine sends its requests to the image's blocks
	# (src/layout.c); bio only, as a kiocb device beside it would recall
	# the layout at its first write. Not on a kernel without the lease API
	# the layout needs (the module's features say "-file-layout").
	if grep -qw -- -file-layout /sys/module/vhost_blk/parameters/features; then
		echo "SKIP fuzz/xfs-bio: the bio engine on an image file needs the module's file-layout feature, off on $(uname -r) (the lease API of 6.9)"
	elif img=$(VBT_IMAGE=written setup_xfs); then
		"$G/vfuzz" --requests "$((files / 2))" --engine bio \
			--seed "$(fuzz_seed fuzz/xfs-bio)" "$img" >"$dir/xfs-bio" 2>&1 &
		fuzz_wait $! "$dir/xfs-bio"
		fuzz_report fuzz/xfs-bio "$dir/xfs-bio" $?
	else
		echo "FAIL fuzz/xfs-setup: no written XFS image"
	fi
	# O_DIRECT on ext4 on a null_blk that completes after submission: the
	# kiocb engine's overwrites end in the worker (IOCB_DIO_CALLER_COMP)
	echo "vbt: fuzzing: $((files / 2)) requests on a raw image on ext4, O_DIRECT, $(date +%T)"
	if img=$(setup_ext4); then
		"$G/vfuzz" --direct --align 512 --requests "$((files / 2))" \
			--seed "$(fuzz_seed fuzz/ext4-direct)" "$img" >"$dir/ext4" 2>&1 &
		fuzz_wait $! "$dir/ext4"
		fuzz_report fuzz/ext4-direct "$dir/ext4" $?
	else
		echo "FAIL fuzz/ext4-setup: no ext4 image"
	fi
	run fuzz/no-leaks no_leaks
	rm -rf "$dir"
	teardown_ext4
	teardown_brd
}

# fuzz_wait PID OUTPUT: the exit status of the vfuzz run PID, which writes
# OUTPUT. vfuzz says how far it is every 10 s and gives up on its own waits
# (a completion, an owner's exit) within a minute, so one that writes
# nothing for FUZZ_STALL_S seconds (default 300) is stuck in a system call:
# a hang that a hung-task report may never name (an interruptible wait).
# Then its stacks and those of the module's threads go to OUTPUT and the
# console, it is killed, and the status is 124.
fuzz_wait() {
	local pid=$1 out=$2 size=-1 now idle=0 i
	while kill -0 "$pid" 2>/dev/null; do
		sleep 5
		now=$(stat -c %s "$out" 2>/dev/null || echo 0)
		if [ "$now" != "$size" ]; then
			size=$now
			idle=0
			continue
		fi
		idle=$((idle + 5))
		[ "$idle" -ge "${FUZZ_STALL_S:-300}" ] || continue
		{
			echo "FAIL vfuzz: no progress for $idle s, stuck in the kernel (stacks follow)"
			task_stacks "$pid"
		} >>"$out"
		grep -E '^vbt: ' "$out" | head -n 150 >&2
		pkill -KILL -P "$pid"
		kill -KILL "$pid"
		for i in $(seq 12); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 5
		done
		wait "$pid" 2>/dev/null
		return 124
	done
	wait "$pid"
}

# fuzz_seed NAME: a fresh seed, said on the console before the run starts,
# so that a run which never ends can still be replayed
fuzz_seed() {
	local seed
	seed=$(od -An -N8 -tu8 /dev/urandom | tr -d ' ')
	echo "vbt: $1: seed $seed" >&2
	echo "$seed"
}

# fuzz_report NAME OUTPUT EXIT_STATUS
fuzz_report() {
	local name=$1 out=$2 rc=$3
	grep -E '^(vfuzz: seed .*fuzzing|requests made|completions|rings broken|events|dirty log|layout|deferred|throughput)' "$out" |
		sed 's/^/vbt:   /'
	# the devices that kept a dirty log: what their checks covered
	grep -E '^# device #[0-9]+: dirty log' "$out" | sed 's/^# /vbt:     /'
	if [ "$rc" = 0 ] && grep -q '^PASS vfuzz' "$out"; then
		echo "PASS $name"
	else
		echo "FAIL $name: $(grep -E '^FAIL vfuzz' "$out" || tail -n 3 "$out" | tr '\n' ' ')"
		grep -E '^vfuzz: FAIL' "$out" | head -n 5 | sed 's/^/vbt:   /'
	fi
}
