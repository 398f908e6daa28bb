# vfs: `make demo` and `make test` do all the set-up on a fresh machine; `make check` is the fast
# loop (typecheck, lint, unit tests: no VM, needs only `npm ci`).
SHELL := /bin/bash
ARGS ?=
JEST_JSON := build/jest-results.json
JEST := npx jest --ci --json --outputFile=$(JEST_JSON)
# Every workspace package: what tsc, lint and the formatter look at.
SOURCES := scripts proto contracts runtime-config daemon agent shim cli harness tools e2e
C_SOURCES := agent/runtime/launcher harness/src tools/src/bench_guest

.PHONY: all deps npm vmm bundle typecheck lint format check e2e test build bench-daemon bench-guest bench-coldstart bench-pods bench-hotplug bench-net bench-memory proto clean demo fuzz

all: build

deps:
	@scripts/ensure-deps.sh

# The fast loop needs node_modules only.
npm:
	@scripts/ensure-npm.sh

bundle: npm
	@node scripts/bundle.cjs

# The daemon's native helpers (daemon/native): a READDIRPLUS page's lookups, and a READDIR or
# READDIRPLUS page's records, each in one koffi call. The daemon loads them from here at start
# (daemon/src/sys/native_library.ts); the unit tests need them too.
DAEMON_NATIVE := build/lib/libvfs_daemon_native.so
C_SOURCES += daemon/native
$(DAEMON_NATIVE): daemon/native/lookup_batch.c daemon/native/dirents.c
	@mkdir -p $(dir $@)
	@gcc -O2 -fPIC -shared -Wall -Wextra -Werror -o $@.$$$$ $^ && mv $@.$$$$ $@
bundle check: $(DAEMON_NATIVE)

typecheck: npm
	@npx tsc --noEmit -p tsconfig.json

# Biome (lint + format check) and the component boundaries (.dependency-cruiser.cjs).
lint: npm
	@npx biome check --formatter-enabled=true --assist-enabled=false $(SOURCES) *.json *.js
	@npx depcruise --config .dependency-cruiser.cjs --output-type err $(SOURCES)
	@bash scripts/clang-format-check.sh $(C_SOURCES)

format: npm
	@npx biome format --write $(SOURCES) *.json *.js
	@bash scripts/clang-format-check.sh --write $(C_SOURCES)

# The unit suites mostly wait on the processes they start (daemons, QEMU, node children): one jest
# worker per core rather than jest's default of one fewer, which is one worker on two cores.
# `make check UNIT_WORKERS=1` changes it (a second --maxWorkers in ARGS is misread by jest).
UNIT_WORKERS ?= 100%
check: typecheck lint
	@mkdir -p build
	@set +e; $(JEST) --selectProjects unit --maxWorkers=$(UNIT_WORKERS) $(ARGS); rc=$$?; node scripts/jest-summary.mjs $(JEST_JSON); exit $$rc

build: deps bundle typecheck guest runtime

e2e: build vmm
	@mkdir -p build
	@set +e; $(JEST) --selectProjects e2e $(ARGS); rc=$$?; node scripts/jest-summary.mjs $(JEST_JSON); exit $$rc

# Our QEMU (vmm/build.sh): Debian's QEMU source with vmm/patches (a DAX window on vhost-user-fs-pci),
# under /opt/vfs/qemu-<version>-<hash> with /opt/vfs/qemu pointing at it. Built once per machine
# (≈ 15 min on 2 cores); later runs find it and return at once.
vmm:
	@bash vmm/build.sh >/dev/null

# Everything, as CI runs it.
test: build lint vmm
	@mkdir -p build
	@set +e; $(JEST) $(ARGS); rc=$$?; node scripts/jest-summary.mjs $(JEST_JSON); exit $$rc

proto: deps
	@bash proto/generate.sh

# A container in a micro-VM with a private containerd (tools/src/demo.ts).
demo: build
	@node scripts/bundle.cjs demo
	@node build/bin/vfs-demo

bench-daemon: deps bundle
	@node build/bin/bench-daemon $(ARGS)

# In-guest file-system workloads: our daemon vs the C and Rust virtiofsd vs virtio-9p, one VM image
# under TCG (tools/src/bench_guest), and ours without and with DAX on our QEMU when make vmm built it
# (--dax: require it). ARGS="--quick" (≈2 min) or "--runs 3 --json out.json".
bench-guest: deps bundle
	@node build/bin/bench-guest $(ARGS)

# Cold start of `ctr run --rm … true`: runc vs vfs vs the bare-VM floor, with vfs's phases
# (tools/src/bench_coldstart). ARGS="--runs 3 --json out.json".
bench-coldstart: build
	@node build/bin/bench-coldstart $(ARGS)

# A Kubernetes pod's start (RunPodSandbox → container RUNNING) and teardown through CRI, vfs next to
# runc, with host CPU (tools/src/bench_pods). ARGS="--runs 5 --warmup 1 --json out.json".
bench-pods: build
	@node build/bin/bench-pods $(ARGS)

# vfs-runtime volume add → first read in the container → volume remove on a running vfs container,
# with host CPU (tools/src/bench_hotplug). ARGS="--cycles 20 --warmup 1 --json out.json".
bench-hotplug: build
	@node build/bin/bench-hotplug $(ARGS)

# TCP throughput (with host CPU per GB) and request latency between two pods on a private CNI
# bridge: runc↔runc, vfs↔vfs, vfs↔runc, runc↔vfs; pairs that cannot run are listed as not run
# (tools/src/bench_net). ARGS="--runs 3 --seconds 5 --pairs runc-runc,vfs-vfs --json out.json".
bench-net: build
	@node build/bin/bench-net $(ARGS)

# PSS per idle sandbox (shim, daemon, QEMU, its TCG code cache) with DAX off and on, runc's for
# reference, and host memory growth when every sandbox reads the same 64 MiB file
# (tools/src/bench_memory). ARGS="--sandboxes 1,3,10 --json out.json".
bench-memory: build
	@node build/bin/bench-memory $(ARGS)

# The structure-aware fuzzer of vfs-virtiofsd, a long run (tools/src/fuzz): FUSE and vhost-user
# cases against the real daemon, with crashes, hangs and the seeds that replay them.
# ARGS="--seed 1 --cases 100000 --duration 60 --json out.json"; --help lists the options.
fuzz: bundle
	@node scripts/bundle.cjs fuzz
	@node build/bin/vfs-fuzz $(ARGS)

clean:
	rm -rf build

-include agent/image/guest.mk
-include agent/runtime.mk
