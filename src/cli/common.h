// Shared CLI helpers: default model lookup, file reading, timing and memory figures, progress line.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>

namespace slim::cli {

// -m value, else $SLIM_MODEL, else the installed Gemma 3 270M (./models or the PyPI package's cache).
std::string resolve_model_path(const std::string& flag);
std::string read_file(const std::string& path);  // throws slim::Error
std::string read_stdin();
double peak_rss_mib();

struct Timer {
  std::chrono::steady_clock::time_point t0 = std::chrono::steady_clock::now();
  double ms() const {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  }
};

// A one-line progress bar on stderr (only when stderr is a terminal or force is set).
class Progress {
 public:
  Progress(const char* label, int total, bool enabled);
  void update(int done);
  void finish();

 private:
  std::string label_;
  int total_;
  bool enabled_;
  Timer t_;
  bool drawn_ = false;
};

}  // namespace slim::cli
