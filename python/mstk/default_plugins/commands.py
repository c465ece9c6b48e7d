"""The built-in commands, added through ``register_commands`` like any plugin's."""

from __future__ import annotations

import importlib

import click

from mstk import hookimpl

# One module per command (as in hatch), named "module:attribute". Adding a built-in
# command is one line here.
BUILTIN_COMMANDS: tuple[str, ...] = (
    "mstk.cli.plugins_cmd:plugins",
    "mstk.cli.rerank_cmd:rerank",
    "mstk.cli.eval_rerank_cmd:eval_rerank",
    "mstk.cli.rerank_sweep_cmd:rerank_sweep",
    "mstk.cli.data_cmd:data",
    "mstk.cli.recsys_cmd:recsys",
    "mstk.cli.inject_cmd:inject_errors",
)


def _load_command(reference: str) -> click.Command:
    module_name, _, attribute = reference.partition(":")
    command = getattr(importlib.import_module(module_name), attribute)
    if not isinstance(command, click.Command):  # catches a wrong reference at the first test run
        raise TypeError(f"{reference} is not a click command")
    return command


@hookimpl
def register_commands(cli: click.Group) -> None:
    for reference in BUILTIN_COMMANDS:
        cli.add_command(_load_command(reference))
