"""Registers the embedded text encoder (MiniLM int8 through onnxruntime)."""

from mstk import hookimpl


@hookimpl
def register_encoders(register):
    from mstk.retrieval.encoders import BUILTIN_ENCODERS

    for encoder in BUILTIN_ENCODERS:
        register(encoder)
