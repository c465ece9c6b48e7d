"""The ``openai`` generator: any OpenAI-compatible HTTP server (vLLM, llama.cpp server,
Ollama, OpenAI itself), standard library only.

- ``messages`` go to ``POST {base}/chat/completions``, ``prompt`` to ``POST {base}/completions``;
  ``logprob`` uses ``/completions`` with ``echo`` and ``logprobs``.
- Configuration: ``base_url``/``model``/``api_key`` arguments, else ``MSTK_OPENAI_BASE_URL``,
  ``MSTK_OPENAI_MODEL``, ``MSTK_OPENAI_API_KEY`` (the key is optional).
- Request bodies are canonical JSON (sorted keys), so the same request is the same bytes.
- Each attempt opens its own connection straight to the configured host (no proxy from the
  environment, no keep-alive to go stale): the only network this back end touches is
  the configured endpoint.
- 408, 409, 429, 5xx, timeouts and connection errors are retried up to ``max_retries``
  times, waiting ``Retry-After`` when the server sends it, else an exponential backoff
  from ``retry_delay`` doubling to ``retry_max_delay`` with "equal jitter" (half fixed,
  half drawn from an RNG seeded by the request body, so waits are reproducible and
  concurrent workers still spread out).
- 401/403/404 and malformed responses end the run with a clear GeneratorError; other
  4xx (400 context too long, 422 bad parameter…) fail only that request
  (``finish_reason: "error"``), which the caller reports.
"""

from __future__ import annotations

import http.client
import math
import os
import random
import threading
import time
from email.utils import parsedate_to_datetime
from typing import Any, Mapping, Sequence
from urllib.parse import urlsplit

import orjson

from mstk.generators.base import (
    Cancelled,
    Choice,
    GenerationRequest,
    GenerationResult,
    Generator,
    GeneratorCapabilityError,
    GeneratorError,
    TokenUsage,
)
from mstk.generators.cache import canonical_json
from mstk.errors import ParameterError

BASE_URL_ENV = "MSTK_OPENAI_BASE_URL"
MODEL_ENV = "MSTK_OPENAI_MODEL"
API_KEY_ENV = "MSTK_OPENAI_API_KEY"

RETRYABLE_STATUS = frozenset({408, 409, 429})  # plus every 5xx
FATAL_STATUS = {
    401: "check --api-key / " + API_KEY_ENV,
    403: "check --api-key / " + API_KEY_ENV,
    404: "check --base-url (it usually ends in /v1) and --model",
}
MAX_RETRY_AFTER = 300.0  # seconds: a longer Retry-After is waited for this long, at most


class _Rejected(Exception):
    """A non-retryable HTTP status: handled by the caller (request error or run error)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(status, message)
        self.status = status
        self.message = message


class OpenAIGenerator(Generator):
    """Any OpenAI-compatible server, through its HTTP API."""

    name = "openai"
    description = "any OpenAI-compatible server (vLLM, llama.cpp server, Ollama): --base-url, --model, --api-key"

    def __init__(self, *, base_url: str | None = None, model: str | None = None, api_key: str | None = None,
                 timeout: float = 60.0, concurrency: int = 8, max_retries: int = 5, retry_delay: float = 1.0,
                 retry_max_delay: float = 30.0, tokenizer: str | None = None, max_context: int | None = None,
                 cache: bool = True, cache_dir: str | None = None) -> None:
        super().__init__(cache=cache, cache_dir=cache_dir, concurrency=concurrency)
        base_url = base_url or os.environ.get(BASE_URL_ENV)
        model = model or os.environ.get(MODEL_ENV)
        api_key = api_key if api_key is not None else os.environ.get(API_KEY_ENV)
        if not base_url:
            raise ParameterError(f"the openai generator needs a server: pass --base-url or set {BASE_URL_ENV} "
                                 "(e.g. http://127.0.0.1:8000/v1)")
        if not model:
            raise ParameterError(f"the openai generator needs a model name: pass --model or set {MODEL_ENV}")
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ParameterError(f"--base-url must be an http:// or https:// URL, got {base_url!r}")
        try:
            self._port = parts.port
        except ValueError:
            raise ParameterError(f"--base-url has an invalid port: {base_url!r}") from None
        for label, value, low in (("--timeout", timeout, 0), ("--retry-delay", retry_delay, 0), ("--retry-max-delay", retry_max_delay, 0)):
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not value >= low or not math.isfinite(value):
                raise ParameterError(f"{label} must be a number >= {low}, got {value!r}")
        if timeout <= 0:
            raise ParameterError(f"--timeout must be > 0 seconds, got {timeout!r}")
        if not isinstance(max_retries, int) or isinstance(max_retries, bool) or max_retries < 0:
            raise ParameterError(f"--max-retries must be an integer >= 0, got {max_retries!r}")
        if max_context is not None and (not isinstance(max_context, int) or max_context < 1):
            raise ParameterError(f"--max-context must be an integer >= 1, got {max_context!r}")
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key = api_key or None
        self.timeout = float(timeout)
        self.max_retries = max_retries
        self.retry_delay = float(retry_delay)
        self.retry_max_delay = float(retry_max_delay)
        self.tokenizer_path = tokenizer
        self._max_context = max_context
        self._scheme = parts.scheme
        self._host = parts.hostname
        self._prefix = parts.path.rstrip("/")
        self._query = f"?{parts.query}" if parts.query else ""
        self._tokenizer: Any = None

    # ----------------------------------------------------------------- description

    def load(self) -> None:
        if self.tokenizer_path:
            from tokenizers import Tokenizer

            try:
                self._tokenizer = Tokenizer.from_file(str(self.tokenizer_path))
            except Exception as exc:  # tokenizers raises its own Exception type
                raise ParameterError(f"--tokenizer {self.tokenizer_path}: cannot load: {exc}") from None

    def info(self) -> dict[str, Any]:
        # The weights behind a server are not visible to mstk: no hash to report.
        return {"backend": self.name, "model": self.model, "model_sha256": None, "scripted": False}

    def max_context(self) -> int | None:
        return self._max_context

    def count_tokens(self, messages: Sequence[Mapping[str, Any]] | str) -> int:
        """With ``--tokenizer tokenizer.json``: the tokenizer's count of the contents (plus 4
        per message for the chat template's markers); else ⌈chars/3⌉, conservative."""
        self.ensure_loaded()
        if self._tokenizer is None:
            return super().count_tokens(messages)
        if isinstance(messages, str):
            return len(self._tokenizer.encode(messages, add_special_tokens=False).ids)
        return sum(len(self._tokenizer.encode(str(m.get("content", "")), add_special_tokens=False).ids) + 4 for m in messages)

    # ----------------------------------------------------------------- requests

    def request_body(self, request: GenerationRequest) -> dict[str, Any]:
        """The JSON body for one request; settings at their defaults that some servers do
        not know (seed unset, no stop strings, n = 1) are left out."""
        body: dict[str, Any] = {"model": self.model}
        if request.messages is not None:
            body["messages"] = request.messages
        else:
            body["prompt"] = request.prompt
        body.update(max_tokens=request.max_tokens, temperature=request.temperature, top_p=request.top_p)
        if request.seed is not None:
            body["seed"] = request.seed
        if request.stop:
            body["stop"] = request.stop
        if request.n != 1:
            body["n"] = request.n
        return body

    def complete(self, request: GenerationRequest, cancel: threading.Event) -> GenerationResult:
        path = "/chat/completions" if request.kind == "chat" else "/completions"
        body = self.request_body(request)
        try:
            document = self._post(path, body, cancel)
        except _Rejected as rejected:
            hint = FATAL_STATUS.get(rejected.status)
            if hint is not None:
                raise GeneratorError(f"POST {self._url(path)}: HTTP {rejected.status}: {rejected.message} ({hint})") from None
            return GenerationResult.failed(request.id, f"HTTP {rejected.status}: {rejected.message}")
        choices = self._parse_choices(document, path, request)
        usage = self._parse_usage(document, request, choices)
        return GenerationResult.from_choices(request.id, choices, usage)

    def _parse_choices(self, document: Any, path: str, request: GenerationRequest) -> list[Choice]:
        where = f"malformed response from POST {self._url(path)}"
        if not isinstance(document, dict):
            raise GeneratorError(f"{where}: expected a JSON object, got {type(document).__name__}")
        raw = document.get("choices")
        if not isinstance(raw, list) or not raw:
            error = document.get("error")
            if error:
                raise GeneratorError(f"{where}: the server sent an error with status 200: {_error_text(error)}")
            raise GeneratorError(f"{where}: no 'choices' list")
        entries = []
        for position, choice in enumerate(raw):
            if not isinstance(choice, dict):
                raise GeneratorError(f"{where}: choices[{position}] is not an object")
            if request.kind == "chat":
                message = choice.get("message")
                if not isinstance(message, dict) or "content" not in message:
                    raise GeneratorError(f"{where}: choices[{position}] has no 'message' with a 'content' field")
                text = message["content"]
                if text is None:  # a reply with tool calls only, or reasoning only
                    text = ""
            else:
                text = choice.get("text")
            if not isinstance(text, str):
                field = "message.content" if request.kind == "chat" else "text"
                raise GeneratorError(f"{where}: choices[{position}].{field} is missing or not a string")
            index = choice.get("index", position)
            entries.append((index if isinstance(index, int) else position, Choice(text, _finish_reason(choice.get("finish_reason")))))
        entries.sort(key=lambda pair: pair[0])
        if len(entries) < request.n:
            raise GeneratorCapabilityError(f"asked {self._url(path)} for n={request.n} completions and got {len(entries)}: "
                                           "the server does not support n; send separate requests with different seeds")
        return [choice for _, choice in entries[: request.n]]

    def _parse_usage(self, document: dict[str, Any], request: GenerationRequest, choices: list[Choice]) -> TokenUsage:
        usage = document.get("usage")
        if isinstance(usage, dict):
            prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens")
            if isinstance(prompt, int) and isinstance(completion, int):
                return TokenUsage(prompt, completion)
        # No usage from the server (some do not send it): count it ourselves, and say so.
        prompt_tokens = self.count_tokens(request.messages if request.messages is not None else request.prompt or "")
        completion_tokens = sum(self.count_tokens(choice.text) for choice in choices)
        return TokenUsage(prompt_tokens, completion_tokens, estimated=True)

    # ----------------------------------------------------------------- scoring

    def logprob_one(self, prompt: str, continuation: str, cancel: threading.Event) -> float:
        """Echo prompt+continuation through ``/completions`` with ``logprobs`` and sum the
        log-probs of the tokens after the prompt: every token that ends past the prompt's
        last character, so a token merged across the boundary counts with the continuation
        (the server's token ids are not available to split it). Tokens the server
        generated after the echoed text are ignored."""
        if not prompt:
            raise ParameterError("logprob needs a non-empty prompt (the first token has no log-prob)")
        full = prompt + continuation
        body = {"model": self.model, "prompt": full, "max_tokens": 1, "temperature": 0.0, "echo": True, "logprobs": 1}
        url = self._url("/completions")
        try:
            document = self._post("/completions", body, cancel)
        except _Rejected as rejected:
            hint = FATAL_STATUS.get(rejected.status)
            if rejected.status in (401, 403):
                raise GeneratorError(f"POST {url}: HTTP {rejected.status}: {rejected.message} ({hint})") from None
            raise GeneratorCapabilityError(f"POST {url} with echo+logprobs: HTTP {rejected.status}: {rejected.message}: "
                                           "this server cannot score text; use --feedback metric") from None
        unsupported = GeneratorCapabilityError(f"{url} did not return echoed prompt log-probs: this server cannot score text; "
                                               "use --feedback metric")
        try:
            logprobs = document["choices"][0]["logprobs"]
            tokens, values = logprobs["tokens"], logprobs["token_logprobs"]
        except (KeyError, IndexError, TypeError):
            raise unsupported from None
        if not isinstance(tokens, list) or not isinstance(values, list) or len(tokens) != len(values):
            raise unsupported
        offsets = logprobs.get("text_offset")
        if not isinstance(offsets, list) or len(offsets) != len(tokens):
            offsets, position = [], 0
            for token in tokens:
                offsets.append(position)
                position += len(token) if isinstance(token, str) else 0
        if not continuation:
            return 0.0
        total, scored = 0.0, 0
        for token, start, value in zip(tokens, offsets, values):
            if not isinstance(token, str) or not isinstance(start, int):
                raise unsupported
            if start >= len(full) or start + len(token) <= len(prompt):
                continue  # generated after the text, or entirely inside the prompt
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                raise GeneratorError(f"malformed response from POST {url}: no log-prob for continuation token {token!r}")
            total += float(value)
            scored += 1
        if scored == 0:
            raise unsupported
        return total

    # ----------------------------------------------------------------- HTTP

    def _url(self, path: str) -> str:
        return f"{self.base_url}{path}{self._query}"

    def _post(self, path: str, body: dict[str, Any], cancel: threading.Event) -> Any:
        """POST ``body`` with retries; the parsed JSON of a 2xx answer, or _Rejected."""
        data = canonical_json(body)
        url = self._url(path)
        headers = {"Content-Type": "application/json", "Accept": "application/json", "User-Agent": _user_agent()}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        jitter = random.Random(f"{url}\n{data.decode()}")
        attempt = 0
        while True:
            if cancel.is_set():
                raise Cancelled()
            retry_after = None
            try:
                status, response_headers, payload = self._send(path, data, headers)
            except TimeoutError:
                problem = f"no response within --timeout {self.timeout:g} s"
            except OSError as exc:
                import ssl

                if isinstance(exc, ssl.SSLCertVerificationError):
                    raise GeneratorError(f"POST {url}: TLS certificate check failed: {exc.verify_message}") from None
                problem = f"connection failed: {_oserror_text(exc)}"
            except http.client.HTTPException as exc:  # bad status line, incomplete read
                problem = f"broken HTTP response: {type(exc).__name__}: {exc}"
            else:
                if 200 <= status < 300:
                    try:
                        return orjson.loads(payload)
                    except orjson.JSONDecodeError as exc:
                        raise GeneratorError(f"malformed response from POST {url}: not JSON ({exc}); "
                                             f"it starts {payload[:120]!r}") from None
                message = _error_message(payload)
                if status not in RETRYABLE_STATUS and status < 500:
                    raise _Rejected(status, message)
                problem = f"HTTP {status}: {message}"
                retry_after = _retry_after(response_headers.get("Retry-After"))
            if attempt >= self.max_retries:
                raise GeneratorError(f"POST {url}: {problem} (gave up after {attempt + 1} attempt"
                                     f"{'s' if attempt else ''}; --max-retries {self.max_retries})")
            if retry_after is not None:
                delay = min(retry_after, MAX_RETRY_AFTER)
            else:
                step = min(self.retry_max_delay, self.retry_delay * 2.0 ** attempt)
                delay = step / 2 + jitter.random() * step / 2
            self.usage.add(retries=1)
            attempt += 1
            if cancel.wait(delay):
                raise Cancelled()

    def _send(self, path: str, data: bytes, headers: Mapping[str, str]) -> tuple[int, Any, bytes]:
        if self._scheme == "https":
            import ssl

            connection: http.client.HTTPConnection = http.client.HTTPSConnection(
                self._host, self._port, timeout=self.timeout, context=ssl.create_default_context())
        else:
            connection = http.client.HTTPConnection(self._host, self._port, timeout=self.timeout)
        try:
            connection.request("POST", f"{self._prefix}{path}{self._query}", body=data, headers=dict(headers))
            response = connection.getresponse()
            payload = response.read()
            return response.status, response.headers, payload
        finally:
            connection.close()


def _finish_reason(value: Any) -> str:
    # OpenAI-style servers say stop, length, eos, tool_calls, content_filter or null; the
    # interface knows stop|length|error, and only "length" means the text was cut short.
    return "length" if value == "length" else "stop"


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header: delta-seconds (decimals accepted) or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when is None:
            return None
        seconds = when.timestamp() - time.time()
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def _error_message(payload: bytes) -> str:
    """The server's own words: ``{"error": {"message": …}}``, ``{"error": "…"}``, ``{"message": …}``
    or the start of the body."""
    try:
        document = orjson.loads(payload)
    except orjson.JSONDecodeError:
        text = payload[:200].decode("utf-8", "replace").strip()
        return " ".join(text.split()) or "(empty body)"
    if isinstance(document, dict):
        if document.get("error"):
            return _error_text(document["error"])
        if isinstance(document.get("message"), str):
            return document["message"]
        if isinstance(document.get("detail"), str):
            return document["detail"]
    return orjson.dumps(document)[:200].decode("utf-8", "replace")


def _error_text(error: Any) -> str:
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return error["message"]
    return error if isinstance(error, str) else orjson.dumps(error)[:200].decode("utf-8", "replace")


def _oserror_text(exc: OSError) -> str:
    return exc.strerror or str(exc) or type(exc).__name__


def _user_agent() -> str:
    from mstk import __version__

    return f"mstk/{__version__}"
