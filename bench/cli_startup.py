"""`mstk --help` wall time (median of repeated runs) next to a bare interpreter start,
which is the floor any Python CLI pays.

    python bench/cli_startup.py [--repeat 20]

The console script next to the interpreter is timed, not a pyenv shim found in PATH.

Target (issue 2): under 0.3 s on a 2-core machine."""

from __future__ import annotations

import argparse
import statistics

from _common import compile_bytecode, environment, mstk_command, python, timed_run, write_results


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args()
    bytecode = compile_bytecode()  # as pip install leaves an installed package
    commands = {
        "mstk --help": [mstk_command(), "--help"],
        "mstk rerank --help": [mstk_command(), "rerank", "--help"],
        "python -c pass": [python(), "-c", "pass"],
        "python -c 'import numpy'": [python(), "-c", "import numpy"],
    }
    runs = {}
    for name, argv in commands.items():
        timed_run(argv)  # warm the page cache
        samples = [timed_run(argv) for _ in range(args.repeat)]
        runs[name] = {
            "median_s": statistics.median(s["seconds"] for s in samples),
            "min_s": min(s["seconds"] for s in samples),
            "peak_rss_mib": max(s["peak_rss_mib"] for s in samples),
        }
    floor = runs["python -c pass"]["median_s"]
    payload = {"environment": environment(["mstk", "click", "pluggy"]), "repeat": args.repeat, "runs": runs,
               "bytecode_compiled_before_timing": bytecode}
    rows = [[n, f"{r['median_s']:.3f}", f"{r['min_s']:.3f}", f"{r['peak_rss_mib']:.0f}", f"{r['median_s'] / floor:.2f}×"] for n, r in runs.items()]
    write_results("cli_startup", payload, rows, ["command", "median s", "min s", "peak RSS MiB", "vs bare python"])


if __name__ == "__main__":
    main()
