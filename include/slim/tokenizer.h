// Tokenizers built from GGUF metadata: SentencePiece-style ("llama": Gemma, Llama 2) and byte-level BPE
// ("gpt2": Llama 3, SmolLM2, Qwen) with their pre-tokenizer variants. Token ids match llama.cpp's.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace slim {

class GgufFile;

enum class TokenType : int32_t { Undefined = 0, Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5, Byte = 6 };

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  // Reads tokenizer.ggml.* keys; throws slim::Error for an unsupported tokenizer model or pre-tokenizer.
  static std::unique_ptr<Tokenizer> from_gguf(const GgufFile& f);

  // Like llama_tokenize(): add_special adds BOS/EOS as the model's metadata says; parse_special turns
  // special-token text (e.g. "<start_of_turn>") into its id instead of tokenizing it as text.
  // Throws slim::Error on invalid UTF-8 input.
  virtual std::vector<int32_t> encode(std::string_view text, bool add_special, bool parse_special) const = 0;
  // The bytes a token stands for (byte tokens → the raw byte, "▁" → space, BPE byte-unicode → bytes).
  // Control tokens yield their text only if special is true.
  virtual std::string token_to_piece(int32_t id, bool special) const = 0;
  std::string decode(const std::vector<int32_t>& ids, bool special = false) const;

  virtual int32_t n_vocab() const = 0;
  virtual int32_t bos() const = 0;  // -1 if none
  virtual int32_t eos() const = 0;
  virtual bool add_bos() const = 0;
  virtual bool is_eog(int32_t id) const = 0;  // end of generation: EOS, EOT, <end_of_turn>, <|im_end|> ...
  virtual const std::string& token_text(int32_t id) const = 0;  // raw vocab entry
  virtual TokenType token_type(int32_t id) const = 0;
  virtual int32_t find_token(std::string_view text) const = 0;  // exact vocab entry, -1 if absent
};

// Streaming detokenizer: feeds tokens one at a time and returns only complete UTF-8 characters;
// bytes of an unfinished character wait for the next token.
class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tok, bool special = false) : tok_(tok), special_(special) {}
  std::string push(int32_t id);
  std::string flush();  // whatever is left (invalid tails become U+FFFD)

 private:
  const Tokenizer& tok_;
  bool special_;
  std::string pending_;
};

// Returns the length of the longest prefix of s that is complete, valid UTF-8.
size_t utf8_complete_prefix(std::string_view s);
// True if s is valid UTF-8.
bool utf8_valid(std::string_view s);

}  // namespace slim
