#!/bin/bash
# selftest-bugs.sh OUTDIR: vbt against fake-vhost-blk.so with each bug the
# fake can plant (FAKE_VHOST_BLK_BUG, listed in its header comment) in
# turn: some case must fail for each. Prints "PASS selftest/bug-NAME" or
# "FAIL selftest/bug-NAME: why" (SKIP where vbt was built without what the
# bug is about); exit status 1 if any failed.
set -uo pipefail
o=$1
src=$(dirname "$0")/fake-vhost-blk.c
bugs=$(sed -n '/FAKE_VHOST_BLK_BUG=name/,/^ \*$/p' "$src" |
	awk 'NR > 1 && $2 ~ /^[a-z-]+$/ { print $2 }')
[ -n "$bugs" ] || { echo "FAIL selftest/bugs: no bug listed in $src"; exit 1; }
echo "# expect $(wc -w <<<"$bugs") selftest-bugs"
img=$(mktemp /tmp/vbt-selftest.XXXXXX)
log=$img.log
trap 'rm -f "$img" "$log"' EXIT
truncate -s 128M "$img"
rc=0
for bug in $bugs; do
	# The first failure is enough: a bug that stalls a ring would
	# otherwise wait out each case's time limit.
	FAKE_VHOST_BLK_BUG=$bug LD_PRELOAD=$o/fake-vhost-blk.so \
		"$o/vbt" --integrity-mib 32 --timeout 20 "$img" 2>/dev/null |
		tee "$log" | grep -q -m1 '^FAIL '
	if [ "${PIPESTATUS[2]}" = 0 ]; then
		echo "PASS selftest/bug-$bug"
	elif [ "$bug" = shared-worker ] &&
		skip=$(grep -m1 '^SKIP worker-per-queue: built with' "$log"); then
		echo "SKIP selftest/bug-$bug: ${skip#SKIP worker-per-queue: }"
	else
		echo "FAIL selftest/bug-$bug: vbt passed with the bug planted"
		rc=1
	fi
done
exit $rc
