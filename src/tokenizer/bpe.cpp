// Byte-level BPE ("gpt2" in GGUF: GPT-2, Llama 3, SmolLM, Qwen2): a pre-tokenizer splits the text into
// words, each word's bytes are shown as GPT-2's printable code points, and adjacent symbols are merged by
// merge rank (lowest first, leftmost on ties) within the word.
#include <queue>

#include "slim/error.h"
#include "slim/gguf.h"
#include "tokenizer/pretokenize.h"
#include "tokenizer/unicode.h"
#include "tokenizer/vocab.h"

namespace slim::tok {

namespace {

// What llama.cpp does for a pre-tokenizer name: split rules and the flags it sets with them.
struct PreConfig {
  std::vector<SplitRule> rules;
  bool clean_spaces = true;    // BPE default
  bool ignore_merges = false;  // whole word that is a vocabulary entry -> that token
  bool add_bos = false;        // default before metadata
};

PreConfig pre_config(const std::string& pre) {
  using R = SplitRule;
  PreConfig c;
  auto is = [&](std::initializer_list<const char*> names) {
    for (const char* n : names)
      if (pre == n) return true;
    return false;
  };
  if (pre.empty() || pre == "default") {
    c.rules = {R::PunctRuns, R::Gpt2, R::NumberRuns, R::AsciiDigitTriples};
  } else if (is({"llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2", "jina-v5-nano"})) {
    c.rules = {R::Llama3};
    c.ignore_merges = true;
    c.add_bos = true;
  } else if (is({"dbrx", "smaug-bpe"})) {
    c.rules = {R::Llama3};
  } else if (is({"smollm", "command-r"})) {
    c.rules = {R::IsolateNumbers, R::Gpt2};
    c.clean_spaces = false;
  } else if (is({"starcoder", "refact", "codeshell", "exaone", "minerva-7b", "mellum2"})) {
    c.rules = {R::IsolateNumbers, R::Gpt2};
  } else if (is({"gpt-2", "phi-2", "jina-es", "jina-de", "gigachat", "a.x-4.0", "mellum",
                 "modern-bert", "mpt", "olmo", "jais", "exaone4"})) {
    c.rules = {R::Gpt2};
  } else if (is({"trillion", "granite-docling"})) {
    c.rules = {R::Gpt2};
    c.clean_spaces = false;
  } else if (is({"qwen2", "deepseek-r1-qwen", "kormo", "f2llmv2"})) {
    c.rules = {R::Qwen2};
    c.clean_spaces = false;
  } else if (is({"stablelm2", "megrez"})) {
    c.rules = {R::Qwen2};
  } else {
    throw Error("tokenizer: unsupported BPE pre-tokenizer type '" + pre + "'");
  }
  return c;
}

class BpeTokenizer final : public VocabTokenizer {
 public:
  BpeTokenizer(const GgufFile& f, const std::string& pre) : cfg_(pre_config(pre)) {
    const GgufValue* mv = f.find("tokenizer.ggml.merges");
    if (!mv) throw Error("tokenizer: BPE model without tokenizer.ggml.merges");
    if (!mv->is_array() || mv->elem_type != GgufType::STRING) throw Error("tokenizer: tokenizer.ggml.merges must be a string array");
    // Each merge is "left right", split at the first space after the first byte. Symbols never contain a
    // space (byte-level text shows it as U+0120), so the line itself is a unique key for the pair; a line
    // without such a space can never match (llama.cpp files it under an empty pair).
    merges_ = mv->strs;
    for (std::string& m : merges_) {
      if (m.find(' ', 1) == std::string::npos) m = " ";
    }
    ranks_.build(merges_, /*keep_last=*/false);  // first rank of a repeated pair wins
    Options opt;
    opt.add_bos = cfg_.add_bos;
    opt.add_eos = false;
    opt.add_space_prefix = false;
    opt.clean_spaces = cfg_.clean_spaces;
    opt.bos = 11;
    opt.eos = 11;
    opt.unk = -1;
    load(f, Kind::Bpe, opt);
  }

 protected:
  std::string normal_piece(int32_t id) const override {
    const std::string& t = text_[static_cast<size_t>(id)];
    std::string out;
    for (uint32_t cp : uni::decode_utf8(t)) {
      const int b = uni::cp_to_byte(cp);
      if (b >= 0) {
        out.push_back(static_cast<char>(b));
      } else {
        // Not a byte image: llama.cpp writes a marker with the code point's bytes and the whole token.
        std::string utf8;
        uni::append_utf8(utf8, cp);
        out += "[UNK_BYTE_0x";
        static const char* kHex = "0123456789abcdef";
        for (unsigned char c : utf8) {
          out.push_back(kHex[c >> 4]);
          out.push_back(kHex[c & 15]);
        }
        out += t + "]";
      }
    }
    return out;
  }

  void encode_fragment(std::string_view frag, bool /*after_special*/, std::vector<int32_t>& out) const override {
    const std::vector<uint32_t> cps = uni::decode_utf8(frag);
    const std::vector<size_t> pieces = pre_split(cps, cfg_.rules);
    std::string word, utf8, key;
    size_t at = 0;
    for (size_t len : pieces) {
      word.clear();
      for (size_t i = at; i < at + len; ++i) {
        utf8.clear();
        uni::append_utf8(utf8, cps[i]);
        for (unsigned char b : utf8) uni::append_utf8(word, uni::byte_to_cp(b));
      }
      at += len;
      encode_word(word, key, out);
    }
  }

 private:
  int32_t rank(std::string_view left, std::string_view right, std::string& key) const {
    key.assign(left);
    key.push_back(' ');
    key.append(right);
    return ranks_.find(key, merges_);
  }

  void encode_word(const std::string& w, std::string& key, std::vector<int32_t>& out) const {
    if (cfg_.ignore_merges) {
      const int32_t id = lookup(w);
      if (id >= 0) {
        out.push_back(id);
        return;
      }
    }
    std::vector<Symbol> sym = utf8_symbols(w);
    struct Bigram {
      int left, right;
      int32_t rank;
      uint32_t size;
    };
    // Lowest rank first; on equal ranks the leftmost pair.
    auto worse = [](const Bigram& a, const Bigram& b) { return a.rank > b.rank || (a.rank == b.rank && a.left > b.left); };
    std::priority_queue<Bigram, std::vector<Bigram>, decltype(worse)> queue(worse);
    const std::string_view ws(w);
    auto try_pair = [&](int l, int r) {
      if (l < 0 || r < 0) return;
      const int32_t rk = rank(ws.substr(sym[l].start, sym[l].n), ws.substr(sym[r].start, sym[r].n), key);
      if (rk < 0) return;
      queue.push({l, r, rk, sym[l].n + sym[r].n});
    };
    for (int i = 1; i < static_cast<int>(sym.size()); ++i) try_pair(i - 1, i);
    while (!queue.empty()) {
      const Bigram bg = queue.top();
      queue.pop();
      Symbol& l = sym[bg.left];
      Symbol& r = sym[bg.right];
      if (l.n == 0 || r.n == 0 || l.n + r.n != bg.size) continue;  // stale pair
      l.n += r.n;
      r.n = 0;
      l.next = r.next;
      if (r.next >= 0) sym[r.next].prev = bg.left;
      try_pair(l.prev, bg.left);
      try_pair(bg.left, l.next);
    }
    for (int i = sym.empty() ? -1 : 0; i != -1; i = sym[i].next) {
      const std::string_view piece = ws.substr(sym[i].start, sym[i].n);
      const int32_t id = lookup(piece);
      if (id >= 0) {
        out.push_back(id);
        continue;
      }
      // Not a token: llama.cpp looks up each raw byte of the symbol and drops the ones it cannot find.
      for (char c : piece) {
        const int32_t b = lookup(std::string_view(&c, 1));
        if (b >= 0) out.push_back(b);
      }
    }
  }

  PreConfig cfg_;
  std::vector<std::string> merges_;
  StringIndex ranks_;
};

}  // namespace

std::unique_ptr<Tokenizer> make_bpe_tokenizer(const GgufFile& f, const std::string& pre) {
  return std::make_unique<BpeTokenizer>(f, pre);
}

}  // namespace slim::tok
