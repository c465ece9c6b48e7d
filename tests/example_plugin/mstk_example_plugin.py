"""A minimal mstk plugin: the command ``mstk hello-example`` and the reranker ``example_reverse``."""

from __future__ import annotations

import json
from typing import Any

import click

import mstk
from mstk.errors import ParameterError
from mstk.rerank import Param, RerankBatch, RerankContext, RerankResult, Reranker


@click.command(name="hello-example")
def hello_example() -> None:
    """Print one JSON line (reads no input)."""
    click.echo(json.dumps({"hello": "example", "plugin": "mstk-example-plugin"}))


class ExampleReverseReranker(Reranker):
    """Show each request's K lowest-scored candidates: a top-K list turned upside down."""

    name = "example_reverse"  # mstk rerank -m example_reverse
    kind = "online"
    streaming = True  # requests are independent: the CLI may feed the input block by block
    fidelity = "toy example of the plugin API, not a method from any paper"
    params = (Param("skip_lowest", int, 0, "leave out this many lowest-scored candidates before choosing"),)

    def run(self, batch: RerankBatch, ctx: RerankContext, params: dict[str, Any], state: bytes | None = None) -> RerankResult:
        # Imported here, not at module level: mstk imports this module on every start,
        # `mstk --help` included, and numpy and the Rust kernels take time to load.
        import numpy as np

        from mstk.rerank import kernels

        skip = params["skip_lowest"]
        if skip < 0:
            raise ParameterError(f"parameter 'skip_lowest' must be >= 0, got {skip}")
        sel_offsets, sel = [0], []
        for t in range(batch.n_requests):  # input order; no state carried between requests
            start, end = batch.offsets[t], batch.offsets[t + 1]
            score, provider = batch.score[start:end], batch.provider[start:end]  # normalised scores
            # The lowest scores are the best ones by -score: w=-1 turns the top-K kernel
            # upside down (ties still go to the earlier position). Leave out the `skip`
            # lowest, then take the K lowest of the rest; the kernel returns them
            # displayed by score descending, as every list in mstk is.
            keep = np.ones(end - start, dtype=bool)
            keep[kernels.topk_priced(score, provider, skip, w=-1.0)] = False
            rest = np.flatnonzero(keep)
            chosen = rest[kernels.topk_priced(score[rest], provider[rest], ctx.k, w=-1.0)]
            sel.extend(chosen.tolist())
            sel_offsets.append(len(sel))
        # Request t shows positions sel[sel_offsets[t]:sel_offsets[t+1]] of its candidates.
        # dcg, idcg and exposure are left out: the host computes them from these lists.
        return RerankResult(sel_offsets=np.array(sel_offsets, dtype=np.int64), sel=np.array(sel, dtype=np.int32))


@mstk.hookimpl
def register_commands(cli: click.Group) -> None:
    cli.add_command(hello_example)


@mstk.hookimpl
def register_rerankers(register) -> None:
    register(ExampleReverseReranker)
