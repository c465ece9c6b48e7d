"""``mstk index-info``: an index directory's manifest as one JSON line."""

from __future__ import annotations

import click


@click.command("index-info")
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--verify", is_flag=True, help="Also open the index and check every section's checksum.")
def index_info(directory: str, verify: bool) -> None:
    """Print DIR's manifest as one JSON line (exit 1 if a check fails)."""
    import orjson

    from mstk.errors import InputError
    from mstk.retrieval.bm25 import Bm25, IndexError_, read_index_dir

    try:
        manifest, _ = read_index_dir(directory, verify)
        if verify:
            Bm25.open(directory, verify=True)
    except IndexError_ as exc:
        raise InputError(directory, None, str(exc)) from None
    click.echo(orjson.dumps(manifest).decode())
