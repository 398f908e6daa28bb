# The runtime share: build/runtime/{node, lib*/…, agent.js, vfs-launcher}, mounted read-only by
# the guest's /init at /run/vfs/runtime (tag vfsruntime). Include from the top-level Makefile
# (`-include agent/runtime.mk`) or run alone from the repository root:
# `make -f agent/runtime.mk runtime`. Each part rebuilds only when its inputs change.

RUNTIME_DIR := build/runtime
RUNTIME_SRC := agent/runtime
RUNTIME_NODE := $(realpath $(shell command -v node))
RUNTIME_AGENT_TS := $(shell find agent/src -name '*.ts' ! -name '*.test.ts')
RUNTIME_LAUNCHER_SRC := $(wildcard $(RUNTIME_SRC)/launcher/*.c $(RUNTIME_SRC)/launcher/*.h)

.PHONY: runtime runtime-clean

runtime: $(RUNTIME_DIR)/node.stamp $(RUNTIME_DIR)/agent.js $(RUNTIME_DIR)/vfs-launcher
	@echo "runtime: $(RUNTIME_DIR) is $$(du -sh --apparent-size $(RUNTIME_DIR) | cut -f1)"

$(RUNTIME_DIR)/node.stamp: $(RUNTIME_NODE) $(RUNTIME_SRC)/stage-node.sh
	@bash $(RUNTIME_SRC)/stage-node.sh $(RUNTIME_NODE) $(RUNTIME_DIR)
	@touch $@

$(RUNTIME_DIR)/agent.js: $(RUNTIME_AGENT_TS) $(RUNTIME_SRC)/bundle-agent.mjs | node_modules/esbuild
	@node $(RUNTIME_SRC)/bundle-agent.mjs agent/src/main.ts $@

$(RUNTIME_DIR)/vfs-launcher: $(RUNTIME_LAUNCHER_SRC) $(RUNTIME_SRC)/build-launcher.sh
	@bash scripts/ensure-apt.sh gcc libc6-dev
	@bash $(RUNTIME_SRC)/build-launcher.sh $(RUNTIME_SRC)/launcher $@

node_modules/esbuild:
	@bash scripts/ensure-deps.sh

runtime-clean:
	rm -rf $(RUNTIME_DIR)
