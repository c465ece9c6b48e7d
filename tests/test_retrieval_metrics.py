"""Retrieval metrics (specs/retrieval.md, Tests "Metrics"): the hand fixture, parity with
pytrec_eval and ir-measures on a random fixture, trec_eval's tie rule, the qrels/run
readers and writer, and `mstk eval-retrieval` on records and on a TREC run file."""

from __future__ import annotations

import io
import math
import random
import re
import subprocess
import sys

import orjson
import pytest

from mstk.errors import InputError
from mstk.retrieval import evaluate, read_qrels, read_trec_run, write_trec_run
from mstk.testing import run_cli

PIP_HINT = "pip install pytrec-eval-terrier==0.5.11 ir-measures==0.4.3"
KS = (1, 3, 5, 10, 100)

# The spec's fixture, plus the brief's tie/coverage queries: q2 has a score tie (d7, d8),
# q3 is judged but absent from the run, q4 is in the run without qrels.
QRELS = {"q1": {"d1": 2, "d3": 1, "d5": 1, "d9": 0}, "q2": {"d7": 1}, "q3": {"d1": 1}}
RUN = {
    "q1": [("d2", 4.0), ("d1", 3.0), ("d4", 2.0), ("d3", 1.0)],
    "q2": [("d6", 2.0), ("d7", 1.0), ("d8", 1.0)],
    "q4": [("d1", 1.0)],
}


def pytrec_eval_module():
    return pytest.importorskip("pytrec_eval", reason=f"needs pytrec_eval: {PIP_HINT}")


def ir_measures_module():
    return pytest.importorskip("ir_measures", reason=f"needs ir-measures: {PIP_HINT}")


# ---------------------------------------------------------------------- definitions


def test_spec_hand_fixture():
    per_query, _ = evaluate({"q1": RUN["q1"]}, {"q1": QRELS["q1"]}, ks=KS)
    q1 = per_query["q1"]
    assert q1["precision@3"] == pytest.approx(0.333333, abs=1e-6)
    assert q1["precision@10"] == pytest.approx(0.2)  # divided by k, not by the 4 hits
    assert q1["recall@3"] == pytest.approx(0.333333, abs=1e-6)
    assert q1["recall@10"] == pytest.approx(0.666667, abs=1e-6)
    assert q1["mrr@10"] == 0.5 and q1["mrr@1"] == 0.0
    assert (q1["hit@1"], q1["hit@3"], q1["hit@10"]) == (0.0, 1.0, 1.0)
    assert q1["ndcg@3"] == pytest.approx(0.403030, abs=1e-6)
    assert q1["ndcg@10"] == pytest.approx(0.540586, abs=1e-6)
    # DCG@3 = 2/log2 3, IDCG@3 = 2 + 1/log2 3 + 1/2
    assert q1["ndcg@3"] == pytest.approx((2 / math.log2(3)) / (2 + 1 / math.log2(3) + 0.5), rel=1e-12)


def test_negative_grades_gain_nothing():
    per_query, _ = evaluate({"q": [("d1", 3.0), ("d2", 2.0), ("d3", 1.0)]}, {"q": {"d1": -1, "d2": 2, "d3": 1}}, ks=(3,))
    assert per_query["q"]["ndcg@3"] == pytest.approx(0.669672, abs=1e-6)
    assert per_query["q"]["mrr@3"] == 0.5  # -1 is not relevant


def test_coverage_rules_and_trec_ties():
    per_query, agg = evaluate(RUN, QRELS, ks=(3, 10), trec_ties=True)
    assert list(per_query) == ["q1", "q2", "q3"]  # q4 (no qrels) ignored
    assert per_query["q3"] == dict.fromkeys(per_query["q3"], 0.0)  # judged, not retrieved: zeros
    q2 = per_query["q2"]  # trec_eval order: d8 before d7 (docid desc among equal scores)
    assert q2["mrr@10"] == pytest.approx(1 / 3) and q2["ndcg@3"] == pytest.approx(0.5)
    assert (q2["precision@3"], q2["recall@3"], q2["hit@3"]) == (pytest.approx(1 / 3), 1.0, 1.0)
    assert agg["n_queries"] == 3 and agg["n_missing_run"] == 1 and agg["n_no_relevant"] == 0
    # the brief's ir-measures aggregates over q1, q2, q3
    assert agg["precision@3"] == pytest.approx(0.222222, abs=1e-6)
    assert agg["recall@3"] == pytest.approx(0.444444, abs=1e-6)
    assert agg["ndcg@3"] == pytest.approx(0.301010, abs=1e-6)
    assert agg["ndcg@10"] == pytest.approx(0.346862, abs=1e-6)
    assert agg["hit@3"] == pytest.approx(0.666667, abs=1e-6)
    assert agg["mrr@10"] == pytest.approx(0.277778, abs=1e-6)
    # without --trec-ties the list order (rank) counts: d7 is second
    per_query, _ = evaluate(RUN, QRELS, ks=(10,))
    assert per_query["q2"]["mrr@10"] == 0.5


def test_queries_without_relevant_documents_are_left_out():
    qrels = {"a": {"x": 1}, "b": {"y": 0, "z": -1}}
    per_query, agg = evaluate({"a": [("x", 1.0)], "b": [("y", 1.0)]}, qrels, metrics=("recall", "mrr"), ks=(5, 1))
    assert list(per_query) == ["a"]
    assert agg == {"n_queries": 1, "n_missing_run": 0, "n_no_relevant": 1,
                   "recall@5": 1.0, "recall@1": 1.0, "mrr@5": 1.0, "mrr@1": 1.0}
    _, empty = evaluate({}, {"b": {"y": 0}}, metrics=("hit",), ks=(1,))
    assert empty == {"n_queries": 0, "n_missing_run": 0, "n_no_relevant": 1, "hit@1": None}


def test_evaluate_rejects_bad_arguments():
    with pytest.raises(ValueError, match="unknown metric 'map'"):
        evaluate({}, {}, metrics=("map",))
    with pytest.raises(ValueError, match="cutoff"):
        evaluate({}, {}, ks=(0,))
    with pytest.raises(ValueError, match="retrieved twice"):
        evaluate({"q": [("d", 2.0), ("d", 1.0)]}, {"q": {"d": 1}})
    with pytest.raises(ValueError, match="numeric score"):
        evaluate({"q": [("d", None)]}, {"q": {"d": 1}}, trec_ties=True)


# ---------------------------------------------------------------------- parity


def random_fixture(seed: int, n_queries: int = 200, ties: bool = False):
    """Graded qrels (-1..3, some all-zero queries), a run with distinct scores (or, with
    ``ties``, a handful of score levels listed with docid ascending among equals), some
    judged queries missing from the run and some run queries without qrels."""
    rng = random.Random(seed)
    docs = [f"d{i:04d}" for i in range(600)]
    qrels: dict[str, dict[str, int]] = {}
    run: dict[str, list[tuple[str, float]]] = {}
    for q in range(n_queries):
        qid = f"q{q:03d}"
        judged = rng.sample(docs, rng.randint(1, 30))
        if q % 20 == 7:  # no relevant document
            qrels[qid] = {d: rng.choice((0, 0, -1)) for d in judged}
        else:
            qrels[qid] = {d: rng.choice((-1, 0, 0, 1, 1, 2, 3)) for d in judged}
            if not any(g >= 1 for g in qrels[qid].values()):
                qrels[qid][judged[0]] = rng.randint(1, 3)
        if q % 20 == 11:  # judged, not retrieved
            continue
        n_hits = rng.choice((1, 3, 8, 40, 99, 100, 130))
        pool = list(dict.fromkeys(rng.sample(judged, min(len(judged), n_hits // 2 + 1)) + rng.sample(docs, n_hits)))[:n_hits]
        if ties:
            scored = [(d, float(rng.randint(1, 4))) for d in pool]
            scored.sort(key=lambda h: (-h[1], h[0]))  # an index's tie rule: docid ascending
        else:
            values = rng.sample(range(1, 10**7), len(pool))
            scored = sorted(((d, v / 1000.0) for d, v in zip(pool, values)), key=lambda h: -h[1])
        run[qid] = scored
    for extra in range(5):  # retrieved, never judged
        run[f"x{extra}"] = [(docs[extra], 1.0)]
    return run, qrels


def as_trec_dict(run, k: int | None = None):
    return {qid: {d: s for d, s in (hits[:k] if k else hits)} for qid, hits in run.items()}


def pytrec_rows(run, qrels, ks=KS):
    """Per query {our name: value} from pytrec_eval; recip_rank evaluated on the run cut at k."""
    pytrec_eval = pytrec_eval_module()
    cut = ",".join(map(str, ks))
    evaluator = pytrec_eval.RelevanceEvaluator(qrels, {f"P.{cut}", f"recall.{cut}", f"ndcg_cut.{cut}", f"success.{cut}"})
    full = evaluator.evaluate(as_trec_dict(run))
    rr = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank"})
    rows: dict[str, dict[str, float]] = {}
    for qid, measures in full.items():
        rows[qid] = {}
        for k in ks:
            rows[qid][f"precision@{k}"] = measures[f"P_{k}"]
            rows[qid][f"recall@{k}"] = measures[f"recall_{k}"]
            rows[qid][f"ndcg@{k}"] = measures[f"ndcg_cut_{k}"]
            rows[qid][f"hit@{k}"] = measures[f"success_{k}"]
    for k in ks:
        # trec_eval's order is (score desc, docid desc): cut in that order, not the list's
        ordered = {q: sorted(h, key=lambda x: (x[1], x[0]), reverse=True) for q, h in run.items()}
        for qid, measures in rr.evaluate(as_trec_dict(ordered, k)).items():
            rows[qid][f"mrr@{k}"] = measures["recip_rank"]
    return rows


def assert_rows_close(ours, theirs, qids):
    for qid in qids:
        for name, value in theirs[qid].items():
            assert abs(ours[qid][name] - value) <= 1e-9, (qid, name, ours[qid][name], value)


def test_random_fixture_matches_pytrec_eval():
    run, qrels = random_fixture(1)
    per_query, agg = evaluate(run, qrels, ks=KS)
    theirs = pytrec_rows(run, qrels)
    # pytrec_eval drops judged queries missing from the run and keeps all-zero rows for
    # queries without a relevant document: compare on the queries both sides score.
    common = [q for q in per_query if q in run]
    assert len(common) == 180 and set(common) <= set(theirs)
    assert_rows_close(per_query, theirs, common)
    assert agg["n_queries"] == 190 and agg["n_missing_run"] == 10 and agg["n_no_relevant"] == 10
    assert all(v == 0.0 for q in per_query if q not in run for v in per_query[q].values())


def test_random_fixture_matches_ir_measures():
    ir_measures = ir_measures_module()
    from ir_measures import RR, P, R, Success, nDCG

    run, qrels = random_fixture(2)
    per_query, agg = evaluate(run, qrels, ks=KS)
    # ir-measures scores judged queries missing from the run as 0 (as mstk does); leave
    # out queries without a relevant document, which mstk does not average.
    judged = {q: j for q, j in qrels.items() if any(g >= 1 for g in j.values())}
    ours_by_measure = {"P": "precision", "R": "recall", "nDCG": "ndcg", "RR": "mrr", "Success": "hit"}
    measures = [m @ k for m in (P, R, nDCG, RR, Success) for k in KS]
    # RR@k comes from ir-measures' default provider (msmarco: list order on ties; this
    # run has none); its pytrec_eval provider returns 0.0 for RR@k with 0.5.11.
    theirs = ir_measures.calc_aggregate(measures, judged, as_trec_dict(run))
    for measure, value in theirs.items():
        name = f"{ours_by_measure[measure.NAME]}@{measure['cutoff']}"
        assert abs(agg[name] - value) <= 1e-9, (name, agg[name], value)
    rows: dict[str, dict[str, float]] = {}
    for metric in ir_measures.iter_calc(measures, judged, as_trec_dict(run)):
        rows.setdefault(metric.query_id, {})[f"{ours_by_measure[metric.measure.NAME]}@{metric.measure['cutoff']}"] = metric.value
    assert set(rows) == set(per_query)
    assert_rows_close(per_query, rows, per_query)


def test_tie_heavy_fixture_matches_pytrec_eval_only_with_trec_ties():
    run, qrels = random_fixture(3, ties=True)
    theirs = pytrec_rows(run, qrels)
    with_ties, _ = evaluate(run, qrels, ks=KS, trec_ties=True)
    common = [q for q in with_ties if q in run]
    assert_rows_close(with_ties, theirs, common)
    # trec_eval ignores the order given: a shuffled list scores the same with trec_ties
    shuffled = {q: random.Random(q).sample(h, len(h)) for q, h in run.items()}
    assert_rows_close(evaluate(shuffled, qrels, ks=KS, trec_ties=True)[0], theirs, common)
    by_rank, _ = evaluate(run, qrels, ks=KS)
    differing = [(q, n) for q in common for n in theirs[q] if abs(by_rank[q][n] - theirs[q][n]) > 1e-9]
    assert len({q for q, _ in differing}) >= 20, differing[:5]


# ---------------------------------------------------------------------- readers, writer


def test_read_qrels_trec_and_jsonl(tmp_path):
    trec = tmp_path / "qrels.txt"
    trec.write_text("q1 0 d1 2\n\nq1 0 d3 1\r\nq2\t0\td7\t0\n")
    assert read_qrels(trec) == {"q1": {"d1": 2, "d3": 1}, "q2": {"d7": 0}}
    jsonl = tmp_path / "qrels.jsonl"
    jsonl.write_text('\n  {"query_id": "q1", "doc_id": "d1", "relevance": 2}\n{"query_id": 7, "doc_id": 8, "relevance": 1.0}\n')
    assert read_qrels(jsonl) == {"q1": {"d1": 2}, "7": {"8": 1}}


@pytest.mark.parametrize(("text", "line", "reason"), [
    ("q1 0 d1 1\nq1 0 d2\n", 2, "expected 4 fields"),
    ("q1 0 d1 1\n\nq1 0 d2 high\n", 3, "relevance must be an integer"),
    ("q1 0 d1 1\nq1 0 d1 2\n", 2, "twice (first at line 1)"),
    ('{"query_id": "q", "doc_id": "d", "relevance": 1}\n{"query_id": "q", "doc_id": "e"}\n', 2, "missing 'relevance'"),
    ('{"query_id": "q", "doc_id": "d", "relevance": 1}\n{oops\n', 2, "invalid JSON"),
    ('{"query_id": "q", "doc_id": "d", "relevance": 0.5}\n', 1, "'relevance' must be an integer"),
    ('{"query_id": null, "doc_id": "d", "relevance": 1}\n', 1, "'query_id' must be a string"),
])
def test_read_qrels_errors_name_file_and_line(tmp_path, text, line, reason):
    path = tmp_path / "qrels"
    path.write_text(text)
    with pytest.raises(InputError, match=re.escape(reason)) as info:
        read_qrels(path)
    assert (info.value.source, info.value.line) == (str(path), line)
    assert str(info.value).startswith(f"{path}:{line}: ")


def test_read_trec_run_orders_by_rank(tmp_path):
    path = tmp_path / "run.txt"
    path.write_text("q2 Q0 b 2 1.5 t\nq2 Q0 a 1 2.5 t\nq1 Q0 c 1 -3e-2 t\n")
    assert read_trec_run(path) == {"q2": [("a", 2.5), ("b", 1.5)], "q1": [("c", -0.03)]}


@pytest.mark.parametrize(("text", "line", "reason"), [
    ("q1 Q0 d1 1 2.0 t\nq1 Q0 d2 2 1.0\n", 2, "expected 6 fields"),
    ("q1 Q0 d1 first 2.0 t\n", 1, "rank must be an integer"),
    ("q1 Q0 d1 1 high t\n", 1, "score must be a number"),
    ("q1 Q0 d1 1 nan t\n", 1, "NaN"),
    ("q1 Q0 d1 1 2.0 t\n\nq1 Q0 d1 2 1.0 t\n", 3, "twice"),
    ("q1 Q0 d\xff 1 2.0 t\n", 1, "not UTF-8"),
])
def test_read_trec_run_errors_name_file_and_line(tmp_path, text, line, reason):
    path = tmp_path / "run.txt"
    path.write_bytes(text.encode("latin-1"))
    with pytest.raises(InputError, match=re.escape(reason)) as info:
        read_trec_run(path)
    assert str(info.value).startswith(f"{path}:{line}: ")


def test_write_trec_run_round_trip_and_float32_spelling(tmp_path):
    import numpy as np

    buffer = io.BytesIO()
    write_trec_run(buffer, "q1", [("Canberra", np.float32(7.4312), 1), ("d2", 0.1, 2), ("d3", 1e-5, 3)], "bm25")
    assert buffer.getvalue() == b"q1 Q0 Canberra 1 7.4312 bm25\nq1 Q0 d2 2 0.1 bm25\nq1 Q0 d3 3 0.00001 bm25\n"
    text = io.StringIO()
    write_trec_run(text, "q2", [("x", 123456789, 1)])
    assert text.getvalue() == "q2 Q0 x 1 123456790.0 mstk\n"
    path = tmp_path / "run.txt"
    path.write_bytes(buffer.getvalue())
    assert read_trec_run(path) == {"q1": [("Canberra", 7.4312), ("d2", 0.1), ("d3", 1e-5)]}


@pytest.mark.parametrize(("qid", "hits", "reason"), [
    ("q 1", [("d", 1.0, 1)], "query id 'q 1' contains whitespace"),
    ("q1", [("ok", 1.0, 1), ("new\tline", 1.0, 2)], "doc id 'new\\tline' contains whitespace"),
    ("q1", [("d\u00a0x", 1.0, 1)], "contains whitespace"),
    ("q1", [("", 1.0, 1)], "doc id is empty"),
    ("q1", [("d", float("inf"), 1)], "not a finite float32"),
])
def test_write_trec_run_rejects_unwritable_lines(qid, hits, reason):
    buffer = io.BytesIO()
    with pytest.raises(ValueError, match=re.escape(reason)) as info:
        write_trec_run(buffer, qid, hits, source="queries.jsonl", line=4)
    assert isinstance(info.value, InputError) and str(info.value).startswith("queries.jsonl:4: ")
    assert buffer.getvalue() == b""  # nothing half-written


# ---------------------------------------------------------------------- CLI


def hits(*pairs):
    return [{"id": d, "score": s, "rank": r} for r, (d, s) in enumerate(pairs, start=1)]


RECORDS = [
    {"id": "q1", "question": "a", "retrieved": hits(*RUN["q1"])},
    {"id": "q2", "question": "b", "retrieved": hits(*RUN["q2"])},
    {"id": "q4", "question": "c", "retrieved": hits(*RUN["q4"])},
]


def jsonl(records) -> bytes:
    return b"".join(orjson.dumps(r) + b"\n" for r in records)


def write_qrels(tmp_path):
    path = tmp_path / "qrels.txt"
    path.write_text("".join(f"{q} 0 {d} {g}\n" for q, judged in QRELS.items() for d, g in judged.items()))
    return path


def summary_line(stderr: bytes) -> dict:
    lines = [line for line in stderr.decode().splitlines() if line.startswith("{")]
    assert len(lines) == 1, stderr
    return orjson.loads(lines[0])


def test_cli_records_with_qrels_file(tmp_path):
    qrels = write_qrels(tmp_path)
    summary_file = tmp_path / "summary.json"
    result = run_cli(["eval-retrieval", "--qrels", str(qrels), "-k", "3,10", "--summary", str(summary_file)],
                     input=jsonl(RECORDS))
    assert result.exit_code == 0, result.stderr
    out = [orjson.loads(line) for line in result.stdout.splitlines()]
    assert [r["id"] for r in out] == ["q1", "q2", "q4"] and out[0]["question"] == "a"
    assert out[0]["retrieved"] == RECORDS[0]["retrieved"]  # passed through
    assert out[0]["eval"]["ndcg@3"] == pytest.approx(0.403030, abs=1e-6)
    assert list(out[0]["eval"]) == ["recall@3", "recall@10", "precision@3", "precision@10", "mrr@3", "mrr@10",
                                    "ndcg@3", "ndcg@10", "hit@3", "hit@10"]
    assert out[1]["eval"]["mrr@10"] == 0.5  # rank order: d7 second
    assert out[2]["eval"] is None  # q4 has no qrels
    summary = summary_line(result.stderr)
    assert summary["command"] == "eval-retrieval"
    assert (summary["n_queries"], summary["n_missing_run"], summary["n_no_relevant"]) == (3, 1, 0)
    assert summary["n_without_qrels"] == 1 and summary["records_in"] == 3
    assert summary["mrr@10"] == pytest.approx((0.5 + 0.5 + 0) / 3)
    assert orjson.loads(summary_file.read_bytes()) == summary

    ties = run_cli(["eval-retrieval", "--qrels", str(qrels), "-k", "3,10", "--trec-ties"], input=jsonl(RECORDS))
    assert summary_line(ties.stderr)["mrr@10"] == pytest.approx(0.277778, abs=1e-6)


def test_cli_qrels_field_list_or_grades():
    records = [
        {"gold_ids": ["d1", "d3", "d5"], "retrieved": [{"id": "d2", "rank": 1}, {"id": "d1", "rank": 2}]},
        {"gold_ids": {"d1": 2, "d3": 1, "d9": 0}, "retrieved": [{"id": "d1", "rank": 2}, {"id": "d3", "rank": 1}]},
        {"gold_ids": [], "retrieved": []},
    ]
    result = run_cli(["eval-retrieval", "--qrels-field", "gold_ids", "-k", "2", "--metrics", "recall,ndcg"],
                     input=jsonl(records))
    assert result.exit_code == 0, result.stderr
    out = [orjson.loads(line) for line in result.stdout.splitlines()]
    assert out[0]["eval"] == {"recall@2": pytest.approx(1 / 3), "ndcg@2": pytest.approx((1 / math.log2(3)) / (1 + 1 / math.log2(3)))}
    # ranks, not list order: d3 (grade 1) first, then d1 (grade 2)
    assert out[1]["eval"]["ndcg@2"] == pytest.approx((1 + 2 / math.log2(3)) / (2 + 1 / math.log2(3)))
    assert out[2]["eval"] is None
    summary = summary_line(result.stderr)
    assert (summary["n_queries"], summary["n_no_relevant"], summary["n_missing_run"]) == (2, 1, 0)


def test_cli_trec_run_file(tmp_path):
    qrels = write_qrels(tmp_path)
    run_path = tmp_path / "run.txt"
    with open(run_path, "wb") as f:
        for qid in ("q4", "q2", "q1"):
            write_trec_run(f, qid, [(d, s, r) for r, (d, s) in enumerate(RUN[qid], start=1)])
    result = run_cli(["eval-retrieval", "--run", str(run_path), "--qrels", str(qrels), "-k", "10", "--metrics", "mrr"])
    assert result.exit_code == 0, result.stderr
    out = [orjson.loads(line) for line in result.stdout.splitlines()]
    assert out == [{"qid": "q1", "eval": {"mrr@10": 0.5}}, {"qid": "q2", "eval": {"mrr@10": 0.5}},
                   {"qid": "q3", "eval": {"mrr@10": 0.0}}]
    summary = summary_line(result.stderr)
    assert summary["n_queries"] == 3 and summary["n_missing_run"] == 1 and summary["n_without_qrels"] == 1


def test_cli_bad_record_names_its_line():
    records = jsonl([{"gold_ids": ["a"], "retrieved": []}, {"gold_ids": ["a"]}, {"gold_ids": ["a"], "retrieved": [{"id": "a"}]}])
    result = run_cli(["eval-retrieval", "--qrels-field", "gold_ids"], input=records)
    assert result.exit_code == 1
    assert result.stderr.startswith(b"Error: <stdin>:2: missing 'retrieved' (--run-field)")
    skipped = run_cli(["eval-retrieval", "--qrels-field", "gold_ids", "--on-error", "skip", "-k", "1"], input=records)
    assert skipped.exit_code == 1
    assert len(skipped.stdout.splitlines()) == 2 and b"skipped <stdin>:2: missing 'retrieved'" in skipped.stderr
    summary = summary_line(skipped.stderr)
    assert summary["skipped"] == 1 and summary["records_in"] == 3 and summary["hit@1"] == 0.5


def test_cli_repeated_query_id_is_an_error(tmp_path):
    qrels = write_qrels(tmp_path)
    result = run_cli(["eval-retrieval", "--qrels", str(qrels)], input=jsonl([RECORDS[0], RECORDS[0]]))
    assert result.exit_code == 1 and b"<stdin>:2: query id 'q1' repeats line 1" in result.stderr


@pytest.mark.parametrize("args", [
    [],  # neither qrels source
    ["--qrels", "QRELS", "--qrels-field", "gold_ids"],
    ["--run", "QRELS", "--qrels-field", "gold_ids"],
    ["--run", "QRELS", "--qrels", "QRELS", "--run-field", "hits"],
    ["--qrels", "QRELS", "-k", "0"],
    ["--qrels", "QRELS", "--metrics", "map"],
])
def test_cli_usage_errors(tmp_path, args):
    qrels = str(write_qrels(tmp_path))
    result = run_cli(["eval-retrieval", *[qrels if a == "QRELS" else a for a in args]], input=b"")
    assert result.exit_code == 2, result.stderr


def test_cli_subprocess_pipeline(tmp_path):
    qrels = write_qrels(tmp_path)
    done = subprocess.run([sys.executable, "-m", "mstk", "eval-retrieval", "--qrels", str(qrels), "-k", "3"],
                          input=jsonl(RECORDS), capture_output=True, check=True)
    assert [orjson.loads(line)["eval"] is None for line in done.stdout.splitlines()] == [False, False, True]
    assert summary_line(done.stderr)["precision@3"] == pytest.approx(0.222222, abs=1e-6)
