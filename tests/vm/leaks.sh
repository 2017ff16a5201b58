# Sourced inside the test VM (batch.sh, nested-vm.sh): no_leaks() says
# whether everything the module allocated or pinned is back, and prints
# what is not. The system-wide page pin counters may lag: direct-I/O reads
# release their pins from a workqueue. Give them 10 s.
no_leaks() {
	local i out
	for i in $(seq 20); do
		echo 1 >/proc/sys/vm/stat_refresh	# fold the per-CPU counters
		out=$(awk '$2 != 0 { bad = 1; print "still live: " $0 } END { exit bad }' \
			/sys/kernel/debug/vhost_blk/stats &&
			awk '/^nr_foll_pin_acquired/ { a = $2 } /^nr_foll_pin_released/ { r = $2 }
			     END { if (a != r) { print "page pins: " a " acquired, " r " released"; exit 1 } }' \
				/proc/vmstat) && return 0
		sleep 0.5
	done
	echo "$out"
	return 1
}
