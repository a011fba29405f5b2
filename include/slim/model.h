// A loaded model: hyperparameters (Config, per architecture, read from GGUF metadata), typed weight views
// into the mapped file, and its tokenizer. Immutable after load; many Contexts may share one Model.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "slim/gguf.h"
#include "slim/tokenizer.h"

namespace slim {

enum class Arch { Gemma3, Llama, Qwen2, Qwen3 };
enum class Activation { SiLU, GeluTanh };

// Per-architecture differences are data here, not copies of the layer code.
struct ModelConfig {
  Arch arch = Arch::Llama;
  std::string arch_name;     // general.architecture
  std::string name;          // general.name
  int n_vocab = 0;
  int n_embd = 0;
  int n_layer = 0;
  int n_head = 0;
  int n_head_kv = 0;
  int head_dim = 0;          // key/query head width
  int head_dim_v = 0;        // value head width
  int n_ff = 0;
  int n_ctx_train = 0;
  float norm_eps = 1e-5f;
  int n_rot = 0;             // rotated dims per head (== head_dim for all supported archs)
  bool rope_neox = false;    // true: pair i with i + n_rot/2 (Gemma, Qwen); false: adjacent pairs (Llama)
  float rope_base = 10000.f;
  float rope_base_swa = 10000.f;  // local (sliding) layers
  float rope_freq_scale = 1.f;    // global layers (1/linear factor)
  int sliding_window = 0;    // 0: no sliding-window layers
  std::vector<uint8_t> layer_swa;  // 1 where layer l is a sliding-window (local) layer
  float embd_scale = 1.f;    // Gemma: sqrt(n_embd)
  float attn_scale = 1.f;    // applied to q before q·k
  bool qk_norm = false;      // per-head RMSNorm on q and k (Gemma 3, Qwen3)
  bool post_norms = false;   // Gemma's sandwich norms
  bool qkv_bias = false;     // Qwen2
  Activation act = Activation::SiLU;
  float final_softcap = 0.f; // 0: none

  size_t kv_bytes_per_token(int layer, size_t elem_bytes) const {
    return static_cast<size_t>(n_head_kv) * (head_dim + head_dim_v) * elem_bytes;
  }
};

struct LayerWeights {
  const TensorView* attn_norm = nullptr;
  const TensorView* wq = nullptr;
  const TensorView* wk = nullptr;
  const TensorView* wv = nullptr;
  const TensorView* bq = nullptr;  // qwen2 biases
  const TensorView* bk = nullptr;
  const TensorView* bv = nullptr;
  const TensorView* q_norm = nullptr;
  const TensorView* k_norm = nullptr;
  const TensorView* wo = nullptr;
  const TensorView* post_attn_norm = nullptr;
  const TensorView* ffn_norm = nullptr;
  const TensorView* w_gate = nullptr;
  const TensorView* w_up = nullptr;
  const TensorView* w_down = nullptr;
  const TensorView* post_ffn_norm = nullptr;
};

class Model {
 public:
  // Loads and validates a GGUF model. Throws slim::Error for a malformed file, an unsupported architecture or
  // tensor type, or a tensor whose shape does not match the metadata.
  static std::unique_ptr<Model> load(const std::string& path);

  const ModelConfig& config() const { return cfg_; }
  const GgufFile& file() const { return *file_; }
  const Tokenizer& tokenizer() const { return *tok_; }
  const TensorView& token_embd() const { return *token_embd_; }
  const TensorView& output() const { return *output_; }  // token_embd when tied
  const TensorView& output_norm() const { return *output_norm_; }
  const TensorView* rope_freqs() const { return rope_freqs_; }
  const LayerWeights& layer(int l) const { return layers_[l]; }
  size_t n_params() const { return n_params_; }
  size_t weight_bytes() const { return weight_bytes_; }
  std::string chat_template() const;  // tokenizer.chat_template or ""

 private:
  Model() = default;
  std::unique_ptr<GgufFile> file_;
  std::unique_ptr<Tokenizer> tok_;
  ModelConfig cfg_;
  const TensorView* token_embd_ = nullptr;
  const TensorView* output_ = nullptr;
  const TensorView* output_norm_ = nullptr;
  const TensorView* rope_freqs_ = nullptr;
  std::vector<LayerWeights> layers_;
  size_t n_params_ = 0;
  size_t weight_bytes_ = 0;
};

const char* arch_name(Arch a);

}  // namespace slim
