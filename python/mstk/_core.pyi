# Hand-written stub of the private Rust extension (checked by `python -m mypy.stubtest mstk._core`).
# Plugins must not import mstk._core: use mstk.rerank.kernels and friends.

from typing import Any, Sequence, final

import numpy as np
import numpy.typing as npt

__all__ = [
    "bm25_score_groups",
    "DenseIndex",
    "IndexCorruptError",
    "IndexVersionError",
    "tokenize",
    "xxh3_64",
    "fuse",
    "Bm25Index",
    "UNICODE_VERSION",
    "WordList",
    "ErrorModel",
    "QeRng",
    "keyboard_model",
    "visual_model",
    "spelling_rules_model",
    "spelling_dict_model",
    "table_model",
    "qe_rank_hash",
    "scan_words",
    "inject_jsonl",
    "inject_texts",
    "distinct_words_jsonl",
    "distinct_words",
    "parse_jsonl_records",
    "splice_jsonl",
    "CoreError",
    "allocate",
    "gini",
    "MISSING_INTERVAL",
    "ParameterError",
    "RecordError",
    "RequestBatch",
    "ShapeError",
    "TopKStream",
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
    mu0: npt.NDArray[np.float64] | None = None,
    g_cum0: npt.NDArray[np.float64] | None = None,
) -> dict[str, npt.NDArray[np.generic]]: ...

@final
class TopKStream:
    def __new__(
        cls,
        k: int,
        normalize: str = "minmax",
        keep_candidates: bool = False,
        missing_provider: str = "error",
        on_error: str = "raise",
        interval_length: float = 86400.0,
    ) -> TopKStream: ...
    def process(
        self, data: bytes, first_line: int = 1, threads: int | None = None, span: tuple[int, int] | None = None
    ) -> tuple[bytes, int, int, list[tuple[int, str]]]: ...
    @property
    def exposure(self) -> dict[str, float]: ...

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
        span: tuple[int, int] | None = None,
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

# ----------------------------------------------------------------- query entry errors

UNICODE_VERSION: str

@final
class WordList:
    """A lowercase real-word list."""

    @staticmethod
    def from_json_keys(data: bytes) -> WordList: ...
    @staticmethod
    def from_lines(text: str) -> WordList: ...
    @staticmethod
    def from_words(words: list[str]) -> WordList: ...
    def __len__(self) -> int: ...
    def __contains__(self, word: str, /) -> bool: ...

@final
class ErrorModel:
    """One error type as the kernel runs it."""

    def eligible(self, word: str) -> bool: ...
    def corrupt(self, word: str, seed: int, key: str, type_name: str, start: int) -> str: ...
    def candidates(self, word: str) -> list[str]: ...

@final
class QeRng:
    def __new__(cls, parts: list[str]) -> QeRng: ...
    @staticmethod
    def from_state(state: Sequence[int]) -> QeRng: ...
    def next_u64(self) -> int: ...
    def uniform(self, n: int) -> int: ...

def keyboard_model(table: list[tuple[str, list[str]]] | None = None, chars_per_word: float = 1.0) -> ErrorModel: ...
def visual_model(rules: list[tuple[str, str]] | None = None) -> ErrorModel: ...
def spelling_rules_model(words: WordList) -> ErrorModel: ...
def spelling_dict_model(text: str, words: WordList) -> tuple[ErrorModel, tuple[int, int, int]]: ...
def table_model(entries: list[tuple[str, list[str]]]) -> ErrorModel: ...
def qe_rank_hash(parts: list[str]) -> int: ...
def scan_words(text: str, min_word_len: int = 3, protect_stopwords: bool = True) -> list[tuple[int, int]]: ...
def inject_jsonl(
    data: bytes,
    types: list[str],
    models: list[ErrorModel],
    *,
    rate_ppm: int,
    unit: str = "query",
    seed: int = 0,
    words_per_query: int = 1,
    min_word_len: int = 3,
    protect_stopwords: bool = True,
    field: str = "question",
    id_field: str = "id",
    annotate: bool = True,
    annotate_key: str = "qe",
    skip_errors: bool = False,
    threads: int | None = None,
) -> tuple[bytes, dict[str, Any]]: ...
def inject_texts(
    keys: list[str],
    texts: list[str | None],
    types: list[str],
    models: list[ErrorModel],
    *,
    rate_ppm: int,
    unit: str = "query",
    seed: int = 0,
    words_per_query: int = 1,
    min_word_len: int = 3,
    protect_stopwords: bool = True,
    threads: int | None = None,
) -> tuple[list[tuple[str, int, list[tuple[int, int, str, str]]] | None], dict[str, Any]]: ...
def distinct_words_jsonl(data: bytes, *, field: str = "question", min_word_len: int = 3, protect_stopwords: bool = True) -> list[str]: ...
def distinct_words(texts: list[str], *, min_word_len: int = 3, protect_stopwords: bool = True) -> list[str]: ...
def parse_jsonl_records(
    data: bytes,
    *,
    field: str = "question",
    id_field: str = "id",
    annotate: bool = True,
    annotate_key: str = "qe",
    skip_errors: bool = False,
) -> tuple[list[str], list[str | None], list[int], str, list[tuple[int, str]]]: ...
def splice_jsonl(
    data: bytes,
    replacements: list[tuple[str, bytes] | None],
    *,
    field: str = "question",
    id_field: str = "id",
    annotate: bool = True,
    annotate_key: str = "qe",
    skip_errors: bool = False,
) -> bytes: ...

# ------------------------------------------------------------------------- retrieval

class IndexCorruptError(CoreError): ...
class IndexVersionError(CoreError): ...

def tokenize(
    texts: list[str],
    tokenizer: str = "word",
    *,
    stopwords: list[str] | None = None,
    stemmer: bool | None = None,
    normalize: str = "none",
) -> list[list[str]]: ...
def xxh3_64(data: bytes) -> int: ...

_Hits = tuple[npt.NDArray[np.int32], npt.NDArray[np.float32], npt.NDArray[np.int32]]

def fuse(
    runs: Sequence[_Hits],
    weights: Sequence[float],
    k: int,
    *,
    fusion: str = "rrf",
    rrf_k: float = 60.0,
    norm: str = "minmax",
    threads: int | None = None,
) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.float64], npt.NDArray[np.int32]]: ...

@final
class Bm25Index:
    @staticmethod
    def build(
        texts: list[str],
        ids: list[str],
        *,
        tokenizer: str = "word",
        stopwords: list[str] | None = None,
        stemmer: bool | None = None,
        normalize: str = "none",
        variant: str = "lucene",
        k1: float | None = None,
        b: float | None = None,
        delta: float | None = None,
        epsilon: float | None = None,
        lucene_norms: bool = False,
        store_contents: bool = False,
        threads: int | None = None,
    ) -> Bm25Index: ...
    @staticmethod
    def build_pretokenized(
        tokens: list[list[str]],
        ids: list[str],
        *,
        tokenizer: str = "whitespace",
        variant: str = "lucene",
        k1: float | None = None,
        b: float | None = None,
        delta: float | None = None,
        epsilon: float | None = None,
        lucene_norms: bool = False,
        threads: int | None = None,
    ) -> Bm25Index: ...
    @staticmethod
    def from_bytes(data: bytes, verify: bool = True) -> Bm25Index: ...
    def to_bytes(self) -> bytes: ...
    def meta(self) -> str: ...
    @property
    def n_docs(self) -> int: ...
    def doc_ids(self) -> list[str]: ...
    def doc_id(self, i: int) -> str | None: ...
    def content(self, i: int) -> str | None: ...
    @property
    def has_contents(self) -> bool: ...
    def search(self, queries: list[str], k: int = 10, threads: int | None = None) -> _Hits: ...
    def search_tokens(self, queries: list[list[str]], k: int = 10, threads: int | None = None) -> _Hits: ...
    def topk_groups(
        self,
        queries: list[str],
        group_query: list[int],
        cand: list[int],
        cand_off: list[int],
        k: int = 10,
        threads: int | None = None,
    ) -> _Hits: ...
    def scores(self, query: str | list[str]) -> npt.NDArray[np.float32]: ...

@final
class DenseIndex:
    @staticmethod
    def build(
        vectors: npt.NDArray[np.float32],
        ids: list[str],
        *,
        metric: str = "ip",
        contents: list[str] | None = None,
        encoder_json: str = "null",
        dtype: str = "f32",
    ) -> DenseIndex: ...
    @staticmethod
    def from_bytes(data: bytes, verify: bool = True) -> DenseIndex: ...
    def to_bytes(self) -> bytes: ...
    def meta(self) -> str: ...
    @property
    def n_docs(self) -> int: ...
    @property
    def dim(self) -> int: ...
    def doc_ids(self) -> list[str]: ...
    def doc_id(self, i: int) -> str | None: ...
    def content(self, i: int) -> str | None: ...
    @property
    def has_contents(self) -> bool: ...
    def topk_groups(
        self,
        queries: npt.NDArray[np.float32],
        group_query: list[int],
        cand: list[int],
        cand_off: list[int],
        k: int = 10,
        threads: int | None = None,
    ) -> _Hits: ...
    def search(self, queries: npt.NDArray[np.float32], k: int = 10, threads: int | None = None) -> _Hits: ...
def bm25_score_groups(
    docs: list[list[str]],
    group_off: list[int],
    queries: list[list[str]],
    *,
    variant: str = "okapi",
    k1: float | None = None,
    b: float | None = None,
    delta: float | None = None,
    epsilon: float | None = None,
    threads: int | None = None,
) -> npt.NDArray[np.float32]: ...
