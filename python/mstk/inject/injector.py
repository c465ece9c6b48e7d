"""``Injector``: the Python face of the query-error kernel, shared by ``mstk
inject-errors``, ``mstk qerag build`` and plugin authors."""

from __future__ import annotations

import re
from typing import Any, Mapping, NamedTuple, Sequence

from mstk.errors import ParameterError, PluginError

DEFAULT_TYPES = ("keyboard", "visual", "spelling")
FORMAT_VERSION = "mstk-qe/1"
FIDELITY_NOTE = (
    "Error types and rates follow QE-RAG (arXiv:2504.04062). The paper's code is not public, "
    "so the injection algorithm is mstk's own. `--engine nlpaug` runs the tool that secondary "
    "sources attribute to the paper."
)


_PLAIN_DECIMAL = re.compile(r"\+?([0-9]*)(?:\.([0-9]*))?")


def parse_rate(value: str | float | int) -> int:
    """A rate in [0, 1] with at most 6 decimals, as integer parts per million."""
    # Plain decimals ("0.2", "1", ".25") are read exactly here: the decimal module costs
    # about 5 ms to import, a noticeable share of the command's start-up. Anything else
    # (exponents, signs, words) takes the Decimal path, which gives the same answers.
    match = _PLAIN_DECIMAL.fullmatch(str(value).strip())
    if match is not None and (match[1] or match[2]):
        whole, fraction = match[1] or "0", (match[2] or "").rstrip("0")
        if len(fraction) <= 6:
            ppm = int(whole) * 1_000_000 + int(fraction.ljust(6, "0"))
            if ppm > 1_000_000:
                raise ParameterError(f"rate must be in [0, 1], got {value!r}")
            return ppm
    return _parse_rate_decimal(value)


def _parse_rate_decimal(value: str | float | int) -> int:
    from decimal import Decimal, InvalidOperation

    try:
        d = Decimal(str(value).strip())
    except InvalidOperation:
        raise ParameterError(f"rate must be a number in [0, 1], got {value!r}") from None
    if not d.is_finite() or d < 0 or d > 1:
        raise ParameterError(f"rate must be in [0, 1], got {value!r}")
    ppm = d * 1_000_000
    if ppm != ppm.to_integral_value():
        raise ParameterError(f"rate takes at most 6 decimals, got {value!r}")
    return int(ppm)


class Edit(NamedTuple):
    """One changed word: code-point offsets into the clean text."""

    start: int
    end: int
    source: str
    target: str


class Corruption(NamedTuple):
    """A changed text. Named tuples, not dataclasses: `corrupt_texts` makes one per changed
    record, and tuple construction is several times cheaper."""

    text: str
    type: str
    edits: tuple[Edit, ...]


class Rng:
    """The injector's keyed xoshiro256** stream, for plugin authors and tests:
    ``Rng(seed, tag, key, *extra)`` draws exactly what the kernel draws for those parts."""

    def __init__(self, seed: int | str, tag: str, key: str, *extra: str) -> None:
        from mstk import _core

        self._rng = _core.QeRng([FORMAT_VERSION, tag, str(seed), key, *map(str, extra)])

    def next_u64(self) -> int:
        return self._rng.next_u64()

    def uniform(self, n: int) -> int:
        return self._rng.uniform(n)


def _default_registry() -> dict[str, type]:
    from mstk.plugins import error_models, get_plugin_manager

    return error_models(get_plugin_manager())


def _bad_candidate(word: str, candidate: object) -> str | None:
    if not isinstance(candidate, str):
        return f"not a str ({type(candidate).__name__})"
    if not candidate:
        return "empty"
    if candidate == word:
        return "equal to the word"
    if any(ord(c) < 0x20 or c in "\u2028\u2029" for c in candidate):
        return "contains a control character or line separator"
    return None


class Injector:
    """Deterministic query entry errors (spec inject-errors). Resources load once here."""

    def __init__(
        self,
        types: Sequence[str] = DEFAULT_TYPES,
        rate: str | float | int = 0.2,
        unit: str = "query",
        seed: int = 0,
        *,
        field: str = "question",
        id_field: str = "id",
        words_per_query: int = 1,
        chars_per_word: float = 1,
        min_word_len: int = 3,
        protect_stopwords: bool = True,
        spelling_dict: str = "builtin",
        wordlist: str = "auto",
        keyboard_table: str = "builtin",
        visual_table: str = "builtin",
        annotate: bool = True,
        annotate_key: str = "qe",
        threads: int | None = None,
        registry: Mapping[str, type] | None = None,
    ) -> None:
        types = tuple(types)
        if not types:
            raise ParameterError("give at least one error type")
        if len(set(types)) != len(types):
            raise ParameterError(f"error types repeat: {','.join(types)}")
        if unit not in ("query", "word"):
            raise ParameterError(f"unit must be 'query' or 'word', got {unit!r}")
        if not 0 <= seed < 2**64:
            raise ParameterError(f"seed must be in [0, 2^64), got {seed}")
        if words_per_query < 1 or min_word_len < 1:
            raise ParameterError("words-per-query and min-word-len must be at least 1")
        self.types = types
        self.rate_ppm = parse_rate(rate)
        self.unit = unit
        self.seed = seed
        self.field = field
        self.id_field = id_field
        self.annotate = annotate
        self.annotate_key = annotate_key
        self.threads = threads
        self._scan = {"min_word_len": min_word_len, "protect_stopwords": protect_stopwords}
        self._select = {"words_per_query": words_per_query, **self._scan}
        options = {
            "chars_per_word": chars_per_word,
            "spelling_dict": spelling_dict,
            "wordlist": wordlist,
            "keyboard_table": keyboard_table,
            "visual_table": visual_table,
        }
        registry = _default_registry() if registry is None else registry
        unknown = [t for t in types if t not in registry]
        if unknown:
            raise ParameterError(f"unknown error type {unknown[0]!r} (known: {', '.join(sorted(registry))})")
        self.models = []
        for name in types:
            model = registry[name]()
            try:
                model.load(dict(options))
            except (ParameterError, PluginError):
                raise
            except Exception as exc:
                if getattr(model, "kernel", False):
                    from mstk import _core

                    if isinstance(exc, _core.ParameterError):  # a bad option value: a usage error
                        raise ParameterError(str(exc)) from None
                    raise
                raise PluginError(f"error model {name!r} ({type(model).__module__}) failed to load: {exc}") from exc
            self.models.append(model)

    @property
    def resources(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, model in zip(self.types, self.models):
            if getattr(model, "kernel", False):
                out.update(model.resources)
            else:
                out[name] = {"plugin": type(model).__module__, "version": str(getattr(model, "version", ""))}
        return out

    def _kernel_models(self, words: Sequence[str] | None) -> list[Any]:
        """Kernel models for every type; plugin models become candidate tables over
        ``words`` (phase one of the two-phase protocol: Rust never calls back)."""
        from mstk import _core

        out = []
        for name, model in zip(self.types, self.models):
            if getattr(model, "kernel", False):
                out.append(model.kernel_model)
                continue
            entries = []
            for word in words or ():
                try:
                    candidates = list(model.candidates(word))
                except Exception as exc:
                    raise PluginError(f"error model {name!r} ({type(model).__module__}) failed on {word!r}: {exc}") from exc
                for c in candidates:
                    problem = _bad_candidate(word, c)
                    if problem:
                        raise PluginError(
                            f"error model {name!r} ({type(model).__module__}) gave an invalid candidate "
                            f"{c!r} for {word!r}: {problem}"
                        )
                if candidates:
                    entries.append((word, candidates))
            out.append(_core.table_model(entries))
        return out

    def _needs_words(self) -> bool:
        return any(not getattr(m, "kernel", False) for m in self.models)

    def run_jsonl(self, data: bytes, *, skip_errors: bool = False) -> tuple[bytes, dict[str, Any]]:
        """JSONL bytes in, JSONL bytes out, exactly as the CLI writes them, plus the
        summary (with ``skipped``: (line, reason) pairs under ``skip_errors``)."""
        from mstk import _core

        words = None
        if self._needs_words():
            words = _core.distinct_words_jsonl(data, field=self.field, **self._scan)
        out, stats = _core.inject_jsonl(
            data, list(self.types), self._kernel_models(words),
            rate_ppm=self.rate_ppm, unit=self.unit, seed=self.seed, field=self.field,
            id_field=self.id_field, annotate=self.annotate, annotate_key=self.annotate_key,
            skip_errors=skip_errors, threads=self.threads, **self._select,
        )
        return out, self._summary(stats)

    def corrupt_texts(self, texts: Sequence[str | None], keys: Sequence[str] | None = None) -> list[Corruption | None]:
        """Selection and corruption over texts; ``keys`` are record ids (default: positions)."""
        from mstk import _core

        if keys is None:
            stream_keys = [f"n{i}" for i in range(len(texts))]
        else:
            if len(keys) != len(texts):
                raise ParameterError(f"{len(keys)} keys for {len(texts)} texts")
            if len(set(keys)) != len(keys):
                raise ParameterError("keys must be unique (they seed each record's random streams)")
            stream_keys = [f"i{k}" for k in keys]
        words = None
        if self._needs_words():
            words = _core.distinct_words([t for t in texts if t], **self._scan)
        results, stats = _core.inject_texts(
            stream_keys, list(texts), list(self.types), self._kernel_models(words),
            rate_ppm=self.rate_ppm, unit=self.unit, seed=self.seed, threads=self.threads, **self._select,
        )
        self.last_summary = self._summary(stats)
        types, make_edit = self.types, Edit._make
        return [
            None if r is None else Corruption(r[0], types[r[1]], tuple(map(make_edit, r[2])))
            for r in results
        ]

    def _summary(self, stats: dict[str, Any]) -> dict[str, Any]:
        from mstk import __version__

        summary = {
            "command": "inject-errors",
            "version": __version__,
            "format": FORMAT_VERSION,
            "seed": self.seed,
            "unit": self.unit,
            "rate": self.rate_ppm / 1_000_000,
            "types": list(self.types),
        }
        skipped = stats.pop("skipped", None)
        summary.update(stats)
        summary["resources"] = self.resources
        if skipped is not None:
            summary["skipped"] = skipped
        return summary
