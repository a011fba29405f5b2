// RULER-style tasks (NVIDIA/RULER scripts/data/synthetic/*): needle in a haystack, variable tracking,
// common / frequent word extraction, and synthetic 1-hop / 2-hop QA standing in for SQuAD / HotpotQA.
// Prompts follow RULER's layout (instruction, context, question, answer prefix) so that a base model
// completes the answer; the wording is ours.
#include <algorithm>
#include <set>

#include "eval/task_common.h"
#include "slim/error.h"

namespace slim::eval::detail {

namespace {

// Haystack units with cumulative token estimates; n_max = units.size().
struct Haystack {
  std::vector<std::string> units;
  std::vector<int64_t> cum{0};  // cum[n] = estimated tokens of n units with their separators
  std::string sep;

  void add(std::string unit, int cost) {
    units.push_back(std::move(unit));
    cum.push_back(cum.back() + cost);
  }
  int64_t estimate(int n) const { return cum[static_cast<size_t>(std::clamp(n, 0, static_cast<int>(units.size())))]; }
};

// Enough units to overshoot the budget by half, so the fitter never runs out.
int64_t enough(int budget) { return static_cast<int64_t>(budget) * 3 / 2 + 64; }

std::shared_ptr<Haystack> noise_haystack(GenContext& g, int budget) {
  auto h = std::make_shared<Haystack>();
  h->sep = "\n";
  const int c = g.cost(std::string("\n") + kNoiseLine);
  while (h->cum.back() < enough(budget)) h->add(kNoiseLine, c);
  return h;
}

// Prose sentences from the sample's deterministic start offset, wrapping around once at most.
std::shared_ptr<Haystack> prose_haystack(GenContext& g, int budget, int index) {
  auto h = std::make_shared<Haystack>();
  h->sep = " ";
  const size_t n = g.prose().sentences.size();
  const size_t start = (static_cast<size_t>(index) * 7919) % n;
  for (size_t k = 0; k < n && h->cum.back() < enough(budget); ++k) {
    const size_t i = (start + k) % n;
    h->add(g.prose().sentences[i], g.sentence_cost(i));
  }
  return h;
}

Plan plan_from(std::shared_ptr<Haystack> h, std::function<Layout(int)> build, std::vector<std::string> answers) {
  Plan p;
  p.n_max = static_cast<int>(h->units.size());
  p.estimate = [h](int n) { return h->estimate(n); };
  p.build = std::move(build);
  p.answers = std::move(answers);
  return p;
}

// Position on RULER's grid of 40 depths, round(linspace(0, 100, 40)) percent.
size_t grid_pos(int grid_index, size_t n) {
  const size_t pct = (200 * static_cast<size_t>(grid_index) + 39) / 78;
  return pct * n / 100;
}

// The needle question and its answer prefix; `type` is "number" or "uuid". One key and one value: "What is
// the special magic number for K ...?"; otherwise "What are all the special magic numbers for K1, ... ?".
// multiquery_conversation() words its single-key follow-ups with the same function.
std::string niah_question(const std::string& type, const std::string& query, bool singular) {
  if (singular) return "What is the special magic " + type + " for " + query + " mentioned in the provided text?";
  return "What are all the special magic " + type + "s for " + query + " mentioned in the provided text?";
}
std::string niah_tail(const std::string& type, const std::string& query, bool singular) {
  const std::string prefix = singular ? " The special magic " + type + " for " + query + " mentioned in the provided text is"
                                      : " The special magic " + type + "s for " + query + " mentioned in the provided text are";
  return "\n" + niah_question(type, query, singular) + prefix;
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------
// Needle in a haystack

Plan plan_niah(GenContext& g, const Request& r) {
  struct Config {
    const char* haystack;  // noise | prose | lines
    const char* key_type;  // words | uuids
    const char* value_type;  // numbers | uuids
    int k, v, q;
  };
  static const std::pair<const char*, Config> kConfigs[] = {
      {"niah_single_1", {"noise", "words", "numbers", 1, 1, 1}},   {"niah_single_2", {"prose", "words", "numbers", 1, 1, 1}},
      {"niah_single_3", {"prose", "words", "uuids", 1, 1, 1}},     {"niah_multikey_1", {"prose", "words", "numbers", 4, 1, 1}},
      {"niah_multikey_2", {"lines", "words", "numbers", 1, 1, 1}}, {"niah_multikey_3", {"lines", "uuids", "uuids", 1, 1, 1}},
      {"niah_multivalue", {"prose", "words", "numbers", 1, 4, 1}}, {"niah_multiquery", {"prose", "words", "numbers", 4, 1, 4}},
  };
  const Config* cfg = nullptr;
  for (const auto& [name, c] : kConfigs) {
    if (r.task == name) cfg = &c;
  }
  if (!cfg) throw Error("eval: no needle configuration for " + r.task);
  const std::string hay = cfg->haystack, key_type = cfg->key_type, value_type = cfg->value_type;

  Rng rng(r.seed);
  auto make_key = [&] { return key_type == "uuids" ? random_uuid(rng) : random_word_key(rng); };
  auto make_value = [&] { return value_type == "uuids" ? random_uuid(rng) : random_number(rng, 7); };
  std::vector<std::string> keys;
  while (static_cast<int>(keys.size()) < cfg->k) {
    std::string key = make_key();
    if (std::find(keys.begin(), keys.end(), key) == keys.end()) keys.push_back(std::move(key));
  }
  const std::string type_plural = value_type;  // "numbers" | "uuids"
  const std::string type_single = type_plural.substr(0, type_plural.size() - 1);

  struct Needle {
    std::string text;
    bool queried;
    int grid;  // depth grid index for needles other than the first (-1 = the sample's depth)
  };
  std::vector<Needle> needles;
  std::vector<std::string> answers;
  for (int i = 0; i < cfg->k; ++i) {
    for (int j = 0; j < cfg->v; ++j) {
      const std::string value = make_value();
      const bool queried = i < cfg->q;
      if (queried) answers.push_back(value);
      needles.push_back({"One of the special magic " + type_plural + " for " + keys[i] + " is: " + value + ".", queried,
                         needles.empty() ? -1 : static_cast<int>(rng.below(40))});
    }
  }

  const int budget = r.target_len - r.max_new_tokens;
  std::shared_ptr<Haystack> h;
  if (hay == "noise") {
    h = noise_haystack(g, budget);
  } else if (hay == "prose") {
    h = prose_haystack(g, budget, r.index);
  } else {  // distractor lines: every line is a needle for another key
    h = std::make_shared<Haystack>();
    h->sep = "\n";
    while (h->cum.back() < enough(budget)) {
      std::string key = make_key();
      if (std::find(keys.begin(), keys.end(), key) != keys.end()) continue;
      std::string line = "One of the special magic " + type_plural + " for " + key + " is: " + make_value() + ".";
      const int c = g.cost("\n" + line);
      h->add(std::move(line), c);
    }
  }

  const bool singular = cfg->q * cfg->v == 1;
  const std::vector<std::string> queried(keys.begin(), keys.begin() + cfg->q);
  const std::string query = join_and(queried);
  Layout base;
  if (singular) {
    base.head = "A special magic " + type_single + " is hidden within the following text. Make sure to memorize it. I will quiz you about the " +
                type_single + " afterwards.\n";
    base.question = niah_question(type_single, query, true);
    base.tail = niah_tail(type_single, query, true);
  } else {
    base.head = "Some special magic " + type_plural + " are hidden within the following text. Make sure to memorize them. I will quiz you about the " +
                type_plural + " afterwards.\n";
    base.question = niah_question(type_single, query, false);
    base.tail = niah_tail(type_single, query, false);
  }
  const double depth = r.depth;
  auto build = [h, needles, base, depth](int n) {
    std::vector<Insert> ins;
    for (const Needle& nd : needles) {
      const size_t pos = nd.grid < 0 ? depth_pos(depth, static_cast<size_t>(n)) : grid_pos(nd.grid, static_cast<size_t>(n));
      ins.push_back({pos, nd.text, nd.queried});
    }
    Layout l = base;
    l.context = weave(h->units, static_cast<size_t>(n), std::move(ins), h->sep);
    return l;
  };
  return plan_from(h, build, answers);
}

// ---------------------------------------------------------------------------------------------------------
// Variable tracking: one chain of 4 hops over the noise haystack, with a one-shot example.

namespace {

std::vector<std::string> distinct_names(Rng& rng, int count, int len) {
  std::vector<std::string> names;
  while (static_cast<int>(names.size()) < count) {
    std::string s = random_letters(rng, len, true);
    if (s == "VAR" || std::find(names.begin(), names.end(), s) != names.end()) continue;
    names.push_back(std::move(s));
  }
  return names;
}

std::vector<std::string> chain_lines(const std::vector<std::string>& names, const std::string& value) {
  std::vector<std::string> lines{"VAR " + names[0] + " = " + value};
  for (size_t i = 1; i < names.size(); ++i) lines.push_back("VAR " + names[i] + " = VAR " + names[i - 1]);
  return lines;
}

std::string join(const std::vector<std::string>& v, const std::string& sep) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? sep : "") + v[i];
  return s;
}

}  // namespace

Plan plan_vt(GenContext& g, const Request& r) {
  Rng rng(r.seed);
  const std::string instruction = "Memorize and track the chain(s) of variable assignment hidden in the following text.\n\n";
  auto question = [](const std::string& value) {
    return "Question: Find all variables that are assigned the value " + value + " in the text above.";
  };
  auto prefix = [](const std::string& value, size_t count) {
    return " Answer: According to the chain(s) of variable assignment in the text above, " + std::to_string(count) +
           " variables are assigned the value " + value + ", they are: ";
  };

  // One-shot example: 3-letter names, the chain spread over a few noise lines.
  const std::vector<std::string> ex_names = distinct_names(rng, 5, 3);
  const std::string ex_value = random_number(rng, 5);
  std::vector<std::string> ex_lines;
  const std::vector<std::string> ex_chain = chain_lines(ex_names, ex_value);
  for (size_t i = 0; i < ex_chain.size(); ++i) {
    ex_lines.push_back(kNoiseLine);
    ex_lines.push_back(ex_chain[i]);
  }
  ex_lines.push_back(kNoiseLine);
  const std::string example = instruction + join(ex_lines, "\n") + "\n" + question(ex_value) + prefix(ex_value, ex_names.size()) +
                              join(ex_names, " ") + "\n\n";

  const std::vector<std::string> names = distinct_names(rng, 5, 5);
  const std::string value = random_number(rng, 5);
  const std::vector<std::string> chain = chain_lines(names, value);
  std::vector<uint64_t> fracs;  // chain positions as fractions of the haystack (millionths), in chain order
  for (size_t i = 0; i < chain.size(); ++i) fracs.push_back(rng.below(1000001));
  std::sort(fracs.begin(), fracs.end());

  const int budget = r.target_len - r.max_new_tokens;
  auto h = noise_haystack(g, budget);
  Layout base;
  base.head = example + instruction;
  base.question = "Question: Find all variables that are assigned the value " + value + " in the text below.";
  base.tail = "\n" + question(value) + prefix(value, names.size());
  auto build = [h, base, chain, fracs](int n) {
    std::vector<Insert> ins;
    for (size_t i = 0; i < chain.size(); ++i) ins.push_back({static_cast<size_t>(fracs[i] * static_cast<uint64_t>(n) / 1000000), chain[i], true});
    Layout l = base;
    l.context = weave(h->units, static_cast<size_t>(n), std::move(ins), h->sep);
    return l;
  };
  return plan_from(h, build, names);
}

// ---------------------------------------------------------------------------------------------------------
// Common words extraction: 10 words repeated often, the others rarely, in a shuffled numbered list.

Plan plan_cwe(GenContext& g, const Request& r) {
  Rng rng(r.seed);
  const auto& vocab = g.prose().vocabulary;
  const int budget = r.target_len - r.max_new_tokens;
  const bool short_ctx = r.target_len < 4096;  // RULER lowers the repetitions below 4k
  const int freq_common = short_ctx ? 6 : 30, freq_rare = short_ctx ? 1 : 3;
  constexpr int kCommon = 10, kExample = 20;
  if (vocab.size() < kCommon + kExample + 10) throw Error("eval: cwe: vocabulary of the prose is too small");
  const std::vector<size_t> order = rng.sample(vocab.size(), vocab.size());
  const uint64_t shuffle_seed = rng.next();

  auto render = [](const std::vector<std::string>& words) {
    std::string s;
    for (size_t i = 0; i < words.size(); ++i) s += (i ? " " : "") + std::to_string(i + 1) + ". " + words[i];
    return s;
  };
  // Shuffled occurrence list of `words` (the first kCommon common); a fresh generator per call keeps
  // every prompt length reproducible on its own.
  auto occurrences = [](const std::vector<std::string>& words, int common, int rare, uint64_t seed) {
    std::vector<std::string> list;
    for (size_t i = 0; i < words.size(); ++i) {
      for (int k = 0; k < (i < kCommon ? common : rare); ++k) list.push_back(words[i]);
    }
    Rng shuffler(seed);
    shuffler.shuffle(list);
    return list;
  };

  std::vector<std::string> ex_words, words;
  for (size_t i = 0; i < order.size(); ++i) (i < kExample ? ex_words : words).push_back(vocab[order[i]]);
  const std::string instruction =
      "Below is a numbered list of words. In these words, some appear more often than others. Memorize the ones that appear most often.\n";
  const std::string question = "Question: What are the 10 most common words in the above list?";
  const std::string prefix = " Answer: The top 10 words that appear most often in the list are:";
  const std::vector<std::string> ex_common(ex_words.begin(), ex_words.begin() + kCommon);
  const std::string example = instruction + render(occurrences(ex_words, short_ctx ? 3 : 5, short_ctx ? 1 : 2, shuffle_seed ^ 1)) + "\n" + question + prefix + " " +
                              render(ex_common) + "\n\n";

  // Estimated cost of each word's occurrences (number, dot, word).
  auto h = std::make_shared<Haystack>();
  for (size_t i = 0; i < words.size() && h->cum.back() < enough(budget); ++i) {
    const int reps = i < kCommon ? freq_common : freq_rare;
    h->add(words[i], reps * (g.cost(" " + words[i]) + 4));
  }
  Layout base;
  base.head = example + instruction;
  base.question = "Question: What are the 10 most common words in the list below?";
  base.tail = "\n" + question + prefix;
  auto build = [h, base, render, occurrences, freq_common, freq_rare, shuffle_seed](int n) {
    const std::vector<std::string> chosen(h->units.begin(), h->units.begin() + n);
    Layout l = base;
    l.context = {{render(occurrences(chosen, freq_common, freq_rare, shuffle_seed)), false}};
    return l;
  };
  std::vector<std::string> answers(words.begin(), words.begin() + kCommon);
  return plan_from(h, build, answers);
}

// ---------------------------------------------------------------------------------------------------------
// Frequent words extraction: Zipf-distributed coded words (alpha = 2); rank 1 is the noise word "...".

Plan plan_fwe(GenContext& g, const Request& r) {
  Rng rng(r.seed);
  const int vocab_size = std::max(8, (r.target_len - 50) / 50);
  std::vector<std::string> words{"..."};
  std::set<std::string> seen;
  while (static_cast<int>(words.size()) < vocab_size) {
    std::string w = random_letters(rng, 6, false);
    if (seen.insert(w).second) words.push_back(std::move(w));
  }
  const uint64_t shuffle_seed = rng.next();
  // Occurrences of rank k (1-based) for scale N: floor(N k^-2 / zeta(2)), zeta(2) = 1.644934 (integers only,
  // so every machine agrees).
  auto count = [](int64_t N, int64_t k) { return N * 1000000 / (1644934 * k * k); };
  std::vector<int> costs;
  for (const std::string& w : words) costs.push_back(g.cost(" " + w));

  const int budget = r.target_len - r.max_new_tokens;
  Layout base;
  base.head = "Read the following coded text and track the frequency of each coded word. Find the three most frequently appeared coded words. ";
  base.question = "Question: Which three coded words appear most often in the coded text below?";
  base.tail = "\nQuestion: Do not provide any explanation. Please ignore the dots '....'. What are the three most frequently appeared words in the above coded text?"
              " Answer: According to the coded text above, the three most frequently appeared words are:";
  Plan p;
  p.n_max = std::max(64, budget * 2);
  p.estimate = [costs, count](int n) {
    int64_t t = 0;
    for (size_t k = 0; k < costs.size(); ++k) t += count(n, static_cast<int64_t>(k + 1)) * costs[k];
    return t;
  };
  p.build = [base, words, count, shuffle_seed](int n) {
    std::vector<std::string> list;
    for (size_t k = 0; k < words.size(); ++k) {
      for (int64_t c = count(n, static_cast<int64_t>(k + 1)); c > 0; --c) list.push_back(words[k]);
    }
    Rng shuffler(shuffle_seed);
    shuffler.shuffle(list);
    Layout l = base;
    l.context = {{join(list, " "), false}};
    return l;
  };
  p.answers = {words[1], words[2], words[3]};
  return p;
}

// ---------------------------------------------------------------------------------------------------------
// Synthetic QA over prose "documents": one inserted fact (1-hop) or two linked facts (2-hop) about invented
// names that occur nowhere in the text, so the answer cannot come from memory.

namespace {

std::string pseudo_name(Rng& rng, const std::string& haystack_lower, std::set<std::string>& used) {
  static const char kCons[] = "bdfgklmnprstvz";
  static const char kVow[] = "aeiou";
  for (;;) {
    std::string s;
    const int syllables = 2 + static_cast<int>(rng.below(2));
    for (int i = 0; i < syllables; ++i) {
      s.push_back(kCons[rng.below(sizeof kCons - 1)]);
      s.push_back(kVow[rng.below(sizeof kVow - 1)]);
      if (rng.below(3) == 0) s.push_back(kCons[rng.below(sizeof kCons - 1)]);
    }
    if (s.size() < 4 || used.count(s) || haystack_lower.find(s) != std::string::npos) continue;
    used.insert(s);
    s[0] = static_cast<char>(s[0] - 'a' + 'A');
    return s;
  }
}

}  // namespace

Plan plan_qa(GenContext& g, const Request& r) {
  Rng rng(r.seed);
  const bool two_hop = r.task == "qa_2hop";
  const ProseText& prose = g.prose();
  std::set<std::string> used;
  auto name = [&] { return pseudo_name(rng, prose.lower, used); };

  std::vector<std::string> facts;  // facts[0] goes to the sample's depth, facts[1] (2-hop) elsewhere
  std::string question, answer;
  if (two_hop) {
    static const char* const kKinds[] = {"Mill", "Bank", "Press", "Brewery", "Foundry", "Tannery"};
    const std::string person = name() + " " + name();
    const std::string employer = name() + " " + kKinds[rng.below(6)];
    answer = name();
    facts = {person + " works at the " + employer + ".", "The " + employer + " is based in the town of " + answer + "."};
    question = "In which town is the employer of " + person + " based?";
  } else {
    const std::string person = name() + " " + name();
    const std::string place = name();
    switch (rng.below(3)) {
      case 0:
        facts = {"The keeper of the " + place + " lighthouse is " + person + "."};
        question = "Who is the keeper of the " + place + " lighthouse?";
        answer = person;
        break;
      case 1:
        facts = {person + " was born in the village of " + place + "."};
        question = "In which village was " + person + " born?";
        answer = place;
        break;
      default:
        facts = {"The horse that " + person + " rides is called " + place + "."};
        question = "What is the name of the horse that " + person + " rides?";
        answer = place;
        break;
    }
  }
  // Where facts go: facts[1] in a random document, each fact after a random sentence of its document.
  const uint64_t second_doc_frac = rng.below(1000001);
  std::vector<uint64_t> in_doc_frac;
  for (size_t i = 0; i < facts.size(); ++i) in_doc_frac.push_back(rng.below(1000001));

  // Documents of about 250 tokens from consecutive prose sentences. The units are sentences, so the prompt
  // can end inside the last document and still fill the length closely.
  const int budget = r.target_len - r.max_new_tokens;
  auto h = prose_haystack(g, budget, r.index);
  auto doc_start = std::make_shared<std::vector<size_t>>();  // first sentence of each document
  int cur_cost = 250;
  for (size_t i = 0; i < h->units.size(); ++i) {
    if (cur_cost >= 250) {
      doc_start->push_back(i);
      cur_cost = 0;
    }
    cur_cost += static_cast<int>(h->cum[i + 1] - h->cum[i]);
  }
  const std::string instruction = "Answer the question based on the given documents. Only give me the answer and do not output any other words.";
  Layout base;
  base.head = instruction + "\n\nThe following are given documents.\n\n";
  base.question = "Question: " + question;
  base.tail = "\n\n" + instruction + "\n\nQuestion: " + question + " Answer:";
  const double depth = r.depth;
  auto build = [h, doc_start, base, facts, in_doc_frac, second_doc_frac, depth](int n) {
    Layout l = base;
    if (n == 0) return l;
    const auto ns = static_cast<size_t>(n);
    size_t nd = 0;  // documents that the first n sentences touch
    while (nd < doc_start->size() && (*doc_start)[nd] < ns) ++nd;
    std::vector<size_t> fact_doc{depth_pos(depth, nd - 1)};
    if (facts.size() > 1) {
      size_t other = static_cast<size_t>(second_doc_frac * (nd - 1) / 1000000);
      if (other == fact_doc[0] && nd > 1) other = (other + 1) % nd;
      fact_doc.push_back(other);
    }
    std::string run;
    for (size_t d = 0; d < nd; ++d) {
      run += (d ? "\n\n" : "") + std::string("Document ") + std::to_string(d + 1) + ":\n";
      const size_t first = (*doc_start)[d];
      const size_t last = d + 1 < doc_start->size() ? std::min((*doc_start)[d + 1], ns) : ns;
      const std::vector<std::string> sents(h->units.begin() + static_cast<long>(first), h->units.begin() + static_cast<long>(last));
      std::vector<Insert> ins;
      for (size_t f = 0; f < facts.size(); ++f) {
        if (fact_doc[f] == d) ins.push_back({static_cast<size_t>(in_doc_frac[f] * sents.size() / 1000000), facts[f], true});
      }
      for (Piece& p : weave(sents, sents.size(), ins, " ")) {
        if (!p.evidence) {
          run += p.text;
          continue;
        }
        l.context.push_back({std::move(run), false});
        run.clear();
        l.context.push_back(std::move(p));
      }
    }
    l.context.push_back({std::move(run), false});
    return l;
  };
  return plan_from(h, build, {answer});
}

}  // namespace slim::eval::detail

namespace slim::eval {

MultiQueryConversation multiquery_conversation(const Sample& s) {
  if (s.task != "niah_multiquery" || s.query_first)
    throw Error("eval: sample '" + s.id + "' is not a query-last niah_multiquery sample; the multi-turn evaluation "
                "needs one (--tasks niah_multiquery, without --query-first)");
  const std::string type = "number";
  const std::string lead = "\nWhat are all the special magic " + type + "s for ";
  const size_t at = s.prompt.rfind(lead);
  const size_t end = at == std::string::npos ? at : s.prompt.find(" mentioned in the provided text?", at);
  if (end == std::string::npos) throw Error("eval: sample '" + s.id + "' does not end with a multi-query question");
  const std::string query = s.prompt.substr(at + lead.size(), end - at - lead.size());
  if (s.prompt.compare(at, std::string::npos, detail::niah_tail(type, query, false)) != 0)
    throw Error("eval: sample '" + s.id + "' does not end with the multi-query question and answer prefix");

  // Undo join_and(): "a", "a and b", "a, b, and c" (keys are adjective-noun words, free of commas and spaces).
  std::vector<std::string> keys;
  if (query.find(", ") == std::string::npos) {
    const size_t a = query.find(" and ");
    keys.push_back(query.substr(0, a));
    if (a != std::string::npos) keys.push_back(query.substr(a + 5));
  } else {
    size_t from = 0;
    for (;;) {
      const size_t comma = query.find(", ", from);
      std::string key = query.substr(from, comma == std::string::npos ? comma : comma - from);
      if (key.rfind("and ", 0) == 0) key.erase(0, 4);
      keys.push_back(std::move(key));
      if (comma == std::string::npos) break;
      from = comma + 2;
    }
  }
  if (keys.size() != s.answers.size())
    throw Error("eval: sample '" + s.id + "' asks for " + std::to_string(keys.size()) + " keys but has " +
                std::to_string(s.answers.size()) + " answers");

  MultiQueryConversation c;
  c.document = s.prompt.substr(0, at);
  for (size_t i = 0; i < keys.size(); ++i)
    c.questions.push_back({keys[i], detail::niah_tail(type, keys[i], true), s.answers[i]});
  return c;
}

}  // namespace slim::eval
