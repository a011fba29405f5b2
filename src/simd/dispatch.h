// SLIM_DISPATCH(fn): the variant of a per-target function (see foreach_target.h) for simd::active().
// Use it in the module's .cpp after the passes, inside the namespace that holds the t_* namespaces.
#pragma once
#include "simd/cpu.h"

#if defined(SLIM_KERNELS_X86_SIMD)
#define SLIM_DISPATCH(fn)                                                                     \
  (::slim::simd::active() == ::slim::simd::Target::kAVX512 ? &t_avx512::fn                    \
   : ::slim::simd::active() == ::slim::simd::Target::kAVX2 ? &t_avx2::fn                      \
                                                           : &t_scalar::fn)
#elif defined(SLIM_KERNELS_ARM_SIMD)
#define SLIM_DISPATCH(fn)                                                                     \
  (::slim::simd::active() != ::slim::simd::Target::kNEON ? &t_scalar::fn                      \
   : ::slim::simd::has_dotprod()                         ? &t_neon_dot::fn                    \
                                                         : &t_neon::fn)
#else
#define SLIM_DISPATCH(fn) (&t_scalar::fn)
#endif
