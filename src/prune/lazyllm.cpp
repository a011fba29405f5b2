// LazyLLM: per-token frontier + one aux hidden state, layer-major evaluation with revival (see lazyllm.h).
#include "prune/lazyllm.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <random>
#include <string>

#include "runtime/thread_pool.h"
#include "slim/error.h"
#include "tensor/kernels.h"
#include "tensor/ops.h"

namespace slim {

namespace {

constexpr int kLogitRows = 64;  // LM-head rows per pass when every token's logits are wanted

// Captures the post-RoPE queries of the scoring window: the new tokens at positions >= from (row i of q is
// position from + i). They score the selection at a pruning layer.
struct WindowQueryTap : LayerTap {
  int32_t from = 0;
  int w = 0, qd = 0, got = 0;
  std::vector<float> q;
  void reset(int32_t first, int count, int q_dim) {
    from = first, w = count, qd = q_dim, got = 0;
    q.resize(size_t(w) * qd);
  }
  void on_qk(const float* qs, const float*, const int32_t* pos, int n) override {
    for (int r = 0; r < n; ++r)
      if (pos[r] >= from && pos[r] < from + w) {
        std::memcpy(q.data() + int64_t(pos[r] - from) * qd, qs + int64_t(r) * qd, sizeof(float) * qd);
        ++got;
      }
  }
};

}  // namespace

struct LazyLLM::State {
  const Model& m;
  PruneConfig cfg;
  int n_ctx = 0;
  // Per position.
  std::vector<int16_t> f;         // layers [0, f) are done for the token (K/V stored, output passed on)
  std::vector<uint8_t> kv_at_f;   // 1: layer f holds its K/V too (it was dropped at a split scoring layer,
                                  // which stores every row's K/V before it knows who goes on); resuming
                                  // there runs only that layer's query, attention and FFN
  std::vector<int32_t> aux_slot;  // aux entry (input of layer f) or -1
  int32_t n_seen = 0;             // positions [0, n_seen) have state
  // Aux entries: n_embd floats each, recycled through a free list.
  std::vector<float> aux_store;
  std::vector<int32_t> free_slots;
  int32_t n_slots = 0;
  size_t n_aux = 0;
  // The last call of 2+ tokens (for PruneStats::token_layers).
  int32_t prompt_p0 = 0;
  int prompt_n = 0;
  // Rows of the current call (sorted by position), and scratch.
  std::vector<float> x, x2;
  std::vector<int32_t> pos, pos2;
  std::vector<uint8_t> from_aux, from_aux2;
  std::vector<uint8_t> sel;  // per position: selected (its key visible) in this call
  std::vector<uint8_t> sel_before;  // sel at the start of a scoring layer: what its attention sees
  std::vector<float> xa;            // rows that need K/V at a layer where others already have it
  std::vector<int32_t> posa;
  std::vector<float> pos_score;  // per position: its score at this call's latest scoring layer (0 before)
  std::vector<float> carried;    // per position: its mixed score at this call's previous scoring layer (carry)
  std::vector<int32_t> key_slot, key_pos, revive;
  std::vector<float> logit, score, raw, out_logits;
  std::vector<int> order;
  bool trace_on = false;
  std::vector<std::vector<uint8_t>> trace;
  uint64_t shuffle_seed = 0;

  State(const Model& model, const PruneConfig& c, int ctx) : m(model), cfg(c), n_ctx(ctx) {
    f.assign(ctx, 0);
    kv_at_f.assign(ctx, 0);
    aux_slot.assign(ctx, -1);
  }

  float* aux_row(int32_t slot) { return aux_store.data() + int64_t(slot) * m.config().n_embd; }

  void save_aux(int32_t p, const float* h) {
    const int d = m.config().n_embd;
    int32_t slot;
    if (!free_slots.empty()) {
      slot = free_slots.back();
      free_slots.pop_back();
    } else {
      slot = n_slots++;
      aux_store.resize(size_t(n_slots) * d);
    }
    std::memcpy(aux_row(slot), h, sizeof(float) * d);
    aux_slot[p] = slot;
    ++n_aux;
  }

  void drop_aux(int32_t p) {
    if (aux_slot[p] < 0) return;
    free_slots.push_back(aux_slot[p]);
    aux_slot[p] = -1;
    --n_aux;
  }

  // Adds the selected old tokens whose frontier is l and that wait in the aux cache to the rows, keeping the
  // rows sorted by position (old tokens already among the rows carry no aux entry). Revived rows stay rows
  // through the following layers, and each costs a row of work at every one of them, so the budget counts
  // the revived rows present: at most budget of them at this layer (no limit if budget < 0), the new ones
  // the best-scored at this call's latest scoring layer, ties to the earlier position. The others are
  // deselected for the rest of this call (their aux entry stays: a later call may revive them). Returns
  // how many were deselected.
  int revive_at(int l, int32_t n_past, int64_t budget) {
    const int d = m.config().n_embd;
    revive.clear();
    for (int32_t t = 0; t < n_past; ++t)
      if (sel[t] && f[t] == l && aux_slot[t] >= 0) revive.push_back(t);
    if (budget >= 0) {
      for (uint8_t a : from_aux) budget -= a;
      budget = std::max<int64_t>(0, budget);
    }
    int over = 0;
    if (budget >= 0 && int64_t(revive.size()) > budget) {
      const auto better = [&](int32_t a, int32_t b) {
        return pos_score[a] > pos_score[b] || (pos_score[a] == pos_score[b] && a < b);
      };
      // Linear selection, then the few winners back in position order (the merge below wants it).
      std::nth_element(revive.begin(), revive.begin() + budget, revive.end(), better);
      for (size_t i = size_t(budget); i < revive.size(); ++i) sel[revive[i]] = 0;
      over = static_cast<int>(revive.size() - size_t(budget));
      revive.resize(size_t(budget));
      std::sort(revive.begin(), revive.end());
    }
    if (revive.empty()) return over;
    const int mr = static_cast<int>(pos.size()), nr = static_cast<int>(revive.size());
    x2.resize(size_t(mr + nr) * d);
    pos2.resize(mr + nr);
    from_aux2.resize(mr + nr);
    for (int i = 0, j = 0, o = 0; o < mr + nr; ++o) {
      if (j < nr && (i >= mr || revive[j] < pos[i])) {
        const int32_t t = revive[j++];
        std::memcpy(x2.data() + int64_t(o) * d, aux_row(aux_slot[t]), sizeof(float) * d);
        drop_aux(t);  // the row carries it now
        pos2[o] = t;
        from_aux2[o] = 1;
      } else {
        std::memcpy(x2.data() + int64_t(o) * d, x.data() + int64_t(i) * d, sizeof(float) * d);
        pos2[o] = pos[i];
        from_aux2[o] = from_aux[i];
        ++i;
      }
    }
    x.swap(x2);
    pos.swap(pos2);
    from_aux.swap(from_aux2);
    return over;
  }

  // Score of every selected token in store kv: its attention probability from the w window queries q
  // (w × n_head × head_dim, post-RoPE; query i at position q0 + i), mean over queries and heads, each query
  // seeing the selected keys up to its own position and no sliding window; then pooled (pool_scores).
  // Fills key_pos / score and pos_score.
  void score_keys(const float* q, int w, int32_t q0, const LayerKV& kv, int32_t N, ThreadPool& pool) {
    const ModelConfig& c = m.config();
    const int hd = c.head_dim, nh = c.n_head, group = c.n_head / c.n_head_kv;
    const float scale = c.arch != Arch::Gemma3 ? c.attn_scale : 1.f;
    key_slot.clear();
    key_pos.clear();
    for (int j = 0; j < kv.size(); ++j) {
      const int32_t p = kv.pos(j);
      if (p >= 0 && p < N && sel[p]) key_slot.push_back(j), key_pos.push_back(p);
    }
    const int nk = static_cast<int>(key_slot.size()), nrow = w * nh;  // one logit row per (query, head)
    logit.resize(size_t(nrow) * nk);
    const bool f16 = kv.type() == KVType::F16;
    pool.run([&](int tid, int nth) {
      int64_t b, e;
      ThreadPool::split(nk, tid, nth, b, e);
      std::vector<float> k(size_t(c.n_head_kv) * hd);
      for (int64_t j = b; j < e; ++j) {
        const void* kr = kv.k_row(key_slot[j]);
        if (f16) kernels::fp16_to_fp32_row(static_cast<const uint16_t*>(kr), k.data(), int64_t(k.size()));
        else std::memcpy(k.data(), kr, sizeof(float) * k.size());
        for (int i = 0; i < w; ++i)
          for (int h = 0; h < nh; ++h) {
            const float* qh = q + (int64_t(i) * nh + h) * hd;
            const float* kh = k.data() + int64_t(h / group) * hd;
            // A key after the query's position is causally hidden from it.
            logit[size_t(i * nh + h) * nk + j] = key_pos[j] <= q0 + i ? ops::dot(qh, kh, hd) * scale : -INFINITY;
          }
      }
    });
    // Each row to probabilities / (w × nh), so that summing the rows gives the mean.
    pool.run([&](int tid, int nth) {
      int64_t b, e;
      ThreadPool::split(nrow, tid, nth, b, e);
      for (int64_t r = b; r < e; ++r) {
        float* lr = logit.data() + size_t(r) * nk;
        float mx = -INFINITY;
        for (int j = 0; j < nk; ++j) mx = std::max(mx, lr[j]);
        double sum = 0;
        for (int j = 0; j < nk; ++j) sum += (lr[j] = std::exp(lr[j] - mx));
        const float inv = static_cast<float>(1.0 / (sum * nrow));
        for (int j = 0; j < nk; ++j) lr[j] *= inv;
      }
    });
    score.assign(nk, 0.f);
    pool.run([&](int tid, int nth) {  // rows summed in a fixed order: the thread count changes no bit
      int64_t b, e;
      ThreadPool::split(nk, tid, nth, b, e);
      for (int r = 0; r < nrow; ++r) {
        const float* lr = logit.data() + size_t(r) * nk;
        for (int64_t j = b; j < e; ++j) score[j] += lr[j];
      }
    });
    pool_scores(N);
    if (cfg.carry > 0.f) carry_scores();
  }

  // carry=β (as SlimInfer's): a token's score adds β times its normalized score at this call's previous
  // scoring layer, so what the question found at an earlier layer stays selected when a deeper probe looks
  // elsewhere. Scores are normalized to sum 1 over the selected tokens first.
  void carry_scores() {
    double sum = 0;
    for (float v : score) sum += v;
    const float inv = sum > 0 ? static_cast<float>(1.0 / sum) : 0.f;
    for (size_t j = 0; j < score.size(); ++j) {
      float& c = carried[key_pos[j]];
      c = score[j] * inv + cfg.carry * c;
      score[j] = c;
    }
  }

  // A token's score becomes the max over the selected tokens within ±cfg.pool positions, so the words
  // around an attended token (the rest of a needle sentence) stay with it. Sets pos_score too.
  void pool_scores(int32_t N) {
    const int nk = static_cast<int>(key_pos.size()), r = std::max(0, cfg.pool);
    raw.assign(N, -INFINITY);
    for (int j = 0; j < nk; ++j) raw[key_pos[j]] = score[j];
    for (int j = 0; j < nk; ++j) {
      const int32_t p = key_pos[j];
      float best = raw[p];
      for (int32_t x = std::max(0, p - r); x <= std::min(N - 1, p + r); ++x) best = std::max(best, raw[x]);
      score[j] = best;
      pos_score[p] = best;
    }
  }

  // Deselects the floor(rate × selected) lowest-scoring selected tokens (never the window's, positions
  // >= keep_from; ties: the later position first). Returns how many.
  int prune_lowest(float rate, int32_t keep_from) {
    const int nk = static_cast<int>(key_pos.size());
    int kept = 0;
    for (int j = 0; j < nk; ++j)
      if (key_pos[j] >= keep_from) score[j] = std::numeric_limits<float>::infinity(), ++kept;
    const int k = std::min(nk - kept, static_cast<int>(std::floor(double(rate) * nk)));
    if (k <= 0) return 0;
    order.resize(nk);
    std::iota(order.begin(), order.end(), 0);
    std::nth_element(order.begin(), order.begin() + (k - 1), order.end(), [&](int a, int b) {
      return score[a] < score[b] || (score[a] == score[b] && key_pos[a] > key_pos[b]);
    });
    for (int i = 0; i < k; ++i) sel[key_pos[order[i]]] = 0;
    return k;
  }

  // Rows whose token was just deselected at scoring layer l leave. They ran only layer l's K/V (the split
  // scoring layer), so their hidden state is still the input of l: it becomes the aux entry, with layer l
  // marked as holding their K/V already.
  void drop_deselected_rows(int l) {
    const int d = m.config().n_embd;
    int o = 0;
    for (int r = 0; r < static_cast<int>(pos.size()); ++r) {
      if (!sel[pos[r]]) {
        save_aux(pos[r], x.data() + int64_t(r) * d);
        f[pos[r]] = static_cast<int16_t>(l);
        kv_at_f[pos[r]] = 1;
        continue;
      }
      if (o != r) {
        std::memcpy(x.data() + int64_t(o) * d, x.data() + int64_t(r) * d, sizeof(float) * d);
        pos[o] = pos[r];
        from_aux[o] = from_aux[r];
      }
      ++o;
    }
    x.resize(size_t(o) * d);
    pos.resize(o);
    from_aux.resize(o);
  }

  // Test hook: permutes rows [r0, r0 + nb) (inverse = true undoes the permutation of the same chunk).
  void shuffle_chunk(int r0, int nb, int l, bool inverse) {
    if (!shuffle_seed || nb < 2) return;
    const int d = m.config().n_embd;
    std::vector<int> perm(nb);
    std::iota(perm.begin(), perm.end(), 0);
    std::mt19937_64 rng(shuffle_seed * 1000003u + uint64_t(l) * 7919u + uint64_t(r0));
    std::shuffle(perm.begin(), perm.end(), rng);
    std::vector<float> xs(size_t(nb) * d);
    std::vector<int32_t> ps(nb);
    std::vector<uint8_t> fs(nb);
    // forward: new row i = old row perm[i]; inverse: old row perm[i] = new row i.
    for (int i = 0; i < nb; ++i) {
      const int from = inverse ? i : perm[i], to = inverse ? perm[i] : i;
      std::memcpy(xs.data() + int64_t(to) * d, x.data() + int64_t(r0 + from) * d, sizeof(float) * d);
      ps[to] = pos[r0 + from];
      fs[to] = from_aux[r0 + from];
    }
    std::memcpy(x.data() + int64_t(r0) * d, xs.data(), sizeof(float) * xs.size());
    std::copy(ps.begin(), ps.end(), pos.begin() + r0);
    std::copy(fs.begin(), fs.end(), from_aux.begin() + r0);
  }
};

LazyLLM::LazyLLM(const Model& m, const PruneConfig& cfg, int n_ctx) : s_(std::make_unique<State>(m, cfg, n_ctx)) {
  if (static_cast<int>(cfg.rates.size()) != m.config().n_layer)
    throw Error("lazyllm: wants one rate per layer (" + std::to_string(m.config().n_layer) + "), got " +
                std::to_string(cfg.rates.size()));
  if (m.config().n_layer > std::numeric_limits<int16_t>::max()) throw Error("lazyllm: too many layers");
}

LazyLLM::~LazyLLM() = default;

void LazyLLM::eval(const int32_t* tokens, int n, int32_t n_past, std::vector<LayerKV>& kv, Workspace& ws,
                   ThreadPool& pool, float* logits_scratch, float* last_logits, const LogitsCallback* all_logits,
                   const ProgressCallback* progress, PruneStats& stats) {
  State& S = *s_;
  const Model& m = S.m;
  const ModelConfig& c = m.config();
  const int L = c.n_layer, d = c.n_embd;
  if (n <= 0) return;
  if (n_past > S.n_seen) throw Error("lazyllm: the context holds tokens this state never saw");
  if (n_past < S.n_seen) truncate(n_past);
  const int32_t N = n_past + n;
  if (N > S.n_ctx) throw Error("lazyllm: " + std::to_string(N) + " tokens exceed the context");
  if (static_cast<int>(kv.size()) != L) throw Error("lazyllm: one KV store per layer expected");
  const bool may_prune = all_logits == nullptr;  // every token's logits: nothing may be left behind

  // Rows: the new tokens, at layer 0.
  S.sel.assign(N, 1);
  S.pos_score.assign(N, 0.f);
  S.carried.assign(N, 0.f);
  S.x.resize(size_t(n) * d);
  embed_tokens(m, tokens, n, S.x.data(), pool);
  S.pos.resize(n);
  std::iota(S.pos.begin(), S.pos.end(), n_past);
  S.from_aux.assign(n, 0);
  for (int32_t p = n_past; p < N; ++p) S.f[p] = 0, S.kv_at_f[p] = 0, S.aux_slot[p] = -1;
  S.n_seen = N;
  if (S.trace_on) S.trace.assign(L, {});

  std::vector<int> rows_per_layer(L, 0);
  uint64_t revived_pairs = 0, resumed_rows = 0;
  double probe_s = 0;
  bool masked = false;  // some token deselected: attention needs the key mask
  // Scoring window: the last min(window, n) new tokens (a decode step: the new token alone); always kept.
  const int w = std::max(1, std::min(S.cfg.window, n));
  WindowQueryTap tap;
  tap.reset(N - w, w, c.n_head * c.head_dim);
  // Revival budget: revived rows present at any one layer of a decode step (one new token). Each such row
  // costs the step about as much as a good part of its own row, so a step that revived what it selects
  // would be slower than dense. Calls of 2+ tokens (a prompt, a follow-up question) have no limit: their
  // revived rows share the call with n new rows, and a follow-up question must bring back what it needs.
  const int64_t budget = n == 1 && S.cfg.revive >= 0 ? S.cfg.revive : -1;
  // A decode step that may revive nothing has nothing to gain from scoring: it would only hide stored keys
  // (the masked attention costs the same), so it attends to every stored key and skips the probe.
  const bool frozen = budget == 0;

  for (int l = 0; l < L; ++l) {
    if (n_past > 0 && !frozen && S.revive_at(l, n_past, budget) > 0) masked = true;
    const int mrows = static_cast<int>(S.pos.size());
    if (S.trace_on) S.trace[l] = S.sel;
    const bool last = l == L - 1;
    const bool score_here = may_prune && !frozen && !last && S.cfg.rates[l] > 0.f;
    const uint8_t* mask = masked ? S.sel.data() : nullptr;
    tap.got = 0;
    int n_kv_done = 0;  // revived rows whose K/V this layer already holds
    for (int r = 0; r < mrows; ++r) n_kv_done += S.kv_at_f[S.pos[r]];
    if (score_here || n_kv_done > 0) {
      // Split layer: K/V first (and the scoring window's queries), then scoring, then attention and FFN only
      // for the rows that go on. A dropped row's attention and FFN output would only wait in the aux cache
      // (at layer 5 of Gemma 3's 18 that is a global attention over the whole prompt), so it is not computed
      // until a later call selects the row again. The rows that go on see the keys selected before the
      // pruning, as in an unsplit layer, so their results are the same bits.
      if (last) throw Error("lazyllm: internal error: split at the last layer");
      const int n_kv = mrows - n_kv_done;
      rows_per_layer[l] = n_kv;  // (token, layer) pairs are counted where their K/V is computed
      for (int r = 0; r < mrows; ++r) revived_pairs += S.from_aux[r] && !S.kv_at_f[S.pos[r]];
      float* xk = S.x.data();
      int32_t* pk = S.pos.data();
      if (n_kv_done > 0) {  // gather the rows that still need K/V here
        S.xa.resize(size_t(n_kv) * d);
        S.posa.resize(n_kv);
        for (int r = 0, o = 0; r < mrows; ++r)
          if (!S.kv_at_f[S.pos[r]]) {
            std::memcpy(S.xa.data() + int64_t(o) * d, S.x.data() + int64_t(r) * d, sizeof(float) * d);
            S.posa[o++] = S.pos[r];
          }
        xk = S.xa.data();
        pk = S.posa.data();
      }
      for (int c0 = 0; c0 < n_kv; c0 += ws.cap) {
        const int nb = std::min(ws.cap, n_kv - c0);
        if (n_kv_done == 0) S.shuffle_chunk(c0, nb, l, false);
        Rows rows{xk + int64_t(c0) * d, pk + c0, nb};
        for (int r = 0; r < nb; ++r) {
          int16_t& fr = S.f[rows.pos[r]];
          if (fr != l) throw Error("lazyllm: internal error: (token, layer) computed out of turn");
          fr = static_cast<int16_t>(l + 1);
        }
        layer_qkv(m, l, rows, kv[l], ws, pool, score_here ? &tap : nullptr);
        if (n_kv_done == 0) S.shuffle_chunk(c0, nb, l, true);
      }
      const uint8_t* rest_mask = mask;
      if (score_here) {
        if (tap.got != w) throw Error("lazyllm: internal error: the scoring window's queries were not seen");
        const auto t0 = std::chrono::steady_clock::now();
        S.score_keys(tap.q.data(), w, N - w, kv[l], N, pool);
        if (mask) {
          S.sel_before.assign(S.sel.begin(), S.sel.begin() + N);
          rest_mask = S.sel_before.data();
        }
        if (S.prune_lowest(S.cfg.rates[l], N - w) > 0) {
          masked = true;
          S.drop_deselected_rows(l);
        }
        probe_s += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      }
      const int nrest = static_cast<int>(S.pos.size());
      for (int c0 = 0; c0 < nrest; c0 += ws.cap) {
        const int nb = std::min(ws.cap, nrest - c0);
        S.shuffle_chunk(c0, nb, l, false);
        Rows rows{S.x.data() + int64_t(c0) * d, S.pos.data() + c0, nb};
        for (int r = 0; r < nb; ++r) {
          const int32_t p = rows.pos[r];
          if (S.kv_at_f[p]) {  // resumes at a layer that holds its K/V: finish that layer
            if (S.f[p] != l) throw Error("lazyllm: internal error: (token, layer) resumed out of turn");
            S.f[p] = static_cast<int16_t>(l + 1);
            S.kv_at_f[p] = 0;
            ++resumed_rows;
          } else if (S.f[p] != l + 1) {
            throw Error("lazyllm: internal error: a row reached attention without its K/V");
          }
        }
        layer_q(m, l, rows, ws, pool);
        layer_rest(m, l, rows, rows.n, kv[l], ws, pool, -1, false, rest_mask);
        S.shuffle_chunk(c0, nb, l, true);
      }
      if (progress && n > 1) (*progress)(static_cast<int>(int64_t(l + 1) * n / L), n);
      continue;
    }
    rows_per_layer[l] = mrows;
    for (int r = 0; r < mrows; ++r) revived_pairs += S.from_aux[r];
    // Rows are sorted by position and chunks run in order, so every key a row may see (position <= its own)
    // is stored before its attention runs — as in the dense token-major path.
    for (int c0 = 0; c0 < mrows; c0 += ws.cap) {
      const int nb = std::min(ws.cap, mrows - c0);
      S.shuffle_chunk(c0, nb, l, false);
      Rows rows{S.x.data() + int64_t(c0) * d, S.pos.data() + c0, nb};
      for (int r = 0; r < nb; ++r) {
        int16_t& fr = S.f[rows.pos[r]];
        if (fr != l) throw Error("lazyllm: internal error: (token, layer) computed out of turn");
        fr = static_cast<int16_t>(l + 1);
      }
      layer_qkv(m, l, rows, kv[l], ws, pool);
      if (!last) layer_rest(m, l, rows, rows.n, kv[l], ws, pool, -1, false, mask);
      S.shuffle_chunk(c0, nb, l, true);
    }
    if (last) {
      // Only the rows whose logits are wanted go past K/V: the last token, or every new token. The others
      // (revived rows) only needed their K/V here.
      const int first = may_prune ? mrows - 1 : mrows - n;
      if (first < 0 || S.pos[first] != (may_prune ? N - 1 : n_past))
        throw Error("lazyllm: internal error: new tokens missing at the last layer");
      const int step = std::min(ws.cap, kLogitRows);
      if (!may_prune && S.out_logits.size() < size_t(kLogitRows) * c.n_vocab)
        S.out_logits.resize(size_t(kLogitRows) * c.n_vocab);
      for (int c0 = first; c0 < mrows; c0 += step) {
        const int nb = std::min(step, mrows - c0);
        Rows rows{S.x.data() + int64_t(c0) * d, S.pos.data() + c0, nb};
        layer_q(m, l, rows, ws, pool);
        layer_rest(m, l, rows, rows.n, kv[l], ws, pool, -1, false, mask);
        float* lg = may_prune ? logits_scratch : S.out_logits.data();
        output_logits(m, rows.x, nb, lg, ws, pool);
        for (int r = 0; r < nb; ++r) {
          const float* lr = lg + int64_t(r) * c.n_vocab;
          if (all_logits) (*all_logits)(rows.pos[r] - n_past, lr);
          if (rows.pos[r] == N - 1) std::memcpy(last_logits, lr, sizeof(float) * c.n_vocab);
        }
      }
    }
    if (progress && n > 1) (*progress)(static_cast<int>(int64_t(l + 1) * n / L), n);
  }
  // Rows that reached the end need no aux: their frontier is n_layer.

  stats.active = true;
  uint64_t pairs = 0;
  for (int r : rows_per_layer) pairs += static_cast<uint64_t>(r);
  stats.pairs_computed += pairs;
  stats.pairs_dense += uint64_t(n) * L;
  stats.revived += revived_pairs;
  stats.resumed += resumed_rows;
  stats.aux_bytes = aux_bytes();
  if (n >= 2 || stats.prompt_tokens == 0) {
    stats.prompt_tokens = n;
    stats.rows_per_layer = rows_per_layer;
    stats.probe_seconds = probe_s;
    S.prompt_p0 = n_past;
    S.prompt_n = n;
  }
  if (S.prompt_p0 + S.prompt_n <= N) {
    stats.token_layers.resize(S.prompt_n);
    for (int i = 0; i < S.prompt_n; ++i) stats.token_layers[i] = frontier(S.prompt_p0 + i);
  }
  size_t kvb = 0, kvd = 0;
  stats.kv_rows_per_layer.clear();
  for (const LayerKV& k : kv) {
    kvb += k.bytes_used(), kvd += 2 * size_t(N) * k.row_bytes();
    stats.kv_rows_per_layer.push_back(static_cast<int>(k.bytes_used() / (2 * k.row_bytes())));
  }
  stats.kv_bytes = kvb;
  stats.kv_bytes_dense = kvd;
  if (progress && n > 1) (*progress)(n, n);
}

void LazyLLM::truncate(int32_t n) {
  State& S = *s_;
  n = std::max<int32_t>(0, n);
  for (int32_t p = n; p < S.n_seen; ++p) {
    S.drop_aux(p);
    S.f[p] = 0;
    S.kv_at_f[p] = 0;
  }
  S.n_seen = std::min(S.n_seen, n);
  if (S.prompt_p0 + S.prompt_n > S.n_seen) S.prompt_n = 0, S.prompt_p0 = 0;
}

void LazyLLM::reset() {
  State& S = *s_;
  truncate(0);
  S.aux_store.clear();
  S.aux_store.shrink_to_fit();
  S.free_slots.clear();
  S.n_slots = 0;
}

size_t LazyLLM::aux_bytes() const { return s_->n_aux * size_t(s_->m.config().n_embd) * sizeof(float); }

int LazyLLM::frontier(int32_t pos) const {
  return pos >= 0 && pos < s_->n_seen ? s_->f[pos] + s_->kv_at_f[pos] : 0;
}

int LazyLLM::aux_layer(int32_t pos) const { return pos >= 0 && pos < s_->n_seen ? s_->f[pos] : 0; }

const float* LazyLLM::aux(int32_t pos) const {
  if (pos < 0 || pos >= s_->n_seen || s_->aux_slot[pos] < 0) return nullptr;
  return s_->aux_row(s_->aux_slot[pos]);
}

void LazyLLM::set_trace(bool on) { s_->trace_on = on; }
const std::vector<std::vector<uint8_t>>& LazyLLM::trace() const { return s_->trace; }
void LazyLLM::set_row_shuffle(uint64_t seed) { s_->shuffle_seed = seed; }

}  // namespace slim
