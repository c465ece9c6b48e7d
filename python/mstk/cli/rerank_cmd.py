"""``mstk rerank``: replay a stream of re-ranking requests with one method."""

from __future__ import annotations

import tomllib
from typing import Any

import click

from mstk.cli.options import CommonOptions, jsonl_command
from mstk.errors import ParameterError


def write_atomically(path: str, data: bytes) -> None:
    """Write to a temporary file beside ``path``, then rename: a run that dies midway
    leaves the previous state intact."""
    import os

    temporary = f"{path}.tmp{os.getpid()}"
    with open(temporary, "wb") as f:
        f.write(data)
    os.replace(temporary, path)


def parse_param_pairs(pairs: tuple[str, ...]) -> dict[str, str]:
    params: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise click.BadParameter(f"expected NAME=VALUE, got {pair!r}", param_hint="'-p'")
        params[name.strip()] = value.strip()
    return params


def load_config_params(path: str) -> dict[str, Any]:
    with open(path, "rb") as f:
        try:
            config = tomllib.load(f)
        except tomllib.TOMLDecodeError as exc:
            raise click.BadParameter(f"{path}: {exc}", param_hint="'--config'") from None
    params = config.get("params", {})
    if not isinstance(params, dict):
        raise click.BadParameter(f"{path}: [params] must be a table", param_hint="'--config'")
    return params


@click.command("rerank")
@jsonl_command(batch_size=False)
@click.option("-m", "--method", default="topk", show_default=True, help="Re-ranking method (see --list-methods).")
@click.option("-k", type=click.IntRange(min=1), default=10, show_default=True, help="List length K.")
@click.option("-p", "--param", "param_pairs", multiple=True, metavar="NAME=VALUE", help="Method parameter (repeatable).")
@click.option("--config", type=click.Path(exists=True, dir_okay=False), help="TOML file whose [params] table sets method parameters (-p wins).")
@click.option("--providers", "providers_path", type=click.Path(exists=True, dir_okay=False),
              help="Providers JSONL: provider, n_items, weight, min_exposure, deserved.")
@click.option("--interval", "interval_length", default="1d", show_default=True, help="Interval length when requests carry 'ts' but no 'interval' (s, m, h, d, w).")
@click.option("--ts-unit", type=click.Choice(["s", "ms"]), default="s", show_default=True, help="Unit of 'ts'.")
@click.option("--normalize", type=click.Choice(["minmax", "sigmoid", "none"]), default="minmax", show_default=True,
              help="Per-request score normalisation.")
@click.option("--keep-candidates", is_flag=True, help="Keep the candidate arrays in the output records.")
@click.option("--missing-provider", type=click.Choice(["error", "singleton"]), default="error", show_default=True,
              help="A candidate without provider: error, or the item is its own provider.")
@click.option("--min-exposure", type=click.FloatRange(min=0), default=None,
              help="m_p for providers without min_exposure in --providers (default β·γ_p).")
@click.option("--beta", type=click.FloatRange(0, 1), default=0.9, show_default=True, help="β of the default m_p = β·γ_p.")
@click.option("--deserved", type=click.Choice(["equal", "items", "weight"]), default="equal", show_default=True,
              help="γ_p = K·T·share_p with share equal, ∝ n_items or ∝ weight.")
@click.option("--forecast", type=click.Choice(["oracle", "last", "mean", "ewma"]), default="oracle", show_default=True,
              help="Traffic forecaster of BankFair's allocation (oracle looks ahead: a replay knows the counts; "
                   "last, mean and ewma read --traffic-history and the intervals already processed).")
@click.option("--traffic-history", "traffic_history_path", type=click.Path(exists=True, dir_okay=False), default=None,
              help="JSON list of request counts per interval before the stream, oldest first "
                   "(`mstk recsys score --traffic-out` writes it).")
@click.option("--state-in", "state_in_path", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Continue the run that wrote this state (--state-out): same method and settings, later intervals.")
@click.option("--state-out", "state_out_path", type=click.Path(dir_okay=False), default=None,
              help="Save the run's state (interval clock, traffic, exposure, the method's duals/estates/targets) "
                   "for a later --state-in.")
@click.option("--metrics", "metrics_path", type=click.Path(dir_okay=False), default=None,
              help="Write the run's per-interval allocations and deliveries (BankFair's Module 1) and exposure as JSON.")
@click.option("--list-methods", is_flag=True, help="Print the available methods and their parameters as JSON, then exit.")
@click.pass_obj
def rerank(pm, common: CommonOptions, method: str, k: int, param_pairs, config, providers_path, interval_length,
           ts_unit, normalize, keep_candidates, missing_provider, min_exposure, beta, deserved, forecast,
           traffic_history_path, state_in_path, state_out_path, metrics_path, list_methods) -> None:
    """Re-rank each request's candidates into a top-K list, online, in time order.

    INPUT is JSONL with one request per line: "items", "scores", "providers" arrays (or
    "candidates" objects), optional "interval" or "ts". Each output line is the input
    record minus the candidate arrays plus "interval", "rec_items", "rec_providers",
    "rec_scores" (normalised), "dcg", "idcg" and "ndcg". Output keeps input order;
    methods process requests by (interval, ts).
    """
    import orjson

    from mstk.io import Stopwatch, emit_summary, iter_block_spans, open_input, open_output, prefetched
    from mstk.plugins import rerankers
    from mstk.rerank.intervals import parse_interval_length

    methods = rerankers(pm)
    if list_methods:
        click.echo(orjson.dumps([cls.describe() for cls in methods.values()], option=orjson.OPT_INDENT_2).decode())
        return
    if method not in methods:
        raise click.BadParameter(f"unknown method {method!r}; available: {', '.join(methods)}", param_hint="'--method'")
    method_cls = methods[method]
    given = load_config_params(config) if config else {}
    given.update(parse_param_pairs(param_pairs))
    try:
        params = method_cls.resolve_params(given)
        length_seconds = parse_interval_length(interval_length)
    except ParameterError as exc:
        raise click.UsageError(str(exc)) from None
    ts_per_second = 1000.0 if ts_unit == "ms" else 1.0

    settings = {
        "method": method, "k": k, "params": params, "normalize": normalize, "missing_provider": missing_provider,
        "min_exposure": min_exposure, "beta": beta, "deserved": deserved, "forecast": forecast,
        "interval": interval_length, "ts_unit": ts_unit,
    }
    from mstk.rerank.methods import TopK

    job: Any
    if method_cls is TopK and not (state_in_path or state_out_path or metrics_path or providers_path or traffic_history_path):
        # Plain top-K: one core call per block and no numpy (decision 80).
        from mstk.rerank.topk_stream import TopKStreamJob

        stream, source = open_input(common.input)
        policy = common.error_policy(source)
        job = TopKStreamJob(k=k, normalize=normalize, keep_candidates=keep_candidates, missing_provider=missing_provider,
                            on_error=policy.mode, interval_length=length_seconds * ts_per_second, threads=common.threads)
    else:
        from mstk.rerank.engine import IntervalClock, ProviderTable, RerankJob
        from mstk.rerank.state import RunState
        from mstk.rerank.targets import read_traffic_history

        state_in = None
        if state_in_path or state_out_path:
            if method_cls.resume_mode(params) is None:
                raise click.UsageError(f"method {method!r} with these parameters cannot continue a saved run "
                                       "(its batches span intervals); use batch=interval or drop --state-in/--state-out")
            if state_in_path:
                state_in = RunState.load(state_in_path)
                try:
                    state_in.check_settings(settings, state_in_path)
                except ParameterError as exc:
                    raise click.UsageError(str(exc)) from None
        stream, source = open_input(common.input)
        job = RerankJob(
            method=method_cls(), params=params, k=k, normalize=normalize, keep_candidates=keep_candidates,
            missing_provider=missing_provider, providers=ProviderTable.load(providers_path) if providers_path else ProviderTable(),
            clock=IntervalClock(length_seconds=length_seconds, ts_per_second=ts_per_second), threads=common.threads,
            seed=common.seed, min_exposure=min_exposure, beta=beta, deserved=deserved, forecast=forecast,
            traffic_history=read_traffic_history(traffic_history_path) if traffic_history_path else None,
            state_in=state_in, state_source=state_in_path or "", settings=settings,
        )
        policy = common.error_policy(source)
    watch = Stopwatch()
    out = open_output(common.output, common.input)
    n_out = 0
    try:
        with common.progress_bar(unit="req") as bar:
            # A streaming method handles blocks as they come (bounded memory); an online
            # one must see the whole stream, since it processes in (interval, ts) order.
            if method_cls.streaming:
                blocks = prefetched(iter_block_spans(stream))
            else:
                whole = stream.read()
                blocks = iter([(whole, 0, len(whole))])
            next_line = 1
            for data, start, end in blocks:
                written, n, next_line = job.process(data, next_line, policy, span=(start, end))
                out.write(written)
                n_out += n
                bar.update(n)
        out.flush()
    finally:
        policy.close()
        if common.output != "-":
            out.close()
    if state_out_path:
        write_atomically(state_out_path, job.final_state().dumps())
    if metrics_path:
        with open(metrics_path, "wb") as f:
            f.write(orjson.dumps({
                "method": method, "params": params, "k": k, "provider_exposure": dict(sorted(job.exposure.items())),
                "per_interval": job.allocations,
            }, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE))
    emit_summary({
        "command": "rerank", "method": method, "k": k, "params": params, "records_in": job.records_read,
        "records_out": n_out, "skipped": len(policy.skipped), "seconds": watch.seconds,
        "exposure": dict(sorted(job.exposure.items())),
    })
    if policy.exit_code:
        click.get_current_context().exit(policy.exit_code)
