#!/usr/bin/env bash
# build-image.sh DIR OUT — the runtime share DIR (node, its libraries, agent.js, vfs-launcher, busybox) as one
# uncompressed erofs image OUT, which the shim attaches read-only when [agent] runtime = "image": the
# guest then pages Node from the host page cache instead of over FUSE. Reproducible: fixed timestamps,
# UUID and owners, so equal inputs give an equal image. Written beside OUT and renamed over it, so a
# running VM keeps the inode it opened. Uncompressed: decompressing under TCG costs more than reading.
# noinline_data: every file's data in whole blocks (layout flat-plain), none packed into its inode's
# tail; erofs maps only such files with DAX (S_DAX), which runtime = "pmem" exists for.
set -euo pipefail
dir=$1
out=$2

echo "runtime: building $out"
tmp="$out.tmp"
rm -f "$tmp"
mkfs.erofs --quiet -T0 -U 6d1f5c2e-0000-4000-8000-00000000e40f --all-root -x-1 -E noinline_data \
  --exclude-path=node.stamp "$tmp" "$dir"
chmod 0444 "$tmp"
mv -f "$tmp" "$out"
