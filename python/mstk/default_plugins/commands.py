"""The built-in commands, added through ``register_commands`` like any plugin's."""

from __future__ import annotations

from mstk import hookimpl

# One module per command (as in hatch): name -> ("module:attribute", summary). Adding a
# built-in command is one line here. Modules are imported only when their command runs;
# `mstk --help` lists the summaries (each the first paragraph of the command's docstring,
# kept equal by tests/test_plugins.py), so it imports no command module at all.
BUILTIN_COMMANDS: dict[str, tuple[str, str]] = {
    "plugins": ("mstk.cli.plugins_cmd:plugins", "List installed plugins as JSON."),
    "rerank": ("mstk.cli.rerank_cmd:rerank",
               "Re-rank each request's candidates into a top-K list, online, in time order."),
    "eval-rerank": ("mstk.cli.eval_rerank_cmd:eval_rerank",
                    "Metrics JSON for `mstk rerank` output: NDCG, Vio, CV, MMR, Var (also per user), ESP, Gini, MMF, "
                    "provider variance, hit rate, and per-interval detail."),
    "eval-retrieval": ("mstk.cli.eval_retrieval_cmd:eval_retrieval",
                       "Score retrieved lists: recall, precision, MRR, nDCG (linear gain) and hit @k, with trec_eval's "
                       "definitions (relevant = grade ≥ 1)."),
    "rerank-sweep": ("mstk.cli.rerank_sweep_cmd:rerank_sweep",
                     "Run each method over its parameter grid on the same requests and write, per method, the points "
                     "(ESP, NDCG, MMR, Var, Gini, …); `--match` interpolates each front at given ESP levels, since "
                     "methods are only comparable at matched fairness."),
    "data": ("mstk.cli.data_cmd:data", "Real datasets read from pinned registry packages (never downloaded at run time)."),
    "recsys": ("mstk.cli.recsys_cmd:recsys", "Base recommenders and re-ranking request streams (input for `mstk rerank`)."),
    "inject-errors": ("mstk.cli.inject_cmd:inject_errors", "Inject keyboard, visual and spelling errors into one text field."),
    "index": ("mstk.cli.index_cmd:index",
              "Index CORPUS (JSONL: id and contents, or id, title and text) for `mstk retrieve`."),
    "index-info": ("mstk.cli.index_info_cmd:index_info", "Print DIR's manifest as one JSON line (exit 1 if a check fails)."),
    "retrieve": ("mstk.cli.retrieve_cmd:retrieve", "Retrieve the top -k documents for each query record's --query-field."),
    "embed": ("mstk.cli.embed_cmd:embed",
              "Add each record's embedding (L2-normalised float32, as a list) under --out-field."),
    "models": ("mstk.cli.models_cmd:models",
               "List, build and verify the pretrained models (they ship in pinned registry packages)."),
    "generate": ("mstk.cli.generate_cmd:generate",
                 "Complete each record's `prompt` (a string) or `messages` (a chat list)."),
}


@hookimpl
def register_commands(cli) -> None:
    from mstk.cli.lazy import LazyCommand

    for name, (reference, summary) in BUILTIN_COMMANDS.items():
        cli.add_command(LazyCommand(name, reference, summary))
