// One SIMD pass of the matmul module (see matmul_targets.cpp); no include guard: included once per target.
#include "tensor/matmul_tiles-inl.h"
#include "tensor/matmul_neon-inl.h"
#include "tensor/quant_fast-inl.h"
#include "tensor/matmul-inl.h"
