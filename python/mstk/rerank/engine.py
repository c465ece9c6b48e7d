"""From JSONL request bytes to JSONL result bytes: the pipeline behind ``mstk rerank``.

Parsing and writing happen in the Rust core (a request carries hundreds of candidates;
building Python objects for them would cost more than re-ranking). This module decides
intervals and processing order, builds the provider universe and calls the method.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson

from mstk import _core
from mstk.errors import InputError, ParameterError
from mstk.io import ErrorPolicy
from mstk.rerank.api import RerankBatch, RerankContext, RerankResult, Reranker

_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_interval_length(text: str) -> float:
    """'1d', '12h', '30m', '90s', '2w' → seconds."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", text)
    if not match or float(match.group(1)) <= 0:
        raise ParameterError(f"interval length must look like 1d, 12h, 30m, 90s or 2w; got {text!r}")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


@dataclass
class IntervalClock:
    """Assigns interval numbers: a record's own ``interval`` wins; otherwise
    n = ⌊ts/len⌋ − ⌊ts₀/len⌋ with ts₀ the first timestamp seen in the input (so block-wise
    streaming and whole-input processing agree). Records with neither field get interval 0
    only when no record in the input has either (plain candidate lists)."""

    length_seconds: float = 86400.0
    ts_per_second: float = 1.0
    origin: float | None = None
    saw_time: bool = False

    def assign(self, interval: np.ndarray, ts: np.ndarray, lines: np.ndarray, source: str) -> np.ndarray:
        missing = interval == _core.MISSING_INTERVAL
        has_ts = ~np.isnan(ts)
        if not missing.all() or has_ts.any():
            self.saw_time = True
        if not missing.any():
            return interval
        out = interval.copy()
        need = missing & ~has_ts
        if need.any() and self.saw_time:
            line = int(lines[np.argmax(need)])
            raise InputError(source, line, "request has neither 'interval' nor 'ts' while other requests do (give every request one of them)")
        if need.all():
            out[:] = 0
            return out
        length = self.length_seconds * self.ts_per_second
        use = missing & has_ts
        # ±2^53 intervals at most: beyond that numbers lose integer precision (and could
        # reach the missing-interval sentinel)
        too_far = use & ~(np.abs(ts) / length < 2.0**53)
        if too_far.any():
            line = int(lines[np.argmax(too_far)])
            raise InputError(source, line, f"'ts' {float(ts[np.argmax(too_far)])!r} is out of range for --interval")
        if self.origin is None:
            self.origin = float(ts[np.argmax(has_ts)])
        out[use] = (np.floor(ts[use] / length) - np.floor(self.origin / length)).astype(np.int64)
        return out


@dataclass
class ProviderTable:
    """Provider attributes from ``--providers FILE`` (JSONL: provider, n_items, weight, …)."""

    rows: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: str) -> "ProviderTable":
        rows: dict[str, dict[str, Any]] = {}
        with open(path, "rb") as f:
            for line_no, raw in enumerate(f, start=1):
                if not raw.strip():
                    continue
                try:
                    row = orjson.loads(raw)
                except orjson.JSONDecodeError as exc:
                    raise InputError(path, line_no, f"invalid JSON: {exc}") from None
                if not isinstance(row, dict) or not isinstance(row.get("provider"), str):
                    raise InputError(path, line_no, "each line needs a string field 'provider'")
                for key in ("weight", "n_items", "min_exposure", "deserved"):
                    value = row.get(key)
                    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value) or value < 0):
                        raise InputError(path, line_no, f"'{key}' must be a non-negative number, got {value!r}")
                if row.get("weight") == 0:
                    raise InputError(path, line_no, "'weight' must be positive")
                if row["provider"] in rows:
                    raise InputError(path, line_no, f"provider {row['provider']!r} is listed twice")
                rows[row["provider"]] = row
        return cls(rows)


@dataclass
class RerankJob:
    """One configured re-ranking run; call ``process`` on blocks of JSONL lines."""

    method: Reranker
    params: dict[str, Any]
    k: int = 10
    normalize: str = "minmax"
    keep_candidates: bool = False
    missing_provider: str = "error"
    providers: ProviderTable = field(default_factory=ProviderTable)
    clock: IntervalClock = field(default_factory=IntervalClock)
    threads: int | None = None
    seed: int = 0
    exposure: dict[str, float] = field(default_factory=dict)
    # non-blank input lines seen, good or bad: counted here, not derived from the output
    records_read: int = 0
    # per interval: Module 1's allocations M_{p,n} and deliveries, for methods that plan them
    allocations: list[dict[str, Any]] = field(default_factory=list)
    min_exposure: float | None = None
    beta: float = 0.9
    deserved: str = "equal"
    forecast: str = "oracle"
    traffic_history: np.ndarray | None = None

    def process(self, block: bytes, first_line: int, policy: ErrorPolicy) -> tuple[bytes, int, int]:
        """Re-rank the requests in ``block`` (whole lines, the first numbered ``first_line``).

        Returns (output bytes, number of records written, number of the next line)."""
        try:
            parsed, bad = _core.RequestBatch.parse(
                block, first_line, self.keep_candidates, self.missing_provider,
                "raise" if policy.mode == "fail" else "collect", self.threads,
            )
        except _core.RecordError as exc:
            line, reason = exc.args
            raise InputError(policy.source, int(line), reason) from None
        for line, reason in bad:
            policy.bad(int(line), reason)
        if parsed.n_requests == 0:
            self.records_read += len(bad)
            return b"", 0, parsed.next_line
        interval = self.clock.assign(parsed.interval, parsed.ts, parsed.line, policy.source)
        ts = parsed.ts
        ts_key = np.where(np.isnan(ts), np.inf, ts) if not np.isnan(ts).all() else np.zeros_like(ts)
        order = np.lexsort((ts_key, interval)).astype(np.int64)  # lexsort is stable
        offsets = parsed.offsets
        score = parsed.normalized_scores(self.normalize, self.threads)
        seen = parsed.provider_names
        seen_set = set(seen)
        batch = RerankBatch(
            offsets=offsets,
            provider=parsed.provider,
            score=score,
            interval=interval,
            order=order,
            provider_names=seen + [p for p in self.providers.rows if p not in seen_set],
            item_ids=parsed.item_ids,
        )
        ctx = self._context(batch)
        result = self.method.run(batch, ctx, self.params)
        self._check(result, batch)
        if result.dcg is None or result.idcg is None or result.exposure is None:
            fill_list_metrics(result, batch, ctx)
        for name, e in zip(batch.provider_names, result.exposure.tolist()):
            self.exposure[name] = self.exposure.get(name, 0.0) + e
        self._keep_allocations(result, batch)
        try:
            out = parsed.write_results(interval, score, result.sel_offsets, result.sel, result.dcg, result.idcg, self.threads)
        except _core.RecordError as exc:
            line, reason = exc.args
            raise InputError(policy.source, int(line), reason) from None
        self.records_read += parsed.n_requests + len(bad)
        return out, parsed.n_requests, parsed.next_line

    def _context(self, batch: RerankBatch) -> RerankContext:
        weight = np.ones(batch.n_providers)
        n_items_given: dict[int, float] = {}
        min_exposure_given: dict[int, float] = {}
        for p, name in enumerate(batch.provider_names):
            row = self.providers.rows.get(name)
            if row:
                weight[p] = row.get("weight", 1.0)
                if row.get("n_items") is not None:
                    n_items_given[p] = float(row["n_items"])
                if row.get("min_exposure") is not None:
                    min_exposure_given[p] = float(row["min_exposure"])
        return RerankContext(
            k=self.k, weight=weight, threads=self.threads, seed=self.seed, n_items_given=n_items_given, batch=batch,
            min_exposure_given=min_exposure_given, min_exposure_default=self.min_exposure, beta=self.beta,
            deserved=self.deserved, forecast=self.forecast, traffic_history=self.traffic_history,
        )

    def _keep_allocations(self, result: RerankResult, batch: RerankBatch) -> None:
        allocated, delivered = result.extra.get("allocated"), result.extra.get("delivered")
        if allocated is None or delivered is None:
            return
        first = int(batch.interval.min()) if batch.n_requests else 0
        names = batch.provider_names
        for n, (a_row, d_row) in enumerate(zip(allocated.tolist(), delivered.tolist())):
            self.allocations.append({
                "interval": first + n,
                "allocated": {p: a for p, a in zip(names, a_row) if a},
                "delivered": {p: d for p, d in zip(names, d_row) if d},
            })

    def _check(self, result: RerankResult, batch: RerankBatch) -> None:
        # A third-party method could return anything: catch shape errors here, with the
        # method's name, rather than deep in the writer.
        result.sel_offsets = np.ascontiguousarray(result.sel_offsets, dtype=np.int64)
        result.sel = np.ascontiguousarray(result.sel, dtype=np.int32)
        sizes = np.diff(batch.offsets)
        got = np.diff(result.sel_offsets)
        bad = (
            len(result.sel_offsets) != batch.n_requests + 1
            or result.sel_offsets[0] != 0
            or result.sel_offsets[-1] != len(result.sel)
            or (got > np.minimum(sizes, self.k)).any()
            or (got < 0).any()
        )
        if not bad and len(result.sel):
            request = np.repeat(np.arange(batch.n_requests), got)
            bad = bool((result.sel < 0).any() or (result.sel >= sizes[request]).any())
        if not bad and result.dcg is not None and len(result.dcg) != batch.n_requests:
            bad = True
        if bad:
            raise ParameterError(f"method {self.method.name!r} returned lists that do not fit its {batch.n_requests} requests")


def fill_list_metrics(result: RerankResult, batch: RerankBatch, ctx: RerankContext) -> None:
    """DCG of each list as displayed, the ideal DCG (top-K by score) and provider exposure."""
    counts = np.diff(result.sel_offsets)
    request = np.repeat(np.arange(batch.n_requests), counts)
    flat = batch.offsets[:-1][request] + result.sel
    slot = np.arange(len(result.sel)) - np.repeat(result.sel_offsets[:-1], counts)
    weight = 1.0 / np.log2(slot + 2.0)
    if result.dcg is None:
        # astype: bincount of an empty input is int64 even with float weights
        result.dcg = np.bincount(request, weights=batch.score[flat] * weight, minlength=batch.n_requests).astype(np.float64)
    if result.idcg is None:
        from mstk.rerank import kernels

        result.idcg = kernels.run_online(batch, ctx, "topk").idcg
    if result.exposure is None:
        result.exposure = np.bincount(batch.provider[flat], minlength=batch.n_providers).astype(np.float64)
