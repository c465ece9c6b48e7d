"""Reading a llama-architecture GGUF: its hyper-parameters, tokenizer fields and weights.

Only ``mstk models build`` imports this (it needs the ``gguf`` package, in the
``export`` extra); the runtime reads the exported files and never the GGUF.

Weights are handed over in the GGUF's own block-quantised form, re-packed for
onnxruntime's ``MatMulNBits`` (:class:`BlockQuantized`), so the exported model computes
with the values llama.cpp would dequantise (to fp32 rounding) — nothing is re-quantised.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

BLOCK = 32  # elements per block in Q4_1 and Q8_0


@dataclass(frozen=True)
class LlamaConfig:
    n_layers: int
    width: int
    n_heads: int
    n_kv_heads: int
    ffn_width: int
    vocab_size: int
    rope_base: float
    rms_eps: float
    context_length: int

    @property
    def head_dim(self) -> int:
        return self.width // self.n_heads

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


@dataclass
class BlockQuantized:
    """A [rows, cols] weight in blocks of 32 along ``cols``: ``packed`` [rows, cols/32,
    32·bits/8] uint8 (for 4 bits element 2i in the low nibble, as ``MatMulNBits`` reads
    it), per-block fp32 ``scales`` and ``offsets``: value = scale · (q − centre) + offset,
    centre 8 for 4 bits and 128 for 8 bits (MatMulNBits' implicit zero points).

    Q4_1's value d·q + m is d·(q − 8) + (8d + m): ``MatMulNBits`` with no zero-point input
    (onnxruntime's fast path) computes the first part and a small matmul of per-block
    input sums by the offsets adds the second."""

    bits: int
    rows: int
    cols: int
    packed: np.ndarray
    scales: np.ndarray
    offsets: np.ndarray

    @property
    def centre(self) -> int:
        return 8 if self.bits == 4 else 128

    def codes(self) -> np.ndarray:
        """The unsigned integer codes, [rows, cols/32, 32]."""
        if self.bits == 4:
            q = np.empty((self.rows, self.cols // BLOCK, BLOCK), np.uint8)
            q[..., 0::2] = self.packed & 0x0F
            q[..., 1::2] = self.packed >> 4
            return q
        return self.packed

    def dequantize(self) -> np.ndarray:
        q = self.codes().astype(np.float32)
        scales = self.scales.reshape(self.rows, -1, 1)
        offsets = self.offsets.reshape(self.rows, -1, 1)
        return (scales * (q - self.centre) + offsets).reshape(self.rows, self.cols)

    def take_rows(self, order: np.ndarray) -> BlockQuantized:
        nb = self.cols // BLOCK
        return BlockQuantized(self.bits, self.rows, self.cols, self.packed[order],
                              self.scales.reshape(self.rows, nb)[order].reshape(-1),
                              self.offsets.reshape(self.rows, nb)[order].reshape(-1))

    @staticmethod
    def stack(parts: list[BlockQuantized]) -> BlockQuantized:
        """Rows of several weights with the same columns, one after the other (fused q|k|v)."""
        return BlockQuantized(parts[0].bits, sum(p.rows for p in parts), parts[0].cols,
                              np.concatenate([p.packed for p in parts]),
                              np.concatenate([p.scales for p in parts]),
                              np.concatenate([p.offsets for p in parts]))


def q4_1_blocks(raw: np.ndarray, rows: int, cols: int) -> BlockQuantized:
    """Q4_1 (per block: fp16 d, fp16 m, 16 bytes of nibbles; value = d·q + m; byte j holds
    element j in its low nibble and element j+16 in its high one)."""
    blocks = raw.reshape(rows, cols // BLOCK, 20)
    d = blocks[..., 0:2].copy().view(np.float16)[..., 0].astype(np.float32)
    m = blocks[..., 2:4].copy().view(np.float16)[..., 0].astype(np.float32)
    nibbles = blocks[..., 4:20]
    q = np.concatenate([nibbles & 0x0F, nibbles >> 4], axis=-1)  # element order 0..31
    packed = (q[..., 0::2] | (q[..., 1::2] << 4)).astype(np.uint8)
    return BlockQuantized(4, rows, cols, packed, d.reshape(-1), (8.0 * d + m).astype(np.float32).reshape(-1))


def q8_0_blocks(raw: np.ndarray, rows: int, cols: int) -> BlockQuantized:
    """Q8_0 (per block: fp16 d, 32 int8; value = d·q) as unsigned codes q + 128, offset 0."""
    blocks = raw.reshape(rows, cols // BLOCK, 34)
    d = blocks[..., 0:2].copy().view(np.float16)[..., 0].astype(np.float32)
    q = blocks[..., 2:34].copy().view(np.int8)
    packed = (q.astype(np.int16) + 128).astype(np.uint8)
    return BlockQuantized(8, rows, cols, packed, d.reshape(-1), np.zeros(d.size, np.float32))


def unpermute_rope_rows(weight: BlockQuantized, n_heads: int) -> BlockQuantized:
    """llama.cpp's converter reorders each head's q/k output rows so that RoPE rotates
    adjacent pairs; this puts them back in the Hugging Face order (first half / second
    half of the head), the layout transformers and mstk's graph use. Rows move whole,
    so the quantised blocks are untouched."""
    head_dim = weight.rows // n_heads
    index = np.arange(weight.rows).reshape(n_heads, head_dim // 2, 2).swapaxes(1, 2).reshape(-1)
    return weight.take_rows(index)


class GgufModel:
    """A llama GGUF opened read-only (memory-mapped by the gguf package)."""

    def __init__(self, path: Path) -> None:
        try:
            import gguf
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError("reading a GGUF needs the 'gguf' package: pip install 'mstk[export]'") from exc
        self.path = Path(path)
        self._gguf = gguf
        self.reader = gguf.GGUFReader(str(path))
        self.tensors = {t.name: t for t in self.reader.tensors}
        arch = self.field("general.architecture")
        if arch != "llama":
            raise ValueError(f"{path}: architecture {arch!r} is not supported (only 'llama')")

    def field(self, key: str, default: Any = None) -> Any:
        f = self.reader.fields.get(key)
        return default if f is None else f.contents()

    def config(self) -> LlamaConfig:
        f = self.field
        width = int(f("llama.embedding_length"))
        n_heads = int(f("llama.attention.head_count"))
        rope_dims = int(f("llama.rope.dimension_count", width // n_heads))
        if rope_dims != width // n_heads:
            raise ValueError(f"{self.path}: partial RoPE ({rope_dims} of {width // n_heads} dims) is not supported")
        return LlamaConfig(
            n_layers=int(f("llama.block_count")), width=width, n_heads=n_heads,
            n_kv_heads=int(f("llama.attention.head_count_kv", n_heads)),
            ffn_width=int(f("llama.feed_forward_length")),
            vocab_size=len(self.reader.fields["tokenizer.ggml.tokens"].data),
            rope_base=float(f("llama.rope.freq_base", 10000.0)),
            rms_eps=float(f("llama.attention.layer_norm_rms_epsilon")),
            context_length=int(f("llama.context_length")),
        )

    def f32(self, name: str) -> np.ndarray:
        tensor = self.tensors[name]
        if tensor.tensor_type.name != "F32":
            raise ValueError(f"{self.path}: {name} is {tensor.tensor_type.name}, expected F32")
        return np.asarray(tensor.data, np.float32).reshape(-1)

    def quantized(self, name: str) -> BlockQuantized:
        tensor = self.tensors[name]
        cols, rows = (int(n) for n in tensor.shape)  # GGUF lists the contiguous dimension first
        raw = np.asarray(tensor.data)
        kind = tensor.tensor_type.name
        if kind == "Q4_1":
            return q4_1_blocks(raw, rows, cols)
        if kind == "Q8_0":
            return q8_0_blocks(raw, rows, cols)
        raise ValueError(f"{self.path}: {name} is {kind}; mstk exports Q4_1 and Q8_0 weights only")

    def dequantized(self, name: str) -> np.ndarray:
        """The gguf package's own fp32 dequantisation ([rows, cols]): the reference the
        re-packed blocks are checked against."""
        tensor = self.tensors[name]
        cols, rows = (int(n) for n in tensor.shape)
        if tensor.tensor_type.name == "F32":
            return np.asarray(tensor.data, np.float32).reshape(rows, cols)
        out = self._gguf.quants.dequantize(np.asarray(tensor.data), tensor.tensor_type)
        return np.asarray(out, np.float32).reshape(rows, cols)

    def tokenizer_fields(self) -> dict[str, Any]:
        f = self.field
        return {
            "model": f("tokenizer.ggml.model"),
            "pre": f("tokenizer.ggml.pre"),
            "tokens": list(f("tokenizer.ggml.tokens")),
            "token_type": [int(t) for t in f("tokenizer.ggml.token_type")],
            "merges": list(f("tokenizer.ggml.merges")),
            "bos_token_id": f("tokenizer.ggml.bos_token_id"),
            "eos_token_id": f("tokenizer.ggml.eos_token_id"),
            "chat_template": f("tokenizer.chat_template"),
        }
