"""Retrieval for mstk: BM25 and exact dense search in Rust, fusion, encoders and
retrieval metrics (specs/retrieval.md; user guide in docs/retrieval.md)."""

from mstk.retrieval.bm25 import Bm25, Hits
from mstk.retrieval.dense import Dense, open_index
from mstk.retrieval.fusion import fuse_hits, fuse_linear, fuse_rrf
from mstk.retrieval.groups import bm25_score_groups
from mstk.retrieval.metrics import evaluate, read_qrels, read_trec_run, write_trec_run
from mstk.retrieval.tree import tree_retrieve

__all__ = ["Bm25", "Dense", "Hits", "bm25_score_groups", "evaluate", "fuse_hits", "fuse_linear", "fuse_rrf", "open_index",
           "read_qrels", "read_trec_run", "tree_retrieve", "write_trec_run"]
