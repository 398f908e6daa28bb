#!/usr/bin/env bash
# Installs what the build and the tests need, and only what is missing: Debian packages, and
# node_modules (npm ci when the lockfile is newer than the installed tree).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/ensure-apt.sh qemu-system-x86 qemu-system-common busybox-static cpio lz4 zstd xz-utils \
  binutils protobuf-compiler libprotobuf-dev attr util-linux procps gcc libc6-dev \
  containerd runc

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "ensure-deps: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi
