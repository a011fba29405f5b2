#!/usr/bin/env bash
# The main job: a long-context prompt (a needle hidden in a novel, then a question) answered by the default model,
# Gemma 3 270M, first dense, then with SlimInfer token pruning, each with a progress bar and the timings block;
# ends with the time-to-first-token speed-up and the prompt-KV saving, and writes an HTML picture of what each
# layer kept (demo-explain.html).
#   SLIM_DEMO_CHARS=120000 tools/demo.sh     # longer haystack (about 4 characters per token; 64000 ≈ 16k tokens)
#   SLIM_DEMO_PRUNE='sliminfer:keep=0.3/0.15' tools/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
chars=${SLIM_DEMO_CHARS:-64000}
spec=${SLIM_DEMO_PRUNE:-sliminfer}
prompt=$(mktemp /tmp/slim-demo-XXXXXX.txt)
logs=$(mktemp -d /tmp/slim-demo-XXXXXX)
trap 'rm -rf "$prompt" "$logs"' EXIT
text=tests/data/pride-and-prejudice-ch1-30.txt
half=$((chars / 2))
{
  head -c "$half" "$text"
  printf '\n\nThe secret passphrase for the Netherfield ball is "blue-harbor-42". Remember it.\n\n'
  head -c "$chars" "$text" | tail -c "$half"
  printf '\n\nQuestion: What is the secret passphrase for the Netherfield ball?\nAnswer: The secret passphrase is "'
} >"$prompt"
run() {  # $1 = label, $2 = prune spec, rest = extra flags
  local label=$1 p=$2
  shift 2
  echo >&2
  echo "=== $label (--prune $p) ===" >&2
  printf 'answer: "'
  build/slim run -f "$prompt" -c 32768 -n 16 --temp 0 --no-display-prompt --stop '"' --prune "$p" "$@" \
    2> >(tee "$logs/$label.log" >&2)
  echo
}
echo "demo: a ${chars}-character prompt (a needle in Pride and Prejudice) on Gemma 3 270M, dense then pruned" >&2
run dense dense
run pruned "$spec" --explain demo-explain.html
ttft() { awk '/^first token:/ {print $3}' "$logs/$1.log"; }
kv() { awk '/^KV cache:/ {print $3}' "$logs/$1.log"; }
awk -v d="$(ttft dense)" -v p="$(ttft pruned)" -v kd="$(kv dense)" -v kp="$(kv pruned)" 'BEGIN {
  printf "\n=== summary ===\ntime to first token: dense %.0f ms, pruned %.0f ms: %.2fx faster\n", d, p, d / p
  printf "KV cache after the prompt: dense %.1f MiB, pruned %.1f MiB: %.0f%% less\n", kd, kp, 100 * (1 - kp / kd)
  printf "which tokens each layer kept: demo-explain.html\n" }'
