// SentencePiece-style tokenizer ("llama" in GGUF: Llama 2, Gemma) as llama.cpp runs it: spaces become
// U+2581, the text is split into UTF-8 characters, and adjacent symbols are merged greedily by the score
// of the vocabulary piece they form (highest first, leftmost on ties). Symbols that are not pieces fall
// back to <0xXX> byte tokens.
#include <queue>

#include "slim/error.h"
#include "slim/gguf.h"
#include "tokenizer/unicode.h"
#include "tokenizer/vocab.h"

namespace slim::tok {

namespace {

class SpmTokenizer final : public VocabTokenizer {
 public:
  explicit SpmTokenizer(const GgufFile& f) {
    Options opt;
    opt.add_bos = true;
    opt.add_eos = false;
    opt.add_space_prefix = true;  // metadata overrides (Gemma: false)
    opt.clean_spaces = false;
    opt.bos = 1;
    opt.eos = 2;
    opt.unk = 0;
    load(f, Kind::Spm, opt);
    static const char* kHex = "0123456789ABCDEF";
    for (int b = 0; b < 256; ++b) {
      const char name[7] = {'<', '0', 'x', kHex[b >> 4], kHex[b & 15], '>', 0};
      int32_t id = lookup(name);
      if (id < 0) id = lookup(std::string(1, static_cast<char>(b)));
      byte_token_[b] = id;
    }
  }

 protected:
  std::string normal_piece(int32_t id) const override {
    const std::string& t = text_[static_cast<size_t>(id)];
    std::string out;
    out.reserve(t.size());
    for (size_t i = 0; i < t.size();) {
      if (t.compare(i, 3, "\xE2\x96\x81") == 0) {
        out.push_back(' ');
        i += 3;
      } else {
        out.push_back(t[i++]);
      }
    }
    return out;
  }

  void encode_fragment(std::string_view frag, bool after_special, std::vector<int32_t>& out) const override {
    std::string s;
    s.reserve(frag.size() + 8);
    auto put = [&](char c) {
      if (c == ' ') {
        s += "\xE2\x96\x81";
      } else {
        s.push_back(c);
      }
    };
    if (strips_leading_space() && after_special) put(' ');
    for (char c : frag) put(c);

    std::vector<Symbol> sym = utf8_symbols(s);

    struct Bigram {
      int left, right;
      float score;
      uint32_t size;
    };
    // Highest score first; on equal scores the leftmost pair.
    auto worse = [](const Bigram& a, const Bigram& b) { return a.score < b.score || (a.score == b.score && a.left > b.left); };
    std::priority_queue<Bigram, std::vector<Bigram>, decltype(worse)> queue(worse);
    auto try_pair = [&](int l, int r) {
      if (l < 0 || r < 0) return;
      const uint32_t size = sym[l].n + sym[r].n;
      const int32_t id = lookup(std::string_view(s).substr(sym[l].start, size));
      if (id < 0) return;
      queue.push({l, r, score_[static_cast<size_t>(id)], size});
    };
    for (int i = 1; i < static_cast<int>(sym.size()); ++i) try_pair(i - 1, i);

    while (!queue.empty()) {
      const Bigram bg = queue.top();
      queue.pop();
      Symbol& l = sym[bg.left];
      Symbol& r = sym[bg.right];
      // Stale: one side was merged away or has grown since this pair was queued.
      if (l.n == 0 || r.n == 0 || l.n + r.n != bg.size) continue;
      l.n += r.n;
      r.n = 0;
      l.next = r.next;
      if (r.next >= 0) sym[r.next].prev = bg.left;
      try_pair(l.prev, bg.left);
      try_pair(bg.left, l.next);
    }

    // Every merged symbol is a piece by construction; single characters may not be, and go out as bytes.
    for (int i = sym.empty() ? -1 : 0; i != -1; i = sym[i].next) {
      const std::string_view piece = std::string_view(s).substr(sym[i].start, sym[i].n);
      const int32_t id = lookup(piece);
      if (id >= 0) {
        out.push_back(id);
        continue;
      }
      for (char c : piece) {
        const int32_t b = byte_token_[static_cast<uint8_t>(c)];
        if (b < 0) {
          throw Error("tokenizer: no byte-fallback token for byte " + std::to_string(static_cast<uint8_t>(c)));
        }
        out.push_back(b);
      }
    }
  }

 private:
  int32_t byte_token_[256];
};

}  // namespace

std::unique_ptr<Tokenizer> make_spm_tokenizer(const GgufFile& f) { return std::make_unique<SpmTokenizer>(f); }

}  // namespace slim::tok
