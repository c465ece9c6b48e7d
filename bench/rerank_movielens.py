"""MovieLens-100K end to end: `recsys score → rerank → eval-rerank` wall time and the
accuracy/fairness metrics of every method at its default parameters, in one run.

    python bench/rerank_movielens.py     (needs: pip install --no-deps recbole==1.2.1)

Methods are compared at their defaults here; comparing them at matched ESP needs a
parameter sweep per method (not yet automated)."""

from __future__ import annotations

import orjson

from _common import WORK, environment, python, timed_run, write_results

METHODS = ["topk", "bankfair", "bankfair_plus", "pmmf", "min_regularizer", "cpfair", "k_neighbor", "tfrom", "fairrec"]
SHOW = ["ndcg", "vio", "mmr_by_user", "var_by_user", "esp", "gini", "mmf", "hr"]


def main() -> None:
    WORK.mkdir(parents=True, exist_ok=True)
    events, items, requests, providers = (WORK / f"ml_{n}.jsonl" for n in ("events", "items", "requests", "providers"))
    mstk = [python(), "-m", "mstk"]
    for name, path in (("ml-100k-events", events), ("ml-100k-items", items)):
        timed_run([*mstk, "data", "export", name, "-o", str(path)])
    runs = {"recsys score": timed_run([*mstk, "recsys", "score", str(events), "--items", str(items), "--test-from", "1998-04-01",
                                       "-o", str(requests), "--providers-out", str(providers)])}
    metrics = {}
    for method in METHODS:
        lists = WORK / f"ml_lists_{method}.jsonl"
        runs[f"rerank {method}"] = timed_run([*mstk, "rerank", str(requests), "-m", method, "--providers", str(providers)],
                                             stdout_path=lists)
        out = WORK / f"ml_metrics_{method}.json"
        runs[f"eval-rerank {method}"] = timed_run([*mstk, "eval-rerank", "--providers", str(providers)], stdin_path=lists,
                                                  stdout_path=out)
        metrics[method] = orjson.loads(out.read_bytes())
    for r in runs.values():
        r.pop("stderr", None)
    payload = {"environment": environment(["mstk", "numpy", "recbole"]), "runs": runs,
               "metrics": {m: {k: metrics[m].get(k) for k in SHOW} for m in METHODS}}
    rows = [[m, f"{runs[f'rerank {m}']['seconds']:.2f}"] + [f"{metrics[m][k]:.4f}" if isinstance(metrics[m].get(k), float) else "—" for k in SHOW]
            for m in METHODS]
    rows.insert(0, ["recsys score (item-kNN)", f"{runs['recsys score']['seconds']:.2f}"] + [""] * len(SHOW))
    write_results("rerank_movielens", payload, rows, ["step / method", "wall s"] + SHOW)


if __name__ == "__main__":
    main()
