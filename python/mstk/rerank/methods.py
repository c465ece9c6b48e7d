"""Re-ranking methods the host owns (registered by ``mstk.default_plugins.rerankers``)."""

from __future__ import annotations

from typing import Any

from mstk.rerank import kernels
from mstk.rerank.api import RerankBatch, RerankContext, RerankResult, Reranker


class TopK(Reranker):
    """Top-K by base score: the accuracy reference that fair methods trade against."""

    name = "topk"
    kind = "online"
    priority = "P0"
    streaming = True
    fidelity = "exact: the K highest normalised scores, ties to the earlier candidate"

    def run(self, batch: RerankBatch, ctx: RerankContext, params: dict[str, Any], state: bytes | None = None) -> RerankResult:
        return kernels.run_online(batch, ctx, "topk")

    @classmethod
    def resume_mode(cls, params: dict[str, Any]) -> str | None:
        return "interval"  # no state: a later run only continues the clock and the totals
