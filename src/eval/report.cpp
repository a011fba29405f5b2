#include "eval/report.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "slim/error.h"

namespace slim::eval {

namespace {

using json = nlohmann::json;

bool generative(const Result& r) { return r.metric != "ppl"; }

CellStats stats_for(const std::vector<const Result*>& rs, const std::map<std::string, const Result*>& dense,
                    int resamples) {
  CellStats c;
  c.n = static_cast<int>(rs.size());
  if (rs.empty()) return c;
  c.config = rs[0]->config;
  std::vector<double> score, d_sc, gold, d_gold, ppl, d_ppl, kl_mean, kl_p99, top1, gfrac, gexact, dp, ret;
  double kl_max = 0, ttft_sum = 0, ttft_dense = 0, ttft_cfg = 0, kv = 0, kv_dense = 0;
  int ttft_n = 0;
  for (const Result* r : rs) {
    auto it = dense.find(r->id);
    const Result* d = it == dense.end() ? nullptr : it->second;
    if (generative(*r)) {
      score.push_back(r->score);
      if (d) d_sc.push_back(d->score);
      if (r->gold_tokens > 0) {
        gold.push_back(r->gold_nll / r->gold_tokens);
        if (d && d->gold_tokens > 0) d_gold.push_back(d->gold_nll / d->gold_tokens);
      }
    } else {
      ppl.push_back(r->nll_mean);
      if (d) d_ppl.push_back(d->nll_mean);
    }
    if (r->compared) {
      c.compared = true;
      kl_mean.push_back(r->kl.mean);
      kl_p99.push_back(r->kl.p99);
      kl_max = std::max(kl_max, r->kl.max);
      top1.push_back(r->top1);
      dp.push_back(r->dp_rms);
      if (generative(*r)) {
        gfrac.push_back(r->greedy_frac);
        gexact.push_back(r->greedy_exact ? 1.0 : 0.0);
      }
    }
    if (!r->retention.empty()) ret.push_back(r->retention_global);
    ttft_sum += r->timing.ttft_ms;
    ++ttft_n;
    if (d && d->timing.ttft_ms > 0 && r->timing.ttft_ms > 0) {
      ttft_dense += d->timing.ttft_ms;
      ttft_cfg += r->timing.ttft_ms;
    }
    kv += r->kv_bytes;
    kv_dense += r->kv_bytes_dense;
  }
  c.generative = !score.empty();
  c.score = mean_of(score);
  // Paired differences only where every member has its dense partner.
  if (d_sc.size() == score.size()) c.d_score = paired_bootstrap(d_sc, score, resamples);
  if (d_gold.size() == gold.size()) c.d_gold_nll = paired_bootstrap(d_gold, gold, resamples);
  if (d_ppl.size() == ppl.size()) c.d_log_ppl = paired_bootstrap(d_ppl, ppl, resamples);
  c.gold_nll = c.generative ? mean_of(gold) : mean_of(ppl);
  c.kl_mean = mean_of(kl_mean);
  c.kl_p99 = mean_of(kl_p99);
  c.kl_max = kl_max;
  c.top1 = top1.empty() ? 1 : mean_of(top1);
  c.greedy_frac = gfrac.empty() ? 1 : mean_of(gfrac);
  c.greedy_exact = gexact.empty() ? 1 : mean_of(gexact);
  c.dp_rms = mean_of(dp);
  c.retention = ret.empty() ? 1 : mean_of(ret);
  c.retention_n = static_cast<int>(ret.size());
  c.ttft_ms = ttft_n ? ttft_sum / ttft_n : 0;
  c.speedup = ttft_cfg > 0 ? ttft_dense / ttft_cfg : 1;
  c.kv_ratio = kv_dense > 0 ? kv / kv_dense : 1;
  if (!c.compared) {
    c.verdict = "reference";
  } else {
    const bool identical = c.kl_max == 0 && c.d_score.mean == 0 && c.d_gold_nll.mean == 0 && c.d_log_ppl.mean == 0;
    const bool worse = (c.d_score.n > 1 && c.d_score.hi < 0) || (c.d_gold_nll.n > 1 && c.d_gold_nll.lo > 0) ||
                       (c.d_log_ppl.n > 1 && c.d_log_ppl.lo > 0);
    c.verdict = identical ? "identical" : worse ? "worse" : "no significant loss";
  }
  return c;
}

std::string fmt(double v, int prec = 2) {
  char b[64];
  std::snprintf(b, sizeof b, "%.*f", prec, v);
  return b;
}
std::string fmt_sci(double v) {
  if (v == 0) return "0";
  char b[64];
  std::snprintf(b, sizeof b, std::fabs(v) >= 0.01 ? "%.3f" : "%.2e", v);
  return b;
}
std::string fmt_ci(const Interval& iv, int prec = 2) {
  if (iv.n == 0) return "—";
  char b[128];
  if (iv.n < 2) std::snprintf(b, sizeof b, "%+.*f", prec, iv.mean);
  else std::snprintf(b, sizeof b, "%+.*f [%+.*f, %+.*f]", prec, iv.mean, prec, iv.lo, prec, iv.hi);
  return b;
}
std::string depth_bin_name(int b) { return std::to_string(20 * b) + "–" + std::to_string(20 * b + 20) + "%"; }

json interval_json(const Interval& iv) { return {{"n", iv.n}, {"mean", iv.mean}, {"lo", iv.lo}, {"hi", iv.hi}}; }
json cell_json(const CellStats& c) {
  return {{"task", c.task},
          {"L", c.length},
          {"config", c.config},
          {"n", c.n},
          {"score", c.score},
          {"d_score", interval_json(c.d_score)},
          {"d_gold_nll_per_token", interval_json(c.d_gold_nll)},
          {"d_log_ppl", interval_json(c.d_log_ppl)},
          {"nll", c.gold_nll},
          {"kl_mean", c.kl_mean},
          {"kl_p99", c.kl_p99},
          {"kl_max", c.kl_max},
          {"top1", c.top1},
          {"greedy_frac", c.greedy_frac},
          {"greedy_exact", c.greedy_exact},
          {"dp_rms", c.dp_rms},
          {"needle_retention", c.retention},
          {"ttft_ms", c.ttft_ms},
          {"speedup", c.speedup},
          {"kv_ratio", c.kv_ratio},
          {"verdict", c.verdict}};
}

std::string xml_escape(const std::string& s) {
  std::string o;
  for (char ch : s) {
    if (ch == '<') o += "&lt;";
    else if (ch == '>') o += "&gt;";
    else if (ch == '&') o += "&amp;";
    else if (ch == '"') o += "&quot;";
    else o += ch;
  }
  return o;
}

// Tick step of about range/5 from {1, 2, 5}·10^k.
double nice_step(double range) {
  if (!(range > 0)) return 1;
  const double raw = range / 5, mag = std::pow(10, std::floor(std::log10(raw)));
  for (double f : {1.0, 2.0, 5.0})
    if (f * mag >= raw) return f * mag;
  return 10 * mag;
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  if (!out) throw Error("eval: cannot write '" + path + "'");
  out << text;
}

}  // namespace

Aggregate aggregate(const std::vector<Result>& results, int resamples) {
  Aggregate a;
  std::map<std::string, const Result*> dense;
  std::set<int> lengths;
  for (const Result& r : results) {
    if (r.config == kDenseLabel) dense[r.id] = &r;
    if (std::find(a.configs.begin(), a.configs.end(), r.config) == a.configs.end()) {
      if (r.config == kDenseLabel) a.configs.insert(a.configs.begin(), r.config);
      else a.configs.push_back(r.config);
    }
    lengths.insert(r.target_len);
  }
  a.lengths.assign(lengths.begin(), lengths.end());
  // Tasks in order of first appearance (the generator's order).
  std::vector<std::string> tasks;
  for (const Result& r : results)
    if (std::find(tasks.begin(), tasks.end(), r.task) == tasks.end()) tasks.push_back(r.task);

  auto group = [&](auto&& keep) {
    std::vector<const Result*> g;
    for (const Result& r : results)
      if (keep(r)) g.push_back(&r);
    return g;
  };
  for (const std::string& task : tasks)
    for (int L : a.lengths)
      for (const std::string& cfg : a.configs) {
        auto g = group([&](const Result& r) { return r.task == task && r.target_len == L && r.config == cfg; });
        if (g.empty()) continue;
        CellStats c = stats_for(g, dense, resamples);
        c.task = task;
        c.length = L;
        a.cells.push_back(c);
      }
  for (const std::string& cfg : a.configs) {
    CellStats c = stats_for(group([&](const Result& r) { return r.config == cfg; }), dense, resamples);
    c.task = "all";
    c.config = cfg;
    a.by_config.push_back(c);
    for (int L : a.lengths) {
      auto g = group([&](const Result& r) { return r.config == cfg && r.target_len == L; });
      if (g.empty()) continue;
      CellStats cl = stats_for(g, dense, resamples);
      cl.task = "all";
      cl.length = L;
      a.by_length.push_back(cl);
    }
  }
  for (int L : a.lengths)
    for (const std::string& cfg : a.configs)
      for (int bin = 0; bin < 5; ++bin) {
        DepthStats d;
        d.length = L;
        d.config = cfg;
        d.bin = bin;
        double sum = 0;
        for (const Result& r : results) {
          if (r.config != cfg || r.target_len != L || r.depth < 0 || !generative(r)) continue;
          if (std::min(4, static_cast<int>(r.depth * 5)) != bin) continue;
          sum += r.score;
          ++d.n;
        }
        if (d.n == 0) continue;
        d.score = sum / d.n;
        a.depth.push_back(d);
      }
  return a;
}

std::string svg_line_chart(const std::string& title, const std::string& x_label, const std::string& y_label,
                           const std::vector<Series>& series, bool log2_x) {
  const double W = 680, H = 400, ml = 70, mr = 200, mt = 40, mb = 55;
  const double pw = W - ml - mr, ph = H - mt - mb;
  auto tx = [&](double x) { return log2_x ? std::log2(std::max(x, 1e-9)) : x; };
  double x0 = 1e300, x1 = -1e300, y0 = 0, y1 = -1e300;
  for (const Series& s : series)
    for (auto [x, y] : s.points) {
      x0 = std::min(x0, tx(x));
      x1 = std::max(x1, tx(x));
      y0 = std::min(y0, y);
      y1 = std::max(y1, y);
    }
  if (x0 > x1) x0 = 0, x1 = 1;
  if (x1 - x0 < 1e-12) x0 -= 0.5, x1 += 0.5;
  if (y1 <= y0) y1 = y0 + 1;
  const double ystep = nice_step(y1 - y0);
  y1 = std::ceil(y1 / ystep) * ystep;
  const double xpad = (x1 - x0) * 0.05;
  x0 -= xpad;
  x1 += xpad;
  auto px = [&](double x) { return ml + (tx(x) - x0) / (x1 - x0) * pw; };
  auto py = [&](double y) { return mt + ph - (y - y0) / (y1 - y0) * ph; };
  static const char* colors[] = {"#222222", "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b",
                                 "#e377c2", "#17becf", "#bcbd22"};
  std::ostringstream o;
  o << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W << "\" height=\"" << H
    << "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  o << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  o << "<text x=\"" << ml + pw / 2 << "\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">" << xml_escape(title)
    << "</text>\n";
  // Grid and y ticks.
  for (double y = y0; y <= y1 + ystep * 1e-6; y += ystep) {
    o << "<line x1=\"" << ml << "\" x2=\"" << ml + pw << "\" y1=\"" << py(y) << "\" y2=\"" << py(y)
      << "\" stroke=\"#e0e0e0\"/>\n";
    o << "<text x=\"" << ml - 6 << "\" y=\"" << py(y) + 4 << "\" text-anchor=\"end\">" << fmt(y, ystep < 1 ? 2 : 0)
      << "</text>\n";
  }
  // x ticks: the distinct x values of the data (lengths, keep ratios, depth bins).
  std::set<double> xs;
  for (const Series& s : series)
    for (auto [x, y] : s.points) xs.insert(x);
  double last_px = -1e9;
  for (double x : xs) {
    if (px(x) - last_px < 28) continue;  // avoid overprinting
    last_px = px(x);
    o << "<line x1=\"" << px(x) << "\" x2=\"" << px(x) << "\" y1=\"" << mt + ph << "\" y2=\"" << mt + ph + 5
      << "\" stroke=\"black\"/>\n";
    o << "<text x=\"" << px(x) << "\" y=\"" << mt + ph + 18 << "\" text-anchor=\"middle\">"
      << (x == std::floor(x) && std::fabs(x) < 1e9 ? std::to_string(static_cast<long long>(x)) : fmt(x, 2))
      << "</text>\n";
  }
  o << "<rect x=\"" << ml << "\" y=\"" << mt << "\" width=\"" << pw << "\" height=\"" << ph
    << "\" fill=\"none\" stroke=\"black\"/>\n";
  o << "<text x=\"" << ml + pw / 2 << "\" y=\"" << H - 12 << "\" text-anchor=\"middle\">" << xml_escape(x_label)
    << "</text>\n";
  o << "<text transform=\"translate(16," << mt + ph / 2 << ") rotate(-90)\" text-anchor=\"middle\">"
    << xml_escape(y_label) << "</text>\n";
  for (size_t i = 0; i < series.size(); ++i) {
    const char* col = colors[i % 10];
    std::vector<std::pair<double, double>> pts = series[i].points;
    std::sort(pts.begin(), pts.end());
    if (pts.size() > 1) {
      o << "<polyline fill=\"none\" stroke=\"" << col << "\" stroke-width=\"2\" points=\"";
      for (auto [x, y] : pts) o << px(x) << "," << py(y) << " ";
      o << "\"/>\n";
    }
    for (auto [x, y] : pts)
      o << "<circle cx=\"" << px(x) << "\" cy=\"" << py(y) << "\" r=\"3.5\" fill=\"" << col << "\"/>\n";
    const double ly = mt + 10 + 18.0 * static_cast<double>(i);
    o << "<line x1=\"" << ml + pw + 12 << "\" x2=\"" << ml + pw + 32 << "\" y1=\"" << ly << "\" y2=\"" << ly
      << "\" stroke=\"" << col << "\" stroke-width=\"2\"/>\n";
    std::string name = series[i].name;
    if (name.size() > 26) name = name.substr(0, 25) + "…";
    o << "<text x=\"" << ml + pw + 36 << "\" y=\"" << ly + 4 << "\">" << xml_escape(name) << "</text>\n";
  }
  o << "</svg>\n";
  return o.str();
}

std::vector<std::string> write_report(const std::vector<Result>& results, const ReportOptions& opt) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(opt.out_dir, ec);
  const Aggregate a = aggregate(results, opt.resamples);
  // Display names: the spec as the user wrote it; C1, C2... where those would clash.
  std::map<std::string, std::string> shown, resolved;
  for (const Result& r : results) {
    shown.emplace(r.config, r.config_spec.empty() || r.config == kDenseSelfLabel ? r.config : r.config_spec);
    resolved.emplace(r.config, r.config);
  }
  auto name = [&](const std::string& label) { return shown.count(label) ? shown[label] : label; };
  std::vector<std::string> written;
  const std::string dir = opt.out_dir.empty() ? "." : opt.out_dir;

  std::ostringstream md;
  md << "# slim eval report\n\n";
  if (!opt.model.empty()) md << "Model: `" << opt.model << "`  \n";
  if (!opt.command.empty())
    md << "Command: `" << opt.command << "`" << (opt.command_note.empty() ? "  " : opt.command_note) << "\n";
  size_t n_samples = 0;
  for (const Result& r : results) n_samples += r.config == kDenseLabel;
  md << "Samples: " << n_samples << "; configurations: " << a.configs.size() << "; lengths:";
  for (int L : a.lengths) md << " " << L;
  md << "\n\nConfigurations (resolved):\n\n";
  for (const std::string& c : a.configs) md << "- `" << name(c) << "` = `" << resolved[c] << "`\n";

  md << "\n## Summary by configuration\n\n"
        "Δ columns are configuration − dense on the same samples, with paired-bootstrap 95% CIs "
        "(" << opt.resamples << " resamples). Verdict `worse`: a CI excludes 0 on the bad side.\n\n"
        "| config | n | score | Δ score | Δ gold NLL/token | Δ log-PPL | KL mean | KL max | top-1 | greedy exact "
        "| needle kept | TTFT ms | speed-up | KV | verdict |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n";
  for (const CellStats& c : a.by_config)
    md << "| " << name(c.config) << " | " << c.n << " | " << (c.generative ? fmt(c.score, 1) : "—") << " | "
       << (c.compared ? fmt_ci(c.d_score, 1) : "—") << " | " << (c.compared ? fmt_ci(c.d_gold_nll, 3) : "—")
       << " | " << (c.compared ? fmt_ci(c.d_log_ppl, 4) : "—") << " | " << (c.compared ? fmt_sci(c.kl_mean) : "—") << " | " << (c.compared ? fmt_sci(c.kl_max) : "—") << " | "
       << fmt(c.top1, 3) << " | " << fmt(c.greedy_exact, 2) << " | "
       << (c.retention_n ? fmt(c.retention, 3) : "—") << " | " << fmt(c.ttft_ms, 0) << " | " << fmt(c.speedup, 2)
       << "× | " << fmt(c.kv_ratio, 3) << " | " << c.verdict << " |\n";

  // The accuracy bar of the pruning issues, as point estimates: mean score at most 1 point below dense, and no
  // task × length cell more than 3 points below. Shown beside the flips' sign test (below), because with a few
  // samples per cell one flipped near tie decides it.
  {
    std::ostringstream bar;
    for (const CellStats& c : a.by_config) {
      if (!c.compared || !c.generative || c.config == kDenseSelfLabel) continue;
      std::ostringstream below;
      int n_below = 0;
      for (const CellStats& t : a.cells)
        if (t.config == c.config && t.generative && t.compared && t.d_score.mean < -3.0)
          below << (n_below++ ? ", " : "") << t.task << "@" << t.length << " " << fmt(t.d_score.mean, 1) << " (n="
                << t.n << ")";
      const bool mean_ok = c.d_score.mean >= -1.0;
      bar << "- `" << name(c.config) << "`: mean Δ score " << fmt(c.d_score.mean, 1) << " ("
          << (mean_ok ? "within" : "outside") << " the 1-point bar); "
          << (n_below ? std::to_string(n_below) + " cell(s) more than 3 below dense: " + below.str()
                      : std::string("no cell more than 3 below dense"))
          << (mean_ok && !n_below ? " — **meets the bar**" : " — misses the bar") << "\n";
    }
    if (!bar.str().empty())
      md << "\n## Accuracy bar (point estimates)\n\nMean task score at most 1 point below dense, and no task × "
            "length cell more than 3 points below it. With few samples per cell, read it beside the sign test "
            "under \"Samples whose score changed\".\n\n"
         << bar.str();
  }

  md << "\n## Task scores by task × length\n\n| task | L | n | metric |";
  for (const std::string& c : a.configs) md << " " << name(c) << " |";
  md << "\n|---|---|---|---|";
  for (size_t i = 0; i < a.configs.size(); ++i) md << "---|";
  md << "\n";
  std::map<std::string, std::string> task_metric;
  for (const Result& r : results) task_metric.emplace(r.task, r.metric);
  for (const CellStats& c : a.cells) {
    if (c.config != kDenseLabel || !c.generative) continue;
    md << "| " << c.task << " | " << c.length << " | " << c.n << " | " << task_metric[c.task] << " |";
    for (const std::string& cfg : a.configs) {
      auto it = std::find_if(a.cells.begin(), a.cells.end(), [&](const CellStats& x) {
        return x.task == c.task && x.length == c.length && x.config == cfg;
      });
      if (it == a.cells.end()) md << " — |";
      else if (cfg == kDenseLabel) md << " " << fmt(it->score, 1) << " |";
      else md << " " << fmt(it->score, 1) << " (" << fmt_ci(it->d_score, 1) << ") |";
    }
    md << "\n";
  }

  // Samples whose task score moved: where the configuration's greedy answer left dense's, and by how much
  // dense preferred its own token there. Score changes on 0/100 tasks are often flips of near-ties (a margin
  // of a fraction of a nat), which the per-task means cannot tell from real losses.
  {
    std::map<std::string, const Result*> dense_of;
    for (const Result& r : results)
      if (r.config == kDenseLabel) dense_of[r.id] = &r;
    auto clip = [](const std::string& t) {
      std::string o;
      for (char ch : t.substr(0, 48)) o += ch == '|' ? '/' : (ch == '\n' || ch == '`') ? ' ' : ch;
      return "`" + o + (t.size() > 48 ? "…" : "") + "`";
    };
    std::ostringstream rows;
    // Per configuration: lost, lost at a margin < 1 nat, gained, gained at < 1, margin not recorded.
    std::map<std::string, std::array<int, 5>> tally;
    for (const Result& r : results) {
      if (!r.compared || !generative(r) || r.config == kDenseSelfLabel) continue;
      auto d = dense_of.find(r.id);
      if (d == dense_of.end() || r.score == d->second->score) continue;
      const bool lost = r.score < d->second->score, near = r.flip_margin >= 0 && r.flip_margin < 1.0;
      auto& t = tally[r.config];
      t[lost ? 0 : 2] += 1;
      t[lost ? 1 : 3] += near;
      t[4] += std::isnan(r.flip_margin);
      rows << "| " << name(r.config) << " | " << r.id << " | " << fmt(r.score - d->second->score, 1) << " | "
           << (r.greedy_exact ? "—" : std::to_string(r.greedy_prefix)) << " | "
           << (std::isnan(r.flip_margin) || r.flip_margin < 0 ? "—" : fmt(r.flip_margin, 3)) << " | "
           << clip(d->second->prediction) << " | " << clip(r.prediction) << " |\n";
    }
    if (!tally.empty()) {
      md << "\n## Samples whose score changed\n\n"
            "Where the configuration's greedy answer first left dense's (token index) and dense's margin there: "
            "ln p_dense(its token) − ln p_dense(the configuration's token), in nats. Below 1 nat dense was close "
            "to a tie. The sign test asks whether losses and gains could be coin flips (two-sided exact binomial "
            "p of the lost/gained split; small p: the changes lean one way).\n\n";
      for (const auto& [cfg, t] : tally)
        md << "- `" << name(cfg) << "`: " << t[0] << " lost (" << t[1] << " at a margin below 1 nat), " << t[2]
           << " gained (" << t[3] << " below 1 nat)"
           << (t[4] ? "; " + std::to_string(t[4]) + " without a recorded margin (results from before the field)" : "")
           << "; sign test p = " << fmt(sign_test_p(t[0], t[2]), 3) << "\n";
      md << "\n| config | sample | Δ score | diverged at | dense margin | dense answer | answer |\n"
            "|---|---|---|---|---|---|---|\n"
         << rows.str();
    }
  }

  md << "\n## Detail per task × length × configuration\n\n"
        "| task | L | config | n | score | Δ score | gold NLL/token | Δ gold NLL/token | KL mean | KL p99 | KL max "
        "| top-1 | greedy agree | needle kept | TTFT ms | speed-up | KV |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n";
  for (const CellStats& c : a.cells) {
    if (!c.generative) continue;
    md << "| " << c.task << " | " << c.length << " | " << name(c.config) << " | " << c.n << " | " << fmt(c.score, 1)
       << " | " << fmt_ci(c.d_score, 1) << " | " << fmt(c.gold_nll, 3) << " | " << fmt_ci(c.d_gold_nll, 3) << " | "
       << (c.compared ? fmt_sci(c.kl_mean) : "—") << " | " << (c.compared ? fmt_sci(c.kl_p99) : "—") << " | "
       << (c.compared ? fmt_sci(c.kl_max) : "—") << " | " << fmt(c.top1, 3) << " | " << fmt(c.greedy_frac, 2)
       << " | " << (c.retention_n ? fmt(c.retention, 3) : "—") << " | " << fmt(c.ttft_ms, 0) << " | "
       << fmt(c.speedup, 2) << "× | " << fmt(c.kv_ratio, 3) << " |\n";
  }

  bool any_ppl = false;
  for (const CellStats& c : a.cells) any_ppl = any_ppl || !c.generative;
  if (any_ppl) {
    md << "\n## Long-text perplexity (prefix prefilled by the configuration, continuation scored)\n\n"
          "| task | L | config | n | NLL/token | PPL | Δ log-PPL | PPL ratio | KL mean | KL p99 | KL max | top-1 "
          "| Δp RMS | TTFT ms | KV |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n";
    for (const CellStats& c : a.cells) {
      if (c.generative) continue;
      md << "| " << c.task << " | " << c.length << " | " << name(c.config) << " | " << c.n << " | "
         << fmt(c.gold_nll, 4) << " | " << fmt(std::exp(c.gold_nll), 3) << " | " << fmt_ci(c.d_log_ppl, 4) << " | "
         << fmt(std::exp(c.d_log_ppl.mean), 4) << " | " << (c.compared ? fmt_sci(c.kl_mean) : "—") << " | "
         << (c.compared ? fmt_sci(c.kl_p99) : "—") << " | " << (c.compared ? fmt_sci(c.kl_max) : "—") << " | "
         << fmt(c.top1, 3) << " | " << fmt(c.dp_rms, 4) << " | " << fmt(c.ttft_ms, 0) << " | "
         << fmt(c.kv_ratio, 3) << " |\n";
    }
  }

  if (!a.depth.empty()) {
    md << "\n## Accuracy by needle depth (needle tasks pooled)\n\n| L | config |";
    for (int b = 0; b < 5; ++b) md << " " << depth_bin_name(b) << " |";
    md << "\n|---|---|---|---|---|---|---|\n";
    for (int L : a.lengths)
      for (const std::string& cfg : a.configs) {
        bool any = false;
        std::ostringstream row;
        row << "| " << L << " | " << name(cfg) << " |";
        for (int b = 0; b < 5; ++b) {
          auto it = std::find_if(a.depth.begin(), a.depth.end(), [&](const DepthStats& d) {
            return d.length == L && d.config == cfg && d.bin == b;
          });
          if (it == a.depth.end()) row << " — |";
          else row << " " << fmt(it->score, 1) << " (n=" << it->n << ") |", any = true;
        }
        if (any) md << row.str() << "\n";
      }
  }

  // Plots.
  std::vector<std::string> plots;
  {
    std::vector<Series> ser;
    for (const std::string& cfg : a.configs) {
      Series s{name(cfg), {}};
      for (const CellStats& c : a.by_length)
        if (c.config == cfg) s.points.push_back({double(c.length), c.ttft_ms / 1000.0});
      ser.push_back(s);
    }
    write_file(dir + "/ttft_vs_length.svg",
               svg_line_chart("Time to first token vs prompt length", "prompt length (tokens)", "TTFT (s)", ser, true));
    plots.push_back("ttft_vs_length.svg");
  }
  {
    std::set<double> keeps;
    for (const CellStats& c : a.by_length)
      if (c.generative) keeps.insert(std::round(c.kv_ratio * 1000) / 1000);
    if (keeps.size() >= 2) {
      std::vector<Series> ser;
      for (int L : a.lengths) {
        Series s{"L=" + std::to_string(L), {}};
        for (const CellStats& c : a.by_length)
          if (c.length == L && c.generative) s.points.push_back({c.kv_ratio, c.score});
        ser.push_back(s);
      }
      write_file(dir + "/score_vs_keep.svg", svg_line_chart("Mean task score vs kept prompt KV",
                                                            "prompt KV kept (fraction of dense)", "score", ser));
      plots.push_back("score_vs_keep.svg");
    }
  }
  if (!a.depth.empty()) {
    std::vector<Series> ser;
    for (int L : a.lengths)
      for (const std::string& cfg : a.configs) {
        Series s{name(cfg) + " L=" + std::to_string(L), {}};
        for (const DepthStats& d : a.depth)
          if (d.length == L && d.config == cfg) s.points.push_back({0.2 * d.bin + 0.1, d.score});
        if (!s.points.empty()) ser.push_back(s);
      }
    write_file(dir + "/needle_depth.svg",
               svg_line_chart("Needle tasks: score by needle depth", "needle depth (bin centre)", "score", ser));
    plots.push_back("needle_depth.svg");
  }
  md << "\n## Plots\n\n";
  for (const std::string& p : plots) md << "![" << p << "](" << p << ")\n";
  md << "\nColumns: *score* task metric ×100 (RULER string match, LongBench count/retrieval/code similarity); "
        "*gold NLL/token* −ln p(gold answer) teacher-forced after the prompt; *KL* KL(dense‖config) of the "
        "next-token distributions along the dense greedy answer (or the scored text); *top-1* same argmax as "
        "dense; *greedy exact/agree* the dense greedy answer reproduced entirely / fraction before the first "
        "divergence; *needle kept* needle tokens still in the KV of the global layers after prefill; "
        "*speed-up* dense TTFT / config TTFT; *KV* prompt KV bytes / dense. See docs/evaluation.md.\n";
  write_file(dir + "/report.md", md.str());
  written.push_back(dir + "/report.md");

  json j;
  j["model"] = opt.model;
  j["command"] = opt.command;
  j["configs"] = json::array();
  for (const std::string& c : a.configs) j["configs"].push_back({{"label", c}, {"spec", name(c)}});
  j["lengths"] = a.lengths;
  for (const CellStats& c : a.by_config) j["summary"].push_back(cell_json(c));
  for (const CellStats& c : a.by_length) j["by_length"].push_back(cell_json(c));
  for (const CellStats& c : a.cells) j["cells"].push_back(cell_json(c));
  for (const DepthStats& d : a.depth)
    j["depth"].push_back({{"L", d.length}, {"config", d.config}, {"bin", depth_bin_name(d.bin)}, {"n", d.n},
                          {"score", d.score}});
  write_file(dir + "/results.json", j.dump(2) + "\n");
  written.push_back(dir + "/results.json");
  for (const std::string& p : plots) written.push_back(dir + "/" + p);
  return written;
}

}  // namespace slim::eval
