#include "slim/context.h"

#include <algorithm>
#include <cstring>
#include <chrono>
#include <string>

#include "kv/kv_cache.h"
#include "kv/kv_tier.h"
#include "model/forward.h"
#include "prune/lazyllm.h"
#include "prune/policy.h"
#include "prune/probe.h"
#include "runtime/thread_pool.h"
#include "slim/error.h"

namespace slim {

namespace {
constexpr int kLogitRows = 64;  // LM-head rows per pass: bounds the logits buffer (n_vocab × 64 floats)
}

struct Context::Impl {
  ThreadPool pool;
  std::vector<LayerKV> kv;
  std::unique_ptr<KVTier> tier;  // after kv: destroyed first (it owns frames the stores point to)
  Workspace ws;
  std::vector<float> x;
  std::vector<int32_t> pos;
  std::vector<int32_t> tok;
  std::vector<float> logits;
  int n_ubatch;
  bool llama_compat = false;
  size_t kv_row_bytes = 0;  // bytes of one token's K (or V) in one layer
  int swa_slack = 64;
  // Pruning: the policy, and the whole prompt's hidden states for layer-major prefill.
  PruneConfig prune;
  std::unique_ptr<PrefillPolicy> policy;
  std::unique_ptr<LazyLLM> lazy;
  PruneStats stats;
  std::vector<float> h_all;
  std::vector<int32_t> pos_all;

  // SlimInfer decode-time re-scoring (rescore=N, methods.md option B) after a pruned prefill of [p0, p1):
  // at each re-scoring step, pruning layer k scores the prompt rows it stores (those its own attention saw)
  // with the step's query and selects the top units of them; layers in (layers[k], layers[k+1]] then see
  // only the selected prompt keys (key_mask; keys outside the prompt are always visible). Each selection is
  // made among the rows the previous one left visible, so deeper selections are nested in shallower ones.
  struct Rescore {
    bool live = false;
    int32_t p0 = 0, p1 = 0;
    int countdown = 0;                       // steps until the next re-scoring (0: this step)
    std::vector<int> level;                  // per layer: pruning level whose selection it sees, -1 none
    std::vector<int> scores_level;           // per layer: pruning level it scores at, -1 none
    std::vector<std::vector<uint8_t>> mask;  // per level: visibility by position; empty: everything
    std::vector<uint8_t> restricted;         // per layer: a KVTier::set_active is in force
    double visible_sum = 0;
    uint64_t visible_n = 0;
  } rs;

  void start_rescore(const ModelConfig& c, int32_t p0, int32_t p1);
  void stop_rescore();
  void rescored_step(const Model& m, int32_t token, int32_t position, int n_ctx);
  void select_level(int k, int l, const ScoreProbe& probe, const uint8_t* seen, int n_ctx);
  void apply_level(int k, int n_layer);

  Impl(int threads) : pool(threads) {}
};

void Context::Impl::start_rescore(const ModelConfig& c, int32_t p0, int32_t p1) {
  stop_rescore();
  const std::vector<int>& layers = prune.layers;
  rs.live = true;
  rs.p0 = p0;
  rs.p1 = p1;
  rs.countdown = 0;
  rs.level.assign(c.n_layer, -1);
  rs.scores_level.assign(c.n_layer, -1);
  for (int k = 0; k < static_cast<int>(layers.size()); ++k) {
    rs.scores_level[layers[k]] = k;
    for (int l = layers[k] + 1; l < c.n_layer; ++l) rs.level[l] = k;
  }
  rs.mask.assign(layers.size(), {});
  stats.rescore_selected.assign(layers.size(), {});
  rs.restricted.assign(c.n_layer, 0);
  rs.visible_sum = 0;
  rs.visible_n = 0;
}

void Context::Impl::stop_rescore() {
  if (tier)
    for (size_t l = 0; l < rs.restricted.size(); ++l)
      if (rs.restricted[l]) tier->clear_active(static_cast<int>(l));
  rs = Rescore{};
}

// One token through every layer with the current selections, re-scoring first when due. Leaves the
// logits in logits[0, n_vocab).
void Context::Impl::rescored_step(const Model& m, int32_t token, int32_t position, int n_ctx) {
  const ModelConfig& c = m.config();
  const int L = c.n_layer;
  const bool now = rs.countdown == 0;
  rs.countdown = now ? prune.rescore - 1 : rs.countdown - 1;
  stats.rescore_steps += now;
  tok[0] = token;
  embed_tokens(m, tok.data(), 1, x.data(), pool);
  pos[0] = position;
  Rows rows{x.data(), pos.data(), 1};
  for (int l = 0; l < L; ++l) {
    const int lv = rs.level[l], k = now ? rs.scores_level[l] : -1;
    const uint8_t* seen = lv >= 0 && !rs.mask[lv].empty() ? rs.mask[lv].data() : nullptr;
    std::unique_ptr<ScoreProbe> probe;
    // A sliding-window store has lost the distant prompt rows: it does not re-score (its level inherits).
    if (k >= 0 && !kv[l].ring())
    {
      probe = std::make_unique<ScoreProbe>(c.n_head, c.n_head_kv, c.head_dim,
                                           c.arch != Arch::Gemma3 ? c.attn_scale : 1.f, position, 1);
      probe->set_head_max(prune.head_max);
    }
    {
      KVLayerScope pinned(tier.get(), l);
      forward_layer(m, l, rows, kv[l], ws, pool, l == L - 1 ? 1 : -1, llama_compat, probe.get(), seen);
      if (probe) select_level(k, l, *probe, seen, n_ctx);  // reads the store while it is pinned
    }
    if (k >= 0) {
      if (!probe) {
        rs.mask[k] = lv >= 0 ? rs.mask[lv] : std::vector<uint8_t>{};
        stats.rescore_selected[k] = lv >= 0 ? stats.rescore_selected[lv] : std::vector<int32_t>{};
      }
      apply_level(k, L);
    }
  }
  stats.restricted_steps += std::any_of(rs.mask.begin(), rs.mask.end(), [](const auto& v) { return !v.empty(); });
  output_logits(m, x.data(), 1, logits.data(), ws, pool);
}

// Level k's selection at pruning layer l: scores of the keys l's attention saw (`seen`), then the policy's
// unit selection over the prompt rows among them.
void Context::Impl::select_level(int k, int l, const ScoreProbe& probe, const uint8_t* seen, int n_ctx) {
  const auto t0 = std::chrono::steady_clock::now();
  const LayerKV& store = kv[l];
  std::vector<int> slots;
  slots.reserve(store.size());
  for (int s = 0; s < store.size(); ++s) {
    const int32_t p = store.pos(s);
    if (p >= 0 && (!seen || seen[p])) slots.push_back(s);
  }
  const std::vector<float> sc = probe.scores_stored(store, slots, pool);
  // Prompt rows in position order (slot order already is, for an appended store; sort to be safe).
  std::vector<std::pair<int32_t, float>> prompt;
  for (size_t i = 0; i < slots.size(); ++i) {
    const int32_t p = store.pos(slots[i]);
    if (p >= rs.p0 && p < rs.p1) prompt.emplace_back(p, sc[i]);
  }
  std::sort(prompt.begin(), prompt.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<int32_t> ppos(prompt.size());
  std::vector<float> pscore(prompt.size());
  for (size_t i = 0; i < prompt.size(); ++i) ppos[i] = prompt[i].first, pscore[i] = prompt[i].second;
  std::vector<uint8_t>& mask = rs.mask[k];
  mask.assign(n_ctx, 1);
  std::fill(mask.begin() + rs.p0, mask.begin() + rs.p1, 0);
  std::vector<int32_t>& selected = stats.rescore_selected[k];
  selected.clear();
  if (!ppos.empty()) {
    const PruneInput in{l, ppos.data(), static_cast<int>(ppos.size()), pscore.data(), rs.p0, rs.p1 - rs.p0};
    for (int i : policy->select(in)) {
      mask[ppos[i]] = 1;
      selected.push_back(ppos[i]);
    }
  }
  stats.rescore_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Level k's selection takes effect for layers (layers[k], layers[k+1]]: the KV tier needs only the blocks
// holding visible rows there, and the statistics count what stays visible.
void Context::Impl::apply_level(int k, int n_layer) {
  const std::vector<int>& layers = prune.layers;
  const int hi = k + 1 < static_cast<int>(layers.size()) ? layers[k + 1] : n_layer - 1;
  const std::vector<uint8_t>& mask = rs.mask[k];
  for (int l = layers[k] + 1; l <= hi; ++l) {
    const LayerKV& store = kv[l];
    if (store.ring()) continue;  // a window of rows: always all needed (and not what the restriction is for)
    std::vector<int> blocks;
    int stored = 0, visible = 0;
    for (int s = 0; s < store.size(); ++s) {
      const int32_t p = store.pos(s);
      if (p < 0) continue;
      const bool in_prompt = p >= rs.p0 && p < rs.p1;
      const bool vis = mask.empty() || mask[p];
      stored += in_prompt;
      visible += in_prompt && vis;
      if (vis && (blocks.empty() || blocks.back() != store.block_of(s))) blocks.push_back(store.block_of(s));
    }
    if (stored > 0) {
      rs.visible_sum += double(visible) / stored;
      ++rs.visible_n;
      stats.rescore_visible = rs.visible_sum / double(rs.visible_n);
    }
    if (!tier) continue;
    if (mask.empty()) {
      if (rs.restricted[l]) tier->clear_active(l);
      rs.restricted[l] = 0;
    } else {
      stats.rescore_swaps += tier->set_active(l, blocks);
      rs.restricted[l] = 1;
    }
  }
}

Context::Context(const Model& model, const ContextParams& params) : model_(model) {
  const ModelConfig& c = model.config();
  n_ctx_ = params.n_ctx <= 0 ? c.n_ctx_train : std::min(params.n_ctx, c.n_ctx_train);
  if (n_ctx_ < 1) throw Error("context: n_ctx must be positive");
  impl_ = std::make_unique<Impl>(std::max(1, params.n_threads));
  Impl& I = *impl_;
  I.n_ubatch = std::max(1, std::min(params.n_ubatch, n_ctx_));
  I.llama_compat = params.llama_compat;
  I.swa_slack = std::max(0, params.swa_slack);
  I.prune = params.prune;
  resolve_prune_defaults(I.prune, c);
  I.policy = make_prefill_policy(I.prune);
  // LazyLLM revives old tokens at any layer, and a revived row needs its whole window of keys: no rings then.
  const bool lazy = I.prune.method == PruneMethod::LazyLLM;
  const KVType kt = params.kv_f32 ? KVType::F32 : KVType::F16;
  const int kvd = c.n_head_kv * c.head_dim;
  I.kv_row_bytes = size_t(kvd) * (params.kv_f32 ? 4 : 2);
  I.kv.resize(c.n_layer);
  for (int l = 0; l < c.n_layer; ++l) {
    // Sliding-window layers only ever need the last `window` positions plus the batch being added.
    if (!lazy && c.layer_swa[l] && c.sliding_window > 0 && c.sliding_window + I.n_ubatch < n_ctx_)
      I.kv[l].init(kvd, c.sliding_window + I.n_ubatch, /*ring=*/true, kt);
    else
      I.kv[l].init(kvd, n_ctx_, /*ring=*/false, kt);
  }
  if (params.kv_budget > 0) {
    if (lazy) throw Error("context: --kv-budget is not supported with lazyllm yet");
    // A layer larger than the budget streams through it window by window; sliding-window rings must fit.
    const size_t need = KVTier::min_budget(I.kv);
    if (params.kv_budget < need)
      throw Error("context: --kv-budget of " + std::to_string(params.kv_budget >> 10) + " KiB is below the minimum " +
                  std::to_string((need + 1023) >> 10) + " KiB for this context (a sliding-window layer's ring plus " +
                  "one block, or 8 blocks); raise it");
    KVTierParams tp;
    tp.budget_bytes = params.kv_budget;
    tp.cold_dir = params.kv_cold_dir;
    I.tier = std::make_unique<KVTier>(tp, c.n_layer);
    I.tier->attach(I.kv);
  }
  I.ws.reserve(c, std::max(I.n_ubatch, kLogitRows));
  I.x.resize(size_t(I.n_ubatch) * c.n_embd);
  I.pos.resize(I.n_ubatch);
  I.tok.resize(I.n_ubatch);
  I.logits.resize(size_t(c.n_vocab));  // one row; grown to kLogitRows rows only if all logits are asked for
  last_logits_.resize(c.n_vocab);
  if (lazy) I.lazy = std::make_unique<LazyLLM>(model, I.prune, n_ctx_);
}

Context::~Context() = default;

void Context::reset() {
  n_past_ = 0;
  impl_->stop_rescore();
  if (impl_->lazy) impl_->lazy->reset();
  for (LayerKV& k : impl_->kv) k.clear();
}

bool Context::truncate(int n) {
  if (n >= n_past_) return true;
  bool ok = n >= 0;
  const ModelConfig& c = model_.config();
  // Re-scoring survives a rollback of generated tokens (the next step re-scores), not one into the prompt.
  if (impl_->rs.live && n < impl_->rs.p1) impl_->stop_rescore();
  impl_->rs.countdown = 0;
  for (int l = 0; l < c.n_layer && ok; ++l)
    ok = impl_->kv[l].truncate(n, c.layer_swa[l] ? c.sliding_window : 0);
  if (!ok) {
    reset();
    return false;
  }
  n_past_ = n;
  if (impl_->lazy) impl_->lazy->truncate(n);
  return true;
}

size_t Context::kv_bytes_used() const {
  size_t b = 0;
  for (const LayerKV& k : impl_->kv) b += k.bytes_used();
  return b;
}

size_t Context::kv_bytes_reserved() const {
  size_t b = 0;
  for (const LayerKV& k : impl_->kv) b += k.bytes_reserved();
  return b;
}

// Sliding-window layers keep only what a future query can see (plus a little slack so that a chat can roll
// back a few tokens with truncate()), instead of window + ubatch rows.
void Context::forget_out_of_window() {
  const ModelConfig& c = model_.config();
  for (int l = 0; l < c.n_layer; ++l)
    if (impl_->kv[l].ring()) impl_->kv[l].forget_before(n_past_ - c.sliding_window + 1 - impl_->swa_slack);
}

size_t Context::kv_bytes_dense() const {
  const ModelConfig& c = model_.config();
  size_t b = 0;
  for (int l = 0; l < c.n_layer; ++l) {
    // A dense context's sliding-window layer is a ring (when the window fits the context) that holds the last
    // window + slack positions between calls (forget_out_of_window). Decided from the model, not from this
    // context's stores: LazyLLM keeps whole stores on local layers, and its KV is compared with dense's.
    const bool ring = !c.layer_swa.empty() && c.layer_swa[l] && c.sliding_window > 0 &&
                      c.sliding_window + impl_->n_ubatch < n_ctx_;
    const size_t ring_rows = std::min(c.sliding_window - 1 + impl_->swa_slack, c.sliding_window + impl_->n_ubatch);
    const size_t rows = ring ? std::min<size_t>(ring_rows, n_past_) : n_past_;
    b += rows * impl_->kv_row_bytes * 2;
  }
  return b;
}

std::vector<int32_t> Context::layer_positions(int layer) const {
  if (layer < 0 || layer >= model_.config().n_layer) throw Error("context: layer index out of range");
  const LayerKV& k = impl_->kv[layer];
  std::vector<int32_t> p(k.positions(), k.positions() + k.size());
  std::sort(p.begin(), p.end());
  return p;
}

const PruneStats& Context::prune_stats() const { return impl_->stats; }
const PruneConfig& Context::prune_config() const { return impl_->prune; }
KVManagerStats Context::kv_stats() const { return impl_->tier ? impl_->tier->stats() : KVManagerStats{}; }

// Layer-major prefill with pruning: every layer runs over all surviving prompt rows (in micro-batches)
// before the next starts, so a policy sees the whole prompt at a pruning layer and the rows it drops are
// never computed again. With nothing pruned the result is bit-identical to the token-major path: each
// row meets the same keys in the same order either way.
void Context::eval_pruned(const int32_t* tokens, int n, const ProgressCallback* progress) {
  const ModelConfig& c = model_.config();
  Impl& I = *impl_;
  const kernels::LlamaLanes lanes(I.llama_compat);
  const int d = c.n_embd, L = c.n_layer;
  I.stop_rescore();  // a new prompt: the previous one's decode selections end
  I.h_all.resize(size_t(n) * d);
  I.pos_all.resize(n);
  embed_tokens(model_, tokens, n, I.h_all.data(), I.pool);
  const int32_t p0 = n_past_;
  for (int i = 0; i < n; ++i) I.pos_all[i] = p0 + i;
  PruneStats st;
  st.active = true;
  st.prompt_tokens = n;
  st.rows_per_layer.assign(L, 0);
  st.token_layers.assign(n, L);
  int m = n;  // rows alive
  // Keeps the rows listed in `keep` (ascending indices), in order; records where the others stopped.
  auto compact = [&](const std::vector<int>& keep, int l) {
    if (keep.empty() || keep.back() != m - 1) throw Error("prune: policy dropped the prompt's last token");
    for (int i = 0, k = 0; i < m; ++i) {
      if (k < static_cast<int>(keep.size()) && keep[k] == i) ++k;
      else st.token_layers[I.pos_all[i] - p0] = l + 1;
    }
    for (size_t i = 0; i < keep.size(); ++i) {
      const int src = keep[i];
      if (src == static_cast<int>(i)) continue;
      std::memcpy(I.h_all.data() + i * d, I.h_all.data() + int64_t(src) * d, sizeof(float) * d);
      I.pos_all[i] = I.pos_all[src];
    }
    m = static_cast<int>(keep.size());
  };
  // Per split pruning layer with kv_keep: which prompt positions keep their K/V there after prefill.
  std::vector<std::pair<int, std::vector<uint8_t>>> retained;
  auto select = [&](int l, ScoreProbe* probe, bool split) {
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<float> scores;
    if (probe) scores = probe->scores(I.pool);
    PruneInput in{l, I.pos_all.data(), m, probe ? scores.data() : nullptr, p0, n};
    const std::vector<int> keep = I.policy->select(in);
    if (split) {
      const std::vector<int> rows = I.policy->retain(in);
      if (!rows.empty()) {
        std::vector<uint8_t> mask(n, 0);
        for (int r : rows) mask[I.pos_all[r] - p0] = 1;
        for (int r : keep) mask[I.pos_all[r] - p0] = 1;  // a kept row's K/V always stays
        retained.emplace_back(l, std::move(mask));
      }
    }
    st.probe_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return keep;
  };
  std::vector<int> split_layers;
  for (int l = 0; l < L; ++l) {
    st.rows_per_layer[l] = m;
    const bool last = l == L - 1;
    const bool prune_here = !last && I.policy->prunes_after(l);
    // A layer that stores every row (not a sliding-window ring) can be split: K/V for all rows, then
    // attention and FFN only for the rows the probe keeps — pruned rows' outputs would be thrown away.
    const bool split = prune_here && I.kv[l].capacity() >= n_ctx_;
    KVLayerScope pinned(I.tier.get(), l);  // with a RAM budget: this layer's blocks resident, the next prefetched
    std::unique_ptr<ScoreProbe> probe;
    if (prune_here && I.policy->wants_probe(l)) {
      const bool scale_scores = c.arch != Arch::Gemma3;  // as forward_layer: Gemma pre-scales q
      const int32_t from = p0 + std::max(0, n - I.policy->probe_window());
      probe = std::make_unique<ScoreProbe>(c.n_head, c.n_head_kv, c.head_dim, scale_scores ? c.attn_scale : 1.f,
                                           from, m);
      probe->set_head_max(I.prune.head_max);
    }
    if (split) {
      for (int c0 = 0; c0 < m; c0 += I.n_ubatch) {
        const Rows rows{I.h_all.data() + int64_t(c0) * d, I.pos_all.data() + c0, std::min(I.n_ubatch, m - c0)};
        layer_qkv(model_, l, rows, I.kv[l], I.ws, I.pool, probe.get());
      }
      compact(select(l, probe.get(), true), l);
      split_layers.push_back(l);
      for (int c0 = 0; c0 < m; c0 += I.n_ubatch) {
        Rows rows{I.h_all.data() + int64_t(c0) * d, I.pos_all.data() + c0, std::min(I.n_ubatch, m - c0)};
        layer_q(model_, l, rows, I.ws, I.pool);
        layer_rest(model_, l, rows, rows.n, I.kv[l], I.ws, I.pool, -1, I.llama_compat);
      }
    } else {
      for (int c0 = 0; c0 < m;) {
        const int nb = std::min(I.n_ubatch, m - c0);
        float* x = I.h_all.data() + int64_t(c0) * d;
        int32_t* pos = I.pos_all.data() + c0;
        int keep_rows = -1;
        if (last) {
          keep_rows = c0 + nb == m ? 1 : 0;  // only the prompt's last token needs an output
          if (keep_rows == 1 && nb > 1) {
            std::swap_ranges(x, x + d, x + int64_t(nb - 1) * d);
            std::swap(pos[0], pos[nb - 1]);
          }
        }
        Rows rows{x, pos, nb};
        forward_layer(model_, l, rows, I.kv[l], I.ws, I.pool, keep_rows, I.llama_compat, probe.get());
        if (last && keep_rows == 1) std::memcpy(I.x.data(), x, sizeof(float) * d);
        c0 += nb;
      }
      if (prune_here) compact(select(l, probe.get(), false), l);
    }
    if (progress) (*progress)(static_cast<int>(int64_t(l + 1) * n / L), n);
  }
  output_logits(model_, I.x.data(), 1, I.logits.data(), I.ws, I.pool);
  std::memcpy(last_logits_.data(), I.logits.data(), sizeof(float) * c.n_vocab);
  // Store rewrites open the layer in the tier: a layer larger than the KV budget streams, and its rows move
  // window by window (LayerKV::compact_streamed).
  if (I.prune.evict)
    for (int l : split_layers) {  // tokens dropped after layer l leave its store too (decode will not see them)
      KVLayerScope open(I.tier.get(), l);
      I.kv[l].erase_if([&](int32_t p) { return p >= p0 && p < p0 + n && st.token_layers[p - p0] == l + 1; });
    }
  for (const auto& layer_mask : retained) {  // kv_keep: the lowest-scored dropped units leave the store
    const std::vector<uint8_t>& mask = layer_mask.second;
    KVLayerScope open(I.tier.get(), layer_mask.first);
    I.kv[layer_mask.first].erase_if([&](int32_t p) { return p >= p0 && p < p0 + n && !mask[p - p0]; });
  }
  n_past_ += n;
  forget_out_of_window();
  st.kv_bytes = kv_bytes_used();
  st.kv_bytes_dense = kv_bytes_dense();
  for (const LayerKV& k : I.kv) st.kv_rows_per_layer.push_back(static_cast<int>(k.bytes_used() / (2 * k.row_bytes())));
  I.stats = std::move(st);
  if (I.prune.rescore > 0 && I.prune.method == PruneMethod::SlimInfer) I.start_rescore(c, p0, p0 + n);
  if (progress) (*progress)(n, n);
}

void Context::eval(const int32_t* tokens, int n, const LogitsCallback* all_logits, const ProgressCallback* progress) {
  const ModelConfig& c = model_.config();
  Impl& I = *impl_;
  const kernels::LlamaLanes lanes(I.llama_compat);
  if (n <= 0) return;
  if (int64_t(n_past_) + n > n_ctx_)
    throw Error("context: " + std::to_string(n_past_ + int64_t(n)) + " tokens do not fit in the context of " +
                std::to_string(n_ctx_) + " (use -c to raise it; the model was trained for " +
                std::to_string(c.n_ctx_train) + ")");
  for (int i = 0; i < n; ++i)
    if (tokens[i] < 0 || tokens[i] >= c.n_vocab)
      throw Error("context: token id " + std::to_string(tokens[i]) + " out of range [0, " +
                  std::to_string(c.n_vocab) + ")");

  if (I.lazy) {
    I.lazy->eval(tokens, n, n_past_, I.kv, I.ws, I.pool, I.logits.data(), last_logits_.data(), all_logits, progress,
                 I.stats);
    n_past_ += n;
    // Against what a dense context would store (rings on sliding-window layers; LazyLLM keeps whole stores
    // there, so on Gemma 3 it can hold more KV than dense).
    I.stats.kv_bytes_dense = kv_bytes_dense();
    return;
  }
  // Pruning applies to prompts: calls that want every token's logits (perplexity) or are short (decode) run
  // dense over whatever the layers store.
  const bool short_call = n < std::max(2, I.prune.min_tokens);
  if (I.policy && !all_logits && !short_call) {
    eval_pruned(tokens, n, progress);
    return;
  }
  if (I.rs.live && short_call) {
    // Decode-time re-scoring: token by token, so each step selects with its own query.
    for (int i = 0; i < n; ++i) {
      I.rescored_step(model_, tokens[i], n_past_, n_ctx_);
      if (all_logits) (*all_logits)(i, I.logits.data());
      ++n_past_;
      forget_out_of_window();  // as after a one-token eval() call
      if (progress) (*progress)(i + 1, n);
    }
    std::memcpy(last_logits_.data(), I.logits.data(), sizeof(float) * c.n_vocab);
    return;
  }
  I.stop_rescore();  // a long all-logits call (perplexity) runs dense and ends the decode selections
  if (all_logits && I.logits.size() < size_t(kLogitRows) * c.n_vocab)
    I.logits.resize(size_t(kLogitRows) * c.n_vocab);  // 64 MiB for a 262k vocabulary: only when needed
  for (int done = 0; done < n;) {
    const int nb = std::min(I.n_ubatch, n - done);
    const bool last_batch = done + nb == n;
    std::memcpy(I.tok.data(), tokens + done, sizeof(int32_t) * nb);
    embed_tokens(model_, I.tok.data(), nb, I.x.data(), I.pool);
    for (int i = 0; i < nb; ++i) I.pos[i] = n_past_ + i;

    // Rows whose logits are wanted; in the last layer only they are computed past attention.
    int n_out = all_logits ? nb : (last_batch ? 1 : 0);
    if (!all_logits && last_batch && nb > 1) {
      // Put the last token first so the last layer can stop after row 0 (positions travel with the rows).
      std::swap_ranges(I.x.begin(), I.x.begin() + c.n_embd, I.x.begin() + int64_t(nb - 1) * c.n_embd);
      std::swap(I.pos[0], I.pos[nb - 1]);
    }
    Rows rows{I.x.data(), I.pos.data(), nb};
    for (int l = 0; l < c.n_layer; ++l) {
      KVLayerScope pinned(I.tier.get(), l);
      forward_layer(model_, l, rows, I.kv[l], I.ws, I.pool, l == c.n_layer - 1 ? n_out : -1, I.llama_compat);
    }

    for (int r0 = 0; r0 < n_out; r0 += kLogitRows) {
      const int nr = std::min(kLogitRows, n_out - r0);
      output_logits(model_, I.x.data() + int64_t(r0) * c.n_embd, nr, I.logits.data(), I.ws, I.pool);
      for (int r = 0; r < nr; ++r) {
        const float* lg = I.logits.data() + int64_t(r) * c.n_vocab;
        if (all_logits) (*all_logits)(done + r0 + r, lg);
        if (last_batch && r0 + r == n_out - 1)
          std::memcpy(last_logits_.data(), lg, sizeof(float) * c.n_vocab);
      }
    }
    n_past_ += nb;
    done += nb;
    if (progress) (*progress)(done, n);
  }
  forget_out_of_window();
}

}  // namespace slim
