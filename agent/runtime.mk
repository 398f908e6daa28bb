# The runtime share: build/runtime/{node, lib*/…, agent.js, agent.blob(.flags), vfs-launcher, busybox}, mounted
# read-only by the guest's /init at /run/vfs/runtime (tag vfsruntime). Include from the top-level
# Makefile (`-include agent/runtime.mk`) or run alone from the repository root:
# `make -f agent/runtime.mk runtime`. Each part rebuilds only when its inputs change. The same files
# also go into build/runtime.erofs, the read-only image the shim attaches instead of the share when
# [agent] runtime = "image", and behind a 2 MiB pfn info block into build/runtime.pmem, the
# read-only virtio-pmem image it maps with DAX when [agent] runtime = "pmem".
# `make guest-smoke` boots one VM with the agent and runs a container through it (needs
# agent/image/guest.mk for `guest`, so run it through the top-level Makefile).

# Guarded: an including Makefile that includes this twice must not get every recipe twice.
ifndef VFS_RUNTIME_MK
VFS_RUNTIME_MK := 1

RUNTIME_DIR := build/runtime
RUNTIME_IMAGE := build/runtime.erofs
RUNTIME_PMEM := build/runtime.pmem
RUNTIME_SRC := agent/runtime
PMEM_IMAGE_TS := $(filter-out %.test.ts,$(wildcard $(RUNTIME_SRC)/pmem_image/*.ts))
RUNTIME_NODE := $(realpath $(shell command -v node))
# The agent bundle also holds the ttrpc library, the generated AgentService messages and the contracts.
RUNTIME_AGENT_TS := $(shell find agent/src proto/ttrpc proto/gen contracts/src -name '*.ts' ! -name '*.test.ts')
RUNTIME_LAUNCHER_SRC := $(wildcard $(RUNTIME_SRC)/launcher/*.c $(RUNTIME_SRC)/launcher/*.h)
SMOKE_BUNDLE := build/bin/guest-smoke
DAEMON_BUNDLE := build/bin/vfs-virtiofsd

.PHONY: runtime runtime-clean guest-smoke

runtime: $(RUNTIME_DIR)/node.stamp $(RUNTIME_DIR)/agent.js $(RUNTIME_DIR)/agent.blob $(RUNTIME_DIR)/vfs-launcher $(RUNTIME_DIR)/busybox $(RUNTIME_IMAGE) $(RUNTIME_PMEM)
	@echo "runtime: $(RUNTIME_DIR) is $$(du -sh --apparent-size $(RUNTIME_DIR) | cut -f1)"

$(RUNTIME_DIR)/node.stamp: $(RUNTIME_NODE) $(RUNTIME_SRC)/stage-node.sh
	@bash $(RUNTIME_SRC)/stage-node.sh $(RUNTIME_NODE) $(RUNTIME_DIR)
	@touch $@

$(RUNTIME_DIR)/agent.js: $(RUNTIME_AGENT_TS) scripts/bundle.cjs | node_modules/esbuild
	@echo "runtime: bundling the agent"
	@node scripts/bundle.cjs agent

# The agent's V8 startup snapshot, which /init prefers to agent.js (see agent/src/main.ts). A blob
# only loads into the node binary that wrote it, so the staged node builds it. It also loads only
# where V8 sees the same flags and CPU features (its version tag hashes both), and the guest's CPU
# (TCG's `max`, or a KVM host's model) is not the build host's:
# - every optional x86-64 feature V8 can use is off at both ends (AVX, BMI, SSE4 …; --mcpu=generic:
#   no Atom tuning), and the flags go beside the blob, where /init reads them;
# - V8 also hashes the CPU's shadow stack (CET), which no flag turns off, which TCG never has and a
#   KVM guest has only where the host's KVM exposes it: so the blob is built under qemu-user's
#   emulated CPU (≈ 2.5 s), which has no CET either, whatever the build host's CPU.
# A guest that still cannot load it falls back to agent.js (init.sh).
AGENT_SNAPSHOT_FLAGS := --no-enable-sse3 --no-enable-ssse3 --no-enable-sse4-1 --no-enable-sse4-2 \
  --no-enable-sahf --no-enable-avx --no-enable-avx2 --no-enable-fma3 --no-enable-bmi1 --no-enable-bmi2 \
  --no-enable-lzcnt --no-enable-popcnt --mcpu=generic
AGENT_SNAPSHOT_CPU := qemu-x86_64 -cpu max

$(RUNTIME_DIR)/agent.blob: $(RUNTIME_DIR)/agent.js $(RUNTIME_DIR)/node.stamp agent/runtime.mk
	@bash scripts/ensure-apt.sh qemu-user
	@echo "runtime: building the agent's startup snapshot"
	@echo '$(AGENT_SNAPSHOT_FLAGS)' > $@.flags
	@$(AGENT_SNAPSHOT_CPU) $(RUNTIME_DIR)/node $(AGENT_SNAPSHOT_FLAGS) --snapshot-blob $@.tmp \
	  --build-snapshot $(RUNTIME_DIR)/agent.js
	@mv -f $@.tmp $@

$(RUNTIME_DIR)/vfs-launcher: $(RUNTIME_LAUNCHER_SRC) $(RUNTIME_SRC)/build-launcher.sh
	@bash scripts/ensure-apt.sh gcc libc6-dev
	@bash $(RUNTIME_SRC)/build-launcher.sh $(RUNTIME_SRC)/launcher $@

# The initramfs's static busybox, which the guest's PID 1 goes on in once the runtime is mounted,
# so that the initramfs's copy is freed (init.sh). Static, as /init execs it before the runtime's
# libraries are linked in: an exec that fails there would stop PID 1 with no word.
$(RUNTIME_DIR)/busybox: $(wildcard /bin/busybox) | $(RUNTIME_DIR)/node.stamp
	@bash scripts/ensure-apt.sh busybox-static binutils
	@! readelf -l /bin/busybox | grep -q INTERP || { echo "runtime: /bin/busybox is not static (install busybox-static)" >&2; exit 1; }
	@install -m 0755 /bin/busybox $@

$(RUNTIME_IMAGE): $(RUNTIME_DIR)/node.stamp $(RUNTIME_DIR)/agent.js $(RUNTIME_DIR)/agent.blob $(RUNTIME_DIR)/vfs-launcher $(RUNTIME_DIR)/busybox $(RUNTIME_SRC)/build-image.sh
	@bash scripts/ensure-apt.sh erofs-utils
	@bash $(RUNTIME_SRC)/build-image.sh $(RUNTIME_DIR) $@

$(RUNTIME_PMEM): $(RUNTIME_IMAGE) $(PMEM_IMAGE_TS) scripts/bundle.cjs | node_modules/esbuild
	@echo "runtime: building $@"
	@node scripts/bundle.cjs pmem-image
	@node build/bin/pmem-image $(RUNTIME_IMAGE) $@

$(DAEMON_BUNDLE): $(shell find daemon/src contracts/src -name '*.ts' ! -name '*.test.ts') scripts/bundle.cjs | node_modules/esbuild
	@node scripts/bundle.cjs daemon

$(SMOKE_BUNDLE): tools/src/guest_smoke.ts $(shell find harness/src -name '*.ts') scripts/bundle.cjs | node_modules/esbuild
	@node scripts/bundle.cjs guest-smoke

guest-smoke: runtime guest $(DAEMON_BUNDLE) $(SMOKE_BUNDLE)
	@node $(SMOKE_BUNDLE)

node_modules/esbuild:
	@bash scripts/ensure-npm.sh

runtime-clean:
	rm -rf $(RUNTIME_DIR) $(RUNTIME_IMAGE) $(RUNTIME_PMEM)

endif
