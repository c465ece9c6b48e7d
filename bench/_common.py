"""Shared helpers for the benchmarks: environment record, timed subprocess runs with
peak memory (wait4 rusage of that one child), results JSON + markdown table."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).parent / "results"
WORK = Path(__file__).parent / "work"


def environment(packages: list[str]) -> dict:
    versions = {}
    for name in packages:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = None
    return {
        "date": time.strftime("%Y-%m-%d"),
        "cores": len(os.sched_getaffinity(0)),
        "cpu": _cpu_model(),
        "python": platform.python_version(),
        "versions": versions,
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def timed_run(argv: list[str], stdin_path: Path | None = None, stdout_path: Path | None = None, env: dict | None = None) -> dict:
    """Run argv once; return wall seconds, peak RSS (MiB) of that process, exit code."""
    stdin = open(stdin_path, "rb") if stdin_path else subprocess.DEVNULL
    stdout = open(stdout_path, "wb") if stdout_path else subprocess.DEVNULL
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdin=stdin, stdout=stdout, stderr=subprocess.PIPE, env={**os.environ, **(env or {})})
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    stderr = proc.stderr.read().decode(errors="replace")
    for f in (stdin, stdout):
        if hasattr(f, "close"):
            f.close()
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise RuntimeError(f"{argv} failed ({code}): {stderr[-2000:]}")
    return {"seconds": wall, "peak_rss_mib": usage.ru_maxrss / 1024, "stderr": stderr}


def own_peak_rss_mib() -> float:
    """This process's own high-water RSS. VmHWM belongs to the address space, so unlike
    wait4's ru_maxrss it does not inherit the peak of the driver that forked the child."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def run_json_child(argv: list[str], env: dict | None = None) -> dict:
    """Run a bench child that prints one JSON object on stdout; its stderr tail on failure."""
    proc = subprocess.run(argv, capture_output=True, env={**os.environ, **(env or {})})
    if proc.returncode != 0:
        raise RuntimeError(f"{argv[2:5]} failed: {proc.stderr.decode(errors='replace')[-3000:]}")
    return json.loads(proc.stdout)


def write_results(name: str, payload: dict, table_rows: list[list[str]], header: list[str]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(payload, indent=2) + "\n")
    env = payload["environment"]
    lines = [
        f"# {name}",
        "",
        f"{env['date']}, {env['cores']} cores ({env['cpu']}), Python {env['python']}; "
        + ", ".join(f"{k} {v}" for k, v in env["versions"].items()),
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in table_rows]
    (RESULTS / f"{name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def python() -> str:
    return sys.executable


def mstk_command() -> str:
    """The console script itself, next to this interpreter: a pyenv shim in PATH would add
    ~0.1 s of bash to every timed call."""
    import shutil

    script = Path(sys.executable).parent / "mstk"
    return str(script) if script.exists() else (shutil.which("mstk") or "mstk")


def compile_bytecode() -> list[str]:
    """Byte-compile mstk and its built-in plugins, as `pip install` leaves an installed package.

    An editable install in an environment with PYTHONDONTWRITEBYTECODE=1 (this sandbox) has
    no current .pyc files, so every timed run would recompile each mstk module it imports
    (~20-30 ms) while nlpaug, installed from a wheel, starts from bytecode. Returns the
    compiled package folders (relative to the repository where they lie inside it)."""
    import compileall
    import importlib.util

    done = []
    for name in ("mstk", "mstk_qerag", "mstk_bankfair"):
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            continue
        folder = Path(next(iter(spec.submodule_search_locations)))
        compileall.compile_dir(str(folder), quiet=1)
        done.append(str(folder.relative_to(REPO)) if folder.is_relative_to(REPO) else str(folder))
    return done
