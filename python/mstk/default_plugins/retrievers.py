"""Registers the built-in retrievers: BM25 and exact dense (Rust core), and HNSW through
faiss or usearch (the optional `ann` extra)."""

from mstk import hookimpl


@hookimpl
def register_retrievers(register):
    from mstk.retrieval.retrievers import BUILTIN_RETRIEVERS

    for retriever in BUILTIN_RETRIEVERS:
        register(retriever)
