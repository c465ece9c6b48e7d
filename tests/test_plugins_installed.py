"""Real installed distributions, real entry points, a real ``python -m mstk`` process.

The session fixture ``plugin_venv`` (conftest.py) pip-installs tests/example_plugin,
tests/broken_plugin and tests/misspelled_plugin into a throwaway venv. Other mstk plugins
installed on the machine are visible there too, so exact-output checks pin the plugin set
with MSTK_LOAD_PLUGINS.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:  # conftest is not importable as a module under --import-mode=importlib
    from conftest import PluginVenv

ONLY_TEST_PLUGINS = "example,broken,misspelled"
BROKEN_WARNING = (
    "Warning: plugin 'broken' failed to load: RuntimeError: mstk-broken-plugin fails on import on purpose"
    " (set MSTK_DEBUG=1 for a traceback)\n"
)
MISSPELLED_WARNING = (
    "Warning: plugin 'misspelled' failed to load: PluginError: plugin 'misspelled' implements unknown hook"
    " 'register_rerankerz' (did you mean 'register_rerankers'?) (set MSTK_DEBUG=1 for a traceback)\n"
)


def test_example_command_runs_next_to_broken_plugins(plugin_venv: PluginVenv) -> None:
    result = plugin_venv.mstk("hello-example", MSTK_LOAD_PLUGINS=ONLY_TEST_PLUGINS)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"hello": "example", "plugin": "mstk-example-plugin"}
    assert result.stdout.count("\n") == 1
    # One line per broken plugin, in name order, and nothing else.
    assert result.stderr == BROKEN_WARNING + MISSPELLED_WARNING


def test_broken_plugin_warning_is_exactly_one_line(plugin_venv: PluginVenv) -> None:
    result = plugin_venv.mstk("hello-example", MSTK_LOAD_PLUGINS="example,broken")
    assert result.returncode == 0
    assert result.stderr == BROKEN_WARNING


def test_plugins_lists_example_with_version_and_broken_with_error(plugin_venv: PluginVenv) -> None:
    result = plugin_venv.mstk("plugins", MSTK_LOAD_PLUGINS=ONLY_TEST_PLUGINS)
    assert result.returncode == 0
    listing = {row["name"]: row for row in json.loads(result.stdout)}
    assert listing == {
        "broken": {
            "name": "broken",
            "version": "0.2.0",
            "package": "mstk-broken-plugin",
            "builtin": False,
            "hooks": [],
            "error": "RuntimeError: mstk-broken-plugin fails on import on purpose",
        },
        "example": {
            "name": "example",
            "version": "0.1.0",
            "package": "mstk-example-plugin",
            "builtin": False,
            "hooks": ["register_commands", "register_rerankers"],
            "error": None,
        },
        "misspelled": {
            "name": "misspelled",
            "version": "0.3.0",
            "package": "mstk-misspelled-plugin",
            "builtin": False,
            "hooks": [],
            "error": "PluginError: plugin 'misspelled' implements unknown hook 'register_rerankerz'"
            " (did you mean 'register_rerankers'?)",
        },
    }


def test_plugins_all_adds_the_builtins(plugin_venv: PluginVenv) -> None:
    result = plugin_venv.mstk("plugins", "--all", MSTK_LOAD_PLUGINS="example")
    listing = {row["name"]: row for row in json.loads(result.stdout)}
    assert listing["mstk.default_plugins.commands"]["builtin"] is True
    assert listing["example"]["builtin"] is False


def test_help_exits_0_with_a_broken_plugin_installed(plugin_venv: PluginVenv) -> None:
    result = plugin_venv.mstk("--help", MSTK_LOAD_PLUGINS=ONLY_TEST_PLUGINS)
    assert result.returncode == 0
    assert "hello-example" in result.stdout
    assert "plugins" in result.stdout
    # The misspelled plugin is rejected whole: its otherwise valid command is absent.
    assert "misspelled-cmd" not in result.stdout
    assert result.stderr == BROKEN_WARNING + MISSPELLED_WARNING


def test_rejected_plugin_command_is_a_usage_error(plugin_venv: PluginVenv) -> None:
    result = plugin_venv.mstk("misspelled-cmd", MSTK_LOAD_PLUGINS="misspelled")
    assert result.returncode == 2
    assert "No such command 'misspelled-cmd'" in result.stderr


def test_disabling_the_broken_plugins_removes_the_warnings(plugin_venv: PluginVenv) -> None:
    result = plugin_venv.mstk("plugins", MSTK_DISABLE_PLUGINS="broken,misspelled")
    assert result.returncode == 0
    assert result.stderr == ""
    names = {row["name"] for row in json.loads(result.stdout)}
    assert "example" in names
    assert not names & {"broken", "misspelled"}


def test_disable_broken_alone_leaves_only_the_other_warning(plugin_venv: PluginVenv) -> None:
    result = plugin_venv.mstk("hello-example", MSTK_LOAD_PLUGINS=ONLY_TEST_PLUGINS, MSTK_DISABLE_PLUGINS="broken")
    assert result.returncode == 0
    assert result.stderr == MISSPELLED_WARNING


def test_empty_allow_list_loads_no_plugin(plugin_venv: PluginVenv) -> None:
    result = plugin_venv.mstk("hello-example", MSTK_LOAD_PLUGINS="")
    assert result.returncode == 2
    assert "No such command 'hello-example'" in result.stderr
    assert "Warning" not in result.stderr


def test_debug_shows_the_broken_plugins_traceback(plugin_venv: PluginVenv) -> None:
    result = plugin_venv.mstk("--help", MSTK_LOAD_PLUGINS="broken", MSTK_DEBUG="1")
    assert result.returncode == 0
    assert result.stderr.startswith("Traceback (most recent call last):")
    assert "mstk_broken_plugin.py" in result.stderr
    assert result.stderr.endswith(BROKEN_WARNING)


def test_example_reranker_runs_through_its_entry_point(plugin_venv: PluginVenv, tmp_path: Path) -> None:
    listed = plugin_venv.mstk("rerank", "--list-methods", MSTK_LOAD_PLUGINS="example")
    assert listed.returncode == 0, listed.stderr
    methods = {method["name"]: method for method in json.loads(listed.stdout)}
    assert list(methods) == ["topk", "example_reverse"]  # the host's own, then the entry point's
    assert [param["name"] for param in methods["example_reverse"]["parameters"]] == ["skip_lowest"]

    requests = tmp_path / "requests.jsonl"
    requests.write_text('{"request_id":"r1","items":["a","b","c","d"],"scores":[0.3,0.1,0.2,0.1],"providers":["x","y","x","y"]}\n')
    result = plugin_venv.mstk("rerank", "-m", "example_reverse", "-k", "3", str(requests), MSTK_LOAD_PLUGINS="example")
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    # The three lowest (b, d at 0.1; c at 0.2), displayed by score descending.
    assert (record["request_id"], record["rec_items"]) == ("r1", ["c", "b", "d"])
    assert record["rec_scores"] == pytest.approx([0.5, 0.0, 0.0])  # min-max normalised
    assert 0.0 < record["ndcg"] < 1.0
    assert json.loads(result.stderr)["method"] == "example_reverse"
