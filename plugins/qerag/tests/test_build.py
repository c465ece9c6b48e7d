"""``mstk qerag build`` / ``verify``: layout, manifest, reproducibility, nesting, tamper checks."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from mstk.testing import fresh_plugin_manager, run_cli

REPO_ROOT = Path(__file__).resolve().parents[3]
SOURCE = REPO_ROOT / "tests" / "data" / "qe_questions20.jsonl"
VARIANTS = ["clean", "keyboard-20", "keyboard-40", "visual-20", "visual-40", "spelling-20", "spelling-40",
            "mixed-20", "mixed-40"]


@pytest.fixture(scope="module")
def pm():
    import mstk_qerag.plugin

    return fresh_plugin_manager(mstk_qerag.plugin)


def build(pm, out: Path, *extra: str):
    result = run_cli(["qerag", "build", str(SOURCE), "--out", str(out), *extra], pm=pm)
    assert result.exit_code == 0, result.stderr
    return json.loads((out / "manifest.json").read_text())


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_layout_manifest_and_reproducibility(pm, tmp_path: Path) -> None:
    manifest = build(pm, tmp_path / "a")
    build(pm, tmp_path / "b")
    assert tree(tmp_path / "a") == tree(tmp_path / "b")
    assert [v["name"] for v in manifest["variants"]] == VARIANTS
    assert (tmp_path / "a" / "clean" / "qe_questions20.jsonl").read_bytes() == SOURCE.read_bytes()
    assert manifest["source"] == {"file": SOURCE.name, "sha256": hashlib.sha256(SOURCE.read_bytes()).hexdigest(),
                                  "n_records": 20}
    assert str(tmp_path) not in (tmp_path / "a" / "manifest.json").read_text()
    for v in manifest["variants"]:
        data = (tmp_path / "a" / v["path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == v["sha256"]
        if v["name"] != "clean":
            n_annotated = sum(b'"qe":' in line for line in data.splitlines())
            assert n_annotated == v["n_changed"] == v["k"] == round(v["rate"] * 20)


def test_lower_rates_nest_in_higher(pm, tmp_path: Path) -> None:
    build(pm, tmp_path)

    def changed(name: str) -> dict:
        lines = (tmp_path / name / "qe_questions20.jsonl").read_text().splitlines()
        return {r["id"]: r["qe"] for r in map(json.loads, lines) if "qe" in r}

    for t in ("keyboard", "visual", "spelling", "mixed"):
        low, high = changed(f"{t}-20"), changed(f"{t}-40")
        assert low and set(low) < set(high)
        for key, qe in low.items():
            assert qe["edits"] == high[key]["edits"] and qe["type"] == high[key]["type"]


def test_verify_catches_a_flipped_byte_and_a_changed_source(pm, tmp_path: Path) -> None:
    build(pm, tmp_path)
    ok = run_cli(["qerag", "verify", str(tmp_path), "--source", str(SOURCE)], pm=pm)
    assert ok.exit_code == 0, ok.stderr
    target = tmp_path / "visual-40" / "qe_questions20.jsonl"
    data = bytearray(target.read_bytes())
    data[10] ^= 1
    target.write_bytes(bytes(data))
    bad = run_cli(["qerag", "verify", str(tmp_path)], pm=pm)
    assert bad.exit_code == 1 and b"visual-40" in bad.stderr and b"sha256" in bad.stderr
    other = tmp_path / "other.jsonl"
    other.write_bytes(SOURCE.read_bytes().replace(b"eiffel", b"eiffle"))
    bad_source = run_cli(["qerag", "verify", str(tmp_path), "--source", str(other)], pm=pm)
    assert bad_source.exit_code == 1 and b"not the source" in bad_source.stderr


def test_options_reach_the_manifest_and_the_files(pm, tmp_path: Path) -> None:
    manifest = build(pm, tmp_path, "--rates", "0.5,0.25", "--types", "keyboard,visual", "--no-mixed", "--seed", "9")
    assert [v["name"] for v in manifest["variants"]] == ["clean", "keyboard-25", "keyboard-50", "visual-25", "visual-50"]
    assert manifest["seed"] == 9 and manifest["options"]["types"] == ["keyboard", "visual"]
    line = next(l for l in (tmp_path / "visual-50" / "qe_questions20.jsonl").read_text().splitlines() if '"qe"' in l)
    assert json.loads(line)["qe"]["seed"] == 9


def test_records_without_ids_are_refused(pm, tmp_path: Path) -> None:
    source = tmp_path / "noid.jsonl"
    source.write_text('{"question":"where is the tower"}\n{"question":"who wrote the novel"}\n')
    result = run_cli(["qerag", "build", str(source), "--out", str(tmp_path / "out")], pm=pm)
    assert result.exit_code == 1 and b"unique string 'id'" in result.stderr


def test_installed_command_runs_as_a_subprocess(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "mstk", "qerag", "build", str(SOURCE), "--out", str(tmp_path),
                             "--types", "keyboard", "--no-mixed"], capture_output=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clean", "keyboard-20", "keyboard-40", "manifest.json"]


def test_the_listed_summary_is_the_groups_own() -> None:
    import inspect

    from mstk_qerag.cli import qerag
    from mstk_qerag.plugin import SUMMARY

    assert SUMMARY == inspect.cleandoc(qerag.help).split("\n\n")[0].replace("\n", " ")
