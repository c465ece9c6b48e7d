"""Invariants every re-ranking method keeps (specs/rerank.md Tests), checked with
hypothesis on random streams: min(K, |C_t|) distinct items from the request, count methods
displayed by score, exposure = shown slots (count methods), NDCG in [0, 1], and identical
output for 1 and 2 threads."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mstk.plugins import get_plugin_manager, rerankers
from mstk.rerank import run_rerank

METHODS = sorted(rerankers(get_plugin_manager()))
FILL_ORDER = {"tfrom"}  # keeps its fill order and weights exposure by position


@st.composite
def streams(draw):
    n_requests = draw(st.integers(1, 12))
    n_providers = draw(st.integers(1, 4))
    records = []
    for r in range(n_requests):
        n = draw(st.integers(0, 9))
        scores = draw(st.lists(st.integers(0, 5), min_size=n, max_size=n))  # ties on purpose
        providers = draw(st.lists(st.integers(0, n_providers - 1), min_size=n, max_size=n))
        records.append({"request_id": f"r{r}", "interval": draw(st.integers(0, 2)) if r else 0,
                        "items": [f"i{j}" for j in range(n)], "scores": [s / 5 for s in scores],
                        "providers": [f"P{p}" for p in providers]})
    records.sort(key=lambda rec: rec["interval"])
    return records, draw(st.integers(1, 5))


@pytest.mark.parametrize("method", METHODS)
@settings(max_examples=40, deadline=None)
@given(case=streams())
def test_invariants(method, case):
    records, k = case
    params = {"alpha": 1.0} if method == "fairrec" else {}
    out = run_rerank(records, method, k=k, params=params, threads=1)
    assert run_rerank(records, method, k=k, params=params, threads=2) == out
    assert [r["request_id"] for r in out] == [r["request_id"] for r in records]
    for rec, res in zip(records, out):
        items = res["rec_items"]
        assert len(items) == min(k, len(rec["items"])) == len(set(items))
        assert set(items) <= set(rec["items"])
        position = {item: j for j, item in enumerate(rec["items"])}
        assert res["rec_providers"] == [rec["providers"][position[i]] for i in items]
        if method not in FILL_ORDER:
            pairs = [(-s, position[i]) for s, i in zip(res["rec_scores"], items)]
            assert pairs == sorted(pairs)  # by normalised score, ties by position
        assert 0.0 <= res["ndcg"] <= 1.0 + 1e-12


@pytest.mark.parametrize("method", [m for m in METHODS if m not in FILL_ORDER])
def test_exposure_counts_the_shown_slots(method):
    from mstk.io import ErrorPolicy, dumps_records
    from mstk.rerank.engine import RerankJob

    rng = np.random.default_rng(0)
    records = [{"request_id": f"r{r}", "interval": r // 20, "items": [f"i{j}" for j in range(12)],
                "scores": rng.random(12).tolist(), "providers": [f"P{p}" for p in rng.integers(0, 4, 12)]} for r in range(60)]
    cls = rerankers(get_plugin_manager())[method]
    job = RerankJob(method=cls(), params=cls.resolve_params({}), k=4)
    out, n, _ = job.process(dumps_records(records), 1, ErrorPolicy("<test>"))
    shown = {}
    for line in out.splitlines():
        import orjson

        for p in orjson.loads(line)["rec_providers"]:
            shown[p] = shown.get(p, 0) + 1
    assert n == 60 and {p: e for p, e in job.exposure.items() if e} == shown
