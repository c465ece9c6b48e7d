"""docs/plugins.md and the README cannot drift: their example is the example plugin, the guide's hooks
are the hookspecs, and the README's commands run."""

from __future__ import annotations

import inspect
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mstk import hookspecs
from mstk.testing import fresh_plugin_manager, run_cli

REPO_ROOT = Path(__file__).resolve().parent.parent
GUIDE = REPO_ROOT / "docs" / "plugins.md"
README = REPO_ROOT / "README.md"
EXAMPLE_FILES = ("tests/example_plugin/pyproject.toml", "tests/example_plugin/mstk_example_plugin.py")

# A fenced block announced by ``<!-- file: PATH -->`` must be that file, byte for byte.
FILE_BLOCK = re.compile(r"<!-- file: (?P<path>\S+) -->\n```[a-z]*\n(?P<body>.*?)```\n", re.DOTALL)
CODE_BLOCK = re.compile(r"```(?P<lang>[a-z]*)\n(?P<body>.*?)```\n", re.DOTALL)
HOOK_NAMES = sorted(name for name in dir(hookspecs) if hasattr(getattr(hookspecs, name), "mstk_spec"))


def guide_text() -> str:
    return GUIDE.read_text(encoding="utf-8")


def readme_plugin_section() -> str:
    """The README's "Write a plugin" text, between its markers."""
    text = README.read_text(encoding="utf-8")
    start, end = text.index("<!-- write-a-plugin -->\n"), text.index("<!-- /write-a-plugin -->")
    return text[start:end]


@pytest.mark.parametrize("document", [GUIDE, README], ids=["guide", "readme"])
def test_document_shows_exactly_the_example_plugin_files(document: Path) -> None:
    text = readme_plugin_section() if document == README else guide_text()
    blocks: dict[str, list[str]] = {}
    for match in FILE_BLOCK.finditer(text):
        blocks.setdefault(match["path"], []).append(match["body"])
    assert set(blocks) == set(EXAMPLE_FILES)
    for path in EXAMPLE_FILES:
        assert blocks[path] == [(REPO_ROOT / path).read_text(encoding="utf-8")], f"{document.name} drifted from {path}"
    # Every announced block must match the regex: a typo in a fence would otherwise go unchecked.
    assert text.count("<!-- file: ") == len(EXAMPLE_FILES)


def test_readme_plugin_commands_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's install-and-run line works with the example plugin (installed = loaded here)."""
    section = readme_plugin_section()
    (commands,) = [m["body"] for m in CODE_BLOCK.finditer(section) if m["lang"] == "bash"]
    install, run = commands.strip().split(" && ")
    assert install == "pip install ./my-plugin"
    assert "[docs/plugins.md](docs/plugins.md)" in section
    program, *args = run.split()
    assert program == "mstk"

    monkeypatch.syspath_prepend(str(REPO_ROOT / "tests" / "example_plugin"))
    monkeypatch.chdir(REPO_ROOT)
    import mstk_example_plugin

    result = run_cli(args, pm=fresh_plugin_manager(mstk_example_plugin))
    assert result.exit_code == 0, result.stderr
    requests = (REPO_ROOT / "examples" / "rerank" / "requests.jsonl").read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(records) == len(requests)
    assert all(len(record["rec_items"]) == 10 for record in records)
    assert json.loads(result.stderr)["method"] == "example_reverse"


@pytest.mark.parametrize("hook_name", HOOK_NAMES)
def test_every_hook_has_a_section_with_its_signature(hook_name: str) -> None:
    spec = getattr(hookspecs, hook_name)
    arguments = ", ".join(inspect.signature(spec).parameters)
    heading = f"### `{hook_name}({arguments})`"
    assert re.search(rf"^{re.escape(heading)}\n\n\S", guide_text(), re.MULTILINE), f"missing section {heading}"


def test_guide_documents_the_environment_variables_and_warning_format() -> None:
    text = guide_text()
    for variable in ("MSTK_LOAD_PLUGINS", "MSTK_DISABLE_PLUGINS", "MSTK_DEBUG"):
        assert f"`{variable}" in text
    assert "Warning: plugin 'NAME' failed to load: ExcType: message (set MSTK_DEBUG=1 for a traceback)" in text


def test_guide_testing_example_passes(tmp_path: Path) -> None:
    """The conftest/test pair shown under "Testing your plugin" runs green as written."""
    python_blocks = [m["body"] for m in CODE_BLOCK.finditer(guide_text()) if m["lang"] == "python"]
    example = next(body for body in python_blocks if body.startswith("# conftest.py\n"))
    conftest, test_module = example.split("# test_example.py\n")
    (tmp_path / "conftest.py").write_text(conftest)
    (tmp_path / "test_example.py").write_text(test_module)
    env = {key: value for key, value in os.environ.items() if not key.startswith(("MSTK_", "PYTEST_"))}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT / "python"), str(REPO_ROOT / "tests" / "example_plugin")])
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(tmp_path), str(tmp_path)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout
