"""BM25 build, batch query throughput, peak memory and quality: mstk against bm25s and
rank-bm25 on the same data, in one run (specs/retrieval.md, Performance).

    python bench/retrieval.py [--docs 1000000] [--threads 2] [--reps 3]

Corpora:
- Wikipedia known-item (`mstk data export wiki-known-item`, 10,033 docs, 9,049 queries),
  field `contents`, word tokenizer: lowercase, the 33 Lucene English stopwords, Snowball
  English stemmer (mstk `tokenizer="word"`; bm25s `tokenize(stopwords="en",
  stemmer=PyStemmer english)`; rank-bm25 gets that same bm25s tokenization as string lists).
- Synthetic Zipf (`mstk.data.synthetic.zipf_corpus`, seed 0), whitespace tokens
  (mstk `tokenizer="whitespace"`; bm25s `tokenize(stopwords=None)`, no stemmer;
  rank-bm25 `str.split`), rank-bm25 on a 100k-doc prefix only (mstk rerun on that prefix).

Every measurement is a fresh child process per system and repetition (`--reps`, best of):
the child loads the data, builds (tokenization included), then runs the query batch
(query tokenization included) `--query-reps` times, and reports its own peak RSS
(`VmHWM` of its own address space, so the driver's memory is never counted; the data the
child loaded is part of it and is also reported separately). Same thread count for every
system that has one (mstk `threads`, bm25s `n_threads`); bm25s tokenize/index and
rank-bm25 are single-threaded. rank-bm25 queries (`get_top_n`, i.e. `get_scores` +
argsort) run on a seeded sample and the throughput is extrapolated (labelled).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from _common import WORK, environment, python, write_results

HERE = Path(__file__).resolve()
K = 10
# mimalloc (mstk's global allocator) purges freed pages only after a delay (mstk already
# turns off its eager arena commit, see mstk/__init__.py); this diagnostic row (not used
# for the targets) shows what purging at once would save, and cost.
DECOMMIT = {"MIMALLOC_PURGE_DELAY": "0"}
DECOMMIT_NAME = "mstk (MIMALLOC_PURGE_DELAY=0)"


# --------------------------------------------------------------------------- child side

def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _load(job: dict) -> tuple[list[str], list[str], list[str], list[str]]:
    import orjson

    ids, texts = [], []
    limit = job.get("n_docs")
    field = job["field"]
    with open(Path(job["data"]) / "corpus.jsonl", "rb") as f:
        for line in f:
            if limit is not None and len(ids) >= limit:
                break
            d = orjson.loads(line)
            ids.append(d["id"])
            texts.append(d[field])
    qids, queries = [], []
    with open(Path(job["data"]) / "queries.jsonl", "rb") as f:
        for line in f:
            q = orjson.loads(line)
            qids.append(q["id"])
            queries.append(q["question"])
    if job.get("query_sample"):
        import numpy as np

        pick = np.sort(np.random.default_rng(0).choice(len(qids), job["query_sample"], replace=False))
        qids = [qids[i] for i in pick]
        queries = [queries[i] for i in pick]
    return ids, texts, qids, queries


def child(job: dict) -> dict:
    system, threads, k1, b = job["system"], job["threads"], job["k1"], job["b"]
    stemmed = job["tokenizer"] == "word"
    if system == "mstk":
        from mstk.retrieval.bm25 import Bm25
    elif system == "bm25s":
        import bm25s
        import Stemmer
    else:
        import bm25s
        from rank_bm25 import BM25Okapi
    rss_imported = _status_kib("VmRSS")
    ids, texts, qids, queries = _load(job)
    rss_loaded = _status_kib("VmRSS")
    out: dict = {"n_docs": len(ids), "n_queries": len(qids)}

    t0 = time.perf_counter()
    if system == "mstk":
        index = Bm25.build(texts, ids, tokenizer=job["tokenizer"], variant="lucene", k1=k1, b=b, threads=threads)
        t1 = t2 = time.perf_counter()
    elif system == "bm25s":
        stemmer = Stemmer.Stemmer("english") if stemmed else None
        stop = "en" if stemmed else None
        tokens = bm25s.tokenize(texts, stopwords=stop, stemmer=stemmer, show_progress=False)
        t1 = time.perf_counter()
        index = bm25s.BM25(method="lucene", k1=k1, b=b)
        index.index(tokens, show_progress=False)
        del tokens
        t2 = time.perf_counter()
    else:
        if stemmed:
            import Stemmer

            tokens = bm25s.tokenize(texts, stopwords="en", stemmer=Stemmer.Stemmer("english"), return_ids=False,
                                    show_progress=False)
        else:
            tokens = [t.split() for t in texts]
        t1 = time.perf_counter()
        index = BM25Okapi(tokens)
        del tokens
        t2 = time.perf_counter()
    out["build_s"] = t2 - t0
    if system != "mstk":
        out["tokenize_s"], out["index_s"] = t1 - t0, t2 - t1
    rss_built = _status_kib("VmRSS")

    best = None
    run = None
    for _ in range(job["query_reps"]):
        t0 = time.perf_counter()
        if system == "mstk":
            hits = index.search(queries, k=K, threads=threads)
            t1 = t2 = time.perf_counter()
            result = hits
        elif system == "bm25s":
            qtok = bm25s.tokenize(queries, stopwords=stop, stemmer=stemmer, show_progress=False)
            t1 = time.perf_counter()
            docs, scores = index.retrieve(qtok, k=K, n_threads=threads, show_progress=False)
            t2 = time.perf_counter()
            result = (docs, scores)
        else:
            if stemmed:
                qtok = bm25s.tokenize(queries, stopwords="en", stemmer=Stemmer.Stemmer("english"), return_ids=False,
                                      show_progress=False)
            else:
                qtok = [q.split() for q in queries]
            t1 = time.perf_counter()
            positions = list(range(len(ids)))
            result = [index.get_top_n(q, positions, n=K) for q in qtok]
            t2 = time.perf_counter()
        times = {"query_s": t2 - t0, "query_tokenize_s": t1 - t0}
        if best is None or times["query_s"] < best["query_s"]:
            best = times
        run = result
    out.update(best)
    if system == "mstk":
        out.pop("query_tokenize_s")
    out["queries_per_s"] = len(qids) / out["query_s"]

    if job.get("run_out"):
        with open(job["run_out"], "w") as f:
            json.dump(_run(system, run, ids, qids), f)
    out["rss_imported_mib"] = rss_imported / 1024
    out["rss_loaded_mib"] = rss_loaded / 1024
    out["rss_built_mib"] = rss_built / 1024
    out["peak_rss_mib"] = _status_kib("VmHWM") / 1024
    if system == "mstk":
        from mstk import _core

        out["core_so_sha256"] = hashlib.sha256(Path(_core.__file__).read_bytes()).hexdigest()[:16]
    return out


def _run(system: str, result, ids: list[str], qids: list[str]) -> dict:
    """qid -> [[docid, score], …] in rank order; bm25s' zero-score fillers are dropped."""
    run = {}
    if system == "mstk":
        for i, q in enumerate(qids):
            n = int(result.count[i])
            run[q] = [[ids[d], float(s)] for d, s in zip(result.doc_idx[i, :n].tolist(), result.scores[i, :n].tolist())]
    elif system == "bm25s":
        docs, scores = result
        for i, q in enumerate(qids):
            run[q] = [[ids[d], float(s)] for d, s in zip(docs[i].tolist(), scores[i].tolist()) if s > 0]
    else:  # rank-bm25 returns positions without scores
        for i, q in enumerate(qids):
            run[q] = [[ids[d], float(K - r)] for r, d in enumerate(result[i])]
    return run


# --------------------------------------------------------------------------- driver side

def _busy_jiffies() -> int:
    parts = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    values = list(map(int, parts))
    return sum(values) - values[3] - values[4]  # all but idle and iowait


def wait_quiet(limit_s: float) -> float:
    """Wait (at most limit_s) until other processes use < 10% of one core over 1 s."""
    tick = os.sysconf("SC_CLK_TCK")
    start = time.perf_counter()
    while time.perf_counter() - start < limit_s:
        b0 = _busy_jiffies()
        time.sleep(1.0)
        if (_busy_jiffies() - b0) / tick < 0.1:
            break
    return time.perf_counter() - start


QUIET = {"waited_s": 0.0, "budget_s": 1200.0, "reruns": 0}


def spawn(job: dict, env: dict) -> dict:
    """One fresh child after waiting for quiet; rerun (up to `attempts`) when other
    processes used more than 5% of the machine meanwhile."""
    cores = len(os.sched_getaffinity(0))
    attempts = job.get("attempts", 3)
    for attempt in range(attempts):
        budget = max(0.0, QUIET["budget_s"] - QUIET["waited_s"])
        waited = wait_quiet(min(120.0, budget))
        QUIET["waited_s"] += waited
        out = _spawn(job, env)
        out["waited_for_quiet_s"] = round(waited, 1)
        out["disturbed"] = out["others_cpu_s"] > max(0.5, 0.05 * out["child_wall_s"] * cores)
        if not out["disturbed"]:
            break
        if attempt < attempts - 1:
            QUIET["reruns"] += 1
            print(f"  (disturbed: others used {out['others_cpu_s']:.1f} s CPU; rerunning)", file=sys.stderr, flush=True)
    return out


def _spawn(job: dict, env: dict) -> dict:
    tick = os.sysconf("SC_CLK_TCK")
    busy0 = _busy_jiffies()
    start = time.perf_counter()
    proc = subprocess.Popen([python(), str(HERE), "--child", json.dumps(job)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env={**os.environ, **env, **job.get("env", {})})
    stdout, stderr = proc.communicate()
    wall = time.perf_counter() - start
    busy = (_busy_jiffies() - busy0) / tick
    if proc.returncode != 0:
        raise RuntimeError(f"{job['system']} child failed ({proc.returncode}): {stderr.decode()[-3000:]}")
    out = json.loads(stdout.decode().strip().splitlines()[-1])
    usage = resource_of_children_delta()
    out["child_wall_s"] = wall
    out["others_cpu_s"] = max(0.0, busy - usage)
    return out


_children_cpu = [0.0]


def resource_of_children_delta() -> float:
    import resource

    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    total = r.ru_utime + r.ru_stime
    delta, _children_cpu[0] = total - _children_cpu[0], total
    return delta


def measure(name: str, job: dict, reps: int, env: dict) -> dict:
    """Best of `reps` fresh children: min build and query times, max peak RSS."""
    runs = []
    for r in range(reps):
        j = dict(job)
        if r > 0:
            j.pop("run_out", None)
        runs.append(spawn(j, env))
        print(f"  {name} rep {r + 1}: build {runs[-1]['build_s']:.2f} s, {runs[-1]['queries_per_s']:,.0f} q/s, "
              f"peak {runs[-1]['peak_rss_mib']:.0f} MiB, others' CPU {runs[-1]['others_cpu_s']:.1f} s",
              file=sys.stderr, flush=True)
    best = {"reps": runs}
    for key in ("build_s", "tokenize_s", "index_s", "query_s", "query_tokenize_s"):
        if key in runs[0]:
            best[key] = min(x[key] for x in runs)
    best["queries_per_s"] = max(x["queries_per_s"] for x in runs)
    for key in ("peak_rss_mib", "rss_loaded_mib", "rss_built_mib", "rss_imported_mib"):
        best[key] = max(x[key] for x in runs)
    best["n_docs"], best["n_queries"] = runs[0]["n_docs"], runs[0]["n_queries"]
    best["others_cpu_s_max"] = max(x["others_cpu_s"] for x in runs)
    best["disturbed_reps"] = sum(x["disturbed"] for x in runs)
    return best


def evaluate_run(path: Path, queries_path: Path) -> dict:
    import orjson

    from mstk.retrieval import evaluate

    qrels = {}
    with open(queries_path, "rb") as f:
        for line in f:
            q = orjson.loads(line)
            qrels[q["id"]] = {g: 1 for g in q["gold_ids"]}
    run = {q: [tuple(h) for h in hits] for q, hits in json.loads(path.read_text()).items()}
    qrels = {q: v for q, v in qrels.items() if q in run}  # sampled runs: only their queries
    _, agg = evaluate(run, qrels, metrics=("mrr", "hit"), ks=(1, 10))
    return {"mrr@10": agg["mrr@10"], "hit@10": agg["hit@10"], "hit@1": agg["hit@1"], "n_queries": agg["n_queries"]}


def git_state() -> dict:
    def git(*argv: str) -> str:
        return subprocess.run(["git", *argv], capture_output=True, text=True, cwd=HERE.parent).stdout.rstrip()

    import importlib.util

    spec = importlib.util.find_spec("mstk")
    so = next(Path(next(iter(spec.submodule_search_locations))).glob("_core*.so"), None)
    return {"commit": git("rev-parse", "--short", "HEAD").strip(),
            "modified": [line[3:] for line in git("status", "--porcelain").splitlines()],
            "core_so_sha256": hashlib.sha256(so.read_bytes()).hexdigest()[:16] if so else None}


def rustc_version() -> str | None:
    try:
        return subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip() or None
    except OSError:
        return None


def ensure_wiki() -> Path:
    d = WORK / "wiki"
    if not (d / "corpus.jsonl").exists():
        subprocess.run(["mstk", "data", "export", "wiki-known-item", "-o", str(d)], check=True)
    return d


def ensure_zipf(n_docs: int, seed: int, n_queries: int) -> Path:
    d = WORK / f"zipf_{n_docs}_s{seed}"
    if not (d / "qrels.txt").exists():
        # a child process, so that the driver stays small
        code = ("import sys, json; from mstk.data.synthetic import write_zipf_corpus; "
                f"print(json.dumps(write_zipf_corpus({str(d)!r}, {n_docs}, {seed}, {n_queries})))")
        t = time.perf_counter()
        subprocess.run([python(), "-c", code], check=True)
        print(f"  generated {d} in {time.perf_counter() - t:.0f} s", file=sys.stderr, flush=True)
    return d


def fmt_ratio(x: float) -> str:
    return f"{x:.1f}×" if x < 100 else f"{x:.0f}×"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=1_000_000, help="synthetic corpus size")
    ap.add_argument("--zipf-queries", type=int, default=10_000)
    ap.add_argument("--rank-bm25-prefix", type=int, default=100_000)
    ap.add_argument("--rank-bm25-queries-wiki", type=int, default=500)
    ap.add_argument("--rank-bm25-queries-zipf", type=int, default=200)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--query-reps", type=int, default=3, help="query passes per mstk/bm25s child (best of)")
    ap.add_argument("--bm25s-query-reps-zipf", type=int, default=1,
                    help="bm25s query passes per child on the Zipf corpus (each takes minutes at 300k+)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--note", action="append", default=[], help="a line for the markdown (repeatable)")
    ap.add_argument("--skip-wiki", action="store_true")
    ap.add_argument("--skip-zipf", action="store_true")
    ap.add_argument("--name", default="retrieval")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return

    threads = args.threads
    env = {k: str(threads) for k in ("RAYON_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                                     "NUMBA_NUM_THREADS")}
    env["TQDM_DISABLE"] = "1"
    WORK.mkdir(parents=True, exist_ok=True)
    runs_dir = WORK / "retrieval_runs"
    runs_dir.mkdir(exist_ok=True)
    resource_of_children_delta()
    git_before = git_state()
    t_start = time.perf_counter()
    results: dict = {"wiki": {}, "zipf": {}}
    quality: dict = {}
    base = {"k1": 1.5, "b": 0.75, "threads": threads, "query_reps": args.query_reps}

    if not args.skip_wiki:
        wiki = ensure_wiki()
        wjob = {**base, "data": str(wiki), "field": "contents", "tokenizer": "word"}
        print("wiki", file=sys.stderr, flush=True)
        for name, job in {
            "mstk": {**wjob, "system": "mstk", "run_out": str(runs_dir / "wiki_mstk_1.5_0.75.json")},
            "mstk (threads=1)": {**wjob, "system": "mstk", "threads": 1},
            DECOMMIT_NAME: {**wjob, "system": "mstk", "env": DECOMMIT},
            "bm25s": {**wjob, "system": "bm25s", "run_out": str(runs_dir / "wiki_bm25s_1.5_0.75.json")},
            "rank-bm25": {**wjob, "system": "rank_bm25", "query_reps": 1, "query_sample": args.rank_bm25_queries_wiki,
                          "run_out": str(runs_dir / "wiki_rank_bm25.json")},
        }.items():
            results["wiki"][name] = measure(name, job, args.reps, env)
        for system in ("mstk", "bm25s"):  # the second parameter setting: quality only, one child
            spawn({**wjob, "system": system, "k1": 0.9, "b": 0.4, "query_reps": 1,
                   "run_out": str(runs_dir / f"wiki_{system}_0.9_0.4.json")}, env)
        qpath = wiki / "queries.jsonl"
        for system, label in (("mstk", "mstk"), ("bm25s", "bm25s")):
            for kb in ("1.5_0.75", "0.9_0.4"):
                quality[f"{label} lucene {kb.replace('_', '/')}"] = evaluate_run(runs_dir / f"wiki_{system}_{kb}.json", qpath)
        quality[f"rank-bm25 BM25Okapi 1.5/0.75 ({args.rank_bm25_queries_wiki}-query sample)"] = evaluate_run(
            runs_dir / "wiki_rank_bm25.json", qpath)

    if not args.skip_zipf:
        zipf = ensure_zipf(args.docs, args.seed, args.zipf_queries)
        zjob = {**base, "data": str(zipf), "field": "text", "tokenizer": "whitespace"}
        prefix = min(args.rank_bm25_prefix, args.docs)
        print(f"zipf {args.docs:,}", file=sys.stderr, flush=True)
        for name, job in {
            "mstk": {**zjob, "system": "mstk", "run_out": str(runs_dir / "zipf_mstk.json")},
            DECOMMIT_NAME: {**zjob, "system": "mstk", "env": DECOMMIT},
            "bm25s": {**zjob, "system": "bm25s", "run_out": str(runs_dir / "zipf_bm25s.json"),
                      "query_reps": args.bm25s_query_reps_zipf, "attempts": 2},
            f"mstk ({prefix // 1000}k prefix)": {**zjob, "system": "mstk", "n_docs": prefix},
            f"rank-bm25 ({prefix // 1000}k prefix)": {**zjob, "system": "rank_bm25", "n_docs": prefix, "query_reps": 1,
                                                     "query_sample": args.rank_bm25_queries_zipf, "attempts": 2},
        }.items():
            results["zipf"][name] = measure(name, job, args.reps, env)
        for system in ("mstk", "bm25s"):
            quality[f"zipf {args.docs // 1000}k: {system} lucene 1.5/0.75"] = evaluate_run(
                runs_dir / f"zipf_{system}.json", zipf / "queries.jsonl")

    env_record = environment(["mstk", "bm25s", "rank-bm25", "PyStemmer", "numpy", "scipy", "orjson"])
    env_record["versions"]["rustc"] = rustc_version()
    env_record["git"] = git_before
    env_record["git"]["core_so_changed_during_run"] = git_state()["core_so_sha256"] != git_before["core_so_sha256"]
    env_record["quiet"] = QUIET
    env_record["core_so_used"] = sorted({x["core_so_sha256"] for res in results.values() for r in res.values()
                                         for x in r["reps"] if "core_so_sha256" in x})
    env_record["load_avg_end"] = os.getloadavg()
    payload = {
        "environment": env_record,
        "settings": {"threads": threads, "reps": args.reps, "query_reps": args.query_reps, "k": K,
                     "zipf_docs": args.docs, "zipf_queries": args.zipf_queries, "zipf_seed": args.seed,
                     "rank_bm25_prefix": args.rank_bm25_prefix, "rank_bm25_queries_wiki": args.rank_bm25_queries_wiki,
                     "rank_bm25_queries_zipf": args.rank_bm25_queries_zipf, "bm25s_backend": "numpy",
                     "bm25s_query_reps_zipf": args.bm25s_query_reps_zipf},
        "results": results,
        "quality": quality,
        "targets": targets(results),
        "total_s": time.perf_counter() - t_start,
        "notes": args.note,
    }
    rows, header = tables(payload)
    write_results(args.name, payload, rows, header)
    extra = extra_markdown(payload)
    md = HERE.parent / "results" / f"{args.name}.md"
    md.write_text(md.read_text() + extra)
    print(extra)


def targets(results: dict) -> list[dict]:
    out = []
    for corpus, res in results.items():
        if "mstk" not in res:
            continue
        m, s = res["mstk"], res.get("bm25s")
        prefix_m = next((v for k, v in res.items() if k.startswith("mstk (") and "prefix" in k), m)
        r = next((v for k, v in res.items() if k.startswith("rank-bm25")), None)
        if s:
            out.append({"corpus": corpus, "target": "build ≥ 2× bm25s", "ratio": s["build_s"] / m["build_s"], "need": 2})
        if r:
            out.append({"corpus": corpus, "target": "build ≥ 5× rank-bm25", "ratio": r["build_s"] / prefix_m["build_s"],
                        "need": 5})
        if s:
            out.append({"corpus": corpus, "target": "query ≥ 2× bm25s",
                        "ratio": m["queries_per_s"] / s["queries_per_s"], "need": 2})
        if r:
            out.append({"corpus": corpus, "target": "query ≥ 50× rank-bm25 (extrapolated from sample)",
                        "ratio": prefix_m["queries_per_s"] / r["queries_per_s"], "need": 50})
        if s:
            out.append({"corpus": corpus, "target": "peak RSS ≤ bm25s' (mstk ÷ bm25s)",
                        "ratio": m["peak_rss_mib"] / s["peak_rss_mib"], "need": 1, "at_most": True})
    for t in out:
        if "rank-bm25" in t["target"] and t["corpus"] == "zipf":
            t["target"] += ", both on the prefix"
        t["met"] = t["ratio"] <= t["need"] if t.get("at_most") else t["ratio"] >= t["need"]
    return out


def tables(p: dict) -> tuple[list[list[str]], list[str]]:
    header = ["corpus", "system", "docs", "build s (tokenize + index)", "queries", "query s (tokenize)", "q/s",
              "peak RSS MiB", "of which imports + data", "build time ÷ mstk's", "mstk q/s ÷ this"]
    rows = []
    for corpus, res in p["results"].items():
        for name, r in res.items():
            ref = res["mstk"]
            if "prefix" in name:
                ref = next(v for k, v in res.items() if k.startswith("mstk (") and "prefix" in k)
            build = f"{r['build_s']:.2f}" + (f" ({r['tokenize_s']:.2f} + {r['index_s']:.2f})" if "tokenize_s" in r else "")
            query = f"{r['query_s']:.2f}" + (f" ({r['query_tokenize_s']:.2f})" if "query_tokenize_s" in r else "")
            sampled = name.startswith("rank-bm25")
            rows.append([
                corpus, name, f"{r['n_docs']:,}", build, f"{r['n_queries']:,}" + (" (sample)" if sampled else ""), query,
                f"{r['queries_per_s']:,.0f}" + (" (extrapolated)" if sampled else ""),
                f"{r['peak_rss_mib']:.0f}", f"{r['rss_loaded_mib']:.0f}",
                "—" if r is ref else f"{r['build_s'] / ref['build_s']:.1f}×",
                "—" if r is ref else fmt_ratio(ref["queries_per_s"] / r["queries_per_s"]),
            ])
    return rows, header


def extra_markdown(p: dict) -> str:
    env = p["environment"]
    s = p["settings"]
    lines = [""] + [f"**Note:** {n}" for n in p.get("notes", [])] + ["", f"Tree: commit {env['git']['commit']}, `_core` sha256 {env['git']['core_so_sha256']}"
             + (f", uncommitted: {', '.join(env['git']['modified'])}" if env["git"]["modified"] else "")
             + (" — **the `_core` extension was rebuilt during the run**" if env["git"]["core_so_changed_during_run"] else "")
             + (f"; mstk children ran `_core` {', '.join(env['core_so_used'])}" if env.get("core_so_used") else "")
             + ".", ""]
    lines += [f"Threads: {s['threads']} for mstk (build and search) and bm25s `retrieve(n_threads=…)`; bm25s "
              "`tokenize`/`index` and rank-bm25 are single-threaded. Best of "
              f"{s['reps']} fresh child processes per system (each: load, build once, query ×{s['query_reps']}; "
              f"bm25s on Zipf ×{s['bm25s_query_reps_zipf']}, rank-bm25 ×1); peak RSS = the child's own VmHWM (max over reps), data loaded = its RSS after imports "
              "and reading the corpus. Query time includes query tokenization (in brackets for the peers). "
              f"rank-bm25 queries: `get_top_n` on a seeded sample ({s['rank_bm25_queries_wiki']} Wikipedia, "
              f"{s['rank_bm25_queries_zipf']} Zipf), q/s extrapolated; its Zipf rows are on a "
              f"{s['rank_bm25_prefix'] // 1000}k-doc prefix and compare with mstk on that same prefix. "
              f"Synthetic Zipf: {s['zipf_docs']:,} docs, {s['zipf_queries']:,} queries, seed {s['zipf_seed']}.", ""]
    lines += ["## Targets", "", "Speed ratios are the peer's time ÷ mstk's (queries: mstk q/s ÷ the peer's); the memory "
              "ratio is mstk's peak RSS ÷ bm25s'.", "", "| corpus | target | ratio | met |", "|---|---|---|---|"]
    lines += [f"| {t['corpus']} | {t['target']} | {t['ratio']:.2f}× | {'✓' if t['met'] else '✗'} |" for t in p["targets"]]
    lines += ["", "## Quality (k = 10; bm25s hits with score 0 dropped)", "",
              "| run | queries | MRR@10 | hit@10 | hit@1 |", "|---|---|---|---|---|"]
    lines += [f"| {name} | {q['n_queries']:,} | {q['mrr@10']:.6f} | {q['hit@10']:.6f} | {q['hit@1']:.6f} |"
              for name, q in p["quality"].items()]
    lines += ["", "Reference (docs/notes/retrieval-brief.md §4, exact for mstk's tie rule): 1.5/0.75 → 0.659766 / "
              "0.857443 / 0.557189; 0.9/0.4 → 0.678885 / 0.863742 / 0.583048. bm25s' own ranking (its tie order): "
              "0.6597 / 0.8576 / 0.5571 and 0.6789 / 0.8637 / 0.5830.", "",
              f"Total bench time {p['total_s'] / 60:.1f} min, of which {env['quiet']['waited_s'] / 60:.1f} min waiting "
              f"for other processes to go quiet; {env['quiet']['reruns']} disturbed children rerun; reps still "
              f"disturbed (others > 5% of the machine): "
              + (", ".join(f"{c} {n} {r['disturbed_reps']}/{len(r['reps'])}" for c, res in p['results'].items()
                           for n, r in res.items() if r['disturbed_reps']) or "none") + "; max CPU used by other "
              f"processes during one kept child: "
              f"{max((r['others_cpu_s_max'] for res in p['results'].values() for r in res.values()), default=0):.1f} s.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
