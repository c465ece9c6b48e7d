"""``mstk retrieve``: add ranked hits from one index (or several, fused) to query records."""

from __future__ import annotations

import click

from mstk.cli.index_cmd import FIDELITY
from mstk.cli.options import CommonOptions, jsonl_command


@click.command("retrieve", epilog=FIDELITY)
@jsonl_command(batch_size=True)
@click.option("--index", "indexes", multiple=True, required=True, type=click.Path(file_okay=False),
              help="Index directory (repeat to fuse several built on one corpus).")
@click.option("-k", type=click.IntRange(min=1), default=10, show_default=True, help="Hits per query.")
@click.option("--query-field", default="question", show_default=True)
@click.option("--out-field", default="retrieved", show_default=True)
@click.option("--fusion", type=click.Choice(["rrf", "linear"]), default="rrf", show_default=True)
@click.option("--weights", default=None, help="Comma-separated run weights (default equal).")
@click.option("--norm", type=click.Choice(["minmax", "zscore", "none"]), default="minmax", show_default=True)
@click.option("--rrf-k", type=float, default=60.0, show_default=True)
@click.option("--depth", type=click.IntRange(min=1), default=100, show_default=True, help="Candidates per index when fusing.")
@click.option("--with-contents", is_flag=True, help="Add each hit's text (index built with --store-contents).")
@click.option("--flashrag", is_flag=True, help="Also set output.retrieval_result = [{id, contents, score}].")
@click.option("--run-file", type=click.Path(dir_okay=False), default=None, help="Also write a TREC run file.")
@click.option("--run-tag", default="mstk", show_default=True)
@click.option("--qid-field", default="id", show_default=True)
@click.option("--overwrite", is_flag=True, help="Replace an existing --out-field.")
@click.pass_obj
def retrieve(pm, common: CommonOptions, indexes, k, query_field, out_field, fusion, weights, norm, rrf_k, depth,
             with_contents, flashrag, run_file, run_tag, qid_field, overwrite) -> None:
    """Retrieve the top -k documents for each query record's --query-field.

    Each record gets "retrieved": [{"id", "score", "rank"}, ...] (only documents matching
    at least one query term; an empty or all-stopword query gets []). Order is kept.
    """
    import orjson

    from mstk.io import Stopwatch, emit_summary, iter_records, open_input, open_output
    from mstk.retrieval.bm25 import IndexError_
    from mstk.plugins import retrievers
    from mstk.retrieval.retrievers import open_index
    from mstk.retrieval.fusion import fuse_hits

    watch = Stopwatch()
    try:
        registry = retrievers(pm)
        opened = [open_index(d, registry=registry) for d in indexes]
    except IndexError_ as exc:
        raise click.UsageError(str(exc)) from None
    if len(opened) > 1 and len({tuple(ix.doc_ids()) for ix in opened}) != 1:
        raise click.UsageError("fused indexes must be built on the same corpus (their document ids differ)")
    run_weights = [1.0] * len(opened)
    if weights:
        try:
            run_weights = [float(w) for w in weights.split(",")]
        except ValueError:
            raise click.BadParameter("expected numbers", param_hint="'--weights'") from None
        if len(run_weights) != len(opened):
            raise click.BadParameter(f"{len(run_weights)} weights for {len(opened)} indexes", param_hint="'--weights'")
    if (with_contents or flashrag) and not opened[0].has_contents:
        raise click.UsageError("--with-contents / --flashrag need an index built with --store-contents")
    main = opened[0]
    stream, source = open_input(common.input)
    policy = common.error_policy(source)
    sink = open_output(common.output, common.input)
    run_sink = open(run_file, "w", encoding="utf-8") if run_file else None
    n_queries = n_empty = 0
    fetch = k if len(opened) == 1 else max(depth, k)
    with stream:
        for batch in iter_records(stream, policy, common.batch_size or 1024):
            good = []
            for line, record in batch:
                text = record.get(query_field)
                if not isinstance(text, str):
                    policy.bad(line, f"query field {query_field!r} missing or not a string (see --query-field)")
                    continue
                if out_field in record and not overwrite:
                    policy.bad(line, f"field {out_field!r} already present (use --overwrite)")
                    continue
                good.append((line, record, text))
            queries = [t for _, _, t in good]
            results = [ix.search(queries, fetch, common.threads) for ix in opened]
            # several indexes: fused in one Rust call for the whole batch (float64 scores)
            hits_all = results[0] if len(results) == 1 else fuse_hits(
                results, k, fusion=fusion, rrf_k=rrf_k, weights=run_weights, norm=norm, threads=common.threads)
            out = []
            for i, (line, record, _) in enumerate(good):
                hits = [(int(hits_all.doc_idx[i, j]), hits_all.scores[i, j]) for j in range(int(hits_all.count[i]))]
                n_queries += 1
                n_empty += not hits
                retrieved = []
                for rank, (doc, score) in enumerate(hits, start=1):
                    hit = {"id": main.doc_id(doc), "score": score, "rank": rank}
                    if with_contents:
                        hit["contents"] = main.content(doc)
                    retrieved.append(hit)
                record[out_field] = retrieved
                if flashrag:
                    output = record.get("output") if isinstance(record.get("output"), dict) else {}
                    output["retrieval_result"] = [{"id": h["id"], "contents": main.content(d), "score": h["score"]}
                                                  for h, (d, _) in zip(retrieved, hits)]
                    record["output"] = output
                if run_sink is not None:
                    qid = record.get(qid_field)
                    if not isinstance(qid, (str, int)) or any(c.isspace() for c in str(qid)):
                        policy.bad(line, f"--qid-field {qid_field!r} missing or holds whitespace (TREC run files need one token)")
                        continue
                    for h in retrieved:
                        if any(c.isspace() for c in h["id"]):
                            raise click.UsageError(f"document id {h['id']!r} holds whitespace: it cannot go in a TREC run file")
                        run_sink.write(f"{qid} Q0 {h['id']} {h['rank']} {orjson.dumps(h['score'], option=orjson.OPT_SERIALIZE_NUMPY).decode()} {run_tag}\n")
                out.append(record)
            if out:
                sink.write(b"".join(orjson.dumps(r, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_APPEND_NEWLINE) for r in out))
    sink.flush()
    if run_sink is not None:
        run_sink.close()
    policy.close()
    emit_summary({"command": "retrieve", "n_queries": n_queries, "n_no_hits": n_empty, "indexes": list(indexes),
                  "k": k, "fusion": fusion if len(opened) > 1 else None, "skipped": len(policy.skipped),
                  "seconds": watch.seconds})
    if policy.exit_code:
        raise click.exceptions.Exit(policy.exit_code)
