"""The on-disk response cache: SQLite under ``MSTK_CACHE_DIR/generations/``.

Each answer is stored under the sha256 of the canonical JSON of what decides it (the
generator's namespace — back end, model, model hash — and the request's messages or
prompt, max_tokens, temperature, top_p, seed, stop and n; never the request id). Rows are
committed one by one as answers arrive, so a run that is interrupted, fails or is killed
keeps everything it finished and the next run sends only what is missing. WAL mode lets
several processes share one cache.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Mapping

import orjson

from mstk.generators.base import GeneratorError

CACHE_ENV = "MSTK_CACHE_DIR"
CACHE_FILE = "responses.sqlite3"
KEY_VERSION = 1  # bump when the canonical form changes: old rows then simply stop matching


def cache_root() -> Path:
    """``$MSTK_CACHE_DIR``, else ``$XDG_CACHE_HOME/mstk``, else ``~/.cache/mstk``."""
    configured = os.environ.get(CACHE_ENV)
    if configured:
        return Path(configured).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "mstk"


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no whitespace, UTF-8: the same bytes for the same value everywhere."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def request_key(operation: str, namespace: Mapping[str, Any], payload: Mapping[str, Any]) -> str:
    """sha256 hex of the canonical JSON of ``{v, op, namespace, request}``."""
    document = {"v": KEY_VERSION, "op": operation, "namespace": dict(namespace), "request": dict(payload)}
    return hashlib.sha256(canonical_json(document)).hexdigest()


class ResponseCache:
    """A key → JSON table in ``ROOT/generations/responses.sqlite3`` (ROOT: the argument,
    else ``cache_root()``), safe to use from several threads."""

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        base = (Path(root).expanduser() if root is not None else cache_root()) / "generations"
        self.path = base / CACHE_FILE
        self._lock = threading.Lock()
        try:
            base.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=30, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, operation TEXT NOT NULL, "
                "request TEXT NOT NULL, response TEXT NOT NULL, created REAL NOT NULL)"
            )
        except (OSError, sqlite3.Error) as exc:
            raise GeneratorError(f"cannot open the response cache {self.path}: {exc} "
                                 f"(set {CACHE_ENV} to a writable directory, or use --no-cache)") from None

    def get(self, key: str) -> Any:
        """The stored JSON value, or None."""
        with self._lock:
            try:
                row = self._db.execute("SELECT response FROM responses WHERE key = ?", (key,)).fetchone()
            except sqlite3.Error as exc:
                raise self._broken(exc) from None
        if row is None:
            return None
        try:
            return orjson.loads(row[0])
        except orjson.JSONDecodeError:
            return None  # a damaged row is a miss; the fresh answer replaces it

    def put(self, key: str, operation: str, request: Mapping[str, Any], response: Any) -> None:
        """Store (or replace) one answer; committed before returning."""
        row = (key, operation, canonical_json(request).decode(), orjson.dumps(response).decode(), time.time())
        with self._lock:
            try:
                self._db.execute("INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?, ?)", row)
            except sqlite3.Error as exc:
                raise self._broken(exc) from None

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM responses").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _broken(self, exc: sqlite3.Error) -> GeneratorError:
        return GeneratorError(f"the response cache {self.path} failed: {exc} (delete the file, or use --no-cache)")
