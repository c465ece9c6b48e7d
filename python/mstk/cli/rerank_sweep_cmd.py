"""``mstk rerank-sweep``: accuracy–fairness fronts of several methods over parameter grids."""

from __future__ import annotations

import click


@click.command("rerank-sweep")
@click.argument("input", default="-", metavar="[INPUT]")
@click.option("-o", "--output", default="-", show_default=True, help="Fronts JSON ('-' = stdout).")
@click.option("-m", "--method", "methods", multiple=True, help="Method to sweep (repeatable; default: every P0 method).")
@click.option("--grid", "grids", multiple=True, metavar="METHOD:PARAM=V1,V2", help="Override a method's grid (repeatable).")
@click.option("-p", "--param", "fixed", multiple=True, metavar="METHOD:NAME=VALUE", help="A fixed parameter for one method.")
@click.option("-k", type=click.IntRange(min=1), default=10, show_default=True)
@click.option("--providers", "providers_path", type=click.Path(exists=True, dir_okay=False))
@click.option("--min-exposure", type=click.FloatRange(min=0), default=None)
@click.option("--normalize", type=click.Choice(["minmax", "sigmoid", "none"]), default="minmax", show_default=True)
@click.option("--match", "match", type=click.FloatRange(0, 1), multiple=True, help="Report NDCG/MMR at these ESP levels (repeatable).")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), default=None, help="Also draw the fronts as a PNG (needs matplotlib).")
@click.option("--threads", type=int, default=None)
@click.pass_obj
def rerank_sweep(pm, input, output, methods, grids, fixed, k, providers_path, min_exposure, normalize, match, plot_path, threads) -> None:
    """Run each method over its parameter grid on the same requests and write, per method,
    the points (ESP, NDCG, MMR, Var, Gini, …); `--match` interpolates each front at given
    ESP levels, since methods are only comparable at matched fairness."""
    import orjson

    from mstk.io import ErrorPolicy, emit_summary, iter_records, open_input, open_output
    from mstk.plugins import rerankers
    from mstk.rerank.engine import ProviderTable
    from mstk.rerank.evaluate import EvalOptions
    from mstk.rerank.sweep import DEFAULT_GRIDS, at_matched, parse_grid, plot, sweep

    available = rerankers(pm)
    chosen = list(methods) or [m for m in DEFAULT_GRIDS if m in available]
    unknown = [m for m in chosen if m not in available]
    if unknown:
        raise click.BadParameter(f"unknown method {unknown[0]!r}; available: {', '.join(available)}", param_hint="'-m'")
    plan = {m: DEFAULT_GRIDS.get(m, ("", [None])) for m in chosen}
    fixed_params: dict[str, dict[str, str]] = {}
    try:
        for text in grids:
            method, name, values = parse_grid(text)
            plan[method] = (name, values)
        for text in fixed:
            method, name, values = parse_grid(text)
            fixed_params.setdefault(method, {})[name] = values[0]
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    stream, source = open_input(input)
    records = [rec for batch in iter_records(stream, ErrorPolicy(source=source)) for _, rec in batch]
    table = ProviderTable.load(providers_path) if providers_path else ProviderTable()
    options = {"providers": table, "normalize": normalize, "threads": threads, "min_exposure": min_exposure}
    eval_options = EvalOptions(k=k, min_exposure=min_exposure, providers=table.rows)
    fronts = sweep(records, plan, k, fixed_params, options, eval_options)
    result = {"k": k, "n_requests": len(records), "fronts": fronts}
    if match:
        result["matched"] = {
            f"{level:g}": {m: {"ndcg": at_matched(f, level), "mmr_by_user": at_matched(f, level, y="mmr_by_user")} for m, f in fronts.items()}
            for level in match
        }
    out = open_output(output, input)
    out.write(orjson.dumps(result, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE))
    out.flush()
    if plot_path:
        plot(fronts, plot_path)
    emit_summary({"command": "rerank-sweep", "methods": chosen, "points": sum(len(f) for f in fronts.values())})
