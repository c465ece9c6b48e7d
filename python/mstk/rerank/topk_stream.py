"""The streaming lane of ``mstk rerank --method topk``: each block of JSONL lines is
parsed, re-ranked and written by one call into the Rust core.

Top-K treats every request on its own, so the general pipeline (``mstk.rerank.engine``:
merged batch, numpy arrays, processing order, the method's ``run``) costs it time and
buys nothing. This lane gives the same bytes (tests/test_cli_rerank.py compares the two)
and imports no numpy. The CLI takes it for plain runs; state files, metrics and provider
or traffic tables go the general way.
"""

from __future__ import annotations

from mstk import _core
from mstk.errors import InputError
from mstk.io import ErrorPolicy


class TopKStreamJob:
    """``RerankJob``'s interface (``process``, ``exposure``, ``records_read``) for top-K."""

    def __init__(self, *, k: int, normalize: str, keep_candidates: bool, missing_provider: str,
                 on_error: str, interval_length: float, threads: int | None = None) -> None:
        # on_error: "fail" stops at the first bad line, "skip" reports them and goes on
        self._stream = _core.TopKStream(
            k, normalize, keep_candidates, missing_provider, "raise" if on_error == "fail" else "collect",
            interval_length,
        )
        self.threads = threads
        # non-blank input lines seen, good or bad
        self.records_read = 0

    def process(self, block: bytes, first_line: int, policy: ErrorPolicy,
                span: tuple[int, int] | None = None) -> tuple[bytes, int, int]:
        """Re-rank the requests in ``block`` (or ``block[start:end]`` for ``span``), whose
        first line is numbered ``first_line``; returns (output, records written, next line)."""
        try:
            out, n, next_line, bad = self._stream.process(block, first_line, self.threads, span)
        except _core.RecordError as exc:
            # lines skipped before the block failed are reported first, as the general path does
            for line, reason in getattr(exc, "bad_lines", ()):
                policy.bad(int(line), reason)
            line, reason = exc.args
            raise InputError(policy.source, int(line), reason) from None
        for line, reason in bad:
            policy.bad(int(line), reason)
        self.records_read += n + len(bad)
        return out, n, next_line

    @property
    def exposure(self) -> dict[str, float]:
        """Times each provider seen so far was shown."""
        return self._stream.exposure
