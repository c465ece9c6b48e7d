"""Registers the re-ranking methods the host owns (generic ones, not any paper's)."""

from mstk import hookimpl


@hookimpl
def register_rerankers(register):
    from mstk.rerank.methods import TopK

    register(TopK)
