"""Re-ranking: the method API, the host's methods and the engine behind ``mstk rerank``.

Plugin authors subclass ``Reranker`` and register it through ``register_rerankers``;
``mstk.rerank.kernels`` gives them the Rust selection kernels."""

from mstk.rerank.api import Param, RerankBatch, RerankContext, RerankResult, Reranker
from mstk.rerank.run import run_rerank

__all__ = ["Param", "RerankBatch", "RerankContext", "RerankResult", "Reranker", "run_rerank"]
