"""``mstk models build smollm2``: turn the packaged GGUF into the files the ``local``
generator runs — an ONNX decoder with a KV cache, a ``tokenizer.json``, the GGUF's chat
template and a ``config.json`` — plus a sha256 manifest over all of them.

Needs the ``export`` extra (``gguf`` to read the file, ``onnx`` to write the graph); no
torch. The directory is written beside its final place and renamed into it, so a reader
never sees half an export.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mstk.models import sha256_file, write_export

EXPORT_FORMAT = 2  # bump when the graph's inputs/outputs or the file set change
FILES = ("model.onnx", "tokenizer.json", "chat_template.jinja", "config.json")


def tokenizer_json(fields: dict[str, Any]) -> str:
    """A Hugging Face ``tokenizers`` file for a GGUF 'gpt2' (byte-level BPE) vocabulary.

    Pre-tokenisation follows the GGUF's ``tokenizer.ggml.pre``: 'smollm' splits every
    digit on its own and then applies the GPT-2 word pattern (llama.cpp's definition);
    plain 'gpt2'/'default' skip the digit split. Control tokens (type 3) become special
    tokens, matched whole in the text. No BOS is prepended: the chat template writes the
    ``<|im_start|>`` markers itself."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers

    if fields["model"] != "gpt2":
        raise ValueError(f"tokenizer model {fields['model']!r} is not supported (only byte-level BPE, 'gpt2')")
    pre = fields["pre"] or "default"
    if pre not in ("smollm", "gpt2", "default"):
        raise ValueError(f"pre-tokenizer {pre!r} is not supported (smollm, gpt2)")
    vocab = {token: i for i, token in enumerate(fields["tokens"])}
    merges = [tuple(m.split(" ", 1)) for m in fields["merges"]]
    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=merges, fuse_unk=False, byte_fallback=False))
    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tokenizer.pre_tokenizer = (pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True), byte_level])
                               if pre == "smollm" else byte_level)
    tokenizer.decoder = decoders.ByteLevel()
    control = [AddedToken(tok, special=True, normalized=False)
               for tok, kind in zip(fields["tokens"], fields["token_type"]) if kind == 3]
    tokenizer.add_special_tokens(control)
    return tokenizer.to_str()


def export(gguf_path: Path, out_dir: Path, *, weights: str = "block", attention: str = "fused",
           source_sha256: str | None = None, name: str = "smollm2") -> dict[str, Any]:
    """Write the export into ``out_dir`` (replacing it) and return its manifest."""
    from mstk import __version__
    from mstk.generators.local.gguf_weights import GgufModel
    from mstk.generators.local.onnx_graph import build_model

    gguf_path, out_dir = Path(gguf_path), Path(out_dir)
    source = GgufModel(gguf_path)
    fields = source.tokenizer_fields()
    cfg = source.config()
    tokens = fields["tokens"]
    # SmolLM2's GGUF lists <|im_start|> as its eos id; a chat turn ends with <|im_end|>.
    stop_ids = sorted({i for i, tok in enumerate(tokens) if tok in ("<|im_end|>", "<|endoftext|>")})
    config = {
        "name": name, "export_format": EXPORT_FORMAT, "weights": weights, "attention": attention,
        "architecture": "llama",
        **cfg.to_dict(),
        "stop_token_ids": stop_ids,
        "source": {"file": gguf_path.name, "sha256": source_sha256 or sha256_file(gguf_path)},
        "exported_by": f"mstk {__version__}",
    }
    def write(staging: Path) -> None:
        model = build_model(source, weights, attention)
        (staging / "model.onnx").write_bytes(model.SerializeToString())
        del model
        (staging / "tokenizer.json").write_text(tokenizer_json(fields), encoding="utf-8")
        (staging / "chat_template.jinja").write_text(fields["chat_template"] or "", encoding="utf-8")
        (staging / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")

    return write_export(out_dir, EXPORT_FORMAT, FILES, write)
