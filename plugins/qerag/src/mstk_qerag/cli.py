"""``mstk qerag``: QE-RAG benchmark variants (build, verify)."""

from __future__ import annotations

from pathlib import Path

import click

from mstk.cli.inject_cmd import injector_kwargs, injector_options, parse_types
from mstk.inject import FIDELITY_NOTE


@click.group("qerag")
def qerag() -> None:
    """QE-RAG (arXiv:2504.04062): QA benchmarks with query entry errors."""


@qerag.command("build", help=f"""Write the clean / per-type / mixed error variants of a FlashRAG QA file.

INPUT is FlashRAG QA JSONL (id, question, optional golden_answers). DIR gets
<variant>/<INPUT stem>.jsonl for clean, each type at each rate and mixed, plus
manifest.json with seeds, options, counts and the sha256 of every file. Rebuilding
gives identical bytes.

{FIDELITY_NOTE}
""")
@click.argument("input", type=click.Path(exists=True, dir_okay=False))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Benchmark directory.")
@click.option("--rates", default="0.2,0.4", show_default=True, help="Comma-separated rates.")
@click.option("--types", default="keyboard,visual,spelling", show_default=True, help="Comma-separated error models.")
@click.option("--mixed/--no-mixed", default=True, show_default=True, help="Also write the mixed variants (types in turn).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--unit", type=click.Choice(["query", "word"]), default="query", show_default=True)
@injector_options
@click.pass_obj
def build(pm, input: str, out_dir: str, rates: str, types: str, mixed: bool, seed: int, unit: str, **kwargs) -> None:
    from mstk.errors import ParameterError
    from mstk.io import emit_summary
    from mstk.plugins import error_models
    from mstk_qerag import bench

    options = bench.Options(rates=tuple(r.strip() for r in rates.split(",") if r.strip()), types=parse_types(types),
                            mixed=mixed, seed=seed, unit=unit, injector=injector_kwargs(kwargs))
    source = Path(input).read_bytes()
    try:
        files, manifest = bench.build_in_memory(source, input, options, registry=error_models(pm))
    except ValueError as exc:
        from mstk import _core
        from mstk.errors import InputError

        if isinstance(exc, _core.RecordError):
            line, reason = exc.args
            raise InputError(input, line, reason) from None
        if isinstance(exc, ParameterError):
            raise click.UsageError(str(exc)) from None
        raise
    bench.write(Path(out_dir), files, manifest)
    emit_summary({"command": "qerag build", "out": out_dir, "n_records": manifest["source"]["n_records"],
                  "variants": {v["name"]: v.get("n_changed", 0) for v in manifest["variants"]}})


@qerag.command("verify")
@click.argument("bench_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--source", type=click.Path(exists=True, dir_okay=False), help="Also rebuild from this QA file and compare.")
@click.pass_obj
def verify(pm, bench_dir: str, source: str | None) -> None:
    """Check a benchmark's files against its manifest (and, with --source, a rebuild)."""
    from mstk.errors import InputError
    from mstk.plugins import error_models
    from mstk_qerag import bench

    data = Path(source).read_bytes() if source else None
    problems = bench.verify(Path(bench_dir), data, source, registry=error_models(pm))
    for problem in problems[1:]:
        click.echo(f"Error: {problem}", err=True)
    if problems:
        raise InputError(bench_dir, None, problems[0] if len(problems) == 1 else f"{problems[0]} (and {len(problems) - 1} more)")
    click.echo(f"ok: {bench_dir}", err=True)
