"""`mstk rerank-sweep`: fronts over parameter grids, interpolation at matched ESP, the plot."""

from __future__ import annotations

import orjson
import pytest

from mstk.recsys.synth import SynthOptions, synth
from mstk.rerank.sweep import at_matched, parse_grid
from mstk.testing import fresh_plugin_manager, run_cli


def test_interpolation_at_matched_esp():
    front = [{"esp": 0.5, "ndcg": 1.0}, {"esp": 0.9, "ndcg": 0.8}, {"esp": 0.7, "ndcg": 0.95}, {"esp": 0.7, "ndcg": 0.9}]
    assert at_matched(front, 0.7) == pytest.approx(0.95)  # best NDCG among equal ESP
    assert at_matched(front, 0.8) == pytest.approx(0.875)
    assert at_matched(front, 0.95) is None and at_matched([], 0.5) is None
    assert parse_grid("cpfair:lambda=0,0.5") == ("cpfair", "lambda", ["0", "0.5"])
    with pytest.raises(ValueError):
        parse_grid("cpfair")


def test_sweep_command_writes_fronts_and_a_plot(tmp_path):
    requests, providers, _ = synth(SynthOptions(intervals=4, seed=3))
    req, prov = tmp_path / "r.jsonl", tmp_path / "p.jsonl"
    req.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in requests))
    prov.write_bytes(b"".join(orjson.dumps(p) + b"\n" for p in providers))
    png = tmp_path / "fronts.png"
    pm = fresh_plugin_manager(entry_points=True)
    args = ["rerank-sweep", str(req), "--providers", str(prov), "-m", "topk", "-m", "cpfair", "--grid", "cpfair:lambda=0,1,5",
            "--match", "0.6", "--plot", str(png)]
    result = run_cli(args, pm=pm, env={"MSTK_LOAD_PLUGINS": "bankfair"})
    assert result.exit_code == 0, result.stderr
    fronts = orjson.loads(result.stdout)["fronts"]
    assert [p["value"] for p in fronts["cpfair"]] == ["0", "1", "5"]
    assert fronts["cpfair"][0]["ndcg"] == pytest.approx(fronts["topk"][0]["ndcg"])  # λ = 0 is top-K
    esp = [p["esp"] for p in fronts["cpfair"]]
    assert esp[-1] >= esp[0]  # a stronger bonus meets more floors here
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    bad = run_cli(["rerank-sweep", str(req), "-m", "nope"], pm=pm, env={"MSTK_LOAD_PLUGINS": "bankfair"})
    assert bad.exit_code == 2
