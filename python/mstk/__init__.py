"""mstk: research methods for recommendation, RAG and LLM training behind one CLI.

The public API for plugin authors is what this package and its documented submodules
export; ``mstk._core`` is private (the compiled Rust kernels).
"""

import os as _os
from importlib.metadata import PackageNotFoundError, version as _version

# The compiled core allocates through mimalloc, which reads its options from the
# environment when the extension loads (after this line). By default it commits each
# arena eagerly, which showed up as peak RSS (Wikipedia BM25: 120 MiB, against 85 MiB
# without, at the same speed; bench/results/retrieval.md). A value the user set wins.
_os.environ.setdefault("MIMALLOC_ARENA_EAGER_COMMIT", "0")

from mstk.hookspecs import hookimpl

try:
    __version__ = _version("mstk")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0+unknown"

__all__ = ["__version__", "hookimpl"]
