#!/bin/bash
# How busy the machine is with other work while the benchmark VM runs (the
# VM's numbers move with it: its vCPUs are threads of this machine). Every
# INTERVAL seconds, one line to stdout: the time, the share of the
# machine's CPU time (all CPUs) that went to everything but the VM's QEMU
# (PID), and the share that went to the VM.
#   hostload.sh QEMU_PID [INTERVAL]
set -u
pid=${1:?usage: hostload.sh QEMU_PID [INTERVAL]}
step=${2:-2}
sample() { # -> "busy_ticks all_ticks qemu_ticks"
	local s q
	s=$(awk '/^cpu / { b = $2 + $3 + $4 + $7 + $8 + $9; print b, b + $5 + $6 }' /proc/stat)
	q=$(awk '{ print $14 + $15 }' "/proc/$pid/stat" 2>/dev/null) || return 1
	echo "$s $q"
}
prev=$(sample) || exit 0
while sleep "$step"; do
	cur=$(sample) || exit 0
	set -- $prev $cur
	# shares of all CPU ticks that passed (every CPU, idle included)
	awk -v t="$(date +%s)" -v b0="$1" -v a0="$2" -v q0="$3" -v b1="$4" \
		-v a1="$5" -v q1="$6" \
		'BEGIN { span = a1 - a0; if (span <= 0) exit
			 o = (b1 - b0) - (q1 - q0); if (o < 0) o = 0
			 printf "%s\t%.1f\t%.1f\n", t, 100 * o / span, 100 * (q1 - q0) / span }'
	prev=$cur
done
