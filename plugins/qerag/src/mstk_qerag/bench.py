"""Building and verifying a QE-RAG benchmark directory (spec inject-errors §3.4).

A benchmark is the clean QA file plus one corrupted copy per (error type, rate), laid out
as ``DIR/<variant>/<split>.jsonl`` so that DIR works as a FlashRAG ``data_dir``, and a
manifest with every count and sha256. Nothing in it depends on time or absolute paths, so
rebuilding from the same source and options gives the same bytes.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from mstk.errors import InputError, ParameterError
from mstk.inject import FORMAT_VERSION, Injector, parse_rate

MANIFEST_FORMAT = "mstk-qerag-bench/1"
MANIFEST_NAME = "manifest.json"


@dataclass(frozen=True)
class Variant:
    name: str
    types: tuple[str, ...]
    rate: str  # as given, e.g. "0.2"


def rate_label(rate: str) -> str:
    """0.2 -> "20", 0.125 -> "12.5": the percentage without trailing zeros."""
    percent = Decimal(parse_rate(rate)) / Decimal(10_000)
    text = format(percent.normalize(), "f")
    return text


def plan_variants(types: tuple[str, ...], rates: tuple[str, ...], mixed: bool) -> list[Variant]:
    """clean first, then each type at each rate, then the mixed set (all types in turn)."""
    out = [Variant("clean", (), "0")]
    for t in types:
        out += [Variant(f"{t}-{rate_label(r)}", (t,), r) for r in rates]
    if mixed and len(types) > 1:
        out += [Variant(f"mixed-{rate_label(r)}", types, r) for r in rates]
    return out


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class Options:
    rates: tuple[str, ...] = ("0.2", "0.4")
    types: tuple[str, ...] = ("keyboard", "visual", "spelling")
    mixed: bool = True
    seed: int = 0
    unit: str = "query"
    injector: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"rates": list(self.rates), "types": list(self.types), "mixed": self.mixed, "unit": self.unit,
                **self.injector}


def _changed(out: bytes) -> dict[str, Any]:
    """id -> (type, edits) of every annotated record."""
    changed = {}
    for line in out.splitlines():
        if b'"qe":' in line:
            record = orjson.loads(line)
            qe = record.get("qe")
            if isinstance(qe, dict):
                changed[record["id"]] = (qe["type"], qe["edits"])
    return changed


def build_in_memory(source: bytes, source_name: str, options: Options, registry=None) -> tuple[dict[str, bytes], dict]:
    """Every variant's bytes (by relative path) and the manifest, without touching disk."""
    for r in options.rates:
        parse_rate(r)
    rates = tuple(sorted(options.rates, key=parse_rate))
    if len(set(map(parse_rate, rates))) != len(rates):
        raise ParameterError(f"rates repeat: {','.join(options.rates)}")
    split = Path(source_name).stem
    files: dict[str, bytes] = {}
    entries = []
    resources: dict[str, Any] = {}
    n_records = None
    previous: dict[tuple[str, ...], dict] = {}
    for variant in plan_variants(options.types, rates, options.mixed):
        path = f"{variant.name}/{split}.jsonl"
        if variant.name == "clean":
            data = source
            entry: dict[str, Any] = {"name": "clean", "path": path, "types": [], "rate": 0.0}
        else:
            injector = Injector(variant.types, variant.rate, options.unit, options.seed, registry=registry,
                                **options.injector)
            data, summary = injector.run_jsonl(source)
            if summary["keys"] != "id":
                raise InputError(source_name, None, "a FlashRAG QA file needs a unique string 'id' on every record")
            n_records = summary["n_records"]
            resources.update(summary["resources"])
            changed = _changed(data)
            lower = previous.get(variant.types)
            if lower is not None:  # the nesting guarantee, checked on the real output
                for key, value in lower.items():
                    if changed.get(key) != value:
                        raise AssertionError(f"{variant.name}: record {key!r} changed at a lower rate but not identically here")
            previous[variant.types] = changed
            entry = {"name": variant.name, "path": path, "types": list(variant.types),
                     "rate": parse_rate(variant.rate) / 1_000_000, "k": summary["k"],
                     "n_changed": summary["n_changed"], "by_type": summary["by_type"],
                     "n_uncorruptible": summary["n_uncorruptible"]}
        entry["sha256"] = sha256(data)
        files[path] = data
        entries.append(entry)
    if n_records is None:
        n_records = sum(1 for line in source.splitlines() if line.strip())
    from mstk import __version__

    manifest = {
        "format": MANIFEST_FORMAT,
        "mstk_version": __version__,
        "qe_version": FORMAT_VERSION,
        "seed": options.seed,
        "unit": options.unit,
        "options": options.as_json(),
        "resources": resources,
        "source": {"file": os.path.basename(source_name), "sha256": sha256(source), "n_records": n_records},
        "variants": entries,
    }
    return files, manifest


def manifest_bytes(manifest: dict) -> bytes:
    return orjson.dumps(manifest, option=orjson.OPT_INDENT_2) + b"\n"


def write(out_dir: Path, files: dict[str, bytes], manifest: dict) -> None:
    for relative, data in files.items():
        path = out_dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    (out_dir / MANIFEST_NAME).write_bytes(manifest_bytes(manifest))


def verify(out_dir: Path, source: bytes | None = None, source_name: str | None = None, registry=None) -> list[str]:
    """Problems found (empty = the directory is intact and, with a source, reproducible)."""
    manifest_path = out_dir / MANIFEST_NAME
    try:
        manifest = orjson.loads(manifest_path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        return [f"{manifest_path}: cannot read the manifest: {exc}"]
    if manifest.get("format") != MANIFEST_FORMAT:
        return [f"{manifest_path}: not an mstk QE-RAG benchmark manifest (format {manifest.get('format')!r})"]
    problems = []
    for entry in manifest["variants"]:
        path = out_dir / entry["path"]
        try:
            digest = sha256(path.read_bytes())
        except OSError as exc:
            problems.append(f"{path}: {exc.strerror}")
            continue
        if digest != entry["sha256"]:
            problems.append(f"{path}: sha256 {digest} differs from the manifest's {entry['sha256']}")
    if source is not None:
        if sha256(source) != manifest["source"]["sha256"]:
            problems.append(f"{source_name}: not the source this benchmark was built from (sha256 differs)")
        else:
            opts = dict(manifest["options"])
            options = Options(rates=tuple(opts.pop("rates")), types=tuple(opts.pop("types")), mixed=opts.pop("mixed"),
                              seed=manifest["seed"], unit=opts.pop("unit"), injector=opts)
            files, rebuilt = build_in_memory(source, manifest["source"]["file"], options, registry=registry)
            for relative, data in files.items():
                on_disk = out_dir / relative
                if not on_disk.exists() or on_disk.read_bytes() != data:
                    problems.append(f"{on_disk}: differs from a rebuild from {source_name}")
            if manifest_bytes(rebuilt) != manifest_path.read_bytes():
                problems.append(f"{manifest_path}: differs from a rebuild from {source_name}")
    return problems
