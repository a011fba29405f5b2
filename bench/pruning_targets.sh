#!/usr/bin/env bash
# The issue-5 targets in one run, on one machine state (2 threads): dense vs SlimInfer side by side.
#   bench/pruning_targets.sh [OUTDIR]     (default /tmp/slim-targets); about 5 minutes on an idle 2-core machine
# 1. Gemma 3 270M: TTFT and end-to-end (prompt + 128 generated) at 16k and 32k (32640 + 128 = the full context), prompt KV vs dense.
# 2. SmolLM2-135M: TTFT at 8k tokens.
# 3. Gemma 3 270M at 32k with --kv-budget 25M (a quarter of the 101 MiB dense KV; global layers stream): same greedy output as an
#    unlimited run, and the KV manager's stall time vs decode time.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-/tmp/slim-targets}
mkdir -p "$out"
G=models/gemma-3-270m-q4_k_m.gguf
S=models/smollm2-135m-instruct-q4_1.gguf
prune=${SLIM_PRUNE:-sliminfer}
build/slim bench -m $G -p 0 -n 128 --e2e 16384,32640 -r 1 --prune dense --prune "$prune" | tee "$out/gemma.md"
build/slim bench -m $S -p 0 -n 0 --ttft 8000 -r 2 --prune dense --prune "$prune" | tee "$out/smollm2.md"
# A 32k-token needle prompt from the novel (about 4.1 characters per token).
text=tests/data/pride-and-prejudice-ch1-30.txt
{
  head -c 66000 "$text"
  printf '\n\nThe secret passphrase for the Netherfield ball is "blue-harbor-42". Remember it.\n\n'
  head -c 132000 "$text" | tail -c 66000
  printf '\n\nQuestion: What is the secret passphrase for the Netherfield ball?\nAnswer: The secret passphrase is "'
} >"$out/needle32k.txt"
for budget in "" 25M; do
  tag=${budget:-unlimited}
  build/slim run -m $G -f "$out/needle32k.txt" -c 32768 -n 128 --temp 0 --no-display-prompt --prune "$prune" \
    ${budget:+--kv-budget $budget} >"$out/run-$tag.txt" 2>"$out/run-$tag.log"
  echo "--- kv budget $tag: $(head -c 80 "$out/run-$tag.txt" | tr '\n' ' ')"
  grep -E "^(prompt|first token|generation|KV cache|prompt KV|KV manager| )" "$out/run-$tag.log" || true
done
if cmp -s "$out/run-unlimited.txt" "$out/run-25M.txt"; then echo "budget run: same output"; else echo "budget run: OUTPUT DIFFERS"; fi
