// Tokenizer factory, detokenization (decode, StreamDecoder) and the public UTF-8 helpers.
#include "slim/tokenizer.h"

#include "slim/error.h"
#include "slim/gguf.h"
#include "tokenizer/unicode.h"
#include "tokenizer/vocab.h"

namespace slim {

std::unique_ptr<Tokenizer> Tokenizer::from_gguf(const GgufFile& f) {
  if (!f.has("tokenizer.ggml.model")) throw Error("tokenizer: GGUF file has no tokenizer.ggml.model");
  const std::string model = f.get_string("tokenizer.ggml.model");
  if (model == "llama") return tok::make_spm_tokenizer(f);
  if (model == "gpt2") return tok::make_bpe_tokenizer(f, f.get_string("tokenizer.ggml.pre", ""));
  throw Error("tokenizer: unsupported tokenizer model '" + model + "' (supported: llama, gpt2)");
}

namespace {

// llama.cpp's clean_up_tokenization_spaces, pass by pass, in place over the buffer exactly as it does
// (the second pass overwrites a byte it skips, which the next step then sees).
void clean_spaces(std::string& t) {
  int64_t total = static_cast<int64_t>(t.size());
  // " ?" " !" " ." " ,"  ->  drop the space
  {
    const int64_t n = total;
    total = n ? 1 : 0;
    for (int64_t i = 1; i < n; ++i) {
      const char x = t[i];
      if (t[i - 1] == ' ' && (x == '?' || x == '!' || x == '.' || x == ',')) --total;
      t[total++] = x;
    }
  }
  // " ' "  ->  "'"
  {
    const int64_t n = total;
    total = n ? 1 : 0;
    for (int64_t i = 1; i < n; ++i) {
      const char x = t[i];
      if (x == '\'' && i + 1 < n && t[i - 1] == ' ' && t[i + 1] == ' ') {
        --total;
        t[++i] = '\0';
      }
      t[total++] = x;
    }
  }
  // " 's" " 'm" " 're" " 've"  ->  drop the space (" 't", " 'd", " 'll" keep it)
  {
    const int64_t n = total;
    total = n ? 1 : 0;
    for (int64_t i = 1; i < n; ++i) {
      const char x = t[i];
      if (t[i - 1] == ' ' && x == '\'' && i + 1 < n) {
        const char x1 = t[i + 1];
        if (x1 == 's' || x1 == 'm') {
          --total;
        } else if (x1 != 't' && x1 != 'd' && i + 2 < n) {
          const char x2 = t[i + 2];
          if ((x1 == 'r' && x2 == 'e') || (x1 == 'v' && x2 == 'e')) --total;
        }
      }
      t[total++] = x;
    }
  }
  t.resize(static_cast<size_t>(total));
}

// Length of the complete (valid or definitely invalid) prefix: a trailing sequence that could still
// become valid with more bytes is left out. Invalid bytes are replaced by U+FFFD in `out`.
size_t take_complete(std::string_view s, std::string& out) {
  size_t i = 0;
  while (i < s.size()) {
    const size_t bad = uni::find_invalid_utf8(s.substr(i));
    if (bad == std::string_view::npos) {
      out.append(s.substr(i));
      return s.size();
    }
    out.append(s.substr(i, bad));
    i += bad;
    // Is the rest a truncated but so far valid sequence? Then wait for more bytes.
    const auto lead = static_cast<uint8_t>(s[i]);
    size_t need = 0;
    if (lead >= 0xC2 && lead <= 0xDF) need = 2;
    else if (lead >= 0xE0 && lead <= 0xEF) need = 3;
    else if (lead >= 0xF0 && lead <= 0xF4) need = 4;
    const size_t have = s.size() - i;
    if (need > have) {
      bool viable = true;
      for (size_t k = 1; k < have; ++k) {
        const auto c = static_cast<uint8_t>(s[i + k]);
        uint8_t lo = 0x80, hi = 0xBF;
        if (k == 1) {  // second-byte limits that rule out overlongs, surrogates and > U+10FFFF
          if (lead == 0xE0) lo = 0xA0;
          if (lead == 0xED) hi = 0x9F;
          if (lead == 0xF0) lo = 0x90;
          if (lead == 0xF4) hi = 0x8F;
        }
        if (c < lo || c > hi) viable = false;
      }
      if (viable) return i;
    }
    out += "\xEF\xBF\xBD";  // U+FFFD for one bad byte, then resynchronise
    ++i;
  }
  return i;
}

}  // namespace

std::string Tokenizer::decode(const std::vector<int32_t>& ids, bool special) const {
  const auto* vt = dynamic_cast<const tok::VocabTokenizer*>(this);
  bool strip_space = vt && vt->strips_leading_space();
  std::string out;
  for (int32_t id : ids) {
    std::string piece = token_to_piece(id, special);
    // The encoder added a space in front of the text; the first piece gives it back.
    if (strip_space && !piece.empty() && piece[0] == ' ') piece.erase(0, 1);
    strip_space = false;
    out += piece;
  }
  if (vt && vt->cleans_spaces()) clean_spaces(out);
  return out;
}

std::string StreamDecoder::push(int32_t id) {
  pending_ += tok_.token_to_piece(id, special_);
  std::string out;
  const size_t used = take_complete(pending_, out);
  pending_.erase(0, used);
  return out;
}

std::string StreamDecoder::flush() {
  std::string out;
  const size_t used = take_complete(pending_, out);
  if (used < pending_.size()) out += "\xEF\xBF\xBD";  // a character cut short
  pending_.clear();
  return out;
}

size_t utf8_complete_prefix(std::string_view s) {
  const size_t bad = uni::find_invalid_utf8(s);
  return bad == std::string_view::npos ? s.size() : bad;
}

bool utf8_valid(std::string_view s) { return uni::find_invalid_utf8(s) == std::string_view::npos; }

}  // namespace slim
