"""``mstk plugins``: list installed plugins as JSON, failed ones with their error."""

from __future__ import annotations

import sys

import click
import orjson
import pluggy


@click.command(name="plugins")
@click.option(
    "--all",
    "include_builtins",
    is_flag=True,
    help="Also list mstk's built-in plugins.",
)
@click.pass_obj
def plugins(pm: pluggy.PluginManager, include_builtins: bool) -> None:
    """List installed plugins as JSON.

    Each entry has name, version, package (the distribution), builtin, hooks (the hooks it
    implements) and error (why it failed to load, or null). Without --all only third-party
    plugins are listed.
    """
    from mstk.plugins import describe_plugins

    listing = [row for row in describe_plugins(pm) if include_builtins or not row["builtin"]]
    _write_stdout_bytes(orjson.dumps(listing, option=orjson.OPT_INDENT_2) + b"\n")


def _write_stdout_bytes(data: bytes) -> None:
    # Text written through click.echo may still sit in the text layer; flush it first so
    # these bytes keep their place.
    sys.stdout.flush()
    binary = getattr(sys.stdout, "buffer", None)
    if binary is None:  # stdout replaced by a text-only stream (e.g. io.StringIO)
        sys.stdout.write(data.decode("utf-8"))
        return
    binary.write(data)
    binary.flush()
