"""Where the benchmarks write their JSON, with the machine facts that make ratios comparable."""

from __future__ import annotations

import json
import os
import sys

RESULTS = os.path.join("bench", "results")


def save(name: str, result: dict) -> str:
    """Write ``result`` plus CPU count and Python version to bench/results/NAME.json."""
    os.makedirs(RESULTS, exist_ok=True)
    path = os.path.join(RESULTS, f"{name}.json")
    with open(path, "w") as f:
        json.dump({**result, "cpus": os.cpu_count(), "python": sys.version}, f, indent=2)
    return path
