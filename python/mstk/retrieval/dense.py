"""Exact dense indexes on disk (same directory layout and checks as BM25 indexes), and
``open_index`` which opens either kind from its manifest."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import orjson

from mstk.retrieval.bm25 import (
    FORMAT,
    INDEX_FILE,
    VERSION,
    Hits,
    IndexError_,
    IndexHandle,
    check_writable,
    file_entry,
    read_index_dir,
    write_index_dir,
)


class Dense(IndexHandle):
    """Float32 vectors searched exactly (inner product, or cosine), with their encoder's
    fingerprint so queries are encoded the same way."""

    @classmethod
    def build(cls, vectors: Any, ids: Sequence[str], *, metric: str = "ip", contents: Sequence[str] | None = None,
              encoder: dict[str, Any] | None = None, dtype: str = "f32") -> "Dense":
        """``dtype="int8"`` stores per-row int8 codes (a quarter of the memory) and scores
        approximately (spec: symmetric per-row scale, queries quantised the same way)."""
        import numpy as np

        from mstk import _core

        return cls(_core.DenseIndex.build(np.ascontiguousarray(vectors, dtype=np.float32), list(ids), metric=metric,
                                          contents=None if contents is None else list(contents),
                                          encoder_json=orjson.dumps(encoder).decode(), dtype=dtype))

    @property
    def encoder(self) -> dict[str, Any] | None:
        return self.meta.get("encoder")

    def search_vectors(self, queries: Any, k: int = 10, threads: int | None = None) -> Hits:
        import numpy as np

        return Hits(*self._index.search(np.ascontiguousarray(queries, dtype=np.float32), k, threads))

    def search(self, queries: Sequence[str], k: int = 10, threads: int | None = None, encoder: Any = None) -> Hits:
        """Encode query texts with the index's encoder (or ``encoder``) and search."""
        if encoder is None:
            encoder = encoder_for(self.encoder, threads)
        return self.search_vectors(encoder.encode(list(queries), kind="query"), k, threads)

    def save(self, directory: str | os.PathLike, force: bool = False) -> dict[str, Any]:
        from mstk import __version__

        check_writable(directory, force)
        data = self._index.to_bytes()
        meta = self.meta
        manifest = {"format": FORMAT, "version": VERSION, "retriever": "dense", "kind": "dense", "params": meta["params"],
                    "encoder": meta["encoder"], "n_docs": meta["n_docs"], "store_contents": meta["store_contents"],
                    "mstk_version": __version__, "files": file_entry(data)}
        return write_index_dir(directory, data, manifest)

    @classmethod
    def open(cls, directory: str | os.PathLike, verify: bool = True) -> "Dense":
        from mstk import _core

        manifest, data = read_index_dir(directory, verify)
        if manifest.get("retriever") != "dense":
            raise IndexError_(f"{directory}: retriever {manifest.get('retriever')!r} is not dense")
        try:
            return cls(_core.DenseIndex.from_bytes(data, verify))
        except (_core.IndexCorruptError, _core.IndexVersionError) as exc:
            raise IndexError_(f"{Path(directory) / INDEX_FILE}: {exc}") from None


def encoder_for(fingerprint: dict[str, Any] | None, threads: int | None = None) -> Any:
    """The registered encoder named in an index's fingerprint, loaded."""
    from mstk.plugins import encoders, get_plugin_manager

    if not fingerprint or "name" not in fingerprint:
        raise IndexError_("this dense index records no encoder: pass query vectors, or --encoder")
    registry = encoders(get_plugin_manager())
    name = fingerprint["name"]
    if name not in registry:
        raise IndexError_(f"the index was built with encoder {name!r}, which is not installed (known: {', '.join(sorted(registry))})")
    encoder = registry[name]()
    encoder.load(threads)
    if hasattr(encoder, "fingerprint") and encoder.fingerprint() != fingerprint:
        raise IndexError_(f"encoder {name!r} differs from the one that built the index (model or tokenizer changed)")
    return encoder


def open_index(directory: str | os.PathLike, verify: bool = True) -> Any:
    """Open any index directory through the retriever registry (see retrievers.py)."""
    from mstk.retrieval.retrievers import open_index as registry_open

    return registry_open(directory, verify)
