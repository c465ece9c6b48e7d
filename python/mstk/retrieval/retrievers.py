"""Retriever back ends as plugins (``register_retrievers``).

A retriever class has ``name`` and:

- ``build(ids, texts, out_dir, *, force, threads, store_contents, options) -> manifest``:
  write an index directory (``manifest.json`` naming ``retriever: <name>`` plus its files);
  ``options`` are the ``mstk index -p NAME=VALUE`` pairs, as strings.
- ``load(index_dir, verify=True)``: open it (heavy work and optional imports go here) and
  return an object with ``search(queries: list[str], k, threads) -> Hits``, ``doc_id(i)``,
  ``doc_ids()``, ``content(i)`` and ``has_contents``.

The built-ins ``bm25`` and ``dense`` register through the same hook, and so do ``faiss-hnsw``
and ``usearch`` (ann.py): mstk writes no ANN of its own, those wrap the engines of the
optional ``ann`` extra.
"""

from __future__ import annotations

import os
from typing import Any, Sequence

from mstk.retrieval.bm25 import Bm25, IndexError_, read_index_dir


class Bm25Retriever:
    name = "bm25"

    @staticmethod
    def load(index_dir: str | os.PathLike, verify: bool = True) -> Bm25:
        return Bm25.open(index_dir, verify)


class DenseRetriever:
    name = "dense"

    @staticmethod
    def load(index_dir: str | os.PathLike, verify: bool = True) -> Any:
        from mstk.retrieval.dense import Dense

        return Dense.open(index_dir, verify)


def _ann_retrievers() -> tuple[type, ...]:
    # faiss / usearch themselves are imported only when an index is built or opened
    from mstk.retrieval.ann import FaissHnswRetriever, UsearchRetriever

    return (FaissHnswRetriever, UsearchRetriever)


BUILTIN_RETRIEVERS = (Bm25Retriever, DenseRetriever, *_ann_retrievers())


def open_index(directory: str | os.PathLike, verify: bool = True, registry: dict[str, type] | None = None) -> Any:
    """Open an index directory with the retriever its manifest names."""
    manifest, _ = read_index_dir(directory, verify=False)
    name = manifest.get("retriever")
    if registry is None:
        from mstk.plugins import get_plugin_manager, retrievers

        registry = retrievers(get_plugin_manager())
    if name not in registry:
        raise IndexError_(f"{directory} was built by retriever {name!r}, which is not installed "
                          f"(installed: {', '.join(sorted(registry))}); install the plugin that provides it")
    return registry[name].load(directory, verify)


def build_with_plugin(retriever: type, ids: Sequence[str], texts: Sequence[str], out_dir: str, *, force: bool,
                      threads: int | None, store_contents: bool, options: dict[str, str]) -> dict[str, Any]:
    return retriever().build(list(ids), list(texts), out_dir, force=force, threads=threads,
                             store_contents=store_contents, options=options)
