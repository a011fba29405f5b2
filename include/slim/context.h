// An inference context: KV cache, scratch buffers and a thread pool for one sequence on a Model.
// eval() appends tokens to the sequence (chunked into micro-batches) and produces logits.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "slim/model.h"

namespace slim {

enum class KVType;

struct ContextParams {
  int n_ctx = 4096;     // max tokens in the sequence (prompt + generated); clamped to the model's trained length
  int n_threads = 2;
  int n_ubatch = 512;   // tokens per forward micro-batch
  bool kv_f32 = false;  // KV cache in F32 instead of F16
  // Reproduce llama.cpp's batch-size-dependent CPU attention numerics: fp16 accumulation (q and the value
  // accumulator rounded to f16) for batches under 64 rows — every decode step and short prompts — and, for a
  // single-row batch over 512+ cache cells, its split of the keys across n_threads chunks. With it, greedy
  // decoding follows llama.cpp (same -t) token for token. Off by default because slim's default is
  // batch-invariant f32 accumulation, which token pruning relies on.
  bool llama_compat = false;
};

// Called with (index of the token within this eval call, its logits[n_vocab]).
using LogitsCallback = std::function<void(int, const float*)>;
// Called after each micro-batch with (tokens done, tokens total).
using ProgressCallback = std::function<void(int, int)>;

class Context {
 public:
  Context(const Model& model, const ContextParams& params);
  ~Context();

  // Appends n tokens at positions n_past() .. n_past()+n-1. Throws slim::Error if they do not fit in n_ctx
  // or a token id is out of range. If all_logits is set, every token's logits go to it (in order); otherwise
  // only the last token's logits are computed (last_logits()).
  void eval(const int32_t* tokens, int n, const LogitsCallback* all_logits = nullptr,
            const ProgressCallback* progress = nullptr);
  const float* last_logits() const { return last_logits_.data(); }

  int n_past() const { return n_past_; }
  int n_ctx() const { return n_ctx_; }
  void reset();  // forget the sequence
  // Keeps only the first n tokens of the sequence (e.g. to resume a conversation from a shared prefix).
  // Falls back to reset() and returns false when a sliding-window layer no longer holds what is needed.
  bool truncate(int n);
  size_t kv_bytes_used() const;
  size_t kv_bytes_reserved() const;
  const Model& model() const { return model_; }

 private:
  struct Impl;
  const Model& model_;
  int n_ctx_;
  int n_past_ = 0;
  std::vector<float> last_logits_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace slim
