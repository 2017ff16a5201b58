# Sourced inside the test VM (guest-init.sh, fuzz.sh): task_stacks [PID...]
# prints, a line each prefixed "vbt: ", the kernel stacks of the given
# processes' threads (and their children's), of the vhost workers, of the
# module's busy workqueue threads and of every task in D state: who waits
# for what when a test stops making progress.
# shellcheck shell=bash

task_stacks() {
	local pids=" $* " p t st comm
	for p in "$@"; do
		pids+="$(pgrep -P "$p" | tr '\n' ' ')"
	done
	for t in /proc/[0-9]*/task/[0-9]*; do
		p=${t#/proc/}
		p=${p%%/*}
		st=$(cut -d' ' -f3 "$t/stat" 2>/dev/null) || continue
		comm=$(cat "$t/comm" 2>/dev/null)
		case $comm in
		vhost-*) ;;
		# an idle workqueue thread says nothing
		kworker*vhost-blk) [ "$st" != I ] || continue ;;
		*) [[ $pids == *" $p "* ]] || [ "$st" = D ] || continue ;;
		esac
		echo "vbt: task ${t#/proc/} $comm state $st"
		sed 's/^/vbt:     /' "$t/stack" 2>/dev/null
	done
}
