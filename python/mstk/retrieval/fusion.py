"""Fusing ranked lists from several indexes over one corpus (spec retrieval, "Fusion").

RRF: s(d) = Σ_r w_r / (rrf_k + rank_r(d)), ranks 1-based, absent = 0 (Cormack et al. 2009).
Linear: per run and query, min-max ((s − min) / max(max − min, 1e-9), as ranx), z-score or
raw scores, then Σ_r w_r·s_r over the union, absent = 0. Ties go to the lower doc index.

The arithmetic is the Rust core's (``_core.fuse``), one call per batch of queries; sums run
in run order in float64, so results do not depend on the thread count.
"""

from __future__ import annotations

from typing import Sequence

from mstk.retrieval.bm25 import Hits


def fuse_hits(results: Sequence[Hits], k: int, *, fusion: str = "rrf", rrf_k: float = 60.0,
              weights: Sequence[float] | None = None, norm: str = "minmax", threads: int | None = None) -> Hits:
    """Fuse the hits of several indexes for the same queries; scores are float64."""
    from mstk import _core

    weights = list(weights) if weights is not None else [1.0] * len(results)
    idx, scores, count = _core.fuse([(r.doc_idx, r.scores, r.count) for r in results], weights, k,
                                    fusion=fusion, rrf_k=rrf_k, norm=norm, threads=threads)
    return Hits(idx, scores, count)


def _one_query(runs: Sequence[Sequence[tuple[int, float]]]) -> list[Hits]:
    import numpy as np

    out = []
    for run in runs:
        width = max(len(run), 1)
        idx = np.full((1, width), -1, dtype=np.int32)
        scores = np.full((1, width), -np.inf, dtype=np.float32)
        for j, (doc, score) in enumerate(run):
            idx[0, j], scores[0, j] = doc, score
        out.append(Hits(idx, scores, np.array([len(run)], dtype=np.int32)))
    return out


def _pairs(hits: Hits) -> list[tuple[int, float]]:
    n = int(hits.count[0])
    return [(int(d), float(s)) for d, s in zip(hits.doc_idx[0, :n], hits.scores[0, :n])]


def fuse_rrf(runs: Sequence[Sequence[tuple[int, float]]], k: int, rrf_k: float = 60.0,
             weights: Sequence[float] | None = None) -> list[tuple[int, float]]:
    """One query's runs, each a ranked list of (doc index, score), fused by RRF."""
    return _pairs(fuse_hits(_one_query(runs), k, fusion="rrf", rrf_k=rrf_k, weights=weights))


def fuse_linear(runs: Sequence[Sequence[tuple[int, float]]], weights: Sequence[float], k: int,
                norm: str = "minmax") -> list[tuple[int, float]]:
    """One query's runs fused by a weighted sum of normalised scores (scores as float32)."""
    return _pairs(fuse_hits(_one_query(runs), k, fusion="linear", weights=weights, norm=norm))
