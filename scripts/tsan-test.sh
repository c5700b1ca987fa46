#!/usr/bin/env bash
# Builds the block layer's concurrency tests with ThreadSanitizer and runs them: requests
# in flight on worker threads, io_uring and Linux AIO beside synchronous callers (issue 14).
# Not part of CI (a third full build would not fit its time), run it after touching
# block/io-aio.cc, block/file-aio.cc, util/aio-context.cc or a driver's aio hooks:
#   scripts/tsan-test.sh            builds in build-tsan/ and runs the tests
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD:-build-tsan}
if [ ! -f "$build/build.ninja" ]; then
    meson setup "$build" -Db_sanitize=thread -Db_lundef=false >/dev/null
fi
tests=(tests/unit/block/aio-test tests/unit/block/concurrency-test tests/unit/util/thread-pool-test)
targets=()
for t in "${tests[@]}"; do
    if (cd "$build" && ninja -t targets all | grep -q "^$t:"); then
        targets+=("$t")
    fi
done
ninja -C "$build" "${targets[@]}"
status=0
for t in "${targets[@]}"; do
    echo "== $t"
    TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" "$build/$t" || status=1
done
exit $status
