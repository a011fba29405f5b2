// LongBench-style synthetic tasks (THUDM/LongBench: passage_count, passage_retrieval_en, lcc), rebuilt from
// installed text: prose paragraphs instead of Wikipedia, Python standard-library files for the code task.
#include <algorithm>

#include "eval/task_common.h"
#include "slim/error.h"

namespace slim::eval::detail {

namespace {

size_t word_count(const std::string& s) {
  size_t n = 1;
  for (char c : s) n += c == ' ' ? 1 : 0;
  return n;
}

// Paragraphs of 40 to 200 words, as indices into prose.paragraphs.
std::vector<size_t> eligible_paragraphs(const ProseText& prose) {
  std::vector<size_t> out;
  for (size_t i = 0; i < prose.paragraphs.size(); ++i) {
    const size_t w = word_count(prose.paragraphs[i]);
    if (w >= 40 && w <= 200) out.push_back(i);
  }
  return out;
}

std::string render_paragraphs(const std::vector<const std::string*>& paras, size_t begin_index = 1) {
  std::string s;
  for (size_t i = 0; i < paras.size(); ++i) s += (i ? "\n\n" : "") + std::string("Paragraph ") + std::to_string(begin_index + i) + ": " + *paras[i];
  return s;
}

}  // namespace

// Distinct paragraphs, each repeated 1 to 3 times, shuffled; the answer is the number of distinct ones.
Plan plan_passage_count(GenContext& g, const Request& r) {
  Rng rng(r.seed);
  const ProseText& prose = g.austen();
  const std::vector<size_t> pool = eligible_paragraphs(prose);
  const std::vector<size_t> order = rng.sample(pool.size(), pool.size());
  std::vector<int> reps;
  for (size_t i = 0; i < order.size(); ++i) reps.push_back(static_cast<int>(rng.range(1, 3)));
  const uint64_t shuffle_seed = rng.next();

  auto paras = std::make_shared<std::vector<const std::string*>>();
  std::vector<int64_t> cum{0};
  const int64_t enough = static_cast<int64_t>(r.target_len) * 3 / 2 + 64;
  for (size_t i = 0; i < order.size() && cum.back() < enough; ++i) {
    paras->push_back(&prose.paragraphs[pool[order[i]]]);
    cum.push_back(cum.back() + reps[i] * (g.cost(" " + *paras->back()) + 6));
  }
  Layout base;
  base.head =
      "There are some paragraphs below taken from a novel. Some of them may be duplicates. Please carefully read these paragraphs and "
      "determine how many unique paragraphs there are after removing duplicates. In other words, how many non-repeating paragraphs "
      "are there in total?\n\n";
  base.question = "Question: How many unique paragraphs are there below?";
  base.tail =
      "\n\nPlease enter the final count of unique paragraphs after removing duplicates. The output format should only contain the "
      "number, such as 1, 2, 3, and so on.\n\nThe final answer is: ";
  Plan p;
  p.n_max = static_cast<int>(paras->size());
  p.estimate = [cum](int n) { return cum[static_cast<size_t>(n)]; };
  p.build = [paras, reps, base, shuffle_seed](int n) {
    std::vector<const std::string*> list;
    for (int i = 0; i < n; ++i) {
      for (int k = 0; k < reps[static_cast<size_t>(i)]; ++k) list.push_back((*paras)[static_cast<size_t>(i)]);
    }
    Rng shuffler(shuffle_seed);
    shuffler.shuffle(list);
    Layout l = base;
    l.context = {{render_paragraphs(list), false}};
    return l;
  };
  p.answers_at = [](int n) { return std::vector<std::string>{std::to_string(n)}; };
  return p;
}

// Distinct paragraphs with the gold one at the sample's depth; a sentence quoted from the gold paragraph
// asks which paragraph it comes from. Answer "Paragraph N".
Plan plan_passage_retrieval(GenContext& g, const Request& r) {
  Rng rng(r.seed);
  const ProseText& prose = g.austen();
  const std::vector<size_t> pool = eligible_paragraphs(prose);
  const std::vector<size_t> order = rng.sample(pool.size(), pool.size());

  // Gold: the first paragraph in draw order with an interior sentence of 8+ words found in no other paragraph.
  size_t gold = pool.size();
  std::string quote;
  for (size_t k = 0; k < order.size() && gold == pool.size(); ++k) {
    const std::string& text = prose.paragraphs[pool[order[k]]];
    const std::vector<std::string> sents = split_sentences(text);
    if (sents.size() < 3) continue;
    const std::string& cand = sents[1 + rng.below(sents.size() - 2)];
    if (word_count(cand) < 8) continue;
    bool unique = true;
    for (size_t j : pool) unique = unique && (j == pool[order[k]] || prose.paragraphs[j].find(cand) == std::string::npos);
    if (!unique) continue;
    gold = k;
    quote = cand;
  }
  if (gold == pool.size()) throw Error("eval: passage_retrieval: no paragraph with a quotable sentence in the prose");
  const std::string* gold_text = &prose.paragraphs[pool[order[gold]]];

  auto paras = std::make_shared<std::vector<const std::string*>>();
  std::vector<int64_t> cum{0};
  const int64_t enough = static_cast<int64_t>(r.target_len) * 3 / 2 + 64;
  for (size_t k = 0; k < order.size() && cum.back() < enough; ++k) {
    if (k == gold) continue;
    paras->push_back(&prose.paragraphs[pool[order[k]]]);
    cum.push_back(cum.back() + g.cost(" " + *paras->back()) + 6);
  }
  const std::string question = "Which paragraph is the following sentence quoted from? \"" + quote + "\"";
  const double depth = r.depth;
  Plan p;
  p.n_max = static_cast<int>(paras->size());
  p.estimate = [cum](int n) { return cum[static_cast<size_t>(n)]; };
  p.build = [paras, gold_text, quote, question, depth](int n) {
    const size_t at = depth_pos(depth, static_cast<size_t>(n));
    Layout l;
    l.head = "Here are " + std::to_string(n + 1) +
             " paragraphs from a novel, along with a sentence quoted from one of them. Please determine which paragraph the sentence "
             "is from.\n\n";
    l.question = "Question: " + question;
    const std::vector<const std::string*> before(paras->begin(), paras->begin() + static_cast<long>(at));
    const std::vector<const std::string*> after(paras->begin() + static_cast<long>(at), paras->begin() + n);
    std::string pre = render_paragraphs(before);
    if (!pre.empty()) pre += "\n\n";
    pre += "Paragraph " + std::to_string(at + 1) + ": ";
    l.context.push_back({pre, false});
    l.context.push_back({*gold_text, true});
    if (!after.empty()) l.context.push_back({"\n\n" + render_paragraphs(after, at + 2), false});
    l.tail = "\n\nThe following is a sentence quoted from one of the paragraphs.\n\n" + quote +
             "\n\nPlease enter the number of the paragraph that the sentence is from. The answer format must be like \"Paragraph 1\", "
             "\"Paragraph 2\", etc.\n\nThe answer is: ";
    return l;
  };
  p.answers_at = [depth](int n) { return std::vector<std::string>{"Paragraph " + std::to_string(depth_pos(depth, static_cast<size_t>(n)) + 1)}; };
  return p;
}

// Code completion: Python source up to a line, the model writes the next line (LongBench lcc format).
Plan plan_lcc(GenContext& g, const Request& r) {
  Rng rng(r.seed);
  const std::vector<std::string>& lines = g.code_lines();
  auto stripped = [](const std::string& s) {
    const size_t b = s.find_first_not_of(" \t");
    if (b == std::string::npos) return std::string();
    return s.substr(b, s.find_last_not_of(" \t") - b + 1);
  };
  // A target is a real statement: 12+ characters, no comment or quote start, with a call or an assignment.
  const int budget = r.target_len - r.max_new_tokens;
  const size_t need_chars = static_cast<size_t>(budget) * 6;
  std::vector<size_t> candidates;
  size_t chars = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string s = stripped(lines[i]);
    if (chars >= need_chars && s.size() >= 12 && s.find('#') == std::string::npos && s.find('`') == std::string::npos &&
        s.find("//") == std::string::npos && s[0] != '"' && s[0] != '\'' && (s.find('(') != std::string::npos || s.find('=') != std::string::npos)) {
      candidates.push_back(i);
    }
    chars += lines[i].size() + 1;
  }
  if (candidates.empty()) throw Error("eval: lcc: the Python sources are too short for " + std::to_string(r.target_len) + " tokens");
  const size_t target = candidates[rng.below(candidates.size())];

  std::vector<int64_t> cum{0};  // cost of the n lines before the target
  for (size_t k = 1; k <= target && cum.back() < static_cast<int64_t>(budget) * 3 / 2 + 64; ++k) cum.push_back(cum.back() + g.code_line_cost(target - k));
  Plan p;
  p.n_max = static_cast<int>(cum.size()) - 1;
  p.estimate = [cum](int n) { return cum[static_cast<size_t>(n)]; };
  p.build = [&lines, target](int n) {
    Layout l;
    l.head = "Please complete the code given below. \n";
    std::string code;
    for (size_t i = target - static_cast<size_t>(n); i < target; ++i) code += lines[i] + "\n";
    l.context = {{std::move(code), false}};
    l.tail = "Next line of code:\n";
    return l;
  };
  p.answers = {stripped(lines[target])};
  return p;
}

}  // namespace slim::eval::detail
