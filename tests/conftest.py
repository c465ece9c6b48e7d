"""Shared fixtures for the host tests.

``plugin_venv`` installs the example, broken and misspelled plugin distributions into a
throwaway virtual environment once per session, so the subprocess tests exercise real
entry points exactly as a user's ``pip install`` would create them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

pytest_plugins = ["mstk.testing"]

REPO_ROOT = Path(__file__).resolve().parent.parent
PYTHON_SOURCE = REPO_ROOT / "python"
TESTS_DIR = Path(__file__).resolve().parent
# The installed-state cache (mstk.installed) goes to a folder of this test session, not the
# user's ~/.cache; subprocesses inherit it.
os.environ.setdefault("MSTK_CACHE_DIR", tempfile.mkdtemp(prefix="mstk-test-cache-"))

PLUGIN_DISTRIBUTIONS = ("example_plugin", "broken_plugin", "misspelled_plugin", "homoglyph_plugin")


@dataclass(frozen=True)
class PluginVenv:
    """A virtual environment with the three test plugin distributions installed."""

    root: Path

    @property
    def python(self) -> Path:
        return self.root / "bin" / "python"

    def environment(self, **overrides: str) -> dict[str, str]:
        # mstk itself cannot be pip-installed without building Rust, so it comes from the
        # source tree; the plugins come from the venv's site-packages.
        env = {key: value for key, value in os.environ.items()
               if not key.startswith("MSTK_") or key == "MSTK_CACHE_DIR"}
        env["PYTHONPATH"] = str(PYTHON_SOURCE)
        env.update(overrides)
        return env

    def mstk(self, *args: str, **env_overrides: str) -> subprocess.CompletedProcess[str]:
        """Run ``python -m mstk ARGS`` in the venv, with text stdout/stderr captured."""
        return self._run(["-m", "mstk", *args], env_overrides)

    def run_python(self, code: str, **env_overrides: str) -> subprocess.CompletedProcess[str]:
        """Run ``python -c CODE`` in the venv."""
        return self._run(["-c", code], env_overrides)

    def _run(self, argv: list[str], env_overrides: dict[str, str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.python), *argv],
            env=self.environment(**env_overrides),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
            cwd=self.root,
        )


@pytest.fixture(scope="session")
def plugin_venv(tmp_path_factory: pytest.TempPathFactory) -> PluginVenv:
    base = tmp_path_factory.mktemp("plugin-venv")
    # Build from copies: setuptools writes build/ and *.egg-info next to the sources.
    sources = []
    for distribution in PLUGIN_DISTRIBUTIONS:
        copy = base / "src" / distribution
        shutil.copytree(TESTS_DIR / distribution, copy)
        sources.append(str(copy))

    venv = PluginVenv(base / "venv")
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv.root)], check=True, timeout=300)
    install = subprocess.run(
        [str(venv.root / "bin" / "pip"), "install", "--no-deps", "--no-build-isolation", "--no-index", *sources],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    )
    if install.returncode != 0:
        output = install.stdout + install.stderr
        if "invalid command 'bdist_wheel'" in output:
            # setuptools < 70.1 builds wheels only with the separate 'wheel' package.
            pytest.skip("building the test plugins needs the 'wheel' package (or setuptools>=70.1): pip install wheel")
        pytest.fail(f"pip install of the test plugins failed:\n{output}")
    return venv
