"""Re-ranking: the method API, the host's methods and the engine behind ``mstk rerank``.

Plugin authors subclass ``Reranker`` and register it through ``register_rerankers``;
``mstk.rerank.kernels`` gives them the Rust selection kernels."""

from mstk.rerank.api import Param, RerankBatch, RerankContext, RerankResult, Reranker


def __getattr__(name: str):
    # run_rerank pulls in orjson and the IO layer; plugins import this package when they
    # load, so keep that off the `mstk --help` path.
    if name == "run_rerank":
        from mstk.rerank.run import run_rerank

        return run_rerank
    raise AttributeError(f"module 'mstk.rerank' has no attribute {name!r}")

__all__ = ["Param", "RerankBatch", "RerankContext", "RerankResult", "Reranker", "run_rerank"]
