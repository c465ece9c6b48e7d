"""Test fixture: a plugin with one misspelled hook and one valid hook.

The host must reject the whole plugin (not just the misspelled hook), so the valid
command below must not appear in ``mstk``.
"""

import click

import mstk


class MisspelledReranker:
    name = "misspelled_reranker"


@click.command(name="misspelled-cmd")
def misspelled_cmd() -> None:
    """Must never be reachable: its plugin has a misspelled hook."""
    click.echo("should not run")


@mstk.hookimpl
def register_rerankerz(register) -> None:  # the typo is the point of this fixture
    register(MisspelledReranker)


@mstk.hookimpl
def register_commands(cli) -> None:
    cli.add_command(misspelled_cmd)
