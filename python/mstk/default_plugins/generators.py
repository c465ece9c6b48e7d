"""Registers the built-in LLM back ends (specs/generators.md).

Each entry is ``"module:Class"``, imported only when the registry is collected; the
classes themselves import nothing heavy until ``load()``. Adding a back end is one line.
``local`` is the embedded default (SmolLM2-135M-Instruct through onnxruntime, after
``mstk models build smollm2``); ``openai`` talks to any OpenAI-compatible server.
"""

from mstk import hookimpl

BUILTIN_GENERATORS: tuple[str, ...] = (
    "mstk.generators.local.generator:LocalGenerator",
    "mstk.generators.openai_compat:OpenAIGenerator",
)


@hookimpl
def register_generators(register):
    import importlib

    for reference in BUILTIN_GENERATORS:
        module_name, _, attribute = reference.partition(":")
        register(getattr(importlib.import_module(module_name), attribute))
