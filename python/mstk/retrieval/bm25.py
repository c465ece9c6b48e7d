"""BM25 indexes on disk: ``DIR/index.mstk`` (the Rust core's checksummed file) plus
``DIR/manifest.json`` (what the index is, for people and for ``mstk index-info``).

The manifest has no timestamps, so building the same corpus twice gives identical bytes.
Writes go to ``DIR.tmp-<pid>`` and are renamed into place, so a crash never leaves half an
index under the real name.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import orjson

from mstk.errors import MstkError

MANIFEST = "manifest.json"
INDEX_FILE = "index.mstk"
FORMAT = "mstk-index"
VERSION = [1, 0]


class IndexError_(MstkError, ValueError):
    """An index directory that cannot be used (missing, corrupt, foreign, too new)."""


@dataclass(frozen=True)
class Hits:
    """Ranked hits of a batch of queries: ``doc_idx[i, :count[i]]`` with ``scores``."""

    doc_idx: Any  # np.ndarray int32 [n, k], -1 padded
    scores: Any  # np.ndarray float32 [n, k], -inf padded
    count: Any  # np.ndarray int32 [n]


class IndexHandle:
    """What every index kind offers around its Rust object: description and documents."""

    def __init__(self, core_index: Any) -> None:
        self._index = core_index

    @property
    def meta(self) -> dict[str, Any]:
        return orjson.loads(self._index.meta())

    @property
    def n_docs(self) -> int:
        return self._index.n_docs

    def doc_id(self, i: int) -> str:
        return self._index.doc_id(i)

    def doc_ids(self) -> list[str]:
        return self._index.doc_ids()

    def content(self, i: int) -> str | None:
        return self._index.content(i)

    @property
    def has_contents(self) -> bool:
        return self._index.has_contents


class Bm25(IndexHandle):
    """A BM25 index (Rust core) with its directory format."""

    @classmethod
    def build(cls, texts: Sequence[str], ids: Sequence[str], *, tokenizer: str = "word",
              stopwords: Sequence[str] | None = None, stemmer: bool | None = None, normalize: str = "none",
              variant: str = "lucene", k1: float | None = None, b: float | None = None, delta: float | None = None,
              epsilon: float | None = None, lucene_norms: bool = False, store_contents: bool = False,
              threads: int | None = None) -> "Bm25":
        from mstk import _core

        return cls(_core.Bm25Index.build(
            list(texts), list(ids), tokenizer=tokenizer, stopwords=None if stopwords is None else list(stopwords),
            stemmer=stemmer, normalize=normalize, variant=variant, k1=k1, b=b, delta=delta, epsilon=epsilon,
            lucene_norms=lucene_norms, store_contents=store_contents, threads=threads))

    @classmethod
    def build_pretokenized(cls, tokens: Sequence[Sequence[str]], ids: Sequence[str], *, variant: str = "lucene",
                           k1: float | None = None, b: float | None = None, delta: float | None = None,
                           epsilon: float | None = None, lucene_norms: bool = False,
                           threads: int | None = None) -> "Bm25":
        from mstk import _core

        return cls(_core.Bm25Index.build_pretokenized(
            [list(t) for t in tokens], list(ids), variant=variant, k1=k1, b=b, delta=delta, epsilon=epsilon,
            lucene_norms=lucene_norms, threads=threads))

    def search(self, queries: Sequence[str] | Sequence[Sequence[str]], k: int = 10, threads: int | None = None) -> Hits:
        """Top ``k`` matching documents per query (texts, or token lists), score desc then
        document order; a query that matches nothing gets no hits."""
        queries = list(queries)
        if queries and not isinstance(queries[0], str):
            return Hits(*self._index.search_tokens([list(q) for q in queries], k, threads))
        return Hits(*self._index.search(queries, k, threads))

    def scores(self, query: str | Sequence[str]) -> Any:
        """Scores of every document (float32), for parity checks."""
        return self._index.scores(query if isinstance(query, str) else list(query))

    # ------------------------------------------------------------------ directories

    def manifest(self, index_bytes: bytes) -> dict[str, Any]:
        from mstk import __version__

        meta = self.meta
        return {
            "format": FORMAT,
            "version": VERSION,
            "retriever": "bm25",
            "kind": "bm25",
            "params": meta["params"],
            "tokenizer": meta["tokenizer"],
            "n_docs": meta["n_docs"],
            "n_terms": meta["n_terms"],
            "nnz": meta["nnz"],
            "avgdl": meta["avgdl"],
            "store_contents": meta["store_contents"],
            "mstk_version": __version__,
            "files": file_entry(index_bytes),
        }

    def save(self, directory: str | os.PathLike, force: bool = False) -> dict[str, Any]:
        check_writable(directory, force)
        data = self._index.to_bytes()
        return write_index_dir(directory, data, self.manifest(data))

    @classmethod
    def open(cls, directory: str | os.PathLike, verify: bool = True) -> "Bm25":
        from mstk import _core

        manifest, data = read_index_dir(directory, verify)
        if manifest.get("retriever") != "bm25":
            raise IndexError_(f"{directory}: retriever {manifest.get('retriever')!r} is not bm25")
        try:
            return cls(_core.Bm25Index.from_bytes(data, verify))
        except (_core.IndexCorruptError, _core.IndexVersionError) as exc:
            raise IndexError_(f"{Path(directory) / INDEX_FILE}: {exc}") from None


def check_writable(directory: str | os.PathLike, force: bool) -> None:
    if Path(directory).exists() and not force:
        raise IndexError_(f"{directory} exists (use --force to replace it)")


def file_entry(data: bytes) -> dict[str, Any]:
    """The manifest's record of ``index.mstk``: size and xxh3-64."""
    from mstk import _core

    return {INDEX_FILE: {"bytes": len(data), "xxh3": f"{_core.xxh3_64(data):016x}"}}


def write_index_dir(directory: str | os.PathLike, data: bytes, manifest: dict[str, Any]) -> dict[str, Any]:
    """Write DIR/index.mstk and DIR/manifest.json into ``DIR.tmp-<pid>`` and rename it into
    place, so a crash never leaves half an index under the real name."""
    target = Path(directory)
    tmp = target.with_name(f"{target.name}.tmp-{os.getpid()}")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    (tmp / INDEX_FILE).write_bytes(data)
    (tmp / MANIFEST).write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n")
    if target.exists():
        shutil.rmtree(target)
    tmp.rename(target)
    return manifest


def read_index_dir(directory: str | os.PathLike, verify: bool = True) -> tuple[dict[str, Any], bytes]:
    """The manifest and index bytes of DIR, checked against each other."""
    from mstk import _core

    root = Path(directory)
    try:
        manifest = orjson.loads((root / MANIFEST).read_bytes())
    except FileNotFoundError:
        raise IndexError_(f"{root}: not an index directory (no {MANIFEST})") from None
    except orjson.JSONDecodeError as exc:
        raise IndexError_(f"{root / MANIFEST}: not JSON ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise IndexError_(f"{root / MANIFEST}: not an mstk index manifest")
    version = manifest.get("version")
    if not isinstance(version, list) or not version or version[0] > VERSION[0]:
        raise IndexError_(f"{root}: index format {version} is newer than this mstk reads ({VERSION}): rebuild or upgrade mstk")
    try:
        data = (root / INDEX_FILE).read_bytes()
    except FileNotFoundError:
        raise IndexError_(f"{root}: {INDEX_FILE} is missing") from None
    expected = manifest.get("files", {}).get(INDEX_FILE, {})
    if expected.get("bytes") != len(data):
        raise IndexError_(f"{root / INDEX_FILE}: {len(data)} bytes, the manifest says {expected.get('bytes')} (truncated or replaced?)")
    if verify and expected.get("xxh3") != f"{_core.xxh3_64(data):016x}":
        raise IndexError_(f"{root / INDEX_FILE}: checksum differs from the manifest's (the file is damaged)")
    return manifest, data
