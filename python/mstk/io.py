"""JSONL input and output with the conventions every mstk command shares (DESIGN §3).

Records are read as bytes and parsed with orjson; line numbers are 1-based and count
every physical line, blank ones included, so an error message points at the line a user
sees in an editor. Blank lines are not records and are skipped.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from typing import IO, Any, Iterator

import click
import orjson

from mstk.errors import InputError

STDIN_NAME = "<stdin>"


def open_input(path: str) -> tuple[IO[bytes], str]:
    """Open INPUT (``-`` = stdin) for binary reading; returns the stream and its display name.

    A terminal on stdin with no INPUT is a usage error rather than a silent hang.
    """
    if path == "-":
        if sys.stdin is None or sys.stdin.isatty():
            raise click.UsageError("no INPUT file given and stdin is a terminal: pass a file, or pipe JSONL into the command")
        return sys.stdin.buffer, STDIN_NAME
    try:
        return open(path, "rb"), path
    except OSError as exc:
        raise click.BadParameter(f"cannot open {path!r}: {exc.strerror}", param_hint="INPUT") from None


def open_output(path: str, input_path: str = "-") -> IO[bytes]:
    """Open OUTPUT for binary writing; writing over the INPUT file is a usage error (it would
    be truncated before it is read)."""
    if path == "-":
        return sys.stdout.buffer
    if input_path != "-" and os.path.exists(path) and os.path.samefile(path, input_path):
        raise click.BadParameter(f"{path!r} is also the input file; write to another file", param_hint="'-o' / '--output'")
    try:
        return open(path, "wb")
    except OSError as exc:
        raise click.BadParameter(f"cannot write {path!r}: {exc.strerror}", param_hint="'-o' / '--output'") from None


@dataclass
class ErrorPolicy:
    """What happens to a bad input line: ``fail`` stops with ``Error: FILE:LINE: …``;
    ``skip`` reports ``FILE:LINE: reason`` (stderr or ``--errors FILE``) and goes on, and
    the command exits 1 at the end. Either way no line disappears without a word."""

    source: str
    mode: str = "fail"
    errors_path: str | None = None
    skipped: list[tuple[int, str]] = field(default_factory=list)
    _sink: IO[str] | None = None

    def __post_init__(self) -> None:
        # Open (and truncate) the report now: a stale report from an earlier run must not
        # survive a clean one, and an unwritable path is a usage error before any work.
        if self.errors_path is None:
            return
        if self.mode != "skip":
            raise click.BadParameter("only makes sense with --on-error skip", param_hint="'--errors'")
        try:
            self._sink = open(self.errors_path, "w", encoding="utf-8")
        except OSError as exc:
            raise click.BadParameter(f"cannot write {self.errors_path!r}: {exc.strerror}", param_hint="'--errors'") from None

    def bad(self, line: int | None, reason: str) -> None:
        if self.mode == "fail":
            raise InputError(self.source, line, reason)
        self.skipped.append((line or 0, reason))
        if self._sink is None:
            self._sink = sys.stderr
        where = f"{self.source}:{line}" if line is not None else self.source
        self._sink.write(f"skipped {where}: {reason}\n")

    def close(self) -> None:
        if self._sink is not None and self._sink is not sys.stderr:
            self._sink.close()

    @property
    def exit_code(self) -> int:
        return 1 if self.skipped else 0


def iter_block_spans(stream: IO[bytes], block_bytes: int = 1 << 24) -> Iterator[tuple[bytes, int, int]]:
    """Yield ``(data, start, end)``: ``data[start:end]`` is a block of whole lines (the last
    block may lack its final newline), in input order.

    Reading big chunks and cutting at newlines is much faster than reading line by line.
    A chunk is handed on with the range of its whole lines rather than sliced: a slice of
    every chunk cost a quarter of a second per 250 MB (a copy, onto fresh pages). The line
    split across two chunks comes as its own small block."""
    carry = b""
    while True:
        chunk = stream.read(block_bytes)
        if not chunk:
            break
        start = 0
        if carry:
            first = chunk.find(b"\n")
            if first < 0:
                carry += chunk
                continue
            stitched = carry + chunk[: first + 1]
            yield stitched, 0, len(stitched)
            start = first + 1
        cut = chunk.rfind(b"\n")
        if cut + 1 > start:
            yield chunk, start, cut + 1
        carry = chunk[max(cut + 1, start):]
    if carry:
        yield carry, 0, len(carry)


def iter_blocks(stream: IO[bytes], block_bytes: int = 1 << 24) -> Iterator[bytes]:
    """Yield blocks of whole lines (the last may lack its newline) as ``bytes``."""
    for data, start, end in iter_block_spans(stream, block_bytes):
        yield data if start == 0 and end == len(data) else data[start:end]


def prefetched(items: Iterator[Any]) -> Iterator[Any]:
    """Yield from ``items`` while a background thread already fetches the next one.

    For block readers: the read overlaps the (GIL-free) Rust work on the current block."""
    from concurrent.futures import ThreadPoolExecutor

    done = object()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="mstk-read") as pool:
        future = pool.submit(next, items, done)
        while True:
            item = future.result()
            if item is done:
                return
            future = pool.submit(next, items, done)
            yield item


def iter_line_blocks(stream: IO[bytes], block_bytes: int = 1 << 24) -> Iterator[tuple[int, bytes]]:
    """Like ``iter_blocks``, with the number of each block's first line."""
    next_line = 1
    for block in iter_blocks(stream, block_bytes):
        yield next_line, block
        next_line += block.count(b"\n")


def iter_records(stream: IO[bytes], policy: ErrorPolicy, batch_size: int = 4096) -> Iterator[list[tuple[int, dict[str, Any]]]]:
    """Parse JSON objects line by line; yield batches of (line number, record)."""
    batch: list[tuple[int, dict[str, Any]]] = []
    for first, block in iter_line_blocks(stream):
        for offset, raw in enumerate(block.split(b"\n")):
            if not raw.strip():
                continue
            line = first + offset
            try:
                record = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                policy.bad(line, f"invalid JSON: {exc}")
                continue
            if not isinstance(record, dict):
                policy.bad(line, f"expected a JSON object, got {type(record).__name__}")
                continue
            batch.append((line, record))
            if len(batch) >= batch_size:
                yield batch
                batch = []
    if batch:
        yield batch


def iter_jsonl_file(path: str) -> Iterator[tuple[int, Any]]:
    """(line number, parsed value) for each non-blank line of a side file (providers,
    user scores, …); invalid JSON is an InputError naming the file and line."""
    with open(path, "rb") as f:
        for line_no, raw in enumerate(f, start=1):
            if not raw.strip():
                continue
            try:
                yield line_no, orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                raise InputError(path, line_no, f"invalid JSON: {exc}") from None


def dumps_records(records: list[dict[str, Any]]) -> bytes:
    return b"".join(orjson.dumps(r, option=orjson.OPT_APPEND_NEWLINE) for r in records)


def emit_summary(summary: dict[str, Any]) -> None:
    """One JSON line on stderr: stdout carries only records."""
    sys.stderr.write(orjson.dumps(summary).decode() + "\n")
    sys.stderr.flush()


class Stopwatch:
    def __init__(self) -> None:
        self.start = time.perf_counter()

    @property
    def seconds(self) -> float:
        return round(time.perf_counter() - self.start, 4)
