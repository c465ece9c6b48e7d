"""BM25 over many small corpora at once: the LaMP / CFRAG convention of one BM25 per user
profile (rank-bm25's BM25Okapi on `str.split()` tokens, k1 1.5, b 0.75, ε 0.25)."""

from __future__ import annotations

from typing import Any, Sequence


def bm25_score_groups(docs: Sequence[Sequence[str]], group_off: Sequence[int], queries: Sequence[Sequence[str]], *,
                      variant: str = "okapi", k1: float | None = None, b: float | None = None,
                      delta: float | None = None, epsilon: float | None = None, threads: int | None = None) -> Any:
    """Scores (float32, one per document) where documents ``docs[group_off[g]:group_off[g+1]]``
    are scored against ``queries[g]`` with N, df and avgdl of group g only."""
    from mstk import _core

    return _core.bm25_score_groups([list(d) for d in docs], [int(o) for o in group_off], [list(q) for q in queries],
                                   variant=variant, k1=k1, b=b, delta=delta, epsilon=epsilon, threads=threads)
