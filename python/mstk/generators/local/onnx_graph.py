"""The llama decoder as an ONNX graph with a KV cache, written node by node from GGUF
weights (no torch: the ``onnx`` package's helpers are enough).

Inputs (B = batch, S = new tokens, P = cached tokens, T = P + S):
  ``input_ids`` [B, S] int64, ``position_ids`` [B, S] int64,
  ``attention_mask`` [B, T] int64 (1 = attend), ``logit_index`` [B, L] int64 (which of the
  S positions to produce logits for: the last one while decoding, all when scoring),
  ``past.{i}.key`` / ``past.{i}.value`` [B, kv_heads, P, head_dim] float32.
Outputs: ``logits`` [B, L, vocab] and ``present.{i}.key|value`` [B, kv_heads, T, head_dim].

Weights: ``block`` keeps the GGUF's 4-bit Q4_1 blocks (``com.microsoft.MatMulNBits`` plus
a per-block offset term, see BlockQuantized), so the layers multiply by the values the
GGUF holds while reading an eighth of the bytes per token; ``fp32`` stores the same values
dequantised, for plain ONNX runtimes. The Q8_0 embedding / tied head is fp32 in both.
Attention is written with standard operators; grouped KV heads are broadcast, not copied.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mstk.generators.local.gguf_weights import BLOCK, BlockQuantized, GgufModel, LlamaConfig, unpermute_rope_rows
from mstk.onnx_builder import GraphBuilder

OPSET = 21
WEIGHT_FORMATS = ("block", "fp32")
ATTENTION_KINDS = ("fused", "plain")


def _linear(g: GraphBuilder, x: str, weight: BlockQuantized, weights: str, stem: str) -> str:
    if weights == "fp32":
        w = g.const(weight.dequantize().T.copy(), stem)
        return g.op("MatMul", [x, w])
    if weight.bits != 4:
        raise ValueError(f"{stem}: only 4-bit layers go through MatMulNBits here")
    packed = g.const(weight.packed, f"{stem}.q")
    scales = g.const(weight.scales, f"{stem}.scales")
    # No zero-point input: onnxruntime's fast kernel, codes centred on 8. accuracy_level 0
    # keeps activations fp32 (no int8 re-quantisation of the inputs).
    main = g.op("MatMulNBits", [x, packed, scales], domain="com.microsoft",
                K=weight.cols, N=weight.rows, bits=4, block_size=BLOCK, accuracy_level=0)
    n_blocks = weight.cols // BLOCK
    offsets = g.const(weight.offsets.reshape(weight.rows, n_blocks).T.copy(), f"{stem}.offsets")  # [blocks, rows]
    block_sums = g.op("ReduceSum", [g.op("Reshape", [x, g.ints([0, 0, n_blocks, BLOCK])]), g.ints([-1])], keepdims=0)
    return g.op("Add", [main, g.op("MatMul", [block_sums, offsets])])


def _rms_norm(g: GraphBuilder, x: str, gamma: np.ndarray, eps: float, stem: str) -> str:
    scale = g.const(gamma.astype(np.float32), stem)
    return g.op("RMSNormalization", [x, scale], axis=-1, epsilon=eps) if OPSET >= 23 else \
        g.op("SimplifiedLayerNormalization", [x, scale], axis=-1, epsilon=eps, stash_type=1)


def _rope_tables(cfg: LlamaConfig) -> tuple[np.ndarray, np.ndarray]:
    """cos/sin [context, head_dim] in the rotate-half layout (frequencies repeated twice),
    computed in float64 and rounded once."""
    half = cfg.head_dim // 2
    inv_freq = 1.0 / (cfg.rope_base ** (np.arange(half, dtype=np.float64) * 2.0 / cfg.head_dim))
    angles = np.outer(np.arange(cfg.context_length, dtype=np.float64), inv_freq)
    angles = np.concatenate([angles, angles], axis=1)
    return np.cos(angles).astype(np.float32), np.sin(angles).astype(np.float32)


def _apply_rope(g: GraphBuilder, x: str, cos: str, sin: str, head_dim: int) -> str:
    """x·cos + rotate_half(x)·sin with rotate_half(x) = [−x₂, x₁] over the two halves."""
    half = head_dim // 2
    first, second = g.op("Split", [x, g.ints([half, half])], outputs=2, axis=-1)
    rotated = g.op("Concat", [g.op("Neg", [second]), first], axis=-1)
    return g.op("Add", [g.op("Mul", [x, cos]), g.op("Mul", [rotated, sin])])


def build_model(source: GgufModel, weights: str = "block", attention: str = "fused") -> Any:
    """The decoder graph as an ``onnx.ModelProto``. ``attention``: ``fused`` uses
    onnxruntime's ``GroupQueryAttention`` (RoPE, grouped KV heads and the cache in one
    kernel, each row at its own length); ``plain`` spells attention out in standard operators."""
    if attention not in ATTENTION_KINDS:
        raise ValueError(f"attention must be one of {ATTENTION_KINDS}, got {attention!r}")
    if weights not in WEIGHT_FORMATS:
        raise ValueError(f"weights must be one of {WEIGHT_FORMATS}, got {weights!r}")
    from onnx import TensorProto, helper

    cfg = source.config()
    g = GraphBuilder()
    hd, n_h, n_kv = cfg.head_dim, cfg.n_heads, cfg.n_kv_heads
    rep = n_h // n_kv
    inputs = [
        helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"]),
        helper.make_tensor_value_info("position_ids", TensorProto.INT64, ["batch", "seq"]),
        helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "total"]),
        helper.make_tensor_value_info("logit_index", TensorProto.INT64, ["batch", "kept"]),
    ]
    outputs = [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", "kept", cfg.vocab_size])]
    for i in range(cfg.n_layers):
        for kind in ("key", "value"):
            inputs.append(helper.make_tensor_value_info(f"past.{i}.{kind}", TensorProto.FLOAT, ["batch", n_kv, "past", hd]))
            outputs.append(helper.make_tensor_value_info(f"present.{i}.{kind}", TensorProto.FLOAT, ["batch", n_kv, "total", hd]))

    # Embedding and tied output head share one fp32 table (the Q8_0 values exactly: an
    # fp16 scale times an int8 fits fp32). onnxruntime's 8-bit MatMulNBits has no fast
    # fp32-activation path, and the plain Gemm streams the table at memory speed.
    embedding = source.quantized("token_embd.weight")
    table = g.const(embedding.dequantize(), "token_embd")
    hidden = g.op("Gather", [table, "input_ids"], axis=0)

    # Shapes, RoPE tables and masks shared by every layer.
    total_len = g.op("Slice", [g.op("Shape", ["attention_mask"]), g.ints([1]), g.ints([2])])
    cos_table, sin_table = _rope_tables(cfg)
    one_i = g.const(np.int64(1))
    if attention == "plain":
        zero_i = g.const(np.int64(0))
        batch_seq = g.op("Slice", [g.op("Shape", ["input_ids"]), g.ints([0]), g.ints([2])])
        seq_len = g.op("Slice", [g.op("Shape", ["input_ids"]), g.ints([1]), g.ints([2])])
        past_len = g.op("Sub", [total_len, seq_len])
        q_shape = g.op("Concat", [batch_seq, g.ints([n_h, hd])], axis=0)
        kv_shape = g.op("Concat", [batch_seq, g.ints([n_kv, hd])], axis=0)
        grouped_shape = g.op("Concat", [g.op("Slice", [batch_seq, g.ints([0]), g.ints([1])]), g.ints([n_kv, rep]),
                                        seq_len, g.ints([hd])], axis=0)
        merged_shape = g.op("Concat", [batch_seq, g.ints([cfg.width])], axis=0)

        cos = g.op("Unsqueeze", [g.op("Gather", [g.const(cos_table, "rope.cos"), "position_ids"], axis=0), g.ints([1])])
        sin = g.op("Unsqueeze", [g.op("Gather", [g.const(sin_table, "rope.sin"), "position_ids"], axis=0), g.ints([1])])

        # Additive mask [B, 1, 1, S, T]: key j is visible to query i iff j <= P + i and the
        # attention mask keeps j. A large finite negative keeps fully masked rows NaN-free.
        key_pos = g.op("Range", [zero_i, g.op("Squeeze", [total_len]), one_i])
        query_pos = g.op("Add", [g.op("Range", [zero_i, g.op("Squeeze", [seq_len]), one_i]), g.op("Squeeze", [past_len])])
        causal = g.op("LessOrEqual", [g.op("Unsqueeze", [key_pos, g.ints([0])]), g.op("Unsqueeze", [query_pos, g.ints([1])])])
        keep = g.op("Cast", [g.op("Unsqueeze", ["attention_mask", g.ints([1, 2, 3])])], to=TensorProto.BOOL)
        visible = g.op("And", [keep, causal])
        mask = g.op("Where", [visible, g.const(np.float32(0.0)), g.const(np.float32(-3.0e38))])
        inv_sqrt = g.const(np.float32(1.0 / np.sqrt(hd)))
    else:
        # Each row's length is its mask's sum (right padding only); GroupQueryAttention
        # takes the last index per row and the padded total, as int32, and places RoPE at
        # past + i from them.
        seqlens_k = g.op("Cast", [g.op("Sub", [g.op("ReduceSum", ["attention_mask", g.ints([1])], keepdims=0), one_i])],
                         to=TensorProto.INT32)
        total_i32 = g.op("Cast", [g.op("Squeeze", [total_len])], to=TensorProto.INT32)
        half_cos = g.const(np.ascontiguousarray(cos_table[:, : hd // 2]), "rope.cos_half")
        half_sin = g.const(np.ascontiguousarray(sin_table[:, : hd // 2]), "rope.sin_half")

    for i in range(cfg.n_layers):
        p = f"blk.{i}"
        normed = _rms_norm(g, hidden, source.f32(f"{p}.attn_norm.weight"), cfg.rms_eps, f"{p}.attn_norm")
        wq = unpermute_rope_rows(source.quantized(f"{p}.attn_q.weight"), n_h)
        wk = unpermute_rope_rows(source.quantized(f"{p}.attn_k.weight"), n_kv)
        wv = source.quantized(f"{p}.attn_v.weight")
        qkv = _linear(g, normed, BlockQuantized.stack([wq, wk, wv]), weights, f"{p}.attn_qkv")
        if attention == "fused":
            merged = g.op("GroupQueryAttention", [qkv, "", "", f"past.{i}.key", f"past.{i}.value", seqlens_k, total_i32,
                                                   half_cos, half_sin],
                          outputs=[g._name("attention"), f"present.{i}.key", f"present.{i}.value"], domain="com.microsoft",
                          num_heads=n_h, kv_num_heads=n_kv, do_rotary=1, rotary_interleaved=0, scale=float(1.0 / np.sqrt(hd)))[0]
        else:
            q, k, v = g.op("Split", [qkv, g.ints([cfg.width, n_kv * hd, n_kv * hd])], outputs=3, axis=-1)
            q = g.op("Transpose", [g.op("Reshape", [q, q_shape])], perm=[0, 2, 1, 3])  # [B, H, S, D]
            k = g.op("Transpose", [g.op("Reshape", [k, kv_shape])], perm=[0, 2, 1, 3])  # [B, KV, S, D]
            v = g.op("Transpose", [g.op("Reshape", [v, kv_shape])], perm=[0, 2, 1, 3])
            q = _apply_rope(g, q, cos, sin, hd)
            k = _apply_rope(g, k, cos, sin, hd)
            key = g.op("Concat", [f"past.{i}.key", k], outputs=[f"present.{i}.key"], axis=2)
            value = g.op("Concat", [f"past.{i}.value", v], outputs=[f"present.{i}.value"], axis=2)
            # Query head h uses KV head h // rep: view q as [B, KV, rep, S, D] and broadcast.
            grouped_q = g.op("Reshape", [q, grouped_shape])
            key_t = g.op("Unsqueeze", [g.op("Transpose", [key], perm=[0, 1, 3, 2]), g.ints([2])])
            scores = g.op("Add", [g.op("Mul", [g.op("MatMul", [grouped_q, key_t]), inv_sqrt]), mask])
            attended = g.op("MatMul", [g.op("Softmax", [scores], axis=-1), g.op("Unsqueeze", [value, g.ints([2])])])
            heads = g.op("Transpose", [g.op("Reshape", [attended, g.ints([0, n_h, -1, hd])])], perm=[0, 2, 1, 3])
            merged = g.op("Reshape", [heads, merged_shape])
        hidden = g.op("Add", [hidden, _linear(g, merged, source.quantized(f"{p}.attn_output.weight"), weights, f"{p}.attn_output")])

        normed = _rms_norm(g, hidden, source.f32(f"{p}.ffn_norm.weight"), cfg.rms_eps, f"{p}.ffn_norm")
        gate_up = BlockQuantized.stack([source.quantized(f"{p}.ffn_gate.weight"), source.quantized(f"{p}.ffn_up.weight")])
        gate, up = g.op("Split", [_linear(g, normed, gate_up, weights, f"{p}.ffn_gate_up")], outputs=2, axis=-1, num_outputs=2)
        activated = g.op("Mul", [g.op("Mul", [gate, g.op("Sigmoid", [gate])]), up])
        hidden = g.op("Add", [hidden, _linear(g, activated, source.quantized(f"{p}.ffn_down.weight"), weights, f"{p}.ffn_down")])

    final = _rms_norm(g, hidden, source.f32("output_norm.weight"), cfg.rms_eps, "output_norm")
    kept = g.op("GatherND", [final, g.op("Unsqueeze", ["logit_index", g.ints([2])])], batch_dims=1)
    rows_2d = g.op("Reshape", [kept, g.ints([-1, cfg.width])])
    if "output.weight" in source.tensors:
        head_2d = g.op("Gemm", [rows_2d, g.const(source.quantized("output.weight").dequantize(), "output")], transB=1)
    else:
        head_2d = g.op("Gemm", [rows_2d, table], transB=1)
    head = g.op("Reshape", [head_2d, g.op("Concat", [g.op("Shape", [kept], end=2), g.ints([cfg.vocab_size])], axis=0)])
    g.op("Identity", [head], outputs=["logits"])

    graph = helper.make_graph(g.nodes, "mstk_llama_decoder", inputs, outputs, g.initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid("com.microsoft", 1)],
                              producer_name="mstk")
    model.ir_version = 10
    return model
