"""mstk-bankfair: fair re-ranking methods for ``mstk rerank`` (specs/rerank.md)."""
