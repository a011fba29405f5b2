#!/usr/bin/env bash
# Regenerates the tokenizer reference ids in tests/fixtures/tokenizer/ with llama.cpp's llama-tokenize.
# Run by hand (not in CI) after changing the corpus:
#   LLAMA_BIN=/path/to/llama.cpp/build/bin tools/make_tokenizer_fixtures.sh
#
# Inputs:  tests/fixtures/tokenizer/cases/*.txt   one case per file, exact bytes (the two 90-random-*
#          cases are (re)written here from a fixed seed).
# Outputs: tests/fixtures/tokenizer/<model>.ids   one line per case and mode:
#          <case>\t<bos>\t<parse_special>\t<id> <id> ...
#   bos=1: llama-tokenize without --no-bos, i.e. add_special = the model's add_bos_token;
#          bos=0: --no-bos (add_special = false).  parse_special=0: --no-parse-special.
# llama-tokenize is always given --no-escape so that backslashes in the corpus stay as they are.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${LLAMA_BIN:?set LLAMA_BIN to the folder that holds llama-tokenize}
PY=${PYTHON:-python3}
dir=tests/fixtures/tokenizer

"$PY" - "$dir/cases" <<'EOF'
# Seeded random mixtures of everything the pre-tokenizers distinguish: scripts, digits, whitespace kinds,
# punctuation, emoji sequences, special-token texts, control and unassigned code points, and characters
# new in Unicode 15/15.1 (which a Unicode 14 table would classify differently).
import random, sys, os
out = sys.argv[1]
pools = [
    ["the", "The", "quick", "fox", "jumps", "over", "lazy", "dog", "Hello", "WORLD", "token", "izer", "a", "I", "x"],
    ["0", "7", "42", "123", "2024", "98765", "3.14", "1,000", "٣", "४२", "½", "²", "Ⅻ", "𝟙𝟚"],
    [" ", "  ", "   ", "\t", "\n", "\n\n", "\r\n", "\u00a0", "\u3000", "\u2003", " \n ", "\u0085", "\u2028"],
    [".", ",", "!", "?", "...", "—", "…", "(", ")", "[", "]", "{", "}", "\"", "'", "`", "~", "^", "|", "\\", "/",
     "@", "#", "$", "%", "&", "*", "_", "+", "=", "<", ">", ":", ";", "€", "£", "¥", "©", "®", "°", "±", "×", "÷"],
    ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'RE", "'LL", "n't", "O'Neil", "rock'n'roll"],
    ["café", "naïve", "Zürich", "e\u0301", "n\u0303", "Ærø", "Łódź", "ﬁ", "ß", "İstanbul", "ǅ"],
    ["中文", "测试", "日本語", "カタカナ", "ひらがな", "한국어", "漢字", "\u31ef", "\u2ffc", "\U0002ebf0"],
    ["مرحبا", "العربية", "नमस्ते", "हिन्दी", "שלום", "Привет", "Γειά", "ไทย", "ქართული", "Հայերեն"],
    ["😀", "👍🏽", "❤️", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🇩🇪", "1️⃣", "🫠", "🪿", "\u200d", "\ufe0f"],
    ["<start_of_turn>", "<end_of_turn>", "<bos>", "<eos>", "<unused3>", "<|im_start|>", "<|im_end|>",
     "<|endoftext|>", "<reponame>", "<0x41>", "</s>", "<unk>", "[multimodal]"],
    ["\u0001", "\u007f", "\u0378", "\ue000", "\U000f0000", "\ufffe", "\u00ad", "\u200b", "\u0600"],
]
for seed in (1, 2):
    rng = random.Random(seed)
    parts = []
    for _ in range(900):
        pool = pools[rng.randrange(len(pools))]
        parts.append(rng.choice(pool))
        if rng.random() < 0.4:
            parts.append(" ")
    with open(os.path.join(out, f"90-random-{seed}.txt"), "w", encoding="utf-8", newline="") as f:
        f.write("".join(parts))
EOF

for model in gemma-3-270m-q4_k_m smollm2-135m-instruct-q4_1; do
  gguf=models/$model.gguf
  [ -f "$gguf" ] || { echo "missing $gguf (run tools/setup.sh)" >&2; exit 1; }
  out=$dir/$model.ids
  tmp=$(mktemp)
  for f in "$dir"/cases/*.txt; do
    name=$(basename "$f" .txt)
    for mode in "1 1" "1 0" "0 1"; do
      set -- $mode
      flags=(--ids --log-disable --no-escape)
      [ "$1" = 0 ] && flags+=(--no-bos)
      [ "$2" = 0 ] && flags+=(--no-parse-special)
      ids=$("$BIN/llama-tokenize" -m "$gguf" -f "$f" "${flags[@]}" 2>/dev/null | tail -n 1 | tr -d '[],')
      printf '%s\t%s\t%s\t%s\n' "$name" "$1" "$2" "$ids" >> "$tmp"
    done
  done
  cat "$tmp" > "$out"
  rm -f "$tmp"
  echo "wrote $out ($(wc -l < "$out") lines)" >&2
done
