"""The hooks a plugin may implement.

Every hook receives a ``register`` callback (or the click group, for commands) instead
of returning values: the host then knows which plugin registered what, so a duplicate
name can be reported with both plugin names (see ``mstk.plugins``).

Registered things are classes with a class attribute ``name``. Heavy work (ONNX
sessions, model files) belongs in a later ``load()``, never at import or registration.
"""

from __future__ import annotations

from typing import Any, Callable

import pluggy

PROJECT_NAME = "mstk"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)

Register = Callable[[type], None]


@hookspec
def register_commands(cli: Any) -> None:
    """Add click commands or groups to the ``mstk`` group, e.g. ``cli.add_command(cmd)``."""


@hookspec
def register_rerankers(register: Register) -> None:
    """Register re-ranking methods (subclasses of ``mstk.rerank.Reranker``)."""


@hookspec
def register_error_models(register: Register) -> None:
    """Register query entry error models for ``mstk inject-errors``."""


@hookspec
def register_retrievers(register: Register) -> None:
    """Register retrieval back ends for ``mstk index`` / ``mstk retrieve``."""


@hookspec
def register_encoders(register: Register) -> None:
    """Register text encoders for dense retrieval and ``mstk embed``."""


@hookspec
def register_generators(register: Register) -> None:
    """Register LLM back ends (``generate`` / ``logprob``)."""


@hookspec
def register_metrics(register: Register) -> None:
    """Register evaluation metrics usable by name in evaluation commands."""


@hookspec
def register_datasets(register: Register) -> None:
    """Register dataset loaders for ``mstk data``."""
