"""mstk.testing (run_cli, fixtures), the example plugin's behaviour, and import hygiene."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import click
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mstk
from mstk.errors import InputError
from mstk.plugins import describe_plugins, rerankers
from mstk.rerank import Reranker, run_rerank
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


@pytest.mark.parametrize("plugin_module", [None, "mstk_example_plugin"])
def test_help_path_imports_no_heavy_library(plugin_module: str | None) -> None:
    # A plugin module is imported on every start: the example (a Reranker subclass) must
    # keep numpy and the Rust core off this path too.
    load = "pm = None\n"
    if plugin_module:
        load = f"import {plugin_module}\nfrom mstk.testing import fresh_plugin_manager\npm = fresh_plugin_manager({plugin_module})\n"
    code = (
        "import sys\n"
        "from mstk.cli import run_with_plugins\n"
        f"{load}"
        "assert run_with_plugins(pm, ['--help']) == 0\n"
        "assert run_with_plugins(pm, ['plugins', '--all']) == 0\n"
        "heavy = ('numpy', 'torch', 'onnxruntime', 'tokenizers', 'tqdm', 'mstk._core')\n"
        "print(sorted(name for name in heavy if name in sys.modules), file=sys.stderr)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        # Host modules (and the example plugin) only: other installed plugins are not under test.
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT / "python"), str(EXAMPLE_PLUGIN_DIR)]), "MSTK_LOAD_PLUGINS": ""},
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


# Two requests as `mstk rerank` reads them; min-max normalisation keeps the score order.
EXAMPLE_REQUESTS = (
    '{"request_id":"r1","items":["a","b","c","d","e"],"scores":[0.9,0.2,0.5,0.1,0.3],"providers":["x","y","x","y","z"]}\n'
    '{"request_id":"r2","items":["p","q","r","s"],"scores":[0.4,0.4,0.8,0.4],"providers":["x","x","y","y"]}\n'
)


def rec_items(result: CliResult) -> dict[str, list[str]]:
    assert result.exit_code == 0, result.stderr
    return {record["request_id"]: record["rec_items"] for record in map(json.loads, result.stdout.splitlines())}


def test_example_plugin_in_process(example_plugin: types.ModuleType) -> None:
    pm = fresh_plugin_manager(example_plugin)
    reranker = rerankers(pm)["example_reverse"]
    assert issubclass(reranker, Reranker)
    assert (reranker.name, reranker.kind, reranker.streaming) == ("example_reverse", "online", True)
    assert reranker.__doc__ and "toy example" in reranker.fidelity
    assert [param.name for param in reranker.params] == ["skip_lowest"]
    result = run_cli(["hello-example"], pm=pm)
    assert (result.exit_code, result.stderr) == (0, b"")
    assert json.loads(result.stdout) == {"hello": "example", "plugin": "mstk-example-plugin"}


def test_example_reranker_shows_the_lowest_scored_items(example_plugin: types.ModuleType) -> None:
    pm = fresh_plugin_manager(example_plugin)
    result = run_cli(["rerank", "-m", "example_reverse", "-k", "2", "-"], input=EXAMPLE_REQUESTS, pm=pm)
    # r1: the two lowest are d (0.1) and b (0.2), displayed by score descending.
    # r2: three candidates tie at the bottom; the earlier positions (p, q) win.
    assert rec_items(result) == {"r1": ["b", "d"], "r2": ["p", "q"]}
    summary = json.loads(result.stderr)
    assert (summary["method"], summary["params"], summary["records_out"]) == ("example_reverse", {"skip_lowest": 0}, 2)
    # The list's dcg and ndcg come from the host, which the plugin left them to.
    record = json.loads(result.stdout.splitlines()[0])
    assert record["dcg"] == pytest.approx(0.125)  # normalised scores: b 0.125, d 0.0
    assert record["ndcg"] == pytest.approx(record["dcg"] / record["idcg"])


def test_example_reranker_parameter(example_plugin: types.ModuleType) -> None:
    pm = fresh_plugin_manager(example_plugin)
    args = ["rerank", "-m", "example_reverse", "-k", "2"]
    skipped = run_cli([*args, "-p", "skip_lowest=1", "-"], input=EXAMPLE_REQUESTS, pm=pm)
    assert rec_items(skipped) == {"r1": ["e", "b"], "r2": ["q", "s"]}
    # Skipping past the end leaves a short (here: empty) list, which the host accepts.
    emptied = run_cli([*args, "-p", "skip_lowest=4", "-"], input=EXAMPLE_REQUESTS, pm=pm)
    assert rec_items(emptied) == {"r1": ["a"], "r2": []}

    negative = run_cli([*args, "-p", "skip_lowest=-1", "-"], input=EXAMPLE_REQUESTS, pm=pm)
    assert (negative.exit_code, negative.stdout) == (1, b"")
    assert negative.stderr.endswith(b"Error: parameter 'skip_lowest' must be >= 0, got -1\n")
    unknown = run_cli([*args, "-p", "skip_top=1", "-"], input=EXAMPLE_REQUESTS, pm=pm)
    assert unknown.exit_code == 2
    assert b"has no parameter 'skip_top' (valid: skip_lowest)" in unknown.stderr


@settings(deadline=None)
@given(
    requests=st.lists(
        st.lists(st.tuples(st.integers(min_value=-3, max_value=3), st.sampled_from("xyz")), max_size=12),  # many ties
        min_size=1,
        max_size=4,
    ),
    k=st.integers(min_value=1, max_value=14),
    skip=st.integers(min_value=0, max_value=14),
)
def test_example_reranker_shows_the_k_lowest_normalised_scores(requests: list[list[tuple[int, str]]], k: int, skip: int) -> None:
    sys.path.insert(0, str(EXAMPLE_PLUGIN_DIR))  # hypothesis reruns do not mix with function fixtures
    try:
        import mstk_example_plugin
    finally:
        sys.path.remove(str(EXAMPLE_PLUGIN_DIR))
    records = [
        {"items": [f"i{j}" for j in range(len(request))], "scores": [s for s, _ in request], "providers": [p for _, p in request]}
        for request in requests
    ]
    lists = run_rerank(records, mstk_example_plugin.ExampleReverseReranker, k=k, params={"skip_lowest": skip})
    top = run_rerank(records, "topk", k=k)
    assert len(lists) == len(top) == len(records)
    for request, out, ideal in zip(requests, lists, top):
        scores = [s for s, _ in request]  # min-max normalisation keeps their order and ties
        # Lowest first, ties to the earlier position: skip `skip`, then show the next k...
        expected = sorted(range(len(scores)), key=lambda j: (scores[j], j))[skip : skip + k]
        # ...displayed by score descending, ties by position.
        expected.sort(key=lambda j: (-scores[j], j))
        assert out["rec_items"] == [f"i{j}" for j in expected]
        assert out["rec_scores"] == sorted(out["rec_scores"], reverse=True)
        # dcg, idcg and ndcg are the host's, filled in because the plugin left them out.
        assert out["dcg"] == pytest.approx(sum(s / math.log2(slot + 2) for slot, s in enumerate(out["rec_scores"])))
        assert out["idcg"] == pytest.approx(ideal["dcg"])
        assert out["ndcg"] <= 1.0 + 1e-12
        if out["idcg"] > 0:
            assert out["ndcg"] == pytest.approx(out["dcg"] / out["idcg"])


def test_example_reranker_when_every_list_is_empty(example_plugin: types.ModuleType) -> None:
    records = [{"items": ["a"], "scores": [1.0], "providers": ["x"]}, {"items": [], "scores": [], "providers": []}]
    lists = run_rerank(records, example_plugin.ExampleReverseReranker, k=2, params={"skip_lowest": 1})
    assert [out["rec_items"] for out in lists] == [[], []]
    assert [out["dcg"] for out in lists] == [0.0, 0.0]
    assert [out["idcg"] for out in lists] == [1.0, 0.0]
    assert math.copysign(1.0, lists[1]["idcg"]) == 1.0  # +0.0: no "-0.0" in the output
