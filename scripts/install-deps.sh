#!/usr/bin/env bash
# Installs the Debian packages the build and the tests need, when any is missing.
# Runs apt-get as root (directly or through sudo); does nothing when all are present.
set -euo pipefail

packages=(
    meson ninja-build g++ pkg-config python3
    libglib2.0-dev nlohmann-json3-dev zlib1g-dev libdeflate-dev libgtest-dev libseccomp-dev liburing-dev
    clang-16 libclang-rt-16-dev
    qemu-system-x86 qemu-utils socat mtools
    libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients
)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "Installing: ${missing[*]}" >&2
$sudo apt-get update -q
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
