#!/bin/sh
# Compiler wrapper for fuzz builds until the toolchain has a clang that takes -std=c++23
# and provides std::expected (clang >= 17 with libstdc++ 12). It runs clang 16, which
# implements what libstdc++'s <expected> needs but still spells the standard c++2b and
# still reports the older concepts level. Use: CXX=$PWD/tests/fuzz/clang-cxx.sh meson setup ...
clang=${FUZZ_CLANGXX:-/usr/lib/llvm-16/bin/clang++}
for arg in "$@"; do
    shift
    if [ "$arg" = "-std=c++23" ]; then
        arg="-std=c++2b"
    fi
    set -- "$@" "$arg"
done
exec "$clang" -D__cpp_concepts=202002L -Wno-macro-redefined "$@"
