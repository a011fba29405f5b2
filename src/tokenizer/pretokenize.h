// BPE pre-tokenizers: split text (as code points) into the words that BPE merges run inside.
// Each rule reproduces what llama.cpp does for one of its split regexes — by hand, since std::regex has
// no \p{L}; where llama.cpp itself uses a hand-written splitter (GPT-2, Llama 3, Qwen2 patterns) we follow
// its behaviour exactly, including the places where it differs from a real regex engine.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace slim::tok {

enum class SplitRule {
  // 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)
  Gpt2,
  // (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
  Llama3,
  // as Llama3 but \p{N} (single digits)
  Qwen2,
  // \p{N}: every number character on its own
  IsolateNumbers,
  // \p{N}+
  NumberRuns,
  // [\p{P}\$\+<=>\^~\|]+  (first rule of llama.cpp's "default" BPE pre-tokenizer)
  PunctRuns,
  // [0-9][0-9][0-9]
  AsciiDigitTriples,
};

// Applies the rules in order (each one re-splits the pieces of the previous) and returns the length,
// in code points, of each final piece. Empty input gives no pieces.
std::vector<size_t> pre_split(const std::vector<uint32_t>& cps, const std::vector<SplitRule>& rules);

}  // namespace slim::tok
