"""``mstk models``: the pretrained models mstk uses, from pinned registry packages."""

from __future__ import annotations

import click


@click.group("models")
def models() -> None:
    """List and verify the pretrained models (they ship in pinned registry packages)."""


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
