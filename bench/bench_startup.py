"""Cold start time of `invlatent --help` and of each pipe stage's --help, against bare Python."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

from _results import save

COMMANDS = {
    "python -c pass (baseline)": [sys.executable, "-c", "pass"],
    "invlatent --help": [sys.executable, "-m", "invlatent", "--help"],
    "invlatent inspect --help": [sys.executable, "-m", "invlatent", "inspect", "--help"],
    "invlatent project --help": [sys.executable, "-m", "invlatent", "project", "--help"],
    "invlatent probe --help": [sys.executable, "-m", "invlatent", "probe", "--help"],
    "inspect sample_latents/c8.st": [
        sys.executable,
        "-m",
        "invlatent",
        "inspect",
        "sample_latents/c8.st",
    ],
}


def best_of(cmd: list[str], repeats: int = 7) -> tuple[float, float]:
    """Median and minimum wall time of a command over several runs."""
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        times.append(time.perf_counter() - t)
    return statistics.median(times), min(times)


def main() -> None:
    """Print a table and write bench/results/startup.json."""
    rows = {name: best_of(cmd) for name, cmd in COMMANDS.items()}
    base = rows["python -c pass (baseline)"][0]
    print(f"{'command':<32} {'median s':>9} {'min s':>7} {'× python':>9}")
    for name, (med, low) in rows.items():
        print(f"{name:<32} {med:9.3f} {low:7.3f} {med / base:9.1f}")
    result = {
        name: {"median_s": med, "min_s": low, "ratio_to_python": med / base}
        for name, (med, low) in rows.items()
    }
    save("startup", result)


if __name__ == "__main__":
    main()
