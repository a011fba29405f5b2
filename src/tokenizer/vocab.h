// Shared machinery of the GGUF tokenizers: the vocabulary (texts, scores, attributes), special-token
// discovery and the special-token partition, the token->piece table, and the tokenize() driver that calls
// the model-specific encoder (SPM or BPE) on each plain-text fragment. Semantics follow llama.cpp's
// llama_vocab (load, tokenizer_st_partition, tokenize, token_to_piece, detokenize).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "slim/tokenizer.h"

namespace slim {
class GgufFile;
}

namespace slim::tok {

// Token attribute bits (a token can have several: llama.cpp ORs CONTROL into "control-looking" tokens).
enum Attr : uint32_t {
  kAttrUnknown = 1u << 0,
  kAttrUnused = 1u << 1,
  kAttrNormal = 1u << 2,
  kAttrControl = 1u << 3,
  kAttrUserDefined = 1u << 4,
  kAttrByte = 1u << 5,
  kAttrLstrip = 1u << 7,  // drop whitespace before the token when it is split out of text
  kAttrRstrip = 1u << 8,  // ... and after it
};

// Exact-text lookup into a vector of strings (open addressing, linear probing). Compact and cache-friendly:
// building it for a 262k-entry vocabulary and the many lookups while loading stay cheap.
class StringIndex {
 public:
  // Indexes keys; for a repeated key find() returns the last index (keep_last) or the first. If shadowed
  // is given it is set to 1 for the indices find() will never return.
  void build(const std::vector<std::string>& keys, bool keep_last, std::vector<uint8_t>* shadowed = nullptr);
  // Index of s in the keys given to build() (pass the same vector), or -1.
  int32_t find(std::string_view s, const std::vector<std::string>& keys) const;

 private:
  std::vector<uint64_t> slots_;  // (hash tag << 32) | (index + 1); 0 = empty
  uint64_t mask_ = 0;
};

// Byte-wise trie over the texts of special tokens, for the partition step.
class SpecialTrie {
 public:
  void build(const std::vector<std::string>& texts, const std::vector<int32_t>& ids);
  // Calls fn(id, length) for every special token whose text starts at s[pos].
  template <typename Fn>
  void matches_at(std::string_view s, size_t pos, Fn&& fn) const;
  bool empty() const { return nodes_.size() <= 1; }

 private:
  struct Node {
    uint32_t first_edge = 0, n_edges = 0;
    int32_t token = -1;
  };
  std::vector<Node> nodes_;
  uint32_t root_next_[256];  // direct table for the first byte (the root has many children)
  std::vector<uint8_t> edge_byte_;
  std::vector<uint32_t> edge_node_;
};

class VocabTokenizer : public Tokenizer {
 public:
  std::vector<int32_t> encode(std::string_view text, bool add_special, bool parse_special) const override;
  std::string token_to_piece(int32_t id, bool special) const override;
  int32_t n_vocab() const override { return static_cast<int32_t>(text_.size()); }
  int32_t bos() const override { return bos_; }
  int32_t eos() const override { return eos_; }
  bool add_bos() const override { return add_bos_; }
  bool is_eog(int32_t id) const override;
  const std::string& token_text(int32_t id) const override;
  TokenType token_type(int32_t id) const override;
  int32_t find_token(std::string_view text) const override;

  // Detokenizer details (llama.cpp detokenize): the first piece loses one leading space when the encoder
  // adds one; byte-level BPE vocabularies of some pre-tokenizer types clean spaces before punctuation.
  bool strips_leading_space() const { return add_space_prefix_; }
  bool cleans_spaces() const { return clean_spaces_; }
  int32_t eot() const { return eot_; }
  uint32_t attr(int32_t id) const { return attr_[static_cast<size_t>(id)]; }

  // Pieces of text split around special tokens; token >= 0 marks a special-token fragment.
  struct Fragment {
    size_t off = 0, len = 0;
    int32_t token = -1;
  };
  std::vector<Fragment> partition(std::string_view text, bool parse_special) const;

 protected:
  enum class Kind { Spm, Bpe };
  struct Options {  // per-kind defaults that the metadata may override
    bool add_bos = false, add_eos = false, add_space_prefix = false, clean_spaces = false;
    int32_t bos = -1, eos = -1, unk = -1;
  };
  // Reads the vocabulary and special-token metadata; called by the subclasses' constructors.
  void load(const GgufFile& f, Kind kind, Options opt);
  // Text of one plain fragment -> ids. after_special: first fragment or right after a special token.
  virtual void encode_fragment(std::string_view text, bool after_special, std::vector<int32_t>& out) const = 0;
  // The piece of a NORMAL token (bytes it stands for).
  virtual std::string normal_piece(int32_t id) const = 0;

  int32_t lookup(std::string_view text) const {
    return to_id_.find(text, text_);
  }
  uint8_t byte_of_token(int32_t id) const;  // "<0xAB>" -> 0xAB

  std::vector<std::string> text_;
  std::vector<float> score_;
  std::vector<uint32_t> attr_;
  StringIndex to_id_;
  std::vector<uint8_t> shadowed_;  // ids whose text repeats later in the vocabulary

 private:
  void detect_special_tokens(const GgufFile& f);
  void build_caches();

  Kind kind_ = Kind::Spm;
  int32_t bos_ = -1, eos_ = -1, eot_ = -1, eom_ = -1, unk_ = -1, pad_ = -1;
  bool add_bos_ = false, add_eos_ = false, add_space_prefix_ = false, clean_spaces_ = false;
  std::vector<uint8_t> eog_;
  std::vector<std::string> piece_;          // token_to_piece(id, special=true)
  std::vector<int32_t> special_order_;      // special tokens, longest text first (llama.cpp's order)
  std::vector<uint32_t> special_rank_;      // id -> position in special_order_ (or UINT32_MAX)
  SpecialTrie special_trie_;
};

// Factories (spm.cpp, bpe.cpp).
// One UTF-8 character of a word being merged (SPM and BPE both merge over a linked list of these).
struct Symbol {
  int prev, next;       // neighbours in the list, -1 at the ends
  uint32_t start, n;    // byte range in the word
};
// The word split into characters (an incomplete trailing sequence becomes its own short symbol).
std::vector<Symbol> utf8_symbols(std::string_view word);

std::unique_ptr<Tokenizer> make_spm_tokenizer(const GgufFile& f);
std::unique_ptr<Tokenizer> make_bpe_tokenizer(const GgufFile& f, const std::string& pre);

template <typename Fn>
void SpecialTrie::matches_at(std::string_view s, size_t pos, Fn&& fn) const {
  if (nodes_.size() <= 1 || pos >= s.size()) return;
  uint32_t node = root_next_[static_cast<uint8_t>(s[pos])];
  if (node == UINT32_MAX) return;
  if (nodes_[node].token >= 0) fn(nodes_[node].token, size_t{1});
  for (size_t i = pos + 1; i < s.size(); ++i) {
    const Node& nd = nodes_[node];
    const uint8_t c = static_cast<uint8_t>(s[i]);
    // Children are sorted by byte; most nodes have one or two, so a linear scan is fine.
    uint32_t next = UINT32_MAX;
    for (uint32_t e = nd.first_edge; e < nd.first_edge + nd.n_edges; ++e) {
      if (edge_byte_[e] == c) {
        next = edge_node_[e];
        break;
      }
      if (edge_byte_[e] > c) break;
    }
    if (next == UINT32_MAX) return;
    node = next;
    if (nodes_[node].token >= 0) fn(nodes_[node].token, i + 1 - pos);
  }
}

}  // namespace slim::tok
