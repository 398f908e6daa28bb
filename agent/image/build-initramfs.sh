#!/usr/bin/env bash
# build-initramfs.sh INIT MODULES_DIR COMPRESSION OUT — packs static busybox (with one symlink per
# applet in /bin), INIT as /init and MODULES_DIR as /vfs/modules into a newc cpio, compressed with
# COMPRESSION: none | gzip | lz4 (the kernel reads only LZ4's legacy frame format, hence -l).
# MODULES_DIR "-" packs none: the vfs guest's kernel has everything built in; bench-guest's Debian
# kernel loads modules. They live under /vfs, not /lib: /init links /lib and /lib64 to the runtime
# share for node.
set -euo pipefail
init=$1
modules=$2
compression=$3
out=$4
busybox=/bin/busybox

! readelf -l "$busybox" 2>/dev/null | grep -q INTERP && [ -x "$busybox" ] ||
  { echo "build-initramfs: $busybox is not static (install busybox-static)" >&2; exit 1; }

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{bin,dev,proc,sys,run,mnt,tmp,vfs}
cp "$busybox" "$stage/bin/busybox"
for applet in $("$busybox" --list); do
  [ "$applet" = busybox ] || ln -s busybox "$stage/bin/$applet"
done
install -m 0755 "$init" "$stage/init"
[ "$modules" = - ] || cp -r "$modules" "$stage/vfs/modules"

compress() {
  case "$compression" in
    none) cat ;;
    gzip) gzip -9n ;;
    lz4) lz4 -l -9 -q ;;
    *) echo "build-initramfs: unknown compression $compression" >&2; exit 1 ;;
  esac
}
(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --reproducible --quiet) |
  compress >"$out.tmp"
mv "$out.tmp" "$out"
