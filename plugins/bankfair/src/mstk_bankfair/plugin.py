"""Hook implementations: what this plugin registers with mstk.

Method modules are imported inside the hooks, so loading the plugin (which every `mstk`
invocation does) stays cheap.
"""

from mstk import hookimpl


@hookimpl
def register_rerankers(register):
    from mstk_bankfair.bankfair import BankFair, BankFairPlus
    from mstk_bankfair.baselines import CpFair, FairRec, KNeighbor, MinRegularizer, Pmmf, Tfrom

    for method in (BankFair, BankFairPlus, Pmmf, MinRegularizer, CpFair, KNeighbor, Tfrom, FairRec):
        register(method)
