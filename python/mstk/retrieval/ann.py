"""Approximate dense retrieval (HNSW) through faiss or usearch, as the retrievers
``faiss-hnsw`` and ``usearch``: `mstk index --kind faiss-hnsw -p M=32 …`.

mstk has no ANN of its own (specs/retrieval.md): the engines are optional (``pip install
'mstk[ann]'``) and imported only when an index is built or opened. An index directory has
the usual layout (``manifest.json`` + ``index.mstk``, checksummed), so a damaged file is
caught the same way as for BM25 and exact dense indexes. ``index.mstk`` holds an 8-byte
length, a JSON block (document ids, optional contents) and the engine's own serialised
index; the manifest keeps the encoder's fingerprint and the HNSW parameters.

HNSW built on several threads depends on scheduling, so only ``--threads 1`` builds are
byte-identical; search results do not depend on the thread count.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import orjson

from mstk.errors import ParameterError
from mstk.retrieval.bm25 import FORMAT, VERSION, Hits, IndexError_, check_writable, file_entry, read_index_dir, write_index_dir

INSTALL = "pip install 'mstk[ann]'"
DEFAULTS = {"M": 32, "ef_construction": 200, "ef_search": 64}


def _engine_module(engine: str) -> Any:
    try:
        if engine == "faiss-hnsw":
            import faiss

            return faiss
        import usearch.index

        return usearch.index
    except ImportError:
        module = "faiss-cpu" if engine == "faiss-hnsw" else "usearch"
        raise ParameterError(f"the {engine} retriever needs {module}: {INSTALL}") from None


def parse_params(options: dict[str, str]) -> dict[str, Any]:
    """``-p`` options of `mstk index` (strings) → HNSW parameters and the encoder."""
    known = {*DEFAULTS, "encoder", "metric", "batch_size"}
    unknown = sorted(set(options) - known)
    if unknown:
        raise ParameterError(f"unknown option {unknown[0]!r} (known: {', '.join(sorted(known))})")
    params: dict[str, Any] = {}
    for name, default in DEFAULTS.items():
        raw = options.get(name, default)
        try:
            value = int(raw)
        except (TypeError, ValueError):
            raise ParameterError(f"{name} must be a positive integer, got {raw!r}") from None
        if value < 1:
            raise ParameterError(f"{name} must be a positive integer, got {raw!r}")
        params[name] = value
    params["metric"] = options.get("metric", "ip")
    if params["metric"] not in ("ip", "cos"):
        raise ParameterError(f"metric must be ip or cos, got {params['metric']!r}")
    params["encoder"] = options.get("encoder", "minilm-int8")
    params["batch_size"] = int(options.get("batch_size", 32))
    return params


class AnnIndex:
    """An HNSW index over float32 vectors, with document ids (and optionally contents)."""

    def __init__(self, engine: str, index: Any, ids: list[str], contents: list[str] | None, meta: dict[str, Any]) -> None:
        self.engine, self._index, self._ids, self._contents, self.meta = engine, index, ids, contents, meta

    # -- building ---------------------------------------------------------------------
    @classmethod
    def build(cls, engine: str, vectors: Any, ids: Sequence[str], *, M: int = 32, ef_construction: int = 200,
              ef_search: int = 64, metric: str = "ip", contents: Sequence[str] | None = None,
              encoder: dict[str, Any] | None = None, threads: int | None = None) -> "AnnIndex":
        if engine not in ("faiss-hnsw", "usearch"):
            raise ParameterError(f"engine must be faiss-hnsw or usearch, got {engine!r}")
        x = _prepared(vectors, metric)
        if len(ids) != len(x):
            raise ParameterError(f"{len(ids)} ids for {len(x)} vectors")
        module = _engine_module(engine)
        threads = threads or os.cpu_count() or 1
        if engine == "faiss-hnsw":
            module.omp_set_num_threads(threads)
            index = module.IndexHNSWFlat(x.shape[1], M, module.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = ef_construction
            index.add(x)
        else:
            index = module.Index(ndim=x.shape[1], metric="ip", dtype="f32", connectivity=M,
                                 expansion_add=ef_construction, expansion_search=ef_search)
            index.add(np.arange(len(x), dtype=np.uint64), x, threads=threads)
        meta = {"retriever": engine, "n_docs": len(x), "dim": int(x.shape[1]), "metric": metric,
                "params": {"M": M, "ef_construction": ef_construction, "ef_search": ef_search}, "encoder": encoder}
        return cls(engine, index, list(ids), None if contents is None else list(contents), meta)

    # -- files ------------------------------------------------------------------------
    def save(self, directory: str | os.PathLike, force: bool = False) -> dict[str, Any]:
        from mstk import __version__

        check_writable(directory, force)
        if self.engine == "faiss-hnsw":
            engine_bytes = _engine_module(self.engine).serialize_index(self._index).tobytes()
        else:
            engine_bytes = bytes(self._index.save())
        docs = orjson.dumps({"ids": self._ids, "contents": self._contents})
        data = struct.pack("<Q", len(docs)) + docs + engine_bytes
        manifest = {"format": FORMAT, "version": VERSION, **self.meta, "created_by": f"mstk {__version__}",
                    "store_contents": self._contents is not None, "files": file_entry(data)}
        return write_index_dir(directory, data, manifest)

    @classmethod
    def open(cls, directory: str | os.PathLike, verify: bool = True) -> "AnnIndex":
        manifest, data = read_index_dir(directory, verify)
        engine = manifest.get("retriever")
        where = Path(directory) / "index.mstk"
        try:
            (n,) = struct.unpack("<Q", data[:8])
            docs = orjson.loads(data[8:8 + n])
            ids, contents = docs["ids"], docs["contents"]
        except (struct.error, orjson.JSONDecodeError, KeyError, TypeError):
            raise IndexError_(f"{where}: the document block is damaged") from None
        module = _engine_module(engine)
        engine_bytes = data[8 + n:]
        try:
            if engine == "faiss-hnsw":
                index = module.deserialize_index(np.frombuffer(engine_bytes, dtype=np.uint8))
            else:
                index = module.Index.restore(engine_bytes)
        except Exception as exc:  # the engines raise their own types (RuntimeError, ValueError)
            raise IndexError_(f"{where}: {engine} cannot read its index ({exc})") from None
        if index is None or len(ids) != manifest.get("n_docs") or _size(engine, index) != len(ids):
            raise IndexError_(f"{where}: the {engine} index does not hold the {len(ids)} documents the manifest lists")
        meta = {k: manifest[k] for k in ("retriever", "n_docs", "dim", "metric", "params", "encoder") if k in manifest}
        return cls(engine, index, ids, contents, meta)

    # -- searching --------------------------------------------------------------------
    @property
    def encoder(self) -> dict[str, Any] | None:
        return self.meta.get("encoder")

    @property
    def n_docs(self) -> int:
        return len(self._ids)

    def doc_id(self, i: int) -> str:
        return self._ids[i]

    def doc_ids(self) -> list[str]:
        return list(self._ids)

    def content(self, i: int) -> str | None:
        return None if self._contents is None else self._contents[i]

    @property
    def has_contents(self) -> bool:
        return self._contents is not None

    def search_vectors(self, queries: Any, k: int = 10, threads: int | None = None, ef_search: int | None = None) -> Hits:
        """The k best documents per query by inner product (approximate), best first;
        rows padded with −1 / −inf where the graph yields fewer than k."""
        if k < 1:
            raise ParameterError("k must be at least 1")
        q = _prepared(queries, self.meta["metric"])
        if q.shape[1] != self.meta["dim"]:
            raise ParameterError(f"queries have dimension {q.shape[1]}, the index {self.meta['dim']}")
        ef = max(ef_search or self.meta["params"]["ef_search"], k)
        threads = threads or os.cpu_count() or 1
        module = _engine_module(self.engine)
        if self.engine == "faiss-hnsw":
            module.omp_set_num_threads(threads)
            params = module.SearchParametersHNSW()
            params.efSearch = ef
            scores, idx = self._index.search(q, k, params=params)
            idx = idx.astype(np.int32)
            scores = np.where(idx >= 0, scores, -np.inf).astype(np.float32)
        else:
            self._index.expansion_search = ef
            found = self._index.search(q, k, threads=threads)
            keys = np.asarray(found.keys).reshape(len(q), -1)
            distances = np.asarray(found.distances, dtype=np.float32).reshape(len(q), -1)
            counts = np.asarray(found.counts).reshape(len(q))
            idx = np.full((len(q), k), -1, dtype=np.int32)
            scores = np.full((len(q), k), -np.inf, dtype=np.float32)
            for row in range(len(q)):
                n = int(counts[row])
                idx[row, :n] = keys[row, :n]
                scores[row, :n] = 1.0 - distances[row, :n]  # usearch's ip distance is 1 − dot
        count = (idx >= 0).sum(axis=1).astype(np.int32)
        return Hits(idx, scores, count)

    def search(self, queries: Sequence[str], k: int = 10, threads: int | None = None, encoder: Any = None) -> Hits:
        """Encode query texts with the index's encoder (or ``encoder``) and search."""
        from mstk.retrieval.dense import encoder_for

        if encoder is None:
            encoder = encoder_for(self.encoder, threads)
        return self.search_vectors(encoder.encode(list(queries), kind="query"), k, threads)


def _prepared(vectors: Any, metric: str) -> np.ndarray:
    x = np.ascontiguousarray(vectors, dtype=np.float32)
    if x.ndim != 2 or x.shape[1] == 0:
        raise ParameterError(f"vectors must be a 2-d array with at least one column, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ParameterError("vectors must be finite")
    if metric == "cos":
        x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    return x


def _size(engine: str, index: Any) -> int:
    return int(index.ntotal) if engine == "faiss-hnsw" else len(index)


class _AnnRetriever:
    """The ``register_retrievers`` face of an engine: build from texts with a registered
    encoder (``-p encoder=NAME``), open, search."""

    engine = ""

    def build(self, ids: list[str], texts: list[str], out_dir: str, *, force: bool, threads: int | None,
              store_contents: bool, options: dict[str, str]) -> dict[str, Any]:
        from mstk.plugins import encoders, get_plugin_manager

        params = parse_params(options)
        _engine_module(self.engine)  # fail before minutes of encoding
        registry = encoders(get_plugin_manager())
        if params["encoder"] not in registry:
            raise ParameterError(f"unknown encoder {params['encoder']!r} (known: {', '.join(sorted(registry))})")
        model = registry[params["encoder"]]()
        model.load(threads)
        vectors = model.encode(texts, kind="doc", batch_size=params["batch_size"])
        built = AnnIndex.build(self.engine, vectors, ids, M=params["M"], ef_construction=params["ef_construction"],
                               ef_search=params["ef_search"], metric=params["metric"],
                               contents=texts if store_contents else None, encoder=model.fingerprint(), threads=threads)
        return built.save(out_dir, force=force)

    @classmethod
    def load(cls, index_dir: str | os.PathLike, verify: bool = True) -> AnnIndex:
        return AnnIndex.open(index_dir, verify)


class FaissHnswRetriever(_AnnRetriever):
    name = engine = "faiss-hnsw"


class UsearchRetriever(_AnnRetriever):
    name = engine = "usearch"
