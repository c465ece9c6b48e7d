"""`import mstk` turns mimalloc's eager arena commit off (decisions.md 62) before the
compiled core loads, and leaves a value the user set alone."""

from __future__ import annotations

import os
import subprocess
import sys

CODE = "import os, mstk, mstk._core; print(os.environ.get('MIMALLOC_ARENA_EAGER_COMMIT'))"


def run(env_value: str | None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "MIMALLOC_ARENA_EAGER_COMMIT"}
    if env_value is not None:
        env["MIMALLOC_ARENA_EAGER_COMMIT"] = env_value
    return subprocess.run([sys.executable, "-c", CODE], env=env, capture_output=True, text=True, check=True).stdout.strip()


def test_default_is_off_and_a_user_value_wins() -> None:
    assert run(None) == "0"
    assert run("1") == "1"
