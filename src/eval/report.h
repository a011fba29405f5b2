// The `slim eval` report: aggregates runner results per task × length × configuration (and by needle depth)
// against the dense reference, and writes report.md (markdown tables), results.json (the same figures for
// programs) and SVG plots (score vs kept KV, TTFT vs length, accuracy by needle depth). No plotting library:
// the SVG is written here.
#pragma once
#include <string>
#include <vector>

#include "eval/fidelity.h"
#include "eval/runner.h"

namespace slim::eval {

// Figures of one configuration over a group of samples, paired with dense on the same sample ids.
struct CellStats {
  std::string task;             // task name, or "all" / "needle" for pooled rows
  int length = 0;               // target length; 0 for all lengths
  std::string config;
  int n = 0;                    // samples
  bool generative = true;       // false: "ppl" samples
  double score = 0;             // mean task score (0-100)
  Interval d_score;             // score - dense, paired bootstrap CI
  Interval d_gold_nll;          // per-token gold NLL - dense
  Interval d_log_ppl;           // "ppl": mean NLL - dense (ln of the perplexity ratio)
  double gold_nll = 0;          // mean per-token gold NLL (generative) or mean NLL (ppl)
  double kl_mean = 0, kl_p99 = 0, kl_max = 0;  // per-sample means, p99s averaged, overall max
  double top1 = 1, greedy_frac = 1, greedy_exact = 1, dp_rms = 0;
  bool compared = false;        // has fidelity figures (not the dense row)
  double retention = 1;         // needle retention in global layers (samples with needles)
  int retention_n = 0;
  double ttft_ms = 0, speedup = 1;  // mean TTFT; Σ dense TTFT / Σ TTFT over the same samples
  double kv_ratio = 1;          // Σ prompt KV bytes / Σ dense prompt KV bytes
  std::string verdict;          // "reference", "identical", "worse", "no significant loss"
};

struct DepthStats {
  int length = 0;
  std::string config;
  int bin = 0;                  // 0..4: depth in [0.2·bin, 0.2·bin+0.2)
  int n = 0;
  double score = 0;
};

struct Aggregate {
  std::vector<std::string> configs;  // dense first, then in order of appearance
  std::vector<int> lengths;
  std::vector<CellStats> cells;      // per task × length × config
  std::vector<CellStats> by_config;  // pooled over tasks and lengths, per config ("all" generative, "ppl")
  std::vector<CellStats> by_length;  // pooled over tasks, per length × config
  std::vector<DepthStats> depth;
};

Aggregate aggregate(const std::vector<Result>& results, int resamples = 1000);

struct ReportOptions {
  std::string out_dir;
  std::string model;     // model file / name for the header
  std::string command;   // the command line that produced the results
  std::string command_note;  // text after it on the Command line (--report-only keeps a hand-written note)
  int resamples = 1000;
};

// Writes report.md, results.json and the plots into out_dir; returns the paths written.
std::vector<std::string> write_report(const std::vector<Result>& results, const ReportOptions& opt);

// A minimal SVG line chart: one polyline with markers per series.
struct Series {
  std::string name;
  std::vector<std::pair<double, double>> points;  // (x, y), drawn in x order
};
std::string svg_line_chart(const std::string& title, const std::string& x_label, const std::string& y_label,
                           const std::vector<Series>& series, bool log2_x = false);

}  // namespace slim::eval
