#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, -DSLIM_FUZZ=ON, ASan+UBSan) in build-fuzz and runs one.
#   tools/fuzz.sh [SECONDS=60] [TARGET=fuzz_gguf]
# Seeds come from fuzz/corpus_<name>/ (name = TARGET without "fuzz_"); the working corpus grows in
# build-fuzz/corpus_<name>/ so the committed seeds stay small. Crash inputs land in build-fuzz/artifacts/.
# Exit status is the fuzzer's: non-zero means it found a crash (reproduce: build-fuzz/TARGET FILE).
set -euo pipefail
cd "$(dirname "$0")/.."

secs=${1:-60}
target=${2:-fuzz_gguf}
name=${target#fuzz_}

cxx=$(command -v clang++ || command -v clang++-14 || true)
cc=$(command -v clang || command -v clang-14 || true)
if [ -z "$cxx" ] || [ -z "$cc" ]; then
  echo "fuzz.sh: clang not found (apt-get install clang)" >&2
  exit 2
fi

gen=()
command -v ninja >/dev/null && gen=(-G Ninja)
if [ ! -f build-fuzz/CMakeCache.txt ]; then
  CC=$cc CXX=$cxx cmake -S . -B build-fuzz "${gen[@]}" -DCMAKE_BUILD_TYPE=Release -DSLIM_FUZZ=ON \
    -DSLIM_BUILD_TESTS=OFF -DSLIM_BUILD_BENCH=OFF >/dev/null
fi
cmake --build build-fuzz -j2 --target "$target"

corpus=build-fuzz/corpus_$name
mkdir -p "$corpus" build-fuzz/artifacts
if [ -d "fuzz/corpus_$name" ]; then cp -n "fuzz/corpus_$name"/* "$corpus"/ 2>/dev/null || true; fi

# One process: the machine has 2 cores shared with other work.
exec "build-fuzz/$target" -max_total_time="$secs" -print_final_stats=1 -rss_limit_mb=2048 -timeout=10 \
  -artifact_prefix=build-fuzz/artifacts/ "$corpus"
