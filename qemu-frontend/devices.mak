# Devices of the qemu-system-x86_64 that qemu-frontend/build.sh builds
# (QEMU's --without-default-devices --with-devices-x86_64=vhost-blk):
# the q35 machine, virtio over PCI, vhost-blk and a few virtio devices a
# guest commonly needs next to it; isa-debug-exit is the power switch of the
# test's guest (it boots without ACPI: faster, nested under TCG).
CONFIG_Q35=y
CONFIG_VIRTIO_PCI=y
CONFIG_VHOST_BLK=y
CONFIG_VIRTIO_BLK=y
CONFIG_VIRTIO_NET=y
CONFIG_VIRTIO_RNG=y
CONFIG_VIRTIO_SERIAL=y
CONFIG_ISA_DEBUG=y
