#!/usr/bin/env bash
# All tests: installs what is missing (tools/setup.sh), builds, runs the unit + model tests with CTest.
#   SLIM_SANITIZE=1 tools/test.sh        also builds and runs the suite under ASan/UBSan (build-asan/); the
#                                        real-model and per-target reruns are left out there (minutes under ASan)
#   SLIM_FUZZ_SECONDS=30 tools/test.sh   also fuzzes the GGUF parser for that long (clang, libFuzzer)
# CI (.ci/run) runs it with both.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
ctest --test-dir build --output-on-failure -j"$(nproc)"
if [ "${SLIM_SANITIZE:-0}" = 1 ]; then
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSLIM_SANITIZE=ON -DSLIM_BUILD_BENCH=OFF >/dev/null
  cmake --build build-asan -j"$(nproc)" --target slim_tests slim >&2
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    ctest --test-dir build-asan --output-on-failure -j"$(nproc)" -E '^(Real|kernels_on_)'
fi
if [ "${SLIM_FUZZ_SECONDS:-0}" -gt 0 ]; then
  tools/fuzz.sh "$SLIM_FUZZ_SECONDS" fuzz_gguf
fi
