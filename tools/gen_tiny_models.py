#!/usr/bin/env python3
"""Generate the deterministic tiny random-weight GGUF models used by slim.cpp's tests.

    python3 tools/gen_tiny_models.py --out tests/models

Every run writes byte-identical files (fixed per-tensor RandomState seeds, no timestamps), then
DIR/.complete (a list of file names and sha256 sums) as the marker that the set is whole.
The models cover every architecture the engine supports (gemma3, llama, qwen2, qwen3) and, between
them, every weight type (F32 F16 BF16 Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 Q4_K Q5_K Q6_K) in some matmul weight.
docs/testing.md describes what each model exercises.

Weights are random but scaled so that hidden activations stay O(1) and logits have a spread of a few
units: neither flat (every KL divergence ~0) nor saturated (one-hot, every greedy pick trivial).
Variants of the same family share the same float weights (seeds depend on the family and the tensor
name only), so e.g. llama-q4_0 and llama-q8_0 are two quantizations of one model.

Tokenizers are built from tests/data/persuasion-ch1.txt (public domain, see docs/testing.md):
byte-pair merges learned greedily (most frequent pair, ties broken by the pair's text) for the gpt2
BPE vocabularies, and the same procedure over "▁"-prefixed words for the SentencePiece (SPM) one.
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import math
import os
import re
import sys
import time
import zlib
from pathlib import Path

import numpy as np

try:
    import gguf
    from gguf import GGMLQuantizationType as T
except ImportError:  # pragma: no cover - setup.sh installs it
    sys.exit("gen_tiny_models.py needs the 'gguf' package: python3 -m pip install gguf")

REPO = Path(__file__).resolve().parent.parent
VOCAB_TEXT = REPO / "tests" / "data" / "persuasion-ch1.txt"
N_VOCAB = 512  # small on purpose: KL-divergence fixtures scale with vocab x scored tokens

# --------------------------------------------------------------------------------------------
# deterministic random numbers


def rng(family: str, tensor: str) -> np.random.RandomState:
    # Seed from (family, tensor) only: adding a tensor or a variant never shifts the others.
    return np.random.RandomState(zlib.crc32(f"{family}/{tensor}".encode()))


def normal(family: str, tensor: str, shape: tuple[int, ...], std: float, mean: float = 0.0) -> np.ndarray:
    return (mean + std * rng(family, tensor).standard_normal(shape)).astype(np.float32)


# --------------------------------------------------------------------------------------------
# K-quant packing (gguf-py only dequantizes K-quants). These are simple min/max quantizers, not
# llama.cpp's optimising ones: the tests need valid blocks of sensible magnitude, not minimal error.
# Layouts follow engine-reference.md section 4.6-4.8.


def _f16(a: np.ndarray) -> np.ndarray:
    return a.astype(np.float16)


def _pack_scale_min_k4(sc: np.ndarray, m: np.ndarray) -> np.ndarray:
    """8 six-bit scales and 8 six-bit mins per block -> 12 bytes (nb, 12)."""
    sc = sc.astype(np.uint8)
    m = m.astype(np.uint8)
    out = np.zeros((sc.shape[0], 12), dtype=np.uint8)
    out[:, 0:4] = (sc[:, 0:4] & 63) | ((sc[:, 4:8] >> 4) << 6)
    out[:, 4:8] = (m[:, 0:4] & 63) | ((m[:, 4:8] >> 4) << 6)
    out[:, 8:12] = (sc[:, 4:8] & 15) | ((m[:, 4:8] & 15) << 4)
    return out


def _quant_affine_k(x: np.ndarray, levels: int):
    """Shared part of Q4_K/Q5_K: per 32-value sub-block value = d*sc*q - dmin*m, q in [0, levels]."""
    nb = x.shape[0]
    xs = x.reshape(nb, 8, 32).astype(np.float32)
    lo = np.minimum(xs.min(axis=-1), 0.0)
    hi = np.maximum(xs.max(axis=-1), 0.0)
    scale = (hi - lo) / levels
    mins = -lo
    d = _f16(scale.max(axis=-1) / 63.0)
    dmin = _f16(mins.max(axis=-1) / 63.0)
    df = d.astype(np.float32)[:, None]
    dminf = dmin.astype(np.float32)[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        sc = np.where(df > 0, np.round(scale / df), 0).clip(0, 63)
        mq = np.where(dminf > 0, np.round(mins / dminf), 0).clip(0, 63)
        step = (df * sc)[..., None]
        off = (dminf * mq)[..., None]
        q = np.where(step > 0, np.round((xs + off) / step), 0).clip(0, levels).astype(np.uint8)
    return d, dmin, sc, mq, q


def quantize_q4_k(x: np.ndarray) -> np.ndarray:
    nb = x.shape[0]
    d, dmin, sc, mq, q = _quant_affine_k(x, 15)
    qs = np.zeros((nb, 128), dtype=np.uint8)
    for c in range(4):
        qs[:, 32 * c:32 * c + 32] = q[:, 2 * c] | (q[:, 2 * c + 1] << 4)
    return np.concatenate([d.view(np.uint8).reshape(nb, 2), dmin.view(np.uint8).reshape(nb, 2),
                           _pack_scale_min_k4(sc, mq), qs], axis=1)


def quantize_q5_k(x: np.ndarray) -> np.ndarray:
    nb = x.shape[0]
    d, dmin, sc, mq, q = _quant_affine_k(x, 31)
    qs = np.zeros((nb, 128), dtype=np.uint8)
    qh = np.zeros((nb, 32), dtype=np.uint8)
    for c in range(4):
        lo, hi = q[:, 2 * c], q[:, 2 * c + 1]
        qs[:, 32 * c:32 * c + 32] = (lo & 15) | ((hi & 15) << 4)
        qh |= ((lo >> 4) << (2 * c)) | ((hi >> 4) << (2 * c + 1))
    return np.concatenate([d.view(np.uint8).reshape(nb, 2), dmin.view(np.uint8).reshape(nb, 2),
                           _pack_scale_min_k4(sc, mq), qh, qs], axis=1)


def quantize_q6_k(x: np.ndarray) -> np.ndarray:
    nb = x.shape[0]
    xs = x.reshape(nb, 16, 16).astype(np.float32)
    scale = np.abs(xs).max(axis=-1) / 31.0  # q in [-31, 31] (+32 offset on disk)
    d = _f16(scale.max(axis=-1) / 127.0)
    df = d.astype(np.float32)[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        sc = np.where(df > 0, np.round(scale / df), 0).clip(-128, 127)
        step = (df * sc)[..., None]
        q = np.where(step != 0, np.round(xs / step), 0).clip(-32, 31)
    q = (q + 32).astype(np.uint8).reshape(nb, 256)
    ql = np.zeros((nb, 128), dtype=np.uint8)
    qh = np.zeros((nb, 64), dtype=np.uint8)
    for h in range(2):
        v = q[:, 128 * h:128 * h + 128]
        ql[:, 64 * h:64 * h + 32] = (v[:, 0:32] & 15) | ((v[:, 64:96] & 15) << 4)
        ql[:, 64 * h + 32:64 * h + 64] = (v[:, 32:64] & 15) | ((v[:, 96:128] & 15) << 4)
        qh[:, 32 * h:32 * h + 32] = ((v[:, 0:32] >> 4) | ((v[:, 32:64] >> 4) << 2)
                                     | ((v[:, 64:96] >> 4) << 4) | ((v[:, 96:128] >> 4) << 6))
    return np.concatenate([ql, qh, sc.astype(np.int8).view(np.uint8), d.view(np.uint8).reshape(nb, 2)], axis=1)


K_QUANTIZERS = {T.Q4_K: quantize_q4_k, T.Q5_K: quantize_q5_k, T.Q6_K: quantize_q6_k}


def encode(w: np.ndarray, qtype: T) -> np.ndarray:
    """Float matrix (rows, ne0) -> array for GGUFWriter.add_tensor (raw bytes for quantized types)."""
    if qtype == T.F32:
        return w.astype(np.float32)
    if qtype == T.F16:
        return w.astype(np.float16)
    if qtype in K_QUANTIZERS:
        block, size = gguf.GGML_QUANT_SIZES[qtype]
        rows, ne0 = w.shape
        assert ne0 % block == 0, (qtype, w.shape)
        raw = K_QUANTIZERS[qtype](w.reshape(-1, block)).reshape(rows, ne0 // block * size)
        # Self-check of the packing against gguf-py's reference dequantizer: the decoded values must
        # be close to the input (gross errors mean a wrong bit layout, not quantization noise).
        deq = gguf.quants.dequantize(raw, qtype).reshape(w.shape)
        err = float(np.sqrt(np.mean((deq - w) ** 2)))
        assert err <= 0.15 * float(np.sqrt(np.mean(w ** 2))) + 1e-6, (qtype.name, err)
        return raw
    return gguf.quants.quantize(w.astype(np.float32), qtype)


# --------------------------------------------------------------------------------------------
# tokenizers


def gpt2_byte_chars() -> list[str]:
    """GPT-2 byte-level alphabet: printable Latin-1 bytes map to themselves, the rest to U+0100...;
    entry b is the character standing for byte b."""
    keep = set(range(33, 127)) | set(range(161, 173)) | set(range(174, 256))
    out, extra = [], 0
    for b in range(256):
        if b in keep:
            out.append(chr(b))
        else:
            out.append(chr(256 + extra))
            extra += 1
    return out


def learn_merges(words: collections.Counter, n_merges: int) -> list[tuple[str, str]]:
    """Greedy BPE: repeatedly merge the most frequent adjacent pair (ties: smallest pair text)."""
    seqs = {w: list(w) for w in words}
    merges: list[tuple[str, str]] = []
    while len(merges) < n_merges:
        counts: collections.Counter = collections.Counter()
        for w, n in words.items():
            s = seqs[w]
            for a, b in zip(s, s[1:]):
                counts[(a, b)] += n
        if not counts:
            break
        best = min(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0]
        merges.append(best)
        joined = best[0] + best[1]
        for w, s in seqs.items():
            i, out = 0, []
            while i < len(s):
                if i + 1 < len(s) and s[i] == best[0] and s[i + 1] == best[1]:
                    out.append(joined)
                    i += 2
                else:
                    out.append(s[i])
                    i += 1
            seqs[w] = out
    return merges


def read_vocab_text() -> str:
    return VOCAB_TEXT.read_text(encoding="utf-8")


def bpe_vocab(text: str, specials: list[str], specials_first: bool) -> dict:
    """gpt2-style byte-level BPE vocabulary of N_VOCAB tokens."""
    bc = gpt2_byte_chars()
    # Roughly the GPT-2 pre-tokenizer: merges never cross these pieces.
    pieces = re.findall(r"'(?:s|t|re|ve|m|ll|d)| ?[A-Za-z]+| ?[0-9]+| ?[^\sA-Za-z0-9]+|\s+(?!\S)|\s+", text)
    words = collections.Counter("".join(bc[b] for b in p.encode("utf-8")) for p in pieces)
    n_merges = N_VOCAB - 256 - len(specials)
    merges = learn_merges(words, n_merges)
    assert len(merges) == n_merges
    normal = list(bc) + [a + b for a, b in merges]
    assert len(set(normal)) == len(normal)
    tokens = specials + normal if specials_first else normal + specials
    types = [gguf.TokenType.CONTROL if t in specials else gguf.TokenType.NORMAL for t in tokens]
    return {"tokens": tokens, "types": [int(t) for t in types], "merges": [f"{a} {b}" for a, b in merges]}


SPM_SPECIALS = [  # (piece, type) like gemma-3: control tokens, then user-defined newline runs
    ("<pad>", gguf.TokenType.CONTROL), ("<eos>", gguf.TokenType.CONTROL), ("<bos>", gguf.TokenType.CONTROL),
    ("<unk>", gguf.TokenType.CONTROL), ("<mask>", gguf.TokenType.CONTROL),
    ("[multimodal]", gguf.TokenType.USER_DEFINED),
    ("<start_of_turn>", gguf.TokenType.CONTROL), ("<end_of_turn>", gguf.TokenType.CONTROL),
    ("\n", gguf.TokenType.USER_DEFINED), ("\n\n", gguf.TokenType.USER_DEFINED),
    ("\n\n\n", gguf.TokenType.USER_DEFINED),
]


def spm_vocab(text: str) -> dict:
    """SentencePiece-style (llama.cpp "llama" tokenizer) vocabulary of N_VOCAB tokens, laid out like
    gemma-3's: specials (score -1000), 256 byte tokens <0xXX> (type BYTE, score 0), then pieces with
    descending scores (merge pieces by rank, then single characters)."""
    tokens = [p for p, _ in SPM_SPECIALS]
    types = [int(t) for _, t in SPM_SPECIALS]
    scores = [-1000.0] * len(tokens)
    tokens += [f"<0x{b:02X}>" for b in range(256)]
    types += [int(gguf.TokenType.BYTE)] * 256
    scores += [0.0] * 256
    t = text.replace(" ", "\u2581")
    words: collections.Counter = collections.Counter()
    for frag in re.split(r"\n+", t):
        words.update(re.findall(r"\u2581[^\u2581]*|[^\u2581]+", frag))
    chars = sorted(set("".join(words)))
    n_merges = N_VOCAB - len(tokens) - len(chars)
    merges = learn_merges(words, n_merges)
    pieces = [a + b for a, b in merges] + chars
    assert len(set(pieces)) == len(pieces) and len(tokens) + len(pieces) == N_VOCAB
    tokens += pieces
    types += [int(gguf.TokenType.NORMAL)] * len(pieces)
    scores += [-float(i) for i in range(len(pieces))]
    return {"tokens": tokens, "types": types, "scores": scores}


# Short chat templates written for these models (the real models ship their own).
GEMMA_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}<start_of_turn>"
    "{{ 'model' if m['role'] == 'assistant' else m['role'] }}\n{{ m['content'] | trim }}<end_of_turn>\n"
    "{% endfor %}{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}")
CHATML_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


# --------------------------------------------------------------------------------------------
# model families (float weights + hyperparameters) and variants (weight types)


class Family:
    def __init__(self, name, arch, n_embd, n_layer, n_head, n_head_kv, head_dim, n_ff, **kw):
        self.name, self.arch = name, arch
        self.n_embd, self.n_layer, self.n_head, self.n_head_kv = n_embd, n_layer, n_head, n_head_kv
        self.head_dim, self.n_ff = head_dim, n_ff
        self.kw = kw

    def __getattr__(self, k):
        try:
            return self.__dict__["kw"][k]
        except KeyError:
            raise AttributeError(k) from None


GEMMA3 = Family("gemma3", "gemma3", n_embd=64, n_layer=6, n_head=4, n_head_kv=1, head_dim=64, n_ff=256,
                ctx=2048, eps=1e-6, rope_base=1e6, sliding_window=32, tied=True)
LLAMA = Family("llama", "llama", n_embd=256, n_layer=3, n_head=4, n_head_kv=2, head_dim=64, n_ff=512,
               ctx=2048, eps=1e-5, rope_base=1e5, tied=True)
LLAMA3 = Family("llama3", "llama", n_embd=256, n_layer=3, n_head=4, n_head_kv=2, head_dim=64, n_ff=512,
                ctx=2048, eps=1e-5, rope_base=5e5, tied=False,
                rope_scaling=dict(factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0, orig_ctx=64))
QWEN2 = Family("qwen2", "qwen2", n_embd=128, n_layer=2, n_head=4, n_head_kv=2, head_dim=32, n_ff=256,
               ctx=2048, eps=1e-6, rope_base=1e6, tied=True)
QWEN3 = Family("qwen3", "qwen3", n_embd=256, n_layer=2, n_head=4, n_head_kv=2, head_dim=128, n_ff=512,
               ctx=2048, eps=1e-6, rope_base=1e6, tied=True)

# Scales tuned with llama-perplexity's KL-divergence mode: mean next-token entropy ~3.5 nats of ln(512)
# = 6.2, mean top-1 probability ~0.25, and a model that is not chaotic: re-running llama.cpp with
# -ub 32 (a different matmul path) moves the distributions by KLD ~0.002, so KL tests can use tight
# thresholds, while real bugs (no sliding window, no rope_freqs, wrong rope base) cost KLD >> 0.1.
LOGIT_STD = 2.5  # target spread of the logits (nats) for unit-RMS normalised hidden states
# Tied embeddings put the current token's own row into the residual stream, which makes "repeat the
# current token" win every argmax unless the residual branches dominate the stream: attention output
# and FFN down projections are scaled up (llama/qwen), gemma's post-norms weigh its branches up.
BRANCH_GAIN = 1.5
QK_GAIN = 1.0  # q/k projections: unit-variance scores; larger makes the model chaotic
GEMMA_POST_NORM = 4.0


def float_weights(f: Family) -> dict[str, np.ndarray]:
    """All tensors of a family as float32, numpy shape (rows, ne0) i.e. GGUF ne reversed."""
    fam, E, L, H, KV, D, F = f.name, f.n_embd, f.n_layer, f.n_head, f.n_head_kv, f.head_dim, f.n_ff
    w: dict[str, np.ndarray] = {}

    def mat(name, rows, cols, std):
        w[name] = normal(fam, name, (rows, cols), std)

    def norm(name, n, mean=1.0, std=0.1):
        w[name] = normal(fam, name, (n,), std, mean)

    # Output projection rows ~ N(0, LOGIT_STD^2/E): logits of a unit-RMS hidden state have std ~2.5.
    if f.tied:
        mat("token_embd.weight", N_VOCAB, E, LOGIT_STD / math.sqrt(E))
    else:
        mat("token_embd.weight", N_VOCAB, E, 1.0)
        mat("output.weight", N_VOCAB, E, LOGIT_STD / math.sqrt(E))
    # Each residual branch adds O(1) to a stream that RMSNorm rescales, so activations grow ~sqrt(2L).
    for i in range(L):
        p = f"blk.{i}."
        norm(p + "attn_norm.weight", E)
        mat(p + "attn_q.weight", H * D, E, QK_GAIN / math.sqrt(E))
        mat(p + "attn_k.weight", KV * D, E, QK_GAIN / math.sqrt(E))
        mat(p + "attn_v.weight", KV * D, E, 1.0 / math.sqrt(E))
        mat(p + "attn_output.weight", E, H * D, BRANCH_GAIN / math.sqrt(H * D))
        norm(p + "ffn_norm.weight", E)
        mat(p + "ffn_gate.weight", F, E, 1.0 / math.sqrt(E))
        mat(p + "ffn_up.weight", F, E, 1.0 / math.sqrt(E))
        mat(p + "ffn_down.weight", E, F, BRANCH_GAIN / math.sqrt(F))
        if f.arch in ("gemma3", "qwen3"):
            norm(p + "attn_q_norm.weight", D)
            norm(p + "attn_k_norm.weight", D)
        if f.arch == "gemma3":  # sandwich norms; < 1 keeps the residual stream growth modest
            norm(p + "post_attention_norm.weight", E, mean=GEMMA_POST_NORM, std=0.1 * GEMMA_POST_NORM)
            norm(p + "post_ffw_norm.weight", E, mean=GEMMA_POST_NORM, std=0.1 * GEMMA_POST_NORM)
        if f.arch == "qwen2":
            w[p + "attn_q.bias"] = normal(fam, p + "attn_q.bias", (H * D,), 0.3)
            w[p + "attn_k.bias"] = normal(fam, p + "attn_k.bias", (KV * D,), 0.3)
            w[p + "attn_v.bias"] = normal(fam, p + "attn_v.bias", (KV * D,), 0.1)
    norm("output_norm.weight", E)
    if f.kw.get("rope_scaling"):
        w["rope_freqs.weight"] = llama3_rope_factors(D, f.rope_base, **f.rope_scaling)
    return w


def llama3_rope_factors(head_dim, base, factor, low_freq_factor, high_freq_factor, orig_ctx):
    """Llama 3 rope scaling as a per-pair divisor of the rotation frequency (rope_freqs tensor).
    orig_ctx is tiny (64) so that all three regimes (1, smooth, factor) occur for head_dim 64."""
    out = []
    for i in range(head_dim // 2):
        inv_freq = base ** (-2.0 * i / head_dim)
        wavelen = 2.0 * math.pi / inv_freq
        if wavelen < orig_ctx / high_freq_factor:
            out.append(1.0)
        elif wavelen > orig_ctx / low_freq_factor:
            out.append(factor)
        else:
            s = (orig_ctx / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor)
            out.append(1.0 / ((1.0 - s) / factor + s))
    return np.array(out, dtype=np.float32)


def is_1d(name: str) -> bool:
    return name.endswith("norm.weight") or name.endswith(".bias") or name == "rope_freqs.weight"


def layer_of(name: str) -> int:
    m = re.match(r"blk\.(\d+)\.", name)
    return int(m.group(1)) if m else -1


def q4_k_m_type(name: str, ne0: int, n_layer: int, tied: bool) -> T:
    """llama-quantize's Q4_K_M choice (engine-reference.md 4.10), incl. the fallbacks for rows
    that are not a multiple of 256 (Q4_K->Q5_0, Q6_K->Q8_0)."""
    def more_bits(i):
        return i < n_layer // 8 or i >= 7 * n_layer // 8 or (i - n_layer // 8) % 3 == 2
    if name == "output.weight" or (tied and name == "token_embd.weight"):
        t = T.Q6_K
    elif name.endswith("attn_v.weight") or name.endswith("ffn_down.weight"):
        t = T.Q6_K if more_bits(layer_of(name)) else T.Q4_K
    else:
        t = T.Q4_K
    if ne0 % 256:
        t = {T.Q4_K: T.Q5_0, T.Q6_K: T.Q8_0}[t]
    return t


def uniform(t: T, embd: T | None = None):
    def pick(name, ne0, f):
        return (embd or t) if name == "token_embd.weight" else t
    return pick


def gemma_float_mix(name, ne0, f):
    # One model with all three float formats as matmul weights.
    if name == "token_embd.weight":
        return T.F16
    if name.endswith(("attn_q.weight", "attn_k.weight", "attn_v.weight", "ffn_down.weight")):
        return T.BF16
    if name.endswith("attn_output.weight"):
        return T.F32
    return T.F16  # ffn_gate, ffn_up


def q4km(name, ne0, f):
    return q4_k_m_type(name, ne0, f.n_layer, f.tied)


FT = gguf.LlamaFileType
# (file stem, family, weight-type rule, general.file_type, extra options)
MODELS = [
    ("tiny-gemma3-q4km", GEMMA3, q4km, FT.MOSTLY_Q4_K_M, {}),
    ("tiny-gemma3-f16", GEMMA3, gemma_float_mix, FT.MOSTLY_F16, {"rope_base_swa": 2e4}),
    ("tiny-llama-q4_1", LLAMA, uniform(T.Q4_1, embd=T.Q8_0), FT.MOSTLY_Q4_1, {}),
    ("tiny-llama-q4_0", LLAMA, uniform(T.Q4_0), FT.MOSTLY_Q4_0, {}),
    ("tiny-llama-q5_1", LLAMA, uniform(T.Q5_1), FT.MOSTLY_Q5_1, {}),
    ("tiny-llama-q5_k", LLAMA, uniform(T.Q5_K), FT.MOSTLY_Q5_K_S, {}),
    ("tiny-llama-q8_0", LLAMA, uniform(T.Q8_0), FT.MOSTLY_Q8_0, {}),
    ("tiny-llama3-q4km", LLAMA3, q4km, FT.MOSTLY_Q4_K_M, {}),
    ("tiny-qwen2-q8_0", QWEN2, uniform(T.Q8_0), FT.MOSTLY_Q8_0, {}),
    ("tiny-qwen3-q4km", QWEN3, q4km, FT.MOSTLY_Q4_K_M, {}),
]


def add_tokenizer(wr: gguf.GGUFWriter, f: Family, vocabs: dict) -> None:
    if f.arch == "gemma3":
        v = vocabs["spm"]
        wr.add_tokenizer_model("llama")
        wr.add_tokenizer_pre("default")
        wr.add_token_list(v["tokens"])
        wr.add_token_scores(v["scores"])
        wr.add_token_types(v["types"])
        wr.add_bos_token_id(2)
        wr.add_eos_token_id(1)
        wr.add_unk_token_id(3)
        wr.add_pad_token_id(0)
        wr.add_add_bos_token(True)
        wr.add_add_eos_token(False)
        wr.add_add_space_prefix(False)
        wr.add_chat_template(GEMMA_TEMPLATE)
        return
    wr.add_tokenizer_model("gpt2")
    if f.name == "llama":  # SmolLM2 layout: specials first, no BOS added
        v = vocabs["smollm"]
        wr.add_tokenizer_pre("smollm")
        bos, eos, unk, pad, add_bos = 1, 2, 0, 2, False
        wr.add_chat_template(CHATML_TEMPLATE)
    elif f.name == "llama3":  # Llama 3 layout: specials last, BOS added
        v = vocabs["llama3"]
        wr.add_tokenizer_pre("llama-bpe")
        bos, eos, unk, pad, add_bos = N_VOCAB - 3, N_VOCAB - 1, None, None, True
    else:  # qwen2 / qwen3
        v = vocabs["qwen"]
        wr.add_tokenizer_pre("qwen2")
        bos, eos, unk, pad, add_bos = N_VOCAB - 3, N_VOCAB - 1, None, N_VOCAB - 3, False
        wr.add_chat_template(CHATML_TEMPLATE)
    wr.add_token_list(v["tokens"])
    wr.add_token_types(v["types"])
    wr.add_token_merges(v["merges"])
    wr.add_bos_token_id(bos)
    wr.add_eos_token_id(eos)
    if unk is not None:
        wr.add_unk_token_id(unk)
    if pad is not None:
        wr.add_pad_token_id(pad)
    wr.add_add_bos_token(add_bos)
    wr.add_add_space_prefix(False)


def write_model(path: Path, stem: str, f: Family, rule, ftype, opts: dict, weights: dict, vocabs: dict) -> dict:
    wr = gguf.GGUFWriter(str(path), f.arch)
    wr.add_name(stem)
    wr.add_type("model")
    wr.add_context_length(f.ctx)
    wr.add_embedding_length(f.n_embd)
    wr.add_block_count(f.n_layer)
    wr.add_feed_forward_length(f.n_ff)
    wr.add_head_count(f.n_head)
    wr.add_head_count_kv(f.n_head_kv)
    wr.add_layer_norm_rms_eps(f.eps)
    wr.add_rope_freq_base(f.rope_base)
    if f.arch == "gemma3":
        wr.add_key_length(f.head_dim)
        wr.add_value_length(f.head_dim)
        wr.add_sliding_window(f.sliding_window)
        if "rope_base_swa" in opts:  # newer converters write it; default 10000 otherwise
            wr.add_rope_freq_base_swa(opts["rope_base_swa"])
    elif f.arch == "qwen3":
        wr.add_key_length(f.head_dim)
        wr.add_value_length(f.head_dim)
    else:
        wr.add_rope_dimension_count(f.head_dim)
        if f.arch == "llama":
            wr.add_vocab_size(N_VOCAB)
    wr.add_file_type(int(ftype))
    wr.add_quantization_version(gguf.GGML_QUANT_VERSION)
    add_tokenizer(wr, f, vocabs)

    types = collections.Counter()
    for name, w in weights.items():
        t = T.F32 if is_1d(name) else rule(name, w.shape[-1], f)
        arr = encode(w, t)
        if arr.dtype == np.uint8:
            wr.add_tensor(name, arr, raw_dtype=t)
        else:
            wr.add_tensor(name, arr)
        types[t.name] += 1
    wr.write_header_to_file()
    wr.write_kv_data_to_file()
    wr.write_tensors_to_file()
    wr.close()
    return dict(types)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="output directory (created)")
    ap.add_argument("--only", default="", help="comma-separated model stems to write (default: all; "
                    "no .complete marker then)")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    marker = out / ".complete"
    if marker.exists():
        marker.unlink()

    t0 = time.time()
    text = read_vocab_text()
    vocabs = {
        "spm": spm_vocab(text),
        "smollm": bpe_vocab(text, ["<|endoftext|>", "<|im_start|>", "<|im_end|>"], specials_first=True),
        "llama3": bpe_vocab(text, ["<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>"], specials_first=False),
        "qwen": bpe_vocab(text, ["<|endoftext|>", "<|im_start|>", "<|im_end|>"], specials_first=False),
    }
    only = set(filter(None, args.only.split(",")))
    cache: dict[str, dict] = {}
    lines = []
    for stem, fam, rule, ftype, opts in MODELS:
        if only and stem not in only:
            continue
        if fam.name not in cache:
            cache[fam.name] = float_weights(fam)
        path = out / f"{stem}.gguf"
        tmp = out / f".{stem}.gguf.tmp"
        types = write_model(tmp, stem, fam, rule, ftype, opts, cache[fam.name], vocabs)
        os.replace(tmp, path)
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        size = path.stat().st_size
        print(f"{path.name:24s} {size / 1e6:6.2f} MB  {' '.join(f'{k}:{v}' for k, v in sorted(types.items()))}",
              file=sys.stderr)
        lines.append(f"{digest}  {path.name}\n")
    if not only:  # a partial set must not look complete to setup.sh
        marker.write_text("".join(lines))
    print(f"wrote {len(lines)} models to {out} in {time.time() - t0:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
