#!/usr/bin/env bash
# vmm/build.sh — our QEMU, as Kata ships its own: Debian's QEMU source package, our patches
# (vmm/patches, a DAX window on vhost-user-fs-pci), configured small, installed under a prefix named
# for the version and a hash of the patches and of this script (/opt/vfs/qemu-<version>-<hash>),
# with /opt/vfs/qemu pointing at it. A prefix that already holds a working QEMU is kept, so only the
# first build on a machine pays (≈ 15 min on 2 cores). Prints the binary's path.
#
# Debian's archive serves no QEMU 11.x source today (sid's .dsc and .orig answer 404), so this is
# 10.2.2: it has the vhost-user back-end channel but no shared-memory requests, which the patch adds.
set -euo pipefail

VERSION=10.2.2
DEBIAN_VERSION="1:${VERSION}+ds-1"
OPT=/opt/vfs
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
here="$root/vmm"
work="$root/build/vmm"

hash="$(cat "$here/build.sh" "$here"/patches/*.patch | sha256sum | cut -c1-12)"
prefix="$OPT/qemu-$VERSION-$hash"
binary="$prefix/bin/qemu-system-x86_64"

if "$binary" --version >/dev/null 2>&1; then
  ln -sfn "$prefix" "$OPT/qemu"
  echo "$binary"
  exit 0
fi

echo "vmm: building QEMU $VERSION with vmm/patches into $prefix (≈ 15 min on 2 cores)" >&2
bash "$root/scripts/ensure-apt.sh" gcc make ninja-build pkg-config python3-venv libglib2.0-dev \
  libpixman-1-dev zlib1g-dev libfdt-dev device-tree-compiler seabios ipxe-qemu qemu-system-data >&2

# Meson ≥ 1.5 (bookworm has 1.0) and pycotap, both pure Python, from trixie, on PYTHONPATH.
pythonpath=()
for package in meson python3-pycotap; do
  dir="$work/tools/$package"
  [[ -d "$dir/usr/lib/python3/dist-packages" ]] || bash "$root/scripts/trixie-deb.sh" "$package" "$dir" >&2
  pythonpath+=("$dir/usr/lib/python3/dist-packages")
done
export PYTHONPATH
PYTHONPATH="$(IFS=:; echo "${pythonpath[*]}")"

# The source package, on a private apt state (hash-checked against sid's signed Sources index).
apt="$work/apt"
rm -rf "$apt" "$work/src" "$work/obj"
mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$work/src" "$work/obj"
trap 'rm -rf "$apt" "$work/src" "$work/obj"' EXIT
echo 'deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian sid main' \
  >"$apt/sources.list"
options=(-q -o "Dir::Etc::SourceList=$apt/sources.list" -o Dir::Etc::SourceParts=/nonexistent
  -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache" -o Acquire::Languages=none
  -o APT::Sandbox::User=root)
apt-get "${options[@]}" update >&2
(cd "$apt" && apt-get "${options[@]}" source --download-only "qemu=$DEBIAN_VERSION" >&2)
tar -xJf "$apt/qemu_${VERSION}+ds.orig.tar.xz" -C "$work/src"
src="$work/src/qemu-$VERSION"
for patch in "$here"/patches/*.patch; do
  patch -d "$src" -p1 --quiet --forward <"$patch"
done

# x86_64 only, KVM and TCG, no UI, no tools; firmware from Debian's packages (seabios, ipxe-qemu,
# qemu-system-data), as Debian's own QEMU finds it.
(cd "$work/obj" && "$src/configure" --python=/usr/bin/python3 --prefix="$prefix" \
  --target-list=x86_64-softmmu --enable-kvm --enable-tcg --enable-vhost-user \
  --disable-download --disable-install-blobs --disable-docs --disable-werror --disable-debug-info \
  --disable-user --disable-tools --disable-guest-agent --disable-plugins --disable-rust \
  --disable-xen --disable-gtk --disable-sdl --disable-vnc --disable-opengl --disable-spice \
  --disable-curses --disable-libusb --disable-usb-redir --disable-slirp --disable-capstone \
  --firmwarepath=/usr/share/qemu:/usr/share/seabios:/usr/lib/ipxe/qemu >&2)
make -C "$work/obj" -j"$(nproc)" >&2

# Installed beside the final prefix, then renamed: a half-installed prefix never looks finished.
rm -rf "$prefix.tmp"
make -C "$work/obj" install DESTDIR="$prefix.tmp" >&2
mkdir -p "$OPT"
rm -rf "$prefix"
mv "$prefix.tmp$prefix" "$prefix"
rm -rf "$prefix.tmp"
"$binary" --version >&2
ln -sfn "$prefix" "$OPT/qemu"
echo "$binary"
