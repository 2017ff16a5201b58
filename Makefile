# vhost-blk: top-level targets. Kernel parts build inside the Debian 13 test
# host (cached under $(CACHE)); see README.md.
#
#   make               module + test programs + unit tests, and say what was built
#   make module        build/kmod/<release>/vhost_blk.ko against the test
#                      host's kernel, or KVER=<release>, or KVER=debug (the
#                      KASAN/lockdep kernel of tests/vm/mkkernel.sh)
#   make module NATIVE=1 [KVER=$(uname -r)]   ./vhost_blk.ko on a real host,
#                      with its own toolchain
#   make check         unit tests, lint, and the VM test batch on the
#                      distribution kernel and on the debug kernel
#                      (QUICK=1: distribution kernel only)
#   make demo          boot the test host and serve a raw image on XFS, then
#                      boot a guest whose disk is vhost-blk-pci
#   make qemu          build/qemu/qemu-system-x86_64: QEMU 10.0 with the
#                      vhost-blk device (qemu-frontend/, docs/qemu.md)
#   make qemu-bridge   only Debian's own QEMU booting the nested guest on
#                      vhost-blk-user and migrating it (one boot of the
#                      test host; make check runs it beside the patched
#                      guest: docs/qemu.md)
#   make qemu-libvirt  only libvirtd defining and starting a domain with
#                      <disk type='vhostuser'> on vhost-blk-user, the guest
#                      doing fio verify, virsh shutdown ending it (one boot;
#                      make check runs it after the other guests)
#   make bench         fio against the backend, vhost-blk (kiocb, bio) and
#                      qemu-storage-daemon in one boot; bench/results/
#                      latest.json and .png (QUICK=1: the reduced matrix,
#                      PROFILE=1: perf profiles too; BENCH_CELLS, BENCH_REPS,
#                      BENCH_VCPUS and more: docs/bench.md)
#   make bridge        build/bridge/vhost-blk-user: the vhost-user-blk
#                      back-end for stock QEMU and libvirt (docs/qemu.md),
#                      built with this machine's compiler
#   make deb           build/deb/vhost-blk-dkms_<VERSION>_all.deb: the module
#                      for DKMS, the udev rule, the uapi header (src/dkms/;
#                      the version is the file src/VERSION)
#   make unit | lint | guest | testhost | clean

CACHE ?= $(HOME)/.cache/vhost-blk
QUICK ?= 0
PROFILE ?= 0
export CACHE QUICK
KVER ?=
NATIVE ?= 0
VM := tests/vm

.PHONY: all module guest unit bridge lint check demo bench qemu qemu-bridge qemu-libvirt testhost deb clean

all: module guest unit bridge
	@echo "built: $$(ls build/kmod/*/vhost_blk.ko | tr '\n' ' '); build/guest/vbt, vblk-demo, api-example, vhost-blk-user; build/bridge/vhost-blk-user; unit tests passed"

ifeq ($(NATIVE),1)
KVER_NATIVE := $(if $(KVER),$(KVER),$(shell uname -r))
module:
	@inc=$$($(VM)/kernel-source.sh $(KVER_NATIVE) $(CACHE)/ksrc) && \
	$(MAKE) -C /lib/modules/$(KVER_NATIVE)/build M=$(CURDIR) VHOST_INC=$$inc modules
else
module:
	@$(VM)/build.sh module $(KVER)
endif

guest:
	@$(VM)/build.sh guest

unit:
	@$(MAKE) -s -C tests O=$(CURDIR)/build/unit unit

bridge:
	@$(MAKE) -s -C tests O=$(CURDIR)/build/bridge bridge

lint:
	@$(VM)/build.sh lint $(KVER)

testhost:
	@$(VM)/mkrootfs.sh

deb:
	@src/dkms/mkdeb.sh >/dev/null

check:
	@$(VM)/check.sh

demo:
	@$(VM)/demo.sh

qemu:
	@$(VM)/nested.sh --prepare

qemu-bridge:
	@$(VM)/nested.sh --bridge

qemu-libvirt:
	@$(VM)/nested.sh --libvirt

bench:
	@PROFILE=$(PROFILE) bench/run.sh

clean:
	rm -rf build
	rm -f *.ko *.mod *.mod.c *.o src/*.o modules.order Module.symvers
	find . -name '.*.cmd' -delete
	rm -f .module-common.o
