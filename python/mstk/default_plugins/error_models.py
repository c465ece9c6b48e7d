"""Registers the built-in query entry error models (run by the Rust kernel)."""

from mstk import hookimpl


@hookimpl
def register_error_models(register):
    from mstk.inject.builtin_models import BUILTIN_MODELS

    for model in BUILTIN_MODELS:
        register(model)
