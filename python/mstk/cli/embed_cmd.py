"""``mstk embed``: sentence embeddings of a text field."""

from __future__ import annotations

import click

from mstk.cli.options import CommonOptions, jsonl_command


@click.command("embed")
@jsonl_command(batch_size=False)
@click.option("--encoder", default="minilm-int8", show_default=True, help="Registered encoder.")
@click.option("--text-field", default="contents", show_default=True)
@click.option("--kind", type=click.Choice(["doc", "query"]), default="doc", show_default=True)
@click.option("--out-field", default="embedding", show_default=True)
@click.option("--npy", type=click.Path(dir_okay=False), default=None, help="Write the matrix here (float32 .npy) instead of into records.")
@click.option("--encode-batch", type=click.IntRange(min=1), default=32, show_default=True, help="Texts per encoder batch.")
@click.pass_obj
def embed(pm, common: CommonOptions, encoder, text_field, kind, out_field, npy, encode_batch) -> None:
    """Add each record's embedding (L2-normalised float32, as a list) under --out-field."""
    import numpy as np
    import orjson

    from mstk.io import Stopwatch, emit_summary, iter_records, open_input, open_output
    from mstk.plugins import encoders

    registry = encoders(pm)
    if encoder not in registry:
        raise click.BadParameter(f"unknown encoder {encoder!r} (known: {', '.join(sorted(registry))})", param_hint="'--encoder'")
    watch = Stopwatch()
    model = registry[encoder]()
    model.load(common.threads)
    stream, source = open_input(common.input)
    policy = common.error_policy(source)
    records, texts = [], []
    with stream:
        for batch in iter_records(stream, policy):
            for line, record in batch:
                text = record.get(text_field)
                if not isinstance(text, str):
                    policy.bad(line, f"field {text_field!r} missing or not a string")
                    continue
                records.append(record)
                texts.append(text)
    matrix = model.encode(texts, kind=kind, batch_size=encode_batch)
    if npy:
        np.save(npy, matrix)
    else:
        sink = open_output(common.output, common.input)
        for record, vector in zip(records, matrix):
            record[out_field] = vector
            sink.write(orjson.dumps(record, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_APPEND_NEWLINE))
        sink.flush()
    policy.close()
    emit_summary({"command": "embed", "encoder": encoder, "n_records": len(records), "dim": int(matrix.shape[1]),
                  "skipped": len(policy.skipped), "seconds": watch.seconds})
    if policy.exit_code:
        raise click.exceptions.Exit(policy.exit_code)
