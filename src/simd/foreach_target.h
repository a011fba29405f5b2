// Compiles one kernel module once per SIMD target, the way Highway's foreach_target.h does: define
// SLIM_TARGET_INCLUDE to the module's "-inl.h" file, then include this header. Each pass puts the module in
// its own namespace (SLIM_NS: t_scalar, t_avx2, t_avx512; on ARM t_neon, t_neon_dot) under `#pragma GCC target`, so one binary holds
// every variant and nothing compiled for AVX-512 can leak into a path that runs on an AVX2 CPU (templates
// and inline helpers live in the per-target namespace; headers are included before the first pass, at the
// baseline ISA). simd/dispatch.h picks a variant at run time from simd::active().
//
// Inside a pass, code tests the target with these macros (never with __AVX512F__ & co., which the target
// pragma does not define):
//   SLIM_AVX2     1 on the avx2 and avx512 passes (AVX2 + FMA + F16C + BMI2 available)
//   SLIM_AVX512   1 on the avx512 pass (AVX512F/BW/DQ/VL + VNNI available)
//   SLIM_SIMD, SLIM_VNNI: the older names of SLIM_AVX2 / SLIM_AVX512 used by the matmul tiles.
//   SLIM_NEON     1 on the ARM passes (AArch64 Advanced SIMD, always present there)
//   SLIM_DOTPROD  1 on the t_neon_dot pass (SDOT/UDOT, Armv8.2 dotprod: Graviton 2+, Apple M1+, Ampere)
// SLIM_KERNELS_X86_SIMD (set by CMake for GCC on x86-64) enables the avx2 and avx512 passes;
// SLIM_KERNELS_ARM_SIMD (GCC on aarch64) the two NEON passes (simd::cpu picks t_neon_dot where the CPU has
// dotprod; both run as the one `neon` target).
#ifndef SLIM_TARGET_INCLUDE
#error "define SLIM_TARGET_INCLUDE before including simd/foreach_target.h"
#endif

#define SLIM_NS t_scalar
#define SLIM_AVX2 0
#define SLIM_AVX512 0
#define SLIM_SIMD 0
#define SLIM_VNNI 0
#define SLIM_NEON 0
#define SLIM_DOTPROD 0
#include "simd/one_pass.h"

#if defined(SLIM_KERNELS_X86_SIMD)
#pragma GCC push_options
#pragma GCC target("avx,avx2,fma,f16c,bmi,bmi2,lzcnt,popcnt,movbe")
#define SLIM_NS t_avx2
#define SLIM_AVX2 1
#define SLIM_AVX512 0
#define SLIM_SIMD 1
#define SLIM_VNNI 0
#define SLIM_NEON 0
#define SLIM_DOTPROD 0
#include "simd/one_pass.h"
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx,avx2,fma,f16c,bmi,bmi2,lzcnt,popcnt,movbe,avx512f,avx512bw,avx512dq,avx512vl,avx512vnni")
#define SLIM_NS t_avx512
#define SLIM_AVX2 1
#define SLIM_AVX512 1
#define SLIM_SIMD 1
#define SLIM_VNNI 1
#define SLIM_NEON 0
#define SLIM_DOTPROD 0
#include "simd/one_pass.h"
#pragma GCC pop_options
#endif

#if defined(SLIM_KERNELS_ARM_SIMD)
#define SLIM_NS t_neon
#define SLIM_AVX2 0
#define SLIM_AVX512 0
#define SLIM_SIMD 0
#define SLIM_VNNI 0
#define SLIM_NEON 1
#define SLIM_DOTPROD 0
#include "simd/one_pass.h"

#pragma GCC push_options
#pragma GCC target("arch=armv8.2-a+dotprod")  // arm_neon.h declares SDOT under this arch (every dotprod CPU is v8.2+)
#define SLIM_NS t_neon_dot
#define SLIM_AVX2 0
#define SLIM_AVX512 0
#define SLIM_SIMD 0
#define SLIM_VNNI 0
#define SLIM_NEON 1
#define SLIM_DOTPROD 1
#include "simd/one_pass.h"
#pragma GCC pop_options
#endif
