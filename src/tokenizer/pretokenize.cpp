#include "tokenizer/pretokenize.h"

#include "tokenizer/unicode.h"

namespace slim::tok {

namespace {

using uni::CpFlags;

// A view of one piece [b, e) of the code point array. Lookups past the end yield "no code point" (0 flags),
// which is how the splitters see the piece boundary: a piece is split independently of its neighbours.
class Piece {
 public:
  static constexpr uint32_t kNone = 0xFFFFFFFFu;
  Piece(const uint32_t* cps, size_t b, size_t e, std::vector<size_t>& out) : cps_(cps), e_(e), last_(b), out_(out) {}
  uint32_t cp(size_t i) const { return i < e_ ? cps_[i] : kNone; }
  CpFlags fl(size_t i) const { return i < e_ ? uni::flags(cps_[i]) : CpFlags{}; }
  size_t end() const { return e_; }
  // Closes the current output piece at `at` (nothing if empty).
  void emit(size_t at) {
    if (at > last_) out_.push_back(at - last_);
    last_ = at;
  }

 private:
  const uint32_t* cps_;
  size_t e_;
  size_t last_;
  std::vector<size_t>& out_;
};

bool is_rn(uint32_t c) { return c == '\r' || c == '\n'; }
uint32_t ascii_lower(uint32_t c) { return (c >= 'A' && c <= 'Z') ? c + 32 : c; }

// Contractions 's 't 'm 'd 're 've 'll at pos; returns their length in code points, or 0.
size_t contraction(const Piece& p, size_t pos, bool fold_case) {
  if (p.cp(pos) != '\'' || pos + 1 >= p.end()) return 0;
  auto low = [&](uint32_t c) { return fold_case ? ascii_lower(c) : c; };
  const uint32_t a = low(p.cp(pos + 1));
  if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
  if (pos + 2 >= p.end()) return 0;
  const uint32_t b = low(p.cp(pos + 2));
  if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
  return 0;
}

bool other_class(CpFlags f) { return !f.none() && !f.space() && !f.letter() && !f.number(); }

void split_gpt2(Piece& p, size_t pos) {
  const size_t e = p.end();
  while (pos < e) {
    if (size_t n = contraction(p, pos, false)) {
      pos += n;
      p.emit(pos);
      continue;
    }
    const uint32_t c = p.cp(pos);
    // An optional leading space joins a following letter / number / symbol run.
    const size_t q = pos + (c == ' ' ? 1 : 0);
    const CpFlags fq = p.fl(q);
    if (fq.letter() || fq.number() || other_class(fq)) {
      size_t k = q;
      if (fq.letter()) {
        while (p.fl(k).letter()) ++k;
      } else if (fq.number()) {
        while (p.fl(k).number()) ++k;
      } else {
        while (other_class(p.fl(k))) ++k;
      }
      pos = k;
      p.emit(pos);
      continue;
    }
    size_t n_ws = 0;
    while (p.fl(pos + n_ws).space()) ++n_ws;
    if (n_ws > 1 && pos + n_ws < e) {
      pos += n_ws - 1;  // \s+(?!\S): leave the last space to prefix the next word
    } else if (n_ws > 0) {
      pos += n_ws;
    } else {
      pos += 1;
    }
    p.emit(pos);
  }
}

// Llama 3 and Qwen2 share everything but the digit-group length (3 vs 1).
void split_llama3_like(Piece& p, size_t pos, size_t max_digits) {
  const size_t e = p.end();
  while (pos < e) {
    if (size_t n = contraction(p, pos, true)) {
      pos += n;
      p.emit(pos);
      continue;
    }
    const uint32_t c = p.cp(pos);
    const CpFlags f = p.fl(pos);
    // [^\r\n\p{L}\p{N}]?\p{L}+
    if (!is_rn(c) && !f.number() && (f.letter() || p.fl(pos + 1).letter())) {
      ++pos;
      while (p.fl(pos).letter()) ++pos;
      p.emit(pos);
      continue;
    }
    // \p{N}{1,max}
    if (f.number()) {
      size_t run = 0;
      while (p.fl(pos).number()) {
        ++pos;
        if (++run == max_digits) {
          p.emit(pos);
          run = 0;
        }
      }
      p.emit(pos);
      continue;
    }
    // ' ?[^\s\p{L}\p{N}]+[\r\n]*'. llama.cpp tests the character after an optional space but, for the
    // "something is there" part, the first character itself: a lone trailing space lands here too.
    const CpFlags f2 = c == ' ' ? p.fl(pos + 1) : f;
    if (!f2.space() && !f2.letter() && !f2.number() && !f.none()) {
      if (c == ' ') ++pos;
      while (other_class(p.fl(pos))) ++pos;
      while (is_rn(p.cp(pos))) ++pos;
      p.emit(pos);
      continue;
    }
    // \s*[\r\n]+ | \s+(?!\S) | \s+
    size_t n_ws = 0, after_last_rn = 0;
    while (p.fl(pos + n_ws).space()) {
      if (is_rn(p.cp(pos + n_ws))) after_last_rn = pos + n_ws + 1;
      ++n_ws;
    }
    if (after_last_rn > 0) {
      pos = after_last_rn;
    } else if (n_ws > 1 && pos + n_ws < e) {
      pos += n_ws - 1;
    } else if (n_ws > 0) {
      pos += n_ws;
    } else {
      pos += 1;
    }
    p.emit(pos);
  }
}

// llama.cpp runs the remaining rules through std::regex over a "collapsed" text in which each non-ASCII
// code point is replaced by a stand-in byte for its class (whitespace first, then number, letter,
// punctuation, mark, symbol; everything else a neutral byte). These predicates say what the rules'
// character classes match under that scheme.
bool collapsed_number(uint32_t c) {
  if (c < 128) return c >= '0' && c <= '9';
  const CpFlags f = uni::flags(c);
  return !f.space() && f.cat() == uni::kNumber;
}

bool default_punct(uint32_t c) {
  if (c < 128) {
    switch (c) {
      case '!': case '"': case '#': case '%': case '&': case '\'': case '(': case ')': case '*': case ',':
      case '-': case '.': case '/': case ':': case ';': case '?': case '@': case '[': case '\\': case ']':
      case '_': case '{': case '}':  // \p{P} restricted to ASCII, as llama.cpp spells it
      case '$': case '+': case '<': case '=': case '>': case '^': case '~': case '|':
        return true;
      default:
        return false;
    }
  }
  const CpFlags f = uni::flags(c);
  return !f.space() && f.cat() == uni::kPunctuation;
}

bool ascii_digit(uint32_t c) { return c >= '0' && c <= '9'; }

// Splits at every leftmost, non-overlapping match; matches and the gaps between them become pieces.
template <typename MatchLen>
void isolate_matches(size_t b, size_t e, std::vector<size_t>& out, MatchLen match_len) {
  size_t gap_start = b, pos = b;
  while (pos < e) {
    const size_t n = match_len(pos);
    if (n == 0) {
      ++pos;
      continue;
    }
    if (pos > gap_start) out.push_back(pos - gap_start);
    out.push_back(n);
    pos += n;
    gap_start = pos;
  }
  if (e > gap_start) out.push_back(e - gap_start);
}

void apply_rule(SplitRule rule, const uint32_t* cps, size_t b, size_t e, std::vector<size_t>& out) {
  switch (rule) {
    case SplitRule::Gpt2: {
      Piece p(cps, b, e, out);
      split_gpt2(p, b);
      return;
    }
    case SplitRule::Llama3: {
      Piece p(cps, b, e, out);
      split_llama3_like(p, b, 3);
      return;
    }
    case SplitRule::Qwen2: {
      Piece p(cps, b, e, out);
      split_llama3_like(p, b, 1);
      return;
    }
    case SplitRule::IsolateNumbers:
      isolate_matches(b, e, out, [&](size_t i) -> size_t { return collapsed_number(cps[i]) ? 1 : 0; });
      return;
    case SplitRule::NumberRuns:
      isolate_matches(b, e, out, [&](size_t i) -> size_t {
        size_t k = i;
        while (k < e && collapsed_number(cps[k])) ++k;
        return k - i;
      });
      return;
    case SplitRule::PunctRuns:
      isolate_matches(b, e, out, [&](size_t i) -> size_t {
        size_t k = i;
        while (k < e && default_punct(cps[k])) ++k;
        return k - i;
      });
      return;
    case SplitRule::AsciiDigitTriples:
      isolate_matches(b, e, out, [&](size_t i) -> size_t {
        return (i + 3 <= e && ascii_digit(cps[i]) && ascii_digit(cps[i + 1]) && ascii_digit(cps[i + 2])) ? 3 : 0;
      });
      return;
  }
}

}  // namespace

std::vector<size_t> pre_split(const std::vector<uint32_t>& cps, const std::vector<SplitRule>& rules) {
  std::vector<size_t> pieces;
  if (cps.empty()) return pieces;
  pieces.push_back(cps.size());
  std::vector<size_t> next;
  for (SplitRule rule : rules) {
    next.clear();
    next.reserve(pieces.size() + cps.size() / 4);
    size_t b = 0;
    for (size_t len : pieces) {
      apply_rule(rule, cps.data(), b, b + len, next);
      b += len;
    }
    pieces.swap(next);
  }
  return pieces;
}

}  // namespace slim::tok
