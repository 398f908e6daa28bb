# vfs: `make demo` and `make test` do all the set-up on a fresh machine.
SHELL := /bin/bash
ARGS ?=
JEST_JSON := build/jest-results.json

.PHONY: all deps build bundle typecheck test bench-daemon bench-coldstart proto clean demo

all: build

deps:
	@scripts/ensure-deps.sh

bundle: deps
	@node scripts/bundle.mjs

typecheck: deps
	@npx tsc --noEmit -p tsconfig.json

build: bundle typecheck guest runtime

test: build
	@mkdir -p build
	@set +e; npx jest --ci --json --outputFile=$(JEST_JSON) $(ARGS); rc=$$?; \
	  node scripts/jest-summary.mjs $(JEST_JSON); exit $$rc

proto: deps
	@bash proto/generate.sh

# A container in a micro-VM with a private containerd: scripts/demo.ts (bundled next to build/,
# where the e2e support it reuses finds the repository).
demo: build runtime
	@node -e "require('esbuild').buildSync({entryPoints:['scripts/demo.ts'],outfile:'build/demo/demo.cjs',bundle:true,platform:'node',target:'node20',format:'cjs',logLevel:'warning'})"
	@node build/demo/demo.cjs

bench-daemon: bundle
	@node build/bin/bench-daemon $(ARGS)

# Cold start of `ctr run --rm … true`: runc vs vfs vs the bare-VM floor, with vfs's phases
# (e2e/bench/bench_coldstart.ts). ARGS="--runs 3 --json out.json".
bench-coldstart: build runtime
	@node build/bin/bench-coldstart $(ARGS)

clean:
	rm -rf build

-include agent/image/guest.mk
-include agent/runtime.mk
