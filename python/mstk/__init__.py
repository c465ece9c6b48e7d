"""mstk: research methods for recommendation, RAG and LLM training behind one CLI.

The public API for plugin authors is what this package and its documented submodules
export; ``mstk._core`` is private (the compiled Rust kernels).
"""

import os as _os

# The compiled core allocates through mimalloc, which reads its options from the
# environment when the extension loads (after this line). By default it commits each
# arena eagerly, which showed up as peak RSS (Wikipedia BM25: 120 MiB, against 85 MiB
# without, at the same speed; bench/results/retrieval.md). A value the user set wins.
_os.environ.setdefault("MIMALLOC_ARENA_EAGER_COMMIT", "0")

from mstk.hookspecs import hookimpl



def __getattr__(name: str) -> str:
    # The version is looked up on first use, through the installed-state cache, so that
    # importing mstk does not import importlib.metadata (see mstk.installed).
    if name == "__version__":
        from mstk.installed import snapshot

        version = snapshot().mstk_version
        globals()["__version__"] = version
        return version
    raise AttributeError(f"module 'mstk' has no attribute {name!r}")


__all__ = ["__version__", "hookimpl"]
