// llama.cpp logits-file reader and writer (format in logits_file.h and docs/sampling.md).
#include "runtime/logits_file.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>

#include "slim/error.h"

namespace slim {

namespace {

// Round to nearest, ties to even: what llama-perplexity's float "magic number" rounding yields for the
// 0..65535 range it is used on (the default FP rounding mode).
inline uint16_t round_u16(float v) { return static_cast<uint16_t>(std::nearbyint(v)); }

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw Error("logits file '" + path + "': " + what);
}

}  // namespace

LogProbRecord LogProbRecord::view(const uint16_t* raw, int32_t n_vocab) {
  LogProbRecord r;
  std::memcpy(&r.scale, raw, sizeof(float));
  std::memcpy(&r.min_log_prob, raw + 2, sizeof(float));
  r.q = raw + 4;
  r.n_vocab = n_vocab;
  return r;
}

void LogProbRecord::decode(float* out) const {
  for (int32_t i = 0; i < n_vocab; ++i) out[i] = scale * float(q[i]) + min_log_prob;
}

double encode_log_probs(const float* logits, int32_t n_vocab, int32_t next_token, uint16_t* rec) {
  // Float/double choices mirror llama-perplexity so that the bytes come out identical.
  float max_logit = logits[0], min_logit = logits[0];
  for (int32_t i = 1; i < n_vocab; ++i) {
    max_logit = std::max(max_logit, logits[i]);
    min_logit = std::min(min_logit, logits[i]);
  }
  min_logit = std::max(min_logit, max_logit - 16);  // e^-16 ≈ 1e-7: below that a token is "never"
  double sum_exp = 0.0;
  for (int32_t i = 0; i < n_vocab; ++i) sum_exp += std::exp(logits[i] - max_logit);
  const float log_sum_exp = float(std::log(sum_exp));
  const float min_log_prob = min_logit - max_logit - log_sum_exp;
  const float scale = (max_logit - min_logit) / 65535.f;
  std::memcpy(rec, &scale, sizeof(float));
  std::memcpy(rec + 2, &min_log_prob, sizeof(float));
  uint16_t* q = rec + 4;
  if (scale != 0.0f) {
    const float inv_scale = 1 / scale;
    for (int32_t i = 0; i < n_vocab; ++i) q[i] = logits[i] > min_logit ? round_u16(inv_scale * (logits[i] - min_logit)) : 0;
  } else {
    std::fill(q, q + n_vocab, uint16_t(0));
  }
  if (n_vocab % 2) q[n_vocab] = 0;  // padding slot
  return double(max_logit + log_sum_exp - logits[next_token]);
}

// ---------------------------------------------------------------------------------------------- writer

LogitsWriter::LogitsWriter(const std::string& path, int32_t n_ctx, int32_t n_vocab, int32_t n_chunk,
                           const std::vector<int32_t>& tokens)
    : path_(path), n_ctx_(n_ctx), n_vocab_(n_vocab), n_chunk_(n_chunk) {
  if (n_ctx < 2 || n_vocab < 1 || n_chunk < 0) fail(path, "bad shape (n_ctx " + std::to_string(n_ctx) + ", n_vocab " +
                                                              std::to_string(n_vocab) + ", n_chunk " + std::to_string(n_chunk) + ")");
  const size_t n_tok = size_t(n_chunk) * size_t(n_ctx);
  if (tokens.size() < n_tok) fail(path, "needs " + std::to_string(n_tok) + " tokens, got " + std::to_string(tokens.size()));
  tokens_.assign(tokens.begin(), tokens.begin() + ptrdiff_t(n_tok));
  for (int32_t t : tokens_)
    if (t < 0 || t >= n_vocab) fail(path, "token id " + std::to_string(t) + " outside the vocabulary");
  f_ = std::fopen(path.c_str(), "wb");
  if (!f_) fail(path, std::string("cannot open for writing: ") + std::strerror(errno));
  bool ok = std::fwrite(kLogitsMagic, 1, 8, f_) == 8;
  ok = ok && std::fwrite(&n_ctx_, sizeof(int32_t), 1, f_) == 1;
  ok = ok && std::fwrite(&n_vocab_, sizeof(int32_t), 1, f_) == 1;
  ok = ok && std::fwrite(&n_chunk_, sizeof(int32_t), 1, f_) == 1;
  ok = ok && (n_tok == 0 || std::fwrite(tokens_.data(), sizeof(int32_t), n_tok, f_) == n_tok);
  if (!ok) fail(path, "write failed");
  buf_.resize(logits_record_u16(n_vocab));
}

LogitsWriter::~LogitsWriter() {
  if (f_) std::fclose(f_);
}

void LogitsWriter::append(const float* logits, int32_t n_rows) {
  if (!f_) fail(path_, "append after finish");
  const int32_t per_chunk = logits_scored_per_chunk(n_ctx_);
  if (n_rows < 0 || rows_ + n_rows > rows_total())
    fail(path_, "too many rows: " + std::to_string(rows_ + n_rows) + " > " + std::to_string(rows_total()));
  for (int32_t r = 0; r < n_rows; ++r) {
    const int64_t chunk = rows_ / per_chunk;
    const int32_t j = logits_first_scored(n_ctx_) + int32_t(rows_ % per_chunk);
    const int32_t next = tokens_[size_t(chunk) * size_t(n_ctx_) + size_t(j) + 1];
    const double nll = encode_log_probs(logits + size_t(r) * size_t(n_vocab_), n_vocab_, next, buf_.data());
    nll_ += nll;
    nll2_ += nll * nll;
    if (std::fwrite(buf_.data(), sizeof(uint16_t), buf_.size(), f_) != buf_.size()) fail(path_, "write failed");
    ++rows_;
  }
}

void LogitsWriter::finish() {
  if (!f_) return;
  std::FILE* f = f_;
  f_ = nullptr;
  const bool ok = std::fclose(f) == 0;
  if (!ok) fail(path_, "close failed");
  if (rows_ != rows_total())
    fail(path_, "incomplete: " + std::to_string(rows_) + " of " + std::to_string(rows_total()) + " records written");
}

// ---------------------------------------------------------------------------------------------- reader

LogitsReader::LogitsReader(const std::string& path) : path_(path) {
  f_ = std::fopen(path.c_str(), "rb");
  if (!f_) fail(path, std::string("cannot open: ") + std::strerror(errno));
  char magic[8];
  int32_t dims[3];
  if (std::fread(magic, 1, 8, f_) != 8 || std::memcmp(magic, kLogitsMagic, 8) != 0)
    fail(path, "not a llama.cpp logits file (no \"_logits_\" magic)");
  if (std::fread(dims, sizeof(int32_t), 3, f_) != 3) fail(path, "truncated header");
  h_.n_ctx = dims[0];
  h_.n_vocab = dims[1];
  h_.n_chunk = dims[2];
  if (h_.n_ctx < 2 || h_.n_vocab < 1 || h_.n_chunk < 0)
    fail(path, "bad header (n_ctx " + std::to_string(h_.n_ctx) + ", n_vocab " + std::to_string(h_.n_vocab) +
                   ", n_chunk " + std::to_string(h_.n_chunk) + ")");

  // The size must match the header exactly before anything large is allocated.
  if (std::fseek(f_, 0, SEEK_END) != 0) fail(path, "cannot seek");
  const long long size = std::ftell(f_);
  const long long n_tok = (long long)h_.n_chunk * h_.n_ctx;
  data_offset_ = 20 + 4 * n_tok;
  const long long rec_bytes = (long long)logits_record_u16(h_.n_vocab) * 2;
  const long long expect = data_offset_ + rows_total() * rec_bytes;
  if (size != expect) {
    const long long have_chunks = size < data_offset_ ? 0 : (size - data_offset_) / (rec_bytes * logits_scored_per_chunk(h_.n_ctx));
    fail(path, "size " + std::to_string(size) + " bytes, header (n_ctx " + std::to_string(h_.n_ctx) + ", n_vocab " +
                   std::to_string(h_.n_vocab) + ", n_chunk " + std::to_string(h_.n_chunk) + ") needs " +
                   std::to_string(expect) + (size < expect ? " (truncated after ~" + std::to_string(have_chunks) + " chunks)" : ""));
  }
  if (std::fseek(f_, 20, SEEK_SET) != 0) fail(path, "cannot seek");
  h_.tokens.resize(size_t(n_tok));
  if (n_tok && std::fread(h_.tokens.data(), sizeof(int32_t), size_t(n_tok), f_) != size_t(n_tok)) fail(path, "truncated tokens");
  for (size_t i = 0; i < h_.tokens.size(); ++i)
    if (h_.tokens[i] < 0 || h_.tokens[i] >= h_.n_vocab)
      fail(path, "token " + std::to_string(i) + " = " + std::to_string(h_.tokens[i]) + " outside the vocabulary");
  buf_.resize(logits_record_u16(h_.n_vocab));
}

LogitsReader::~LogitsReader() {
  if (f_) std::fclose(f_);
}

bool LogitsReader::next(LogProbRecord& rec, int32_t* chunk, int32_t* row) {
  if (next_row_ >= rows_total()) return false;
  if (std::fread(buf_.data(), sizeof(uint16_t), buf_.size(), f_) != buf_.size())
    fail(path_, "read failed at record " + std::to_string(next_row_));
  const int32_t per_chunk = logits_scored_per_chunk(h_.n_ctx);
  if (chunk) *chunk = int32_t(next_row_ / per_chunk);
  if (row) *row = logits_first_scored(h_.n_ctx) + int32_t(next_row_ % per_chunk);
  rec = LogProbRecord::view(buf_.data(), h_.n_vocab);
  ++next_row_;
  return true;
}

void LogitsReader::seek_chunk(int32_t chunk) {
  if (chunk < 0 || chunk > h_.n_chunk) fail(path_, "no chunk " + std::to_string(chunk));
  const int64_t row = int64_t(chunk) * logits_scored_per_chunk(h_.n_ctx);
  const long long off = data_offset_ + row * (long long)buf_.size() * 2;
  if (std::fseek(f_, long(off), SEEK_SET) != 0) fail(path_, "cannot seek to chunk " + std::to_string(chunk));
  next_row_ = row;
}

}  // namespace slim
