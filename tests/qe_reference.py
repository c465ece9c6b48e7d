"""Pure-Python reference implementation of the QE injector (specs/inject-errors.md §4.1–§4.7).

This module is the oracle that the Rust kernel (mstk-core ``inject/``) is compared against
byte for byte, so it follows the spec literally and favours obviousness over speed. It
covers the ``mstk`` engine with the three built-in models only: no ``--engine nlpaug``
and no plugins.

Readings chosen where the spec leaves room (each is also noted at the code it affects):

* keyboard: the edit stream first draws all c positions (partial Fisher–Yates over the
  word's positions), then one neighbour per chosen position in ascending position order.
  This is the only order that reproduces the §6 ``eiffel -> diffel`` vector
  (``position uniform(6)=0; drsw uniform(4)=0``).
* spelling: the candidate is ``candidates[edit.uniform(len(candidates))]`` (the same host
  rule that §3.3 gives plugins). Reproduces §6 ``novel -> noval``.
* vowels are ``aeiou`` (``y`` is a consonant) in R2, R4 and R5.
* R7/R8 run as four passes in this order: ph->f, f->ph, c->k, k->c.
* R6 tries the suffix pairs in the order able->ible, ible->able, ance->ence,
  ence->ance, ant->ent, ent->ant.
* a ``{…}`` slot is ``\\{[^{}]*\\}`` found left to right, non-overlapping (the innermost
  braces when braces nest; the slot may contain whitespace).
* a fractional ``chars_per_word`` f is taken as exact ppm like ``--rate``, so
  c = ceil(ppm·len / 10^6) in integers; c is clamped to [1, len(word)].
* spelling dict files: everything from the first ``#`` on a line is a comment; variants
  are stored lowercase (the caller restores the word's case pattern).
* a blank line is one made only of JSON whitespace (space, tab, CR) once split on LF.
* word unit: ``k`` in the summary is ``None``; ``n_uncorruptible`` counts records whose
  drawn type had no eligible word (rate > 0).
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import json
import os
import re
import unicodedata
from fractions import Fraction
from typing import Iterable, Sequence

VERSION = "mstk-qe/1"
MASK64 = (1 << 64) - 1

# ---------------------------------------------------------------------------
# §4.1 hashing and RNG
# ---------------------------------------------------------------------------


def msg(parts: Sequence[str]) -> bytes:
    """Length-prefixed concatenation, so ("ab","c") and ("a","bc") never collide."""
    out = bytearray()
    for part in parts:
        data = part.encode("utf-8")
        out += len(data).to_bytes(4, "big")
        out += data
    return bytes(out)


def digest(parts: Sequence[str]) -> bytes:
    return hashlib.sha256(msg(parts)).digest()


def rank_hash(parts: Sequence[str]) -> int:
    """H: the first 8 bytes of D as a big-endian u64."""
    return int.from_bytes(digest(parts)[:8], "big")


def _rotl(x: int, k: int) -> int:
    return ((x << k) | (x >> (64 - k))) & MASK64


class Rng:
    """xoshiro256** seeded from SHA-256 of msg(parts); never uses library distributions."""

    def __init__(self, *parts: str) -> None:
        d = digest(parts)
        state = [int.from_bytes(d[8 * i : 8 * i + 8], "big") for i in range(4)]
        self._set_state(state)

    @classmethod
    def from_state(cls, s0: int, s1: int, s2: int, s3: int) -> "Rng":
        """Raw-state constructor, for the (1,2,3,4) xoshiro test vector."""
        rng = cls.__new__(cls)
        rng._set_state([s0, s1, s2, s3])
        return rng

    def _set_state(self, state: list[int]) -> None:
        # xoshiro's all-zero state is a fixed point that emits zeros forever.
        if not any(state):
            state[0] = 1
        self.s = [x & MASK64 for x in state]

    def next_u64(self) -> int:
        s = self.s
        result = (_rotl((s[1] * 5) & MASK64, 7) * 9) & MASK64
        t = (s[1] << 17) & MASK64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = _rotl(s[3], 45)
        return result

    def uniform(self, n: int) -> int:
        """Lemire's multiply-shift without rejection: tiny bias, but trivially portable."""
        if n <= 0:
            raise ValueError("uniform(n) needs n >= 1")
        return (self.next_u64() * n) >> 64


def stream(tag: str, seed: int | str, key: str, *extras: str) -> Rng:
    return Rng(VERSION, tag, str(seed), key, *extras)


# ---------------------------------------------------------------------------
# Tables (§4.3–§4.5)
# ---------------------------------------------------------------------------

KEYBOARD_SPEC = (
    "a:qswz b:ghnv c:dfvx d:cefrsx e:drsw f:cdgrtv g:bfhtvy h:bgjnuy i:jkou j:hikmnu "
    "k:ijlmo l:kop m:jkn n:bhjm o:iklp p:lo q:aw r:deft s:adewxz t:fgry u:hijy v:bcfg "
    "w:aeqs x:cdsz y:ghtu z:asx"
)
# Neighbour lists keep the given order: the draw indexes into them.
KEYBOARD: dict[str, str] = {
    item.split(":")[0]: item.split(":")[1] for item in KEYBOARD_SPEC.split()
}

# (source, target) in the spec's order; enumeration order matters for the uniform draw.
VISUAL_MULTI: list[tuple[str, str]] = [
    ("rn", "m"), ("m", "rn"), ("cl", "d"), ("d", "cl"),
    ("vv", "w"), ("w", "vv"), ("ri", "n"), ("li", "h"),
]
VISUAL_SINGLE: list[tuple[str, str]] = [
    ("o", "0"), ("O", "0"), ("O", "D"), ("D", "O"), ("l", "1"), ("l", "I"), ("I", "l"),
    ("I", "1"), ("i", "1"), ("i", "l"), ("s", "5"), ("S", "5"), ("b", "6"), ("G", "6"),
    ("g", "9"), ("g", "q"), ("q", "9"), ("q", "g"), ("z", "2"), ("Z", "2"), ("B", "8"),
    ("e", "c"), ("c", "e"), ("u", "v"), ("v", "u"), ("n", "h"), ("h", "b"), ("E", "F"),
]

STOPWORDS_SPEC = (
    "the and for are but not nor yet you your yours she her hers him his its our ours "
    "they them their theirs this that these those who whom whose what which when where "
    "why how all any both each few more most other some such only own same than too very "
    "can could will would shall should may might must has had have having was were been "
    "being does did doing done into onto upon from with within without about above below "
    "over under after before between through during again further then once here there "
    "off out also just because until while against"
)
STOPWORDS: frozenset[str] = frozenset(STOPWORDS_SPEC.split())

# Unicode White_Space (PropList.txt), hand-listed: str.isspace() also accepts
# U+001C..U+001F, which White_Space does not.
WHITE_SPACE: frozenset[str] = frozenset(
    [chr(c) for c in range(0x09, 0x0E)]
    + ["\u0020", "\u0085", "\u00a0", "\u1680"]
    + [chr(c) for c in range(0x2000, 0x200B)]
    + ["\u2028", "\u2029", "\u202f", "\u205f", "\u3000"]
)

TYPES = ("keyboard", "visual", "spelling")
VOWELS = frozenset("aeiou")

# ---------------------------------------------------------------------------
# §4.3 scanner
# ---------------------------------------------------------------------------

_BOUNDARY_CHARS = frozenset("'\u2019-\u2010")


def _is_ascii_letter(ch: str) -> bool:
    return ("a" <= ch <= "z") or ("A" <= ch <= "Z")


def _blocks_word(ch: str) -> bool:
    """A neighbour that glues the ASCII run to something bigger (Müller, x2y, don't, ZWJ)."""
    if ch in _BOUNDARY_CHARS:
        return True
    cat = unicodedata.category(ch)
    return cat[0] in "LMN" or cat in ("Pc", "Cf")


_WWW_VARIANTS = frozenset(a + b + c for a in "wW" for b in "wW" for c in "wW")


def protected_spans(text: str) -> list[tuple[int, int]]:
    """Code-point spans of URL/e-mail-like tokens and {slot}s."""
    spans: list[tuple[int, int]] = []
    i, n = 0, len(text)
    while i < n:
        if text[i] in WHITE_SPACE:
            i += 1
            continue
        j = i
        while j < n and text[j] not in WHITE_SPACE:
            j += 1
        token = text[i:j]
        # ASCII-only case folding: only "www." needs it, and it keeps Rust simple.
        head = token[:4]
        starts_www = len(head) == 4 and head[:3] in _WWW_VARIANTS and head[3] == "."
        if "://" in token or "@" in token or starts_www:
            spans.append((i, j))
        i = j
    for m in re.finditer(r"\{[^{}]*\}", text):
        spans.append((m.start(), m.end()))
    return spans


def scan_words(
    text: str, min_word_len: int = 3, protect_stopwords: bool = True
) -> list[tuple[int, int, str]]:
    """Eligible spans (start_cp, end_cp, word) in text order, per §4.3."""
    protected = protected_spans(text)
    out: list[tuple[int, int, str]] = []
    i, n = 0, len(text)
    while i < n:
        if not _is_ascii_letter(text[i]):
            i += 1
            continue
        j = i
        while j < n and _is_ascii_letter(text[j]):
            j += 1
        start, end, word = i, j, text[i:j]
        i = j
        if start > 0 and _blocks_word(text[start - 1]):
            continue
        if end < n and _blocks_word(text[end]):
            continue
        if len(word) < min_word_len:
            continue
        if protect_stopwords and word.lower() in STOPWORDS:
            continue
        if any(start < pe and ps < end for ps, pe in protected):
            continue
        out.append((start, end, word))
    return out


# ---------------------------------------------------------------------------
# §4.4 keyboard
# ---------------------------------------------------------------------------


def _chars_for(word_len: int, chars_per_word: int | float | str) -> int:
    """c for one word: an integer count, or a fraction f in (0,1) meaning ceil(f·len)."""
    if isinstance(chars_per_word, int) and not isinstance(chars_per_word, bool):
        c = chars_per_word
    else:
        # Exact decimal arithmetic (value as written, to ppm) so Rust can match bit for bit.
        frac = Fraction(str(chars_per_word))
        if frac >= 1 and frac.denominator == 1:
            c = int(frac)
        else:
            if not (0 < frac < 1):
                raise ValueError(f"chars_per_word must be an integer >= 1 or in (0,1): {chars_per_word}")
            ppm = frac * 10**6
            if ppm.denominator != 1:
                raise ValueError("chars_per_word has more than 6 decimals")
            c = (int(ppm) * word_len + 10**6 - 1) // 10**6
    return max(1, min(c, word_len))


def keyboard_corrupt(word: str, rng: Rng, chars_per_word: int | float | str = 1) -> str:
    c = _chars_for(len(word), chars_per_word)
    positions = list(range(len(word)))
    # Positions are all drawn before any neighbour (reading fixed by the eiffel vector).
    for i in range(c):
        j = i + rng.uniform(len(positions) - i)
        positions[i], positions[j] = positions[j], positions[i]
    chars = list(word)
    for pos in sorted(positions[:c]):
        ch = chars[pos]
        neighbours = KEYBOARD[ch.lower()]
        repl = neighbours[rng.uniform(len(neighbours))]
        chars[pos] = repl.upper() if ch.isupper() else repl
    return "".join(chars)


# ---------------------------------------------------------------------------
# §4.5 visual
# ---------------------------------------------------------------------------


def visual_matches(
    word: str,
    multi: Sequence[tuple[str, str]] = VISUAL_MULTI,
    single: Sequence[tuple[str, str]] = VISUAL_SINGLE,
) -> list[tuple[int, str, str]]:
    """(position, source, target) by ascending position; multi-char rules before single."""
    out: list[tuple[int, str, str]] = []
    for pos in range(len(word)):
        for src, dst in list(multi) + list(single):
            if word.startswith(src, pos):
                out.append((pos, src, dst))
    return out


def visual_corrupt(word: str, rng: Rng) -> str:
    matches = visual_matches(word)
    pos, src, dst = matches[rng.uniform(len(matches))]
    return word[:pos] + dst + word[pos + len(src) :]


# ---------------------------------------------------------------------------
# §4.6 spelling
# ---------------------------------------------------------------------------

_R2_CONSONANTS = frozenset("bcdfgklmnprstz")
_R4_VOWELS: list[tuple[str, str]] = [("a", "ei"), ("e", "ai"), ("i", "ae"), ("o", "au"), ("u", "o")]
_R6_SUFFIXES: list[tuple[str, str]] = [
    ("able", "ible"), ("ible", "able"), ("ance", "ence"), ("ence", "ance"), ("ant", "ent"), ("ent", "ant"),
]


def _raw_spelling_candidates(w: str) -> list[str]:
    """R1–R8 in rule order, positions left to right, replacements in listed order."""
    out: list[str] = []
    n = len(w)
    # R1: drop one letter of a doubled pair.
    for i in range(n - 1):
        if w[i] == w[i + 1]:
            out.append(w[:i] + w[i + 1 :])
    # R2: double a consonant after a vowel, unless a neighbour is already the same letter.
    for i in range(1, n):
        ch = w[i]
        if ch in _R2_CONSONANTS and w[i - 1] in VOWELS and w[i - 1] != ch and (i + 1 >= n or w[i + 1] != ch):
            out.append(w[: i + 1] + ch + w[i + 1 :])
    # R3: ie <-> ei.
    for i in range(n - 1):
        pair = w[i : i + 2]
        if pair == "ie":
            out.append(w[:i] + "ei" + w[i + 2 :])
        elif pair == "ei":
            out.append(w[:i] + "ie" + w[i + 2 :])
    # R4: interior vowel swaps.
    vowel_map = dict(_R4_VOWELS)
    for i in range(1, n - 1):
        for repl in vowel_map.get(w[i], ""):
            out.append(w[:i] + repl + w[i + 1 :])
    # R5: drop a final e after a consonant.
    if n > 4 and w[-1] == "e" and w[-2] not in VOWELS:
        out.append(w[:-1])
    # R6: suffix confusions, stem of at least 3 letters.
    for src, dst in _R6_SUFFIXES:
        if w.endswith(src) and n - len(src) >= 3:
            out.append(w[: n - len(src)] + dst)
    # R7: ph -> f, then f -> ph.
    for i in range(n - 1):
        if w[i : i + 2] == "ph":
            out.append(w[:i] + "f" + w[i + 2 :])
    for i in range(n):
        if w[i] == "f":
            out.append(w[:i] + "ph" + w[i + 1 :])
    # R8: c <-> k before a, o, u (c->k pass, then k->c pass).
    for i in range(n - 1):
        if w[i] == "c" and w[i + 1] in "aou":
            out.append(w[:i] + "k" + w[i + 1 :])
    for i in range(n - 1):
        if w[i] == "k" and w[i + 1] in "aou":
            out.append(w[:i] + "c" + w[i + 1 :])
    return out


def spelling_candidates_builtin(word_lower: str, real_words: frozenset[str] | set[str] | dict) -> list[str]:
    """Lowercase candidates: rules, dedupe keeping the first, minus w and real words."""
    seen: set[str] = set()
    out: list[str] = []
    for cand in _raw_spelling_candidates(word_lower):
        if cand in seen:
            continue
        seen.add(cand)
        if cand == word_lower or cand in real_words:
            continue
        out.append(cand)
    return out


_LETTERS_RE = re.compile(r"[A-Za-z]+")


def osa_distance(a: str, b: str) -> int:
    """Optimal string alignment distance (adjacent transpositions, no substring re-edits)."""
    la, lb = len(a), len(b)
    d = [[0] * (lb + 1) for _ in range(la + 1)]
    for i in range(la + 1):
        d[i][0] = i
    for j in range(lb + 1):
        d[0][j] = j
    for i in range(1, la + 1):
        for j in range(1, lb + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[la][lb]


def _add_dict_pair(table: dict[str, list[str]], head: str, variant: str, real_words) -> None:
    if not _LETTERS_RE.fullmatch(head) or not _LETTERS_RE.fullmatch(variant):
        return
    key = head.lower()
    v = variant.lower()
    if v == key or v in real_words or osa_distance(v, key) > 2:
        return
    variants = table.setdefault(key, [])
    if v not in variants:
        variants.append(v)


def load_spelling_dict(lines: Iterable[str], real_words) -> dict[str, list[str]]:
    """nlpaug / PATH format: ``head variant …`` per line; key -> lowercase variants in file order."""
    table: dict[str, list[str]] = {}
    for line in lines:
        line = line.split("#", 1)[0]
        tokens = line.split()
        if not tokens or not _LETTERS_RE.fullmatch(tokens[0]):
            continue
        for variant in tokens[1:]:
            _add_dict_pair(table, tokens[0], variant, real_words)
    # A key whose every variant was filtered out is not a key (the word is not eligible).
    return {k: v for k, v in table.items() if v}


def load_codespell_dict(lines: Iterable[str], real_words) -> dict[str, list[str]]:
    """codespell ``wrong->right`` lines, inverted to right -> wrong, same filter as above."""
    table: dict[str, list[str]] = {}
    for line in lines:
        line = line.rstrip("\r\n")
        if "->" not in line:
            continue
        wrong, right = line.split("->", 1)
        if "," in right:
            continue
        _add_dict_pair(table, right.strip(), wrong.strip(), real_words)
    return {k: v for k, v in table.items() if v}


def case_pattern(word: str) -> str | None:
    if word == word.lower():
        return "lower"
    if word == word.upper():
        return "upper"
    if word[0].isupper() and word[1:] == word[1:].lower():
        return "title"
    return None


def restore_case(candidate: str, pattern: str) -> str:
    if pattern == "upper":
        return candidate.upper()
    if pattern == "title":
        return candidate[:1].upper() + candidate[1:]
    return candidate


# ---------------------------------------------------------------------------
# Resources and the per-type model interface
# ---------------------------------------------------------------------------


def _package_dir(name: str) -> str:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"package {name} is not installed")
    return list(spec.submodule_search_locations)[0]


def pyspellchecker_words_path() -> str:
    return os.path.join(_package_dir("spellchecker"), "resources", "en.json.gz")


def load_pyspellchecker_words() -> frozenset[str]:
    with gzip.open(pyspellchecker_words_path(), "rb") as fh:
        return frozenset(json.loads(fh.read()).keys())


def nlpaug_spelling_path() -> str:
    return os.path.join(_package_dir("nlpaug"), "res", "word", "spelling", "spelling_en.txt")


def codespell_dictionary_path() -> str:
    return os.path.join(_package_dir("codespell_lib"), "data", "dictionary.txt")


class Models:
    """Bundles the resources the three built-in models need (loaded once)."""

    def __init__(
        self,
        real_words=None,
        spelling_dict: dict[str, list[str]] | None = None,
        chars_per_word: int | float | str = 1,
    ) -> None:
        self.real_words = real_words if real_words is not None else frozenset()
        self.spelling_dict = spelling_dict  # None = builtin rules
        self.chars_per_word = chars_per_word
        self._spell_cache: dict[str, list[str]] = {}

    def spelling_candidates(self, word: str) -> list[str]:
        """Case-restored candidates for an eligible-shaped word ([] = not eligible)."""
        pattern = case_pattern(word)
        if pattern is None:
            return []
        lower = word.lower()
        if self.spelling_dict is not None:
            cands = self.spelling_dict.get(lower, [])
        else:
            cands = self._spell_cache.get(lower)
            if cands is None:
                cands = spelling_candidates_builtin(lower, self.real_words)
                self._spell_cache[lower] = cands
        return [restore_case(c, pattern) for c in cands]

    def eligible(self, type_: str, word: str) -> bool:
        if type_ == "keyboard":
            return True
        if type_ == "visual":
            return bool(visual_matches(word))
        if type_ == "spelling":
            return bool(self.spelling_candidates(word))
        raise ValueError(f"unknown type {type_}")

    def corrupt(self, type_: str, word: str, rng: Rng) -> str:
        if type_ == "keyboard":
            return keyboard_corrupt(word, rng, self.chars_per_word)
        if type_ == "visual":
            return visual_corrupt(word, rng)
        if type_ == "spelling":
            cands = self.spelling_candidates(word)
            # Reading: uniform over the ordered candidate list on the edit stream.
            return cands[rng.uniform(len(cands))]
        raise ValueError(f"unknown type {type_}")


def corrupt_word(type_: str, word: str, rng: Rng, chars_per_word=1, real_words=None, spelling_dict=None) -> str:
    return Models(real_words, spelling_dict, chars_per_word).corrupt(type_, word, rng)


# ---------------------------------------------------------------------------
# §4.2 Corrupt(text, t, n)
# ---------------------------------------------------------------------------

Edit = tuple[int, int, str, str]


def eligible_spans(
    text: str, type_: str, models: Models, min_word_len: int = 3, protect_stopwords: bool = True
) -> list[tuple[int, int, str]]:
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in text):
        return []  # a lone surrogate cannot be written back as UTF-8: uncorruptible
    return [s for s in scan_words(text, min_word_len, protect_stopwords) if models.eligible(type_, s[2])]


def corrupt_spans(
    text: str, spans: list[tuple[int, int, str]], type_: str, n: int, key: str, seed: int | str, models: Models
) -> tuple[str, list[Edit]]:
    w = list(spans)
    n = min(n, len(w))
    pick = stream("pick", seed, key, type_)
    # All selection draws come first, so a smaller n selects a prefix (nesting).
    for i in range(n):
        j = i + pick.uniform(len(w) - i)
        w[i], w[j] = w[j], w[i]
    chosen = sorted(w[:n])
    edits: list[Edit] = []
    pieces: list[str] = []
    last = 0
    for start, end, word in chosen:
        rng = stream("edit", seed, key, type_, str(start))
        new = models.corrupt(type_, word, rng)
        edits.append((start, end, word, new))
        pieces.append(text[last:start])
        pieces.append(new)
        last = end
    pieces.append(text[last:])
    return "".join(pieces), edits


def corrupt_text(
    text: str,
    type_: str,
    n_words: int,
    key: str,
    seed: int | str = 0,
    models: Models | None = None,
    min_word_len: int = 3,
    protect_stopwords: bool = True,
) -> tuple[str, list[Edit]]:
    models = models or Models()
    spans = eligible_spans(text, type_, models, min_word_len, protect_stopwords)
    return corrupt_spans(text, spans, type_, n_words, key, seed, models)


# ---------------------------------------------------------------------------
# §4.2 selection, §3.1/§4.7 JSONL splicing
# ---------------------------------------------------------------------------


class QEInputError(ValueError):
    """Exit code 1 conditions; ``line`` is 1-based."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line


def k_for(rate_ppm: int, n: int) -> int:
    return (rate_ppm * n + 500000) // 10**6


def parse_rate(rate: float | str | int) -> int:
    """A value in [0,1] with at most 6 decimals -> integer ppm, without float rounding."""
    frac = Fraction(str(rate))
    ppm = frac * 10**6
    if ppm.denominator != 1 or not (0 <= ppm <= 10**6):
        raise ValueError(f"bad rate {rate}")
    return int(ppm)


def rate_text(rate_ppm: int) -> str:
    """Shortest decimal with at least one fractional digit (0.2, 1.0, 0.000001)."""
    frac = f"{rate_ppm % 10**6:06d}".rstrip("0") or "0"
    return f"{rate_ppm // 10**6}.{frac}"


_JSON_WS = b" \t\r\n"


def _skip_ws(b: bytes, i: int) -> int:
    while i < len(b) and b[i] in _JSON_WS:
        i += 1
    return i


def _scan_string(b: bytes, i: int) -> int:
    """b[i] is the opening quote; return the index just past the closing quote."""
    i += 1
    while True:
        c = b[i]
        if c == 0x5C:  # backslash: skip the escaped byte
            i += 2
        elif c == 0x22:
            return i + 1
        else:
            i += 1


def _scan_value(b: bytes, i: int) -> int:
    c = b[i]
    if c == 0x22:
        return _scan_string(b, i)
    if c in (0x7B, 0x5B):  # { or [: track depth, skipping strings
        depth = 0
        while True:
            c = b[i]
            if c == 0x22:
                i = _scan_string(b, i)
                continue
            if c in (0x7B, 0x5B):
                depth += 1
            elif c in (0x7D, 0x5D):
                depth -= 1
                if depth == 0:
                    return i + 1
            i += 1
    while i < len(b) and b[i] not in b",}] \t\r\n":
        i += 1
    return i


def top_level_members(line: bytes) -> tuple[list[tuple[str, int, int]], int]:
    """Members (decoded key, value_start, value_end) of an already validated object line,
    plus the byte index of its closing brace. Works on bytes: every structural byte is
    ASCII and never occurs inside a UTF-8 multibyte sequence."""
    members: list[tuple[str, int, int]] = []
    i = _skip_ws(line, 0)
    assert line[i] == 0x7B
    i = _skip_ws(line, i + 1)
    if line[i] == 0x7D:
        return members, i
    while True:
        kend = _scan_string(line, i)
        key = json.loads(line[i:kend].decode("utf-8"))
        i = _skip_ws(line, kend)
        assert line[i] == 0x3A
        vstart = _skip_ws(line, i + 1)
        vend = _scan_value(line, vstart)
        members.append((key, vstart, vend))
        i = _skip_ws(line, vend)
        if line[i] == 0x2C:
            i = _skip_ws(line, i + 1)
            continue
        assert line[i] == 0x7D
        return members, i


def _reject_constant(name: str):
    raise ValueError(f"{name} is not JSON")


class _Record:
    __slots__ = ("line_no", "raw", "index", "text", "field_span", "close", "id_value", "has_id", "key")

    def __init__(self) -> None:
        self.key = ""


def _parse_record(raw: bytes, line_no: int, index: int, field: str, id_field: str, annotate_key: str | None) -> _Record:
    try:
        text_line = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise QEInputError(line_no, f"invalid UTF-8: {exc}") from None
    try:
        obj = json.loads(text_line, parse_constant=_reject_constant)
    except ValueError as exc:
        raise QEInputError(line_no, f"invalid JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise QEInputError(line_no, "not a JSON object")
    members, close = top_level_members(raw)
    field_members = [m for m in members if m[0] == field]
    if len(field_members) != 1:
        raise QEInputError(line_no, f"field {field!r} missing" if not field_members else f"duplicate key {field!r}")
    value = obj[field]
    if not isinstance(value, str):
        raise QEInputError(line_no, f"field {field!r} is not a string")
    if annotate_key is not None and annotate_key in obj:
        raise QEInputError(line_no, f"annotation key {annotate_key!r} already present")
    rec = _Record()
    rec.line_no, rec.raw, rec.index, rec.text = line_no, raw, index, value
    rec.field_span = (field_members[0][1], field_members[0][2])
    rec.close = close
    rec.has_id = False
    rec.id_value = None
    if id_field:
        id_members = [m for m in members if m[0] == id_field]
        if len(id_members) > 1:
            raise QEInputError(line_no, f"duplicate key {id_field!r}")
        if id_members:
            idv = obj[id_field]
            if isinstance(idv, bool) or not isinstance(idv, (str, int)):
                raise QEInputError(line_no, f"id {id_field!r} must be a string or an integer")
            rec.has_id = True
            rec.id_value = idv
    return rec


def _annotation(
    type_: str, seed: int, unit: str, rate_ppm: int, field: str, clean: str, edits: list[Edit]
) -> str:
    def s(x: str) -> str:
        return json.dumps(x, ensure_ascii=False)

    edit_items = ",".join(
        '{"start":%d,"end":%d,"from":%s,"to":%s}' % (a, b, s(f), s(t)) for a, b, f, t in edits
    )
    return (
        '{"version":%s,"type":%s,"seed":%d,"unit":%s,"rate":%s,"field":%s,"clean":%s,"edits":[%s]}'
        % (s(VERSION), s(type_), seed, s(unit), rate_text(rate_ppm), s(field), s(clean), edit_items)
    )


def _splice(rec: _Record, new_text: str, annotation: str | None, annotate_key: str) -> bytes:
    raw = rec.raw
    fs, fe = rec.field_span
    token = json.dumps(new_text, ensure_ascii=False).encode("utf-8")
    tail = raw[fe : rec.close]
    if annotation is not None:
        tail += b"," + json.dumps(annotate_key, ensure_ascii=False).encode("utf-8") + b":" + annotation.encode("utf-8")
    return raw[:fs] + token + tail + raw[rec.close :]


def inject_jsonl(
    data: bytes,
    types: Sequence[str] = TYPES,
    rate_ppm: int = 200000,
    unit: str = "query",
    seed: int = 0,
    field: str = "question",
    id_field: str = "id",
    words_per_query: int = 1,
    chars_per_word: int | float | str = 1,
    min_word_len: int = 3,
    protect_stopwords: bool = True,
    real_words=None,
    spelling_dict: dict[str, list[str]] | None = None,
    annotate: bool = True,
    annotate_key: str = "qe",
    resources: dict | None = None,
) -> tuple[bytes, dict]:
    """The whole CLI path (§3.1, §4.2, §4.7). The summary carries the spec's keys plus a
    reference-only ``changed`` map (key -> (type, new_text, edits)) for tests;
    ``resources`` is passed through as given (the reference loads nothing itself)."""
    types = list(types)
    for t in types:
        if t not in TYPES:
            raise ValueError(f"unknown type {t}")
    if not (0 <= rate_ppm <= 10**6):
        raise ValueError("rate out of range")
    if unit not in ("query", "word"):
        raise ValueError(f"unknown unit {unit}")
    models = Models(real_words, spelling_dict, chars_per_word)

    # Splitting on LF keeps CR inside the line; a missing final newline leaves a
    # non-empty last piece, and a present one leaves b"" (which is not a line).
    pieces = data.split(b"\n")
    lines = pieces[:-1] if pieces[-1] == b"" else pieces
    records: list[_Record] = []
    line_records: list[_Record | None] = []
    for line_no, raw in enumerate(lines, 1):
        if raw.strip(b" \t\r") == b"":
            line_records.append(None)
            continue
        rec = _parse_record(raw, line_no, len(records), field, id_field, annotate_key if annotate else None)
        records.append(rec)
        line_records.append(rec)

    with_id = sum(r.has_id for r in records)
    if with_id and with_id != len(records):
        missing = next(r for r in records if not r.has_id)
        raise QEInputError(missing.line_no, f"ids on only some records ({id_field!r} missing)")
    keys_mode = "id" if (id_field and records and with_id == len(records)) else "position"
    seen: dict[str, int] = {}
    for r in records:
        if keys_mode == "id":
            r.key = "i" + (r.id_value if isinstance(r.id_value, str) else str(r.id_value))
        else:
            r.key = "n" + str(r.index)
        if r.key in seen:
            raise QEInputError(r.line_no, f"duplicate id {r.id_value!r}")
        seen[r.key] = r.line_no

    changes: dict[int, tuple[str, str, list[Edit]]] = {}  # index -> (type, new_text, edits)
    by_type = {t: 0 for t in types}
    n_uncorruptible = 0
    k: int | None
    shortfall = 0
    T = len(types)

    if unit == "query":
        k = k_for(rate_ppm, len(records))
        order = sorted(records, key=lambda r: (rank_hash([VERSION, "rank", str(seed), r.key]), r.index))
        j = 0
        for r in order:
            if j >= k:
                break
            t = types[j % T]
            spans = eligible_spans(r.text, t, models, min_word_len, protect_stopwords)
            if not spans:
                n_uncorruptible += 1  # slot t passes to the next record
                continue
            new, edits = corrupt_spans(r.text, spans, t, words_per_query, r.key, seed, models)
            changes[r.index] = (t, new, edits)
            by_type[t] += 1
            j += 1
        shortfall = k - j
    else:
        k = None
        for r in records:
            t = types[stream("type", seed, r.key).uniform(T)] if T > 1 else types[0]
            if rate_ppm == 0:
                continue
            spans = eligible_spans(r.text, t, models, min_word_len, protect_stopwords)
            e = len(spans)
            if e == 0:
                n_uncorruptible += 1
                continue
            n = min(e, max(1, (rate_ppm * e + 10**6 - 1) // 10**6))
            new, edits = corrupt_spans(r.text, spans, t, n, r.key, seed, models)
            changes[r.index] = (t, new, edits)
            by_type[t] += 1

    out = bytearray()
    for i, raw in enumerate(lines):
        rec = line_records[i]
        if rec is not None and rec.index in changes:
            t, new, edits = changes[rec.index]
            ann = _annotation(t, seed, unit, rate_ppm, field, rec.text, edits) if annotate else None
            out += _splice(rec, new, ann, annotate_key)
        else:
            out += raw
        if i < len(lines) - 1 or pieces[-1] == b"":
            out += b"\n"

    summary = {
        "command": "inject-errors",
        "version": VERSION,
        "seed": seed,
        "unit": unit,
        "rate": rate_ppm / 10**6,
        "types": types,
        "n_records": len(records),
        "k": k,
        "n_changed": len(changes),
        "by_type": by_type,
        "n_uncorruptible": n_uncorruptible,
        "shortfall": shortfall,
        "keys": keys_mode,
        "resources": resources if resources is not None else {},
        "changed": {records[i].key: changes[i] for i in sorted(changes)},
    }
    return bytes(out), summary
