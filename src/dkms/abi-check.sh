#!/bin/bash
# The DKMS build's ABI check: vhost_blk.ko compiles the vhost core's private
# drivers/vhost/vhost.h into itself (struct vhost_dev, vhost_virtqueue, ...),
# so that header must be the one the running vhost.ko was built from; a
# mismatch is not seen at load time and corrupts memory.
# Where the kernel has CONFIG_MODVERSIONS, drivers/vhost/vhost.c of the same
# source is compiled alone in a scratch directory (an object, never a
# module), and the symbol CRCs genksyms records for it (the "#SYMVER name
# 0xcrc" lines of its .cmd file) must equal, for every symbol
# drivers/vhost/vhost exports, the kernel's Module.symvers: each CRC covers
# the types of its symbol's signature, down through struct vhost_dev. Where
# it has not, no CRC exists to compare: the source's version must be the
# headers package's (kernel-source.sh took it so) and is checked again.
#   abi-check.sh KVER KDIR SRCDIR    SRCDIR: kernel-source.sh's output
set -euo pipefail
kver=${1:?usage: abi-check.sh KVER KDIR SRCDIR}
kdir=${2:?usage: abi-check.sh KVER KDIR SRCDIR}
src=${3:?usage: abi-check.sh KVER KDIR SRCDIR}
say() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }
origin=$(cat "$src/SOURCE")

if ! grep -qx 'CONFIG_MODVERSIONS=y' "$kdir/.config"; then
	hv=$(dpkg-query -W -f '${source:Version}' "linux-headers-$kver") ||
		die "linux-headers-$kver is not installed"
	[ "$(cat "$src/VERSION")" = "$hv" ] ||
		die "vhost.h of $origin is not of $kver's source version $hv: refusing to build against it"
	say "ABI check: $kver has no CONFIG_MODVERSIONS, so no symbol CRCs to compare; vhost.h is of the kernel's exact source version ($hv, $origin)"
	exit 0
fi
symvers=$kdir/Module.symvers
export LC_ALL=C
# (both print CRCs as 0x%08x)
theirs=$(awk '$3 == "drivers/vhost/vhost" { print $2, tolower($1) }' "$symvers" | sort)
[ -n "$theirs" ] ||
	die "$symvers lists no symbol of drivers/vhost/vhost: $kver has no vhost core (CONFIG_VHOST) to build vhost-blk on"

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cp "$src/vhost.c" "$src/vhost.h" "$scratch/"
echo 'obj-m := vhost.o' >"$scratch/Kbuild"
say "ABI check: compiling drivers/vhost/vhost.c of $origin alone, for its symbol CRCs"
make -s -C "$kdir" M="$scratch" vhost.o >"$scratch/log" 2>&1 ||
	{ tail -n 20 "$scratch/log" >&2; die "compiling drivers/vhost/vhost.c of $origin for the ABI check failed (above): a vhost.c of another kernel does not compile against $kver's headers; install the kernel's exact source (linux-source of the version of linux-headers-$kver)"; }
mine=$(awk '$1 == "#SYMVER" { print $2, tolower($3) }' "$scratch/.vhost.o.cmd" | sort)
[ -n "$mine" ] ||
	die "the kernel build of $kver recorded no symbol CRC for vhost.o (no #SYMVER lines in .vhost.o.cmd): cannot check vhost.h"
# (the first six named, and how many in all)
bad=$(join -a 1 -e none -o 0,1.2,2.2 <(echo "$theirs") <(echo "$mine") |
	awk '$2 != $3 { n++; if (n <= 6) s = s sprintf(" %s (kernel %s, vhost.h %s)", $1, $2, $3) }
	END { if (n > 6) s = s sprintf(" and %d more", n - 6); if (n) printf "%d:%s", n, s }')
[ -z "$bad" ] ||
	die "drivers/vhost/vhost.h of $origin does not match $kver's vhost core: the symbol CRCs of${bad#*:} differ from $symvers (${bad%%:*} of $(echo "$theirs" | wc -l) symbols); a module built on it would corrupt the vhost core's structures. Install the kernel's exact source (linux-source of the version of linux-headers-$kver) and build again"
say "ABI check: the $(echo "$theirs" | wc -l) symbols of $kver's vhost.ko match drivers/vhost/vhost.h of $origin (CRCs of Module.symvers)"
