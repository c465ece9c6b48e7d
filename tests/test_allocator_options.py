"""`import mstk` turns mimalloc's eager arena commit off (decisions.md 62) before the
compiled core loads, and leaves a value the user set alone; the compiled core leaves glibc's
static TLS reserve to the libraries imported after it (decisions.md 77)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import pytest

CODE = "import os, mstk, mstk._core; print(os.environ.get('MIMALLOC_ARENA_EAGER_COMMIT'))"


def run(env_value: str | None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "MIMALLOC_ARENA_EAGER_COMMIT"}
    if env_value is not None:
        env["MIMALLOC_ARENA_EAGER_COMMIT"] = env_value
    return subprocess.run([sys.executable, "-c", CODE], env=env, capture_output=True, text=True, check=True).stdout.strip()


def test_default_is_off_and_a_user_value_wins() -> None:
    assert run(None) == "0"
    assert run("1") == "1"


def test_the_module_leaves_static_tls_to_libraries_loaded_after_it() -> None:
    # A module flagged STATIC_TLS takes its TLS from glibc's small static reserve when it is
    # dlopened; libraries linking libgomp (implicit here; scikit-learn, torch) then fail to
    # import after it. mimalloc is built with local-dynamic TLS so this cannot happen.
    if importlib.util.find_spec("implicit") is None:
        pytest.skip("pip install implicit==0.7.3")
    proc = subprocess.run([sys.executable, "-c", "import mstk._core; import implicit.cpu.als"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-500:]
