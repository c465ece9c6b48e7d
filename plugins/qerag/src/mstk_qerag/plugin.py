"""Hook implementations of the qerag plugin.

The ``qerag`` command group is registered as a lazy placeholder: its module (click
options, the benchmark builder) is imported only when ``mstk qerag`` or ``mstk --help``
runs, so every other command starts without paying for it.
"""

from mstk import hookimpl


@hookimpl
def register_commands(cli):
    from mstk.cli.lazy import LazyCommand

    cli.add_command(LazyCommand("qerag", "mstk_qerag.cli:qerag"))
