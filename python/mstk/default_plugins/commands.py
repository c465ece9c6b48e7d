"""The built-in commands, added through ``register_commands`` like any plugin's."""

from __future__ import annotations

from mstk import hookimpl

# One module per command (as in hatch): name -> "module:attribute". Adding a built-in
# command is one line here. Modules are imported only when their command runs (or when
# `mstk --help` lists them), so `mstk inject-errors` does not pay for `rerank`'s imports.
BUILTIN_COMMANDS: dict[str, str] = {
    "plugins": "mstk.cli.plugins_cmd:plugins",
    "rerank": "mstk.cli.rerank_cmd:rerank",
    "eval-rerank": "mstk.cli.eval_rerank_cmd:eval_rerank",
    "eval-retrieval": "mstk.cli.eval_retrieval_cmd:eval_retrieval",
    "rerank-sweep": "mstk.cli.rerank_sweep_cmd:rerank_sweep",
    "data": "mstk.cli.data_cmd:data",
    "recsys": "mstk.cli.recsys_cmd:recsys",
    "inject-errors": "mstk.cli.inject_cmd:inject_errors",
    "index": "mstk.cli.index_cmd:index",
    "index-info": "mstk.cli.index_info_cmd:index_info",
    "retrieve": "mstk.cli.retrieve_cmd:retrieve",
    "embed": "mstk.cli.embed_cmd:embed",
    "models": "mstk.cli.models_cmd:models",
    "generate": "mstk.cli.generate_cmd:generate",
}


@hookimpl
def register_commands(cli) -> None:
    from mstk.cli.lazy import LazyCommand

    for name, reference in BUILTIN_COMMANDS.items():
        cli.add_command(LazyCommand(name, reference))
