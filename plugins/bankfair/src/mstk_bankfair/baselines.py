"""Online fairness baselines that BankFair and BankFair+ are compared with (specs/rerank.md §4.5)."""

from __future__ import annotations

from typing import Any

from mstk.errors import ParameterError
from mstk.rerank import Param, RerankBatch, RerankContext, RerankResult, Reranker
from mstk.rerank import kernels

from mstk_bankfair.checks import at_least_one, non_negative, positive, unit_interval_open_low


def parse_batch(value: str) -> str | int:
    """'interval' (default), 'all', or a positive request count."""
    if value in ("interval", "all"):
        return value
    if value.isdigit() and int(value) > 0:
        return int(value)
    raise ParameterError(f"parameter 'batch' must be 'interval', 'all' or a positive integer; got {value!r}")


BATCH_PARAM = Param(
    "batch", str, "interval", "exposure resets per batch: 'interval', 'all' or a request count", validate=parse_batch
)


class BatchedCountMethod(Reranker):
    """Shared run(): the online count-exposure baselines differ only in their core method
    name and parameters; exposure B is counted per batch (an interval by default)."""

    core_method: str = ""

    def run(self, batch: RerankBatch, ctx: RerankContext, params: dict[str, Any], state: bytes | None = None) -> RerankResult:
        core_params = {**params, "batch": parse_batch(params["batch"])}
        return kernels.run_online(batch, ctx, self.core_method, core_params)

    @classmethod
    def resume_mode(cls, params: dict[str, Any]) -> str | None:
        # per-interval batches reset at the boundary, so nothing carries into a later run;
        # a batch that spans intervals could be cut in half by the run boundary
        return "interval" if params.get("batch", "interval") == "interval" else None


class MinRegularizer(BatchedCountMethod):
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
        BATCH_PARAM,
    )
    core_method = "min_regularizer"


class CpFair(BatchedCountMethod):
    """CPFair (online variant): a bonus for providers with a small share of the batch's exposure."""

    name = "cpfair"
    kind = "online"
    priority = "P0"
    fidelity = (
        "CPFair as FairDiverse 1.0.0 (MIT) runs it online: bonus_p = λ·(1 − B_p/(Σ_q B_q + 1e-5)), "
        "B = exposure so far in the batch; not the original paper's MILP; lists re-sorted by score"
    )
    params = (
        Param("lambda", float, 1.0, "weight of the exposure bonus (0 = top-K)", official=1.0, validate=non_negative("lambda")),
        BATCH_PARAM,
    )
    core_method = "cpfair"


class KNeighbor(BatchedCountMethod):
    """k-neighbor: only the k least-exposed providers are eligible; the others only fill."""

    name = "k_neighbor"
    kind = "online"
    priority = "P0"
    fidelity = (
        "k-neighbor as in FairDiverse 1.0.0 (MIT): per request only the k providers with the least "
        "exposure so far in the batch (ties: first seen) are eligible, the others only fill the list"
    )
    params = (
        Param("k", int, 3, "number of eligible (least-exposed) providers per request", official=3, validate=at_least_one("k")),
        BATCH_PARAM,
    )
    core_method = "k_neighbor"


class Tfrom(Reranker):
    """TFROM: position-weighted exposure targets per request; fill slots within targets, then the best remaining."""

    name = "tfrom"
    kind = "online"
    priority = "P0"
    fidelity = (
        "TFROM as public reimplementations run it online (original code not found; cf. ReChorus "
        "rerankers): targets += W_K·share_p per request, slot by slot the best item within its "
        "provider's target, empty slots filled with the best remaining; exposure is w_k-weighted and "
        "lists keep their fill order (not re-sorted by score)"
    )
    params = (Param("share", str, "equal", "target share: equal, or proportional to n_items", choices=("equal", "items")),)

    def run(self, batch: RerankBatch, ctx: RerankContext, params: dict[str, Any], state: bytes | None = None) -> RerankResult:
        from mstk.rerank import targets

        import orjson

        from mstk.rerank.state import by_name, from_names

        share = targets.provider_share(batch, ctx, params["share"])
        core: dict[str, Any] = {"share": share.tolist()}
        if state:
            # targets and w_k-weighted exposure so far, from the saved run
            saved = orjson.loads(state)
            names = batch.provider_names
            core["target0"] = from_names(saved.get("target"), names).tolist()
            core["spent0"] = from_names(saved.get("spent"), names).tolist()
        result = kernels.run_online(batch, ctx, "tfrom", core)
        spent = result.exposure + (core["spent0"] if state else 0.0)
        carry = result.extra.get("carry", [0.0] * batch.n_providers)
        result.state = orjson.dumps({"target": by_name(carry, batch.provider_names),
                                     "spent": by_name(spent, batch.provider_names)})
        return result

    @classmethod
    def resume_mode(cls, params: dict[str, Any]) -> str | None:
        return "state"


class Pmmf(BatchedCountMethod):
    """P-MMF: max-min fair exposure by online mirror descent on provider duals, with per-batch caps."""

    name = "pmmf"
    kind = "online"
    priority = "P0"
    fidelity = (
        "P-MMF (official repo XuChen0427/P-MMF, FairDiverse PMMF.py): caps ρ_p·T_b·K with ρ = (1+1/|P|)·σ "
        "(σ = weight share), momentum dual step η/√T_b scaled by 1/ρ²; the projection onto the dual's "
        "feasible set is solved in closed form by mstk (checked against the QP) instead of cvxpy per request"
    )
    params = (
        Param("lambda", float, 0.1, "fairness weight λ of the max-min regulariser", official=0.1, validate=non_negative("lambda")),
        Param("eta", float, 1e-3, "dual learning rate η (step η/√T_b)", official=1e-3, validate=positive("eta")),
        Param("gamma", float, 0.1, "weight of the newest gradient in the momentum average", official=0.1,
              validate=unit_interval_open_low("gamma")),
        Param("batch", str, "256", "duals and caps reset per batch: 'interval', 'all' or a request count", official="256",
              validate=parse_batch),
    )
    core_method = "pmmf"

    def run(self, batch: RerankBatch, ctx: RerankContext, params: dict[str, Any], state: bytes | None = None) -> RerankResult:
        from mstk.rerank import targets

        share = targets.provider_share(batch, ctx, "weight")
        core = {**params, "batch": parse_batch(params["batch"]), "share": share.tolist()}
        return kernels.run_online(batch, ctx, "pmmf", core)


class FairRec(BatchedCountMethod):
    """FairRec: guarantee every producer ℓ copies by greedy round-robin, then fill lists by score."""

    name = "fairrec"
    kind = "offline"
    priority = "P0"
    fidelity = (
        "FairRec (Patro et al. WWW'20; FairDiverse 1.0.0): ℓ = ⌊α·T_b·K/n⌋ copies per producer in "
        "⌈ℓn/T_b⌉ greedy round-robin rounds, phase 1 stopping for all when one request finds no producer "
        "(as the original), phase 2 filling by score; an infeasible producer counts as −∞ (the original's "
        "product trick makes zero-score producers look infeasible); lists re-sorted by score"
    )
    params = (
        Param("alpha", float, 0.8, "share α of the fair allocation guaranteed to producers", official=0.8,
              validate=unit_interval_open_low("alpha")),
        Param("producers", str, "provider", "who gets the guarantee: provider, or item", choices=("provider", "item")),
        BATCH_PARAM,
    )
    core_method = "fairrec"

    def run(self, batch: RerankBatch, ctx: RerankContext, params: dict[str, Any], state: bytes | None = None) -> RerankResult:
        import numpy as np

        from mstk.rerank import RerankContext as Context
        from mstk.rerank.api import RerankBatch as Batch

        core = {"alpha": params["alpha"], "batch": parse_batch(params["batch"])}
        if params["producers"] == "provider":
            return kernels.run_online(batch, ctx, "fairrec", core)
        # items as producers: the same kernel over item ids; exposure is then per item, so the
        # host recomputes the per-provider exposure from the lists
        by_item = Batch(offsets=batch.offsets, provider=batch.item, score=batch.score, interval=batch.interval,
                        order=batch.order, provider_names=batch.item_names, item_ids=lambda: (batch.item, batch.item_names))
        result = kernels.run_online(by_item, Context(k=ctx.k, weight=np.ones(len(batch.item_names)), threads=ctx.threads), "fairrec", core)
        result.exposure = None
        return result
