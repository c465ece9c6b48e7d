"""BankFair (arXiv:2405.16120): minimum provider exposure under fluctuating traffic."""

from __future__ import annotations

import math
from typing import Any

from mstk.errors import ParameterError
from mstk.rerank import Param, RerankBatch, RerankContext, RerankResult, Reranker
from mstk.rerank import kernels

from mstk_bankfair.checks import non_negative, positive, unit_interval, unit_interval_open_low


def claim_multiplier(value: float) -> None:
    # claim_mult ≥ 2 makes E ≤ D/2 and asks low-traffic intervals for more than their share
    if not 1 < value < 2:
        raise ParameterError(f"parameter 'claim_mult' must lie in (1, 2), got {value}")


class BankFair(Reranker):
    """BankFair: Talmud-allocated minimum exposure per interval, served by an online dual loop."""

    name = "bankfair"
    kind = "online"
    priority = "P0"
    fidelity = (
        "BankFair (arXiv:2405.16120): Module 1 and the dual loop follow the official code; "
        "default variant=consistent fixes its unit mismatch, variant=official reproduces it; "
        "the paper's GRU forecaster is replaced by --forecast oracle|last|mean|ewma"
    )
    params = (
        Param("variant", str, "consistent", "consistent units, or the official code's (reproduction only)",
              choices=("consistent", "official"), official="official"),
        Param("lr", float, 0.01, "official variant: learning rate; step = √|I|/(2·lr), |I| = distinct items",
              official=0.01, validate=positive("lr")),
        Param("theta", float, 0.25, "bound c of the boost −μ_p (or its scale with penalty=size)", official=0.25,
              validate=non_negative("theta")),
        Param("penalty", str, "uniform", "c_p = θ (uniform) or larger for small providers (size)", choices=("uniform", "size"),
              official="uniform"),
        Param("penalty_mix", float, 0.4, "mix of the size term in c_p", validate=unit_interval("penalty_mix")),
        Param("step", float, 1.0, "dual step size", validate=positive("step")),
        Param("gamma", float, 0.2, "weight of the newest gradient in the momentum average", official=0.2,
              validate=unit_interval_open_low("gamma")),
        Param("caps", str, "off", "per-interval caps ρ_p·r_n·K (share) or none (off)", choices=("off", "share"), official="share"),
        Param("cap_mix", float, 0.4, "mix of the equal term in ρ_p", validate=unit_interval("cap_mix")),
        Param("reset", str, "interval", "reset the duals every interval or never", choices=("interval", "never")),
        Param("allocation", str, "talmud", "Module 1 rule: talmud, proportional (Prop) or equal (Naive)",
              choices=("talmud", "proportional", "equal")),
        Param("window", int, 3, "forecast window W of Module 1, in intervals", validate=positive("window")),
        Param("claim_mult", float, 1.1, "claims = claim_mult·ω over the window", validate=claim_multiplier),
    )

    # variant=official changes these defaults to the official code's (unless given)
    OFFICIAL_DEFAULTS = {"penalty": "size", "caps": "share"}

    @classmethod
    def resolve_params(cls, given: dict[str, Any]) -> dict[str, Any]:
        params = super().resolve_params(given)
        if params["variant"] == "official":
            params.update({name: value for name, value in cls.OFFICIAL_DEFAULTS.items() if name not in given})
        return params

    def run(self, batch: RerankBatch, ctx: RerankContext, params: dict[str, Any], state: bytes | None = None) -> RerankResult:
        return kernels.run_bankfair(batch, ctx, self.core_params(batch, params), state=state)

    @classmethod
    def resume_mode(cls, params: dict[str, Any]) -> str | None:
        return "state"  # estates, μ and momentum carry over (kernels.run_bankfair)

    @staticmethod
    def core_params(batch: RerankBatch, params: dict[str, Any]) -> dict[str, Any]:
        core = {name: value for name, value in params.items() if name != "lr"}
        if params["variant"] == "official":
            # the official step, through its units: √|I|/(2·lr) with |I| the distinct items
            core["step"] = math.sqrt(len(batch.item_names)) / (2 * params["lr"])
        return core


def v_ref_value(value: str) -> None:
    if value == "auto":
        return
    try:
        number = float(value)
    except ValueError:
        raise ParameterError(f"parameter 'v_ref' must be 'auto' or a number >= 0, got {value!r}") from None
    if not number >= 0:
        raise ParameterError(f"parameter 'v_ref' must be 'auto' or a number >= 0, got {value!r}")


class BankFairPlus(BankFair):
    """BankFair+: BankFair's floors and duals with regret-aware user satisfaction and a provider-variance goal."""

    name = "bankfair_plus"
    fidelity = (
        "BankFair+ (arXiv:2504.14550): regret function and goals from the paper; fuzzy objective "
        "and online solver are an mstk reconstruction (the method section was not available)"
    )
    params = BankFair.params + (
        Param("delta", float, 1.0, "regret aversion δ of Z(q̃) = q̃^α + 1 − e^{δ(1−q̃)}", validate=non_negative("delta")),
        Param("lambda", float, 0.0, "weight of the provider-variance goal", validate=non_negative("lambda")),
        Param("alpha", float, 1.0, "curvature α of the gain part of Z", official=1.0, validate=unit_interval_open_low("alpha")),
        Param("fp_iters", int, 5, "fixed-point iterations of the per-request solver", validate=positive("fp_iters")),
        Param("solver", str, "fixedpoint", "fixedpoint, or exhaustive (≤ 12 candidates, K ≤ 4: for checks)",
              choices=("fixedpoint", "exhaustive")),
        Param("v_ref", str, "auto", "provider-variance scale: 'auto' (top-K on the same stream) or a number",
              validate=v_ref_value),
    )

    def run(self, batch: RerankBatch, ctx: RerankContext, params: dict[str, Any], state: bytes | None = None) -> RerankResult:
        return kernels.run_bankfair(batch, ctx, self.core_params(batch, params), plus=True, state=state)
