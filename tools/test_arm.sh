#!/usr/bin/env bash
# The ARM build and its kernel tests, on an x86-64 machine: cross-compiles slim and slim_tests for AArch64
# with Debian's gcc-aarch64-linux-gnu (cmake/aarch64-linux-gnu.cmake, GoogleTest from /usr/src/googletest)
# and runs the kernel and tiny-model tests under qemu-user, forced onto each ARM target:
#   neon with dotprod (qemu -cpu max), neon without it (-cpu cortex-a72), scalar.
# Installs what is missing. qemu emulates: the run checks results, not speed.
#   usage: tools/test_arm.sh [BUILD_DIR]   (default build-arm/)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-arm}
need=()
command -v aarch64-linux-gnu-g++ >/dev/null || need+=(g++-aarch64-linux-gnu)
command -v qemu-aarch64 >/dev/null || need+=(qemu-user)
[ -f /usr/src/googletest/CMakeLists.txt ] || need+=(googletest)
[ -f /usr/share/cmake/nlohmann_json/nlohmann_jsonConfig.cmake ] || need+=(nlohmann-json3-dev)
[ -f /usr/include/CLI/CLI.hpp ] || need+=(libcli11-dev)
if [ ${#need[@]} -gt 0 ]; then
  echo "test_arm: installing ${need[*]}" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}" >&2
fi
cmake -S . -B "$build" -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake -DSLIM_BUILD_BENCH=OFF -DSLIM_BUILD_TESTS=ON \
  -DSLIM_GTEST_SOURCE=/usr/src/googletest >/dev/null
cmake --build "$build" -j"$(nproc)" --target slim slim_tests >&2
qemu=(qemu-aarch64 -L /usr/aarch64-linux-gnu)
# The kernel tests on every configuration; the tiny-model forward / pruning tests (minutes under emulation)
# once, on the dotprod target. Real-model and llama.cpp-agreement tests stay on x86 (their fixtures hold
# llama.cpp's x86 lane order).
kernels='Dispatch.*:*AttentionKernel.*:Matmul.*:VecDot.*:Dequant.*:ActQuant.*:Quantize.*:Fp16.*:Bf16.*'
models='*TinyModel.*:*PruneTiny.*:*LazyTiny.*:-*LlamaAgreement*'
status=0
run() {  # run CPU SLIM_CPU FILTER
  echo "== qemu -cpu $1, SLIM_CPU=$2, $3"
  echo "   $("${qemu[@]}" -cpu "$1" "$build/slim" --version | grep '^kernels')"
  SLIM_CPU=$2 "${qemu[@]}" -cpu "$1" "$build/slim_tests" --gtest_filter="$3" --gtest_brief=1 | tail -4 || status=1
}
run max neon "$kernels"
run max neon "$models"
run cortex-a72 neon "$kernels"
run max scalar "$kernels"
[ $status = 0 ] && echo "== test_arm: all passed" || echo "== test_arm: FAILURES (see above)"
exit $status
