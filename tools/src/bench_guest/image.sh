#!/usr/bin/env bash
# image.sh OUT_DIR — bench-guest's VM image in OUT_DIR (build/bench-guest): vmlinux, initramfs.cpio,
# kernel-version. The kernel is Debian's generic flavour (resolve-kernel.sh), fetched, unpacked and
# staged by the scripts beside this one. The initramfs is busybox, the modules of modules.txt,
# init.sh as /init and the static workload.c as /workload. Rebuilds only what is missing or older
# than its inputs.
set -euo pipefail
out=$1
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
image="$root/agent/image"

# What the steps below run: objcopy/readelf/strip, xz (the kernel payload), cpio, gcc -static.
bash "$root/scripts/ensure-apt.sh" busybox-static cpio binutils xz-utils gcc libc6-dev >&2
mkdir -p "$out"
bash "$here/resolve-kernel.sh" "$out/kernel-package"
if [[ ! -f "$out/kernel-version" || "$out/kernel-package" -nt "$out/kernel-version" ]]; then
  bash "$here/fetch-kernel.sh" "$out/kernel-package" "$out"
  rm -f "$out/vmlinux" "$out/modules.stamp"
fi

if [[ ! -f "$out/vmlinux" ]]; then
  echo "bench-guest image: extracting vmlinux" >&2
  bash "$here/extract-vmlinux.sh" "$out/kernel-root/boot/vmlinuz-$(cat "$out/kernel-version")" "$out/vmlinux"
fi

if [[ ! -f "$out/modules.stamp" || "$here/modules.txt" -nt "$out/modules.stamp" ]]; then
  bash "$here/stage-modules.sh" "$out/kernel-root" "$here/modules.txt" "$out/modules"
  touch "$out/modules.stamp"
fi

if [[ ! -x "$out/workload" || "$here/workload.c" -nt "$out/workload" ]]; then
  gcc -static -O2 -s -Wall -Wextra -Werror -o "$out/workload.tmp" "$here/workload.c"
  mv "$out/workload.tmp" "$out/workload"
fi

initramfs="$out/initramfs.cpio"
if [[ ! -f "$initramfs" || "$out/modules.stamp" -nt "$initramfs" || "$out/workload" -nt "$initramfs" ||
  "$here/init.sh" -nt "$initramfs" ]]; then
  echo "bench-guest image: packing initramfs" >&2
  bash "$image/build-initramfs.sh" "$here/init.sh" "$out/modules" none "$initramfs.base"
  # The kernel unpacks concatenated newc archives in order: the workload goes on top.
  stage=$(mktemp -d)
  trap 'rm -rf "$stage"' EXIT
  cp "$out/workload" "$stage/workload"
  (cd "$stage" && echo workload | cpio -o -H newc -R 0:0 --reproducible --quiet) >"$initramfs.top"
  cat "$initramfs.base" "$initramfs.top" >"$initramfs.tmp"
  rm -f "$initramfs.base" "$initramfs.top"
  mv "$initramfs.tmp" "$initramfs"
fi
