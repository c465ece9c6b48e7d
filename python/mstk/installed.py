"""What is installed: mstk's own version and the ``mstk`` entry points, cached on disk.

Asking ``importlib.metadata`` means importing it (about 25 ms: it pulls in the ``email``
package) and reading every distribution's metadata on ``sys.path`` (about 30 ms with the
160 distributions of a typical research environment). Every mstk command needs both
answers before it can do anything, and they only change when something is installed or
removed. So the answers are kept in a small JSON file and reused while the installation
looks the same.

"Looks the same" is the fingerprint: the interpreter, ``sys.path``, the modification time
of every ``sys.path`` entry (installing or removing a distribution adds or removes a
``*.dist-info`` folder there, which changes the folder's time), and the modification time
of every ``entry_points.txt`` that declared an mstk plugin (a plugin re-declared in place).
Any difference, an unreadable or malformed cache, or ``MSTK_CACHE_DIR=''`` means the
answers are read from ``importlib.metadata`` again. The cache is an optimisation only:
failing to write it is silent.
"""

from __future__ import annotations

import os
import sys
import zlib
from dataclasses import dataclass
from typing import Any

ENTRY_POINT_GROUP = "mstk"
CACHE_DIR_ENV = "MSTK_CACHE_DIR"
FORMAT = "mstk-installed/1"


@dataclass(frozen=True)
class Distribution:
    name: str
    version: str


@dataclass(frozen=True)
class EntryPoint:
    """An ``mstk`` entry point as ``importlib.metadata`` reports it, loadable without it."""

    name: str
    value: str
    dist: Distribution | None

    def load(self) -> Any:
        """Import ``module[:attr.path]`` (extras in brackets are ignored, as pip does)."""
        import importlib

        spec = self.value.split("[", 1)[0].strip()
        module_name, _, attrs = spec.partition(":")
        obj = importlib.import_module(module_name.strip())
        for attr in filter(None, attrs.strip().split(".")):
            obj = getattr(obj, attr)
        return obj


@dataclass(frozen=True)
class Snapshot:
    mstk_version: str
    entry_points: tuple[EntryPoint, ...]


def snapshot() -> Snapshot:
    """The installed mstk version and entry points, from the cache when it is current."""
    fingerprint = _fingerprint()
    path = _cache_path()
    if path is not None:
        cached = _read(path, fingerprint)
        if cached is not None:
            return cached
    fresh, declaring_files = _discover()
    if path is not None:
        _write(path, fingerprint, fresh, declaring_files)
    return fresh


def _fingerprint() -> list[Any]:
    entries = []
    for entry in sys.path:
        try:
            mtime = os.stat(entry or ".").st_mtime_ns
        except OSError:
            mtime = None
        entries.append([entry, mtime])
    return [sys.version, sys.prefix, entries]


def _cache_path() -> str | None:
    base = os.environ.get(CACHE_DIR_ENV)
    if base is None:
        xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        base = os.path.join(xdg, "mstk")
    if not base:
        return None
    # One file per interpreter and search path (`python -m mstk` puts the working folder
    # first, the `mstk` script its own folder), so the two do not overwrite each other's
    # answers; crc32 is stable across processes (hash() is not).
    tag = zlib.crc32("\0".join([sys.prefix, *sys.path]).encode("utf-8", "surrogatepass"))
    return os.path.join(base, f"installed-{tag:08x}.json")


def _read(path: str, fingerprint: list[Any]) -> Snapshot | None:
    import orjson

    try:
        with open(path, "rb") as f:
            data = orjson.loads(f.read())
        if data["format"] != FORMAT or data["fingerprint"] != fingerprint:
            return None
        for file, mtime in data["declaring_files"]:
            if os.stat(file).st_mtime_ns != mtime:
                return None
        return Snapshot(
            mstk_version=data["mstk_version"],
            entry_points=tuple(
                EntryPoint(name, value, None if dist is None else Distribution(*dist))
                for name, value, dist in data["entry_points"]
            ),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write(path: str, fingerprint: list[Any], snap: Snapshot, declaring_files: list[list[Any]]) -> None:
    import orjson

    data = {
        "format": FORMAT,
        "fingerprint": fingerprint,
        "declaring_files": declaring_files,
        "mstk_version": snap.mstk_version,
        "entry_points": [
            [ep.name, ep.value, None if ep.dist is None else [ep.dist.name, ep.dist.version]]
            for ep in snap.entry_points
        ],
    }
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(tmp, "wb") as f:
            f.write(orjson.dumps(data))
        os.replace(tmp, path)  # atomic: a concurrent reader sees the old file or the new one
    except (OSError, TypeError, ValueError):  # TypeError: orjson refuses a path with a lone surrogate
        try:
            os.unlink(tmp)
        except OSError:
            pass


def _discover() -> tuple[Snapshot, list[list[Any]]]:
    import importlib.metadata

    try:
        version = importlib.metadata.version("mstk")
    except importlib.metadata.PackageNotFoundError:  # running from a source tree without an install
        version = "0.0.0+unknown"
    entry_points = []
    declaring_files = []
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = getattr(ep, "dist", None)
        entry_points.append(EntryPoint(ep.name, ep.value, None if dist is None else Distribution(dist.name, dist.version)))
        # PathDistribution keeps its folder in _path; other finders simply go unchecked.
        folder = getattr(dist, "_path", None)
        if folder is not None:
            file = os.path.join(str(folder), "entry_points.txt")
            try:
                declaring_files.append([file, os.stat(file).st_mtime_ns])
            except OSError:
                pass
    return Snapshot(version, tuple(entry_points)), declaring_files
