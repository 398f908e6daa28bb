# vfs: `make demo` and `make test` do all the set-up on a fresh machine.
SHELL := /bin/bash
ARGS ?=
JEST_JSON := build/jest-results.json

.PHONY: all deps build bundle typecheck test bench-daemon proto clean

all: build

deps:
	@scripts/ensure-deps.sh

bundle: deps
	@node scripts/bundle.mjs

typecheck: deps
	@npx tsc --noEmit -p tsconfig.json

build: bundle typecheck guest

test: build
	@mkdir -p build
	@set +e; npx jest --ci --json --outputFile=$(JEST_JSON) $(ARGS); rc=$$?; \
	  node scripts/jest-summary.mjs $(JEST_JSON); exit $$rc

proto: deps
	@bash proto/generate.sh

bench-daemon: bundle
	@node build/bin/bench-daemon $(ARGS)

clean:
	rm -rf build

-include agent/image/guest.mk
