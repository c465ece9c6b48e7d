"""A plain-Python byte-level BPE tokenizer built from GGUF tokenizer fields: the
reference mstk's exported tokenizer.json is compared with (tests only).

Written from the GPT-2 algorithm and llama.cpp's 'smollm' pre-tokenizer definition
(every digit alone, then the GPT-2 word pattern), not from the `tokenizers` library.
"""

from __future__ import annotations

import regex

GPT2_PATTERN = regex.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""")


def byte_alphabet() -> dict[int, str]:
    """GPT-2's reversible map from bytes to printable characters."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    mapping, extra = {}, 0
    for b in range(256):
        if b in keep:
            mapping[b] = chr(b)
        else:
            mapping[b] = chr(256 + extra)
            extra += 1
    return mapping


class BpeReference:
    def __init__(self, tokens: list[str], token_types: list[int], merges: list[str]) -> None:
        self.ids = {t: i for i, t in enumerate(tokens)}
        self.ranks = {tuple(m.split(" ", 1)): r for r, m in enumerate(merges)}
        self.specials = sorted((t for t, k in zip(tokens, token_types) if k == 3), key=len, reverse=True)
        self.alphabet = byte_alphabet()

    def _pieces(self, text: str) -> list[str]:
        out = []
        for chunk in regex.split(r"(\p{N})", text):  # every digit alone
            if chunk:
                out.extend(GPT2_PATTERN.findall(chunk))
        return out

    def _bpe(self, word: str) -> list[str]:
        parts = list(word)
        while len(parts) > 1:
            pairs = [(self.ranks.get((a, b), None), i) for i, (a, b) in enumerate(zip(parts, parts[1:]))]
            ranked = [(r, i) for r, i in pairs if r is not None]
            if not ranked:
                break
            _, i = min(ranked)
            parts = parts[:i] + [parts[i] + parts[i + 1]] + parts[i + 2:]
        return parts

    def encode(self, text: str) -> list[int]:
        ids: list[int] = []
        pattern = "(" + "|".join(regex.escape(s) for s in self.specials) + ")" if self.specials else None
        segments = regex.split(pattern, text) if pattern else [text]
        for segment in segments:
            if not segment:
                continue
            if segment in self.ids and segment in self.specials:
                ids.append(self.ids[segment])
                continue
            for piece in self._pieces(segment):
                mapped = "".join(self.alphabet[b] for b in piece.encode("utf-8"))
                ids.extend(self.ids[p] for p in self._bpe(mapped))
        return ids
