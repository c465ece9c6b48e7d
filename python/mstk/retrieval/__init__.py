"""Retrieval for mstk: BM25, dense top-k, fusion and retrieval metrics (specs/retrieval.md)."""

from mstk.retrieval.metrics import evaluate, read_qrels, read_trec_run, write_trec_run

__all__ = ["evaluate", "read_qrels", "read_trec_run", "write_trec_run"]
