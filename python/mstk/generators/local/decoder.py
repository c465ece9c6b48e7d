"""Running an exported decoder: the files on disk, the onnxruntime session, decoding
and scoring. Needs only onnxruntime, tokenizers and jinja2.

One ``Decoder`` is shared by all worker threads (onnxruntime's ``run`` is thread-safe).
Every request is decoded alone — no padding across requests — which keeps its output
independent of batching. With many requests each worker's calls run single-threaded
(N workers, N cores); a lone request gets a session with N intra-op threads instead.
onnxruntime splits these kernels over output columns, never over a sum, so the numbers
are the same either way (tests/test_generators_local.py checks it bit for bit).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from mstk.generators.base import GeneratorError


class ModelFilesError(GeneratorError):
    """The export is missing, stale or does not match its manifest."""


class UnrepresentableText(GeneratorError):
    """The text holds a character the tokenizer has no tokens for."""


@dataclass(frozen=True)
class ExportFiles:
    """A verified export directory (see export.py)."""

    root: Path
    config: dict[str, Any]
    manifest: dict[str, Any]

    @property
    def model_sha256(self) -> str:
        return self.manifest["files"]["model.onnx"]

    @classmethod
    def open(cls, root: Path, *, build_hint: str, verify: bool = True, files: tuple[str, ...] | None = None,
             export_format: int | None = None) -> ExportFiles:
        """Read the manifest and check every file's sha256 against it (a changed,
        truncated or missing file is a ModelFilesError naming the file). ``files`` and
        ``export_format`` default to the generator export's; other exports pass theirs."""
        from mstk.generators.local import export as generator_export
        from mstk.models import sha256_file

        wanted = files if files is not None else generator_export.FILES
        fmt = export_format if export_format is not None else generator_export.EXPORT_FORMAT

        root = Path(root)
        manifest_path = root / "manifest.json"
        if not manifest_path.is_file():
            raise ModelFilesError(f"no model export in {root}: run `{build_hint}`")
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
            listed = manifest["files"]
        except (ValueError, KeyError, TypeError) as exc:
            raise ModelFilesError(f"{manifest_path}: unreadable manifest ({exc}); run `{build_hint}` again") from None
        if manifest.get("export_format") != fmt:
            raise ModelFilesError(f"{root} was exported by another mstk (format {manifest.get('export_format')}, "
                                  f"this mstk reads {fmt}): run `{build_hint}` again")
        for name in wanted:
            path = root / name
            if name not in listed or not path.is_file():
                raise ModelFilesError(f"{path} is missing: run `{build_hint}` again")
            if verify and sha256_file(path) != listed[name]:
                raise ModelFilesError(f"{path} does not match its sha256 in manifest.json (changed or truncated): "
                                      f"run `{build_hint}` again")
        config = json.loads((root / "config.json").read_text(encoding="utf-8"))
        return cls(root, config, manifest)


class ChatTemplate:
    """The model's own Jinja chat template, rendered the way transformers renders it
    (sandboxed, trim_blocks and lstrip_blocks, ``add_generation_prompt``)."""

    def __init__(self, source: str) -> None:
        from jinja2.sandbox import ImmutableSandboxedEnvironment

        if not source.strip():
            raise ModelFilesError("the model has no chat template: send 'prompt' instead of 'messages'")
        env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
        self.source = source
        self._template = env.from_string(source)

    def render(self, messages: Sequence[dict[str, Any]], add_generation_prompt: bool = True) -> str:
        return self._template.render(messages=list(messages), add_generation_prompt=add_generation_prompt)


# --------------------------------------------------------------------------- sampling


def choose_token(logits: np.ndarray, temperature: float, top_p: float, rng: np.random.Generator | None) -> int:
    """Greedy at temperature 0 (argmax; ties go to the lowest id). Otherwise softmax of
    logits/temperature in float64, the nucleus = the fewest most-likely tokens whose mass
    reaches top_p (ordered by probability, then id), renormalised, one uniform draw."""
    if temperature == 0:
        return int(np.argmax(logits))
    assert rng is not None
    scaled = logits.astype(np.float64) / temperature
    probs = np.exp(scaled - scaled.max())
    probs /= probs.sum()
    if top_p < 1.0:
        order = np.lexsort((np.arange(probs.size), -probs))  # by probability desc, id asc
        cumulative = np.cumsum(probs[order])
        keep = order[: int(np.searchsorted(cumulative, top_p * cumulative[-1])) + 1]
        kept = probs[keep] / probs[keep].sum()
        return int(keep[min(int(np.searchsorted(np.cumsum(kept), rng.random(), side="right")), keep.size - 1)])
    cumulative = np.cumsum(probs)
    return int(min(int(np.searchsorted(cumulative, rng.random() * cumulative[-1], side="right")), probs.size - 1))


def log_softmax(logits: np.ndarray) -> np.ndarray:
    x = logits.astype(np.float64)
    x = x - x.max(axis=-1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))


# --------------------------------------------------------------------------- decoder


@dataclass
class DecodeJob:
    """One sequence to decode in ``generate_batch``."""

    prompt_ids: list[int]
    max_tokens: int
    temperature: float
    top_p: float
    rng: np.random.Generator | None
    stop: Sequence[str] = ()


@dataclass
class Generated:
    ids: list[int]
    finish_reason: str  # "stop" (stop token or string) or "length"
    text: str


class _SharedCache:
    """Per-layer KV buffers [rows, kv_heads, capacity, head_dim] that the fused graph's
    GroupQueryAttention reads and appends to in place (its past and present outputs are
    bound to the same memory), so a decoding step copies no cache. Row b holds
    ``lengths[b]`` valid positions; positions past that are never attended."""

    def __init__(self, decoder: Decoder, caches: Sequence[list[np.ndarray]], lengths: Sequence[int], capacity: int) -> None:
        import onnxruntime as ort

        self._ort = ort
        self.decoder = decoder
        self.lengths = np.asarray(lengths, np.int64)
        self.capacity = capacity
        self.arrays = []
        for layer in range(2 * decoder.n_layers):
            buffer = np.zeros((len(caches), decoder.n_kv, capacity, decoder.head_dim), np.float32)
            for row, cache in enumerate(caches):
                buffer[row, :, : lengths[row]] = cache[layer][0]
            self.arrays.append(buffer)
        self._wrap()

    def _wrap(self) -> None:
        self.values = [self._ort.OrtValue.ortvalue_from_numpy(a) for a in self.arrays]

    def keep_rows(self, rows: Sequence[int]) -> None:
        """Drop finished rows (one copy of the remaining ones)."""
        self.arrays = [np.ascontiguousarray(v.numpy()[list(rows)]) for v in self.values]
        self.lengths = self.lengths[list(rows)]
        self._wrap()

    def step(self, tokens: Sequence[int]) -> np.ndarray:
        """Append one token per row; the next-token logits [rows, vocab]."""
        if int(self.lengths.max()) + 1 > self.capacity:
            raise GeneratorError("the decoding cache is full")  # budgets are checked before; a bug if reached
        session = self.decoder.session_for(self.decoder.threads_per_call)
        width = int(self.lengths.max()) + 1
        binding = session.io_binding()
        binding.bind_cpu_input("input_ids", np.asarray(tokens, np.int64)[:, None])
        binding.bind_cpu_input("position_ids", self.lengths[:, None].copy())
        binding.bind_cpu_input("attention_mask", (np.arange(width)[None, :] <= self.lengths[:, None]).astype(np.int64))
        binding.bind_cpu_input("logit_index", np.zeros((len(tokens), 1), np.int64))
        binding.bind_output("logits")
        for layer in range(self.decoder.n_layers):
            for offset, kind in enumerate(("key", "value")):
                value = self.values[2 * layer + offset]
                binding.bind_ortvalue_input(f"past.{layer}.{kind}", value)
                binding.bind_ortvalue_output(f"present.{layer}.{kind}", value)
        session.run_with_iobinding(binding)
        self.lengths = self.lengths + 1
        return binding.get_outputs()[0].numpy()[:, 0]


class Decoder:
    """An export loaded into onnxruntime, with its tokenizer and chat template."""

    def __init__(self, files: ExportFiles, *, threads_per_call: int = 1) -> None:
        from tokenizers import Tokenizer

        cfg = files.config
        self.files = files
        self.n_layers = int(cfg["n_layers"])
        self.n_kv = int(cfg["n_kv_heads"])
        self.head_dim = int(cfg["width"]) // int(cfg["n_heads"])
        self.context_length = int(cfg["context_length"])
        self.stop_ids = frozenset(int(i) for i in cfg["stop_token_ids"])
        # fused: GroupQueryAttention appends to preallocated caches in place (_SharedCache)
        self.fused = cfg.get("attention") == "fused"
        self._sessions: dict[int, Any] = {}
        self._lock = threading.Lock()
        self.threads_per_call = threads_per_call
        # Sessions are made on first use, one per thread count actually used: each holds
        # its own copy of the weights (~0.4 GB), so none is made that no call needs.
        self.tokenizer = Tokenizer.from_file(str(files.root / "tokenizer.json"))
        self.template = ChatTemplate((files.root / "chat_template.jinja").read_text(encoding="utf-8"))
        self._empty = np.zeros((1, self.n_kv, 0, self.head_dim), np.float32)

    def session_for(self, threads: int) -> Any:
        """The onnxruntime session with ``threads`` intra-op threads (made once, on demand)."""
        with self._lock:
            session = self._sessions.get(threads)
            if session is None:
                import onnxruntime as ort

                options = ort.SessionOptions()
                options.intra_op_num_threads = threads
                options.inter_op_num_threads = 1
                options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
                options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
                options.log_severity_level = 3  # errors only: no optimizer chatter on stderr
                try:
                    session = ort.InferenceSession(str(self.files.root / "model.onnx"), options,
                                                   providers=["CPUExecutionProvider"])
                except Exception as exc:  # onnxruntime raises its own exception types
                    raise ModelFilesError(f"{self.files.root / 'model.onnx'}: onnxruntime cannot load it: {exc}") from None
                self._sessions[threads] = session
            return session

    # ----------------------------------------------------------------- text <-> ids

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text``. A few bytes have no token in this vocabulary (some ASCII
        control characters, UTF-8 lead bytes of planes 4–11); the BPE would drop them
        silently, so text that does not survive the round trip is an error instead."""
        ids = self.tokenizer.encode(text, add_special_tokens=False).ids
        if self.tokenizer.decode(ids, skip_special_tokens=False) != text:
            bad = next((ch for ch in text if self.tokenizer.decode(
                self.tokenizer.encode(ch, add_special_tokens=False).ids, skip_special_tokens=False) != ch), None)
            where = f"U+{ord(bad):04X} at character {text.index(bad)}" if bad is not None else "a character sequence"
            raise UnrepresentableText(f"the text contains {where}, which the model's vocabulary cannot represent")
        return ids

    def decode(self, ids: Sequence[int]) -> str:
        return self.tokenizer.decode(list(ids), skip_special_tokens=False)

    def chat_prompt(self, messages: Sequence[dict[str, Any]]) -> str:
        return self.template.render(messages)

    # ----------------------------------------------------------------- forward

    def forward(self, ids: Sequence[int], past: list[np.ndarray] | None, *, all_logits: bool = False) -> tuple[np.ndarray, list[np.ndarray]]:
        """Run ``ids`` after the cached ``past`` (None = empty); logits [len(ids) or 1, vocab]
        and the new cache (keys and values, layer by layer)."""
        n_past = 0 if past is None else past[0].shape[2]
        n = len(ids)
        if n_past + n > self.context_length:
            raise GeneratorError(f"{n_past + n} tokens exceed the model's context of {self.context_length}")
        feed: dict[str, np.ndarray] = {
            "input_ids": np.asarray([ids], np.int64),
            "position_ids": np.arange(n_past, n_past + n, dtype=np.int64)[None, :],
            "attention_mask": np.ones((1, n_past + n), np.int64),
            "logit_index": (np.arange(n, dtype=np.int64) if all_logits else np.asarray([n - 1], np.int64))[None, :],
        }
        for i in range(self.n_layers):
            feed[f"past.{i}.key"] = self._empty if past is None else past[2 * i]
            feed[f"past.{i}.value"] = self._empty if past is None else past[2 * i + 1]
        out = self.session_for(self.threads_per_call).run(None, feed)
        return out[0][0], out[1:]

    # ----------------------------------------------------------------- generation

    def generate(self, prompt_ids: Sequence[int], *, max_tokens: int, temperature: float, top_p: float,
                 rng: np.random.Generator | None, stop: Sequence[str] = (),
                 cancelled: Callable[[], bool] = lambda: False) -> Generated:
        """Decode after ``prompt_ids`` until a stop token, a stop string or ``max_tokens``.
        Stop strings are searched in the decoded text; the text ends before the first one."""
        if not prompt_ids:
            raise GeneratorError("the prompt is empty after tokenisation")
        room = self.context_length - len(prompt_ids)
        if room < 1:
            raise GeneratorError(f"the prompt has {len(prompt_ids)} tokens; the model's context is {self.context_length}")
        if self.fused:  # one row of the batched loop: the in-place cache, no copies per step
            job = DecodeJob(list(prompt_ids), max_tokens, temperature, top_p, rng, stop)
            return self.generate_batch([job], cancelled)[0]
        budget = min(max_tokens, room)
        logits, past = self.forward(prompt_ids, None)
        out: list[int] = []
        while True:  # the plain graph: the cache is concatenated every step
            token = choose_token(logits[-1], temperature, top_p, rng)
            finished = self._finish(out, token, stop, budget)
            if finished is not None:
                return finished
            if cancelled():
                from mstk.generators.base import Cancelled

                raise Cancelled()
            logits, past = self.forward([token], past)

    def generate_batch(self, jobs: Sequence[DecodeJob], cancelled: Callable[[], bool] = lambda: False) -> list[Generated]:
        """Decode several prompts together (opt-in ``decode_batch``): each prompt is
        prefilled alone, then every step runs all unfinished rows as one batch, each row
        at its own length in a shared in-place cache (no padding enters the attention).
        Same model and stopping rules as ``generate`` and several times the throughput on
        a memory-bound CPU; but the batched matrix kernels sum in another order, so in a
        rare near-tie a row can pick another token than it would decoded alone."""
        from mstk.generators.base import Cancelled

        if not self.fused:  # the plain graph has no in-place cache: decode one by one
            return [self.generate(j.prompt_ids, max_tokens=j.max_tokens, temperature=j.temperature, top_p=j.top_p,
                                  rng=j.rng, stop=j.stop, cancelled=cancelled) for j in jobs]
        budgets, caches, logits = [], [], []
        for job in jobs:
            room = self.context_length - len(job.prompt_ids)
            if not job.prompt_ids or room < 1:
                raise GeneratorError(f"the prompt has {len(job.prompt_ids)} tokens; the model's context is {self.context_length}")
            budgets.append(min(job.max_tokens, room))
            last, cache = self.forward(job.prompt_ids, None)
            logits.append(last[-1])
            caches.append(cache)
            if cancelled():
                raise Cancelled()
        lengths = [len(j.prompt_ids) for j in jobs]
        shared = _SharedCache(self, caches, lengths, max(n + b for n, b in zip(lengths, budgets)))
        del caches
        outs: list[list[int]] = [[] for _ in jobs]
        results: list[Generated | None] = [None] * len(jobs)
        active = list(range(len(jobs)))
        while True:
            tokens, keep = [], []
            for position, index in enumerate(active):
                job = jobs[index]
                token = choose_token(logits[position], job.temperature, job.top_p, job.rng)
                finished = self._finish(outs[index], token, job.stop, budgets[index])
                if finished is None:
                    tokens.append(token)
                    keep.append(position)
                else:
                    results[index] = finished
            if not keep:
                return results  # type: ignore[return-value]
            if len(keep) < len(active):
                active = [active[p] for p in keep]
                shared.keep_rows(keep)
            if cancelled():
                raise Cancelled()
            logits = shared.step(tokens)

    def _finish(self, out: list[int], token: int, stop: Sequence[str], budget: int) -> Generated | None:
        """Append ``token`` to ``out`` unless it ends the sequence; the result once finished."""
        if token in self.stop_ids:
            return Generated(out, "stop", self.decode(out))
        out.append(token)
        if stop:
            text = self.decode(out)
            cut = min((text.find(s) for s in stop if s in text), default=-1)
            if cut >= 0:
                return Generated(out, "stop", text[:cut])
        if len(out) >= budget:
            return Generated(out, "length", self.decode(out))
        return None

    # ----------------------------------------------------------------- scoring

    def continuation_ids(self, prompt: str, continuation: str) -> tuple[list[int], list[int]]:
        """The boundary rule (specs/generators.md): tokenise the prompt and prompt +
        continuation; when the joint tokens start with the prompt's, the rest are the
        continuation's, else (a merge across the boundary) the continuation is tokenised
        alone and appended."""
        prompt_ids = self.encode(prompt)
        joint = self.encode(prompt + continuation)
        if joint[: len(prompt_ids)] == prompt_ids:
            return prompt_ids, joint[len(prompt_ids):]
        return prompt_ids, self.encode(continuation)

    def score(self, prompt_ids: Sequence[int], continuation_ids: Sequence[int],
              past: tuple[np.ndarray, list[np.ndarray]] | None = None) -> float:
        """Σ log p(continuation token | everything before it). ``past`` = (last prompt
        logits, prompt cache) from ``prefill`` lets many continuations share one prompt."""
        if not continuation_ids:
            return 0.0
        if past is None:
            if not prompt_ids:
                raise GeneratorError("logprob needs a non-empty prompt (the first token has no context)")
            past = self.prefill(prompt_ids)
        last, cache = past
        logits, _ = self.forward(continuation_ids[:-1], cache, all_logits=True) if len(continuation_ids) > 1 else (None, None)
        rows = last[None, :] if logits is None else np.concatenate([last[None, :], logits])
        scores = log_softmax(rows)
        return float(scores[np.arange(len(continuation_ids)), np.asarray(continuation_ids)].sum())

    def prefill(self, prompt_ids: Sequence[int]) -> tuple[np.ndarray, list[np.ndarray]]:
        logits, cache = self.forward(prompt_ids, None)
        return logits[-1], cache
