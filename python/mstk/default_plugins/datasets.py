"""Registers the real datasets the host can read from registry packages."""

from mstk import hookimpl


@hookimpl
def register_datasets(register):
    from mstk.data.movielens import MovieLens100K
    from mstk.data.wiki import WikiKnownItem

    register(MovieLens100K)
    register(WikiKnownItem)
