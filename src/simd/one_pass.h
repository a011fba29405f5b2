// One pass of simd/foreach_target.h: compiles the module for the target whose macros the caller defined,
// then clears them for the next pass. No include guard: included once per pass.
#include SLIM_TARGET_INCLUDE
#undef SLIM_NS
#undef SLIM_AVX2
#undef SLIM_AVX512
#undef SLIM_SIMD
#undef SLIM_VNNI
#undef SLIM_NEON
#undef SLIM_DOTPROD
