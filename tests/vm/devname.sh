# The first open of /dev/vhost-blk loads the module (the devname alias);
# sourced by batch.sh, which has run() and the loaded module. The module
# goes into /lib/modules/$(uname -r)/extra (on an overlay or a copy, gone
# when the part ends: another kernel's /lib/modules is read-only 9p) with
# the index files depmod made of that tree on the build machine (build.sh
# module; in the VM it takes minutes under TCG); modinfo and
# modules.devname must name the alias; the module is removed, the node
# made as kmod static-nodes and systemd-tmpfiles make it at boot, and the
# first open must load the module; api-example then runs through it. The
# udev rule (src/60-vhost-blk.rules) must pass udevadm verify.
# shellcheck shell=bash

DEVNAME_MINOR=250	# VHOST_BLK_MINOR in src/main.c

# modules_writable MODULES DIR: the module tree MODULES made writable until
# it is unmounted: an overlay (upper and work in DIR) where the kernel has
# overlayfs; else (the debug kernel, built without it; its tree is a few
# modules) a copy in DIR, on tmpfs, bind-mounted over it.
modules_writable() {
	local mods=$1 d=$2
	mkdir -p "$d/upper" "$d/work" || return 1
	if grep -qw overlay /proc/filesystems || modprobe -q overlay; then
		mount -t overlay overlay -o "lowerdir=$mods,upperdir=$d/upper,workdir=$d/work" "$mods"
	else
		cp -a "$mods/." "$d/upper/" && mount --bind "$d/upper" "$mods"
	fi
}

# devname_install [DIR MODULE INDEX]: MODULE (the batch's) into
# /lib/modules/RELEASE/DIR (extra), made writable for the part, with the
# index files in INDEX (build/kmod/RELEASE/modindex) that depmod made of
# that tree.
devname_install() {
	local mods d=/tmp/devname dir=${1:-extra} k file index
	k=/repo/build/kmod/$(uname -r)
	file=${2:-$k/vhost_blk.ko}
	index=${3:-$k/modindex}
	mods=/lib/modules/$(uname -r)
	[ -f "$index/modules.dep" ] ||
		{ echo "no $index: build.sh module makes it"; return 1; }
	modules_writable "$mods" "$d" &&
		mkdir -p "$mods/$dir" &&
		cp "$file" "$mods/$dir/" &&
		cp "$index"/modules.* "$mods/"
}

# devname_restore: the module as the batch had it, not the one the open
# loaded from /lib/modules; its mount and the boot-time node (made by
# systemd-tmpfiles, not devtmpfs: it outlives the module) gone.
devname_restore() {
	rmmod vhost_blk 2>/dev/null
	umount "/lib/modules/$(uname -r)" 2>/dev/null
	rm -f /dev/vhost-blk
	rm -rf /tmp/devname /run/tmpfiles.d/static-nodes.conf
	insmod "/repo/build/kmod/$(uname -r)/vhost_blk.ko"
}

devname_modinfo() {
	local alias
	alias=$(modinfo -F alias vhost_blk) || return 1
	grep -qx "devname:vhost-blk" <<<"$alias" || { echo "no devname alias: $alias"; return 1; }
	grep -qx "char-major-10-$DEVNAME_MINOR" <<<"$alias" || { echo "no char-major alias: $alias"; return 1; }
	grep -q "^vhost_blk vhost-blk c10:$DEVNAME_MINOR\$" "/lib/modules/$(uname -r)/modules.devname" ||
		{ echo "modules.devname: $(grep vhost "/lib/modules/$(uname -r)/modules.devname")"; return 1; }
}

# The module removed, the node as at boot: kmod's tmpfiles line applied.
devname_static_node() {
	local conf=/run/tmpfiles.d/static-nodes.conf
	rmmod vhost_blk || return 1
	[ ! -e /sys/module/vhost_blk ] || { echo "vhost_blk still loaded"; return 1; }
	[ ! -e /dev/vhost-blk ] || { echo "/dev/vhost-blk outlived the module"; return 1; }
	mkdir -p /run/tmpfiles.d &&
		kmod static-nodes --format=tmpfiles --output="$conf" || return 1
	grep -q "^c! /dev/vhost-blk .* 10:$DEVNAME_MINOR\$" "$conf" ||
		{ echo "kmod static-nodes made no vhost-blk line: $(cat "$conf")"; return 1; }
	systemd-tmpfiles --create --boot "$conf" || return 1
	[ "$(stat -c %t:%T /dev/vhost-blk)" = "a:$(printf %x "$DEVNAME_MINOR")" ] ||
		{ echo "/dev/vhost-blk is $(stat -c %t:%T /dev/vhost-blk)"; return 1; }
	[ ! -e /sys/module/vhost_blk ] || { echo "vhost_blk loaded before the open"; return 1; }
}

devname_open() {
	[ -c /dev/vhost-blk ] || { echo "no node /dev/vhost-blk"; return 1; }
	# an open only: the misc core asks modprobe for char-major-10-250
	sh -c ': <>/dev/vhost-blk' || return 1
	[ -d /sys/module/vhost_blk ] || { echo "the open did not load vhost_blk"; return 1; }
	grep -q "^vhost_blk " /proc/modules
}

# devname_api_example PART: api-example on brd through the loaded module,
# then the module as the batch had it (devname_restore).
devname_api_example() {
	local path
	if path=$(setup_brd 2>&1); then
		run "$1/api-example" "$G/api-example" "$path"
		teardown_brd
	else
		echo "FAIL $1/api-example: $path"
	fi
	devname_restore
}

devname_tests() {
	echo "# expect 6 devname"
	run devname/udev-rule udevadm verify --no-style /repo/src/60-vhost-blk.rules
	run devname/install devname_install
	run devname/modinfo devname_modinfo
	run devname/static-node devname_static_node
	run devname/open-loads devname_open
	devname_api_example devname
}
