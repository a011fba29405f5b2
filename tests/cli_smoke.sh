#!/usr/bin/env bash
# End-to-end checks of the `slim` command on a tiny model: each sub-command runs and prints what a user expects,
# and bad input ends with exit code 1 and a message naming the problem (never a crash).
#   tests/cli_smoke.sh BUILD_DIR SOURCE_DIR
set -u
slim=$1/slim
src=$2
m=$src/tests/models/tiny-gemma3-q4km.gguf
fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
check() {  # check NAME EXPECTED_RC PATTERN -- command...
  local name=$1 want_rc=$2 pat=$3
  shift 4
  "$@" >"$tmp/out" 2>&1
  local rc=$?
  local rc_ok=0
  if [ "$want_rc" = nz ]; then [ "$rc" -ne 0 ] && [ "$rc" -lt 128 ] && rc_ok=1  # an error, not a signal
  else [ "$rc" = "$want_rc" ] && rc_ok=1; fi
  if [ "$rc_ok" != 1 ] || ! grep -q -- "$pat" "$tmp/out"; then
    echo "FAIL $name: rc=$rc (want $want_rc), pattern '$pat'"; sed 's/^/    /' "$tmp/out" | tail -5; fail=$((fail + 1))
  else
    echo "ok   $name"
  fi
}
[ -f "$m" ] || { echo "tiny models missing: run tools/setup.sh"; exit 1; }

check run-timings 0 "time to first token" -- "$slim" run -m "$m" -p "Hello there" -n 4 --temp 0
check run-stdin 0 "peak RSS" -- sh -c "echo 'piped prompt' | '$slim' run -m '$m' -n 2 --temp 0"
check inspect 0 "runnable as gemma3" -- "$slim" inspect "$m"
check perplexity 0 "Final estimate: PPL" -- "$slim" perplexity -m "$m" -f "$src/tests/data/persuasion-ch1.txt" -c 128 --chunks 2
check kld 0 "top-1 agreement" -- "$slim" perplexity -m "$m" --kl-divergence-base "$src/tests/fixtures/tiny/tiny-gemma3-q4km.kld" --kl-divergence
check bench-json 0 '"avg_ts"' -- "$slim" bench -m "$m" -p 16 -n 4 -r 1 -o json
check help 0 "perplexity" -- "$slim" --help
check missing-model 1 "cannot open" -- "$slim" run -m "$tmp/nope.gguf" -p hi
head -c 3000 "$m" >"$tmp/trunc.gguf"
check truncated-gguf 1 "gguf:" -- "$slim" run -m "$tmp/trunc.gguf" -p hi
printf 'GGUX0000' >"$tmp/magic.gguf"
check bad-magic 1 "magic" -- "$slim" inspect "$tmp/magic.gguf"
printf 'bad \xff utf8' >"$tmp/bad.txt"
check invalid-utf8 1 "invalid UTF-8" -- "$slim" run -m "$m" -f "$tmp/bad.txt" -n 1
check prompt-too-long 1 "raise -c" -- "$slim" run -m "$m" -f "$src/tests/data/persuasion-ch1.txt" -c 64 -n 1
check bad-flag nz "no-such-flag" -- "$slim" run --no-such-flag
# Pruning surface: timings report rows per layer and KV vs dense; --explain writes its page; budgets and specs.
long=$tmp/long.txt
head -c 3000 "$src/tests/data/persuasion-ch1.txt" >"$long"
check prune-run 0 "of the dense prompt rows computed" -- "$slim" run -m "$m" -f "$long" -c 2048 -n 2 --temp 0 \
  --prune sliminfer --prune-opt layers=1 --prune-opt keep=0.3 --prune-opt min_tokens=64 --explain "$tmp/x.html"
check explain-html 0 "Which prompt tokens each layer computed" -- cat "$tmp/x.html"
check kv-budget 0 "KV manager:" -- "$slim" run -m "$m" -f "$long" -c 2048 -n 4 --temp 0 --kv-budget 600K
check kv-budget-too-small 1 "below the minimum" -- "$slim" run -m "$m" -p hi -c 2048 --kv-budget 1K
check bad-prune 1 "unknown method" -- "$slim" run -m "$m" -p hi --prune magic
check bad-prune-opt 1 "keep ratios must be" -- "$slim" run -m "$m" -p hi --prune sliminfer --prune-opt keep=2
check bench-prune 0 "vs dense" -- "$slim" bench -m "$m" -p 0 -n 0 --ttft 600 -r 1 --prune dense \
  --prune sliminfer:layers=1,keep=0.3,min_tokens=64
check eval-ci 0 "report" -- "$slim" eval --tier ci -m "$m" -o "$tmp/eval"
# --report-only keeps the run's model (from run.json, not the default model) and a note added to its Command line.
sed -i 's/^\(Command: `[^`]*`\).*$/\1 (note kept)  /' "$tmp/eval/report.md"
check eval-report-only 0 "^Model: .tiny-gemma3-q4km.gguf" -- sh -c "'$slim' eval --report-only -o '$tmp/eval' &&
  grep -q '^Command: .*--tier ci.* (note kept)  \$' '$tmp/eval/report.md' && cat '$tmp/eval/report.md'"

passed=$((22 - fail))
echo "$passed passed, $fail failed"
[ "$fail" = 0 ]
