"""Fairness targets and traffic for online methods (specs/rerank.md §4.1–4.2), computed
by the host so every method reads them the same way."""

from __future__ import annotations

import numpy as np

from mstk.errors import ParameterError
from mstk.rerank.api import RerankBatch, RerankContext

FORECASTS = ("oracle", "last", "mean")


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


def interval_traffic(batch: RerankBatch) -> tuple[np.ndarray, np.ndarray]:
    """(interval index 0..N−1 per request, traffic r_n per interval); the horizon runs from
    the first to the last interval, empty ones included."""
    first = int(batch.interval.min()) if batch.n_requests else 0
    index = (batch.interval - first).astype(np.int64)
    traffic = np.bincount(index, minlength=int(index.max()) + 1 if batch.n_requests else 0).astype(np.float64)
    return index, traffic


def forecast_matrix(traffic: np.ndarray, window: int, mode: str = "oracle") -> np.ndarray:
    """Row n: forecasts made at the start of interval n for n..n+W−1 (0 past the horizon).

    oracle uses the actual counts (it looks ahead: a replay knows the future); last and mean
    use the counts of intervals already processed (flat when there is none yet). Forecasts
    below 1 become 1, so an interval is never planned as empty."""
    if mode not in FORECASTS:
        raise ParameterError(f"--forecast must be one of {', '.join(FORECASTS)}; got {mode!r}")
    n_int = len(traffic)
    out = np.zeros((n_int, window))
    for n in range(n_int):
        horizon = min(window, n_int - n)
        if mode == "oracle":
            values = traffic[n : n + horizon]
        elif n == 0:
            values = np.ones(horizon)
        elif mode == "last":
            values = np.full(horizon, traffic[n - 1])
        else:
            values = np.full(horizon, traffic[:n].mean())
        out[n, :horizon] = np.maximum(values, 1.0)
    return out
