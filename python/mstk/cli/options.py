"""Options every JSONL command shares (DESIGN §3), applied with one decorator so all
commands spell and behave them the same way."""

from __future__ import annotations

import functools
import sys
from dataclasses import dataclass
from typing import Any, Callable

import click

from mstk.errors import OutputClosed
from mstk.io import ErrorPolicy


@dataclass(frozen=True)
class CommonOptions:
    input: str
    output: str
    on_error: str
    errors: str | None
    batch_size: int | None
    progress: bool
    threads: int | None
    seed: int

    def error_policy(self, source: str) -> ErrorPolicy:
        return ErrorPolicy(source=source, mode=self.on_error, errors_path=self.errors)

    def progress_bar(self, total: int | None = None, unit: str = "rec"):
        """A tqdm bar on stderr, or a no-op when progress is off (tqdm imported lazily)."""
        if not self.progress:
            return _NoProgress()
        from tqdm import tqdm

        return tqdm(total=total, unit=unit, file=sys.stderr, dynamic_ncols=True)


class _NoProgress:
    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        pass


_COMMON = ("input", "output", "on_error", "errors", "batch_size", "progress", "threads", "seed")


def jsonl_command(func: Callable[..., Any] | None = None, *, batch_size: bool = True) -> Any:
    """Add INPUT, -o, --on-error, --errors, --batch-size, --progress, --threads, --seed and
    pass them to the command as one ``common: CommonOptions`` argument.

    ``batch_size=False`` leaves out --batch-size, for commands that stream input in byte
    blocks in Rust rather than in batches of parsed records."""
    if func is None:
        return functools.partial(jsonl_command, batch_size=batch_size)

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        values = {name: kwargs.pop(name, None) for name in _COMMON}
        if values["progress"] is None:  # automatic: only when a person watches stderr
            values["progress"] = sys.stderr.isatty()
        if values["threads"] is not None and values["threads"] < 1:
            raise click.BadParameter("must be at least 1", param_hint="'--threads'")
        try:
            return func(*args, common=CommonOptions(**values), **kwargs)
        except BrokenPipeError:
            raise OutputClosed() from None

    decorators = [
        click.argument("input", default="-", metavar="[INPUT]"),
        click.option("-o", "--output", default="-", show_default=True, help="Output JSONL file ('-' = stdout)."),
        click.option("--on-error", type=click.Choice(["fail", "skip"]), default="fail", show_default=True,
                     help="On a bad input line: stop with an error, or report it and go on (exit 1 at the end)."),
        click.option("--errors", type=click.Path(dir_okay=False), default=None,
                     help="With --on-error skip: write skipped lines' numbers and reasons here instead of stderr."),
        click.option("--progress/--no-progress", default=None, help="Progress bar on stderr (default: when stderr is a terminal)."),
        click.option("--threads", type=int, default=None, help="Worker threads for the Rust core and onnxruntime (default: all cores)."),
        click.option("--seed", type=int, default=0, show_default=True, help="Seed for every random choice."),
    ]
    if batch_size:
        decorators.insert(4, click.option("--batch-size", type=click.IntRange(min=1), default=10000, show_default=True,
                                          help="Records processed per internal batch."))
    for decorate in reversed(decorators):
        wrapper = decorate(wrapper)
    return wrapper
