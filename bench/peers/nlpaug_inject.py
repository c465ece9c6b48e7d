"""Peer of `mstk inject-errors --unit word` for the benchmark of specs/inject-errors.md §7.1:
a plain script that imports nlpaug 1.1.11, reads JSONL, applies ONE augmenter to one field
of every record and writes JSONL.

    python bench/peers/nlpaug_inject.py INPUT --type keyboard|visual|spelling --rate R -o OUT

Augmenters (word unit, as `--engine nlpaug` uses them): keyboard = `KeyboardAug(aug_word_p=R)`,
visual = `OcrAug(aug_word_p=R)`, spelling = `SpellingAug(aug_p=R)`; other parameters are
nlpaug's defaults (so `aug_min=1`: even a tiny rate changes one word). One `augment` call per
record, in input order, after `Randomness.seed(--seed)`.

Records whose field is missing, not a string, empty or whitespace-only are written unchanged
(nlpaug returns `[]` for "" and `['']` for whitespace). Blank lines pass through. Records are
re-serialised (orjson), so this is not byte-preserving like mstk. SpellingAug's output depends
on PYTHONHASHSEED (it builds candidates from a set): set it for a reproducible file. nlpaug
also needs pandas, requests and gdown at import time (`pip install -e '.[bench]'`).
A one-line JSON summary goes to stderr.
"""

from __future__ import annotations

import argparse
import sys

try:
    import orjson

    loads, dumps = orjson.loads, lambda record: orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE)
except ImportError:  # pragma: no cover - orjson is an mstk dependency
    import json

    loads, dumps = json.loads, lambda record: (json.dumps(record, ensure_ascii=False) + "\n").encode()

TYPES = ("keyboard", "visual", "spelling")


def augmenter(kind: str, rate: float):
    if kind == "keyboard":
        import nlpaug.augmenter.char as nac

        return nac.KeyboardAug(aug_word_p=rate)
    if kind == "visual":
        import nlpaug.augmenter.char as nac

        return nac.OcrAug(aug_word_p=rate)
    import nlpaug.augmenter.word as naw

    return naw.SpellingAug(aug_p=rate)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("input", help="input JSONL ('-' = stdin)")
    parser.add_argument("--type", required=True, choices=TYPES)
    parser.add_argument("--rate", required=True, type=float)
    parser.add_argument("--field", default="question")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("-o", "--output", default="-", help="output JSONL ('-' = stdout)")
    args = parser.parse_args()

    import nlpaug
    from nlpaug.util import Randomness

    Randomness.seed(args.seed)
    aug = augmenter(args.type, args.rate)
    src = sys.stdin.buffer if args.input == "-" else open(args.input, "rb")
    out = sys.stdout.buffer if args.output == "-" else open(args.output, "wb")
    records = changed = skipped = 0
    with src, out:
        for line in src:
            if not line.strip():
                out.write(line)
                continue
            records += 1
            record = loads(line)
            text = record.get(args.field)
            if not isinstance(text, str) or not text.strip():
                skipped += 1
            else:
                result = aug.augment(text)
                new = result[0] if result else text
                if new != text:
                    changed += 1
                    record[args.field] = new
            out.write(dumps(record))
    summary = {"peer": "nlpaug", "version": nlpaug.__version__, "type": args.type, "rate": args.rate,
               "records": records, "changed": changed, "skipped": skipped}
    sys.stderr.write(dumps(summary).decode())


if __name__ == "__main__":
    main()
