"""``--engine nlpaug``: mstk's selection with nlpaug 1.1.11 rewriting the chosen texts.

mstk still parses, keys, ranks, hands out types and splices; nlpaug only produces the new
text, in a child process (``nlpaug_child``) seeded and with PYTHONHASHSEED=0. Records are
offered in rank order (query unit, walking until exactly k changed: an output equal to its
input counts as uncorruptible) or in input order (word unit, with nlpaug's ``p`` = rate).
nlpaug re-tokenises what it touches, so the annotation carries no edit spans
(``"edits": null``), only the engine, its version and parameters.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import subprocess
import sys
from typing import Any

from mstk.errors import ParameterError
from mstk.inject.injector import FORMAT_VERSION, Injector, Rng

SUPPORTED = ("keyboard", "visual", "spelling")


def nlpaug_version() -> str:
    if importlib.util.find_spec("nlpaug") is None:
        raise ParameterError("--engine nlpaug needs nlpaug: pip install nlpaug==1.1.11 (it also imports pandas and gdown)")
    return importlib.metadata.version("nlpaug")


class NlpaugEngine:
    """Same interface as ``Injector.run_jsonl``; selection settings come from ``injector``."""

    def __init__(self, injector: Injector) -> None:
        unsupported = [t for t in injector.types if t not in SUPPORTED]
        if unsupported:
            raise ParameterError(f"--engine nlpaug knows {', '.join(SUPPORTED)}, not {unsupported[0]!r}")
        self.injector = injector
        self.version = nlpaug_version()

    def _params(self) -> dict[str, Any]:
        inj = self.injector
        if inj.unit == "query":
            return {"augmenters": "defaults"}
        rate = inj.rate_ppm / 1_000_000
        return {"keyboard": {"aug_word_p": rate}, "visual": {"aug_word_p": rate}, "spelling": {"aug_p": rate}}

    def run_jsonl(self, data: bytes, *, skip_errors: bool = False) -> tuple[bytes, dict[str, Any]]:
        from mstk import _core

        inj = self.injector
        io_opts = {"field": inj.field, "id_field": inj.id_field, "annotate": inj.annotate,
                   "annotate_key": inj.annotate_key, "skip_errors": skip_errors}
        keys, texts, _lines, keys_mode, skipped = _core.parse_jsonl_records(data, **io_opts)
        n = len(keys)
        types = list(inj.types)
        k = (inj.rate_ppm * n + 500_000) // 1_000_000
        rate = inj.rate_ppm / 1_000_000
        request: dict[str, Any] = {"types": types, "unit": inj.unit, "rate": rate, "seed": inj.seed, "k": k}
        if inj.rate_ppm == 0 or n == 0:
            answer = {"changed": [], "n_uncorruptible": 0}
        else:
            if inj.unit == "query":
                seed = str(inj.seed)
                order = sorted(range(n), key=lambda i: (_core.qe_rank_hash([FORMAT_VERSION, "rank", seed, keys[i]]), i))
                request["items"] = [[i, texts[i]] for i in order]
            else:
                def type_of(i: int) -> str:
                    return types[0] if len(types) == 1 else types[Rng(inj.seed, "type", keys[i]).uniform(len(types))]

                request["items"] = [[i, texts[i], type_of(i)] for i in range(n)]
            answer = self._run_child(request)
            print("Warning: nlpaug re-tokenises the text it changes (spaces around punctuation, "
                  "collapsed whitespace); mstk's own engine does not.", file=sys.stderr)
        replacements: list[tuple[str, bytes] | None] = [None] * n
        by_type = {t: 0 for t in types}
        params = self._params()
        for index, t, new in answer["changed"]:
            by_type[t] += 1
            annotation = {"version": FORMAT_VERSION, "type": t, "seed": inj.seed, "unit": inj.unit, "rate": rate,
                          "field": inj.field, "clean": texts[index], "engine": "nlpaug",
                          "nlpaug": {"version": self.version, "params": params}, "edits": None}
            replacements[index] = (new, json.dumps(annotation, ensure_ascii=False, separators=(",", ":")).encode())
        out = _core.splice_jsonl(data, replacements, **io_opts)
        n_changed = len(answer["changed"])
        summary = inj._summary({
            "n_records": n, "k": k if inj.unit == "query" else n_changed, "n_changed": n_changed, "by_type": by_type,
            "n_uncorruptible": answer["n_uncorruptible"],
            "shortfall": max(0, k - n_changed) if inj.unit == "query" else 0, "keys": keys_mode, "skipped": skipped,
        })
        summary["engine"] = {"name": "nlpaug", "version": self.version, "params": params}
        return out, summary

    def _run_child(self, request: dict[str, Any]) -> dict[str, Any]:
        env = dict(os.environ, PYTHONHASHSEED="0")
        result = subprocess.run([sys.executable, "-m", "mstk.inject.nlpaug_child"], input=json.dumps(request).encode(),
                                capture_output=True, env=env)
        if result.returncode != 0:
            last = result.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["(no message)"]
            raise ParameterError(f"nlpaug failed: {last[0]}")
        return json.loads(result.stdout)
