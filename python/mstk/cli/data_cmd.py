"""``mstk data``: list the real datasets and export them as mstk JSONL."""

from __future__ import annotations

import click


@click.group("data")
def data() -> None:
    """Real datasets read from pinned registry packages (never downloaded at run time)."""


@data.command("list")
@click.pass_obj
def list_datasets(pm) -> None:
    """Every dataset, the package it needs, and whether that package is installed."""
    import orjson

    from mstk.data import DatasetMissing
    from mstk.plugins import datasets

    rows = []
    for name, cls in datasets(pm).items():
        try:
            cls.directory()
            installed = True
        except DatasetMissing:
            installed = False
        rows.append({"name": name, "exports": sorted(cls.exports()), "package": cls.package, "installed": installed,
                     "install": f"python3 -m pip install --no-deps {cls.package}", "description": cls.description})
    click.echo(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode())


@data.command("export")
@click.argument("name")
@click.option("-o", "--output", default="-", show_default=True, help="Output JSONL file ('-' = stdout).")
@click.pass_obj
def export(pm, name: str, output: str) -> None:
    """Write dataset NAME (see `mstk data list`, e.g. ml-100k-events) as JSONL."""
    import orjson

    from mstk.io import open_output
    from mstk.plugins import datasets

    exports = {export_name: fn for cls in datasets(pm).values() for export_name, fn in cls.exports().items()}
    if name not in exports:
        raise click.BadParameter(f"unknown dataset {name!r}; available: {', '.join(sorted(exports))}", param_hint="NAME")
    out = open_output(output)
    for record in exports[name]():
        out.write(orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE))
    out.flush()
