"""Saved state of an online re-ranking run (``mstk rerank --state-in/--state-out``).

A stream served in several runs (today's requests, then tomorrow's) continues where the
last run stopped: the interval clock, the traffic of the intervals served (for the
forecasters), each provider's exposure so far and the method's own state (BankFair's
estates and duals, TFROM's targets). Everything is keyed by provider *name*, because ids
are assigned afresh in every run. The settings that shape the lists (method, K,
parameters, normalisation, fairness targets) are stored with a hash; a run that differs
in any of them is refused, naming the settings that differ.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson

from mstk.errors import InputError, ParameterError

FORMAT = "mstk-rerank-state/1"


def settings_hash(settings: dict[str, Any]) -> str:
    return hashlib.sha256(orjson.dumps(settings, option=orjson.OPT_SORT_KEYS)).hexdigest()


@dataclass
class RunState:
    settings: dict[str, Any]
    origin: float | None = None  # ts of the stream's first request (the interval clock)
    last_interval: int | None = None
    # requests per interval, oldest first, ending at last_interval (history included)
    traffic: list[float] = field(default_factory=list)
    exposure: dict[str, float] = field(default_factory=dict)
    method_state: Any = None  # JSON value the method returned

    def dumps(self) -> bytes:
        return orjson.dumps({
            "format": FORMAT,
            "settings_hash": settings_hash(self.settings),
            "settings": self.settings,
            "origin": self.origin,
            "last_interval": self.last_interval,
            "traffic": self.traffic,
            "exposure": dict(sorted(self.exposure.items())),
            "method_state": self.method_state,
        }, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE | orjson.OPT_SERIALIZE_NUMPY)

    @classmethod
    def load(cls, path: str) -> "RunState":
        try:
            with open(path, "rb") as f:
                data = orjson.loads(f.read())
        except orjson.JSONDecodeError as exc:
            raise InputError(path, 1, f"not a saved re-ranking state: {exc}") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise InputError(path, 1, f"not a saved re-ranking state (format {FORMAT!r} expected)")
        settings = data.get("settings")
        if not isinstance(settings, dict) or data.get("settings_hash") != settings_hash(settings):
            raise InputError(path, 1, "the state's settings do not match their hash (the file was edited or damaged)")
        last = data.get("last_interval")
        traffic = data.get("traffic")
        exposure = data.get("exposure")
        if (last is not None and not isinstance(last, int)) or not isinstance(traffic, list) or not isinstance(exposure, dict):
            raise InputError(path, 1, "the state lacks last_interval, traffic or exposure")
        return cls(settings=settings, origin=data.get("origin"), last_interval=last, traffic=[float(x) for x in traffic],
                   exposure={str(k): float(v) for k, v in exposure.items()}, method_state=data.get("method_state"))

    def check_settings(self, settings: dict[str, Any], path: str) -> None:
        """Refuse to continue under other settings (they would change the lists)."""
        saved, now = _flat(self.settings), _flat(settings)
        differ = sorted(k for k in set(saved) | set(now) if saved.get(k) != now.get(k))
        if differ:
            shown = "; ".join(f"{k}: saved {saved.get(k)!r}, now {now.get(k)!r}" for k in differ)
            raise ParameterError(f"{path} was written under other settings ({shown}); continue with the same ones or start afresh")


def _flat(settings: dict[str, Any]) -> dict[str, Any]:
    """{"params": {"window": 1}} → {"params.window": 1}, so a mismatch names the parameter."""
    out: dict[str, Any] = {}
    for key, value in settings.items():
        if isinstance(value, dict):
            out.update({f"{key}.{k}": v for k, v in value.items()})
        else:
            out[key] = value
    return out


def by_name(values: np.ndarray, names: list[str]) -> dict[str, float]:
    """Per-provider array → {provider name: value}."""
    return {name: float(v) for name, v in zip(names, np.asarray(values, dtype=np.float64).tolist())}


def from_names(saved: dict[str, float] | None, names: list[str], default: np.ndarray | float = 0.0) -> np.ndarray:
    """{provider name: value} → per-provider array in this run's ids; providers the state
    does not know take ``default``."""
    out = np.array(default, dtype=np.float64) * np.ones(len(names))
    for i, name in enumerate(names):
        if saved and name in saved:
            out[i] = float(saved[name])
    return out
