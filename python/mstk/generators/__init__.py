"""LLM generators: the host's one interface to language models (specs/generators.md).

Methods that need an LLM (qerag, cfrag, syler, lexnum, lrgd, reasoning, realign) go
through a ``Generator`` from the ``register_generators`` registry
(``mstk.plugins.generators(pm)``) and never talk HTTP or onnxruntime themselves::

    from mstk.generators import GenerationRequest
    from mstk.plugins import generators, get_plugin_manager

    generator = generators(get_plugin_manager())["openai"](base_url="http://127.0.0.1:8000/v1", model="m")
    [result] = generator.generate([GenerationRequest(id=1, prompt="2 + 2 =", max_tokens=4)])

Back ends subclass ``Generator`` and implement ``complete`` (one request) and, where they
can, ``logprob_one``; the base class adds validation, the response cache under
``MSTK_CACHE_DIR/generations/``, bounded worker threads and usage accounting.
Built in: ``local`` (the default: SmolLM2-135M-Instruct through onnxruntime, exported
once by ``mstk models build smollm2``; see mstk.generators.local) and ``openai`` (any
OpenAI-compatible server).
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mstk.generators.base import (
        Choice,
        GenerationRequest,
        GenerationResult,
        Generator,
        GeneratorCapabilityError,
        GeneratorError,
        TokenUsage,
        UsageStats,
    )

_BASE_NAMES = ("Choice", "GenerationRequest", "GenerationResult", "Generator", "GeneratorCapabilityError",
               "GeneratorError", "TokenUsage", "UsageStats")


def __getattr__(name: str):
    # Everything loads on first use: `mstk --help` imports mstk.generators.cli (the shared
    # click options) and should not pay for the interface, the cache or a back end.
    if name in _BASE_NAMES:
        from mstk.generators import base

        return getattr(base, name)
    if name in ("ResponseCache", "cache_root", "request_key"):
        from mstk.generators import cache

        return getattr(cache, name)
    if name == "OpenAIGenerator":
        from mstk.generators.openai_compat import OpenAIGenerator

        return OpenAIGenerator
    raise AttributeError(f"module 'mstk.generators' has no attribute {name!r}")


__all__ = [
    "Choice",
    "GenerationRequest",
    "GenerationResult",
    "Generator",
    "GeneratorCapabilityError",
    "GeneratorError",
    "OpenAIGenerator",
    "ResponseCache",
    "TokenUsage",
    "UsageStats",
    "cache_root",
    "request_key",
]
