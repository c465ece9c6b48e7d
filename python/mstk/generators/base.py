"""The generator interface (specs/generators.md §Interface): requests, results, usage
accounting and the ``Generator`` base class every back end subclasses.

A back end implements ``complete(request, cancel)`` (one request, any thread) and, where
it can, ``logprob_one(prompt, continuation, cancel)``. The base class does the rest the
same way for every back end: request validation, the on-disk response cache (so an
interrupted run resumes where it stopped), de-duplication of identical requests, a
bounded pool of worker threads that keeps input order, and usage accounting.
"""

from __future__ import annotations

import inspect
import math
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Mapping, Sequence

from mstk.errors import MstkError, ParameterError

FINISH_REASONS = ("stop", "length", "error")
REQUEST_FIELDS = ("id", "messages", "prompt", "max_tokens", "temperature", "top_p", "seed", "stop", "n")


class GeneratorError(MstkError):
    """A generator failed in a way the run cannot go on from: the server is unreachable
    after every retry, rejects the credentials, or answers with something that is not an
    OpenAI-style response. Printed as ``Error: …`` with exit 1; finished requests stay in
    the response cache, so the next run resumes."""


class GeneratorCapabilityError(GeneratorError):
    """The back end cannot honour a requested setting or operation (e.g. ``logprob`` on a
    server without echoed log-probs, or ``n`` completions from a server that returns one).
    Never answered by silently falling back to something else."""


# --------------------------------------------------------------------------- requests


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@dataclass
class GenerationRequest:
    """One generation request: exactly one of ``messages`` (chat) or ``prompt`` (plain
    completion), plus explicit sampling settings. ``id`` is carried to the result and is
    not part of the cache key. Validated and normalised on construction (ParameterError)."""

    id: Any = None
    messages: list[dict[str, Any]] | None = None
    prompt: str | None = None
    max_tokens: int = 64
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int | None = None
    stop: list[str] = field(default_factory=list)
    n: int = 1

    def __post_init__(self) -> None:
        if (self.messages is None) == (self.prompt is None):
            raise ParameterError("give exactly one of 'messages' (a list of {role, content}) or 'prompt' (a string)")
        if self.prompt is not None and not isinstance(self.prompt, str):
            raise ParameterError(f"'prompt' must be a string, got {type(self.prompt).__name__}")
        if self.messages is not None:
            self.messages = _check_messages(self.messages)
        if not _is_int(self.max_tokens) or self.max_tokens < 1:
            raise ParameterError(f"'max_tokens' must be an integer >= 1, got {self.max_tokens!r}")
        if not _is_number(self.temperature) or self.temperature < 0:
            raise ParameterError(f"'temperature' must be a number >= 0, got {self.temperature!r}")
        if not _is_number(self.top_p) or not 0 < self.top_p <= 1:
            raise ParameterError(f"'top_p' must be a number in (0, 1], got {self.top_p!r}")
        if self.seed is not None and not _is_int(self.seed):
            raise ParameterError(f"'seed' must be an integer or null, got {self.seed!r}")
        if isinstance(self.stop, str):
            self.stop = [self.stop]
        if not isinstance(self.stop, (list, tuple)) or not all(isinstance(s, str) and s for s in self.stop):
            raise ParameterError(f"'stop' must be a non-empty string or a list of them, got {self.stop!r}")
        self.stop = list(self.stop)
        if not _is_int(self.n) or self.n < 1:
            raise ParameterError(f"'n' must be an integer >= 1, got {self.n!r}")
        if self.n > 1 and self.temperature == 0:
            raise ParameterError(f"'n' = {self.n} at temperature 0 would repeat one completion: set temperature > 0")
        self.temperature = float(self.temperature)
        self.top_p = float(self.top_p)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], **defaults: Any) -> GenerationRequest:
        """Build from a dict (e.g. a JSONL record): its request fields override ``defaults``;
        other keys are ignored."""
        values = {**defaults, **{name: data[name] for name in REQUEST_FIELDS if name in data}}
        return cls(**values)

    @property
    def kind(self) -> str:
        """``chat`` (messages, ``/chat/completions``) or ``completion`` (prompt, ``/completions``)."""
        return "chat" if self.messages is not None else "completion"

    def canonical(self) -> dict[str, Any]:
        """The fields that decide the output, normalised: the cache key's payload."""
        return {
            "kind": self.kind,
            "messages" if self.messages is not None else "prompt": self.messages if self.messages is not None else self.prompt,
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "seed": self.seed,
            "stop": self.stop,
            "n": self.n,
        }


def _check_messages(messages: Any) -> list[dict[str, Any]]:
    if not isinstance(messages, (list, tuple)) or not messages:
        raise ParameterError("'messages' must be a non-empty list of {\"role\": ..., \"content\": ...} objects")
    checked = []
    for i, message in enumerate(messages):
        if not isinstance(message, Mapping):
            raise ParameterError(f"messages[{i}] must be an object, got {type(message).__name__}")
        role, content = message.get("role"), message.get("content")
        if not isinstance(role, str) or not role:
            raise ParameterError(f"messages[{i}].role must be a non-empty string")
        if not isinstance(content, str):
            raise ParameterError(f"messages[{i}].content must be a string")
        checked.append(dict(message))
    return checked


# --------------------------------------------------------------------------- results


@dataclass
class TokenUsage:
    """Tokens of one request as the back end reported them; ``estimated`` when the server
    sent no usage and mstk counted them itself (``count_tokens``)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    estimated: bool = False

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens}
        if self.estimated:
            out["estimated"] = True
        return out


@dataclass
class Choice:
    text: str
    finish_reason: str


@dataclass
class GenerationResult:
    """One request's outcome. ``text``/``finish_reason`` are the first completion's;
    ``choices`` holds all ``n`` of them. ``finish_reason`` is ``error`` (with ``error`` set)
    when the back end rejected this one request; such results are never cached."""

    id: Any
    text: str
    finish_reason: str
    usage: TokenUsage = field(default_factory=TokenUsage)
    cached: bool = False
    error: str | None = None
    choices: list[Choice] = field(default_factory=list)

    @classmethod
    def from_choices(cls, request_id: Any, choices: Sequence[Choice], usage: TokenUsage) -> GenerationResult:
        first = choices[0]
        return cls(id=request_id, text=first.text, finish_reason=first.finish_reason, usage=usage, choices=list(choices))

    @classmethod
    def failed(cls, request_id: Any, message: str) -> GenerationResult:
        return cls(id=request_id, text="", finish_reason="error", error=message)

    def to_dict(self, *, include_id: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id} if include_id else {}
        out.update(text=self.text, finish_reason=self.finish_reason, usage=self.usage.to_dict(), cached=self.cached)
        if self.error is not None:
            out["error"] = self.error
        if len(self.choices) > 1:
            out["choices"] = [{"text": c.text, "finish_reason": c.finish_reason} for c in self.choices]
        return out

    def cache_value(self) -> dict[str, Any]:
        return {"choices": [[c.text, c.finish_reason] for c in self.choices or [Choice(self.text, self.finish_reason)]],
                "usage": self.usage.to_dict()}

    @classmethod
    def from_cache(cls, request_id: Any, value: Mapping[str, Any]) -> GenerationResult | None:
        """Rebuild a cached result; None when the stored value does not have the expected shape."""
        try:
            choices = [Choice(str(text), str(reason)) for text, reason in value["choices"]]
            usage = value["usage"]
            token_usage = TokenUsage(int(usage["prompt_tokens"]), int(usage["completion_tokens"]), bool(usage.get("estimated", False)))
        except (KeyError, TypeError, ValueError):
            return None
        if not choices:
            return None
        result = cls.from_choices(request_id, choices, token_usage)
        result.cached = True
        return result


class UsageStats:
    """Running totals for one generator instance (thread-safe).

    ``requests``: requests the back end answered (cache hits not included); ``cache_hits``;
    ``retries``: extra attempts after 429/5xx/connection errors; ``errors``: requests the
    back end rejected; token counts cover answered requests only (what the server did
    this run); ``seconds``: wall time spent inside ``generate``/``logprob``."""

    FIELDS = ("requests", "cache_hits", "retries", "errors", "prompt_tokens", "completion_tokens")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests = self.cache_hits = self.retries = self.errors = 0
        self.prompt_tokens = self.completion_tokens = 0
        self.seconds = 0.0

    def add(self, **counts: float) -> None:
        with self._lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)

    def as_dict(self) -> dict[str, Any]:
        with self._lock:
            out: dict[str, Any] = {name: getattr(self, name) for name in self.FIELDS}
            out["seconds"] = round(self.seconds, 4)
            return out


# --------------------------------------------------------------------------- worker pool


class Cancelled(Exception):
    """Raised inside a worker when the pool is stopping (another request failed, or ^C)."""


def run_pool(items: Sequence[Any], work: Callable[[Any, threading.Event], Any],
             on_done: Callable[[int, Any], None], workers: int) -> None:
    """Run ``work(item, cancel)`` over ``items`` with at most ``workers`` at a time; call
    ``on_done(index, value)`` as each finishes (from the worker's thread).

    The first failure sets ``cancel``: no new item starts, the ones in flight finish (so
    their results reach ``on_done`` and the cache), and the failure of the lowest index is
    raised. ^C does the same from the main thread."""
    if not items:
        return
    cancel = threading.Event()
    workers = max(1, min(workers, len(items)))
    if workers == 1:
        for index, item in enumerate(items):
            on_done(index, work(item, cancel))
        return
    lock = threading.Lock()
    order = iter(range(len(items)))
    failures: list[tuple[int, BaseException]] = []

    def worker() -> None:
        while not cancel.is_set():
            with lock:
                index = next(order, None)
            if index is None:
                return
            try:
                on_done(index, work(items[index], cancel))
            except Cancelled:
                return
            except BaseException as exc:  # handed to the caller's thread below
                with lock:
                    failures.append((index, exc))
                cancel.set()
                return

    threads = [threading.Thread(target=worker, name=f"mstk-generate-{k}", daemon=True) for k in range(workers)]
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            while thread.is_alive():
                thread.join(0.1)  # short joins keep ^C responsive
    except BaseException:
        cancel.set()
        raise
    if failures:
        raise min(failures, key=lambda pair: pair[0])[1]


# --------------------------------------------------------------------------- base class


class Generator:
    """Base class of LLM back ends, registered through ``register_generators``.

    Subclasses set ``name`` and implement ``complete`` (and ``logprob_one`` where the back
    end can score text); ``info`` should name the model. Heavy work (network checks, model
    files, onnxruntime sessions) belongs in ``load()``, which runs once, on first use.
    Options come through the constructor's keyword arguments (see ``from_options``).
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    scripted: ClassVar[bool] = False  # True only for test/demo back ends; outputs say so

    def __init__(self, *, cache: bool = True, cache_dir: str | None = None, concurrency: int = 1) -> None:
        """``cache``: use the response cache; ``cache_dir``: its root instead of
        ``MSTK_CACHE_DIR`` (answers live in ``ROOT/generations/``)."""
        if not _is_int(concurrency) or concurrency < 1:
            raise ParameterError(f"concurrency must be an integer >= 1, got {concurrency!r}")
        self.concurrency = concurrency
        self.usage = UsageStats()
        self._use_cache = cache
        self._cache_dir = cache_dir
        self._cache: Any = None
        self._loaded = False
        self._load_lock = threading.Lock()

    # ----------------------------------------------------------------- construction

    @classmethod
    def from_options(cls, options: Mapping[str, Any], soft: Mapping[str, Any] | None = None) -> Generator:
        """Instantiate from CLI-style options. ``None`` values are left to the back end's
        defaults; any other option the constructor does not take is a ParameterError
        (``--base-url does not apply to the local generator``). ``soft`` options (e.g. the
        common ``threads``) are passed only to back ends that take them."""
        parameters = inspect.signature(cls.__init__).parameters
        takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
        kwargs = {}
        for key, value in options.items():
            if value is None:
                continue
            if key not in parameters and not takes_any:
                raise ParameterError(f"--{key.replace('_', '-')} does not apply to the {cls.name} generator")
            kwargs[key] = value
        for key, value in (soft or {}).items():
            if value is not None and (key in parameters or takes_any):
                kwargs[key] = value
        return cls(**kwargs)

    def load(self) -> None:
        """Prepare the back end (called once, before the first request)."""

    def ensure_loaded(self) -> None:
        with self._load_lock:
            if not self._loaded:
                self.load()
                self._loaded = True

    def close(self) -> None:
        if self._cache is not None:
            self._cache.close()
            self._cache = None

    def __enter__(self) -> Generator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----------------------------------------------------------------- description

    def info(self) -> dict[str, Any]:
        """``{backend, model, model_sha256, scripted}``: the metadata block every output
        record a generator produced carries under ``"generator"``."""
        return {"backend": self.name, "model": None, "model_sha256": None, "scripted": bool(self.scripted)}

    def max_context(self) -> int | None:
        """The context window in tokens, or None when unknown."""
        return None

    def count_tokens(self, messages: Sequence[Mapping[str, Any]] | str) -> int:
        """Tokens of a prompt or message list. This default estimates ⌈chars/3⌉ over the
        contents plus role names, which over-counts typical English BPE (≈4 chars/token):
        conservative for fitting a context window."""
        return math.ceil(len(_flatten(messages)) / 3)

    # ----------------------------------------------------------------- generation

    def complete(self, request: GenerationRequest, cancel: threading.Event) -> GenerationResult:
        """Answer one request (called from worker threads). Return ``GenerationResult.failed``
        when the back end rejects this one request; raise GeneratorError when the run
        cannot go on. Long waits should end early (``Cancelled``) once ``cancel`` is set."""
        raise NotImplementedError

    def generate(self, requests: Sequence[GenerationRequest | Mapping[str, Any]], *,
                 on_result: Callable[[int, GenerationResult], None] | None = None) -> list[GenerationResult]:
        """Results in request order. Cached requests are answered from the cache; the rest
        go to ``complete`` over ``concurrency`` workers and are cached as each arrives, so
        a run that stops (error, ^C, kill) keeps what it finished. Identical requests in
        one call are sent once. ``on_result(index, result)`` is called as each is ready."""
        reqs = [r if isinstance(r, GenerationRequest) else GenerationRequest.from_dict(r) for r in requests]
        self.ensure_loaded()
        started = time.perf_counter()
        results: list[GenerationResult | None] = [None] * len(reqs)
        cache = self._response_cache()
        namespace = self.cache_namespace()
        # Requests grouped by cache key: one call answers every copy.
        from mstk.generators.cache import request_key

        groups: dict[str, list[int]] = {}
        keys: list[str] = []
        try:
            for index, request in enumerate(reqs):
                key = request_key("generate", namespace, request.canonical())
                if key in groups:
                    groups[key].append(index)
                    continue
                stored = cache.get(key) if cache is not None else None
                hit = GenerationResult.from_cache(request.id, stored) if stored is not None else None
                if hit is not None:
                    results[index] = hit
                    self.usage.add(cache_hits=1)
                    if on_result is not None:
                        on_result(index, hit)
                    continue
                groups[key] = [index]
                keys.append(key)

            pending = [reqs[groups[key][0]] for key in keys]

            def done(position: int, result: GenerationResult) -> None:
                key = keys[position]
                self.usage.add(requests=1, errors=int(result.error is not None),
                               prompt_tokens=result.usage.prompt_tokens, completion_tokens=result.usage.completion_tokens)
                if cache is not None and result.error is None:
                    cache.put(key, "generate", pending[position].canonical(), result.cache_value())
                for k, index in enumerate(groups[key]):
                    copy = result if k == 0 else _copy_result(result, reqs[index].id)
                    results[index] = copy
                    if on_result is not None:
                        on_result(index, copy)

            size = self.batch_plan(len(pending))
            if size > 1:
                starts = list(range(0, len(pending), size))

                def chunk_done(chunk: int, chunk_results: list[GenerationResult]) -> None:
                    for offset, result in enumerate(chunk_results):
                        done(starts[chunk] + offset, result)

                run_pool([pending[s:s + size] for s in starts], self.complete_batch, chunk_done, self.concurrency)
            else:
                run_pool(pending, self.complete, done, self.concurrency)
        finally:
            self.usage.add(seconds=time.perf_counter() - started)
        return results  # type: ignore[return-value]

    def batch_plan(self, n_requests: int) -> int:
        """How many requests one ``complete_batch`` call takes (1 = one ``complete`` each).
        Back ends that decode several requests together override this."""
        return 1

    def complete_batch(self, requests: Sequence[GenerationRequest], cancel: threading.Event) -> list[GenerationResult]:
        """Answer several requests in one call (see ``batch_plan``); results in order."""
        return [self.complete(request, cancel) for request in requests]

    # ----------------------------------------------------------------- scoring

    def logprob_one(self, prompt: str, continuation: str, cancel: threading.Event) -> float:
        """Sum of the continuation's token log-probs given the prompt (one pair, any thread)."""
        raise GeneratorCapabilityError(f"the {self.name} generator cannot score text (no logprob): use --feedback metric")

    def logprob(self, prompts: Sequence[str], continuations: Sequence[str]) -> list[float]:
        """``log p(continuation | prompt)`` for each pair, summed over the continuation's
        tokens; cached like generations."""
        if len(prompts) != len(continuations):
            raise ParameterError(f"logprob needs as many prompts as continuations ({len(prompts)} vs {len(continuations)})")
        for text in (*prompts, *continuations):
            if not isinstance(text, str):
                raise ParameterError(f"logprob takes strings, got {type(text).__name__}")
        self.ensure_loaded()
        started = time.perf_counter()
        cache = self._response_cache()
        namespace = self.cache_namespace()
        scores: list[float | None] = [None] * len(prompts)
        from mstk.generators.cache import request_key

        groups: dict[str, list[int]] = {}
        keys: list[str] = []
        try:
            for index, pair in enumerate(zip(prompts, continuations)):
                key = request_key("logprob", namespace, {"prompt": pair[0], "continuation": pair[1]})
                if key in groups:
                    groups[key].append(index)
                    continue
                stored = cache.get(key) if cache is not None else None
                if isinstance(stored, dict) and isinstance(stored.get("logprob"), (int, float)):
                    scores[index] = float(stored["logprob"])
                    self.usage.add(cache_hits=1)
                    continue
                groups[key] = [index]
                keys.append(key)
            pending = [(prompts[groups[key][0]], continuations[groups[key][0]]) for key in keys]

            def done(position: int, value: float) -> None:
                self.usage.add(requests=1)
                prompt, continuation = pending[position]
                if cache is not None:
                    cache.put(keys[position], "logprob", {"prompt": prompt, "continuation": continuation}, {"logprob": value})
                for index in groups[keys[position]]:
                    scores[index] = value

            run_pool(pending, lambda pair, cancel: self.logprob_one(pair[0], pair[1], cancel), done, self.concurrency)
        finally:
            self.usage.add(seconds=time.perf_counter() - started)
        return scores  # type: ignore[return-value]

    def logprob_many(self, prompt: str, continuations: Sequence[str]) -> list[float]:
        """Many continuations against one shared prompt (a back end with a KV cache may
        override this to reuse the prompt's state)."""
        return self.logprob([prompt] * len(continuations), list(continuations))

    # ----------------------------------------------------------------- cache

    def cache_namespace(self) -> dict[str, Any]:
        """What, besides the request, decides an answer: back end, model and model hash."""
        info = self.info()
        return {"backend": info.get("backend"), "model": info.get("model"), "model_sha256": info.get("model_sha256")}

    def _response_cache(self) -> Any:
        if not self._use_cache:
            return None
        if self._cache is None:
            from mstk.generators.cache import ResponseCache

            self._cache = ResponseCache(self._cache_dir)
        return self._cache


def _copy_result(result: GenerationResult, request_id: Any) -> GenerationResult:
    return GenerationResult(id=request_id, text=result.text, finish_reason=result.finish_reason, usage=result.usage,
                            cached=result.cached, error=result.error, choices=list(result.choices))


def _flatten(messages: Sequence[Mapping[str, Any]] | str) -> str:
    if isinstance(messages, str):
        return messages
    return "".join(f"{m.get('role', '')}\n{m.get('content', '')}\n" for m in messages)
