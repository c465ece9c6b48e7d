# Hand-written stub of the private Rust extension (checked by `python -m mypy.stubtest mstk._core`).
# Plugins must not import mstk._core: use mstk.rerank.kernels and friends.

from typing import final

import numpy as np
import numpy.typing as npt

__all__ = [
    "CoreError",
    "allocate",
    "gini",
    "MISSING_INTERVAL",
    "ParameterError",
    "RecordError",
    "RequestBatch",
    "ShapeError",
    "__version__",
    "normalize_scores",
    "run_bankfair",
    "run_online",
    "topk_priced",
]

__version__: str
MISSING_INTERVAL: int

class CoreError(ValueError): ...
class RecordError(CoreError): ...
class ShapeError(CoreError): ...
class ParameterError(CoreError): ...

def topk_priced(
    scores: npt.NDArray[np.float64],
    providers: npt.NDArray[np.int32],
    k: int,
    price: npt.NDArray[np.float64] | None = None,
    w: float = 1.0,
    blocked: npt.NDArray[np.bool_] | None = None,
) -> npt.NDArray[np.int32]: ...
def allocate(rule: str, estate: float, claims: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]: ...
def gini(exposure: npt.NDArray[np.float64]) -> float: ...
def normalize_scores(
    offsets: npt.NDArray[np.int64], scores: npt.NDArray[np.float64], mode: str
) -> npt.NDArray[np.float64]: ...
def run_online(
    offsets: npt.NDArray[np.int64],
    scores: npt.NDArray[np.float64],
    providers: npt.NDArray[np.int32],
    n_providers: int,
    order: npt.NDArray[np.int64],
    interval: npt.NDArray[np.int64],
    weight: npt.NDArray[np.float64],
    k: int,
    method: str,
    params: dict[str, float | int | str] | None = None,
    threads: int | None = None,
) -> dict[str, npt.NDArray[np.generic]]: ...

def run_bankfair(
    offsets: npt.NDArray[np.int64],
    scores: npt.NDArray[np.float64],
    providers: npt.NDArray[np.int32],
    n_providers: int,
    order: npt.NDArray[np.int64],
    interval_index: npt.NDArray[np.int64],
    k: int,
    min_exposure: npt.NDArray[np.float64],
    n_items: npt.NDArray[np.float64],
    share: npt.NDArray[np.float64],
    traffic: npt.NDArray[np.float64],
    forecast: npt.NDArray[np.float64],
    params: dict[str, float | int | str] | None = None,
    threads: int | None = None,
    plus: bool = False,
    gamma: npt.NDArray[np.float64] | None = None,
    v_ref: float = 0.0,
) -> dict[str, npt.NDArray[np.generic]]: ...

@final
class RequestBatch:
    @staticmethod
    def parse(
        data: bytes,
        first_line: int = 1,
        keep_candidates: bool = False,
        missing_provider: str = "error",
        on_error: str = "raise",
        threads: int | None = None,
    ) -> tuple[RequestBatch, list[tuple[int, str]]]: ...
    @property
    def next_line(self) -> int: ...
    @property
    def n_requests(self) -> int: ...
    @property
    def line(self) -> npt.NDArray[np.uint64]: ...
    @property
    def offsets(self) -> npt.NDArray[np.int64]: ...
    @property
    def score(self) -> npt.NDArray[np.float64]: ...
    @property
    def provider(self) -> npt.NDArray[np.int32]: ...
    @property
    def interval(self) -> npt.NDArray[np.int64]: ...
    @property
    def ts(self) -> npt.NDArray[np.float64]: ...
    def item_ids(self) -> tuple[npt.NDArray[np.int32], list[str]]: ...
    def normalized_scores(self, mode: str, threads: int | None = None) -> npt.NDArray[np.float64]: ...
    @property
    def provider_names(self) -> list[str]: ...
    def write_results(
        self,
        interval: npt.NDArray[np.int64],
        rec_score: npt.NDArray[np.float64],
        sel_offsets: npt.NDArray[np.int64],
        sel: npt.NDArray[np.int32],
        dcg: npt.NDArray[np.float64],
        idcg: npt.NDArray[np.float64],
        threads: int | None = None,
    ) -> bytes: ...
