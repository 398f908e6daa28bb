# The guest image: build/guest/{vmlinux,initramfs.cpio.lz4,kernel-version}.
# Include from the top-level Makefile (`include agent/image/guest.mk`) or run it alone from the
# repository root: `make -f agent/image/guest.mk guest`.
# Every artifact depends on its inputs only; build/guest/kernel-package (the concrete kernel
# package=version) is rewritten only when apt offers another kernel, so nothing else rebuilds.
# GUEST_KERNEL_PACKAGE=linux-image-<abi>-cloud-amd64 pins the kernel instead of the metapackage.

GUEST_DIR := build/guest
GUEST_SRC := agent/image
GUEST_APT_PACKAGES := busybox-static cpio lz4 binutils

.PHONY: guest guest-apt guest-clean

guest: $(GUEST_DIR)/vmlinux $(GUEST_DIR)/initramfs.cpio.lz4

guest-apt:
	@bash scripts/ensure-apt.sh $(GUEST_APT_PACKAGES)

# Resolving costs ~1 s of apt-cache, so it reruns only when the apt lists change (apt-get update).
$(GUEST_DIR)/kernel-resolve.stamp: $(wildcard /var/lib/apt/lists/*_Packages*) $(GUEST_SRC)/resolve-kernel.sh | guest-apt
	@bash $(GUEST_SRC)/resolve-kernel.sh $(GUEST_DIR)/kernel-package
	@touch $@

$(GUEST_DIR)/kernel-package: $(GUEST_DIR)/kernel-resolve.stamp ;

# A pinned package is checked on every run, so changing the pin takes effect at once.
ifdef GUEST_KERNEL_PACKAGE
.PHONY: $(GUEST_DIR)/kernel-resolve.stamp
endif

$(GUEST_DIR)/kernel-root.stamp: $(GUEST_DIR)/kernel-package $(GUEST_SRC)/fetch-kernel.sh
	@bash $(GUEST_SRC)/fetch-kernel.sh $< $(GUEST_DIR)
	@touch $@

$(GUEST_DIR)/vmlinux: $(GUEST_DIR)/kernel-root.stamp $(GUEST_SRC)/extract-vmlinux.sh
	@echo "guest: extracting vmlinux"
	@bash $(GUEST_SRC)/extract-vmlinux.sh $(GUEST_DIR)/kernel-root/boot/vmlinuz-$$(cat $(GUEST_DIR)/kernel-version) $@

$(GUEST_DIR)/modules.stamp: $(GUEST_DIR)/kernel-root.stamp $(GUEST_SRC)/modules.txt $(GUEST_SRC)/stage-modules.sh
	@echo "guest: staging modules"
	@bash $(GUEST_SRC)/stage-modules.sh $(GUEST_DIR)/kernel-root $(GUEST_SRC)/modules.txt $(GUEST_DIR)/modules
	@touch $@

$(GUEST_DIR)/initramfs.cpio.lz4: $(GUEST_DIR)/modules.stamp $(GUEST_SRC)/init.sh $(GUEST_SRC)/build-initramfs.sh /bin/busybox
	@echo "guest: packing initramfs"
	@bash $(GUEST_SRC)/build-initramfs.sh $(GUEST_SRC)/init.sh $(GUEST_DIR)/modules lz4 $@

# Installs busybox-static only when the file is missing; an upgrade of it rebuilds the initramfs.
/bin/busybox:
	@bash scripts/ensure-apt.sh busybox-static

guest-clean:
	rm -rf $(GUEST_DIR)
