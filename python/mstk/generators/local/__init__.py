"""The embedded ``local`` generator: SmolLM2-135M-Instruct through onnxruntime.

- ``gguf_weights``: reading the packaged GGUF (export time only; needs ``gguf``).
- ``onnx_graph``: the llama decoder written as an ONNX graph from those weights.
- ``export``: ``mstk models build smollm2`` — graph, tokenizer.json, chat template,
  config and the sha256 manifest.
- ``decoder``: the runtime — verified files, onnxruntime sessions, the in-place KV cache,
  greedy/sampled decoding, batched decoding, scoring.
- ``generator``: ``LocalGenerator``, the back end registered as ``local``.
"""
