// Model loading: architecture → Config (metadata keys per family), weight binding and validation.
#include "slim/model.h"

#include <cmath>

#include "simd/cpu.h"
#include "slim/error.h"
#include "slim/types.h"

namespace slim {

const char* arch_name(Arch a) {
  switch (a) {
    case Arch::Gemma3: return "gemma3";
    case Arch::Llama: return "llama";
    case Arch::Qwen2: return "qwen2";
    case Arch::Qwen3: return "qwen3";
  }
  return "?";
}

namespace {

Arch parse_arch(const std::string& s) {
  if (s == "gemma3") return Arch::Gemma3;
  if (s == "llama") return Arch::Llama;
  if (s == "qwen2") return Arch::Qwen2;
  if (s == "qwen3") return Arch::Qwen3;
  throw Error("model: unsupported architecture '" + s + "' (supported: gemma3, llama, qwen2, qwen3)");
}

// Some keys may be per-layer arrays in GGUF; we support the uniform case and say so otherwise.
int uniform_int(const GgufFile& f, const std::string& key, int64_t def, bool required) {
  const GgufValue* v = f.find(key);
  if (!v) {
    if (required) throw Error("model: missing metadata key '" + key + "'");
    return static_cast<int>(def);
  }
  std::vector<int64_t> vals = f.get_int_array(key);
  if (vals.empty()) throw Error("model: metadata key '" + key + "' is an empty array");
  for (int64_t x : vals)
    if (x != vals[0]) throw Error("model: per-layer values of '" + key + "' differ; not supported");
  if (vals[0] < 0 || vals[0] > (1 << 30)) throw Error("model: metadata key '" + key + "' out of range");
  return static_cast<int>(vals[0]);
}

ModelConfig read_config(const GgufFile& f) {
  ModelConfig c;
  c.arch_name = f.get_string("general.architecture");
  c.arch = parse_arch(c.arch_name);
  c.name = f.get_string("general.name", "");
  const std::string p = c.arch_name + ".";
  c.n_embd = uniform_int(f, p + "embedding_length", 0, true);
  c.n_layer = uniform_int(f, p + "block_count", 0, true);
  c.n_ff = uniform_int(f, p + "feed_forward_length", 0, true);
  c.n_head = uniform_int(f, p + "attention.head_count", 0, true);
  c.n_head_kv = uniform_int(f, p + "attention.head_count_kv", c.n_head, false);
  c.n_ctx_train = uniform_int(f, p + "context_length", 0, true);
  if (c.n_embd <= 0 || c.n_layer <= 0 || c.n_ff <= 0 || c.n_head <= 0 || c.n_head_kv <= 0 || c.n_ctx_train <= 0)
    throw Error("model: non-positive hyperparameter in metadata");
  if (c.n_head % c.n_head_kv != 0) throw Error("model: head_count is not a multiple of head_count_kv");
  c.head_dim = uniform_int(f, p + "attention.key_length", c.n_embd / c.n_head, false);
  c.head_dim_v = uniform_int(f, p + "attention.value_length", c.head_dim, false);
  if (c.head_dim != c.head_dim_v) throw Error("model: key_length != value_length is not supported");
  if (c.head_dim <= 0 || c.head_dim % 2) throw Error("model: head dimension must be even and positive");
  c.n_rot = uniform_int(f, p + "rope.dimension_count", c.head_dim, false);
  if (c.n_rot != c.head_dim) throw Error("model: partial RoPE (rope.dimension_count != head_dim) is not supported");
  c.norm_eps = static_cast<float>(f.get_float(p + "attention.layer_norm_rms_epsilon", 1e-5));
  c.rope_base = static_cast<float>(f.get_float(p + "rope.freq_base", 10000.0));
  c.rope_base_swa = static_cast<float>(f.get_float(p + "rope.freq_base_swa", 10000.0));
  const std::string scaling = f.get_string(p + "rope.scaling.type", "");
  if (!scaling.empty() && scaling != "linear" && scaling != "none")
    throw Error("model: rope scaling type '" + scaling + "' is not supported");
  double factor = f.get_float(p + "rope.scaling.factor", 0.0);
  if (scaling == "linear" && factor > 0) c.rope_freq_scale = static_cast<float>(1.0 / factor);
  c.final_softcap = static_cast<float>(f.get_float(p + "final_logit_softcapping", 0.0));
  c.attn_scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
  c.layer_swa.assign(c.n_layer, 0);

  switch (c.arch) {
    case Arch::Gemma3: {
      c.rope_neox = true;
      c.qk_norm = true;
      c.post_norms = true;
      c.act = Activation::GeluTanh;
      c.embd_scale = std::sqrt(static_cast<float>(c.n_embd));
      // llama.cpp: 27B (62 layers) scales by 1/sqrt(n_embd/n_head) (query_pre_attn_scalar); others 1/sqrt(hd).
      if (c.n_layer == 62) c.attn_scale = 1.0f / std::sqrt(static_cast<float>(c.n_embd / c.n_head));
      c.sliding_window = uniform_int(f, p + "attention.sliding_window", 0, false);
      if (c.sliding_window > 0) {
        const int pattern = 6;  // five local layers, then one global (Gemma 3)
        for (int l = 0; l < c.n_layer; ++l) c.layer_swa[l] = (l % pattern) < pattern - 1;
      }
      break;
    }
    case Arch::Llama: break;
    case Arch::Qwen2:
      c.rope_neox = true;
      c.qkv_bias = true;
      break;
    case Arch::Qwen3:
      c.rope_neox = true;
      c.qk_norm = true;
      break;
  }
  return c;
}

void check_shape(const TensorView& t, int64_t ne0, int64_t ne1) {
  const int64_t want1 = ne1 < 0 ? 1 : ne1;
  if (t.ne[0] != ne0 || t.ne[1] != want1 || t.ne[2] != 1 || t.ne[3] != 1)
    throw Error("model: tensor '" + t.name + "' has shape [" + std::to_string(t.ne[0]) + ", " +
                std::to_string(t.ne[1]) + "], expected [" + std::to_string(ne0) + ", " + std::to_string(want1) + "]");
}

void check_matmul_type(const TensorView& t) {
  const DTypeInfo* info = dtype_info(static_cast<uint32_t>(t.type));
  if (!info || !info->supported)
    throw Error("model: tensor '" + t.name + "' has type " + dtype_name(static_cast<uint32_t>(t.type)) +
                ", which slim does not support (supported: F32 F16 BF16 Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 Q4_K Q5_K Q6_K)");
}

void check_vector(const TensorView& t, int64_t n) {
  if (t.type != DType::F32)
    throw Error("model: norm/bias tensor '" + t.name + "' must be F32, found " +
                dtype_name(static_cast<uint32_t>(t.type)));
  check_shape(t, n, 1);
}

}  // namespace

std::unique_ptr<Model> Model::load(const std::string& path) {
  simd::active();  // choose the kernels' SIMD target here: a bad $SLIM_CPU throws in the caller's thread
  std::unique_ptr<Model> m(new Model());
  m->file_ = GgufFile::open(path);
  const GgufFile& f = *m->file_;
  m->cfg_ = read_config(f);
  ModelConfig& c = m->cfg_;

  m->token_embd_ = &f.tensor("token_embd.weight");
  check_matmul_type(*m->token_embd_);
  c.n_vocab = static_cast<int>(m->token_embd_->ne[1]);
  check_shape(*m->token_embd_, c.n_embd, c.n_vocab);
  m->output_norm_ = &f.tensor("output_norm.weight");
  check_vector(*m->output_norm_, c.n_embd);
  m->output_ = f.find_tensor("output.weight");
  if (!m->output_) m->output_ = m->token_embd_;  // tied head
  check_matmul_type(*m->output_);
  check_shape(*m->output_, c.n_embd, c.n_vocab);
  m->rope_freqs_ = f.find_tensor("rope_freqs.weight");
  if (m->rope_freqs_) check_vector(*m->rope_freqs_, c.n_rot / 2);

  const int64_t q_dim = int64_t(c.n_head) * c.head_dim, kv_dim = int64_t(c.n_head_kv) * c.head_dim;
  m->layers_.resize(c.n_layer);
  for (int l = 0; l < c.n_layer; ++l) {
    const std::string b = "blk." + std::to_string(l) + ".";
    LayerWeights& L = m->layers_[l];
    auto mat = [&](const char* n, int64_t ne0, int64_t ne1) {
      const TensorView* t = &f.tensor(b + n);
      check_matmul_type(*t);
      check_shape(*t, ne0, ne1);
      return t;
    };
    auto vec = [&](const char* n, int64_t len) {
      const TensorView* t = &f.tensor(b + n);
      check_vector(*t, len);
      return t;
    };
    L.attn_norm = vec("attn_norm.weight", c.n_embd);
    L.wq = mat("attn_q.weight", c.n_embd, q_dim);
    L.wk = mat("attn_k.weight", c.n_embd, kv_dim);
    L.wv = mat("attn_v.weight", c.n_embd, kv_dim);
    L.wo = mat("attn_output.weight", q_dim, c.n_embd);
    if (c.qkv_bias) {
      L.bq = vec("attn_q.bias", q_dim);
      L.bk = vec("attn_k.bias", kv_dim);
      L.bv = vec("attn_v.bias", kv_dim);
    }
    if (c.qk_norm) {
      L.q_norm = vec("attn_q_norm.weight", c.head_dim);
      L.k_norm = vec("attn_k_norm.weight", c.head_dim);
    }
    L.ffn_norm = vec(c.post_norms ? "ffn_norm.weight" : "ffn_norm.weight", c.n_embd);
    if (c.post_norms) {
      L.post_attn_norm = vec("post_attention_norm.weight", c.n_embd);
      L.post_ffn_norm = vec("post_ffw_norm.weight", c.n_embd);
    }
    L.w_gate = mat("ffn_gate.weight", c.n_embd, c.n_ff);
    L.w_up = mat("ffn_up.weight", c.n_embd, c.n_ff);
    L.w_down = mat("ffn_down.weight", c.n_ff, c.n_embd);
  }
  for (const TensorView& t : f.tensors()) {
    m->n_params_ += static_cast<size_t>(t.n_elements());
    m->weight_bytes_ += t.nbytes;
  }
  m->tok_ = Tokenizer::from_gguf(f);
  if (m->tok_->n_vocab() > c.n_vocab)
    throw Error("model: tokenizer has " + std::to_string(m->tok_->n_vocab()) + " tokens but the embedding only " +
                std::to_string(c.n_vocab));
  return m;
}

std::string Model::chat_template() const { return file_->get_string("tokenizer.chat_template", ""); }

}  // namespace slim
