"""``mstk generate``: JSONL prompts in, completions out, through a registered generator."""

from __future__ import annotations

import click

from mstk.cli.options import CommonOptions, jsonl_command
from mstk.generators.cli import generator_options, open_generator, pop_generator_options


@click.command("generate")
@jsonl_command
@click.option("--max-tokens", type=click.IntRange(min=1), default=64, show_default=True, help="Most new tokens per completion.")
@click.option("--temperature", type=click.FloatRange(min=0), default=0.0, show_default=True, help="0 = greedy.")
@click.option("--top-p", type=click.FloatRange(min=0, max=1, min_open=True), default=1.0, show_default=True,
              help="Nucleus sampling mass.")
@click.option("--stop", multiple=True, help="A stop string (repeat for several).")
@click.option("--n", "n", type=click.IntRange(min=1), default=1, show_default=True,
              help="Completions per request (needs --temperature > 0).")
@click.option("--id-field", default="id", show_default=True, help="Field copied into results as the request id ('' = line number).")
@click.option("--out-field", default="generation", show_default=True, help="Field that receives each result.")
@generator_options
@click.pass_obj
def generate(pm, common: CommonOptions, max_tokens: int, temperature: float, top_p: float, stop: tuple[str, ...], n: int,
             id_field: str, out_field: str, **kwargs) -> None:
    """Complete each record's `prompt` (a string) or `messages` (a chat list).

    A record may override the sampling settings with its own max_tokens, temperature,
    top_p, seed, stop or n fields; --seed is the default seed. Each output record is its
    input plus the result under --out-field ({text, finish_reason, usage, cached, and
    error or choices when there are any}) and a "generator" block {backend, model,
    model_sha256, scripted}. Order is kept. Answers are cached under
    MSTK_CACHE_DIR/generations as they arrive, so rerunning an interrupted run sends
    only what is missing. A request the server rejects (e.g. too long) is a bad line: an error,
    or with --on-error skip a record with finish_reason "error" and exit 1 at the end.
    """
    import sys

    from mstk.errors import ParameterError
    from mstk.generators import GenerationRequest
    from mstk.io import Stopwatch, dumps_records, emit_summary, iter_records, open_input, open_output

    name, options = pop_generator_options(kwargs)
    if n > 1 and temperature == 0:
        raise click.BadParameter("n > 1 at temperature 0 would repeat one completion: set --temperature > 0", param_hint="'--n'")
    defaults = {"max_tokens": max_tokens, "temperature": temperature, "top_p": top_p, "seed": common.seed,
                "stop": list(stop), "n": n}
    watch = Stopwatch()
    generator = open_generator(pm, name, options, threads=common.threads)
    info = generator.info()
    stream, source = open_input(common.input)
    policy = common.error_policy(source)
    n_records = 0
    sink = None
    try:
        sink = open_output(common.output, common.input)
        with stream, common.progress_bar(unit="req") as bar:
            for batch in iter_records(stream, policy, batch_size=common.batch_size or 10000):
                kept, requests = [], []
                for line, record in batch:
                    try:
                        request = GenerationRequest.from_dict(record, **defaults)
                    except ParameterError as exc:
                        policy.bad(line, str(exc))
                        continue
                    request.id = record.get(id_field, line) if id_field else line
                    kept.append((line, record))
                    requests.append(request)
                results = generator.generate(requests, on_result=lambda index, result: bar.update(1))
                out = []
                for (line, record), result in zip(kept, results):
                    if result.error is not None:
                        policy.bad(line, f"the {info['backend']} generator rejected this request: {result.error}")
                    record[out_field] = result.to_dict(include_id=False)
                    record["generator"] = info
                    if info.get("scripted"):
                        record["scripted"] = True
                    out.append(record)
                sink.write(dumps_records(out))
                sink.flush()
                n_records += len(out)
    finally:
        policy.close()
        if sink is not None and sink is not sys.stdout.buffer:
            sink.close()
        close = getattr(generator, "close", None)
        if close is not None:
            close()
    usage = dict(getattr(generator, "usage").as_dict()) if hasattr(generator, "usage") else {}
    usage.pop("seconds", None)
    summary = {"command": "generate", "generator": info, "n_records": n_records, **usage,
               "skipped": len(policy.skipped), "seconds": watch.seconds}
    if info.get("scripted"):
        summary["note"] = "SCRIPTED — not an LLM"
    emit_summary(summary)
    if policy.exit_code:
        raise click.exceptions.Exit(policy.exit_code)
