#!/usr/bin/env bash
# Installs what the build and the tests need, and only what is missing: Debian packages (one
# apt-get update, only when something must be installed) and node_modules (npm ci when the
# lockfile is newer than the installed tree).
set -euo pipefail
cd "$(dirname "$0")/.."

apt_packages=(qemu-system-x86 qemu-system-common busybox-static cpio lz4 zstd xz-utils binutils
  protobuf-compiler attr util-linux procps)

missing=()
for p in "${apt_packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "ensure-deps: installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q || { echo "ensure-deps: apt-get update failed" >&2; exit 1; }
  apt-get install -y -q "${missing[@]}" || { echo "ensure-deps: apt-get install ${missing[*]} failed" >&2; exit 1; }
fi

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "ensure-deps: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi
