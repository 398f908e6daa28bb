#!/usr/bin/env bash
# fetch-kernel.sh PACKAGE_FILE GUEST_DIR — downloads the kernel .deb named in PACKAGE_FILE
# ("<package>=<version>"), unpacks it into GUEST_DIR/kernel-root and writes the kernel release
# (the `uname -r` of the guest) to GUEST_DIR/kernel-version.
set -euo pipefail
spec=$(cat "$1")
guest=$2
dl=$guest/download
root=$guest/kernel-root

rm -rf "$dl" "$root"
mkdir -p "$dl" "$root"
echo "bench-guest kernel: downloading $spec"
# apt drops privileges to _apt, which cannot write into most build dirs; -o silences that warning.
(cd "$dl" && apt-get download -q -o APT::Sandbox::User=root "$spec" >/dev/null) ||
  { echo "bench-guest kernel: apt-get download $spec failed (stale apt lists? try apt-get update)" >&2; exit 1; }
echo "bench-guest kernel: unpacking"
dpkg-deb -x "$dl"/*.deb "$root" || { echo "bench-guest kernel: dpkg-deb -x failed" >&2; exit 1; }
rm -rf "$dl"

releases=("$root"/lib/modules/*)
[ ${#releases[@]} -eq 1 ] && [ -d "${releases[0]}" ] ||
  { echo "bench-guest kernel: expected one lib/modules/<release> in $spec" >&2; exit 1; }
basename "${releases[0]}" >"$guest/kernel-version"
