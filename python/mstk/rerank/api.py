"""The re-ranking plugin API: what a method receives and returns (specs/rerank.md)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from mstk.errors import ParameterError

if TYPE_CHECKING:  # numpy stays off the `mstk --help` path
    import numpy as np


@dataclass(frozen=True)
class Param:
    """One method parameter, settable with ``-p NAME=VALUE`` or ``--config`` ``[params]``.

    ``official`` is the value of the paper's or reference code's default where it differs
    from ours; ``--list-methods`` shows both."""

    name: str
    type: type
    default: Any
    help: str
    choices: tuple[Any, ...] | None = None
    official: Any = None

    def parse(self, value: Any) -> Any:
        """Convert a command-line string (or TOML value) to this parameter's type."""
        try:
            if self.type is bool and isinstance(value, str):
                lowered = value.strip().lower()
                if lowered not in {"true", "false", "1", "0", "yes", "no"}:
                    raise ValueError(value)
                parsed: Any = lowered in {"true", "1", "yes"}
            elif self.type is int and isinstance(value, float):
                if not value.is_integer():
                    raise ValueError(value)
                parsed = int(value)
            else:
                parsed = self.type(value)
        except (TypeError, ValueError):
            raise ParameterError(f"parameter {self.name!r} expects {self.type.__name__}, got {value!r}") from None
        if self.type is float and not math.isfinite(parsed):
            raise ParameterError(f"parameter {self.name!r} must be finite, got {value!r}")
        if self.choices is not None and parsed not in self.choices:
            raise ParameterError(f"parameter {self.name!r} must be one of {', '.join(map(str, self.choices))}; got {value!r}")
        return parsed

    def describe(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name, "type": self.type.__name__, "default": self.default, "help": self.help}
        if self.choices is not None:
            d["choices"] = list(self.choices)
        if self.official is not None:
            d["official"] = self.official
        return d


@dataclass(frozen=True)
class RerankBatch:
    """Requests as flat arrays in **input** order, plus the processing order.

    Request t's candidates are ``offsets[t]:offsets[t+1]`` of ``item``, ``provider`` and
    ``score`` (normalised). ``order`` lists request indices in processing order
    (interval, then timestamp; stable). ``item_names`` / ``provider_names`` map ids to
    strings; the provider table is the universe P (file providers included)."""

    offsets: np.ndarray  # int64[T+1]
    item: np.ndarray  # int32[N]
    provider: np.ndarray  # int32[N]
    score: np.ndarray  # float64[N]
    interval: np.ndarray  # int64[T]
    order: np.ndarray  # int64[T]
    item_names: list[str]
    provider_names: list[str]

    @property
    def n_requests(self) -> int:
        return len(self.offsets) - 1

    @property
    def n_providers(self) -> int:
        return len(self.provider_names)


@dataclass(frozen=True)
class RerankContext:
    """Everything but the requests: list length, provider attributes, execution knobs."""

    k: int
    weight: np.ndarray  # float64[P], > 0 (providers file 'weight', default 1)
    n_items: np.ndarray  # float64[P] (providers file 'n_items', else counted in the input)
    threads: int | None = None
    seed: int = 0


@dataclass
class RerankResult:
    """Lists in input order: request t shows candidates ``sel[sel_offsets[t]:sel_offsets[t+1]]``
    (positions within the request, display order). ``dcg``/``idcg`` are on normalised
    scores; ``exposure`` is the per-provider total over the stream."""

    sel_offsets: np.ndarray
    sel: np.ndarray
    dcg: np.ndarray
    idcg: np.ndarray
    exposure: np.ndarray
    extra: dict[str, Any] = field(default_factory=dict)
    state: bytes | None = None


class Reranker:
    """Base class of a re-ranking method, registered through ``register_rerankers``.

    Subclasses set the class attributes and implement ``run``. ``streaming = True`` means
    each request is handled independently, so the CLI may process input block by block
    with bounded memory; online methods see the whole stream at once."""

    name: ClassVar[str]
    kind: ClassVar[str] = "online"  # or "offline"
    priority: ClassVar[str] = "P0"
    fidelity: ClassVar[str] = ""
    streaming: ClassVar[bool] = False
    params: ClassVar[tuple[Param, ...]] = ()

    def run(self, batch: RerankBatch, ctx: RerankContext, params: dict[str, Any], state: bytes | None = None) -> RerankResult:
        raise NotImplementedError

    @classmethod
    def summary(cls) -> str:
        return (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""

    @classmethod
    def describe(cls) -> dict[str, Any]:
        return {
            "name": cls.name,
            "kind": cls.kind,
            "priority": cls.priority,
            "streaming": cls.streaming,
            "summary": cls.summary(),
            "fidelity": cls.fidelity,
            "parameters": [p.describe() for p in cls.params],
        }

    @classmethod
    def resolve_params(cls, given: dict[str, Any]) -> dict[str, Any]:
        """Defaults overlaid with ``given``; an unknown name is a ParameterError listing the valid ones."""
        known = {p.name: p for p in cls.params}
        unknown = sorted(set(given) - set(known))
        if unknown:
            valid = ", ".join(sorted(known)) or "none"
            raise ParameterError(f"method {cls.name!r} has no parameter {unknown[0]!r} (valid: {valid})")
        return {name: (p.parse(given[name]) if name in given else p.default) for name, p in known.items()}
