#!/usr/bin/env bash
# resolve-kernel.sh OUT — writes "<package>=<version>" of the guest kernel to OUT, touching OUT only
# when it changed, so make rebuilds the kernel and the initramfs only for a new kernel.
# The package is $GUEST_KERNEL_PACKAGE if set, else what the metapackage linux-image-cloud-amd64
# currently depends on.
set -euo pipefail
out=$1
meta=linux-image-cloud-amd64

resolve_package() {
  apt-cache depends "$meta" 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[^ ]*-cloud-amd64\)$/\1/p' | head -n1
}

package=${GUEST_KERNEL_PACKAGE:-$(resolve_package)}
if [ -z "$package" ]; then
  echo "guest kernel: $meta not in the apt lists; running apt-get update once" >&2
  apt-get update -q >/dev/null || { echo "guest kernel: apt-get update failed" >&2; exit 1; }
  package=$(resolve_package)
fi
[ -n "$package" ] || { echo "guest kernel: cannot resolve $meta to a linux-image package" >&2; exit 1; }

version=$(apt-cache policy "$package" 2>/dev/null | sed -n 's/^ *Candidate: //p')
[ -n "$version" ] && [ "$version" != "(none)" ] ||
  { echo "guest kernel: no installable version of $package in the apt lists" >&2; exit 1; }

line="$package=$version"
if [ ! -f "$out" ] || [ "$(cat "$out")" != "$line" ]; then
  mkdir -p "$(dirname "$out")"
  echo "$line" >"$out"
  echo "guest kernel: $line"
fi
