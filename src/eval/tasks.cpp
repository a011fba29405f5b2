// Task registry, length fitting, needle token spans and JSONL I/O for the eval generators.
#include "eval/tasks.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <istream>
#include <map>
#include <nlohmann/json.hpp>
#include <ostream>

#include "eval/task_common.h"
#include "slim/error.h"
#include "slim/tokenizer.h"

namespace slim::eval {

namespace detail {

const ProseText& GenContext::prose() {
  if (!prose_) prose_ = std::make_unique<ProseText>(load_prose(opt_.prose, opt_.text_dir));
  return *prose_;
}

const ProseText& GenContext::austen() {
  if (opt_.prose == "austen") return prose();
  if (!austen_) austen_ = std::make_unique<ProseText>(load_prose("austen", opt_.text_dir));
  return *austen_;
}

const std::vector<std::string>& GenContext::code_lines() {
  if (!code_) code_ = std::make_unique<std::vector<std::string>>(load_code_lines(opt_.text_dir));
  return *code_;
}

int GenContext::cost(const std::string& text) const { return static_cast<int>(tok_.encode(text, false, false).size()); }

int GenContext::sentence_cost(size_t i) {
  const auto& s = prose().sentences;
  if (sentence_cost_.empty()) sentence_cost_.assign(s.size(), -1);
  if (sentence_cost_[i] < 0) sentence_cost_[i] = cost(" " + s[i]);
  return sentence_cost_[i];
}

int GenContext::code_line_cost(size_t i) {
  const auto& lines = code_lines();
  if (code_cost_.empty()) code_cost_.assign(lines.size(), -1);
  if (code_cost_[i] < 0) code_cost_[i] = cost(lines[i] + "\n");
  return code_cost_[i];
}

std::string random_number(Rng& rng, int digits) {
  int64_t lo = 1;
  for (int i = 1; i < digits; ++i) lo *= 10;
  return std::to_string(rng.range(lo, lo * 10 - 1));
}

std::string random_uuid(Rng& rng) {
  uint64_t hi = rng.next(), lo = rng.next();
  hi = (hi & ~0xF000ull) | 0x4000ull;                              // version 4
  lo = (lo & 0x3FFFFFFFFFFFFFFFull) | 0x8000000000000000ull;       // variant 10
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(hi >> 32),
                static_cast<unsigned>((hi >> 16) & 0xFFFF), static_cast<unsigned>(hi & 0xFFFF),
                static_cast<unsigned>(lo >> 48), static_cast<unsigned long long>(lo & 0xFFFFFFFFFFFFull));
  return buf;
}

std::string random_word_key(Rng& rng) {
  const auto& adj = key_adjectives();
  const auto& noun = key_nouns();
  const std::string a = adj[rng.below(adj.size())];
  return a + "-" + noun[rng.below(noun.size())];
}

std::string random_letters(Rng& rng, int n, bool upper) {
  std::string s;
  for (int i = 0; i < n; ++i) s.push_back(static_cast<char>((upper ? 'A' : 'a') + rng.below(26)));
  return s;
}

std::vector<Piece> weave(const std::vector<std::string>& units, size_t n, std::vector<Insert> inserts, const std::string& sep) {
  std::stable_sort(inserts.begin(), inserts.end(), [](const Insert& a, const Insert& b) { return a.pos < b.pos; });
  std::vector<Piece> out;
  std::string run;
  bool first = true;
  auto add_sep = [&] {
    if (!first) run += sep;
    first = false;
  };
  size_t k = 0;
  for (size_t i = 0; i <= n; ++i) {
    for (; k < inserts.size() && inserts[k].pos <= i; ++k) {
      add_sep();
      out.push_back({std::move(run), false});
      run.clear();
      out.push_back({inserts[k].text, inserts[k].evidence});
    }
    if (i < n) {
      add_sep();
      run += units[i];
    }
  }
  if (!run.empty()) out.push_back({std::move(run), false});
  return out;
}

size_t depth_pos(double depth, size_t n) {
  const double d = std::clamp(depth, 0.0, 1.0);
  return static_cast<size_t>(std::llround(d * static_cast<double>(n)));
}

std::string join_and(const std::vector<std::string>& items) {
  if (items.size() == 1) return items[0];
  if (items.size() == 2) return items[0] + " and " + items[1];
  std::string s;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) s += ", ";
    if (i + 1 == items.size()) s += "and ";
    s += items[i];
  }
  return s;
}

}  // namespace detail

namespace {

using namespace detail;

struct TaskSpec {
  const char* name;
  const char* family;
  const char* metric;
  int max_new_tokens;
  bool depth_sweep;    // needle depth is a factor
  bool query_first;    // has a question that can be stated before the context
  Planner plan;
};

const std::vector<TaskSpec>& specs() {
  static const std::vector<TaskSpec> s = {
      {"niah_single_1", "ruler", "string_match_all", 32, true, true, plan_niah},
      {"niah_single_2", "ruler", "string_match_all", 32, true, true, plan_niah},
      {"niah_single_3", "ruler", "string_match_all", 64, true, true, plan_niah},
      {"niah_multikey_1", "ruler", "string_match_all", 32, true, true, plan_niah},
      {"niah_multikey_2", "ruler", "string_match_all", 32, true, true, plan_niah},
      {"niah_multikey_3", "ruler", "string_match_all", 64, true, true, plan_niah},
      {"niah_multivalue", "ruler", "string_match_all", 64, true, true, plan_niah},
      {"niah_multiquery", "ruler", "string_match_all", 64, true, true, plan_niah},
      {"vt", "ruler", "string_match_all", 30, false, true, plan_vt},
      {"cwe", "ruler", "string_match_all", 120, false, true, plan_cwe},
      {"fwe", "ruler", "string_match_all", 50, false, true, plan_fwe},
      {"qa_1hop", "ruler", "string_match_part", 32, true, true, plan_qa},
      {"qa_2hop", "ruler", "string_match_part", 32, true, true, plan_qa},
      {"passage_count", "longbench", "count", 32, false, true, plan_passage_count},
      {"passage_retrieval", "longbench", "retrieval", 32, true, true, plan_passage_retrieval},
      {"lcc", "longbench", "code_sim", 64, false, false, plan_lcc},
  };
  return s;
}

std::string assemble(const Layout& l, bool query_first) {
  std::string s = l.head;
  if (query_first) s += l.question + "\n";
  for (const Piece& p : l.context) s += p.text;
  s += l.tail;
  return s;
}

// Byte ranges of the evidence pieces in the assembled prompt.
std::vector<std::pair<size_t, size_t>> evidence_ranges(const Layout& l, bool query_first) {
  std::vector<std::pair<size_t, size_t>> out;
  size_t at = l.head.size() + (query_first ? l.question.size() + 1 : 0);
  for (const Piece& p : l.context) {
    if (p.evidence) out.emplace_back(at, at + p.text.size());
    at += p.text.size();
  }
  return out;
}

// Token index ranges covering byte ranges of `text`, from the byte extent of each token's piece.
std::vector<std::pair<int, int>> token_spans(const Tokenizer& tok, const std::string& text, const std::vector<int32_t>& ids,
                                             const std::vector<std::pair<size_t, size_t>>& ranges) {
  std::vector<size_t> begin(ids.size()), end(ids.size());
  std::string joined;
  for (size_t i = 0; i < ids.size(); ++i) {
    begin[i] = joined.size();
    joined += tok.token_to_piece(ids[i], false);
    end[i] = joined.size();
  }
  // SentencePiece tokenizers may add a space in front of the text; the first piece carries it.
  size_t shift = 0;
  if (joined.size() == text.size() + 1 && joined[0] == ' ' && joined.compare(1, std::string::npos, text) == 0) shift = 1;
  std::vector<std::pair<int, int>> spans;
  if (shift == 0 && joined != text) {
    // Pieces do not spell the text (a tokenizer that cleans spaces): count tokens of prefixes instead.
    for (const auto& [b, e] : ranges) {
      const int first = static_cast<int>(tok.encode(text.substr(0, b), true, false).size()) - 1;
      const int last = static_cast<int>(tok.encode(text.substr(0, e), true, false).size()) + 1;
      spans.emplace_back(std::max(first, 0), std::min(last, static_cast<int>(ids.size())));
    }
    return spans;
  }
  for (const auto& [b, e] : ranges) {
    int first = -1, last = -1;
    for (size_t i = 0; i < ids.size(); ++i) {
      const size_t tb = begin[i] >= shift ? begin[i] - shift : 0, te = end[i] >= shift ? end[i] - shift : 0;
      if (te <= tb || te <= b || tb >= e) continue;
      if (first < 0) first = static_cast<int>(i);
      last = static_cast<int>(i) + 1;
    }
    if (first >= 0) spans.emplace_back(first, last);
  }
  return spans;
}

struct Fitted {
  int n = 0;
  Layout layout;
  std::string text;
  std::vector<int32_t> tokens;
};

// Largest n (by exact token count) whose prompt fits the budget, searched from the estimate outwards.
Fitted fit(GenContext& g, const Plan& plan, const std::string& task, int budget, bool query_first) {
  std::map<int, std::vector<int32_t>> memo;  // n -> prompt tokens
  auto exact = [&](int n) {
    auto it = memo.find(n);
    if (it == memo.end()) it = memo.emplace(n, g.tok().encode(assemble(plan.build(n), query_first), true, false)).first;
    return it->second.size();
  };
  const auto b = static_cast<size_t>(budget);
  const size_t base = exact(0);
  if (base > b) {
    throw Error("eval: task " + task + ": the prompt without haystack takes " + std::to_string(base) + " tokens, over the budget of " +
                std::to_string(budget));
  }
  int lo = 0, hi = plan.n_max;  // estimate: largest n with base + estimate(n) <= budget
  while (lo < hi) {
    const int mid = lo + (hi - lo + 1) / 2;
    if (base + static_cast<size_t>(plan.estimate(mid)) <= b) lo = mid; else hi = mid - 1;
  }
  // Correct the estimate by the ratio measured at its first guess, then walk outwards from the corrected
  // guess in growing steps (typically two or three exact counts in all).
  int n1 = lo;
  if (lo > 0 && plan.estimate(lo) > 0) {
    const double scale = static_cast<double>(exact(lo) - base) / static_cast<double>(plan.estimate(lo));
    int a = 0, z = plan.n_max;
    while (a < z) {
      const int mid = a + (z - a + 1) / 2;
      if (static_cast<double>(base) + scale * static_cast<double>(plan.estimate(mid)) <= static_cast<double>(b)) a = mid; else z = mid - 1;
    }
    n1 = a;
  }
  int step = 1;
  int ok, bad;  // exact(ok) fits, exact(bad) does not (bad = n_max + 1 when everything fits)
  if (exact(n1) <= b) {
    ok = n1;
    bad = plan.n_max + 1;
    for (int n = n1 + step; n <= plan.n_max; n = ok + step) {
      if (exact(n) > b) {
        bad = n;
        break;
      }
      ok = n;
      step *= 2;
    }
    if (bad == plan.n_max + 1 && ok < plan.n_max) {
      if (exact(plan.n_max) <= b) ok = plan.n_max; else bad = plan.n_max;
    }
  } else {
    bad = n1;
    ok = 0;
    for (int n = n1 - step; n > 0; n = bad - step) {
      if (exact(n) <= b) {
        ok = n;
        break;
      }
      bad = n;
      step *= 2;
    }
  }
  while (bad - ok > 1) {
    const int mid = ok + (bad - ok) / 2;
    if (exact(mid) <= b) ok = mid; else bad = mid;
  }
  if (ok == plan.n_max && bad > plan.n_max && exact(ok) * 100 < b * 95) {
    throw Error("eval: task " + task + ": the text source is too short for " + std::to_string(budget) + " tokens");
  }
  Fitted f;
  f.n = ok;
  f.layout = plan.build(ok);
  f.text = assemble(f.layout, query_first);
  f.tokens = std::move(memo.at(ok));
  return f;
}

std::string depth_bin(double depth) {
  if (depth < 0) return "na";
  char buf[8];
  std::snprintf(buf, sizeof buf, "d%03d", static_cast<int>(std::llround(depth * 100)));
  return buf;
}

}  // namespace

std::vector<std::string> task_names() {
  std::vector<std::string> names;
  for (const TaskSpec& s : specs()) names.emplace_back(s.name);
  return names;
}

std::vector<Sample> generate(const Tokenizer& tok, const GenOptions& opt) {
  std::vector<const TaskSpec*> chosen;
  if (opt.tasks.empty()) {
    for (const TaskSpec& s : specs()) chosen.push_back(&s);
  } else {
    for (const std::string& name : opt.tasks) {
      auto it = std::find_if(specs().begin(), specs().end(), [&](const TaskSpec& s) { return name == s.name; });
      if (it == specs().end()) {
        std::string all;
        for (const std::string& n : task_names()) all += (all.empty() ? "" : ", ") + n;
        throw Error("eval: unknown task '" + name + "' (tasks: " + all + ")");
      }
      chosen.push_back(&*it);
    }
  }
  if (opt.lengths.empty()) throw Error("eval: no target lengths");
  if (opt.samples_per_cell < 1) throw Error("eval: samples per cell must be at least 1");
  for (double d : opt.depths) {
    if (!(d >= 0 && d <= 1)) throw Error("eval: needle depth " + std::to_string(d) + " is outside [0, 1]");
  }

  GenContext g(tok, opt);
  std::vector<Sample> out;
  for (const TaskSpec* spec : chosen) {
    for (int L : opt.lengths) {
      if (L <= spec->max_new_tokens) throw Error("eval: target length " + std::to_string(L) + " is too small");
      const std::vector<double> depths = spec->depth_sweep ? opt.depths : std::vector<double>{-1.0};
      if (depths.empty()) throw Error("eval: no needle depths");
      int index = 0;
      for (double depth : depths) {
        for (int s = 0; s < opt.samples_per_cell; ++s, ++index) {
          Request r;
          r.task = spec->name;
          r.target_len = L;
          r.max_new_tokens = spec->max_new_tokens;
          r.depth = depth;
          r.index = index;
          r.seed = splitmix64(opt.seed ^ fnv1a64(spec->name) ^ (static_cast<uint64_t>(L) << 20) ^ static_cast<uint64_t>(index));
          const Plan plan = spec->plan(g, r);
          for (int qf = 0; qf < (opt.query_first_variants && spec->query_first ? 2 : 1); ++qf) {
            const Fitted f = fit(g, plan, spec->name, L - spec->max_new_tokens, qf == 1);
            Sample smp;
            smp.id = std::string(spec->name) + "/" + std::to_string(L) + "/" + depth_bin(depth) + "/" + (qf ? "q-first" : "q-last") + "/" +
                     std::to_string(s);
            smp.task = spec->name;
            smp.family = spec->family;
            smp.target_len = L;
            smp.depth = depth;
            smp.query_first = qf == 1;
            smp.seed = r.seed;
            smp.prompt = f.text;
            smp.tokens = f.tokens;
            smp.answers = plan.answers_at ? plan.answers_at(f.n) : plan.answers;
            smp.metric = spec->metric;
            smp.needle_spans = token_spans(tok, f.text, f.tokens, evidence_ranges(f.layout, qf == 1));
            smp.max_new_tokens = spec->max_new_tokens;
            out.push_back(std::move(smp));
          }
        }
      }
    }
  }
  return out;
}

void write_jsonl(std::ostream& out, const std::vector<Sample>& samples) {
  for (const Sample& s : samples) {
    nlohmann::ordered_json j;
    j["id"] = s.id;
    j["task"] = s.task;
    j["family"] = s.family;
    j["target_len"] = s.target_len;
    j["n_tokens"] = s.tokens.size();
    j["depth"] = s.depth;
    j["query_first"] = s.query_first;
    j["seed"] = s.seed;
    j["metric"] = s.metric;
    j["max_new_tokens"] = s.max_new_tokens;
    j["answers"] = s.answers;
    j["needle_spans"] = nlohmann::ordered_json::array();
    for (const auto& [b, e] : s.needle_spans) j["needle_spans"].push_back({b, e});
    j["prompt"] = s.prompt;
    j["tokens"] = s.tokens;
    out << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::strict) << '\n';
  }
}

std::vector<Sample> read_jsonl(std::istream& in) {
  std::vector<Sample> out;
  std::string line;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    try {
      const nlohmann::json j = nlohmann::json::parse(line);
      Sample s;
      s.id = j.at("id").get<std::string>();
      s.task = j.at("task").get<std::string>();
      s.family = j.at("family").get<std::string>();
      s.target_len = j.at("target_len").get<int>();
      s.depth = j.at("depth").get<double>();
      s.query_first = j.at("query_first").get<bool>();
      s.seed = j.at("seed").get<uint64_t>();
      s.metric = j.at("metric").get<std::string>();
      s.max_new_tokens = j.at("max_new_tokens").get<int>();
      s.answers = j.at("answers").get<std::vector<std::string>>();
      for (const auto& sp : j.at("needle_spans")) s.needle_spans.emplace_back(sp.at(0).get<int>(), sp.at(1).get<int>());
      s.prompt = j.at("prompt").get<std::string>();
      s.tokens = j.at("tokens").get<std::vector<int32_t>>();
      out.push_back(std::move(s));
    } catch (const nlohmann::json::exception& e) {
      throw Error("eval: JSONL line " + std::to_string(line_no) + ": " + e.what());
    }
  }
  return out;
}

}  // namespace slim::eval
