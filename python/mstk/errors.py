"""mstk's exception types, in one place.

``MstkError`` and its subclasses are what the CLI turns into a one-line ``Error: …``
message with exit code 1. Errors raised by the Rust core (``mstk._core``) are mapped to
typed exceptions in the binding crate; ``InputError`` wraps them with the file name.
"""

from __future__ import annotations


class MstkError(Exception):
    """Base class: a failure the user can fix; printed as ``Error: <message>``, exit 1."""


class InputError(MstkError, ValueError):
    """A bad input record: carries the file name and 1-based line number."""

    def __init__(self, source: str, line: int | None, reason: str) -> None:
        self.source = source
        self.line = line
        self.reason = reason
        where = f"{source}:{line}" if line is not None else source
        super().__init__(f"{where}: {reason}")


class PluginError(MstkError):
    """A plugin could not be loaded or registered something invalid (e.g. a duplicate name)."""


class ParameterError(MstkError, ValueError):
    """A method parameter is unknown or has an invalid value."""


class OutputClosed(Exception):
    """The reader of stdout went away (``mstk … | head``): end quietly with exit 0.

    Raised instead of BrokenPipeError because click turns an EPIPE OSError into exit 1."""
