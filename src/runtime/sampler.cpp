// Sampler: llama.cpp's default chain (penalties → top-k → top-p → min-p → temperature → draw) without a
// full sort of the vocabulary. Gemma's vocabulary has 262144 entries, so every stage works on as few
// candidates as it can: top-k keeps a k-heap while scanning the raw logits once, top-p sorts only a
// prefix (256, grown on demand) and min-p is a threshold filter.
#include "slim/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>

#if defined(__AVX2__) || defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "slim/error.h"

namespace slim {

namespace {

using Cand = std::pair<float, int32_t>;

// Strict "a ranks before b": higher logit first, lower id on ties (deterministic order).
inline bool ranks_before(const Cand& a, const Cand& b) {
  return a.first > b.first || (a.first == b.first && a.second < b.second);
}

constexpr uint64_t kRandomSeed = 0xFFFFFFFFull;
constexpr int32_t kBlock = 64;

// GCC 12 flags its own AVX-512 intrinsics (the masked builtins' undefined pass-through operand) as
// "may be used uninitialized" once inlined; a known false positive.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

// Maximum of n floats, NaNs ignored (x > m ? x : m, which is exactly what MAXPS(x, m) computes; the
// compiler will not vectorise the reduction by itself without -ffast-math).
inline float block_max(const float* x, int32_t n) {
  float m = -std::numeric_limits<float>::infinity();
  int32_t i = 0;
#if defined(__AVX512F__)
  __m512 acc = _mm512_set1_ps(m);
  for (; i + 16 <= n; i += 16) acc = _mm512_max_ps(_mm512_loadu_ps(x + i), acc);
  // Horizontal max by shuffles (acc holds no NaN, so operand order does not matter here).
  acc = _mm512_max_ps(acc, _mm512_shuffle_f32x4(acc, acc, _MM_SHUFFLE(1, 0, 3, 2)));
  acc = _mm512_max_ps(acc, _mm512_shuffle_f32x4(acc, acc, _MM_SHUFFLE(2, 3, 0, 1)));
  acc = _mm512_max_ps(acc, _mm512_permute_ps(acc, _MM_SHUFFLE(1, 0, 3, 2)));
  acc = _mm512_max_ps(acc, _mm512_permute_ps(acc, _MM_SHUFFLE(2, 3, 0, 1)));
  m = _mm512_cvtss_f32(acc);
#elif defined(__AVX2__)
  __m256 acc = _mm256_set1_ps(m);
  for (; i + 8 <= n; i += 8) acc = _mm256_max_ps(_mm256_loadu_ps(x + i), acc);
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, acc);
  for (float v : lanes) m = v > m ? v : m;
#endif
  for (; i < n; ++i) m = x[i] > m ? x[i] : m;
  return m;
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

}  // namespace

Sampler::Sampler(const SamplingParams& p, int32_t n_vocab) : p_(p), n_vocab_(n_vocab) {
  if (n_vocab <= 0) throw Error("sampler: vocabulary size must be positive, got " + std::to_string(n_vocab));
  if (p.seed == kRandomSeed) {
    std::random_device rd;
    seed_ = (uint64_t(rd()) << 32) ^ uint64_t(rd());
  } else {
    seed_ = p.seed;
  }
  rng_.seed(seed_);
}

void Sampler::reset() {
  recent_.clear();
  counts_.clear();
  rng_.seed(seed_);
}

bool Sampler::penalties_on() const {
  if (p_.repeat_last_n == 0) return false;
  return p_.repeat_penalty != 1.0f || p_.frequency_penalty != 0.0f || p_.presence_penalty != 0.0f;
}

void Sampler::accept(int32_t token) {
  if (p_.repeat_last_n == 0 || token < 0 || token >= n_vocab_) return;
  recent_.push_back(token);
  ++counts_[token];
  if (p_.repeat_last_n > 0 && recent_.size() > size_t(p_.repeat_last_n)) {
    const int32_t old = recent_.front();
    recent_.pop_front();
    auto it = counts_.find(old);
    if (--it->second == 0) counts_.erase(it);
  }
}

float Sampler::penalised(float logit, int count) const {
  // Dividing a negative logit would make the token *more* likely, hence llama.cpp's sign split.
  if (p_.repeat_penalty != 1.0f) logit = logit > 0.0f ? logit / p_.repeat_penalty : logit * p_.repeat_penalty;
  logit -= float(count) * p_.frequency_penalty + float(count > 0) * p_.presence_penalty;
  return logit;
}

int32_t Sampler::argmax(const float* logits, int32_t n_vocab) {
  // Block maxima first (a loop the compiler turns into SIMD max), then one block scanned for the index.
  float bv = logits[0];
  int32_t best_block = 0;
  for (int32_t b = 0; b < n_vocab; b += kBlock) {
    const float m = block_max(logits + b, std::min(kBlock, n_vocab - b));
    if (m > bv) {  // strict: the first block holding the maximum wins
      bv = m;
      best_block = b;
    }
  }
  const int32_t end = std::min(best_block + kBlock, n_vocab);
  for (int32_t i = best_block; i < end; ++i)
    if (logits[i] == bv) return i;  // the first (lowest id) maximum
  return best_block;                // only when logits[0] is NaN and nothing beats it
}

int32_t Sampler::sample_greedy(const float* logits) {
  if (!penalties_on() || counts_.empty()) return argmax(logits, n_vocab_);
  // Scan the untouched logits, skipping penalised tokens; then let each penalised token compete.
  float bv = -std::numeric_limits<float>::infinity();
  int32_t best = -1;
  for (int32_t b = 0; b < n_vocab_; b += kBlock) {
    const int32_t end = std::min(b + kBlock, n_vocab_);
    if (!(block_max(logits + b, end - b) > bv)) continue;
    for (int32_t i = b; i < end; ++i) {
      if (logits[i] > bv && !counts_.count(i)) {
        bv = logits[i];
        best = i;
      }
    }
  }
  for (const auto& [id, count] : counts_) {
    const float v = penalised(logits[id], count);
    if (best < 0 || ranks_before({v, id}, {bv, best})) {
      bv = v;
      best = id;
    }
  }
  return best < 0 ? argmax(logits, n_vocab_) : best;
}

void Sampler::gather_top_k(const float* logits, int k) {
  // Max-heap under ranks_before keeps the *worst* kept candidate on top, so one comparison rejects a
  // whole block of 64 once the heap is full. Ties: the scan runs in id order, so a later equal logit
  // never displaces.
  cand_.clear();
  cand_.reserve(size_t(k));
  const bool pen = penalties_on() && !counts_.empty();
  for (int32_t b = 0; b < n_vocab_; b += kBlock) {
    const int32_t end = std::min(b + kBlock, n_vocab_);
    if (int(cand_.size()) == k && !(block_max(logits + b, end - b) > cand_.front().first)) continue;
    for (int32_t i = b; i < end; ++i) {
      const float v = logits[i];
      if (int(cand_.size()) == k) {
        if (!(v > cand_.front().first)) continue;
        if (pen && counts_.count(i)) continue;
        std::pop_heap(cand_.begin(), cand_.end(), ranks_before);
        cand_.back() = {v, i};
        std::push_heap(cand_.begin(), cand_.end(), ranks_before);
      } else {
        if (std::isnan(v) || (pen && counts_.count(i))) continue;
        cand_.push_back({v, i});
        std::push_heap(cand_.begin(), cand_.end(), ranks_before);
      }
    }
  }
  if (pen) {
    for (const auto& [id, count] : counts_) {
      const Cand c{penalised(logits[id], count), id};
      if (int(cand_.size()) < k) {
        cand_.push_back(c);
        std::push_heap(cand_.begin(), cand_.end(), ranks_before);
      } else if (ranks_before(c, cand_.front())) {
        std::pop_heap(cand_.begin(), cand_.end(), ranks_before);
        cand_.back() = c;
        std::push_heap(cand_.begin(), cand_.end(), ranks_before);
      }
    }
  }
  std::sort_heap(cand_.begin(), cand_.end(), ranks_before);  // best first
}

void Sampler::gather_all(const float* logits) {
  cand_.resize(size_t(n_vocab_));
  for (int32_t i = 0; i < n_vocab_; ++i) {
    const float v = logits[i];
    cand_[size_t(i)] = {std::isnan(v) ? -std::numeric_limits<float>::infinity() : v, i};
  }
  if (penalties_on()) {
    for (const auto& [id, count] : counts_) cand_[size_t(id)].first = penalised(logits[id], count);
  }
}

double Sampler::uniform01() {
  // 53 high bits → a double in [0, 1), independent of the standard library's distributions.
  return double(rng_() >> 11) * (1.0 / 9007199254740992.0);
}

int32_t Sampler::sample(const float* logits) {
  if (p_.temperature <= 0.0f) return sample_greedy(logits);

  bool sorted;
  if (p_.top_k > 0 && p_.top_k < n_vocab_) {
    gather_top_k(logits, p_.top_k);
    sorted = true;
  } else {
    gather_all(logits);
    sorted = false;
  }

  // top-p: the smallest best-first prefix whose probability (softmax of the current candidates,
  // before temperature) reaches top_p. The first token is always kept.
  if (p_.top_p < 1.0f && cand_.size() > 1) {
    float mx = cand_[0].first;
    if (!sorted)
      for (const auto& c : cand_) mx = std::max(mx, c.first);
    double sum = 0.0;
    for (const auto& c : cand_) sum += std::exp(c.first - mx);  // float exp: 262144 of them
    size_t sorted_upto = cand_.size();
    if (!sorted) {
      // min-p (next stage) also keeps a best-first prefix with the same maximum, so the result is the
      // shorter of the two prefixes whichever runs first. Dropping min-p's rejects now (after the sum,
      // which must cover every candidate) leaves far fewer tokens to sort.
      if (p_.min_p > 0.0f) {
        const float thr = mx + std::log(p_.min_p);
        cand_.erase(std::remove_if(cand_.begin(), cand_.end(), [thr](const Cand& c) { return c.first < thr; }),
                    cand_.end());
      }
      // Most of the mass sits in a few hundred tokens: sort only that prefix unless it falls short.
      sorted_upto = std::min<size_t>(256, cand_.size());
      std::nth_element(cand_.begin(), cand_.begin() + ptrdiff_t(sorted_upto), cand_.end(), ranks_before);
      std::sort(cand_.begin(), cand_.begin() + ptrdiff_t(sorted_upto), ranks_before);
    }
    // Walk the sorted prefix in unnormalised mass (target = top_p * sum).
    const double target = double(p_.top_p) * sum;
    auto mass = [&](size_t i) { return double(std::exp(cand_[i].first - mx)); };
    size_t keep = 0;
    double cum = 0.0;
    for (size_t i = 0; i < sorted_upto; ++i) {
      cum += mass(i);
      if (cum >= target) {
        keep = i + 1;
        break;
      }
    }
    if (keep == 0 && sorted_upto == cand_.size()) keep = cand_.size();
    if (keep == 0) {
      // A flat distribution: the kept set runs deep. Only membership matters to the draw, so find the
      // cut by bisection with selection instead of sorting (O(n) instead of O(n log n)). Invariant:
      // [0, lo) is kept and holds less than the target; the cut lies in (lo, hi].
      size_t lo = sorted_upto, hi = cand_.size();
      double need = target - cum;
      while (hi - lo > 64) {
        const size_t mid = lo + (hi - lo) / 2;
        std::nth_element(cand_.begin() + ptrdiff_t(lo), cand_.begin() + ptrdiff_t(mid), cand_.begin() + ptrdiff_t(hi),
                         ranks_before);
        double half = 0.0;
        for (size_t i = lo; i < mid; ++i) half += mass(i);
        if (half >= need) {
          hi = mid;
        } else {
          need -= half;
          lo = mid;
        }
      }
      std::sort(cand_.begin() + ptrdiff_t(lo), cand_.begin() + ptrdiff_t(hi), ranks_before);
      keep = hi;
      double run = 0.0;
      for (size_t i = lo; i < hi; ++i) {
        run += mass(i);
        if (run >= need) {
          keep = i + 1;
          break;
        }
      }
      // The draw must not depend on how the library's nth_element permuted the candidates: put the kept
      // set in a canonical order. Small sets: finish sorting them (rank order). Large sets: rebuild them
      // in id order (every candidate ranking at or before the cut), which costs O(n) instead.
      if (keep <= 8192) {
        std::sort(cand_.begin() + ptrdiff_t(sorted_upto), cand_.begin() + ptrdiff_t(lo), ranks_before);
        cand_.resize(keep);
        sorted = true;
      } else {
        const Cand cut = cand_[keep - 1];
        gather_all(logits);
        cand_.erase(
            std::remove_if(cand_.begin(), cand_.end(), [&cut](const Cand& c) { return ranks_before(cut, c); }),
            cand_.end());
        sorted = false;
      }
    } else {
      cand_.resize(keep);
      sorted = true;  // the kept prefix is sorted
    }
  }

  // min-p: keep tokens with p >= min_p * p_max, i.e. logit >= max_logit + ln(min_p).
  if (p_.min_p > 0.0f && cand_.size() > 1) {
    float mx = cand_[0].first;
    if (!sorted)
      for (const auto& c : cand_) mx = std::max(mx, c.first);
    const float thr = mx + std::log(p_.min_p);
    if (sorted) {
      size_t i = 1;
      while (i < cand_.size() && cand_[i].first >= thr) ++i;
      cand_.resize(i);
    } else {
      cand_.erase(std::remove_if(cand_.begin(), cand_.end(), [thr](const Cand& c) { return c.first < thr; }),
                  cand_.end());
    }
  }

  for (auto& c : cand_) c.first /= p_.temperature;

  // Draw: inverse CDF over the (unnormalised) softmax of the survivors. One uniform per call, always,
  // so the random stream advances the same way whatever the candidate count.
  const double u = uniform01();
  float mx = cand_[0].first;
  for (const auto& c : cand_) mx = std::max(mx, c.first);
  probs_.resize(cand_.size());
  double total = 0.0;
  for (size_t i = 0; i < cand_.size(); ++i) {
    probs_[i] = std::exp(cand_[i].first - mx);  // float exp (fast); sums in double
    total += probs_[i];
  }
  const double target = u * total;
  double run = 0.0;
  for (size_t i = 0; i < cand_.size(); ++i) {
    run += probs_[i];
    if (run > target) return cand_[i].second;
  }
  // Rounding left the target just above the running sum: take the last token with non-zero mass.
  for (size_t i = cand_.size(); i-- > 0;)
    if (probs_[i] > 0.0) return cand_[i].second;
  return cand_[0].second;
}

}  // namespace slim
