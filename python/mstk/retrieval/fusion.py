"""Fusing ranked lists from several indexes over one corpus (spec retrieval, "Fusion").

RRF: s(d) = Σ_r w_r / (rrf_k + rank_r(d)), ranks 1-based, absent = 0 (Cormack et al. 2009).
Linear: per run and query, min-max ((s − min) / max(max − min, 1e-9), as ranx), z-score or
raw scores, then Σ_r w_r·s_r over the union, absent = 0. Ties go to the lower doc index.
"""

from __future__ import annotations

from typing import Sequence


def fuse_rrf(runs: Sequence[Sequence[tuple[int, float]]], k: int, rrf_k: float = 60.0,
             weights: Sequence[float] | None = None) -> list[tuple[int, float]]:
    weights = weights or [1.0] * len(runs)
    fused: dict[int, float] = {}
    for w, run in zip(weights, runs):
        for rank, (doc, _) in enumerate(run, start=1):
            fused[doc] = fused.get(doc, 0.0) + w / (rrf_k + rank)
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))[:k]


def _normalised(run: Sequence[tuple[int, float]], norm: str) -> dict[int, float]:
    if not run:
        return {}
    scores = [s for _, s in run]
    if norm == "minmax":
        lo, hi = min(scores), max(scores)
        return {d: (s - lo) / max(hi - lo, 1e-9) for d, s in run}
    if norm == "zscore":
        mean = sum(scores) / len(scores)
        std = (sum((s - mean) ** 2 for s in scores) / len(scores)) ** 0.5
        return {d: (s - mean) / max(std, 1e-9) for d, s in run}
    return dict(run)


def fuse_linear(runs: Sequence[Sequence[tuple[int, float]]], weights: Sequence[float], k: int,
                norm: str = "minmax") -> list[tuple[int, float]]:
    fused: dict[int, float] = {}
    for w, run in zip(weights, runs):
        for doc, s in _normalised(run, norm).items():
            fused[doc] = fused.get(doc, 0.0) + w * s
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))[:k]
