#!/usr/bin/env bash
# trixie-deb.sh PACKAGE DEST — debian-deb.sh for Debian trixie (the guest kernel's source, Docker,
# containerd 1.7, the CRI API's .proto, the Rust virtiofsd).
set -euo pipefail
exec bash "$(dirname "${BASH_SOURCE[0]}")/debian-deb.sh" trixie "$@"
