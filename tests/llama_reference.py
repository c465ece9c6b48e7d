"""An independent numpy forward pass of a llama GGUF, the reference the exported ONNX
decoder is checked against (tests only).

Written from the llama.cpp conventions, not from mstk's exporter: weights come from the
gguf package's own dequantiser, q/k stay in the GGUF's row order and RoPE rotates
adjacent pairs (x[2i], x[2i+1]) as llama.cpp does; KV heads are repeated explicitly;
sums run in float64. Slow (a few seconds per call) and only for short sequences.
"""

from __future__ import annotations

import numpy as np


class LlamaReference:
    def __init__(self, path) -> None:
        import gguf

        reader = gguf.GGUFReader(str(path))
        self.tensors = {t.name: t for t in reader.tensors}
        field = lambda key: reader.fields[key].contents()  # noqa: E731
        self.n_layers = int(field("llama.block_count"))
        self.width = int(field("llama.embedding_length"))
        self.n_heads = int(field("llama.attention.head_count"))
        self.n_kv = int(field("llama.attention.head_count_kv"))
        self.base = float(field("llama.rope.freq_base"))
        self.eps = float(field("llama.attention.layer_norm_rms_epsilon"))
        self.head_dim = self.width // self.n_heads
        self._gguf = gguf
        self._cache: dict[str, np.ndarray] = {}

    def weight(self, name: str) -> np.ndarray:
        """[out, in] in float64."""
        if name not in self._cache:
            t = self.tensors[name]
            cols = int(t.shape[0])
            data = np.asarray(t.data)
            if t.tensor_type.name != "F32":
                data = self._gguf.quants.dequantize(data, t.tensor_type)
            self._cache[name] = np.asarray(data, np.float64).reshape(-1, cols)
        return self._cache[name]

    def _norm(self, x: np.ndarray, name: str) -> np.ndarray:
        gamma = self.weight(name).reshape(-1)
        return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + self.eps) * gamma

    def _rope_pairs(self, x: np.ndarray, positions: np.ndarray) -> np.ndarray:
        """x [S, heads, D]: rotate each adjacent pair by pos · base^(−2i/D)."""
        d = self.head_dim
        theta = positions[:, None] * self.base ** (-np.arange(0, d, 2) / d)  # [S, D/2]
        cos, sin = np.cos(theta)[:, None, :], np.sin(theta)[:, None, :]
        even, odd = x[..., 0::2], x[..., 1::2]
        out = np.empty_like(x)
        out[..., 0::2] = even * cos - odd * sin
        out[..., 1::2] = even * sin + odd * cos
        return out

    def logits(self, ids: list[int]) -> np.ndarray:
        """Logits [len(ids), vocab] for one unpadded sequence, positions 0.."""
        s, d = len(ids), self.head_dim
        positions = np.arange(s, dtype=np.float64)
        x = self.weight("token_embd.weight")[np.asarray(ids)]
        causal = np.triu(np.full((s, s), -np.inf), 1)
        for i in range(self.n_layers):
            p = f"blk.{i}"
            h = self._norm(x, f"{p}.attn_norm.weight")
            q = (h @ self.weight(f"{p}.attn_q.weight").T).reshape(s, self.n_heads, d)
            k = (h @ self.weight(f"{p}.attn_k.weight").T).reshape(s, self.n_kv, d)
            v = (h @ self.weight(f"{p}.attn_v.weight").T).reshape(s, self.n_kv, d)
            q, k = self._rope_pairs(q, positions), self._rope_pairs(k, positions)
            rep = self.n_heads // self.n_kv
            k, v = np.repeat(k, rep, axis=1), np.repeat(v, rep, axis=1)
            scores = np.einsum("shd,thd->hst", q, k) / np.sqrt(d) + causal
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            attended = np.einsum("hst,thd->shd", scores, v).reshape(s, self.width)
            x = x + attended @ self.weight(f"{p}.attn_output.weight").T
            h = self._norm(x, f"{p}.ffn_norm.weight")
            gate = h @ self.weight(f"{p}.ffn_gate.weight").T
            up = h @ self.weight(f"{p}.ffn_up.weight").T
            x = x + (gate / (1 + np.exp(-gate)) * up) @ self.weight(f"{p}.ffn_down.weight").T
        x = self._norm(x, "output_norm.weight")
        head = self.weight("output.weight") if "output.weight" in self.tensors else self.weight("token_embd.weight")
        return x @ head.T
