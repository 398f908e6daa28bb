#!/usr/bin/env bash
# image.sh OUT_DIR — bench-guest's VM image in OUT_DIR (build/bench-guest): vmlinux, initramfs.cpio,
# kernel-version. The kernel is the generic flavour of the guest's Debian kernel (the cloud flavour
# build/guest/kernel-package names has no 9p), fetched, unpacked and staged by agent/image's own
# scripts. The initramfs is busybox, the modules of modules.txt, init.sh as /init and the static
# workload.c as /workload. Rebuilds only what is missing or older than its inputs.
set -euo pipefail
out=$1
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
image="$root/agent/image"
cloud_package="$root/build/guest/kernel-package"

[[ -f "$cloud_package" ]] || { echo "bench-guest image: $cloud_package is missing (run make guest)" >&2; exit 1; }
mkdir -p "$out"
# linux-image-6.1.0-57-cloud-amd64=6.1.192-3 → linux-image-6.1.0-57-amd64=6.1.192-3
sed 's/-cloud-amd64=/-amd64=/' "$cloud_package" >"$out/kernel-package.new"
if ! cmp -s "$out/kernel-package.new" "$out/kernel-package" || [[ ! -f "$out/kernel-version" ]]; then
  mv "$out/kernel-package.new" "$out/kernel-package"
  bash "$image/fetch-kernel.sh" "$out/kernel-package" "$out"
  rm -f "$out/vmlinux" "$out/modules.stamp"
else
  rm -f "$out/kernel-package.new"
fi

# The PVH vmlinux out of the bzImage, as agent/image/extract-vmlinux.sh does for the cloud kernel,
# except that the generic flavour's payload is XZ (its 4-byte size trailer is ignored).
extract_vmlinux() {
  local bzimage=$1 start length
  u8() { od -An -tu1 -j "$1" -N1 "$bzimage" | tr -d ' '; }
  u32() { od -An -tu4 -j "$1" -N4 "$bzimage" | tr -d ' '; }
  start=$((($(u8 0x1f1) + 1) * 512 + $(u32 0x248)))
  length=$(u32 0x24c)
  dd if="$bzimage" iflag=skip_bytes,count_bytes skip="$start" count=$((length - 4)) bs=1M status=none |
    xz -dc --single-stream >"$out/vmlinux.tmp" ||
    { echo "bench-guest image: the kernel payload is not XZ" >&2; exit 1; }
  readelf -n "$out/vmlinux.tmp" | grep -q 'Xen.*(0x00000012)' ||
    { echo "bench-guest image: vmlinux has no PVH entry note" >&2; exit 1; }
  mv "$out/vmlinux.tmp" "$out/vmlinux"
}

if [[ ! -f "$out/vmlinux" ]]; then
  echo "bench-guest image: extracting vmlinux" >&2
  extract_vmlinux "$out/kernel-root/boot/vmlinuz-$(cat "$out/kernel-version")"
fi

if [[ ! -f "$out/modules.stamp" || "$here/modules.txt" -nt "$out/modules.stamp" ]]; then
  bash "$image/stage-modules.sh" "$out/kernel-root" "$here/modules.txt" "$out/modules"
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
