"""``mstk recsys``: base scores and re-ranking requests from timestamped interactions."""

from __future__ import annotations

import click


def write_stream(output: str, requests: list[dict], providers_out: str | None, providers: list[dict],
                 traffic_out: str | None = None, traffic: list[int] | None = None) -> None:
    """Requests as JSONL to OUTPUT, and the providers table and traffic history when asked for."""
    import orjson

    from mstk.io import dumps_records, open_output

    out = open_output(output)
    out.write(dumps_records(requests))
    out.flush()
    if providers_out:
        with open(providers_out, "wb") as f:
            f.write(dumps_records(providers))
    if traffic_out:
        with open(traffic_out, "wb") as f:
            f.write(orjson.dumps(traffic or [], option=orjson.OPT_APPEND_NEWLINE))


@click.group("recsys")
def recsys() -> None:
    """Base recommenders and re-ranking request streams (input for `mstk rerank`)."""


# Options of both stream generators (`score` fits a model, `requests` takes the user's scores).
STREAM_OPTIONS = [
    click.argument("events", type=click.Path(exists=True, dir_okay=False, allow_dash=True)),
    click.option("--items", "items_path", type=click.Path(exists=True, dir_okay=False), required=True, help="Items JSONL (item, genres, …)."),
    click.option("--test-from", required=True, help="First day of the test period (YYYY-MM-DD, UTC)."),
    click.option("--test-until", default=None, help="Day after the test period (YYYY-MM-DD, UTC; default: the end)."),
    click.option("-o", "--output", default="-", show_default=True, help="Requests JSONL ('-' = stdout)."),
    click.option("--profile", type=click.Choice(["history", "train"]), default="history", show_default=True,
                 help="history: the user's events before each request (no leak); train: events before --test-from."),
    click.option("--positive-threshold", type=float, default=4.0, show_default=True, help="Rating that makes a test event a request."),
    click.option("--candidates", default="200", show_default=True, help="Candidates per request: a number or 'all'."),
    click.option("--exclude-seen/--keep-seen", default=True, show_default=True, help="Leave the user's profile items out."),
    click.option("--provider-from", default="genres", show_default=True, help="Item field whose (first) value is the provider."),
    click.option("--provider-hash", type=click.IntRange(min=1), default=None, metavar="N",
                 help="Instead of --provider-from: N providers h0…h{N-1} from a seeded hash of the item id (--seed)."),
    click.option("--cold", type=click.Choice(["popularity", "skip"]), default="popularity", show_default=True,
                 help="Users without history (or without scores): popularity scores, or skip (counted)."),
    click.option("--seed", type=int, default=0, show_default=True, help="Seed of ALS's initial factors and of --provider-hash."),
    click.option("--interval", "interval_length", default="1d", show_default=True, help="Interval length (s, m, h, d, w) of the requests' 'interval'."),
    click.option("--ts-unit", type=click.Choice(["s", "ms"]), default="s", show_default=True, help="Unit of the events' 'ts'."),
    click.option("--providers-out", type=click.Path(dir_okay=False), default=None, help="Write providers JSONL (n_items, weight)."),
    click.option("--traffic-out", type=click.Path(dir_okay=False), default=None,
                 help="Write the positive training interactions per interval before the first request (JSON list, "
                      "oldest first): `mstk rerank --traffic-history`."),
]


def stream_options(command):
    for option in reversed(STREAM_OPTIONS):
        command = option(command)
    return command


@recsys.command("score")
@stream_options
@click.option("--model", type=click.Choice(["itemknn", "als", "pop"]), default="itemknn", show_default=True,
              help="Base scorer: item kNN (no training loop), implicit-feedback ALS, or popularity.")
@click.option("--neighbors", type=click.IntRange(min=1), default=100, show_default=True)
@click.option("--shrink", type=click.FloatRange(min=0), default=10.0, show_default=True)
@click.option("--factors", type=click.IntRange(min=1), default=64, show_default=True, help="als: latent factors.")
@click.option("--reg", type=click.FloatRange(min=0, min_open=True), default=0.05, show_default=True, help="als: L2 regularisation.")
@click.option("--alpha", type=click.FloatRange(min=0), default=10.0, show_default=True, help="als: confidence 1 + alpha·x.")
@click.option("--iterations", type=click.IntRange(min=0), default=15, show_default=True, help="als: alternating iterations.")
def score(**options) -> None:
    """Fit a base scorer on EVENTS before --test-from and emit one request per positive
    test interaction, in time order, with candidates, scores and providers."""
    make_stream("recsys score", **options)


@recsys.command("requests")
@stream_options
@click.option("--scores", "scores_path", type=click.Path(exists=True, dir_okay=False), required=True,
              help='Your model\'s scores, one line per user: {"user", "items": [...], "scores": [...]}.')
def requests_command(scores_path, **options) -> None:
    """Emit one request per positive test interaction of EVENTS, like `recsys score`, with
    candidates and scores from --scores (a model trained elsewhere): each user's scored
    items, ranked by score. Users the file does not score are cold (see --cold)."""
    from mstk.recsys.requests import read_user_scores

    make_stream("recsys requests", user_scores=read_user_scores(scores_path), **options)


def make_stream(command: str, events, items_path, test_from, test_until, output, profile, positive_threshold, candidates,
                exclude_seen, provider_from, provider_hash, cold, seed, interval_length, ts_unit, providers_out, traffic_out,
                model="itemknn", neighbors=100, shrink=10.0, factors=64, reg=0.05, alpha=10.0, iterations=15,
                user_scores=None) -> None:
    from mstk.io import ErrorPolicy, emit_summary, iter_records, open_input
    from mstk.recsys.requests import RequestOptions, make_requests, parse_date
    from mstk.rerank.intervals import parse_interval_length

    if candidates != "all" and not (candidates.isdigit() and int(candidates) > 0):
        raise click.BadParameter("a positive number or 'all'", param_hint="'--candidates'")
    per_second = 1000 if ts_unit == "ms" else 1
    try:
        options = RequestOptions(
            test_from=parse_date(test_from) * per_second,
            test_until=parse_date(test_until) * per_second if test_until else None, model=model,
            profile=profile, positive_threshold=positive_threshold, candidates=None if candidates == "all" else int(candidates),
            exclude_seen=exclude_seen, provider_field=provider_from, provider_hash=provider_hash, cold=cold, neighbors=neighbors, shrink=shrink,
            factors=factors, reg=reg, alpha=alpha, iterations=iterations, seed=seed,
            interval_seconds=parse_interval_length(interval_length) * per_second, user_scores=user_scores,
        )
    except Exception as exc:
        raise click.UsageError(str(exc)) from None

    def read(path: str, required: tuple[str, ...]) -> list[dict]:
        stream, source = open_input(path)
        policy = ErrorPolicy(source=source)
        rows = []
        for batch in iter_records(stream, policy):
            for line, record in batch:
                missing = [f for f in required if f not in record]
                if missing:
                    policy.bad(line, f"missing field(s) {', '.join(missing)}")
                rows.append(record)
        return rows

    event_rows = read(events, ("user", "item", "ts"))
    item_rows = read(items_path, ("item",))
    requests, providers, stats, traffic = make_requests(event_rows, item_rows, options)
    write_stream(output, requests, providers_out, providers, traffic_out, traffic)
    emit_summary({"command": command, **stats})


@recsys.command("synth")
@click.option("-o", "--output", default="-", show_default=True, help="Requests JSONL ('-' = stdout).")
@click.option("--providers-out", type=click.Path(dir_okay=False), default=None, help="Providers JSONL with min_exposure.")
@click.option("--providers", "n_providers", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--items-per-provider", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--provider-sizes", type=click.Choice(["equal", "zipf"]), default="equal", show_default=True)
@click.option("--users", type=click.IntRange(min=1), default=300, show_default=True)
@click.option("--intervals", type=click.IntRange(min=1), default=14, show_default=True)
@click.option("--base-traffic", type=click.FloatRange(min=0), default=50.0, show_default=True)
@click.option("--amplitude", type=click.FloatRange(0, 1), default=0.9, show_default=True, help="Traffic swing: r_n ∝ 1 + amplitude·sin(2πn/period).")
@click.option("--period", type=click.FloatRange(min=0, min_open=True), default=7.0, show_default=True)
@click.option("--traffic-noise", type=click.FloatRange(min=0), default=0.1, show_default=True)
@click.option("--popularity-zipf", type=click.FloatRange(min=0), default=1.0, show_default=True)
@click.option("--dim", type=click.IntRange(min=1), default=8, show_default=True)
@click.option("--candidates", default="all", show_default=True, help="Candidates per request: 'all' or a number.")
@click.option("--min-exposure-quantile", type=click.FloatRange(0, 1), default=0.5, show_default=True)
@click.option("-k", type=click.IntRange(min=1), default=10, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
def synth_command(output, providers_out, n_providers, items_per_provider, provider_sizes, users, intervals, base_traffic,
                  amplitude, period, traffic_noise, popularity_zipf, dim, candidates, min_exposure_quantile, k, seed) -> None:
    """Seeded synthetic requests with fluctuating traffic (every record says "synthetic": true)."""
    from mstk.io import emit_summary
    from mstk.recsys.synth import SynthOptions, synth

    if candidates != "all" and not (candidates.isdigit() and int(candidates) > 0):
        raise click.BadParameter("a positive number or 'all'", param_hint="'--candidates'")
    options = SynthOptions(
        providers=n_providers, items_per_provider=items_per_provider, provider_sizes=provider_sizes, users=users,
        intervals=intervals, base_traffic=base_traffic, amplitude=amplitude, period=period, traffic_noise=traffic_noise,
        popularity_zipf=popularity_zipf, dim=dim, candidates=None if candidates == "all" else int(candidates),
        min_exposure_quantile=min_exposure_quantile, k=k, seed=seed,
    )
    requests, providers, stats = synth(options)
    write_stream(output, requests, providers_out, providers)
    emit_summary({"command": "recsys synth", **stats})
