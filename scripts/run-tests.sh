#!/usr/bin/env bash
# Builds the project and runs every test (unit, QAPI schema, qtest, interop), then prints
# "N passed, N failed" counting GoogleTest cases one by one.
#   scripts/run-tests.sh                 plain build in build/
#   BUILD=build-san MESON_ARGS="-Db_sanitize=address,undefined -Db_lundef=false" scripts/run-tests.sh
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh

build=${BUILD:-build}
if [ ! -f "$build/build.ninja" ]; then
    # shellcheck disable=SC2086
    meson setup "$build" ${MESON_ARGS:-}
fi
ninja -C "$build"
status=0
meson test -C "$build" --print-errorlogs --num-processes 2 ${MESON_TEST_ARGS:-} || status=$?
python3 scripts/count-tests.py "$build/meson-logs/testlog.json"
exit $status
