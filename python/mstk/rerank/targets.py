"""Fairness targets and traffic for online methods (specs/rerank.md §4.1–4.2), computed
by the host so every method reads them the same way."""

from __future__ import annotations

import numpy as np

from mstk.errors import ParameterError
from mstk.rerank.api import RerankBatch, RerankContext

FORECASTS = ("oracle", "last", "mean", "ewma")
EWMA_WEIGHT = 0.5  # weight of the newest count (specs/rerank.md §4.2)


def provider_share(batch: RerankBatch, ctx: RerankContext, deserved: str | None = None) -> np.ndarray:
    """share_p: equal (1/|P|), ∝ n_items, or ∝ weight."""
    deserved = deserved or ctx.deserved
    n = batch.n_providers
    if n == 0:  # no candidate anywhere: nothing to share
        return np.zeros(0)
    if deserved == "equal":
        return np.full(n, 1.0 / n)
    raw = np.asarray(ctx.n_items if deserved == "items" else ctx.weight, dtype=np.float64)
    if deserved not in ("items", "weight") or raw.sum() <= 0:
        raise ParameterError(f"--deserved must be equal, items or weight (with positive values); got {deserved!r}")
    return raw / raw.sum()


def deserved_exposure(batch: RerankBatch, ctx: RerankContext) -> np.ndarray:
    """γ_p = K·T·share_p."""
    return ctx.k * batch.n_requests * provider_share(batch, ctx)


def minimum_exposure(batch: RerankBatch, ctx: RerankContext) -> np.ndarray:
    """m_p: the providers file's min_exposure, else --min-exposure, else β·γ_p."""
    m = ctx.beta * deserved_exposure(batch, ctx) if ctx.min_exposure_default is None else np.full(batch.n_providers, ctx.min_exposure_default)
    for p, value in ctx.min_exposure_given.items():
        m[p] = value
    return m


def interval_traffic(batch: RerankBatch, start: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(interval index 0..N−1 per request, traffic r_n per interval); the horizon runs from
    ``start`` (default: the first interval in the batch) to the last interval, empty ones
    included."""
    first = (int(batch.interval.min()) if batch.n_requests else 0) if start is None else start
    index = (batch.interval - first).astype(np.int64)
    if batch.n_requests and index.min() < 0:
        raise ParameterError(f"interval {int(batch.interval.min())} lies before the horizon's start {first}")
    traffic = np.bincount(index, minlength=int(index.max()) + 1 if batch.n_requests else 0).astype(np.float64)
    return index, traffic


def read_traffic_history(path: str) -> np.ndarray:
    """``--traffic-history FILE``: a JSON list of non-negative counts per past interval,
    oldest first (what ``mstk recsys score --traffic-out`` writes)."""
    import orjson

    from mstk.errors import InputError

    with open(path, "rb") as f:
        raw = f.read()
    try:
        values = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InputError(path, 1, f"invalid JSON: {exc}") from None
    if not isinstance(values, list):
        raise InputError(path, 1, "traffic history must be a JSON list of counts per interval, oldest first")
    for i, v in enumerate(values):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v) or v < 0:
            raise InputError(path, 1, f"traffic history entry {i} must be a non-negative number, got {v!r}")
    return np.asarray(values, dtype=np.float64)


def _ewma(counts: np.ndarray) -> float:
    level = float(counts[0])
    for c in counts[1:]:
        level = EWMA_WEIGHT * float(c) + (1.0 - EWMA_WEIGHT) * level
    return level


def forecast_matrix(traffic: np.ndarray, window: int, mode: str = "oracle", history: np.ndarray | None = None) -> np.ndarray:
    """Row n: forecasts made at the start of interval n for n..n+W−1 (0 past the horizon).

    oracle uses the actual counts (it looks ahead: a replay knows the future). last, mean
    and ewma (newest count weighted 0.5) read the past: ``history`` (counts of the
    intervals before the stream, oldest first) followed by the intervals already
    processed; with no past at all the forecast is flat. Forecasts below 1 become 1, so an
    interval is never planned as empty."""
    if mode not in FORECASTS:
        raise ParameterError(f"--forecast must be one of {', '.join(FORECASTS)}; got {mode!r}")
    past_all = np.concatenate([np.asarray(history if history is not None else [], dtype=np.float64), np.asarray(traffic, dtype=np.float64)])
    n_hist = len(past_all) - len(traffic)
    n_int = len(traffic)
    out = np.zeros((n_int, window))
    for n in range(n_int):
        horizon = min(window, n_int - n)
        past = past_all[: n_hist + n]
        if mode == "oracle":
            values = traffic[n : n + horizon]
        elif len(past) == 0:
            values = np.ones(horizon)
        elif mode == "last":
            values = np.full(horizon, past[-1])
        elif mode == "mean":
            values = np.full(horizon, past.mean())
        else:
            values = np.full(horizon, _ewma(past))
        out[n, :horizon] = np.maximum(values, 1.0)
    return out
