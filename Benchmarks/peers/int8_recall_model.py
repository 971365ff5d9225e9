#!/usr/bin/env python3
"""Recall@10 of int8 scalar quantization under several query encodings, in NumPy: a model of what Switchyard's
int8 search ranks, to weigh a coarser query code against recall without building anything.

    /tmp/peers-venv/bin/python Benchmarks/peers/int8_recall_model.py --data /tmp/synth100k

For each data set (the --data folder's base.fvecs, query.fvecs and gt.ivecs, and a synthetic anisotropic Gaussian
set, 100,000 x 384, unit length, whose component scales are drawn log-normal) it:
  1. takes the (1 - q)/2 and (1 + q)/2 quantiles lo, hi of a 100,000-value sample of the base components
     (q = --quantile), as Switchyard does, and codes the rows on 255 levels: center (lo + hi)/2, step (hi - lo)/254,
     codes clamp(round((x - center)/step), -127, 127);
  2. codes the queries on 255, 127 or 63 levels (a step 1, 2 or 4 times the rows', codes clamped to +-127, +-63,
     +-31): byte codes (AVX-512 VNNI), 7-bit and 6-bit codes (AVX2 and generic use 6-bit ones);
  3. for comparison, codes rows and queries the way Qdrant's own u8 encoding does: [lo, hi] onto 0...127;
  4. ranks every row by the decoded dot product, keeps oversampling x 10 candidates, ranks those by the exact
     float dot product, and prints recall@10 against the ground truth.
The model works on decoded values in float64, so it ranks as the integer kernels do up to ties.
"""
import argparse
import os

import numpy as np


def fvecs(path):
    a = np.fromfile(path, dtype=np.int32)
    return a.reshape(-1, a[0] + 1)[:, 1:].view(np.float32).copy()


def ivecs(path):
    a = np.fromfile(path, dtype=np.int32)
    return a.reshape(-1, a[0] + 1)[:, 1:]


def unit(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def anisotropic(n, nq, d, seed):
    rng = np.random.default_rng(seed)
    scales = np.exp(rng.normal(0, 0.7, d)).astype(np.float32)
    base = unit(rng.standard_normal((n, d)).astype(np.float32) * scales)
    queries = unit(rng.standard_normal((nq, d)).astype(np.float32) * scales)
    truth = np.argsort(-(queries @ base.T), axis=1)[:, :10]
    return base, queries, truth


def recall(base, queries, truth, rows, coded_queries, oversampling):
    approx = coded_queries.astype(np.float64) @ rows.T.astype(np.float64)
    kk = 10 * oversampling
    cand = np.argpartition(-approx, kk, axis=1)[:, :kk]
    exact = np.einsum("qd,qkd->qk", queries, base[cand])
    top = np.take_along_axis(cand, np.argsort(-exact, axis=1)[:, :10], 1)
    return float(np.mean([len(set(top[i]) & set(truth[i][:10])) / 10 for i in range(len(queries))]))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", help="a folder with base.fvecs, query.fvecs, gt.ivecs (cosine ground truth)")
    ap.add_argument("--quantile", type=float, default=0.99)
    ap.add_argument("--oversampling", type=int, default=4)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    sets = {}
    if args.data:
        sets[os.path.basename(os.path.normpath(args.data))] = (
            unit(fvecs(os.path.join(args.data, "base.fvecs"))), unit(fvecs(os.path.join(args.data, "query.fvecs"))),
            ivecs(os.path.join(args.data, "gt.ivecs")))
    sets["anisotropic Gaussian 100,000 x 384"] = anisotropic(100_000, 1000, 384, args.seed)
    for name, (base, queries, truth) in sets.items():
        sample = base.ravel()[np.random.default_rng(0).choice(base.size, min(100_000, base.size), replace=False)]
        lo, hi = np.quantile(sample, [(1 - args.quantile) / 2, (1 + args.quantile) / 2])
        center, step = (lo + hi) / 2, (hi - lo) / 254

        def coded(x, scale, limit):
            return center + scale * np.clip(np.rint((x - center) / scale), -limit, limit)

        rows = coded(base, step, 127)
        qstep = (hi - lo) / 127

        def qdrant(x):
            return lo + qstep * np.clip(np.rint((x - lo) / qstep), 0, 127)

        encodings = [
            ("rows 255 levels, queries 255 (bytes: AVX-512 VNNI)", rows, coded(queries, step, 127)),
            ("rows 255 levels, queries 127 (7 bits)", rows, coded(queries, 2 * step, 63)),
            ("rows 255 levels, queries 63 (6 bits: AVX2 and generic)", rows, coded(queries, 4 * step, 31)),
            ("rows and queries on 128 levels (Qdrant's u8 encoding)", qdrant(base), qdrant(queries)),
        ]
        for label, r, q in encodings:
            print(f"{name} | {label} | recall@10 {recall(base, queries, truth, r, q, args.oversampling):.4f}", flush=True)


if __name__ == "__main__":
    main()
