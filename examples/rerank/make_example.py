"""Regenerate the embedded re-ranking example (synthetic, seeded): 60 requests over three
days, 20 candidates each from 6 providers of very unequal popularity.

    python examples/rerank/make_example.py
"""

from pathlib import Path

import numpy as np
import orjson

HERE = Path(__file__).parent
rng = np.random.default_rng(2024)
providers = ["Drama", "Comedy", "Action", "Thriller", "Documentary", "Western"]
boost = np.array([1.0, 0.6, 0.3, 0.0, -0.5, -0.8])  # popular providers score higher
items = [(f"m{i:03d}", i % len(providers)) for i in range(120)]
day = 86400
with open(HERE / "requests.jsonl", "wb") as f:
    for r in range(60):
        chosen = rng.choice(len(items), size=20, replace=False)
        scores = rng.normal(size=20) * 0.5 + boost[[items[c][1] for c in chosen]]
        record = {
            "request_id": f"r{r}",
            "user": f"u{rng.integers(0, 25)}",
            "ts": 1_700_000_000 + int(r / 60 * 3 * day),
            "items": [items[c][0] for c in chosen],
            "scores": [round(float(s), 4) for s in scores],
            "providers": [providers[items[c][1]] for c in chosen],
            "synthetic": True,
        }
        f.write(orjson.dumps(record) + b"\n")
with open(HERE / "providers.jsonl", "wb") as f:
    for p, name in enumerate(providers):
        n = sum(1 for _, q in items if q == p)
        f.write(orjson.dumps({"provider": name, "n_items": n, "weight": 1.0}) + b"\n")
