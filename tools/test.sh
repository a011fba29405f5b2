#!/usr/bin/env bash
# All tests: installs what is missing (tools/setup.sh), builds, runs the unit + model tests with CTest.
#   SLIM_SANITIZE=1 tools/test.sh   additionally builds and runs the suite under ASan/UBSan (build-asan/)
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
ctest --test-dir build --output-on-failure -j"$(nproc)"
if [ "${SLIM_SANITIZE:-0}" = 1 ]; then
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSLIM_SANITIZE=ON -DSLIM_BUILD_BENCH=OFF >/dev/null
  cmake --build build-asan -j"$(nproc)" --target slim_tests >&2
  ctest --test-dir build-asan --output-on-failure -j"$(nproc)"
fi
