"""``mstk eval-retrieval``: recall, precision, MRR, nDCG and hit @k of retrieved lists
(specs/retrieval.md, Metrics), per record and as an aggregate summary."""

from __future__ import annotations

from typing import Any

import click

from mstk.cli.options import CommonOptions, jsonl_command

FIDELITY = ("fidelity: BM25 variants reproduce bm25s 0.3.16 / rank-bm25 0.2.2 / Lucene (--lucene-norms); "
            "fusion, tree retrieval and defaults are mstk's")


def _parse_ks(ctx: click.Context, param: click.Parameter, value: str) -> list[int]:
    ks: list[int] = []
    for part in value.split(","):
        part = part.strip()
        if not part.isdigit() or int(part) < 1:
            raise click.BadParameter(f"expected comma-separated integers ≥ 1, got {part!r}")
        if int(part) not in ks:
            ks.append(int(part))
    return ks


def _parse_metrics(ctx: click.Context, param: click.Parameter, value: str) -> list[str]:
    from mstk.retrieval.metrics import METRICS

    names: list[str] = []
    for part in value.split(","):
        part = part.strip()
        if part not in METRICS:
            raise click.BadParameter(f"unknown metric {part!r}; choose from {','.join(METRICS)}")
        if part not in names:
            names.append(part)
    return names


class _Bad(Exception):
    """A record-level problem: reported through the error policy with the record's line."""


def _record_id(value: Any, what: str) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise _Bad(f"{what} must be a string or an integer, got {value!r}")
    return str(value)


def _record_hits(value: Any, run_field: str, trec_ties: bool) -> list[tuple[str, float | None]]:
    """``[{"id", "score", "rank"}, …]`` -> [(docid, score)] in rank order (list order when no
    hit has a rank)."""
    if not isinstance(value, list):
        raise _Bad(f"{run_field!r} (--run-field) must be a list of hits, got {type(value).__name__}")
    rows: list[tuple[int, str, float | None]] = []
    with_rank = 0
    seen: set[str] = set()
    for i, hit in enumerate(value):
        if not isinstance(hit, dict) or "id" not in hit:
            raise _Bad(f"hit {i} of {run_field!r} must be an object with an 'id'")
        docid = _record_id(hit["id"], f"hit {i} 'id' in {run_field!r}")
        if docid in seen:
            raise _Bad(f"document {docid!r} appears twice in {run_field!r}")
        seen.add(docid)
        score = hit.get("score")
        if score is not None and (isinstance(score, bool) or not isinstance(score, (int, float))):
            raise _Bad(f"hit {i} 'score' in {run_field!r} must be a number, got {score!r}")
        if trec_ties and score is None:
            raise _Bad(f"hit {i} in {run_field!r} has no 'score', which --trec-ties sorts by")
        rank = hit.get("rank")
        if rank is not None:
            if isinstance(rank, bool) or not isinstance(rank, int):
                raise _Bad(f"hit {i} 'rank' in {run_field!r} must be an integer, got {rank!r}")
            with_rank += 1
        rows.append((rank if rank is not None else i, docid, score))
    if with_rank and with_rank != len(rows):
        raise _Bad(f"some hits in {run_field!r} have a 'rank' and some do not")
    if with_rank:
        rows.sort(key=lambda row: row[0])  # stable: list order among equal ranks
    return [(docid, score) for _, docid, score in rows]


def _record_qrels(value: Any, qrels_field: str) -> dict[str, int]:
    """A list of ids (grade 1) or an object id -> integer grade."""
    if isinstance(value, list):
        return {_record_id(docid, f"an id in {qrels_field!r}"): 1 for docid in value}
    if isinstance(value, dict):
        judged: dict[str, int] = {}
        for docid, grade in value.items():
            if isinstance(grade, float) and grade.is_integer():
                grade = int(grade)
            if isinstance(grade, bool) or not isinstance(grade, int):
                raise _Bad(f"grade of {docid!r} in {qrels_field!r} must be an integer, got {grade!r}")
            judged[docid] = grade
        return judged
    raise _Bad(f"{qrels_field!r} (--qrels-field) must be a list of ids or an object id -> grade, "
               f"got {type(value).__name__}")


@click.command("eval-retrieval", epilog=FIDELITY)
@jsonl_command
@click.option("--qrels", "qrels_path", type=click.Path(exists=True, dir_okay=False),
              help="Relevance judgements: TREC 'qid 0 docid rel' or JSONL {query_id, doc_id, relevance}.")
@click.option("--qrels-field", default=None,
              help="Record field with the judgements instead: a list of ids (grade 1) or an object id -> grade.")
@click.option("--run-field", default=None, help="Record field with the hits [{id, score, rank}]  [default: retrieved]")
@click.option("--run", "run_path", type=click.Path(exists=True, dir_okay=False),
              help="Score a TREC run file ('qid Q0 docid rank score tag') instead of records; needs --qrels.")
@click.option("-k", "ks", default="1,5,10,100", show_default=True, callback=_parse_ks, help="Cutoffs k, comma-separated.")
@click.option("--metrics", default="recall,precision,mrr,ndcg,hit", show_default=True, callback=_parse_metrics,
              help="Metrics, comma-separated.")
@click.option("--trec-ties", is_flag=True,
              help="Order hits by (score desc, docid desc) as trec_eval does, instead of by their rank.")
@click.option("--summary", "summary_path", type=click.Path(dir_okay=False), default=None,
              help="Also write the aggregate JSON line to this file.")
@click.option("--qid-field", default="id", show_default=True, help="Record field with the query id (matched to --qrels).")
def eval_retrieval(common: CommonOptions, qrels_path, qrels_field, run_field, run_path, ks, metrics, trec_ties,
                   summary_path, qid_field) -> None:
    """Score retrieved lists: recall, precision, MRR, nDCG (linear gain) and hit @k, with
    trec_eval's definitions (relevant = grade ≥ 1).

    Each record gets "eval": {"ndcg@10": …} (null when its query has no qrels or no
    relevant document); with --run FILE, one {"qid", "eval"} line per judged query, in
    qid order. The aggregate {"n_queries", "n_missing_run", "n_no_relevant",
    "<metric>@<k>": mean} goes to stderr as one JSON line (and to --summary): judged
    queries missing from the run count 0, queries without a relevant document are left
    out of the means, run queries without qrels are ignored."""
    from mstk.io import Stopwatch, dumps_records, iter_records, open_input, open_output
    from mstk.retrieval.metrics import aggregate_rows, evaluate, metric_names, query_metrics, read_qrels, read_trec_run

    if (qrels_path is None) == (qrels_field is None):
        raise click.UsageError("give exactly one of --qrels FILE and --qrels-field FIELD")
    if run_path is not None:
        if qrels_path is None:
            raise click.UsageError("--run FILE needs --qrels FILE (records, and so --qrels-field, are not read)")
        if run_field is not None:
            raise click.UsageError("--run FILE and --run-field exclude each other")
        if common.input != "-":
            raise click.UsageError("--run FILE reads no INPUT records; leave INPUT out")
    run_field = run_field or "retrieved"
    names = metric_names(metrics, ks)
    watch = Stopwatch()
    qrels = read_qrels(qrels_path) if qrels_path is not None else None

    if run_path is not None:
        assert qrels is not None
        run = read_trec_run(run_path)
        per_query, aggregate = evaluate(run, qrels, metrics, ks, trec_ties)
        out = open_output(common.output, run_path)
        lines = [{"qid": qid, "eval": per_query[qid]} for qid in sorted(per_query)]
        out.write(dumps_records(lines))
        out.flush()
        summary = {"command": "eval-retrieval", **aggregate,
                   "n_without_qrels": sum(1 for qid in run if qid not in qrels), "seconds": watch.seconds}
        _finish(summary, summary_path)
        return

    stream, source = open_input(common.input)
    policy = common.error_policy(source)
    out = open_output(common.output, common.input)
    rows: list[dict[str, float]] = []
    seen_qids: dict[str, int] = {}
    n_in = n_bad = n_without_qrels = n_no_relevant = 0
    with common.progress_bar() as bar:
        for batch in iter_records(stream, policy, common.batch_size or 10000):
            kept = []
            for line, record in batch:
                n_in += 1
                try:
                    row = None
                    if qrels is not None:
                        if qid_field not in record:
                            raise _Bad(f"missing query id field {qid_field!r} (--qid-field)")
                        qid = _record_id(record[qid_field], f"{qid_field!r} (--qid-field)")
                        if qid in seen_qids:
                            raise _Bad(f"query id {qid!r} repeats line {seen_qids[qid]}")
                        judged = qrels.get(qid)
                    else:
                        if qrels_field not in record:
                            raise _Bad(f"missing {qrels_field!r} (--qrels-field)")
                        judged = _record_qrels(record[qrels_field], qrels_field)
                    if run_field not in record:
                        raise _Bad(f"missing {run_field!r} (--run-field)")
                    hits = _record_hits(record[run_field], run_field, trec_ties)
                    if judged is None:
                        n_without_qrels += 1
                    elif not any(grade >= 1 for grade in judged.values()):
                        if qrels is None:  # file queries without relevant docs are counted below
                            n_no_relevant += 1
                    else:
                        row = query_metrics(hits, judged, metrics, ks, trec_ties)
                except _Bad as exc:
                    n_bad += 1
                    policy.bad(line, str(exc))
                    continue
                if qrels is not None:
                    seen_qids[qid] = line
                if row is not None:
                    rows.append(row)
                record["eval"] = row
                kept.append(record)
            out.write(dumps_records(kept))
            bar.update(len(batch))
    out.flush()
    policy.close()

    n_missing = 0
    if qrels is not None:
        for qid, judged in qrels.items():
            if not any(grade >= 1 for grade in judged.values()):
                n_no_relevant += 1
            elif qid not in seen_qids:
                n_missing += 1
                rows.append(dict.fromkeys(names, 0.0))
    summary = {"command": "eval-retrieval", **aggregate_rows(rows, names, n_missing, n_no_relevant),
               "n_without_qrels": n_without_qrels, "records_in": n_in + len(policy.skipped) - n_bad,
               "skipped": len(policy.skipped), "seconds": watch.seconds}
    _finish(summary, summary_path)
    if policy.exit_code:
        click.get_current_context().exit(policy.exit_code)


def _finish(summary: dict, summary_path: str | None) -> None:
    import orjson

    from mstk.io import emit_summary

    emit_summary(summary)
    if summary_path is not None:
        try:
            with open(summary_path, "wb") as f:
                f.write(orjson.dumps(summary, option=orjson.OPT_APPEND_NEWLINE))
        except OSError as exc:
            raise click.BadParameter(f"cannot write {summary_path!r}: {exc.strerror}", param_hint="'--summary'") from None
