#!/usr/bin/env bash
# Produce llama.cpp reference outputs (fixtures) for the tiny test models and the two real models.
# Run by hand (not in CI): it needs the llama.cpp reference tools built by ../shared/tools/llama-ref and
# takes ~20 minutes on 2 cores. Outputs:
#   tests/fixtures/tiny/<model>.kld   llama-perplexity --kl-divergence-base file (c=128, 4 chunks)
#   tests/fixtures/tiny/<model>.json  its PPL, and greedy 32-token continuations of 3 prompts (text + ids)
#   tests/fixtures/reference/<model>.json         real-model PPL runs (command, chunks, PPL, +/-)
#   tests/fixtures/reference/<model>-greedy.json  greedy 64-token continuations of 5 prompts
#   models/ref/<model>-c512.kld       real-model KL-divergence bases (large; git-ignored)
# Usage: tools/make_llama_fixtures.sh [tiny|real|all]   (default all)
# Environment: LLAMA_BIN (default: the folder named in /tmp/llama-ref.out, waited for),
#              SLIM_FIXTURE_MODELS (comma-separated tiny model stems to redo; default all).
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
    ("question", "Question: Why is the sky blue?\nAnswer:"),
]
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


def read_session_tokens(path):
    b = Path(path).read_bytes()
    magic, version, n = struct.unpack("<III", b[:12])
    assert magic == 0x6767736E, hex(magic)  # 'ggsn'
    return list(struct.unpack(f"<{n}i", b[12:12 + 4 * n]))


def greedy(model, prompt, n_predict, ctx):
    """Greedy continuation: text as llama-completion prints it, token ids from a second run that saves
    its session (prompt + generated ids; the last sampled token is never decoded, hence n + 1)."""
    base = [str(BIN / "llama-completion"), "-m", model, "-p", prompt, "--no-escape", "-no-cnv",
            "--temp", "0", "--top-k", "1", "--seed", "0", "-t", THREADS, "-c", str(ctx), "--no-warmup"]
    detok = Detok(model)
    with tempfile.TemporaryDirectory() as td:
        sess = os.path.join(td, "s.bin")
        q = run(base + ["-n", str(n_predict + 1), "--no-display-prompt", "--prompt-cache", sess,
                        "--prompt-cache-all"])
        if q.returncode or not os.path.exists(sess):
            sys.exit(f"llama-completion failed: {q.stderr.decode()[-2000:]}")
        ids = read_session_tokens(sess)
    tp = run([str(BIN / "llama-tokenize"), "-m", model, "-p", prompt, "--ids", "--log-disable"])
    prompt_ids = json.loads(tp.stdout.decode().strip().splitlines()[-1])
    if ids[:len(prompt_ids)] != prompt_ids:
        sys.exit(f"prompt ids differ: {ids[:len(prompt_ids)]} vs {prompt_ids}")
    # An end-of-generation token ends the run early; it is the last id (decoded, not printed).
    gen = ids[len(prompt_ids):][:n_predict]
    body = detok(gen)
    # llama.cpp's asynchronous logger often loses the printed text when a tiny model's run exits
    # within milliseconds: rerun until the printed text is complete (it must equal the detokenized ids).
    for attempt in range(30):
        p = run(base + ["-n", str(n_predict), "--no-display-prompt"])
        text = p.stdout
        stopped = text.endswith(b" [end of text]\n\n\n")
        tail = b" [end of text]\n\n\n" if stopped else b"\n\n"
        if p.returncode == 0 and text == body + tail and (stopped or len(gen) == n_predict):
            s = body.decode("utf-8", errors="replace")
            rec = {"prompt": prompt, "prompt_ids": prompt_ids, "n_predict": n_predict, "output": s,
                   "output_ids": gen, "stopped_at_eog": stopped}
            if s.encode("utf-8") != body:  # random tiny models may emit partial UTF-8 byte tokens
                rec["output_hex"] = body.hex()
            return base + ["-n", str(n_predict), "--no-display-prompt"], rec
        if text:
            print(f"  retry greedy (text/ids mismatch): {text[-60:]!r} vs {body[-60:]!r}", file=sys.stderr)
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
        for pr in TINY_PROMPTS:
            gcmd, g = greedy(str(m), pr, 32, 256)
            gens.append(g)
        out = {"model": f"tests/models/{m.name}", "model_sha256": sha256(m),
               "perplexity": ppl, "kld_base": kld,
               "greedy_command": rel(gcmd[:4] + ["PROMPT"] + gcmd[5:]), "greedy": gens}
        dump(f"tests/fixtures/tiny/{stem}.json", out)


def sha256(p):
    import hashlib
    return hashlib.sha256(Path(p).read_bytes()).hexdigest()


def real():
    for name, (path, runs, (kctx, kchunks)) in REAL.items():
        if not Path(path).exists():
            print(f"real: {path} missing, skipped", file=sys.stderr)
            continue
        print(f"real: {name}", file=sys.stderr)
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
        gens = []
        for kind, pr in REAL_PROMPTS:
            gcmd, g = greedy(path, pr, 64, 512)
            g["kind"] = kind
            gens.append(g)
        out = {"model": path, "greedy_command": rel(gcmd[:4] + ["PROMPT"] + gcmd[5:]), "greedy": gens}
        dump(f"tests/fixtures/reference/{name}-greedy.json", out)


if WHAT in ("tiny", "all"):
    tiny()
if WHAT in ("real", "all"):
    real()
PYEOF
