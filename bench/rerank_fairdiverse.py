"""min-regularizer and P-MMF: mstk's online kernels against the FairDiverse package's own
implementations (fairdiverse 1.0.0, `recommendation/rerank_model`), same data, one run.

    python bench/rerank_fairdiverse.py --fairdiverse-python /path/to/venv/bin/python

FairDiverse re-ranks a user × item score matrix over one shared item set, with an
item → provider matrix M; it imports torch, cvxpy, gurobipy and mip at package import,
so it runs in its own venv (`--fairdiverse-python`; pip install --no-deps fairdiverse, then
torch cvxpy mip pandas scikit-learn pot pyyaml; gurobipy is replaced by a stand-in module,
since only RAIF needs it). Setting of specs/rerank.md (Performance):
500 candidates, K = 10, 200 providers (random item → provider map, seed 0), uniform
provider weights, all requests in one batch (FairDiverse normalises by the user count).
min-regularizer: 2,000 requests, λ = 30. P-MMF: 100 requests (FairDiverse solves a cvxpy
QP per request), λ = 0.1, learning rate 1e-3, γ = 0.1.

Each system times its re-ranking call only (data built beforehand), one thread for mstk;
best of `--reps`. Lists are compared as sets per request: min-regularizer is the same
rule in both, so the sets must agree; mstk's P-MMF solves the dual projection in closed
form and caps exposure per batch as the official code does, so its lists may differ from
FairDiverse's and the agreement is only reported.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parent))
N_CAND, K, N_PROV = 500, 10, 200
SETTINGS = {"min_regularizer": {"requests": 2000, "lambda": 30.0},
            "pmmf": {"requests": 100, "lambda": 0.1, "learning_rate": 1e-3, "gamma": 0.1}}


def make_data(requests: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    item_provider = rng.integers(0, N_PROV, size=N_CAND)
    scores = rng.random((requests, N_CAND))
    return scores, item_provider


def run_fairdiverse(method: str, scores: np.ndarray, item_provider: np.ndarray, reps: int) -> dict:
    os.environ["TQDM_DISABLE"] = "1"
    import types

    import cvxpy  # noqa: F401  (first, so it lists only the solvers really installed)

    # The package imports gurobipy at import time (for RAIF, not used here); a stand-in
    # module satisfies that import without a Gurobi install.
    if "gurobipy" not in sys.modules:
        stub = types.ModuleType("gurobipy")
        stub.Model = stub.GRB = stub.quicksum = None
        sys.modules["gurobipy"] = stub
    from fairdiverse.recommendation.rerank_model.min_regularizer import min_regularizer
    from fairdiverse.recommendation.rerank_model.PMMF import PMMF

    if isinstance(sys.modules.get("gurobipy"), types.ModuleType) and sys.modules["gurobipy"].Model is None:
        sys.modules["gurobipy"] = None  # from here on `import gurobipy` fails: cvxpy skips Gurobi

    setting = SETTINGS[method]
    cls = min_regularizer if method == "min_regularizer" else PMMF
    # The constructor reads a dataset directory; the same attributes are set directly.
    model = cls.__new__(cls)
    model.config = {"item_num": N_CAND, "group_num": N_PROV, "lambda": setting["lambda"],
                    "learning_rate": setting.get("learning_rate"), "gamma": setting.get("gamma")}
    model.item_num, model.group_num = N_CAND, N_PROV
    model.weights = np.ones(N_PROV) / N_PROV if method == "pmmf" else np.ones(N_PROV)
    model.M = np.zeros((N_CAND, N_PROV))
    model.M[np.arange(N_CAND), item_provider] = 1.0
    best, lists = float("inf"), None
    for _ in range(reps):
        started = time.perf_counter()
        lists = model.rerank(scores, K)
        best = min(best, time.perf_counter() - started)
    return {"seconds": best, "lists": [sorted(int(i) for i in row) for row in lists]}


def run_mstk(method: str, scores: np.ndarray, item_provider: np.ndarray, reps: int) -> dict:
    from mstk import _core

    setting = SETTINGS[method]
    t = len(scores)
    offsets = np.arange(0, (t + 1) * N_CAND, N_CAND, dtype=np.int64)
    flat_s = np.ascontiguousarray(scores.ravel())
    flat_p = np.tile(item_provider.astype(np.int32), t)
    order = np.arange(t, dtype=np.int64)
    intervals = np.zeros(t, dtype=np.int64)
    weight = np.ones(N_PROV)
    if method == "min_regularizer":
        params = {"lambda": setting["lambda"]}
    else:
        params = {"lambda": setting["lambda"], "eta": setting["learning_rate"], "gamma": setting["gamma"],
                  "batch": "interval", "share": [1.0 / N_PROV] * N_PROV}
    best, out = float("inf"), None
    for _ in range(reps):
        started = time.perf_counter()
        out = _core.run_online(offsets, flat_s, flat_p, N_PROV, order, intervals, weight, K, method, params, 1)
        best = min(best, time.perf_counter() - started)
    so, sel = out["sel_offsets"], out["sel"]
    return {"seconds": best, "lists": [sorted(int(i) for i in sel[so[r]:so[r + 1]]) for r in range(t)]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fairdiverse-python", default=sys.executable)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--child", choices=["fairdiverse"])
    parser.add_argument("--method")
    parser.add_argument("--data")
    args = parser.parse_args()
    if args.child:
        data = np.load(args.data)
        print(json.dumps(run_fairdiverse(args.method, data["scores"], data["item_provider"], args.reps)))
        return

    from _common import environment, write_results

    rows, results = [], {}
    peer_versions = None
    for method, setting in SETTINGS.items():
        scores, item_provider = make_data(setting["requests"])
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "data.npz"
            np.savez(path, scores=scores, item_provider=item_provider)
            proc = subprocess.run([args.fairdiverse_python, str(HERE), "--child", "fairdiverse", "--method", method,
                                   "--data", str(path), "--reps", str(args.reps)], capture_output=True, text=True)
            if proc.returncode != 0:
                raise RuntimeError(proc.stderr[-3000:])
            theirs = json.loads(proc.stdout.strip().splitlines()[-1])
        if peer_versions is None:
            peer_versions = subprocess.run([args.fairdiverse_python, "-c",
                                            "import importlib.metadata as m; print(m.version('fairdiverse'), m.version('cvxpy'))"],
                                           capture_output=True, text=True).stdout.split()
        ours = run_mstk(method, scores, item_provider, args.reps)
        t = setting["requests"]
        same = sum(a == b for a, b in zip(ours["lists"], theirs["lists"]))
        ratio = theirs["seconds"] / ours["seconds"]
        results[method] = {"requests": t, "mstk_seconds": ours["seconds"], "fairdiverse_seconds": theirs["seconds"],
                           "speedup": ratio, "same_sets": same}
        target = 10 if method == "min_regularizer" else 1000
        rows.append([method, f"{t:,}", f"{t / ours['seconds']:,.0f}", f"{t / theirs['seconds']:,.1f}",
                     f"**{ratio:,.0f}×**", f"≥ {target:,}× {'✓' if ratio >= target else '✗'}", f"{same}/{t}"])
    env = environment(["mstk", "numpy"])
    if peer_versions:
        env["versions"].update({"fairdiverse": peer_versions[0], "cvxpy": peer_versions[1] if len(peer_versions) > 1 else None})
    payload = {"environment": env, "setting": {"candidates": N_CAND, "k": K, "providers": N_PROV, "mstk_threads": 1,
                                               "reps": args.reps, **{m: s for m, s in SETTINGS.items()}},
               "results": results}
    write_results("rerank_fairdiverse", payload, rows,
                  ["method", "requests", "mstk req/s", "FairDiverse req/s", "speed-up", "target", "same top-K sets"])


if __name__ == "__main__":
    main()
