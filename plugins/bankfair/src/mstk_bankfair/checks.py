"""Domain checks for method parameters (``Param(validate=…)``): each returns a function that
raises ParameterError with the parameter's name, so a bad value is a usage error before any
input is read."""

from __future__ import annotations

from typing import Callable

from mstk.errors import ParameterError

Check = Callable[[float], None]


def _check(name: str, ok: Callable[[float], bool], domain: str) -> Check:
    def check(value: float) -> None:
        if not ok(value):
            raise ParameterError(f"parameter {name!r} must be {domain}, got {value}")

    return check


def non_negative(name: str) -> Check:
    return _check(name, lambda v: v >= 0, ">= 0")


def positive(name: str) -> Check:
    return _check(name, lambda v: v > 0, "> 0")


def at_least_one(name: str) -> Check:
    return _check(name, lambda v: v >= 1, ">= 1")


def unit_interval(name: str) -> Check:
    return _check(name, lambda v: 0 <= v <= 1, "in [0, 1]")


def unit_interval_open_low(name: str) -> Check:
    return _check(name, lambda v: 0 < v <= 1, "in (0, 1]")
