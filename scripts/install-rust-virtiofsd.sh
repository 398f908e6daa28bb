#!/usr/bin/env bash
# install-rust-virtiofsd.sh — makes the Rust virtiofsd of Debian trixie (1.13) runnable on bookworm
# as a benchmark and parity peer, and prints the path of its launcher: build/rust-virtiofsd/virtiofsd.
# Does nothing but print the path when it is already installed.
#
# trixie's binary needs glibc ≥ 2.39 (bookworm has 2.36), so its own libraries come with it:
# virtiofsd and the trixie packages of everything `ldd` lists (libc6, libseccomp2, libcap-ng0,
# libgcc-s1) are unpacked by trixie-deb.sh into one private root, and the launcher runs the binary
# through that root's dynamic loader with that root's library path. Nothing outside build/ changes,
# and no chroot is needed: the daemon sees the host's paths (socket, shared dir) as it would
# installed. Used by bench-daemon, bench-guest and the parity test (harness/src/rust_virtiofsd.ts).
set -euo pipefail
root_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="$root_dir/build/rust-virtiofsd"
launcher="$dest/virtiofsd"
packages=(virtiofsd libc6 libseccomp2 libcap-ng0 libgcc-s1)

if [[ -x "$launcher" ]] && "$launcher" --version >/dev/null 2>&1; then
  echo "$launcher"
  exit 0
fi

rm -rf "$dest"
stage="$dest.tmp"
rm -rf "$stage"
mkdir -p "$stage/root"
for p in "${packages[@]}"; do
  echo "rust-virtiofsd: unpacking trixie's $p" >&2
  bash "$root_dir/scripts/trixie-deb.sh" "$p" "$stage/root" >"$stage/$p.deb-name"
done
cat "$stage"/*.deb-name >"$stage/packages"
rm -f "$stage"/*.deb-name

# trixie is merged-/usr: everything is under usr/lib. exec: the launcher's PID is the daemon's, so callers signal and measure the daemon itself.
cat >"$stage/virtiofsd" <<'EOF'
#!/bin/sh
# The Rust virtiofsd of Debian trixie, through trixie's own loader and libraries (install-rust-virtiofsd.sh).
here="$(dirname "$(readlink -f "$0")")"
exec "$here/root/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" --library-path "$here/root/usr/lib/x86_64-linux-gnu" "$here/root/usr/libexec/virtiofsd" "$@"
EOF
chmod +x "$stage/virtiofsd"
"$stage/virtiofsd" --version >&2 || { echo "rust-virtiofsd: the unpacked virtiofsd does not run" >&2; exit 1; }
mv "$stage" "$dest"
echo "$launcher"
