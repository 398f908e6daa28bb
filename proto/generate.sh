#!/usr/bin/env bash
# Regenerates the TypeScript for every .proto under proto/defs into proto/gen (or into $1).
# The output is committed; proto/generated_code_is_fresh.test.ts checks that it matches.
#
# Every file gets ts-proto's generic service definitions (what our ttrpc serves and calls). The
# containerd.task.v3 shim additionally gets @grpc/grpc-js definitions (containerd 1.7 may talk gRPC
# to the shim); no other file imports grpc-js, so the guest agent's bundle stays free of it.
#
# The Kubernetes CRI API (k8s.io/…, imported by import-cri-api.sh) is generated on its own: grpc-js
# clients only (the e2e tests call containerd's CRI plugin over gRPC), and forceLong=bigint, because
# its nanosecond timestamps exceed 2^53 and forceLong=number refuses to decode them. Every other
# file keeps forceLong=number, so its output does not change.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
out="${1:-$here/gen}"
plugin="$root/node_modules/.bin/protoc-gen-ts_proto"
defs="$here/defs"
# protoc's own well-known types (google/protobuf/*.proto) from Debian's libprotobuf-dev.
wkt_include="${PROTOC_INCLUDE:-/usr/include}"

common_opts="esModuleInterop=true,forceLong=number,useOptionals=messages,oneof=unions,env=node"
common_opts+=",useExactTypes=false,outputJsonMethods=false,annotateFilesWithVersion=false"
grpc_files=("containerd/runtime/task/v3/shim.proto")
cri_files=("k8s.io/cri-api/runtime/v1/api.proto")

run_protoc() { # $1 = ts-proto options, rest = .proto files relative to defs
  local opts="$1"
  shift
  protoc --plugin="protoc-gen-ts_proto=$plugin" -I"$defs" -I"$wkt_include" \
    --ts_proto_out="$staging" --ts_proto_opt="$opts" "$@"
}

staging="$(mktemp -d "${TMPDIR:-/tmp}/vfs-proto-gen.XXXXXX")"
trap 'rm -rf "$staging"' EXIT

mapfile -t all_files < <(cd "$defs" && find . -name '*.proto' -not -path './k8s.io/*' -printf '%P\n' | LC_ALL=C sort)
run_protoc "outputServices=generic-definitions,$common_opts" "${all_files[@]}"
# Second pass overwrites the v3 shim with a file carrying both kinds of service definition.
run_protoc "outputServices=generic-definitions,outputServices=grpc-js,emitImportedFiles=false,$common_opts" \
  "${grpc_files[@]}"
run_protoc "outputServices=grpc-js,${common_opts/forceLong=number/forceLong=bigint}" "${cri_files[@]}"

rm -rf "$out"
mkdir -p "$(dirname "$out")"
cp -r "$staging" "$out"
