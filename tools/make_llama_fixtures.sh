#!/usr/bin/env bash
# Produce llama.cpp reference outputs (fixtures) for the tiny test models and the two real models.
# Run by hand (not in CI): it needs the llama.cpp reference tools built by ../shared/tools/llama-ref and
# takes ~20 minutes on 2 cores. Outputs:
#   tests/fixtures/tiny/<model>.kld   llama-perplexity --kl-divergence-base file (c=128, 4 chunks)
#   tests/fixtures/tiny/<model>.json  its PPL, and greedy 32-token continuations of 3 prompts (text + ids;
#                                     ids via libllama's ctypes bindings, text via llama-completion)
#   tests/fixtures/reference/<model>.json         real-model PPL runs (command, chunks, PPL, +/-)
#   tests/fixtures/reference/<model>-greedy.json  greedy 64-token continuations of 5 prompts
#   models/ref/<model>-c512.kld       real-model KL-divergence bases (large; git-ignored)
# Usage: tools/make_llama_fixtures.sh [tiny|real|real-greedy|all]   (default all)
# Environment: LLAMA_BIN (default: the folder named in /tmp/llama-ref.out, waited for),
#              SLIM_FIXTURE_MODELS (comma-separated model stems to redo, tiny or real; default all).
# docs/testing.md explains the flags that make the runs deterministic and comparable.
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-all}

if [ -z "${LLAMA_BIN:-}" ]; then
  # The reference build runs in the background at set-up time; wait until it reports its folder.
  until [ -s /tmp/llama-ref.out ] && [ -d "$(head -n1 /tmp/llama-ref.out)" ]; do
    echo "make_llama_fixtures: waiting for /tmp/llama-ref.out ..." >&2
    sleep 20
  done
  LLAMA_BIN=$(head -n1 /tmp/llama-ref.out)
fi
export LLAMA_BIN
for t in llama-perplexity llama-completion llama-tokenize; do
  [ -x "$LLAMA_BIN/$t" ] || { echo "make_llama_fixtures: $LLAMA_BIN/$t missing" >&2; exit 1; }
done

if [ "$what" != real ] && [ ! -f tests/models/.complete ]; then
  python3 tools/gen_tiny_models.py --out tests/models
fi
mkdir -p tests/fixtures/tiny tests/fixtures/reference models/ref

exec python3 - "$what" <<'PYEOF'
import json, os, re, struct, subprocess, sys, tempfile, time
from pathlib import Path
import gguf

WHAT = sys.argv[1]
BIN = Path(os.environ["LLAMA_BIN"])
THREADS = "2"
TINY_TEXT = "tests/data/persuasion-ch1.txt"
CORPUS = "tests/data/pride-and-prejudice-ch1-30.txt"

TINY_PROMPTS = [
    "Sir Walter Elliot, of Kellynch Hall, in Somersetshire, was a man who",
    "It is a truth universally acknowledged",
    "Chapter 1\n\nThe quick brown fox jumps over 13 lazy dogs.",
]
REAL_PROMPTS = [  # story opening, factual sentence, code, list, question
    ("story", "Once upon a time, in a small village at the edge of a great forest, there lived"),
    ("fact", "The Eiffel Tower is located in the city of"),
    ("code", "def fibonacci(n):\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n"),
    ("list", "Here is a list of the planets in our solar system:\n1. Mercury\n2."),
    # SmolLM2-Instruct ends at once on a bare question without its chat template: start the answer.
    ("question", "Question: Why is the sky blue?\nAnswer: The sky is blue because"),
]
GREEDY_IDS_NOTE = ("ids from libllama greedy decoding set up like llama-completion (prompt in one batch, then one "
                   "token per decode); llama-completion printed exactly their text")
REAL = {
    # name: (file, [(ctx, chunks)], kld (ctx, chunks))
    "gemma-3-270m-q4_k_m": ("models/gemma-3-270m-q4_k_m.gguf", [(512, 32), (4096, 3)], (512, 4)),
    "smollm2-135m-instruct-q4_1": ("models/smollm2-135m-instruct-q4_1.gguf", [(512, 48), (2048, 8)], (512, 16)),
}


def dump(path, obj):
    # indent for reading, but token-id lists on one line
    text = json.dumps(obj, indent=1, ensure_ascii=False)
    text = re.sub(r"\[\s*(-?\d+(?:,\s*-?\d+)*)\s*\]", lambda m: "[" + re.sub(r"\s+", " ", m.group(1)) + "]", text)
    text = re.sub(r"\[\s*(-?[0-9.e+-]+(?:,\s*-?[0-9.e+-]+)*)\s*\]", lambda m: "[" + re.sub(r"\s+", " ", m.group(1)) + "]", text)
    Path(path).write_text(text + "\n")


def run(cmd, **kw):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)


def perplexity(model, text, ctx, chunks, extra=()):
    """One llama-perplexity run; returns (command, result dict). n_seq = 1 (-b = ctx) so every chunk
    is evaluated alone, as an engine that runs one sequence at a time would."""
    cmd = [str(BIN / "llama-perplexity"), "-m", model, "-f", text, "-c", str(ctx), "-b", str(ctx),
           "--chunks", str(chunks), "-t", THREADS, "--no-warmup", *extra]
    for attempt in range(10):
        t0 = time.time()
        p = run(cmd)
        out = p.stdout.decode() + p.stderr.decode()
        # llama.cpp's asynchronous logger sometimes loses the last lines at exit: retry when the
        # final estimate is missing (the numbers themselves are deterministic).
        m = re.search(r"Final estimate: PPL = ([0-9.]+) \+/- ([0-9.]+)", out)
        if p.returncode == 0 and m:
            running = [float(x) for x in re.findall(r"\[\d+\]([0-9.]+)", out)]
            n = re.search(r"calculating perplexity over (\d+) chunks", out)
            res = {"ppl": float(m.group(1)), "ppl_err": float(m.group(2)), "chunks": int(n.group(1)),
                   "ctx": ctx, "running_ppl": running, "seconds": round(time.time() - t0, 1)}
            return cmd, res
        print(f"  retry ({p.returncode}): {' '.join(cmd)}", file=sys.stderr)
    sys.exit("llama-perplexity failed:\n" + out[-3000:])


class Detok:
    """Token ids -> bytes as llama.cpp prints them (special tokens not rendered), for cross-checks."""
    def __init__(self, model):
        r = gguf.GGUFReader(model)
        f = r.fields
        self.kind = f["tokenizer.ggml.model"].contents()
        tok = f["tokenizer.ggml.tokens"]
        ty = f["tokenizer.ggml.token_type"]
        n = len(tok.data)
        self.tokens = [bytes(tok.parts[tok.data[i]]) for i in range(n)]
        self.types = [int(ty.parts[ty.data[i]][0]) for i in range(n)]
        if self.kind == "gpt2":
            keep = set(range(33, 127)) | set(range(161, 173)) | set(range(174, 256))
            inv, extra = {}, 0
            for b in range(256):
                if b in keep:
                    inv[chr(b)] = b
                else:
                    inv[chr(256 + extra)] = b
                    extra += 1
            self.inv = inv

    def piece(self, i):
        t, ty = self.tokens[i], self.types[i]
        if ty in (2, 3, 5):  # unknown / control / unused: not rendered
            return b""
        if ty == 4:  # user-defined: verbatim
            return t
        s = t.decode("utf-8")
        if self.kind == "gpt2":
            return bytes(self.inv[c] for c in s)
        if ty == 6:
            return bytes([int(s[3:5], 16)])
        return s.replace("\u2581", " ").encode("utf-8")

    def __call__(self, ids):
        return b"".join(self.piece(i) for i in ids)


class LlamaGreedy:
    """Greedy decoding through libllama (ctypes bindings of the llama-cpp-python source the reference
    build came from), set up like llama-completion: prompt decoded in one batch (n_batch 2048,
    n_ubatch 512), then one token per decode; argmax of the last logits; stop after an EOG token.
    The CLI cannot print token ids, and its --prompt-cache mode decodes the last prompt token
    separately (different rounding, so near-ties can flip): this gives the ids of the plain run, and
    greedy() checks that llama-completion prints exactly their text."""
    L = None

    @classmethod
    def lib(cls):
        if cls.L is None:
            import ctypes, importlib, types
            src = os.environ.get("LLAMA_PY_SRC") or str(BIN.parents[3])  # <src>/vendor/llama.cpp/build/bin
            os.environ["LLAMA_CPP_LIB_PATH"] = str(BIN)
            pkg = types.ModuleType("llama_cpp")  # skip the package __init__ (needs extra deps)
            pkg.__path__ = [os.path.join(src, "llama_cpp")]
            sys.modules["llama_cpp"] = pkg
            L = importlib.import_module("llama_cpp.llama_cpp")
            cls._quiet = L.llama_log_callback(lambda level, text, data: None)
            L.llama_log_set(cls._quiet, ctypes.c_void_p())
            L.llama_backend_init()
            cls.L = L
        return cls.L

    def __init__(self, model):
        L = self.lib()
        self.model = L.llama_model_load_from_file(model.encode(), L.llama_model_default_params())
        assert self.model, model
        self.vocab = L.llama_model_get_vocab(self.model)
        self.n_vocab = L.llama_vocab_n_tokens(self.vocab)

    def __call__(self, prompt, n_predict, n_ctx):
        import numpy as np
        L = self.L
        cp = L.llama_context_default_params()
        cp.n_ctx, cp.n_batch, cp.n_ubatch = n_ctx, 2048, 512
        cp.n_threads = cp.n_threads_batch = int(THREADS)
        cp.swa_full = False  # the CLI tools' default (the library's default is true)
        ctx = L.llama_init_from_model(self.model, cp)
        buf = (L.llama_token * 8192)()
        pb = prompt.encode()
        n = L.llama_tokenize(self.vocab, pb, len(pb), buf, 8192, True, True)
        prompt_ids = list(buf[:n])
        arr = (L.llama_token * n)(*prompt_ids)
        assert L.llama_decode(ctx, L.llama_batch_get_one(arr, n)) == 0
        out, margins = [], []
        for _ in range(n_predict):
            logits = np.ctypeslib.as_array(L.llama_get_logits_ith(ctx, -1), shape=(self.n_vocab,))
            tok = int(np.argmax(logits))
            top2 = np.partition(logits, -2)[-2:]
            margins.append(round(float(top2[1] - top2[0]), 4))
            out.append(tok)
            if L.llama_vocab_is_eog(self.vocab, tok) or len(out) == n_predict:
                break
            one = (L.llama_token * 1)(tok)
            assert L.llama_decode(ctx, L.llama_batch_get_one(one, 1)) == 0
        L.llama_free(ctx)
        return prompt_ids, out, margins


def greedy(model, prompt, n_predict, ctx, lg):
    """Greedy continuation: ids from libllama (LlamaGreedy), text as llama-completion prints it; the
    two must agree (text == detokenized ids), which also checks that the two set-ups match."""
    base = [str(BIN / "llama-completion"), "-m", model, "-p", prompt, "--no-escape", "-no-cnv",
            "--temp", "0", "--top-k", "1", "--seed", "0", "-t", THREADS, "-c", str(ctx), "--no-warmup",
            "-n", str(n_predict), "--no-display-prompt"]
    detok = Detok(model)
    prompt_ids, gen, margins = lg(prompt, n_predict, ctx)
    tp = run([str(BIN / "llama-tokenize"), "-m", model, "-p", prompt, "--ids", "--log-disable"])
    if json.loads(tp.stdout.decode().strip().splitlines()[-1]) != prompt_ids:
        sys.exit(f"llama-tokenize disagrees on the prompt ids of {prompt!r}")
    body = detok(gen)
    stopped = len(gen) < n_predict or bool(lg.L.llama_vocab_is_eog(lg.vocab, gen[-1]))
    # llama-completion ends with "\n\n", after " [end of text]\n" when an EOG token stopped it.
    want = body + (b" [end of text]\n\n\n" if stopped else b"\n\n")
    # llama.cpp's asynchronous logger often loses the printed text when a tiny model's run exits
    # within milliseconds: rerun until the printed text is complete.
    for attempt in range(30):
        p = run(base)
        if p.returncode == 0 and p.stdout == want:
            s = body.decode("utf-8", errors="replace")
            rec = {"prompt": prompt, "prompt_ids": prompt_ids, "n_predict": n_predict, "output": s,
                   "output_ids": gen, "stopped_at_eog": stopped,
                   # logit(top1) - logit(top2) at each step: an engine may legitimately pick another
                   # token only where this is within its numerical noise
                   "top2_logit_margin": margins}
            if s.encode("utf-8") != body:  # random tiny models may emit partial UTF-8 byte tokens
                rec["output_hex"] = body.hex()
            return base, rec
        if p.stdout:
            print(f"  retry greedy (text/ids mismatch): {p.stdout[-60:]!r} vs {want[-60:]!r}", file=sys.stderr)
    sys.exit(f"greedy run failed for {model}: {prompt!r}")


def rel(cmd):
    return " ".join(c if not c.startswith(str(BIN)) else Path(c).name for c in
                    (json.dumps(x) if ("\n" in x or " " in x) else x for x in cmd))


def tiny():
    only = set(filter(None, os.environ.get("SLIM_FIXTURE_MODELS", "").split(",")))
    for m in sorted(Path("tests/models").glob("*.gguf")):
        stem = m.stem
        if only and stem not in only:
            continue
        print(f"tiny: {stem}", file=sys.stderr)
        kld = f"tests/fixtures/tiny/{stem}.kld"
        cmd, ppl = perplexity(str(m), TINY_TEXT, 128, 4, ["--kl-divergence-base", kld])
        ppl["command"] = rel(cmd)
        del ppl["seconds"]  # keep the tiny fixtures byte-identical between runs
        gens = []
        lg = LlamaGreedy(str(m))
        for pr in TINY_PROMPTS:
            gcmd, g = greedy(str(m), pr, 32, 256, lg)
            gens.append(g)
        out = {"model": f"tests/models/{m.name}", "model_sha256": sha256(m),
               "perplexity": ppl, "kld_base": kld,
               "greedy_command": rel(gcmd[:4] + ["PROMPT"] + gcmd[5:]), "greedy_ids": GREEDY_IDS_NOTE, "greedy": gens}
        dump(f"tests/fixtures/tiny/{stem}.json", out)


def sha256(p):
    import hashlib
    return hashlib.sha256(Path(p).read_bytes()).hexdigest()


def real(ppl=True):
    only = set(filter(None, os.environ.get("SLIM_FIXTURE_MODELS", "").split(",")))
    for name, (path, runs, (kctx, kchunks)) in REAL.items():
        if only and name not in only:
            continue
        if not Path(path).exists():
            print(f"real: {path} missing, skipped", file=sys.stderr)
            continue
        print(f"real: {name}", file=sys.stderr)
        if ppl:
            real_ppl(name, path, runs, kctx, kchunks)
        gens = []
        lg = LlamaGreedy(path)
        for kind, pr in REAL_PROMPTS:
            gcmd, g = greedy(path, pr, 64, 512, lg)
            g["kind"] = kind
            gens.append(g)
        out = {"model": path, "greedy_command": rel(gcmd[:4] + ["PROMPT"] + gcmd[5:]), "greedy_ids": GREEDY_IDS_NOTE, "greedy": gens}
        dump(f"tests/fixtures/reference/{name}-greedy.json", out)


def real_ppl(name, path, runs, kctx, kchunks):
    res = {"model": path, "corpus": CORPUS, "perplexity": []}
    for ctx, chunks in runs:
        cmd, r = perplexity(path, CORPUS, ctx, chunks)
        r["command"] = rel(cmd)
        res["perplexity"].append(r)
        print(f"  c={ctx} chunks={r['chunks']}: PPL {r['ppl']} +/- {r['ppl_err']} ({r['seconds']} s)",
              file=sys.stderr)
    kld = f"models/ref/{name}-c{kctx}.kld"
    cmd, r = perplexity(path, CORPUS, kctx, kchunks, ["--kl-divergence-base", kld])
    r["command"] = rel(cmd)
    r["kld_base"] = kld
    res["kld_base_run"] = r
    dump(f"tests/fixtures/reference/{name}.json", res)


if WHAT in ("tiny", "all"):
    tiny()
if WHAT in ("real", "all"):
    real()
if WHAT == "real-greedy":  # only the greedy continuations (the PPL runs take ~10 minutes)
    real(ppl=False)
PYEOF
