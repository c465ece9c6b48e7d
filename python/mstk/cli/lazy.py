"""Commands imported on first use (the pattern click's docs give for large CLIs).

``mstk`` builds its whole command table on every start; importing every command module
for that would make each command pay for all the others' imports.
"""

from __future__ import annotations

import importlib

import click


class LazyCommand(click.Command):
    """A placeholder that stands for ``module:attribute`` until the group resolves it.

    ``summary`` (the first paragraph of the command's help) lets ``mstk --help`` list the
    command without importing it."""

    def __init__(self, name: str, reference: str, summary: str | None = None) -> None:
        super().__init__(name, help=summary)
        self.reference = reference

    def load(self) -> click.Command:
        module_name, _, attribute = self.reference.partition(":")
        command = getattr(importlib.import_module(module_name), attribute)
        if not isinstance(command, click.Command):  # a wrong reference fails at the first test run
            raise TypeError(f"{self.reference} is not a click command")
        if command.name != self.name:
            raise TypeError(f"{self.reference} is named {command.name!r}, registered as {self.name!r}")
        return command


class LazyGroup(click.Group):
    """A group whose ``LazyCommand`` entries are imported when first looked up."""

    _listing = False

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = self.commands.get(cmd_name)
        # While the command table is printed, a placeholder with a summary stands in.
        if isinstance(command, LazyCommand) and not (self._listing and command.help):
            command = self.commands[cmd_name] = command.load()
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        self._listing = True
        try:
            super().format_commands(ctx, formatter)
        finally:
            self._listing = False
