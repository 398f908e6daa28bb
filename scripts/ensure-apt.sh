#!/usr/bin/env bash
# ensure-apt.sh PACKAGE… — installs the Debian packages that are missing, and nothing else.
# `dpkg -s` first, so the usual case costs no network; `apt-get update` runs once, only when an
# install is needed (a fresh container's package lists may be stale or empty).
set -euo pipefail

missing=()
for p in "$@"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
((${#missing[@]})) || exit 0

echo "ensure-apt: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null || { echo "ensure-apt: apt-get update failed" >&2; exit 1; }
apt-get install -y -q "${missing[@]}" >/dev/null ||
  { echo "ensure-apt: apt-get install ${missing[*]} failed" >&2; exit 1; }
