#include "tokenizer/vocab.h"

#include <algorithm>
#include <cctype>
#include <climits>
#include <map>

#include "slim/error.h"
#include "slim/gguf.h"
#include "tokenizer/unicode.h"

namespace slim::tok {

namespace {

constexpr uint32_t kNoRank = UINT32_MAX;

// GGUF token_type values (llama.cpp's llama_token_type).
uint32_t attr_from_type(int64_t t) {
  switch (t) {
    case 1: return kAttrNormal;
    case 2: return kAttrUnknown;
    case 3: return kAttrControl;
    case 4: return kAttrUserDefined;
    case 5: return kAttrUnused;
    case 6: return kAttrByte;
    default: return 0;  // undefined
  }
}

bool one_of(std::string_view s, std::initializer_list<std::string_view> list) {
  return std::find(list.begin(), list.end(), s) != list.end();
}

std::string lower_ascii(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------
// StringIndex

void StringIndex::build(const std::vector<std::string>& keys, bool keep_last, std::vector<uint8_t>* shadowed) {
  size_t cap = 16;
  while (cap < keys.size() * 2) cap *= 2;
  slots_.assign(cap, 0);
  mask_ = cap - 1;
  if (shadowed) shadowed->assign(keys.size(), 0);
  for (size_t i = 0; i < keys.size(); ++i) {
    const uint64_t h = std::hash<std::string_view>{}(keys[i]);
    const uint64_t tag = h >> 32;
    for (uint64_t s = h & mask_;; s = (s + 1) & mask_) {
      const uint64_t v = slots_[s];
      if (v == 0) {
        slots_[s] = (tag << 32) | (i + 1);
        break;
      }
      const size_t j = (v & 0xFFFFFFFFu) - 1;
      if ((v >> 32) == tag && keys[j] == keys[i]) {
        if (keep_last) {
          slots_[s] = (tag << 32) | (i + 1);
          if (shadowed) (*shadowed)[j] = 1;
        } else if (shadowed) {
          (*shadowed)[i] = 1;
        }
        break;
      }
    }
  }
}

int32_t StringIndex::find(std::string_view s, const std::vector<std::string>& keys) const {
  if (slots_.empty()) return -1;
  const uint64_t h = std::hash<std::string_view>{}(s);
  const uint64_t tag = h >> 32;
  for (uint64_t k = h & mask_;; k = (k + 1) & mask_) {
    const uint64_t v = slots_[k];
    if (v == 0) return -1;
    const size_t j = (v & 0xFFFFFFFFu) - 1;
    if ((v >> 32) == tag && keys[j] == s) return static_cast<int32_t>(j);
  }
}

// ---------------------------------------------------------------------------------------------------------
// SpecialTrie

void SpecialTrie::build(const std::vector<std::string>& texts, const std::vector<int32_t>& ids) {
  std::vector<std::map<uint8_t, uint32_t>> kids(1);
  std::vector<int32_t> token(1, -1);
  for (int32_t id : ids) {
    const std::string& t = texts[static_cast<size_t>(id)];
    uint32_t node = 0;
    for (char ch : t) {
      const uint8_t c = static_cast<uint8_t>(ch);
      auto it = kids[node].find(c);
      if (it == kids[node].end()) {
        const auto fresh = static_cast<uint32_t>(kids.size());
        kids[node].emplace(c, fresh);
        kids.emplace_back();
        token.push_back(-1);
        node = fresh;
      } else {
        node = it->second;
      }
    }
    // Two specials with the same text: the one earlier in the processing order wins, as in llama.cpp
    // (the later one then never finds unclaimed text).
    if (token[node] < 0) token[node] = id;
  }
  nodes_.assign(kids.size(), Node{});
  edge_byte_.clear();
  edge_node_.clear();
  for (size_t n = 0; n < kids.size(); ++n) {
    nodes_[n].token = token[n];
    nodes_[n].first_edge = static_cast<uint32_t>(edge_byte_.size());
    nodes_[n].n_edges = static_cast<uint32_t>(kids[n].size());
    for (const auto& [c, child] : kids[n]) {
      edge_byte_.push_back(c);
      edge_node_.push_back(child);
    }
  }
  std::fill(std::begin(root_next_), std::end(root_next_), UINT32_MAX);
  for (const auto& [c, child] : kids[0]) root_next_[c] = child;
}

// ---------------------------------------------------------------------------------------------------------
// Loading

void VocabTokenizer::load(const GgufFile& f, Kind kind, Options opt) {
  kind_ = kind;
  add_space_prefix_ = f.get_bool("tokenizer.ggml.add_space_prefix", opt.add_space_prefix);
  clean_spaces_ = opt.clean_spaces;

  const std::vector<std::string>& tokens = f.get_string_array("tokenizer.ggml.tokens");
  const size_t n = tokens.size();
  if (n == 0) throw Error("tokenizer: tokenizer.ggml.tokens is empty");
  if (n > static_cast<size_t>(INT32_MAX)) throw Error("tokenizer: vocabulary too large");

  score_.assign(n, 0.0f);
  if (const GgufValue* v = f.find("tokenizer.ggml.scores")) {
    if (!v->is_array()) throw Error("tokenizer: tokenizer.ggml.scores is not an array");
    if (v->elem_type == GgufType::F32 || v->elem_type == GgufType::F64) {
      if (v->floats.size() < n) throw Error("tokenizer: fewer scores than tokens");
      for (size_t i = 0; i < n; ++i) score_[i] = static_cast<float>(v->floats[i]);
    } else if (v->elem_type == GgufType::I32) {
      if (v->ints.size() < n) throw Error("tokenizer: fewer scores than tokens");
      for (size_t i = 0; i < n; ++i) score_[i] = static_cast<float>(v->ints[i]);
    } else {
      throw Error("tokenizer: tokenizer.ggml.scores has an unsupported element type");
    }
  }

  attr_.assign(n, kAttrNormal);
  if (const GgufValue* v = f.find("tokenizer.ggml.token_type")) {
    if (!v->is_array() || v->elem_type != GgufType::I32) throw Error("tokenizer: tokenizer.ggml.token_type must be an i32 array");
    if (v->ints.size() < n) throw Error("tokenizer: fewer token types than tokens");
    for (size_t i = 0; i < n; ++i) attr_[i] = attr_from_type(v->ints[i]);
  }

  text_.resize(n);
  for (size_t i = 0; i < n; ++i) {
    // llama.cpp renames empty entries so that every token has a distinct, non-empty text.
    text_[i] = tokens[i].empty() ? "[EMPTY_" + std::to_string(i) + "]" : tokens[i];
  }
  to_id_.build(text_, /*keep_last=*/true, &shadowed_);  // a repeated text maps to its last id, as in llama.cpp

  // Special ids: kind defaults (dropped when outside the vocabulary), then metadata when in range.
  auto in_range = [&](int64_t id) { return id >= 0 && static_cast<size_t>(id) < n; };
  auto special_id = [&](const char* key, int32_t def) -> int32_t {
    int32_t id = in_range(def) ? def : -1;
    if (f.has(key)) {
      const int64_t v = f.get_int(key);
      if (in_range(v)) id = static_cast<int32_t>(v);
    }
    return id;
  };
  bos_ = special_id("tokenizer.ggml.bos_token_id", opt.bos);
  eos_ = special_id("tokenizer.ggml.eos_token_id", opt.eos);
  eot_ = special_id("tokenizer.ggml.eot_token_id", -1);
  eom_ = special_id("tokenizer.ggml.eom_token_id", -1);
  unk_ = special_id("tokenizer.ggml.unknown_token_id", opt.unk);
  pad_ = special_id("tokenizer.ggml.padding_token_id", -1);
  add_bos_ = f.get_bool("tokenizer.ggml.add_bos_token", opt.add_bos);
  add_eos_ = f.get_bool("tokenizer.ggml.add_eos_token", opt.add_eos);

  detect_special_tokens(f);
  build_caches();

  // Per-model strip attributes llama.cpp sets after building its caches (they only affect the partition).
  const std::string name = lower_ascii(f.get_string("general.name", ""));
  auto set_attr = [&](std::string_view text, uint32_t bit, bool on) {
    const int32_t id = lookup(text);
    if (id < 0) return;
    attr_[static_cast<size_t>(id)] = on ? (attr_[static_cast<size_t>(id)] | bit) : (attr_[static_cast<size_t>(id)] & ~bit);
  };
  if (name.find("phi-3") != std::string::npos || name.find("phi3") != std::string::npos) {
    for (int32_t id : special_order_) attr_[static_cast<size_t>(id)] |= kAttrRstrip;
    set_attr("</s>", kAttrRstrip, true);
    for (std::string_view t : {"<unk>", "<s>", "<|endoftext|>"}) set_attr(t, kAttrRstrip, false);
  } else if (name.find("modern-bert") != std::string::npos) {
    set_attr("[MASK]", kAttrLstrip, true);
  }
}

void VocabTokenizer::detect_special_tokens(const GgufFile& f) {
  const size_t n = text_.size();
  // Visit each distinct text once, with the id it maps to (llama.cpp walks its text->id map; we go in id
  // order, which only matters if a vocabulary has several candidates for the same role).
  auto each_text = [&](auto&& fn) {
    for (size_t i = 0; i < n; ++i) {
      if (!shadowed_[i]) fn(static_cast<int32_t>(i), std::string_view(text_[i]));
    }
  };
  auto mark_control = [&](int32_t id) { attr_[static_cast<size_t>(id)] |= kAttrControl; };

  int32_t fim_pad = -1, fim_rep = -1, fim_sep = -1, fim_pre = -1, fim_suf = -1, fim_mid = -1;
  auto meta_id = [&](const char* key) -> int32_t {
    if (!f.has(key)) return -1;
    const int64_t v = f.get_int(key);
    return (v >= 0 && static_cast<size_t>(v) < n) ? static_cast<int32_t>(v) : -1;
  };
  fim_pre = meta_id("tokenizer.ggml.fim_pre_token_id");
  fim_suf = meta_id("tokenizer.ggml.fim_suf_token_id");
  fim_mid = meta_id("tokenizer.ggml.fim_mid_token_id");
  fim_pad = meta_id("tokenizer.ggml.fim_pad_token_id");
  fim_rep = meta_id("tokenizer.ggml.fim_rep_token_id");
  fim_sep = meta_id("tokenizer.ggml.fim_sep_token_id");
  if (fim_pre < 0) fim_pre = meta_id("tokenizer.ggml.prefix_token_id");
  if (fim_suf < 0) fim_suf = meta_id("tokenizer.ggml.suffix_token_id");
  if (fim_mid < 0) fim_mid = meta_id("tokenizer.ggml.middle_token_id");

  // Roles found by text when the metadata does not name them; a found token is forced to CONTROL.
  auto find_role = [&](int32_t& role, int32_t id, std::string_view t, std::initializer_list<std::string_view> names) {
    if (role < 0 && one_of(t, names)) {
      role = id;
      mark_control(id);
    }
  };
  each_text([&](int32_t id, std::string_view t) {
    find_role(eot_, id, t, {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>",
                            "<EOT>", "_<EOT>", "[EOT]", "<｜end▁of▁sentence｜>", "<end_of_utterance>"});
    find_role(eom_, id, t, {"<|eom_id|>"});
    find_role(fim_pre, id, t, {"<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<｜fim▁begin｜>", "<PRE>", "▁<PRE>",
                               "<|code_prefix|>", "<|prefix|>"});
    find_role(fim_suf, id, t, {"<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<｜fim▁hole｜>", "<SUF>", "▁<SUF>",
                               "<|code_suffix|>", "<|suffix|>"});
    find_role(fim_mid, id, t, {"<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<｜fim▁end｜>", "<MID>", "▁<MID>",
                               "<|code_middle|>", "<|middle|>"});
    find_role(fim_pad, id, t, {"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"});
    find_role(fim_rep, id, t, {"<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"});
    find_role(fim_sep, id, t, {"<|file_sep|>"});
  });

  // Control tokens named "...unused..." are unused slots.
  each_text([&](int32_t id, std::string_view t) {
    uint32_t& a = attr_[static_cast<size_t>(id)];
    if ((a & kAttrControl) && t.find("unused") != std::string_view::npos) a |= kAttrUnused;
  });

  // End-of-generation set: FIM pad/repo/separator, tokens known by text, and EOS/EOT/EOM.
  eog_.assign(n, 0);
  for (int32_t id : {fim_pad, fim_rep, fim_sep})
    if (id >= 0) eog_[static_cast<size_t>(id)] = 1;
  each_text([&](int32_t id, std::string_view t) {
    if (one_of(t, {"<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>",
                   "<end_of_turn>", "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]",
                   "<|end_of_text|>", "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>",
                   "<｜end▁of▁sentence｜>", "[e~["})) {
      eog_[static_cast<size_t>(id)] = 1;
      mark_control(id);
    }
  });
  // gpt-oss: these structural tokens are always rendered.
  each_text([&](int32_t id, std::string_view t) {
    if (one_of(t, {"<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"})) attr_[static_cast<size_t>(id)] = kAttrUserDefined;
  });
  for (int32_t id : {eos_, eot_, eom_})
    if (id >= 0) eog_[static_cast<size_t>(id)] = 1;

  // Harmony / solar-open: "<|end|>" ends a message, not the generation, when "<|return|>"+"<|call|>" or
  // "<|calls|>"+"<|flush|>" exist. Gemma 4 / PLaMo: "</s>" is a normal token when their markers exist.
  bool has_return = false, has_call = false, has_flush = false, has_s_marker = false;
  int32_t end_id = -1, s_id = -1;
  for (size_t i = 0; i < n; ++i) {
    if (!eog_[i]) continue;
    const std::string& t = text_[i];
    if (t == "<|return|>") has_return = true;
    else if (t == "<|call|>" || t == "<|calls|>") has_call = true;
    else if (t == "<|flush|>") has_flush = true;
    else if (t == "<|end|>") end_id = static_cast<int32_t>(i);
    if (t == "<|tool_response>" || t == "<|plamo:eos|>") has_s_marker = true;
    else if (t == "</s>") s_id = static_cast<int32_t>(i);
  }
  if (end_id >= 0 && ((has_return && has_call) || (has_call && has_flush))) {
    eog_[static_cast<size_t>(end_id)] = 0;
    attr_[static_cast<size_t>(end_id)] = kAttrUserDefined;
  }
  if (has_s_marker && s_id >= 0) {
    eog_[static_cast<size_t>(s_id)] = 0;
    attr_[static_cast<size_t>(s_id)] = kAttrNormal;
  }
}

uint8_t VocabTokenizer::byte_of_token(int32_t id) const {
  const std::string& t = text_[static_cast<size_t>(id)];
  // "<0xAB>": two hex digits at offset 3 (llama.cpp parses them with strtol and no further checks).
  if (t.size() < 5) return 0;
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  const int hi = hex(t[3]), lo = hex(t[4]);
  if (hi < 0) return 0;
  return static_cast<uint8_t>(lo < 0 ? hi : hi * 16 + lo);
}

void VocabTokenizer::build_caches() {
  const size_t n = text_.size();
  // Specials for the partition: CONTROL, USER_DEFINED and UNKNOWN tokens, longest text first. llama.cpp
  // sorts ascending ids with std::sort by length only; equal lengths keep whatever order that sort
  // leaves, so we run the same sort on the same input to process overlapping equal-length specials in
  // the same order.
  special_order_.clear();
  for (size_t i = 0; i < n; ++i) {
    if (attr_[i] & (kAttrControl | kAttrUserDefined | kAttrUnknown)) special_order_.push_back(static_cast<int32_t>(i));
  }
  std::sort(special_order_.begin(), special_order_.end(),
            [&](int32_t a, int32_t b) { return text_[static_cast<size_t>(a)].size() > text_[static_cast<size_t>(b)].size(); });
  special_rank_.assign(n, kNoRank);
  for (size_t r = 0; r < special_order_.size(); ++r) special_rank_[static_cast<size_t>(special_order_[r])] = static_cast<uint32_t>(r);
  special_trie_.build(text_, special_order_);

  piece_.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const auto id = static_cast<int32_t>(i);
    const uint32_t a = attr_[i];
    if (a & (kAttrUnknown | kAttrControl | kAttrUserDefined)) {
      piece_[i] = text_[i];
    } else if (a & kAttrNormal) {
      piece_[i] = normal_piece(id);
    } else if (a & kAttrByte) {
      piece_[i] = std::string(1, static_cast<char>(byte_of_token(id)));
    } else {
      piece_[i].clear();  // unused / undefined tokens render as nothing
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// Queries

const std::string& VocabTokenizer::token_text(int32_t id) const {
  if (id < 0 || id >= n_vocab()) throw Error("tokenizer: token id " + std::to_string(id) + " out of range");
  return text_[static_cast<size_t>(id)];
}

TokenType VocabTokenizer::token_type(int32_t id) const {
  token_text(id);  // range check
  const uint32_t a = attr(id);
  if (a & kAttrControl) return TokenType::Control;
  if (a & kAttrUserDefined) return TokenType::UserDefined;
  if (a & kAttrUnknown) return TokenType::Unknown;
  if (a & kAttrByte) return TokenType::Byte;
  if (a & kAttrUnused) return TokenType::Unused;
  if (a & kAttrNormal) return TokenType::Normal;
  return TokenType::Undefined;
}

int32_t VocabTokenizer::find_token(std::string_view text) const { return lookup(text); }

bool VocabTokenizer::is_eog(int32_t id) const {
  return id >= 0 && id < n_vocab() && eog_[static_cast<size_t>(id)] != 0;
}

std::string VocabTokenizer::token_to_piece(int32_t id, bool special) const {
  if (id < 0 || id >= n_vocab()) throw Error("tokenizer: token id " + std::to_string(id) + " out of range");
  if (!special && (attr_[static_cast<size_t>(id)] & (kAttrUnknown | kAttrControl))) return {};
  return piece_[static_cast<size_t>(id)];
}

// ---------------------------------------------------------------------------------------------------------
// Special-token partition
//
// llama.cpp takes the special tokens one at a time, longest first, and splits every still-unclaimed text
// fragment at each leftmost non-overlapping occurrence. Equivalent formulation used here: find all
// occurrences of all specials once (trie walk per byte), then accept them token by token in that same
// order, left to right, skipping any that touch bytes already claimed.

std::vector<VocabTokenizer::Fragment> VocabTokenizer::partition(std::string_view text, bool parse_special) const {
  std::vector<Fragment> out;
  if (text.empty()) return out;
  const size_t n = text.size();
  auto allowed = [&](int32_t id) {
    // Without parse_special only USER_DEFINED tokens are split out (CONTROL/UNKNOWN stay text).
    return parse_special || !(attr_[static_cast<size_t>(id)] & (kAttrControl | kAttrUnknown));
  };

  // Occurrences grouped by processing rank, positions ascending within a rank: count, then fill (a
  // counting sort; inputs like long whitespace runs produce many overlapping candidates).
  const size_t n_special = special_order_.size();
  if (n > UINT32_MAX) throw Error("tokenizer: text longer than 4 GiB");
  std::vector<size_t> start_of(n_special + 1, 0);
  size_t n_occ = 0;
  for (size_t pos = 0; pos < n; ++pos) {
    special_trie_.matches_at(text, pos, [&](int32_t id, size_t) {
      if (allowed(id)) {
        ++start_of[special_rank_[static_cast<size_t>(id)] + 1];
        ++n_occ;
      }
    });
  }
  if (n_occ == 0) {
    out.push_back({0, n, -1});
    return out;
  }
  for (size_t r = 0; r < n_special; ++r) start_of[r + 1] += start_of[r];
  std::vector<uint32_t> occ_pos(n_occ);
  {
    std::vector<size_t> fill(start_of.begin(), start_of.end() - 1);
    for (size_t pos = 0; pos < n; ++pos) {
      special_trie_.matches_at(text, pos, [&](int32_t id, size_t) {
        if (allowed(id)) occ_pos[fill[special_rank_[static_cast<size_t>(id)]]++] = static_cast<uint32_t>(pos);
      });
    }
  }

  // claimed: 0 free text, 1 inside an accepted special, 2 whitespace dropped by LSTRIP/RSTRIP.
  std::vector<uint8_t> claimed(n, 0);
  std::vector<int32_t> start_token(n, -1);
  auto is_space = [&](size_t i) { return std::isspace(static_cast<unsigned char>(text[i])) != 0; };
  for (size_t r = 0; r < n_special; ++r) {
    if (start_of[r] == start_of[r + 1]) continue;
    const int32_t id = special_order_[r];
    const size_t len = text_[static_cast<size_t>(id)].size();
    const uint32_t a = attr_[static_cast<size_t>(id)];
    for (size_t k = start_of[r]; k < start_of[r + 1]; ++k) {
      const size_t pos = occ_pos[k];
      bool free = true;
      for (size_t i = pos; i < pos + len; ++i) {
        if (claimed[i]) {
          free = false;
          break;
        }
      }
      if (!free) continue;
      start_token[pos] = id;
      std::fill(claimed.begin() + static_cast<ptrdiff_t>(pos), claimed.begin() + static_cast<ptrdiff_t>(pos + len), 1);
      if (a & kAttrLstrip) {
        for (size_t i = pos; i > 0 && !claimed[i - 1] && is_space(i - 1); --i) claimed[i - 1] = 2;
      }
      if (a & kAttrRstrip) {
        for (size_t i = pos + len; i < n && !claimed[i] && is_space(i); ++i) claimed[i] = 2;
      }
    }
  }

  size_t i = 0;
  while (i < n) {
    if (start_token[i] >= 0) {
      const int32_t id = start_token[i];
      out.push_back({i, text_[static_cast<size_t>(id)].size(), id});
      i += text_[static_cast<size_t>(id)].size();
    } else if (claimed[i]) {
      ++i;
    } else {
      const size_t b = i;
      while (i < n && !claimed[i]) ++i;
      out.push_back({b, i - b, -1});
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// tokenize()

std::vector<int32_t> VocabTokenizer::encode(std::string_view text, bool add_special, bool parse_special) const {
  if (const size_t bad = uni::find_invalid_utf8(text); bad != std::string_view::npos) {
    throw Error("tokenizer: invalid UTF-8 at byte " + std::to_string(bad));
  }
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 4);
  if (add_special && add_bos_) {
    if (bos_ < 0) throw Error("tokenizer: model asks for BOS but has no BOS token");
    out.push_back(bos_);
  }
  bool after_special = true;  // the first fragment counts as following a special token (SPM space prefix)
  for (const Fragment& fr : partition(text, parse_special)) {
    if (fr.token >= 0) {
      out.push_back(fr.token);
      after_special = true;
    } else {
      encode_fragment(text.substr(fr.off, fr.len), after_special, out);
      after_special = false;
    }
  }
  if (add_special && add_eos_) {
    if (eos_ < 0) throw Error("tokenizer: model asks for EOS but has no EOS token");
    out.push_back(eos_);
  }
  return out;
}

std::vector<Symbol> utf8_symbols(std::string_view w) {
  std::vector<Symbol> sym;
  sym.reserve(w.size());
  for (size_t off = 0; off < w.size();) {
    const auto len = static_cast<uint32_t>(std::min(uni::utf8_seq_len(static_cast<uint8_t>(w[off])), w.size() - off));
    const int idx = static_cast<int>(sym.size());
    sym.push_back({idx - 1, off + len == w.size() ? -1 : idx + 1, static_cast<uint32_t>(off), len});
    off += len;
  }
  return sym;
}

}  // namespace slim::tok
