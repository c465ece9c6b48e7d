"""MovieLens-100K from the ``recbole==1.2.1`` package (``recbole/dataset_example/ml-100k``):
100,000 ratings of 1,682 items by 943 users. MovieLens may not be redistributed: it is read
from the installed package, never copied into the repository."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

import numpy as np

from mstk.data import package_dir

PACKAGE, PIN = "recbole", "recbole==1.2.1"


@dataclass(frozen=True)
class MovieLens100K:
    """Registered through ``register_datasets``: ``mstk data export ml-100k-events`` etc."""

    name = "ml-100k"
    package = PIN
    description = "MovieLens-100K ratings (user, item, ts, rating) and items (title, year, genres)"

    @staticmethod
    def directory():
        return package_dir(PACKAGE, PIN) / "dataset_example" / "ml-100k"

    @classmethod
    def events(cls) -> Iterator[dict[str, Any]]:
        with open(cls.directory() / "ml-100k.inter", encoding="utf-8") as f:
            next(f)  # typed header: user_id:token item_id:token rating:float timestamp:float
            for line in f:
                user, item, rating, ts = line.rstrip("\n").split("\t")
                yield {"user": user, "item": item, "ts": int(float(ts)), "rating": float(rating)}

    @classmethod
    def items(cls) -> Iterator[dict[str, Any]]:
        with open(cls.directory() / "ml-100k.item", encoding="utf-8") as f:
            next(f)  # item_id:token movie_title:token_seq release_year:token class:token_seq
            for line in f:
                fields = line.rstrip("\n").split("\t") + ["", "", ""]
                item, title, year, genres = fields[:4]
                yield {"item": item, "title": title, "year": year, "genres": genres.split()}

    @classmethod
    def exports(cls) -> dict[str, Any]:
        return {"ml-100k-events": cls.events, "ml-100k-items": cls.items}


def events_arrays(events: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    users = np.array([e["user"] for e in events])
    items = np.array([e["item"] for e in events])
    ts = np.array([e["ts"] for e in events], dtype=np.int64)
    rating = np.array([e.get("rating", e.get("label", 1.0)) for e in events], dtype=np.float64)
    return users, items, ts, rating
