"""Files the built-in error models read at run time, located in installed packages.

Nothing here is vendored: the real-word lists (pyspellchecker, symspellpy), nlpaug's
spelling list and OCR map, and codespell's dictionary (GPL, read only) are found with
``importlib.util.find_spec`` without importing their packages, as specs/data.md requires.
Each loaded resource reports its name, version and sha256 for the run summary.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from mstk.errors import ParameterError

# name -> (distribution, import name, file inside the package)
WORDLISTS: dict[str, tuple[str, str, str]] = {
    "pyspellchecker": ("pyspellchecker", "spellchecker", "resources/en.json.gz"),
    "symspell": ("symspellpy", "symspellpy", "frequency_dictionary_en_82_765.txt"),
}
NLPAUG_SPELLING = ("nlpaug", "nlpaug", "res/word/spelling/spelling_en.txt")
NLPAUG_OCR = ("nlpaug", "nlpaug", "res/char/ocr/en.json")
CODESPELL = ("codespell", "codespell_lib", "data/dictionary.txt")


@dataclass(frozen=True)
class Resource:
    """A file read from an installed package (or a user path), for the summary."""

    name: str
    path: Path
    version: str | None

    def sha256(self) -> str:
        import hashlib

        return hashlib.sha256(self.path.read_bytes()).hexdigest()

    def describe(self) -> dict[str, str | None]:
        return {"name": self.name, "version": self.version, "sha256": self.sha256()}


def package_file(distribution: str, module: str, relative: str) -> Resource | None:
    """The file, if the package is installed (its ``__init__`` is never run)."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    if not path.is_file():
        return None
    from importlib import metadata  # here, not at import: keyboard and visual runs never need it

    try:
        version: str | None = metadata.version(distribution)
    except metadata.PackageNotFoundError:
        version = None
    return Resource(distribution, path, version)


def user_file(path: str, what: str) -> Resource:
    p = Path(path)
    if not p.is_file():
        raise ParameterError(f"{what} {path!r} is not a readable file")
    # The file name only: summaries and manifests must not depend on where a file lives.
    return Resource(p.name, p, None)


def find_wordlist(choice: str) -> Resource:
    """``auto`` (first installed of pyspellchecker, symspell), a list name, or a PATH."""
    if choice == "auto":
        for name in WORDLISTS:
            found = package_file(*WORDLISTS[name])
            if found is not None:
                return found
        raise ParameterError(
            "spelling errors need a real-word list and none is installed: "
            "pip install pyspellchecker==0.9.1 (or symspellpy, or pass --wordlist PATH)"
        )
    if choice in WORDLISTS:
        found = package_file(*WORDLISTS[choice])
        if found is None:
            dist = WORDLISTS[choice][0]
            raise ParameterError(f"word list {choice!r} needs the {dist} package: pip install {dist}")
        return found
    return user_file(choice, "--wordlist")


def load_wordlist(resource: Resource):
    """A ``_core.WordList`` from pyspellchecker's gzip JSON or a ``word [count]`` file."""
    from mstk import _core

    data = resource.path.read_bytes()
    if resource.path.suffix == ".gz":
        import gzip

        data = gzip.decompress(data)
    if data.lstrip()[:1] == b"{":
        return _core.WordList.from_json_keys(data)
    return _core.WordList.from_lines(data.decode("utf-8"))


def spelling_source(choice: str) -> tuple[str, Resource | None]:
    """Returns (format, resource): format is ``rules``, ``pairs`` or ``codespell``."""
    if choice == "builtin":
        return "rules", None
    if choice == "nlpaug":
        found = package_file(*NLPAUG_SPELLING)
        if found is None:
            raise ParameterError("--spelling-dict nlpaug needs the nlpaug package: pip install --no-deps nlpaug==1.1.11")
        return "pairs", found
    if choice == "codespell":
        found = package_file(*CODESPELL)
        if found is None:
            raise ParameterError("--spelling-dict codespell needs the codespell package: pip install codespell")
        return "codespell", found
    return "pairs", user_file(choice, "--spelling-dict")


def codespell_as_pairs(text: str) -> str:
    """codespell's ``wrong->right`` lines as ``right wrong`` lines. Lines whose right side
    holds a comma (several fixes, or a reason) are skipped: they are not one spelling."""
    out = []
    for line in text.splitlines():
        wrong, sep, right = line.partition("->")
        wrong, right = wrong.strip(), right.strip()
        # A comma means several fixes or a reason; a space means a phrase ("a lot"), which
        # as a `head variant` line would wrongly read as several variants of "a".
        if not sep or "," in right or len(right.split()) != 1 or len(wrong.split()) != 1:
            continue
        out.append(f"{right} {wrong}")
    return "\n".join(out)


def load_table(choice: str, what: str) -> list[tuple[str, list[str]]] | None:
    """A JSON ``{"src": ["dst", …]}`` table (None for ``builtin``)."""
    if choice == "builtin":
        return None
    import json

    resource = user_file(choice, what)
    try:
        raw = json.loads(resource.path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ParameterError(f"{what} {choice!r}: not a JSON table: {exc}") from None
    if not isinstance(raw, dict) or not all(
        isinstance(v, list) and all(isinstance(x, str) for x in v) for v in raw.values()
    ):
        raise ParameterError(f'{what} {choice!r}: expected {{"src": ["dst", ...]}}')
    return [(k, list(v)) for k, v in raw.items()]


def nlpaug_visual_rules() -> tuple[list[tuple[str, str]], Resource]:
    """nlpaug's OCR map plus every reverse pair, as nlpaug applies it."""
    import json

    found = package_file(*NLPAUG_OCR)
    if found is None:
        raise ParameterError("--visual-table nlpaug needs the nlpaug package: pip install --no-deps nlpaug==1.1.11")
    mapping = json.loads(found.path.read_text(encoding="utf-8"))
    rules: list[tuple[str, str]] = []
    for src, dsts in mapping.items():
        for dst in dsts:
            for pair in ((src, dst), (dst, src)):
                if pair not in rules:
                    rules.append(pair)
    # The kernel edits ASCII-letter sources only; nlpaug's digit sources cannot match a word.
    return [(s, d) for s, d in rules if s.isascii() and s.isalpha()], found
