#!/usr/bin/env bash
# Installs what the build and the tests need, and only what is missing: Debian packages, and
# node_modules.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/ensure-apt.sh qemu-system-x86 qemu-system-common busybox-static cpio lz4 zstd xz-utils \
  binutils protobuf-compiler libprotobuf-dev attr acl util-linux procps gcc libc6-dev \
  containerd runc containernetworking-plugins iperf3 erofs-utils

bash scripts/ensure-npm.sh
