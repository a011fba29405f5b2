// cpu_relax(): the spin-wait hint of the CPU (PAUSE on x86, YIELD on ARM), for the busy-wait loops of the
// thread pool and the matmul's pack barrier.
#pragma once
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace slim::simd {

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#elif defined(__aarch64__) || defined(__arm__)
  __asm__ __volatile__("yield");
#endif
}

}  // namespace slim::simd
