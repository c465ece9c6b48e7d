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
        exports = [*cls.exports(), *getattr(cls, "dir_exports", dict)()]
        rows.append({"name": name, "exports": sorted(exports), "package": cls.package, "installed": installed,
                     "install": f"python3 -m pip install --no-deps {cls.package}", "description": cls.description})
    click.echo(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode())


@data.command("export")
@click.argument("name")
@click.option("-o", "--output", default="-", show_default=True,
              help="Output JSONL file ('-' = stdout); a directory for multi-file exports such as wiki-known-item.")
@click.pass_obj
def export(pm, name: str, output: str) -> None:
    """Write dataset NAME (see `mstk data list`, e.g. ml-100k-events) as JSONL.

    Multi-file exports (e.g. wiki-known-item) write several files into the directory -o DIR
    and print a one-line JSON summary on stderr."""
    import orjson

    from mstk.io import open_output
    from mstk.plugins import datasets

    loaders = datasets(pm).values()
    exports = {export_name: fn for cls in loaders for export_name, fn in cls.exports().items()}
    dir_exports = {export_name: fn for cls in loaders for export_name, fn in getattr(cls, "dir_exports", dict)().items()}
    if name in dir_exports:
        if output == "-":
            raise click.UsageError(f"{name} writes several files: give a directory with -o DIR")
        summary = dir_exports[name](output)
        click.echo(orjson.dumps(summary).decode(), err=True)
        return
    if name not in exports:
        available = ", ".join(sorted([*exports, *dir_exports]))
        raise click.BadParameter(f"unknown dataset {name!r}; available: {available}", param_hint="NAME")
    out = open_output(output)
    for record in exports[name]():
        out.write(orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE))
    out.flush()
