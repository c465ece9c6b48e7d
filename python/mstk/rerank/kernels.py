"""Public wrappers of the Rust re-ranking kernels, for the host and for plugins.

Plugins call these rather than ``mstk._core`` (which is private and may change)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mstk import _core
from mstk.rerank.api import RerankBatch, RerankContext, RerankResult

if TYPE_CHECKING:
    import numpy as np
# numpy is imported where it is used: loading the methods must not cost its import, which
# the top-K streaming lane of `mstk rerank` never needs.


def topk_priced(scores, providers, k: int, price=None, w: float = 1.0, blocked=None) -> np.ndarray:
    """Positions of the min(k, n) best candidates by ``w·s − price[provider]`` (ties: unblocked
    first, then lower position), displayed by score descending."""
    import numpy as np

    return _core.topk_priced(
        np.ascontiguousarray(scores, dtype=np.float64),
        np.ascontiguousarray(providers, dtype=np.int32),
        int(k),
        None if price is None else np.ascontiguousarray(price, dtype=np.float64),
        float(w),
        None if blocked is None else np.ascontiguousarray(blocked, dtype=np.bool_),
    )


def allocate(rule: str, estate: float, claims) -> np.ndarray:
    """Divide ``estate`` among ``claims`` by ``rule``: "cea" (constrained equal awards),
    "cel" (constrained equal losses), "talmud" (Aumann–Maschler) or "proportional"."""
    import numpy as np

    return _core.allocate(rule, float(estate), np.ascontiguousarray(claims, dtype=np.float64))


def run_online(batch: RerankBatch, ctx: RerankContext, method: str, params: dict[str, Any] | None = None) -> RerankResult:
    """Replay ``batch`` in its processing order with one of the core's online methods."""
    out = _core.run_online(
        batch.offsets,
        batch.score,
        batch.provider,
        batch.n_providers,
        batch.order,
        batch.interval,
        ctx.weight,
        ctx.k,
        method,
        params or {},
        ctx.threads,
    )
    extra = {"carry": out["carry"]} if len(out["carry"]) else {}
    return RerankResult(
        sel_offsets=out["sel_offsets"], sel=out["sel"], dcg=out["dcg"], idcg=out["idcg"], exposure=out["exposure"], extra=extra,
    )


def run_bankfair(batch: RerankBatch, ctx: RerankContext, params: dict[str, Any], plus: bool = False,
                 state: bytes | None = None) -> RerankResult:
    """BankFair (consistent variant), or with ``plus`` the BankFair+ reconstruction, over
    ``batch``; allocations and deliveries per interval (N×P) come back in ``extra``.

    BankFair+'s V_ref (``v_ref="auto"``) is Var_p(e_p/γ_p) of top-K on the same stream.
    ``state`` (JSON bytes from an earlier run's ``RerankResult.state``) continues a saved
    run: its estates replace m_p as the starting estate of the providers it knows, and μ
    and its momentum start where they stopped. The result's ``state`` holds them again."""
    import numpy as np
    import orjson

    from mstk.rerank import targets
    from mstk.rerank.state import by_name, from_names

    names = batch.provider_names
    index, traffic = targets.interval_traffic(batch, ctx.horizon_start)
    window = int(params.get("window", 3))
    forecast = targets.forecast_matrix(traffic, window, ctx.forecast, ctx.traffic_history)
    n_items = np.maximum(np.asarray(ctx.n_items, dtype=np.float64), 0.0)
    gamma = targets.deserved_exposure(batch, ctx)
    v_ref = 0.0
    core_params = dict(params)
    if plus:
        given = core_params.pop("v_ref", "auto")
        if given == "auto" and batch.n_providers:
            top = run_online(batch, ctx, "topk").exposure
            v_ref = float(np.var(np.divide(top, gamma, out=np.zeros_like(top), where=gamma > 0)))
        elif given != "auto":
            v_ref = float(given)
    estate = targets.minimum_exposure(batch, ctx)
    saved = orjson.loads(state) if state else {}
    mu0 = g_cum0 = None
    if saved:
        estate = from_names(saved.get("estate"), names, estate)
        mu0, g_cum0 = from_names(saved.get("mu"), names), from_names(saved.get("g_cum"), names)
    out = _core.run_bankfair(
        batch.offsets, batch.score, batch.provider, batch.n_providers, batch.order, index, ctx.k,
        estate, n_items, targets.provider_share(batch, ctx, "weight"),
        traffic, forecast.ravel(), core_params, ctx.threads, plus, gamma, v_ref, mu0, g_cum0,
    )
    shape = (len(traffic), batch.n_providers)
    carried = {"estate": by_name(out["estate"], names), "mu": by_name(out["mu"], names), "g_cum": by_name(out["g_cum"], names)}
    return RerankResult(
        sel_offsets=out["sel_offsets"], sel=out["sel"], dcg=out["dcg"], idcg=out["idcg"], exposure=out["exposure"],
        extra={"allocated": out["allocated"].reshape(shape), "delivered": out["delivered"].reshape(shape), "v_ref": v_ref,
               "horizon_start": (int(batch.interval.min()) if batch.n_requests else 0) if ctx.horizon_start is None else ctx.horizon_start},
        state=orjson.dumps(carried),
    )
