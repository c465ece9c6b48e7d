"""Registers the built-in retrievers (BM25 and exact dense, both in the Rust core)."""

from mstk import hookimpl


@hookimpl
def register_retrievers(register):
    from mstk.retrieval.retrievers import BUILTIN_RETRIEVERS

    for retriever in BUILTIN_RETRIEVERS:
        register(retriever)
