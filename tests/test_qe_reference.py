"""The pure-Python QE reference (tests/qe_reference.py) against every hand-given vector of
specs/inject-errors.md (§4.1–§4.6 and §6), plus the invariants the vectors imply.

Later parity tests compare the Rust kernel's bytes with this reference, so a failure here
means the reference itself has drifted from the spec.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

TESTS_DIR = Path(__file__).resolve().parent
DATA = TESTS_DIR / "data" / "qe_questions10.jsonl"


def _load_reference():
    # --import-mode=importlib keeps tests/ off sys.path, so load the helper by file name
    # (and register it, so other test modules share one copy).
    if "qe_reference" in sys.modules:
        return sys.modules["qe_reference"]
    spec = importlib.util.spec_from_file_location("qe_reference", TESTS_DIR / "qe_reference.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["qe_reference"] = module
    spec.loader.exec_module(module)
    return module


q = _load_reference()


@pytest.fixture(scope="module")
def real_words():
    return q.load_pyspellchecker_words()


@pytest.fixture(scope="module")
def fixture_bytes():
    return DATA.read_bytes()


def changed(data: bytes, real_words, **kw) -> dict:
    _, summary = q.inject_jsonl(data, real_words=real_words, **kw)
    return summary["changed"]


def edits_of(ch: dict) -> dict:
    return {key: (t, edits) for key, (t, _new, edits) in ch.items()}


# ---------------------------------------------------------------------------
# §4.1
# ---------------------------------------------------------------------------


def test_msg_vector():
    assert q.msg(["mstk-qe/1", "rank", "0", "itest_0"]).hex() == (
        "000000096d73746b2d71652f310000000472616e6b00000001300000000769746573745f30"
    )


def test_digest_and_rank_hash_vector():
    parts = ["mstk-qe/1", "rank", "0", "itest_0"]
    assert q.digest(parts).hex().startswith("e168e7a4ba4b03c5")
    assert q.rank_hash(parts) == 16242486750797824965


def test_xoshiro_raw_state_vector():
    rng = q.Rng.from_state(1, 2, 3, 4)
    assert [rng.next_u64() for _ in range(3)] == [11520, 0, 1509978240]


def test_all_zero_state_becomes_s0_one():
    a, b = q.Rng.from_state(0, 0, 0, 0), q.Rng.from_state(1, 0, 0, 0)
    outputs = [a.next_u64() for _ in range(8)]
    assert outputs == [b.next_u64() for _ in range(8)] and any(outputs)


def test_first_stream_outputs():
    assert q.Rng("mstk-qe/1", "pick", "0", "itest_1", "keyboard").next_u64() == 4423575290561779089
    assert q.Rng("mstk-qe/1", "edit", "0", "itest_1", "keyboard", "13").next_u64() == 1147448478056350324


def test_uniform_is_multiply_shift():
    x = q.Rng.from_state(1, 2, 3, 4).next_u64()
    assert q.Rng.from_state(1, 2, 3, 4).uniform(1000) == (x * 1000) >> 64
    rng = q.Rng("mstk-qe/1", "pick", "0", "itest_1", "keyboard")
    assert all(0 <= rng.uniform(n) < n for n in range(1, 200))


def test_eiffel_draws_in_spec_order():
    """§6: pick.uniform(3)=0; position uniform(6)=0; drsw uniform(4)=0."""
    pick = q.stream("pick", 0, "itest_1", "keyboard")
    assert pick.uniform(3) == 0
    edit = q.stream("edit", 0, "itest_1", "keyboard", "13")
    assert edit.uniform(6) == 0
    assert edit.uniform(4) == 0
    assert q.KEYBOARD["e"] == "drsw"
    assert q.keyboard_corrupt("eiffel", q.stream("edit", 0, "itest_1", "keyboard", "13")) == "diffel"


# ---------------------------------------------------------------------------
# §4.2 / §6 k table and rates
# ---------------------------------------------------------------------------

K_TABLE = {
    1: (0, 0, 0, 1, 1),
    2: (0, 0, 1, 1, 2),
    3: (0, 1, 1, 2, 3),
    7: (0, 1, 3, 4, 7),
    10: (0, 2, 4, 5, 10),
    3610: (0, 722, 1444, 1805, 3610),
}


@pytest.mark.parametrize("n", sorted(K_TABLE))
def test_k_table(n):
    rates = ("0", "0.2", "0.4", "0.5", "1.0")
    assert tuple(q.k_for(q.parse_rate(r), n) for r in rates) == K_TABLE[n]


def test_rate_parsing_and_text():
    assert q.parse_rate("0.2") == 200000 and q.parse_rate(0.4) == 400000 and q.parse_rate(1) == 10**6
    assert q.parse_rate("0.000001") == 1
    for bad in ("1.5", "-0.1", "0.0000001"):
        with pytest.raises(ValueError):
            q.parse_rate(bad)
    assert [q.rate_text(r) for r in (0, 1, 200000, 10**6, 123450)] == ["0.0", "0.000001", "0.2", "1.0", "0.12345"]


# ---------------------------------------------------------------------------
# §6 10-question fixture
# ---------------------------------------------------------------------------


def test_rank_order(fixture_bytes):
    keys = ["i" + json.loads(line)["id"] for line in fixture_bytes.splitlines()]
    order = sorted(range(len(keys)), key=lambda i: (q.rank_hash(["mstk-qe/1", "rank", "0", keys[i]]), i))
    assert order == [1, 7, 3, 2, 8, 6, 4, 9, 5, 0]


def test_mixed_query_unit_02(fixture_bytes, real_words):
    ch = changed(fixture_bytes, real_words, rate_ppm=200000)
    assert edits_of(ch) == {
        "itest_1": ("keyboard", [(13, 19, "eiffel", "diffel")]),
        "itest_7": ("visual", [(17, 23, "spoken", "spokeh")]),
    }


def test_mixed_query_unit_04(fixture_bytes, real_words):
    out, summary = q.inject_jsonl(fixture_bytes, rate_ppm=400000, real_words=real_words)
    assert edits_of(summary["changed"]) == {
        "itest_1": ("keyboard", [(13, 19, "eiffel", "diffel")]),
        "itest_7": ("visual", [(17, 23, "spoken", "spokeh")]),
        "itest_3": ("spelling", [(14, 19, "novel", "noval")]),
        "itest_2": ("keyboard", [(28, 37, "australia", "austtalia")]),
    }
    assert summary["k"] == 4 and summary["n_changed"] == 4 and summary["shortfall"] == 0
    assert summary["by_type"] == {"keyboard": 2, "visual": 1, "spelling": 1}
    assert summary["keys"] == "id"


def test_keyboard_only_rate_1(fixture_bytes, real_words):
    got = edits_of(changed(fixture_bytes, real_words, types=["keyboard"], rate_ppm=10**6))
    assert len(got) == 10
    assert got["itest_0"] == ("keyboard", [(18, 23, "nobel", "nobek")])
    assert got["itest_3"][1][0][2:] == ("dick", "dici")
    assert got["itest_8"][1][0][2:] == ("berlin", "herlin")


def test_visual_only_rate_1(fixture_bytes, real_words):
    got = edits_of(changed(fixture_bytes, real_words, types=["visual"], rate_ppm=10**6))
    assert len(got) == 10
    assert got["itest_0"][1][0][2:] == ("physics", "phy5ics")
    assert got["itest_1"][1][0][2:] == ("tower", "t0wer")
    assert got["itest_3"][1][0][2:] == ("dick", "click")  # a real word, kept (§8)


def test_word_unit_mixed(fixture_bytes, real_words):
    at02 = edits_of(changed(fixture_bytes, real_words, unit="word", rate_ppm=200000))
    at04 = edits_of(changed(fixture_bytes, real_words, unit="word", rate_ppm=400000))
    assert at02["itest_1"] == ("visual", [(20, 25, "tower", "t0wer")])
    assert at04["itest_1"] == ("visual", [(20, 25, "tower", "t0wer"), (26, 35, "completed", "comp1eted")])
    for key, (t, edits) in at02.items():  # word-unit nesting
        assert at04[key][0] == t and set(edits) <= set(at04[key][1])


def test_test1_line_bytes(fixture_bytes, real_words):
    out, _ = q.inject_jsonl(fixture_bytes, rate_ppm=200000, real_words=real_words)
    in_lines, out_lines = fixture_bytes.split(b"\n"), out.split(b"\n")
    assert in_lines[1] == b'{"id":"test_1","question":"when was the eiffel tower completed","golden_answers":["1889"]}'
    assert out_lines[1] == (
        b'{"id":"test_1","question":"when was the diffel tower completed","golden_answers":["1889"],'
        b'"qe":{"version":"mstk-qe/1","type":"keyboard","seed":0,"unit":"query","rate":0.2,'
        b'"field":"question","clean":"when was the eiffel tower completed",'
        b'"edits":[{"start":13,"end":19,"from":"eiffel","to":"diffel"}]}}'
    )
    for i, (a, b) in enumerate(zip(in_lines, out_lines)):
        if i not in (1, 7):
            assert a == b
    assert len(in_lines) == len(out_lines)


def test_query_unit_nesting_across_rates_and_words(fixture_bytes, real_words):
    levels = [edits_of(changed(fixture_bytes, real_words, rate_ppm=r)) for r in (200000, 400000, 10**6)]
    for small, big in zip(levels, levels[1:]):
        assert all(big[key] == val for key, val in small.items())
    one = edits_of(changed(fixture_bytes, real_words, rate_ppm=10**6, words_per_query=1))
    two = edits_of(changed(fixture_bytes, real_words, rate_ppm=10**6, words_per_query=2))
    for key, (t, edits) in one.items():
        assert two[key][0] == t and set(edits) <= set(two[key][1])


def test_rate_zero_is_identity(fixture_bytes, real_words):
    for unit in ("query", "word"):
        out, summary = q.inject_jsonl(fixture_bytes, rate_ppm=0, unit=unit, real_words=real_words)
        assert out == fixture_bytes and summary["n_changed"] == 0


def test_edit_log_round_trip(fixture_bytes, real_words):
    for types in (["keyboard"], ["visual"], ["spelling"], list(q.TYPES)):
        out, _ = q.inject_jsonl(
            fixture_bytes, types=types, rate_ppm=10**6, words_per_query=3, real_words=real_words
        )
        for line in out.splitlines():
            rec = json.loads(line)
            ann = rec["qe"]
            text, clean = rec["question"], ann["clean"]
            # Offsets are into clean; in the noisy text an edit sits after the length
            # changes of the edits before it (visual m->rn grows a word).
            shift, noisy_starts = 0, []
            for e in ann["edits"]:
                noisy_starts.append(e["start"] + shift)
                shift += len(e["to"]) - len(e["from"])
            for e, ns in zip(reversed(ann["edits"]), reversed(noisy_starts)):  # undo in reverse
                assert text[ns : ns + len(e["to"])] == e["to"]
                text = text[:ns] + e["from"] + text[ns + len(e["to"]) :]
            assert text == clean
            redo = clean
            for e in reversed(ann["edits"]):
                assert clean[e["start"] : e["end"]] == e["from"] != e["to"]
                redo = redo[: e["start"]] + e["to"] + redo[e["end"] :]
            assert redo == rec["question"]
            starts = [e["start"] for e in ann["edits"]]
            assert starts == sorted(starts)


# ---------------------------------------------------------------------------
# §4.3 scanner
# ---------------------------------------------------------------------------

SCANNER_SENTENCE = (
    "Who's the naïve Müller of x2y state-of-the-art e-mail café? Visit www.ex.com or {slot} now, Nobel prize"
)


def test_scanner_example_sentence():
    assert [w for _, _, w in q.scan_words(SCANNER_SENTENCE)] == ["Visit", "now", "Nobel", "prize"]


@pytest.mark.parametrize(
    "text",
    ["Müller", "naïve", "café", "cafe\u0301", "x2y", "don't", "don\u2019t", "e-mail", "e\u2010mail",
     "prize\u200d", "foo_bar", "http://example.com", "user@example.org", "WWW.Example.com", "{slot}"],
)
def test_scanner_never_edits(text):
    assert q.scan_words(text, min_word_len=1, protect_stopwords=False) == []


def test_scanner_stopwords_and_length():
    assert len(q.STOPWORDS) == 104
    assert q.scan_words("The Eiffel tower is tall") == [(4, 10, "Eiffel"), (11, 16, "tower"), (20, 24, "tall")]
    assert [w for *_, w in q.scan_words("The tower", protect_stopwords=False)] == ["The", "tower"]
    assert [w for *_, w in q.scan_words("is tall", min_word_len=2)] == ["is", "tall"]


def test_scanner_offsets_are_code_points():
    text = "😀 é tower"
    assert q.scan_words(text) == [(4, 9, "tower")]


def test_scanner_uses_unicode_white_space_not_isspace():
    # U+001C is str.isspace() but not White_Space: "abc" stays inside the www. token.
    assert "\x1c".isspace() and "\x1c" not in q.WHITE_SPACE
    assert q.scan_words("www.ex\x1cabcd") == []
    # NBSP and U+3000 are White_Space: they end the protected token.
    assert [w for *_, w in q.scan_words("www.ex.com\u00a0tower\u3000bridge")] == ["tower", "bridge"]
    assert len(q.WHITE_SPACE) == 25


def test_scanner_slots():
    assert [w for *_, w in q.scan_words("{slot name} tower {outer {inner} word}")] == ["tower", "outer", "word"]


# ---------------------------------------------------------------------------
# §4.4 keyboard
# ---------------------------------------------------------------------------


def test_keyboard_table_shape():
    pairs = [(a, b) for a, ns in q.KEYBOARD.items() for b in ns]
    assert len(q.KEYBOARD) == 26 and len(pairs) == 110
    assert all((b, a) in pairs for a, b in pairs)
    assert all(2 <= len(ns) <= 6 for ns in q.KEYBOARD.values())


def test_keyboard_keeps_case_and_length():
    for c in (1, 2, 3, 0.5):
        for i in range(50):
            word = "AbCdEfGh"
            out = q.keyboard_corrupt(word, q.Rng("t", str(c), str(i)), c)
            diff = [k for k in range(len(word)) if word[k] != out[k]]
            assert len(out) == len(word) and len(diff) == q._chars_for(len(word), c)
            for k in diff:
                assert out[k].isupper() == word[k].isupper()
                assert out[k].lower() in q.KEYBOARD[word[k].lower()]


# ---------------------------------------------------------------------------
# §4.5 visual
# ---------------------------------------------------------------------------


def test_language_has_nine_matches():
    got = [(src, dst) for _, src, dst in q.visual_matches("language")]
    assert got == [("l", "1"), ("l", "I"), ("n", "h"), ("g", "9"), ("g", "q"), ("u", "v"),
                   ("g", "9"), ("g", "q"), ("e", "c")]


def test_visual_table_sources_are_letters():
    assert all(src.isalpha() and src.isascii() for src, _ in q.VISUAL_MULTI + q.VISUAL_SINGLE)
    assert len(q.VISUAL_MULTI) == 8 and len(q.VISUAL_SINGLE) == 28


def test_visual_multi_before_single_at_same_position():
    assert [(p, s, d) for p, s, d in q.visual_matches("rn")][:2] == [(0, "rn", "m"), (1, "n", "h")]
    assert q.visual_matches("dick")[0] == (0, "d", "cl")


# ---------------------------------------------------------------------------
# §4.6 spelling
# ---------------------------------------------------------------------------


def test_real_word_list(real_words):
    assert len(real_words) == 160572
    assert "nobel" in real_words
    assert not {"recieve", "seperate", "teh"} & real_words


def test_spelling_examples(real_words):
    assert q.spelling_candidates_builtin("necessary", real_words) == [
        "necesary", "neccessary", "necessarry", "nacessary", "nicessary",
        "necassary", "necissary", "necessery", "necessiry",
    ]
    assert q.spelling_candidates_builtin("prize", real_words) == ["prizze", "praze", "preze", "priz"]


def test_spelling_rules_individually():
    none: frozenset[str] = frozenset()
    raw = q._raw_spelling_candidates
    assert "receive" in raw("recieve") and "recieve" in raw("receive")  # R3
    assert "visable" in raw("visible") and "dependant" in raw("dependent")  # R6
    assert "foto" in raw("photo") and "phish" in raw("fish")  # R7
    assert "kat" in raw("cat") and "caraoke" in raw("karaoke") and "kity" not in raw("city")  # R8
    assert "fir" not in raw("fire")  # R5 needs len > 4
    assert q.spelling_candidates_builtin("bsssb", none) == ["bssb"]  # dedupe keeps the first


def test_spelling_case_patterns(real_words):
    models = q.Models(real_words)
    assert models.spelling_candidates("Prize") == ["Prizze", "Praze", "Preze", "Priz"]
    assert models.spelling_candidates("PRIZE") == ["PRIZZE", "PRAZE", "PREZE", "PRIZ"]
    assert models.spelling_candidates("iPhone") == []
    assert not models.eligible("spelling", "pRize")


def test_novel_to_noval(real_words):
    models = q.Models(real_words)
    assert q.corrupt_text("who wrote the novel moby dick", "spelling", 1, "itest_3", 0, models) == (
        "who wrote the noval moby dick", [(14, 19, "novel", "noval")]
    )


def test_osa_distance():
    assert q.osa_distance("what", "waht") == 1
    assert q.osa_distance("ca", "abc") == 3  # OSA, not true Damerau
    assert q.osa_distance("teh", "the") == 1 and q.osa_distance("", "ab") == 2


def test_dict_loader_format(real_words):
    lines = ["# comment", "Recieve receive", "receive recieve Recieve recive reciev x1 receive wrongword",
             "the teh thee  # trailing comment tje", "don't dont"]
    table = q.load_spelling_dict(lines, real_words)
    assert table == {"receive": ["recieve", "recive", "reciev"], "the": ["teh"]}


def _nlpaug_path():
    try:
        path = q.nlpaug_spelling_path()
    except FileNotFoundError:
        return None
    return path if os.path.exists(path) else None


@pytest.mark.skipif(_nlpaug_path() is None, reason="nlpaug is not installed")
def test_nlpaug_dict_counts(real_words):
    with open(_nlpaug_path(), encoding="utf-8") as fh:
        lines = fh.read().splitlines()
    assert len(lines) == 13551
    table = q.load_spelling_dict(lines, real_words)
    assert len(table) == 8194 and sum(map(len, table.values())) == 34619
    assert "that" not in table["what"] and "want" not in table["what"]
    assert "then" not in table["when"] and "how" not in table["who"] and "write" not in table["wrote"]


def _codespell_path():
    try:
        path = q.codespell_dictionary_path()
    except FileNotFoundError:
        return None
    return path if os.path.exists(path) else None


@pytest.mark.skipif(_codespell_path() is None, reason="codespell is not installed")
def test_codespell_dict_counts(real_words):
    with open(_codespell_path(), encoding="utf-8") as fh:
        lines = fh.read().splitlines()
    assert len(lines) == 64980
    table = q.load_codespell_dict(lines, real_words)
    assert len(table) == 13493 and sum(map(len, table.values())) == 55280
    assert {"hte", "teh", "tge"} <= set(table["the"]) and {"recieve", "recive"} <= set(table["receive"])


# ---------------------------------------------------------------------------
# §4.7 splicing and input checks
# ---------------------------------------------------------------------------


def test_pass_through_bytes_and_position_keys(real_words):
    data = (
        b'{"question":"when was the eiffel tower completed","n":1180591620717411303424,"f":1e-320}\r\n'
        b"\n"
        b"   \r\n"
        b'{"question" : "who painted the mona lisa" , "x":{"question":"nested"},"d":0.1000000000000000055,'
        b'"d":null,"s":"\\ud800"}\r\n'
        b'{"question":"","z":[1,{"a":"}"}]}\n'
        b'{"question":"\\u00e9t\\u00e9 \\ud83d\\ude00 tower\\u2028bridge"}'
    )
    out, summary = q.inject_jsonl(data, rate_ppm=10**6, id_field="", real_words=real_words)
    assert summary["keys"] == "position" and summary["n_records"] == 4
    assert summary["n_changed"] == 3 and summary["n_uncorruptible"] == 1  # the empty field
    in_lines, out_lines = data.split(b"\n"), out.split(b"\n")
    assert len(in_lines) == len(out_lines) and not out.endswith(b"\n")
    assert out_lines[1:3] == in_lines[1:3] and out_lines[4] == in_lines[4]
    for i in (0, 3, 5):
        a, b = in_lines[i], out_lines[i]
        rec_in, rec_out = json.loads(a), json.loads(b)
        assert rec_out["qe"]["clean"] == rec_in["question"]
        # Bytes before the field token and after it (up to the final brace) are unchanged.
        fs = a.index(b'"question"') + len(b'"question"')
        assert b[:fs] == a[:fs]
        assert b.endswith(b"}}" + (b"\r" if a.endswith(b"\r") else b""))
    assert b"1180591620717411303424" in out_lines[0] and b"1e-320" in out_lines[0]
    assert b'"x":{"question":"nested"},"d":0.1000000000000000055,"d":null,"s":"\\ud800"' in out_lines[3]
    assert "\u2028".encode() in out_lines[5] and "😀".encode() in out_lines[5]
    assert json.loads(out_lines[5])["qe"]["edits"][0]["start"] == 6


def test_lone_surrogate_field_is_uncorruptible(real_words):
    data = b'{"id":1,"question":"tower \\udc00 bridge"}\n'
    out, summary = q.inject_jsonl(data, rate_ppm=10**6, real_words=real_words)
    assert out == data and summary["n_uncorruptible"] == 1 and summary["shortfall"] == 1


def test_integer_ids_key_in_decimal(real_words):
    data = b'{"id":7,"question":"eiffel"}\n{"id":1180591620717411303424,"question":"tower"}\n'
    _, summary = q.inject_jsonl(data, rate_ppm=10**6, real_words=real_words)
    assert set(summary["changed"]) == {"i7", "i1180591620717411303424"}


@pytest.mark.parametrize(
    "data",
    [
        b'{"id":"a","question":"x"}\n{"id":"a","question":"y"}\n',  # duplicate id
        b'{"id":"a","question":"x"}\n{"question":"y"}\n',  # ids on only some records
        b'{"id":1.5,"question":"x"}\n',  # id type
        b'{"id":"a","question":"x","question":"y"}\n',  # duplicate field key
        b'{"id":"a","question":1}\n',
        b'{"id":"a"}\n',
        b'[1,2]\n',
        b'{"id":"a","question":"x",}\n',
        b'{"id":"a","question":"x","n":NaN}\n',
        b'{"id":"a","question":"x","qe":{}}\n',
        b'{"id":"a","question":"\xff"}\n',
    ],
)
def test_input_errors(data, real_words):
    with pytest.raises(q.QEInputError):
        q.inject_jsonl(data, rate_ppm=10**6, real_words=real_words)


def test_duplicate_non_field_keys_pass(real_words):
    data = b'{"id":"a","k":1,"k":2,"question":"eiffel tower"}\n'
    out, _ = q.inject_jsonl(data, rate_ppm=10**6, real_words=real_words)
    assert out.startswith(b'{"id":"a","k":1,"k":2,"question":"')


def test_shortfall_and_slot_passing(real_words):
    # Record order by rank is fixed; an ineligible record passes its type slot on.
    lines = [json.dumps({"id": f"r{i}", "question": t}) for i, t in enumerate(["a b", "tower", "xyx", "it is"])]
    data = ("\n".join(lines) + "\n").encode()
    out, summary = q.inject_jsonl(data, types=["visual"], rate_ppm=10**6, real_words=real_words)
    assert summary["k"] == 4 and summary["n_changed"] == 1 and summary["shortfall"] == 3
    assert summary["n_uncorruptible"] == 3
    _, mixed = q.inject_jsonl(data, rate_ppm=10**6, real_words=real_words)
    # "xyx" has no visual match but is keyboard-eligible; every walk covers all records.
    assert mixed["n_changed"] + mixed["n_uncorruptible"] == 4


def test_determinism_and_seed_sensitivity(fixture_bytes, real_words):
    a, _ = q.inject_jsonl(fixture_bytes, rate_ppm=400000, real_words=real_words)
    b, _ = q.inject_jsonl(fixture_bytes, rate_ppm=400000, real_words=real_words)
    c, _ = q.inject_jsonl(fixture_bytes, rate_ppm=400000, seed=1, real_words=real_words)
    assert a == b != c


_TEXT = st.text(
    alphabet=st.one_of(
        st.sampled_from(list("abcdeilmnorsuvwAEIOSDG -'_@{}.:/\u00e9\u0301\u200d\u00a0\x1c\u2028")),
        st.characters(codec="utf-8"),
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(text=_TEXT, type_=st.sampled_from(q.TYPES), n=st.integers(1, 4), seed=st.integers(0, 2**64 - 1))
def test_random_unicode_edits_stay_in_eligible_spans(text, type_, n, seed):
    models = _hyp_models()
    spans = q.eligible_spans(text, type_, models)
    new, edits = q.corrupt_text(text, type_, n, "ihyp", seed, models)
    assert len(edits) == min(n, len(spans))
    assert {(a, b, w) for a, b, w, _ in edits} <= set(spans)
    for a, b, w, t in edits:
        assert t != w and abs(len(t) - len(w)) <= 2
    rebuilt, last = [], 0
    for a, b, w, t in edits:
        rebuilt += [text[last:a], t]
        last = b
    assert "".join(rebuilt) + text[last:] == new


@functools.cache
def _hyp_models():
    return q.Models(q.load_pyspellchecker_words())
