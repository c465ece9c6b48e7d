"""Seeded synthetic Zipf corpus for BM25 benchmarks and small tests (specs/retrieval.md,
"Synthetic Zipf corpus").

- ``numpy.random.Generator(PCG64(seed))``, one stream for everything, drawn in this order:
  all document lengths, the query documents and query sizes, then the tokens in chunks of
  100,000 documents, then the query terms.
- Vocabulary: V = 200,000 terms ``w<rank>`` (rank 1 … V, ``w1`` the most frequent),
  p(r) ∝ r^−1.1; tokens are drawn by inverting the CDF of p on uniform draws.
- Document length: round(lognormal(ln 50, 0.7)) clipped to [3, 2000]; text = the tokens
  joined by single spaces; ids ``d0000000`` (7 digits, wider past 10M documents).
- Queries (known item): a uniformly drawn document, 2–6 (uniform) distinct terms of it
  (fewer if it has fewer), drawn without replacement with weights ∝ p(r)^−0.5, so rarer
  terms are favoured; text = the terms in drawing order; ids ``q00000``; the gold document
  is the one drawn.

Same arguments → the same lists, and ``write_zipf_corpus`` → byte-identical files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

VOCAB = 200_000
ALPHA = 1.1
CHUNK_DOCS = 100_000
LEN_MEDIAN = 50
LEN_SIGMA = 0.7
LEN_MIN, LEN_MAX = 3, 2000
Q_MIN, Q_MAX = 2, 6


@dataclass
class ZipfCorpus:
    doc_ids: list[str]
    texts: list[str]
    query_ids: list[str]
    queries: list[str]
    gold: list[int]  # index of each query's known item in doc_ids


def _probabilities() -> np.ndarray:
    p = np.arange(1, VOCAB + 1, dtype=np.float64) ** -ALPHA
    return p / p.sum()


def zipf_corpus(n_docs: int = 1_000_000, seed: int = 0, n_queries: int = 10_000) -> ZipfCorpus:
    """Documents and known-item queries of the synthetic Zipf corpus (see the module doc)."""
    if n_docs < 1:
        raise ValueError("n_docs must be ≥ 1")
    if n_queries < 0:
        raise ValueError("n_queries must be ≥ 0")
    rng = np.random.Generator(np.random.PCG64(seed))
    p = _probabilities()
    cdf = np.cumsum(p)
    cdf[-1] = 1.0
    vocab = np.array([f"w{r}" for r in range(1, VOCAB + 1)], dtype=object)

    lengths = np.clip(np.rint(rng.lognormal(np.log(LEN_MEDIAN), LEN_SIGMA, n_docs)), LEN_MIN, LEN_MAX).astype(np.int64)
    q_docs = rng.integers(0, n_docs, n_queries)
    q_sizes = rng.integers(Q_MIN, Q_MAX + 1, n_queries)
    wanted: dict[int, np.ndarray | None] = dict.fromkeys(q_docs.tolist())

    width = max(7, len(str(n_docs - 1)))
    doc_ids = [f"d{i:0{width}d}" for i in range(n_docs)]
    texts: list[str] = []
    for start in range(0, n_docs, CHUNK_DOCS):
        chunk = lengths[start:start + CHUNK_DOCS]
        ranks = np.searchsorted(cdf, rng.random(int(chunk.sum())), side="right")  # 0-based rank index
        ranks = np.minimum(ranks, VOCAB - 1)
        bounds = np.concatenate(([0], np.cumsum(chunk)))
        words = vocab[ranks].tolist()
        texts.extend(" ".join(words[bounds[i]:bounds[i + 1]]) for i in range(len(chunk)))
        for d in wanted:
            if start <= d < start + len(chunk):
                wanted[d] = ranks[bounds[d - start]:bounds[d - start + 1]]

    weights = p ** -0.5
    width_q = max(5, len(str(n_queries - 1)))
    query_ids, queries = [], []
    for qi, (d, size) in enumerate(zip(q_docs.tolist(), q_sizes.tolist())):
        terms = np.unique(wanted[d])  # sorted distinct rank indexes
        w = weights[terms]
        chosen = rng.choice(terms, size=min(size, len(terms)), replace=False, p=w / w.sum())
        query_ids.append(f"q{qi:0{width_q}d}")
        queries.append(" ".join(vocab[chosen].tolist()))
    return ZipfCorpus(doc_ids, texts, query_ids, queries, q_docs.tolist())


def write_zipf_corpus(directory: str | Path, n_docs: int = 1_000_000, seed: int = 0, n_queries: int = 10_000) -> dict:
    """Write ``corpus.jsonl`` ({id, text}), ``queries.jsonl`` ({id, question, gold_ids})
    and ``qrels.txt`` (TREC) to DIRECTORY, the layout of ``mstk data export``."""
    import orjson

    c = zipf_corpus(n_docs, seed, n_queries)
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "corpus.jsonl", "wb") as f:
        for start in range(0, len(c.texts), CHUNK_DOCS):
            f.write(b"".join(orjson.dumps({"id": i, "text": t}) + b"\n"
                             for i, t in zip(c.doc_ids[start:start + CHUNK_DOCS], c.texts[start:start + CHUNK_DOCS])))
    with open(out / "queries.jsonl", "wb") as f:
        f.write(b"".join(orjson.dumps({"id": q, "question": t, "gold_ids": [c.doc_ids[g]]}) + b"\n"
                         for q, t, g in zip(c.query_ids, c.queries, c.gold)))
    with open(out / "qrels.txt", "w") as f:
        f.write("".join(f"{q} 0 {c.doc_ids[g]} 1\n" for q, g in zip(c.query_ids, c.gold)))
    return {"dataset": "zipf", "dir": str(out), "docs": n_docs, "queries": n_queries, "seed": seed,
            "tokens": sum(t.count(" ") + 1 for t in c.texts)}
