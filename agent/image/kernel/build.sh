#!/usr/bin/env bash
# build.sh GUEST_DIR — the guest kernel, as Kata builds its own: Debian trixie's kernel source
# (linux-source-6.12) configured from allnoconfig plus kernel/guest.config, which holds only what
# the guest uses, all built in (no modules). The result is the ELF vmlinux QEMU boots through its
# PVH entry. It is installed under /opt/vfs/guest-kernel-<Debian version>-<hash of guest.config and
# this script>, so only the first build on a machine pays (≈ 12 min on 2 cores). GUEST_DIR gets
# vmlinux and kernel-version (the guest's `uname -r`) from there. A prefix is found by the hash
# alone: a newer Debian point release is built only when guest.config or this script changes, or
# once the prefix is removed. Builds on one machine take turns (flock).
set -euo pipefail
guest=$1
SOURCE_PACKAGE=linux-source-6.12
OPT=/opt/vfs
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
config="$here/guest.config"
hash="$(cat "$here/build.sh" "$config" | sha256sum | cut -c1-12)"

# vmlinux last: it is make's target, so it appears only with its kernel-version beside it.
install_from() {
  mkdir -p "$guest"
  cp "$1/kernel-version" "$guest/kernel-version"
  cp "$1/vmlinux" "$guest/vmlinux.tmp"
  mv "$guest/vmlinux.tmp" "$guest/vmlinux"
}

# A finished prefix for this config, whichever Debian version it was built from.
built_prefix() {
  ls -d "$OPT"/guest-kernel-*-"$hash" 2>/dev/null | sort -V | tail -n1 || true
}

mkdir -p "$OPT"
exec 9>"$OPT/.guest-kernel.lock"
flock 9
built=$(built_prefix)
if [[ -n "$built" ]]; then
  install_from "$built"
  exit 0
fi

echo "guest kernel: building from Debian trixie's $SOURCE_PACKAGE with $config (≈ 10 min on 2 cores)" >&2
bash "$root/scripts/ensure-apt.sh" gcc make flex bison bc libelf-dev libssl-dev xz-utils >&2
work="$root/build/guest-kernel"
prefix_tmp="$OPT/.guest-kernel-build.$$"
rm -rf "$work"
mkdir -p "$work"
trap 'rm -rf "$work" "$prefix_tmp"' EXIT
deb=$(bash "$root/scripts/trixie-deb.sh" "$SOURCE_PACKAGE" "$work/deb")
version=${deb#"${SOURCE_PACKAGE}_"}
version=${version%_all.deb}
tar -xJf "$work/deb/usr/src/$SOURCE_PACKAGE.tar.xz" -C "$work"
rm -rf "$work/deb"
src="$work/$SOURCE_PACKAGE"

make -C "$src" -s allnoconfig KCONFIG_ALLCONFIG="$config" >&2
# Kconfig drops an option whose dependencies are unmet without a word: every line must hold.
missing=$(grep -E '^CONFIG_' "$config" | while read -r line; do grep -qxF "$line" "$src/.config" || echo "$line"; done)
[[ -z "$missing" ]] || { echo "guest kernel: Kconfig did not take: $missing" >&2; exit 1; }
make -C "$src" -s -j"$(nproc)" vmlinux >&2
# XEN_ELFNOTE_PHYS32_ENTRY (18) is the PVH entry point QEMU needs.
readelf -n "$src/vmlinux" | grep -q 'Xen.*(0x00000012)' ||
  { echo "guest kernel: vmlinux has no Xen PVH entry note" >&2; exit 1; }

# Written to a hidden directory, then renamed: a half-installed prefix never looks finished.
prefix="$OPT/guest-kernel-$version-$hash"
mkdir -p "$prefix_tmp"
strip --strip-debug -o "$prefix_tmp/vmlinux" "$src/vmlinux"
make -C "$src" -s kernelrelease >"$prefix_tmp/kernel-version"
cp "$src/.config" "$prefix_tmp/config"
rm -rf "$prefix"
mv "$prefix_tmp" "$prefix"
install_from "$prefix"
