"""A third-party error model for ``mstk inject-errors --types homoglyph``.

Each candidate swaps one Latin letter for the Cyrillic letter that looks the same. The
host scans the words and draws among the candidates with its own keyed streams, so this
class owns no randomness and needs no Rust.
"""

from __future__ import annotations

from typing import Any, Sequence

import mstk

LOOK_ALIKES = {"a": "а", "c": "с", "e": "е", "o": "о", "p": "р", "x": "х", "y": "у"}


class Homoglyph:
    name = "homoglyph"
    version = "1"
    description = "Latin letters -> Cyrillic look-alikes"

    def load(self, options: dict[str, Any]) -> None:
        # Resources would be read here (never at import); this table is small enough inline.
        self.table = dict(LOOK_ALIKES)

    def candidates(self, word: str) -> Sequence[str]:
        # Ordered by position, deterministic; [] means the word is not eligible.
        return [word[:i] + self.table[ch] + word[i + 1:] for i, ch in enumerate(word) if ch in self.table]


@mstk.hookimpl
def register_error_models(register) -> None:
    register(Homoglyph)
