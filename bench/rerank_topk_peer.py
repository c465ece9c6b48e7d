"""Peer for bench/rerank_topk.py: the same job as `mstk rerank --method topk` in plain
Python with orjson and heapq (what a user would otherwise write). Reads JSONL on stdin,
writes the same records, byte for byte, on stdout."""

import heapq
import math
import sys

import orjson

K = int(sys.argv[1]) if len(sys.argv) > 1 else 10
WEIGHTS = [1.0 / math.log2(i + 2) for i in range(K)]
DROP = {"items", "scores", "providers", "candidates", "interval"}

out = sys.stdout.buffer
for raw in sys.stdin.buffer:
    if not raw.strip():
        continue
    rec = orjson.loads(raw)
    items, scores, providers = rec["items"], rec["scores"], rec["providers"]
    lo, hi = min(scores), max(scores)
    norm = [(s - lo) / (hi - lo) for s in scores] if hi > lo else [1.0] * len(scores)
    best = heapq.nlargest(K, range(len(norm)), key=lambda j: (norm[j], -j))
    best.sort(key=lambda j: (-norm[j], j))
    dcg = sum(norm[j] * w for j, w in zip(best, WEIGHTS))
    result = {key: value for key, value in rec.items() if key not in DROP}
    result.update(
        interval=0,
        rec_items=[items[j] for j in best],
        rec_providers=[providers[j] for j in best],
        rec_scores=[norm[j] for j in best],
        dcg=dcg,
        idcg=dcg,
        ndcg=1.0 if dcg > 0 else 1.0,
    )
    out.write(orjson.dumps(result, option=orjson.OPT_APPEND_NEWLINE))
