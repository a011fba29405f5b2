// Parsing and per-model defaults of PruneConfig (include/slim/prune.h).
#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include "slim/error.h"
#include "slim/model.h"
#include "slim/prune.h"

namespace slim {

namespace {

std::string trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t b = 0;
  for (size_t i = 0; i <= s.size(); ++i)
    if (i == s.size() || s[i] == sep) {
      out.push_back(trim(s.substr(b, i - b)));
      b = i + 1;
    }
  return out;
}

double to_number(const std::string& key, const std::string& v) {
  size_t used = 0;
  double x = 0;
  try {
    x = std::stod(v, &used);
  } catch (...) {
    used = 0;
  }
  if (v.empty() || used != v.size() || !std::isfinite(x))
    throw Error("prune: option '" + key + "' wants a number, got '" + v + "'");
  return x;
}

int to_int(const std::string& key, const std::string& v) {
  const double x = to_number(key, v);
  if (x != std::floor(x) || x < -1e9 || x > 1e9) throw Error("prune: option '" + key + "' wants an integer, got '" + v + "'");
  return static_cast<int>(x);
}

template <class T, class F>
std::vector<T> to_list(const std::string& key, const std::string& v, F conv) {
  std::vector<T> out;
  if (v.empty()) return out;
  for (const std::string& item : split(v, '/')) out.push_back(static_cast<T>(conv(key, item)));
  return out;
}

PruneMethod method_from_name(const std::string& name) {
  if (name == "dense" || name == "none" || name == "off") return PruneMethod::None;
  if (name == "sliminfer") return PruneMethod::SlimInfer;
  if (name == "lazyllm") return PruneMethod::LazyLLM;
  if (name == "random") return PruneMethod::Random;
  throw Error("prune: unknown method '" + name + "' (choose dense, sliminfer, lazyllm or random)");
}

const char* method_name(PruneMethod m) {
  switch (m) {
    case PruneMethod::None: return "dense";
    case PruneMethod::SlimInfer: return "sliminfer";
    case PruneMethod::LazyLLM: return "lazyllm";
    case PruneMethod::Random: return "random";
  }
  return "dense";
}

template <class T>
std::string join(const std::vector<T>& v) {
  std::ostringstream os;
  for (size_t i = 0; i < v.size(); ++i) os << (i ? "/" : "") << v[i];
  return os.str();
}

}  // namespace

void apply_prune_option(PruneConfig& cfg, std::string_view key_value) {
  const size_t eq = key_value.find('=');
  if (eq == std::string_view::npos)
    throw Error("prune: option '" + std::string(key_value) + "' is not of the form key=value");
  const std::string key = trim(key_value.substr(0, eq)), v = trim(key_value.substr(eq + 1));
  if (key == "method") cfg.method = method_from_name(v);
  else if (key == "unit") cfg.unit = to_int(key, v);
  else if (key == "block") cfg.block = to_int(key, v);
  else if (key == "window") cfg.window = to_int(key, v);
  else if (key == "pool") cfg.pool = to_int(key, v), cfg.pool_set = true;
  else if (key == "evict") cfg.evict = to_int(key, v) != 0;
  else if (key == "layers") cfg.layers = to_list<int>(key, v, to_int);
  else if (key == "keep") cfg.keep = to_list<float>(key, v, to_number);
  else if (key == "kv_keep") {
    cfg.kv_keep_off = v == "off" || v == "0";
    cfg.kv_keep = cfg.kv_keep_off ? std::vector<float>{} : to_list<float>(key, v, to_number);
  }
  else if (key == "min_keep") cfg.min_keep = to_list<int>(key, v, to_int);
  else if (key == "min_tokens") cfg.min_tokens = to_int(key, v);
  else if (key == "rescore") cfg.rescore = to_int(key, v);
  else if (key == "recent") cfg.recent = to_int(key, v);
  else if (key == "heads") {
    if (v != "mean" && v != "max") throw Error("prune: heads must be mean or max");
    cfg.head_max = v == "max";
  }
  else if (key == "carry") {
    cfg.carry = static_cast<float>(to_number(key, v));
    if (!(cfg.carry >= 0.f && cfg.carry <= 100.f)) throw Error("prune: carry must be in [0, 100]");
  }
  else if (key == "rates") cfg.rates = to_list<float>(key, v, to_number);
  else if (key == "revive") cfg.revive = to_int(key, v);
  else if (key == "drop") cfg.drop = static_cast<float>(to_number(key, v));
  else if (key == "layer") cfg.drop_layer = to_int(key, v);
  else if (key == "seed") cfg.seed = static_cast<uint64_t>(to_int(key, v));
  else
    throw Error("prune: unknown option '" + key +
                "' (known: method unit block window pool evict layers keep min_keep kv_keep carry recent heads min_tokens rescore rates revive drop layer "
                "seed)");
  if (cfg.unit < 1 || cfg.block < 1 || cfg.window < 1 || cfg.min_tokens < 0 || cfg.pool < 0)
    throw Error("prune: unit, block and window must be positive");
  if (cfg.block % cfg.unit != 0) throw Error("prune: block must be a multiple of unit");
  for (float k : cfg.keep)
    if (!(k > 0.f && k <= 1.f)) throw Error("prune: keep ratios must be in (0, 1]");
  for (float k : cfg.kv_keep)
    if (!(k > 0.f && k <= 1.f)) throw Error("prune: kv_keep ratios must be in (0, 1]");
  for (int k : cfg.min_keep)
    if (k < 0) throw Error("prune: min_keep must be token counts >= 0");
  for (float r : cfg.rates)
    if (!(r >= 0.f && r < 1.f)) throw Error("prune: rates must be in [0, 1)");
  if (!(cfg.drop >= 0.f && cfg.drop < 1.f)) throw Error("prune: drop must be in [0, 1)");
  if (cfg.revive < -1) throw Error("prune: revive must be a row count >= 0, or -1 for no limit");
  if (cfg.rescore < 0) throw Error("prune: rescore must be 0 (off) or a step interval >= 1");
  if (cfg.recent < 0) throw Error("prune: recent must be a token count >= 0");
}

PruneConfig parse_prune_spec(std::string_view spec) {
  PruneConfig cfg;
  const size_t colon = spec.find(':');
  cfg.method = method_from_name(trim(spec.substr(0, colon)));
  if (colon != std::string_view::npos)
    for (const std::string& kv : split(spec.substr(colon + 1), ','))
      if (!kv.empty()) apply_prune_option(cfg, kv);
  return cfg;
}

PruneConfig load_prune_config(const std::string& path, PruneConfig base) {
  std::ifstream in(path);
  if (!in) throw Error("prune: cannot open config file '" + path + "'");
  std::string line;
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    const size_t hash = line.find('#');
    const std::string t = trim(std::string_view(line).substr(0, hash));
    if (t.empty()) continue;
    try {
      apply_prune_option(base, t);
    } catch (const Error& e) {
      throw Error(path + ":" + std::to_string(lineno) + ": " + e.what());
    }
  }
  return base;
}

std::string to_string(const PruneConfig& c) {
  std::ostringstream os;
  os << method_name(c.method);
  switch (c.method) {
    case PruneMethod::None: break;
    case PruneMethod::SlimInfer:
      os << ":layers=" << join(c.layers) << ",keep=" << join(c.keep) << ",unit=" << c.unit << ",block=" << c.block
         << ",window=" << c.window << ",pool=" << c.pool << ",evict=" << (c.evict ? 1 : 0)
         << ",min_tokens=" << c.min_tokens;
      if (!c.min_keep.empty()) os << ",min_keep=" << join(c.min_keep);  // only when set
      if (!c.kv_keep.empty()) os << ",kv_keep=" << join(c.kv_keep);  // only when set, as rescore
      else if (c.kv_keep_off) os << ",kv_keep=off";
      if (c.carry >= 0.f) os << ",carry=" << c.carry;  // once resolved (unresolved: the default, -1)
      if (c.recent > 0) os << ",recent=" << c.recent;
      if (c.head_max) os << ",heads=max";
      if (c.rescore) os << ",rescore=" << c.rescore;  // only when on: older specs keep their canonical names
      break;
    case PruneMethod::LazyLLM:
      os << ":rates=" << join(c.rates) << ",revive=" << c.revive << ",window=" << c.window << ",pool=" << c.pool
         << ",min_tokens=" << c.min_tokens;
      if (c.carry >= 0.f) os << ",carry=" << c.carry;  // once resolved
      break;
    case PruneMethod::Random:
      os << ":drop=" << c.drop << ",layer=" << c.drop_layer << ",seed=" << c.seed << ",min_tokens=" << c.min_tokens;
      break;
  }
  return os.str();
}

void resolve_prune_defaults(PruneConfig& c, const ModelConfig& m) {
  const int L = m.n_layer;
  if (c.rescore != 0 && c.method != PruneMethod::SlimInfer)
    throw Error("prune: rescore is a sliminfer option (decode-time re-scoring of its kept units)");
  if (c.method == PruneMethod::SlimInfer) {
    // carry=1: a later pruning layer also weighs what the earlier one found (Gemma 4k needle sweep: needle
    // tokens kept 0.80 -> 0.93 at the same KL and TTFT; docs/pruning.md). No effect with one pruning layer.
    if (c.carry < 0.f) c.carry = 1.f;
    if (c.layers.empty()) {
      const std::vector<float> user_keep = c.keep;  // keep ratios given without layers apply to the default layers
      c.keep.clear();
      // Defaults chosen with `slim eval` sweeps (docs/pruning.md). Prune early enough that the linear work
      // shrinks, late enough that information has spread into the kept tokens.
      if (m.arch == Arch::Gemma3) {
        // Gemma 3: prune only after global layers (5 of every 6 layers are local, window 512, and their
        // queries do not rank distant tokens: a probe there drops needles). 18 layers: globals are 5, 11, 17.
        for (int l = 0; l + 1 < L; ++l)
          if (m.layer_swa.size() == size_t(L) && !m.layer_swa[l]) c.layers.push_back(l);
        if (c.layers.empty()) c.layers.push_back(std::max(0, L / 3 - 1));
        const float keep[] = {0.2f, 0.1f, 0.08f, 0.06f, 0.05f};
        for (size_t i = 0; i < c.layers.size(); ++i) c.keep.push_back(keep[std::min<size_t>(i, 4)]);
        // The first pruning layer stores K/V for the whole prompt (a third of Gemma's dense KV): after prefill
        // it keeps only its top 70% of units (kv_keep; the deeper layers evict nothing). 4k needle sweep: the
        // same score, KL and needle retention as without; prompt KV 50% -> 58% less at 14k tokens, 53% -> 62%
        // at 30k (docs/pruning.md).
        if (c.kv_keep.empty() && !c.kv_keep_off && !c.evict && user_keep.empty())
          for (size_t i = 0; i < c.layers.size(); ++i) c.kv_keep.push_back(i == 0 ? 0.7f : c.keep[i - 1]);
        // What a pruned layer needs is a number of tokens more than a fraction: at 4k the ratios keep 820 and
        // 410 tokens and lose accuracy on multi-hop QA, code and common-word tasks (KL 0.65 on those smoke
        // tasks), keep 0.35/0.2 (1434 / 819 tokens) loses none (KL 0.05). So the default keeps at least 1536
        // and 768 tokens: short prompts are pruned less (where little time is at stake), and from ~8k tokens
        // on the ratios rule alone (16k/32k TTFT unchanged). docs/pruning.md.
        if (c.min_keep.empty() && user_keep.empty()) {
          const int floor[] = {1536, 768, 512, 384, 256};
          for (size_t i = 0; i < c.layers.size(); ++i) c.min_keep.push_back(floor[std::min<size_t>(i, 4)]);
        }
      } else {
        // One pruning layer at 14/30 of the depth (SmolLM2's 30 layers: 14), keeping 10% of the prompt. A
        // single-layer sweep on SmolLM2 (docs/pruning.md) found that its question window ranks the needles
        // only from layer 14 on: probes at layers 3-13 drop them, 14-24 keep them all; a second cut at 20
        // (keep 0.05) lost a multi-value needle.
        const int base[] = {14};
        const float keep[] = {0.1f};
        for (int i = 0; i < 1; ++i) {
          const int l = std::max(0, std::min(L - 2, base[i] * L / 30));
          if (!c.layers.empty() && c.layers.back() == l) c.keep.back() = keep[i];  // shallow models: merge
          else c.layers.push_back(l), c.keep.push_back(keep[i]);
        }
      }
      if (!user_keep.empty()) c.keep = user_keep;
    }
    if (c.keep.size() != c.layers.size())
      throw Error("prune: " + std::to_string(c.layers.size()) + " pruning layers but " +
                  std::to_string(c.keep.size()) + " keep ratios");
    for (size_t i = 0; i < c.layers.size(); ++i) {
      if (c.layers[i] < 0 || c.layers[i] >= L - 1)
        throw Error("prune: pruning layer " + std::to_string(c.layers[i]) + " out of range [0, " +
                    std::to_string(L - 2) + "] for this " + std::to_string(L) + "-layer model");
      if (i && (c.layers[i] <= c.layers[i - 1] || c.keep[i] > c.keep[i - 1]))
        throw Error("prune: layers must ascend and keep ratios must not increase");
    }
    if (!c.min_keep.empty()) {
      if (c.min_keep.size() != c.layers.size())
        throw Error("prune: " + std::to_string(c.layers.size()) + " pruning layers but " +
                    std::to_string(c.min_keep.size()) + " min_keep counts");
      for (size_t i = 1; i < c.min_keep.size(); ++i)
        if (c.min_keep[i] > c.min_keep[i - 1]) throw Error("prune: min_keep counts must not increase");
    }
    if (!c.kv_keep.empty()) {
      if (c.kv_keep.size() != c.layers.size())
        throw Error("prune: " + std::to_string(c.layers.size()) + " pruning layers but " +
                    std::to_string(c.kv_keep.size()) + " kv_keep ratios");
      for (size_t i = 0; i < c.layers.size(); ++i)
        if (c.kv_keep[i] < c.keep[i] || (i && c.kv_keep[i] > c.keep[i - 1]))
          throw Error("prune: kv_keep[" + std::to_string(i) + "] must lie between that layer's keep and the " +
                      "fraction entering it (the previous keep, or 1)");
    }
  } else if (c.method == PruneMethod::LazyLLM) {
    // carry=1 on Gemma's two-layer schedule (4k needle sweep: needle tokens kept 0.885 -> 0.960, greedy
    // agreement 0.54 -> 0.62; docs/lazyllm.md). Elsewhere 0: untried over the many layers of the 10% schedule.
    if (c.carry < 0.f) c.carry = m.arch == Arch::Gemma3 ? 1.f : 0.f;
    // pool=48 on Gemma 3: LazyLLM selects single tokens, not SlimInfer's 16-token units, so pooling alone must
    // reach the end of a needle that follows the attended key; Gemma spells a uuid digit by digit (~40
    // tokens after the key). 16k niah_single_3, 2 samples: pool 32 cut one uuid's last digits (needle kept
    // 0.97, score 50), pool 48 and 64 kept both (1.00, score 100; docs/lazyllm.md).
    if (!c.pool_set && m.arch == Arch::Gemma3) c.pool = 48;
    if (c.rates.empty()) {
      c.rates.assign(L, 0.f);
      // docs/lazyllm.md. Gemma 3: prune after the first two global layers (5 and 11 of 18; a local layer's
      // last-token attention is confined to its window): 65% of the present tokens, then 45% of the rest,
      // so 35% and 19% of the tokens go on (16k: TTFT 2.39x with split scoring layers; the former 0.75/0.5,
      // 2.71x, cut uuid needles short). Other models: one cut at 14/30 of the depth keeping 10%, where
      // SmolLM2's question window first finds its needles (as SlimInfer's default); the reference
      // implementation's 10% per layer from a quarter of the depth lost them (8k eval, docs/lazyllm.md).
      int globals = 0;
      if (m.arch == Arch::Gemma3 && m.layer_swa.size() == size_t(L))
        for (int l = 0; l + 1 < L && globals < 2; ++l)
          if (!m.layer_swa[l]) c.rates[l] = globals++ == 0 ? 0.65f : 0.45f;
      if (globals == 0) c.rates[std::max(0, std::min(L - 2, 14 * L / 30))] = 0.9f;
    }
    if (static_cast<int>(c.rates.size()) != L)
      throw Error("prune: lazyllm wants " + std::to_string(L) + " rates (one per layer), got " +
                  std::to_string(c.rates.size()));
  } else if (c.method == PruneMethod::Random) {
    if (c.drop_layer < 0 || c.drop_layer >= L - 1)
      throw Error("prune: random drop layer out of range [0, " + std::to_string(L - 2) + "]");
  }
}

}  // namespace slim
