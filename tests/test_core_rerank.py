"""The Rust re-ranking kernels through mstk._core: parity with numpy references,
thread-count invariance, and the CoreError → Python exception mapping."""

from __future__ import annotations

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mstk import _core
from mstk.rerank import kernels


def numpy_topk(scores: np.ndarray, k: int, keys: np.ndarray | None = None, blocked: np.ndarray | None = None) -> list[int]:
    """Reference: rank by (unblocked, key desc, position asc), take k, show by (score desc, position asc)."""
    n = len(scores)
    keys = scores if keys is None else keys
    blocked = np.zeros(n, dtype=bool) if blocked is None else blocked
    positions = np.arange(n)
    chosen = np.lexsort((positions, -keys, blocked))[: min(k, n)]
    return sorted(chosen.tolist(), key=lambda j: (-scores[j], j))


@st.composite
def ragged_batches(draw):
    n_requests = draw(st.integers(1, 12))
    sizes = draw(st.lists(st.integers(0, 30), min_size=n_requests, max_size=n_requests))
    # Scores on a coarse grid so ties are frequent: the tie rule is part of the contract.
    scores = draw(st.lists(st.integers(0, 6), min_size=sum(sizes), max_size=sum(sizes)))
    n_providers = draw(st.integers(1, 5))
    providers = draw(st.lists(st.integers(0, n_providers - 1), min_size=sum(sizes), max_size=sum(sizes)))
    k = draw(st.integers(1, 40))
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    return offsets, np.array(scores, dtype=np.float64) / 6, np.array(providers, dtype=np.int32), n_providers, k


def run_topk(offsets, scores, providers, n_providers, k, threads=None):
    t = len(offsets) - 1
    return _core.run_online(
        offsets, scores, providers, n_providers, np.arange(t, dtype=np.int64), np.zeros(t, dtype=np.int64),
        np.ones(n_providers), k, "topk", None, threads,
    )


@settings(max_examples=200, deadline=None)
@given(ragged_batches())
def test_topk_matches_numpy_on_ragged_batches(batch):
    offsets, scores, providers, n_providers, k = batch
    out = run_topk(offsets, scores, providers, n_providers, k)
    for t in range(len(offsets) - 1):
        s = scores[offsets[t] : offsets[t + 1]]
        got = out["sel"][out["sel_offsets"][t] : out["sel_offsets"][t + 1]].tolist()
        assert got == numpy_topk(s, k)
        assert out["dcg"][t] == pytest.approx(out["idcg"][t])
    assert out["exposure"].sum() == len(out["sel"])


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(0, 5), min_size=0, max_size=60),
    st.integers(1, 70),
    st.lists(st.floats(-1, 1, allow_nan=False), min_size=3, max_size=3),
    st.lists(st.booleans(), min_size=3, max_size=3),
    st.integers(0, 2**31),
)
def test_topk_priced_matches_numpy_with_prices_and_blocking(grid, k, price, blocked, seed):
    scores = np.array(grid, dtype=np.float64) / 5
    rng = np.random.default_rng(seed)
    providers = rng.integers(0, 3, size=len(scores)).astype(np.int32)
    price = np.array(price)
    blocked = np.array(blocked)
    got = kernels.topk_priced(scores, providers, k, price=price, w=1.0, blocked=blocked).tolist()
    assert got == numpy_topk(scores, k, keys=scores - price[providers], blocked=blocked[providers])


def test_thread_count_does_not_change_results():
    rng = np.random.default_rng(7)
    sizes = rng.integers(1, 200, size=3000)
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    scores = rng.random(offsets[-1])
    providers = rng.integers(0, 50, size=offsets[-1]).astype(np.int32)
    one = run_topk(offsets, scores, providers, 50, 10, threads=1)
    two = run_topk(offsets, scores, providers, 50, 10, threads=2)
    for key in one:
        np.testing.assert_array_equal(one[key], two[key])


def test_error_types_map_to_python_exceptions():
    assert issubclass(_core.RecordError, _core.CoreError) and issubclass(_core.CoreError, ValueError)
    with pytest.raises(_core.RecordError) as info:
        _core.RequestBatch.parse(b'{"items":["a"],"scores":[1],"providers":["P"]}\n\n{"items":1}\n', 10)
    line, reason = info.value.args
    assert line == 12 and "'items' must be a list of strings" in reason
    with pytest.raises(_core.ShapeError, match="offsets end at 3"):
        _core.normalize_scores(np.array([0, 3], dtype=np.int64), np.zeros(2), "minmax")
    with pytest.raises(_core.ParameterError, match="unknown normalisation"):
        _core.normalize_scores(np.array([0], dtype=np.int64), np.zeros(0), "zscore")
    with pytest.raises(_core.ParameterError, match="not finite"):
        kernels.topk_priced(np.array([np.nan]), np.array([0]), 1)
    with pytest.raises(TypeError):  # wrong dtype never reaches the core
        _core.normalize_scores(np.array([0, 1], dtype=np.float64), np.zeros(1), "minmax")


def test_online_inputs_are_checked_as_they_are_copied():
    """run_online copies the candidate arrays and checks them in the same pass; a bad
    value anywhere (here on both sides of a 1024-value chunk edge) names its index, and
    strided arrays give the same lists as contiguous ones."""
    rng = np.random.default_rng(3)
    offsets = np.arange(0, 3001, 30, dtype=np.int64)
    scores = rng.random(3000)
    providers = rng.integers(0, 7, size=3000).astype(np.int32)
    order = np.arange(100, dtype=np.int64)
    interval = np.zeros(100, dtype=np.int64)

    def run(s, p):
        return _core.run_online(offsets, s, p, 7, order, interval, np.ones(7), 5, "min_regularizer", {"lambda": 2.0}, 1)

    for at in (0, 1023, 1024, 2999):
        bad = scores.copy()
        bad[at] = np.inf
        with pytest.raises(_core.ParameterError, match=f"^score {at} is not finite"):
            run(bad, providers)
        wrong = providers.copy()
        wrong[at] = 7
        with pytest.raises(_core.ParameterError, match=f"^provider id 7 at candidate {at} is outside 0..7"):
            run(scores, wrong)
    strided_s, strided_p = np.repeat(scores, 2)[::2], np.repeat(providers, 2)[::2]
    assert not strided_s.flags.c_contiguous and not strided_p.flags.c_contiguous
    want, got = run(scores, providers), run(strided_s, strided_p)
    for key in want:
        np.testing.assert_array_equal(want[key], got[key])


def test_parse_collect_mode_returns_every_bad_line_and_keeps_the_rest():
    data = b'{"items":["a"],"scores":[1],"providers":["P"]}\nnot json\n{"items":["a","a"],"scores":[1,2],"providers":["P","P"]}\n'
    batch, bad = _core.RequestBatch.parse(data, 1, on_error="collect")
    assert batch.n_requests == 1 and batch.line.tolist() == [1]
    assert [line for line, _ in bad] == [2, 3]


def test_minmax_normalisation_by_hand():
    out = _core.normalize_scores(np.array([0, 3, 4], dtype=np.int64), np.array([2.0, 4.0, 3.0, -1.0]), "minmax")
    assert out.tolist() == [0.0, 1.0, 0.5, 1.0]


@pytest.mark.parametrize("mode", ["minmax", "sigmoid", "none"])
def test_batch_normalisation_equals_the_array_function(mode):
    rng = np.random.default_rng(3)
    lines = []
    for r in range(300):
        n = int(rng.integers(0, 40))
        scores = (rng.normal(size=n) * 3).round(2).tolist()  # rounding makes constant rows likely
        lines.append(orjson.dumps({"items": [f"i{j}" for j in range(n)], "scores": scores, "providers": ["P"] * n}))
    batch, _ = _core.RequestBatch.parse(b"\n".join(lines) + b"\n")
    expected = _core.normalize_scores(batch.offsets, batch.score, mode)
    np.testing.assert_array_equal(batch.normalized_scores(mode, 2), expected)
    np.testing.assert_array_equal(batch.normalized_scores(mode, 1), expected)
