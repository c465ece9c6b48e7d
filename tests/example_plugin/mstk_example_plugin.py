"""A minimal mstk plugin: the command ``mstk hello-example`` and the reranker ``example_reverse``."""

from __future__ import annotations

import json
from typing import Sequence

import click

import mstk


@click.command(name="hello-example")
def hello_example() -> None:
    """Print one JSON line (reads no input)."""
    click.echo(json.dumps({"hello": "example", "plugin": "mstk-example-plugin"}))


class ExampleReverseReranker:
    """Select the k lowest-scored positions: a top-k ranking turned upside down."""

    name = "example_reverse"
    kind = "online"

    def select(self, scores: Sequence[float], k: int) -> list[int]:
        """Positions of the k lowest scores, lowest first; ties keep the earlier position."""
        if k < 0:
            raise ValueError(f"k must be >= 0, got {k}")
        by_score = sorted(range(len(scores)), key=lambda position: (scores[position], position))
        return by_score[:k]


@mstk.hookimpl
def register_commands(cli: click.Group) -> None:
    cli.add_command(hello_example)


@mstk.hookimpl
def register_rerankers(register) -> None:
    register(ExampleReverseReranker)
