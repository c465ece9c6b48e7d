"""``run_rerank``: the records → records function behind the CLI, for library use and
for distributed engines (e.g. Ray Data ``map_batches`` over independent streams)."""

from __future__ import annotations

from typing import Any, Iterable

import orjson

from mstk.io import ErrorPolicy, dumps_records
from mstk.rerank.api import Reranker


def run_rerank(
    records: Iterable[dict[str, Any]],
    method: str | type[Reranker] = "topk",
    k: int = 10,
    params: dict[str, Any] | None = None,
    **options: Any,
) -> list[dict[str, Any]]:
    """Re-rank request records (specs/rerank.md format) and return the result records.

    ``options`` are those of ``RerankJob`` (normalize, keep_candidates, missing_provider,
    providers, clock, threads, seed). A bad record raises ``mstk.errors.InputError``
    whose line is the record's 1-based position."""
    from mstk.rerank.engine import RerankJob

    if isinstance(method, str):
        from mstk.plugins import get_plugin_manager, rerankers

        available = rerankers(get_plugin_manager())
        if method not in available:
            raise KeyError(f"unknown re-ranking method {method!r}; available: {', '.join(sorted(available))}")
        method = available[method]
    job = RerankJob(method=method(), params=method.resolve_params(params or {}), k=k, **options)
    out, _, _ = job.process(dumps_records(list(records)), 1, ErrorPolicy(source="<records>"))
    return [orjson.loads(line) for line in out.splitlines()]
