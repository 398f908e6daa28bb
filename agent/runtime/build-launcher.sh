#!/usr/bin/env bash
# build-launcher.sh SRC_DIR OUT — compiles vfs-launcher (SRC_DIR/*.c) as a static binary, so it
# runs in the guest with no library and inside any container rootfs after setns.
set -euo pipefail
src=$1
out=$2

echo "runtime: compiling $out"
mkdir -p "$(dirname "$out")"
gcc -static -Os -std=gnu11 -Wall -Wextra -Werror -o "$out.tmp" "$src"/*.c
strip "$out.tmp"
mv "$out.tmp" "$out"
