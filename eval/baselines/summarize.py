#!/usr/bin/env python3
"""Prints the dense-baseline table of docs/evaluation.md from the results.jsonl files in this folder."""
import json, os, collections

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = [("smollm2-135m", "SmolLM2 135M"), ("gemma-3-270m", "Gemma 3 270M")]

cells = collections.OrderedDict()  # task -> {(model, L): [scores]}
extra = collections.defaultdict(dict)  # (model, L) -> {"nll": [...], "ttft": [...]}
cols = []
for folder, name in MODELS:
    path = os.path.join(HERE, folder, "results.jsonl")
    if not os.path.exists(path):
        continue
    timing = {}
    tpath = os.path.join(HERE, folder, "timings.jsonl")
    if os.path.exists(tpath):
        for line in open(tpath):
            t = json.loads(line)
            timing[t["id"]] = t["ttft_ms"]
    for line in open(path):
        r = json.loads(line)
        if r["config"] != "dense":
            continue
        key = (name, round(r["L"] / 1024) * 1024)  # a ppl window at 8k is 8191 tokens on SmolLM2
        if key not in cols:
            cols.append(key)
        e = extra[key]
        e.setdefault("ttft", []).append(timing.get(r["id"], 0) / 1000)
        e.setdefault("tokens", []).append(r["n_tokens"])
        if r["metric"] == "ppl":
            e.setdefault("nll", []).append(r["nll_mean"])
            continue
        cells.setdefault(r["task"], {}).setdefault(key, []).append(r["score"])
        e.setdefault("gold", []).append(r["gold_nll"] / max(1, r["gold_tokens"]))

cols.sort(key=lambda k: ([m for _, m in MODELS].index(k[0]), k[1]))
mean = lambda v: sum(v) / len(v)
print("| task | " + " | ".join(f"{m} {L // 1024}k" for m, L in cols) + " |")
print("|---|" + "---|" * len(cols))
for task, by in cells.items():
    row = []
    for c in cols:
        row.append(f"{mean(by[c]):.0f}" if c in by else "—")
    print(f"| {task} | " + " | ".join(row) + " |")
def line(label, key, fmt):
    print(f"| {label} | " + " | ".join(fmt(extra[c][key]) if key in extra[c] else "—" for c in cols) + " |")
line("*mean gold NLL/token*", "gold", lambda v: f"{mean(v):.2f}")
line("*ppl_prose PPL (256 tokens after L−256)*", "nll", lambda v: f"{2.718281828 ** mean(v):.2f}")
line("*mean TTFT, s (loaded machine)*", "ttft", lambda v: f"{mean(v):.1f}")
line("*samples*", "tokens", lambda v: str(len(v)))
