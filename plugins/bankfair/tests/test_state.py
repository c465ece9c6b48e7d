"""`mstk rerank --state-in/--state-out`: a stream served in several runs, each continuing
the saved state of the one before, gives the same lists, exposure and final state as one
run over the whole stream, for every method that can continue; without the state the
later runs are served differently, so the state is what carries the method."""

from __future__ import annotations

import subprocess
import sys

import orjson
import pytest

from mstk.testing import fresh_plugin_manager, run_cli

ENV = {"MSTK_LOAD_PLUGINS": "bankfair"}


def cli(args, input=None):
    result = run_cli(args, input=input, pm=fresh_plugin_manager(entry_points=True), env=ENV)
    return result


@pytest.fixture(scope="module")
def stream(tmp_path_factory):
    """A synthetic stream over 10 intervals (fluctuating traffic), cut in three parts."""
    root = tmp_path_factory.mktemp("stream")
    subprocess.run([sys.executable, "-m", "mstk", "recsys", "synth", "-o", str(root / "all.jsonl"), "--providers-out",
                    str(root / "providers.jsonl"), "--intervals", "10", "--users", "120"], check=True, capture_output=True)
    lines = (root / "all.jsonl").read_bytes().splitlines(keepends=True)
    parts = [[], [], []]
    for line in lines:
        n = orjson.loads(line)["interval"]
        parts[0 if n < 4 else 1 if n < 7 else 2].append(line)
    for i, part in enumerate(parts):
        (root / f"part{i}.jsonl").write_bytes(b"".join(part))
    return root


METHODS = [
    # window=1 keeps Module 1's allocation local to the interval, so the horizon's end
    # (where a run stops) does not change it; `last` reads the carried traffic
    ("bankfair", ["-p", "window=1", "--forecast", "last"]),
    ("bankfair", ["-p", "window=1", "-p", "reset=never", "--forecast", "ewma"]),
    ("bankfair_plus", ["-p", "window=1", "-p", "v_ref=1", "-p", "delta=2"]),
    ("tfrom", []),
    ("min_regularizer", []),
    ("cpfair", []),
    ("k_neighbor", []),
    ("fairrec", []),
    ("pmmf", ["-p", "batch=interval"]),
]


@pytest.mark.parametrize("method, extra", METHODS, ids=[f"{m}{'-' + '-'.join(e[1::2]) if e else ''}" for m, e in METHODS])
def test_chained_runs_equal_one_run(stream, tmp_path, method, extra):
    common = ["rerank", "-m", method, "--providers", str(stream / "providers.jsonl"), *extra]
    whole = cli([*common, str(stream / "all.jsonl"), "--state-out", str(tmp_path / "whole.json")])
    assert whole.exit_code == 0, whole.stderr
    out, state = b"", None
    for i in range(3):
        args = [*common, str(stream / f"part{i}.jsonl"), "--state-out", str(tmp_path / f"s{i}.json")]
        if state:
            args += ["--state-in", state]
        part = cli(args)
        assert part.exit_code == 0, part.stderr
        out += part.stdout
        state = str(tmp_path / f"s{i}.json")
    assert out == whole.stdout
    saved, whole_state = orjson.loads((tmp_path / "s2.json").read_bytes()), orjson.loads((tmp_path / "whole.json").read_bytes())
    assert saved["last_interval"] == whole_state["last_interval"] == 9
    assert saved["traffic"] == whole_state["traffic"] and len(saved["traffic"]) == 10
    assert saved["exposure"] == pytest.approx(whole_state["exposure"])
    assert saved["method_state"] == whole_state["method_state"] or _close(saved["method_state"], whole_state["method_state"])


def _close(a, b) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    return a == pytest.approx(b)


@pytest.mark.parametrize("method, extra", [("bankfair", ["-p", "window=1", "--forecast", "last"]), ("tfrom", [])])
def test_without_the_state_the_later_part_is_served_differently(stream, tmp_path, method, extra):
    common = ["rerank", "-m", method, "--providers", str(stream / "providers.jsonl"), *extra]
    assert cli([*common, str(stream / "part0.jsonl"), "--state-out", str(tmp_path / "s.json")]).exit_code == 0
    continued = cli([*common, str(stream / "part1.jsonl"), "--state-in", str(tmp_path / "s.json")])
    fresh = cli([*common, str(stream / "part1.jsonl")])
    assert continued.exit_code == fresh.exit_code == 0
    assert continued.stdout != fresh.stdout


def test_bankfair_state_holds_estates_and_duals_by_provider_name(stream, tmp_path):
    path = tmp_path / "s.json"
    done = cli(["rerank", "-m", "bankfair", "--providers", str(stream / "providers.jsonl"), str(stream / "part0.jsonl"),
                "--state-out", str(path)])
    assert done.exit_code == 0, done.stderr
    state = orjson.loads(path.read_bytes())
    providers = {orjson.loads(line)["provider"]: orjson.loads(line) for line in (stream / "providers.jsonl").read_bytes().splitlines()}
    estate = state["method_state"]["estate"]
    assert set(estate) == set(providers)
    # estates only shrink from m_p (over-delivery is not credited) and never go negative
    assert all(0.0 <= estate[p] <= providers[p]["min_exposure"] + 1e-9 for p in estate)
    assert set(state["method_state"]["mu"]) == set(providers)


def test_methods_whose_batches_span_intervals_refuse(stream, tmp_path):
    result = cli(["rerank", "-m", "pmmf", str(stream / "part0.jsonl"), "--state-out", str(tmp_path / "s.json")])
    assert result.exit_code == 2 and "cannot continue a saved run" in result.stderr.decode()
    assert not (tmp_path / "s.json").exists()
