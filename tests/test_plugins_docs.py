"""docs/plugins.md cannot drift: its example is the example plugin, its hooks are the hookspecs."""

from __future__ import annotations

import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mstk import hookspecs

REPO_ROOT = Path(__file__).resolve().parent.parent
GUIDE = REPO_ROOT / "docs" / "plugins.md"
EXAMPLE_FILES = ("tests/example_plugin/pyproject.toml", "tests/example_plugin/mstk_example_plugin.py")

# A fenced block announced by ``<!-- file: PATH -->`` must be that file, byte for byte.
FILE_BLOCK = re.compile(r"<!-- file: (?P<path>\S+) -->\n```[a-z]*\n(?P<body>.*?)```\n", re.DOTALL)
CODE_BLOCK = re.compile(r"```(?P<lang>[a-z]*)\n(?P<body>.*?)```\n", re.DOTALL)
HOOK_NAMES = sorted(name for name in dir(hookspecs) if hasattr(getattr(hookspecs, name), "mstk_spec"))


def guide_text() -> str:
    return GUIDE.read_text(encoding="utf-8")


def test_guide_shows_exactly_the_example_plugin_files() -> None:
    blocks = {match["path"]: match["body"] for match in FILE_BLOCK.finditer(guide_text())}
    assert set(blocks) == set(EXAMPLE_FILES)
    for path in EXAMPLE_FILES:
        assert blocks[path] == (REPO_ROOT / path).read_text(encoding="utf-8"), f"docs/plugins.md drifted from {path}"


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
