#!/usr/bin/env bash
# Runs the kernel and model tests with the kernels forced to one SIMD target (SLIM_CPU), so every target the
# machine has is tested against the scalar references. Exits 77 (CTest: skipped) where the CPU or the build
# lacks the target.  usage: run_on_target.sh BUILD_DIR TARGET
set -euo pipefail
build=$1 target=$2
if ! "$build/slim" --version | grep -q "^kernels:.* $target "; then
  if ! "$build/slim" --version | grep -q "^kernels: $target "; then
    echo "target $target: not available on this CPU / build ($("$build/slim" --version | grep '^kernels'))"
    exit 77
  fi
fi
filter='Dispatch.*:*AttentionKernel.*:Matmul.*:VecDot.*:Dequant.*:ActQuant.*:Quantize.*:Fp16.*:Bf16.*:*TinyModel.*:*PruneTiny.*:*LazyTiny.*'
# The agreement tests (PPL / KL / top-1 / greedy vs llama.cpp's fixtures, tiny and real models) on the SIMD
# targets only: the scalar matmul sums in the reference order, not llama.cpp's lanes.
[ "$target" = scalar ] || filter="$filter:*LlamaAgreement.*:Real/RealModelTest.*"
SLIM_CPU=$target exec "$build/slim_tests" --gtest_filter="$filter"
