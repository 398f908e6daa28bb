#!/usr/bin/env bash
# stage-node.sh NODE OUT — copies the node binary (symbols stripped: −12 MB, nothing at run time
# needs them) to OUT/node and each shared library `ldd` lists to OUT/<the path ldd printed>, e.g.
# OUT/lib/x86_64-linux-gnu/libc.so.6 and OUT/lib64/ld-linux-x86-64.so.2. The guest's /init links
# /lib, /lib64 and /usr/lib into the share, so the loader finds them where the host has them.
set -euo pipefail
node=$1
out=$2

mkdir -p "$out"
rm -rf "$out/lib" "$out/lib64" "$out/usr"
echo "runtime: staging $node and its libraries"
strip --strip-all -o "$out/node.tmp" "$node"
chmod 0755 "$out/node.tmp"
mv "$out/node.tmp" "$out/node"

# ldd lines: "libx.so => /path (0x…)", or "/lib64/ld-linux-x86-64.so.2 (0x…)" for the loader.
ldd "$node" | awk '/=> \// { print $3 } /^\t\// { print $1 }' | while read -r lib; do
  case "$lib" in
    /lib/* | /lib64/* | /usr/lib/*) ;;
    *) echo "stage-node: $lib is outside /lib, /lib64, /usr/lib: the guest cannot load it" >&2; exit 1 ;;
  esac
  mkdir -p "$out$(dirname "$lib")"
  cp -L "$lib" "$out$lib"
  echo "runtime:   $lib"
done
