#!/usr/bin/env bash
# resolve-kernel.sh OUT — writes "<package>=<version>" of bench-guest's kernel to OUT, touching OUT
# only when it changed, so the image is rebuilt only for a new kernel. The kernel is Debian's
# generic flavour, what the metapackage linux-image-amd64 currently depends on: the cloud flavour
# has no 9p, and the vfs guest's own kernel (agent/image/kernel) has neither 9p nor the C workload's
# needs in mind. All four back ends boot this one kernel.
set -euo pipefail
out=$1
meta=linux-image-amd64

resolve_package() {
  apt-cache depends "$meta" 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-amd64\)$/\1/p' | head -n1
}

package=$(resolve_package)
if [ -z "$package" ]; then
  echo "bench-guest kernel: $meta not in the apt lists; running apt-get update once" >&2
  apt-get update -q >/dev/null || { echo "bench-guest kernel: apt-get update failed" >&2; exit 1; }
  package=$(resolve_package)
fi
[ -n "$package" ] || { echo "bench-guest kernel: cannot resolve $meta to a linux-image package" >&2; exit 1; }

version=$(apt-cache policy "$package" 2>/dev/null | sed -n 's/^ *Candidate: //p')
[ -n "$version" ] && [ "$version" != "(none)" ] ||
  { echo "bench-guest kernel: no installable version of $package in the apt lists" >&2; exit 1; }

line="$package=$version"
if [ ! -f "$out" ] || [ "$(cat "$out")" != "$line" ]; then
  mkdir -p "$(dirname "$out")"
  echo "$line" >"$out"
  echo "bench-guest kernel: $line" >&2
fi
