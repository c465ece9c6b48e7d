"""mstk.testing (run_cli, fixtures), the example plugin's behaviour, and import hygiene."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import click
import pytest
from hypothesis import given
from hypothesis import strategies as st

import mstk
from mstk.errors import InputError
from mstk.plugins import describe_plugins, rerankers
from mstk.testing import CliResult, fresh_plugin_manager, run_cli

REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_PLUGIN_DIR = REPO_ROOT / "tests" / "example_plugin"


@click.command(name="echo-stdin")
@click.option("--fail", type=click.Choice(["input", "bug"]))
def echo_stdin(fail: str | None) -> None:
    """Copy stdin to stdout, with a note on stderr."""
    data = sys.stdin.read()
    click.echo("note: copying", err=True)
    if fail == "input":
        raise InputError("-", 3, "not JSON (fix the record)")
    if fail == "bug":
        raise ValueError("unexpected")
    click.echo(data, nl=False)
    click.echo(os.environ.get("MSTK_TEST_GREETING", ""), err=True, nl=False)


echo_plugin = types.ModuleType("echo_plugin")
echo_plugin.register_commands = mstk.hookimpl(lambda cli: cli.add_command(echo_stdin))


@pytest.fixture
def echo_pm() -> Any:
    return fresh_plugin_manager(echo_plugin)


# ----------------------------------------------------------------- run_cli


@pytest.mark.parametrize("given_input", [b'{"a": 1}\n', '{"a": 1}\n'])
def test_run_cli_feeds_stdin_and_keeps_stdout_and_stderr_apart(echo_pm: Any, given_input: str | bytes) -> None:
    result = run_cli(["echo-stdin"], input=given_input, pm=echo_pm)
    assert result == CliResult(exit_code=0, stdout=b'{"a": 1}\n', stderr=b"note: copying\n")


def test_run_cli_applies_the_error_boundary(echo_pm: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MSTK_DEBUG", raising=False)
    bad_input = run_cli(["echo-stdin", "--fail", "input"], input="x", pm=echo_pm)
    assert bad_input.exit_code == 1
    assert bad_input.stderr == b"note: copying\nError: -:3: not JSON (fix the record)\n"

    bug = run_cli(["echo-stdin", "--fail", "bug"], input="x", pm=echo_pm)
    assert bug.exit_code == 1
    assert bug.stderr.endswith(b"Error: ValueError: unexpected (set MSTK_DEBUG=1 for a traceback)\n")

    usage = run_cli(["echo-stdin", "--fail", "nonsense"], pm=echo_pm)
    assert usage.exit_code == 2
    assert b"Invalid value for '--fail'" in usage.stderr
    assert usage.stdout == b""


def test_run_cli_env_overrides_only_for_the_call(echo_pm: Any) -> None:
    result = run_cli(["echo-stdin"], input="", pm=echo_pm, env={"MSTK_TEST_GREETING": "hi"})
    assert result.stderr == b"note: copying\nhi"
    assert "MSTK_TEST_GREETING" not in os.environ


def test_run_cli_default_manager_has_only_builtins() -> None:
    result = run_cli(["--help"])
    assert result.exit_code == 0
    assert b"plugins" in result.stdout
    assert b"echo-stdin" not in result.stdout


def test_fresh_plugin_manager_is_fresh_each_time() -> None:
    first, second = fresh_plugin_manager(echo_plugin), fresh_plugin_manager()
    assert first is not second
    assert [row["name"] for row in describe_plugins(first) if not row["builtin"]] == ["echo_plugin"]
    assert [row["name"] for row in describe_plugins(second) if not row["builtin"]] == []


# ----------------------------------------------------------------- fixtures


def test_default_fixtures_load_no_third_party_plugins(mstk_pm: Any, mstk_cli: Any) -> None:
    assert [row for row in describe_plugins(mstk_pm) if not row["builtin"]] == []
    assert json.loads(mstk_cli(["plugins"]).stdout) == []


class TestFixturesWithOverriddenPlugins:
    @pytest.fixture
    def mstk_plugins(self) -> list[object]:
        return [echo_plugin]

    def test_mstk_cli_runs_around_mstk_pm(self, mstk_pm: Any, mstk_cli: Any) -> None:
        assert mstk_pm.get_plugin("echo_plugin") is echo_plugin
        assert mstk_cli(["echo-stdin"], input="z").stdout == b"z"


def test_mstk_testing_imports_without_pytest() -> None:
    code = (
        "import sys\n"
        "sys.modules['pytest'] = None  # makes 'import pytest' raise ImportError\n"
        "import mstk.testing as testing\n"
        "print(hasattr(testing, 'mstk_pm'), testing.run_cli(['plugins']).exit_code)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT / "python")},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "False 0\n"


def test_help_path_imports_no_heavy_library() -> None:
    code = (
        "import sys\n"
        "from mstk.cli import run_with_plugins\n"
        "assert run_with_plugins(None, ['--help']) == 0\n"
        "assert run_with_plugins(None, ['plugins', '--all']) == 0\n"
        "heavy = ('numpy', 'torch', 'onnxruntime', 'tokenizers', 'tqdm', 'mstk._core')\n"
        "print(sorted(name for name in heavy if name in sys.modules), file=sys.stderr)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        # Host modules only: whatever other plugins are installed here is not under test.
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT / "python"), "MSTK_LOAD_PLUGINS": ""},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == "[]\n"


# ----------------------------------------------------------------- the example plugin


@pytest.fixture
def example_plugin(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    monkeypatch.syspath_prepend(str(EXAMPLE_PLUGIN_DIR))
    import mstk_example_plugin

    return mstk_example_plugin


def test_example_plugin_in_process(example_plugin: types.ModuleType) -> None:
    pm = fresh_plugin_manager(example_plugin)
    reranker = rerankers(pm)["example_reverse"]
    assert (reranker.name, reranker.kind) == ("example_reverse", "online")
    assert reranker.__doc__
    assert reranker().select([0.5, -1.0, 0.5, 0.0], 3) == [1, 3, 0]
    result = run_cli(["hello-example"], pm=pm)
    assert (result.exit_code, result.stderr) == (0, b"")
    assert json.loads(result.stdout) == {"hello": "example", "plugin": "mstk-example-plugin"}


def test_example_reranker_rejects_negative_k(example_plugin: types.ModuleType) -> None:
    with pytest.raises(ValueError, match="k must be >= 0"):
        example_plugin.ExampleReverseReranker().select([1.0], -1)


@given(
    scores=st.lists(st.integers(min_value=-5, max_value=5), max_size=30),  # small range: many ties
    k=st.integers(min_value=0, max_value=40),
)
def test_example_reranker_selects_the_lowest_scores(scores: list[int], k: int) -> None:
    sys.path.insert(0, str(EXAMPLE_PLUGIN_DIR))  # hypothesis reruns do not mix with function fixtures
    try:
        import mstk_example_plugin
    finally:
        sys.path.remove(str(EXAMPLE_PLUGIN_DIR))
    chosen = mstk_example_plugin.ExampleReverseReranker().select(scores, k)
    assert len(chosen) == min(k, len(scores))
    assert len(set(chosen)) == len(chosen)
    rest = [scores[i] for i in range(len(scores)) if i not in chosen]
    assert all(scores[i] <= other for i in chosen for other in rest)
    # Lowest first; among equal scores the earlier position first.
    assert all((scores[a], a) < (scores[b], b) for a, b in zip(chosen, chosen[1:]))
