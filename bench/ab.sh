#!/bin/bash
# bench/ab.sh REV: the module at git revision REV (A) against the working
# tree's (B), in one boot of the test host: fio through /dev/vhost-blk on a
# raw image on XFS on a null_blk that completes after submission, each
# repetition A, B, then io_uring (bench/vm/ab.sh; AB_REPS, AB_RUNTIME, AB_RW,
# AB_ENGINE, AB_SIZE_MB pass on). REV is built in a temporary worktree with
# its own scripts. Prints each build's IOPS and p50 and B over A paired by
# repetition; fio's JSON stays in build/ab/out-TIME.
set -euo pipefail
. "$(dirname "$0")/../tests/vm/common.sh"

rev=${1:?usage: bench/ab.sh REV (a git revision, built as A; B is the working tree)}
sha=$(git -C "$REPO" rev-parse --verify -q "$rev^{commit}") ||
	die "$rev is not a revision of $REPO (try HEAD, HEAD~1 or a commit hash)"
"$VM_DIR/build.sh" module
"$VM_DIR/build.sh" bench
kver=$(cat "$ROOTFS_DIR/kernel-release")

wt=$(mktemp -d /tmp/vblk-ab.XXXXXX)
trap 'git -C "$REPO" worktree remove --force "$wt" 2>/dev/null || rm -rf "$wt"' EXIT
git -C "$REPO" worktree add -q --detach "$wt" "$sha"
log "ab: building A, ${sha:0:12}, in $wt"
CACHE=$CACHE "$wt/tests/vm/build.sh" module
mkdir -p "$REPO/build/ab"
cp "$wt/build/kmod/$kver/vhost_blk.ko" "$REPO/build/ab/a.ko"
cp "$REPO/build/kmod/$kver/vhost_blk.ko" "$REPO/build/ab/b.ko"

out="$REPO/build/ab/out-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$out"
log "ab: A ${sha:0:12}, B the working tree ($(git -C "$REPO" describe --always --dirty)); output in ${out#"$REPO"/}"
set +e
"$VM_DIR/run.sh" --mem 4096 --timeout "${VM_TIMEOUT:-1800}" --out "$out" \
	env AB_REPS="${AB_REPS:-5}" AB_RUNTIME="${AB_RUNTIME:-5}" AB_RW="${AB_RW:-randwrite}" \
	AB_ENGINE="${AB_ENGINE:-kiocb}" AB_SIZE_MB="${AB_SIZE_MB:-1024}" /repo/bench/vm/ab.sh |
	tee "$out/runner.log" | grep --line-buffered -E '^(ab|FAIL|error)[: ]'
rc=${PIPESTATUS[0]}
set -e
[ "$rc" = 0 ] || die "the test host's run failed (exit $rc): see ${out#"$REPO"/}/runner.log"
