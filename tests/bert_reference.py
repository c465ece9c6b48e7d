"""An independent numpy forward pass of a BERT checkpoint (safetensors), the reference the
exported fp32 MiniLM graph is checked against (tests only).

Written from the BERT paper's layer definition and the checkpoint's config.json, not from
mstk's exporter: the safetensors file is parsed here by its own few lines, every product
runs in float64, attention is computed per head with an explicit loop, and padded keys
are dropped from the softmax instead of masked with a large negative number.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np


def load_safetensors(path: Path) -> dict[str, np.ndarray]:
    raw = Path(path).read_bytes()
    size = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + size])
    body = raw[8 + size:]
    kinds = {"F32": "<f4", "I64": "<i8"}
    out = {}
    for name, entry in header.items():
        if name != "__metadata__":
            lo, hi = entry["data_offsets"]
            out[name] = np.frombuffer(body[lo:hi], dtype=kinds[entry["dtype"]]).reshape(entry["shape"]).astype(np.float64)
    return out


class BertReference:
    def __init__(self, model_dir: Path) -> None:
        self.w = load_safetensors(Path(model_dir) / "model.safetensors")
        self.cfg = json.loads((Path(model_dir) / "config.json").read_text())

    def _norm(self, x: np.ndarray, prefix: str) -> np.ndarray:
        mean = x.mean(axis=-1, keepdims=True)
        var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
        return (x - mean) / np.sqrt(var + self.cfg["layer_norm_eps"]) * self.w[prefix + ".weight"] + self.w[prefix + ".bias"]

    def _dense(self, x: np.ndarray, prefix: str) -> np.ndarray:
        return x @ self.w[prefix + ".weight"].T + self.w[prefix + ".bias"]

    def hidden(self, ids: list[int]) -> np.ndarray:
        """Last hidden state [len(ids), width] of one unpadded sequence."""
        w, n = self.w, len(ids)
        heads = self.cfg["num_attention_heads"]
        x = (w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:n]
             + w["embeddings.token_type_embeddings.weight"][0])
        x = self._norm(x, "embeddings.LayerNorm")
        d = x.shape[1] // heads
        for i in range(self.cfg["num_hidden_layers"]):
            p = f"encoder.layer.{i}"
            q, k, v = (self._dense(x, f"{p}.attention.self.{name}") for name in ("query", "key", "value"))
            context = np.zeros_like(x)
            for h in range(heads):
                cols = slice(h * d, (h + 1) * d)
                logits = q[:, cols] @ k[:, cols].T / math.sqrt(d)
                logits -= logits.max(axis=1, keepdims=True)
                probs = np.exp(logits)
                probs /= probs.sum(axis=1, keepdims=True)
                context[:, cols] = probs @ v[:, cols]
            x = self._norm(self._dense(context, f"{p}.attention.output.dense") + x, f"{p}.attention.output.LayerNorm")
            inner = self._dense(x, f"{p}.intermediate.dense")
            inner = np.array([[0.5 * a * (1.0 + math.erf(a / math.sqrt(2.0))) for a in row] for row in inner])
            x = self._norm(self._dense(inner, f"{p}.output.dense") + x, f"{p}.output.LayerNorm")
        return x

    def embed(self, ids: list[int]) -> np.ndarray:
        """Mean-pooled, L2-normalised sentence vector (sentence-transformers' recipe)."""
        pooled = self.hidden(ids).mean(axis=0)
        return pooled / np.linalg.norm(pooled)
