#!/bin/sh
# Runs every libFuzzer binary (fuzz-*) found in BUILD_DIR for SECONDS each, starting from
# the committed seeds in tests/fuzz/corpus/<name>, where <name> is the target name without
# "fuzz-", or failing that its first word (fuzz-json-streamer -> json-streamer, json).
# Builds nothing. New inputs go to a scratch directory, so the seeds stay as committed.
# Exits non-zero if any target crashes, leaks or trips a sanitizer.
set -u

if [ $# -ne 2 ]; then
    echo "usage: $0 BUILD_DIR SECONDS" >&2
    exit 2
fi
build_dir=$1
seconds=$2
corpus_root=$(cd "$(dirname "$0")" && pwd)/corpus

targets=$(find "$build_dir" -type f -perm -u+x -name 'fuzz-*' | sort)
if [ -z "$targets" ]; then
    echo "no fuzz-* executables under $build_dir (configure with a clang compiler)" >&2
    exit 2
fi

# UBSan only reports by default; a fuzz run must stop on the first finding.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
failed=0
for target in $targets; do
    name=$(basename "$target")
    short=${name#fuzz-}
    seeds=$corpus_root/$short
    if [ ! -d "$seeds" ]; then
        seeds=$corpus_root/${short%%-*}
    fi
    work=$scratch/$name
    mkdir -p "$work/corpus" "$work/artifacts"
    set -- "$work/corpus"
    if [ -d "$seeds" ]; then
        set -- "$@" "$seeds"
    else
        echo "note: no seed corpus for $name" >&2
    fi
    echo "== $name for ${seconds}s"
    if ! "$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 \
            -artifact_prefix="$work/artifacts/" -print_final_stats=1 "$@"; then
        echo "FAILED: $name; reproducers:" >&2
        mkdir -p "$build_dir/fuzz-artifacts/$name"
        cp "$work"/artifacts/* "$build_dir/fuzz-artifacts/$name/" 2>/dev/null
        ls "$build_dir/fuzz-artifacts/$name" >&2
        failed=1
    fi
done
exit $failed
