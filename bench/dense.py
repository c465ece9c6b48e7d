"""Exact dense top-k: mstk's `Dense` index against faiss-cpu `IndexFlatIP` on the same
vectors, in one run (specs/retrieval.md, Performance: within 1.5× of faiss).

    python bench/dense.py [--docs 100000] [--queries 1000] [--dim 384] [--threads 2] [--reps 3]

A third child, `mstk-int8`, searches the same vectors stored as int8 (approximate): its
recall@10 against the exact lists is reported beside its time and memory.

Data: seeded Gaussian vectors, L2-normalised (the MiniLM encoder's width and norm), so
inner product = cosine and ties have probability zero. Each system runs in its own child
process per repetition (best of `--reps`): it builds its index from the in-memory matrix,
then answers all queries in one batch call (k = 10); build and search are timed apart and
the child's own peak RSS (VmHWM) is reported. Same thread count for both (mstk `threads`,
faiss `omp_set_num_threads`). The top-10 ids of the two systems are compared per query.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parent))
K = 10


def make_vectors(n: int, dim: int, seed: int) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, dim), dtype=np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def child(args: argparse.Namespace) -> dict:
    docs = make_vectors(args.docs, args.dim, 0)
    queries = make_vectors(args.queries, args.dim, 1)
    if args.child in ("mstk", "mstk-int8"):
        from mstk.retrieval.dense import Dense

        ids = [str(i) for i in range(args.docs)]
        started = time.perf_counter()
        index = Dense.build(docs, ids, metric="ip", dtype="int8" if args.child == "mstk-int8" else "f32")
        build = time.perf_counter() - started
        started = time.perf_counter()
        hits = index.search_vectors(queries, k=K, threads=args.threads)
        search = time.perf_counter() - started
        top = hits.doc_idx.tolist()  # internal index = insertion order = the row number
    else:
        import faiss

        faiss.omp_set_num_threads(args.threads)
        started = time.perf_counter()
        index = faiss.IndexFlatIP(args.dim)
        index.add(docs)
        build = time.perf_counter() - started
        started = time.perf_counter()
        _, found = index.search(queries, K)
        search = time.perf_counter() - started
        top = found.tolist()
    from _common import own_peak_rss_mib

    return {"build_seconds": build, "search_seconds": search, "top": top, "peak_rss_mib": own_peak_rss_mib()}


def run_child(system: str, args: argparse.Namespace) -> dict:
    from _common import run_json_child

    return run_json_child([sys.executable, str(HERE), "--child", system, "--docs", str(args.docs), "--queries",
                           str(args.queries), "--dim", str(args.dim), "--threads", str(args.threads)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--child", choices=["mstk", "mstk-int8", "faiss"])
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args)))
        return

    from _common import environment, write_results

    best: dict[str, dict] = {}
    runs = []
    for _ in range(args.reps):
        for system in ("mstk", "faiss", "mstk-int8"):
            result = run_child(system, args)
            runs.append({"system": system, **{k: v for k, v in result.items() if k != "top"}})
            if system not in best or result["search_seconds"] < best[system]["search_seconds"]:
                best[system] = result
    agree = sum(a == b for a, b in zip(best["mstk"]["top"], best["faiss"]["top"]))
    ours, theirs = best["mstk"], best["faiss"]
    ratio = ours["search_seconds"] / theirs["search_seconds"]
    rows = []
    for name, r in best.items():
        rows.append([name, f"{r['build_seconds']:.3f}", f"{r['search_seconds']:.3f}",
                     f"{args.queries / r['search_seconds']:,.0f}", f"{r['peak_rss_mib']:.0f}"])
    rows.append(["mstk / faiss", "", f"**{ratio:.2f}×** time", "", f"{ours['peak_rss_mib'] / theirs['peak_rss_mib']:.2f}×"])
    # int8 storage is approximate: recall@10 against the exact (faiss) lists
    recall = float(np.mean([len(set(a) & set(b)) / K for a, b in zip(best["mstk-int8"]["top"], theirs["top"])]))
    int8 = best["mstk-int8"]
    rows.append(["mstk int8 / faiss", "", f"{int8['search_seconds'] / theirs['search_seconds']:.2f}× time",
                 f"recall@10 {recall:.3f}", f"{int8['peak_rss_mib'] / theirs['peak_rss_mib']:.2f}×"])
    payload = {"environment": environment(["mstk", "faiss-cpu", "numpy"]), "docs": args.docs, "queries": args.queries,
               "dim": args.dim, "k": K, "threads": args.threads, "reps": args.reps, "runs": runs,
               "top10_identical_queries": agree, "search_time_ratio": ratio, "target_met": ratio <= 1.5,
               "int8_recall_at_10": recall}
    write_results("dense", payload, rows, ["system", "build s", "search s", "queries/s", "peak RSS MiB"])
    print(f"top-10 identical for {agree}/{args.queries} queries; target (mstk time <= 1.5x faiss): "
          f"{'met' if ratio <= 1.5 else 'not met'}")


if __name__ == "__main__":
    main()
