#!/bin/bash
# Install what this machine needs to build the test host and boot it:
# Debian 12 or 13, as root. The test host itself (kernel, headers, gcc-14,
# fio, liburing, QEMU 10 ...) comes from Debian 13 into the cache.
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "error: run as root (it installs packages with apt-get)" >&2; exit 1; }
pkgs=(debootstrap qemu-system-x86 qemu-utils e2fsprogs util-linux make gcc libc6-dev linux-libc-dev ca-certificates)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "installing: ${missing[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if ! ls /usr/share/debootstrap/scripts/trixie >/dev/null 2>&1; then
	echo "error: this debootstrap does not know Debian 13 (trixie); install a newer debootstrap" >&2
	exit 1
fi
echo "host dependencies: ok"
