#!/usr/bin/env python3
"""Writes a BEIR-layout text corpus of N short records of random made-up words, for throughput
benchmarks at sizes the bundled datasets do not reach (e.g. `switchyard bench reindex --source DIR`).

    python3 Datasets/tools/make_text_corpus.py --n 100000 --out /tmp/c100k
"""
import argparse
import json
import os
import random

parser = argparse.ArgumentParser()
parser.add_argument("--n", type=int, default=100000, help="records")
parser.add_argument("--words", type=int, default=12, help="words per record")
parser.add_argument("--vocabulary", type=int, default=20000, help="distinct words")
parser.add_argument("--queries", type=int, default=500, help="queries (4 words each)")
parser.add_argument("--seed", type=int, default=42)
parser.add_argument("--out", required=True)
args = parser.parse_args()

random.seed(args.seed)
vocab = ["w%d" % i for i in range(args.vocabulary)]
os.makedirs(args.out, exist_ok=True)
with open(os.path.join(args.out, "corpus.jsonl"), "w") as f:
    for i in range(args.n):
        f.write(json.dumps({"_id": "d%d" % i, "text": " ".join(random.choice(vocab) for _ in range(args.words))}) + "\n")
with open(os.path.join(args.out, "queries.jsonl"), "w") as f:
    for i in range(args.queries):
        f.write(json.dumps({"_id": "q%d" % i, "text": " ".join(random.choice(vocab) for _ in range(4))}) + "\n")
