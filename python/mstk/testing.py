"""Helpers for testing mstk plugins (and mstk itself).

``run_cli`` runs the CLI in-process through the same error boundary and exit codes as the
real ``mstk`` binary, with stdout and stderr kept apart as bytes. With pytest, add
``pytest_plugins = ["mstk.testing"]`` to your top-level ``conftest.py`` for the fixtures:

- ``mstk_plugins``: the plugins to load; empty by default, override it to return yours;
- ``mstk_pm``: a fresh plugin manager with built-ins plus ``mstk_plugins``, no entry points;
- ``mstk_cli``: ``run_cli`` bound to ``mstk_pm``.
"""

from __future__ import annotations

import functools
import sys
from dataclasses import dataclass
from typing import IO, Any, Mapping, Sequence

import pluggy

from mstk.plugins import make_plugin_manager


@dataclass(frozen=True)
class CliResult:
    """The outcome of one in-process ``mstk`` invocation."""

    exit_code: int
    stdout: bytes
    stderr: bytes


def fresh_plugin_manager(*plugins: object, entry_points: bool = False) -> pluggy.PluginManager:
    """A new plugin manager with the built-ins and ``plugins``; installed plugins only on request.

    Leaving entry points out by default keeps a test independent of whatever else happens
    to be installed next to it.
    """
    return make_plugin_manager(entry_points=entry_points, plugins=plugins)


def run_cli(
    args: Sequence[str],
    input: str | bytes | IO[Any] | None = None,
    pm: pluggy.PluginManager | None = None,
    *,
    env: Mapping[str, str | None] | None = None,
) -> CliResult:
    """Run ``mstk ARGS`` in-process around ``pm`` (default: a fresh manager, no entry points).

    ``input`` becomes stdin; ``env`` overrides environment variables for the call (None
    removes one). Nothing raises out of here except KeyboardInterrupt: failures show up as
    the exit code and the ``Error:`` line on stderr, as they would in a shell.
    """
    from mstk.cli import run_with_plugins

    if pm is None:
        pm = fresh_plugin_manager()
    runner = _separating_runner()
    # isolation() yields (stdout, stderr, mixed output) on click >= 8.2 and
    # (stdout, stderr) on click 8.1 with mix_stderr=False.
    with runner.isolation(input=input, env=env) as streams:
        exit_code = run_with_plugins(pm, list(args))
        sys.stdout.flush()
        sys.stderr.flush()
        stdout, stderr = streams[0].getvalue(), streams[1].getvalue()
    return CliResult(exit_code=exit_code, stdout=stdout, stderr=stderr)


def check_error_model(model_class: type, words: Sequence[str], options: Mapping[str, Any] | None = None) -> None:
    """Assert that an error model follows the plugin contract (spec inject-errors §3.3).

    Two instances loaded with the same options must agree; every candidate must be a
    non-empty ``str`` that differs from its word and holds no control character or line
    separator; and a record built from ``words`` must come back from the injector with an
    edit log that turns the clean text into the changed one and back. Raises AssertionError
    (or the injector's PluginError) with the reason.
    """
    from mstk.inject import Injector

    first, second = model_class(), model_class()
    first.load(dict(options or {}))
    second.load(dict(options or {}))
    for word in words:
        a, b = list(first.candidates(word)), list(second.candidates(word))
        assert a == b, f"two instances disagree on {word!r}: {a!r} vs {b!r}"
        for c in a:
            assert isinstance(c, str) and c, f"candidate {c!r} for {word!r} is not a non-empty str"
            assert c != word, f"candidate for {word!r} equals the word"
            assert not any(ord(ch) < 0x20 or ch in "\u2028\u2029" for ch in c), f"candidate {c!r} holds a control character"
    injector = Injector((model_class.name,), rate=1, unit="word", registry={model_class.name: model_class})
    text = " ".join(words)
    [result] = injector.corrupt_texts([text])
    if result is None:
        return
    rebuilt, undone = text, result.text
    for edit in reversed(result.edits):  # right to left keeps earlier offsets valid
        assert text[edit.start:edit.end] == edit.source, f"edit {edit} does not match the clean text"
        rebuilt = rebuilt[: edit.start] + edit.target + rebuilt[edit.end:]
    assert rebuilt == result.text, "applying the edits to the clean text does not give the changed text"
    for edit in result.edits:  # left to right: text before each edit is already clean again
        start = edit.start
        assert undone[start:start + len(edit.target)] == edit.target, f"edit {edit} does not match the changed text"
        undone = undone[:start] + edit.source + undone[start + len(edit.target):]
    assert undone == text, "undoing the edits does not give the clean text back"


def _separating_runner() -> Any:
    from click.testing import CliRunner

    try:
        return CliRunner(mix_stderr=False)  # type: ignore[call-arg]  # click 8.1
    except TypeError:  # click >= 8.2 always keeps stderr apart
        return CliRunner()


try:  # fixtures only where pytest is installed: mstk.testing must import without it
    import pytest
except ImportError:  # pragma: no cover - exercised only without pytest
    pytest = None  # type: ignore[assignment]

if pytest is not None:

    @pytest.fixture
    def mstk_plugins() -> Sequence[object]:
        """The plugins ``mstk_pm`` loads; override this fixture to return your plugin modules."""
        return ()

    @pytest.fixture
    def mstk_pm(mstk_plugins: Sequence[object]) -> pluggy.PluginManager:
        """A fresh plugin manager: built-ins plus ``mstk_plugins``, no installed entry points."""
        return fresh_plugin_manager(*mstk_plugins)

    @pytest.fixture
    def mstk_cli(mstk_pm: pluggy.PluginManager) -> Any:
        """``run_cli`` bound to ``mstk_pm``: ``mstk_cli(["plugins"], input=b"...")``."""
        return functools.partial(run_cli, pm=mstk_pm)
