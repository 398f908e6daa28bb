#!/usr/bin/env bash
# Imports the Kubernetes CRI runtime API (k8s.io/cri-api pkg/apis/runtime/v1/api.proto) from Debian
# trixie's golang-github-kubernetes-cri-api-dev into defs/k8s.io/cri-api/runtime/v1/api.proto; run
# generate.sh afterwards. Only this import needs the network: the result is committed.
#
# gogoproto (Go code generation options) is removed: its import line and the file-level options,
# each with the blank line after it. The licence header and everything else stay as upstream wrote
# them. A gogoproto option left over (a new kind upstream) fails the import.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
package=golang-github-kubernetes-cri-api-dev
upstream_path=k8s.io/cri-api/pkg/apis/runtime/v1/api.proto
target="$here/defs/k8s.io/cri-api/runtime/v1/api.proto"

unpacked="$(mktemp -d "${TMPDIR:-/tmp}/vfs-cri-api.XXXXXX")"
trap 'rm -rf "$unpacked"' EXIT
deb="$(bash "$root/scripts/trixie-deb.sh" "$package" "$unpacked")"
source="$unpacked/usr/share/gocode/src/$upstream_path"

mkdir -p "$(dirname "$target")"
awk -v deb="$deb" -v upstream="$upstream_path" '
  /^import "github.com\/gogo\/protobuf\/gogoproto\/gogo.proto";$/ || /^option \(gogoproto\.[a-z_]+\) *= *[a-z]+;$/ {
    dropped = 1
    next
  }
  dropped && /^$/ { dropped = 0; next }
  { dropped = 0; print }
  !noted && /^\*\/$/ {
    noted = 1
    print ""
    print "// vfs: proto/import-cri-api.sh took this file (" upstream ")"
    print "// from Debian'"'"'s " deb ","
    print "// and removed the gogoproto import and options; nothing else differs from upstream."
  }
' "$source" >"$target.tmp"
if grep -nE 'gogoproto\.|gogo\.proto' "$target.tmp" >&2; then
  echo "import-cri-api: gogoproto left in $upstream_path (above): teach this script to remove it" >&2
  rm -f "$target.tmp"
  exit 1
fi
mv "$target.tmp" "$target"
echo "imported $upstream_path from $deb into ${target#"$root/"}" >&2
