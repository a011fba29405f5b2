#!/usr/bin/env python3
"""Write oracle fixtures for slim.cpp's quantization kernels (tests/test_kernels.cpp).

gguf-py (the `gguf` package, llama.cpp's own Python reader) is the oracle:
  * deq_<TYPE>.bin   random raw blocks -> gguf.quants.dequantize floats (every supported type)
  * quant_<TYPE>.bin float rows -> gguf.quants.quantize bytes (types gguf-py can quantize)
  * model_<n>.bin    a row of a real tensor of the Gemma 3 270M Q4_K_M file (file offset + gguf-py's
                     dequantized floats); the test reads the raw bytes from the model itself
llama.cpp's own CPU library (libggml-cpu.so of the reference build, called through ctypes) is the oracle
for what gguf-py lacks, the run-time activation quantizers and the dot products:
  * act_<TYPE>.bin   floats -> quantize_row_q8_0 / q8_1 / q8_K bytes (x86 run-time versions)
  * dot_<TYPE>.bin   weight rows + one float activation row -> ggml_vec_dot_<type>_<vec_dot_type> results
  * mm_<TYPE>.bin    (Q5_K, Q6_K) R weight rows x m activation rows through ggml's mul_mat op (its tiled
                     K-quant matmul, which llama.cpp runs for batches of >= 8 rows)
  * repack_Q4_K.bin  8 Q4_K rows, repacked by llama.cpp (q4_K_8x8, what it uses for Q4_K matrices whose row
                     count is a multiple of 8), against 4 activation rows: its gemv (row 0) and gemm results

File layout (little-endian):
  magic "SLQF", u32 version=1, u32 kind (0=dequant, 1=quantize, 2=model row), u32 ggml type id,
  u32 n_elems, u32 n_raw_bytes, u64 file_offset (kind 2 only, else 0), char name[64];
  kind 0: raw bytes, then n_elems f32;  kind 1 (quantize) and 3 (activation quantize): n_elems f32 input,
  then raw bytes;  kind 2: n_elems f32;  kind 4 (dot): file_offset holds the number of weight rows R,
  then raw weight bytes (R rows), n_elems f32 activations, R f32 results;
  kind 5 (repack): file_offset = R (8); raw weight bytes, 4*n_elems f32 activations, R f32 gemv results
  (activation row 0), 4*R f32 gemm results (row-major: activation row, then weight row);
  kind 6 (mul_mat op): file_offset = R, u32 m, raw weight bytes, m*n_elems f32 activations, m*R f32
  results (activation row, then weight row).

Deterministic (fixed seed); rerun with:
  python3 tools/make_quant_fixtures.py [--model PATH] [--ggml-cpu PATH/libggml-cpu.so]
"""
import argparse
import ctypes
import os
import struct

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T
from gguf.quants import dequantize, quantize

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "quant")

# ggml block geometry (bytes per block, elements per block) and the byte offsets of fp16 scale fields,
# which we overwrite with sane finite values so that random blocks decode to finite numbers.
GEOM = {
    T.Q4_0: (18, 32, [0]),
    T.Q4_1: (20, 32, [0, 2]),
    T.Q5_0: (22, 32, [0]),
    T.Q5_1: (24, 32, [0, 2]),
    T.Q8_0: (34, 32, [0]),
    T.Q4_K: (144, 256, [0, 2]),
    T.Q5_K: (176, 256, [0, 2]),
    T.Q6_K: (210, 256, [208]),
}


def header(kind, qtype, n_elems, n_raw, offset=0, name=""):
    nm = name.encode()[:63].ljust(64, b"\0")
    return b"SLQF" + struct.pack("<IIIIIQ", 1, kind, int(qtype), n_elems, n_raw, offset) + nm


def write(fname, data):
    with open(os.path.join(OUT, fname), "wb") as f:
        f.write(data)


def random_blocks(rng, qtype, n_blocks):
    bsize, _, fields = GEOM[qtype]
    raw = rng.integers(0, 256, size=(n_blocks, bsize), dtype=np.uint8)
    for off in fields:
        # Mix of magnitudes, signs (min fields of _1 types are often negative) and a few subnormals.
        v = (rng.standard_normal(n_blocks) * 0.02).astype(np.float16)
        v[::7] = np.float16(rng.standard_normal() * 3e-6)  # fp16 subnormal range
        raw[:, off:off + 2] = v.view(np.uint8).reshape(n_blocks, 2)
    return raw


def dequant_fixtures(rng):
    for qtype, (bsize, qk, _) in GEOM.items():
        n_blocks = 32 if qk == 32 else 4
        raw = random_blocks(rng, qtype, n_blocks)
        out = dequantize(raw.reshape(-1), qtype).astype(np.float32).reshape(-1)
        assert out.size == n_blocks * qk and np.all(np.isfinite(out))
        write(f"deq_{qtype.name}.bin", header(0, qtype, out.size, raw.size) + raw.tobytes() + out.tobytes())

    # Float types: F16 with specials (zeros, subnormals, max, inf), BF16 with random non-NaN bits.
    h = rng.integers(0, 0x10000, size=512, dtype=np.uint32).astype(np.uint16)
    h = np.where((h & 0x7C00) == 0x7C00, h & 0x83FF, h).astype(np.uint16)  # drop inf/NaN exponents
    h[:8] = [0x0000, 0x8000, 0x0001, 0x83FF, 0x7BFF, 0xFBFF, 0x7C00, 0xFC00]
    out = dequantize(h.view(np.uint8), T.F16).astype(np.float32).reshape(-1)
    write("deq_F16.bin", header(0, T.F16, h.size, h.size * 2) + h.tobytes() + out.tobytes())

    b = rng.integers(0, 0x10000, size=512, dtype=np.uint32).astype(np.uint16)
    b = np.where((b & 0x7F80) == 0x7F80, b & 0x807F, b).astype(np.uint16)
    out = dequantize(b.view(np.uint8), T.BF16).astype(np.float32).reshape(-1)
    write("deq_BF16.bin", header(0, T.BF16, b.size, b.size * 2) + b.tobytes() + out.tobytes())

    f = (rng.standard_normal(256) * 10).astype(np.float32)
    write("deq_F32.bin", header(0, T.F32, f.size, f.size * 4) + f.tobytes() + f.tobytes())


def quant_fixtures(rng):
    n = 512
    x = (rng.standard_normal(n) * rng.choice([0.01, 1.0, 50.0], size=n)).astype(np.float32)
    x[0:32] = 0.0                      # all-zero block: d = 0 path
    x[32:64] = 0.0
    x[40] = -3.5                       # one negative extreme in an otherwise empty block
    x[64:96] = np.linspace(-1, 1, 32)  # exact ties for the rounding rules
    x[96:128] = rng.integers(-8, 8, size=32).astype(np.float32) * 0.25
    x[128] = 1e-6
    x[129] = 7e4   # overflows fp16 in F16
    x[130] = 6.1e-5
    x[131] = 1e-8  # fp16 subnormal / underflow
    for qtype in (T.F16, T.BF16, T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0):
        raw = np.asarray(quantize(x, qtype)).view(np.uint8).reshape(-1)
        write(f"quant_{qtype.name}.bin", header(1, qtype, n, raw.size) + x.tobytes() + raw.tobytes())


def model_fixtures(path):
    r = gguf.GGUFReader(path)
    by_name = {t.name: t for t in r.tensors}
    picks = [  # one row each of the four quantized types the Gemma file uses
        ("token_embd.weight", 1000),
        ("blk.0.attn_q.weight", 7),
        ("blk.0.attn_output.weight", 5),
        ("blk.0.ffn_down.weight", 3),
        ("blk.2.ffn_down.weight", 639),
    ]
    for i, (name, row) in enumerate(picks):
        t = by_name[name]
        ne0 = int(t.shape[0])
        bsize, qk = gguf.GGML_QUANT_SIZES[t.tensor_type][1], gguf.GGML_QUANT_SIZES[t.tensor_type][0]
        row_bytes = ne0 // qk * bsize
        data = np.asarray(t.data).reshape(-1, row_bytes)
        raw = data[row]
        out = dequantize(raw, t.tensor_type).astype(np.float32).reshape(-1)
        offset = int(t.data_offset) + row * row_bytes
        with open(path, "rb") as f:  # make sure the offset really points at the row
            f.seek(offset)
            assert f.read(row_bytes) == raw.tobytes()
        label = f"{name}[{row}]"
        write(f"model_{i}.bin", header(2, t.tensor_type, ne0, row_bytes, offset, label) + out.tobytes())


def llama_fixtures(lib_path, rng):
    lib = ctypes.CDLL(lib_path)
    lib.ggml_cpu_init()
    vp = ctypes.c_void_p
    ptr = lambda a: a.ctypes.data_as(vp)  # noqa: E731

    # Activation quantizers: a row with varied block scales, an all-zero block and exact ties.
    n = 1024
    x = (rng.standard_normal(n) * rng.choice([0.001, 1.0, 30.0], size=n)).astype(np.float32)
    x[256:512] *= 0.0
    x[300] = 2.0                       # Q8_K block whose extreme is positive (negative d)
    x[64:96] = np.arange(32, dtype=np.float32) - 16.0  # q values land on exact halves
    for name, fn, bsize, qk in (("Q8_0", lib.quantize_row_q8_0, 34, 32), ("Q8_1", lib.quantize_row_q8_1, 36, 32),
                                ("Q8_K", lib.quantize_row_q8_K, 292, 256)):
        y = np.zeros(n // qk * bsize, np.uint8)
        fn(ptr(x), ptr(y), ctypes.c_int64(n))
        write(f"act_{name}.bin", header(3, getattr(T, name), n, y.size) + x.tobytes() + y.tobytes())

    # Dot products: R weight rows against one activation row quantized by llama.cpp's from_float.
    act = {T.Q4_0: ("Q8_0", 34, 32), T.Q5_0: ("Q8_0", 34, 32), T.Q8_0: ("Q8_0", 34, 32),
           T.Q4_1: ("Q8_1", 36, 32), T.Q5_1: ("Q8_1", 36, 32),
           T.Q4_K: ("Q8_K", 292, 256), T.Q5_K: ("Q8_K", 292, 256), T.Q6_K: ("Q8_K", 292, 256)}
    rows, n = 4, 768
    for qtype, (aname, absize, aqk) in act.items():
        bsize, qk, _ = GEOM[qtype]
        w = random_blocks(rng, qtype, rows * n // qk)
        x = (rng.standard_normal(n) * 0.5).astype(np.float32)
        a = np.zeros(n // aqk * absize, np.uint8)
        getattr(lib, f"quantize_row_{aname.lower()}".replace("q8_k", "q8_K"))(ptr(x), ptr(a), ctypes.c_int64(n))
        fn = getattr(lib, f"ggml_vec_dot_{qtype.name.lower().replace('_k', '_K')}_{aname.replace('Q', 'q')}")
        res = np.zeros(rows, np.float32)
        wr = w.reshape(rows, -1)
        for r in range(rows):
            row = np.ascontiguousarray(wr[r])
            fn(ctypes.c_int(n), ptr(res[r:]), ctypes.c_size_t(0), ptr(row), ctypes.c_size_t(0), ptr(a),
               ctypes.c_size_t(0), ctypes.c_int(1))
        write(f"dot_{qtype.name}.bin", header(4, qtype, n, w.size, rows) + w.tobytes() + x.tobytes() + res.tobytes())

    repack_fixture(lib, lib_path, rng)

    for qtype, conv, dot in ((T.F16, lib.ggml_cpu_fp32_to_fp16, lib.ggml_vec_dot_f16),
                             (T.BF16, lib.ggml_cpu_fp32_to_bf16, lib.ggml_vec_dot_bf16)):
        wf = (rng.standard_normal(rows * n) * 0.1).astype(np.float32)
        w = np.zeros(rows * n, np.uint16)
        conv(ptr(wf), ptr(w), ctypes.c_int64(rows * n))
        x = (rng.standard_normal(n) * 0.5).astype(np.float32)
        a = np.zeros(n, np.uint16)
        conv(ptr(x), ptr(a), ctypes.c_int64(n))
        res = np.zeros(rows, np.float32)
        for r in range(rows):
            row = np.ascontiguousarray(w[r * n:(r + 1) * n])
            dot(ctypes.c_int(n), ptr(res[r:]), ctypes.c_size_t(0), ptr(row), ctypes.c_size_t(0), ptr(a),
                ctypes.c_size_t(0), ctypes.c_int(1))
        write(f"dot_{qtype.name}.bin",
              header(4, qtype, n, w.size * 2, rows) + w.tobytes() + x.tobytes() + res.tobytes())


def repack_fixture(lib, lib_path, rng):
    """llama.cpp's repacked Q4_K path, called through its exported C++ template instances."""
    base = ctypes.CDLL(os.path.join(os.path.dirname(lib_path), "libggml-base.so"))

    class InitParams(ctypes.Structure):
        _fields_ = [("mem_size", ctypes.c_size_t), ("mem_buffer", ctypes.c_void_p), ("no_alloc", ctypes.c_bool)]

    base.ggml_init.restype = ctypes.c_void_p
    base.ggml_init.argtypes = [InitParams]
    base.ggml_new_tensor_2d.restype = ctypes.c_void_p
    base.ggml_new_tensor_2d.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
    base.ggml_get_data.restype = ctypes.c_void_p
    base.ggml_get_data.argtypes = [ctypes.c_void_p]
    repack = getattr(lib, "_ZN4ggml3cpu6repack6repackI10block_q4_KLl8ELl8EEEiP11ggml_tensorPKvm")
    gemv = getattr(lib, "_ZN4ggml3cpu6repack4gemvI10block_q4_KLl8ELl8EL9ggml_type15EEEviPfmPKvS7_ii")
    gemm = getattr(lib, "_ZN4ggml3cpu6repack4gemmI10block_q4_KLl8ELl8EL9ggml_type15EEEviPfmPKvS7_ii")
    qmat = getattr(lib, "_Z19ggml_quantize_mat_tILl8EL9ggml_type15EEvPKfPvll")
    ptr = lambda a: a.ctypes.data_as(ctypes.c_void_p)  # noqa: E731

    rows, n = 8, 768
    w = random_blocks(rng, T.Q4_K, rows * n // 256)
    x = (rng.standard_normal(4 * n) * 0.5).astype(np.float32)
    ctx = base.ggml_init(InitParams(1 << 20, None, False))
    t = base.ggml_new_tensor_2d(ctx, int(T.Q4_K), n, rows)
    assert repack(ctypes.c_void_p(t), ptr(w), ctypes.c_size_t(w.size)) == 0
    packed = ctypes.c_void_p(base.ggml_get_data(ctypes.c_void_p(t)))
    # gemv: activation row 0 quantized by the row quantizer (what llama.cpp uses for single rows)
    a1 = np.zeros(n // 256 * 292, np.uint8)
    lib.quantize_row_q8_K(ptr(x), ptr(a1), ctypes.c_int64(n))
    out_v = np.zeros(rows, np.float32)
    gemv(ctypes.c_int(n), ptr(out_v), ctypes.c_size_t(rows), packed, ptr(a1), ctypes.c_int(1), ctypes.c_int(rows))
    # gemm: 4 activation rows quantized together (block_q8_Kx4)
    a4 = np.zeros(n // 256 * 292 * 4, np.uint8)
    qmat(ptr(x), ptr(a4), ctypes.c_int64(4), ctypes.c_int64(n))
    out_m = np.zeros(4 * rows, np.float32)
    gemm(ctypes.c_int(n), ptr(out_m), ctypes.c_size_t(rows), packed, ptr(a4), ctypes.c_int(4), ctypes.c_int(rows))
    base.ggml_free.argtypes = [ctypes.c_void_p]
    base.ggml_free(ctypes.c_void_p(ctx))
    write("repack_Q4_K.bin",
          header(5, T.Q4_K, n, w.size, rows) + w.tobytes() + x.tobytes() + out_v.tobytes() + out_m.tobytes())


def tiled_fixtures(lib_path):
    """llama.cpp's whole CPU mul_mat op on a batch of activation rows (ggml graph through ctypes).

    For batches of >= 8 rows x86 llama.cpp runs non-repacked K-quant matrices (Q5_K, Q6_K) through its
    ggml-cpu "tiled" matmul, whose float order differs from ggml_vec_dot's; this is what a prefill sees.
    """
    lib = ctypes.CDLL(lib_path)
    base = ctypes.CDLL(os.path.join(os.path.dirname(lib_path), "libggml-base.so"))

    class InitParams(ctypes.Structure):
        _fields_ = [("mem_size", ctypes.c_size_t), ("mem_buffer", ctypes.c_void_p), ("no_alloc", ctypes.c_bool)]

    vp = ctypes.c_void_p
    base.ggml_init.restype = vp
    base.ggml_init.argtypes = [InitParams]
    base.ggml_new_tensor_2d.restype = vp
    base.ggml_new_tensor_2d.argtypes = [vp, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
    base.ggml_get_data.restype = vp
    base.ggml_get_data.argtypes = [vp]
    base.ggml_mul_mat.restype = vp
    base.ggml_mul_mat.argtypes = [vp, vp, vp]
    base.ggml_new_graph.restype = vp
    base.ggml_new_graph.argtypes = [vp]
    base.ggml_build_forward_expand.argtypes = [vp, vp]
    base.ggml_free.argtypes = [vp]
    lib.ggml_graph_compute_with_ctx.argtypes = [vp, vp, ctypes.c_int]
    lib.ggml_cpu_init()
    rng = np.random.default_rng(20251124)  # own stream: the other fixtures stay unchanged
    rows, n, m = 16, 768, 24
    for qtype in (T.Q5_K, T.Q6_K):
        w = random_blocks(rng, qtype, rows * n // 256)
        x = (rng.standard_normal(m * n) * 0.5).astype(np.float32)
        x[3 * n:4 * n] *= 40.0  # one row of a different magnitude
        ctx = base.ggml_init(InitParams(64 << 20, None, False))
        tw = base.ggml_new_tensor_2d(ctx, int(qtype), n, rows)
        tx = base.ggml_new_tensor_2d(ctx, int(T.F32), n, m)
        ctypes.memmove(base.ggml_get_data(tw), w.ctypes.data, w.size)
        ctypes.memmove(base.ggml_get_data(tx), x.ctypes.data, x.nbytes)
        ty = base.ggml_mul_mat(ctx, tw, tx)
        gf = base.ggml_new_graph(ctx)
        base.ggml_build_forward_expand(gf, ty)
        lib.ggml_graph_compute_with_ctx(ctx, gf, 2)
        out = np.ctypeslib.as_array(ctypes.cast(base.ggml_get_data(ty), ctypes.POINTER(ctypes.c_float)),
                                    shape=(m * rows,)).copy()
        base.ggml_free(ctx)
        write(f"mm_{qtype.name}.bin", header(6, qtype, n, w.size, rows) + struct.pack("<I", m) + w.tobytes()
              + x.tobytes() + out.tobytes())


def default_ggml_cpu():
    try:
        with open("/tmp/llama-ref.out") as f:
            return os.path.join(f.read().strip(), "libggml-cpu.so")
    except OSError:
        return os.path.join(os.environ.get("LLAMA_BIN", ""), "libggml-cpu.so")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=os.path.join(ROOT, "models", "gemma-3-270m-q4_k_m.gguf"))
    ap.add_argument("--ggml-cpu", default=default_ggml_cpu(), help="llama.cpp's libggml-cpu.so (reference build)")
    args = ap.parse_args()
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(20251123)
    dequant_fixtures(rng)
    quant_fixtures(rng)
    if os.path.exists(args.model):
        model_fixtures(args.model)
    else:
        print(f"model {args.model} not found: model_*.bin not written")
    if os.path.exists(args.ggml_cpu):
        llama_fixtures(args.ggml_cpu, rng)
        tiled_fixtures(args.ggml_cpu)
    else:
        print(f"{args.ggml_cpu} not found: act_*.bin / dot_*.bin not written")
    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print(f"wrote {len(os.listdir(OUT))} files, {total} bytes to {OUT}")


if __name__ == "__main__":
    main()
