"""Hook implementations of the qerag plugin.

The ``qerag`` command group is registered as a lazy placeholder with its summary: its
module (click options, the benchmark builder) is imported only when ``mstk qerag`` runs,
so every other command, and ``mstk --help``, starts without paying for it.
"""

from mstk import hookimpl


@hookimpl
def register_commands(cli):
    from mstk.cli.lazy import LazyCommand

    cli.add_command(LazyCommand("qerag", "mstk_qerag.cli:qerag", SUMMARY))


# the first paragraph of the group's docstring (tests/test_build.py keeps them equal)
SUMMARY = "QE-RAG (arXiv:2504.04062): QA benchmarks with query entry errors."
