"""The README's commands work as written: the main job after the install command, and the
commands shown in the `mstk rerank` section (run in-process on the embedded example)."""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

import orjson

from mstk.testing import fresh_plugin_manager, run_cli

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_install_line_installs_host_and_every_plugin_then_runs_the_main_job():
    line = next(l for l in README.splitlines() if l.startswith("python3 -m pip install "))
    install, _, job = line.partition(" && ")
    targets = shlex.split(install)[4:]
    assert targets[0] == "./" and "./plugins/*/" in targets  # the glob picks up every built-in plugin
    plugin_dirs = [p for p in (ROOT / "plugins").iterdir() if (p / "pyproject.toml").exists()]
    assert {"bankfair", "qerag"} <= {p.name for p in plugin_dirs}
    for p in plugin_dirs:  # each one a real plugin that the glob installs and mstk then finds
        assert "[project.entry-points.mstk]" in (p / "pyproject.toml").read_text(encoding="utf-8"), p
    args = shlex.split(job)
    assert args[0] == "mstk"
    cwd = os.getcwd()
    os.chdir(ROOT)  # the README runs from the repository root
    try:
        result = run_cli(args[1:], pm=fresh_plugin_manager(entry_points=True), env={"MSTK_LOAD_PLUGINS": "bankfair"})
    finally:
        os.chdir(cwd)
    assert result.exit_code == 0, result.stderr
    records = [orjson.loads(line) for line in result.stdout.splitlines()]
    assert len(records) == 60 and all(len(r["rec_items"]) == 10 for r in records)
    summary = orjson.loads(result.stderr.splitlines()[-1])
    assert summary["method"] == "min_regularizer" and summary["records_in"] == 60
    # the fairness effect the README promises: exposure moves towards small providers
    top = run_cli(["rerank", "examples/rerank/requests.jsonl", "-m", "topk"], pm=fresh_plugin_manager())
    assert top.exit_code == 0
    top_exposure = orjson.loads(top.stderr.splitlines()[-1])["exposure"]
    assert summary["exposure"]["Western"] > top_exposure["Western"]


def test_test_command_is_what_ci_runs():
    command = re.search(r"## Run every test\n\n```bash\n(.+)\n```", README).group(1)
    assert command == "bash scripts/test.sh"
    assert "exec bash scripts/test.sh" in (ROOT / ".ci" / "run").read_text()
