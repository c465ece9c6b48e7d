"""Every method's accuracy–fairness front on MovieLens-100K, compared at matched ESP
(specs/rerank.md: compare at matched ESP, never at equal θ), with the fronts plotted.

    python bench/rerank_matched_esp.py     (needs recbole==1.2.1 and matplotlib)"""

from __future__ import annotations

import orjson

from _common import RESULTS, WORK, environment, python, timed_run, write_results

LEVELS = (0.4, 0.6, 0.8)


def main() -> None:
    WORK.mkdir(parents=True, exist_ok=True)
    events, items, requests, providers = (WORK / f"ml_{n}.jsonl" for n in ("events", "items", "requests", "providers"))
    mstk = [python(), "-m", "mstk"]
    if not requests.exists():
        for name, path in (("ml-100k-events", events), ("ml-100k-items", items)):
            timed_run([*mstk, "data", "export", name, "-o", str(path)])
        timed_run([*mstk, "recsys", "score", str(events), "--items", str(items), "--test-from", "1998-04-01",
                   "-o", str(requests), "--providers-out", str(providers)])
    fronts_path = WORK / "ml_fronts.json"
    args = [*mstk, "rerank-sweep", str(requests), "--providers", str(providers), "-o", str(fronts_path),
            "--plot", str(RESULTS / "rerank_matched_esp.png")]
    for level in LEVELS:
        args += ["--match", str(level)]
    run = timed_run(args)
    run.pop("stderr")
    result = orjson.loads(fronts_path.read_bytes())
    payload = {"environment": environment(["mstk", "numpy", "recbole", "matplotlib"]), "run": run, **result}
    rows = []
    for method in result["fronts"]:
        cells = []
        for level in LEVELS:
            m = result["matched"][f"{level:g}"][method]
            cells.append("—" if m["ndcg"] is None else f"{m['ndcg']:.4f} / {m['mmr_by_user']:.4f}")
        rows.append([method, *cells])
    write_results("rerank_matched_esp", payload, rows, ["method", *[f"NDCG / MMR(user) at ESP {level}" for level in LEVELS]])


if __name__ == "__main__":
    main()
