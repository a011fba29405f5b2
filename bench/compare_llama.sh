#!/usr/bin/env bash
# Side-by-side throughput: llama-bench and `slim bench` on the same models with the same -t/-p/-n/-d/-r, run
# alternately (llama.cpp then slim, per model and per test group) so slow drift on a shared machine hits both.
# Both tools write JSON; the table shows each figure (mean ± sd t/s) and the ratio slim / llama.cpp.
# Run by hand (minutes on 2 cores), not in CI:
#   bench/compare_llama.sh                      # both models in models/, -t 2 -p 512 -n 128 -d 4096 -r 2
#   bench/compare_llama.sh -r 3 -d 0 models/smollm2-135m-instruct-q4_1.gguf
#   bench/compare_llama.sh -d 0 -T 8192,16384 -r 1   # also tg N at depths 8192 and 16384 (decode at depth)
# Environment: LLAMA_BIN (folder with llama-bench; default: the path in /tmp/llama-ref.out), SLIM (the slim
# binary; default: build/slim).
# Tests: pp P and tg N from an empty context, plus pp P @ dD for each depth D > 0 in -d (llama-bench's -d), plus
# tg N @ dD for each depth in -T (off by default: each run first fills D tokens, untimed, which takes a while).
set -euo pipefail
cd "$(dirname "$0")/.."

THREADS=2 PROMPT=512 GEN=128 DEPTHS=4096 TG_DEPTHS= REPS=2
while getopts "t:p:n:d:T:r:h" opt; do
  case $opt in
    t) THREADS=$OPTARG ;;
    p) PROMPT=$OPTARG ;;
    n) GEN=$OPTARG ;;
    d) DEPTHS=$OPTARG ;;
    T) TG_DEPTHS=$OPTARG ;;
    r) REPS=$OPTARG ;;
    *) sed -n '2,13p' "$0"; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
MODELS=("$@")
[ ${#MODELS[@]} -gt 0 ] || MODELS=(models/gemma-3-270m-q4_k_m.gguf models/smollm2-135m-instruct-q4_1.gguf)

LLAMA_BIN=${LLAMA_BIN:-$(cat /tmp/llama-ref.out 2>/dev/null || true)}
SLIM=${SLIM:-build/slim}
[ -x "$LLAMA_BIN/llama-bench" ] || { echo "llama-bench not found; set LLAMA_BIN" >&2; exit 1; }
[ -x "$SLIM" ] || { echo "slim binary '$SLIM' not found; set SLIM" >&2; exit 1; }

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# Test groups: the empty-context pp/tg, then pp alone at each non-zero depth (tg at depth is left out: it is
# the depth fill, not the timed part, that makes depth tests slow).
GROUPS_ARGS=("-p $PROMPT -n $GEN -d 0")
IFS=, read -ra DLIST <<< "$DEPTHS"
for d in "${DLIST[@]}"; do
  [ "$d" -gt 0 ] && GROUPS_ARGS+=("-p $PROMPT -n 0 -d $d")
done
if [ -n "$TG_DEPTHS" ]; then
  IFS=, read -ra TLIST <<< "$TG_DEPTHS"
  for d in "${TLIST[@]}"; do GROUPS_ARGS+=("-p 0 -n $GEN -d $d"); done
fi

i=0
for m in "${MODELS[@]}"; do
  for g in "${GROUPS_ARGS[@]}"; do
    i=$((i + 1))
    echo "[$i] $(basename "$m"): $g" >&2
    # shellcheck disable=SC2086
    "$LLAMA_BIN/llama-bench" -m "$m" -t "$THREADS" -r "$REPS" $g -o json 2>/dev/null > "$TMP/llama_$i.json"
    # shellcheck disable=SC2086
    "$SLIM" bench -m "$m" -t "$THREADS" -r "$REPS" $g -o json 2>/dev/null > "$TMP/slim_$i.json"
    echo "$m" > "$TMP/model_$i"
  done
done

# Which machine and which kernels: ratios only mean something with these beside them.
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(nproc) cores; llama.cpp: $LLAMA_BIN"
echo "slim $("$SLIM" --version | grep '^kernels:')"
echo
python3 - "$TMP" "$i" <<'EOF'
import json, os, sys
tmp, n = sys.argv[1], int(sys.argv[2])

def name(r):
    t = f"pp{r['n_prompt']}" if r["n_prompt"] > 0 else f"tg{r['n_gen']}"
    return t + (f" @ d{r['n_depth']}" if r["n_depth"] > 0 else "")

print("| model | test | llama.cpp t/s | slim t/s | slim / llama.cpp |")
print("| --- | --- | ---: | ---: | ---: |")
for i in range(1, n + 1):
    model = os.path.basename(open(f"{tmp}/model_{i}").read().strip())
    llama = {name(r): r for r in json.load(open(f"{tmp}/llama_{i}.json"))}
    slim = {name(r): r for r in json.load(open(f"{tmp}/slim_{i}.json"))}
    for test, l in llama.items():
        s = slim.get(test)
        if s is None:
            print(f"| {model} | {test} | {l['avg_ts']:.1f} ± {l['stddev_ts']:.1f} | (missing) | |")
            continue
        print(f"| {model} | {test} | {l['avg_ts']:.1f} ± {l['stddev_ts']:.1f} | "
              f"{s['avg_ts']:.1f} ± {s['stddev_ts']:.1f} | {s['avg_ts'] / l['avg_ts']:.2f} |")
EOF
