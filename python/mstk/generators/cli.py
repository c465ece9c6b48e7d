"""Click options that choose and configure a generator, shared by every command that
takes ``--generator`` (``mstk generate`` and the methods built on generators), so all of
them spell and behave the same way."""

from __future__ import annotations

from typing import Any, Callable

import click

DEFAULT_GENERATOR = "local"  # the embedded default of specs/generators.md

# Option name -> constructor keyword. None values are left to the back end's defaults.
GENERATOR_OPTIONS = ("base_url", "model", "api_key", "timeout", "concurrency", "max_retries", "retry_delay",
                     "retry_max_delay", "tokenizer", "max_context", "model_dir", "decode_batch", "cache")


def generator_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add --generator and the back-end options; the command receives them as keyword
    arguments and passes them to ``open_generator``."""
    options = [
        click.option("--generator", "generator_name", default=DEFAULT_GENERATOR, show_default=True,
                     help="Registered generator (LLM back end), e.g. local or openai."),
        click.option("--base-url", default=None, help="openai: server URL ending in /v1 [env MSTK_OPENAI_BASE_URL]."),
        click.option("--model", default=None, help="openai: model name [env MSTK_OPENAI_MODEL]."),
        click.option("--api-key", default=None, help="openai: bearer token, optional [env MSTK_OPENAI_API_KEY]."),
        click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=None,
                     help="openai: seconds to wait for the server per attempt [default: 60]."),
        click.option("--concurrency", type=click.IntRange(min=1), default=None,
                     help="openai: requests in flight at once [default: 8]."),
        click.option("--max-retries", type=click.IntRange(min=0), default=None,
                     help="openai: retries after 429/5xx/timeouts/connection errors [default: 5]."),
        click.option("--retry-delay", type=click.FloatRange(min=0), default=None,
                     help="openai: first backoff in seconds, doubling per retry; Retry-After wins [default: 1]."),
        click.option("--retry-max-delay", type=click.FloatRange(min=0), default=None,
                     help="openai: longest backoff in seconds [default: 30]."),
        click.option("--tokenizer", type=click.Path(dir_okay=False, exists=True), default=None,
                     help="openai: tokenizer.json for token counts (default: estimate ceil(chars/3))."),
        click.option("--max-context", type=click.IntRange(min=1), default=None,
                     help="openai: the model's context window in tokens, if known."),
        click.option("--model-dir", type=click.Path(file_okay=False), default=None,
                     help="local: an export from `mstk models build smollm2 --out DIR` "
                          "(default: MSTK_CACHE_DIR/models/smollm2)."),
        click.option("--decode-batch", type=click.IntRange(min=1), default=None,
                     help="local: decode up to N requests together (1.6-1.8x the throughput on 8 requests here; "
                          "outputs may then differ from one-by-one decoding in rare near-ties) [default: 1]."),
        click.option("--cache/--no-cache", default=None,
                     help="Reuse and store answers in MSTK_CACHE_DIR/generations (default: on)."),
    ]
    for decorate in reversed(options):
        func = decorate(func)
    return func


def pop_generator_options(kwargs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Take the generator's name and options out of a command's keyword arguments."""
    name = kwargs.pop("generator_name")
    return name, {key: kwargs.pop(key) for key in GENERATOR_OPTIONS}


def open_generator(pm: Any, name: str, options: dict[str, Any], *, threads: int | None = None) -> Any:
    """Instantiate and load the registered generator ``name``; usage errors exit 2."""
    from mstk.errors import ParameterError
    from mstk.plugins import generators

    registry = generators(pm)
    if name not in registry:
        known = ", ".join(sorted(registry)) or "none"
        raise click.BadParameter(f"unknown generator {name!r}; known: {known}", param_hint="'--generator'")
    cls = registry[name]
    try:
        if hasattr(cls, "from_options"):
            generator = cls.from_options(options, soft={"threads": threads})
        else:  # a plugin class that does not subclass mstk.generators.Generator
            generator = cls(**{key: value for key, value in options.items() if value is not None})
        getattr(generator, "ensure_loaded", getattr(generator, "load", lambda: None))()
    except ParameterError as exc:
        raise click.UsageError(str(exc)) from None
    return generator
