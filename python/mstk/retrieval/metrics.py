"""Retrieval metrics with trec_eval's definitions (specs/retrieval.md, Metrics), and the
qrels / TREC run readers and the run writer.

Definitions (relevant = grade ≥ 1; ranks are 1-based):

- ``recall@k``    = |relevant ∩ top k| / |relevant|
- ``precision@k`` = |relevant ∩ top k| / k   (k even when fewer than k hits: trec_eval's P_k)
- ``mrr@k``       = 1 / rank of the first relevant hit within the top k, else 0
- ``hit@k``       = 1 if any relevant hit is in the top k, else 0 (trec_eval's success_k)
- ``ndcg@k``      = DCG@k / IDCG@k, DCG@k = Σ_{i ≤ k} gain_i / log2(i + 1), gain = the grade,
  negative grades count 0; IDCG@k from the qrels' grades sorted descending, cut at k.

Hits are taken in the order given (the ``rank`` as retrieved); ``trec_ties=True`` re-sorts
them by (score desc, docid desc), which is what trec_eval does whatever the rank column.
Means: a qrels query absent from the run scores 0 everywhere (``n_missing_run``); a qrels
query without a relevant document is left out of the per-query results and the means
(``n_no_relevant``); run queries without qrels are ignored. (pytrec_eval instead drops
queries missing from the run and averages all-zero rows for queries without relevant
documents: compare on the same query set.)

Pure Python: 10k queries × 100 hits × 20 metrics take about 0.6 s on one core.
"""

from __future__ import annotations

import io
import math
import re
from operator import itemgetter
from pathlib import Path
from typing import IO, Any, Hashable, Iterable, Mapping, Sequence

from mstk.errors import InputError

METRICS: tuple[str, ...] = ("recall", "precision", "mrr", "ndcg", "hit")
DEFAULT_KS: tuple[int, ...] = (1, 5, 10, 100)

Qrels = Mapping[Any, Mapping[Any, int]]  # qid -> {docid: grade}
Run = Mapping[Any, Sequence[tuple[Any, Any]]]  # qid -> [(docid, score), …] in retrieved order

_INT = re.compile(r"[+-]?[0-9]+")


def metric_names(metrics: Iterable[str] = METRICS, ks: Iterable[int] = DEFAULT_KS) -> list[str]:
    """The ``<metric>@<k>`` keys, metric-major, in the order given (duplicates dropped)."""
    metrics, ks = _check_metrics(metrics, ks)
    return [f"{m}@{k}" for m in metrics for k in ks]


def _check_metrics(metrics: Iterable[str], ks: Iterable[int]) -> tuple[list[str], list[int]]:
    metrics = list(dict.fromkeys(metrics))
    ks = list(dict.fromkeys(ks))
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise ValueError(f"unknown metric {unknown[0]!r}; choose from {', '.join(METRICS)}")
    if not metrics:
        raise ValueError("no metric given")
    if not ks:
        raise ValueError("no cutoff k given")
    for k in ks:
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"cutoff k must be an integer ≥ 1, got {k!r}")
    return metrics, ks


def evaluate(
    run: Run,
    qrels: Qrels,
    metrics: Iterable[str] = METRICS,
    ks: Iterable[int] = DEFAULT_KS,
    trec_ties: bool = False,
) -> tuple[dict[Any, dict[str, float]], dict[str, Any]]:
    """Score ``run`` (qid -> [(docid, score), …] in retrieved order) against ``qrels``
    (qid -> {docid: grade}).

    Returns ``(per_query, aggregate)``: ``per_query`` maps every qrels query with at least
    one relevant document (in qrels order) to ``{"<metric>@<k>": value}``; ``aggregate`` is
    ``{"n_queries", "n_missing_run", "n_no_relevant", "<metric>@<k>": mean}`` with the means
    over ``per_query`` (None when it is empty). ``n_missing_run`` counts the averaged queries
    that the run lacks (scored 0); ``n_no_relevant`` the qrels queries left out.
    A document retrieved twice for one query is a ValueError.
    """
    metrics, ks = _check_metrics(metrics, ks)
    names = [f"{m}@{k}" for m in metrics for k in ks]
    per_query: dict[Any, dict[str, float]] = {}
    n_missing = n_no_relevant = 0
    for qid, judged in qrels.items():
        if not any(grade >= 1 for grade in judged.values()):
            n_no_relevant += 1
            continue
        hits = run.get(qid)
        if hits is None:
            n_missing += 1
            per_query[qid] = dict.fromkeys(names, 0.0)
        else:
            per_query[qid] = query_metrics(hits, judged, metrics, ks, trec_ties, qid=qid)
    return per_query, aggregate_rows(list(per_query.values()), names, n_missing, n_no_relevant)


def aggregate_rows(rows: Sequence[Mapping[str, float]], names: Sequence[str], n_missing_run: int,
                   n_no_relevant: int) -> dict[str, Any]:
    """``{"n_queries", "n_missing_run", "n_no_relevant", name: mean, …}`` over ``rows``
    (the averaged queries, missing-run zero rows included); means are None without rows."""
    n = len(rows)
    aggregate: dict[str, Any] = {"n_queries": n, "n_missing_run": n_missing_run, "n_no_relevant": n_no_relevant}
    for name in names:
        aggregate[name] = math.fsum(row[name] for row in rows) / n if n else None
    return aggregate


def query_metrics(
    hits: Sequence[tuple[Any, Any]],
    judged: Mapping[Any, int],
    metrics: Sequence[str] = METRICS,
    ks: Sequence[int] = DEFAULT_KS,
    trec_ties: bool = False,
    *,
    qid: Hashable = None,
) -> dict[str, float]:
    """The metrics of one query (``metrics`` and ``ks`` already checked). A query without a
    relevant document gets 0 for recall (and nDCG), as trec_eval reports it."""
    if trec_ties:
        for _, score in hits:
            if score is None or math.isnan(score):
                raise ValueError(f"query {qid!r}: --trec-ties needs a numeric score on every hit, got {score!r}")
        # Python's sort is stable under reverse=True; docids compare as strings (strcmp).
        hits = sorted(hits, key=lambda hit: (hit[1], str(hit[0])), reverse=True)
    docids = list(map(itemgetter(0), hits))
    retrieved = set(docids)
    if len(retrieved) != len(docids):
        seen: set[Hashable] = set()
        twice = next(d for d in docids if d in seen or seen.add(d))  # type: ignore[func-returns-value]
        raise ValueError(f"query {qid!r}: document {twice!r} is retrieved twice")

    # Hits with a positive grade within the deepest cutoff, (0-based rank, grade), found
    # from the (usually few) judged documents rather than by scanning every hit.
    max_k = max(ks)
    gained: list[tuple[int, float]] = []
    for docid, grade in judged.items():
        if grade > 0 and docid in retrieved:
            i = docids.index(docid)
            if i < max_k:
                gained.append((i, grade))
    gained.sort()
    ideal = sorted((g for g in judged.values() if g > 0), reverse=True)[:max_k]
    n_relevant = sum(1 for g in judged.values() if g >= 1)

    by_k: dict[int, tuple[int, int, float, float]] = {}  # k -> (found, first rank, DCG, IDCG)
    for k in ks:
        found = first = 0
        dcg = 0.0
        for i, gain in gained:
            if i >= k:
                break
            dcg += gain / _discount(i)
            if gain >= 1:
                found += 1
                if not first:
                    first = i + 1
        idcg = 0.0
        for i, gain in enumerate(ideal[:k]):
            idcg += gain / _discount(i)
        by_k[k] = (found, first, dcg, idcg)

    row: dict[str, float] = {}
    for metric in metrics:
        for k in ks:
            found, first, dcg, idcg = by_k[k]
            if metric == "recall":
                value = found / n_relevant if n_relevant else 0.0
            elif metric == "precision":
                value = found / k
            elif metric == "mrr":
                value = 1.0 / first if first else 0.0
            elif metric == "hit":
                value = 1.0 if found else 0.0
            else:  # ndcg
                value = dcg / idcg if idcg > 0 else 0.0
            row[f"{metric}@{k}"] = value
    return row


_DISCOUNTS: list[float] = []


def _discount(i: int) -> float:
    """log2(rank + 1) for the 0-based rank i."""
    while len(_DISCOUNTS) <= i:
        _DISCOUNTS.append(math.log2(len(_DISCOUNTS) + 2))
    return _DISCOUNTS[i]


# ----------------------------------------------------------------------------- readers


def _lines(data: bytes) -> Iterable[tuple[int, bytes]]:
    """(1-based line number, line) for every physical line that is not blank."""
    for number, raw in enumerate(data.split(b"\n"), start=1):
        if raw.strip():
            yield number, raw


def _decode(raw: bytes, source: str, line: int) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(source, line, f"not UTF-8 ({exc.reason} at byte {exc.start})") from None


def _parse_grade(value: Any, source: str, line: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(source, line, f"'relevance' must be an integer, got {value!r}")
    if isinstance(value, float):
        if not value.is_integer():
            raise InputError(source, line, f"'relevance' must be an integer, got {value!r}")
        value = int(value)
    return value


def _parse_id(value: Any, name: str, source: str, line: int) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise InputError(source, line, f"{name!r} must be a string or an integer, got {value!r}")
    value = str(value)
    if not value:
        raise InputError(source, line, f"{name!r} is empty")
    return value


def read_qrels(path: str | Path) -> dict[str, dict[str, int]]:
    """Read qrels: TREC (``qid 0 docid rel``, whitespace-separated) or JSONL
    (``{"query_id", "doc_id", "relevance"}``), told apart by the first non-blank character
    (``{`` = JSONL). Returns qid -> {docid: grade} in file order; ids are strings (JSON
    integers are converted). Queries whose judgements are all 0 are kept (they count as
    ``n_no_relevant``). A malformed line or a repeated (qid, docid) pair raises
    ``InputError(path, line, reason)``."""
    source = str(path)
    data = Path(path).read_bytes()
    qrels: dict[str, dict[str, int]] = {}
    first_line: dict[tuple[str, str], int] = {}
    jsonl = data.lstrip().startswith(b"{")
    if jsonl:
        import orjson
    for line, raw in _lines(data):
        if jsonl:
            try:
                record = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                raise InputError(source, line, f"invalid JSON: {exc}") from None
            if not isinstance(record, dict):
                raise InputError(source, line, f"expected a JSON object, got {type(record).__name__}")
            for key in ("query_id", "doc_id", "relevance"):
                if key not in record:
                    raise InputError(source, line, f"missing {key!r} (qrels JSONL: query_id, doc_id, relevance)")
            qid = _parse_id(record["query_id"], "query_id", source, line)
            docid = _parse_id(record["doc_id"], "doc_id", source, line)
            grade = _parse_grade(record["relevance"], source, line)
        else:
            fields = _decode(raw, source, line).split()
            if len(fields) != 4:
                raise InputError(source, line, f"expected 4 fields 'qid 0 docid rel', got {len(fields)}")
            qid, _, docid, rel = fields
            if not _INT.fullmatch(rel):
                raise InputError(source, line, f"relevance must be an integer, got {rel!r}")
            grade = int(rel)
        if (qid, docid) in first_line:
            raise InputError(source, line, f"query {qid!r} judges document {docid!r} twice (first at line {first_line[qid, docid]})")
        first_line[qid, docid] = line
        qrels.setdefault(qid, {})[docid] = grade
    return qrels


def read_trec_run(path: str | Path) -> dict[str, list[tuple[str, float]]]:
    """Read a TREC run (``qid Q0 docid rank score tag``). Returns qid -> [(docid, score), …]
    ordered by the rank column (file order among equal ranks), queries in order of first
    appearance. A malformed line or a document listed twice for one query raises
    ``InputError(path, line, reason)``."""
    source = str(path)
    data = Path(path).read_bytes()
    rows: dict[str, list[tuple[int, str, float]]] = {}
    first_line: dict[tuple[str, str], int] = {}
    for line, raw in _lines(data):
        fields = _decode(raw, source, line).split()
        if len(fields) != 6:
            raise InputError(source, line, f"expected 6 fields 'qid Q0 docid rank score tag', got {len(fields)}")
        qid, _, docid, rank_text, score_text, _ = fields
        if not _INT.fullmatch(rank_text):
            raise InputError(source, line, f"rank must be an integer, got {rank_text!r}")
        try:
            score = float(score_text)
        except ValueError:
            raise InputError(source, line, f"score must be a number, got {score_text!r}") from None
        if math.isnan(score):
            raise InputError(source, line, "score is NaN")
        if (qid, docid) in first_line:
            raise InputError(source, line, f"query {qid!r} lists document {docid!r} twice (first at line {first_line[qid, docid]})")
        first_line[qid, docid] = line
        rows.setdefault(qid, []).append((int(rank_text), docid, score))
    return {qid: [(docid, score) for _, docid, score in sorted(hits, key=lambda h: h[0])] for qid, hits in rows.items()}


# ----------------------------------------------------------------------------- writer


def float32_text(score: Any) -> str:
    """The shortest decimal that round-trips ``score`` as a float32, spelled as orjson
    writes numpy float32 (the JSONL output's spelling: 7.4312, 0.00001, 1e+16)."""
    return _float32_texts([score])[0]


def _float32_texts(scores: Sequence[Any]) -> list[str]:
    """``float32_text`` of many scores in one orjson call; "null" marks a non-finite one."""
    import numpy as np
    import orjson

    if not scores:
        return []
    with np.errstate(over="ignore"):  # beyond the float32 range -> inf -> "null"
        array = np.asarray(scores, dtype=np.float32)
    return orjson.dumps(array, option=orjson.OPT_SERIALIZE_NUMPY)[1:-1].decode().split(",")


def _is_number(value: Any) -> bool:
    import numbers

    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _check_run_id(value: Any, what: str, source: str, line: int | None) -> str:
    text = str(value)
    if not text:
        raise InputError(source, line, f"{what} is empty: a TREC run line needs one")
    if any(ch.isspace() for ch in text):
        raise InputError(source, line, f"{what} {text!r} contains whitespace, which a TREC run file cannot hold")
    return text


def write_trec_run(
    stream: IO[bytes] | IO[str],
    qid: Any,
    hits: Iterable[tuple[Any, Any, int]],
    tag: str = "mstk",
    *,
    source: str = "run file",
    line: int | None = None,
) -> None:
    """Write one query's hits, ``(docid, score, rank)`` each, as ``qid Q0 docid rank score
    tag`` lines (scores in float32 spelling, see ``float32_text``) to a binary or text
    stream. An empty id or one containing whitespace (``str.isspace``, what the readers
    split on), or a non-finite score, raises ``InputError(source, line, reason)`` (a
    ValueError) before anything is written; pass the query record's file and line."""
    qid_text = _check_run_id(qid, "query id", source, line)
    tag_text = _check_run_id(tag, "run tag", source, line)
    hits = list(hits)
    docs = [_check_run_id(docid, "doc id", source, line) for docid, _, _ in hits]
    scores = [score for _, score, _ in hits]
    for doc_text, score in zip(docs, scores):
        if not _is_number(score):
            raise InputError(source, line, f"score of doc {doc_text!r} must be a number, got {score!r}")
    texts = _float32_texts(scores)
    for doc_text, score, score_text in zip(docs, scores, texts):
        if score_text == "null":  # NaN, ±inf, or beyond the float32 range
            raise InputError(source, line, f"score of doc {doc_text!r} is not a finite float32: {score!r}")
    out = [f"{qid_text} Q0 {doc_text} {int(rank)} {score_text} {tag_text}\n"
           for doc_text, score_text, (_, _, rank) in zip(docs, texts, hits)]
    text = "".join(out)
    if isinstance(stream, io.TextIOBase):
        stream.write(text)
    else:
        stream.write(text.encode("utf-8"))  # type: ignore[arg-type]
