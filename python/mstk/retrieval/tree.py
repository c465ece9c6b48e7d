"""Two-level tree retrieval (as SyLeR retrieves statutes, then cases under each): the top
``k_parent`` parents by the parent index, then for each the top ``k_child`` of its linked
children by the child index, all children ranked in one grouped top-k call.

Either level may be BM25 or dense. Dense children score each linked child by its own
dot product with the query vector (encoded with the child index's encoder, or given as
``child_query_vectors``), so every linked child is a candidate; BM25 children rank only
those matching a query term.

The paper (arXiv:2504.04042) only says statutes come first and cases under each; the
rest is mstk's reconstruction. A child linked to two kept parents appears under both; a
parent without (matching) children gets ``children: []``.
"""

from __future__ import annotations

from typing import Any, Sequence

from mstk.retrieval.bm25 import Bm25


def tree_retrieve(parents: Any, children: Any, links_off: Sequence[int], links: Sequence[int], queries: Sequence[str],
                  k_parent: int = 3, k_child: int = 2, threads: int | None = None,
                  child_query_vectors: Any = None) -> list[list[dict[str, Any]]]:
    """``parents`` / ``children``: ``Bm25`` or ``Dense`` indexes; ``links[links_off[p]:
    links_off[p+1]]`` are parent p's children (child row numbers)."""
    if len(links_off) != parents.n_docs + 1 or links_off[0] != 0 or links_off[-1] != len(links):
        raise ValueError("links_off must have one entry per parent plus one, from 0 to len(links)")
    queries = list(queries)
    top = parents.search(queries, k_parent, threads)
    group_query, cand, cand_off, kept = [], [], [0], []
    for i in range(len(queries)):
        for j in range(int(top.count[i])):
            p = int(top.doc_idx[i, j])
            kept.append((i, p, float(top.scores[i, j])))
            group_query.append(i)
            cand.extend(int(c) for c in links[links_off[p]:links_off[p + 1]])
            cand_off.append(len(cand))
    out: list[list[dict[str, Any]]] = [[] for _ in queries]
    if not kept:
        return out
    if isinstance(children, Bm25):
        child_hits = children._index.topk_groups(queries, group_query, cand, cand_off, k_child, threads)
    else:
        import numpy as np

        vectors = child_query_vectors
        if vectors is None:
            from mstk.retrieval.dense import encoder_for

            vectors = encoder_for(children.encoder, threads).encode(queries, kind="query")
        child_hits = children._index.topk_groups(np.ascontiguousarray(vectors, dtype=np.float32), group_query, cand,
                                                 cand_off, k_child, threads)
    idx, scores, count = child_hits
    for g, (i, p, score) in enumerate(kept):
        kids = [{"id": children.doc_id(int(idx[g, j])), "score": float(scores[g, j]), "rank": j + 1}
                for j in range(int(count[g]))]
        out[i].append({"id": parents.doc_id(p), "score": score, "rank": len(out[i]) + 1, "children": kids})
    return out
