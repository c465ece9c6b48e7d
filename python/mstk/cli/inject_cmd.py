"""``mstk inject-errors``: deterministic query entry errors (QE-RAG) in one JSONL field."""

from __future__ import annotations

import click

from mstk.cli.options import CommonOptions, jsonl_command
from mstk.inject.injector import FIDELITY_NOTE


def injector_options(func):
    """Options shared by ``inject-errors`` and ``qerag build`` (resources and word rules)."""
    options = [
        click.option("--field", default="question", show_default=True, help="String field to corrupt."),
        click.option("--id-field", default="id", show_default=True,
                     help="Key field seeding each record's streams ('' = key by position)."),
        click.option("--words-per-query", type=click.IntRange(min=1), default=1, show_default=True,
                     help="Words changed per chosen record (query unit)."),
        click.option("--chars-per-word", type=float, default=1, show_default=True,
                     help="Keyboard letters changed per word; a value in (0,1) means ceil(f*len)."),
        click.option("--min-word-len", type=click.IntRange(min=1), default=3, show_default=True,
                     help="Shortest word that may be edited."),
        click.option("--protect-stopwords/--no-protect-stopwords", default=True, show_default=True,
                     help="Never edit mstk's 104 function words."),
        click.option("--spelling-dict", default="builtin", show_default=True,
                     help="Misspellings: builtin rules, nlpaug, codespell, or a PATH of 'word variant ...' lines."),
        click.option("--wordlist", default="auto", show_default=True,
                     help="Real-word list that filters misspellings: pyspellchecker, symspell, or PATH (auto = first installed)."),
        click.option("--keyboard-table", default="builtin", show_default=True, help='PATH to a JSON {"a": ["q", ...]} table.'),
        click.option("--visual-table", default="builtin", show_default=True, help="PATH to a JSON table, or nlpaug."),
    ]
    for decorate in reversed(options):
        func = decorate(func)
    return func


def injector_kwargs(kwargs: dict) -> dict:
    names = ("field", "id_field", "words_per_query", "chars_per_word", "min_word_len", "protect_stopwords",
             "spelling_dict", "wordlist", "keyboard_table", "visual_table")
    return {name: kwargs.pop(name) for name in names}


def parse_types(value: str) -> tuple[str, ...]:
    types = tuple(t.strip() for t in value.split(",") if t.strip())
    if not types:
        raise click.BadParameter("give at least one type", param_hint="'--types'")
    return types


@click.command("inject-errors", help=f"""Inject keyboard, visual and spelling errors into one text field.

Reads JSONL, changes the --field of some records and writes every line back: unchanged lines
byte for byte, changed ones with the field replaced and an edit log under --annotate-key.
--unit query (default) changes exactly round(rate*N) records; --unit word changes
ceil(rate*E) of the E eligible words of every record. Output is identical for any thread
count or process; lower rates nest inside higher ones.

{FIDELITY_NOTE}
""")
@jsonl_command(batch_size=False)
@click.option("--types", default="keyboard,visual,spelling", show_default=True,
              help="Comma-separated error models (see --list-models); several = mixed, handed out in turn.")
@click.option("--rate", default="0.2", show_default=True, help="Share of queries (or words) to corrupt, in [0,1], at most 6 decimals.")
@click.option("--unit", type=click.Choice(["query", "word"]), default="query", show_default=True,
              help="query: exactly round(rate*N) records change; word: rate of each record's eligible words.")
@injector_options
@click.option("--annotate/--no-annotate", default=True, show_default=True, help="Add the edit log to changed records.")
@click.option("--annotate-key", default="qe", show_default=True, help="Key of the edit log.")
@click.option("--engine", type=click.Choice(["mstk", "nlpaug"]), default="mstk", show_default=True,
              help="nlpaug: mstk chooses the records, nlpaug 1.1.11 rewrites them (compat mode; must be installed).")
@click.option("--strict", is_flag=True, help="Exit 1 if fewer than k records could be changed.")
@click.option("--list-models", is_flag=True, help="Print the registered error models as JSON, then exit.")
@click.pass_obj
def inject_errors(pm, common: CommonOptions, types: str, rate: str, unit: str, annotate: bool, annotate_key: str,
                  engine: str, strict: bool, list_models: bool, **kwargs) -> None:
    import sys

    from mstk.errors import InputError, ParameterError
    from mstk.inject.injector import Injector, parse_rate
    from mstk.io import emit_summary, open_input, open_output
    from mstk.plugins import error_models

    registry = error_models(pm)
    if list_models:
        import orjson

        rows = [{"name": name, "version": str(getattr(cls, "version", "")), "description": getattr(cls, "description", ""),
                 "kernel": bool(getattr(cls, "kernel", False)), "module": cls.__module__} for name, cls in registry.items()]
        sys.stdout.buffer.write(orjson.dumps(rows, option=orjson.OPT_INDENT_2) + b"\n")
        return
    type_list = parse_types(types)
    for t in type_list:
        if t not in registry:
            raise click.BadParameter(f"unknown error type {t!r} (known: {', '.join(sorted(registry))})", param_hint="'--types'")
    try:
        parse_rate(rate)
    except ParameterError as exc:
        raise click.BadParameter(str(exc), param_hint="'--rate'") from None
    options = injector_kwargs(kwargs)
    try:
        injector = Injector(type_list, rate, unit, common.seed, annotate=annotate, annotate_key=annotate_key,
                            threads=common.threads, registry=registry, **options)
        if engine == "nlpaug":
            from mstk.inject.nlpaug_engine import NlpaugEngine

            injector = NlpaugEngine(injector)
    except ParameterError as exc:
        raise click.UsageError(str(exc)) from None
    policy = common.error_policy("")
    stream, source = open_input(common.input)
    policy.source = source
    with stream:
        data = stream.read()
    try:
        out, summary = injector.run_jsonl(data, skip_errors=common.on_error == "skip")
    except ValueError as exc:
        from mstk import _core

        if isinstance(exc, _core.RecordError):
            line, reason = exc.args
            raise InputError(source, line, reason) from None
        raise
    for line, reason in summary.pop("skipped", []):
        policy.bad(line, reason)
    policy.close()
    sink = open_output(common.output, common.input)
    try:
        sink.write(out)
        sink.flush()
    finally:
        if sink is not sys.stdout.buffer:
            sink.close()
    summary["skipped"] = len(policy.skipped)
    emit_summary(summary)
    if strict and summary.get("shortfall", 0) > 0:
        raise InputError(source, None, f"only {summary['n_changed']} of k={summary['k']} records could be changed (--strict)")
    if policy.exit_code:
        raise click.exceptions.Exit(policy.exit_code)
