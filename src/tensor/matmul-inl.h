// matmul: Y = X·Wᵀ. X is quantized once per call into a reusable per-thread scratch pack (in the
// format the weight's dot product wants); blocks of output rows (× chunks of activation rows) are
// handed out to the pool's threads and computed in register tiles (matmul_tiles.h): straight from the
// GGUF rows for GEMV, from decoded rows for GEMM: on AVX-512 with activation rows in pairs, on AVX2 with
// 8 interleaved activation rows (Q4_0/Q4_1/Q5_0); Q4_K on both with one output row per lane.
// Per-target file (see matmul_tiles-inl.h).

namespace slim::kernels::SLIM_NS {

using namespace detail;

namespace {

// Scratch for quantized activations: per calling thread, grows and never shrinks, so steady-state
// calls allocate nothing.
struct AlignedFree {
  // Memory from the aligned operator new[] must go back through the aligned operator delete[].
  void operator()(uint8_t* p) const { ::operator delete[](p, std::align_val_t(64)); }
};

struct Scratch {
  std::unique_ptr<uint8_t[], AlignedFree> mem;
  size_t cap = 0;
  uint8_t* get(size_t bytes) {
    if (bytes > cap) {
      cap = std::max(bytes, cap + cap / 2);
      mem.reset(static_cast<uint8_t*>(::operator new[](cap, std::align_val_t(64))));
    }
    return mem.get();
  }
};

Scratch& scratch() {
  static thread_local Scratch s;
  return s;
}

#if SLIM_SIMD

// Tile shape: 4×4 fills AVX-512's 32 registers; AVX2 has 16, so smaller tiles.
#if SLIM_VNNI
constexpr int kR = 4, kC = 4;
#else
constexpr int kR = 2, kC = 4;
#endif
constexpr int kRv = 4;  // GEMV tile height (one activation row leaves registers for 4 weight rows)

// A family binds a weight type to its tiles on raw GGUF rows (GEMV) and on decoded rows (the GEMM of
// the types that have no blocked path below: Plan::run_pair, used from Plan::pair_min rows on).
template <class W>
struct FamA {
  static size_t dec_stride(int64_t cols) { return dec_a_stride(cols / 32); }
  static void decode(const uint8_t* w, size_t ws, int rows, int64_t cols, uint8_t* dst, size_t ds) {
    decode_rows_a<W>(w, ws, rows, cols / 32, dst, ds);
  }
  template <class P, int R, int C>
  static void tile(const P& p, const uint8_t* act, size_t as, int64_t cols, float* y, int64_t ldy) {
    const int64_t nb = cols / 32;
    ActA a[C];
    for (int c = 0; c < C; ++c) a[c] = act_a_row(act + c * as, nb);
    tile_a<P, R, C>(p, a, nb, y, ldy);
  }
  template <int R, int C>
  static void raw(const uint8_t* w, size_t ws, const uint8_t* act, size_t as, int64_t cols, float* y, int64_t ldy) {
    tile<RawA<W>, R, C>(RawA<W>{w, ws}, act, as, cols, y, ldy);
  }
  template <int R, int C>
  static void dec(const uint8_t* w, size_t ws, const uint8_t* act, size_t as, int64_t cols, float* y, int64_t ldy) {
    tile<DecA<W>, R, C>(DecA<W>{w, ws, cols / 32}, act, as, cols, y, ldy);
  }
};

template <class Raw>
struct FamK {
  static size_t dec_stride(int64_t cols) { return static_cast<size_t>(cols / 256) * kDecK; }
  static void decode(const uint8_t* w, size_t ws, int rows, int64_t cols, uint8_t* dst, size_t ds) {
    decode_rows_k<Raw>(w, ws, rows, cols / 256, dst, ds);
  }
  template <class P, int R, int C>
  static void tile(const P& p, const uint8_t* act, size_t as, int64_t cols, float* y, int64_t ldy) {
    const BlockQ8_K* a[C];
    for (int c = 0; c < C; ++c) a[c] = reinterpret_cast<const BlockQ8_K*>(act + c * as);
    tile_k<P, R, C>(p, a, cols / 256, y, ldy);
  }
  template <int R, int C>
  static void raw(const uint8_t* w, size_t ws, const uint8_t* act, size_t as, int64_t cols, float* y, int64_t ldy) {
    tile<Raw, R, C>(Raw{w, ws}, act, as, cols, y, ldy);
  }
  template <int R, int C>
  static void dec(const uint8_t* w, size_t ws, const uint8_t* act, size_t as, int64_t cols, float* y, int64_t ldy) {
    tile<DecK<Raw::kFin>, R, C>(DecK<Raw::kFin>{w, ws}, act, as, cols, y, ldy);
  }
};

// Float weights: the conversion is cheap, no decoded copy.
template <class W>
struct FamF {
  static constexpr bool kNoDecode = true;
  template <int R, int C>
  static void raw(const uint8_t* w, size_t ws, const uint8_t* act, size_t as, int64_t cols, float* y, int64_t ldy) {
    const float* a[C];
    for (int c = 0; c < C; ++c) a[c] = reinterpret_cast<const float*>(act + c * as);
    tile_f<W, R, C>(w, ws, a, cols, y, ldy);
  }
};

template <class F, class = void>
struct HasDecode : std::true_type {};
template <class F>
struct HasDecode<F, std::void_t<decltype(F::kNoDecode)>> : std::false_type {};

// Rows of one tile kind over activation rows [0, m): full C-wide tiles, then single rows.
template <class F, int R, bool kDec>
inline void tile_row_block(const uint8_t* w, size_t ws, const uint8_t* act, size_t as, int64_t m, int64_t cols,
                           float* y, int64_t ldy) {
  int64_t i = 0;
  for (; i + kC <= m; i += kC) {
    if constexpr (kDec) F::template dec<R, kC>(w, ws, act + i * as, as, cols, y + i * ldy, ldy);
    else F::template raw<R, kC>(w, ws, act + i * as, as, cols, y + i * ldy, ldy);
  }
  for (; i < m; ++i) {
    if constexpr (kDec) F::template dec<R, 1>(w, ws, act + i * as, as, cols, y + i * ldy, ldy);
    else F::template raw<R, 1>(w, ws, act + i * as, as, cols, y + i * ldy, ldy);
  }
}

// Output rows [o0, o1) for activation rows [0, m).
//  * Few activation rows (GEMV): tiles read the GGUF rows directly, prefetching ahead.
//  * Many (GEMM): activation rows in chunks that stay in L2; for each chunk, kR weight rows at a time
//    are decoded once into a small buffer (L1) and dotted against every activation row of the chunk.
template <class F>
void run_rows(const Weight& w, const uint8_t* act, size_t as, int64_t m, float* y, int64_t ldy, int64_t o0,
              int64_t o1) {
  const size_t ws = w.row_stride;
  if constexpr (HasDecode<F>::value) {
    if (m >= 2 * kC) {
      const size_t ds = F::dec_stride(w.cols);
      static thread_local Scratch dec_buf;
      uint8_t* buf = dec_buf.get(ds * kR);
      const int64_t mc = std::max<int64_t>(kC, static_cast<int64_t>((256u << 10) / as) / kC * kC);
      for (int64_t i0 = 0; i0 < m; i0 += mc) {
        const int64_t mm = std::min(mc, m - i0);
        const uint8_t* a = act + i0 * as;
        float* yc = y + i0 * ldy;
        for (int64_t o = o0; o < o1; o += kR) {
          const int rr = static_cast<int>(std::min<int64_t>(kR, o1 - o));
          F::decode(w.data + o * ws, ws, rr, w.cols, buf, ds);
          if (rr == kR) {
            tile_row_block<F, kR, true>(buf, ds, a, as, mm, w.cols, yc + o, ldy);
          } else {
            for (int r = 0; r < rr; ++r) tile_row_block<F, 1, true>(buf + r * ds, ds, a, as, mm, w.cols, yc + o + r, ldy);
          }
        }
      }
      return;
    }
  }
  int64_t o = o0;
  for (; o + kRv <= o1; o += kRv) tile_row_block<F, kRv, false>(w.data + o * ws, ws, act, as, m, w.cols, y + o, ldy);
  for (; o < o1; ++o) tile_row_block<F, 1, false>(w.data + o * ws, ws, act, as, m, w.cols, y + o, ldy);
}

// Activation units (row pairs, 8-row units) per chunk: ~256 KiB of packed activations (L2-resident), a
// multiple of every tile's RP.
inline int64_t pair_chunk(size_t as) { return std::max<int64_t>(4, static_cast<int64_t>((256u << 10) / as) / 4 * 4); }

#if !SLIM_VNNI
// AVX2 GEMM of the chain types on units of 8 interleaved activation rows (tile_oct). Per chunk of units,
// kOctR weight rows at a time are decoded into an L1-sized buffer and dotted against every unit.
constexpr int kOctR = 4;
template <class W>
void run_oct(const Weight& w, const uint8_t* act, size_t as, int64_t m, float* y, int64_t ldy, int64_t o0,
             int64_t o1, int64_t ub, int64_t ue) {
  const int64_t nb = w.cols / 32;
  const size_t ws = w.row_stride, ds = dec_a_stride(nb);
  static thread_local Scratch dec_buf;
  uint8_t* buf = dec_buf.get(ds * kOctR);
  const int64_t uc = pair_chunk(as);
  for (int64_t u0 = ub; u0 < ue; u0 += uc) {
    const int64_t u1 = std::min(ue, u0 + uc);
    for (int64_t o = o0; o < o1; o += kOctR) {
      const int rr = static_cast<int>(std::min<int64_t>(kOctR, o1 - o));
      decode_rows_a<W>(w.data + o * ws, ws, rr, nb, buf, ds);
      for (int64_t u = u0; u < u1; ++u) {
        const int valid = static_cast<int>(std::min<int64_t>(kOctRows, m - u * kOctRows));
        float* yu = y + u * kOctRows * ldy + o;
        if (rr == kOctR) {
          tile_oct<kOctR, W::kMin>(buf, ds, nb, act + u * as, valid, yu, ldy);
        } else {
          for (int r = 0; r < rr; ++r) tile_oct<1, W::kMin>(buf + r * ds, ds, nb, act + u * as, valid, yu + r, ldy);
        }
      }
    }
  }
}

#endif

// Q4_K: activation rows against kQ4KRows decoded weight rows at a time, one output per lane
// (tile_q4k16 on zmm, tile_q4k8 on ymm), kQ4KC activation rows per tile.
#if SLIM_VNNI
constexpr int kQ4KRows = 16, kQ4KC = 4;
template <int C>
inline void tile_q4k_lanes(const uint8_t* w, int64_t nb, const uint8_t* act, size_t as, int valid, float* y,
                           int64_t ldy) {
  tile_q4k16<C>(w, nb, act, as, valid, y, ldy);
}
#else
constexpr int kQ4KRows = 8, kQ4KC = 2;
template <int C>
inline void tile_q4k_lanes(const uint8_t* w, int64_t nb, const uint8_t* act, size_t as, int valid, float* y,
                           int64_t ldy) {
  tile_q4k8<C>(w, nb, act, as, valid, y, ldy);
}
#endif
void run_q4k_lanes(const Weight& w, const uint8_t* act, size_t as, int64_t m, float* y, int64_t ldy, int64_t o0,
                   int64_t o1, int64_t ib, int64_t ie) {
  const int64_t nb = w.cols / 256;
  const size_t ws = w.row_stride;
  static thread_local Scratch dec_buf;
  uint8_t* buf = dec_buf.get(static_cast<size_t>(nb) * dec_q4k_lanes_bytes(kQ4KRows));
  const int64_t rc = pair_chunk(as);
  for (int64_t i0 = ib; i0 < ie; i0 += rc) {
    const int64_t i1 = std::min(ie, i0 + rc);
    for (int64_t o = o0; o < o1; o += kQ4KRows) {
      const int rr = static_cast<int>(std::min<int64_t>(kQ4KRows, o1 - o));
      decode_q4k_lanes<kQ4KRows>(w.data + o * ws, ws, rr, nb, buf);
      int64_t i = i0;
      for (; i + kQ4KC <= i1; i += kQ4KC) tile_q4k_lanes<kQ4KC>(buf, nb, act + i * as, as, rr, y + i * ldy + o, ldy);
      for (; i < i1; ++i) tile_q4k_lanes<1>(buf, nb, act + i * as, as, rr, y + i * ldy + o, ldy);
    }
  }
  (void)m;
}
#endif  // SLIM_SIMD
#if SLIM_VNNI
// ---------------------------------------------------------------------------------------------------
// GEMM on activation row pairs (zmm tiles, matmul_tiles.h).

constexpr int64_t kPairMin = 4;  // from this many activation rows on, matmul packs rows in pairs

template <class W>
struct PairA {
  static constexpr int kRP = W::kMin ? 2 : 4;  // the _1 types need extra accumulators for the min term
  static size_t dec_stride(int64_t cols) { return dec_a_stride(cols / 32); }
  static void decode(const uint8_t* w, size_t ws, int rows, int64_t cols, uint8_t* dst, size_t ds) {
    decode_rows_a<W>(w, ws, rows, cols / 32, dst, ds);
  }
  template <int R, int RP>
  static void tile(const uint8_t* w, size_t ds, int64_t cols, const uint8_t* act, size_t as, int valid, float* y,
                   int64_t ldy) {
    tile_a2<W::kMin, R, RP>(w, ds, cols / 32, act, as, valid, y, ldy);
  }
};

template <class Raw>
struct PairK {
  static constexpr int kRP = 2;
  static size_t dec_stride(int64_t cols) { return static_cast<size_t>(cols / 256) * kDecK; }
  static void decode(const uint8_t* w, size_t ws, int rows, int64_t cols, uint8_t* dst, size_t ds) {
    decode_rows_k<Raw>(w, ws, rows, cols / 256, dst, ds);
  }
  template <int R, int RP>
  static void tile(const uint8_t* w, size_t ds, int64_t cols, const uint8_t* act, size_t as, int valid, float* y,
                   int64_t ldy) {
    tile_k2<Raw::kFin, R, RP>(w, ds, cols / 256, act, as, valid, y, ldy);
  }
};

// R decoded weight rows against pairs [0, np) of a chunk; `vlast` = real rows in the chunk's last pair.
template <class F, int R>
inline void pair_block(const uint8_t* w, size_t ds, int64_t cols, const uint8_t* act, size_t as, int64_t np, int vlast,
                       float* y, int64_t ldy) {
  int64_t q = 0;
  for (; q + F::kRP <= np; q += F::kRP)
    F::template tile<R, F::kRP>(w, ds, cols, act + q * as, as, q + F::kRP == np ? vlast : 2, y + 2 * q * ldy, ldy);
  for (; q < np; ++q) F::template tile<R, 1>(w, ds, cols, act + q * as, as, q + 1 == np ? vlast : 2, y + 2 * q * ldy, ldy);
}

// Output rows [o0, o1) for activation pairs [pb, pe) of m rows packed in pairs (stride as per pair).
// Pairs are taken in chunks that stay in L2; per chunk, kR weight rows at a time are decoded into an
// L1-sized buffer and dotted against every pair of the chunk.
template <class F>
void run_pairs(const Weight& w, const uint8_t* act, size_t as, int64_t m, float* y, int64_t ldy, int64_t o0,
               int64_t o1, int64_t pb, int64_t pe) {
  const int64_t np = (m + 1) / 2;
  const size_t ws = w.row_stride, ds = F::dec_stride(w.cols);
  static thread_local Scratch dec_buf;
  uint8_t* buf = dec_buf.get(ds * kR);
  const int64_t pc = pair_chunk(as);
  for (int64_t p0 = pb; p0 < pe; p0 += pc) {
    const int64_t pp = std::min(pc, pe - p0);
    const int vlast = (p0 + pp == np && (m & 1)) ? 1 : 2;
    const uint8_t* a = act + p0 * as;
    float* yc = y + 2 * p0 * ldy;
    for (int64_t o = o0; o < o1; o += kR) {
      const int rr = static_cast<int>(std::min<int64_t>(kR, o1 - o));
      F::decode(w.data + o * ws, ws, rr, w.cols, buf, ds);
      if (rr == kR) {
        pair_block<F, kR>(buf, ds, w.cols, a, as, pp, vlast, yc + o, ldy);
      } else {
        for (int r = 0; r < rr; ++r) pair_block<F, 1>(buf + r * ds, ds, w.cols, a, as, pp, vlast, yc + o + r, ldy);
      }
    }
  }
}

#endif  // SLIM_VNNI


// How one weight type is computed: packed activation row size, packer and row runner.
struct Plan {
  size_t act_stride = 0;
  void (*pack)(const Plan&, const float* x, int64_t cols, uint8_t* dst) = nullptr;
  void (*run)(const Weight&, const uint8_t*, size_t, int64_t, float*, int64_t, int64_t, int64_t) = nullptr;
  int offset = 0;  // zero point of 32-block weights
  DType type = DType::F32;
  // Blocked GEMM (quantized types): activations packed in units of unit_rows rows (VNNI builds: pairs
  // for the row-pair tiles; AVX2: 8 rows for tile_oct; both: single rows for the Q4_K lane tiles), used from
  // pair_min rows on; pair_stride = bytes per unit, 0 when not available; output rows handed out in
  // multiples of row_block. pack_pair packs `rows` (<= unit_rows) rows of stride ldx into one unit.
  size_t pair_stride = 0;
  int unit_rows = 2;
  int64_t pair_min = 4;
  int64_t row_block = 4;
  void (*pack_pair)(const Plan&, const float* x, int64_t ldx, int rows, int64_t cols, uint8_t* dst) = nullptr;
  void (*run_pair)(const Weight&, const uint8_t*, size_t, int64_t, float*, int64_t, int64_t, int64_t, int64_t,
                   int64_t) = nullptr;
};

#if SLIM_VNNI
void pack_pair_a_plan(const Plan& p, const float* x, int64_t ldx, int rows, int64_t cols, uint8_t* dst) {
  pack_pair_a(x, rows > 1 ? x + ldx : nullptr, cols / 32, p.offset, dst);
}
void pack_pair_k_plan(const Plan&, const float* x, int64_t ldx, int rows, int64_t cols, uint8_t* dst) {
  pack_pair_k(x, rows > 1 ? x + ldx : nullptr, cols / 256, dst);
}
#endif
#if SLIM_SIMD
void pack_row_q4k_plan(const Plan&, const float* x, int64_t, int, int64_t cols, uint8_t* dst) {
  pack_row_q4k(x, cols / 256, dst);
}
#endif
#if SLIM_SIMD && !SLIM_VNNI
void pack_oct_a_plan(const Plan& p, const float* x, int64_t ldx, int rows, int64_t cols, uint8_t* dst) {
  pack_oct_a(x, ldx, rows, cols / 32, p.offset, dst);
}
#endif

[[maybe_unused]] void pack_a(const Plan& p, const float* x, int64_t cols, uint8_t* dst) { pack_act_a(x, cols / 32, p.offset, dst); }
[[maybe_unused]] void pack_k(const Plan&, const float* x, int64_t cols, uint8_t* dst) {
  SLIM_NS::quantize_row_q8_K(x, reinterpret_cast<BlockQ8_K*>(dst), cols);
}
// F16/BF16 weights: activations are rounded to the weight type (as ggml converts them) and kept as f32.
[[maybe_unused]] void pack_f(const Plan& p, const float* x, int64_t cols, uint8_t* dst) {
  auto* out = reinterpret_cast<float*>(dst);
  if (p.type == DType::F16)
    for (int64_t i = 0; i < cols; ++i) out[i] = fp16_to_fp32(fp32_to_fp16(x[i]));
  else if (p.type == DType::BF16)
    for (int64_t i = 0; i < cols; ++i) out[i] = bf16_to_fp32(fp32_to_bf16(x[i]));
  else
    std::memcpy(out, x, static_cast<size_t>(cols) * 4);
}

// Fallback without SIMD: activations in ggml's standard blocks, one vec_dot_ref per element.
[[maybe_unused]] void pack_std(const Plan& p, const float* x, int64_t cols, uint8_t* dst) {
  quantize_activation_row(p.type, x, dst, cols);
}
[[maybe_unused]] void run_std(const Weight& w, const uint8_t* act, size_t as, int64_t m, float* y, int64_t ldy,
                              int64_t o0, int64_t o1) {
  for (int64_t o = o0; o < o1; ++o)
    for (int64_t i = 0; i < m; ++i) y[i * ldy + o] = vec_dot_ref(w.type, w.cols, w.data + o * w.row_stride, act + i * as);
}

Plan make_plan(const Weight& w) {
  const DTypeInfo* info = dtype_info(static_cast<uint32_t>(w.type));
  if (!info || !info->supported)
    throw Error(std::string("matmul: unsupported weight type ") + dtype_name(static_cast<uint32_t>(w.type)));
  if (w.cols <= 0 || w.cols % info->block_elems != 0 || w.row_stride < row_bytes(w.type, w.cols))
    throw Error(std::string("matmul: ") + info->name + " row of " + std::to_string(w.cols) +
                " elements does not fit its blocks / row stride");
  Plan p;
  p.type = w.type;
  const int64_t n = w.cols;
  auto round64 = [](size_t b) { return (b + 63) & ~size_t(63); };
#if SLIM_SIMD
  switch (w.type) {
    case DType::Q4_0: p.run = run_rows<FamA<WQ4_0>>; break;
    case DType::Q4_1: p.run = run_rows<FamA<WQ4_1>>; break;
    case DType::Q5_0: p.run = run_rows<FamA<WQ5_0>>; break;
    case DType::Q5_1: p.run = run_rows<FamA<WQ5_1>>; break;
    case DType::Q8_0: p.run = run_rows<FamA<WQ8_0>>; break;
    case DType::Q4_K: p.run = run_rows<FamK<RawQ45K<false>>>; break;
    case DType::Q5_K: p.run = run_rows<FamK<RawQ45K<true>>>; break;
    case DType::Q6_K: p.run = run_rows<FamK<RawQ6K>>; break;
    case DType::F32: p.run = run_rows<FamF<WF32>>; break;
    case DType::F16: p.run = run_rows<FamF<WF16>>; break;
    case DType::BF16: p.run = run_rows<FamF<WBF16>>; break;
    default: break;
  }
  switch (w.type) {
    case DType::Q4_0: case DType::Q4_1: case DType::Q5_0: case DType::Q5_1: case DType::Q8_0:
      p.pack = pack_a;
      p.act_stride = act_a_stride(n / 32);
      p.offset = weight_offset(w.type);
      break;
    case DType::Q4_K: case DType::Q5_K: case DType::Q6_K:
      p.pack = pack_k;
      p.act_stride = round64(static_cast<size_t>(n / 256) * sizeof(BlockQ8_K));
      break;
    default:
      p.pack = pack_f;
      p.act_stride = round64(static_cast<size_t>(n) * 4);
      break;
  }
#if SLIM_VNNI
  switch (w.type) {
    // Q4_0 / Q5_K: no row-pair tile for their llama.cpp order (single chain per output); run_rows does all.
    case DType::Q4_1: p.run_pair = run_pairs<PairA<WQ4_1>>; break;
    case DType::Q5_0: p.run_pair = run_pairs<PairA<WQ5_0>>; break;
    case DType::Q5_1: p.run_pair = run_pairs<PairA<WQ5_1>>; break;
    case DType::Q8_0: p.run_pair = run_pairs<PairA<WQ8_0>>; break;
    case DType::Q6_K: p.run_pair = run_pairs<PairK<RawQ6K>>; break;
    default: break;
  }
  p.pair_min = kPairMin;
  if (p.run_pair) {
    const bool k = dtype_info(w.type).block_elems == 256;
    p.pack_pair = k ? pack_pair_k_plan : pack_pair_a_plan;
    p.pair_stride = k ? static_cast<size_t>(n / 256) * kPairK : static_cast<size_t>(n / 32) * kPairA;
  }
#else
  const bool lanes = LlamaLanes::active();
  if (lanes && w.type == DType::Q5_0) p.run = run_rows<FamA<WQ5_0Lanes>>;
  if (lanes && w.type == DType::Q4_1) p.run = run_rows<FamA<WQ4_1Lanes>>;
  switch (w.type) {
    case DType::Q4_0: p.run_pair = run_oct<WQ4_0>; break;
    case DType::Q4_1: p.run_pair = lanes ? nullptr : run_oct<WQ4_1>; break;
    case DType::Q5_0: p.run_pair = lanes ? nullptr : run_oct<WQ5_0>; break;
    default: break;
  }
  if (p.run_pair) {
    p.pack_pair = pack_oct_a_plan;
    p.pair_stride = static_cast<size_t>(n / 32) * kOctA;
    p.unit_rows = kOctRows;
    p.pair_min = kOctRows;
    p.row_block = kOctR;
  }
#endif
  if (w.type == DType::Q4_K) {  // both x86 targets: the lane tiles, from 4 activation rows on
    p.run_pair = run_q4k_lanes;
    p.pack_pair = pack_row_q4k_plan;
    p.pair_stride = static_cast<size_t>(n / 256) * kRowQ4K;
    p.unit_rows = 1;
    p.pair_min = 4;
    p.row_block = kQ4KRows;
  }
#else
  p.run = run_std;
  p.pack = pack_std;
  p.act_stride = round64(activation_row_bytes(w.type, n));
#if SLIM_NEON
  switch (w.type) {  // the same standard activation blocks, NEON dot products (bit-identical to run_std)
    case DType::Q4_0: p.run = run_neon<NeonQ4_0>; break;
    case DType::Q4_1: p.run = run_neon<NeonQ4_1>; break;
    case DType::Q5_0: p.run = run_neon<NeonQ5_0>; break;
    case DType::Q5_1: p.run = run_neon<NeonQ5_1>; break;
    case DType::Q8_0: p.run = run_neon<NeonQ8_0>; break;
    case DType::Q4_K: p.run = run_neon<NeonQ45K<false>>; break;
    case DType::Q5_K: p.run = run_neon<NeonQ45K<true>>; break;
    case DType::Q6_K: p.run = run_neon<NeonQ6K>; break;
    default: break;
  }
#endif
#endif
  return p;
}

// Packs activation rows [i0, i1) (row layout) or pairs [i0, i1) (pair layout).
void pack_range(const Plan& p, bool pairs, const float* x, int64_t ldx, int64_t m, int64_t cols, uint8_t* act,
                int64_t i0, int64_t i1) {
  for (int64_t i = i0; i < i1; ++i) {
    if (pairs) {
      const int64_t r0 = i * p.unit_rows;
      const int rows = static_cast<int>(std::min<int64_t>(p.unit_rows, m - r0));
      p.pack_pair(p, x + r0 * ldx, ldx, rows, cols, act + i * p.pair_stride);
    } else {
      p.pack(p, x + i * ldx, cols, act + i * p.act_stride);
    }
  }
}

#if SLIM_SIMD
constexpr int64_t kRowUnit = 4;  // work units start on tile boundaries (kR and kRv divide 4)
#else
constexpr int64_t kRowUnit = 1;
#endif

int64_t round_up(int64_t v, int64_t u) { return (v + u - 1) / u * u; }

// One matmul call's work: packing units, then compute units (row blocks × activation-pair chunks).
struct Work {
  const Weight& w;
  const Plan& p;
  const float* x;
  int64_t ldx, m;
  float* y;
  int64_t ldy;
  bool pairs;
  uint8_t* act;
  size_t stride;
  int64_t n_pack;                  // packed units (rows or pairs)
  int64_t pack_unit, n_pack_units;  // packing jobs
  int64_t row_unit, n_row_units;    // output-row blocks
  int64_t pair_unit, n_pair_units;  // activation-pair chunks (1 without pairs)

  void pack(int64_t u) const {
    const int64_t i0 = u * pack_unit;
    pack_range(p, pairs, x, ldx, m, w.cols, act, i0, std::min(n_pack, i0 + pack_unit));
  }
  int64_t n_units() const { return n_row_units * n_pair_units; }
  // Pair-chunk-major order: threads work on the same activations at the same time.
  void compute(int64_t u) const {
    const int64_t pu = u / n_row_units, ru = u % n_row_units;
    const int64_t o0 = ru * row_unit, o1 = std::min(w.rows, o0 + row_unit);
    if (pairs) {
      const int64_t p0 = pu * pair_unit;
      p.run_pair(w, act, stride, m, y, ldy, o0, o1, p0, std::min(n_pack, p0 + pair_unit));
    } else {
      p.run(w, act, stride, m, y, ldy, o0, o1);
    }
  }
};

}  // namespace

void matmul(const Weight& w, const float* x, int64_t m, int64_t ldx, float* y, int64_t ldy, ThreadPool& pool) {
  if (m <= 0 || w.rows <= 0) return;
  const Plan p = make_plan(w);
  const bool pairs = p.pair_stride != 0 && m >= p.pair_min;
  const int nt = pool.size();
  Work wk{w, p, x, ldx, m, y, ldy, pairs, nullptr, pairs ? p.pair_stride : p.act_stride,
          pairs ? (m + p.unit_rows - 1) / p.unit_rows : m, 0, 0, 0, 0, 0, 0};
  wk.act = scratch().get(wk.stride * static_cast<size_t>(wk.n_pack));
  if (nt == 1) {
    pack_range(p, pairs, x, ldx, m, w.cols, wk.act, 0, wk.n_pack);
    if (pairs) p.run_pair(w, wk.act, wk.stride, m, y, ldy, 0, w.rows, 0, wk.n_pack);
    else p.run(w, wk.act, wk.stride, m, y, ldy, 0, w.rows);
    return;
  }
  // Work is handed out dynamically (atomic counters): a thread that starts late or gets preempted on a
  // busy machine does not hold up the call, and the split never changes any result (each output
  // element is computed the same way by whichever thread takes it).
  wk.pack_unit = std::max<int64_t>(1, (wk.n_pack + 4 * nt - 1) / (4 * nt));
  wk.n_pack_units = (wk.n_pack + wk.pack_unit - 1) / wk.pack_unit;
#if SLIM_SIMD
  wk.pair_unit = pairs ? pair_chunk(wk.stride) : wk.n_pack;
#else
  wk.pair_unit = wk.n_pack;
#endif
  wk.n_pair_units = (wk.n_pack + wk.pair_unit - 1) / wk.pair_unit;
  const int64_t per_chunk = m == 1 ? 8 * nt : 4 * nt;  // row blocks per activation chunk
  const int64_t block = pairs ? std::max(kRowUnit, p.row_block) : kRowUnit;
  wk.row_unit = std::max(block, round_up((w.rows + per_chunk - 1) / per_chunk, block));
  wk.n_row_units = (w.rows + wk.row_unit - 1) / wk.row_unit;

  // Few activation rows: pack on the caller. Many: packing is shared too, in the same parallel region.
  const bool par_pack = wk.n_pack >= 2 * nt;
  if (!par_pack) pack_range(p, pairs, x, ldx, m, w.cols, wk.act, 0, wk.n_pack);
  std::atomic<int64_t> next_pack{0}, packed{0}, next_unit{0};
  pool.run([&](int, int) {
    if (par_pack) {
      for (int64_t u; (u = next_pack.fetch_add(1, std::memory_order_relaxed)) < wk.n_pack_units;) {
        wk.pack(u);
        packed.fetch_add(1, std::memory_order_release);
      }
      for (int spins = 0; packed.load(std::memory_order_acquire) < wk.n_pack_units; ++spins) {
        if (spins < 4096) ::slim::simd::cpu_relax();
        else std::this_thread::yield();
      }
    }
    for (int64_t u; (u = next_unit.fetch_add(1, std::memory_order_relaxed)) < wk.n_units();) wk.compute(u);
  });
}

void matmul_rows(const Weight& w, const float* x, int64_t m, int64_t ldx, float* y, int64_t ldy, int64_t o0,
                 int64_t o1) {
  if (m <= 0 || o1 <= o0) return;
  const Plan p = make_plan(w);
  const bool pairs = p.pair_stride != 0 && m >= p.pair_min;
  const int64_t units = pairs ? (m + p.unit_rows - 1) / p.unit_rows : m;
  const size_t stride = pairs ? p.pair_stride : p.act_stride;
  uint8_t* act = scratch().get(stride * static_cast<size_t>(units));
  pack_range(p, pairs, x, ldx, m, w.cols, act, 0, units);
  if (pairs) p.run_pair(w, act, stride, m, y, ldy, o0, o1, 0, units);
  else p.run(w, act, stride, m, y, ldy, o0, o1);
}

}  // namespace slim::kernels::SLIM_NS
