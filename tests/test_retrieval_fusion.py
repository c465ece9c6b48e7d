"""Fusion of several runs (RRF, linear with min-max / z-score / raw scores): the Rust
kernel against a plain-Python statement of the formulas, a hand-computed case, thread
invariance, and the errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mstk import _core
from mstk.retrieval import Hits, fuse_hits, fuse_linear, fuse_rrf


# ------------------------------------------------------------------ the reference


def reference(runs: list[list[tuple[int, float]]], weights: list[float], k: int, fusion: str, rrf_k: float,
              norm: str) -> list[tuple[int, float]]:
    """The spec's formulas, one query, float64, sums in run order; ties to the lower doc."""
    fused: dict[int, float] = {}
    for w, run in zip(weights, runs):
        if fusion == "rrf":
            values = [(doc, w / (rrf_k + rank)) for rank, (doc, _) in enumerate(run, start=1)]
        else:
            scores = [s for _, s in run]
            if norm == "minmax" and run:
                lo, hi = min(scores), max(scores)
                values = [(d, w * ((s - lo) / max(hi - lo, 1e-9))) for d, s in run]
            elif norm == "zscore" and run:
                total = 0.0
                for s in scores:
                    total += s
                mean = total / len(scores)
                squares = 0.0
                for s in scores:
                    squares += (s - mean) * (s - mean)
                std = (squares / len(scores)) ** 0.5
                values = [(d, w * ((s - mean) / max(std, 1e-9))) for d, s in run]
            else:
                values = [(d, w * s) for d, s in run]
        for doc, value in values:
            fused[doc] = fused.get(doc, 0.0) + value
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))[:k]


def as_hits(runs_per_query: list[list[list[tuple[int, float]]]], n_runs: int) -> list[Hits]:
    """Per run, the queries' lists as padded arrays (scores float32, as indexes return)."""
    out = []
    for r in range(n_runs):
        rows = [query[r] for query in runs_per_query]
        width = max([len(row) for row in rows] + [1])
        idx = np.full((len(rows), width), -1, dtype=np.int32)
        scores = np.full((len(rows), width), -np.inf, dtype=np.float32)
        for q, row in enumerate(rows):
            for j, (d, s) in enumerate(row):
                idx[q, j], scores[q, j] = d, s
        out.append(Hits(idx, scores, np.array([len(row) for row in rows], dtype=np.int32)))
    return out


@st.composite
def batches(draw):
    n_runs = draw(st.integers(1, 4))
    n_queries = draw(st.integers(1, 6))
    queries = []
    for _ in range(n_queries):
        runs = []
        for _ in range(n_runs):
            docs = draw(st.lists(st.integers(0, 30), unique=True, max_size=12))
            # few distinct values, so ties across documents are common
            scores = sorted((float(np.float32(draw(st.sampled_from([0.0, 0.5, 1.25, 3.0, -2.0, 7.75, 1e-3]))))
                             for _ in docs), reverse=True)
            runs.append(list(zip(docs, scores)))
        queries.append(runs)
    weights = draw(st.lists(st.sampled_from([1.0, 0.5, 0.3, 2.0, 0.0]), min_size=n_runs, max_size=n_runs))
    return queries, weights


@settings(max_examples=150, deadline=None)
@given(batch=batches(), k=st.integers(1, 15), fusion=st.sampled_from(["rrf", "linear"]),
       norm=st.sampled_from(["minmax", "zscore", "none"]), rrf_k=st.sampled_from([60.0, 0.0, 1.5]))
def test_kernel_equals_the_reference(batch, k, fusion, norm, rrf_k) -> None:
    queries, weights = batch
    hits = fuse_hits(as_hits(queries, len(weights)), k, fusion=fusion, rrf_k=rrf_k, weights=weights, norm=norm)
    for q, runs in enumerate(queries):
        want = reference(runs, weights, k, fusion, rrf_k, norm)
        n = int(hits.count[q])
        got = [(int(d), float(s)) for d, s in zip(hits.doc_idx[q, :n], hits.scores[q, :n])]
        assert got == want  # bit for bit
        assert (hits.doc_idx[q, n:] == -1).all() and np.isneginf(hits.scores[q, n:]).all()


def test_hand_computed_rrf_and_minmax() -> None:
    bm25 = [(3, 9.0), (1, 5.0), (7, 1.0)]
    dense = [(1, 0.75), (4, 0.5)]
    # doc 1: 1/62 + 1/61, doc 3: 1/61, doc 4: 1/62, doc 7: 1/63
    assert fuse_rrf([bm25, dense], 10) == [(1, 1 / 62 + 1 / 61), (3, 1 / 61), (4, 1 / 62), (7, 1 / 63)]
    # min-max: bm25 3→1, 1→0.5, 7→0; dense 1→1, 4→0; equal weights 0.5
    assert fuse_linear([bm25, dense], [0.5, 0.5], 3) == [(1, 0.75), (3, 0.5), (4, 0.0)]
    assert fuse_rrf([[], []], 5) == []


def test_thread_count_does_not_change_the_result() -> None:
    rng = np.random.default_rng(0)
    n, width = 500, 50
    runs = []
    for _ in range(3):
        idx = np.stack([rng.permutation(200)[:width] for _ in range(n)]).astype(np.int32)
        scores = -np.sort(-rng.random((n, width)).astype(np.float32), axis=1)
        runs.append(Hits(idx, scores, np.full(n, width, dtype=np.int32)))
    for fusion in ("rrf", "linear"):
        one = fuse_hits(runs, 10, fusion=fusion, threads=1)
        two = fuse_hits(runs, 10, fusion=fusion, threads=2)
        assert np.array_equal(one.doc_idx, two.doc_idx) and np.array_equal(one.scores, two.scores)


def test_errors() -> None:
    run = (np.zeros((2, 3), np.int32), np.zeros((2, 3), np.float32), np.array([3, 3], np.int32))
    short = (np.zeros((1, 3), np.int32), np.zeros((1, 3), np.float32), np.array([3], np.int32))
    with pytest.raises(_core.ShapeError):
        _core.fuse([run, short], [1.0, 1.0], 5)
    with pytest.raises(_core.ShapeError):
        _core.fuse([run], [1.0, 1.0], 5)
    with pytest.raises(_core.ShapeError):
        _core.fuse([(run[0], run[1], np.array([4, 3], np.int32))], [1.0], 5)  # count > width
    with pytest.raises(_core.ParameterError):
        _core.fuse([run], [1.0], 5, fusion="max")
    with pytest.raises(_core.ParameterError):
        _core.fuse([run], [1.0], 5, fusion="linear", norm="l2")
    with pytest.raises(_core.ParameterError):
        _core.fuse([run], [1.0], 0)
