"""Seeded synthetic request streams with fluctuating traffic (specs/rerank.md, Data):
what real data cannot pin down (e.g. ~10× swings between busy and quiet intervals)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from mstk.errors import ParameterError

DAY = 86400


@dataclass
class SynthOptions:
    providers: int = 20
    items_per_provider: int = 20
    provider_sizes: str = "equal"  # or "zipf"
    users: int = 300
    intervals: int = 14
    base_traffic: float = 50.0
    amplitude: float = 0.9
    period: float = 7.0
    traffic_noise: float = 0.1
    popularity_zipf: float = 1.0
    dim: int = 8
    candidates: int | None = None  # None = all items
    min_exposure_quantile: float = 0.5
    k: int = 10
    seed: int = 0


def synth(o: SynthOptions) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:
    """Returns (requests, providers rows with min_exposure, stats)."""
    if o.providers < 1 or o.items_per_provider < 1 or o.users < 1 or o.intervals < 1 or o.dim < 1 or o.k < 1:
        raise ParameterError("providers, items per provider, users, intervals, dim and k must be >= 1")
    if not 0 <= o.min_exposure_quantile <= 1:
        raise ParameterError("--min-exposure-quantile must lie in [0, 1]")
    rng = np.random.default_rng(o.seed)
    if o.provider_sizes == "zipf":
        raw = 1.0 / np.arange(1, o.providers + 1)
        sizes = np.maximum(1, np.round(raw / raw.sum() * o.providers * o.items_per_provider)).astype(int)
    else:
        sizes = np.full(o.providers, o.items_per_provider)
    item_provider = np.repeat(np.arange(o.providers), sizes)
    n_items = len(item_provider)
    popularity = 1.0 / np.arange(1, o.providers + 1) ** o.popularity_zipf
    bias = np.log(popularity / popularity.max())  # b_p = log Zipf popularity: 0 for the top provider
    # U, V ~ N(0, 1/√dim) read as variance 1/√dim: ⟨U, V⟩ then has unit variance, the same
    # scale as the provider bias, so taste and popularity both matter
    scale = o.dim ** -0.25
    users = rng.normal(0, scale, size=(o.users, o.dim))
    items = rng.normal(0, scale, size=(n_items, o.dim))
    activity = 1.0 / np.arange(1, o.users + 1)
    activity /= activity.sum()
    traffic = [
        max(1, int(round(o.base_traffic * (1 + o.amplitude * np.sin(2 * np.pi * n / o.period)) * np.exp(o.traffic_noise * rng.normal()))))
        for n in range(o.intervals)
    ]
    requests = []
    for n, count in enumerate(traffic):
        times = np.sort(rng.uniform(n * DAY, (n + 1) * DAY, size=count)).astype(np.int64)
        for ts in times:
            u = int(rng.choice(o.users, p=activity))
            scores = 1.0 / (1.0 + np.exp(-(items @ users[u] + bias[item_provider])))
            chosen = np.arange(n_items)
            if o.candidates is not None and o.candidates < n_items:
                chosen = np.lexsort((chosen, -scores))[: o.candidates]
            requests.append({
                "request_id": f"r{len(requests)}", "user": f"u{u}", "ts": int(ts), "interval": n,
                "items": [f"i{i}" for i in chosen], "scores": [round(float(s), 12) for s in scores[chosen]],
                "providers": [f"p{item_provider[i]}" for i in chosen], "synthetic": True,
            })
    # m = the quantile (nearest rank, higher) of the providers' top-K exposures
    exposure = np.zeros(o.providers)
    for r in requests:
        s = np.array(r["scores"])
        top = np.lexsort((np.arange(len(s)), -s))[: o.k]
        for j in top:
            exposure[int(r["providers"][j][1:])] += 1
    # nearest rank, higher: at q·n exactly on a rank, take the next one up (so with q = .5
    # about half the providers fall below m under top-K)
    ranked = np.sort(exposure)
    m = float(ranked[min(len(ranked) - 1, int(np.floor(o.min_exposure_quantile * len(ranked))))])
    providers = [{"provider": f"p{p}", "n_items": int(sizes[p]), "weight": float(popularity[p] / popularity.sum()),
                  "min_exposure": m, "synthetic": True} for p in range(o.providers)]
    stats = {"requests": len(requests), "intervals": o.intervals, "traffic": traffic, "min_exposure": m,
             "below_under_topk": int((exposure < m).sum()), "synthetic": True}
    return requests, providers, stats
