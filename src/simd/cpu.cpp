#include "simd/cpu.h"

#include <atomic>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
#if defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#endif
#include <cstdlib>
#include <fstream>

#include "slim/error.h"

namespace slim::simd {

namespace {

#if defined(__x86_64__) || defined(__i386__)
constexpr bool kX86 = true;
#else
constexpr bool kX86 = false;
#endif

// -1: not chosen yet. Relaxed is enough: every thread that reads it computes the same choice.
std::atomic<int> g_active{-1};

Target choose() {
  if (const char* env = std::getenv("SLIM_CPU"); env && *env) {
    const Target t = parse(env);
    if (!compiled(t)) throw Error(std::string("SLIM_CPU=") + env + ": this build has no " + name(t) + " kernels");
    if (!cpu_supports(t))
      throw Error(std::string("SLIM_CPU=") + env + ": this CPU lacks the instructions of the " + describe(t) +
                  " target");
    return t;
  }
  return available().back();
}

}  // namespace

bool compiled(Target t) {
  switch (t) {
    case Target::kScalar: return true;
#if defined(SLIM_KERNELS_X86_SIMD)
    case Target::kAVX2:
    case Target::kAVX512: return true;
#endif
#if defined(SLIM_KERNELS_ARM_SIMD)
    case Target::kNEON: return true;
#endif
    default: return false;
  }
}

#if defined(__x86_64__) || defined(__i386__)
namespace {
// CPUID + XGETBV (works with GCC and Clang alike; Clang 14's __builtin_cpu_supports lacks "f16c").
struct X86Features {
  bool avx2 = false, avx512 = false;
  X86Features() {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return;
    const bool fma = c & (1u << 12), osxsave = c & (1u << 27), avx = c & (1u << 28), f16c = c & (1u << 29);
    if (!osxsave || !avx) return;
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    const bool os_avx = (lo & 0x6u) == 0x6u, os_avx512 = (lo & 0xE6u) == 0xE6u;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return;
    const bool avx2_bit = b & (1u << 5), bmi2 = b & (1u << 8);
    const bool f = b & (1u << 16), dq = b & (1u << 17), bw = b & (1u << 30), vl = b & (1u << 31);
    const bool vnni = c & (1u << 11);
    avx2 = os_avx && avx2_bit && fma && f16c && bmi2;
    // The integer GEMM tiles need VNNI; AVX-512 CPUs without it (Skylake-SP) run the avx2 target.
    avx512 = avx2 && os_avx512 && f && dq && bw && vl && vnni;
  }
};
const X86Features& x86() {
  static const X86Features f;
  return f;
}
}  // namespace
#endif

bool cpu_supports(Target t) {
  switch (t) {
    case Target::kScalar: return true;
#if defined(__x86_64__) || defined(__i386__)
    case Target::kAVX2: return x86().avx2;
    case Target::kAVX512: return x86().avx512;
#else
    case Target::kAVX2:
    case Target::kAVX512: return false;
#endif
    case Target::kNEON:
#if defined(__aarch64__)
      return true;
#else
      return false;
#endif
  }
  return false;
}

std::vector<Target> available() {
  std::vector<Target> out{Target::kScalar};
  for (Target t : {Target::kAVX2, Target::kAVX512, Target::kNEON})
    if (compiled(t) && cpu_supports(t)) out.push_back(t);
  return out;
}

Target active() {
  int v = g_active.load(std::memory_order_relaxed);
  if (v < 0) {
    v = static_cast<int>(choose());
    g_active.store(v, std::memory_order_relaxed);
  }
  return static_cast<Target>(v);
}

void force(Target t) {
  if (!compiled(t)) throw Error(std::string("cpu target ") + name(t) + ": not compiled into this build");
  if (!cpu_supports(t)) throw Error(std::string("cpu target ") + name(t) + ": this CPU lacks its instructions");
  g_active.store(static_cast<int>(t), std::memory_order_relaxed);
}

Target parse(const std::string& s) {
  if (s == "scalar") return Target::kScalar;
  if (s == "avx2") return Target::kAVX2;
  if (s == "avx512") return Target::kAVX512;
  if (s == "neon") return Target::kNEON;
  throw Error("SLIM_CPU=" + s + ": unknown target (valid: scalar, avx2, avx512, neon)");
}

const char* name(Target t) {
  switch (t) {
    case Target::kScalar: return "scalar";
    case Target::kAVX2: return "avx2";
    case Target::kAVX512: return "avx512";
    case Target::kNEON: return "neon";
  }
  return "?";
}

std::string describe(Target t) {
  switch (t) {
    case Target::kScalar: return "scalar (reference loops)";
    case Target::kAVX2: return "avx2 (AVX2 FMA F16C)";
    case Target::kAVX512: return "avx512 (AVX512F BW DQ VL VNNI)";
    case Target::kNEON: return has_dotprod() ? "neon (NEON dotprod)" : "neon (NEON)";
  }
  return "?";
}

bool has_dotprod() {
#if defined(__aarch64__) && defined(__linux__)
  static const bool v = [] {
    if (const char* env = std::getenv("SLIM_NEON_DOTPROD"); env && std::string(env) == "0") return false;
    return (getauxval(AT_HWCAP) & (1ul << 20)) != 0;  // HWCAP_ASIMDDP
  }();
  return v;
#else
  return false;
#endif
}

std::string cpu_model() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line)) {
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    const std::string key = line.substr(0, line.find_last_not_of(" \t", colon - 1) + 1);
    if (key == "model name" || key == "Model" || key == "CPU part") {
      std::string v = line.substr(colon + 1);
      v.erase(0, v.find_first_not_of(" \t"));
      if (!v.empty()) return v;
    }
  }
  (void)kX86;
  return "unknown CPU";
}

}  // namespace slim::simd
