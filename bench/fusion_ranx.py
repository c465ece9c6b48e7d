"""Fusion parity with ranx (the formulas' reference, specs/retrieval.md "Fusion/tree"): the
same two runs fused by mstk's Rust kernel and by `ranx.fuse`, compared score by score, and
timed. Bench-only: ranx needs numba, too heavy for the test extra.

    python -m venv --system-site-packages VENV && VENV/bin/pip install ranx==0.3.21
    VENV/bin/python bench/fusion_ranx.py

BM25 scores tie often, and ranx ranks tied documents its own way while mstk keeps the
index's order (lower document index first); RRF is therefore also run with the ranx input
scored by list position, which gives both the same ranks and isolates the arithmetic.

Runs: BM25 on the 10,033 Wikipedia summaries for the 9,049 known-item queries, depth 100,
once with the word tokenizer (Lucene 0.9/0.4) and once with the lowercase tokenizer (Okapi
1.5/0.75), so the two rankings differ. Every fused document of every query is compared
(the whole union, so tie order at a cut cannot hide or fake a difference).
"""

from __future__ import annotations

import time

import numpy as np
import orjson

from _common import WORK, environment, write_results

DEPTH = 100


def main() -> None:
    import ranx

    from mstk.retrieval import Bm25, fuse_hits

    wiki = WORK / "wiki"
    docs = [orjson.loads(line) for line in (wiki / "corpus.jsonl").read_bytes().splitlines()]
    queries = [orjson.loads(line) for line in (wiki / "queries.jsonl").read_bytes().splitlines()]
    ids, texts = [d["id"] for d in docs], [d["contents"] for d in docs]
    questions, qids = [q["question"] for q in queries], [q["id"] for q in queries]
    runs = [
        Bm25.build(texts, ids, tokenizer="word", variant="lucene", k1=0.9, b=0.4).search(questions, DEPTH),
        Bm25.build(texts, ids, tokenizer="lowercase", variant="okapi").search(questions, DEPTH),
    ]
    # ranx needs the same queries in every run: those with hits in both
    both = [i for i in range(len(qids)) if all(hits.count[i] for hits in runs)]
    ranx_runs, ranx_ranked = [], []
    for hits in runs:
        run = {qids[i]: {ids[int(d)]: float(s) for d, s in zip(hits.doc_idx[i, :hits.count[i]], hits.scores[i, :hits.count[i]])}
               for i in both}
        ranx_runs.append(ranx.Run(run))
        # the same lists with score = −position: ranx then ranks tied documents as the index
        # listed them (mstk's order: lower document index first), isolating the RRF sums
        ranked = {qids[i]: {ids[int(d)]: -float(j) for j, d in enumerate(hits.doc_idx[i, :hits.count[i]])} for i in both}
        ranx_ranked.append(ranx.Run(ranked))
    results = {}
    for name, ours_args, theirs_args in [
        ("rrf (k 60), ranx ranking ties its own way", {"fusion": "rrf", "rrf_k": 60.0}, {"method": "rrf", "params": {"k": 60}}),
        ("rrf (k 60), ties in the index's order", {"fusion": "rrf", "rrf_k": 60.0},
         {"method": "rrf", "params": {"k": 60}, "ranked": True}),
        ("linear min-max (0.5 / 0.5)", {"fusion": "linear", "norm": "minmax", "weights": [0.5, 0.5]},
         {"method": "wsum", "norm": "min-max", "params": {"weights": [0.5, 0.5]}}),
    ]:
        started = time.perf_counter()
        fused = fuse_hits(runs, 2 * DEPTH, **ours_args)
        ours_s = time.perf_counter() - started
        inputs = ranx_ranked if theirs_args.pop("ranked", False) else ranx_runs
        ranx.fuse(runs=inputs, **theirs_args)  # numba compiles on the first call
        started = time.perf_counter()
        theirs = ranx.fuse(runs=inputs, **theirs_args).to_dict()
        theirs_s = time.perf_counter() - started
        max_diff, differing_sets, compared = 0.0, 0, 0
        for i in both:
            qid = qids[i]
            n = int(fused.count[i])
            ours = {ids[int(d)]: float(s) for d, s in zip(fused.doc_idx[i, :n], fused.scores[i, :n])}
            ref = theirs.get(qid, {})
            if set(ours) != set(ref):
                differing_sets += 1
                continue
            compared += len(ours)
            if ours:
                max_diff = max(max_diff, max(abs(ours[d] - ref[d]) for d in ours))
        results[name] = {"queries": len(both), "queries_with_different_documents": differing_sets,
                         "scores_compared": compared, "max_abs_score_diff": max_diff,
                         "mstk_s": ours_s, "ranx_s": theirs_s}
        print(name, results[name])
    payload = {"environment": environment(["mstk", "ranx", "numba", "numpy"]), "depth": DEPTH, "results": results}
    rows = [[name, f"{r['queries']:,}", f"{r['queries_with_different_documents']}", f"{r['scores_compared']:,}",
             f"{r['max_abs_score_diff']:.1e}", f"{r['mstk_s']:.3f}", f"{r['ranx_s']:.3f}",
             f"{r['ranx_s'] / r['mstk_s']:.0f}×"] for name, r in results.items()]
    write_results("fusion_ranx", payload, rows, ["fusion", "queries", "queries whose fused documents differ",
                                                 "scores compared", "max |mstk − ranx|", "mstk s", "ranx s",
                                                 "ranx ÷ mstk"])


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
