"""Base recommenders and the re-ranking request generator (specs/rerank.md §4.7)."""

from mstk.recsys.models import ItemKNN, Popularity
from mstk.recsys.requests import RequestOptions, make_requests

__all__ = ["ItemKNN", "Popularity", "RequestOptions", "make_requests"]
