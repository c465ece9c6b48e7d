"""mstk: research methods for recommendation, RAG and LLM training behind one CLI.

The public API for plugin authors is what this package and its documented submodules
export; ``mstk._core`` is private (the compiled Rust kernels).
"""

from importlib.metadata import PackageNotFoundError, version as _version

from mstk.hookspecs import hookimpl

try:
    __version__ = _version("mstk")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0+unknown"

__all__ = ["__version__", "hookimpl"]
