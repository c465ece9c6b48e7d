"""From JSONL request bytes to JSONL result bytes: the pipeline behind ``mstk rerank``.

Parsing and writing happen in the Rust core (a request carries hundreds of candidates;
building Python objects for them would cost more than re-ranking). This module decides
intervals and processing order, builds the provider universe and calls the method.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson

from mstk import _core
from mstk.errors import InputError, ParameterError
from mstk.io import ErrorPolicy, iter_jsonl_file
from mstk.rerank.api import RerankBatch, RerankContext, RerankResult, Reranker
from mstk.rerank.state import RunState


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
        for line_no, row in iter_jsonl_file(path):
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
    # --state-in / --state-out: the saved run this one continues (or None), and the state
    # after the blocks processed so far (None until the first block)
    state_in: RunState | None = None
    state_source: str = ""
    settings: dict[str, Any] = field(default_factory=dict)
    _interval_counts: dict[int, int] = field(default_factory=dict)
    _run_exposure: dict[str, float] = field(default_factory=dict)
    _method_state: Any = None

    def __post_init__(self) -> None:
        if self.state_in is not None and self.state_in.origin is not None and self.clock.origin is None:
            self.clock.origin = self.state_in.origin

    def process(self, block: bytes, first_line: int, policy: ErrorPolicy,
                span: tuple[int, int] | None = None) -> tuple[bytes, int, int]:
        """Re-rank the requests in ``block`` (whole lines, the first numbered ``first_line``),
        or in ``block[start:end]`` for ``span=(start, end)``, which saves the slice's copy.

        Returns (output bytes, number of records written, number of the next line)."""
        try:
            parsed, bad = _core.RequestBatch.parse(
                block, first_line, self.keep_candidates, self.missing_provider,
                "raise" if policy.mode == "fail" else "collect", self.threads, span,
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
        served = self.state_in.last_interval if self.state_in is not None else None
        if served is not None and (interval <= served).any():
            line = int(parsed.line[np.argmax(interval <= served)])
            raise InputError(policy.source, line, f"interval {int(interval[np.argmax(interval <= served)])} was already served by "
                             f"the run that wrote {self.state_source}; a continued run starts at interval {served + 1} or later")
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
        carried = self._method_state if self._method_state is not None else (self.state_in.method_state if self.state_in else None)
        result = self.method.run(batch, ctx, self.params, None if carried is None else orjson.dumps(carried))
        self._check(result, batch)
        if result.dcg is None or result.idcg is None or result.exposure is None:
            fill_list_metrics(result, batch, ctx)
        for name, e in zip(batch.provider_names, result.exposure.tolist()):
            self.exposure[name] = self.exposure.get(name, 0.0) + e
        self._keep_allocations(result, batch)
        self._advance_state(result, batch)
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
            deserved=self.deserved, forecast=self.forecast, traffic_history=self._history(),
            horizon_start=self.state_in.last_interval + 1 if self.state_in is not None and self.state_in.last_interval is not None else None,
        )

    def _history(self) -> np.ndarray | None:
        """Counts before this run's horizon: a saved run's traffic (which began with its own
        --traffic-history) wins over --traffic-history."""
        if self.state_in is not None and self.state_in.traffic:
            return np.asarray(self.state_in.traffic, dtype=np.float64)
        return self.traffic_history

    def _advance_state(self, result: RerankResult, batch: RerankBatch) -> None:
        """Accumulate what a later run needs: requests per interval, exposure per provider
        and the method's own state (see ``final_state``)."""
        if not batch.n_requests:
            return
        values, counts = np.unique(batch.interval, return_counts=True)
        for n, c in zip(values.tolist(), counts.tolist()):
            self._interval_counts[n] = self._interval_counts.get(n, 0) + c
        for name, e in zip(batch.provider_names, np.asarray(result.exposure, dtype=np.float64).tolist()):
            self._run_exposure[name] = self._run_exposure.get(name, 0.0) + e
        if result.state is not None:
            self._method_state = orjson.loads(result.state)

    def final_state(self) -> RunState:
        """The state a later run continues from (``--state-out``)."""
        before = self.state_in
        last = before.last_interval if before is not None else None
        if self._interval_counts:
            start = last + 1 if last is not None else min(self._interval_counts)
            last = max(self._interval_counts)
            new = [float(self._interval_counts.get(n, 0)) for n in range(start, last + 1)]
        else:
            new = []
        if before is not None:
            traffic = list(before.traffic)
        else:
            traffic = [] if self.traffic_history is None else np.asarray(self.traffic_history, dtype=np.float64).tolist()
        exposure = dict(before.exposure) if before is not None else {}
        for name, e in self._run_exposure.items():
            exposure[name] = exposure.get(name, 0.0) + e
        method_state = self._method_state if self._method_state is not None else (before.method_state if before else None)
        return RunState(settings=self.settings, origin=self.clock.origin, last_interval=last, traffic=traffic + new,
                        exposure=exposure, method_state=method_state)

    def _keep_allocations(self, result: RerankResult, batch: RerankBatch) -> None:
        allocated, delivered = result.extra.get("allocated"), result.extra.get("delivered")
        if allocated is None or delivered is None:
            return
        first = result.extra.get("horizon_start", int(batch.interval.min()) if batch.n_requests else 0)
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
