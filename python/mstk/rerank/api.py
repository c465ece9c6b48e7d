"""The re-ranking plugin API: what a method receives and returns (specs/rerank.md)."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, ClassVar

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
    # Extra domain check on the parsed value (raise ParameterError); runs when parameters
    # are resolved, so a bad value is a usage error before any input is read.
    validate: Callable[[Any], None] | None = None

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
        if self.validate is not None:
            self.validate(parsed)
        return parsed

    def describe(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name, "type": self.type.__name__, "default": self.default, "help": self.help}
        if self.choices is not None:
            d["choices"] = list(self.choices)
        if self.official is not None:
            d["official"] = self.official
        return d


class RerankBatch:
    """Requests as flat arrays in **input** order, plus the processing order.

    Request t's candidates are ``offsets[t]:offsets[t+1]`` of ``provider``, ``score``
    (normalised) and ``item``. ``order`` lists request indices in processing order
    (interval, then timestamp; stable). ``provider_names`` maps provider ids to strings and
    is the universe P (providers-file entries included). ``item`` / ``item_names`` (dense
    ids in order of first appearance) are built on first access: most methods never need
    global item ids, and interning millions of them costs more than re-ranking."""

    def __init__(self, offsets, provider, score, interval, order, provider_names: list[str], item_ids) -> None:
        self.offsets = offsets  # int64[T+1]
        self.provider = provider  # int32[N]
        self.score = score  # float64[N]
        self.interval = interval  # int64[T]
        self.order = order  # int64[T]
        self.provider_names = provider_names
        self._item_ids = item_ids  # () -> (int32[N], list[str])

    @functools.cached_property
    def _items(self):
        return self._item_ids()

    @property
    def item(self) -> "np.ndarray":
        return self._items[0]

    @property
    def item_names(self) -> list[str]:
        return self._items[1]

    @property
    def n_requests(self) -> int:
        return len(self.offsets) - 1

    @property
    def n_providers(self) -> int:
        return len(self.provider_names)


@dataclass
class RerankContext:
    """Everything but the requests: list length, provider attributes, execution knobs.

    ``n_items`` (providers file 'n_items', else distinct items counted in the input) is
    computed on first use: most methods never need it."""

    k: int
    weight: np.ndarray  # float64[P], > 0 (providers file 'weight', default 1)
    threads: int | None = None
    seed: int = 0
    n_items_given: dict[int, float] = field(default_factory=dict)
    batch: RerankBatch | None = None
    # Fairness targets (specs/rerank.md §4.1): m_p from the providers file, else
    # --min-exposure, else β·γ_p with γ_p = K·T·share_p; see mstk.rerank.targets.
    min_exposure_given: dict[int, float] = field(default_factory=dict)
    min_exposure_default: float | None = None
    beta: float = 0.9
    deserved: str = "equal"
    forecast: str = "oracle"
    # counts per interval before the stream (oldest first), read by last/mean/ewma forecasts
    traffic_history: np.ndarray | None = None
    # first interval of the horizon when a run continues a saved state (the interval after
    # the last one served); None = the first interval in the input
    horizon_start: int | None = None

    @functools.cached_property
    def n_items(self) -> np.ndarray:
        import numpy as np

        assert self.batch is not None
        n_prov = self.batch.n_providers
        counts = np.zeros(n_prov)
        if self.batch.item.size:
            n_item_ids = len(self.batch.item_names)
            pairs = np.unique(self.batch.provider.astype(np.int64) * n_item_ids + self.batch.item)
            counts += np.bincount(pairs // n_item_ids, minlength=n_prov)
        for p, value in self.n_items_given.items():
            counts[p] = value
        return counts


@dataclass
class RerankResult:
    """Lists in input order: request t shows candidates ``sel[sel_offsets[t]:sel_offsets[t+1]]``
    (positions within the request, display order). ``dcg``/``idcg`` (on normalised
    scores) and ``exposure`` (slots per provider over the stream) may be left out: the
    host then computes them from the lists, so a plugin only has to choose."""

    sel_offsets: np.ndarray
    sel: np.ndarray
    dcg: np.ndarray | None = None
    idcg: np.ndarray | None = None
    exposure: np.ndarray | None = None
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
    def resume_mode(cls, params: dict[str, Any]) -> str | None:
        """How ``--state-in/--state-out`` treat this method with these parameters:
        ``"interval"``: nothing carries past an interval boundary (batch methods reset
        there), so a later run continues at a later interval without method state;
        ``"state"``: ``run`` reads ``state`` and returns ``RerankResult.state`` (JSON
        bytes); ``None`` (the default): the method cannot continue a saved run."""
        return None

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
