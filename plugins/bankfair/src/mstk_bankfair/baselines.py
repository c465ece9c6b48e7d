"""Online fairness baselines that BankFair and BankFair+ are compared with (specs/rerank.md §4.5)."""

from __future__ import annotations

from typing import Any

from mstk.errors import ParameterError
from mstk.rerank import Param, RerankBatch, RerankContext, RerankResult, Reranker
from mstk.rerank import kernels


def non_negative(name: str):
    def check(value: float) -> None:
        if value < 0:
            raise ParameterError(f"parameter {name!r} must be >= 0, got {value}")

    return check


def parse_batch(value: str) -> str | int:
    """'interval' (default), 'all', or a positive request count."""
    if value in ("interval", "all"):
        return value
    if value.isdigit() and int(value) > 0:
        return int(value)
    raise ParameterError(f"parameter 'batch' must be 'interval', 'all' or a positive integer; got {value!r}")


class MinRegularizer(Reranker):
    """Min-regularizer: penalise providers by how far their exposure runs ahead of the least-exposed one."""

    name = "min_regularizer"
    kind = "online"
    priority = "P0"
    fidelity = (
        "min-regularizer as in FairDiverse 1.0.0 (MIT): bonus_p = λ·(min_q B_q − B_p)/(w_p·T_b), "
        "B = exposure so far in the batch, T_b its request count; lists are re-sorted by score "
        "(FairDiverse keeps selection order: same exposure, different NDCG)"
    )
    params = (
        Param("lambda", float, 30.0, "strength of the exposure regulariser (0 = top-K)", official=30.0,
              validate=non_negative("lambda")),
        Param("batch", str, "interval", "exposure resets per batch: 'interval', 'all' or a request count",
              validate=parse_batch),
    )

    def run(self, batch: RerankBatch, ctx: RerankContext, params: dict[str, Any], state: bytes | None = None) -> RerankResult:
        core_params = {"lambda": params["lambda"], "batch": parse_batch(params["batch"])}
        return kernels.run_online(batch, ctx, "min_regularizer", core_params)
