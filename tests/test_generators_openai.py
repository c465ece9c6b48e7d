"""The ``openai`` generator and ``mstk generate`` against a real HTTP server on 127.0.0.1
(specs/generators.md §Tests): answers, retries on 429 (Retry-After) and 5xx, timeouts,
malformed and truncated responses, auth and request errors, the response cache (hits on a
rerun, resume after a failed or killed run), deterministic request bodies, the
concurrency bound, log-probs and bad input lines."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from mstk import hookimpl
from mstk.errors import ParameterError
from mstk.generators import (
    Choice,
    GenerationRequest,
    GenerationResult,
    Generator,
    GeneratorCapabilityError,
    GeneratorError,
    OpenAIGenerator,
    TokenUsage,
)
from mstk.generators.cache import ResponseCache, request_key
from mstk.generators.openai_compat import _retry_after
from mstk.plugins import generators
from mstk.testing import fresh_plugin_manager, run_cli

REPO_ROOT = Path(__file__).resolve().parent.parent
MODEL = "test-model"


# --------------------------------------------------------------------------- the stand-in server


class ScriptedServer:
    """TEST STAND-IN — scripted, not an LLM. An OpenAI-compatible HTTP server on
    127.0.0.1 (ephemeral port) that answers ``/v1/chat/completions`` and
    ``/v1/completions`` by fixed rules, so the tests can check the client's behaviour:

    - normal answers: ``"echo: " + the last user message (or the prompt)``, cut to
      ``max_tokens`` words (``finish_reason: length`` when cut), ``n`` choices, usage in
      words; ``echo`` + ``logprobs`` give one token per word, log-prob ``-0.1 * len(token)``;
    - scripted behaviours per prompt, consumed in order (``plan``): an HTTP status with
      headers and body, a slow answer, a hang until the test ends, malformed JSON, missing
      fields, a truncated body, one choice only, no usage, no log-probs.

    It records every request (path, raw body, headers) and the most requests in flight.
    """

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.plans: dict[str, list[Any]] = {}
        self.delays: dict[str, float] = {}
        self.default_delay = 0.0
        self.in_flight = 0
        self.max_in_flight = 0
        self.lock = threading.Lock()
        self.release = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                with server.lock:
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                self.counted = True
                try:
                    server.handle(self)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout) or was killed
                finally:
                    self.leave()

            def leave(self) -> None:
                # Called before a response goes out (see `send`): once the client has its
                # answer it may send the next request, and that one must not be counted
                # alongside a handler that is merely finishing up.
                if getattr(self, "counted", False):
                    self.counted = False
                    with server.lock:
                        server.in_flight -= 1

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def plan(self, key: str, *behaviours: Any) -> None:
        self.plans.setdefault(key, []).extend(behaviours)

    def bodies(self) -> list[dict[str, Any]]:
        return [r["json"] for r in self.received]

    def keys(self) -> list[str]:
        return [_key(r["json"]) for r in self.received]

    def stop(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    # ----------------------------------------------------------------- behaviour

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        raw = handler.rfile.read(int(handler.headers.get("Content-Length", 0)))
        body = json.loads(raw)
        key = _key(body)
        with self.lock:
            self.received.append({"path": handler.path, "raw": raw, "json": body, "headers": dict(handler.headers)})
            queue = self.plans.get(key)
            behaviour = queue.pop(0) if queue else "ok"
        delay = self.delays.get(key, self.default_delay)
        if delay:
            time.sleep(delay)
        if isinstance(behaviour, tuple) and behaviour[0] == "status":
            _, status, headers, payload = behaviour
            return self.send(handler, status, json.dumps(payload).encode(), headers)
        if isinstance(behaviour, tuple) and behaviour[0] == "slow":
            time.sleep(behaviour[1])
            behaviour = "ok"
        if behaviour == "hang":
            self.release.wait(60)
            return
        if behaviour == "nousage":
            document = self.answer(handler.path, body, "ok")
            del document["usage"]
            return self.send(handler, 200, json.dumps(document).encode())
        if behaviour == "malformed":
            return self.send(handler, 200, b'{"choices": [{"message": ')
        if behaviour == "missing":
            return self.send(handler, 200, json.dumps({"choices": [{"index": 0, "finish_reason": "stop"}]}).encode())
        if behaviour == "truncated":
            handler.send_response(200)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", "500")
            handler.end_headers()
            handler.wfile.write(b'{"choices": [')
            handler.wfile.flush()
            handler.close_connection = True
            return
        return self.send(handler, 200, json.dumps(self.answer(handler.path, body, behaviour)).encode())

    def answer(self, path: str, body: dict[str, Any], behaviour: str) -> dict[str, Any]:
        if path.endswith("/completions") and body.get("echo"):
            return self.echo_logprobs(body, behaviour)
        source = _key(body)
        words = ("echo: " + source).split()
        cut = words[: body["max_tokens"]]
        n = 1 if behaviour == "one_choice" else body.get("n", 1)
        choices = []
        for i in range(n):
            text = " ".join(cut) + (f" #{i}" if body.get("n", 1) > 1 else "")
            reason = "length" if len(cut) < len(words) else "stop"
            if path.endswith("/chat/completions"):
                choices.append({"index": i, "message": {"role": "assistant", "content": text}, "finish_reason": reason})
            else:
                choices.append({"index": i, "text": text, "finish_reason": reason})
        return {"id": "cmpl-1", "object": "chat.completion", "model": body["model"], "choices": choices,
                "usage": {"prompt_tokens": len(source.split()), "completion_tokens": len(cut) * n,
                          "total_tokens": len(source.split()) + len(cut) * n}}

    def echo_logprobs(self, body: dict[str, Any], behaviour: str) -> dict[str, Any]:
        text = body["prompt"]
        tokens = re.findall(r"\s*\S+", text) + [" end"]
        offsets, position = [], 0
        for token in tokens:
            offsets.append(position)
            position += len(token)
        values = [None] + [-0.1 * len(token) for token in tokens[1:]]
        choice: dict[str, Any] = {"index": 0, "text": text + " end", "finish_reason": "length"}
        if behaviour != "nologprobs":
            choice["logprobs"] = {"tokens": tokens, "token_logprobs": values, "text_offset": offsets}
        else:
            choice["logprobs"] = None
        return {"choices": [choice], "usage": {"prompt_tokens": len(tokens) - 1, "completion_tokens": 1}}

    @staticmethod
    def send(handler: BaseHTTPRequestHandler, status: int, payload: bytes, headers: dict[str, str] | None = None) -> None:
        handler.leave()  # type: ignore[attr-defined]
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(payload)


def _key(body: dict[str, Any]) -> str:
    if "messages" in body:
        return body["messages"][-1]["content"]
    return body["prompt"]


@pytest.fixture
def server():
    stand_in = ScriptedServer()
    yield stand_in
    stand_in.stop()


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    return tmp_path / "cache"


def client(server: ScriptedServer, cache_dir: Path, **options: Any) -> OpenAIGenerator:
    settings = {"base_url": server.url, "model": MODEL, "cache_dir": str(cache_dir), "retry_delay": 0.01,
                "retry_max_delay": 0.05, "timeout": 5.0, **options}
    return OpenAIGenerator(**settings)


def chat(content: str, **fields: Any) -> GenerationRequest:
    return GenerationRequest(messages=[{"role": "user", "content": content}], **fields)


# --------------------------------------------------------------------------- CLI helpers


def cli_env(cache_dir: Path, **extra: str) -> dict[str, str | None]:
    env: dict[str, str | None] = {name: None for name in os.environ if name.startswith("MSTK_")}
    env["MSTK_CACHE_DIR"] = str(cache_dir)
    env.update(extra)
    return env


def write_jsonl(path: Path, records: list[Any]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records), encoding="utf-8")
    return path


def generate_cli(server: ScriptedServer, cache_dir: Path, input_path: Path, *args: str, env: dict | None = None):
    options = ["generate", str(input_path), "--generator", "openai", "--base-url", server.url, "--model", MODEL,
               "--retry-delay", "0.01", "--retry-max-delay", "0.05", *args]
    return run_cli(options, env=cli_env(cache_dir, **(env or {})))


def outputs(result) -> list[dict[str, Any]]:
    return [json.loads(line) for line in result.stdout.decode().splitlines() if line.strip()]


def summary(result) -> dict[str, Any]:
    return json.loads(result.stderr.decode().strip().splitlines()[-1])


def prompts_file(tmp_path: Path, count: int, name: str = "in.jsonl") -> Path:
    return write_jsonl(tmp_path / name, [{"id": f"q{i}", "messages": [{"role": "user", "content": f"p{i}"}]} for i in range(count)])


# --------------------------------------------------------------------------- registry and answers


def test_openai_is_a_registered_generator() -> None:
    registry = generators(fresh_plugin_manager())
    assert registry["openai"] is OpenAIGenerator
    assert issubclass(OpenAIGenerator, Generator)


def test_chat_and_prompt_requests_go_to_their_endpoints(server, cache_dir) -> None:
    gen = client(server, cache_dir)
    results = gen.generate([chat("hello there", id="a"), GenerationRequest(id="b", prompt="once upon", max_tokens=2)])
    assert [r.id for r in results] == ["a", "b"]
    assert results[0].text == "echo: hello there" and results[0].finish_reason == "stop"
    assert results[1].text == "echo: once" and results[1].finish_reason == "length"
    assert (results[0].usage.prompt_tokens, results[0].usage.completion_tokens) == (2, 3)
    assert sorted((r["path"], _key(r["json"])) for r in server.received) == [
        ("/v1/chat/completions", "hello there"), ("/v1/completions", "once upon")]
    assert gen.info() == {"backend": "openai", "model": MODEL, "model_sha256": None, "scripted": False}
    stats = gen.usage.as_dict()
    assert (stats["requests"], stats["cache_hits"], stats["retries"], stats["prompt_tokens"]) == (2, 0, 0, 4)


def test_request_bodies_are_deterministic_bytes(server, tmp_path, cache_dir) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [{"messages": [{"role": "user", "content": "hi"}]}, {"prompt": "x"}])
    for _ in range(2):
        assert generate_cli(server, cache_dir, source, "--no-cache", "--concurrency", "1").exit_code == 0
    raws = [r["raw"] for r in server.received]
    assert raws[:2] == raws[2:]
    assert raws[0] == (b'{"max_tokens":64,"messages":[{"content":"hi","role":"user"}],"model":"test-model",'
                       b'"seed":0,"temperature":0.0,"top_p":1.0}')
    assert raws[1] == b'{"max_tokens":64,"model":"test-model","prompt":"x","seed":0,"temperature":0.0,"top_p":1.0}'


def test_records_override_sampling_settings(server, tmp_path, cache_dir) -> None:
    record = {"prompt": "a b c", "max_tokens": 5, "temperature": 0.7, "top_p": 0.9, "seed": 3, "stop": ["\n"], "n": 2}
    result = generate_cli(server, cache_dir, write_jsonl(tmp_path / "in.jsonl", [record]))
    assert result.exit_code == 0, result.stderr
    assert server.received[0]["raw"] == (b'{"max_tokens":5,"model":"test-model","n":2,"prompt":"a b c","seed":3,'
                                         b'"stop":["\\n"],"temperature":0.7,"top_p":0.9}')
    [out] = outputs(result)
    assert [c["text"] for c in out["generation"]["choices"]] == ["echo: a b c #0", "echo: a b c #1"]
    assert out["generation"]["text"] == "echo: a b c #0"


def test_api_key_is_sent_as_a_bearer_token_only_when_given(server, cache_dir) -> None:
    client(server, cache_dir, api_key="sk-test", cache=False).generate([chat("k")])
    client(server, cache_dir, cache=False).generate([chat("k")])
    assert server.received[0]["headers"]["Authorization"] == "Bearer sk-test"
    assert "Authorization" not in server.received[1]["headers"]


def test_environment_configures_the_server(server, tmp_path, cache_dir, monkeypatch) -> None:
    source = prompts_file(tmp_path, 1)
    env = cli_env(cache_dir, MSTK_OPENAI_BASE_URL=server.url, MSTK_OPENAI_MODEL="env-model", MSTK_OPENAI_API_KEY="sk-env")
    result = run_cli(["generate", str(source), "--generator", "openai"], env=env)
    assert result.exit_code == 0, result.stderr
    assert server.received[0]["json"]["model"] == "env-model"
    assert server.received[0]["headers"]["Authorization"] == "Bearer sk-env"
    assert outputs(result)[0]["generator"]["model"] == "env-model"


def test_a_missing_server_or_model_is_a_usage_error(tmp_path, cache_dir) -> None:
    source = prompts_file(tmp_path, 1)
    result = run_cli(["generate", str(source), "--generator", "openai", "--model", "m"], env=cli_env(cache_dir))
    assert result.exit_code == 2
    assert b"needs a server: pass --base-url or set MSTK_OPENAI_BASE_URL" in result.stderr
    result = run_cli(["generate", str(source), "--generator", "openai", "--base-url", "http://127.0.0.1:9/v1"], env=cli_env(cache_dir))
    assert result.exit_code == 2 and b"pass --model or set MSTK_OPENAI_MODEL" in result.stderr


def test_unknown_generator_is_a_usage_error(tmp_path, cache_dir) -> None:
    source = prompts_file(tmp_path, 1)
    result = run_cli(["generate", str(source), "--generator", "nope"], env=cli_env(cache_dir))
    assert result.exit_code == 2 and b"unknown generator 'nope'" in result.stderr and b"openai" in result.stderr


# --------------------------------------------------------------------------- retries and failures


def test_429_waits_for_retry_after_then_succeeds(server, cache_dir) -> None:
    server.plan("busy", ("status", 429, {"Retry-After": "1"}, {"error": {"message": "slow down"}}))
    gen = client(server, cache_dir, retry_delay=0.01)
    started = time.perf_counter()
    [result] = gen.generate([chat("busy")])
    elapsed = time.perf_counter() - started
    assert result.text == "echo: busy"
    assert elapsed >= 0.95, "Retry-After: 1 must be honoured over the 0.01 s backoff"
    assert gen.usage.retries == 1 and len(server.received) == 2


def test_500_then_success_counts_one_retry(server, tmp_path, cache_dir) -> None:
    server.plan("p0", ("status", 500, {}, {"error": {"message": "boom"}}))
    result = generate_cli(server, cache_dir, prompts_file(tmp_path, 2))
    assert result.exit_code == 0, result.stderr
    assert [o["generation"]["text"] for o in outputs(result)] == ["echo: p0", "echo: p1"]
    stats = summary(result)
    assert (stats["retries"], stats["requests"], stats["cache_hits"]) == (1, 2, 0)
    assert len(server.received) == 3


def test_retries_run_out_with_a_clear_error(server, cache_dir) -> None:
    server.plan("down", *[("status", 503, {}, {"error": {"message": "overloaded"}})] * 3)
    gen = client(server, cache_dir, max_retries=2)
    with pytest.raises(GeneratorError, match=r"/v1/chat/completions: HTTP 503: overloaded \(gave up after 3 attempts; --max-retries 2\)"):
        gen.generate([chat("down")])
    assert len(server.received) == 3 and gen.usage.retries == 2


def test_a_truncated_body_is_retried(server, cache_dir) -> None:
    server.plan("cut", "truncated")
    gen = client(server, cache_dir)
    [result] = gen.generate([chat("cut")])
    assert result.text == "echo: cut" and gen.usage.retries == 1


def test_a_slow_server_times_out_with_a_clear_error(server, tmp_path, cache_dir) -> None:
    server.plan("p0", ("slow", 3), ("slow", 3))
    gen = client(server, cache_dir, timeout=0.3, max_retries=1)
    started = time.perf_counter()
    with pytest.raises(GeneratorError, match=r"no response within --timeout 0\.3 s \(gave up after 2 attempts; --max-retries 1\)"):
        gen.generate([chat("p0")])
    assert time.perf_counter() - started < 2.5
    assert len(server.received) == 2 and gen.usage.retries == 1

    server.plan("p0", ("slow", 3), ("slow", 3))
    result = generate_cli(server, cache_dir, prompts_file(tmp_path, 1), "--timeout", "0.3", "--max-retries", "1")
    assert result.exit_code == 1
    assert re.fullmatch(rb"Error: POST http://127\.0\.0\.1:\d+/v1/chat/completions: no response within --timeout 0\.3 s "
                        rb"\(gave up after 2 attempts; --max-retries 1\)\n", result.stderr)


def test_connection_refused_is_retried_then_reported(cache_dir) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    gen = OpenAIGenerator(base_url=f"http://127.0.0.1:{port}/v1", model=MODEL, cache_dir=str(cache_dir),
                          retry_delay=0.01, max_retries=1)
    with pytest.raises(GeneratorError, match=r"connection failed: .*\(gave up after 2 attempts"):
        gen.generate([chat("x")])
    assert gen.usage.retries == 1


def test_malformed_json_is_an_error_without_retry(server, cache_dir) -> None:
    server.plan("bad", "malformed")
    with pytest.raises(GeneratorError, match=r"malformed response from POST http://127\.0\.0\.1:\d+/v1/chat/completions: not JSON"):
        client(server, cache_dir).generate([chat("bad")])
    assert len(server.received) == 1


def test_missing_fields_are_an_error(server, cache_dir) -> None:
    server.plan("bad", "missing")
    with pytest.raises(GeneratorError, match=r"malformed response .*: choices\[0\] has no 'message' with a 'content' field"):
        client(server, cache_dir).generate([chat("bad")])
    server.plan("bad", "missing")
    with pytest.raises(GeneratorError, match=r"malformed response .*/v1/completions: choices\[0\]\.text is missing"):
        client(server, cache_dir).generate([GenerationRequest(prompt="bad")])
    server.plan("bad", ("status", 200, {}, {"error": {"message": "model crashed"}}))
    with pytest.raises(GeneratorError, match=r"the server sent an error with status 200: model crashed"):
        client(server, cache_dir).generate([chat("bad")])


def test_401_stops_the_run_with_a_hint(server, tmp_path, cache_dir) -> None:
    server.plan("p0", ("status", 401, {}, {"error": {"message": "invalid api key"}}))
    result = generate_cli(server, cache_dir, prompts_file(tmp_path, 1), "--api-key", "wrong")
    assert result.exit_code == 1
    assert re.fullmatch(rb"Error: POST http://127\.0\.0\.1:\d+/v1/chat/completions: HTTP 401: invalid api key "
                        rb"\(check --api-key / MSTK_OPENAI_API_KEY\)\n", result.stderr)
    assert len(server.received) == 1


def test_a_rejected_request_is_a_bad_line(server, tmp_path, cache_dir) -> None:
    for _ in range(3):
        server.plan("p1", ("status", 400, {}, {"error": {"message": "prompt is too long"}}))
    gen = client(server, cache_dir)
    results = gen.generate([chat("p0"), chat("p1")])
    assert results[1].finish_reason == "error" and results[1].error == "HTTP 400: prompt is too long"
    assert gen.usage.errors == 1

    source = prompts_file(tmp_path, 3)
    result = generate_cli(server, cache_dir, source)
    assert result.exit_code == 1
    assert result.stderr.decode() == f"Error: {source}:2: the openai generator rejected this request: HTTP 400: prompt is too long\n"

    result = generate_cli(server, cache_dir, source, "--on-error", "skip")
    assert result.exit_code == 1
    assert f"skipped {source}:2: the openai generator rejected this request" in result.stderr.decode()
    records = outputs(result)
    assert [r["id"] for r in records] == ["q0", "q1", "q2"]
    assert records[1]["generation"]["finish_reason"] == "error" and records[1]["generation"]["error"].startswith("HTTP 400")
    assert records[0]["generation"]["cached"] and records[2]["generation"]["cached"]  # errors are never cached, answers are


# --------------------------------------------------------------------------- cache and resume


def test_a_rerun_is_answered_from_the_cache(server, tmp_path, cache_dir) -> None:
    source = prompts_file(tmp_path, 4)
    first = generate_cli(server, cache_dir, source)
    assert first.exit_code == 0, first.stderr
    assert len(server.received) == 4
    second = generate_cli(server, cache_dir, source)
    assert second.exit_code == 0
    assert len(server.received) == 4, "the server must see no request on the rerun"
    assert [o["generation"]["text"] for o in outputs(second)] == [o["generation"]["text"] for o in outputs(first)]
    assert all(o["generation"]["cached"] for o in outputs(second)) and not any(o["generation"]["cached"] for o in outputs(first))
    assert (summary(second)["cache_hits"], summary(second)["requests"]) == (4, 0)
    assert (cache_dir / "generations" / "responses.sqlite3").is_file()
    assert generate_cli(server, cache_dir, source, "--no-cache").exit_code == 0
    assert len(server.received) == 8


def test_a_failed_run_resumes_with_only_the_missing_requests(server, tmp_path, cache_dir) -> None:
    source = prompts_file(tmp_path, 6)
    server.plan("p3", "malformed")
    first = generate_cli(server, cache_dir, source, "--concurrency", "1")
    assert first.exit_code == 1 and b"malformed response" in first.stderr
    assert server.keys() == ["p0", "p1", "p2", "p3"]
    second = generate_cli(server, cache_dir, source, "--concurrency", "2")
    assert second.exit_code == 0, second.stderr
    assert sorted(server.keys()[4:]) == ["p3", "p4", "p5"]
    records = outputs(second)
    assert [r["id"] for r in records] == [f"q{i}" for i in range(6)]
    assert [r["generation"]["cached"] for r in records] == [True] * 3 + [False] * 3
    assert (summary(second)["cache_hits"], summary(second)["requests"]) == (3, 3)


def test_a_killed_run_resumes_with_only_the_missing_requests(server, tmp_path, cache_dir) -> None:
    source = prompts_file(tmp_path, 5)
    server.plan("p2", "hang")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MSTK_")}
    env["MSTK_CACHE_DIR"] = str(cache_dir)
    out = tmp_path / "out.jsonl"
    process = subprocess.Popen([sys.executable, "-m", "mstk", "generate", str(source), "-o", str(out), "--generator", "openai",
                                "--base-url", server.url, "--model", MODEL, "--concurrency", "1"],
                               env=env, cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while len(server.received) < 3 and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.05)
        assert server.keys() == ["p0", "p1", "p2"], process.stderr.read() if process.poll() is not None else ""
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(30)
        process.stderr.close()
    result = generate_cli(server, cache_dir, source)
    assert result.exit_code == 0, result.stderr
    assert sorted(server.keys()[3:]) == ["p2", "p3", "p4"]
    assert [r["generation"]["text"] for r in outputs(result)] == [f"echo: p{i}" for i in range(5)]


def test_cache_keys_follow_the_request_not_its_id(server, cache_dir) -> None:
    gen = client(server, cache_dir)
    gen.generate([chat("same", id=1)])
    [hit] = gen.generate([chat("same", id=2)])
    assert hit.cached and hit.id == 2 and len(server.received) == 1
    gen.generate([chat("same", temperature=0.5)])
    gen.generate([chat("same", seed=7)])
    assert len(server.received) == 3
    other = client(server, cache_dir, model="other-model")
    other.generate([chat("same", id=1)])
    assert len(server.received) == 4
    namespace = {"backend": "openai", "model": MODEL, "model_sha256": None}
    assert request_key("generate", namespace, chat("a").canonical()) == request_key("generate", namespace, chat("a", id=9).canonical())
    assert len(ResponseCache(cache_dir)) == 4


def test_identical_requests_in_one_run_are_sent_once(server, tmp_path, cache_dir) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [{"id": i, "prompt": "same"} for i in range(3)])
    result = generate_cli(server, cache_dir, source)
    assert result.exit_code == 0
    assert len(server.received) == 1
    assert [r["generation"]["text"] for r in outputs(result)] == ["echo: same"] * 3
    assert summary(result)["requests"] == 1


# --------------------------------------------------------------------------- concurrency and order


def test_concurrency_is_bounded_and_order_is_kept(server, tmp_path, cache_dir) -> None:
    count = 9
    server.default_delay = 0.15
    for i in range(count):
        server.delays[f"p{i}"] = 0.05 * (count - i)  # later requests finish first
    result = generate_cli(server, cache_dir, prompts_file(tmp_path, count), "--concurrency", "3")
    assert result.exit_code == 0, result.stderr
    assert server.max_in_flight == 3
    assert [r["id"] for r in outputs(result)] == [f"q{i}" for i in range(count)]
    assert [r["generation"]["text"] for r in outputs(result)] == [f"echo: p{i}" for i in range(count)]


def test_concurrency_one_sends_one_at_a_time(server, cache_dir) -> None:
    server.default_delay = 0.05
    client(server, cache_dir, concurrency=1).generate([chat(f"c{i}") for i in range(4)])
    assert server.max_in_flight == 1 and server.keys() == ["c0", "c1", "c2", "c3"]


# --------------------------------------------------------------------------- output and input


def test_output_records_and_summary(server, tmp_path, cache_dir) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [{"id": "x", "prompt": "one two", "extra": [1, 2]}])
    out = tmp_path / "out.jsonl"
    result = generate_cli(server, cache_dir, source, "-o", str(out))
    assert result.exit_code == 0 and result.stdout == b""
    [record] = [json.loads(line) for line in out.read_text().splitlines()]
    assert record == {"id": "x", "prompt": "one two", "extra": [1, 2],
                      "generation": {"text": "echo: one two", "finish_reason": "stop",
                                     "usage": {"prompt_tokens": 2, "completion_tokens": 3}, "cached": False},
                      "generator": {"backend": "openai", "model": MODEL, "model_sha256": None, "scripted": False}}
    stats = summary(result)
    assert {k: stats[k] for k in ("command", "n_records", "requests", "cache_hits", "retries", "errors",
                                  "prompt_tokens", "completion_tokens", "skipped")} == {
        "command": "generate", "n_records": 1, "requests": 1, "cache_hits": 0, "retries": 0, "errors": 0,
        "prompt_tokens": 2, "completion_tokens": 3, "skipped": 0}
    assert stats["generator"]["backend"] == "openai" and stats["seconds"] >= 0


@pytest.mark.parametrize(("line", "reason"), [
    ("{not json", "invalid JSON"),
    ('{"id": 1}', "give exactly one of 'messages'"),
    ('{"prompt": "a", "messages": [{"role": "user", "content": "b"}]}', "give exactly one of 'messages'"),
    ('{"messages": [{"role": "user"}]}', r"messages\[0\]\.content must be a string"),
    ('{"prompt": "a", "temperature": "hot"}', "'temperature' must be a number >= 0"),
    ('{"prompt": "a", "max_tokens": 0}', "'max_tokens' must be an integer >= 1"),
    ('{"prompt": "a", "n": 2}', "'n' = 2 at temperature 0"),
    ("[1, 2]", "expected a JSON object"),
])
def test_bad_input_lines_name_file_and_line(server, tmp_path, cache_dir, line: str, reason: str) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [{"prompt": "fine"}, line])
    result = generate_cli(server, cache_dir, source)
    assert result.exit_code == 1
    assert re.match(rf"Error: {re.escape(str(source))}:2: .*{reason}", result.stderr.decode()), result.stderr
    assert server.received == [], "nothing is sent before the input is checked"


def test_skipped_input_lines_are_reported_and_the_rest_generated(server, tmp_path, cache_dir) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [{"prompt": "a"}, "{bad", {"prompt": "b"}])
    result = generate_cli(server, cache_dir, source, "--on-error", "skip")
    assert result.exit_code == 1
    assert [r["generation"]["text"] for r in outputs(result)] == ["echo: a", "echo: b"]
    assert summary(result)["skipped"] == 1


def test_n_above_one_needs_a_temperature(server, tmp_path, cache_dir) -> None:
    result = generate_cli(server, cache_dir, prompts_file(tmp_path, 1), "--n", "2")
    assert result.exit_code == 2 and b"n > 1 at temperature 0" in result.stderr


def test_a_server_without_n_support_is_a_capability_error(server, cache_dir) -> None:
    server.plan("many", "one_choice")
    with pytest.raises(GeneratorCapabilityError, match=r"n=3 completions and got 1"):
        client(server, cache_dir).generate([chat("many", n=3, temperature=0.8)])


# --------------------------------------------------------------------------- logprob


def test_logprob_sums_the_continuation_tokens(server, cache_dir) -> None:
    gen = client(server, cache_dir)
    scores = gen.logprob(["The cat", "The ca"], [" sat on", "t sat"])
    # " sat" + " on" = -0.1*(4+3); the boundary case scores " cat" (merged across it) and " sat".
    assert scores == pytest.approx([-0.7, -0.8])
    [body] = [b for b in server.bodies() if b["prompt"] == "The cat sat on"]
    assert body == {"model": MODEL, "prompt": "The cat sat on", "max_tokens": 1, "temperature": 0.0, "echo": True, "logprobs": 1}
    assert gen.logprob_many("The cat", [" sat on"]) == pytest.approx([-0.7])
    assert len(server.received) == 2, "the repeated pair comes from the cache"


def test_logprob_without_server_support_is_a_capability_error(server, cache_dir) -> None:
    server.plan("The cat sat", "nologprobs")
    with pytest.raises(GeneratorCapabilityError, match="cannot score text; use --feedback metric"):
        client(server, cache_dir).logprob(["The cat"], [" sat"])
    server.plan("The dog sat", ("status", 400, {}, {"error": {"message": "echo is not supported"}}))
    with pytest.raises(GeneratorCapabilityError, match="HTTP 400: echo is not supported: this server cannot score text"):
        client(server, cache_dir).logprob(["The dog"], [" sat"])


# --------------------------------------------------------------------------- pieces


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    assert _retry_after("2") == 2.0
    assert _retry_after("0.5") == 0.5
    assert _retry_after(None) is None and _retry_after("soon") is None
    assert _retry_after("-3") == 0.0
    future = _retry_after(formatdate(time.time() + 30, usegmt=True))
    assert future is not None and 25 <= future <= 31


def test_token_counts_estimate_without_a_tokenizer(server, cache_dir) -> None:
    gen = client(server, cache_dir)
    assert gen.count_tokens("abcdefg") == 3
    assert gen.count_tokens([{"role": "user", "content": "hello"}]) == 4  # "user\nhello\n" = 11 chars
    assert gen.max_context() is None
    assert client(server, cache_dir, max_context=4096).max_context() == 4096


def test_usage_is_estimated_when_the_server_sends_none(server, cache_dir) -> None:
    server.plan("no usage here", "nousage")
    [result] = client(server, cache_dir).generate([GenerationRequest(prompt="no usage here")])
    # ceil(13/3) prompt tokens, ceil(len("echo: no usage here")/3) completion tokens
    assert result.usage.to_dict() == {"prompt_tokens": 5, "completion_tokens": 7, "estimated": True}


def test_token_counts_use_a_tokenizer_json_when_given(server, tmp_path, cache_dir) -> None:
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from tokenizers.pre_tokenizers import Whitespace

    tokenizer = Tokenizer(WordLevel({"[UNK]": 0, "a": 1, "b": 2}, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = Whitespace()
    path = tmp_path / "tokenizer.json"
    tokenizer.save(str(path))
    gen = client(server, cache_dir, tokenizer=str(path))
    assert gen.count_tokens("a b zzz") == 3
    assert gen.count_tokens([{"role": "user", "content": "a b"}, {"role": "assistant", "content": "b"}]) == 3 + 8
    with pytest.raises(ParameterError, match="--tokenizer .*: cannot load"):
        client(server, cache_dir, tokenizer=str(tmp_path / "in.jsonl")).ensure_loaded()


class RulesGenerator(Generator):
    """TEST STAND-IN — scripted, not an LLM: upper-cases the prompt."""

    name = "rules"
    scripted = True

    def info(self):
        return {"backend": self.name, "model": "upper-case rule", "model_sha256": None, "scripted": True}

    def complete(self, request, cancel):
        return GenerationResult.from_choices(request.id, [Choice((request.prompt or "").upper(), "stop")], TokenUsage(1, 1))


class RulesPlugin:
    @hookimpl
    def register_generators(self, register):
        register(RulesGenerator)


def test_a_plugin_generator_runs_through_generate_and_scripted_output_says_so(tmp_path, cache_dir) -> None:
    pm = fresh_plugin_manager(RulesPlugin())
    source = write_jsonl(tmp_path / "in.jsonl", [{"prompt": "abc"}])
    result = run_cli(["generate", str(source), "--generator", "rules"], pm=pm, env=cli_env(cache_dir))
    assert result.exit_code == 0, result.stderr
    [record] = outputs(result)
    assert record["generation"]["text"] == "ABC" and record["scripted"] is True and record["generator"]["scripted"] is True
    assert summary(result)["note"] == "SCRIPTED — not an LLM"
    # Options another back end takes are refused, not silently ignored.
    result = run_cli(["generate", str(source), "--generator", "rules", "--base-url", "http://x/v1"], pm=pm, env=cli_env(cache_dir))
    assert result.exit_code == 2 and b"--base-url does not apply to the rules generator" in result.stderr
    with pytest.raises(ParameterError, match="--timeout does not apply"):
        RulesGenerator.from_options({"timeout": 3.0, "model": None})


def test_a_generator_without_logprob_raises_a_capability_error(cache_dir) -> None:
    with pytest.raises(GeneratorCapabilityError, match="the rules generator cannot score text"):
        RulesGenerator(cache_dir=str(cache_dir)).logprob(["a"], ["b"])
