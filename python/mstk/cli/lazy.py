"""Commands imported on first use (the pattern click's docs give for large CLIs).

``mstk`` builds its whole command table on every start; importing every command module
for that would make each command pay for all the others' imports.
"""

from __future__ import annotations

import importlib

import click


class LazyCommand(click.Command):
    """A placeholder that stands for ``module:attribute`` until the group resolves it."""

    def __init__(self, name: str, reference: str) -> None:
        super().__init__(name)
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

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = self.commands.get(cmd_name)
        if isinstance(command, LazyCommand):
            command = self.commands[cmd_name] = command.load()
        return command
