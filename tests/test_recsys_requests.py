"""`recsys score` on a hand-made event log: request intervals, the traffic history for
`rerank --traffic-history`, millisecond timestamps and hashed providers."""

from __future__ import annotations

import os
import subprocess
import sys

import orjson
import pytest

from mstk.recsys.requests import RequestOptions, hashed_provider, make_requests

DAY = 86400
START = 1_000 * DAY  # a day boundary

EVENTS = [
    {"user": "u1", "item": "i1", "ts": START + 10, "rating": 5},  # day 0, positive
    {"user": "u1", "item": "i2", "ts": START + 20, "rating": 3},  # day 0, not positive
    {"user": "u2", "item": "i2", "ts": START + 2 * DAY + 5, "rating": 4},  # day 2, positive
    {"user": "u2", "item": "i3", "ts": START + 3 * DAY + 7, "rating": 5},  # day 3: first request
    {"user": "u1", "item": "i3", "ts": START + 5 * DAY + 1, "rating": 4},  # day 5: second request
]
ITEMS = [{"item": f"i{i}", "genres": [g]} for i, g in ((1, "A"), (2, "B"), (3, "A"), (4, "C"))]


def test_intervals_and_traffic_history_by_hand():
    requests, _, stats, traffic = make_requests(EVENTS, ITEMS, RequestOptions(test_from=START + 3 * DAY, model="pop"))
    assert [r["interval"] for r in requests] == [0, 2]
    # positive training events on days −3 and −1 relative to the first request's day
    assert traffic == [1, 0, 1] and stats["traffic_history_intervals"] == 3


def test_millisecond_timestamps_give_the_same_stream():
    ms_events = [{**e, "ts": e["ts"] * 1000} for e in EVENTS]
    options = RequestOptions(test_from=(START + 3 * DAY) * 1000, model="pop", interval_seconds=DAY * 1000)
    ms_requests, _, _, ms_traffic = make_requests(ms_events, ITEMS, options)
    requests, _, _, traffic = make_requests(EVENTS, ITEMS, RequestOptions(test_from=START + 3 * DAY, model="pop"))
    assert ms_traffic == traffic
    assert [r["interval"] for r in ms_requests] == [r["interval"] for r in requests]
    assert [r["items"] for r in ms_requests] == [r["items"] for r in requests]


def test_hashed_providers_are_seeded_and_stable_across_processes(tmp_path):
    names = [f"i{i}" for i in range(400)]
    buckets = [hashed_provider(n, 7, seed=0) for n in names]
    assert set(buckets) == {f"h{b}" for b in range(7)}
    assert buckets != [hashed_provider(n, 7, seed=1) for n in names]
    code = "import sys; from mstk.recsys.requests import hashed_provider as h; print(','.join(h(f'i{i}', 7, 0) for i in range(400)))"
    for hash_seed in ("1", "2"):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                             env={**os.environ, "PYTHONHASHSEED": hash_seed}).stdout.strip()
        assert out.split(",") == buckets


def test_cli_writes_traffic_and_hashed_providers(tmp_path):
    events, items = tmp_path / "events.jsonl", tmp_path / "items.jsonl"
    events.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in EVENTS))
    items.write_bytes(b"".join(orjson.dumps(i) + b"\n" for i in ITEMS))
    traffic, providers = tmp_path / "traffic.json", tmp_path / "providers.jsonl"
    test_from = "1972-09-30"  # day 1003 after the epoch = START + 3 days
    out = subprocess.run(
        [sys.executable, "-m", "mstk", "recsys", "score", str(events), "--items", str(items), "--test-from", test_from,
         "--model", "pop", "--provider-hash", "3", "--traffic-out", str(traffic), "--providers-out", str(providers)],
        capture_output=True, check=True,
    ).stdout
    requests = [orjson.loads(line) for line in out.splitlines()]
    assert len(requests) == 2 and orjson.loads(traffic.read_bytes()) == [1, 0, 1]
    expected = {n: hashed_provider(n, 3, 0) for n in ("i1", "i2", "i3", "i4")}
    for r in requests:
        assert r["providers"] == [expected[i] for i in r["items"]]
    assert {row["provider"] for row in map(orjson.loads, providers.read_bytes().splitlines())} == set(expected.values())


@pytest.mark.parametrize("bad", ["0", "x"])
def test_provider_hash_needs_a_positive_count(tmp_path, bad):
    events = tmp_path / "e.jsonl"
    events.write_bytes(orjson.dumps(EVENTS[0]) + b"\n")
    done = subprocess.run([sys.executable, "-m", "mstk", "recsys", "score", str(events), "--items", str(events), "--test-from",
                           "1972-09-30", "--provider-hash", bad], capture_output=True, text=True)
    assert done.returncode == 2 and "--provider-hash" in done.stderr


def write_inputs(tmp_path):
    events, items = tmp_path / "events.jsonl", tmp_path / "items.jsonl"
    events.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in EVENTS))
    items.write_bytes(b"".join(orjson.dumps(i) + b"\n" for i in ITEMS))
    return str(events), str(items)


def run_recsys(*args):
    return subprocess.run([sys.executable, "-m", "mstk", "recsys", *args, "--test-from", "1972-09-30"], capture_output=True)


def test_requests_from_user_scores_equal_the_built_in_model_given_its_scores(tmp_path):
    """`recsys requests --scores` fed popularity's own scores for every user reproduces
    `recsys score --model pop`: the generator is shared, only the scores come from a file."""
    events, items = write_inputs(tmp_path)
    # training interactions (ts before day 3): u1 → i1, i2; u2 → i2
    popularity = {"i1": 1.0, "i2": 2.0, "i3": 0.0, "i4": 0.0}
    scores = tmp_path / "scores.jsonl"
    scores.write_bytes(b"".join(orjson.dumps({"user": u, "items": list(popularity), "scores": list(popularity.values())}) + b"\n"
                                for u in ("u1", "u2")))
    built_in = run_recsys("score", events, "--items", items, "--model", "pop")
    from_file = run_recsys("requests", events, "--items", items, "--scores", str(scores))
    assert built_in.returncode == from_file.returncode == 0, from_file.stderr
    assert from_file.stdout == built_in.stdout and from_file.stdout.count(b"\n") == 2
    assert orjson.loads(from_file.stderr.splitlines()[-1])["model"] == "scores"


def test_only_scored_items_are_candidates_and_unscored_users_are_cold(tmp_path):
    events, items = write_inputs(tmp_path)
    scores = tmp_path / "scores.jsonl"
    scores.write_bytes(orjson.dumps({"user": "u2", "items": ["i4", "i3", "i1"], "scores": [0.5, 0.9, 0.1]}) + b"\n")
    done = run_recsys("requests", events, "--items", items, "--scores", str(scores))
    assert done.returncode == 0, done.stderr
    first, second = [orjson.loads(line) for line in done.stdout.splitlines()]
    # u2 (day 3): its scored items by score, none seen before (it saw i2, which is unscored)
    assert (first["user"], first["items"], first["scores"], first["cold"]) == ("u2", ["i3", "i4", "i1"], [0.9, 0.5, 0.1], False)
    # u1 has no scores: cold, popularity over the unseen items
    assert second["user"] == "u1" and second["cold"] is True


@pytest.mark.parametrize("lines, message", [
    ([{"user": "u1", "items": ["i1"], "scores": [1.0]}, {"user": "u1", "items": ["i2"], "scores": [2.0]}], ":2: user 'u1' is listed twice"),
    ([{"user": "u1", "items": ["i1", "i2"], "scores": [1.0]}], ":1: 2 items but 1 scores"),
    ([{"user": "u1", "items": ["i1"], "scores": ["high"]}], ":1: score of item 'i1' must be a finite number"),
    ([{"user": "u1", "items": ["zz"], "scores": [1.0]}], "--scores names 1 item(s) that are neither in --items nor in the events"),
])
def test_bad_score_files_are_refused(tmp_path, lines, message):
    events, items = write_inputs(tmp_path)
    scores = tmp_path / "scores.jsonl"
    scores.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))
    done = run_recsys("requests", events, "--items", items, "--scores", str(scores))
    assert done.returncode == 1 and message in done.stderr.decode()
