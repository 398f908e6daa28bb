#!/usr/bin/env bash
# trixie-deb.sh PACKAGE DEST — downloads Debian trixie's PACKAGE, unpacks it into DEST (dpkg-deb -x)
# and prints the .deb's name (PACKAGE_VERSION_ARCH.deb). apt runs on a private state under build/
# (its own sources list, lists and cache, removed afterwards): /etc/apt and the system's apt state
# are untouched. Used for containerd 1.7 (harness/src/containerd.ts) and the CRI API's .proto
# (proto/import-cri-api.sh).
set -euo pipefail

if (($# != 2)); then
  echo "usage: $0 PACKAGE DEST" >&2
  exit 2
fi
package="$1"
dest="$2"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

mkdir -p "$root/build"
apt="$(mktemp -d "$root/build/apt-trixie.XXXXXX")"
trap 'rm -rf "$apt"' EXIT
mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial"
echo 'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main' >"$apt/sources.list"
options=(-q -o "Dir::Etc::SourceList=$apt/sources.list" -o Dir::Etc::SourceParts=/nonexistent
  -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache" -o Acquire::Languages=none
  -o APT::Sandbox::User=root)

apt-get "${options[@]}" update >&2
(cd "$apt" && apt-get "${options[@]}" download "$package" >&2)
debs=("$apt/${package}"_*.deb)
deb="${debs[0]}"
[[ -f "$deb" ]] || { echo "trixie-deb: apt-get download $package left no .deb" >&2; exit 1; }
mkdir -p "$dest"
dpkg-deb -x "$deb" "$dest"
basename "$deb"
