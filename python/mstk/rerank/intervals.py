"""Interval lengths as the CLI spells them ('1d', '12h', …); no numpy, so the top-K
streaming lane can read them without importing it."""

from __future__ import annotations

import re

from mstk.errors import ParameterError

_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_interval_length(text: str) -> float:
    """'1d', '12h', '30m', '90s', '2w' → seconds."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", text)
    if not match or float(match.group(1)) <= 0:
        raise ParameterError(f"interval length must look like 1d, 12h, 30m, 90s or 2w; got {text!r}")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
