#!/usr/bin/env bash
# debian-deb.sh SUITE PACKAGE DEST — downloads PACKAGE from Debian's SUITE (trixie, forky …),
# unpacks it into DEST (dpkg-deb -x) and prints the .deb's name (PACKAGE_VERSION_ARCH.deb). apt runs
# on a private state under build/ (its own sources list, lists and cache, removed afterwards):
# /etc/apt and the system's apt state are untouched. Used for containerd 1.7 and 2.x
# (harness/src/containerd.ts), Docker and the CRI API's .proto; trixie-deb.sh is this for trixie.
set -euo pipefail

if (($# != 3)); then
  echo "usage: $0 SUITE PACKAGE DEST" >&2
  exit 2
fi
suite="$1"
package="$2"
dest="$3"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

mkdir -p "$root/build"
apt="$(mktemp -d "$root/build/apt-$suite.XXXXXX")"
trap 'rm -rf "$apt"' EXIT
mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial"
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian $suite main" >"$apt/sources.list"
options=(-q -o "Dir::Etc::SourceList=$apt/sources.list" -o Dir::Etc::SourceParts=/nonexistent
  -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache" -o Acquire::Languages=none
  -o APT::Sandbox::User=root)

apt-get "${options[@]}" update >&2
(cd "$apt" && apt-get "${options[@]}" download "$package" >&2)
debs=("$apt/${package}"_*.deb)
deb="${debs[0]}"
[[ -f "$deb" ]] || { echo "debian-deb: apt-get download $package from $suite left no .deb" >&2; exit 1; }
mkdir -p "$dest"
dpkg-deb -x "$deb" "$dest"
basename "$deb"
