#!/usr/bin/env bash
# stage-modules.sh KERNEL_ROOT MODULES_FILE OUT_DIR — copies the modules named in MODULES_FILE and
# everything they depend on into OUT_DIR as <name>.ko, and writes OUT_DIR/load-order with
# dependencies first (the order modules.dep would give; Debian ships no modules.dep, depmod runs
# at install, so dependencies are read from each module's .modinfo `depends=`).
# `strip --strip-debug` drops the debug info and, because the appended signature lies outside the
# ELF, the "~Module signature appended~" trailer: less to unpack and no signature check at insmod.
set -euo pipefail
kroot=$1
list=$2
out=$3

release_dir=$(echo "$kroot"/lib/modules/*)
declare -A path_of=()
while IFS= read -r -d '' ko; do
  name=$(basename "$ko" .ko)
  path_of[${name//-/_}]=$ko
done < <(find "$release_dir/kernel" -name '*.ko' -print0)

depends_of() {
  objcopy -O binary -j .modinfo "${path_of[$1]}" /dev/stdout | tr '\0' '\n' | sed -n 's/^depends=//p' | tr ',' ' '
}

declare -A placed=()
order=()
place() {
  local m=$1 dep
  [ -n "${placed[$m]:-}" ] && return
  [ -n "${path_of[$m]:-}" ] || { echo "stage-modules: module $m not in $release_dir" >&2; exit 1; }
  placed[$m]=1
  for dep in $(depends_of "$m"); do place "$dep"; done
  order+=("$m")
}

for m in $(sed 's/#.*//' "$list"); do place "$m"; done

rm -rf "$out"
mkdir -p "$out"
for m in "${order[@]}"; do
  strip --strip-debug -o "$out/$m.ko" "${path_of[$m]}"
  ! grep -q '~Module signature appended~' "$out/$m.ko" ||
    { echo "stage-modules: signature still present in $m.ko after strip" >&2; exit 1; }
done
printf '%s\n' "${order[@]}" >"$out/load-order"
