// Small element-wise and row ops used by the layer code (norms, RoPE, activations, softmax).
// Numerics follow llama.cpp/ggml's CPU backend bit for bit where we could verify it (docs/correctness.md):
// RMSNorm squares in float and sums in double, RoPE advances the angle by repeated multiplication in float,
// GELU goes through an fp16 table, SiLU and softmax use the polynomial exp below.
#pragma once
#include <cmath>
#include <cstdint>

namespace slim::ops {

// y = x / sqrt(mean(x²) + eps) * w   (w may be nullptr: no weight). x and y may alias.
void rmsnorm(const float* x, const float* w, float* y, int n, float eps);

// Rotary embedding of one head vector in place, at position pos.
// neox: pair (i, i + n_rot/2); otherwise adjacent pairs (2i, 2i+1). freq_factors (n_rot/2, may be nullptr)
// divide the angle (Llama 3 scaling); freq_scale multiplies it (linear scaling).
void rope(float* x, int n_rot, int32_t pos, float base, float freq_scale, const float* freq_factors, bool neox);

// Precomputed cos/sin for one position and one (base, scale, factors) setting: 2 × n_rot/2 floats.
void rope_table(float* cs, int n_rot, int32_t pos, float base, float freq_scale, const float* freq_factors);
void rope_apply(float* x, const float* cs, int n_rot, bool neox);

// out[i] = act(gate[i]) * up[i]
void geglu_tanh(const float* gate, const float* up, float* out, int n);  // fp16-table GELU (as ggml)
void swiglu(const float* gate, const float* up, float* out, int n);

float gelu_tanh_exact(float x);

// exp(x) by range reduction x = n·ln2 + b and a degree-5 polynomial in b with FMAs in a fixed order (max error
// about 1.5 ulp). It is the approximation ggml's vectorised softmax/SiLU use on AVX-512, so using it keeps our
// attention weights and SiLU outputs identical to llama.cpp's. Its 8- and 16-lane versions (tensor/vec-inl.h) agree with it bit for bit.
float exp_approx(float x);
float silu(float x);

// Dot product in a fixed order, the same bits on every SIMD target: 16 FMA chains (lane t takes elements
// t, t + 16, ...; the tail n % 16 goes to lanes 0, 1, ...), summed in the order of a 512-bit horizontal add.
// The score probe and LazyLLM's scoring use it (q·k over a head); 16 chains keep the FMAs in flight.
float dot(const float* a, const float* b, int n);

void add_inplace(float* y, const float* x, int n);
void scale_inplace(float* y, float s, int n);

}  // namespace slim::ops
