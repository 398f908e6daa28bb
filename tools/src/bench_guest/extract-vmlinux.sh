#!/usr/bin/env bash
# extract-vmlinux.sh BZIMAGE OUT — extracts the ELF vmlinux from a bzImage so QEMU can boot it
# through its Xen PVH entry (`-kernel vmlinux` on microvm: no real-mode setup, no self-decompression
# under TCG). The x86 boot header says where the compressed payload is: the protected-mode code
# starts at (setup_sects + 1) * 512; payload_offset (0x248) and payload_length (0x24c) locate the
# payload inside it, followed by a 4-byte size trailer. Debian's kernels compress it with LZ4 legacy
# frames (bookworm's cloud flavour), XZ (bookworm's generic flavour) or zstd (trixie's).
set -euo pipefail
bzimage=$1
out=$2

u8() { od -An -tu1 -j "$1" -N1 "$bzimage" | tr -d ' '; }
u32() { od -An -tu4 -j "$1" -N4 "$bzimage" | tr -d ' '; }

[ "$(od -An -c -j 0x202 -N4 "$bzimage" | tr -d ' ')" = HdrS ] ||
  { echo "extract-vmlinux: $bzimage is not a bzImage (no HdrS boot header)" >&2; exit 1; }
start=$(( ($(u8 0x1f1) + 1) * 512 + $(u32 0x248) ))
length=$(u32 0x24c)
magic=$(od -An -tx1 -j "$start" -N4 "$bzimage" | tr -d ' ')
case "$magic" in
  02214c18) decompress=(lz4 -dc) ;;
  fd377a58) decompress=(xz -dc --single-stream) ;;
  28b52ffd) decompress=(zstd -dcq) ;;
  *) echo "extract-vmlinux: payload magic $magic is none of LZ4 legacy, XZ or zstd" >&2; exit 1 ;;
esac

dd if="$bzimage" iflag=skip_bytes,count_bytes skip="$start" count=$((length - 4)) bs=1M status=none |
  "${decompress[@]}" >"$out.tmp" ||
  { echo "extract-vmlinux: ${decompress[0]} decompression failed" >&2; exit 1; }
[ "$(od -An -c -N4 "$out.tmp" | tr -d ' ')" = 177ELF ] ||
  { echo "extract-vmlinux: decompressed payload is not ELF" >&2; exit 1; }
# XEN_ELFNOTE_PHYS32_ENTRY (18) is the PVH entry point QEMU needs.
readelf -n "$out.tmp" | grep -q 'Xen.*(0x00000012)' ||
  { echo "extract-vmlinux: vmlinux has no Xen PVH entry note (CONFIG_PVH off?)" >&2; exit 1; }
mv "$out.tmp" "$out"
