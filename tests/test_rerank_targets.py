"""Fairness targets and traffic forecasts the host computes for online methods."""

from __future__ import annotations

import numpy as np
import pytest

from mstk.errors import ParameterError
from mstk.rerank.api import RerankBatch, RerankContext
from mstk.errors import InputError
from mstk.rerank.targets import deserved_exposure, forecast_matrix, interval_traffic, minimum_exposure, read_traffic_history


def batch(intervals, n_providers=3):
    t = len(intervals)
    return RerankBatch(
        offsets=np.zeros(t + 1, dtype=np.int64), provider=np.zeros(0, dtype=np.int32), score=np.zeros(0),
        interval=np.array(intervals, dtype=np.int64), order=np.arange(t), provider_names=[f"P{i}" for i in range(n_providers)],
        item_ids=lambda: (np.zeros(0, dtype=np.int32), []),
    )


def test_traffic_counts_empty_intervals_too():
    index, traffic = interval_traffic(batch([5, 5, 7, 9, 9, 9]))
    assert index.tolist() == [0, 0, 2, 4, 4, 4]
    assert traffic.tolist() == [2, 0, 1, 0, 3]


def test_forecasts_by_hand():
    traffic = np.array([2.0, 0.0, 6.0, 4.0])
    np.testing.assert_array_equal(forecast_matrix(traffic, 3, "oracle"), [[2, 1, 6], [1, 6, 4], [6, 4, 0], [4, 0, 0]])
    np.testing.assert_array_equal(forecast_matrix(traffic, 2, "last"), [[1, 1], [2, 2], [1, 1], [6, 0]])
    np.testing.assert_array_equal(forecast_matrix(traffic, 2, "mean"), [[1, 1], [2, 2], [1, 1], [8 / 3, 0]])
    # ewma (newest count weighted 0.5) without history: flat, then 2, 0.5·0 + 0.5·2 = 1, 0.5·6 + 0.5·1
    np.testing.assert_array_equal(forecast_matrix(traffic, 2, "ewma"), [[1, 1], [2, 2], [1, 1], [3.5, 0]])
    with pytest.raises(ParameterError):
        forecast_matrix(traffic, 2, "gru")


def test_forecasts_read_the_history_before_the_stream():
    traffic, history = np.array([2.0, 0.0, 6.0, 4.0]), np.array([4.0, 2.0])
    # the past at interval n is history + traffic[:n]; oracle ignores it
    np.testing.assert_array_equal(forecast_matrix(traffic, 2, "oracle", history), forecast_matrix(traffic, 2, "oracle"))
    np.testing.assert_array_equal(forecast_matrix(traffic, 2, "last", history), [[2, 2], [2, 2], [1, 1], [6, 0]])
    np.testing.assert_allclose(forecast_matrix(traffic, 2, "mean", history), [[3, 3], [8 / 3, 8 / 3], [2, 2], [2.8, 0]])
    # ewma: 0.5·2 + 0.5·4 = 3 → 2.5 → 1.25 → 0.5·6 + 0.5·1.25 = 3.625
    np.testing.assert_allclose(forecast_matrix(traffic, 2, "ewma", history), [[3, 3], [2.5, 2.5], [1.25, 1.25], [3.625, 0]])


@pytest.mark.parametrize("text, message", [
    (b"[3, 0, 2.5]", None),
    (b"{\"a\": 1}", "must be a JSON list"),
    (b"[1, -2]", "entry 1 must be a non-negative number"),
    (b"[1, true]", "entry 1 must be a non-negative number"),
    (b"[1,", "invalid JSON"),
])
def test_traffic_history_file(tmp_path, text, message):
    path = tmp_path / "traffic.json"
    path.write_bytes(text)
    if message is None:
        assert read_traffic_history(str(path)).tolist() == [3, 0, 2.5]
        return
    with pytest.raises(InputError, match=message) as info:
        read_traffic_history(str(path))
    assert str(path) in str(info.value)


def test_minimum_exposure_precedence():
    b = batch([0, 0, 1, 1])  # T = 4
    ctx = RerankContext(k=3, weight=np.array([1.0, 1.0, 2.0]), beta=0.5)
    np.testing.assert_allclose(deserved_exposure(b, ctx), [4, 4, 4])  # K·T/|P|
    np.testing.assert_allclose(minimum_exposure(b, ctx), [2, 2, 2])  # β·γ
    ctx = RerankContext(k=3, weight=np.array([1.0, 1.0, 2.0]), beta=0.5, deserved="weight", min_exposure_given={1: 7.0})
    np.testing.assert_allclose(deserved_exposure(b, ctx), [3, 3, 6])
    np.testing.assert_allclose(minimum_exposure(b, ctx), [1.5, 7, 3])  # file value wins
    ctx = RerankContext(k=3, weight=np.ones(3), min_exposure_default=5.0, min_exposure_given={0: 1.0})
    np.testing.assert_allclose(minimum_exposure(b, ctx), [1, 5, 5])
