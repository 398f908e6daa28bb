#!/usr/bin/env bash
# clang-format-check.sh [--write] DIR… — checks (or with --write, applies) .clang-format on the C
# sources under DIR. clang-format comes from npm (node_modules), so the fast loop needs no apt.
set -euo pipefail
cd "$(dirname "$0")/.."
write=0
if [ "${1:-}" = "--write" ]; then write=1; shift; fi
mapfile -t files < <(find "$@" -name '*.[ch]' | sort)
((${#files[@]})) || exit 0
if ((write)); then
  npx clang-format -i "${files[@]}"
else
  npx clang-format --dry-run --Werror "${files[@]}"
fi
