// Which SIMD target the kernels run on. Every kernel module is compiled once per target (foreach_target.h)
// and its entry points dispatch on active(), chosen once from the CPU's features or from SLIM_CPU.
#pragma once
#include <string>
#include <vector>

namespace slim::simd {

enum class Target { kScalar = 0, kAVX2 = 1, kAVX512 = 2, kNEON = 3 };

// The target the kernels use now. The first call picks it: $SLIM_CPU if set (scalar|avx2|avx512|neon;
// a target this CPU or this build lacks throws slim::Error), else the best one this CPU and build support.
Target active();
// Targets this build compiled and this CPU can run, worst first (scalar is always there).
std::vector<Target> available();
bool compiled(Target t);
bool cpu_supports(Target t);
// Switches every kernel to t (tests, benchmarks); throws slim::Error if !compiled(t) || !cpu_supports(t).
void force(Target t);
// Parses a SLIM_CPU value; throws slim::Error naming the valid values.
Target parse(const std::string& name);

const char* name(Target t);  // "scalar", "avx2", "avx512", "neon"
// What the target uses, for --version and timing blocks: e.g. "avx2 (AVX2 FMA F16C)".
std::string describe(Target t);
// The CPU's model name (/proc/cpuinfo), or "unknown CPU".
std::string cpu_model();
// AArch64 only: whether the CPU has the dotprod extension (SDOT/UDOT); the neon target then runs its
// t_neon_dot variants. $SLIM_NEON_DOTPROD=0 turns them off (tests of the plain NEON path on such CPUs).
bool has_dotprod();

}  // namespace slim::simd
