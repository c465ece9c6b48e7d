"""`mstk inject-errors` against nlpaug 1.1.11 on the same 100,000 synthetic queries, in one run
(specs/inject-errors.md §7.1, §7.2 and the realism check of the issue).

    python bench/inject_errors.py [--quick] [--data bench/work/qe_queries_100k.jsonl]

What it measures:

1. **End to end** (§7.1, target ≥ 50× per type). Whole-process wall time and peak RSS of
   `mstk inject-errors FILE --unit word --types T --rate R --threads 2 --no-progress -o OUT`
   against `bench/peers/nlpaug_inject.py` doing the same job (one augmenter, same input), for
   T in keyboard / visual / spelling and R in 0.2 / 0.4. mstk: median of 5 runs after a warm-up;
   nlpaug (≈ 12 s a run): median of 3 after an import warm-up. `--quick`: 1 run each. Also mstk's
   query unit and mixed types, and the fixed costs that decide the ratio: interpreter start,
   `mstk --help`, a one-record run per type (start-up + resource loading), and the import
   profile (`python -X importtime`).
2. **Kernel** (§7.2, target ≥ 1,000,000 queries/s on 2 cores). The Rust example
   `inject_kernel` (best of 5 per cell, JSONL path and in-memory text path) at 1 and 2 threads,
   and, in a separate process, `Injector.corrupt_texts(texts, keys)` and `Injector.run_jsonl`
   on data loaded beforehand, median of 5, for 4 type sets × 2 units × threads 1 and 2.
3. **Realism.** On the rate-0.2 word-unit outputs of both tools, per type: share of queries
   changed, character Levenshtein distance clean → noisy (distribution and mean), the
   real-word rate against pyspellchecker 0.9.1's list, digits/symbols introduced, and the
   number of whitespace tokens changed.

Timed commands are the resolved console script and interpreter (not pyenv shims, which add
≈ 0.1 s of bash per call; the shim's cost is reported as context). Peak RSS is each child's
own maximum (`wait4`); the driver stays small while children run, and the in-process timings
run in a child of their own. The machine may be shared: each timed block first waits for
quiet, measures the CPU time other processes used meanwhile (`OtherLoad`), and is re-run (at
most 3 tries, least disturbed kept) when they took ≥ 5% of the cores; the report says which
blocks stayed disturbed and whether the source tree or the `_core` build changed mid-run.
Writes results/inject_errors.json and results/inject_errors.md.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import importlib.util
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import orjson

from _common import RESULTS, WORK, compile_bytecode, environment, mstk_command, python, timed_run

BENCH = Path(__file__).parent
ROOT = BENCH.parent
PEER = BENCH / "peers" / "nlpaug_inject.py"
TYPES = ("keyboard", "visual", "spelling")
TYPE_SETS = (("keyboard",), ("visual",), ("spelling",), TYPES)
RATES = ("0.2", "0.4")
TARGET_RATIO = 50
TARGET_QPS = 1_000_000


# ---------------------------------------------------------------- process timing


def _cpu_seconds() -> tuple[float, float]:
    """(busy CPU-seconds of the whole machine, CPU-seconds of this process and its reaped children)."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:9]]
    busy = sum(fields) - fields[3] - fields[4]  # minus idle and iowait
    t = os.times()
    return busy / os.sysconf("SC_CLK_TCK"), t.user + t.system + t.children_user + t.children_system


class OtherLoad:
    """CPU time used by processes other than this benchmark while a block runs (the
    machine is shared: a busy neighbour on 2 cores spoils wall times)."""

    def __enter__(self):
        self.start = _cpu_seconds()
        return self

    def __exit__(self, *exc) -> None:
        end = _cpu_seconds()
        self.seconds = max(0.0, (end[0] - self.start[0]) - (end[1] - self.start[1]))


QUIET_BUDGET_S = [1200.0]  # total waiting allowed per benchmark run; after that, time regardless


def wait_quiet(limit_s: float = 300) -> float:
    """Wait (up to limit_s, within the run's budget) until other processes use < 10% of one
    core over 1 s; return the wait."""
    start = time.perf_counter()
    limit_s = min(limit_s, QUIET_BUDGET_S[0])
    while time.perf_counter() - start < limit_s:
        with OtherLoad() as load:
            time.sleep(1)
        if load.seconds < 0.1:
            break
    waited = time.perf_counter() - start - 1
    QUIET_BUDGET_S[0] = max(0.0, QUIET_BUDGET_S[0] - waited)
    return waited


def quiet(block, attempts: int = 3) -> tuple[object, dict]:
    """Run block() after waiting for quiet; if others used ≥ 5% of the machine meanwhile,
    run it again (up to attempts) and keep the least disturbed result."""
    cores = len(os.sched_getaffinity(0))
    best = None
    for attempt in range(1, attempts + 1):
        waited = wait_quiet()
        start = time.perf_counter()
        with OtherLoad() as load:
            result = block()
        capacity = cores * (time.perf_counter() - start)
        # /proc/stat and os.times tick at 10 ms: below 0.2 CPU-s the figure is mostly rounding.
        disturbed = load.seconds >= max(0.2, 0.05 * capacity)
        info = {"waited_for_quiet_s": round(waited, 1), "other_cpu_s": round(load.seconds, 2),
                "other_share": round(load.seconds / capacity, 3), "disturbed": disturbed}
        if best is None or load.seconds < best[1]["other_cpu_s"]:
            best = (result, info)
        if not disturbed:
            break
    best[1]["attempts"] = attempt
    return best


def repeat_run(argv: list[str], runs: int, warmup: int = 1, env: dict | None = None) -> dict:
    result, info = quiet(lambda: _repeat_run(argv, runs, warmup, env))
    return {**result, **info}


def _repeat_run(argv: list[str], runs: int, warmup: int, env: dict | None) -> dict:
    for _ in range(warmup):
        timed_run(argv, env=env)
    samples = [timed_run(argv, env=env) for _ in range(runs)]
    seconds = [s["seconds"] for s in samples]
    summary = None
    for line in reversed(samples[-1]["stderr"].strip().splitlines()):
        if line.startswith("{"):
            summary = json.loads(line)
            break
    return {
        "median_s": statistics.median(seconds),
        "min_s": min(seconds),
        "samples_s": [round(s, 4) for s in seconds],
        "peak_rss_mib": max(s["peak_rss_mib"] for s in samples),
        "summary": summary,
    }


def mstk_inject(data: Path, out: Path, types: str, rate: str, unit: str, threads: int = 2) -> list[str]:
    return [mstk_command(), "inject-errors", str(data), "--unit", unit, "--types", types, "--rate", rate,
            "--threads", str(threads), "--no-progress", "-o", str(out)]


def nlpaug_inject(data: Path, out: Path, kind: str, rate: str) -> list[str]:
    return [python(), str(PEER), str(data), "--type", kind, "--rate", rate, "-o", str(out)]


def realism_output(tool: str, kind: str) -> Path:
    return WORK / f"inject_out_{tool}_{kind}_0.2.jsonl"


def end_to_end(data: Path, mstk_runs: int, nlpaug_runs: int) -> dict:
    """§7.1: mstk word unit vs the nlpaug peer per type and rate, plus mstk-only rows."""
    scratch = WORK / "inject_out_scratch.jsonl"
    # nlpaug's import is ~1 s of .pyc reads: warm it once so run 1 is not a cold-cache outlier.
    subprocess.run([python(), "-c", "import nlpaug.augmenter.char, nlpaug.augmenter.word"], check=True)
    cells = []
    for kind in TYPES:
        for rate in RATES:
            keep = rate == "0.2"  # these outputs feed the realism section
            m_out = realism_output("mstk", kind) if keep else scratch
            n_out = realism_output("nlpaug", kind) if keep else scratch
            m = repeat_run(mstk_inject(data, m_out, kind, rate, "word"), mstk_runs)
            # nlpaug writes no edit log; the log makes mstk's word-unit output ~4x the input.
            bare = repeat_run(mstk_inject(data, scratch, kind, rate, "word") + ["--no-annotate"], mstk_runs)
            n = repeat_run(nlpaug_inject(data, n_out, kind, rate), nlpaug_runs, warmup=0, env={"PYTHONHASHSEED": "0"})
            cell = {"type": kind, "rate": rate, "mstk": m, "mstk_no_annotate": bare, "nlpaug": n,
                    "ratio": n["median_s"] / m["median_s"], "ratio_no_annotate": n["median_s"] / bare["median_s"]}
            if keep:
                cell["output_mib"] = {"mstk": round(m_out.stat().st_size / 2**20, 1), "nlpaug": round(n_out.stat().st_size / 2**20, 1)}
            cells.append(cell)
            print(f"e2e {kind:9} {rate}: mstk {m['median_s']:.3f} s, nlpaug {n['median_s']:.2f} s, "
                  f"{cell['ratio']:.1f}x", flush=True)
    mstk_only = []
    for unit in ("word", "query"):
        for types in TYPE_SETS:
            for rate in RATES:
                if unit == "word" and len(types) == 1:
                    continue  # already in the table above
                r = repeat_run(mstk_inject(data, scratch, ",".join(types), rate, unit), mstk_runs)
                mstk_only.append({"unit": unit, "types": ",".join(types), "rate": rate, **r})
                print(f"mstk {unit:5} {','.join(types):26} {rate}: {r['median_s']:.3f} s", flush=True)
    scratch.unlink(missing_ok=True)
    return {"cells": cells, "mstk_only": mstk_only}


def fixed_costs(data: Path, runs: int) -> dict:
    """What every call pays before the first record: interpreter, imports, resources."""
    one = WORK / "qe_queries_1.jsonl"
    with open(data, "rb") as f:
        one.write_bytes(f.readline())
    out = WORK / "inject_out_one.jsonl"
    mstk = mstk_command()
    commands = {
        "python -c pass": [python(), "-c", "pass"],
        "python -c 'import nlpaug.augmenter.char, nlpaug.augmenter.word'":
            [python(), "-c", "import nlpaug.augmenter.char, nlpaug.augmenter.word"],
        "mstk --help": [mstk, "--help"],
        "mstk inject-errors --help": [mstk, "inject-errors", "--help"],
        "mstk --help via the pyenv shim": ["mstk", "--help"],
    }
    for types in TYPE_SETS:
        commands[f"mstk inject-errors, 1 record, --types {','.join(types)}"] = mstk_inject(one, out, ",".join(types), "0.2", "word")
    rows = {}
    for name, argv in commands.items():
        if argv[0] == "mstk" and not shutil.which("mstk"):
            continue
        rows[name] = repeat_run(argv, 10 if runs > 1 else 5)
        rows[name].pop("summary")
    # --engine nlpaug (§7.1 asks for its overhead): probe that it exists before timing anything.
    probe = subprocess.run([mstk, "inject-errors", str(one), "--engine", "nlpaug", "--unit", "word", "--types", "keyboard",
                            "--no-progress", "-o", str(out)], capture_output=True, text=True)
    engine = {"available": probe.returncode == 0, "exit_code": probe.returncode,
              "stderr_tail": probe.stderr.strip().splitlines()[-1] if probe.stderr.strip() else ""}
    if engine["available"]:
        engine["keyboard_0.2_word"] = repeat_run(mstk_inject(data, out, "keyboard", "0.2", "word") + ["--engine", "nlpaug"],
                                                 1, warmup=0)
    out.unlink(missing_ok=True)
    return {"commands": rows, "engine_nlpaug": engine}


def import_profile() -> dict:
    """`python -X importtime -m mstk inject-errors --help`: the slowest imports."""
    proc = subprocess.run([python(), "-X", "importtime", "-m", "mstk", "inject-errors", "--help"],
                          capture_output=True, text=True, cwd=ROOT)
    rows = []
    for line in proc.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if m:
            rows.append({"module": m[4], "self_ms": int(m[1]) / 1000, "cumulative_ms": int(m[2]) / 1000,
                         "depth": (len(m[3]) - 1) // 2})
    top_level = sorted((r for r in rows if r["depth"] == 0), key=lambda r: -r["cumulative_ms"])
    second = sorted((r for r in rows if r["depth"] == 1), key=lambda r: -r["cumulative_ms"])
    by_self = sorted(rows, key=lambda r: -r["self_ms"])
    return {
        "command": "python3 -X importtime -m mstk inject-errors --help",
        "modules": len(rows),
        "total_ms": sum(r["self_ms"] for r in rows),
        "top_level": top_level[:8],
        "second_level": second[:12],
        "by_self": by_self[:10],
    }


# ---------------------------------------------------------------- kernel


def kernel_example(data: Path) -> dict:
    """The Rust example, best of 5 per cell; its spelling model uses an empty real-word list."""
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "mstk-core", "--example", "inject_kernel"], cwd=ROOT, check=True)
    out = {}
    for threads in (1, 2):
        proc, out[f"load|{threads}"] = quiet(lambda: subprocess.run(
            ["cargo", "run", "--release", "-q", "-p", "mstk-core", "--example", "inject_kernel", str(data.resolve()),
             str(threads)], cwd=ROOT, check=True, capture_output=True, text=True))
        for line in proc.stdout.splitlines():
            m = re.match(r"(\S+)\s+(query|word)\s+jsonl\s+(\d+) queries/s\s+texts\s+(\d+) queries/s", line)
            if m:
                out[f"{m[1]}|{m[2]}|{threads}"] = {"jsonl_qps": int(m[3]), "texts_qps": int(m[4])}
        print(proc.stdout, flush=True)
    return out


def in_process(data: Path, repeat: int) -> dict:
    """Runs in a child process: Injector.corrupt_texts and run_jsonl on preloaded data."""
    from mstk import _core
    from mstk.inject import Injector

    raw = data.read_bytes()
    records = [orjson.loads(line) for line in raw.splitlines() if line.strip()]
    texts = [r["question"] for r in records]
    keys = [r["id"] for r in records]
    n = len(texts)

    def median_time(call) -> float:
        call()  # warm-up
        samples = []
        for _ in range(repeat):
            start = time.perf_counter()
            call()
            samples.append(time.perf_counter() - start)
        return statistics.median(samples)

    cells = {}
    for types in TYPE_SETS:
        for unit in ("query", "word"):
            for threads in (1, 2):
                def cell() -> dict:
                    start = time.perf_counter()
                    inj = Injector(types, rate="0.2", unit=unit, seed=0, threads=threads)
                    load_s = time.perf_counter() - start
                    texts_s = median_time(lambda: inj.corrupt_texts(texts, keys))
                    # The same kernel call corrupt_texts makes, minus building Corruption/Edit
                    # objects (private attributes, read here only to split the time).
                    stream_keys = [f"i{k}" for k in keys]
                    models = inj._kernel_models(None)
                    core_s = median_time(lambda: _core.inject_texts(
                        stream_keys, texts, list(types), models, rate_ppm=inj.rate_ppm, unit=unit, seed=0,
                        threads=threads, **inj._select))
                    jsonl_s = median_time(lambda: inj.run_jsonl(raw))
                    return {
                        "injector_init_s": load_s,
                        "corrupt_texts_s": texts_s, "corrupt_texts_qps": n / texts_s,
                        "core_inject_texts_s": core_s, "core_inject_texts_qps": n / core_s,
                        "run_jsonl_s": jsonl_s, "run_jsonl_qps": n / jsonl_s,
                    }

                result, info = quiet(cell)
                cells[f"{','.join(types)}|{unit}|{threads}"] = {**result, **info}
                texts_s, core_s, jsonl_s = result["corrupt_texts_s"], result["core_inject_texts_s"], result["run_jsonl_s"]
                print(f"in-process {','.join(types):26} {unit:5} t={threads}: corrupt_texts {n / texts_s:,.0f} q/s, "
                      f"_core.inject_texts {n / core_s:,.0f} q/s, run_jsonl {n / jsonl_s:,.0f} q/s", file=sys.stderr, flush=True)
    return {"n": n, "repeat": repeat, "rate": "0.2", "cells": cells}


# ---------------------------------------------------------------- realism


def levenshtein(a: str, b: str) -> int:
    """Character edit distance (Myers/Hyyrö bit-parallel, after stripping the common ends)."""
    if a == b:
        return 0
    i, n = 0, min(len(a), len(b))
    while i < n and a[i] == b[i]:
        i += 1
    a, b = a[i:], b[i:]
    j, n = 0, min(len(a), len(b))
    while j < n and a[-1 - j] == b[-1 - j]:
        j += 1
    if j:
        a, b = a[:-j], b[:-j]
    if len(a) > len(b):
        a, b = b, a
    m = len(a)
    if m == 0:
        return len(b)
    peq: dict[str, int] = {}
    for k, c in enumerate(a):
        peq[c] = peq.get(c, 0) | (1 << k)
    full, top = (1 << m) - 1, 1 << (m - 1)
    pv, mv, score = full, 0, m
    for c in b:
        eq = peq.get(c, 0)
        xv = eq | mv
        xh = (((eq & pv) + pv) ^ pv) | eq
        ph = mv | (~(xh | pv) & full)
        mh = pv & xh
        if ph & top:
            score += 1
        elif mh & top:
            score -= 1
        ph = ((ph << 1) | 1) & full
        mh = (mh << 1) & full
        pv = mh | (~(xv | ph) & full)
        mv = ph & xv
    return score


def real_words() -> set[str]:
    """pyspellchecker's English list, read from the package files without importing it."""
    spec = importlib.util.find_spec("spellchecker")
    path = Path(next(iter(spec.submodule_search_locations))) / "resources" / "en.json.gz"
    return set(json.loads(gzip.decompress(path.read_bytes())))


LETTER_RUN = re.compile(r"[A-Za-z]+")
ALNUM_RUN = re.compile(r"[A-Za-z0-9]+")


def questions(path: Path) -> list[str | None]:
    with open(path, "rb") as f:
        return [orjson.loads(line).get("question") for line in f if line.strip()]


def realism_stats(clean: list[str], noisy: list[str], words: set[str]) -> dict:
    assert len(clean) == len(noisy)
    changed = 0
    dist = Counter()
    dist_sum = 0
    real = real_alnum = symbols = 0
    aligned = words_changed = 0
    for c, x in zip(clean, noisy):
        if x == c:
            continue
        changed += 1
        d = levenshtein(c, x)
        dist[min(d, 4)] += 1
        dist_sum += d
        # Words the error introduced: runs of the noisy text minus runs of the clean text
        # (multisets), so names that were outside the list already do not count.
        new = Counter(LETTER_RUN.findall(x.lower())) - Counter(LETTER_RUN.findall(c.lower()))
        real += all(w in words for w in new)
        new_alnum = Counter(ALNUM_RUN.findall(x.lower())) - Counter(ALNUM_RUN.findall(c.lower()))
        real_alnum += all(w in words for w in new_alnum)  # a run holding a digit is never a word
        added = Counter(x) - Counter(c)
        symbols += any(not ch.isalpha() and not ch.isspace() for ch in added)
        ct, xt = c.split(), x.split()
        if len(ct) == len(xt):
            aligned += 1
            words_changed += sum(a != b for a, b in zip(ct, xt))
    n = len(clean)
    share = (lambda k: k / changed) if changed else (lambda k: 0.0)
    return {
        "n": n,
        "changed": changed,
        "changed_share": changed / n,
        "distance_share": {"1": share(dist[1]), "2": share(dist[2]), "3": share(dist[3]), ">=4": share(dist[4])},
        "distance_mean": share(dist_sum),
        "real_word_rate": share(real),
        "real_word_rate_alnum": share(real_alnum),
        "adds_digit_or_symbol": share(symbols),
        "token_count_kept": share(aligned),
        "mean_words_changed": words_changed / aligned if aligned else 0.0,
    }


def realism(data: Path) -> dict:
    words = real_words()
    clean = questions(data)
    out = {}
    for kind in TYPES:
        for tool in ("mstk", "nlpaug"):
            path = realism_output(tool, kind)
            if path.exists():
                out[f"{tool}|{kind}"] = realism_stats(clean, questions(path), words)
    return out


# ---------------------------------------------------------------- report


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|",
            *("| " + " | ".join(row) + " |" for row in rows), ""]


def pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def markdown(p: dict) -> str:
    env = p["environment"]
    e2e = p["end_to_end"]
    nm, nn = p["runs"]["mstk"], p["runs"]["nlpaug"]
    lines = [
        "# inject_errors",
        "",
        f"{env['date']}, {env['cores']} cores ({env['cpu']}), Python {env['python']}, {env['rustc']}; "
        + ", ".join(f"{k} {v}" for k, v in env["versions"].items()),
        "",
        f"Tree: commit {env['git']['commit']}"
        + (f", with uncommitted changes to {', '.join(f'`{m}`' for m in env['git']['modified'])}" if env["git"]["modified"] else "")
        + f"; the `inject_kernel` example uses the {env['git']['inject_kernel_allocator']} allocator; "
        + f"`mstk/_core` sha256 {env['git']['core_so_sha256']}"
        + (" (**rebuilt by someone else during the run**). " if env["git"]["core_so_changed_during_run"] else ", unchanged during the run. ")
        + (f"Source files changed by other work during the run: {', '.join(f'`{f}`' for f in env['git']['source_changed_during_run'])}. "
           if env["git"]["source_changed_during_run"] else "mstk's sources did not change during the run. ")
        + load_note(p)
        + (f" Before timing, the script byte-compiled {', '.join(f'`{d}`' for d in p['bytecode'])}, as `pip install` "
           "does for an installed package (this sandbox sets PYTHONDONTWRITEBYTECODE=1, so an editable install would "
           "otherwise recompile mstk's modules on every run; nlpaug's wheel install has its bytecode)."
           if p.get("bytecode") else ""),
        "",
        f"Data: `{p['data']['file']}`, {p['data']['records']:,} synthetic queries ({p['data']['mib']} MiB, "
        "`bench/qe_queries.py --n 100000 --seed 0`). All rates below are **word unit** unless a row says "
        "query unit (spec §2: `--unit word` is what a plain nlpaug call with p = rate does).",
        "",
        "## 1. End to end: `mstk inject-errors --unit word --threads 2` vs nlpaug (§7.1, target ≥ 50×)",
        "",
        f"Whole-process wall time, mstk median of {nm} after a warm-up, nlpaug median of {nn} "
        "(`bench/peers/nlpaug_inject.py`, PYTHONHASHSEED=0, one augmenter). Peak RSS is the child's own (wait4).",
        "",
    ]
    rows = []
    for c in e2e["cells"]:
        m, n = c["mstk"], c["nlpaug"]
        b = c["mstk_no_annotate"]
        rows.append([c["type"], c["rate"], f"{m['median_s']:.3f}", f"{m['peak_rss_mib']:.0f}",
                     f"{b['median_s']:.3f}", f"{b['peak_rss_mib']:.0f}",
                     f"{n['median_s']:.2f}", f"{n['peak_rss_mib']:.0f}", f"**{c['ratio']:.1f}×**",
                     f"{c['ratio_no_annotate']:.1f}×", "yes" if c["ratio"] >= TARGET_RATIO else "no",
                     pct(m["summary"]["n_changed"] / m["summary"]["n_records"])])
    lines += table(["type", "rate", "mstk s", "mstk MiB", "mstk --no-annotate s", "MiB", f"nlpaug s (median of {nn})",
                    "nlpaug MiB", "nlpaug / mstk", "nlpaug / mstk --no-annotate", "≥ 50×", "mstk queries changed"], rows)
    lines += ["mstk alone, other units and mixed types (`--threads 2`, median of "
              f"{nm}); queries/s is whole-process:", ""]
    rows = [[r["unit"], r["types"], r["rate"], f"{r['median_s']:.3f}", f"{p['data']['records'] / r['median_s']:,.0f}",
             f"{r['peak_rss_mib']:.0f}", f"{r['summary']['n_changed']:,}"] for r in e2e["mstk_only"]]
    lines += table(["unit", "types", "rate", "wall s", "queries/s", "peak MiB", "changed"], rows)

    fixed = p["fixed_costs"]["commands"]
    lines += ["### Where mstk's time goes", "",
              "Fixed costs (median of " + str(10 if nm > 1 else 5) + " runs after a warm-up; the one-record runs pay start-up, plugin discovery and "
              "resource loading but no data):", ""]
    lines += table(["command", "median s", "peak MiB"],
                   [[f"`{k}`", f"{v['median_s']:.3f}", f"{v['peak_rss_mib']:.0f}"] for k, v in fixed.items()])
    inproc = p["in_process"]["cells"]
    rows = []
    for c in e2e["cells"]:
        if c["rate"] != "0.2":
            continue
        one = fixed.get(f"mstk inject-errors, 1 record, --types {c['type']}", {}).get("median_s")
        cell = inproc.get(f"{c['type']}|word|2", {})
        total = c["mstk"]["median_s"]
        rest = total - (one or 0) - cell.get("run_jsonl_s", 0)
        rows.append([c["type"], f"{total:.3f}", f"{one:.3f}" if one else "–", f"{cell.get('injector_init_s', 0):.3f}",
                     f"{cell.get('run_jsonl_s', 0):.3f}", f"{rest:.3f}"])
    sizes = next(c["output_mib"] for c in e2e["cells"] if "output_mib" in c)
    lines += [f"Word unit, rate 0.2, {p['data']['records']:,} queries: whole process = fixed cost (one-record run) + "
              "`Injector.run_jsonl` on the bytes (in-process, 2 threads) + the rest (reading "
              f"{p['data']['mib']} MiB and writing the output: {sizes['mstk']} MiB for mstk, whose word-unit "
              f"output carries an edit log on almost every line, against {sizes['nlpaug']} MiB for nlpaug):", ""]
    lines += table(["type", "whole process s", "fixed s", "of which Injector() s", "run_jsonl s", "rest s"], rows)
    lines += ["Run-to-run spread of a single mstk run is about ±0.1 s here (see `samples_s` in the JSON), so a "
              "small or negative *rest* means it is lost in that noise.", ""]
    imp = p["import_profile"]
    lines += [f"`{imp['command']}`: {imp['modules']} modules, {imp['total_ms']:.0f} ms of import time. "
              "Largest top-level imports (cumulative):", ""]
    lines += table(["module", "cumulative ms", "self ms"],
                   [[f"`{r['module']}`", f"{r['cumulative_ms']:.1f}", f"{r['self_ms']:.1f}"] for r in imp["top_level"]])
    lines += ["Largest second-level imports (cumulative):", ""]
    lines += table(["module", "cumulative ms"], [[f"`{r['module']}`", f"{r['cumulative_ms']:.1f}"] for r in imp["second_level"]])
    eng = p["fixed_costs"]["engine_nlpaug"]
    if eng["available"]:
        peer = next(c for c in e2e["cells"] if c["type"] == "keyboard" and c["rate"] == "0.2")
        t = eng["keyboard_0.2_word"]["median_s"]
        lines += [f"`mstk inject-errors --engine nlpaug --unit word --types keyboard --rate 0.2` (1 run): {t:.2f} s, "
                  f"{t / peer['nlpaug']['median_s']:.2f}× the plain nlpaug script ({peer['nlpaug']['median_s']:.2f} s), "
                  f"peak {eng['keyboard_0.2_word']['peak_rss_mib']:.0f} MiB (the larger of the CLI and its reaped nlpaug child).", ""]
    else:
        lines += [f"`--engine nlpaug` overhead (§7.1) not measured: the option exits {eng['exit_code']} "
                  f"(`{eng['stderr_tail'][:200]}`).", ""]
    lines += notes_e2e(p)

    lines += ["## 2. Kernel (§7.2, target ≥ 1,000,000 queries/s on 2 cores)", "",
              "Rust: `cargo run --release -p mstk-core --example inject_kernel FILE THREADS`, best of 5 per cell; "
              "`jsonl` is the whole CLI path (`inject_jsonl`: split, locate, rank, corrupt, splice), `texts` "
              "the in-memory path. The example's spelling model has an **empty** real-word list. "
              "Python: `Injector(types, rate=0.2, unit, threads=N).corrupt_texts(texts, keys)` on 100k preloaded "
              "texts, median of " + str(p["in_process"]["repeat"]) + " after a warm-up (spelling with pyspellchecker's "
              "list); `_core` is the same kernel call without building the `Corruption`/`Edit` objects. "
              "Rate 0.2, seed 0. Target column: the ≥ 1M q/s check on the 2-thread figure.", ""]
    rows = []
    for types in TYPE_SETS:
        for unit in ("query", "word"):
            name = ",".join(types)
            r1, r2 = p["kernel_rust"].get(f"{name}|{unit}|1", {}), p["kernel_rust"].get(f"{name}|{unit}|2", {})
            p1, p2 = inproc.get(f"{name}|{unit}|1", {}), inproc.get(f"{name}|{unit}|2", {})
            fmt = lambda d, k: f"{d[k] / 1e6:.2f}M" if k in d else "–"  # noqa: E731
            met = lambda d, k: ("yes" if d[k] >= TARGET_QPS else "no") if k in d else "–"  # noqa: E731
            rows.append([name if len(types) == 1 else "mixed", unit,
                         fmt(r1, "jsonl_qps"), fmt(r2, "jsonl_qps"), met(r2, "jsonl_qps"),
                         fmt(r1, "texts_qps"), fmt(r2, "texts_qps"), met(r2, "texts_qps"),
                         fmt(p1, "corrupt_texts_qps"), fmt(p2, "corrupt_texts_qps"), met(p2, "corrupt_texts_qps"),
                         fmt(p2, "core_inject_texts_qps"), fmt(p2, "run_jsonl_qps")])
    lines += table(["types", "unit", "Rust jsonl t1", "t2", "≥1M", "Rust texts t1", "t2", "≥1M",
                    "corrupt_texts t1", "t2", "≥1M", "_core t2", "run_jsonl t2"], rows)

    lines += ["## 3. Realism (word unit, rate 0.2, the same queries)", "",
              "Over the queries each tool changed: character Levenshtein distance clean → noisy; "
              "**real-word rate** = share whose introduced words (lowercase `[A-Za-z]+` runs of the noisy "
              "text minus those of the clean text, as multisets) are all in pyspellchecker 0.9.1's list "
              "(160,572 words), i.e. errors a spell checker cannot see; `alnum` counts letter-digit runs "
              "(`t0wer`) as one non-word instead of splitting them; *adds digit/symbol* = a non-letter, "
              "non-space character appears that the clean text lacked; *words changed* = whitespace tokens "
              "that differ, over queries whose token count is unchanged (nlpaug re-tokenises, §8).", ""]
    rows = []
    for kind in TYPES:
        for tool in ("mstk", "nlpaug"):
            r = p["realism"].get(f"{tool}|{kind}")
            if not r:
                continue
            d = r["distance_share"]
            rows.append([kind, tool, pct(r["changed_share"]), pct(d["1"]), pct(d["2"]), pct(d["3"]), pct(d[">=4"]),
                         f"{r['distance_mean']:.2f}", pct(r["real_word_rate"]), pct(r["real_word_rate_alnum"]),
                         pct(r["adds_digit_or_symbol"]), pct(r["token_count_kept"]), f"{r['mean_words_changed']:.2f}"])
    lines += table(["type", "tool", "queries changed", "d=1", "d=2", "d=3", "d≥4", "mean d", "real-word",
                    "real-word (alnum)", "adds digit/symbol", "token count kept", "words changed"], rows)
    return "\n".join(lines)


def load_note(p: dict) -> str:
    """How busy the rest of the machine was while we timed (see OtherLoad)."""
    blocks = [(f"e2e {c['type']} {c['rate']} {tool}", c[tool]) for c in p["end_to_end"]["cells"]
              for tool in ("mstk", "mstk_no_annotate", "nlpaug")]
    blocks += [(f"mstk {r['unit']} {r['types']} {r['rate']}", r) for r in p["end_to_end"]["mstk_only"]]
    blocks += [(k, v) for k, v in p["fixed_costs"]["commands"].items()]
    blocks += [(f"inject_kernel t{k[-1]}", v) for k, v in p["kernel_rust"].items() if k.startswith("load|")]
    blocks += [(f"in-process {k}", v) for k, v in p["in_process"]["cells"].items()]
    total = sum(b["other_cpu_s"] for _, b in blocks)
    waited = sum(b.get("waited_for_quiet_s", 0) for _, b in blocks)
    reruns = sum(b["attempts"] - 1 for _, b in blocks)
    noisy = [f"{n} ({100 * b['other_share']:.0f}%)" for n, b in blocks if b["disturbed"]]
    return (f"The machine is shared: other processes used {total:.1f} CPU-s while the {len(blocks)} timed blocks ran; "
            f"the script waited {waited:.0f} s for quiet and re-ran {reruns} disturbed block(s) (others ≥ 5% of "
            "the 2 cores and ≥ 0.2 CPU-s; the least disturbed of 3 tries is kept). "
            + (f"Still disturbed after 3 tries: {', '.join(noisy)}." if noisy else "Every kept block was undisturbed."))


def notes_e2e(p: dict) -> list[str]:
    cells = p["end_to_end"]["cells"]
    best = max(c["ratio"] for c in cells)
    worst = min(c["ratio"] for c in cells)
    bare = p["fixed_costs"]["commands"]["python -c pass"]["median_s"]
    return [f"Ratios range {worst:.1f}×–{best:.1f}×; the 50× target is "
            + ("met in every cell." if worst >= TARGET_RATIO else "**missed** in " +
               f"{sum(c['ratio'] < TARGET_RATIO for c in cells)} of {len(cells)} cells.")
            + f" A bare interpreter start is {bare:.3f} s here (the environment's site-packages run a certifi "
            ".pth at every start, visible as `site` → `certifi` in the import profile).", ""]


# ---------------------------------------------------------------- main


def rustc_version() -> str | None:
    try:
        return subprocess.run(["rustc", "--version"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def core_sha256() -> str:
    """The built extension the CLI runs (rebuilt elsewhere mid-run would spoil the comparison)."""
    spec = importlib.util.find_spec("mstk")
    so = next(Path(next(iter(spec.submodule_search_locations))).glob("_core*.so"), None)
    return hashlib.sha256(so.read_bytes()).hexdigest()[:16] if so else ""


def source_changed_since(state: dict) -> list[str]:
    """Files under python/, rust/ or plugins/ that differ from what the run started with
    (commits made meanwhile plus uncommitted edits)."""
    names = subprocess.run(["git", "diff", "--name-only", state["commit"], "--", "python", "rust", "plugins"],
                           cwd=ROOT, capture_output=True, text=True).stdout.split()
    return sorted(set(names) - set(state["modified"]) if git_state()["diff_sha256"] == state["diff_sha256"] else names)


def git_state() -> dict:
    """The commit, and the files that differ from it (the kernel example builds from the working tree)."""
    def git(*argv: str) -> str:
        return subprocess.run(["git", *argv], cwd=ROOT, capture_output=True, text=True).stdout.strip()

    example = (ROOT / "rust/mstk-core/examples/inject_kernel.rs").read_text()
    diff = subprocess.run(["git", "diff", "HEAD", "--", "python", "rust", "plugins"], cwd=ROOT, capture_output=True).stdout
    return {"commit": git("rev-parse", "--short", "HEAD"),
            "modified": [line.split(None, 1)[1] for line in git("status", "--porcelain", "--", "python", "rust", "plugins").splitlines()],
            "diff_sha256": hashlib.sha256(diff).hexdigest()[:16],
            "inject_kernel_allocator": "mimalloc" if "mimalloc" in example else "system"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=WORK / "qe_queries_100k.jsonl")
    ap.add_argument("--quick", action="store_true", help="1 timed run per command (mstk and nlpaug)")
    ap.add_argument("--in-process", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--repeat", type=int, default=5, help=argparse.SUPPRESS)
    ap.add_argument("--render", action="store_true", help="only rewrite the .md from results/inject_errors.json")
    args = ap.parse_args()
    if args.render:
        md = markdown(json.loads((RESULTS / "inject_errors.json").read_text()))
        (RESULTS / "inject_errors.md").write_text(md + "\n")
        return
    if args.in_process:  # child: keeps the driver's RSS out of the subprocess figures
        sys.stdout.write(json.dumps(in_process(args.data, args.repeat)))
        return

    WORK.mkdir(parents=True, exist_ok=True)
    data = args.data
    if not data.exists():
        subprocess.run([python(), str(BENCH / "qe_queries.py"), "--n", "100000", "--seed", "0", "-o", str(data)], check=True)
    with open(data, "rb") as f:
        records = sum(1 for line in f if line.strip())
    mstk_runs, nlpaug_runs = (1, 1) if args.quick else (5, 3)
    started = time.time()
    core_before = core_sha256()
    tree_before = git_state()
    bytecode = compile_bytecode()

    e2e = end_to_end(data, mstk_runs, nlpaug_runs)
    fixed = fixed_costs(data, mstk_runs)
    imports = import_profile()
    rust = kernel_example(data)
    child = subprocess.run([python(), __file__, "--in-process", "--data", str(data), "--repeat", str(1 if args.quick else 5)],
                           check=True, capture_output=True, text=True)
    sys.stderr.write(child.stderr)
    inproc = json.loads(child.stdout)
    real = realism(data)

    env = environment(["mstk", "nlpaug", "pyspellchecker", "orjson", "click", "pluggy"])
    env["rustc"] = rustc_version()
    env["git"] = tree_before
    env["git"]["source_changed_during_run"] = source_changed_since(tree_before)
    env["git"]["core_so_sha256"] = core_before
    env["git"]["core_so_changed_during_run"] = core_sha256() != core_before
    payload = {
        "environment": env,
        "data": {"file": str(data.relative_to(ROOT)) if data.is_relative_to(ROOT) else str(data), "records": records,
                 "mib": round(data.stat().st_size / 2**20, 1)},
        "runs": {"mstk": mstk_runs, "nlpaug": nlpaug_runs, "quick": args.quick},
        "bytecode": bytecode,
        "commands": {"mstk": " ".join(mstk_inject(Path("FILE"), Path("OUT"), "T", "R", "word")),
                     "nlpaug": " ".join(nlpaug_inject(Path("FILE"), Path("OUT"), "T", "R"))},
        "end_to_end": e2e,
        "fixed_costs": fixed,
        "import_profile": imports,
        "kernel_rust": rust,
        "in_process": inproc,
        "realism": real,
        "bench_seconds": round(time.time() - started),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "inject_errors.json").write_text(json.dumps(payload, indent=2) + "\n")
    md = markdown(payload)
    (RESULTS / "inject_errors.md").write_text(md + "\n")
    print(md)


if __name__ == "__main__":
    main()
