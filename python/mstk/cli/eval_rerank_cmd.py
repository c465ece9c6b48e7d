"""``mstk eval-rerank``: accuracy and fairness metrics of re-ranked lists."""

from __future__ import annotations

import click

from mstk.cli.options import CommonOptions, jsonl_command


@click.command("eval-rerank")
@jsonl_command
@click.option("-k", type=click.IntRange(min=1), default=10, show_default=True, help="List length K used by rerank.")
@click.option("--providers", "providers_path", type=click.Path(exists=True, dir_okay=False),
              help="Providers JSONL: provider, n_items, weight, min_exposure (the universe P includes them all).")
@click.option("--phi", type=click.FloatRange(0, 1), default=0.95, show_default=True, help="Accuracy threshold of Vio.")
@click.option("--min-exposure", type=click.FloatRange(min=0), default=None, help="m_p for providers without min_exposure (default β·γ_p).")
@click.option("--beta", type=click.FloatRange(0, 1), default=0.9, show_default=True, help="β of m_p = β·γ_p and of esp_beta.")
@click.option("--deserved", type=click.Choice(["equal", "items", "weight"]), default="equal", show_default=True,
              help="Share of γ_p = K·T·share_p.")
@click.option("--exposure", "exposure_mode", type=click.Choice(["count", "dcg"]), default="count", show_default=True,
              help="Exposure per slot: 1, or the position weight 1/log2(k+1).")
def eval_rerank(common: CommonOptions, k, providers_path, phi, min_exposure, beta, deserved, exposure_mode) -> None:
    """Metrics JSON for `mstk rerank` output: NDCG, Vio, CV, MMR, Var (also per user),
    ESP, Gini, MMF, provider variance, hit rate, and per-interval detail."""
    import orjson

    from mstk.io import emit_summary, iter_records, open_input, open_output, Stopwatch
    from mstk.rerank.engine import ProviderTable
    from mstk.rerank.evaluate import EvalOptions, evaluate

    watch = Stopwatch()
    stream, source = open_input(common.input)
    policy = common.error_policy(source)
    providers = ProviderTable.load(providers_path).rows if providers_path else {}
    options = EvalOptions(k=k, phi=phi, beta=beta, min_exposure=min_exposure, deserved=deserved,
                          exposure=exposure_mode, providers=providers)
    records = [pair for batch in iter_records(stream, policy, common.batch_size or 4096) for pair in batch]
    metrics = evaluate(records, options, source)
    out = open_output(common.output, common.input)
    out.write(orjson.dumps(metrics, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE))
    out.flush()
    policy.close()
    emit_summary({"command": "eval-rerank", "records_in": len(records) + len(policy.skipped),
                  "skipped": len(policy.skipped), "seconds": watch.seconds})
    if policy.exit_code:
        click.get_current_context().exit(policy.exit_code)
