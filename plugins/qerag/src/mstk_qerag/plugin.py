"""Hook implementations of the qerag plugin (commands are imported lazily)."""

from mstk import hookimpl


@hookimpl
def register_commands(cli):
    from mstk_qerag.cli import qerag

    cli.add_command(qerag)
