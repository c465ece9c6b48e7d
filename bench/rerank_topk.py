"""`mstk rerank --method topk` end to end (JSONL in → JSONL out) against a plain-Python
orjson + heapq script doing the same job, on the same seeded data, in one run.

    python bench/rerank_topk.py [--requests 100000] [--candidates 100]

Target (issue 2): ≥ 100,000 requests/s with 100 candidates each."""

from __future__ import annotations

import argparse
import hashlib
import subprocess
from pathlib import Path

import numpy as np
import orjson

from _common import RESULTS, WORK, environment, mstk_command, python, timed_run, write_results


def make_requests(path: Path, n: int, candidates: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    with open(path, "wb") as f:
        for start in range(0, n, 10_000):
            m = min(10_000, n - start)
            items = rng.integers(0, 1_000_000, size=(m, candidates * 2))
            scores = np.round(rng.random((m, candidates)), 6)
            providers = rng.integers(0, 200, size=(m, candidates))
            lines = []
            for r in range(m):
                unique = list(dict.fromkeys(items[r].tolist()))[:candidates]
                lines.append(orjson.dumps({
                    "request_id": f"r{start + r}",
                    "user": int(rng.integers(0, 50_000)),
                    "items": [f"i{i}" for i in unique],
                    "scores": scores[r].tolist(),
                    "providers": [f"p{p}" for p in providers[r].tolist()],
                }))
            f.write(b"\n".join(lines) + b"\n")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=100_000)
    ap.add_argument("--candidates", type=int, default=100)
    ap.add_argument("-k", type=int, default=10)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--make-data", metavar="PATH", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.make_data:
        make_requests(Path(args.make_data), args.requests, args.candidates)
        return
    WORK.mkdir(parents=True, exist_ok=True)
    data = WORK / f"topk_{args.requests}x{args.candidates}.jsonl"
    if not data.exists():
        # In a child process: a forked child inherits this process's peak RSS in its own
        # accounting, so the parent must stay small for the memory figures to mean anything.
        subprocess.run([python(), __file__, "--requests", str(args.requests), "--candidates", str(args.candidates),
                        "--make-data", str(data)], check=True)
    size_mb = data.stat().st_size / 2**20

    # An empty providers table changes nothing in top-K's output but sends the command down
    # the general pipeline (decision 80): the row shows what the top-K lane saves.
    no_providers = WORK / "providers_none.jsonl"
    no_providers.write_bytes(b"")
    commands = {
        "mstk rerank --method topk": [mstk_command(), "rerank", "--method", "topk", "-k", str(args.k), "--no-progress"],
        "mstk rerank --method topk --providers (general pipeline)": [
            mstk_command(), "rerank", "--method", "topk", "-k", str(args.k), "--providers", str(no_providers), "--no-progress"],
        "mstk rerank --method topk --threads 1": [mstk_command(), "rerank", "--method", "topk", "-k", str(args.k), "--threads", "1",
                                                  "--no-progress"],
        "python orjson+heapq": [python(), str(Path(__file__).with_name("rerank_topk_peer.py")), str(args.k)],
    }
    runs: dict[str, dict] = {}
    outputs = {}
    # Round robin, best of --reps: a burst of load from elsewhere then hits every command
    # alike instead of one.
    for rep in range(args.reps):
        for name, argv in commands.items():
            out = WORK / "out_topk.jsonl"
            r = timed_run(argv, stdin_path=data, stdout_path=out)
            r.pop("stderr")
            if name not in runs or r["seconds"] < runs[name]["seconds"]:
                runs[name] = r
            outputs[name] = hashlib.sha256(out.read_bytes()).hexdigest()
            out.unlink()
    for r in runs.values():
        r["requests_per_s"] = args.requests / r["seconds"]
    # Fixed cost: the same command on empty input (interpreter, imports, plugin discovery).
    empty = WORK / "empty.jsonl"
    empty.write_bytes(b"")
    startup = min(timed_run(commands["mstk rerank --method topk"], stdin_path=empty)["seconds"] for _ in range(5))
    # Steady streaming rate without leaning on the empty-input proxy: the same command on
    # the input three times over; the extra requests over the extra time cancel every
    # fixed cost.
    triple = WORK / f"topk_{3 * args.requests}x{args.candidates}_repeated.jsonl"
    if not triple.exists():
        with open(triple, "wb") as f:
            for _ in range(3):
                f.write(data.read_bytes())
    single_s, triple_s = float("inf"), float("inf")
    for _ in range(args.reps):
        single_s = min(single_s, timed_run(commands["mstk rerank --method topk"], stdin_path=data)["seconds"])
        triple_s = min(triple_s, timed_run(commands["mstk rerank --method topk"], stdin_path=triple)["seconds"])
    marginal = 2 * args.requests / (triple_s - single_s)
    identical = len(set(outputs.values())) == 1
    peer = runs["python orjson+heapq"]["requests_per_s"]
    payload = {
        "environment": environment(["mstk", "orjson", "numpy"]),
        "data": {"requests": args.requests, "candidates": args.candidates, "k": args.k, "mib": round(size_mb, 1)},
        "reps": args.reps,
        "mstk_startup_s": startup,
        "mstk_streaming_requests_per_s": args.requests / (runs["mstk rerank --method topk"]["seconds"] - startup),
        "mstk_marginal": {"requests": [args.requests, 3 * args.requests], "seconds": [single_s, triple_s],
                          "requests_per_s": marginal},
        "outputs_identical": identical,
        "runs": runs,
    }
    rows = [
        [name, f"{r['requests_per_s']:,.0f}", f"{r['seconds']:.2f}", f"{r['peak_rss_mib']:.0f}", f"{r['requests_per_s'] / peer:.1f}×"]
        for name, r in runs.items()
    ]
    write_results("rerank_topk", payload, rows, ["command", "requests/s", "wall s", "peak RSS MiB", "vs peer"])
    with open(RESULTS / "rerank_topk.md", "a") as f:
        f.write(f"\nBest of {args.reps} runs each, round robin; {args.requests:,} requests, {size_mb:.0f} MiB of JSONL; "
                f"outputs byte-identical: {identical}. mstk's fixed cost (same command, empty input) is "
                f"{startup:.2f} s; without it mstk streams "
                f"{payload['mstk_streaming_requests_per_s']:,.0f} requests/s. Marginal rate, the same command on the "
                f"input three times over ({3 * args.requests:,} requests, {triple_s:.2f} s against {single_s:.2f} s): "
                f"{marginal:,.0f} requests/s; end to end on those 300,000 requests: {3 * args.requests / triple_s:,.0f} "
                f"requests/s. The general-pipeline row is the same top-K through the path every other method takes "
                f"(an empty --providers table sends it there; decision 80).\n")
    print(f"outputs byte-identical: {identical}")


if __name__ == "__main__":
    main()
