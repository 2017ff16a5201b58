# Durability by log replay (#21); sourced by batch.sh, which has run().
#
# The disk is a memory-backed null_blk with a volatile write cache (it
# honours FLUSH and FUA, and a crash would lose its cache); dm-log-writes
# sits on it and logs every write that reached stable media, in order, to
# a second null_blk. vdurable (tests/durable/) writes through vhost-blk and
# marks the log after each round; then the log is replayed onto a blank
# disk mark by mark, and every sector written so far must hold what the
# device had promised at that mark (an image file is read from the
# replayed file system, mounted).
#
# Each spec: KIND ENGINE MODE [IMAGE]
#   KIND    bdev (vhost-blk on the log-writes device) | xfs | ext4 (an image
#           file on that file system, on the log-writes device)
#   ENGINE  bio | direct (kiocb, O_DIRECT) | buffered (kiocb)
#   MODE    writeback (FLUSHes at random) | writethrough (no
#           VIRTIO_BLK_F_FLUSH) | switch (SET_WRITEBACK 0 halfway) |
#           noflush (the control: write-back, no FLUSH, checked as if
#           write-through: the check must find lost writes)
#   IMAGE   sparse | prealloc (fallocate: unwritten extents) | written
# VBT_DURABLE=short: the block device specs only (the debug kernel).
# shellcheck shell=bash

DUR_DM=vbt-lw
DUR_MIB=320		# the disk (XFS wants 300 MiB)
DUR_LOG_MIB=1024
DUR_IMAGE_MIB=64
DUR_ROUNDS=${VBT_DURABLE_ROUNDS:-24}
DUR_REC=/tmp/vdurable.rec
DUR_MNT=/mnt/durable
DUR_CHECK_MNT=/mnt/durable-check

dur_specs_bdev=(
	"bdev bio writeback" "bdev bio writethrough" "bdev bio switch"
	"bdev bio noflush"
	"bdev direct writeback" "bdev direct writethrough"
	"bdev buffered writeback" "bdev buffered writethrough"
)
dur_specs_fs=(
	"xfs buffered writeback sparse" "xfs buffered writethrough sparse"
	"xfs direct writeback sparse" "xfs direct writethrough sparse"
	"xfs direct writeback prealloc" "xfs direct writethrough prealloc"
	"xfs bio writeback written" "xfs bio writethrough written"
	"xfs bio switch written"
	"ext4 buffered writeback sparse" "ext4 buffered writethrough sparse"
	"ext4 direct writethrough sparse" "ext4 direct writeback prealloc"
)

# dur_nullb NAME MIB CACHE_MIB: a fresh (zeroed) memory-backed null_blk.
dur_nullb() {
	local d=/sys/kernel/config/nullb/$1
	[ -d "$d" ] && { echo 0 >"$d/power"; rmdir "$d"; }
	modprobe null_blk nr_devices=0 && mkdir "$d" || return 1
	echo "$2" >"$d/size" && echo 1 >"$d/memory_backed" &&
		echo "$3" >"$d/cache_size" && echo 1 >"$d/power" || return 1
	wait_dev "/dev/$1" >/dev/null
}

dur_teardown() {
	local n
	mountpoint -q "$DUR_MNT" && umount "$DUR_MNT"
	mountpoint -q "$DUR_CHECK_MNT" && umount "$DUR_CHECK_MNT"
	dmsetup remove "$DUR_DM" 2>/dev/null
	for n in vbtdurdisk vbtdurlog vbtdurrep vbtdurcopy; do
		[ -d "/sys/kernel/config/nullb/$n" ] || continue
		echo 0 >"/sys/kernel/config/nullb/$n/power"
		rmdir "/sys/kernel/config/nullb/$n"
	done
	rm -f "$DUR_REC"
}

# dur_stack KIND IMAGE: a blank disk under dm-log-writes, and on it the file
# system and image for KIND; prints the backend's path.
dur_stack() {
	local kind=$1 image=$2 n=$((DUR_MIB * 2048)) f
	dur_teardown
	modprobe dm-log-writes &&
		dur_nullb vbtdurdisk "$DUR_MIB" 64 && dur_nullb vbtdurlog "$DUR_LOG_MIB" 0 &&
		echo "0 $n log-writes /dev/vbtdurdisk /dev/vbtdurlog" |
		dmsetup create "$DUR_DM" || return 1
	[ "$kind" = bdev ] && { echo "/dev/mapper/$DUR_DM"; return 0; }
	mkdir -p "$DUR_MNT" "$DUR_CHECK_MNT"
	case $kind in
	xfs) mkfs.xfs -q -f -K "/dev/mapper/$DUR_DM" ;;
	ext4) mkfs.ext4 -q -F -E nodiscard "/dev/mapper/$DUR_DM" ;;
	esac >/dev/null && mount "/dev/mapper/$DUR_DM" "$DUR_MNT" || return 1
	f=$DUR_MNT/disk.raw
	case $image in
	sparse) truncate -s "${DUR_IMAGE_MIB}M" "$f" ;;
	prealloc) fallocate -l "${DUR_IMAGE_MIB}M" "$f" ;;
	written) dd if=/dev/zero of="$f" bs=1M count="$DUR_IMAGE_MIB" oflag=direct status=none ;;
	esac || return 1
	# What the first mark starts from: the image on stable media.
	sync -f "$DUR_MNT" && echo "$f"
}

# dur_one SPEC...: one spec, run and checked; prints its result line.
dur_one() {
	local kind=$1 engine=$2 mode=$3 image=${4:-} name path out args=() check=()
	name="durable/$kind-$engine-$mode${image:+-$image}"
	if ! path=$(dur_stack "$kind" "$image" 2>&1); then
		echo "FAIL $name: setting up: $path"
		return
	fi
	case $engine in
	bio) args=(--engine bio) ;;
	direct) args=(--engine kiocb --direct) ;;
	buffered) args=(--engine kiocb) ;;
	esac
	if ! out=$("$G/vdurable" run --backend "$path" --record "$DUR_REC" \
		--dm "$DUR_DM" --mode "$mode" --rounds "$DUR_ROUNDS" \
		--area-mib $((DUR_IMAGE_MIB < 16 ? DUR_IMAGE_MIB : 16)) "${args[@]}" 2>&1); then
		echo "FAIL $name: run: $(printf '%s' "$out" | tail -n 3 | tr '\n' ' ')"
		return
	fi
	echo "vbt: $name: $(printf '%s' "$out" | tail -n 1)"
	[ "$kind" = bdev ] || umount "$DUR_MNT"
	# Removing the target writes out its log; the replay goes to blank disks.
	if ! dmsetup remove "$DUR_DM" || ! dur_nullb vbtdurrep "$DUR_MIB" 0; then
		echo "FAIL $name: tearing down the log-writes target"
		return
	fi
	[ "$mode" = noflush ] && check+=(--expect-loss)
	if [ "$kind" != bdev ]; then
		dur_nullb vbtdurcopy "$DUR_MIB" 0 || { echo "FAIL $name: no copy disk"; return; }
		check+=(--fs "$kind" --image disk.raw --copy /dev/vbtdurcopy
			--mnt "$DUR_CHECK_MNT" --max-mounts 4)
	fi
	if out=$("$G/vdurable" check --log /dev/vbtdurlog --target /dev/vbtdurrep \
		--record "$DUR_REC" "${check[@]}" 2>&1); then
		echo "PASS $name"
		printf '%s\n' "$out" | grep '^vdurable check:' | sed 's/^/vbt: /' | head -n 1
	else
		echo "FAIL $name: $(printf '%s' "$out" | tail -n 4 | tr '\n' ' ')"
	fi
}

durable_tests() {
	local specs=("${dur_specs_bdev[@]}") spec
	[ "${VBT_DURABLE:-full}" = short ] || specs+=("${dur_specs_fs[@]}")
	[ -n "${VBT_DURABLE_SPECS:-}" ] && IFS=';' read -r -a specs <<<"$VBT_DURABLE_SPECS"
	echo "vbt: durable: ${#specs[@]} specs, $DUR_ROUNDS rounds each"
	echo "# expect ${#specs[@]} durable"
	for spec in "${specs[@]}"; do
		# shellcheck disable=SC2086
		dur_one $spec
	done
	dur_teardown
}
