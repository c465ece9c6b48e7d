"""`mstk recsys synth`: seeded, flagged as synthetic, fluctuating traffic, and a floor m
that about half the providers miss under top-K (what the fairness trend tests need)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import orjson

from mstk.recsys.synth import SynthOptions, synth


def test_same_seed_same_bytes_other_seed_other_stream(tmp_path):
    def run(seed):
        out = tmp_path / f"s{seed}.jsonl"
        subprocess.run([sys.executable, "-m", "mstk", "recsys", "synth", "--intervals", "5", "--seed", str(seed), "-o", str(out)],
                       check=True, capture_output=True)
        return out.read_bytes()

    assert run(3) == run(3) != run(4)


def test_stream_shape_and_flags():
    requests, providers, stats = synth(SynthOptions(intervals=14, seed=1))
    traffic = np.array(stats["traffic"])
    assert traffic.max() / traffic.min() >= 5  # swings of several times between intervals
    assert len(requests) == traffic.sum() and all(r["synthetic"] for r in requests)
    assert [r["ts"] for r in requests] == sorted(r["ts"] for r in requests)
    assert np.bincount([r["interval"] for r in requests]).tolist() == traffic.tolist()
    assert len(requests[0]["items"]) == 400 and len(providers) == 20 and all(p["synthetic"] for p in providers)
    assert all(0 < s < 1 for s in requests[0]["scores"])  # sigmoid scores


def test_about_half_the_providers_miss_the_floor_under_topk():
    from mstk.rerank import run_rerank

    requests, providers, stats = synth(SynthOptions(intervals=6, seed=2))
    m = stats["min_exposure"]
    assert m > 0 and 7 <= stats["below_under_topk"] <= 13
    counted = {}
    for r in run_rerank(requests, "topk", k=10):
        for p in r["rec_providers"]:
            counted[p] = counted.get(p, 0) + 1
    assert sum(counted.get(p["provider"], 0) < m for p in providers) == stats["below_under_topk"]
    fair = {}
    for r in run_rerank(requests, "bankfair", k=10, params={"theta": 1.0}, min_exposure=m):
        for p in r["rec_providers"]:
            fair[p] = fair.get(p, 0) + 1
    assert sum(fair.get(p["provider"], 0) < m for p in providers) < stats["below_under_topk"]
