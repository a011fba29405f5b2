// llama.cpp logits files: what `llama-perplexity --kl-divergence-base F` writes (and, with
// --kl-divergence, reads back). slim reads them to compare against llama.cpp and writes them byte-for-byte
// in the same format. Layout (all little-endian; docs/sampling.md, "llama.cpp logits files"):
//
//   char[8]  "_logits_"
//   int32    n_ctx                      tokens per chunk
//   int32    n_vocab
//   int32    n_chunk
//   int32    tokens[n_chunk * n_ctx]    the evaluated text (chunk c = tokens[c*n_ctx, (c+1)*n_ctx)),
//                                       as tokenized, i.e. *before* the first token of a chunk is
//                                       replaced by BOS for evaluation
//   then per chunk, per scored position j = n_ctx/2 .. n_ctx-2 (n_ctx - 1 - n_ctx/2 records), one record
//   of record_u16(n_vocab) = 2*((n_vocab+1)/2) + 4 uint16 values:
//     float32 scale, float32 min_log_prob   (the first 4 uint16 slots)
//     uint16  q[n_vocab]                    log p_i ≈ scale * q[i] + min_log_prob
//     uint16  0                             padding when n_vocab is odd
//   Row j holds the distribution predicting token j+1 of the chunk.
#pragma once
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace slim {

inline constexpr char kLogitsMagic[8] = {'_', 'l', 'o', 'g', 'i', 't', 's', '_'};

// uint16 slots per record (header floats + values + padding to an even count).
inline constexpr size_t logits_record_u16(int32_t n_vocab) { return 2 * ((size_t(n_vocab) + 1) / 2) + 4; }
// First scored row of a chunk, and how many rows each chunk scores (llama-perplexity's `first` and
// `n_ctx - 1 - first`): the first half of every chunk is context only.
inline constexpr int32_t logits_first_scored(int32_t n_ctx) { return n_ctx / 2; }
inline constexpr int32_t logits_scored_per_chunk(int32_t n_ctx) { return n_ctx - 1 - n_ctx / 2; }

// One compressed record, viewed in place (points into a reader's or caller's buffer).
struct LogProbRecord {
  float scale = 0.0f;
  float min_log_prob = 0.0f;
  const uint16_t* q = nullptr;
  int32_t n_vocab = 0;

  float log_prob(int32_t i) const { return scale * float(q[i]) + min_log_prob; }
  void decode(float* out) const;  // out[n_vocab] = log-probabilities
  // A view of a raw record (record_u16 slots, as stored in the file).
  static LogProbRecord view(const uint16_t* raw, int32_t n_vocab);
};

// Compresses one row of logits into rec[logits_record_u16(n_vocab)] exactly as llama-perplexity does:
// values are kept over [max_logit - 16, max_logit] in 65535 steps; anything lower is stored as 0, i.e.
// min_log_prob. Returns the negative log-likelihood of next_token computed the way llama-perplexity
// does while saving (max + log(sum exp) - logit[next_token], float log-sum-exp).
double encode_log_probs(const float* logits, int32_t n_vocab, int32_t next_token, uint16_t* rec);

struct LogitsFileHeader {
  int32_t n_ctx = 0;
  int32_t n_vocab = 0;
  int32_t n_chunk = 0;
  std::vector<int32_t> tokens;  // n_chunk * n_ctx
};

// Appends scored rows in file order. Rows may come one at a time or many at once; the writer knows which
// token each row predicts from the header's tokens. Throws slim::Error on I/O failure or misuse.
class LogitsWriter {
 public:
  // tokens must hold at least n_chunk * n_ctx ids; only those are stored.
  LogitsWriter(const std::string& path, int32_t n_ctx, int32_t n_vocab, int32_t n_chunk,
               const std::vector<int32_t>& tokens);
  ~LogitsWriter();
  LogitsWriter(const LogitsWriter&) = delete;
  LogitsWriter& operator=(const LogitsWriter&) = delete;

  // n_rows consecutive scored rows (each n_vocab floats), continuing where the last call stopped.
  void append(const float* logits, int32_t n_rows);
  // Checks every record was written and closes the file.
  void finish();

  int64_t rows_written() const { return rows_; }
  int64_t rows_total() const { return int64_t(n_chunk_) * logits_scored_per_chunk(n_ctx_); }
  // Sums over written rows of the NLL of the actual next token (for the PPL llama-perplexity prints).
  double nll_sum() const { return nll_; }
  double nll2_sum() const { return nll2_; }

 private:
  std::FILE* f_ = nullptr;
  std::string path_;
  int32_t n_ctx_, n_vocab_, n_chunk_;
  std::vector<int32_t> tokens_;
  std::vector<uint16_t> buf_;
  int64_t rows_ = 0;
  double nll_ = 0.0, nll2_ = 0.0;
};

// Reads a logits file sequentially (records are large: 512 KiB each for a 262144-token vocabulary).
// The constructor validates the header and the file size; throws slim::Error with the file name.
class LogitsReader {
 public:
  explicit LogitsReader(const std::string& path);
  ~LogitsReader();
  LogitsReader(const LogitsReader&) = delete;
  LogitsReader& operator=(const LogitsReader&) = delete;

  const LogitsFileHeader& header() const { return h_; }
  int32_t n_ctx() const { return h_.n_ctx; }
  int32_t n_vocab() const { return h_.n_vocab; }
  int32_t n_chunk() const { return h_.n_chunk; }
  int64_t rows_total() const { return int64_t(h_.n_chunk) * logits_scored_per_chunk(h_.n_ctx); }
  int64_t rows_read() const { return next_row_; }

  // Next record in file order, valid until the following call; false after the last one.
  // chunk/row (optional) receive the chunk index and the position j within the chunk (n_ctx/2 ..).
  bool next(LogProbRecord& rec, int32_t* chunk = nullptr, int32_t* row = nullptr);
  // Positions the reader at the first record of a chunk.
  void seek_chunk(int32_t chunk);
  // The token that row j of chunk c predicts (tokens[c*n_ctx + j + 1]).
  int32_t next_token(int32_t chunk, int32_t row) const { return h_.tokens[size_t(chunk) * h_.n_ctx + row + 1]; }

 private:
  std::FILE* f_ = nullptr;
  std::string path_;
  LogitsFileHeader h_;
  int64_t data_offset_ = 0;
  int64_t next_row_ = 0;
  std::vector<uint16_t> buf_;
};

}  // namespace slim
