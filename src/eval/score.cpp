// Task scorers, as RULER (scripts/eval/synthetic/constants.py) and LongBench (metrics.py) define them.
// Every score is in [0, 100].
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "eval/tasks.h"
#include "slim/error.h"

namespace slim::eval {

namespace {

std::string ascii_lower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

std::string strip(const std::string& s, const char* chars = " \t\n\r\f\v") {
  const size_t b = s.find_first_not_of(chars);
  if (b == std::string::npos) return "";
  const size_t e = s.find_last_not_of(chars);
  return s.substr(b, e - b + 1);
}

// RULER: strip, control characters become newlines, strip again. We then keep the first line, because a
// base model completing the answer prefix is stopped at the first newline (the runner does the same).
std::string ruler_normalise(const std::string& pred) {
  std::string p = strip(pred);
  for (char& c : p) {
    if (static_cast<unsigned char>(c) < 0x20) c = '\n';
  }
  p = strip(p);
  const size_t nl = p.find('\n');
  if (nl != std::string::npos) p.resize(nl);
  return ascii_lower(p);
}

double string_match_all(const std::vector<std::string>& refs, const std::string& pred) {
  if (refs.empty()) return 0;
  const std::string p = ruler_normalise(pred);
  int hits = 0;
  for (const std::string& r : refs) hits += p.find(ascii_lower(r)) != std::string::npos ? 1 : 0;
  return 100.0 * hits / static_cast<double>(refs.size());
}

double string_match_part(const std::vector<std::string>& refs, const std::string& pred) {
  const std::string p = ruler_normalise(pred);
  for (const std::string& r : refs) {
    if (p.find(ascii_lower(r)) != std::string::npos) return 100;
  }
  return 0;
}

// Maximal runs of ASCII digits (Python's re.findall(r"\d+") on ASCII text).
std::vector<std::string> digit_runs(const std::string& s) {
  std::vector<std::string> out;
  for (size_t i = 0; i < s.size();) {
    if (s[i] < '0' || s[i] > '9') {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < s.size() && s[j] >= '0' && s[j] <= '9') ++j;
    out.push_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

// LongBench count_score / retrieval_score: share of the numbers in the prediction that equal the gold.
double number_share(const std::string& gold, const std::string& pred) {
  const std::vector<std::string> nums = digit_runs(pred);
  if (nums.empty()) return 0;
  const auto right = std::count(nums.begin(), nums.end(), gold);
  return 100.0 * static_cast<double>(right) / static_cast<double>(nums.size());
}

double count_score(const std::vector<std::string>& refs, const std::string& pred) {
  double best = 0;
  for (const std::string& r : refs) best = std::max(best, number_share(r, pred));
  return best;
}

double retrieval_score(const std::vector<std::string>& refs, const std::string& pred) {
  double best = 0;
  for (const std::string& r : refs) {
    const size_t at = r.find("Paragraph ");
    const std::vector<std::string> ids = digit_runs(at == std::string::npos ? r : r.substr(at));
    if (!ids.empty()) best = std::max(best, number_share(ids.front(), pred));
  }
  return best;
}

// Code points of UTF-8 text (a stray byte counts as one unit), so lengths match Python's str.
std::vector<uint32_t> code_points(const std::string& s) {
  std::vector<uint32_t> out;
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
    if (i + n > s.size()) n = 1;
    uint32_t cp = n == 1 ? c : (c & (0xFF >> (n + 1)));
    for (size_t k = 1; k < n; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    out.push_back(cp);
    i += n;
  }
  return out;
}

}  // namespace

// fuzzywuzzy fuzz.ratio with python-Levenshtein: round(100 * (|a| + |b| - indel(a, b)) / (|a| + |b|)),
// where indel(a, b) = |a| + |b| - 2 LCS(a, b); 0 when either string is empty.
double edit_similarity(const std::string& a_text, const std::string& b_text) {
  const std::vector<uint32_t> a = code_points(a_text), b = code_points(b_text);
  if (a.empty() || b.empty()) return 0;
  std::vector<int> prev(b.size() + 1, 0), cur(b.size() + 1, 0);
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      cur[j] = a[i - 1] == b[j - 1] ? prev[j - 1] + 1 : std::max(prev[j], cur[j - 1]);
    }
    std::swap(prev, cur);
  }
  const double lcs = prev[b.size()];
  const double ratio = 2.0 * lcs / static_cast<double>(a.size() + b.size());
  return std::nearbyint(100.0 * ratio);  // round half to even, as Python's round()
}

namespace {

// LongBench code_sim: the first line of the prediction without ` # or //, compared with the gold line.
// Leading and trailing white space is ignored on both sides (our gold lines are stored without indentation).
double code_sim(const std::vector<std::string>& refs, const std::string& pred) {
  std::string p = pred;
  const size_t b = p.find_first_not_of('\n');
  p = b == std::string::npos ? "" : p.substr(b);
  std::string line;
  size_t start = 0;
  while (start <= p.size()) {
    size_t nl = p.find('\n', start);
    if (nl == std::string::npos) nl = p.size();
    const std::string cand = p.substr(start, nl - start);
    if (cand.find('`') == std::string::npos && cand.find('#') == std::string::npos && cand.find("//") == std::string::npos) {
      line = cand;
      break;
    }
    start = nl + 1;
  }
  double best = 0;
  for (const std::string& r : refs) best = std::max(best, edit_similarity(strip(line), strip(r)));
  return best;
}

}  // namespace

double score_metric(const std::string& metric, const std::vector<std::string>& answers, const std::string& prediction) {
  if (metric == "string_match_all") return string_match_all(answers, prediction);
  if (metric == "string_match_part") return string_match_part(answers, prediction);
  if (metric == "count") return count_score(answers, prediction);
  if (metric == "retrieval") return retrieval_score(answers, prediction);
  if (metric == "code_sim") return code_sim(answers, prediction);
  throw Error("eval: unknown metric '" + metric + "'");
}

double score(const Sample& s, const std::string& prediction) { return score_metric(s.metric, s.answers, prediction); }

}  // namespace slim::eval
