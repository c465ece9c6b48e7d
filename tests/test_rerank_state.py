"""The host's side of `mstk rerank --state-in/--state-out` (method state is tested with
the bankfair plugin): the interval clock and exposure totals carry over, a continued run
may not serve an interval again, and a state written under other settings, edited or not
a state at all is refused with a clear error."""

from __future__ import annotations

import subprocess
import sys

import orjson
import pytest

from mstk.testing import run_cli

DAY = 86400
START = 1_700_000_000  # any epoch second


def requests(days: range) -> bytes:
    """Two requests a day, timestamps only (no 'interval' field): the clock numbers them."""
    rows = []
    for d in days:
        for h in (3, 15):
            rows.append({"request_id": f"d{d}h{h}", "ts": START + d * DAY + h * 3600,
                         "items": ["a", "b", "c"], "scores": [0.2 + 0.01 * d, 0.9, 0.5], "providers": ["P", "Q", "P"]})
    return b"".join(orjson.dumps(r) + b"\n" for r in rows)


def test_clock_and_exposure_carry_over_in_a_subprocess(tmp_path):
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    first.write_bytes(requests(range(0, 2)))
    second.write_bytes(requests(range(3, 5)))  # day 2 has no requests
    state = tmp_path / "state.json"
    run = lambda *args: subprocess.run([sys.executable, "-m", "mstk", "rerank", "-k", "2", *args],  # noqa: E731
                                       capture_output=True, check=True)
    run(str(first), "--state-out", str(state))
    out = run(str(second), "--state-in", str(state), "--state-out", str(state)).stdout
    # numbered from the first run's first request: days 3 and 4, not 0 and 1
    assert [orjson.loads(line)["interval"] for line in out.splitlines()] == [3, 3, 4, 4]
    saved = orjson.loads(state.read_bytes())
    assert saved["last_interval"] == 4
    assert saved["traffic"] == [2, 2, 0, 2, 2]  # the empty day counts
    assert saved["exposure"] == {"P": 8.0, "Q": 8.0}  # 8 requests × (Q's b, P's c)
    assert saved["origin"] == START + 3 * 3600


def write_state(tmp_path, data: bytes = None) -> str:
    path = tmp_path / "first.jsonl"
    path.write_bytes(data or requests(range(0, 2)))
    state = tmp_path / "state.json"
    result = run_cli(["rerank", "-k", "2", str(path), "--state-out", str(state)])
    assert result.exit_code == 0, result.stderr
    return str(state)


def test_an_interval_already_served_is_refused_with_its_line(tmp_path):
    state = write_state(tmp_path)
    again = tmp_path / "again.jsonl"
    again.write_bytes(requests(range(1, 3)))  # day 1 was served
    result = run_cli(["rerank", "-k", "2", str(again), "--state-in", state])
    assert result.exit_code == 1
    error = result.stderr.decode().strip().splitlines()[-1]
    assert error.startswith(f"Error: {again}:1: interval 1 was already served") and "interval 2 or later" in error


def test_other_settings_are_refused_naming_them(tmp_path):
    state = write_state(tmp_path)
    later = tmp_path / "later.jsonl"
    later.write_bytes(requests(range(5, 6)))
    result = run_cli(["rerank", "-k", "3", "--normalize", "none", str(later), "--state-in", state])
    assert result.exit_code == 2
    message = result.stderr.decode()
    assert "k: saved 2, now 3" in message and "normalize: saved 'minmax', now 'none'" in message


@pytest.mark.parametrize("edit, message", [
    (lambda s: {**s, "settings": {**s["settings"], "k": 5}}, "do not match their hash"),
    (lambda s: {**s, "format": "other/1"}, "not a saved re-ranking state"),
    (lambda s: {k: v for k, v in s.items() if k != "traffic"}, "lacks last_interval, traffic or exposure"),
])
def test_damaged_states_are_refused(tmp_path, edit, message):
    state = write_state(tmp_path)
    damaged = edit(orjson.loads(open(state, "rb").read()))
    open(state, "wb").write(orjson.dumps(damaged))
    later = tmp_path / "later.jsonl"
    later.write_bytes(requests(range(5, 6)))
    result = run_cli(["rerank", "-k", "2", str(later), "--state-in", state])
    assert result.exit_code == 1
    assert f"Error: {state}:1: " in result.stderr.decode() and message in result.stderr.decode()


def test_not_json_at_all(tmp_path):
    state = tmp_path / "state.json"
    state.write_bytes(b"{not json")
    later = tmp_path / "later.jsonl"
    later.write_bytes(requests(range(0, 1)))
    result = run_cli(["rerank", str(later), "--state-in", str(state)])
    assert result.exit_code == 1 and f"Error: {state}:1: not a saved re-ranking state" in result.stderr.decode()
