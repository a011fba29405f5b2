// Scalar reference kernels: dequantization (bit-exact with ggml / gguf-py), activation quantizers,
// weight quantizers for the simple types, and vec_dot in ggml's arithmetic order.
//
// No FMA contraction here: `d * q - m` must round twice (as numpy and ggml's reference code do) for the
// dequantizers to be bit-exact, so contraction is switched off for this file before any header.
#pragma GCC optimize("fp-contract=off")

#include <algorithm>
#include <cmath>
#include <cstring>

#include "tensor/kernels.h"
#include "tensor/quant_blocks.h"

namespace slim::kernels {

using namespace detail;

namespace {

inline float h2f(uint16_t h) { return fp16_to_fp32(h); }

// ---------------------------------------------------------------------------------------------------
// Dequantization

void deq_q4_0(const BlockQ4_0* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += 32) {
    const float d = h2f(x[i].d);
    for (int j = 0; j < 16; ++j) {
      y[j] = static_cast<float>((x[i].qs[j] & 0x0F) - 8) * d;
      y[j + 16] = static_cast<float>((x[i].qs[j] >> 4) - 8) * d;
    }
  }
}

void deq_q4_1(const BlockQ4_1* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += 32) {
    const float d = h2f(x[i].d), m = h2f(x[i].m);
    for (int j = 0; j < 16; ++j) {
      y[j] = static_cast<float>(x[i].qs[j] & 0x0F) * d + m;
      y[j + 16] = static_cast<float>(x[i].qs[j] >> 4) * d + m;
    }
  }
}

void deq_q5_0(const BlockQ5_0* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += 32) {
    const float d = h2f(x[i].d);
    const uint32_t qh = load_u32(x[i].qh);
    for (int j = 0; j < 16; ++j) {
      const int q0 = (x[i].qs[j] & 0x0F) | int((qh >> j) & 1) << 4;
      const int q1 = (x[i].qs[j] >> 4) | int((qh >> (j + 16)) & 1) << 4;
      y[j] = static_cast<float>(q0 - 16) * d;
      y[j + 16] = static_cast<float>(q1 - 16) * d;
    }
  }
}

void deq_q5_1(const BlockQ5_1* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += 32) {
    const float d = h2f(x[i].d), m = h2f(x[i].m);
    const uint32_t qh = load_u32(x[i].qh);
    for (int j = 0; j < 16; ++j) {
      const int q0 = (x[i].qs[j] & 0x0F) | int((qh >> j) & 1) << 4;
      const int q1 = (x[i].qs[j] >> 4) | int((qh >> (j + 16)) & 1) << 4;
      y[j] = static_cast<float>(q0) * d + m;
      y[j + 16] = static_cast<float>(q1) * d + m;
    }
  }
}

void deq_q8_0(const BlockQ8_0W* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += 32) {
    const float d = h2f(x[i].d);
    for (int j = 0; j < 32; ++j) y[j] = static_cast<float>(x[i].qs[j]) * d;
  }
}

void deq_q4_k(const BlockQ4_K* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float d = h2f(x[i].d), dmin = h2f(x[i].dmin);
    const uint8_t* q = x[i].qs;
    for (int c = 0; c < 4; ++c, q += 32) {
      uint8_t sc, m;
      scale_min_k4(2 * c, x[i].scales, sc, m);
      const float d1 = d * sc, m1 = dmin * m;
      scale_min_k4(2 * c + 1, x[i].scales, sc, m);
      const float d2 = d * sc, m2 = dmin * m;
      for (int l = 0; l < 32; ++l) *y++ = d1 * static_cast<float>(q[l] & 0x0F) - m1;
      for (int l = 0; l < 32; ++l) *y++ = d2 * static_cast<float>(q[l] >> 4) - m2;
    }
  }
}

void deq_q5_k(const BlockQ5_K* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float d = h2f(x[i].d), dmin = h2f(x[i].dmin);
    const uint8_t* q = x[i].qs;
    const uint8_t* qh = x[i].qh;
    for (int c = 0; c < 4; ++c, q += 32) {
      uint8_t sc, m;
      scale_min_k4(2 * c, x[i].scales, sc, m);
      const float d1 = d * sc, m1 = dmin * m;
      scale_min_k4(2 * c + 1, x[i].scales, sc, m);
      const float d2 = d * sc, m2 = dmin * m;
      for (int l = 0; l < 32; ++l) {
        const int v = (q[l] & 0x0F) | ((qh[l] >> (2 * c)) & 1) << 4;
        *y++ = d1 * static_cast<float>(v) - m1;
      }
      for (int l = 0; l < 32; ++l) {
        const int v = (q[l] >> 4) | ((qh[l] >> (2 * c + 1)) & 1) << 4;
        *y++ = d2 * static_cast<float>(v) - m2;
      }
    }
  }
}

void deq_q6_k(const BlockQ6_K* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float d = h2f(x[i].d);
    const uint8_t* ql = x[i].ql;
    const uint8_t* qh = x[i].qh;
    const int8_t* sc = x[i].scales;
    for (int h = 0; h < 2; ++h, y += 128, ql += 64, qh += 32, sc += 8) {
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        const int q1 = ((ql[l] & 0x0F) | ((qh[l] >> 0) & 3) << 4) - 32;
        const int q2 = ((ql[l + 32] & 0x0F) | ((qh[l] >> 2) & 3) << 4) - 32;
        const int q3 = ((ql[l] >> 4) | ((qh[l] >> 4) & 3) << 4) - 32;
        const int q4 = ((ql[l + 32] >> 4) | ((qh[l] >> 6) & 3) << 4) - 32;
        // (d * scale) * q: the same association as ggml and gguf-py.
        y[l] = (d * sc[is]) * static_cast<float>(q1);
        y[l + 32] = (d * sc[is + 2]) * static_cast<float>(q2);
        y[l + 64] = (d * sc[is + 4]) * static_cast<float>(q3);
        y[l + 96] = (d * sc[is + 6]) * static_cast<float>(q4);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// Activation quantizers (x86 run-time semantics of llama.cpp, written as scalar code)

// Round half to even, as _mm256_round_ps(_MM_ROUND_NEAREST) and ggml's nearest_int do.
inline int round_even(float v) { return static_cast<int>(std::nearbyint(v)); }

inline float block_amax(const float* x, int n) {
  float amax = 0.0f;
  for (int j = 0; j < n; ++j) amax = std::fmax(amax, std::fabs(x[j]));
  return amax;
}

// ---------------------------------------------------------------------------------------------------
// Weight quantizers (ggml quantize_row_*_ref; gguf-py reproduces them bit-exactly)

// The element of largest magnitude, with its sign (first one on ties), as ggml's Q4_0/Q5_0 quantizers pick it.
inline float signed_absmax(const float* x, int n) {
  float amax = 0.0f, max = 0.0f;
  for (int j = 0; j < n; ++j)
    if (std::fabs(x[j]) > amax) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  return max;
}

void quant_w_q4_0(const float* x, BlockQ4_0* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += 32) {
    const float max = signed_absmax(x, 32);
    const float d = max / -8;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = fp32_to_fp16(d);
    for (int j = 0; j < 16; ++j) {
      const float x0 = x[j] * id, x1 = x[j + 16] * id;
      const int q0 = std::min(15, static_cast<int>(static_cast<int8_t>(x0 + 8.5f)));
      const int q1 = std::min(15, static_cast<int>(static_cast<int8_t>(x1 + 8.5f)));
      y[i].qs[j] = static_cast<uint8_t>(q0 | (q1 << 4));
    }
  }
}

void quant_w_q4_1(const float* x, BlockQ4_1* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += 32) {
    float mn = x[0], mx = x[0];
    for (int j = 1; j < 32; ++j) {
      mn = std::min(mn, x[j]);
      mx = std::max(mx, x[j]);
    }
    const float d = (mx - mn) / 15;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = fp32_to_fp16(d);
    y[i].m = fp32_to_fp16(mn);
    for (int j = 0; j < 16; ++j) {
      const float x0 = (x[j] - mn) * id, x1 = (x[j + 16] - mn) * id;
      const int q0 = std::min(15, static_cast<int>(static_cast<int8_t>(x0 + 0.5f)));
      const int q1 = std::min(15, static_cast<int>(static_cast<int8_t>(x1 + 0.5f)));
      y[i].qs[j] = static_cast<uint8_t>(q0 | (q1 << 4));
    }
  }
}

void quant_w_q5_0(const float* x, BlockQ5_0* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += 32) {
    const float max = signed_absmax(x, 32);
    const float d = max / -16;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = fp32_to_fp16(d);
    uint32_t qh = 0;
    for (int j = 0; j < 16; ++j) {
      const float x0 = x[j] * id, x1 = x[j + 16] * id;
      const int q0 = std::min(31, static_cast<int>(static_cast<int8_t>(x0 + 16.5f)));
      const int q1 = std::min(31, static_cast<int>(static_cast<int8_t>(x1 + 16.5f)));
      y[i].qs[j] = static_cast<uint8_t>((q0 & 0x0F) | ((q1 & 0x0F) << 4));
      qh |= uint32_t((q0 & 0x10) >> 4) << j;
      qh |= uint32_t((q1 & 0x10) >> 4) << (j + 16);
    }
    std::memcpy(y[i].qh, &qh, 4);
  }
}

void quant_w_q5_1(const float* x, BlockQ5_1* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += 32) {
    float mn = x[0], mx = x[0];
    for (int j = 1; j < 32; ++j) {
      mn = std::min(mn, x[j]);
      mx = std::max(mx, x[j]);
    }
    const float d = (mx - mn) / 31;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = fp32_to_fp16(d);
    y[i].m = fp32_to_fp16(mn);
    uint32_t qh = 0;
    for (int j = 0; j < 16; ++j) {
      const float x0 = (x[j] - mn) * id, x1 = (x[j + 16] - mn) * id;
      const int q0 = static_cast<int>(static_cast<uint8_t>(x0 + 0.5f));
      const int q1 = static_cast<int>(static_cast<uint8_t>(x1 + 0.5f));
      y[i].qs[j] = static_cast<uint8_t>((q0 & 0x0F) | ((q1 & 0x0F) << 4));
      qh |= uint32_t((q0 & 0x10) >> 4) << j;
      qh |= uint32_t((q1 & 0x10) >> 4) << (j + 16);
    }
    std::memcpy(y[i].qh, &qh, 4);
  }
}

void quant_w_q8_0(const float* x, BlockQ8_0W* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += 32) {
    const float amax = block_amax(x, 32);
    const float d = amax / 127;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = fp32_to_fp16(d);
    for (int j = 0; j < 32; ++j) y[i].qs[j] = static_cast<int8_t>(std::round(x[j] * id));  // half away
  }
}

// ---------------------------------------------------------------------------------------------------
// Dot products (scalar, ggml's generic order: integer sums per block, float scaling per block)

float dot_q4_0(int64_t nb, const BlockQ4_0* x, const BlockQ8_0* y) {
  float sumf = 0.0f;
  for (int64_t i = 0; i < nb; ++i) {
    int sumi = 0;
    for (int j = 0; j < 16; ++j) {
      sumi += ((x[i].qs[j] & 0x0F) - 8) * y[i].qs[j];
      sumi += ((x[i].qs[j] >> 4) - 8) * y[i].qs[j + 16];
    }
    sumf += (h2f(x[i].d) * h2f(y[i].d)) * static_cast<float>(sumi);
  }
  return sumf;
}

float dot_q4_1(int64_t nb, const BlockQ4_1* x, const BlockQ8_1* y) {
  float sumf = 0.0f;
  for (int64_t i = 0; i < nb; ++i) {
    int sumi = 0;
    for (int j = 0; j < 16; ++j) {
      sumi += (x[i].qs[j] & 0x0F) * y[i].qs[j];
      sumi += (x[i].qs[j] >> 4) * y[i].qs[j + 16];
    }
    sumf += (h2f(x[i].d) * h2f(y[i].d)) * static_cast<float>(sumi) + h2f(x[i].m) * h2f(y[i].s);
  }
  return sumf;
}

float dot_q5_0(int64_t nb, const BlockQ5_0* x, const BlockQ8_0* y) {
  float sumf = 0.0f;
  for (int64_t i = 0; i < nb; ++i) {
    const uint32_t qh = load_u32(x[i].qh);
    int sumi = 0;
    for (int j = 0; j < 16; ++j) {
      const int q0 = ((x[i].qs[j] & 0x0F) | int((qh >> j) & 1) << 4) - 16;
      const int q1 = ((x[i].qs[j] >> 4) | int((qh >> (j + 16)) & 1) << 4) - 16;
      sumi += q0 * y[i].qs[j] + q1 * y[i].qs[j + 16];
    }
    sumf += (h2f(x[i].d) * h2f(y[i].d)) * static_cast<float>(sumi);
  }
  return sumf;
}

float dot_q5_1(int64_t nb, const BlockQ5_1* x, const BlockQ8_1* y) {
  float sumf = 0.0f;
  for (int64_t i = 0; i < nb; ++i) {
    const uint32_t qh = load_u32(x[i].qh);
    int sumi = 0;
    for (int j = 0; j < 16; ++j) {
      const int q0 = (x[i].qs[j] & 0x0F) | int((qh >> j) & 1) << 4;
      const int q1 = (x[i].qs[j] >> 4) | int((qh >> (j + 16)) & 1) << 4;
      sumi += q0 * y[i].qs[j] + q1 * y[i].qs[j + 16];
    }
    sumf += (h2f(x[i].d) * h2f(y[i].d)) * static_cast<float>(sumi) + h2f(x[i].m) * h2f(y[i].s);
  }
  return sumf;
}

float dot_q8_0(int64_t nb, const BlockQ8_0W* x, const BlockQ8_0* y) {
  float sumf = 0.0f;
  for (int64_t i = 0; i < nb; ++i) {
    int sumi = 0;
    for (int j = 0; j < 32; ++j) sumi += x[i].qs[j] * y[i].qs[j];
    sumf += (h2f(x[i].d) * h2f(y[i].d)) * static_cast<float>(sumi);
  }
  return sumf;
}

// Q4_K / Q5_K: d*da * sum_j sc_j * (q·a)_j  -  dmin*da * sum_j m_j * (bsum_2j + bsum_2j+1).
template <bool kFive, class Block>
float dot_q45_k(int64_t nb, const Block* x, const BlockQ8_K* y) {
  float sumf = 0.0f;
  for (int64_t i = 0; i < nb; ++i) {
    int32_t sumi = 0, summ = 0;
    const int8_t* a = y[i].qs;
    for (int j = 0; j < 8; ++j) {
      uint8_t sc, m;
      scale_min_k4(j, x[i].scales, sc, m);
      const int c = j / 2, hi = j & 1;
      int32_t s = 0;
      for (int l = 0; l < 32; ++l) {
        int q = hi ? (x[i].qs[32 * c + l] >> 4) : (x[i].qs[32 * c + l] & 0x0F);
        if constexpr (kFive) {
          const auto* x5 = reinterpret_cast<const BlockQ5_K*>(&x[i]);
          q |= ((x5->qh[l] >> j) & 1) << 4;
        }
        s += q * a[32 * j + l];
      }
      sumi += sc * s;
      summ += m * (y[i].bsums[2 * j] + y[i].bsums[2 * j + 1]);
    }
    const float d = h2f(x[i].d) * y[i].d;
    const float dmin = h2f(x[i].dmin) * y[i].d;
    sumf += d * static_cast<float>(sumi);
    sumf -= dmin * static_cast<float>(summ);
  }
  return sumf;
}

float dot_q6_k(int64_t nb, const BlockQ6_K* x, const BlockQ8_K* y) {
  float sumf = 0.0f;
  int8_t q[256];
  for (int64_t i = 0; i < nb; ++i) {
    const uint8_t* ql = x[i].ql;
    const uint8_t* qh = x[i].qh;
    for (int h = 0; h < 2; ++h, ql += 64, qh += 32) {
      int8_t* o = q + 128 * h;
      for (int l = 0; l < 32; ++l) {
        o[l] = static_cast<int8_t>(((ql[l] & 0x0F) | ((qh[l] >> 0) & 3) << 4) - 32);
        o[l + 32] = static_cast<int8_t>(((ql[l + 32] & 0x0F) | ((qh[l] >> 2) & 3) << 4) - 32);
        o[l + 64] = static_cast<int8_t>(((ql[l] >> 4) | ((qh[l] >> 4) & 3) << 4) - 32);
        o[l + 96] = static_cast<int8_t>(((ql[l + 32] >> 4) | ((qh[l] >> 6) & 3) << 4) - 32);
      }
    }
    int32_t sumi = 0;
    for (int s = 0; s < 16; ++s) {
      int32_t t = 0;
      for (int l = 0; l < 16; ++l) t += q[16 * s + l] * y[i].qs[16 * s + l];
      sumi += x[i].scales[s] * t;
    }
    sumf += (h2f(x[i].d) * y[i].d) * static_cast<float>(sumi);
  }
  return sumf;
}

template <class Conv>
float dot_float(int64_t n, const uint16_t* x, const uint16_t* y, Conv conv) {
  double s = 0.0;
  for (int64_t i = 0; i < n; ++i) s += static_cast<double>(conv(x[i]) * conv(y[i]));
  return static_cast<float>(s);
}

}  // namespace

// ---------------------------------------------------------------------------------------------------
// Public entry points

void dequantize_row_ref(DType t, const void* src, float* dst, int64_t n) {
  switch (t) {
    case DType::F32:
      std::memcpy(dst, src, static_cast<size_t>(n) * 4);
      return;
    case DType::F16: {
      const auto* s = static_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < n; ++i) dst[i] = fp16_to_fp32_sw(s[i]);
      return;
    }
    case DType::BF16: {
      const auto* s = static_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_fp32(s[i]);
      return;
    }
    case DType::Q4_0: return deq_q4_0(static_cast<const BlockQ4_0*>(src), dst, n / 32);
    case DType::Q4_1: return deq_q4_1(static_cast<const BlockQ4_1*>(src), dst, n / 32);
    case DType::Q5_0: return deq_q5_0(static_cast<const BlockQ5_0*>(src), dst, n / 32);
    case DType::Q5_1: return deq_q5_1(static_cast<const BlockQ5_1*>(src), dst, n / 32);
    case DType::Q8_0: return deq_q8_0(static_cast<const BlockQ8_0W*>(src), dst, n / 32);
    case DType::Q4_K: return deq_q4_k(static_cast<const BlockQ4_K*>(src), dst, n / 256);
    case DType::Q5_K: return deq_q5_k(static_cast<const BlockQ5_K*>(src), dst, n / 256);
    case DType::Q6_K: return deq_q6_k(static_cast<const BlockQ6_K*>(src), dst, n / 256);
    case DType::Q8_K: {  // activation format; handy for tests
      const auto* b = static_cast<const BlockQ8_K*>(src);
      for (int64_t i = 0; i < n / 256; ++i)
        for (int j = 0; j < 256; ++j) *dst++ = b[i].d * static_cast<float>(b[i].qs[j]);
      return;
    }
    default:
      break;
  }
  std::memset(dst, 0, static_cast<size_t>(n) * 4);  // unsupported types: callers check dtype_info first
}

void quantize_row_q8_0_ref(const float* x, BlockQ8_0* y, int64_t n) {
  for (int64_t i = 0; i < n / 32; ++i, x += 32) {
    const float amax = block_amax(x, 32);
    const float d = amax / 127.0f;
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    y[i].d = fp32_to_fp16(d);
    for (int j = 0; j < 32; ++j) y[i].qs[j] = static_cast<int8_t>(round_even(x[j] * id));
  }
}

void quantize_row_q8_1_ref(const float* x, BlockQ8_1* y, int64_t n) {
  for (int64_t i = 0; i < n / 32; ++i, x += 32) {
    const float amax = block_amax(x, 32);
    const float d = amax / 127.0f;
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    y[i].d = fp32_to_fp16(d);
    int sum = 0;
    for (int j = 0; j < 32; ++j) {
      y[i].qs[j] = static_cast<int8_t>(round_even(x[j] * id));
      sum += y[i].qs[j];
    }
    y[i].s = fp32_to_fp16(d * static_cast<float>(sum));
  }
}

void quantize_row_q8_K_ref(const float* x, BlockQ8_K* y, int64_t n) {
  for (int64_t i = 0; i < n / 256; ++i, x += 256) {
    float max = 0.0f, amax = 0.0f;
    for (int j = 0; j < 256; ++j) {
      const float ax = std::fabs(x[j]);
      if (ax > amax) {
        amax = ax;
        max = x[j];
      }
    }
    if (amax == 0.0f) {
      std::memset(&y[i], 0, sizeof y[i]);
      continue;
    }
    const float iscale = -127.0f / max;
    for (int j = 0; j < 256; ++j) y[i].qs[j] = static_cast<int8_t>(std::min(127, round_even(iscale * x[j])));
    for (int g = 0; g < 16; ++g) {
      int s = 0;
      for (int l = 0; l < 16; ++l) s += y[i].qs[16 * g + l];
      y[i].bsums[g] = static_cast<int16_t>(s);
    }
    y[i].d = 1.0f / iscale;
  }
}

DType vec_dot_type(DType t) {
  switch (t) {
    case DType::Q4_0:
    case DType::Q5_0:
    case DType::Q8_0: return DType::Q8_0;
    case DType::Q4_1:
    case DType::Q5_1: return DType::Q8_1;
    case DType::Q4_K:
    case DType::Q5_K:
    case DType::Q6_K: return DType::Q8_K;
    default: return t;  // F32, F16, BF16
  }
}

size_t activation_row_bytes(DType weight_type, int64_t n) {
  const DType a = vec_dot_type(weight_type);
  return row_bytes(a, n);
}

void quantize_activation_row(DType weight_type, const float* x, void* dst, int64_t n) {
  switch (vec_dot_type(weight_type)) {
    case DType::Q8_0: return quantize_row_q8_0(x, static_cast<BlockQ8_0*>(dst), n);
    case DType::Q8_1: return quantize_row_q8_1(x, static_cast<BlockQ8_1*>(dst), n);
    case DType::Q8_K: return quantize_row_q8_K(x, static_cast<BlockQ8_K*>(dst), n);
    case DType::F16: return fp32_to_fp16_row(x, static_cast<uint16_t*>(dst), n);
    case DType::BF16: return fp32_to_bf16_row(x, static_cast<uint16_t*>(dst), n);
    default: std::memcpy(dst, x, static_cast<size_t>(n) * 4); return;
  }
}

float vec_dot_ref(DType t, int64_t n, const void* w, const void* a) {
  switch (t) {
    case DType::F32: {
      const auto* x = static_cast<const float*>(w);
      const auto* y = static_cast<const float*>(a);
      double s = 0.0;
      for (int64_t i = 0; i < n; ++i) s += static_cast<double>(x[i] * y[i]);
      return static_cast<float>(s);
    }
    case DType::F16:
      return dot_float(n, static_cast<const uint16_t*>(w), static_cast<const uint16_t*>(a),
                       [](uint16_t h) { return fp16_to_fp32_sw(h); });
    case DType::BF16:
      return dot_float(n, static_cast<const uint16_t*>(w), static_cast<const uint16_t*>(a),
                       [](uint16_t h) { return bf16_to_fp32(h); });
    case DType::Q4_0:
      return dot_q4_0(n / 32, static_cast<const BlockQ4_0*>(w), static_cast<const BlockQ8_0*>(a));
    case DType::Q4_1:
      return dot_q4_1(n / 32, static_cast<const BlockQ4_1*>(w), static_cast<const BlockQ8_1*>(a));
    case DType::Q5_0:
      return dot_q5_0(n / 32, static_cast<const BlockQ5_0*>(w), static_cast<const BlockQ8_0*>(a));
    case DType::Q5_1:
      return dot_q5_1(n / 32, static_cast<const BlockQ5_1*>(w), static_cast<const BlockQ8_1*>(a));
    case DType::Q8_0:
      return dot_q8_0(n / 32, static_cast<const BlockQ8_0W*>(w), static_cast<const BlockQ8_0*>(a));
    case DType::Q4_K:
      return dot_q45_k<false>(n / 256, static_cast<const BlockQ4_K*>(w), static_cast<const BlockQ8_K*>(a));
    case DType::Q5_K:
      return dot_q45_k<true>(n / 256, static_cast<const BlockQ5_K*>(w), static_cast<const BlockQ8_K*>(a));
    case DType::Q6_K:
      return dot_q6_k(n / 256, static_cast<const BlockQ6_K*>(w), static_cast<const BlockQ8_K*>(a));
    default:
      return 0.0f;
  }
}

bool quantize_row_ref(DType t, const float* x, void* dst, int64_t n) {
  switch (t) {
    case DType::F32: std::memcpy(dst, x, static_cast<size_t>(n) * 4); return true;
    case DType::F16: {
      auto* d = static_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) d[i] = fp32_to_fp16_sw(x[i]);
      return true;
    }
    case DType::BF16: fp32_to_bf16_row(x, static_cast<uint16_t*>(dst), n); return true;
    case DType::Q4_0: quant_w_q4_0(x, static_cast<BlockQ4_0*>(dst), n / 32); return true;
    case DType::Q4_1: quant_w_q4_1(x, static_cast<BlockQ4_1*>(dst), n / 32); return true;
    case DType::Q5_0: quant_w_q5_0(x, static_cast<BlockQ5_0*>(dst), n / 32); return true;
    case DType::Q5_1: quant_w_q5_1(x, static_cast<BlockQ5_1*>(dst), n / 32); return true;
    case DType::Q8_0: quant_w_q8_0(x, static_cast<BlockQ8_0W*>(dst), n / 32); return true;
    default: return false;
  }
}

}  // namespace slim::kernels
