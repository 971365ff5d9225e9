#!/usr/bin/env python3
"""Switchyard beside other vector-search engines: the same files, the same k, each engine in a process of its own.

    python3 -m venv /tmp/peers-venv && /tmp/peers-venv/bin/pip install -r Benchmarks/peers/requirements.txt
    swift build -c release --product switchyard
    /tmp/peers-venv/bin/python Benchmarks/peers/peers.py --switchyard .build/release/switchyard \\
        --n 100000 --d 384 --queries 1000 --k 10 --threads 2 --out /tmp/peers

What it does:
  1. Generates the data with `switchyard datasets synth` (clustered, L2-normalised float32 vectors, exact cosine
     ground truth, TEXMEX files), unless --data names a folder that has base.fvecs, query.fvecs and gt.ivecs.
  2. Runs every engine (--engines picks some; --list names them) in a new Python process, one after another, with
     OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE removed from the environment (they slow a current OpenBLAS: a
     handicapped peer makes a false claim) and OMP/OpenBLAS/MKL threads set to the engine's thread count.
     Switchyard runs as `switchyard bench search --json` under the same environment.
  3. Each engine ingests the base vectors, answers single queries one at a time (p50, p99), then all queries as
     a batch, --batch-runs times (3 by default; the best run's queries per second count, every run is in
     results.json), and is scored against the ground truth (recall@k). Slow engines stop at --budget seconds per
     phase and run their batch slices once; the rows say how many queries they measured.
  4. Records the machine (CPU model and flags, caches), every library's version and, per engine, the BLAS it
     actually ran (threadpoolctl: library, version, kernel, threads). Writes results.json and results.md to --out
     and prints the table with Switchyard's ratios to FAISS at the same thread count.

Quote figures from one run, on the machine at hand: machines differ, and shared machines are noisy.
"""
import argparse
import importlib.metadata
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time

# name: (what it is, threads (None: --threads), kind)
ENGINES = {
    "numpy": ("NumPy: X @ q and argpartition (BLAS sgemv / sgemm)", None, "exact"),
    "faiss_flat_t1": ("FAISS IndexFlatIP", 1, "exact"),
    "faiss_flat_t2": ("FAISS IndexFlatIP", 2, "exact"),
    # faiss-cpu wheels bundle their own OpenBLAS, which may not know a newer CPU and fall back to an old kernel
    # (threadpoolctl shows which). These rows tell it the CPU's best kernel, so the comparison is with FAISS at
    # its best, not with a misdetection.
    "faiss_flat_t1_kernel": ("FAISS IndexFlatIP, bundled OpenBLAS told the CPU", 1, "exact"),
    "faiss_flat_t2_kernel": ("FAISS IndexFlatIP, bundled OpenBLAS told the CPU", 2, "exact"),
    "qdrant_local_memory": ("qdrant-client local mode, in memory", 1, "exact"),
    "qdrant_local_disk": ("qdrant-client local mode, on disk", 1, "exact"),
    "qdrant_edge_exact": ("Qdrant Edge, exact search", None, "exact"),
    "qdrant_edge_hnsw": ("Qdrant Edge, HNSW (m 16, ef_construct 100, ef 128)", None, "approximate"),
    "sqlite_vec": ("sqlite-vec vec0, cosine", 1, "exact"),
    "usearch_exact": ("usearch brute force", None, "exact"),
    "usearch_hnsw": ("usearch HNSW (connectivity 16, expansion 128/64)", None, "approximate"),
    "hnswlib": ("hnswlib HNSW (M 16, ef_construction 200, ef 64)", None, "approximate"),
    "switchyard_t1": ("Switchyard `bench search` (durable SQLite store), exact: int8 screen with proven bounds", 1, "exact"),
    "switchyard_t2": ("Switchyard `bench search` (durable SQLite store), exact: int8 screen with proven bounds", 2, "exact"),
    # The same exact search without the screen: the float32 scan alone (`--no-screen`).
    "switchyard_float_t1": ("Switchyard `bench search` (durable SQLite store), exact: float32 scan only", 1, "exact"),
    "switchyard_float_t2": ("Switchyard `bench search` (durable SQLite store), exact: float32 scan only", 2, "exact"),
    # Qdrant's scalar quantization: an int8 copy scanned first, oversampling x k candidates rescored exactly.
    "switchyard_int8_t1": ("Switchyard, int8 quantization, oversampling 4, rescored", 1, "approximate"),
    "switchyard_int8_t2": ("Switchyard, int8 quantization, oversampling 4, rescored", 2, "approximate"),
}
INT8_OVERSAMPLING = 4
PACKAGES = ["numpy", "faiss-cpu", "qdrant-client", "qdrant-edge-py", "sqlite-vec", "usearch", "hnswlib", "threadpoolctl"]
CLEARED = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
SINGLE = [1000]  # --single, for the table's notes


# ---------------------------------------------------------------------------------------------------------------
# Data

def read_vecs(path, dtype):
    import numpy as np
    raw = np.fromfile(path, dtype=np.int32)
    if raw.size == 0:
        raise SystemExit(f"{path} is empty")
    d = int(raw[0])
    if d <= 0 or raw.size % (d + 1) != 0:
        raise SystemExit(f"{path} is not a TEXMEX file (first dimension {d}, {raw.size} words)")
    return raw.reshape(-1, d + 1)[:, 1:].copy().view(dtype)


def make_data(switchyard, n, d, queries, seed, out):
    os.makedirs(out, exist_ok=True)
    cmd = [switchyard, "datasets", "synth", "--n", str(n), "--d", str(d), "--queries", str(queries), "--seed", str(seed),
           "--out", out]
    print("+ " + " ".join(cmd), file=sys.stderr)
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return out


# ---------------------------------------------------------------------------------------------------------------
# One engine, in its own process

class Engine:
    """Subclasses implement ingest(X), single(q, k) -> ids, batch(Q, k) -> ids (rows of ids)."""
    durable = False
    # An engine without a real batch path is timed on 64-query slices until the budget is spent.
    slow = False

    def __init__(self, threads, workdir):
        self.threads = threads
        self.workdir = workdir

    def close(self):
        pass


class NumpyEngine(Engine):
    def ingest(self, X):
        self.X = X.copy()

    def single(self, q, k):
        return topk(self.X @ q, k)

    def batch(self, Q, k):
        import numpy as np
        return np.concatenate([topk(Q[i:i + 1024] @ self.X.T, k) for i in range(0, len(Q), 1024)])


def topk(scores, k):
    import numpy as np
    part = np.argpartition(-scores, k - 1, axis=-1)[..., :k]
    order = np.argsort(-np.take_along_axis(scores, part, axis=-1), axis=-1, kind="stable")
    return np.take_along_axis(part, order, axis=-1)


class FaissEngine(Engine):
    def ingest(self, X):
        import faiss
        faiss.omp_set_num_threads(self.threads)
        self.index = faiss.IndexFlatIP(X.shape[1])
        self.index.add(X)

    def single(self, q, k):
        return self.index.search(q[None, :], k)[1][0]

    def batch(self, Q, k):
        return self.index.search(Q, k)[1]


class QdrantLocalEngine(Engine):
    slow = True

    def __init__(self, threads, workdir, on_disk):
        super().__init__(threads, workdir)
        from qdrant_client import QdrantClient
        self.client = QdrantClient(path=os.path.join(workdir, "qdrant")) if on_disk else QdrantClient(":memory:")
        self.durable = on_disk

    def ingest(self, X):
        from qdrant_client import models
        self.client.create_collection("bench", vectors_config=models.VectorParams(size=X.shape[1], distance=models.Distance.COSINE))
        for start in range(0, len(X), 1024):
            block = X[start:start + 1024]
            self.client.upsert("bench", points=models.Batch(ids=list(range(start, start + len(block))), vectors=block.tolist()))

    def single(self, q, k):
        return [p.id for p in self.client.query_points("bench", query=q.tolist(), limit=k).points]

    def batch(self, Q, k):
        from qdrant_client import models
        out = []
        for start in range(0, len(Q), 64):
            requests = [models.QueryRequest(query=q.tolist(), limit=k) for q in Q[start:start + 64]]
            out += [[p.id for p in r.points] for r in self.client.query_batch_points("bench", requests=requests)]
        return out

    def close(self):
        self.client.close()


class QdrantEdgeEngine(Engine):
    durable = True

    def __init__(self, threads, workdir, hnsw):
        super().__init__(threads, workdir)
        self.hnsw = hnsw

    def ingest(self, X):
        import qdrant_edge as qe
        vectors = qe.EdgeVectorParams(size=X.shape[1], distance=qe.Distance.Cosine)
        self.shard = qe.EdgeShard.create(os.path.join(self.workdir, "edge"), qe.EdgeConfig(vectors=vectors, max_search_threads=self.threads))
        for start in range(0, len(X), 1024):
            block = X[start:start + 1024]
            self.shard.update(qe.UpdateOperation.upsert_points([qe.Point(start + i, v.tolist()) for i, v in enumerate(block)]))
        self.shard.flush()
        if self.hnsw:
            while self.shard.optimize():
                pass
        self.params = qe.SearchParams(hnsw_ef=128) if self.hnsw else qe.SearchParams(exact=True)

    def request(self, q, k):
        import qdrant_edge as qe
        return qe.QueryRequest(limit=k, query=qe.Query.Nearest(q.tolist()), params=self.params)

    def single(self, q, k):
        return [p.id for p in self.shard.query(self.request(q, k))]

    def batch(self, Q, k):
        import qdrant_edge as qe
        out = []
        for start in range(0, len(Q), 256):
            batch = qe.QueryBatchRequest([self.request(q, k) for q in Q[start:start + 256]])
            out += [[p.id for p in r] for r in self.shard.query_batch(batch)]
        return out

    def close(self):
        self.shard.close()


class SqliteVecEngine(Engine):
    durable = True
    slow = True

    def ingest(self, X):
        import sqlite3
        import sqlite_vec
        self.db = sqlite3.connect(os.path.join(self.workdir, "vec.db"))
        self.db.enable_load_extension(True)
        sqlite_vec.load(self.db)
        self.db.enable_load_extension(False)
        self.db.execute(f"CREATE VIRTUAL TABLE v USING vec0(embedding float[{X.shape[1]}] distance_metric=cosine)")
        with self.db:
            self.db.executemany("INSERT INTO v(rowid, embedding) VALUES (?, ?)", ((i, X[i].tobytes()) for i in range(len(X))))

    def single(self, q, k):
        rows = self.db.execute("SELECT rowid FROM v WHERE embedding MATCH ? AND k = ? ORDER BY distance", (q.tobytes(), k))
        return [r[0] for r in rows]

    def batch(self, Q, k):
        return [self.single(q, k) for q in Q]

    def close(self):
        self.db.close()


class UsearchExactEngine(Engine):
    def ingest(self, X):
        self.X = X.copy()

    def single(self, q, k):
        from usearch.index import MetricKind, search
        return search(self.X, q, k, MetricKind.Cos, exact=True, threads=self.threads).keys

    def batch(self, Q, k):
        from usearch.index import MetricKind, search
        return search(self.X, Q, k, MetricKind.Cos, exact=True, threads=self.threads).keys


class UsearchHNSWEngine(Engine):
    def ingest(self, X):
        import numpy as np
        from usearch.index import Index
        self.index = Index(ndim=X.shape[1], metric="cos", connectivity=16, expansion_add=128, expansion_search=64)
        self.index.add(np.arange(len(X)), X, threads=self.threads)

    def single(self, q, k):
        return self.index.search(q, k).keys

    def batch(self, Q, k):
        return self.index.search(Q, k, threads=self.threads).keys


class HnswlibEngine(Engine):
    def ingest(self, X):
        import hnswlib
        import numpy as np
        self.index = hnswlib.Index(space="cosine", dim=X.shape[1])
        self.index.init_index(max_elements=len(X), M=16, ef_construction=200)
        self.index.set_num_threads(self.threads)
        self.index.add_items(X, np.arange(len(X)))
        self.index.set_ef(64)

    def single(self, q, k):
        return self.index.knn_query(q, k=k)[0][0]

    def batch(self, Q, k):
        return self.index.knn_query(Q, k=k)[0]


def make_engine(name, threads, workdir):
    if name == "numpy":
        return NumpyEngine(threads, workdir)
    if name.startswith("faiss_flat"):  # also the _kernel rows: the difference is their environment
        return FaissEngine(threads, workdir)
    if name.startswith("qdrant_local"):
        return QdrantLocalEngine(threads, workdir, on_disk=name.endswith("disk"))
    if name.startswith("qdrant_edge"):
        return QdrantEdgeEngine(threads, workdir, hnsw=name.endswith("hnsw"))
    if name == "sqlite_vec":
        return SqliteVecEngine(threads, workdir)
    if name == "usearch_exact":
        return UsearchExactEngine(threads, workdir)
    if name == "usearch_hnsw":
        return UsearchHNSWEngine(threads, workdir)
    if name == "hnswlib":
        return HnswlibEngine(threads, workdir)
    raise SystemExit(f"unknown engine {name}")


def rss_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def worker(args):
    """Measures one engine; prints one JSON object."""
    import numpy as np
    from threadpoolctl import threadpool_info, threadpool_limits
    X = read_vecs(os.path.join(args.data, "base.fvecs"), np.float32)
    Q = read_vecs(os.path.join(args.data, "query.fvecs"), np.float32)
    G = read_vecs(os.path.join(args.data, "gt.ivecs"), np.int32)
    k = args.k
    base_rss = rss_mb()
    with tempfile.TemporaryDirectory(prefix="peers-") as workdir, threadpool_limits(limits=args.threads):
        engine = make_engine(args.worker, args.threads, workdir)
        t = time.perf_counter()
        engine.ingest(X)
        ingest = time.perf_counter() - t
        for q in Q[:5]:
            engine.single(q, k)  # warm-up, untimed
        latencies = []
        start = time.perf_counter()
        for q in Q[:args.single]:
            t = time.perf_counter()
            engine.single(q, k)
            latencies.append((time.perf_counter() - t) * 1e3)
            if time.perf_counter() - start > args.budget and len(latencies) >= 20:
                break
        # The batch: all queries at once, --batch-runs times (the best run counts), or for a slow engine as many
        # 64-query slices as fit in the budget, once.
        runs_qps = []
        if engine.slow:
            t = time.perf_counter()
            ids = []
            while len(ids) < len(Q) and (time.perf_counter() - t < args.budget or len(ids) < 64):
                ids += list(engine.batch(Q[len(ids):len(ids) + 64], k))
            runs_qps.append(len(ids) / (time.perf_counter() - t))
        else:
            for run in range(args.batch_runs):
                t = time.perf_counter()
                found = list(engine.batch(Q, k))
                runs_qps.append(len(found) / (time.perf_counter() - t))
                if run == 0:
                    ids = found
        measured = len(ids)
        ids = [list(map(int, row))[:k] for row in ids]
        recall = float(np.mean([len(set(a) & set(b[:k].tolist())) / k for a, b in zip(ids, G)]))
        blas = [{key: info.get(key) for key in ("internal_api", "version", "architecture", "num_threads", "threading_layer")}
                for info in threadpool_info()]
        result = {
            "engine": args.worker, "threads": args.threads, "n": int(len(X)), "d": int(X.shape[1]), "nq": int(len(Q)), "k": k,
            "ingest_s": ingest, "ingest_vps": len(X) / ingest if ingest > 0 else None, "durable": engine.durable,
            "single_queries": len(latencies), "single_p50_ms": float(np.percentile(latencies, 50)),
            "single_p99_ms": float(np.percentile(latencies, 99)), "batch_queries": measured, "batch_qps": max(runs_qps),
            "batch_runs_qps": runs_qps,
            "recall_at_k": recall, "rss_mb": rss_mb(), "base_rss_mb": base_rss, "blas": blas,
        }
        engine.close()
    print(json.dumps(result))


# ---------------------------------------------------------------------------------------------------------------
# The driver

def clean_environment(threads):
    env = {k: v for k, v in os.environ.items() if k not in CLEARED}
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(threads)
    return env


def machine():
    info = {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count()}
    try:
        with open("/proc/cpuinfo") as f:
            text = f.read()
        for line in text.splitlines():
            if line.startswith("model name") and "cpu" not in info:
                info["cpu"] = line.split(":", 1)[1].strip()
            if line.startswith("flags") and "flags" not in info:
                flags = set(line.split(":", 1)[1].split())
                info["flags"] = sorted(f for f in flags if f in {"avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_vnni",
                                                                 "avx512_bf16", "avx_vnni", "amx_tile"})
    except OSError:
        pass
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        info["caches"] = {line.split(":")[0].strip(): line.split(":", 1)[1].strip() for line in lscpu.splitlines()
                          if line.strip().startswith(("L1d", "L2", "L3"))}
    except OSError:
        pass
    info["versions"] = {}
    for p in PACKAGES:
        try:
            info["versions"][p] = importlib.metadata.version(p)
        except importlib.metadata.PackageNotFoundError:
            info["versions"][p] = None
    info["cleared_environment"] = {k: os.environ.get(k) for k in CLEARED if k in os.environ}
    return info


def best_openblas_kernel():
    """The OpenBLAS core type for this CPU's widest vector unit (what a current OpenBLAS would pick)."""
    flags = set(machine_flags())
    if "avx512f" in flags and "avx512bw" in flags:
        return "SkylakeX"
    if "avx2" in flags:
        return "Haswell"
    return None


def machine_flags():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return line.split(":", 1)[1].split()
    except OSError:
        pass
    return []


def run_engine(name, args):
    threads = ENGINES[name][1] or args.threads
    env = clean_environment(threads)
    if name.endswith("_kernel"):
        kernel = best_openblas_kernel()
        if kernel:
            env["OPENBLAS_CORETYPE"] = kernel
    if name.startswith("switchyard"):
        cmd = [args.switchyard, "bench", "search", "--base", os.path.join(args.data, "base.fvecs"),
               "--queries", os.path.join(args.data, "query.fvecs"), "--gt", os.path.join(args.data, "gt.ivecs"),
               "--k", str(args.k), "--single", str(args.single), "--threads", str(threads),
               "--batch-runs", str(args.batch_runs), "--json"]
        if "_int8" in name:
            cmd += ["--quantization", "int8", "--oversampling", str(INT8_OVERSAMPLING)]
        if "_float" in name:
            cmd += ["--no-screen"]
    else:
        cmd = [sys.executable, os.path.abspath(__file__), "--worker", name, "--data", args.data, "--k", str(args.k),
               "--single", str(args.single), "--threads", str(threads), "--budget", str(args.budget),
               "--batch-runs", str(args.batch_runs)]
    print(f"+ {name} ({threads} thread{'s' if threads > 1 else ''})", file=sys.stderr)
    t = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        print(proc.stderr[-2000:], file=sys.stderr)
        last = (proc.stderr.strip().splitlines() or ["no message"])[-1]
        return {"engine": name, "threads": threads, "error": f"exit {proc.returncode}: {last}"}
    lines = [l for l in proc.stdout.splitlines() if l.startswith("{")]
    if not lines:
        return {"engine": name, "threads": threads, "error": "printed no JSON result"}
    r = json.loads(lines[-1])
    r["engine"] = name
    r["threads"] = threads
    r["wall_s"] = time.perf_counter() - t
    if name.startswith("switchyard"):
        r["durable"] = True
        r.setdefault("recall_at_k", r.get("recall_at_10"))
        r["blas"] = [{"internal_api": "switchyard", "version": r.get("blas"), "architecture": r.get("int8_kernel") or r.get("kernel"),
                      "num_threads": threads}]
    return r


def fmt(v, digits=2):
    if v is None:
        return "–"
    if isinstance(v, float):
        if v >= 1000:
            return f"{v:,.0f}"
        return f"{v:.{digits}f}"
    return str(v)


def table(results):
    rows = ["| engine | kind | threads | ingest vec/s | single p50 ms | single p99 ms | batch QPS | recall@k | RSS MB | BLAS / kernel |",
            "|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        name = r["engine"]
        if "error" in r:
            rows.append(f"| {name} | | {r['threads']} | failed: {r['error']} | | | | | | |")
            continue
        blas = "; ".join(f"{b.get('internal_api')} {b.get('version') or ''} {b.get('architecture') or ''}".strip()
                         for b in r.get("blas", []) if b.get("internal_api")) or "–"
        ingest = fmt(r.get("ingest_vps"), 0) + ("" if r.get("durable") else " (memory)")
        single = fmt(r.get("single_p50_ms"))
        if r.get("single_queries") is not None and r["single_queries"] < min(r.get("nq", 0), SINGLE[0]):
            single += f" ({r['single_queries']} q)"
        batch = fmt(r.get("batch_qps"), 1)
        if r.get("batch_queries") is not None and r["batch_queries"] < r.get("nq", 0):
            batch += f" ({r['batch_queries']} q)"
        rows.append(f"| {ENGINES[name][0]} | {ENGINES[name][2]} | {r['threads']} | {ingest} | {single} | {fmt(r.get('single_p99_ms'))} | "
                    f"{batch} | {fmt(r.get('recall_at_k'), 3)} | {fmt(r.get('rss_mb'), 0)} | {blas} |")
    return "\n".join(rows)


def ratios(results):
    """Switchyard against FAISS IndexFlatIP at the same thread count (FAISS's faster row of the two)."""
    by = {r["engine"]: r for r in results if "error" not in r}

    def faiss_rows(t):
        return [by[n] for n in (f"faiss_flat_t{t}", f"faiss_flat_t{t}_kernel") if n in by]

    def batch_ratio(engine, t, label):
        row, faiss = by.get(f"{engine}_t{t}"), faiss_rows(t)
        if row and faiss:
            best = max(faiss, key=lambda r: r["batch_qps"])
            lines.append(f"- {label} / FAISS at {t} thread{'s' if t > 1 else ''}: {row['batch_qps'] / best['batch_qps']:.2f}×")

    lines = []
    for t in (1, 2):
        batch_ratio("switchyard", t, "batch QPS, Switchyard")
        batch_ratio("switchyard_float", t, "batch QPS, Switchyard without the screen")
        row = by.get(f"switchyard_t{t}")
        if row and row.get("screen_rows_mean") is not None:
            lines.append(f"- Switchyard's int8 screen at {t} thread{'s' if t > 1 else ''}: {row.get('screen_mb', 0):.1f} MB "
                         f"({row.get('screen_mb', 0) / (row['n'] * row['d'] * 4 / 1e6):.2f}× the float32 matrix); rows scored "
                         f"exactly per query: mean {row['screen_rows_mean']:.0f}, max {row.get('screen_rows_max', 0)}")
    sy = by.get("switchyard_t2")
    faiss1 = faiss_rows(1)
    if sy and faiss1:
        best = min(faiss1, key=lambda r: r["single_p50_ms"])
        lines.append(f"- single-query p50, Switchyard (2 threads) / FAISS (1 thread): {sy['single_p50_ms'] / best['single_p50_ms']:.2f}× (below 1 is faster)")
    for t in (1, 2):
        batch_ratio("switchyard_int8", t, "int8 batch QPS")
        q = by.get(f"switchyard_int8_t{t}")
        exact = by.get(f"switchyard_t{t}")
        if q and exact:
            lines.append(f"- int8 single-query p50 / Switchyard exact at {t} thread{'s' if t > 1 else ''}: "
                         f"{q['single_p50_ms'] / exact['single_p50_ms']:.2f}×; recall@{q.get('k', 10)} {q.get('recall_at_k') or 0:.4f}; "
                         f"int8 scan structure {q.get('quantized_mb', 0):.1f} MB = {q.get('quantized_mb', 0) / (q['n'] * q['d'] * 4 / 1e6):.2f}× the float32 matrix")
    return lines


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--list", action="store_true", help="name the engines and exit")
    ap.add_argument("--engines", help="comma-separated engines (default: all)")
    ap.add_argument("--switchyard", default=".build/release/switchyard", help="the switchyard binary (a release build)")
    ap.add_argument("--data", help="a folder with base.fvecs, query.fvecs, gt.ivecs (default: generate into --out/data)")
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--d", type=int, default=384)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--single", type=int, default=1000, help="single queries timed one at a time")
    ap.add_argument("--threads", type=int, default=2, help="threads for the engines that take a thread count")
    ap.add_argument("--batch-runs", type=int, default=3,
                    help="times every engine runs the whole batch; the best counts (noise on a shared machine only slows a run)")
    ap.add_argument("--budget", type=float, default=30,
                    help="seconds a slow engine may spend on single queries, and again on its batch slices")
    ap.add_argument("--out", default="/tmp/switchyard-peers")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.list:
        for name, (what, threads, kind) in ENGINES.items():
            print(f"{name:22} {kind:12} {'threads ' + str(threads) if threads else 'threads --threads':18} {what}")
        return
    if args.worker:
        return worker(args)
    if args.k < 1 or args.single < 1 or args.threads < 1 or args.batch_runs < 1:
        raise SystemExit("--k, --single, --threads and --batch-runs must be at least 1")
    names = list(ENGINES) if not args.engines else [e.strip() for e in args.engines.split(",") if e.strip()]
    unknown = [e for e in names if e not in ENGINES]
    if unknown:
        raise SystemExit(f"unknown engine(s) {', '.join(unknown)}; --list names them")
    if any(n.startswith("switchyard") for n in names) and not shutil.which(args.switchyard) and not os.path.exists(args.switchyard):
        raise SystemExit(f"no switchyard binary at {args.switchyard}: swift build -c release --product switchyard")
    SINGLE[0] = args.single
    os.makedirs(args.out, exist_ok=True)
    if not args.data:
        args.data = make_data(args.switchyard, args.n, args.d, args.queries, args.seed, os.path.join(args.out, "data"))
    for f in ("base.fvecs", "query.fvecs", "gt.ivecs"):
        if not os.path.exists(os.path.join(args.data, f)):
            raise SystemExit(f"{args.data} has no {f}")
    info = machine()
    command = " ".join([os.path.basename(sys.executable), "Benchmarks/peers/peers.py"] + sys.argv[1:])
    results = [run_engine(name, args) for name in names]
    report = {"command": command, "machine": info, "data": os.path.abspath(args.data), "k": args.k, "results": results}
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(report, f, indent=2)
    first = next((r for r in results if "error" not in r), {})
    md = [f"{first.get('n', '?')} × {first.get('d', '?')}, cosine, k = {args.k}, {first.get('nq', '?')} queries; "
          f"{info.get('cpu', '?')}, {info.get('cpus')} CPUs, flags {' '.join(info.get('flags', []))}.",
          "", table(results), ""] + ratios(results) + ["", f"Command: `{command}`",
          "Versions: " + ", ".join(f"{k} {v}" for k, v in info["versions"].items() if v)]
    if info["cleared_environment"]:
        md.append("Cleared for every engine: " + ", ".join(f"{k}={v}" for k, v in info["cleared_environment"].items()))
    text = "\n".join(md)
    with open(os.path.join(args.out, "results.md"), "w") as f:
        f.write(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
