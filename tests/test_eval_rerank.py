"""`mstk eval-rerank`: the spec's hand-computed metric values (specs/rerank.md test 9),
the definitions' edge cases, and the command on real `mstk rerank` output."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from mstk.rerank.evaluate import EvalOptions, evaluate
from mstk.testing import run_cli

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "rerank"


def recs(*rows):
    return list(enumerate(rows, start=1))


def row(ndcg, interval=0, providers=(), **extra):
    return {"ndcg": ndcg, "interval": interval, "rec_providers": list(providers), **extra}


def test_request_level_accuracy_metrics():
    m = evaluate(recs(row(1.0), row(0.8), row(0.6)), EvalOptions(k=3))
    assert m["ndcg"] == pytest.approx(0.8)
    assert m["mmr"] == pytest.approx(0.6)
    assert m["var"] == pytest.approx(0.026667, abs=1e-6)
    assert m["vio"] == pytest.approx(2 / 3)
    assert m["cv"] is None  # one interval: no sample std


def test_interval_cv():
    m = evaluate(recs(row(0.9, 0), row(0.7, 1)), EvalOptions(k=1))
    assert m["cv"] == pytest.approx(0.17678, abs=1e-5)
    assert m["ndcg_interval_mean"] == pytest.approx(0.8)
    assert [p["traffic"] for p in m["per_interval"]] == [1, 1]


def test_mmf_esp_and_the_min_exposure_threshold():
    rows = recs(row(1.0, providers=["A"] * 5 + ["B"] * 5), row(1.0, providers=["B"] * 5))
    m = evaluate(rows, EvalOptions(k=10))  # γ = K·T/|P| = 10 each; m = β·γ = 9
    assert m["provider_exposure"] == {"A": 5.0, "B": 10.0}
    assert m["mmf"] == pytest.approx(0.5)
    assert m["esp"] == pytest.approx(0.5) and m["esp_beta"] == pytest.approx(0.5)
    assert evaluate(rows, EvalOptions(k=10, min_exposure=5))["esp"] == 1.0  # e = m counts
    file_m = {"A": {"provider": "A", "min_exposure": 6}, "B": {"provider": "B"}}
    assert evaluate(rows, EvalOptions(k=10, min_exposure=5, providers=file_m))["esp"] == 0.5


def test_gini_over_a_universe_with_unseen_providers():
    providers = {p: {"provider": p} for p in ("W", "X", "Y", "Z")}  # W and X never shown
    rows = recs(row(1.0, providers=["Y"] * 10), row(1.0, providers=["Z"] * 10))
    m = evaluate(rows, EvalOptions(k=10, providers=providers))
    assert m["gini"] == pytest.approx(0.5) and m["n_providers"] == 4 and m["mmf"] == 0.0


def test_dcg_exposure_hit_rate_and_per_user_forms():
    rows = recs(
        row(1.0, providers=["A", "B"], rec_items=["x", "y"], target_item="y", user="u1"),
        row(0.5, providers=["B", "A"], rec_items=["z", "w"], target_item="q", user="u1"),
        row(0.9, providers=["A"], rec_items=["x"], target_item="x", user="u2"),
    )
    m = evaluate(rows, EvalOptions(k=2, exposure="dcg"))
    w2 = 1 / 1.5849625007211563
    assert m["provider_exposure"] == pytest.approx({"A": 1 + w2 + 1, "B": w2 + 1})
    assert m["hr"] == pytest.approx(2 / 3)
    assert m["mmr_by_user"] == pytest.approx(0.75 / 0.9)  # u1 averages to .75
    assert m["var_by_user"] == pytest.approx(((0.75 - 0.825) ** 2 + (0.9 - 0.825) ** 2) / 2)


def test_bad_records_name_their_line():
    result = run_cli(["eval-rerank", "-"], input=b'{"ndcg": 1, "interval": 0, "rec_providers": []}\n{"ndcg": "x"}\n')
    assert result.exit_code == 1
    assert result.stderr.startswith(b"Error: <stdin>:2: 'ndcg' must be a finite number")


def test_rerank_then_eval_as_a_pipeline(tmp_path):
    rerank = subprocess.run([sys.executable, "-m", "mstk", "rerank", str(EXAMPLES / "requests.jsonl"), "-m", "topk"],
                            capture_output=True, check=True)
    evaluated = subprocess.run([sys.executable, "-m", "mstk", "eval-rerank", "--providers", str(EXAMPLES / "providers.jsonl")],
                               input=rerank.stdout, capture_output=True, check=True)
    metrics = orjson.loads(evaluated.stdout)
    assert metrics["ndcg"] == 1.0 and metrics["mmr"] == 1.0 and metrics["vio"] == 0.0  # top-K is its own reference
    assert metrics["n_requests"] == 60 and metrics["n_providers"] == 6
    assert sum(metrics["provider_exposure"].values()) == 600
    # top-K concentrates exposure on the popular providers: far from equal
    assert metrics["gini"] > 0.3 and metrics["esp"] < 1.0
