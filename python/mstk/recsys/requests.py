"""Re-ranking requests from timestamped interactions: one request per positive test
interaction, in time order, with candidates, base scores and providers (specs/rerank.md §4.7)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np

from mstk.errors import ParameterError
from mstk.recsys.models import ALS, ItemKNN, Popularity

DAY = 86400


def parse_date(text: str) -> int:
    """YYYY-MM-DD (UTC) → epoch seconds."""
    try:
        return int(dt.datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=dt.timezone.utc).timestamp())
    except ValueError:
        raise ParameterError(f"dates look like 1998-04-01, got {text!r}") from None


@dataclass
class RequestOptions:
    test_from: int
    test_until: int | None = None
    model: str = "itemknn"
    profile: str = "history"  # or "train"
    positive_threshold: float = 4.0
    candidates: int | None = 200  # None = all
    exclude_seen: bool = True
    provider_field: str = "genres"
    provider_hash: int | None = None  # N: provider = a seeded hash of the item id into N buckets
    cold: str = "popularity"  # or "skip"
    neighbors: int = 100
    shrink: float = 10.0
    factors: int = 64
    reg: float = 0.05
    alpha: float = 10.0
    iterations: int = 15
    seed: int = 0
    # interval length in the unit of 'ts' (a day in seconds by default; ×1000 for --ts-unit ms)
    interval_seconds: float = DAY
    # `recsys requests --scores`: the user's own scores replace the base model (user id →
    # {item id: score}); items without a score are not candidates for that user
    user_scores: dict[str, dict[str, float]] | None = None


def read_user_scores(path: str) -> dict[str, dict[str, float]]:
    """SCORES.jsonl: one line per user, ``{"user": "196", "items": [...], "scores": [...]}``
    (e.g. a trained model's scores over its candidate items). Bad lines are errors naming
    the line; nothing is skipped."""
    import math

    from mstk.errors import InputError
    from mstk.io import iter_jsonl_file

    table: dict[str, dict[str, float]] = {}
    for line_no, row in iter_jsonl_file(path):
        if not isinstance(row, dict) or "user" not in row or not isinstance(row.get("items"), list) \
                or not isinstance(row.get("scores"), list):
            raise InputError(path, line_no, "each line needs 'user', 'items' and 'scores'")
        user = str(row["user"])
        if user in table:
            raise InputError(path, line_no, f"user {user!r} is listed twice")
        items, scores = row["items"], row["scores"]
        if len(items) != len(scores):
            raise InputError(path, line_no, f"{len(items)} items but {len(scores)} scores")
        mine: dict[str, float] = {}
        for item, score in zip(items, scores):
            if isinstance(score, bool) or not isinstance(score, (int, float)) or not math.isfinite(score):
                raise InputError(path, line_no, f"score of item {item!r} must be a finite number, got {score!r}")
            if str(item) in mine:
                raise InputError(path, line_no, f"item {item!r} is scored twice")
            mine[str(item)] = float(score)
        table[user] = mine
    return table


def hashed_provider(item: str, buckets: int, seed: int) -> str:
    """Provider "h{b}" with b a seeded BLAKE2b hash of the item id modulo ``buckets``: the
    same in every process (Python's hash() is salted per process)."""
    import hashlib

    digest = hashlib.blake2b(item.encode(), digest_size=8, key=str(seed).encode()).digest()
    return f"h{int.from_bytes(digest, 'little') % buckets}"


def base_model(options: RequestOptions):
    if options.model == "itemknn":
        return ItemKNN(options.neighbors, options.shrink)
    if options.model == "als":
        return ALS(options.factors, options.reg, options.alpha, options.iterations, options.seed)
    if options.model == "pop":
        return Popularity()
    raise ParameterError(f"unknown base model {options.model!r} (itemknn, als or pop)")


def make_requests(events: list[dict[str, Any]], items: list[dict[str, Any]], options: RequestOptions):
    """Returns (requests, providers rows, stats, traffic history): the history counts the
    positive training interactions per interval before the first request, oldest first."""
    catalogue: dict[str, int] = {}
    for row in items:
        catalogue.setdefault(str(row["item"]), len(catalogue))
    for e in events:
        catalogue.setdefault(str(e["item"]), len(catalogue))
    names = list(catalogue)
    provider_of = ["unknown"] * len(names)
    if options.provider_hash is not None:
        provider_of = [hashed_provider(name, options.provider_hash, options.seed) for name in names]
    else:
        for row in items:
            value = row.get(options.provider_field)
            first = value[0] if isinstance(value, list) and value else value if isinstance(value, str) and value else "unknown"
            provider_of[catalogue[str(row["item"])]] = str(first)

    order = sorted(range(len(events)), key=lambda i: events[i]["ts"])  # stable
    events = [events[i] for i in order]
    ts = np.array([e["ts"] for e in events], dtype=np.int64)
    item_idx = np.array([catalogue[str(e["item"])] for e in events], dtype=np.int64)
    users = [str(e["user"]) for e in events]
    positive = np.array([(e["label"] == 1) if "label" in e else (e.get("rating", 0) >= options.positive_threshold) for e in events])

    train = ts < options.test_from
    user_ids: dict[str, int] = {}
    for u in users:
        user_ids.setdefault(u, len(user_ids))
    uidx = np.array([user_ids[u] for u in users], dtype=np.int64)
    x = np.zeros((len(user_ids), len(names)), dtype=np.uint8)
    x[uidx[train], item_idx[train]] = 1

    model = base_model(options).fit(x) if options.user_scores is None else None
    if options.user_scores is not None:
        unknown = {i for mine in options.user_scores.values() for i in mine if i not in catalogue}
        if unknown:
            raise ParameterError(f"--scores names {len(unknown)} item(s) that are neither in --items nor in the events, "
                                 f"e.g. {sorted(unknown)[0]!r}")
    popularity = Popularity().fit(x)

    in_test = (ts >= options.test_from) & ((ts < options.test_until) if options.test_until is not None else True)
    targets = np.flatnonzero(in_test & positive)
    # each user's events in time order, for history profiles
    by_user: dict[int, np.ndarray] = {}
    for u in range(len(user_ids)):
        by_user[u] = np.flatnonzero(uidx == u)

    requests, cold_skipped, hits = [], 0, 0
    first_ts = int(ts[targets[0]]) if len(targets) else 0
    for k, e in enumerate(targets):
        u = int(uidx[e])
        mine = by_user[u]
        if options.profile == "history":
            past = mine[ts[mine] < ts[e]]
        else:
            past = mine[train[mine]]
        profile = np.unique(item_idx[past])
        allowed = np.ones(len(names), dtype=bool)
        if options.user_scores is not None:
            # the user's own scores; a user the file does not score is cold
            mine = options.user_scores.get(users[e])
            cold = mine is None
            if not cold:
                scores = np.zeros(len(names))
                allowed[:] = False
                for item, value in mine.items():
                    scores[catalogue[item]] = value
                    allowed[catalogue[item]] = True
        else:
            cold = len(profile) == 0
        if cold and options.cold == "skip":
            cold_skipped += 1
            continue
        if cold:
            scores = popularity.score(profile)
        elif options.user_scores is None:
            scores = model.score(profile)
        if options.exclude_seen:
            allowed[profile] = False
        candidates = np.flatnonzero(allowed)
        ranked = candidates[np.lexsort((candidates, -scores[candidates]))]  # score desc, ties → lower id
        if options.candidates is not None:
            ranked = ranked[: options.candidates]
        target = int(item_idx[e])
        hits += int(target in set(ranked[:10].tolist()))
        requests.append({
            "request_id": f"r{len(requests)}",
            "user": users[e],
            "ts": int(ts[e]),
            "target_item": names[target],
            "interval": int(ts[e] // options.interval_seconds - first_ts // options.interval_seconds),
            "items": [names[i] for i in ranked],
            "scores": [float(s) for s in scores[ranked]],
            "providers": [provider_of[i] for i in ranked],
            "cold": cold,
        })
    interactions = np.bincount(item_idx[train], minlength=len(names))
    providers: dict[str, dict[str, float]] = {}
    for i, p in enumerate(provider_of):
        row = providers.setdefault(p, {"provider": p, "n_items": 0, "weight": 0.0})
        row["n_items"] += 1
        row["weight"] += float(interactions[i])
    total = max(float(interactions.sum()), 1.0)
    for row in providers.values():
        row["weight"] = row["weight"] / total
    # positive training interactions per interval before the first request's interval, on
    # the requests' clock (oldest first, empty intervals count): `rerank --traffic-history`
    history_ts = ts[train & positive]
    traffic: list[int] = []
    if len(history_ts) and len(targets):
        index = (history_ts // options.interval_seconds - first_ts // options.interval_seconds).astype(np.int64)
        index = index[index < 0]
        if len(index):
            traffic = np.bincount(index - index.min(), minlength=int(-index.min())).tolist()
    stats = {
        "train_events": int(train.sum()),
        "requests": len(requests),
        "intervals": len({r["interval"] for r in requests}),
        "cold": sum(r["cold"] for r in requests),
        "cold_skipped": cold_skipped,
        "providers": len(providers),
        "hr@10": hits / len(requests) if requests else None,
        "model": options.model if options.user_scores is None else "scores",
    }
    stats["traffic_history_intervals"] = len(traffic)
    return requests, sorted(providers.values(), key=lambda r: r["provider"]), stats, traffic
