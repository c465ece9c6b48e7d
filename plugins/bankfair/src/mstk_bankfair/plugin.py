"""Hook implementations: what this plugin registers with mstk."""

from mstk import hookimpl

from mstk_bankfair.baselines import MinRegularizer


@hookimpl
def register_rerankers(register):
    register(MinRegularizer)
