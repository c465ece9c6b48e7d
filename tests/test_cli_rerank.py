"""`mstk rerank` and the JSONL conventions every command shares (DESIGN §3), exercised
both in-process (build_cli around a fresh plugin manager) and as a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mstk.testing import fresh_plugin_manager, run_cli


def request(rid: str, scores: list[float], providers: list[str], **extra) -> dict:
    items = [f"{rid}-i{j}" for j in range(len(scores))]
    return {"request_id": rid, "items": items, "scores": scores, "providers": providers, **extra}


def jsonl(records) -> bytes:
    return b"".join(orjson.dumps(r) + b"\n" for r in records)


def mstk(*args: str, input: bytes | None = None, stdin=None, env=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mstk", *args],
        input=input,
        stdin=stdin if input is None else None,
        capture_output=True,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


SAMPLE = [
    request("r1", [0.1, 0.9, 0.5], ["X", "Y", "X"], user={"id": 7, "tags": ["a"]}, ts=10),
    request("r2", [0.3, 0.2], ["Y", "Y"], ts=5),
    request("r3", [1.0, 0.0, 0.5, 0.7], ["Z", "X", "Y", "Z"], note="ünïcode ✓", ts=86400 * 2 + 1),
]


def test_file_and_stdin_give_the_same_output_in_input_order(tmp_path):
    path = tmp_path / "requests.jsonl"
    path.write_bytes(jsonl(SAMPLE))
    from_file = mstk("rerank", str(path), "-k", "2")
    from_stdin = mstk("rerank", "-k", "2", input=path.read_bytes())
    assert from_file.returncode == 0, from_file.stderr
    assert from_file.stdout == from_stdin.stdout
    in_process = run_cli(["rerank", str(path), "-k", "2"])  # the same through build_cli
    assert in_process.exit_code == 0 and in_process.stdout == from_file.stdout
    out = [orjson.loads(line) for line in from_file.stdout.splitlines()]
    assert [r["request_id"] for r in out] == ["r1", "r2", "r3"]
    # unknown fields pass through untouched, candidate arrays are dropped
    assert out[0]["user"] == {"id": 7, "tags": ["a"]} and out[2]["note"] == "ünïcode ✓"
    assert "items" not in out[0] and "scores" not in out[0]
    assert out[0]["rec_items"] == ["r1-i1", "r1-i2"] and out[0]["rec_providers"] == ["Y", "X"]
    assert out[0]["rec_scores"] == [1.0, 0.5]  # min-max normalised
    assert [r["interval"] for r in out] == [0, 0, 2]  # days since the first timestamp
    summary = json.loads(from_file.stderr.decode().strip().splitlines()[-1])
    assert summary["records_in"] == 3 and summary["records_out"] == 3 and summary["skipped"] == 0


def test_keep_candidates_and_candidate_objects(tmp_path):
    rec = {"candidates": [{"item": "a", "score": 2, "provider": "P"}, {"item": "b", "score": 3, "provider": "Q"}]}
    result = run_cli(["rerank", "-k", "1", "--keep-candidates", "-"], input=jsonl([rec]))
    assert result.exit_code == 0, result.stderr
    out = orjson.loads(result.stdout)
    assert out["candidates"] == rec["candidates"] and out["rec_items"] == ["b"]


def test_bad_json_reports_file_and_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_bytes(jsonl(SAMPLE[:1]) + b"\n" + b'{"items": [oops]}\n' + jsonl(SAMPLE[1:]))
    result = mstk("rerank", str(path))
    assert result.returncode == 1
    lines = result.stderr.decode().strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"Error: {path}:3: invalid JSON")
    assert result.stdout == b""
    in_process = run_cli(["rerank", str(path)])
    assert in_process.exit_code == 1 and in_process.stderr.decode() == result.stderr.decode()


@pytest.mark.parametrize(
    "record, reason",
    [
        ({"items": ["a", "a"], "scores": [1, 2], "providers": ["P", "P"]}, "appears twice"),
        ({"items": ["a"], "scores": [1, 2], "providers": ["P"]}, "1 items but 2 scores"),
        ({"items": ["a"], "scores": [1]}, "has no provider"),
        ({"items": ["a"], "scores": ["x"], "providers": ["P"]}, "'scores' must be a list of numbers"),
    ],
)
def test_invalid_requests_are_one_line_errors(record, reason):
    result = run_cli(["rerank", "-"], input=jsonl([SAMPLE[0], record]))
    assert result.exit_code == 1
    assert result.stderr.decode().strip().count("\n") == 0
    assert result.stderr.decode().startswith("Error: <stdin>:2: ") and reason in result.stderr.decode()


def test_skip_accounts_for_every_line(tmp_path):
    lines = []
    for i in range(40):
        if i % 7 == 3:
            lines.append(b"{broken")
        elif i % 11 == 5:
            lines.append(orjson.dumps({"request_id": f"r{i}", "items": ["x", "x"], "scores": [1, 1], "providers": ["P", "P"]}))
        else:
            lines.append(orjson.dumps(request(f"r{i}", [i % 5, 1.0], ["P", "Q"])))
    errors = tmp_path / "skipped.txt"
    result = mstk("rerank", "--on-error", "skip", "--errors", str(errors), "-k", "1", input=b"\n".join(lines) + b"\n")
    assert result.returncode == 1  # something was skipped
    written = {orjson.loads(line)["request_id"] for line in result.stdout.splitlines()}
    skipped_lines = {int(row.split(":")[1]) for row in errors.read_text().splitlines()}
    assert len(written) + len(skipped_lines) == 40
    for i in range(40):
        assert (f"r{i}" in written) != (i + 1 in skipped_lines)
    summary = json.loads(result.stderr.decode().strip().splitlines()[-1])
    assert summary["skipped"] == len(skipped_lines) and summary["records_in"] == 40
    in_process = run_cli(["rerank", "--on-error", "skip", "--errors", str(errors), "-k", "1", "-"], input=b"\n".join(lines) + b"\n")
    assert in_process.exit_code == 1 and in_process.stdout == result.stdout
    assert {int(row.split(":")[1]) for row in errors.read_text().splitlines()} == skipped_lines


def test_skip_without_errors_file_reports_on_stderr():
    result = run_cli(["rerank", "--on-error", "skip", "-"], input=b"[1]\n" + jsonl(SAMPLE[:1]))
    assert result.exit_code == 1
    assert b"skipped <stdin>:1: invalid type: sequence, expected a JSON object\n" in result.stderr
    assert len(result.stdout.splitlines()) == 1


def test_closed_stdout_pipe_ends_quietly():
    many = jsonl(request(f"r{i}", [float(j) for j in range(50)], [f"P{j % 5}" for j in range(50)]) for i in range(50_000))
    proc = subprocess.Popen([sys.executable, "-m", "mstk", "rerank"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    def feed():  # a thread, so that a full stdout pipe cannot deadlock the test
        try:
            proc.stdin.write(many)
            proc.stdin.close()
        except BrokenPipeError:
            pass

    feeder = threading.Thread(target=feed)
    feeder.start()
    first = proc.stdout.readline()
    proc.stdout.close()
    stderr = proc.stderr.read()
    assert proc.wait(timeout=120) == 0
    feeder.join()
    assert orjson.loads(first)["request_id"] == "r0"
    assert b"Traceback" not in stderr and b"Error" not in stderr


def test_terminal_on_stdin_is_a_usage_error():
    main_fd, tty_fd = os.openpty()
    try:
        result = mstk("rerank", stdin=tty_fd)
    finally:
        os.close(main_fd)
        os.close(tty_fd)
    assert result.returncode == 2
    assert b"stdin is a terminal" in result.stderr


def test_terminal_on_stdin_is_a_usage_error_in_process(monkeypatch):
    """The check itself, without a subprocess: open_input refuses a terminal on stdin."""
    import io as _io

    import click

    import mstk.io

    class Terminal(_io.BytesIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(mstk.io.sys, "stdin", _io.TextIOWrapper(Terminal()))
    with pytest.raises(click.UsageError, match="stdin is a terminal") as info:
        mstk.io.open_input("-")
    assert info.value.exit_code == 2


@pytest.mark.parametrize(
    "args, code, needle",
    [
        (["rerank", "--no-such-option"], 2, b"No such option"),
        (["rerank", "-m", "nope", "-"], 2, b"unknown method 'nope'"),
        (["rerank", "-p", "lambda=1", "-"], 2, b"has no parameter 'lambda' (valid: none)"),
        (["rerank", "-p", "oops", "-"], 2, b"expected NAME=VALUE"),
        (["rerank", "--interval", "3 fortnights", "-"], 2, b"interval length"),
        (["rerank", "missing-file.jsonl"], 2, b"cannot open"),
    ],
)
def test_usage_errors_exit_2(args, code, needle):
    result = run_cli(args, input=b"")
    assert result.exit_code == code, result.stderr
    assert needle in result.stderr


def test_list_methods_describes_parameters():
    pm = fresh_plugin_manager(entry_points=True)
    result = run_cli(["rerank", "--list-methods"], pm=pm, env={"MSTK_LOAD_PLUGINS": "bankfair"})
    methods = {m["name"]: m for m in orjson.loads(result.stdout)}
    assert methods["topk"]["parameters"] == []
    params = {p["name"]: p for p in methods["min_regularizer"]["parameters"]}
    assert params["lambda"]["default"] == 30.0 and params["lambda"]["type"] == "float"
    assert methods["min_regularizer"]["fidelity"]


def test_output_is_byte_identical_across_runs_and_threads(tmp_path):
    # big enough that parsing, normalisation and writing really split across threads
    path = tmp_path / "r.jsonl"
    path.write_bytes(jsonl(request(f"r{i}", [((i * 31 + j * 17) % 23) / 23 for j in range(30)], [f"P{j % 4}" for j in range(30)], ts=i * 60) for i in range(6000)))
    runs = [mstk("rerank", str(path), "--threads", str(t), env={"PYTHONHASHSEED": str(t)}) for t in (1, 3, 8)]
    assert all(r.returncode == 0 for r in runs)
    assert runs[0].stdout == runs[1].stdout == runs[2].stdout
    assert len(runs[0].stdout.splitlines()) == 6000


def test_line_numbers_stay_exact_across_blocks():
    """Streaming methods read the input in blocks; a bad line deep in a later block must
    still be reported with its own line number, and nothing before it lost."""
    import io

    from mstk.io import ErrorPolicy, iter_block_spans
    from mstk.rerank.engine import RerankJob
    from mstk.rerank.methods import TopK

    lines = [orjson.dumps(request(f"r{i}", [1.0, 2.0], ["P", "Q"])) for i in range(500)]
    lines[7] = b""  # blank lines count as lines
    lines[431] = b'{"items": ['
    data = b"\n".join(lines) + b"\n"
    job = RerankJob(method=TopK(), params={}, k=1)
    policy = ErrorPolicy(source="blocks.jsonl", mode="skip", errors_path=None)
    written, next_line, blocks = [], 1, 0
    for chunk, start, end in iter_block_spans(io.BytesIO(data), block_bytes=1000):
        out, n, next_line = job.process(chunk, next_line, policy, span=(start, end))
        written += [orjson.loads(line)["request_id"] for line in out.splitlines()]
        blocks += 1
    assert blocks > 20
    assert next_line == 501
    assert [line for line, _ in policy.skipped] == [432]
    assert written == [f"r{i}" for i in range(500) if i not in (7, 431)]


@settings(max_examples=300, deadline=None)
@given(
    lines=st.lists(st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"")), max_size=30),
    final_newline=st.booleans(),
    block_bytes=st.integers(1, 64),
)
def test_block_spans_cover_the_input_in_whole_lines(lines, final_newline, block_bytes):
    """The reader hands on ranges of the chunks it read (no slicing) and the lines split
    across chunks as blocks of their own: together they are the input, in order, and
    every block but the last ends at a newline."""
    import io

    from mstk.io import iter_block_spans, iter_blocks

    data = b"\n".join(lines) + (b"\n" if final_newline and lines else b"")
    spans = list(iter_block_spans(io.BytesIO(data), block_bytes=block_bytes))
    blocks = [chunk[start:end] for chunk, start, end in spans]
    assert b"".join(blocks) == data
    assert all(blocks) and all(block.endswith(b"\n") for block in blocks[:-1])
    assert list(iter_blocks(io.BytesIO(data), block_bytes=block_bytes)) == blocks


def test_parse_reads_a_range_of_the_bytes_without_copying_it_first():
    from mstk import _core

    lines = [orjson.dumps(request(f"r{i}", [1.0, float(i)], ["P", f"Q{i}"])) for i in range(5)]
    data = b"junk\n" + b"\n".join(lines) + b"\npartial"
    start, end = 5, len(data) - len(b"partial")
    ranged, _ = _core.RequestBatch.parse(data, 2, span=(start, end))
    sliced, _ = _core.RequestBatch.parse(data[start:end], 2)
    assert ranged.line.tolist() == sliced.line.tolist() == [2, 3, 4, 5, 6]
    assert ranged.provider_names == sliced.provider_names
    assert ranged.score.tolist() == sliced.score.tolist()
    assert ranged.next_line == sliced.next_line == 7
    for bad in [(3, 2), (0, len(data) + 1)]:
        with pytest.raises(_core.ParameterError, match="is not a range of the"):
            _core.RequestBatch.parse(data, 1, span=bad)


def test_huge_k_is_just_longer_than_every_list():
    result = run_cli(["rerank", "-k", "100000000000", "-"], input=jsonl(SAMPLE))
    assert result.exit_code == 0, result.stderr
    assert [len(orjson.loads(line)["rec_items"]) for line in result.stdout.splitlines()] == [3, 2, 4]


def test_extreme_scores():
    huge = [request("big", [-1e308, 1e308, 0.0], ["P", "Q", "R"])]
    out = orjson.loads(run_cli(["rerank", "-"], input=jsonl(huge)).stdout)
    assert out["rec_scores"] == [1.0, 0.5, 0.0]  # min-max without overflow
    result = run_cli(["rerank", "--normalize", "none", "-"], input=jsonl(SAMPLE[:1] + [request("big", [1e308] * 3, ["P"] * 3, ts=20)]))
    assert result.exit_code == 1
    assert result.stderr.decode().startswith("Error: <stdin>:2: the list's DCG is not a finite number")


def test_timestamps_out_of_range_name_their_line():
    result = run_cli(["rerank", "-"], input=jsonl(SAMPLE[:2] + [request("far", [1.0], ["P"], ts=1e300)]))
    assert result.exit_code == 1 and result.stderr.startswith(b"Error: <stdin>:3: 'ts' 1e+300 is out of range")


def test_output_over_the_input_is_refused(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_bytes(jsonl(SAMPLE))
    result = run_cli(["rerank", str(path), "-o", str(path)])
    assert result.exit_code == 2 and b"is also the input file" in result.stderr
    assert path.read_bytes() == jsonl(SAMPLE)


def test_errors_file_rules(tmp_path):
    report = tmp_path / "skipped.txt"
    report.write_text("stale line from an earlier run\n")
    ok = run_cli(["rerank", "--on-error", "skip", "--errors", str(report), "-"], input=jsonl(SAMPLE))
    assert ok.exit_code == 0 and report.read_text() == ""  # truncated at start
    without_skip = run_cli(["rerank", "--errors", str(report), "-"], input=jsonl(SAMPLE))
    assert without_skip.exit_code == 2 and b"--on-error skip" in without_skip.stderr
    unwritable = run_cli(["rerank", "--on-error", "skip", "--errors", str(tmp_path / "no" / "such" / "dir.txt"), "-"], input=jsonl(SAMPLE))
    assert unwritable.exit_code == 2 and unwritable.stdout == b""


def _time_fields(draw, mode: str) -> dict:
    """An interval and/or ts per the example's time mode ("mixed" can break the clock's rules)."""
    kind = mode if mode != "mixed" else draw(st.sampled_from(["none", "interval", "ts", "both"]))
    fields: dict = {}
    if kind in ("interval", "both"):
        fields["interval"] = draw(st.integers(-3, 3))
    if kind in ("ts", "both"):
        fields["ts"] = draw(st.one_of(st.integers(0, 5 * 86400), st.floats(-1e6, 1e6), st.sampled_from([1e300, -2e22])))
    return fields


@st.composite
def request_lines(draw) -> bytes:
    mode = draw(st.sampled_from(["none", "interval", "ts", "mixed"]))
    providers = ["P", "Q", "é", 'q"uote', "a-much-longer-provider-name-than-sixteen-bytes"]
    lines = []
    for i in range(draw(st.integers(0, 40))):
        roll = draw(st.integers(0, 19))
        if roll == 0:
            lines.append(draw(st.sampled_from([b"", b"  ", b'{"items": [', b"[1]", b'{"items":["a","a"],"scores":[1,2],"providers":["P","P"]}',
                                               b'{"items":["a"],"scores":[1,2],"providers":["P"]}'])))
            continue
        n = draw(st.integers(1, 6))
        scores = draw(st.lists(st.sampled_from([0.0, 0.5, 1.0, -2.0, 0.25, 3.5, 1e-7]), min_size=n, max_size=n))
        names = draw(st.lists(st.sampled_from(providers), min_size=n, max_size=n))
        items = [f"r{i}-{j}" if draw(st.integers(0, 9)) else f"it\\\"em{i}-{j}" for j in range(n)]
        record: dict = {"id": i, **_time_fields(draw, mode)}
        if roll == 1:
            record["candidates"] = [{"item": it, "score": s, "provider": p} for it, s, p in zip(items, scores, names)]
        else:
            record.update(items=items, scores=scores, providers=names)
        if roll == 2:
            record["extra"] = {"nested": [1, "two"]}
        lines.append(orjson.dumps(record))
    return b"\n".join(lines) + (b"\n" if draw(st.booleans()) else b"")


@settings(max_examples=250, deadline=None)
@given(
    data=request_lines(),
    k=st.integers(1, 4),
    normalize=st.sampled_from(["minmax", "sigmoid", "none"]),
    keep_candidates=st.booleans(),
    missing_provider=st.sampled_from(["error", "singleton"]),
    on_error=st.sampled_from(["fail", "skip"]),
    block_bytes=st.sampled_from([64, 300, 1 << 20]),
    threads=st.sampled_from([1, 3]),
)
def test_topk_streaming_lane_equals_the_general_pipeline(data, k, normalize, keep_candidates, missing_provider, on_error,
                                                         block_bytes, threads):
    """`mstk rerank --method topk` takes a one-call-per-block lane (decision 80); block by
    block it must give the general pipeline's bytes, errors, skipped lines and exposure."""
    import io

    from mstk.errors import InputError
    from mstk.io import ErrorPolicy, iter_block_spans
    from mstk.rerank.engine import IntervalClock, RerankJob
    from mstk.rerank.methods import TopK
    from mstk.rerank.topk_stream import TopKStreamJob

    def run(job):
        policy = ErrorPolicy(source="in.jsonl", mode=on_error, errors_path=None)
        out, next_line, error = [], 1, None
        try:
            for chunk, start, end in iter_block_spans(io.BytesIO(data), block_bytes=block_bytes):
                written, n, next_line = job.process(chunk, next_line, policy, span=(start, end))
                assert n == written.count(b"\n")
                out.append(written)
        except InputError as exc:
            error = str(exc)
        return b"".join(out), error, policy.skipped, job.records_read, job.exposure, next_line

    options = dict(k=k, normalize=normalize, keep_candidates=keep_candidates, missing_provider=missing_provider)
    general = RerankJob(method=TopK(), params={}, clock=IntervalClock(length_seconds=3600.0), threads=threads, **options)
    lane = TopKStreamJob(on_error=on_error, interval_length=3600.0, threads=threads, **options)
    want, got = run(general), run(lane)
    assert got[:4] == want[:4]
    assert got[4] == want[4]  # exposure, every provider seen
    if want[1] is None:
        assert got[5] == want[5]


@settings(max_examples=100, deadline=None)
@given(ts=st.floats(allow_nan=False, allow_infinity=False).filter(lambda v: abs(v) / 60 >= 2.0**53))
def test_out_of_range_timestamps_are_quoted_as_python_does(ts):
    from mstk import _core

    stream = _core.TopKStream(3, interval_length=60.0)
    line = orjson.dumps(request("r", [1.0], ["P"], ts=ts))
    with pytest.raises(_core.RecordError) as caught:
        stream.process(line + b"\n", 4)
    assert caught.value.args == (4, f"'ts' {ts!r} is out of range for --interval")
