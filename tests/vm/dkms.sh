# The module as the DKMS package built it (tests/vm/dkms-host.sh, on the
# build machine, copied from updates/dkms to build/dkms/RELEASE/), loaded
# by the first open of /dev/vhost-blk from updates/dkms; sourced by batch.sh
# after devname.sh, whose steps it reuses. /lib/modules is made writable
# for the part (devname.sh's modules_writable); the module goes where DKMS
# installs it, with the index depmod made of that tree (dkms-host.sh,
# build.sh modindex), and the batch's own module is never in /lib/modules:
# modprobe can only find the DKMS one. api-example then runs through it.
# shellcheck shell=bash

# The one vhost_blk in /lib/modules is the DKMS one, and modinfo finds it.
dkms_modinfo() {
	local mods found
	mods=/lib/modules/$(uname -r)
	found=$(find "$mods/" -name 'vhost_blk.ko*')
	[ "$found" = "$(ls "$mods/updates/dkms/"vhost_blk.ko*)" ] ||
		{ echo "vhost_blk in /lib/modules: $found"; return 1; }
	[ "$(modinfo -n vhost_blk)" = "$found" ] ||
		{ echo "modinfo -n vhost_blk: $(modinfo -n vhost_blk)"; return 1; }
	modinfo -F vermagic vhost_blk | grep -q "^$(uname -r) " ||
		{ echo "vermagic: $(modinfo -F vermagic vhost_blk)"; return 1; }
	devname_modinfo
}

# The first open loads it: the module loaded is the DKMS build.
dkms_open() {
	devname_open || return 1
	[ "$(cat /sys/module/vhost_blk/srcversion)" = "$(modinfo -F srcversion vhost_blk)" ] ||
		{ echo "srcversion $(cat /sys/module/vhost_blk/srcversion), updates/dkms's $(modinfo -F srcversion vhost_blk)"; return 1; }
}

dkms_tests() {
	local ko t0
	t0=$(date +%s)
	ko=$(ls "/repo/build/dkms/$(uname -r)/"vhost_blk.ko* 2>/dev/null)
	if [ -z "$ko" ]; then
		echo "# expect 1 dkms"
		echo "SKIP dkms: no DKMS build for $(uname -r) in build/dkms (tests/vm/dkms-host.sh makes it, on the build machine)"
		return
	fi
	echo "# expect 5 dkms"
	echo "vbt: $(date +%T) dkms: ${ko#/repo/} into updates/dkms"
	run dkms/install devname_install updates/dkms "$ko" "/repo/build/dkms/$(uname -r)/modindex"
	run dkms/modinfo dkms_modinfo
	run dkms/static-node devname_static_node
	run dkms/open-loads dkms_open
	devname_api_example dkms
	echo "vbt: $(date +%T) dkms done ($(( $(date +%s) - t0 ))s)"
}
