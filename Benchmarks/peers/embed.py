#!/usr/bin/env python3
"""Switchyard's in-process MiniLM beside the reference: sentence-transformers on PyTorch (CPU), the same texts,
the same thread counts, in one run.

    python3 -m venv /tmp/embed-venv && /tmp/embed-venv/bin/pip install -r Benchmarks/peers/requirements-embed.txt
    swift build -c release --product switchyard
    .build/release/switchyard models install minilm
    /tmp/embed-venv/bin/python Benchmarks/peers/embed.py --switchyard .build/release/switchyard --threads 1,2

What it does:
  1. Reads the texts `switchyard bench embed --documents` embeds: each document of Datasets/wordnet-defs (6,000) as
     its title, a newline and its text.
  2. For each thread count, runs `switchyard bench embed --embedder minilm --documents --threads T --json`, then
     sentence-transformers on the installed model directory in a new Python process with torch.set_num_threads(T);
     both under one environment (OMP/MKL/OpenBLAS threads T; OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE removed), `encode(texts,
     batch_size=32)`, which sorts texts by length to limit padding. Each side keeps its best of --repeats passes.
  3. Prints texts/s and tokens/s of both, Switchyard's ratio, and the fraction of sgemm's GFLOP/s Switchyard
     reached (measured by `switchyard bench embed` on the feed-forward product's shape). Writes embed.json to --out.

Quote figures from one run, on the machine at hand.
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def texts_of(dataset):
    texts = []
    with open(os.path.join(ROOT, "Datasets", dataset, "corpus.jsonl"), encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            texts.append((d.get("title") or "") + "\n" + d["text"])
    return texts


def peer_environment(threads):
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[k] = str(threads)
    return env


REFERENCE = r"""
import json, sys, time
import torch
from sentence_transformers import SentenceTransformer
args = json.loads(sys.argv[1])
torch.set_num_threads(args["threads"])
texts = []
with open(args["corpus"], encoding="utf-8") as f:
    for line in f:
        d = json.loads(line)
        texts.append((d.get("title") or "") + "\n" + d["text"])
texts = texts[: args["limit"]] if args["limit"] else texts
model = SentenceTransformer(args["model"], device="cpu")
tokens = sum(len(x) for x in model.tokenizer(texts, truncation=True, max_length=model.max_seq_length)["input_ids"])
model.encode(texts[:64], batch_size=32)  # warm-up
best = float("inf")
for _ in range(args["repeats"]):
    start = time.perf_counter()
    model.encode(texts, batch_size=32)
    best = min(best, time.perf_counter() - start)
import sentence_transformers
print(json.dumps({"seconds": best, "texts": len(texts), "tokens": tokens, "torch": torch.__version__,
                  "sentence_transformers": sentence_transformers.__version__,
                  "torch_threads": torch.get_num_threads()}))
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--switchyard", default=os.path.join(ROOT, ".build", "release", "switchyard"))
    ap.add_argument("--model", default=os.path.join(os.environ.get("SWITCHYARD_MODELS_DIR") or
                                                    os.path.expanduser("~/.cache/switchyard/models"), "all-MiniLM-L6-v2"))
    ap.add_argument("--dataset", default="wordnet-defs")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--limit", type=int, default=0, help="only the first N texts")
    ap.add_argument("--out", default="/tmp/switchyard-embed")
    args = ap.parse_args()
    if not os.path.exists(args.switchyard):
        raise SystemExit(f"no switchyard binary at {args.switchyard}: swift build -c release --product switchyard")
    os.makedirs(args.out, exist_ok=True)
    rows = []
    for t in [int(x) for x in args.threads.split(",")]:
        cmd = [args.switchyard, "bench", "embed", "--embedder", "minilm", "--documents", "--dataset", args.dataset,
               "--threads", str(t), "--repeats", str(args.repeats), "--json"]
        if args.limit:
            cmd += ["--limit", str(args.limit)]
        print("+ " + " ".join(cmd), file=sys.stderr)
        # The same environment as the reference: no OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE, thread variables T.
        sy = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True, env=peer_environment(t)).stdout)
        ref_args = {"threads": t, "model": args.model, "repeats": args.repeats, "limit": args.limit,
                    "corpus": os.path.join(ROOT, "Datasets", args.dataset, "corpus.jsonl")}
        print(f"+ sentence-transformers, {t} thread(s)", file=sys.stderr)
        ref = json.loads(subprocess.run([sys.executable, "-c", REFERENCE, json.dumps(ref_args)], check=True,
                                        capture_output=True, text=True, env=peer_environment(t)).stdout.strip().splitlines()[-1])
        r = sy["results"][0]
        if ref["tokens"] != sy["tokens"]:
            print(f"warning: token counts differ: switchyard {sy['tokens']}, reference {ref['tokens']}", file=sys.stderr)
        rows.append({"threads": t, "switchyard": r, "reference": ref, "texts": sy["texts"], "tokens": sy["tokens"],
                     "ratio": ref["seconds"] / r["seconds"]})
    machine = {"cpu": platform.processor() or "", "python": platform.python_version()}
    try:
        with open("/proc/cpuinfo") as f:
            machine["cpu"] = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    out = {"machine": machine, "embedder": sy["embedder"], "blas": sy.get("blas"), "rows": rows}
    with open(os.path.join(args.out, "embed.json"), "w") as f:
        json.dump(out, f, indent=2)
    ref0 = rows[0]["reference"]
    print(f"{rows[0]['texts']} texts, {rows[0]['tokens']} tokens; {machine['cpu']}; reference: sentence-transformers "
          f"{ref0['sentence_transformers']} on PyTorch {ref0['torch']}; Switchyard BLAS: {sy.get('blas')}")
    print("| threads | Switchyard texts/s | tokens/s | reference texts/s | tokens/s | ratio | Switchyard GFLOP/s | of sgemm's |")
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        s, ref = row["switchyard"], row["reference"]
        print(f"| {row['threads']} | {s['texts_per_s']:.0f} | {s['tokens_per_s']:.0f} | {row['texts'] / ref['seconds']:.0f} | "
              f"{row['tokens'] / ref['seconds']:.0f} | {row['ratio']:.2f}× | {s['gflops']:.1f} | "
              f"{100 * s['fraction_of_sgemm']:.0f}% of {s['sgemm_gflops']:.0f} |")


if __name__ == "__main__":
    main()
