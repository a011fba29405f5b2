#!/usr/bin/env bash
# The main job: a long-context prompt (a needle hidden in a novel, then a question) answered by the default model,
# Gemma 3 270M, with a progress bar while the prompt is read and the timings block (TTFT, prompt and decode t/s).
# Token pruning (SlimInfer/LazyLLM) is not in the engine yet: this run is dense; the pruned comparison is added
# here when the pruning issue lands.
#   SLIM_DEMO_CHARS=120000 tools/demo.sh     # longer haystack (about 4 characters per token)
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
chars=${SLIM_DEMO_CHARS:-32000}
prompt=$(mktemp /tmp/slim-demo-XXXXXX.txt)
trap 'rm -f "$prompt"' EXIT
text=tests/data/pride-and-prejudice-ch1-30.txt
half=$((chars / 2))
{
  head -c "$half" "$text"
  printf '\n\nThe secret passphrase for the Netherfield ball is "blue-harbor-42". Remember it.\n\n'
  head -c "$chars" "$text" | tail -c "$half"
  printf '\n\nQuestion: What is the secret passphrase for the Netherfield ball?\nAnswer: The secret passphrase is "'
} >"$prompt"
echo "demo: a ${chars}-character prompt (a needle in Pride and Prejudice), dense prefill on Gemma 3 270M" >&2
build/slim run -f "$prompt" -c 32768 -n 16 --temp 0 --no-display-prompt --stop '"'
