"""Accuracy and fairness metrics of re-ranked lists (specs/rerank.md §4.6).

Input records are ``mstk rerank`` output: ``ndcg``, ``interval``, ``rec_providers`` and,
when present, ``rec_items`` + ``target_item`` (hit rate) and ``user`` (per-user forms).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np

from mstk import _core
from mstk.errors import InputError, ParameterError


@dataclass
class EvalOptions:
    k: int = 10
    phi: float = 0.95
    beta: float = 0.9
    min_exposure: float | None = None
    deserved: str = "equal"  # equal | items | weight
    exposure: str = "count"  # count | dcg
    providers: dict[str, dict[str, Any]] = field(default_factory=dict)


def _number(record: dict, key: str, line: int, source: str) -> float:
    value = record.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
        raise InputError(source, line, f"'{key}' must be a finite number (is this `mstk rerank` output?)")
    return float(value)


def evaluate(records: Iterable[tuple[int, dict[str, Any]]], options: EvalOptions, source: str = "<records>") -> dict[str, Any]:
    """Metrics JSON for (line number, record) pairs."""
    if options.deserved not in ("equal", "items", "weight"):
        raise ParameterError(f"deserved must be equal, items or weight; got {options.deserved!r}")
    if options.exposure not in ("count", "dcg"):
        raise ParameterError(f"exposure must be count or dcg; got {options.exposure!r}")
    ndcg, interval, users, hits = [], [], [], []
    universe: dict[str, int] = {name: i for i, name in enumerate(options.providers)}
    exposure: list[float] = [0.0] * len(universe)
    delivered: dict[int, dict[str, float]] = {}
    weights = 1.0 / np.log2(np.arange(2, options.k + 2))
    for line, record in records:
        ndcg.append(_number(record, "ndcg", line, source))
        n = record.get("interval")
        if isinstance(n, bool) or not isinstance(n, int):
            raise InputError(source, line, "'interval' must be an integer (is this `mstk rerank` output?)")
        interval.append(n)
        providers = record.get("rec_providers")
        if not isinstance(providers, list) or not all(isinstance(p, str) for p in providers):
            raise InputError(source, line, "'rec_providers' must be a list of strings")
        if len(providers) > options.k:
            raise InputError(source, line, f"a list of {len(providers)} items is longer than -k {options.k}")
        per_interval = delivered.setdefault(n, {})
        for slot, p in enumerate(providers):
            if p not in universe:
                universe[p] = len(universe)
                exposure.append(0.0)
            gain = 1.0 if options.exposure == "count" else float(weights[slot])
            exposure[universe[p]] += gain
            per_interval[p] = per_interval.get(p, 0.0) + gain
        users.append(record.get("user"))
        if "target_item" in record:
            items = record.get("rec_items")
            if not isinstance(items, list):
                raise InputError(source, line, "'rec_items' must be a list when 'target_item' is given")
            hits.append(record["target_item"] in items)
    if not ndcg:
        raise ParameterError("no records to evaluate")
    ndcg_a = np.array(ndcg)
    interval_a = np.array(interval)
    names = list(universe)
    e = np.array(exposure)
    gamma = _deserved(names, options, len(ndcg))
    m = np.array([_min_exposure(name, g, options) for name, g in zip(names, gamma)])
    ratio = np.divide(e, gamma, out=np.zeros_like(e), where=gamma > 0)
    intervals = sorted(set(interval))
    means = np.array([ndcg_a[interval_a == n].mean() for n in intervals])
    result: dict[str, Any] = {
        "k": options.k,
        "n_requests": len(ndcg),
        "n_providers": len(names),
        "n_intervals": len(intervals),
        "phi": options.phi,
        "exposure": options.exposure,
        "ndcg": float(ndcg_a.mean()),
        "ndcg_interval_mean": float(means.mean()),
        "cv": float(means.std(ddof=1) / means.mean()) if len(means) > 1 and means.mean() > 0 else None,
        "vio": float((ndcg_a < options.phi).mean()),
        "mmr": _mmr(ndcg_a),
        "var": float(ndcg_a.var()),
        **_by_user(ndcg_a, users),
        "esp": float((e >= m).mean()) if len(names) else None,
        "esp_beta": float((e >= options.beta * gamma).mean()) if len(names) else None,
        "gini": _core.gini(e),
        "mmf": float(ratio.min()) if len(names) else None,
        "provider_var": float(ratio.var()) if len(names) else None,
        "provider_exposure": dict(zip(names, e.tolist())),
        "per_interval": [
            {
                "interval": n,
                "traffic": int((interval_a == n).sum()),
                "ndcg": float(mean),
                "vio": float((ndcg_a[interval_a == n] < options.phi).mean()),
                "delivered": dict(sorted(delivered[n].items())),
            }
            for n, mean in zip(intervals, means)
        ],
    }
    if hits:
        if len(hits) != len(ndcg):
            raise ParameterError("'target_item' is given for some records only: hit rate would be biased")
        result["hr"] = float(np.mean(hits))
    return result


def _deserved(names: list[str], options: EvalOptions, n_requests: int) -> np.ndarray:
    """γ_p = K·T·share_p with share equal, ∝ n_items or ∝ weight (providers file)."""
    if not names:
        return np.zeros(0)
    if options.deserved == "equal":
        share = np.full(len(names), 1.0 / len(names))
    else:
        key = "n_items" if options.deserved == "items" else "weight"
        raw = np.array([float(options.providers.get(n, {}).get(key) or 0.0) for n in names])
        if raw.sum() <= 0:
            raise ParameterError(f"--deserved {options.deserved} needs '{key}' in the providers file")
        share = raw / raw.sum()
    return options.k * n_requests * share


def _min_exposure(name: str, gamma: float, options: EvalOptions) -> float:
    """m_p: the providers file's min_exposure, else --min-exposure, else β·γ_p."""
    row = options.providers.get(name, {})
    if row.get("min_exposure") is not None:
        return float(row["min_exposure"])
    if options.min_exposure is not None:
        return options.min_exposure
    return options.beta * gamma


def _mmr(values: np.ndarray) -> float | None:
    top = values.max()
    return float(values.min() / top) if top > 0 else None


def _by_user(ndcg: np.ndarray, users: list[Any]) -> dict[str, Any]:
    """MMR and Var over users, each user's requests averaged first (heavy users would
    otherwise dominate); null when the records carry no 'user'."""
    if any(u is None for u in users):
        return {"mmr_by_user": None, "var_by_user": None}
    keys = [str(u) for u in users]
    order = {u: i for i, u in enumerate(dict.fromkeys(keys))}
    idx = np.array([order[u] for u in keys])
    per_user = np.bincount(idx, weights=ndcg) / np.bincount(idx)
    return {"mmr_by_user": _mmr(per_user), "var_by_user": float(per_user.var())}
