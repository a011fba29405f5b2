#!/usr/bin/env bash
# Compare slim's logits with llama.cpp's on the same text (see docs/correctness.md).
#
# For each model: llama-perplexity writes its logits (--kl-divergence-base), slim reads them and reports
# mean KLD, top-1 agreement and both perplexities. With SELF=1 it also measures llama.cpp against itself
# (flash attention off vs the default), the noise floor the figures should be read against.
#
# Usage: tools/compare_llama.sh [model.gguf ...]
#   env: LLAMA_BIN  folder with llama-perplexity (default: the path in /tmp/llama-ref.out)
#        SLIM       slim binary (default: build-num/slim, else build/slim)
#        CTX=512 CHUNKS=4 THREADS=2   perplexity settings (llama.cpp also uses -b CTX)
#        OUT        folder for the .kld files (default: /tmp/slim-compare); existing ones are reused
#        SELF=1     also run llama.cpp -fa off against its own default
set -euo pipefail
cd "$(dirname "$0")/.."

LLAMA_BIN=${LLAMA_BIN:-$(cat /tmp/llama-ref.out 2>/dev/null || true)}
if [[ -z "$LLAMA_BIN" || ! -x "$LLAMA_BIN/llama-perplexity" ]]; then
  echo "compare_llama: set LLAMA_BIN to a folder holding llama-perplexity" >&2
  exit 2
fi
SLIM=${SLIM:-}
if [[ -z "$SLIM" ]]; then
  for s in build-num/slim build/slim; do [[ -x $s ]] && SLIM=$s && break; done
fi
[[ -x "${SLIM:-}" ]] || { echo "compare_llama: slim binary not found (set SLIM)" >&2; exit 2; }
CTX=${CTX:-512}
CHUNKS=${CHUNKS:-4}
THREADS=${THREADS:-2}
OUT=${OUT:-/tmp/slim-compare}
TEXT=tests/data/pride-and-prejudice-ch1-30.txt
mkdir -p "$OUT"

models=("$@")
if [[ ${#models[@]} -eq 0 ]]; then
  models=(models/gemma-3-270m-q4_k_m.gguf models/smollm2-135m-instruct-q4_1.gguf)
fi

for m in "${models[@]}"; do
  [[ -f "$m" ]] || { echo "skip $m (absent)"; continue; }
  name=$(basename "$m" .gguf)
  base="$OUT/$name-c$CTX-k$CHUNKS.kld"
  echo "== $name  (c=$CTX, chunks=$CHUNKS)"
  if [[ ! -s "$base" ]]; then
    "$LLAMA_BIN/llama-perplexity" -m "$m" -f "$TEXT" -c "$CTX" -b "$CTX" --chunks "$CHUNKS" -t "$THREADS" \
      --no-warmup --kl-divergence-base "$base" > "$OUT/$name-llama.log" 2>&1
  fi
  echo -n "llama.cpp: "; grep -oE "Final estimate.*" "$OUT/$name-llama.log" || echo "(no log: reused $base)"
  "$SLIM" perplexity -m "$m" -t "$THREADS" --kl-divergence-base "$base" --kl-divergence > "$OUT/$name-slim.log" 2>&1
  echo -n "slim:      "; grep -oE "Final estimate.*" "$OUT/$name-slim.log" || true
  echo -n "slim vs llama.cpp: "; grep -E "^summary" "$OUT/$name-slim.log"
  if [[ "${SELF:-0}" == 1 ]]; then
    "$LLAMA_BIN/llama-perplexity" -m "$m" -c "$CTX" -b "$CTX" --chunks "$CHUNKS" -t "$THREADS" --no-warmup \
      -fa off --kl-divergence-base "$base" --kl-divergence > "$OUT/$name-self.log" 2>&1
    echo -n "llama.cpp -fa off vs default: "
    grep -E "Mean    KLD|Same top p" "$OUT/$name-self.log" | tr -s ' ' | tr '\n' ' '
    echo
  fi
done
