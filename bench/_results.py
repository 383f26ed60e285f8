"""Where the benchmarks write their JSON, with the machine facts that make ratios comparable."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

RESULTS = os.path.join("bench", "results")


def save(name: str, result: dict) -> str:
    """Write ``result`` plus CPU count and Python version to bench/results/NAME.json."""
    os.makedirs(RESULTS, exist_ok=True)
    path = os.path.join(RESULTS, f"{name}.json")
    with open(path, "w") as f:
        json.dump({**result, "cpus": os.cpu_count(), "python": sys.version}, f, indent=2)
    return path


# A small launcher measures its child: ru_maxrss survives exec, so a child forked straight from
# the (large) benchmark process would report that process's memory.
LAUNCH = (
    "import os, subprocess, sys, time\n"
    "t = time.perf_counter()\n"
    "p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)\n"
    "_, status, usage = os.wait4(p.pid, 0)\n"
    "print(time.perf_counter() - t, usage.ru_maxrss * 1024, status)"
)


def run_child(cmd: list[str]) -> tuple[float, int]:
    """Wall seconds and peak RSS in bytes of one command; a failed command stops the bench."""
    res = subprocess.run([sys.executable, "-c", LAUNCH, *cmd], capture_output=True, text=True)
    wall, peak, status = res.stdout.split()
    if status != "0":
        raise SystemExit(f"{' '.join(cmd)} failed: {res.stderr}")
    return float(wall), int(peak)


def best(fn, repeats: int = 3) -> float:
    """Minimum wall time of ``fn()`` over a few runs (least disturbed by other jobs)."""
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)
