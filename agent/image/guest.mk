# The guest image: build/guest/{vmlinux,kernel-version,initramfs.cpio.lz4}.
# Include from the top-level Makefile (`include agent/image/guest.mk`) or run it alone from the
# repository root: `make -f agent/image/guest.mk guest`.
# The kernel is our own build (kernel/build.sh), cached per machine under /opt/vfs; every artifact
# depends on its inputs only.

GUEST_DIR := build/guest
GUEST_SRC := agent/image
GUEST_APT_PACKAGES := busybox-static cpio lz4 binutils

.PHONY: guest guest-apt guest-clean

guest: $(GUEST_DIR)/vmlinux $(GUEST_DIR)/initramfs.cpio.lz4

guest-apt:
	@bash scripts/ensure-apt.sh $(GUEST_APT_PACKAGES)

# Without its symbol table: QEMU reads an ELF kernel's symbols into every VM's heap (≈ 2 MiB, for
# its debugger's sake alone); the guest's own kallsyms are inside the image. The build's copy, with
# them, stays in the kernel's cache prefix under /opt/vfs.
$(GUEST_DIR)/vmlinux: $(GUEST_SRC)/kernel/build.sh $(GUEST_SRC)/kernel/guest.config $(GUEST_SRC)/guest.mk | guest-apt
	@bash $(GUEST_SRC)/kernel/build.sh $(GUEST_DIR)/kernel
	@cp $(GUEST_DIR)/kernel/kernel-version $(GUEST_DIR)/kernel-version
	@strip --strip-all -o $@.tmp $(GUEST_DIR)/kernel/vmlinux
	@rm -rf $(GUEST_DIR)/kernel
	@mv $@.tmp $@

$(GUEST_DIR)/initramfs.cpio.lz4: $(GUEST_SRC)/init.sh $(GUEST_SRC)/build-initramfs.sh /bin/busybox | guest-apt
	@echo "guest: packing initramfs"
	@bash $(GUEST_SRC)/build-initramfs.sh $(GUEST_SRC)/init.sh - lz4 $@

# Installs busybox-static only when the file is missing; an upgrade of it rebuilds the initramfs.
/bin/busybox:
	@bash scripts/ensure-apt.sh busybox-static

guest-clean:
	rm -rf $(GUEST_DIR)
