#!/usr/bin/env bash
# Quick start, part one: install what is missing, build, and run the demo (the emulator
# on a sample image passed through an fd set, driven over QMP).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
[ -f build/build.ninja ] || meson setup build
ninja -C build system/qemu-system-x86_64
exec python3 scripts/demo.py build
