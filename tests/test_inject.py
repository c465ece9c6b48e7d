"""``mstk inject-errors`` and ``mstk.inject``: the Rust kernel against the spec's vectors,
against the pure-Python reference (tests/qe_reference.py) byte for byte, and against the
invariants of spec inject-errors §6 (determinism, exact rate, nesting, validity, edit log,
no data loss, Unicode, bad input)."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mstk.errors import ParameterError
from mstk.inject import Injector, Rng, parse_rate
from mstk.plugins import error_models, get_plugin_manager
from mstk.testing import fresh_plugin_manager, run_cli

TESTS_DIR = Path(__file__).resolve().parent
REPO_ROOT = TESTS_DIR.parent
DATA = TESTS_DIR / "data"
Q10 = DATA / "qe_questions10.jsonl"
Q20 = DATA / "qe_questions20.jsonl"
UNICODE = DATA / "qe_unicode.jsonl"
TYPE_SETS = [("keyboard",), ("visual",), ("spelling",), ("keyboard", "visual", "spelling")]


def _reference():
    if "qe_reference" in sys.modules:
        return sys.modules["qe_reference"]
    spec = importlib.util.spec_from_file_location("qe_reference", TESTS_DIR / "qe_reference.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["qe_reference"] = module
    spec.loader.exec_module(module)
    return module


ref = _reference()


@pytest.fixture(scope="module")
def real_words():
    return ref.load_pyspellchecker_words()


@pytest.fixture(scope="module")
def registry():
    return error_models(get_plugin_manager())


def run_kernel(data: bytes, types, rate, unit="query", seed=0, registry=None, **options):
    injector = Injector(types, rate, unit, seed, registry=registry, **options)
    return injector.run_jsonl(data)


def records(out: bytes) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def changed_edits(out: bytes) -> dict:
    return {r["id"]: (r["qe"]["type"], [tuple(e.values()) for e in r["qe"]["edits"]]) for r in records(out) if "qe" in r}


def mstk(*args: str, input: bytes | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("MSTK_")}
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "mstk", *args], input=input, capture_output=True,
                          env=full_env, timeout=120, cwd=REPO_ROOT)


# ----------------------------------------------------------------- spec vectors (§4.1, §6)

def test_rng_vectors_match_the_spec() -> None:
    from mstk import _core

    assert _core.qe_rank_hash(["mstk-qe/1", "rank", "0", "itest_0"]) == 16242486750797824965
    r = _core.QeRng.from_state([1, 2, 3, 4])
    assert [r.next_u64() for _ in range(3)] == [11520, 0, 1509978240]
    assert Rng(0, "pick", "itest_1", "keyboard").next_u64() == 4423575290561779089
    assert Rng(0, "edit", "itest_1", "keyboard", 13).next_u64() == 1147448478056350324


@pytest.mark.parametrize("n, expected", [(1, [0, 0, 0, 1, 1]), (2, [0, 0, 1, 1, 2]), (3, [0, 1, 1, 2, 3]),
                                         (7, [0, 1, 3, 4, 7]), (10, [0, 2, 4, 5, 10]), (3610, [0, 722, 1444, 1805, 3610])])
def test_k_table(n: int, expected: list[int], registry) -> None:
    data = b"".join(b'{"id":"r%d","question":"tower number %d"}\n' % (i, i) for i in range(n))
    got = [run_kernel(data, ("keyboard",), rate, registry=registry)[1]["k"] for rate in ("0", "0.2", "0.4", "0.5", "1")]
    assert got == expected


def test_ten_question_fixture_mixed(registry) -> None:
    data = Q10.read_bytes()
    out20, s20 = run_kernel(data, ("keyboard", "visual", "spelling"), "0.2", registry=registry)
    assert changed_edits(out20) == {"test_1": ("keyboard", [(13, 19, "eiffel", "diffel")]),
                                    "test_7": ("visual", [(17, 23, "spoken", "spokeh")])}
    out40, _ = run_kernel(data, ("keyboard", "visual", "spelling"), "0.4", registry=registry)
    ch40 = changed_edits(out40)
    assert ch40["test_2"] == ("keyboard", [(28, 37, "australia", "austtalia")])
    assert ch40["test_3"] == ("spelling", [(14, 19, "novel", "noval")])
    assert set(ch40) == {"test_1", "test_2", "test_3", "test_7"}
    line = out20.splitlines()[1]
    assert line == (
        b'{"id":"test_1","question":"when was the diffel tower completed","golden_answers":["1889"],'
        b'"qe":{"version":"mstk-qe/1","type":"keyboard","seed":0,"unit":"query","rate":0.2,"field":"question",'
        b'"clean":"when was the eiffel tower completed","edits":[{"start":13,"end":19,"from":"eiffel","to":"diffel"}]}}'
    )


def test_ten_question_fixture_single_types_and_word_unit(registry) -> None:
    data = Q10.read_bytes()
    kb = changed_edits(run_kernel(data, ("keyboard",), "1", registry=registry)[0])
    assert kb["test_0"][1] == [(18, 23, "nobel", "nobek")] and kb["test_3"][1][0][2:] == ("dick", "dici")
    assert kb["test_8"][1][0][2:] == ("berlin", "herlin")
    vis = changed_edits(run_kernel(data, ("visual",), "1", registry=registry)[0])
    assert vis["test_0"][1][0][2:] == ("physics", "phy5ics") and vis["test_1"][1][0][2:] == ("tower", "t0wer")
    assert vis["test_3"][1][0][2:] == ("dick", "click")
    mixed = ("keyboard", "visual", "spelling")
    w20 = changed_edits(run_kernel(data, mixed, "0.2", "word", registry=registry)[0])
    w40 = changed_edits(run_kernel(data, mixed, "0.4", "word", registry=registry)[0])
    assert w20["test_1"] == ("visual", [(20, 25, "tower", "t0wer")])
    assert w40["test_1"] == ("visual", [(20, 25, "tower", "t0wer"), (26, 35, "completed", "comp1eted")])


# ----------------------------------------------------------- parity with the reference

@pytest.mark.parametrize("path", [Q20, UNICODE], ids=["questions20", "unicode"])
@pytest.mark.parametrize("types", TYPE_SETS, ids=lambda t: "+".join(t))
@pytest.mark.parametrize("unit", ["query", "word"])
def test_kernel_bytes_equal_the_reference(path: Path, types, unit: str, real_words, registry) -> None:
    data = path.read_bytes()
    for rate in ("0.2", "0.4", "1"):
        for seed in (0, 7):
            out, summary = run_kernel(data, types, rate, unit, seed, registry=registry)
            expected, ref_summary = ref.inject_jsonl(data, types, parse_rate(rate), unit, seed, real_words=real_words)
            assert out == expected, (rate, seed)
            assert summary["n_changed"] == ref_summary["n_changed"]
            assert summary["n_uncorruptible"] == ref_summary["n_uncorruptible"]


def test_parity_with_options(real_words, registry) -> None:
    data = Q20.read_bytes()
    for options in ({"words_per_query": 2}, {"chars_per_word": 0.3}, {"chars_per_word": 2}, {"min_word_len": 2},
                    {"protect_stopwords": False}, {"id_field": ""}, {"annotate": False}):
        out, _ = run_kernel(data, ("keyboard", "visual", "spelling"), "0.6", registry=registry, **options)
        expected, _ = ref.inject_jsonl(data, ("keyboard", "visual", "spelling"), 600000, real_words=real_words, **options)
        assert out == expected, options


def test_word_unit_parity_with_record_options(real_words, registry) -> None:
    # The word unit corrupts while it writes each line: position keys, no annotation and a
    # blank line in between must still give the reference bytes.
    data = Q20.read_bytes().replace(b"\n", b"\n\n", 3)
    for options in ({"id_field": ""}, {"annotate": False}, {"words_per_query": 2}):
        out, _ = run_kernel(data, ("keyboard", "visual", "spelling"), "0.5", "word", registry=registry, **options)
        expected, _ = ref.inject_jsonl(data, ("keyboard", "visual", "spelling"), 500000, "word",
                                       real_words=real_words, **options)
        assert out == expected, options


def test_nlpaug_spelling_list_parity(real_words, registry) -> None:
    path = ref.nlpaug_spelling_path() if importlib.util.find_spec("nlpaug") else None
    if path is None or not os.path.exists(path):
        pytest.skip("nlpaug not installed: pip install --no-deps nlpaug==1.1.11")
    injector = Injector(("spelling",), 1, registry=registry, spelling_dict="nlpaug")
    assert injector.resources["spelling"]["keys"] == 8194 and injector.resources["spelling"]["pairs"] == 34619
    with open(path, encoding="utf-8") as f:
        table = ref.load_spelling_dict(f, real_words)
    data = Q20.read_bytes()
    out, _ = injector.run_jsonl(data)
    expected, _ = ref.inject_jsonl(data, ("spelling",), 10**6, real_words=real_words, spelling_dict=table)
    assert out == expected


def test_codespell_counts(registry) -> None:
    if importlib.util.find_spec("codespell_lib") is None:
        pytest.skip("codespell not installed: pip install codespell==2.4.3")
    injector = Injector(("spelling",), 1, registry=registry, spelling_dict="codespell")
    assert (injector.resources["spelling"]["keys"], injector.resources["spelling"]["pairs"]) == (13493, 55280)


texts = st.text(st.characters(blacklist_categories=("Cs",)), max_size=60) | st.lists(
    st.sampled_from(["tower", "Nobel", "the", "é", "cafe\u0301", "www.x.org", "{slot}", "rn", "PRIZE", "iPhone",
                     "don't", "x2y", "👨\u200d👩", "\u2028", " ", "-", "modern", "necessary"]), max_size=12).map(" ".join)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=st.lists(texts, min_size=1, max_size=8), seed=st.integers(0, 2**64 - 1),
       types=st.sampled_from(TYPE_SETS), unit=st.sampled_from(["query", "word"]), rate=st.sampled_from(["0.3", "1"]))
def test_random_unicode_matches_the_reference(batch, seed, types, unit, rate, real_words, registry) -> None:
    data = b"".join(json.dumps({"id": f"h{i}", "question": t}, ensure_ascii=False).encode() + b"\n"
                    for i, t in enumerate(batch))
    out, _ = run_kernel(data, types, rate, unit, seed, registry=registry)
    expected, _ = ref.inject_jsonl(data, types, parse_rate(rate), unit, seed, real_words=real_words)
    assert out == expected
    for record in records(out):  # built-in models change each word by at most two code points
        for edit in record.get("qe", {}).get("edits", []):
            assert abs(len(edit["to"]) - len(edit["from"])) <= 2


# ----------------------------------------------------------------------- invariants

def test_output_is_identical_across_hash_seeds_and_threads() -> None:
    outs = set()
    for hash_seed, threads in (("0", "1"), ("12345", "2")):
        result = mstk("inject-errors", str(Q20), "--rate", "0.4", "--threads", threads, "--no-progress",
                      env={"PYTHONHASHSEED": hash_seed})
        assert result.returncode == 0, result.stderr
        outs.add(result.stdout)
    assert len(outs) == 1
    other = mstk("inject-errors", str(Q20), "--rate", "0.4", "--seed", "1", "--no-progress")
    assert other.stdout not in outs


# sha256 of the 20-question output at rate 0.4, seed 0, query unit. A change here changes
# users' benchmarks: it must come with a bump of the mstk-qe/N format version.
PINNED = {
    "keyboard": "bc9b505214918a7e8feaace867ca99b7e06e06ebbedf899fd3a575810f2d9313",
    "visual": "05e2cbe336d8789c3b40a310696b4b6d2f84d5bec866fc774e16d5826119821a",
    "spelling": "5ee8ad2d34f2fe5cf77c610909275a8cbf98949901c8fe761de8b7920962dc64",
}


@pytest.mark.parametrize("type_name", sorted(PINNED))
def test_output_is_pinned(type_name: str, registry) -> None:
    out, _ = run_kernel(Q20.read_bytes(), (type_name,), "0.4", registry=registry)
    assert hashlib.sha256(out).hexdigest() == PINNED[type_name]


@given(st.one_of(
    st.decimals(min_value=-2, max_value=2, allow_nan=False, places=8).map(str),
    st.from_regex(r"\A[+-]?[0-9]{0,3}(\.[0-9]{0,8})?([eE][+-]?[0-9])?\Z"),
    st.floats(0, 1).map(str),
    st.sampled_from(["", ".", "+", "abc", " 0.2 ", "1.0000000", "00.4", "0.0000005", "1e-1", "nan", "Infinity"]),
))
def test_plain_decimal_rates_parse_as_decimal_does(text: str) -> None:
    from mstk.inject.injector import _parse_rate_decimal

    def outcome(parse):
        try:
            return parse(text)
        except ParameterError as exc:
            return str(exc)

    assert outcome(parse_rate) == outcome(_parse_rate_decimal)


@pytest.mark.parametrize("n", [0, 1, 2, 3, 7, 10, 100, 3610])
@pytest.mark.parametrize("rate", ["0", "0.2", "0.4", "1"])
def test_exact_rate_and_balanced_types(n: int, rate: str, registry) -> None:
    words = ["tower", "museum", "river", "planet", "novel", "bridge"]
    lines = []
    for i in range(n):
        question = "" if i % 9 == 4 else f"where is the {words[i % 6]} of {words[(i * 5) % 6]}"
        lines.append(json.dumps({"id": f"q{i}", "question": question}).encode())
    data = b"\n".join(lines) + (b"\n" if lines else b"")
    out, s = run_kernel(data, ("keyboard", "visual", "spelling"), rate, registry=registry)
    k = (parse_rate(rate) * n + 500000) // 10**6
    corruptible = sum(1 for i in range(n) if i % 9 != 4)
    assert s["k"] == k and s["n_records"] == n
    assert s["n_changed"] == min(k, corruptible) and s["shortfall"] == k - s["n_changed"]
    assert len(changed_edits(out)) == s["n_changed"]
    counts = list(s["by_type"].values())
    assert max(counts) - min(counts) <= 1
    if rate == "0":
        assert out == data


def test_rates_and_word_counts_nest(registry) -> None:
    data = Q20.read_bytes()
    mixed = ("keyboard", "visual", "spelling")
    levels = [changed_edits(run_kernel(data, mixed, r, registry=registry)[0]) for r in ("0.2", "0.4", "1")]
    for low, high in zip(levels, levels[1:]):
        assert all(high[key] == value for key, value in low.items())
    w = [changed_edits(run_kernel(data, mixed, r, "word", registry=registry)[0]) for r in ("0.2", "0.4")]
    for key, (t, edits) in w[0].items():
        assert w[1][key][0] == t and set(edits) <= set(w[1][key][1])
    one = changed_edits(run_kernel(data, mixed, "1", words_per_query=1, registry=registry)[0])
    two = changed_edits(run_kernel(data, mixed, "1", words_per_query=2, registry=registry)[0])
    for key, (t, edits) in one.items():
        assert set(edits) <= set(two[key][1])


KEYBOARD = dict(pair.split(":") for pair in (
    "a:qswz b:ghnv c:dfvx d:cefrsx e:drsw f:cdgrtv g:bfhtvy h:bgjnuy i:jkou j:hikmnu k:ijlmo l:kop m:jkn "
    "n:bhjm o:iklp p:lo q:aw r:deft s:adewxz t:fgry u:hijy v:bcfg w:aeqs x:cdsz y:ghtu z:asx").split())


def test_every_edit_is_valid_for_its_type(real_words, registry) -> None:
    data = Q20.read_bytes() + UNICODE.read_bytes()
    spelling = Injector(("spelling",), 1, registry=registry).models[0].kernel_model
    for type_name in ("keyboard", "visual", "spelling"):
        out, _ = run_kernel(data, (type_name,), "1", "word", registry=registry)
        for record in records(out):
            if "qe" not in record:
                continue
            eligible = {(s, e) for s, e in __import__("mstk._core", fromlist=["x"]).scan_words(record["qe"]["clean"])}
            for edit in record["qe"]["edits"]:
                src, dst = edit["from"], edit["to"]
                assert (edit["start"], edit["end"]) in eligible and src != dst
                if type_name == "keyboard":
                    diff = [(a, b) for a, b in zip(src, dst) if a != b]
                    assert len(src) == len(dst) and len(diff) == 1
                    a, b = diff[0]
                    assert b.lower() in KEYBOARD[a.lower()] and a.isupper() == b.isupper()
                elif type_name == "visual":
                    assert any(src[:i] + d + src[i + len(s):] == dst
                               for s, d in ref.VISUAL_MULTI + ref.VISUAL_SINGLE
                               for i in range(len(src)) if src.startswith(s, i))
                else:
                    assert dst in spelling.candidates(src) and dst.isalpha() and dst.lower() not in real_words


def test_edit_log_applies_and_undoes(registry) -> None:
    for type_set in TYPE_SETS:
        out, _ = run_kernel(Q20.read_bytes() + UNICODE.read_bytes(), type_set, "1", "word", registry=registry)
        for record in records(out):
            if "qe" not in record:
                continue
            clean = text = record["qe"]["clean"]
            for edit in reversed(record["qe"]["edits"]):
                assert text[edit["start"]:edit["end"]] == edit["from"]
                text = text[:edit["start"]] + edit["to"] + text[edit["end"]:]
            assert text == record["question"]
            undone = record["question"]
            for edit in record["qe"]["edits"]:
                assert undone[edit["start"]:edit["start"] + len(edit["to"])] == edit["to"]
                undone = undone[:edit["start"]] + edit["from"] + undone[edit["start"] + len(edit["to"]):]
            assert undone == clean


def test_unchanged_lines_are_byte_identical(registry) -> None:
    tricky = [
        b"", b"  \r", b'{"id":"a","question":"tower museum","n":1180591620717411303424}\r',
        b'{"id":"b","question":"river bridge","f":1e-320,"g":0.1000000000000000055,"x":null}',
        b'{"id":"c","question":"planet novel","nested":{"a":[1,{"b":"\\ud800"}]},"d":1,"d":2}',
        b'{ "id" : "d" , "question" : "tower\\u00e9 museum" }  ',
        b'{"id":"e","question":""}', b'{"id":"f","question":"\\udc00 tower"}',
    ]
    for ending in (b"\n", b""):
        data = b"\n".join(tricky) + ending
        out, s = run_kernel(data, ("keyboard",), "1", registry=registry)
        out_lines, in_lines = out.split(b"\n"), data.split(b"\n")
        assert len(out_lines) == len(in_lines) and out.endswith(b"\n") == data.endswith(b"\n")
        for before, after in zip(in_lines, out_lines):
            if b'"qe":' not in after:
                assert before == after
            else:  # only the field token and the appended annotation differ
                record = json.loads(after)
                assert json.loads(before)["question"] == record["qe"]["clean"]
                prefix = before.split(b'"question"')[0]
                assert after.startswith(prefix)
        assert s["n_uncorruptible"] == 2  # the empty field and the lone surrogate
        assert s["n_changed"] == 4


# ---------------------------------------------------------------------------- CLI

def test_cli_bad_input_names_file_and_line(tmp_path: Path) -> None:
    cases = {
        b'{"id":"a","question":"x"}\n{"id":"b","question":\n': "invalid JSON",
        b'{"id":"a","question":"x"}\n\n[1]\n': "not a JSON object",
        b'{"id":"a","question":"x"}\n{"id":"b"}\n': 'field "question" missing',
        b'{"id":"a","question":"x"}\n{"id":"b","question":3}\n': "is not a string",
        b'{"id":"a","question":"x"}\n{"id":"a","question":"y"}\n': "duplicate id",
        b'{"id":"a","question":"x"}\n{"question":"y"}\n': "missing",
        b'{"id":"a","question":"x"}\n{"id":"b","question":"y","qe":{}}\n': "already present",
        b'{"id":"a","question":"x"}\n{"id":"b","question":"x","question":"y"}\n': "duplicate key",
        b'{"id":"a","question":"x"}\n{"id":1.5,"question":"y"}\n': "string or an integer",
        b'{"id":"a","question":"x"}\n\xff\n': "UTF-8",
    }
    for data, reason in cases.items():
        path = tmp_path / "bad.jsonl"
        path.write_bytes(data)
        result = run_cli(["inject-errors", str(path), "--no-progress"])
        assert result.exit_code == 1, (data, result.stderr)
        line = 3 if data.count(b"\n") == 3 else 2
        assert result.stderr.decode().startswith(f"Error: {path}:{line}: "), result.stderr
        assert reason in result.stderr.decode()
        assert result.stdout == b""


def test_cli_skip_accounts_for_every_line(tmp_path: Path) -> None:
    data = b'{"id":"a","question":"tower"}\nnot json\n{"id":"b","question":"museum"}\n{"id":"c"}\n'
    path, report = tmp_path / "in.jsonl", tmp_path / "skipped.txt"
    path.write_bytes(data)
    result = run_cli(["inject-errors", str(path), "--rate", "1", "--on-error", "skip", "--errors", str(report), "--no-progress"])
    assert result.exit_code == 1
    out_ids = [r["id"] for r in records(result.stdout)]
    skipped_lines = [int(line.split(":")[1]) for line in report.read_text().splitlines()]
    assert out_ids == ["a", "b"] and skipped_lines == [2, 4]
    summary = json.loads(result.stderr.decode().splitlines()[-1])
    assert summary["n_records"] == 2 and summary["skipped"] == 2 and summary["n_changed"] == 2


def test_cli_usage_errors() -> None:
    data = Q10.read_bytes()
    for args in (["--rate", "1.5"], ["--rate", "0.1234567"], ["--types", "keyboard,nope"], ["--wordlist", "/nonexistent"],
                 ["--chars-per-word", "1.5"]):
        result = run_cli(["inject-errors", *args, "--no-progress"], input=data)
        assert result.exit_code == 2, (args, result.stderr)


def test_cli_strict_and_rate_zero() -> None:
    data = b'{"id":"a","question":"tower"}\n{"id":"b","question":"the and"}\n'
    assert run_cli(["inject-errors", "--rate", "1", "--no-progress"], input=data).exit_code == 0
    strict = run_cli(["inject-errors", "--rate", "1", "--strict", "--no-progress"], input=data)
    assert strict.exit_code == 1 and b"--strict" in strict.stderr
    zero = run_cli(["inject-errors", "--rate", "0", "--no-progress"], input=data)
    assert zero.exit_code == 0 and zero.stdout == data


def test_cli_reinjection_needs_another_key() -> None:
    first = run_cli(["inject-errors", str(Q10), "--rate", "1", "--no-progress"]).stdout
    again = run_cli(["inject-errors", "--rate", "1", "--no-progress"], input=first)
    assert again.exit_code == 1 and b"already present" in again.stderr
    stacked = run_cli(["inject-errors", "--rate", "1", "--annotate-key", "qe2", "--seed", "3", "--no-progress"], input=first)
    assert stacked.exit_code == 0
    assert all("qe" in r and "qe2" in r for r in records(stacked.stdout))


def test_position_keys_and_summary() -> None:
    data = b'{"question":"tower museum"}\n{"question":"river bridge"}\n'
    result = run_cli(["inject-errors", "--rate", "0.5", "--no-progress"], input=data)
    summary = json.loads(result.stderr.decode().splitlines()[-1])
    assert summary["keys"] == "position" and summary["k"] == 1
    for key in ("command", "version", "seed", "unit", "rate", "types", "n_records", "k", "n_changed", "by_type",
                "n_uncorruptible", "shortfall", "keys", "resources"):
        assert key in summary


def test_help_states_fidelity() -> None:
    result = run_cli(["inject-errors", "--help"])
    text = " ".join(result.stdout.decode().split())
    assert "The paper's code is not public, so the injection algorithm is mstk's own." in text


# -------------------------------------------------------------------------- plugins

def _homoglyph_module():
    sys.path.insert(0, str(TESTS_DIR / "homoglyph_plugin"))
    try:
        import mstk_homoglyph_plugin
    finally:
        sys.path.pop(0)
    return mstk_homoglyph_plugin


def test_plugin_error_model_runs_end_to_end() -> None:
    plugin = _homoglyph_module()
    pm = fresh_plugin_manager(plugin)
    result = run_cli(["inject-errors", str(Q10), "--types", "homoglyph,keyboard", "--rate", "1", "--no-progress"], pm=pm)
    assert result.exit_code == 0, result.stderr
    recs = records(result.stdout)
    by_type = {r["qe"]["type"] for r in recs if "qe" in r}
    assert by_type == {"homoglyph", "keyboard"}
    for r in recs:
        if r.get("qe", {}).get("type") == "homoglyph":
            [edit] = r["qe"]["edits"]
            model = plugin.Homoglyph()
            model.load({})
            assert edit["to"] in model.candidates(edit["from"])
            assert any("\u0400" <= ch <= "\u04ff" for ch in edit["to"])
    from mstk.testing import check_error_model

    check_error_model(plugin.Homoglyph, ["apple", "tower", "sky", "zzz", "Paris"])
    listed = json.loads(run_cli(["inject-errors", "--list-models"], pm=pm).stdout)
    assert [m["name"] for m in listed] == ["keyboard", "visual", "spelling", "homoglyph"]


def test_invalid_and_duplicate_plugin_models() -> None:
    import types

    class Bad:
        name, version, description = "bad", "1", "returns the word itself"

        def load(self, options):
            pass

        def candidates(self, word):
            return [word]

    class Keyboard2(Bad):
        name = "keyboard"

    bad_plugin = types.ModuleType("bad_plugin")
    bad_plugin.register_error_models = __import__("mstk").hookimpl(lambda register: register(Bad))
    result = run_cli(["inject-errors", str(Q10), "--types", "bad", "--rate", "1", "--no-progress"],
                     pm=fresh_plugin_manager(bad_plugin))
    assert result.exit_code == 1 and b"invalid candidate" in result.stderr and b"'bad'" in result.stderr
    dup_plugin = types.ModuleType("dup_plugin")
    dup_plugin.register_error_models = __import__("mstk").hookimpl(lambda register: register(Keyboard2))
    result = run_cli(["inject-errors", str(Q10), "--no-progress"], pm=fresh_plugin_manager(dup_plugin))
    assert result.exit_code == 1 and b"registered by both" in result.stderr


def test_installed_plugin_distribution_adds_an_error_model(plugin_venv) -> None:
    result = plugin_venv.mstk("inject-errors", str(Q10), "--types", "homoglyph", "--rate", "1", "--no-progress",
                              MSTK_LOAD_PLUGINS="homoglyph")
    assert result.returncode == 0, result.stderr
    assert sum('"type":"homoglyph"' in line for line in result.stdout.splitlines()) == 10


# ------------------------------------------------------------------- --engine nlpaug

def _nlpaug_importable() -> bool:
    probe = subprocess.run([sys.executable, "-c", "import nlpaug.augmenter.char, nlpaug.augmenter.word"],
                           capture_output=True, timeout=120)
    return probe.returncode == 0


needs_nlpaug = pytest.mark.skipif(not _nlpaug_importable(),
                                  reason="nlpaug not importable: pip install nlpaug==1.1.11 pandas gdown")


@needs_nlpaug
def test_nlpaug_engine_keeps_k_exact_and_ignores_the_hash_seed() -> None:
    outs = []
    for hash_seed in ("1", "777"):
        result = mstk("inject-errors", str(Q20), "--engine", "nlpaug", "--rate", "0.4", "--no-progress",
                      env={"PYTHONHASHSEED": hash_seed})
        assert result.returncode == 0, result.stderr
        outs.append(result.stdout)
        summary = json.loads(result.stderr.decode().splitlines()[-1])
        assert summary["k"] == 8 and summary["n_changed"] == 8 and summary["engine"]["name"] == "nlpaug"
    assert outs[0] == outs[1]
    changed = [r for r in records(outs[0]) if "qe" in r]
    assert len(changed) == 8
    assert all(r["qe"]["engine"] == "nlpaug" and r["qe"]["edits"] is None and r["question"] != r["qe"]["clean"]
               for r in changed)
    # Unchanged records are byte-identical to the input lines.
    source = {json.loads(line)["id"]: line for line in Q20.read_bytes().splitlines()}
    for line in outs[0].splitlines():
        record = json.loads(line)
        if "qe" not in record:
            assert line == source[record["id"]]


@needs_nlpaug
def test_nlpaug_engine_rate_zero_is_the_identity() -> None:
    result = mstk("inject-errors", str(UNICODE), "--engine", "nlpaug", "--rate", "0", "--unit", "word", "--no-progress")
    assert result.returncode == 0 and result.stdout == UNICODE.read_bytes()
