"""Parameter sweeps: each method's accuracy–fairness front on one stream, and comparison
at matched fairness (specs/rerank.md: compare methods at matched ESP, never at equal θ)."""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from mstk.rerank.evaluate import EvalOptions, evaluate

# A default grid per method: its main knob from "off" to strong.
DEFAULT_GRIDS: dict[str, tuple[str, list[Any]]] = {
    "topk": ("", [None]),
    "bankfair": ("theta", [0.0, 0.1, 0.3, 1.0, 3.0]),
    "bankfair_plus": ("theta", [0.0, 0.1, 0.3, 1.0, 3.0]),
    "cpfair": ("lambda", [0.0, 0.1, 0.3, 1.0, 3.0]),
    "min_regularizer": ("lambda", [0.0, 1.0, 10.0, 30.0, 100.0]),
    "k_neighbor": ("k", [1, 2, 4, 8]),
    "pmmf": ("lambda", [0.0, 0.1, 1.0]),
    "tfrom": ("", [None]),
    "fairrec": ("alpha", [0.2, 0.5, 0.8, 1.0]),
}
METRICS = ("ndcg", "esp", "mmr", "var", "gini", "mmr_by_user", "var_by_user")


def parse_grid(text: str) -> tuple[str, str, list[str]]:
    """'bankfair:theta=0.1,0.3' → ('bankfair', 'theta', ['0.1', '0.3'])."""
    method, _, rest = text.partition(":")
    name, _, values = rest.partition("=")
    if not method or not name or not values:
        raise ValueError(f"expected METHOD:PARAM=V1,V2,…, got {text!r}")
    return method, name, [v for v in values.split(",") if v]


def sweep(records: list[dict[str, Any]], grids: dict[str, tuple[str, list[Any]]], k: int, fixed: dict[str, dict[str, Any]],
          options: dict[str, Any], eval_options: EvalOptions) -> dict[str, list[dict[str, Any]]]:
    """For each method and grid value: the metrics of `rerank` + `eval-rerank`."""
    from mstk.rerank.run import run_rerank

    fronts: dict[str, list[dict[str, Any]]] = {}
    for method, (name, values) in grids.items():
        points = []
        for value in values:
            params = dict(fixed.get(method, {}))
            if name:
                params[name] = value
            lists = run_rerank(records, method, k=k, params=params, **options)
            m = evaluate(enumerate(lists, start=1), eval_options)
            points.append({"param": name or None, "value": value, **{key: m.get(key) for key in METRICS}})
        fronts[method] = points
    return fronts


def at_matched(front: Iterable[dict[str, Any]], target: float, x: str = "esp", y: str = "ndcg") -> float | None:
    """`y` at fairness level `x = target`, interpolating linearly along the front sorted by x
    (the best y among points with the same x); None when the front never reaches target."""
    pts: dict[float, float] = {}
    for p in front:
        if p.get(x) is not None and p.get(y) is not None:
            pts[p[x]] = max(p[y], pts.get(p[x], -np.inf))
    if not pts:
        return None
    xs = np.array(sorted(pts))
    ys = np.array([pts[v] for v in xs])
    if target < xs[0] or target > xs[-1]:
        return None
    return float(np.interp(target, xs, ys))


def plot(fronts: dict[str, list[dict[str, Any]]], path: str, x: str = "esp", ys: tuple[str, ...] = ("ndcg", "mmr_by_user")) -> None:
    """Pareto fronts as a PNG: one panel per accuracy metric, fairness on the x axis."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        from mstk.errors import MstkError

        raise MstkError("--plot needs matplotlib: python3 -m pip install 'mstk[plot]'") from None
    fig, axes = plt.subplots(1, len(ys), figsize=(6 * len(ys), 4.5), squeeze=False)
    for ax, y in zip(axes[0], ys):
        for method, points in fronts.items():
            pts = sorted((p[x], p[y]) for p in points if p.get(x) is not None and p.get(y) is not None)
            if pts:
                ax.plot([a for a, _ in pts], [b for _, b in pts], marker="o", label=method)
        ax.set_xlabel(x.upper() if x == "esp" else x)
        ax.set_ylabel(y)
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
